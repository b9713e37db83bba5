package credit

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"
)

// AccountView is an account as support sees it: balances, grants, open holds.
type AccountView struct {
	Account
	// OverdraftUsed is how far the account is below zero (0 when not).
	OverdraftUsed Credits
	// Grants are the real grants, in consumption order (the overdraft grant is
	// summarized by OverdraftUsed).
	Grants    []Grant
	OpenHolds []Hold
	// Subscriptions are the account's subscriptions, oldest first.
	Subscriptions []Subscription
	// ActivePlan is the plan whose rules apply now ("" for a plain wallet),
	// and ActiveSubscription the subscription it comes through ("" for a
	// program). (Account.Plan is the program the account is on.)
	ActivePlan, ActiveSubscription string
	// Balances is Available by the kind of credits, as the studio shows it.
	Balances Balances
	// Windows are the unlimited windows in force now.
	Windows []WindowView
	// At is when the view was taken: "now" above.
	At time.Time
}

// Balances splits what an account can spend by where it came from: the
// studio shows free, subscription and top-up credits apart.
type Balances struct {
	Free         Credits // the day's free credits
	Subscription Credits // monthly allowances and their rollovers
	Topup        Credits
	Other        Credits // promotions, refunds, adjustments
}

// WindowView is an unlimited window in force, with what is left of it.
type WindowView struct {
	Models        []string
	Until         time.Time
	MaxConcurrent int
	Open          int
	DailyFast     int // 0: no limit
	FastLeft      int // of today's fast generations
	AfterFast     AfterFast
	ResetsAt      time.Time // the local midnight the day's count resets at
}

func overdraftGrantID(account string) string { return "ovd_" + account }

// AccountSpec asks for an account.
type AccountSpec struct {
	ID        string
	Overdraft Credits // how far below zero it may go (0: not at all)
	Plan      string  // a program of the catalog ("free"), or "" for a plain wallet
	TimeZone  string  // IANA name of its days ("": UTC)
	// Kind is AccountUser (also "") or AccountTeam: a team's credits are
	// a pool its members spend (see Member).
	Kind AccountKind
}

// CreateAccount opens an account with the given overdraft limit (0: none).
func (l *Ledger) CreateAccount(ctx context.Context, idem *Idempotency, id string, overdraft Credits) (Account, error) {
	v, err := l.OpenAccount(ctx, idem, AccountSpec{ID: id, Overdraft: overdraft})
	return v.Account, err
}

// OpenAccount opens an account and answers it as it is then: on a program,
// with the day's free credits (see AccountView.plan). The answer is what a
// retry with the same Idempotency-Key gets again, whatever the day. Conflict account_exists if the id is taken;
// Invalid reserved_account_id for PlatformAccount, whose books are the
// platform's: a user's wallet of that name would mix its postings with
// revenue and issued credits; Invalid unknown_plan, invalid_time_zone.
func (l *Ledger) OpenAccount(ctx context.Context, idem *Idempotency, s AccountSpec) (AccountView, error) {
	id, overdraft := s.ID, s.Overdraft
	if err := checkAccountID(id); err != nil {
		return AccountView{}, err
	}
	if id == PlatformAccount {
		return AccountView{}, Errorf(Invalid, "reserved_account_id", "the account id %q is reserved for the platform's books", id)
	}
	if overdraft < 0 || overdraft > MaxCredits {
		return AccountView{}, Errorf(Invalid, "invalid_amount", "overdraft must be 0 to %s credits, not %s", MaxCredits, overdraft)
	}
	if err := l.checkProgram(s.Plan); err != nil {
		return AccountView{}, err
	}
	if err := CheckTimeZone(s.TimeZone); err != nil {
		return AccountView{}, err
	}
	kind := s.Kind
	switch kind {
	case "":
		kind = AccountUser
	case AccountUser, AccountTeam:
	default:
		return AccountView{}, &Error{Code: Invalid, Reason: "invalid_account_kind", Message: fmt.Sprintf("kind must be user or team, not %q", shown(string(kind))),
			Allowed: []string{string(AccountUser), string(AccountTeam)}}
	}
	return update(ctx, l, idem, id, Refs{}, func(b *Book, now time.Time) (AccountView, error) {
		a := Account{ID: id, Overdraft: overdraft, CreatedAt: now, Plan: s.Plan, TimeZone: s.TimeZone, Kind: kind}
		g := Grant{ID: overdraftGrantID(id), Account: id, Source: SourceOverdraft, Priority: math.MaxInt32, CreatedAt: now}
		if err := b.insertAccount(a, g); err != nil {
			return AccountView{}, err
		}
		detail := struct {
			Overdraft Credits `json:"overdraft"`
			Plan      string  `json:"plan,omitempty"`
			TimeZone  string  `json:"time_zone,omitempty"`
			Kind      string  `json:"kind,omitempty"`
		}{overdraft, s.Plan, s.TimeZone, string(s.Kind)}
		if err := audit(ctx, b, now, AuditAccountCreate, id, detail); err != nil {
			return AccountView{}, err
		}
		return bookView(b, now), nil
	})
}

