package sqlite

import (
	"github.com/tally-credits/tally/internal/credit"
)

// Snapshot returns the whole ledger, for Verify: accounts by id, grants by
// account in consumption order, holds (with allocations) and generations by
// creation, and the journal in id order with postings. Run in View, it is
// one consistent snapshot that does not hold up the writer.
func (t *tx) Snapshot() (*credit.Snapshot, error) {
	s, err := t.SnapshotState()
	if err != nil {
		return nil, err
	}
	if s.Transactions, err = t.transactions("snapshot journal", `SELECT `+transactionColumns+` FROM transactions ORDER BY id`, ``); err != nil {
		return nil, err
	}
	return s, nil
}

// SnapshotState is Snapshot without the journal (see credit.Tx).
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
	allocs, err := t.allocations()
	if err != nil {
		return nil, err
	}
	err = t.each("snapshot holds", func(r scanner) error {
		h, err := scanHold(r)
		h.Allocations = allocs[h.ID]
		s.Holds = append(s.Holds, h)
		return err
	}, `SELECT `+holdColumns+` FROM holds ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	err = t.each("snapshot generations", func(r scanner) error {
		g, err := scanGeneration(r)
		s.Generations = append(s.Generations, g)
		return err
	}, `SELECT `+generationColumns+` FROM generations ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	err = t.each("snapshot usage", func(r scanner) error {
		var u credit.DailyUsage
		err := r.Scan(&u.Account, &u.Day, &u.Model, &u.Kind, &u.Charged, &u.Count)
		s.Usage = append(s.Usage, u)
		return err
	}, `SELECT account, strftime('%Y-%m-%d', day * 86400, 'unixepoch'), model, model_kind, charged, charges FROM usage_daily`)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// EachTransaction streams the journal in ID order with its postings (see
// credit.Tx): one query joining each transaction to its postings, rows
// grouped by transaction as they come.
func (t *tx) EachTransaction(fn func(*credit.Transaction) error) error {
	var cur *credit.Transaction
	err := t.each("read journal", func(s scanner) error {
		var x credit.Transaction
		var account, book, grant string
		var amount *int64
		if err := s.Scan(&x.ID, &x.Kind, &x.Account, timeColumn{&x.Time}, &x.Ref, &x.Generation, &x.Model, &x.ModelKind, &x.CatalogVersion,
			&x.AvailableDelta, &x.HeldDelta, &x.AvailableAfter, &x.HeldAfter, &x.ChargedDelta, &x.Memo,
			textColumn{&account}, textColumn{&book}, textColumn{&grant}, &amount); err != nil {
			return err
		}
		if cur == nil || cur.ID != x.ID {
			if cur != nil {
				if err := fn(cur); err != nil {
					return err
				}
			}
			cur = &x
		}
		if amount != nil { // a transaction without postings has one row of NULLs
			cur.Postings = append(cur.Postings, credit.Posting{Account: account, Book: book, Grant: grant, Amount: credit.Credits(*amount)})
		}
		return nil
	}, `SELECT t.id, t.kind, t.account, t.time, t.ref, t.generation, t.model, t.model_kind, t.catalog_version,
			t.available_delta, t.held_delta, t.available_after, t.held_after, t.charged_delta, t.memo,
			p.account, p.book, p.grant_id, p.amount
		FROM transactions t LEFT JOIN postings p ON p.tx_id = t.id
		ORDER BY t.id, p.seq`)
	if err != nil {
		return err
	}
	if cur != nil {
		return fn(cur)
	}
	return nil
}
