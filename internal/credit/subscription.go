package credit

import (
	"context"
	"strconv"
	"time"
)

// Billing is how often a subscription is paid for. Allowances are given
// monthly whatever the billing (the studio allocates quarterly and yearly
// plans monthly); an unlimited window starts with each billing period.
type Billing string

// The billings.
const (
	BillMonth   Billing = "month"
	BillQuarter Billing = "quarter"
	BillYear    Billing = "year"
)

// Months returns how many months one billing period lasts.
func (b Billing) Months() int {
	switch b {
	case BillQuarter:
		return 3
	case BillYear:
		return 12
	}
	return 1
}

// Subscription is an account's subscription to a paid plan. Its months
// start on its renewal day (StartsAt's day of month in TimeZone, clamped to
// each month's last day) at local midnight; the first starts at StartsAt.
//
// Period is the next month whose allowances are still to give (0 is the
// first), and RenewsAt that month's start: the sweeper looks for
// subscriptions with RenewsAt ≤ now. Giving a month and moving Period on
// happen in the same write, under the account's lock, and each allowance
// grant has an ID made from (subscription, allowance, month): a month is
// given exactly once however many nodes, retries or restarts race it.
type Subscription struct {
	ID       string
	Account  string
	Plan     string
	Billing  Billing
	TimeZone string // IANA name; "" is UTC
	StartsAt time.Time
	// EndsAt is when it ends (a cancel); zero while it renews.
	EndsAt time.Time
	// NextPlan replaces Plan at NextAt (a change at a period's end).
	NextPlan string
	NextAt   time.Time
	Period   int
	RenewsAt time.Time // zero once no month is left to give
	// Usage counts each unlimited window's generations (by the window's
	// index in the plan).
	Usage      []WindowUsage
	CreatedAt  time.Time
	CanceledAt time.Time
}

// WindowUsage is what an unlimited window has used: the generations open
// now, and the fast ones of local day Day (YYYY-MM-DD).
type WindowUsage struct {
	Open int    `json:"open"`
	Day  string `json:"day,omitempty"`
	Fast int    `json:"fast"`
}

// ActiveAt reports whether s is in force at t.
func (s *Subscription) ActiveAt(t time.Time) bool {
	return !t.Before(s.StartsAt) && (s.EndsAt.IsZero() || t.Before(s.EndsAt))
}

// SubscriptionSpec asks for a subscription.
type SubscriptionSpec struct {
	Plan     string
	StartsAt time.Time // zero: now
	TimeZone string    // "": the account's
	Billing  Billing   // "": month
}

// When a cancel or a change takes effect.
const (
	AtNow       = "now"
	AtPeriodEnd = "period_end"
)

func (l *Ledger) paidPlan(id string) (*Plan, error) {
	cat := l.catalog()
	p := cat.Plan(id)
	if p == nil || p.Program {
		e := Errorf(Invalid, "unknown_plan", "unknown plan %q: a subscription is to one of the catalog's paid plans", shown(id))
		for _, q := range cat.Plans {
			if !q.Program {
				e.Allowed = append(e.Allowed, q.ID)
			}
		}
		return nil, e
	}
	return p, nil
}

