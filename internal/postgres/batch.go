package postgres

import (
	"context"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tally-credits/tally/internal/credit"
)

// Writers is the pool's size: each write holds a connection while it runs,
// and waits for one like any other query when all are busy.
func (db *DB) Writers() int { return max(1, int(db.pool.Config().MaxConns)) }

// MaxBatch is 1: every write is a transaction of its own by default.
// PostgreSQL already shares one WAL flush among the transactions that commit
// together, so batching saves no fsync; and a batch keeps the row locks of
// all its writes' accounts until it commits, so batches on different
// connections or nodes wait on each other, and deadlock when they lock two
// accounts in opposite orders (measured: 31 deadlocks in 20 s and a fifth of
// the throughput at 64 accounts through two nodes; BENCHMARKS.md). Batching
// stays available (LedgerConfig.MaxBatch) and is tested.
func (db *DB) MaxBatch() int { return 1 }

// UpdateBatch runs ops in one READ COMMITTED transaction, each in a savepoint,
// and commits once (see credit.Store): the transaction takes the row locks of
// every account its ops touch (see the package comment), so one hot account's
// writes share one lock acquisition and one commit.
//
// A failed op is rolled back to its savepoint, which also gives back the row
// locks it took, so the transaction's record of its locks is put back too. A
// deadlock or a serialization failure in any op runs the whole batch again (up
// to MaxAttempts times, with jitter): two batches that lock the same accounts
// in different orders deadlock, and PostgreSQL picks one to go again. A lost
// connection or a timeout (Unavailable) fails the batch.
//
// An op's statements run without its context's cancellation: pgx answers a
// canceled query by closing the connection, which would take the batch with
// it. statement_timeout bounds them instead. An op whose context is done before
// it starts is skipped.
func (db *DB) UpdateBatch(ctx context.Context, ops []*credit.Op) error {
	for attempt := 1; ; attempt++ {
		err, retry := db.runBatch(ctx, ops)
		if !retry || attempt == MaxAttempts {
			if err != nil {
				return credit.FailBatch(ops, err)
			}
			return nil
		}
		base := time.Millisecond << (attempt - 1)
		time.Sleep(base + rand.N(base))
	}
}

func (db *DB) runBatch(ctx context.Context, ops []*credit.Op) (err error, retry bool) {
	bctx := context.WithoutCancel(ctx)
	ptx, err := db.pool.BeginTx(bctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted, AccessMode: pgx.ReadWrite})
	if err != nil {
		return storeError(ctx, "begin", err), false
	}
	committed := false
	defer func() {
		if !committed {
			_ = ptx.Rollback(bctx)
		}
	}()
	t := &tx{ptx: ptx, locked: map[string]bool{}, owner: map[string]string{}}
	for _, op := range ops {
		op.Err, op.Panic = nil, nil
		if err := op.Ctx.Err(); err != nil {
			op.Err = storeError(op.Ctx, "begin", err)
			continue
		}
		if _, err := ptx.Exec(bctx, `SAVEPOINT op`); err != nil {
			return storeError(ctx, "savepoint", err), retryable(err)
		}
		before := make([]string, 0, len(t.locked))
		for a := range t.locked {
			before = append(before, a)
		}
		t.ctx, t.broken, t.retry = context.WithoutCancel(op.Ctx), nil, false
		credit.RunOp(op, t)
		if t.retry {
			return t.broken, true
		}
		if op.Err == nil && op.Panic == nil && t.broken != nil {
			op.Err = t.broken
		}
		if op.Err != nil || op.Panic != nil {
			if t.broken != nil && credit.ErrorCode(t.broken) == credit.Unavailable {
				return t.broken, false
			}
			if _, err := ptx.Exec(bctx, `ROLLBACK TO SAVEPOINT op`); err != nil {
				return storeError(ctx, "rollback to savepoint", err), retryable(err)
			}
			// The op's row locks went with its savepoint.
			t.locked = make(map[string]bool, len(before))
			for _, a := range before {
				t.locked[a] = true
			}
		}
		if _, err := ptx.Exec(bctx, `RELEASE SAVEPOINT op`); err != nil {
			return storeError(ctx, "release savepoint", err), retryable(err)
		}
	}
	t.ctx, t.broken = bctx, nil
	if err := ptx.Commit(bctx); err != nil {
		return storeError(ctx, "commit", err), retryable(err)
	}
	committed = true
	return nil, false
}
