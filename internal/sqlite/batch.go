package sqlite

import (
	"context"

	"github.com/tally-credits/tally/internal/credit"
)

// Statements is how many statements the ledger's write transactions have run
// on the current opening of the file (a reopen after a fault starts again at
// 0), not counting BEGIN, COMMIT and a batch's savepoints: how chatty a write
// is, which the benchmarks report per write.
func (db *DB) Statements() int64 { return db.cur.Load().wstmts.ran.Load() }

// Writers is 1: SQLite has one writer at a time, so batches run one after
// the other and a batch is as large as the queue that formed behind the last.
func (db *DB) Writers() int { return 1 }

// MaxBatch is credit.DefaultMaxBatch: every commit costs an fsync of the WAL,
// which a batch shares.
func (db *DB) MaxBatch() int { return credit.DefaultMaxBatch }

// UpdateBatch runs ops in one write transaction, each in a savepoint (but
// for a batch of one, whose transaction is its own), and commits once (see
// credit.Store): one fsync of the WAL for the whole batch.
//
// An op's statements run without its context's cancellation: SQLite answers
// an interrupted write inside a transaction by rolling back the transaction,
// which would take the batch's other ops with it. An op whose context is done
// before it starts is skipped instead.
//
// A Tx method that failed with Unavailable (a full disk, an I/O error, a
// read-only file) fails the batch: after those SQLite may have rolled back the
// whole transaction on its own. Any other failure rolls back to the op's
// savepoint; a savepoint that cannot be rolled back to fails the batch too.
func (db *DB) UpdateBatch(ctx context.Context, ops []*credit.Op) error {
	bctx := context.WithoutCancel(ctx)
	p := db.acquire(true)
	defer p.release()
	defer p.wstmts.prepare(ctx) // after the transaction has given its connection back
	stx, err := p.writer.BeginTx(bctx, nil)
	if err != nil {
		return credit.FailBatch(ops, p.writeError(ctx, "begin", err))
	}
	committed := false
	defer func() {
		if !committed {
			_ = stx.Rollback()
		}
	}()
	// A batch of one needs no savepoint: the transaction is the op's own, and
	// an op that fails rolls all of it back. Two statements fewer for every
	// write under light load, when batches are one write each.
	alone := len(ops) == 1
	for _, op := range ops {
		if err := op.Ctx.Err(); err != nil {
			op.Err = storeError(op.Ctx, "begin", err)
			continue
		}
		if !alone {
			if _, err := stx.ExecContext(bctx, `SAVEPOINT op`); err != nil {
				return credit.FailBatch(ops, p.writeError(ctx, "savepoint", err))
			}
		}
		t := &tx{ctx: context.WithoutCancel(op.Ctx), stx: stx, p: p, stmts: p.wstmts}
		credit.RunOp(op, t)
		if op.Err == nil && op.Panic == nil && t.broken != nil {
			op.Err = t.broken
		}
		if op.Err != nil || op.Panic != nil {
			if t.broken != nil && credit.ErrorCode(t.broken) == credit.Unavailable {
				return credit.FailBatch(ops, t.broken)
			}
			if alone {
				return nil // the deferred rollback undoes the op; it failed alone
			}
			if _, err := stx.ExecContext(bctx, `ROLLBACK TO op`); err != nil {
				return credit.FailBatch(ops, p.writeError(ctx, "rollback to savepoint", err))
			}
		}
		if alone {
			break
		}
		if _, err := stx.ExecContext(bctx, `RELEASE op`); err != nil {
			return credit.FailBatch(ops, p.writeError(ctx, "release savepoint", err))
		}
	}
	if err := stx.Commit(); err != nil {
		return credit.FailBatch(ops, p.writeError(ctx, "commit", err))
	}
	committed = true
	return nil
}
