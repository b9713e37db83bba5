package credit

import (
	"context"
	"sort"
	"time"
)

// MaxPageSize bounds a page of history.
const MaxPageSize = 1000

// Entries returns a page of an account's journal, newest first: transactions
// with ID < before (0: from the newest). The next page starts at the last
// entry's ID. NotFound unknown_account.
func (l *Ledger) Entries(ctx context.Context, account string, before int64, limit int) ([]Entry, error) {
	return l.MemberEntries(ctx, account, "", before, limit)
}

// MemberEntries is Entries as a team member sees the team's journal: their
// own entries and the pool's (grants, expiries), never another member's.
// With member "", every entry.
func (l *Ledger) MemberEntries(ctx context.Context, account, member string, before int64, limit int) ([]Entry, error) {
	if err := named(account, "account"); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > MaxPageSize {
		return nil, Errorf(Invalid, "invalid_limit", "limit must be 1 to %d, not %d", MaxPageSize, limit)
	}
	if before < 0 {
		return nil, Errorf(Invalid, "invalid_cursor", "the cursor is not one this API gave out")
	}
	return view(ctx, l, func(tx Tx, _ time.Time) ([]Entry, error) {
		if _, err := tx.Account(account); err != nil {
			return nil, err
		}
		return tx.Entries(account, member, before, limit)
	})
}

// GroupBy names how usage is summed.
type GroupBy string

// The usage groupings.
const (
	ByModel GroupBy = "model"
	ByKind  GroupBy = "kind"
	ByDay   GroupBy = "day"
	// ByMember sums a team's usage by member.
	ByMember GroupBy = "member"
)

// UsageGroup is the net credits charged in one group.
type UsageGroup struct {
	Key     string // the model id, the kind, the day (YYYY-MM-DD) or the member
	Charged Credits
	// List is the list price of the same generations: Charged for
	// charged ones, what an unlimited window gave for free ones.
	List  Credits
	Count int
}

// MaxUsageSpan bounds a usage query (about 13 months).
const MaxUsageSpan = 400 * 24 * time.Hour

// Usage sums what an account was charged in [from, to), net of refunds,
// grouped by model, kind, day or team member; groups are sorted by key.
// Generic holds have no model, and charges outside a team no member: they
// are grouped under "other".
func (l *Ledger) Usage(ctx context.Context, account string, from, to time.Time, by GroupBy) ([]UsageGroup, error) {
	return l.MemberUsage(ctx, account, "", from, to, by)
}

