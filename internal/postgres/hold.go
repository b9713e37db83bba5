package postgres

import (
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

const holdColumns = `id, account, generation, amount, captured, released, status, expires_at, created_at, resolved_at`

func unknownHold(id string) *credit.Error {
	return credit.Errorf(credit.NotFound, "unknown_hold", "unknown hold %q", id)
}

// InsertHold stores a new hold with its allocations, in their order.
// Conflict id_exists if the id is taken; NotFound unknown_account or
// unknown_grant if the hold or an allocation names one that does not exist.
func (t *tx) InsertHold(h credit.Hold) error {
	if ok, err := t.lock(h.Account); err != nil {
		return err
	} else if !ok {
		return unknownAccount(h.Account)
	}
	_, err := t.exec(`INSERT INTO holds (`+holdColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		h.ID, h.Account, nullable(h.Generation), h.Amount, h.Captured, h.Released, h.Status,
		tstz(h.ExpiresAt), tstz(h.CreatedAt), tstz(h.ResolvedAt))
	switch {
	case violates(err, uniqueViolation, "holds_pkey"):
		return t.expected(idExists("hold", h.ID))
	case violates(err, foreignKeyViolation, "holds_account_fkey"):
		return t.expected(unknownAccount(h.Account))
	case err != nil:
		return t.fail("insert hold", err)
	}
	t.owner[h.ID] = h.Account
	return t.putAllocations(h, "insert hold allocation")
}

// putAllocations writes a hold's allocations (seq = their index) in one
// statement and removes any past the last.
func (t *tx) putAllocations(h credit.Hold, op string) error {
	if len(h.Allocations) > 0 {
		grants := make([]string, len(h.Allocations))
		amounts := make([]int64, len(h.Allocations))
		captured := make([]int64, len(h.Allocations))
		refunded := make([]int64, len(h.Allocations))
		for i, a := range h.Allocations {
			grants[i], amounts[i], captured[i], refunded[i] = a.Grant, int64(a.Amount), int64(a.Captured), int64(a.Refunded)
		}
		_, err := t.exec(`INSERT INTO hold_allocations (hold_id, seq, grant_id, amount, captured, refunded)
			SELECT $1, a.n - 1, a.grant_id, a.amount, a.captured, a.refunded
			FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::bigint[])
				WITH ORDINALITY AS a (grant_id, amount, captured, refunded, n)
			ON CONFLICT (hold_id, seq) DO UPDATE SET grant_id = excluded.grant_id, amount = excluded.amount,
				captured = excluded.captured, refunded = excluded.refunded`,
			h.ID, grants, amounts, captured, refunded)
		if violates(err, foreignKeyViolation, "hold_allocations_grant_id_fkey") {
			return t.expected(credit.Errorf(credit.NotFound, "unknown_grant", "hold %s: an allocation names an unknown grant", h.ID))
		} else if err != nil {
			return t.fail(op, err)
		}
	}
	if _, err := t.exec(`DELETE FROM hold_allocations WHERE hold_id = $1 AND seq >= $2`, h.ID, len(h.Allocations)); err != nil {
		return t.fail(op, err)
	}
	return nil
}

// Hold returns a hold with its allocations. In Update it locks the hold's
// account first. NotFound unknown_hold.
func (t *tx) Hold(id string) (credit.Hold, error) {
	for {
		holds, err := t.holds("read hold", `id = $1`, `id`, ``, id)
		if err != nil {
			return credit.Hold{}, err
		}
		if len(holds) == 0 {
			return credit.Hold{}, unknownHold(id)
		}
		h := holds[0]
		if t.seen(h.ID, h.Account) {
			return h, nil
		}
		if ok, err := t.lock(h.Account); err != nil {
			return credit.Hold{}, err
		} else if !ok {
			return credit.Hold{}, unknownAccount(h.Account)
		}
	}
}

// UpdateHold stores a hold's status, amounts, resolution time and
// allocations (which keep their order). NotFound unknown_hold.
func (t *tx) UpdateHold(h credit.Hold) error {
	if ok, err := t.lockOwner("holds", h.ID); err != nil {
		return err
	} else if !ok {
		return unknownHold(h.ID)
	}
	tag, err := t.exec(`UPDATE holds SET status = $1, amount = $2, captured = $3, released = $4, resolved_at = $5 WHERE id = $6`,
		h.Status, h.Amount, h.Captured, h.Released, tstz(h.ResolvedAt), h.ID)
	if err := t.affected("update hold", tag, err, unknownHold(h.ID)); err != nil {
		return err
	}
	return t.putAllocations(h, "update hold allocation")
}

// OpenHolds returns an account's open holds, oldest first.
func (t *tx) OpenHolds(account string) ([]credit.Hold, error) {
	if _, err := t.lock(account); err != nil {
		return nil, err
	}
	return t.holds("read open holds", `account = $1 AND status = 'open'`, `created_at, id`, ``, account)
}

// DueHolds returns up to limit open holds whose TTL is ≤ now, earliest first;
// with account "", across all accounts (without locking any). A limit ≤ 0
// means no limit.
func (t *tx) DueHolds(account string, now time.Time, limit int) ([]credit.Hold, error) {
	if account == "" {
		return t.holds("read due holds", `status = 'open' AND expires_at <= $1`, `expires_at, id`, `LIMIT $2`,
			now.UTC(), sqlLimit(limit))
	}
	if _, err := t.lock(account); err != nil {
		return nil, err
	}
	return t.holds("read due holds", `account = $3 AND status = 'open' AND expires_at <= $1`, `expires_at, id`, `LIMIT $2`,
		now.UTC(), sqlLimit(limit), account)
}

// holds returns the holds that where selects, in order, at most limit (a
// LIMIT clause or ""), with their allocations, in one query: the allocations
// come as arrays aggregated per hold.
func (t *tx) holds(op, where, order, limit string, args ...any) ([]credit.Hold, error) {
	var out []credit.Hold
	err := t.eachHold(op, where, order, limit, func(h *credit.Hold) error {
		// The write path locks by owner (see tx.owner).
		t.owner[h.ID] = h.Account
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
		var h credit.Hold
		var grants []string
		var amounts, captured, refunded []int64
		if err := s.Scan(&h.ID, &h.Account, textColumn{&h.Generation}, &h.Amount, &h.Captured, &h.Released, &h.Status,
			timeColumn{&h.ExpiresAt}, timeColumn{&h.CreatedAt}, timeColumn{&h.ResolvedAt},
			&grants, &amounts, &captured, &refunded); err != nil {
			return err
		}
		for i := range grants {
			h.Allocations = append(h.Allocations, credit.Allocation{Grant: grants[i],
				Amount: credit.Credits(amounts[i]), Captured: credit.Credits(captured[i]), Refunded: credit.Credits(refunded[i])})
		}
		return fn(&h)
	}, `SELECT h.id, h.account, h.generation, h.amount, h.captured, h.released, h.status, h.expires_at, h.created_at, h.resolved_at,
			coalesce(a.grants, '{}'), coalesce(a.amounts, '{}'), coalesce(a.captured, '{}'), coalesce(a.refunded, '{}')
		FROM (SELECT `+holdColumns+` FROM holds WHERE `+where+` ORDER BY `+order+` `+limit+`) AS h
		LEFT JOIN LATERAL (
			SELECT array_agg(grant_id ORDER BY seq) AS grants, array_agg(amount ORDER BY seq) AS amounts,
				array_agg(captured ORDER BY seq) AS captured, array_agg(refunded ORDER BY seq) AS refunded
			FROM hold_allocations WHERE hold_id = h.id
		) AS a ON true
		ORDER BY `+order, args...)
}
