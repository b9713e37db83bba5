package postgres

import (
	"github.com/jackc/pgx/v5"

	"github.com/tally-credits/tally/internal/credit"
)

// The load of a batch (see Write): the account's row lock, then its State
// (see credit.State for what it holds), in a few statements of fixed text,
// which pgx prepares once per connection and then only binds. Every
// statement reads the account's own rows only, each by an index that starts
// with the account or the row's id: a load costs what the account's working
// set holds, not what its history or the ledger holds (TestLoadUsesIndexes).

// lockAccount takes the account's row lock until the transaction ends and
// reads the account as the last holder of the lock left it; tryLockAccount
// does not wait for it (Refs.TryLock). No row: no account, or (try) the lock
// is taken.
const (
	lockAccount    = `SELECT ` + accountColumns + ` FROM accounts WHERE id = $1 FOR NO KEY UPDATE`
	tryLockAccount = `SELECT ` + accountColumns + ` FROM accounts WHERE id = $1 FOR NO KEY UPDATE SKIP LOCKED`
)

// loadHolds is the WITH clause of the holds a batch loads, with their
// parameters: $1 the account, $2 Refs.Now, $3 Refs.Holds, $4
// Refs.Generations. The holds, grants and generations statements each
// start with it, so that each can be one statement of its own.
//
//   - The account's open holds (the partial index holds_open) due at $2 or
//     with an allocation on the overdraft grant: a hold's allocations are
//     read by the primary key of hold_allocations, which starts with the
//     hold (ARRAY: a subquery the planner runs per hold, never by the grant's
//     index, which holds every allocation the overdraft grant ever had).
//   - The holds named, by id, if they are the account's.
//   - The holds of the generations named, by id, if they are the account's.
const loadHolds = `WITH load_holds AS (
		SELECT o.id FROM holds AS o
		WHERE o.account = $1::text AND o.status = 'open' AND (o.expires_at <= $2::timestamptz
			OR 'ovd_' || $1::text = ANY (ARRAY(SELECT a.grant_id FROM hold_allocations AS a WHERE a.hold_id = o.id AND a.amount > 0)))
		UNION
		SELECT n.id FROM holds AS n WHERE n.id = ANY($3::text[]) AND n.account = $1::text
		UNION
		SELECT g.hold_id FROM generations AS g WHERE g.id = ANY($4::text[]) AND g.account = $1::text
	)`

// loadHoldsQuery reads the holds of loadHolds with their allocations,
// oldest first.
var loadHoldsQuery = holdQuery(loadHolds, `id IN (SELECT id FROM load_holds) AND account = $1::text`, `created_at, id`, ``)

// loadGrantsQuery reads the account's working set of grants in consumption
// order: the grants not yet expired with something left or held or an
// expiry still to reach, those that paid back an overdraft, the overdraft
// grant (which every write that pays it back or draws on it needs, at zero
// too), and the grants the loaded holds' allocations name. It finds the
// account's grants by the grants_consumption index and filters out the
// spent, never-expiring ones, which it still reads: an index of the working
// set alone would spare that, but its predicate (remaining, held) would
// make every update of a grant a non-HOT one.
const loadGrantsQuery = loadHolds + `
	SELECT ` + grantColumns + ` FROM grants
	WHERE account = $1::text AND (
		(expired_at IS NULL AND (remaining <> 0 OR held <> 0 OR expires_at IS NOT NULL))
		OR paid_back <> 0
		OR source = 'overdraft'
		OR id IN (SELECT a.grant_id FROM hold_allocations AS a WHERE a.hold_id IN (SELECT id FROM load_holds)))
	ORDER BY ` + consumptionOrder

// loadGenerationsQuery reads the generations named and those of the loaded
// holds, by id, the account's only.
const loadGenerationsQuery = loadHolds + `
	SELECT ` + generationColumns + ` FROM generations
	WHERE account = $1::text AND id IN (
		SELECT unnest($4::text[])
		UNION
		SELECT h.generation FROM holds AS h WHERE h.id IN (SELECT id FROM load_holds) AND h.generation IS NOT NULL)
	ORDER BY created_at, id`

// loadIdempotencyQuery reads the idempotency records of the (scope, key)
// pairs $1, $2 that exist.
const loadIdempotencyQuery = `SELECT scope, key, hash, response, created_at FROM idempotency
	WHERE (scope, key) IN (SELECT * FROM unnest($1::text[], $2::text[]))`

// load is what the first round trip of a batch loads.
type load struct {
	state  credit.State
	locked bool // the lock statement returned the account's row
}

// queueLoad queues on r the lock and the reads of b's State, which fill ld
// as r's results are read.
func queueLoad(r *round, b *credit.Batch, ld *load) {
	lock := lockAccount
	if b.Refs.TryLock {
		lock = tryLockAccount
	}
	r.query("lock account", lock, func(rows pgx.Rows) error {
		for rows.Next() {
			a, err := scanAccount(rows)
			if err != nil {
				return err
			}
			ld.state.Account, ld.locked = &a, true
		}
		return rows.Err()
	}, b.Account)
	args := []any{b.Account, b.Refs.Now.UTC(), textArray(b.Refs.Holds), textArray(b.Refs.Generations)}
	r.query("load grants", loadGrantsQuery, func(rows pgx.Rows) error {
		for rows.Next() {
			g, err := scanGrant(rows)
			if err != nil {
				return err
			}
			ld.state.Grants = append(ld.state.Grants, g)
		}
		return rows.Err()
	}, args...)
	r.query("load holds", loadHoldsQuery, func(rows pgx.Rows) error {
		for rows.Next() {
			h, err := scanHold(rows)
			if err != nil {
				return err
			}
			ld.state.Holds = append(ld.state.Holds, h)
		}
		return rows.Err()
	}, args...)
	r.query("load generations", loadGenerationsQuery, func(rows pgx.Rows) error {
		for rows.Next() {
			g, err := scanGeneration(rows)
			if err != nil {
				return err
			}
			ld.state.Generations = append(ld.state.Generations, g)
		}
		return rows.Err()
	}, args...)
	if len(b.Refs.Idempotency) == 0 {
		return
	}
	scopes, keys := make([]string, len(b.Refs.Idempotency)), make([]string, len(b.Refs.Idempotency))
	for i, k := range b.Refs.Idempotency {
		scopes[i], keys[i] = k.Scope, k.Key
	}
	r.query("load idempotency records", loadIdempotencyQuery, func(rows pgx.Rows) error {
		for rows.Next() {
			var rec credit.IdempotencyRecord
			if err := rows.Scan(&rec.Scope, &rec.Key, &rec.Hash, &rec.Response, timeColumn{&rec.CreatedAt}); err != nil {
				return err
			}
			ld.state.Idempotency = append(ld.state.Idempotency, rec)
		}
		return rows.Err()
	}, scopes, keys)
}

// textArray returns s as a text[] parameter: empty, not NULL, for none.
func textArray(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
