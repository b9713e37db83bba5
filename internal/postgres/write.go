package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tally-credits/tally/internal/credit"
)

// Writers is the pool's size: each write holds a connection while it runs,
// and waits for one like any other query when all are busy.
func (db *DB) Writers() int { return max(1, int(db.pool.Config().MaxConns)) }

// MaxAccounts is 1: the ledger batches the writes of one account per
// transaction, and runs the transactions of different accounts side by side
// (Writers). PostgreSQL already shares one WAL flush among the transactions
// that commit together, so a transaction of several accounts would save no
// fsync; and it would hold the row locks of all its accounts until it
// commits, so transactions on other connections or nodes would wait on each
// other's locks, and deadlock when they lock two accounts in opposite orders
// (measured with the former batching across accounts: 31 deadlocks in 20 s
// and a fifth of the throughput at 64 accounts through two nodes;
// BENCHMARKS.md).
func (db *DB) MaxAccounts() int { return 1 }

// Write runs the batches in one READ COMMITTED transaction (see
// credit.Store.Write and the package comment): for each batch, in the order
// given (which is the order its accounts are locked in), one round trip
// locks its account and loads its State, Decide decides on it, and its
// Change goes into the next round trip, with the next batch's load or with
// the COMMIT. A batch of one account, which is all the ledger gives
// (MaxAccounts), takes two round trips: BEGIN, lock and load; apply and
// COMMIT. A failure takes one more, the ROLLBACK.
//
// A deadlock, a serialization failure, or a unique key taken by a
// transaction that committed after the load (the account created by another
// node, an Idempotency-Key used at once by a retry; see raced) runs the
// batch again from its load, Decide included (up to MaxAttempts times, with
// jitter); a lost connection is Unavailable. If Write returns an error, nothing of any batch
// committed — unless the connection was lost while the COMMIT was on its
// way, which no client of a server database can tell.
//
// Its statements run without ctx's cancellation: pgx answers a canceled
// query by closing the connection, and a write that has started runs to
// its end (statement_timeout bounds each statement). A ctx done before the
// start fails the Write.
func (db *DB) Write(ctx context.Context, batches []*credit.Batch) error {
	if len(batches) == 0 {
		return nil
	}
	return retrying(ctx, func() (error, bool) { return db.write(ctx, batches) })
}

// write runs the batches once and reports whether a failure may pass if run
// again.
func (db *DB) write(ctx context.Context, batches []*credit.Batch) (err error, retry bool) {
	for _, b := range batches {
		b.Skipped = false
	}
	if err := ctx.Err(); err != nil {
		return storeError(ctx, "begin", err), false
	}
	pc, err := db.pool.Acquire(ctx)
	if err != nil {
		return storeError(ctx, "begin", err), false
	}
	// A connection left in a transaction (a failed rollback, a panic in
	// Decide) is closed by Release, not reused.
	defer pc.Release()
	w := &writer{conn: pc.Conn(), ctx: context.WithoutCancel(ctx)}

	r := &round{}
	r.exec("begin", `BEGIN ISOLATION LEVEL READ COMMITTED`, nil)
	var applying *credit.Change // the Change whose statements r holds
	wrote := false
	for _, b := range batches {
		var ld load
		queueLoad(r, b, &ld)
		if err := w.send(r); err != nil {
			return w.fail(r.op, err, applying)
		}
		r, applying = &round{}, nil
		if b.Refs.TryLock && !ld.locked {
			b.Skipped = true
			continue
		}
		c, err := b.Decide(&ld.state)
		if err != nil {
			w.rollback()
			return err, false // the ledger's, as it is
		}
		if c == nil || c.Empty() {
			continue
		}
		if err := queueApply(r, c); err != nil {
			w.rollback()
			return err, false
		}
		applying, wrote = c, true
	}
	if !wrote {
		r.exec("rollback", `ROLLBACK`, nil) // nothing to commit
	} else {
		r.exec("commit", `COMMIT`, nil)
	}
	if err := w.send(r); err != nil {
		return w.fail(r.op, err, applying)
	}
	return nil, false
}

// writer is the connection of one Write.
type writer struct {
	conn *pgx.Conn
	ctx  context.Context // without cancellation
}

// send sends r's statements in one round trip and reads their results.
func (w *writer) send(r *round) error {
	return w.conn.SendBatch(w.ctx, &r.qb).Close()
}

