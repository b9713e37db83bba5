package postgres

import (
	"github.com/tally-credits/tally/internal/credit"
)

const topupColumns = `id, account, credits, status, grant_id, created_at, resolved_at`

// topupOrder is the order an account's top-ups are in a State and a
// Snapshot: by creation, then id.
const topupOrder = `created_at, id`

func scanTopup(s scanner) (credit.Topup, error) {
	var t credit.Topup
	err := s.Scan(&t.ID, &t.Account, &t.Credits, &t.Status, textColumn{&t.Grant}, timeColumn{&t.CreatedAt}, timeColumn{&t.ResolvedAt})
	return t, err
}

// Topup returns a top-up. NotFound unknown_topup.
func (t *tx) Topup(id string) (credit.Topup, error) {
	ts, err := t.topups("read top-up", `SELECT `+topupColumns+` FROM topups WHERE id = $1`, id)
	if err != nil {
		return credit.Topup{}, err
	}
	if len(ts) == 0 {
		return credit.Topup{}, credit.Errorf(credit.NotFound, "unknown_topup", "unknown top-up %q", id)
	}
	return ts[0], nil
}

// Topups returns an account's top-ups with ID < before ("": from the
// newest), newest first, at most limit (≤ 0: all), by the topups_account
// index: ids sort by creation.
func (t *tx) Topups(account, before string, limit int) ([]credit.Topup, error) {
	if before == "" {
		return t.topups("read top-ups", `SELECT `+topupColumns+` FROM topups
			WHERE account = $1 ORDER BY id DESC LIMIT $2`, account, sqlLimit(limit))
	}
	return t.topups("read top-ups", `SELECT `+topupColumns+` FROM topups
		WHERE account = $1 AND id < $3 ORDER BY id DESC LIMIT $2`, account, sqlLimit(limit), before)
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
