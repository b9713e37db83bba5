package storetest

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// The simulation's plans: accounts in four time zones on the free program
// or subscribed to the example catalog's paid plans (simPlansCatalog), and
// a clock that crosses their local midnights, month ends and DST changes.

// simZones are the time zones of the plan accounts: two DST changes a year
// each on other dates (Auckland's the other way round), and one with none
// but a half-hour offset.
var simZones = []string{"Europe/Berlin", "America/New_York", "Asia/Kolkata", "Pacific/Auckland"}

// simStarts are where a seed's clock starts (by seed modulo their number):
// a few days before a DST change or a short month's end, so that a run
// crosses it.
var simStarts = []time.Time{
	time.Date(2026, 1, 29, 20, 0, 0, 0, time.UTC),  // a subscription on 31 January renews on 28 February
	time.Date(2026, 3, 6, 18, 0, 0, 0, time.UTC),   // New York's DST starts on 8 March
	time.Date(2026, 3, 27, 18, 0, 0, 0, time.UTC),  // Berlin's on 29 March; March has 31 days
	time.Date(2026, 4, 3, 6, 0, 0, 0, time.UTC),    // Auckland's DST ends on 5 April
	time.Date(2026, 10, 23, 18, 0, 0, 0, time.UTC), // Berlin's ends on 25 October, New York's on 1 November
}

// mustReachPlans are the plan paths every default run must take (summed
// over its seeds).
var mustReachPlans = []string{
	planRenewal,
	planDaily,
	planEligibleOnly,
	planWindowDelivered,
	planPastFast,
	planUpgrade,
	"refused plan_required",
}

// planPastFast is reached when a window's generation went past its daily
// fast limit: relaxed, or refused until midnight.
const planPastFast = "plan: past an unlimited window's daily fast limit"

// planRefusals are the plans' refusals the simulation counts (as "refused
// <reason>" among the paths reached).
var planRefusals = []string{"plan_required", "subscription_required", "daily_limit_reached", "concurrency_limit", "subscription_exists",
	"subscription_ended", "same_plan", "daily_grant", "grant_expired", "grant_spent"}

// eligibilities are the applies_to the simulation's grants may carry.
var eligibilities = []credit.Eligibility{
	{ExcludeTags: []string{"pro"}},
	{Tags: []string{"pro"}},
	{Models: []string{"nano-banana-2", "flux-dev"}},
	{ExcludeModels: []string{"nano-banana-pro"}},
}

// planPrices are generations the plan accounts make: the unlimited
// windows' models and the Pro ones (prices as the seed page).
var planPrices = []struct {
	model, resolution string
	unit              credit.Credits
}{
	{"nano-banana-2", "1K", 49_000},
	{"nano-banana-2", "4K", 98_000},
	{"nano-banana-pro", "1K", 80_000},
	{"nano-banana-pro", "4K", 160_000},
	{"flux-2-pro", "", 28_000}, // Flux 2 Pro: 28
	{"recraft-v4-pro", "", 150_000},
	{"flux-dev", "", 5_000},
}

func subText(s credit.Subscription) string {
	return fmt.Sprintf("subscription %s %s %s ends %v next %q renews %v period %d", s.ID, s.Plan, s.Billing, s.EndsAt, s.NextPlan, s.RenewsAt, s.Period)
}

