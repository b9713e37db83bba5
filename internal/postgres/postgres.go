// Package postgres keeps tally's ledger in PostgreSQL (pgx v5, pgxpool). It
// implements credit.Store with the same semantics as package sqlite: the
// ledger decides every write in memory (credit.Book); this package loads what
// it decides from and applies what it decided.
//
// # Writes
//
// Every write on an account is a credit.Batch, and Write runs the batches
// the ledger hands it — the queued writes of up to MaxAccounts accounts — in
// one READ COMMITTED transaction of two round trips (write.go):
//
//  1. One pipelined pgx.Batch: BEGIN; SET LOCAL enable_seqscan = off (every
//     statement of a write reads by an index, whatever the statistics say);
//     SELECT … FROM accounts WHERE id = ANY($1) ORDER BY id FOR NO KEY
//     UPDATE, the accounts' row locks, taken in the order of their ids; then
//     one statement per kind of row that loads every account's credit.State
//     (load.go). The server runs them in order, so the reads start only once
//     the locks are granted, and each statement of READ COMMITTED takes a
//     new snapshot: they see everything the previous holders of the locks
//     committed. The ledger decides each batch from its State
//     (Batch.Decide) while the locks are held.
//  2. One pipelined pgx.Batch: every row of every Change, in one multi-row
//     statement per kind of row (apply.go), and COMMIT.
//
// That row lock, taken by the load, is the only lock of the protocol. Every
// writer of an account's rows takes it first, so the load reads rows no one
// else is changing, and the Change, decided from them, is applied before the
// lock is given up: each batch on an account happens as if the batches ran
// one after the other, which is what SQLite's single writer gives.
// Transactions that share no account do not wait for each other.
//
//   - NO KEY UPDATE rather than UPDATE: it conflicts with itself and with the
//     UPDATEs of the row, but not with the KEY SHARE locks foreign-key checks
//     take, so inserting an API key for an account does not queue behind it.
//   - A batch that asks not to wait (Refs.TryLock, the expiry sweeper) takes
//     the lock with SKIP LOCKED and is skipped when it cannot have it.
//   - Idempotency records are written under the lock of the account the
//     request concerns: a retry on that account waits for the first request
//     to commit and then loads its record, and replays it. Two keys no row
//     lock covers — an account that does not exist yet has no row to lock,
//     and one Idempotency-Key may be sent for two accounts — are settled by
//     their unique index: the second INSERT waits for the first transaction
//     and fails if it commits, and Write runs the loser's batch again, which
//     loads what the winner committed (the account, the record) and decides
//     on it: account_exists, or the first answer replayed.
//   - Every transaction on every node locks its accounts in one global
//     order (their ids), in one statement, so Ledger transactions close no
//     lock cycle. Should PostgreSQL still report a deadlock (40P01) or a
//     serialization failure (40001), Write rolls back and runs the batches
//     again from their load, and Update runs its fn again, a bounded number
//     of times, with jitter.
//
// Update, for the writes that concern no account (API keys, the pruning of
// idempotency records), runs in READ COMMITTED and takes no account lock;
// Tx.LockKeys serializes the admin-key bootstrap with an advisory lock.
//
// View runs in a READ ONLY REPEATABLE READ transaction: one snapshot for all
// its statements (Snapshot, for Verify, is consistent), and no locks.
// ExpireDue's search across accounts (DueHolds("", …), DueGrants("", …)) runs
// in a View; the settling batch of each account it finds locks that account.
package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tally-credits/tally/internal/credit"
)

var _ credit.Store = (*DB)(nil)

// DefaultStatementTimeout bounds every statement unless the DSN sets
// statement_timeout itself: a statement stuck behind a lock or a slow disk
// fails (Unavailable) rather than holding a request and a connection forever.
const DefaultStatementTimeout = "30s"

// DefaultConnectTimeout bounds a new connection unless the DSN sets
// connect_timeout: while the server is unreachable, requests and /readyz fail
// within it instead of waiting for the kernel's TCP timeout.
const DefaultConnectTimeout = 5 * time.Second

// MaxAttempts bounds how many times Write runs a batch, and Update its fn,
// when PostgreSQL reports a serialization failure or a deadlock.
const MaxAttempts = 5

// DB is the ledger in one PostgreSQL database. It is safe for concurrent use.
type DB struct {
	pool  *pgxpool.Pool
	trips *roundTrips
}

