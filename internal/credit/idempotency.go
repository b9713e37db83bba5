package credit

import (
	"context"
	"time"
)

// DefaultIdempotencyRetention is how long `tally serve` keeps idempotency
// records unless told otherwise: far longer than any client retries a
// request (Stripe keeps keys for a day), and short enough that the table,
// which holds every mutating request's answer, stops growing.
const DefaultIdempotencyRetention = 30 * 24 * time.Hour

// pruneChunk is how many records one prune transaction deletes, so that a
// long backlog never holds the writer for long.
const pruneChunk = 1000

// PruneIdempotency deletes the idempotency records older than the ledger's
// IdempotencyRetention, a chunk per transaction, and returns how many it
// deleted; with no retention it deletes nothing. The background sweeper calls
// it now and then. A key sent again after its record is gone is a new
// request; one sent while its record remains is answered from it, so a
// record lives at least the retention.
func (l *Ledger) PruneIdempotency(ctx context.Context) (int, error) {
	if l.idemRetention <= 0 {
		return 0, nil
	}
	n := 0
	for {
		k, err := adminUpdate(ctx, l, func(tx Tx, now time.Time) (int, error) {
			return tx.PruneIdempotency(now.Add(-l.idemRetention), pruneChunk)
		})
		n += k
		if err != nil || k < pruneChunk {
			return n, err
		}
	}
}
