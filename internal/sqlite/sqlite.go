// Package sqlite keeps tally's ledger in one SQLite file (modernc.org/sqlite,
// pure Go). It implements credit.Store: the ledger's logic lives in package
// credit; this package only stores and finds.
//
// SQLite allows one writer at a time, so a DB keeps two pools on the file: a
// writer of one connection, whose transactions begin IMMEDIATE (every Update
// takes the write lock first and runs alone: the balance check of Reserve is
// atomic by construction, and no Update ever fails half-way with SQLITE_BUSY
// on a lock upgrade), and a small pool of query-only readers for View, which
// in WAL mode read a consistent snapshot while the writer writes.
package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/tally-credits/tally/internal/credit"
)

var _ credit.Store = (*DB)(nil)

// Readers is the size of the read pool. Reads in WAL mode do not block the
// writer nor each other; a few connections cover the request path.
const Readers = 4

// DB is the ledger in one SQLite file. It is safe for concurrent use.
type DB struct {
	path string
	// existing says the file must not be created: set by OpenExisting, and
	// kept for every later opening (a reopen after a fault).
	existing bool
	cur      atomic.Pointer[pools] // the current opening of the file
	// reopenMu serializes reopen; retiring counts old openings not yet
	// closed (Close waits for them).
	reopenMu sync.Mutex
	retiring sync.WaitGroup
	// states is the writer's cache of account states (cache.go).
	states states
}

// Open opens (creating it if needed) the SQLite file at path and brings its
// schema up to date. The file is in WAL mode with synchronous=FULL: once
// Update returns nil, its commit survives a crash or a power loss.
func Open(ctx context.Context, path string) (*DB, error) {
	return open(ctx, path, false)
}

// OpenExisting is Open for a ledger that must already be there: it never
// creates a file. A path with no file is refused (Invalid, "no_ledger"), and
// so is a file that is not a tally ledger (Invalid, "not_a_database",
// "corrupt_database" or "not_a_ledger"), without writing to it: a mistyped
// path must not become a new, empty ledger that no server reads. A ledger at an older schema is
// brought up to date, as Open does.
func OpenExisting(ctx context.Context, path string) (*DB, error) {
	return open(ctx, path, true)
}

func open(ctx context.Context, path string, existing bool) (*DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, credit.Errorf(credit.Invalid, "invalid_path", "sqlite: open %s: %v", path, err)
	}
	if existing {
		if err := checkExisting(ctx, abs); err != nil {
			return nil, err
		}
	}
	p, err := openPools(abs, existing)
	if err != nil {
		return nil, storeError(ctx, "open "+abs, err)
	}
	db := &DB{path: abs, existing: existing}
	db.cur.Store(p)
	// The writer's first connection creates the file (unless existing) and
	// turns on WAL before any reader opens it; Migrate then makes the schema.
	if err := db.Migrate(ctx); err != nil {
		p.close()
		return nil, err
	}
	if err := p.reader.PingContext(ctx); err != nil {
		p.close()
		return nil, storeError(ctx, "open "+abs, err)
	}
	return db, nil
}

// checkExisting refuses path unless it is a SQLite file with tally's schema.
// It reads on a read-only connection of its own, with no pragma, so that a
// file it refuses is left as it was.
func checkExisting(ctx context.Context, path string) error {
	if err := checkSource("open", path, "no_ledger", "ledger"); err != nil {
		return err
	}
	c, err := sql.Open("sqlite", fileURI(path, "mode", "ro", "_pragma", "busy_timeout(10000)"))
	if err != nil {
		return storeError(ctx, "open "+path, err)
	}
	defer c.Close()
	return checkLedger(ctx, c, "open", path)
}

// dsn returns the data source name of a pool on the file at path (absolute).
// The pragmas are in the DSN, so every connection the pool opens, not only the
// first, gets them: busy_timeout first (the driver applies it before the rest),
// so that opening a connection waits for a lock rather than failing.
func dsn(path string, readOnly, existing bool) string {
	q := url.Values{}
	if existing {
		q.Set("mode", "rw") // SQLite opens the file or fails; it never creates it
	}
	q.Add("_pragma", "busy_timeout(10000)")
	q.Add("_pragma", "journal_mode(WAL)")
	q.Add("_pragma", "synchronous(FULL)") // fsync the WAL at every commit: never lose an acknowledged write
	q.Add("_pragma", "foreign_keys(ON)")
	// Temporary files in memory: the savepoint of every write in a group
	// commit keeps its undo pages in a sub-journal, which otherwise is a
	// temporary file written with a syscall per page. It needs no
	// durability: a crash rolls back the whole transaction from the WAL.
	q.Add("_pragma", "temp_store(MEMORY)")
	if readOnly {
		q.Set("_query_only", "1") // applied after every other pragma
	} else {
		q.Set("_txlock", "immediate")
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: q.Encode()}
	return u.String()
}