// fail rolls back after err, which the statement op returned while c was
// being applied (nil if none was), translates it, and reports whether the
// batch may pass if run again: after a deadlock or a serialization failure,
// and after a race for a new key (see raced).
func (w *writer) fail(op string, err error, c *credit.Change) (error, bool) {
	w.rollback()
	return translate(w.ctx, op, err, c), retryable(err) || raced(err)
}

// raced reports whether err is the loss of a race for a key no row lock
// covers: an account created, or an Idempotency-Key used, by a transaction
// that committed after this one loaded (an INSERT that meets an uncommitted
// key waits for its transaction, and fails only if it commits). Run again,
// the batch loads what the winner committed and Decide answers from it: a
// request retried while its first attempt was still running (on another
// node, or for an account that did not exist yet) replays the first
// answer, and a second creation of an account is refused as the ledger
// refuses it. Only if the race is lost MaxAttempts times does translate's
// Conflict stand.
func raced(err error) bool {
	return violates(err, uniqueViolation, "accounts_pkey") || violates(err, uniqueViolation, "idempotency_pkey")
}

// rollback ends the transaction, if the connection is still in one. If that
// fails, Release closes the connection, which ends it too.
func (w *writer) rollback() {
	if w.conn.IsClosed() || w.conn.PgConn().TxStatus() == 'I' {
		return
	}
	_, _ = w.conn.Exec(w.ctx, `ROLLBACK`)
}

// translate turns a failure of a Write into the ledger's answer: a unique
// key taken by a transaction that committed meanwhile is a Conflict, by
// constraint; anything else is what storeError says.
func translate(ctx context.Context, op string, err error, c *credit.Change) *credit.Error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == uniqueViolation {
		switch pe.ConstraintName {
		case "accounts_pkey":
			id := ""
			if c != nil && c.NewAccount != nil {
				id = c.NewAccount.ID
			}
			return credit.Errorf(credit.Conflict, "account_exists", "account %q already exists", id)
		case "idempotency_pkey":
			if c != nil && len(c.Idempotency) == 1 {
				return credit.Errorf(credit.Conflict, "idempotency_conflict", "Idempotency-Key %q was already used", c.Idempotency[0].Key)
			}
			return credit.Errorf(credit.Conflict, "idempotency_conflict", "an Idempotency-Key of the request was already used")
		case "grants_pkey":
			return credit.Errorf(credit.Conflict, "id_exists", "a grant with a new grant's id already exists")
		case "holds_pkey":
			return credit.Errorf(credit.Conflict, "id_exists", "a hold with a new hold's id already exists")
		case "generations_pkey":
			return credit.Errorf(credit.Conflict, "id_exists", "a generation with a new generation's id already exists")
		}
	}
	return storeError(ctx, op, err)
}

// round is the statements of one round trip, as one pipelined pgx.Batch:
// pgx sends them at once, with one Sync, and the server runs them in order
// and skips the rest after one fails. Each statement is named (op) for the
// error it may fail with.
type round struct {
	qb pgx.Batch
	op string // the statement whose result was read last
}

// exec queues a statement; check, if not nil, checks its command tag.
func (r *round) exec(op, sql string, check func(pgconn.CommandTag) error, args ...any) {
	r.qb.Queue(sql, args...).Fn = func(br pgx.BatchResults) error {
		r.op = op
		ct, err := br.Exec()
		if err != nil || check == nil {
			return err
		}
		return check(ct)
	}
}

// query queues a statement whose rows fn reads.
func (r *round) query(op, sql string, fn func(pgx.Rows) error, args ...any) {
	r.qb.Queue(sql, args...).Fn = func(br pgx.BatchResults) error {
		r.op = op
		rows, _ := br.Query() // its error is rows.Err's
		defer rows.Close()
		if err := fn(rows); err != nil {
			return err
		}
		rows.Close()
		return rows.Err()
	}
}

// rowsChanged checks that an UPDATE changed n rows: the rows of a Change
// were loaded under the account's lock, so each is there.
func rowsChanged(n int) func(pgconn.CommandTag) error {
	return func(ct pgconn.CommandTag) error {
		if got := ct.RowsAffected(); got != int64(n) {
			return credit.Errorf(credit.Internal, "store_error", "postgres: %s: %d rows changed of %d loaded under the account's lock", ct.String(), got, n)
		}
		return nil
	}
}