// bookView is the account as a write leaves it: its balances, its grants
// with something left, its subscriptions and its plan at now. Open holds
// are not listed: a store need not load the ones not yet due (see State).
func bookView(b *Book, now time.Time) AccountView {
	v := AccountView{Account: *b.cur.Account, Subscriptions: b.Subscriptions(), At: now}
	for _, g := range b.Grants() {
		if g.Source == SourceOverdraft {
			if g.Remaining < 0 {
				v.OverdraftUsed = -g.Remaining
			}
			if g.Remaining <= 0 {
				continue
			}
		}
		if g.ExpiredAt.IsZero() && g.Remaining+g.Held != 0 {
			v.Grants = append(v.Grants, g)
		}
	}
	v.plan(b.cat, now)
	return v
}

// checkProgram refuses (Invalid unknown_plan) a plan id that is not one of
// the catalog's programs; "" (no plan) is fine.
func (l *Ledger) checkProgram(id string) error {
	if id == "" {
		return nil
	}
	var cat *Catalog
	if l.catalog != nil {
		cat = l.catalog()
	}
	if cat != nil {
		if p := cat.Plan(id); p != nil && p.Program {
			return nil
		}
	}
	e := Errorf(Invalid, "unknown_plan", "unknown program %q: an account is put on one of the catalog's programs, or on none (\"\")", shown(id))
	if cat != nil {
		for _, p := range cat.Plans {
			if p.Program {
				e.Allowed = append(e.Allowed, p.ID)
			}
		}
	}
	return e
}

// SetPlan puts an account on a program ("free"), or takes it off (""), and
// sets the time zone of its days when tz is not nil; it answers the account
// as the change left it (see bookView). A subscription takes
// over from the program while it is active. Invalid unknown_plan,
// invalid_time_zone; NotFound unknown_account.
func (l *Ledger) SetPlan(ctx context.Context, idem *Idempotency, account, plan string, tz *string) (AccountView, error) {
	if err := checkAccountID(account); err != nil {
		return AccountView{}, err
	}
	if err := l.checkProgram(plan); err != nil {
		return AccountView{}, err
	}
	if tz != nil {
		if err := CheckTimeZone(*tz); err != nil {
			return AccountView{}, err
		}
	}
	return update(ctx, l, idem, account, Refs{}, func(b *Book, now time.Time) (AccountView, error) {
		a, err := b.Account()
		if err != nil {
			return AccountView{}, err
		}
		if err := settle(b, now); err != nil {
			return AccountView{}, err
		}
		zone := a.TimeZone
		if tz != nil {
			zone = *tz
		}
		if a.Plan == plan && a.TimeZone == zone {
			return bookView(b, now), nil
		}
		if err := b.setAccountPlan(plan, zone); err != nil {
			return AccountView{}, err
		}
		detail := struct {
			Plan     string `json:"plan"`
			Was      string `json:"was"`
			TimeZone string `json:"time_zone,omitempty"`
		}{plan, a.Plan, zone}
		if err := audit(ctx, b, now, AuditAccountPlan, account, detail); err != nil {
			return AccountView{}, err
		}
		return bookView(b, now), nil
	})
}

