package postgres

import (
	"time"
)

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