// Path returns the absolute path of the database file.
func (db *DB) Path() string { return db.path }

// Close closes both pools, once any opening being retired is closed. The
// last connection to close checkpoints the WAL into the database file.
func (db *DB) Close() error {
	db.reopenMu.Lock() // no reopen after this
	defer db.reopenMu.Unlock()
	db.retiring.Wait()
	if err := db.cur.Load().close(); err != nil {
		return storeError(context.Background(), "close", err)
	}
	return nil
}

// Ping reports whether the store can serve: a reader reads the schema from
// the file. It does not queue behind the writer, so a busy ledger is ready.
func (db *DB) Ping(ctx context.Context) error {
	p := db.acquire(false)
	defer p.release()
	var n int
	if err := p.reader.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		return storeError(ctx, "ping", err)
	}
	return nil
}

// Update runs fn in one write transaction (see credit.Store). Updates run one
// at a time, in the order they take the write lock.
//
// A write that finds the file read-only fails Unavailable; the next one,
// once the fault is cleared, succeeds on a new opening (see pools).
//
// A transaction in which a Tx method failed with Internal or Unavailable, or
// failed after doing part of its work, is never committed, even if fn ignores
// that error and returns nil: after such a failure SQLite may have rolled back
// part or all of the transaction on its own, and committing the rest would
// break the ledger's invariants. Update returns that first failure.
func (db *DB) Update(ctx context.Context, fn func(credit.Tx) error) error {
	return db.run(ctx, false, fn)
}

// View runs fn in one read-only transaction on a consistent snapshot. The Tx's
// write methods return Internal.
func (db *DB) View(ctx context.Context, fn func(credit.Tx) error) error {
	return db.run(ctx, true, fn)
}

func (db *DB) run(ctx context.Context, readOnly bool, fn func(credit.Tx) error) (err error) {
	p := db.acquire(!readOnly)
	defer p.release()
	pool, stmts := p.writer, p.wstmts
	if readOnly {
		pool, stmts = p.reader, p.rstmts
	}
	defer stmts.prepare(ctx) // after the transaction has given its connection back
	stx, err := pool.BeginTx(ctx, &sql.TxOptions{ReadOnly: readOnly})
	if err != nil {
		return p.writeError(ctx, "begin", err)
	}
	t := &tx{ctx: ctx, stx: stx, p: p, stmts: stmts, readOnly: readOnly}
	committed := false
	defer func() {
		if committed {
			return
		}
		// Roll back on an error and on a panic, which goes on up.
		_ = stx.Rollback()
	}()
	if err := fn(t); err != nil {
		return err
	}
	if t.broken != nil {
		return t.broken
	}
	if readOnly {
		return nil // the deferred Rollback ends the read
	}
	if err := stx.Commit(); err != nil {
		return p.writeError(ctx, "commit", err)
	}
	committed = true
	return nil
}

// tx is a credit.Tx on one SQLite transaction. Its methods are in the file of
// their noun (account.go, grant.go, …).
type tx struct {
	ctx      context.Context
	stx      *sql.Tx
	p        *pools      // the opening it runs on
	stmts    *statements // the pool's prepared statements
	readOnly bool
	// broken is the first Internal or Unavailable failure, or the failure of
	// a method that had already written part of its work: the transaction
	// must not commit after one.
	broken error
}

// halfDone records err as the failure of a method that wrote part of its work
// (a hold without all its allocations, a transaction without all its
// postings), and returns it. The transaction can no longer commit: every
// method does all of its work or none.
func (t *tx) halfDone(err error) error {
	if t.broken == nil {
		t.broken = err
	}
	return err
}

func (t *tx) exec(query string, args ...any) (sql.Result, error) {
	if st := t.stmts.get(query); st != nil {
		return t.stx.StmtContext(t.ctx, st).ExecContext(t.ctx, args...)
	}
	return t.stx.ExecContext(t.ctx, query, args...)
}

func (t *tx) query(query string, args ...any) (*sql.Rows, error) {
	if st := t.stmts.get(query); st != nil {
		return t.stx.StmtContext(t.ctx, st).QueryContext(t.ctx, args...)
	}
	return t.stx.QueryContext(t.ctx, query, args...)
}

func (t *tx) queryRow(query string, args ...any) *sql.Row {
	if st := t.stmts.get(query); st != nil {
		return t.stx.StmtContext(t.ctx, st).QueryRowContext(t.ctx, args...)
	}
	return t.stx.QueryRowContext(t.ctx, query, args...)
}

