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

// MaxAccounts is credit.DefaultMaxBatch: a transaction takes the queued
// writes of many accounts, and still two round trips (queueLocks locks them
// all in one statement, queueLoads reads them all in one statement per kind
// of row, queueApply writes them in one per kind). Measured on 64 accounts
// in turn, in process (BenchmarkGenerationCycle/accounts=64, BENCHMARKS.md):
// 1.93 ms a cycle with one account a transaction, 0.61 ms with many; over
// HTTP through two nodes, 64 accounts at random went from 0.086× pgbench
// (one account a transaction, before the other fixes too) to 0.224×. The
// accounts are locked in the order of their ids, by every transaction on
// every node, so transactions that share accounts wait for each other but
// never deadlock (the former batching locked them in the order of the
// writes, one statement each, and deadlocked 31 times in 20 s).
func (db *DB) MaxAccounts() int { return credit.DefaultMaxBatch }

// Write runs the batches in one READ COMMITTED transaction (see
// credit.Store.Write and the package comment) in two round trips, however
// many accounts they write: the first begins, locks every account in one
// statement, in the order of their ids (queueLocks), and loads every
// batch's State; Decide decides each; the second applies every Change and
// commits. A failure takes one more, the ROLLBACK. Transactions that lock
// accounts in one global order wait for each other but never deadlock.
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
	// Every statement of a write finds its rows by an index; the planner
	// must not guess otherwise from statistics that lag a table's growth (a
	// fresh ledger's first minutes, before autovacuum's first ANALYZE,
	// planned the load's joins as sequential scans, 10 ms each). Without a
	// sequential scan the planner takes the index, whatever it believes.
	r.exec("no sequential scans", `SET LOCAL enable_seqscan = off`, nil)
	lds := make([]load, len(batches))
	queueLocks(r, batches, lds)
	queueLoads(r, batches, lds)
	if err := w.send(r); err != nil {
		return w.fail(r.op, err, nil)
	}
	r = &round{}
	var changes []*credit.Change
	// Every State was read before any batch applied: a later batch of an
	// account already written in this transaction decides on what the
	// earlier one left, and every batch sees the idempotency records the
	// earlier ones wrote (the ledger never sends either, but Write keeps
	// its word for any caller).
	written := map[string]*credit.State{}
	var recorded []credit.IdempotencyRecord
	for i, b := range batches {
		if b.Refs.TryLock && !lds[i].locked {
			b.Skipped = true
			continue
		}
		st := &lds[i].state
		if prev := written[b.Account]; prev != nil {
			st = prev.Clone()
		}
		st.Idempotency = append(st.Idempotency, recorded...)
		c, err := b.Decide(st)
		if err != nil {
			w.rollback()
			return err, false // the ledger's, as it is
		}
		if c == nil || c.Empty() {
			continue
		}
		changes = append(changes, c)
		if len(batches) > 1 {
			next := st.Clone()
			next.Apply(c)
			written[b.Account] = next
			recorded = append(recorded, c.Idempotency...)
		}
	}
	if err := queueApply(r, changes); err != nil {
		w.rollback()
		return err, false
	}
	if len(changes) == 0 {
		r.exec("rollback", `ROLLBACK`, nil) // nothing to commit
	} else {
		r.exec("commit", `COMMIT`, nil)
	}
	var applying *credit.Change // for the message of a lost race
	if len(changes) == 1 {
		applying = changes[0]
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
		case "subscriptions_pkey":
			return credit.Errorf(credit.Conflict, "id_exists", "a subscription with a new subscription's id already exists")
		case "topups_pkey":
			return credit.Errorf(credit.Conflict, "id_exists", "a top-up with a new top-up's id already exists")
		case "events_pkey":
			return credit.Errorf(credit.Conflict, "id_exists", "an event with a new event's id already exists")
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
