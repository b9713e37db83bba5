// Package postgres keeps tally's ledger in PostgreSQL (pgx v5, pgxpool). It
// implements credit.Store with the same semantics as package sqlite: the
// ledger's logic lives in package credit; this package only stores and finds.
//
// # Isolation
//
// SQLite runs one writer at a time, so every Update is serialized there by
// construction. PostgreSQL runs them concurrently, and the Ledger reads before
// it writes on an account (settle reads the due holds and grants, reserve
// reads the grants to allocate from, a capture reads the hold). Update runs in
// READ COMMITTED, where each statement sees what was committed when it began,
// and serializes the transactions of one account with a row lock:
//
//   - The first Tx method of a write transaction that concerns an account
//     (Account, Grants, OpenHolds, DueHolds, DueGrants, Reserve, AddBalances,
//     InsertGrant, InsertHold, …) first takes
//     SELECT … FROM accounts WHERE id = $1 FOR NO KEY UPDATE, once per
//     account per transaction (tx.locked remembers it). Methods that name a
//     grant, hold or generation lock its account: a read (Hold, Generation,
//     Grant) reads the row, locks its account and reads it again, so what it
//     returns is as of after every earlier transaction on the account.
//   - The lock is held until commit. A second transaction on the account waits
//     at its first statement on it, then (READ COMMITTED) every later
//     statement sees the first one's commit: every read-then-write of the
//     Ledger on an account happens as if the transactions ran one after the
//     other, which is what SQLite gives. Transactions on different accounts
//     do not wait for each other.
//   - NO KEY UPDATE rather than UPDATE: it conflicts with itself and with the
//     UPDATEs of the row, but not with the KEY SHARE locks foreign-key checks
//     take, so inserting an API key for an account does not queue behind it.
//   - Reserve stays one statement (UPDATE … WHERE available - $1 >=
//     -overdraft RETURNING …): even without the lock it could not overdraw,
//     because PostgreSQL re-checks the WHERE on the newest row version.
//   - Idempotency (scope, key) is serialized with
//     pg_advisory_xact_lock(hashtext(scope), hashtext(key)) taken in
//     Tx.Idempotency on a write transaction, before the read: a concurrent
//     retry with the same key waits for the first to commit, then reads its
//     answer and replays it instead of doing the work a second time.
//   - A transaction locks one account (the Ledger's transactions each touch
//     one user account), after at most one idempotency lock, always in that
//     order: no lock cycles among Ledger transactions. The admin-key bootstrap
//     takes one more, Tx.LockKeys (pg_advisory_xact_lock on a fixed key),
//     and no account lock: two nodes starting on a fresh database find the
//     same "no admin key" only one at a time. Should PostgreSQL still
//     report a deadlock (40P01) or a serialization failure (40001), Update
//     rolls back and runs fn again, a bounded number of times, with jitter.
//
// View runs in a READ ONLY REPEATABLE READ transaction: one snapshot for all
// its statements (Snapshot, for Verify, is consistent), and no locks.
// ExpireDue's search across accounts (DueHolds("", …), DueGrants("", …)) runs
// in a View; the settling Update of each account it finds locks that account.
package postgres

import (
	"context"
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

// MaxAttempts bounds how many times Update runs fn when PostgreSQL reports a
// serialization failure or a deadlock.
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
func Open(ctx context.Context, dsn string) (*DB, error) {
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

// Update runs fn in one READ COMMITTED transaction (see credit.Store and the
// package comment for how an account's transactions are serialized).
//
// After any error from PostgreSQL the transaction is aborted, so one in which
// a Tx method failed is never committed, even if fn ignores the failure and
// returns nil: Update returns that failure. A serialization failure or a
// deadlock runs fn again in a new transaction (up to MaxAttempts times).
func (db *DB) Update(ctx context.Context, fn func(credit.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err, retry := db.run(ctx, false, fn)
		if !retry || attempt == MaxAttempts {
			return err
		}
		// Jittered backoff: 1–2 ms, 2–4 ms, 4–8 ms, …
		base := time.Millisecond << (attempt - 1)
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
	t := &tx{ctx: ctx, ptx: ptx, readOnly: readOnly, locked: map[string]bool{}, owner: map[string]string{}}
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
	// locked holds the accounts whose row this transaction has locked.
	locked map[string]bool
	// owner maps the ids of grants, holds and generations this transaction
	// has seen to their account.
	owner map[string]string
	// broken is the first error PostgreSQL returned (after which it aborts
	// the transaction), or the first Internal or Unavailable failure: the
	// transaction must not commit after one.
	broken error
	// retry says broken is a serialization failure or a deadlock: the whole
	// transaction may run again.
	retry bool
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

// lock takes the row lock of an account for the rest of a write transaction
// (see the package comment), once. It reports whether the account exists; in
// a View it does nothing.
func (t *tx) lock(account string) (bool, error) {
	if t.readOnly || t.locked[account] {
		return true, nil
	}
	var one int
	err := t.queryRow(`SELECT 1 FROM accounts WHERE id = $1 FOR NO KEY UPDATE`, account).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	} else if err != nil {
		return false, t.fail("lock account", err)
	}
	t.locked[account] = true
	return true, nil
}

// TryLockAccount claims an account's row without waiting (SKIP LOCKED): false
// when another transaction, on this node or another, holds it, or when the
// account does not exist.
func (t *tx) TryLockAccount(account string) (bool, error) {
	if t.readOnly || t.locked[account] {
		return true, nil
	}
	var one int
	err := t.queryRow(`SELECT 1 FROM accounts WHERE id = $1 FOR NO KEY UPDATE SKIP LOCKED`, account).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	} else if err != nil {
		return false, t.fail("try to lock account", err)
	}
	t.locked[account] = true
	return true, nil
}

// lockOwner locks the account of a grant, hold or generation (table) before a
// write to it, if this transaction has not already. It reports whether the
// row exists.
func (t *tx) lockOwner(table, id string) (bool, error) {
	if t.readOnly {
		return true, nil
	}
	account, ok := t.owner[id]
	if !ok {
		err := t.queryRow(`SELECT account FROM `+table+` WHERE id = $1`, id).Scan(&account)
		if errors.Is(err, pgx.ErrNoRows) {
			return false, nil
		} else if err != nil {
			return false, t.fail("read "+table, err)
		}
		t.owner[id] = account
	}
	_, err := t.lock(account)
	return true, err
}

// seen records the account of a grant, hold or generation, and reports
// whether this transaction has locked it (always true in a View).
func (t *tx) seen(id, account string) bool {
	t.owner[id] = account
	return t.readOnly || t.locked[account]
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

func idExists(noun, id string) *credit.Error {
	return credit.Errorf(credit.Conflict, "id_exists", "a %s with id %q already exists", noun, id)
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

// blob returns b as a column value, NULL for nil.
func blob(b []byte) any {
	if b == nil {
		return nil
	}
	return b
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
