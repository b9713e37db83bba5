package credit

import (
	"strconv"
	"strings"
	"time"
)

// A plan's credits are grants like any other, given by the ledger itself:
//
//   - a month's allowances when the month starts (settle, like an expiry: the
//     sweeper finds the subscription by its RenewsAt, and any write or read
//     of the account does it first);
//   - a day's allowances (the free program's 100 credits) only when the
//     account is charged that day (dailyGrants): an account that does not
//     come back costs no write and no row, and a balance read shows the
//     day's credits without writing them (AccountView);
//   - a rollover grant when a month's allowance expires (expireGrant).
//
// Each has the ID PeriodGrantID gives its (account, period): a period is
// granted at most once, by the account's lock in one process and by the
// store's primary key across them.

// planAt returns the plan whose rules apply to account a at now, and the
// subscription it comes through (nil for the account's program): an active
// subscription's plan (its NextPlan from NextAt on), else the account's
// program, else nil (a plain wallet). A plan the catalog no longer holds
// applies no rules.
func planAt(cat *Catalog, a *Account, subs []Subscription, now time.Time) (*Plan, *Subscription) {
	if cat == nil || a == nil {
		return nil, nil
	}
	for i := range subs {
		s := &subs[i]
		if !s.ActiveAt(now) {
			continue
		}
		id := s.Plan
		if s.NextPlan != "" && !now.Before(s.NextAt) {
			id = s.NextPlan
		}
		return cat.Plan(id), s
	}
	if a.Plan == "" {
		return nil, nil
	}
	if p := cat.Plan(a.Plan); p != nil && p.Program {
		return p, nil
	}
	return nil, nil
}

// dailyGrants returns the grants the account's plan gives for now's local
// day (in the subscription's time zone, or the account's), none if the day
// was given already (Account.Daily says so: a later or equal day of the
// same scope). mark is what Account.Daily becomes once they are given.
func dailyGrants(cat *Catalog, a *Account, subs []Subscription, now time.Time) (grants []Grant, mark string) {
	p, s := planAt(cat, a, subs, now)
	if p == nil {
		return nil, ""
	}
	scope, tz, sub := p.ID, a.TimeZone, ""
	if s != nil {
		scope, tz, sub = s.ID+"/day", s.TimeZone, s.ID
	}
	loc := mustZone(tz)
	day := dayKey(now, loc)
	if given, ok := strings.CutPrefix(a.Daily, scope+"/"); ok && given >= day {
		return nil, "" // this day, or a later one in another zone, was given
	}
	var out []Grant
	for i, al := range p.Allowances {
		if al.Every != EveryDay {
			continue
		}
		period := scope + "/" + strconv.Itoa(i) + "/" + day
		out = append(out, Grant{
			ID: PeriodGrantID(a.ID, period), Account: a.ID, Source: al.Source, Granted: al.Credits, Remaining: al.Credits,
			// A day's credits never accumulate: they expire at the local
			// midnight that ends the day, whatever the allowance says.
			ExpiresAt: nextMidnight(now, loc), CreatedAt: now, AppliesTo: al.AppliesTo,
			Subscription: sub, Period: period, Memo: p.Name + " credits for " + day,
		})
	}
	if len(out) == 0 {
		return nil, ""
	}
	return out, scope + "/" + day
}

// giveDaily gives the day's allowances the account has not had yet: the
// charge that needs them is the account's first of the day.
func giveDaily(b *Book, now time.Time) error {
	a, err := b.Account()
	if err != nil {
		return err
	}
	grants, mark := dailyGrants(b.cat, &a, b.cur.Subscriptions, now)
	for _, g := range grants {
		if b.grantAt(g.ID) != nil {
			continue
		}
		if err := addGrant(b, g, now); err != nil {
			return err
		}
	}
	if mark != "" {
		b.cur.Account.Daily = mark
	}
	return nil
}