// MemberUsage is Usage of one team member's charges (member "": all).
func (l *Ledger) MemberUsage(ctx context.Context, account, member string, from, to time.Time, by GroupBy) ([]UsageGroup, error) {
	if err := named(account, "account"); err != nil {
		return nil, err
	}
	switch by {
	case ByModel, ByKind, ByDay, ByMember:
	default:
		return nil, &Error{Code: Invalid, Reason: "invalid_group_by", Message: "group_by must be model, kind, day or member", Allowed: []string{"model", "kind", "day", "member"}}
	}
	if !from.Before(to) || to.Sub(from) > MaxUsageSpan {
		return nil, Errorf(Invalid, "invalid_range", "from must be before to, at most %d days apart", int(MaxUsageSpan.Hours()/24))
	}
	// A UTC day before year 1 has no date the stores can name (PostgreSQL
	// has no year 0): such a window is refused, not answered with an error.
	if from.UTC().Year() < 1 {
		return nil, Errorf(Invalid, "invalid_range", "a usage window starts at 0001-01-01T00:00:00Z or later, not at %s", from.UTC().Format(time.RFC3339Nano))
	}
	rows, err := view(ctx, l, func(tx Tx, _ time.Time) ([]UsageRow, error) {
		if _, err := tx.Account(account); err != nil {
			return nil, err
		}
		return tx.Usage(account, from, to)
	})
	if err != nil {
		return nil, err
	}
	sums := map[string]*UsageGroup{}
	for _, r := range rows {
		if member != "" && r.Member != member {
			continue
		}
		key := r.Day
		switch by {
		case ByModel:
			key = r.Model
		case ByKind:
			key = r.Kind
		case ByMember:
			key = r.Member
		}
		if key == "" {
			key = "other"
		}
		g := sums[key]
		if g == nil {
			g = &UsageGroup{Key: key}
			sums[key] = g
		}
		g.Charged += r.Charged
		g.List += r.List
		g.Count += r.Count
	}
	out := make([]UsageGroup, 0, len(sums))
	for _, g := range sums {
		out = append(out, *g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

// Affordable says what an account's balance buys at a quote's settings, as
// its plan and its grants' applies_to decide.
type Affordable struct {
	Available Credits
	// Eligible is the part of Available the grants that may pay for the
	// quote's model hold.
	Eligible Credits
	// Images is how many images at this quote's per-image price (and its
	// per-generation surcharge, paid once) the eligible balance, with the
	// overdraft, covers; Generations how many whole generations like this
	// one.
	Images      int64
	Generations int64
	// PaidBy is which grants would pay for one generation like this, in
	// consumption order (empty when the balance cannot, or it is free).
	PaidBy []Share
	// Unlimited says an unlimited window makes the generation free now
	// (its list price is the quote's total).
	Unlimited bool
	// PlanRequired says the account's plan does not let it use the model
	// (a Pro model without a subscription): a generation would be refused.
	PlanRequired bool
}

// Share is the part of a charge one grant would pay.
type Share struct {
	Grant   string
	Source  Source
	Credits Credits
}

// Afford answers "what can I afford" for an account and a quote: what its
// balance buys, which grants would pay, and whether its plan makes the model
// free or keeps it out of reach.
func (l *Ledger) Afford(ctx context.Context, account string, q Quote) (Affordable, error) {
	v, err := l.Account(ctx, account)
	if err != nil {
		return Affordable{}, err
	}
	now := l.Now()
	cat := l.catalog()
	a := Affordable{Available: v.Available, Eligible: v.Available}
	plan, sub := planAt(cat, &v.Account, v.Subscriptions, now)
	if planAllows(cat, plan, &v.Account, q.Model) != nil {
		a.PlanRequired = true
	}
	if w, _ := windowAt(plan, sub, q.Model, now); w != nil {
		a.Unlimited = true
	}
	var tags []string
	if m, err := cat.Model(q.Model); err == nil {
		tags = m.Tags
	}
	rest := q.TotalCredits
	for _, g := range v.Grants {
		if !g.Live(now) || g.Remaining <= 0 {
			continue
		}
		if !g.AppliesTo.Allows(q.Model, tags) {
			a.Eligible -= g.Remaining
			continue
		}
		if take := min(rest, g.Remaining); take > 0 && !a.Unlimited {
			a.PaidBy = append(a.PaidBy, Share{Grant: g.ID, Source: g.Source, Credits: take})
			rest -= take
		}
	}
	if rest > 0 && !a.Unlimited {
		if rest <= v.Overdraft-v.OverdraftUsed {
			a.PaidBy = append(a.PaidBy, Share{Grant: overdraftGrantID(account), Source: SourceOverdraft, Credits: rest})
		} else {
			a.PaidBy = nil // the balance cannot pay for one
		}
	}
	if a.PlanRequired {
		a.PaidBy = nil
		return a, nil
	}
	spend := a.Eligible + v.Overdraft
	surcharge := q.TotalCredits - q.UnitCredits*Credits(q.Images)
	if q.UnitCredits > 0 && spend-surcharge > 0 {
		a.Images = int64((spend - surcharge) / q.UnitCredits)
	}
	if q.TotalCredits > 0 && spend > 0 {
		a.Generations = int64(spend / q.TotalCredits)
	}
	return a, nil
}
