package sqlite

import (
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

const holdColumns = `id, account, generation, amount, captured, released, status, expires_at, created_at, resolved_at,
	member, member_period`

func scanHold(s scanner) (credit.Hold, error) {
	var h credit.Hold
	err := s.Scan(&h.ID, &h.Account, textColumn{&h.Generation}, &h.Amount, &h.Captured, &h.Released, &h.Status,
		timeColumn{&h.ExpiresAt}, timeColumn{&h.CreatedAt}, timeColumn{&h.ResolvedAt}, &h.Member, timeColumn{&h.MemberPeriod})
	return h, err
}

func unknownHold(id string) *credit.Error {
	return credit.Errorf(credit.NotFound, "unknown_hold", "unknown hold %q", id)
}

// Hold returns a hold with its allocations. NotFound unknown_hold.
func (t *tx) Hold(id string) (credit.Hold, error) {
	holds, err := t.holds("read hold", `WHERE id = ?`, id)
	if err != nil {
		return credit.Hold{}, err
	}
	if len(holds) == 0 {
		return credit.Hold{}, unknownHold(id)
	}
	return holds[0], nil
}

// OpenHolds returns an account's open holds, oldest first.
func (t *tx) OpenHolds(account string) ([]credit.Hold, error) {
	return t.holds("read open holds", `WHERE account = ? AND status = 'open' ORDER BY created_at, id`, account)
}

// DueHolds returns up to limit open holds whose TTL is ≤ now, earliest first;
// with account "", across all accounts. A limit ≤ 0 means no limit.
func (t *tx) DueHolds(account string, now time.Time, limit int) ([]credit.Hold, error) {
	if account == "" {
		return t.holds("read due holds", `WHERE status = 'open' AND expires_at <= ? ORDER BY expires_at, id LIMIT ?`,
			micros(now), sqlLimit(limit))
	}
	return t.holds("read due holds", `WHERE account = ? AND status = 'open' AND expires_at <= ? ORDER BY expires_at, id LIMIT ?`,
		account, micros(now), sqlLimit(limit))
}

// holds returns the holds a clause selects (WHERE, ORDER BY, LIMIT, with
// args), with their allocations: two queries, however many holds. The
// allocations' query selects its holds with the same clause, which gives the
// same holds: both run in one transaction.
func (t *tx) holds(op, clause string, args ...any) ([]credit.Hold, error) {
	var out []credit.Hold
	index := map[string]int{}
	err := t.each(op, func(s scanner) error {
		h, err := scanHold(s)
		index[h.ID] = len(out)
		out = append(out, h)
		return err
	}, `SELECT `+holdColumns+` FROM holds `+clause, args...)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, nil
	}
	err = t.each(op, func(s scanner) error {
		var id string
		var a credit.Allocation
		if err := s.Scan(&id, &a.Grant, &a.Amount, &a.Captured, &a.Refunded); err != nil {
			return err
		}
		if i, ok := index[id]; ok {
			out[i].Allocations = append(out[i].Allocations, a)
		}
		return nil
	}, `SELECT hold_id, grant_id, amount, captured, refunded FROM hold_allocations
		WHERE hold_id IN (SELECT id FROM holds `+clause+`) ORDER BY hold_id, seq`, args...)
	if err != nil {
		return nil, err
	}
	return out, nil
}