// renew gives subscription s's allowances for the month that starts at its
// RenewsAt, and moves RenewsAt on to the next month (or to zero when the
// subscription ends first). A change at the period's end takes effect here.
func renew(b *Book, id string) error {
	p := b.subscriptionAt(id)
	if p == nil {
		return unknown("subscription", id)
	}
	s := *p
	start, k := s.RenewsAt, s.Period
	if !s.EndsAt.IsZero() && !start.Before(s.EndsAt) {
		p.RenewsAt = time.Time{}
		return nil
	}
	if s.NextPlan != "" && !start.Before(s.NextAt) {
		s.Plan, s.NextPlan, s.NextAt = s.NextPlan, "", time.Time{}
	}
	end := s.monthStart(k + 1)
	if plan := b.cat.Plan(s.Plan); plan != nil {
		for i, al := range plan.Allowances {
			if al.Every != EveryMonth {
				continue
			}
			period := s.ID + "/" + strconv.Itoa(i) + "/" + strconv.Itoa(k)
			if err := giveAllowance(b, &s, plan, al, al.Credits, period, start, end); err != nil {
				return err
			}
		}
	}
	s.Period, s.RenewsAt = k+1, end
	if !s.EndsAt.IsZero() && !end.Before(s.EndsAt) {
		s.RenewsAt = time.Time{}
	}
	*b.subscriptionAt(id) = s
	return nil
}

// giveAllowance gives credits of allowance al of plan for the month [start,
// end) of subscription s, as the grant of period.
func giveAllowance(b *Book, s *Subscription, plan *Plan, al Allowance, credits Credits, period string, start, end time.Time) error {
	if b.grantAt(PeriodGrantID(s.Account, period)) != nil {
		return nil // given already (loaded): exactly once
	}
	g := Grant{
		ID: PeriodGrantID(s.Account, period), Account: s.Account, Source: al.Source, Granted: credits,
		CreatedAt: start, AppliesTo: al.AppliesTo, Subscription: s.ID, Period: period,
		Memo: plan.Name + " credits from " + start.In(mustZone(s.TimeZone)).Format(time.DateOnly),
	}
	switch al.Expires.Kind {
	case ExpiresPeriodEnd:
		g.ExpiresAt = end
	case ExpiresAfter:
		g.ExpiresAt = start.Add(al.Expires.After)
	}
	return addGrant(b, g, start)
}

// allowanceOf returns the allowance a subscription's month grant was given
// for, and the subscription (nil when g is no such grant).
func allowanceOf(b *Book, g *Grant) (*Allowance, *Subscription) {
	if g.Subscription == "" || g.Source == SourceRollover || b.cat == nil {
		return nil, nil
	}
	parts := strings.Split(g.Period, "/")
	if len(parts) < 3 || len(parts) > 4 || parts[0] != g.Subscription || g.daily() {
		return nil, nil // a day's grant
	}
	i, err := strconv.Atoi(parts[1])
	s := b.subscriptionAt(g.Subscription)
	if err != nil || s == nil {
		return nil, nil
	}
	plan := b.cat.Plan(s.Plan)
	if plan == nil || i < 0 || i >= len(plan.Allowances) {
		return nil, nil
	}
	return &plan.Allowances[i], s
}

// rollover returns the grant the unspent rest of month grant g rolls over
// into when it expires at `at`, or nil: only while the subscription lasts,
// only where its plan's allowance says so, at most MaxCredits for the
// allowance's month, shared with the month's upgrade grant ("sub/i/k" and
// "sub/i/k/upgrade-plan" expire at the same instant, one after the other).
func rollover(b *Book, g *Grant, at time.Time) *Grant {
	al, s := allowanceOf(b, g)
	if al == nil || al.Rollover == nil || !s.ActiveAt(at) {
		return nil
	}
	parts := strings.Split(g.Period, "/")
	month := strings.Join(parts[:3], "/") + "/"
	left := al.Rollover.MaxCredits
	for _, r := range b.cur.Grants {
		if r.Source == SourceRollover && strings.HasPrefix(r.Period, month) {
			left -= r.Granted
		}
	}
	amount := min(g.Remaining, left)
	if amount <= 0 {
		return nil
	}
	period := g.Period + "/rollover"
	r := &Grant{
		ID: PeriodGrantID(g.Account, period), Account: g.Account, Source: SourceRollover, Granted: amount,
		CreatedAt: at, AppliesTo: g.AppliesTo, Subscription: g.Subscription, Period: period,
		Memo: "unspent credits rolled over from " + g.ID,
	}
	if al.Rollover.ExpiresAfter > 0 {
		r.ExpiresAt = at.Add(al.Rollover.ExpiresAfter)
	}
	return r
}

// daily reports whether g is a day's allowance: its period ends in the day
// ("free/0/2026-12-05").
func (g *Grant) daily() bool {
	i := strings.LastIndexByte(g.Period, '/')
	if g.Period == "" || i < 0 {
		return false
	}
	_, err := time.Parse(time.DateOnly, g.Period[i+1:])
	return err == nil
}
