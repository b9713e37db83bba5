package sqlite

import (
	"time"
)

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
