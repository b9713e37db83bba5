package postgres

import (
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/tally-credits/tally/internal/credit"
)

const accountColumns = `id, overdraft, available, held, created_at`

func scanAccount(s scanner) (credit.Account, error) {
	var a credit.Account
	err := s.Scan(&a.ID, &a.Overdraft, &a.Available, &a.Held, timeColumn{&a.CreatedAt})
	return a, err
}

// InsertAccount creates an account with zero balances, and its overdraft
// grant. Conflict account_exists if the id is taken. The new row is locked
// by its INSERT until commit.
func (t *tx) InsertAccount(a credit.Account, overdraftGrant credit.Grant) error {
	_, err := t.exec(`INSERT INTO accounts (id, overdraft, available, held, created_at) VALUES ($1, $2, 0, 0, $3)`,
		a.ID, a.Overdraft, tstz(a.CreatedAt))
	if violates(err, uniqueViolation, "accounts_pkey") {
		return t.expected(credit.Errorf(credit.Conflict, "account_exists", "account %q already exists", a.ID))
	} else if err != nil {
		return t.fail("insert account", err)
	}
	t.locked[a.ID] = true
	return t.InsertGrant(overdraftGrant)
}

// Account returns an account (locking it, in Update). NotFound
// unknown_account.
func (t *tx) Account(id string) (credit.Account, error) {
	query := `SELECT ` + accountColumns + ` FROM accounts WHERE id = $1`
	lock := !t.readOnly && !t.locked[id]
	if lock {
		query += ` FOR NO KEY UPDATE`
	}
	a, err := scanAccount(t.queryRow(query, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return credit.Account{}, unknownAccount(id)
	} else if err != nil {
		return credit.Account{}, t.fail("read account", err)
	}
	if lock {
		t.locked[id] = true
	}
	return a, nil
}

// Reserve moves amount from Available to Held in one statement, only if the
// account stays within its overdraft. PostgreSQL checks the WHERE on the
// newest version of the row, which the UPDATE then locks until commit: no
// interleaving can overdraw. It returns the updated account, or
// InsufficientCredits (with the account as it is).
func (t *tx) Reserve(account string, amount credit.Credits) (credit.Account, error) {
	if amount < 0 {
		return credit.Account{}, credit.Errorf(credit.Invalid, "invalid_amount", "cannot reserve a negative amount (%s credits)", amount)
	}
	a, err := scanAccount(t.queryRow(`UPDATE accounts SET available = available - $1, held = held + $1
		WHERE id = $2 AND available - $1 >= -overdraft
		RETURNING `+accountColumns, amount, account))
	if err == nil {
		t.locked[account] = true
		return a, nil
	} else if !errors.Is(err, pgx.ErrNoRows) {
		return credit.Account{}, t.fail("reserve", err)
	}
	// Refused: say why, with the account as it is.
	if a, err = t.Account(account); err != nil {
		return credit.Account{}, err
	}
	return a, &credit.Error{
		Code:      credit.InsufficientCredits,
		Reason:    "insufficient_credits",
		Message:   "account " + account + " has " + a.Available.String() + " credits available; " + amount.String() + " are needed",
		Available: a.Available,
		Required:  amount,
	}
}

// AddBalances adds to an account's balances without a check (returns,
// grants, expiry) and returns the updated account. NotFound unknown_account.
func (t *tx) AddBalances(account string, dAvailable, dHeld credit.Credits) (credit.Account, error) {
	a, err := scanAccount(t.queryRow(`UPDATE accounts SET available = available + $1, held = held + $2
		WHERE id = $3 RETURNING `+accountColumns, dAvailable, dHeld, account))
	if errors.Is(err, pgx.ErrNoRows) {
		return credit.Account{}, unknownAccount(account)
	} else if err != nil {
		return credit.Account{}, t.fail("add balances", err)
	}
	t.locked[account] = true
	return a, nil
}
