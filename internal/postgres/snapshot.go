package postgres

import (
	"github.com/tally-credits/tally/internal/credit"
)

// Snapshot returns the whole ledger, for Verify: accounts by id, grants by
// account in consumption order, holds (with allocations) and generations by
// creation, and the journal in id order with postings. Run in View (one
// REPEATABLE READ transaction), it is one consistent snapshot that takes no
// locks and holds up no writer.
func (t *tx) Snapshot() (*credit.Snapshot, error) {
	s, err := t.SnapshotState()
	if err != nil {
		return nil, err
	}
	if s.Transactions, err = t.transactions("snapshot journal", `true`, ``); err != nil {
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
	if s.Holds, err = t.holds("snapshot holds", `true`, `created_at, id`, ``); err != nil {
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
	}, `SELECT account, to_char(day, 'YYYY-MM-DD'), model, model_kind, charged, charges FROM usage_daily`)
	if err != nil {
		return nil, err
	}
	return s, nil
}
