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

// UpdateBatch runs ops in one READ COMMITTED transaction, each in a savepoint
// (but for a batch of one, whose transaction is its own), and commits once (see credit.Store): the transaction takes the row locks of
// every account its ops touch (see the package comment), so one hot account's
// writes share one lock acquisition and one commit.
//
// A failed op is rolled back to its savepoint, which also gives back the row
// locks it took, so the transaction's record of its locks is put back too.
//
// Two batches that lock the same accounts in opposite orders deadlock, and
// PostgreSQL picks one to fail with 40P01. Running that batch whole again
// walks into the same cycle (under load every attempt did, and the writes
// failed), so the failed batch's ops run instead one transaction each, in
// order, each retried on a deadlock or a serialization failure (up to
// MaxAttempts times, with jitter): a transaction that locks one account
// closes no cycle, so they get through. Then each op succeeds or fails on
// its own, as if it had been its own Update, and UpdateBatch returns nil.
// A lost connection or a timeout (Unavailable) fails the batch.
//
// An op's statements run without its context's cancellation: pgx answers a
// canceled query by closing the connection, which would take the batch with
// it. statement_timeout bounds them instead. An op whose context is done before
// it starts is skipped.
func (db *DB) UpdateBatch(ctx context.Context, ops []*credit.Op) error {
	if len(ops) == 1 {
		return db.updateAlone(ctx, ops[0], 1)
	}
	err, retry := db.runBatch(ctx, ops)
	if !retry {
		if err != nil {
			return credit.FailBatch(ops, err)
		}
		return nil
	}
	for _, op := range ops {
		// The op's own Err says how it went; nothing else failed with it.
		_ = db.updateAlone(ctx, op, 2)
	}
	return nil
}

// updateAlone runs op in a transaction of its own, retrying a deadlock or a
// serialization failure; attempt is the number of the first try. It returns
// op's failure if the transaction failed, with op.Err set to it.
func (db *DB) updateAlone(ctx context.Context, op *credit.Op, attempt int) error {
	one := []*credit.Op{op}
	for ; ; attempt++ {
		err, retry := db.runBatch(ctx, one)
		if !retry || attempt >= MaxAttempts {
			if err != nil {
				return credit.FailBatch(one, err)
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
	// A batch of one (every write, by default) needs no savepoint: the
	// transaction is the op's own, and an op that fails rolls all of it
	// back. Two round trips fewer per write, one of them under the
	// account's row lock.
	alone := len(ops) == 1
	for _, op := range ops {
		op.Err, op.Panic = nil, nil
		if err := op.Ctx.Err(); err != nil {
			op.Err = storeError(op.Ctx, "begin", err)
			continue
		}
		if !alone {
			if _, err := ptx.Exec(bctx, `SAVEPOINT op`); err != nil {
				return storeError(ctx, "savepoint", err), retryable(err)
			}
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
			if alone {
				return nil, false // the deferred rollback undoes the op; it failed alone
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
		if alone {
			break
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