// Subscribe starts a subscription to a paid plan: its first month's
// allowances are given at StartsAt (now, or later). An account has one
// subscription at a time: Conflict subscription_exists while another is
// active or yet to start. Invalid unknown_plan, invalid_billing,
// invalid_time_zone, invalid_start; NotFound unknown_account.
func (l *Ledger) Subscribe(ctx context.Context, idem *Idempotency, account string, s SubscriptionSpec) (Subscription, error) {
	if err := checkAccountID(account); err != nil {
		return Subscription{}, err
	}
	if _, err := l.paidPlan(s.Plan); err != nil {
		return Subscription{}, err
	}
	switch s.Billing {
	case "":
		s.Billing = BillMonth
	case BillMonth, BillQuarter, BillYear:
	default:
		e := Errorf(Invalid, "invalid_billing", "billing must be month, quarter or year, not %q", shown(string(s.Billing)))
		e.Allowed = []string{string(BillMonth), string(BillQuarter), string(BillYear)}
		return Subscription{}, e
	}
	if err := CheckTimeZone(s.TimeZone); err != nil {
		return Subscription{}, err
	}
	sub, err := update(ctx, l, idem, account, Refs{}, func(b *Book, now time.Time) (Subscription, error) {
		a, err := b.Account()
		if err != nil {
			return Subscription{}, err
		}
		if err := settle(b, now); err != nil {
			return Subscription{}, err
		}
		start := s.StartsAt.UTC().Truncate(time.Microsecond)
		if start.IsZero() {
			start = now
		}
		if start.Before(now) || start.After(now.AddDate(1, 0, 0)) {
			return Subscription{}, Errorf(Invalid, "invalid_start", "starts_at must be now or within a year, not %s", start.Format(time.RFC3339))
		}
		for _, o := range b.cur.Subscriptions {
			never := !o.EndsAt.IsZero() && !o.EndsAt.After(o.StartsAt) // canceled before it started
			if (o.EndsAt.IsZero() || o.EndsAt.After(now)) && !never {
				return Subscription{}, Errorf(Conflict, "subscription_exists", "account %s already has subscription %s to %s", account, o.ID, o.Plan)
			}
		}
		tz := s.TimeZone
		if tz == "" {
			tz = a.TimeZone
		}
		sub := Subscription{ID: NewID("sub", now), Account: account, Plan: s.Plan, Billing: s.Billing, TimeZone: tz,
			StartsAt: start, RenewsAt: start, CreatedAt: now}
		b.putSubscription(sub)
		if err := settle(b, now); err != nil { // gives the first month if it starts now
			return Subscription{}, err
		}
		if err := audit(ctx, b, now, AuditSubCreate, account, subDetail(b, sub.ID)); err != nil {
			return Subscription{}, err
		}
		return b.Subscription(sub.ID)
	})
	if err == nil {
		l.owners.remember(sub.ID, account)
	}
	return sub, err
}

func subDetail(b *Book, id string) any {
	s, _ := b.Subscription(id)
	return struct {
		Subscription string    `json:"subscription"`
		Plan         string    `json:"plan"`
		Billing      Billing   `json:"billing"`
		TimeZone     string    `json:"time_zone,omitempty"`
		StartsAt     time.Time `json:"starts_at"`
		EndsAt       time.Time `json:"ends_at,omitzero"`
		NextPlan     string    `json:"next_plan,omitempty"`
		NextAt       time.Time `json:"next_at,omitzero"`
	}{s.ID, s.Plan, s.Billing, s.TimeZone, s.StartsAt, s.EndsAt, s.NextPlan, s.NextAt}
}

func checkAt(at string) error {
	if at != AtNow && at != AtPeriodEnd {
		e := Errorf(Invalid, "invalid_at", "at must be now or period_end, not %q", shown(at))
		e.Allowed = []string{AtNow, AtPeriodEnd}
		return e
	}
	return nil
}

// CancelSubscription ends a subscription now or at the end of its billing
// period. A cancel of a subscription already ending then (a double click)
// changes nothing and answers the subscription. Conflict
// subscription_ended when it has ended; NotFound unknown_subscription.
func (l *Ledger) CancelSubscription(ctx context.Context, idem *Idempotency, id, at string) (Subscription, error) {
	if err := named(id, "subscription"); err != nil {
		return Subscription{}, err
	}
	if err := checkAt(at); err != nil {
		return Subscription{}, err
	}
	return l.changeSub(ctx, idem, id, func(b *Book, s Subscription, now time.Time) (Subscription, error) {
		end := now
		if at == AtPeriodEnd && !now.Before(s.StartsAt) {
			_, end = s.billingPeriod(now)
		} else if now.Before(s.StartsAt) {
			end = s.StartsAt // not started: it never will
		}
		if s.EndsAt.Equal(end) {
			return s, nil
		}
		if !s.EndsAt.IsZero() && s.EndsAt.Before(end) {
			return s, nil // already ending sooner
		}
		s.EndsAt, s.CanceledAt = end, now
		if !s.RenewsAt.IsZero() && !s.RenewsAt.Before(end) {
			s.RenewsAt = time.Time{}
		}
		if !s.NextAt.IsZero() && !s.NextAt.Before(end) {
			s.NextPlan, s.NextAt = "", time.Time{}
		}
		b.putSubscription(s)
		if err := audit(ctx, b, now, AuditSubCancel, s.Account, subDetail(b, id)); err != nil {
			return Subscription{}, err
		}
		return s, nil
	})
}

