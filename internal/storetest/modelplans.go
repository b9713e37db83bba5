package storetest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// The reference model's plans (SPEC §7), worked out again from the spec
// rather than from the ledger's code: the catalog's plans and models' tags
// are read as data; calendars, eligibility and every rule are the model's
// own.
//
//   - A day is the local calendar day of a time zone: it starts at local
//     midnight, found with time.Date, whatever the DST change of the day.
//   - A subscription's month k starts at its start (k = 0), then at local
//     midnight of the renewal day: the start's day of month, or the month's
//     last day when the month is shorter. Its billing period is 1, 3 or 12
//     such months.
//   - Each of a plan's monthly allowances is granted once per (subscription,
//     allowance, month), at the month's start, with the ID
//     credit.PeriodGrantID gives the period; a daily allowance once per
//     (program or subscription, allowance, local day), by the day's first
//     charge (a generation or a generic hold), never by a read.
//   - At one instant a hold's release comes before a grant's expiry before a
//     renewal; a month's grant that expires while its subscription is
//     active rolls over (up to the cap) when its plan says so.
//   - A plan that limits models refuses the others (plan_required) before
//     anything; a program without top-ups refuses them.
//   - An unlimited window is free for its days from each billing period's
//     start, at most MaxConcurrent open, DailyFast fast a local day.

// Paths of plans the simulation reports (model.reached).
const (
	planRenewal           = "plan: a month's allowance given"
	planRollover          = "plan: unspent credits rolled over"
	planClamped           = "plan: a renewal on a day clamped to a short month's end"
	planDaily             = "plan: a day's free credits given"
	planUpgrade           = "plan: an upgrade's difference given"
	planEligibleOnly      = "plan: a hold counted only the grants that may pay"
	planWindowDelivered   = "plan: an unlimited window's generation delivered"
	planRelaxed           = "plan: an unlimited window's relaxed lane"
	planRefundEndedPeriod = "plan: a refund of credits whose period ended"
)

// mSub is a subscription in the model.
type mSub struct {
	id, account, plan string
	billing           credit.Billing
	tz                string
	startsAt, endsAt  time.Time
	nextPlan          string
	nextAt            time.Time
	period            int
	renewsAt          time.Time
	usage             []credit.WindowUsage
	createdAt         time.Time
	canceledAt        time.Time
}

func (s *mSub) text() string {
	return fmt.Sprintf("%s %s %s zone %q from %s to %s next %q at %s period %d renews %s usage %v created %s canceled %s",
		s.account, s.plan, s.billing, s.tz, timeText(s.startsAt), timeText(s.endsAt), s.nextPlan, timeText(s.nextAt), s.period,
		timeText(s.renewsAt), usageText(s.usage), timeText(s.createdAt), timeText(s.canceledAt))
}

func storeSubText(s credit.Subscription) string {
	return fmt.Sprintf("%s %s %s zone %q from %s to %s next %q at %s period %d renews %s usage %v created %s canceled %s",
		s.Account, s.Plan, s.Billing, s.TimeZone, timeText(s.StartsAt), timeText(s.EndsAt), s.NextPlan, timeText(s.NextAt), s.Period,
		timeText(s.RenewsAt), usageText(s.Usage), timeText(s.CreatedAt), timeText(s.CanceledAt))
}

func usageText(us []credit.WindowUsage) string {
	var parts []string
	for _, u := range us {
		parts = append(parts, fmt.Sprintf("{open %d day %q fast %d}", u.Open, u.Day, u.Fast))
	}
	return "[" + strings.Join(parts, " ") + "]"
}

// Eligibility.

func allows(e credit.Eligibility, model string, tags []string) bool {
	hasTag := func(list []string) bool {
		for _, t := range list {
			if slices.Contains(tags, t) {
				return true
			}
		}
		return false
	}
	named := len(e.Models) > 0 || len(e.Tags) > 0
	if model == "" {
		return !named // a generic hold: only grants not limited to some models
	}
	if named && !slices.Contains(e.Models, model) && !hasTag(e.Tags) {
		return false
	}
	return !slices.Contains(e.ExcludeModels, model) && !hasTag(e.ExcludeTags)
}

func eligibilityZero(e credit.Eligibility) bool {
	return len(e.Models)+len(e.Tags)+len(e.ExcludeModels)+len(e.ExcludeTags) == 0
}

// Plans.