// Open connects to the database at dsn (a postgres:// URL or key=value
// string; pgxpool options such as pool_max_conns pass through) and brings its
// schema up to date. Unless the DSN sets statement_timeout (as a parameter or
// in options=-c…), every connection gets DefaultStatementTimeout.
func Open(ctx context.Context, dsn string) (*DB, error) { return open(ctx, dsn, nil) }

// open is Open, with configure (if not nil) called on the pool's
// configuration before the pool starts: tests count what goes on the wire.
func open(ctx context.Context, dsn string, configure func(*pgxpool.Config)) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// The parse error may quote the DSN, password included: not shown.
		return nil, credit.Errorf(credit.Invalid, "invalid_dsn", "postgres: the database URL is not valid")
	}
	params := cfg.ConnConfig.RuntimeParams
	if _, ok := params["statement_timeout"]; !ok && !strings.Contains(params["options"], "statement_timeout") {
		params["statement_timeout"] = DefaultStatementTimeout
	}
	if cfg.ConnConfig.ConnectTimeout == 0 {
		cfg.ConnConfig.ConnectTimeout = DefaultConnectTimeout
	}
	trips := &roundTrips{}
	cfg.ConnConfig.Tracer = trips
	if configure != nil {
		configure(cfg)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, storeError(ctx, "open", err)
	}
	db := &DB{pool: pool, trips: trips}
	if err := db.Migrate(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	return db, nil
}

// Close closes every connection of the pool.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// Ping reports whether the store can serve: a connection reads the schema
// version.
func (db *DB) Ping(ctx context.Context) error {
	var n int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		return storeError(ctx, "ping", err)
	}
	return nil
}

// Update runs fn in one READ COMMITTED transaction, for the writes that
// concern no account (see credit.Store).
//
// After any error from PostgreSQL the transaction is aborted, so one in which
// a Tx method failed is never committed, even if fn ignores the failure and
// returns nil: Update returns that failure. A serialization failure or a
// deadlock runs fn again in a new transaction (up to MaxAttempts times).
func (db *DB) Update(ctx context.Context, fn func(credit.Tx) error) error {
	return retrying(ctx, func() (error, bool) { return db.run(ctx, false, fn) })
}

// retrying runs attempt until it succeeds, fails for good, or has run
// MaxAttempts times: attempt reports whether its failure (a serialization
// failure or a deadlock) may pass if run again.
func retrying(ctx context.Context, attempt func() (err error, retry bool)) error {
	for n := 1; ; n++ {
		err, retry := attempt()
		if !retry || n == MaxAttempts {
			return err
		}
		// Jittered backoff: 1–2 ms, 2–4 ms, 4–8 ms, …
		base := time.Millisecond << (n - 1)
		select {
		case <-ctx.Done():
			return storeError(ctx, "retry", ctx.Err())
		case <-time.After(base + rand.N(base)):
		}
	}
}

// View runs fn in one READ ONLY REPEATABLE READ transaction: a consistent
// snapshot. The Tx's write methods return Internal.
func (db *DB) View(ctx context.Context, fn func(credit.Tx) error) error {
	err, _ := db.run(ctx, true, fn)
	return err
}