// setupPlans opens the plan accounts, one in each zone, most on the free
// program; Auckland's may overdraw.
func (s *sim) setupPlans() {
	now := s.now()
	for i, zone := range simZones {
		id := strings.ToLower(zone[strings.IndexByte(zone, '/')+1:])
		spec := credit.AccountSpec{ID: id, TimeZone: zone}
		if s.rng.IntN(4) > 0 {
			spec.Plan = "free"
		}
		if i == 3 {
			spec.Overdraft = credit.Whole(30)
		}
		if _, err := s.e.ledger.OpenAccount(s.e.ctx, nil, spec); err != nil {
			s.fail("OpenAccount(%+v) = %v", spec, err)
		}
		ovd := findGrant(s.t, s.e.snapshot(), id, credit.SourceOverdraft)
		s.m.addAccount(id, spec.Overdraft, ovd.ID, spec.Plan, zone, now)
		s.accounts = append(s.accounts, id)
		s.planAccounts = append(s.planAccounts, id)
	}
	// One account starts on the unlimited plan (its windows are in force
	// for the run's first days), another on pro.
	order := s.rng.Perm(len(s.planAccounts))
	s.subscribeWith(s.planAccounts[order[0]], credit.SubscriptionSpec{Plan: "unlimited"})
	s.windowStory(s.planAccounts[order[0]])
	// Another starts on basic, quarterly, and upgrades to pro in a while.
	basic := s.planAccounts[order[1]]
	s.subscribeWith(basic, credit.SubscriptionSpec{Plan: "basic", Billing: credit.BillQuarter})
	s.plan = append(s.plan, func() {
		if subs := s.m.accounts[basic].subs; len(subs) > 0 {
			s.changeTo(subs[len(subs)-1], "pro", credit.AtNow)
			return
		}
		s.subscribe()
	})
}

func (s *sim) planAccount() string { return s.planAccounts[s.rng.IntN(len(s.planAccounts))] }

// advance moves the clock by d and notes the DST changes and local month
// ends it crosses.
func (s *sim) advance(d time.Duration) {
	from := s.now()
	to := from.Add(d)
	for _, z := range simZones {
		loc := location(z)
		for t := from; ; {
			_, end := t.In(loc).ZoneBounds()
			if end.IsZero() || end.After(to) {
				break
			}
			s.cross(fmt.Sprintf("DST %s %s", z, end.In(loc).Format("2006-01-02")))
			t = end
		}
		if f, t := from.In(loc), to.In(loc); f.Month() != t.Month() || f.Year() != t.Year() {
			s.cross(fmt.Sprintf("month end %s %s", z, f.Format("2006-01")))
		}
	}
	s.e.clock.Set(to)
}

func (s *sim) cross(what string) {
	if !slices.Contains(s.crossed, what) {
		s.crossed = append(s.crossed, what)
	}
}

// planClock moves the clock to an instant where plans change something: a
// local midnight of one of the zones, the next renewal (or start) of a
// subscription, the end of an unlimited window within a day, or a DST
// change. It lands a
// millisecond before it, so that the next step runs at the instant itself,
// or a little after it.
func (s *sim) planClock() {
	now := s.now()
	var target time.Time
	consider := func(t time.Time) {
		if t.After(now) && (target.IsZero() || t.Before(target)) {
			target = t
		}
	}
	what := ""
	switch r := s.rng.IntN(10); {
	case r < 6:
		z := simZones[s.rng.IntN(len(simZones))]
		what = "midnight in " + z
		consider(midnightAfter(now, location(z)))
	case r < 8:
		what = "the next renewal"
		for _, sub := range s.m.subs {
			consider(sub.renewsAt)
		}
	case r < 9:
		what = "the end of an unlimited window"
		for _, a := range s.planAccounts {
			p, sub := s.m.planAt(a, now)
			if sub == nil {
				continue
			}
			from, _ := sub.billingPeriod(now)
			for _, w := range p.Unlimited {
				// Only one ending within a day: the window's days are
				// where its generations are made.
				if end := windowEnd(from, w.Days, location(sub.tz)); end.Sub(now) < 24*time.Hour {
					consider(end)
				}
			}
		}
	default:
		what = "a DST change"
		for _, z := range simZones {
			_, end := now.In(location(z)).ZoneBounds()
			consider(end)
		}
	}
	if target.IsZero() {
		what = "midnight in " + simZones[0]
		target = midnightAfter(now, location(simZones[0]))
	}
	d := target.Sub(now) - time.Millisecond
	if s.rng.IntN(3) == 0 {
		d += time.Duration(s.rng.IntN(5000)) * time.Millisecond
	}
	s.note("clock +%v (to %s, %s)", d, what, target.Format(time.RFC3339))
	s.advance(max(d, 0))
}

