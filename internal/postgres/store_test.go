package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/postgres"
	"github.com/tally-credits/tally/internal/postgres/pgtest"
)

// t0 is a time with microseconds, the store's precision.
var t0 = time.Date(2025, 3, 14, 9, 26, 53, 589793000, time.UTC)

// newAccount creates an account through the ledger, with a never-expiring
// topup grant of `available` if it is not zero.
func newAccount(tb testing.TB, db *postgres.DB, id string, overdraft, available credit.Credits) {
	tb.Helper()
	ctx := context.Background()
	l := newLedger(db, func() time.Time { return t0 })
	if _, err := l.CreateAccount(ctx, nil, id, overdraft); err != nil {
		tb.Fatalf("CreateAccount: %v", err)
	}
	if available == 0 {
		return
	}
	if _, err := l.AddGrant(ctx, nil, id, credit.GrantSpec{Credits: available, Source: credit.SourceTopup}); err != nil {
		tb.Fatalf("AddGrant: %v", err)
	}
}

// TestErrors_AbortedTransaction: a refused write aborts PostgreSQL's
// transaction, so a refusal fn swallows still keeps the rest from committing:
// the commit answers with it. (The refusals themselves, on every store:
// storetest's Tx/Errors.)
func TestErrors_AbortedTransaction(t *testing.T) {
	db := pgtest.Open(t)
	ctx := context.Background()
	key := credit.Key{ID: "k", Hash: []byte{1}, Scope: credit.ScopeAdmin, CreatedAt: t0}
	err := db.Update(ctx, func(tx credit.Tx) error {
		if err := tx.InsertKey(key); err != nil {
			return err
		}
		_ = tx.InsertKey(key)
		return nil
	})
	wantError(t, "KeyExists swallowed: Update", err, credit.Conflict, "key_exists")
	mustView(t, db, func(tx credit.Tx) error {
		if ks, err := tx.Keys(); err != nil || len(ks) != 0 {
			t.Errorf("Keys after refused transactions = %v, %v; want none", ks, err)
		}
		return nil
	})
}

func TestStoreError_SQLSTATE(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		err          error
		code, reason string
	}{
		{&pgconn.PgError{Code: "57014"}, credit.Unavailable, "store_unavailable"},
		{&pgconn.PgError{Code: "57P01"}, credit.Unavailable, "store_unavailable"},
		{&pgconn.PgError{Code: "57P03"}, credit.Unavailable, "store_unavailable"},
		{&pgconn.PgError{Code: "53300"}, credit.Unavailable, "store_unavailable"},
		{&pgconn.PgError{Code: "53100"}, credit.Unavailable, "store_unavailable"},
		{&pgconn.PgError{Code: "08006"}, credit.Unavailable, "store_unavailable"},
		{&pgconn.PgError{Code: "40001"}, credit.Unavailable, "store_unavailable"},
		{&pgconn.PgError{Code: "40P01"}, credit.Unavailable, "store_unavailable"},
		{&pgconn.PgError{Code: "23514"}, credit.Internal, "store_error"},
		{&pgconn.PgError{Code: "42P01"}, credit.Internal, "store_error"},
		{fmt.Errorf("read: %w", io.ErrUnexpectedEOF), credit.Unavailable, "store_unavailable"},
		{&pgconn.ConnectError{}, credit.Unavailable, "store_unavailable"},
		{context.Canceled, credit.Unavailable, "canceled"},
		{errors.New("cannot scan"), credit.Internal, "store_error"},
	} {
		e := postgres.StoreError(ctx, "op", tc.err)
		if e.Code != tc.code || e.Reason != tc.reason {
			t.Errorf("StoreError(%#v) = %s/%s; want %s/%s", tc.err, e.Code, e.Reason, tc.code, tc.reason)
		}
	}
}

// TestStatementTimeout: the default applies unless the DSN sets one, and a
// statement past it is Unavailable.
func TestStatementTimeout(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	ctx := context.Background()
	show := func(db *postgres.DB) string {
		var s string
		if err := db.Pool().QueryRow(ctx, `SHOW statement_timeout`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	if got := show(pgtest.OpenDSN(t, dsn)); got != "30s" {
		t.Errorf("statement_timeout = %q; want the default 30s", got)
	}
	db := pgtest.OpenDSN(t, dsn+"&statement_timeout=50")
	if got := show(db); got != "50ms" {
		t.Errorf("statement_timeout with the DSN's 50 = %q; want 50ms", got)
	}
	err := db.Update(ctx, func(tx credit.Tx) error {
		_, err := tx.Account("x' OR pg_sleep(1) IS NULL OR 'x") // a parameter: no injection; still fast
		return err
	})
	wantError(t, "Account(odd id)", err, credit.NotFound, "unknown_account")
	_, err = db.Pool().Exec(ctx, `SELECT pg_sleep(1)`)
	if e := postgres.StoreError(ctx, "sleep", err); e.Code != credit.Unavailable {
		t.Errorf("a statement past statement_timeout = %v (%s); want Unavailable", err, e.Code)
	}
}

func TestJournal_AppendOnly(t *testing.T) {
	db := pgtest.Open(t)
	newAccount(t, db, "acme", 0, credit.Whole(1)) // one entry, of two postings
	ctx := context.Background()
	for _, q := range []string{
		`UPDATE transactions SET memo = 'x'`,
		`DELETE FROM transactions`,
		`TRUNCATE transactions CASCADE`,
		`UPDATE postings SET amount = 0`,
		`DELETE FROM postings`,
		`TRUNCATE postings`,
	} {
		_, err := db.Pool().Exec(ctx, q)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || pe.Code != "23001" {
			t.Errorf("%s = %v; want the trigger's restrict_violation (23001)", q, err)
		}
	}
	var n int
	if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM postings`).Scan(&n); err != nil || n != 2 {
		t.Errorf("postings after the refused changes = %d, %v; want 2", n, err)
	}
}

func TestMigrate_TwiceAndRacing(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	ctx := context.Background()
	// Eight nodes start together on a new database.
	var wg sync.WaitGroup
	dbs := make([]*postgres.DB, 8)
	errs := make([]error, 8)
	for i := range dbs {
		wg.Go(func() { dbs[i], errs[i] = postgres.Open(ctx, dsn) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("Open %d of 8 at once = %v", i, err)
		}
		t.Cleanup(func() { dbs[i].Close() })
	}
	db := dbs[0]
	versions := func() string {
		var s string
		if err := db.Pool().QueryRow(ctx, `SELECT string_agg(version || '@' || applied_at::text, ',') FROM schema_migrations`).Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	before := versions()
	for range 2 {
		if err := db.Migrate(ctx); err != nil {
			t.Fatalf("Migrate() = %v", err)
		}
	}
	if after := versions(); after != before {
		t.Errorf("schema_migrations after Migrate twice = %q; want %q", after, before)
	}
	if _, err := db.Pool().Exec(ctx, `INSERT INTO schema_migrations (version) VALUES (9999)`); err != nil {
		t.Fatal(err)
	}
	_, err := postgres.Open(ctx, dsn)
	wantError(t, "Open(a database from a newer tally)", err, credit.Internal, "schema_too_new")
}

func TestOpen_Unreachable(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := postgres.Open(ctx, "postgres://postgres@127.0.0.1:1/postgres?sslmode=disable&connect_timeout=2")
	wantError(t, "Open(nothing listening)", err, credit.Unavailable, "store_unavailable")
}
