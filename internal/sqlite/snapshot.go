package sqlite

import (
	"github.com/tally-credits/tally/internal/credit"
)

// Snapshot returns the whole ledger, for Verify: accounts by id, grants by
// account in consumption order, holds (with allocations) and generations by
// creation, the journal in id order with postings, members by account and
// id, member periods by account, member and start, top-ups by account,
// creation and id, and the events in feed order. Run in View, it is
// one consistent snapshot that does not hold up the writer.
func (t *tx) Snapshot() (*credit.Snapshot, error) {
	s, err := t.SnapshotState()
	if err != nil {
		return nil, err
	}
	if s.Holds, s.Generations, err = credit.CollectHoldsAndGenerations(t); err != nil {
		return nil, err
	}
	if s.Entries, err = t.transactions("snapshot journal", `SELECT `+transactionColumns+` FROM transactions ORDER BY id`, ``); err != nil {
		return nil, err
	}
	if s.Events, err = t.events("snapshot events", `SELECT `+eventColumns+` FROM events ORDER BY seq`); err != nil {
		return nil, err
	}
	return s, nil
}

// SnapshotState is accounts, grants, subscriptions, members, member
// periods, top-ups, the usage rollup and the report rollups (see
// credit.Scanner): a few rows an account or a day, not a history.
func (t *tx) SnapshotState() (*credit.Snapshot, error) {
	s := &credit.Snapshot{}
	err := t.each("snapshot accounts", func(r scanner) error {
		a, err := scanAccount(r)
		s.Accounts = append(s.Accounts, a)
		return err
	}, `SELECT `+accountColumns+` FROM accounts ORDER BY id`)
	if err != nil {
		return nil, err
	}
	if s.Grants, err = t.grants("snapshot grants", `SELECT `+grantColumns+` FROM grants ORDER BY account, `+consumptionOrder); err != nil {
		return nil, err
	}
	err = t.each("snapshot usage", func(r scanner) error {
		var u credit.DailyUsage
		err := r.Scan(&u.Account, &u.Day, &u.Model, &u.Kind, &u.Member, &u.Charged, &u.Count, &u.List)
		s.Usage = append(s.Usage, u)
		return err
	}, `SELECT account, strftime('%Y-%m-%d', day * 86400, 'unixepoch'), model, model_kind, member, charged, charges, list_credits
		FROM usage_daily`)
	if err != nil {
		return nil, err
	}
	if s.Subscriptions, err = t.subscriptions("snapshot subscriptions", `SELECT `+subscriptionColumns+` FROM subscriptions ORDER BY created_at, id`); err != nil {
		return nil, err
	}
	if s.Members, err = t.members("snapshot members", `SELECT `+memberColumns+` FROM members ORDER BY account, member`); err != nil {
		return nil, err
	}
	if s.MemberPeriods, err = t.memberPeriods("snapshot member periods", `SELECT `+memberPeriodColumns+` FROM member_periods
		ORDER BY account, member, period_start`); err != nil {
		return nil, err
	}
	if s.Topups, err = t.topups("snapshot top-ups", `SELECT `+topupColumns+` FROM topups ORDER BY account, created_at, id`); err != nil {
		return nil, err
	}
	if s.Liability, err = t.liability("snapshot liability", `SELECT `+liabilityColumns+` FROM liability_daily`); err != nil {
		return nil, err
	}
	if s.Consumption, err = t.consumption("snapshot consumption", `SELECT `+consumptionColumns+` FROM consumption_daily`); err != nil {
		return nil, err
	}
	return s, nil
}

