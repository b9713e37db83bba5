package sqlite

import (
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

const topupColumns = `id, account, credits, status, grant_id, created_at, resolved_at`

func scanTopup(s scanner) (credit.Topup, error) {
	var u credit.Topup
	err := s.Scan(&u.ID, &u.Account, &u.Credits, &u.Status, textColumn{&u.Grant}, timeColumn{&u.CreatedAt}, timeColumn{&u.ResolvedAt})
	return u, err
}

func (t *tx) topups(op, query string, args ...any) ([]credit.Topup, error) {
	var out []credit.Topup
	err := t.each(op, func(s scanner) error {
		u, err := scanTopup(s)
		out = append(out, u)
		return err
	}, query, args...)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Topup returns a top-up. NotFound unknown_topup.
func (t *tx) Topup(id string) (credit.Topup, error) {
	us, err := t.topups("read top-up", `SELECT `+topupColumns+` FROM topups WHERE id = ?`, id)
	if err != nil {
		return credit.Topup{}, err
	}
	if len(us) == 0 {
		return credit.Topup{}, credit.Errorf(credit.NotFound, "unknown_topup", "unknown top-up %q", id)
	}
	return us[0], nil
}

// Topups returns an account's top-ups with ID < before ("": from the
// newest), newest first (ids sort by creation), at most limit (≤ 0: no
// limit), by topups_account. An unknown account has none.
func (t *tx) Topups(account, before string, limit int) ([]credit.Topup, error) {
	if before == "" {
		return t.topups("read top-ups", `SELECT `+topupColumns+` FROM topups WHERE account = ? ORDER BY id DESC LIMIT ?`,
			account, sqlLimit(limit))
	}
	return t.topups("read top-ups", `SELECT `+topupColumns+` FROM topups WHERE account = ? AND id < ? ORDER BY id DESC LIMIT ?`,
		account, before, sqlLimit(limit))
}

// WarnGrants returns up to limit grants (≤ 0: no limit), across all
// accounts, that grant.expiring has not told of, not expired, with
// something left, expiring at or before `before`, and not free credits,
// earliest expiry first. It reads grants_warn (0009), whose condition it
// repeats word for word so that SQLite can use it.
func (t *tx) WarnGrants(before time.Time, limit int) ([]credit.Grant, error) {
	return t.grants("read grants to warn", warnGrantsQuery, before.UnixMicro(), sqlLimit(limit))
}

const warnGrantsQuery = `SELECT ` + grantColumns + ` FROM grants
	WHERE warned_at IS NULL AND expired_at IS NULL AND expires_at IS NOT NULL
		AND expires_at <= ? AND remaining > 0 AND source <> 'free'
	ORDER BY expires_at, id LIMIT ?`