// run runs fn in one transaction and reports whether it should run again.
func (db *DB) run(ctx context.Context, readOnly bool, fn func(credit.Tx) error) (err error, retry bool) {
	opts := pgx.TxOptions{IsoLevel: pgx.ReadCommitted, AccessMode: pgx.ReadWrite}
	if readOnly {
		opts = pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
	}
	ptx, err := db.pool.BeginTx(ctx, opts)
	if err != nil {
		return storeError(ctx, "begin", err), false
	}
	t := &tx{ctx: ctx, ptx: ptx, readOnly: readOnly}
	committed := false
	defer func() {
		if !committed {
			// Roll back on an error and on a panic, which goes on up. The
			// context may be done: roll back regardless.
			_ = ptx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	ferr := fn(t)
	switch {
	case t.retry:
		return t.broken, true
	case ferr != nil:
		return ferr, false
	case t.broken != nil:
		return t.broken, false
	case readOnly:
		return nil, false // the deferred Rollback ends the read
	}
	if err := ptx.Commit(ctx); err != nil {
		e := storeError(ctx, "commit", err)
		return e, retryable(err)
	}
	committed = true
	return nil, false
}

// tx is a credit.Tx on one PostgreSQL transaction. Its methods are in the file
// of their noun (account.go, grant.go, …).
type tx struct {
	ctx      context.Context
	ptx      pgx.Tx
	readOnly bool
	// broken is the first error PostgreSQL returned (after which it aborts
	// the transaction), or the first Internal or Unavailable failure: the
	// transaction must not commit after one.
	broken error
	// retry says broken is a serialization failure or a deadlock: the whole
	// transaction may run again.
	retry bool
	// streaming says statement_timeout is lifted for the rest of the
	// transaction (see stream).
	streaming bool
}

// stream lifts statement_timeout for the rest of the transaction, before a
// read of a whole table that its caller consumes as it goes (Verify's
// journal, the catalog impact's window): such a statement lasts as long as
// its reader takes, minutes at millions of rows, and the timeout that
// guards requests against a stuck statement would end it half way.
func (t *tx) stream(op string) error {
	if t.streaming {
		return nil
	}
	if _, err := t.ptx.Exec(t.ctx, `SET LOCAL statement_timeout = 0`); err != nil {
		return t.fail(op, err)
	}
	t.streaming = true
	return nil
}

func (t *tx) exec(query string, args ...any) (pgconn.CommandTag, error) {
	return t.ptx.Exec(t.ctx, query, args...)
}

func (t *tx) query(query string, args ...any) (pgx.Rows, error) {
	return t.ptx.Query(t.ctx, query, args...)
}

func (t *tx) queryRow(query string, args ...any) pgx.Row {
	return t.ptx.QueryRow(t.ctx, query, args...)
}

// fail translates a PostgreSQL error met while doing op and marks the
// transaction broken: after an error PostgreSQL aborts the transaction.
func (t *tx) fail(op string, err error) error {
	e := storeError(t.ctx, op, err)
	if t.readOnly && pgCode(err) == "25006" {
		// A write in View is a bug, not an outage.
		e = credit.Errorf(credit.Internal, "store_error", "postgres: %s: a write in a read-only transaction", op)
	}
	return t.broke(e, retryable(err))
}

// broke records e as the transaction's failure, if it is the first, and
// returns it.
func (t *tx) broke(e *credit.Error, retry bool) error {
	if t.broken == nil {
		t.broken, t.retry = e, retry
	}
	return e
}

// retryable reports whether err is a serialization failure or a deadlock:
// the transaction may succeed if run again.
func retryable(err error) bool {
	switch pgCode(err) {
	case "40001", "40P01":
		return true
	}
	return false
}

// storeError translates err, which pgx returned while doing op, into a
// *credit.Error, by SQLSTATE. It never wraps pgx's error: its text goes into
// the message of an Internal or Unavailable error only, which is logged and
// never shown. Errors that depend on what op was doing (a duplicate id, a
// missing parent) are translated by the caller first, by constraint name.
func storeError(ctx context.Context, op string, err error) *credit.Error {
	var ce *credit.Error
	if errors.As(err, &ce) {
		return ce
	}
	code := pgCode(err)
	if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		why := "the request was canceled"
		if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
			why = "the request timed out"
		}
		return credit.Errorf(credit.Unavailable, "canceled", "postgres: %s: %s", op, why)
	}
	unavailable := func(condition string) *credit.Error {
		return credit.Errorf(credit.Unavailable, "store_unavailable", "postgres: %s: %s", op, condition)
	}
	switch {
	case code == "57014":
		return unavailable("the statement timed out (statement_timeout)")
	case code == "57P01", code == "57P02":
		return unavailable("the server is shutting down")
	case code == "57P03":
		return unavailable("the server cannot accept connections now")
	case code == "55P03":
		return unavailable("a lock could not be taken in time (lock_timeout)")
	case strings.HasPrefix(code, "53"):
		return unavailable("the server is out of resources (" + code + ")")
	case strings.HasPrefix(code, "08"):
		return unavailable("the connection failed (" + code + ")")
	case code == "25006":
		return unavailable("the database is read-only")
	case code == "40001", code == "40P01":
		return unavailable("the transaction kept conflicting with others (" + code + "); retry")
	case code == "22021", code == "22P05":
		// character_not_in_repertoire (a NUL or invalid UTF-8 in text),
		// untranslatable_character: the request's bytes, not the store, are
		// at fault. The edge refuses such bytes first; this keeps one that
		// slipped through a 4xx, as SQLite, which stores any bytes, answers.
		return credit.Errorf(credit.Invalid, "invalid_text", "a value holds characters that cannot be stored (NUL or invalid UTF-8)")
	case code == "54000":
		// program_limit_exceeded: e.g. an index row too large for a value.
		return credit.Errorf(credit.Invalid, "value_too_large", "a value is too large to be stored")
	case code == "":
		if isConnError(err) {
			return unavailable("the database cannot be reached")
		}
	}
	return credit.Errorf(credit.Internal, "store_error", "postgres: %s: %v", op, err)
}