// EachEntry streams the journal in ID order with its postings (see
// credit.Tx): one query joining each transaction to its postings, rows
// grouped by transaction as they come.
func (t *tx) EachEntry(fn func(*credit.Entry) error) error {
	g := grouper[credit.Entry, int64]{fn: fn}
	err := t.each("read journal", func(s scanner) error {
		var x credit.Entry
		var account, book, grant string
		var amount *int64
		if err := s.Scan(&x.ID, &x.Kind, &x.Account, timeColumn{&x.Time}, &x.Ref, &x.Generation, &x.Model, &x.ModelKind, &x.CatalogVersion,
			&x.AvailableDelta, &x.HeldDelta, &x.AvailableAfter, &x.HeldAfter, &x.ChargedDelta, &x.Memo, &x.ListCredits, &x.Member,
			textColumn{&account}, textColumn{&book}, textColumn{&grant}, &amount); err != nil {
			return err
		}
		cur, err := g.row(x.ID, &x)
		if err == nil && amount != nil { // a transaction without postings has one row of NULLs
			cur.Postings = append(cur.Postings, credit.Posting{Account: account, Book: book, Grant: grant, Amount: credit.Credits(*amount)})
		}
		return err
	}, `SELECT t.id, t.kind, t.account, t.time, t.ref, t.generation, t.model, t.model_kind, t.catalog_version,
			t.available_delta, t.held_delta, t.available_after, t.held_after, t.charged_delta, t.memo, t.list_credits, t.member,
			p.account, p.book, p.grant_id, p.amount
		FROM transactions t LEFT JOIN postings p ON p.tx_id = t.id
		ORDER BY t.id, p.seq`)
	if err != nil {
		return err
	}
	return g.flush()
}

// EachHold streams every hold with its allocations, by ID (see credit.Tx).
func (t *tx) EachHold(fn func(*credit.Hold) error) error {
	g := grouper[credit.Hold, string]{fn: fn}
	err := t.each("read holds", func(s scanner) error {
		var h credit.Hold
		var grant string
		var amount, captured, refunded *int64
		if err := s.Scan(&h.ID, &h.Account, textColumn{&h.Generation}, &h.Amount, &h.Captured, &h.Released, &h.Status,
			timeColumn{&h.ExpiresAt}, timeColumn{&h.CreatedAt}, timeColumn{&h.ResolvedAt}, &h.Member, timeColumn{&h.MemberPeriod},
			textColumn{&grant}, &amount, &captured, &refunded); err != nil {
			return err
		}
		cur, err := g.row(h.ID, &h)
		if err == nil && amount != nil && captured != nil && refunded != nil { // NULLs: a hold without allocations
			cur.Allocations = append(cur.Allocations, credit.Allocation{Grant: grant,
				Amount: credit.Credits(*amount), Captured: credit.Credits(*captured), Refunded: credit.Credits(*refunded)})
		}
		return err
	}, `SELECT h.id, h.account, h.generation, h.amount, h.captured, h.released, h.status, h.expires_at, h.created_at, h.resolved_at,
			h.member, h.member_period, a.grant_id, a.amount, a.captured, a.refunded
		FROM holds h LEFT JOIN hold_allocations a ON a.hold_id = h.id
		ORDER BY h.id, a.seq`)
	if err != nil {
		return err
	}
	return g.flush()
}

// EachGeneration streams every generation, by ID (see credit.Tx).
func (t *tx) EachGeneration(fn func(*credit.Generation) error) error {
	return t.each("read generations", func(s scanner) error {
		g, err := scanGeneration(s)
		if err != nil {
			return err
		}
		return fn(&g)
	}, `SELECT `+generationColumns+` FROM generations ORDER BY id`)
}

// grouper turns the rows of a parent LEFT JOIN its children, ordered by the
// parent's key (a transaction and its postings, a hold and its allocations),
// into one parent at a time: row returns the parent a row's child belongs to,
// handing the previous parent to fn when a new key begins; flush hands on the
// last.
type grouper[T any, K comparable] struct {
	fn  func(*T) error
	cur *T
	key K
}

func (g *grouper[T, K]) row(key K, parent *T) (*T, error) {
	if g.cur != nil && g.key == key {
		return g.cur, nil
	}
	if err := g.flush(); err != nil {
		return nil, err
	}
	g.cur, g.key = parent, key
	return parent, nil
}

func (g *grouper[T, K]) flush() error {
	if g.cur == nil {
		return nil
	}
	cur := g.cur
	g.cur = nil
	return g.fn(cur)
}
