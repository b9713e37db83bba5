package postgres

import (
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

const grantColumns = `id, account, source, granted, remaining, held, priority, expires_at, expired_at, created_at, memo, paid_back,
	applies_to, subscription, period, warned_at`

// consumptionOrder is the order grants are spent in. It matches the
// grants_consumption index term for term.
const consumptionOrder = `priority, (expires_at IS NULL), expires_at, created_at, id`

func scanGrant(s scanner) (credit.Grant, error) {
	var g credit.Grant
	err := s.Scan(&g.ID, &g.Account, &g.Source, &g.Granted, &g.Remaining, &g.Held, &g.Priority,
		timeColumn{&g.ExpiresAt}, timeColumn{&g.ExpiredAt}, timeColumn{&g.CreatedAt}, &g.Memo, &g.PaidBack,
		jsonColumn[credit.Eligibility]{&g.AppliesTo}, &g.Subscription, &g.Period, timeColumn{&g.WarnedAt})
	return g, err
}

// Grant returns a grant. NotFound unknown_grant.
func (t *tx) Grant(id string) (credit.Grant, error) {
	gs, err := t.grants("read grant", `SELECT `+grantColumns+` FROM grants WHERE id = $1`, id)
	if err != nil {
		return credit.Grant{}, err
	}
	if len(gs) == 0 {
		return credit.Grant{}, credit.Errorf(credit.NotFound, "unknown_grant", "unknown grant %q", id)
	}
	return gs[0], nil
}

// Grants returns all grants of an account, expired ones and the overdraft
// grant included, in consumption order: priority, then expiry (never-expiring
// last), then creation, then id. An unknown account has none.
func (t *tx) Grants(account string) ([]credit.Grant, error) {
	return t.grants("read grants", `SELECT `+grantColumns+` FROM grants WHERE account = $1 ORDER BY `+consumptionOrder, account)
}

func (t *tx) grants(op, query string, args ...any) ([]credit.Grant, error) {
	var out []credit.Grant
	err := t.each(op, func(s scanner) error {
		g, err := scanGrant(s)
		out = append(out, g)
		return err
	}, query, args...)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// DueGrants returns up to limit grants not yet marked expired whose expiry is
// ≤ now (spent ones too, so each gets its ExpiredAt), earliest expiry first;
// with account "", across all accounts. A limit ≤ 0 means no limit.
func (t *tx) DueGrants(account string, now time.Time, limit int) ([]credit.Grant, error) {
	const due = `expires_at IS NOT NULL AND expired_at IS NULL AND expires_at <= $1`
	if account == "" {
		return t.grants("read due grants", `SELECT `+grantColumns+` FROM grants
			WHERE `+due+` ORDER BY expires_at, id LIMIT $2`, now.UTC(), sqlLimit(limit))
	}
	return t.grants("read due grants", `SELECT `+grantColumns+` FROM grants
		WHERE account = $3 AND `+due+` ORDER BY expires_at, id LIMIT $2`, now.UTC(), sqlLimit(limit), account)
}

// warnGrantsQuery is WarnGrants' statement: $1 before, $2 the limit. Its
// predicate is grants_warn's, word for word, so that the planner matches
// the partial index (the sweeper's work ahead, no more).
const warnGrantsQuery = `SELECT ` + grantColumns + ` FROM grants
	WHERE warned_at IS NULL AND expired_at IS NULL AND expires_at IS NOT NULL AND source <> 'free'
		AND expires_at <= $1 AND remaining > 0
	ORDER BY expires_at, id LIMIT $2`

// WarnGrants returns up to limit grants, across all accounts, that
// grant.expiring has not yet told of, not expired, with something left,
// expiring at or before `before`, and not a day's free credits, earliest
// expiry first. A limit ≤ 0 means no limit.
func (t *tx) WarnGrants(before time.Time, limit int) ([]credit.Grant, error) {
	return t.grants("read grants to warn of", warnGrantsQuery, before.UTC(), sqlLimit(limit))
}