// planAt returns the plan whose rules apply to account at now and the
// subscription it comes through: an active subscription's (its next plan
// from its change on), else the account's program, else none.
func (m *model) planAt(account string, now time.Time) (*credit.Plan, *mSub) {
	a := m.accounts[account]
	for _, id := range a.subs {
		s := m.subs[id]
		if !s.active(now) {
			continue
		}
		id := s.plan
		if s.nextPlan != "" && !now.Before(s.nextAt) {
			id = s.nextPlan
		}
		return m.cat.Plan(id), s
	}
	if p := m.cat.Plan(a.plan); p != nil && p.Program {
		return p, nil
	}
	return nil, nil
}

// planAllows refuses a model the plan does not let the account use.
func (m *model) planAllows(p *credit.Plan, model string) error {
	if p == nil || eligibilityZero(p.Models) {
		return nil
	}
	md, err := m.cat.Model(model)
	if err != nil {
		panic(err)
	}
	if allows(p.Models, model, md.Tags) {
		return nil
	}
	return refuse(credit.Forbidden, "plan_required")
}

// dailyGrants returns the grants of the day's allowances of the account's
// plan at now, and the day they are for ("scope/2026-03-08"), or none when
// that day was given already — or a later one, in a zone ahead of this one
// (the account moved): a day is given once, and days do not go back.
func (m *model) dailyGrants(account string, now time.Time) ([]*mGrant, string) {
	p, s := m.planAt(account, now)
	if p == nil {
		return nil, ""
	}
	a := m.accounts[account]
	scope, tz, sub := p.ID, a.tz, ""
	if s != nil {
		scope, tz, sub = s.id+"/day", s.tz, s.id
	}
	loc := location(tz)
	day := localDay(now, loc)
	if given, ok := strings.CutPrefix(a.daily, scope+"/"); ok && given >= day {
		return nil, ""
	}
	var out []*mGrant
	for i, al := range p.Allowances {
		if al.Every != credit.EveryDay {
			continue
		}
		period := scope + "/" + strconv.Itoa(i) + "/" + day
		out = append(out, &mGrant{id: credit.PeriodGrantID(account, period), account: account, source: al.Source, granted: al.Credits,
			expiresAt: midnightAfter(now, loc), createdAt: now, appliesTo: al.AppliesTo, sub: sub, period: period})
	}
	if len(out) == 0 {
		return nil, ""
	}
	return out, scope + "/" + day
}

// giveDaily gives the day's allowances not given yet.
func (m *model) giveDaily(account string, now time.Time) {
	grants, day := m.dailyGrants(account, now)
	for _, g := range grants {
		if _, ok := m.grants[g.id]; ok {
			continue
		}
		m.addGrant(g)
		m.reached[planDaily]++
	}
	if day != "" {
		m.accounts[account].daily = day
	}
}

// renew gives s's month that starts at its renewsAt.
func (m *model) renew(s *mSub) {
	start, k := s.renewsAt, s.period
	if !s.endsAt.IsZero() && !start.Before(s.endsAt) {
		s.renewsAt = time.Time{}
		return
	}
	if s.nextPlan != "" && !start.Before(s.nextAt) {
		s.plan, s.nextPlan, s.nextAt = s.nextPlan, "", time.Time{}
	}
	end := s.monthStart(k + 1)
	if p := m.cat.Plan(s.plan); p != nil {
		for i, al := range p.Allowances {
			if al.Every == credit.EveryMonth {
				m.giveAllowance(s, al, al.Credits, fmt.Sprintf("%s/%d/%d", s.id, i, k), start, end)
			}
		}
	}
	loc := location(s.tz)
	if _, _, d := s.startsAt.In(loc).Date(); k > 0 && start.In(loc).Day() != d {
		m.reached[planClamped]++
	}
	m.reached[planRenewal]++
	s.period, s.renewsAt = k+1, end
	if !s.endsAt.IsZero() && !end.Before(s.endsAt) {
		s.renewsAt = time.Time{}
	}
}

// giveAllowance grants credits of allowance al for period, from start, in
// a month that ends at end.
func (m *model) giveAllowance(s *mSub, al credit.Allowance, credits credit.Credits, period string, start, end time.Time) {
	id := credit.PeriodGrantID(s.account, period)
	if _, ok := m.grants[id]; ok {
		return
	}
	g := &mGrant{id: id, account: s.account, source: al.Source, granted: credits, createdAt: start, appliesTo: al.AppliesTo, sub: s.id, period: period}
	switch al.Expires.Kind {
	case credit.ExpiresPeriodEnd:
		g.expiresAt = end
	case credit.ExpiresAfter:
		g.expiresAt = start.Add(al.Expires.After)
	}
	m.addGrant(g)
}