// setPlan puts a plan account on the free program or takes it off; now and
// then it moves the account to another time zone.
func (s *sim) setPlan() {
	acct := s.planAccount()
	plan := ""
	if s.rng.IntN(3) > 0 {
		plan = "free"
	}
	var tz *string
	if s.rng.IntN(8) == 0 {
		z := simZones[s.rng.IntN(len(simZones))]
		tz = &z
	}
	s.note("set plan %s %q (time zone %v)", acct, plan, zoneText(tz))
	key := s.key()
	call := func(k *credit.Idempotency) (string, error) {
		a, err := s.e.ledger.SetPlan(s.e.ctx, k, acct, plan, tz)
		return fmt.Sprintf("account %s plan %q zone %q", a.ID, a.Plan, a.TimeZone), err
	}
	answer, err := call(key)
	now := s.now()
	if s.apply(err, func(m *model) error { return m.setPlan(acct, plan, tz, now) }) {
		s.remember(key, call, answer)
	}
}

func zoneText(tz *string) string {
	if tz == nil {
		return "unchanged"
	}
	return *tz
}

// subscribe subscribes a plan account to a paid plan: now, on the next
// 31st of its zone (a month that renews on shorter months' last day), or in
// a few hours; in its own zone or another.
func (s *sim) subscribe() {
	acct := s.planAccount()
	var paid []string
	for _, p := range s.m.cat.Plans {
		if !p.Program {
			paid = append(paid, p.ID)
		}
	}
	spec := credit.SubscriptionSpec{Plan: paid[s.rng.IntN(len(paid))]}
	spec.Billing = []credit.Billing{"", credit.BillMonth, credit.BillQuarter, credit.BillYear}[s.rng.IntN(4)]
	if s.rng.IntN(3) == 0 {
		spec.TimeZone = simZones[s.rng.IntN(len(simZones))]
	}
	switch r := s.rng.IntN(4); {
	case r == 0:
		zone := spec.TimeZone
		if zone == "" {
			zone = s.m.accounts[acct].tz
		}
		spec.StartsAt = next31st(s.now(), location(zone), s.rng.IntN(24))
	case r == 1:
		spec.StartsAt = s.now().Add(time.Duration(1+s.rng.IntN(72*60)) * time.Minute)
	}
	s.subscribeWith(acct, spec)
}

func (s *sim) subscribeWith(acct string, spec credit.SubscriptionSpec) {
	s.note("subscribe %s %s billing %q zone %q from %v", acct, spec.Plan, spec.Billing, spec.TimeZone, spec.StartsAt)
	key := s.key()
	call := func(k *credit.Idempotency) (string, error) {
		sub, err := s.e.ledger.Subscribe(s.e.ctx, k, acct, spec)
		return subText(sub), err
	}
	sub, err := s.e.ledger.Subscribe(s.e.ctx, key, acct, spec)
	now := s.now()
	if s.apply(err, func(m *model) error { return m.subscribe(sub.ID, acct, spec, now) }) {
		s.remember(key, call, subText(sub))
	}
}

// next31st returns the next 31st of a month in loc at hour, local.
func next31st(now time.Time, loc *time.Location, hour int) time.Time {
	l := now.In(loc)
	for i := 0; i < 13; i++ {
		y, m := l.Year(), l.Month()+time.Month(i)
		t := time.Date(y, m, 31, hour, 0, 0, 0, loc)
		if t.Day() == 31 && t.After(now) {
			return t.UTC()
		}
	}
	panic("no 31st within a year")
}

// pickSub picks a subscription, mostly one not ended.
func (s *sim) pickSub() string {
	var all, live []string
	for _, a := range s.planAccounts {
		for _, id := range s.m.accounts[a].subs {
			all = append(all, id)
			if sub := s.m.subs[id]; sub.endsAt.IsZero() || sub.endsAt.After(s.now()) {
				live = append(live, id)
			}
		}
	}
	if len(live) > 0 && s.rng.IntN(6) > 0 {
		return live[s.rng.IntN(len(live))]
	}
	if len(all) == 0 {
		return ""
	}
	return all[s.rng.IntN(len(all))]
}

