package postgres

import (
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tally-credits/tally/internal/credit"
)

// Idempotency returns the record for (scope, key), or nil if there is none.
// In Update it first takes a transaction-scoped advisory lock on the key:
// two requests with one key run one after the other, and the second (READ
// COMMITTED) reads the record the first committed, and replays it.
func (t *tx) Idempotency(scope, key string) (*credit.IdempotencyRecord, error) {
	if !t.readOnly {
		if _, err := t.exec(`SELECT pg_advisory_xact_lock(hashtext($1), hashtext($2))`, scope, key); err != nil {
			return nil, t.fail("lock idempotency key", err)
		}
	}
	r := credit.IdempotencyRecord{Idempotency: credit.Idempotency{Scope: scope, Key: key}}
	err := t.queryRow(`SELECT hash, response, created_at FROM idempotency WHERE scope = $1 AND key = $2`, scope, key).
		Scan(&r.Hash, &r.Response, timeColumn{&r.CreatedAt})
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, t.fail("read idempotency record", err)
	}
	return &r, nil
}

// PutIdempotency stores a record. Conflict idempotency_conflict if one exists
// for its scope and key.
func (t *tx) PutIdempotency(r credit.IdempotencyRecord) error {
	_, err := t.exec(`INSERT INTO idempotency (scope, key, hash, response, created_at) VALUES ($1, $2, $3, $4, $5)`,
		r.Scope, r.Key, r.Hash, blob(r.Response), tstz(r.CreatedAt))
	if violates(err, uniqueViolation, "idempotency_pkey") {
		return t.expected(credit.Errorf(credit.Conflict, "idempotency_conflict", "Idempotency-Key %q was already used", r.Key))
	} else if err != nil {
		return t.fail("write idempotency record", err)
	}
	return nil
}

// PruneIdempotency deletes at most limit records created before before (see
// credit.Tx), by the created_at index. Rows another node is deleting are
// skipped (SKIP LOCKED): the two sweepers share the work instead of queueing.
func (t *tx) PruneIdempotency(before time.Time, limit int) (int, error) {
	tag, err := t.exec(`DELETE FROM idempotency WHERE (scope, key) IN
		(SELECT scope, key FROM idempotency WHERE created_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)`, tstz(before), limit)
	if err != nil {
		return 0, t.fail("prune idempotency records", err)
	}
	return int(tag.RowsAffected()), nil
}