// fail translates a driver error met while doing op, and marks the
// transaction broken if the error is not one of the ledger's expected answers.
func (t *tx) fail(op string, err error) error {
	e := storeError(t.ctx, op, err)
	if !t.readOnly {
		t.p.noteWrite(err)
	}
	if t.readOnly && e.Code == credit.Unavailable && sqliteCode(err)&0xff == sqlite3.SQLITE_READONLY {
		// A write in View is a bug, not an outage.
		e = credit.Errorf(credit.Internal, "store_error", "sqlite: %s: a write in a read-only transaction", op)
	}
	if (e.Code == credit.Internal || e.Code == credit.Unavailable) && t.broken == nil {
		t.broken = e
	}
	return e
}

// storeError translates err, which the driver returned while doing op, into a
// *credit.Error, by SQLite result code. It never wraps the driver's error: its
// text goes into the message of an Internal error only, which is logged and
// never shown. Errors that depend on what op was doing (a duplicate id, a
// missing row) are translated by the caller before it calls storeError.
func storeError(ctx context.Context, op string, err error) *credit.Error {
	var ce *credit.Error
	if errors.As(err, &ce) {
		return ce
	}
	if ctx.Err() != nil || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		why := "the request was canceled"
		if errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded) {
			why = "the request timed out"
		}
		return credit.Errorf(credit.Unavailable, "canceled", "sqlite: %s: %s", op, why)
	}
	unavailable := func(condition string) *credit.Error {
		return credit.Errorf(credit.Unavailable, "store_unavailable", "sqlite: %s: %s", op, condition)
	}
	switch sqliteCode(err) & 0xff { // the primary result code
	case sqlite3.SQLITE_FULL:
		return unavailable("the database disk is full")
	case sqlite3.SQLITE_READONLY:
		return unavailable("the database is read-only")
	case sqlite3.SQLITE_BUSY:
		return unavailable("the database is busy (locked by another process)")
	case sqlite3.SQLITE_LOCKED:
		return unavailable("the database table is locked")
	case sqlite3.SQLITE_IOERR:
		return unavailable("a disk I/O error occurred")
	case sqlite3.SQLITE_CANTOPEN:
		return unavailable("the database file cannot be opened")
	case sqlite3.SQLITE_INTERRUPT:
		return credit.Errorf(credit.Unavailable, "canceled", "sqlite: %s: the request was canceled", op)
	case sqlite3.SQLITE_TOOBIG:
		// A string or blob over SQLite's limit: the request's value is at
		// fault, as PostgreSQL's program_limit_exceeded says.
		return credit.Errorf(credit.Invalid, "value_too_large", "a value is too large to be stored")
	}
	return credit.Errorf(credit.Internal, "store_error", "sqlite: %s: %v", op, err)
}

// sqliteCode returns the extended result code of a driver error, 0 for any
// other error.
func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}

// isDuplicate reports whether err is a UNIQUE or PRIMARY KEY violation.
func isDuplicate(err error) bool {
	switch sqliteCode(err) {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return true
	}
	return false
}

// isMissingParent reports whether err is an immediate FOREIGN KEY violation:
// a row names an account (or grant) that does not exist.
func isMissingParent(err error) bool {
	return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

func unknownAccount(id string) *credit.Error {
	return credit.Errorf(credit.NotFound, "unknown_account", "unknown account %q", id)
}

// Column values. Times are Unix microseconds UTC, NULL for the zero time;
// optional references are NULL when empty.

// micros returns t as a column value.
func micros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

// nullable returns s as a column value, NULL for "".
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// timeColumn scans a micros column into a time.Time: UTC, zero for NULL.
type timeColumn struct{ t *time.Time }

func (c timeColumn) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*c.t = time.Time{}
	case int64:
		*c.t = time.UnixMicro(v).UTC()
	default:
		return fmt.Errorf("a time column holds a %T", v)
	}
	return nil
}

// textColumn scans a nullable TEXT column into a string, "" for NULL.
type textColumn struct{ s *string }

func (c textColumn) Scan(v any) error {
	switch v := v.(type) {
	case nil:
		*c.s = ""
	case string:
		*c.s = v
	case []byte:
		*c.s = string(v)
	default:
		return fmt.Errorf("a text column holds a %T", v)
	}
	return nil
}

// jsonColumn scans a nullable TEXT column of JSON into v (a pointer), which
// is left as it is (the zero value) for NULL.
type jsonColumn struct{ v any }

func (c jsonColumn) Scan(src any) error {
	switch src := src.(type) {
	case nil:
		return nil
	case string:
		return json.Unmarshal([]byte(src), c.v)
	case []byte:
		return json.Unmarshal(src, c.v)
	default:
		return fmt.Errorf("a JSON column holds a %T", src)
	}
}

// scanner is a *sql.Row or *sql.Rows.
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
