package postgres

import (
	"errors"
	"unicode/utf8"

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

// Accounts returns up to limit accounts with ID > after whose ID starts
// with prefix, by ID in byte order (see credit.Tx), whatever the
// database's collation. The prefix is a range of the primary key,
// [prefix, prefixEnd(prefix)), rather than LIKE, which would read '%' and
// '_' in a prefix as wildcards. Text in PostgreSQL is valid UTF-8, whose
// byte order is the order of its code points: a prefix or cursor that is
// not UTF-8 is Invalid invalid_text (the ledger asks for none).
func (t *tx) Accounts(prefix, after string, limit int) ([]credit.Account, error) {
	if !utf8.ValidString(prefix) || !utf8.ValidString(after) {
		return nil, credit.Errorf(credit.Invalid, "invalid_text", "an account id prefix or cursor must be UTF-8 text")
	}
	end, bounded := prefixEnd(prefix)
	args := []any{prefix, after, sqlLimit(limit)}
	if bounded {
		args = append(args, end)
	}
	var out []credit.Account
	err := t.each("list accounts", func(s scanner) error {
		a, err := scanAccount(s)
		out = append(out, a)
		return err
	}, accountsQuery(bounded), args...)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// accountsQuery is the statement of Tx.Accounts: $1 the prefix, $2 the
// cursor, $3 the limit, and, if bounded, $4 the end of the prefix's range.
// Every comparison and the order are COLLATE "C" (bytewise), the
// collation of accounts.id and so of its primary key, which the range
// scan reads from the larger of $1 and $2 to $4.
func accountsQuery(bounded bool) string {
	end := ``
	if bounded {
		end = ` AND id COLLATE "C" < $4`
	}
	return `SELECT ` + accountColumns + ` FROM accounts
		WHERE id COLLATE "C" >= $1 AND id COLLATE "C" > $2` + end + `
		ORDER BY id COLLATE "C" LIMIT $3`
}

// prefixEnd returns the least text greater than every text that starts
// with prefix, in byte order, and false if there is none (prefix "", or
// only U+10FFFF). It increments the last code point rather than the last
// byte: a byte incremented may not be UTF-8, which PostgreSQL's text
// cannot hold, and UTF-8 orders as its code points do. prefix is UTF-8.
func prefixEnd(prefix string) (string, bool) {
	for p := prefix; p != ""; {
		r, size := utf8.DecodeLastRuneInString(p)
		p = p[:len(p)-size]
		switch {
		case r == utf8.MaxRune:
			continue // nothing follows it: the range ends after the rune before
		case r == 0xD7FF:
			r = 0xE000 // the surrogates between are no text
		default:
			r++
		}
		return p + string(r), true
	}
	return "", false
}
