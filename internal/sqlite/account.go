package sqlite

import (
	"database/sql"
	"errors"

	"github.com/tally-credits/tally/internal/credit"
)

const accountColumns = `id, overdraft, available, held, created_at`

func scanAccount(s scanner) (credit.Account, error) {
	var a credit.Account
	err := s.Scan(&a.ID, &a.Overdraft, &a.Available, &a.Held, timeColumn{&a.CreatedAt})
	return a, err
}

// InsertAccount creates an account with zero balances, and its overdraft
// grant. Conflict account_exists if the id is taken.
func (t *tx) InsertAccount(a credit.Account, overdraftGrant credit.Grant) error {
	_, err := t.exec(`INSERT INTO accounts (id, overdraft, available, held, created_at) VALUES (?, ?, 0, 0, ?)`,
		a.ID, a.Overdraft, micros(a.CreatedAt))
	if isDuplicate(err) {
		return credit.Errorf(credit.Conflict, "account_exists", "account %q already exists", a.ID)
	} else if err != nil {
		return t.fail("insert account", err)
	}
	if err := t.InsertGrant(overdraftGrant); err != nil {
		return t.halfDone(err)
	}
	return nil
}

// Account returns an account. NotFound unknown_account.
func (t *tx) Account(id string) (credit.Account, error) {
	a, err := scanAccount(t.queryRow(`SELECT `+accountColumns+` FROM accounts WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return credit.Account{}, unknownAccount(id)
	} else if err != nil {
		return credit.Account{}, t.fail("read account", err)
	}
	return a, nil
}

// Reserve moves amount from Available to Held in one statement, only if the
// account stays within its overdraft. The check and the move are one UPDATE,
// and Updates run one at a time: no interleaving can overdraw. It returns the
// updated account, or InsufficientCredits (with the account as it is).
func (t *tx) Reserve(account string, amount credit.Credits) (credit.Account, error) {
	if amount < 0 {
		return credit.Account{}, credit.Errorf(credit.Invalid, "invalid_amount", "cannot reserve a negative amount (%s credits)", amount)
	}
	a, err := scanAccount(t.queryRow(`UPDATE accounts SET available = available - ?1, held = held + ?1
		WHERE id = ?2 AND available - ?1 >= -overdraft
		RETURNING `+accountColumns, amount, account))
	if err == nil {
		return a, nil
	} else if !errors.Is(err, sql.ErrNoRows) {
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
	a, err := scanAccount(t.queryRow(`UPDATE accounts SET available = available + ?, held = held + ?
		WHERE id = ? RETURNING `+accountColumns, dAvailable, dHeld, account))
	if errors.Is(err, sql.ErrNoRows) {
		return credit.Account{}, unknownAccount(account)
	} else if err != nil {
		return credit.Account{}, t.fail("add balances", err)
	}
	return a, nil
}

// TryLockAccount is always true: SQLite's one writer already holds every
// account for the whole transaction.
func (t *tx) TryLockAccount(string) (bool, error) { return true, nil }