// twice clicks a subscription's button again with another key, at once
// (the same instant) or a moment later: nothing happens twice — the model
// changes neither the subscription nor a grant, and the store must agree.
func (s *sim) twice(id, what string, call func(*credit.Idempotency) (credit.Subscription, error), do func(*model, time.Time) error) {
	if s.rng.IntN(3) > 0 {
		return
	}
	if s.rng.IntN(2) == 0 {
		s.e.clock.Add(time.Duration(1+s.rng.IntN(2000)) * time.Millisecond)
	}
	s.note("%s again (a double click)", what)
	_, err := call(&credit.Idempotency{Scope: "sim", Key: fmt.Sprintf("k%d-again", s.step), Hash: "again"})
	now := s.now()
	changed := ""
	s.apply(err, func(m *model) error {
		sub := m.subs[id]
		m.settle(sub.account, now)
		before, grants := sub.text(), len(m.grants)
		if err := do(m, now); err != nil {
			return err
		}
		if sub.text() != before || len(m.grants) != grants {
			changed = before + " → " + sub.text()
		}
		return nil
	})
	if changed != "" {
		s.fail("%s again changed the model's subscription: %s", what, changed)
	}
}

func (s *sim) cancel() {
	id := s.pickSub()
	if id == "" {
		s.subscribe()
		return
	}
	at := []string{credit.AtNow, credit.AtPeriodEnd, credit.AtPeriodEnd}[s.rng.IntN(3)]
	s.note("cancel %s (%s) at %s", id, s.m.subs[id].text(), at)
	key := s.key()
	call := func(k *credit.Idempotency) (credit.Subscription, error) {
		return s.e.ledger.CancelSubscription(s.e.ctx, k, id, at)
	}
	sub, err := call(key)
	now := s.now()
	if s.apply(err, func(m *model) error { return m.cancel(id, at, now) }) {
		s.remember(key, func(k *credit.Idempotency) (string, error) { r, err := call(k); return subText(r), err }, subText(sub))
		s.twice(id, "cancel "+id+" at "+at, call, func(m *model, now time.Time) error { return m.cancel(id, at, now) })
	}
}

func (s *sim) change() {
	id := s.pickSub()
	if id == "" {
		s.subscribe()
		return
	}
	var paid []string
	for _, p := range s.m.cat.Plans {
		if !p.Program {
			paid = append(paid, p.ID)
		}
	}
	plan := paid[s.rng.IntN(len(paid))]
	if s.rng.IntN(2) == 0 { // an upgrade, where there is one
		var up []string
		for _, p := range paid {
			if monthlyTotal(s.m.cat.Plan(p)) > monthlyTotal(s.m.cat.Plan(s.m.subs[id].plan)) {
				up = append(up, p)
			}
		}
		if len(up) > 0 {
			plan = up[s.rng.IntN(len(up))]
		}
	}
	s.changeTo(id, plan, []string{credit.AtNow, credit.AtNow, credit.AtPeriodEnd}[s.rng.IntN(3)])
}

// changeTo changes subscription id to plan at at, and sometimes clicks
// again.
func (s *sim) changeTo(id, plan, at string) {
	s.note("change %s (%s) to %s at %s", id, s.m.subs[id].text(), plan, at)
	key := s.key()
	call := func(k *credit.Idempotency) (credit.Subscription, error) {
		return s.e.ledger.ChangeSubscription(s.e.ctx, k, id, plan, at)
	}
	sub, err := call(key)
	now := s.now()
	if s.apply(err, func(m *model) error { return m.change(id, plan, at, now) }) {
		s.remember(key, func(k *credit.Idempotency) (string, error) { r, err := call(k); return subText(r), err }, subText(sub))
		s.twice(id, "change "+id+" to "+plan+" at "+at, call, func(m *model, now time.Time) error { return m.change(id, plan, at, now) })
	}
}

