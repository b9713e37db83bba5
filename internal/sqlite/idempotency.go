package sqlite

import (
	"database/sql"
	"errors"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// Idempotency returns the record for (scope, key), or nil if there is none.
func (t *tx) Idempotency(scope, key string) (*credit.IdempotencyRecord, error) {
	r := credit.IdempotencyRecord{Idempotency: credit.Idempotency{Scope: scope, Key: key}}
	err := t.queryRow(`SELECT hash, response, created_at FROM idempotency WHERE scope = ? AND key = ?`, scope, key).
		Scan(&r.Hash, &r.Response, timeColumn{&r.CreatedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, t.fail("read idempotency record", err)
	}
	return &r, nil
}

// PutIdempotency stores a record. Conflict idempotency_conflict if one exists
// for its scope and key.
func (t *tx) PutIdempotency(r credit.IdempotencyRecord) error {
	_, err := t.exec(`INSERT INTO idempotency (scope, key, hash, response, created_at) VALUES (?, ?, ?, ?, ?)`,
		r.Scope, r.Key, r.Hash, blob(r.Response), micros(r.CreatedAt))
	if isDuplicate(err) {
		return credit.Errorf(credit.Conflict, "idempotency_conflict", "Idempotency-Key %q was already used", r.Key)
	} else if err != nil {
		return t.fail("write idempotency record", err)
	}
	return nil
}

// PruneIdempotency deletes at most limit records created before before (see
// credit.Tx), by the created_at index.
func (t *tx) PruneIdempotency(before time.Time, limit int) (int, error) {
	res, err := t.exec(`DELETE FROM idempotency WHERE rowid IN
		(SELECT rowid FROM idempotency WHERE created_at < ? LIMIT ?)`, micros(before), limit)
	if err != nil {
		return 0, t.fail("prune idempotency records", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, t.halfDone(t.fail("prune idempotency records", err))
	}
	return int(n), nil
}