// rollover returns the grant that the unspent part of month grant g (or of
// the month's upgrade difference) becomes when it expires at `at`, or nil:
// only while the subscription is active, where its plan's allowance says
// so, and at most the cap for the allowance's month, which the month's
// grant and its upgrade's share.
func (m *model) rollover(g *mGrant, at time.Time) *mGrant {
	if g.sub == "" || g.source == credit.SourceRollover || isDayPeriod(g.period) {
		return nil
	}
	parts := strings.Split(g.period, "/")
	if len(parts) < 3 || len(parts) > 4 || parts[0] != g.sub {
		return nil
	}
	s := m.subs[g.sub]
	i, err := strconv.Atoi(parts[1])
	p := m.cat.Plan(s.plan)
	if err != nil || p == nil || i >= len(p.Allowances) || p.Allowances[i].Rollover == nil || !s.active(at) {
		return nil
	}
	ro := p.Allowances[i].Rollover
	month := strings.Join(parts[:3], "/") + "/"
	left := ro.MaxCredits
	for _, id := range m.accounts[g.account].grants {
		if r := m.grants[id]; r.source == credit.SourceRollover && strings.HasPrefix(r.period, month) {
			left -= r.granted
		}
	}
	amount := min(g.remaining, left)
	if amount <= 0 {
		return nil
	}
	period := g.period + "/rollover"
	r := &mGrant{id: credit.PeriodGrantID(g.account, period), account: g.account, source: credit.SourceRollover, granted: amount, remaining: amount,
		createdAt: at, appliesTo: g.appliesTo, sub: g.sub, period: period}
	if ro.ExpiresAfter > 0 {
		r.expiresAt = at.Add(ro.ExpiresAfter)
	}
	return r
}

// Unlimited windows.

// windowAt returns the window of s's plan p that makes model free at now.
func (m *model) windowAt(p *credit.Plan, s *mSub, model string, now time.Time) (*credit.Window, int) {
	if p == nil || s == nil {
		return nil, -1
	}
	from, _ := s.billingPeriod(now)
	for i := range p.Unlimited {
		w := &p.Unlimited[i]
		if slices.Contains(w.Models, model) && now.Before(windowEnd(from, w.Days, location(s.tz))) {
			return w, i
		}
	}
	return nil, -1
}

// useWindow counts a generation in window i of s, or refuses it.
func (m *model) useWindow(s *mSub, w *credit.Window, i int, now time.Time) (credit.Lane, error) {
	for len(s.usage) <= i {
		s.usage = append(s.usage, credit.WindowUsage{})
	}
	u := &s.usage[i]
	if u.Open >= w.MaxConcurrent {
		return "", refuse(credit.Limited, "concurrency_limit")
	}
	loc := location(s.tz)
	if today := localDay(now, loc); u.Day != today {
		u.Day, u.Fast = today, 0
	}
	lane := credit.LaneFast
	if w.DailyFast > 0 && u.Fast >= w.DailyFast {
		if w.AfterFast != credit.AfterFastRelaxed {
			return "", &refusal{code: credit.Limited, reason: "daily_limit_reached", resetsAt: midnightAfter(now, loc)}
		}
		lane = credit.LaneRelaxed
		m.reached[planRelaxed]++
	} else {
		u.Fast++
	}
	u.Open++
	return lane, nil
}

// closeWindow counts a window's generation as no longer open.
func (m *model) closeWindow(ref string) {
	id, idx, _ := strings.Cut(ref, "/")
	i, _ := strconv.Atoi(idx)
	if s := m.subs[id]; s != nil && i < len(s.usage) {
		s.usage[i].Open = max(0, s.usage[i].Open-1)
	}
}

// Subscriptions.

func monthlyCredits(p *credit.Plan, i int) credit.Credits {
	if p == nil || i >= len(p.Allowances) || p.Allowances[i].Every != credit.EveryMonth {
		return 0
	}
	return p.Allowances[i].Credits
}

func monthlyTotal(p *credit.Plan) credit.Credits {
	var sum credit.Credits
	for i := range p.Allowances {
		sum += monthlyCredits(p, i)
	}
	return sum
}

// paidPlan refuses a plan that is not one of the catalog's paid plans.
func (m *model) paidPlan(id string) (*credit.Plan, error) {
	if p := m.cat.Plan(id); p != nil && !p.Program {
		return p, nil
	}
	return nil, refuse(credit.Invalid, "unknown_plan")
}