// planGeneration makes a generation on a plan account: an unlimited
// window's model or a Pro one, mostly on an account whose plan has a
// window. Now and then, on an account with a window in force, it plans a
// day's run of the window's generations one after the other (each
// delivered or failed before the next, as the window allows one at a
// time), past the daily fast limit.
func (s *sim) planGeneration() {
	now := s.now()
	var windowed []string
	for _, a := range s.planAccounts {
		p, sub := s.m.planAt(a, now)
		if p == nil || sub == nil {
			continue
		}
		for _, w := range p.Unlimited {
			if from, _ := sub.billingPeriod(now); now.Before(windowEnd(from, w.Days, location(sub.tz))) {
				windowed = append(windowed, a)
				break
			}
		}
	}
	if len(windowed) > 0 && len(s.plan) == 0 && s.rng.IntN(2) == 0 {
		s.windowStory(windowed[s.rng.IntN(len(windowed))])
		return
	}
	acct := s.planAccount()
	if len(windowed) > 0 && s.rng.IntN(3) > 0 {
		acct = windowed[s.rng.IntN(len(windowed))]
	}
	pr := planPrices[s.rng.IntN(len(planPrices))]
	p := price{req: credit.QuoteRequest{Model: pr.model, Resolution: pr.resolution, Images: 1 + s.rng.IntN(2)}, unit: pr.unit}
	p.images = p.req.Images
	s.createGenerationOn(acct, p, s.ttl())
}

// windowStory plans generations of one window model on acct, each
// delivered (or failed) before the next: each planned step resolves the
// account's open window generation if there is one, else makes the next.
func (s *sim) windowStory(acct string) {
	pr := planPrices[[]int{0, 1, 2, 3, 0, 1}[s.rng.IntN(6)]] // nano-banana-2 (relaxed past its limit) or nano-banana-pro (refused)
	n := 3 + s.rng.IntN(3)
	s.note("plan on %s: %d generations of %s, one at a time", acct, n, pr.model)
	for range 2 * n {
		s.plan = append(s.plan, func() {
			for _, id := range s.gens {
				if g := s.m.gens[id]; g.account == acct && g.window != "" && g.status == credit.GenerationHeld && s.now().Before(s.m.holds[g.hold].expiresAt) {
					if s.rng.IntN(4) == 0 {
						s.failOf(id)
					} else {
						s.completeWith(id, g.images)
					}
					return
				}
			}
			p := price{req: credit.QuoteRequest{Model: pr.model, Resolution: pr.resolution, Images: 1 + s.rng.IntN(2)}, unit: pr.unit}
			p.images = p.req.Images
			s.createGenerationOn(acct, p, time.Hour)
		})
	}
}

// pickGrant picks a grant to void or amend: mostly a live one of a plan
// account (a plan's own grants among them), now and then any.
func (s *sim) pickGrant() string {
	now := s.now()
	var live, all []string
	for _, a := range s.accounts {
		for _, id := range s.m.accounts[a].grants {
			g := s.m.grants[id]
			all = append(all, id)
			if !g.ovd && g.live(now) && (g.remaining > 0 || g.held > 0) {
				live = append(live, id)
			}
		}
	}
	if len(live) > 0 && s.rng.IntN(5) > 0 {
		return live[s.rng.IntN(len(live))]
	}
	return all[s.rng.IntN(len(all))]
}

func (s *sim) voidGrant() {
	id := s.pickGrant()
	g := s.m.grants[id]
	s.note("void %s (%s %s left, %s held, period %q)", id, g.source, g.remaining, g.held, g.period)
	key := s.key()
	call := func(k *credit.Idempotency) (string, error) {
		r, err := s.e.ledger.VoidGrant(s.e.ctx, k, id, "simulation")
		return grantText(r), err
	}
	answer, err := call(key)
	now := s.now()
	if s.apply(err, func(m *model) error { return m.void(id, now) }) {
		s.remember(key, call, answer)
	}
}

