package postgres

import (
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tally-credits/tally/internal/credit"
)

const grantColumns = `id, account, source, granted, remaining, held, priority, expires_at, expired_at, created_at, memo, paid_back`

// consumptionOrder is the order grants are spent in. It matches the
// grants_consumption index term for term.
const consumptionOrder = `priority, (expires_at IS NULL), expires_at, created_at, id`

func scanGrant(s scanner) (credit.Grant, error) {
	var g credit.Grant
	err := s.Scan(&g.ID, &g.Account, &g.Source, &g.Granted, &g.Remaining, &g.Held, &g.Priority,
		timeColumn{&g.ExpiresAt}, timeColumn{&g.ExpiredAt}, timeColumn{&g.CreatedAt}, &g.Memo, &g.PaidBack)
	return g, err
}

func unknownGrant(id string) *credit.Error {
	return credit.Errorf(credit.NotFound, "unknown_grant", "unknown grant %q", id)
}

// InsertGrant stores a new grant as given. Conflict id_exists if the id is
// taken; NotFound unknown_account if its account does not exist.
func (t *tx) InsertGrant(g credit.Grant) error {
	if ok, err := t.lock(g.Account); err != nil {
		return err
	} else if !ok {
		return unknownAccount(g.Account)
	}
	_, err := t.exec(`INSERT INTO grants (`+grantColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		g.ID, g.Account, g.Source, g.Granted, g.Remaining, g.Held, g.Priority,
		tstz(g.ExpiresAt), tstz(g.ExpiredAt), tstz(g.CreatedAt), g.Memo, g.PaidBack)
	switch {
	case violates(err, uniqueViolation, "grants_pkey"):
		return t.expected(idExists("grant", g.ID))
	case violates(err, foreignKeyViolation, "grants_account_fkey"):
		return t.expected(unknownAccount(g.Account))
	case err != nil:
		return t.fail("insert grant", err)
	}
	t.owner[g.ID] = g.Account
	return nil
}

// Grant returns a grant. In Update it locks the grant's account first.
// NotFound unknown_grant.
func (t *tx) Grant(id string) (credit.Grant, error) {
	for {
		g, err := scanGrant(t.queryRow(`SELECT `+grantColumns+` FROM grants WHERE id = $1`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return credit.Grant{}, unknownGrant(id)
		} else if err != nil {
			return credit.Grant{}, t.fail("read grant", err)
		}
		if t.seen(g.ID, g.Account) {
			return g, nil
		}
		if ok, err := t.lock(g.Account); err != nil {
			return credit.Grant{}, err
		} else if !ok {
			return credit.Grant{}, unknownAccount(g.Account)
		}
	}
}

// Grants returns all grants of an account, expired ones and the overdraft
// grant included, in consumption order: priority, then expiry (never-expiring
// last), then creation, then id. An unknown account has none.
func (t *tx) Grants(account string) ([]credit.Grant, error) {
	if _, err := t.lock(account); err != nil {
		return nil, err
	}
	return t.grants("read grants", `SELECT `+grantColumns+` FROM grants WHERE account = $1 ORDER BY `+consumptionOrder, account)
}

func (t *tx) grants(op, query string, args ...any) ([]credit.Grant, error) {
	var out []credit.Grant
	err := t.each(op, func(s scanner) error {
		g, err := scanGrant(s)
		out = append(out, g)
		t.owner[g.ID] = g.Account
		return err
	}, query, args...)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// UpdateGrant adds to a grant's Remaining and Held. NotFound unknown_grant.
func (t *tx) UpdateGrant(id string, dRemaining, dHeld credit.Credits) error {
	if ok, err := t.lockOwner("grants", id); err != nil {
		return err
	} else if !ok {
		return unknownGrant(id)
	}
	tag, err := t.exec(`UPDATE grants SET remaining = remaining + $1, held = held + $2 WHERE id = $3`, dRemaining, dHeld, id)
	return t.affected("update grant", tag, err, unknownGrant(id))
}

// AddPaidBack adds to the part of a grant that paid back an overdraft.
// NotFound unknown_grant.
func (t *tx) AddPaidBack(id string, d credit.Credits) error {
	if ok, err := t.lockOwner("grants", id); err != nil {
		return err
	} else if !ok {
		return unknownGrant(id)
	}
	tag, err := t.exec(`UPDATE grants SET paid_back = paid_back + $1 WHERE id = $2`, d, id)
	return t.affected("update grant paid back", tag, err, unknownGrant(id))
}

// ExpireGrant marks a grant expired at `at` and zeroes its Remaining.
// NotFound unknown_grant.
func (t *tx) ExpireGrant(id string, at time.Time) error {
	if ok, err := t.lockOwner("grants", id); err != nil {
		return err
	} else if !ok {
		return unknownGrant(id)
	}
	tag, err := t.exec(`UPDATE grants SET expired_at = $1, remaining = 0 WHERE id = $2`, tstz(at), id)
	return t.affected("expire grant", tag, err, unknownGrant(id))
}

// DueGrants returns up to limit grants not yet marked expired whose expiry is
// ≤ now (spent ones too, so each gets its ExpiredAt), earliest expiry first;
// with account "", across all accounts (without locking any). A limit ≤ 0
// means no limit.
func (t *tx) DueGrants(account string, now time.Time, limit int) ([]credit.Grant, error) {
	const due = `expires_at IS NOT NULL AND expired_at IS NULL AND expires_at <= $1`
	if account == "" {
		return t.grants("read due grants", `SELECT `+grantColumns+` FROM grants
			WHERE `+due+` ORDER BY expires_at, id LIMIT $2`, now.UTC(), sqlLimit(limit))
	}
	if _, err := t.lock(account); err != nil {
		return nil, err
	}
	return t.grants("read due grants", `SELECT `+grantColumns+` FROM grants
		WHERE account = $3 AND `+due+` ORDER BY expires_at, id LIMIT $2`, now.UTC(), sqlLimit(limit), account)
}
