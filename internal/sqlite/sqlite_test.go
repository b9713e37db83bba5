package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/tally-credits/tally/internal/credit"
	tsqlite "github.com/tally-credits/tally/internal/sqlite"
	"github.com/tally-credits/tally/internal/storetest"
)

// t0 is a time with microseconds, the store's precision.
var t0 = time.Date(2025, 3, 14, 9, 26, 53, 589793000, time.UTC)

// MustOpenDB opens a new database file in a temporary directory, closed when
// the test ends.
func MustOpenDB(tb testing.TB) *tsqlite.DB {
	tb.Helper()
	return MustOpenPath(tb, filepath.Join(tb.TempDir(), "tally.db"))
}

// MustOpenPath opens the database file at path, closed when the test ends.
func MustOpenPath(tb testing.TB, path string) *tsqlite.DB {
	tb.Helper()
	db, err := tsqlite.Open(context.Background(), path)
	if err != nil {
		tb.Fatalf("Open(%q) = %v", path, err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("Close() = %v", err)
		}
	})
	return db
}

// mustView runs fn in a View and fails the test on an error.
func mustView(tb testing.TB, db *tsqlite.DB, fn func(credit.Tx) error) {
	tb.Helper()
	if err := db.View(context.Background(), fn); err != nil {
		tb.Fatalf("View: %v", err)
	}
}

// newAccount creates an account with its overdraft grant, and with a
// never-expiring topup grant of `available` if it is not zero.
func newAccount(tb testing.TB, db *tsqlite.DB, id string, overdraft, available credit.Credits) {
	tb.Helper()
	c := &credit.Change{
		NewAccount: &credit.Account{ID: id, Overdraft: overdraft, Available: available, CreatedAt: t0},
		NewGrants:  []credit.Grant{{ID: "ovd_" + id, Account: id, Source: credit.SourceOverdraft, Priority: 1 << 31, CreatedAt: t0}},
	}
	if available != 0 {
		c.NewGrants = append(c.NewGrants, credit.Grant{ID: "grt_" + id, Account: id, Source: credit.SourceTopup,
			Granted: available, Remaining: available, CreatedAt: t0})
	}
	storetest.MustApply(tb, db, id, c)
}

// wantError fails the test unless err is a *credit.Error with code and reason.
func wantError(tb testing.TB, what string, err error, code, reason string) {
	tb.Helper()
	var e *credit.Error
	if !errors.As(err, &e) {
		tb.Fatalf("%s = %v (%T); want a *credit.Error %s/%s", what, err, err, code, reason)
	}
	if credit.ErrorCode(err) != code || credit.ErrorReason(err) != reason {
		tb.Fatalf("%s = %s/%s (%v); want %s/%s", what, credit.ErrorCode(err), credit.ErrorReason(err), err, code, reason)
	}
}

func TestOpen_Pragmas(t *testing.T) {
	db := MustOpenDB(t)
	ctx := context.Background()
	for _, pool := range []struct {
		name      string
		db        *sql.DB
		conns     int
		queryOnly int
	}{
		{"writer", db.Writer(), 1, 0},
		{"reader", db.Reader(), tsqlite.Readers, 1},
	} {
		// Hold every connection the pool may open at once, so that each is
		// checked, not the first one again and again.
		var conns []*sql.Conn
		for range pool.conns {
			c, err := pool.db.Conn(ctx)
			if err != nil {
				t.Fatalf("%s: Conn() = %v", pool.name, err)
			}
			conns = append(conns, c)
		}
		for i, c := range conns {
			var mode string
			var sync, fk, busy, queryOnly int
			if err := c.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&mode); err != nil {
				t.Fatal(err)
			}
			for _, p := range []struct {
				name string
				v    *int
			}{{"synchronous", &sync}, {"foreign_keys", &fk}, {"busy_timeout", &busy}, {"query_only", &queryOnly}} {
				if err := c.QueryRowContext(ctx, `PRAGMA `+p.name).Scan(p.v); err != nil {
					t.Fatal(err)
				}
			}
			if mode != "wal" || sync != 2 || fk != 1 || busy != 10000 || queryOnly != pool.queryOnly {
				t.Errorf("%s conn %d: journal_mode=%s synchronous=%d foreign_keys=%d busy_timeout=%d query_only=%d; want wal 2 (FULL) 1 10000 %d",
					pool.name, i, mode, sync, fk, busy, queryOnly, pool.queryOnly)
			}
		}
		for _, c := range conns {
			c.Close()
		}
	}
}

