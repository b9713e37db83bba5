package postgres

import (
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/tally-credits/tally/internal/credit"
)

const accountColumns = `id, overdraft, available, held, created_at, plan, time_zone, daily, kind,
	low_balance, auto_topup_threshold, auto_topup_amount, auto_topup_cap`

func scanAccount(s scanner) (credit.Account, error) {
	var a credit.Account
	err := s.Scan(&a.ID, &a.Overdraft, &a.Available, &a.Held, timeColumn{&a.CreatedAt}, &a.Plan, &a.TimeZone, &a.Daily, &a.Kind,
		&a.LowBalance, &a.AutoTopup.Threshold, &a.AutoTopup.Amount, &a.AutoTopup.MonthlyCap)
	return a, err
}

// Account returns an account. NotFound unknown_account.
func (t *tx) Account(id string) (credit.Account, error) {
	a, err := scanAccount(t.queryRow(`SELECT `+accountColumns+` FROM accounts WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return credit.Account{}, unknownAccount(id)
	} else if err != nil {
		return credit.Account{}, t.fail("read account", err)
	}
	return a, nil
}