// subscribe starts subscription id. An account has one subscription at a
// time: another that is active, or yet to start, refuses it.
func (m *model) subscribe(id, account string, spec credit.SubscriptionSpec, now time.Time) error {
	if _, err := m.paidPlan(spec.Plan); err != nil {
		return err
	}
	billing := spec.Billing
	if billing == "" {
		billing = credit.BillMonth
	}
	m.begin(account, now)
	start := spec.StartsAt.UTC().Truncate(time.Microsecond)
	if start.IsZero() {
		start = now
	}
	if start.Before(now) || start.After(now.AddDate(1, 0, 0)) {
		return refuse(credit.Invalid, "invalid_start")
	}
	a := m.accounts[account]
	for _, o := range a.subs {
		s := m.subs[o]
		neverStarts := !s.endsAt.IsZero() && !s.endsAt.After(s.startsAt)
		if (s.active(now) || now.Before(s.startsAt)) && !neverStarts {
			return refuse(credit.Conflict, "subscription_exists")
		}
	}
	tz := spec.TimeZone
	if tz == "" {
		tz = a.tz
	}
	m.subs[id] = &mSub{id: id, account: account, plan: spec.Plan, billing: billing, tz: tz, startsAt: start, renewsAt: start, createdAt: now}
	a.subs = append(a.subs, id)
	m.settle(account, now)
	return nil
}

// cancel ends subscription id now or at its billing period's end (before it
// starts: at its start, so that it never does). A cancel of one already
// ending then or sooner changes nothing.
func (m *model) cancel(id, at string, now time.Time) error {
	s := m.subs[id]
	m.begin(s.account, now)
	if !s.endsAt.IsZero() && !s.endsAt.After(now) {
		return refuse(credit.Conflict, "subscription_ended")
	}
	end := now
	switch {
	case now.Before(s.startsAt):
		end = s.startsAt
	case at == credit.AtPeriodEnd:
		_, end = s.billingPeriod(now)
	}
	if !s.endsAt.IsZero() && !s.endsAt.After(end) {
		return nil
	}
	s.endsAt, s.canceledAt = end, now
	if !s.renewsAt.IsZero() && !s.renewsAt.Before(end) {
		s.renewsAt = time.Time{}
	}
	if !s.nextAt.IsZero() && !s.nextAt.Before(end) {
		s.nextPlan, s.nextAt = "", time.Time{}
	}
	return nil
}

// change moves subscription id to plan: an upgrade (more monthly credits)
// now, once started, takes effect at once and gives this month's
// difference of each allowance; anything else waits for the billing
// period's end (or the start). Asking again for the change pending, or for
// the plan it is on, changes nothing more.
func (m *model) change(id, plan, at string, now time.Time) error {
	np, err := m.paidPlan(plan)
	if err != nil {
		return err
	}
	s := m.subs[id]
	m.begin(s.account, now)
	if !s.endsAt.IsZero() && !s.endsAt.After(now) {
		return refuse(credit.Conflict, "subscription_ended")
	}
	switch {
	case s.plan == plan && s.nextPlan == "":
		return refuse(credit.Invalid, "same_plan")
	case s.nextPlan == plan:
		return nil
	}
	op := m.cat.Plan(s.plan)
	started := !now.Before(s.startsAt)
	switch {
	case at == credit.AtNow && started && (op == nil || monthlyTotal(np) > monthlyTotal(op)):
		k := s.period - 1 // the month under way
		for i, al := range np.Allowances {
			if diff := monthlyCredits(np, i) - monthlyCredits(op, i); diff > 0 {
				start := now
				m.giveAllowance(s, al, diff, fmt.Sprintf("%s/%d/%d/upgrade-%s", s.id, i, k, plan), start, s.monthStart(k+1))
				m.reached[planUpgrade]++
			}
		}
		s.plan, s.nextPlan, s.nextAt = plan, "", time.Time{}
	case plan == s.plan:
		s.nextPlan, s.nextAt = "", time.Time{}
	default:
		s.nextPlan, s.nextAt = plan, s.startsAt
		if started {
			_, s.nextAt = s.billingPeriod(now)
		}
	}
	return nil
}

// setPlan puts an account on a program ("free") or none (""), and sets its
// time zone when tz is not nil.
func (m *model) setPlan(account, plan string, tz *string, now time.Time) error {
	if plan != "" {
		if p := m.cat.Plan(plan); p == nil || !p.Program {
			return refuse(credit.Invalid, "unknown_plan")
		}
	}
	m.begin(account, now)
	a := m.accounts[account]
	a.plan = plan
	if tz != nil {
		a.tz = *tz
	}
	return nil
}