func TestMigrate_Twice(t *testing.T) {
	db := MustOpenDB(t)
	ctx := context.Background()
	versions := func() string {
		var s string
		err := db.Reader().QueryRowContext(ctx, `SELECT group_concat(version || '@' || applied_at) FROM schema_migrations`).Scan(&s)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := versions()
	if !strings.HasPrefix(before, "1@") {
		t.Fatalf("schema_migrations after Open = %q; want version 1 recorded", before)
	}
	for range 2 {
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("Migrate() = %v", err)
		}
	}
	if after := versions(); after != before {
		t.Errorf("schema_migrations after Migrate twice = %q; want %q unchanged", after, before)
	}
}

func TestOpen_ReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tally.db")
	db, err := tsqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	newAccount(t, db, "acme", 0, credit.Whole(7))
	if err := db.Close(); err != nil {
		t.Fatalf("Close() = %v", err)
	}
	db = MustOpenPath(t, path)
	mustView(t, db, func(tx credit.Tx) error {
		a, err := tx.Account("acme")
		if err != nil {
			return err
		}
		if a.Available != credit.Whole(7) {
			t.Errorf("Account(acme).Available after reopen = %v; want 7", a.Available)
		}
		return nil
	})
}

func TestOpen_SchemaTooNew(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tally.db")
	db := MustOpenPath(t, path)
	if _, err := db.Writer().Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 0)`); err != nil {
		t.Fatal(err)
	}
	_, err := tsqlite.Open(context.Background(), path)
	wantError(t, "Open(a file from a newer tally)", err, credit.Internal, "schema_too_new")
}

func TestJournal_AppendOnly(t *testing.T) {
	db := MustOpenDB(t)
	newAccount(t, db, "acme", 0, credit.Whole(5))
	storetest.MustApply(t, db, "acme", &credit.Change{Entries: []credit.Entry{{Kind: credit.EntryGrant, Account: "acme", Time: t0, Ref: "grt_acme",
		AvailableDelta: credit.Whole(5), AvailableAfter: credit.Whole(5), Postings: []credit.Posting{
			{Account: credit.PlatformAccount, Book: credit.BookIssued, Amount: -credit.Whole(5)},
			{Account: "acme", Book: credit.BookAvailable, Grant: "grt_acme", Amount: credit.Whole(5)},
		}}}})

	// Another connection, as any tool could open it: the file refuses.
	raw, err := sql.Open("sqlite", db.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, stmt := range []string{
		`UPDATE transactions SET memo = 'fixed'`,
		`UPDATE transactions SET available_delta = 0`,
		`DELETE FROM transactions`,
		`UPDATE postings SET amount = 0`,
		`DELETE FROM postings`,
	} {
		_, err := raw.Exec(stmt)
		var se *sqlite.Error
		if !errors.As(err, &se) || se.Code() != sqlite3.SQLITE_CONSTRAINT_TRIGGER {
			t.Errorf("Exec(%q) = %v; want a SQLITE_CONSTRAINT_TRIGGER error", stmt, err)
		}
	}
	var n, sum int64
	if err := raw.QueryRow(`SELECT count(*), sum(amount) FROM postings`).Scan(&n, &sum); err != nil {
		t.Fatal(err)
	}
	if n != 2 || sum != 0 {
		t.Errorf("postings after the refused changes: %d rows summing to %d; want 2 rows summing to 0", n, sum)
	}
}

// Real driver errors, made on purpose on files of their own, translate by
// result code to Unavailable.
func TestStoreError_Unavailable(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	open := func(dsn string) *sql.DB {
		db, err := sql.Open("sqlite", dsn)
		if err != nil {
			t.Fatal(err)
		}
		db.SetMaxOpenConns(1)
		t.Cleanup(func() { db.Close() })
		return db
	}
	path := filepath.Join(dir, "x.db")
	rw := open(path)
	if _, err := rw.Exec(`CREATE TABLE t (b BLOB)`); err != nil {
		t.Fatal(err)
	}

	t.Run("SQLITE_FULL", func(t *testing.T) {
		small := open(filepath.Join(dir, "full.db"))
		if _, err := small.Exec(`CREATE TABLE t (b BLOB)`); err != nil {
			t.Fatal(err)
		}
		if _, err := small.Exec(`PRAGMA max_page_count = 4`); err != nil {
			t.Fatal(err)
		}
		_, err := small.Exec(`INSERT INTO t VALUES (zeroblob(100000))`)
		if sqliteCode(err)&0xff != sqlite3.SQLITE_FULL {
			t.Fatalf("insert past max_page_count = %v; want SQLITE_FULL", err)
		}
		e := tsqlite.StoreError(ctx, "append transaction", err)
		wantError(t, "StoreError(SQLITE_FULL)", e, credit.Unavailable, "store_unavailable")
		if !strings.Contains(e.Message, "disk is full") {
			t.Errorf("message %q does not name the condition", e.Message)
		}
	})
	t.Run("SQLITE_READONLY", func(t *testing.T) {
		ro := open("file:" + path + "?mode=ro")
		_, err := ro.Exec(`INSERT INTO t VALUES (x'00')`)
		if sqliteCode(err)&0xff != sqlite3.SQLITE_READONLY {
			t.Fatalf("insert on a mode=ro connection = %v; want SQLITE_READONLY", err)
		}
		wantError(t, "StoreError(SQLITE_READONLY)", tsqlite.StoreError(ctx, "commit", err), credit.Unavailable, "store_unavailable")
	})
	t.Run("SQLITE_BUSY", func(t *testing.T) {
		holder, err := rw.Begin()
		if err != nil {
			t.Fatal(err)
		}
		defer holder.Rollback()
		if _, err := holder.Exec(`INSERT INTO t VALUES (x'01')`); err != nil {
			t.Fatal(err)
		}
		other := open(path + "?_pragma=busy_timeout(0)")
		_, err = other.Exec(`INSERT INTO t VALUES (x'02')`)
		if sqliteCode(err)&0xff != sqlite3.SQLITE_BUSY {
			t.Fatalf("insert while another connection writes = %v; want SQLITE_BUSY", err)
		}
		wantError(t, "StoreError(SQLITE_BUSY)", tsqlite.StoreError(ctx, "begin", err), credit.Unavailable, "store_unavailable")
	})
	t.Run("other", func(t *testing.T) {
		_, err := rw.Exec(`INSERT INTO nosuchtable VALUES (1)`)
		e := tsqlite.StoreError(ctx, "insert", err)
		wantError(t, "StoreError(no such table)", e, credit.Internal, "store_error")
		if !strings.Contains(e.Message, "insert") || !strings.Contains(e.Message, "nosuchtable") {
			t.Errorf("Internal message %q does not say the operation and the driver's text", e.Message)
		}
		var se *sqlite.Error
		if errors.As(e, &se) {
			t.Errorf("StoreError wraps the driver error; it must not")
		}
	})
}

func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}

// The path reaches SQLite as a file: URI; characters that mean something in a
// URI must not cut it short.
func TestOpen_OddPath(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a b?c#d%e&f", "tally.db")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	db := MustOpenPath(t, path)
	newAccount(t, db, "acme", 0, 0)
	if _, err := os.Stat(path); err != nil {
		t.Errorf("the database is not at %q: %v", path, err)
	}
}

func TestOpen_CantOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "dir", "tally.db")
	db, err := tsqlite.Open(context.Background(), path)
	if err == nil {
		db.Close()
	}
	wantError(t, "Open(a path in a missing directory)", err, credit.Unavailable, "store_unavailable")
}

// TestMigrateBackfillsUsageRollup: see storetest.RunUsageBackfill. The file
// goes back to schema 3, every migration after it undone, and Migrate brings
// it from there, with its journal, to the current schema.
func TestMigrateBackfillsUsageRollup(t *testing.T) {
	db := MustOpenDB(t)
	storetest.RunUsageBackfill(t, db, func(ctx context.Context) error {
		for _, q := range []string{
			`DROP VIEW ledger_changes`, // and its trigger (0006, replaced by 0007, 0008, 0009 and 0010)
			// 0010 (the audit log and API keys keep their wider CHECKs)
			`DROP TABLE liability_daily`,
			`DROP TABLE consumption_daily`,
			`DROP INDEX generations_account`,
			`DROP INDEX generations_charged`,
			`DROP INDEX audit_log_target`,
			// 0009 (the audit log keeps its wider CHECK)
			`DROP TABLE deliveries`,
			`DROP TABLE webhooks`,
			`DROP TABLE topups`,
			`DROP TABLE events`,
			`DROP INDEX grants_warn`,
			`ALTER TABLE accounts DROP COLUMN low_balance`,
			`ALTER TABLE accounts DROP COLUMN auto_topup_threshold`,
			`ALTER TABLE accounts DROP COLUMN auto_topup_amount`,
			`ALTER TABLE accounts DROP COLUMN auto_topup_cap`,
			`ALTER TABLE grants DROP COLUMN warned_at`,
			`ALTER TABLE member_periods DROP COLUMN reached`,
			// 0008 (the audit log keeps its wider CHECK)
			`DROP TRIGGER transactions_usage_daily`,
			`DROP TABLE member_periods`,
			`DROP TABLE members`,
			`DROP INDEX transactions_member`,
			`ALTER TABLE accounts DROP COLUMN kind`,
			`ALTER TABLE holds DROP COLUMN member`,
			`ALTER TABLE holds DROP COLUMN member_period`,
			`ALTER TABLE generations DROP COLUMN member`,
			`ALTER TABLE transactions DROP COLUMN member`,
			`ALTER TABLE api_keys DROP COLUMN member`,
			// 0007
			`DROP TABLE subscriptions`,
			`ALTER TABLE accounts DROP COLUMN plan`,
			`ALTER TABLE accounts DROP COLUMN time_zone`,
			`ALTER TABLE accounts DROP COLUMN daily`,
			`ALTER TABLE grants DROP COLUMN applies_to`,
			`ALTER TABLE grants DROP COLUMN subscription`,
			`ALTER TABLE grants DROP COLUMN period`,
			`ALTER TABLE generations DROP COLUMN "window"`,
			`ALTER TABLE generations DROP COLUMN lane`,
			`ALTER TABLE generations DROP COLUMN list_credits`,
			`ALTER TABLE transactions DROP COLUMN list_credits`,
			// 0006
			`DROP INDEX grants_working`,
			// 0005
			`DROP INDEX idempotency_created`,
			// 0004
			`DROP TABLE usage_daily`,
			`DELETE FROM schema_migrations WHERE version > 3`,
		} {
			if _, err := db.Writer().ExecContext(ctx, q); err != nil {
				return fmt.Errorf("%s: %w", q, err)
			}
		}
		return nil
	}, db.Migrate)
}

// TestStatementsPerWrite: a write on SQLite runs two statements between
// BEGIN and COMMIT, one that loads its account's state and one that applies
// what the ledger decided, however many rows it touches.
func TestStatementsPerWrite(t *testing.T) {
	db := MustOpenDB(t)
	storetest.CheckWriteCounts(t, db, db.Statements, 3)
}

// TestCacheSeesOtherWriters: the writer keeps busy accounts' states in
// memory between writes, and a write by another connection to the file (the
// CLI while tally serve runs) must empty it: a hold of 15 is covered only by
// the 10 granted here and the 5 granted through the other connection.
func TestCacheSeesOtherWriters(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	serve := credit.NewLedger(db, credit.LedgerConfig{})
	if _, err := serve.CreateAccount(ctx, nil, "x", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := serve.AddGrant(ctx, nil, "x", credit.GrantSpec{Credits: credit.Whole(10), Source: credit.SourceTopup}); err != nil {
		t.Fatal(err)
	}
	cli, err := tsqlite.OpenExisting(ctx, db.Path())
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	if _, err := credit.NewLedger(cli, credit.LedgerConfig{}).AddGrant(ctx, nil, "x", credit.GrantSpec{Credits: credit.Whole(5), Source: credit.SourcePromo}); err != nil {
		t.Fatal(err)
	}
	h, err := serve.CreateHold(ctx, nil, "x", credit.HoldSpec{Credits: credit.Whole(15)})
	if err != nil {
		t.Fatalf("CreateHold(15) after the other connection's grant of 5 = %v; want it held from 10 + 5", err)
	}
	if len(h.Allocations) != 2 {
		t.Errorf("the hold took %d grants; want both", len(h.Allocations))
	}
	if vs, err := serve.Verify(ctx); err != nil || len(vs) > 0 {
		t.Errorf("Verify = %v, %v", vs, err)
	}
}

// TestWriteQueriesUseIndexes: the statements of a write (and the sweeper's,
// the feed's and the webhooks' reads) find their rows by an index, so a
// write costs the same on a file of a million entries as on an empty one.
// SQLite's plan of each names every table it reads; none may be a SCAN (a
// table-valued json_each is one, and is the document's; webhooks, a few
// rows, are scanned), and those that alias their tables must name the
// indexes they are written for.
func TestWriteQueriesUseIndexes(t *testing.T) {
	db := MustOpenDB(t)
	for _, tc := range []struct {
		name, query string
		args        []any
		uses        []string // indexes the plan must name
	}{
		{"load", tsqlite.LoadQuery, []any{"a", `["h"]`, `["g"]`, `[["s","k"]]`, `["m"]`, 1, 0, `["t"]`},
			[]string{"topups_pending", "topups_recent"}},
		{"preamble", tsqlite.PreambleQuery, []any{"[]"}, nil},
		{"due subscriptions", tsqlite.DueSubscriptionsQuery, []any{1, 10}, nil},
		{"warn grants", tsqlite.WarnGrantsQuery, []any{1, 10}, []string{"grants_warn"}},
		{"events", tsqlite.EventsQuery, []any{0, `["grant.created"]`, 10}, []string{"INTEGER PRIMARY KEY (rowid>?)"}},
		{"account events", tsqlite.AccountEventsQuery, []any{0, nil, 10, "a"}, []string{"events_account (account=? AND seq>?)"}},
		{"claim", tsqlite.ClaimQuery, []any{1, 10}, []string{"deliveries_due (next_at<?)"}},
		{"outbox lag", tsqlite.OutboxLagQuery, nil, []string{"deliveries_due", "INTEGER PRIMARY KEY (rowid>?)"}},
	} {
		name := tc.name
		rows, err := db.Writer().Query(`EXPLAIN QUERY PLAN `+tc.query, tc.args...)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		for _, line := range plan {
			for _, table := range []string{"accounts", "grants", "holds", "hold_allocations", "generations", "idempotency", "subscriptions",
				"members", "member_periods", "topups", "events", "deliveries"} {
				if strings.HasPrefix(line, "SCAN "+table+" ") || line == "SCAN "+table {
					t.Errorf("%s scans %s:\n  %s", name, table, strings.Join(plan, "\n  "))
				}
			}
		}
		for _, index := range tc.uses {
			if !strings.Contains(strings.Join(plan, "\n"), index) {
				t.Errorf("%s does not use %s:\n  %s", name, index, strings.Join(plan, "\n  "))
			}
		}
	}
}