// isConnError reports whether err, not from the server, is a failure to reach
// it or a lost connection (rather than a bug such as a scan into a wrong type).
func isConnError(err error) bool {
	var ce *pgconn.ConnectError
	var ne net.Error
	switch {
	case errors.As(err, &ce), errors.As(err, &ne), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF),
		errors.Is(err, net.ErrClosed), pgconn.Timeout(err), pgconn.SafeToRetry(err):
		return true
	}
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return false
	}
	// pgx's own "conn closed" and the pool's "closed pool" carry no type.
	msg := err.Error()
	return strings.Contains(msg, "conn closed") || strings.Contains(msg, "closed pool")
}

// pgCode returns the SQLSTATE of a server error, "" for any other error.
func pgCode(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

// violates reports whether err is a violation (SQLSTATE code: 23505 unique,
// 23503 foreign key) of the named constraint.
func violates(err error, code, constraint string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == code && pe.ConstraintName == constraint
}

const (
	uniqueViolation     = "23505"
	foreignKeyViolation = "23503"
)

// expected records err, an error of PostgreSQL that the caller translated to
// one of the ledger's answers (a duplicate id, an unknown account), as the
// transaction's failure, and returns e: PostgreSQL has aborted the
// transaction, so it cannot commit, whatever fn does next.
func (t *tx) expected(e *credit.Error) error {
	if t.broken == nil {
		t.broken = e
	}
	return e
}

func unknownAccount(id string) *credit.Error {
	return credit.Errorf(credit.NotFound, "unknown_account", "unknown account %q", id)
}

// Column values. Times are TIMESTAMPTZ, NULL for the zero time; optional
// references are NULL when empty.

// tstz returns t as a column value, NULL for the zero time.
func tstz(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC()
}

// nullable returns s as a column value, NULL for "".
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// timeColumn scans a TIMESTAMPTZ column into a time.Time: UTC, zero for NULL.
type timeColumn struct{ t *time.Time }

func (c timeColumn) ScanTimestamptz(v pgtype.Timestamptz) error {
	switch {
	case !v.Valid:
		*c.t = time.Time{}
	case v.InfinityModifier != pgtype.Finite:
		return fmt.Errorf("a time column holds an infinity")
	default:
		*c.t = v.Time.UTC()
	}
	return nil
}

// textColumn scans a nullable TEXT column into a string, "" for NULL.
type textColumn struct{ s *string }

func (c textColumn) ScanText(v pgtype.Text) error {
	*c.s = ""
	if v.Valid {
		*c.s = v.String
	}
	return nil
}

// jsonColumn scans a nullable JSONB column into *v: the zero value for
// NULL, else the column unmarshaled (encoding/json).
type jsonColumn[T any] struct{ v *T }

func (c jsonColumn[T]) Scan(src any) error {
	var zero T
	*c.v = zero
	switch src := src.(type) {
	case nil:
		return nil
	case []byte:
		return json.Unmarshal(src, c.v)
	case string:
		return json.Unmarshal([]byte(src), c.v)
	}
	return fmt.Errorf("a JSON column holds a %T", src)
}

// jsonText returns v as JSON, for an element of a text[] parameter cast to
// jsonb[]: NULL when null is true. v is one of the ledger's JSON columns
// (strings and ints), which always marshal.
func jsonText(v any, null bool) pgtype.Text {
	if null {
		return pgtype.Text{}
	}
	b, _ := json.Marshal(v)
	return pgtype.Text{String: string(b), Valid: true}
}

// scanner is a pgx.Row or pgx.Rows.
type scanner interface{ Scan(dest ...any) error }

// each runs a query and calls fn on every row.
func (t *tx) each(op string, fn func(scanner) error, query string, args ...any) error {
	rows, err := t.query(query, args...)
	if err != nil {
		return t.fail(op, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return t.fail(op, err)
		}
	}
	if err := rows.Err(); err != nil {
		return t.fail(op, err)
	}
	return nil
}

// sqlLimit returns limit for a LIMIT clause: NULL (no limit) for ≤ 0.
func sqlLimit(limit int) any {
	if limit <= 0 {
		return nil
	}
	return limit
}