// Grants: void and amend.

// changeGrant checks that grant id may be voided or amended at now: a live
// grant of a user, not a day's free credits. One spent to nothing that never
// expires is grant_spent; one that expired or was voided grant_expired.
func (m *model) changeGrant(id string, now time.Time) (*mGrant, error) {
	g := m.grants[id]
	if g == nil || g.ovd {
		return nil, refuse(credit.NotFound, "unknown_grant")
	}
	m.begin(g.account, now)
	switch {
	case g.expired:
		return nil, refuse(credit.Conflict, "grant_expired")
	case g.remaining == 0 && g.held == 0 && g.expiresAt.IsZero() && g.paidBack == 0:
		return nil, refuse(credit.Conflict, "grant_spent")
	case g.period != "" && isDayPeriod(g.period):
		return nil, refuse(credit.Invalid, "daily_grant")
	}
	return g, nil
}

// isDayPeriod reports whether a period names a day ("free/0/2026-03-08").
func isDayPeriod(period string) bool {
	i := strings.LastIndexByte(period, '/')
	if period == "" || i < 0 {
		return false
	}
	_, err := time.Parse(time.DateOnly, period[i+1:])
	return err == nil
}

// void takes what is left of grant id back to the issued book.
func (m *model) void(id string, now time.Time) error {
	g, err := m.changeGrant(id, now)
	if err != nil {
		return err
	}
	m.issued += g.remaining
	g.took = g.remaining
	g.remaining, g.expired, g.expiredAt, g.expiresAt, g.voided = 0, true, now, now, true
	return nil
}

// amend moves grant id's expiry to expiresAt (zero: never), in the future.
func (m *model) amend(id string, expiresAt, now time.Time) error {
	g, err := m.changeGrant(id, now)
	if err != nil {
		return err
	}
	if g.period != "" && g.source != credit.SourceRollover {
		return refuse(credit.Invalid, "plan_grant") // a period's grant expires with its period
	}
	expiresAt = expiresAt.UTC().Truncate(time.Microsecond)
	if !expiresAt.IsZero() && !expiresAt.After(now) {
		return refuse(credit.Invalid, "invalid_expiry")
	}
	g.expiresAt = expiresAt
	return nil
}

// Reads.

// mView is what a read of an account shows, worked out by the model.
type mView struct {
	available     credit.Credits
	plan, sub     string
	balances      credit.Balances
	windows       []credit.WindowView
	subscriptions []string
}

// view returns what Ledger.Account shows at now (the account settled): the
// day's free credits of its plan are shown though not yet given.
func (m *model) view(account string, now time.Time) mView {
	v := mView{available: m.available(account), subscriptions: m.accounts[account].subs}
	count := func(g *mGrant) {
		if !g.live(now) || g.remaining <= 0 {
			return
		}
		switch g.source {
		case credit.SourceFree:
			v.balances.Free += g.remaining
		case credit.SourceSubscription, credit.SourceRollover:
			v.balances.Subscription += g.remaining
		case credit.SourceTopup:
			v.balances.Topup += g.remaining
		default:
			v.balances.Other += g.remaining
		}
	}
	for _, id := range m.accounts[account].grants {
		count(m.grants[id])
	}
	p, s := m.planAt(account, now)
	if p == nil {
		return v
	}
	v.plan = p.ID
	grants, _ := m.dailyGrants(account, now)
	for _, g := range grants {
		if _, ok := m.grants[g.id]; !ok {
			g.remaining = g.granted
			v.available += g.granted
			count(g)
		}
	}
	if s == nil {
		return v
	}
	v.sub = s.id
	from, _ := s.billingPeriod(now)
	loc := location(s.tz)
	for i, w := range p.Unlimited {
		until := windowEnd(from, w.Days, loc)
		if !now.Before(until) {
			continue
		}
		var u credit.WindowUsage
		if i < len(s.usage) {
			u = s.usage[i]
		}
		if u.Day != localDay(now, loc) {
			u.Fast = 0
		}
		wv := credit.WindowView{Models: w.Models, Until: until, MaxConcurrent: w.MaxConcurrent, Open: u.Open,
			DailyFast: w.DailyFast, AfterFast: w.AfterFast, ResetsAt: midnightAfter(now, loc)}
		if w.DailyFast > 0 {
			wv.FastLeft = max(0, w.DailyFast-u.Fast)
		}
		v.windows = append(v.windows, wv)
	}
	return v
}