// changeSub runs fn as a write on subscription id of its account, settled
// to now. Conflict subscription_ended when it has ended; NotFound
// unknown_subscription.
func (l *Ledger) changeSub(ctx context.Context, idem *Idempotency, id string, fn func(*Book, Subscription, time.Time) (Subscription, error)) (Subscription, error) {
	account, err := l.subscriptionAccount(ctx, id)
	if err != nil {
		return Subscription{}, err
	}
	return update(ctx, l, idem, account, Refs{}, func(b *Book, now time.Time) (Subscription, error) {
		if err := settle(b, now); err != nil {
			return Subscription{}, err
		}
		s, err := b.Subscription(id)
		if err != nil {
			return Subscription{}, err
		}
		if !s.EndsAt.IsZero() && !s.EndsAt.After(now) {
			return Subscription{}, Errorf(Conflict, "subscription_ended", "subscription %s ended at %s", id, s.EndsAt.Format(time.RFC3339))
		}
		return fn(b, s, now)
	})
}

// monthlyCredits is what a plan's allowance i gives a month (0 if it has no
// such monthly allowance).
func monthlyCredits(p *Plan, i int) Credits {
	if p == nil || i >= len(p.Allowances) || p.Allowances[i].Every != EveryMonth {
		return 0
	}
	return p.Allowances[i].Credits
}

func monthlyTotal(p *Plan) Credits {
	var sum Credits
	for i := range p.Allowances {
		sum += monthlyCredits(p, i)
	}
	return sum
}

// ChangeSubscription moves a subscription to another paid plan. An upgrade
// (more monthly credits) now takes effect at once and gives, for the month
// under way, each allowance's difference; a downgrade, or any change at
// period_end, takes effect when the billing period ends. Conflict
// subscription_ended; Invalid unknown_plan, same_plan.
func (l *Ledger) ChangeSubscription(ctx context.Context, idem *Idempotency, id, plan, at string) (Subscription, error) {
	if err := named(id, "subscription"); err != nil {
		return Subscription{}, err
	}
	if err := checkAt(at); err != nil {
		return Subscription{}, err
	}
	np, err := l.paidPlan(plan)
	if err != nil {
		return Subscription{}, err
	}
	return l.changeSub(ctx, idem, id, func(b *Book, s Subscription, now time.Time) (Subscription, error) {
		if s.Plan == plan && s.NextPlan == "" {
			return Subscription{}, Errorf(Invalid, "same_plan", "subscription %s is already on %s", id, plan)
		}
		if s.NextPlan == plan {
			return s, nil // asked before (a double click)
		}
		op := b.cat.Plan(s.Plan)
		upgrade := op == nil || monthlyTotal(np) > monthlyTotal(op)
		if at == AtNow && upgrade && !now.Before(s.StartsAt) {
			k := s.Period - 1 // the month under way, given already
			if k >= 0 {
				end := s.monthStart(k + 1)
				for i, al := range np.Allowances {
					diff := monthlyCredits(np, i) - monthlyCredits(op, i)
					if diff <= 0 {
						continue
					}
					period := s.ID + "/" + strconv.Itoa(i) + "/" + strconv.Itoa(k) + "/upgrade-" + plan
					if err := giveAllowance(b, &s, np, al, diff, period, now, end); err != nil {
						return Subscription{}, err
					}
				}
			}
			s.Plan, s.NextPlan, s.NextAt = plan, "", time.Time{}
		} else if plan == s.Plan {
			s.NextPlan, s.NextAt = "", time.Time{} // a change back before the period ended: nothing changes
		} else {
			end := s.StartsAt // not started yet: the change is there at its start
			if !now.Before(s.StartsAt) {
				_, end = s.billingPeriod(now)
			}
			s.NextPlan, s.NextAt = plan, end
		}
		b.putSubscription(s)
		if err := audit(ctx, b, now, AuditSubChange, s.Account, subDetail(b, id)); err != nil {
			return Subscription{}, err
		}
		return b.Subscription(id)
	})
}

// Subscriptions returns an account's subscriptions, oldest first, as of now
// (a renewal due is given first). NotFound unknown_account.
func (l *Ledger) Subscriptions(ctx context.Context, account string) ([]Subscription, error) {
	v, err := l.Account(ctx, account) // settles what is due
	if err != nil {
		return nil, err
	}
	return v.Subscriptions, nil
}

// Subscription returns one subscription, as of now. NotFound
// unknown_subscription.
func (l *Ledger) Subscription(ctx context.Context, id string) (Subscription, error) {
	if err := named(id, "subscription"); err != nil {
		return Subscription{}, err
	}
	account, err := l.subscriptionAccount(ctx, id)
	if err != nil {
		return Subscription{}, err
	}
	subs, err := l.Subscriptions(ctx, account)
	if err != nil {
		return Subscription{}, err
	}
	for _, s := range subs {
		if s.ID == id {
			return s, nil
		}
	}
	return Subscription{}, unknown("subscription", id)
}
