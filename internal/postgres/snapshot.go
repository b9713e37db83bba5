package postgres

import (
	"github.com/tally-credits/tally/internal/credit"
)

// Snapshot returns the whole ledger, for Verify: accounts by id, grants by
// account in consumption order, holds (with allocations), generations and
// subscriptions by creation, members by account and id, member periods by
// account, member and start, the journal in id order with postings,
// top-ups by account, creation and id, and the feed in its order (each
// event with its cursor). Run in View (one
// REPEATABLE READ transaction), it is one consistent snapshot that takes no
// locks and holds up no writer.
func (t *tx) Snapshot() (*credit.Snapshot, error) {
	s, err := t.SnapshotState()
	if err != nil {
		return nil, err
	}
	if s.Holds, s.Generations, err = credit.CollectHoldsAndGenerations(t); err != nil {
		return nil, err
	}
	if s.Entries, err = t.transactions("snapshot journal", `true`, ``); err != nil {
		return nil, err
	}
	if s.Topups, err = t.topups("snapshot top-ups", `SELECT `+topupColumns+` FROM topups ORDER BY account, `+topupOrder); err != nil {
		return nil, err
	}
	if s.Events, err = t.snapshotEvents(); err != nil {
		return nil, err
	}
	return s, nil
}

// SnapshotState is accounts, grants, subscriptions, members, member
// periods, the usage rollup and the report rollups (see credit.Scanner).
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
	if s.Subscriptions, err = t.subscriptions("snapshot subscriptions", `SELECT `+subscriptionColumns+` FROM subscriptions
		ORDER BY `+subscriptionOrder); err != nil {
		return nil, err
	}
	if s.Members, err = t.members("snapshot members", `SELECT `+memberColumns+` FROM members
		ORDER BY account, `+memberOrder); err != nil {
		return nil, err
	}
	if s.MemberPeriods, err = t.memberPeriods("snapshot member periods", `SELECT `+memberPeriodColumns+` FROM member_periods
		ORDER BY account, `+memberPeriodOrder); err != nil {
		return nil, err
	}
	err = t.each("snapshot usage", func(r scanner) error {
		var u credit.DailyUsage
		err := r.Scan(&u.Account, &u.Day, &u.Model, &u.Kind, &u.Member, &u.Charged, &u.Count, &u.List)
		s.Usage = append(s.Usage, u)
		return err
	}, `SELECT account, to_char(day, 'YYYY-MM-DD'), model, model_kind, member, charged, charges, list_credits FROM usage_daily`)
	if err != nil {
		return nil, err
	}
	if s.Liability, err = t.liability("snapshot liability"); err != nil {
		return nil, err
	}
	if s.Consumption, err = t.consumption("snapshot consumption", ``); err != nil {
		return nil, err
	}
	return s, nil
}

// EachHold streams every hold with its allocations, by ID (see credit.Tx).
func (t *tx) EachHold(fn func(*credit.Hold) error) error {
	if err := t.stream("read holds"); err != nil {
		return err
	}
	return t.eachHold("read holds", `true`, `id`, ``, fn)
}

// EachGeneration streams every generation, by ID (see credit.Tx).
func (t *tx) EachGeneration(fn func(*credit.Generation) error) error {
	if err := t.stream("read generations"); err != nil {
		return err
	}
	return t.each("read generations", func(s scanner) error {
		g, err := scanGeneration(s)
		if err != nil {
			return err
		}
		return fn(&g)
	}, `SELECT `+generationColumns+` FROM generations ORDER BY id`)
}