// Account returns an account with its grants and open holds, as of now: holds
// and grants past their time are expired first.
func (l *Ledger) Account(ctx context.Context, id string) (AccountView, error) {
	if err := named(id, "account"); err != nil {
		return AccountView{}, err
	}
	var cat *Catalog
	if l.catalog != nil {
		cat = l.catalog()
	}
	read := func(tx Tx, now time.Time) (AccountView, error) { return accountView(tx, cat, id, now) }
	v, err := view(ctx, l, read)
	if err != nil || !v.due(l.Now()) {
		return v, err
	}
	// Something is past its time: settle it (a write), then answer.
	if _, err := update(ctx, l, nil, id, Refs{}, func(b *Book, now time.Time) (struct{}, error) {
		return struct{}{}, settle(b, now)
	}); err != nil {
		return AccountView{}, err
	}
	return view(ctx, l, read)
}

func (v *AccountView) due(now time.Time) bool {
	for _, h := range v.OpenHolds {
		if !now.Before(h.ExpiresAt) {
			return true
		}
	}
	for _, g := range v.Grants {
		if g.ExpiredAt.IsZero() && !g.ExpiresAt.IsZero() && !now.Before(g.ExpiresAt) {
			return true
		}
	}
	for _, s := range v.Subscriptions {
		if !s.RenewsAt.IsZero() && !now.Before(s.RenewsAt) {
			return true
		}
	}
	return false
}

func accountView(tx Tx, cat *Catalog, id string, now time.Time) (AccountView, error) {
	a, err := tx.Account(id)
	if err != nil {
		return AccountView{}, err
	}
	v := AccountView{Account: a}
	grants, err := tx.Grants(id)
	if err != nil {
		return AccountView{}, err
	}
	for _, g := range grants {
		if g.Source == SourceOverdraft {
			if g.Remaining < 0 {
				v.OverdraftUsed = -g.Remaining
			}
			if g.Remaining <= 0 {
				continue // shown as OverdraftUsed; above zero it holds spendable credits
			}
		}
		v.Grants = append(v.Grants, g)
	}
	if v.OpenHolds, err = tx.OpenHolds(id); err != nil {
		return AccountView{}, err
	}
	if v.Subscriptions, err = tx.Subscriptions(id); err != nil {
		return AccountView{}, err
	}
	v.plan(cat, now)
	v.At = now
	return v, nil
}

// plan adds to v what the account's plan gives and allows at now. The day's
// free credits are shown even before the account's first charge of the day
// gives them (see dailyGrants): an account that never comes back is never
// written to, yet any read of it shows them.
func (v *AccountView) plan(cat *Catalog, now time.Time) {
	p, s := planAt(cat, &v.Account, v.Subscriptions, now)
	if p == nil {
		v.splitBalances(now)
		return
	}
	v.ActivePlan = p.ID
	if s != nil {
		v.ActiveSubscription = s.ID
	}
	grants, _ := dailyGrants(cat, &v.Account, v.Subscriptions, now)
	for _, g := range grants {
		if !slices.ContainsFunc(v.Grants, func(o Grant) bool { return o.ID == g.ID }) {
			v.Grants = append(v.Grants, g)
			v.Available += g.Remaining
		}
	}
	sortGrants(v.Grants)
	v.splitBalances(now)
	if s == nil {
		return
	}
	from, _ := s.billingPeriod(now)
	loc := mustZone(s.TimeZone)
	for i, w := range p.Unlimited {
		until := from.In(loc).AddDate(0, 0, w.Days).UTC()
		if !now.Before(until) {
			continue
		}
		var u WindowUsage
		if i < len(s.Usage) {
			u = s.Usage[i]
		}
		if u.Day != dayKey(now, loc) {
			u.Fast = 0
		}
		wv := WindowView{Models: w.Models, Until: until, MaxConcurrent: w.MaxConcurrent, Open: u.Open,
			DailyFast: w.DailyFast, AfterFast: w.AfterFast, ResetsAt: nextMidnight(now, loc)}
		if w.DailyFast > 0 {
			wv.FastLeft = max(0, w.DailyFast-u.Fast)
		}
		v.Windows = append(v.Windows, wv)
	}
}

func (v *AccountView) splitBalances(now time.Time) {
	for _, g := range v.Grants {
		if !g.Live(now) || g.Remaining <= 0 {
			continue
		}
		switch g.Source {
		case SourceFree:
			v.Balances.Free += g.Remaining
		case SourceSubscription, SourceRollover:
			v.Balances.Subscription += g.Remaining
		case SourceTopup:
			v.Balances.Topup += g.Remaining
		default:
			v.Balances.Other += g.Remaining
		}
	}
}
