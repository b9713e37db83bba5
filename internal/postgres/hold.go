package postgres

import (
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

const holdColumns = `id, account, generation, amount, captured, released, status, expires_at, created_at, resolved_at,
	member, member_period`

func unknownHold(id string) *credit.Error {
	return credit.Errorf(credit.NotFound, "unknown_hold", "unknown hold %q", id)
}

// Hold returns a hold with its allocations. NotFound unknown_hold.
func (t *tx) Hold(id string) (credit.Hold, error) {
	holds, err := t.holds("read hold", `id = $1`, `id`, ``, id)
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
	return t.holds("read open holds", `account = $1 AND status = 'open'`, `created_at, id`, ``, account)
}

// DueHolds returns up to limit open holds whose TTL is ≤ now, earliest first;
// with account "", across all accounts. A limit ≤ 0 means no limit.
func (t *tx) DueHolds(account string, now time.Time, limit int) ([]credit.Hold, error) {
	if account == "" {
		return t.holds("read due holds", `status = 'open' AND expires_at <= $1`, `expires_at, id`, `LIMIT $2`,
			now.UTC(), sqlLimit(limit))
	}
	return t.holds("read due holds", `account = $3 AND status = 'open' AND expires_at <= $1`, `expires_at, id`, `LIMIT $2`,
		now.UTC(), sqlLimit(limit), account)
}

// holds returns the holds that where selects, in order, at most limit (a
// LIMIT clause or ""), with their allocations, in one query.
func (t *tx) holds(op, where, order, limit string, args ...any) ([]credit.Hold, error) {
	var out []credit.Hold
	err := t.eachHold(op, where, order, limit, func(h *credit.Hold) error {
		out = append(out, *h)
		return nil
	}, args...)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// eachHold calls fn with each hold a where, order and limit select, with its
// allocations, in that order.
func (t *tx) eachHold(op, where, order, limit string, fn func(*credit.Hold) error, args ...any) error {
	return t.each(op, func(s scanner) error {
		h, err := scanHold(s)
		if err != nil {
			return err
		}
		return fn(&h)
	}, holdQuery(``, where, order, limit), args...)
}

// holdQuery selects the holds that where selects (after the WITH clause
// with, if not ""), in order, at most limit, each with its allocations as
// arrays aggregated per hold, in seq order: one row per hold, for scanHold.
func holdQuery(with, where, order, limit string) string {
	return holdJoinQuery(with, ``, ``, where, order, limit)
}

// holdJoinQuery is holdQuery with the columns cols (", p.x, …") of the
// join (a JOIN clause on h, the hold) after the allocations: one row per
// hold still, for scanHold with as many more destinations.
func holdJoinQuery(with, cols, join, where, order, limit string) string {
	return with + `
		SELECT h.id, h.account, h.generation, h.amount, h.captured, h.released, h.status, h.expires_at, h.created_at, h.resolved_at,
			h.member, h.member_period,
			coalesce(a.grants, '{}'), coalesce(a.amounts, '{}'), coalesce(a.captured, '{}'), coalesce(a.refunded, '{}')` + cols + `
		FROM (SELECT ` + holdColumns + ` FROM holds WHERE ` + where + ` ORDER BY ` + order + ` ` + limit + `) AS h
		LEFT JOIN LATERAL (
			SELECT array_agg(grant_id ORDER BY seq) AS grants, array_agg(amount ORDER BY seq) AS amounts,
				array_agg(captured ORDER BY seq) AS captured, array_agg(refunded ORDER BY seq) AS refunded
			FROM hold_allocations WHERE hold_id = h.id
		) AS a ON true` + join + `
		ORDER BY ` + order
}

// scanHold scans a row of holdQuery, or of holdJoinQuery into its more
// destinations.
func scanHold(s scanner, more ...any) (credit.Hold, error) {
	var h credit.Hold
	var grants []string
	var amounts, captured, refunded []int64
	dest := append([]any{&h.ID, &h.Account, textColumn{&h.Generation}, &h.Amount, &h.Captured, &h.Released, &h.Status,
		timeColumn{&h.ExpiresAt}, timeColumn{&h.CreatedAt}, timeColumn{&h.ResolvedAt},
		&h.Member, timeColumn{&h.MemberPeriod},
		&grants, &amounts, &captured, &refunded}, more...)
	if err := s.Scan(dest...); err != nil {
		return credit.Hold{}, err
	}
	for i := range grants {
		h.Allocations = append(h.Allocations, credit.Allocation{Grant: grants[i],
			Amount: credit.Credits(amounts[i]), Captured: credit.Credits(captured[i]), Refunded: credit.Credits(refunded[i])})
	}
	return h, nil
}