func (s *sim) amendGrant() {
	id := s.pickGrant()
	g := s.m.grants[id]
	var expires time.Time
	switch r := s.rng.IntN(6); {
	case r == 0: // never
	case r == 1: // the past: refused
		expires = s.now().Add(-time.Minute)
	default:
		expires = s.now().Add(time.Duration(1+s.rng.IntN(72*60)) * time.Minute)
	}
	s.note("amend %s (%s %s left, period %q) to expire %v", id, g.source, g.remaining, g.period, expires)
	key := s.key()
	call := func(k *credit.Idempotency) (string, error) {
		r, err := s.e.ledger.AmendGrantExpiry(s.e.ctx, k, id, expires, "simulation")
		return grantText(r), err
	}
	answer, err := call(key)
	now := s.now()
	if s.apply(err, func(m *model) error { return m.amend(id, expires, now) }) {
		s.remember(key, call, answer)
	}
}

// readAccount reads an account as support sees it and checks it against
// the model: balances (the day's free credits shown, not given), plan,
// windows, subscriptions. A read of something past its time settles it.
func (s *sim) readAccount(acct string) {
	now := s.now()
	s.note("read account %s", acct)
	v, err := s.e.ledger.Account(s.e.ctx, acct)
	if err != nil {
		s.fail("Account(%s) = %v", acct, err)
	}
	if s.m.dueAt(acct, now) { // the read settles it: a write
		s.m.settleWrite(acct, now)
	}
	var open int
	for _, h := range s.m.holds {
		if h.account == acct && h.status == credit.HoldOpen {
			open++
		}
	}
	used := max(0, -s.m.grants[s.m.accounts[acct].ovd].remaining)
	mv := s.m.view(acct, now)
	if v.Available != mv.available || v.Held != s.m.held(acct) || len(v.OpenHolds) != open || v.OverdraftUsed != used {
		s.fail("Account(%s) = available %s, held %s, %d open holds, overdraft used %s; model %s, %s, %d, %s",
			acct, v.Available, v.Held, len(v.OpenHolds), v.OverdraftUsed, mv.available, s.m.held(acct), open, used)
	}
	if v.ActivePlan != mv.plan || v.ActiveSubscription != mv.sub || v.Balances != mv.balances {
		s.fail("Account(%s) = plan %q, subscription %q, balances %+v; model %q, %q, %+v", acct, v.ActivePlan, v.ActiveSubscription, v.Balances, mv.plan, mv.sub, mv.balances)
	}
	if got, want := windowsText(v.Windows), windowsText(mv.windows); got != want {
		s.fail("Account(%s) windows %s; model %s", acct, got, want)
	}
	var subs []string
	for _, sub := range v.Subscriptions {
		subs = append(subs, sub.ID)
	}
	if !slices.Equal(subs, mv.subscriptions) {
		s.fail("Account(%s) subscriptions %v; model %v", acct, subs, mv.subscriptions)
	}
}

func windowsText(ws []credit.WindowView) string {
	var parts []string
	for _, w := range ws {
		parts = append(parts, fmt.Sprintf("{%v until %s max %d open %d fast %d left %d after %s resets %s}", w.Models, timeText(w.Until),
			w.MaxConcurrent, w.Open, w.DailyFast, w.FastLeft, w.AfterFast, timeText(w.ResetsAt)))
	}
	return strings.Join(parts, " ")
}

// readSubscription reads a subscription (which settles its account) and
// checks it against the model.
func (s *sim) readSubscription() {
	id := s.pickSub()
	if id == "" {
		s.readAccount(s.planAccount())
		return
	}
	s.note("read subscription %s", id)
	got, err := s.e.ledger.Subscription(s.e.ctx, id)
	if err != nil {
		s.fail("Subscription(%s) = %v", id, err)
	}
	ms := s.m.subs[id]
	if s.m.dueAt(ms.account, s.now()) { // the read settles it: a write
		s.m.settleWrite(ms.account, s.now())
	}
	if storeSubText(got) != ms.text() {
		s.fail("Subscription(%s) =\n    %s\n  model\n    %s", id, storeSubText(got), ms.text())
	}
}
