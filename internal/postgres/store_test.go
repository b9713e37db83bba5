package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
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

// newAccount creates an account with its overdraft grant, and with a
// never-expiring topup grant of `available` if it is not zero.
func newAccount(tb testing.TB, db *postgres.DB, id string, overdraft, available credit.Credits) {
	tb.Helper()
	mustUpdate(tb, db, func(tx credit.Tx) error {
		a := credit.Account{ID: id, Overdraft: overdraft, CreatedAt: t0}
		g := credit.Grant{ID: "ovd_" + id, Account: id, Source: credit.SourceOverdraft, Priority: 1 << 31, CreatedAt: t0}
		if err := tx.InsertAccount(a, g); err != nil {
			return err
		}
		if available == 0 {
			return nil
		}
		if err := tx.InsertGrant(credit.Grant{ID: "grt_" + id, Account: id, Source: credit.SourceTopup,
			Granted: available, Remaining: available, CreatedAt: t0}); err != nil {
			return err
		}
		_, err := tx.AddBalances(id, available, 0)
		return err
	})
}

func TestRoundTrip(t *testing.T) {
	db := pgtest.Open(t)
	newAccount(t, db, "acme", 5000, 0)
	exp := t0.Add(time.Hour)
	grant := credit.Grant{ID: "grt_1", Account: "acme", Source: credit.SourcePromo, Granted: 7000, Remaining: 7000,
		Priority: 2, ExpiresAt: exp, CreatedAt: t0, Memo: "welcome", PaidBack: 0}
	gen := credit.Generation{ID: "gen_1", Account: "acme", Status: credit.GenerationHeld, Hold: "hld_1", Model: "flux-dev",
		Kind: "image", CatalogVersion: "v1", Images: 2, HoldCredits: 10000, UnitCredits: 5000, Quote: []byte(`{"total":10}`),
		ExpiresAt: exp, CreatedAt: t0}
	hold := credit.Hold{ID: "hld_1", Account: "acme", Generation: "gen_1", Amount: 10000, Status: credit.HoldOpen,
		ExpiresAt: exp, CreatedAt: t0, Allocations: []credit.Allocation{{Grant: "grt_1", Amount: 7000}, {Grant: "ovd_acme", Amount: 3000}}}
	key := credit.Key{ID: "k1", Hash: []byte{1, 2, 3}, Scope: credit.ScopeAccount, Account: "acme", Name: "ro", CreatedAt: t0}
	rec := credit.IdempotencyRecord{Idempotency: credit.Idempotency{Scope: "s", Key: "k", Hash: "h"}, Response: []byte(`{}`), CreatedAt: t0}
	x := &credit.Transaction{Kind: credit.TxGrant, Account: "acme", Time: t0, Ref: "grt_1", Memo: "welcome",
		AvailableDelta: 7000, AvailableAfter: 7000,
		Postings: []credit.Posting{{Account: "platform", Book: credit.BookIssued, Amount: -7000}, {Account: "acme", Book: credit.BookAvailable, Grant: "grt_1", Amount: 7000}}}
	mustUpdate(t, db, func(tx credit.Tx) error {
		if err := tx.InsertGrant(grant); err != nil {
			return err
		}
		if err := tx.InsertGeneration(gen); err != nil {
			return err
		}
		if err := tx.InsertHold(hold); err != nil {
			return err
		}
		if err := tx.InsertKey(key); err != nil {
			return err
		}
		if err := tx.PutIdempotency(rec); err != nil {
			return err
		}
		return tx.AppendTransaction(x)
	})
	if x.ID <= 0 {
		t.Errorf("AppendTransaction set ID %d; want > 0", x.ID)
	}
	mustView(t, db, func(tx credit.Tx) error {
		if got, err := tx.Grant("grt_1"); err != nil || !reflect.DeepEqual(got, grant) {
			t.Errorf("Grant = %+v, %v; want %+v", got, err, grant)
		}
		if got, err := tx.Generation("gen_1"); err != nil || !reflect.DeepEqual(got, gen) {
			t.Errorf("Generation = %+v, %v; want %+v", got, err, gen)
		}
		if got, err := tx.Hold("hld_1"); err != nil || !reflect.DeepEqual(got, hold) {
			t.Errorf("Hold = %+v, %v; want %+v", got, err, hold)
		}
		if got, err := tx.Key("k1"); err != nil || !reflect.DeepEqual(got, key) {
			t.Errorf("Key = %+v, %v; want %+v", got, err, key)
		}
		if got, err := tx.Idempotency("s", "k"); err != nil || got == nil || !reflect.DeepEqual(*got, rec) {
			t.Errorf("Idempotency = %+v, %v; want %+v", got, err, rec)
		}
		if got, err := tx.Idempotency("s", "other"); err != nil || got != nil {
			t.Errorf("Idempotency(unknown) = %+v, %v; want nil, nil", got, err)
		}
		es, err := tx.Entries("acme", 0, 10)
		if err != nil || len(es) != 1 || !reflect.DeepEqual(es[0], *x) {
			t.Errorf("Entries = %+v, %v; want [%+v]", es, err, *x)
		}
		open, err := tx.OpenHolds("acme")
		if err != nil || len(open) != 1 || open[0].ID != "hld_1" {
			t.Errorf("OpenHolds = %+v, %v; want [hld_1]", open, err)
		}
		due, err := tx.DueHolds("", exp, 10)
		if err != nil || len(due) != 1 {
			t.Errorf("DueHolds(at expiry) = %+v, %v; want hld_1", due, err)
		}
		dg, err := tx.DueGrants("acme", exp.Add(-time.Microsecond), 10)
		if err != nil || len(dg) != 0 {
			t.Errorf("DueGrants(before expiry) = %+v, %v; want none", dg, err)
		}
		return nil
	})
	// Allocations shrink and grow through UpdateHold.
	hold.Allocations = []credit.Allocation{{Grant: "grt_1", Amount: 10000, Captured: 4000}}
	hold.Captured, hold.Released, hold.Status, hold.ResolvedAt = 4000, 6000, credit.HoldCaptured, t0.Add(time.Minute)
	mustUpdate(t, db, func(tx credit.Tx) error { return tx.UpdateHold(hold) })
	mustView(t, db, func(tx credit.Tx) error {
		if got, err := tx.Hold("hld_1"); err != nil || !reflect.DeepEqual(got, hold) {
			t.Errorf("Hold after UpdateHold = %+v, %v; want %+v", got, err, hold)
		}
		return nil
	})
}

func TestReserve_Concurrent(t *testing.T) {
	db := pgtest.Open(t)
	newAccount(t, db, "acme", 0, credit.Whole(100))
	const clients = 64
	var wg sync.WaitGroup
	errs := make([]error, clients)
	start := make(chan struct{})
	for i := range clients {
		wg.Go(func() {
			<-start
			errs[i] = db.Update(context.Background(), func(tx credit.Tx) error {
				_, err := tx.Reserve("acme", credit.Whole(5))
				return err
			})
		})
	}
	close(start)
	wg.Wait()
	var ok, refused int
	for _, err := range errs {
		switch credit.ErrorCode(err) {
		case "":
			ok++
		case credit.InsufficientCredits:
			refused++
		default:
			t.Errorf("Reserve(5) = %v; want success or InsufficientCredits", err)
		}
	}
	if ok != 20 || refused != 44 {
		t.Errorf("64 × Reserve(5) of 100: %d succeeded, %d refused; want 20 and 44", ok, refused)
	}
	mustView(t, db, func(tx credit.Tx) error {
		a, err := tx.Account("acme")
		if err == nil && (a.Available != 0 || a.Held != credit.Whole(100)) {
			t.Errorf("after the race: Available %v, Held %v; want 0 and 100", a.Available, a.Held)
		}
		return err
	})
}

func TestReserve_Overdraft(t *testing.T) {
	db := pgtest.Open(t)
	newAccount(t, db, "acme", 10000, 0) // may go to -10 credits, no further
	for _, s := range []struct {
		amount    credit.Credits
		code      string
		available credit.Credits
	}{
		{4000, "", -4000},
		{6001, credit.InsufficientCredits, -4000},
		{6000, "", -10000},
		{1, credit.InsufficientCredits, -10000},
		{0, "", -10000},
	} {
		err := db.Update(context.Background(), func(tx credit.Tx) error {
			_, err := tx.Reserve("acme", s.amount)
			return err
		})
		if credit.ErrorCode(err) != s.code {
			t.Fatalf("Reserve(%v) = %v; want code %q", s.amount, err, s.code)
		}
		mustView(t, db, func(tx credit.Tx) error {
			a, err := tx.Account("acme")
			if err == nil && a.Available != s.available {
				t.Errorf("after Reserve(%v): Available %v; want %v", s.amount, a.Available, s.available)
			}
			return err
		})
	}
}

// TestErrors_Constraints: violations are translated by SQLSTATE and
// constraint name to the ledger's answers, and the transaction (which
// PostgreSQL aborted) is not committed even if fn ignores the error.
func TestErrors_Constraints(t *testing.T) {
	db := pgtest.Open(t)
	newAccount(t, db, "acme", 0, credit.Whole(1))
	ctx := context.Background()
	for _, tc := range []struct {
		name         string
		fn           func(tx credit.Tx) error
		code, reason string
	}{
		{"AccountExists", func(tx credit.Tx) error {
			return tx.InsertAccount(credit.Account{ID: "acme", CreatedAt: t0}, credit.Grant{ID: "ovd_x", Account: "acme", Source: credit.SourceOverdraft, CreatedAt: t0})
		}, credit.Conflict, "account_exists"},
		{"GrantIDExists", func(tx credit.Tx) error {
			return tx.InsertGrant(credit.Grant{ID: "grt_acme", Account: "acme", Source: credit.SourceTopup, CreatedAt: t0})
		}, credit.Conflict, "id_exists"},
		{"GrantUnknownAccount", func(tx credit.Tx) error {
			return tx.InsertGrant(credit.Grant{ID: "grt_x", Account: "nobody", Source: credit.SourceTopup, CreatedAt: t0})
		}, credit.NotFound, "unknown_account"},
		{"KeyExists", func(tx credit.Tx) error {
			k := credit.Key{ID: "k", Hash: []byte{1}, Scope: credit.ScopeAdmin, CreatedAt: t0}
			if err := tx.InsertKey(k); err != nil {
				return err
			}
			return tx.InsertKey(k)
		}, credit.Conflict, "key_exists"},
		{"KeyUnknownAccount", func(tx credit.Tx) error {
			return tx.InsertKey(credit.Key{ID: "k2", Hash: []byte{1}, Scope: credit.ScopeAccount, Account: "nobody", CreatedAt: t0})
		}, credit.NotFound, "unknown_account"},
		{"IdempotencyConflict", func(tx credit.Tx) error {
			r := credit.IdempotencyRecord{Idempotency: credit.Idempotency{Scope: "s", Key: "k", Hash: "h"}, CreatedAt: t0}
			if err := tx.PutIdempotency(r); err != nil {
				return err
			}
			return tx.PutIdempotency(r)
		}, credit.Conflict, "idempotency_conflict"},
		{"PostingUnknownGrant", func(tx credit.Tx) error {
			return tx.AppendTransaction(&credit.Transaction{Kind: credit.TxGrant, Account: "acme", Time: t0,
				Postings: []credit.Posting{{Account: "acme", Book: credit.BookAvailable, Grant: "grt_nope", Amount: 1}, {Account: "platform", Book: credit.BookIssued, Amount: -1}}})
		}, credit.NotFound, "unknown_grant"},
		{"AllocationUnknownGrant", func(tx credit.Tx) error {
			return tx.InsertHold(credit.Hold{ID: "hld_x", Account: "acme", Amount: 1, Status: credit.HoldOpen, ExpiresAt: t0, CreatedAt: t0,
				Allocations: []credit.Allocation{{Grant: "grt_nope", Amount: 1}}})
		}, credit.NotFound, "unknown_grant"},
		{"UnknownHold", func(tx credit.Tx) error { _, err := tx.Hold("hld_nope"); return err }, credit.NotFound, "unknown_hold"},
		{"UnknownGeneration", func(tx credit.Tx) error { _, err := tx.Generation("gen_nope"); return err }, credit.NotFound, "unknown_generation"},
		{"UnknownGrant", func(tx credit.Tx) error { return tx.UpdateGrant("grt_nope", 1, 0) }, credit.NotFound, "unknown_grant"},
		{"UnknownKey", func(tx credit.Tx) error { return tx.RevokeKey("nope", t0) }, credit.NotFound, "unknown_key"},
		{"CheckViolation", func(tx credit.Tx) error { return tx.UpdateGrant("grt_acme", -credit.Whole(2), 0) }, credit.Internal, "store_error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := db.Update(ctx, func(tx credit.Tx) error { return tc.fn(tx) })
			wantError(t, tc.name, err, tc.code, tc.reason)
			var pe *pgconn.PgError
			if errors.As(err, &pe) {
				t.Errorf("%s error wraps the driver's %T", tc.name, pe)
			}
			// Swallowed, the failure still keeps the transaction from committing.
			err = db.Update(ctx, func(tx credit.Tx) error { _ = tc.fn(tx); return nil })
			if credit.ErrorCode(err) != tc.code && tc.code != credit.NotFound {
				t.Errorf("%s swallowed: Update = %v; want the failure", tc.name, err)
			}
		})
	}
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

func TestUpdate_Canceled(t *testing.T) {
	db := pgtest.Open(t)
	newAccount(t, db, "acme", 0, 0)
	ctx, cancel := context.WithCancel(context.Background())
	err := db.Update(ctx, func(tx credit.Tx) error {
		cancel()
		_, err := tx.Account("acme")
		return err
	})
	wantError(t, "Update after cancel", err, credit.Unavailable, "canceled")
}

func TestView_WriteIsInternal(t *testing.T) {
	db := pgtest.Open(t)
	newAccount(t, db, "acme", 0, 0)
	err := db.View(context.Background(), func(tx credit.Tx) error {
		_, err := tx.AddBalances("acme", 1, 0)
		return err
	})
	wantError(t, "AddBalances in View", err, credit.Internal, "store_error")
}

func TestUpdate_RollbackOnError(t *testing.T) {
	db := pgtest.Open(t)
	boom := credit.Errorf(credit.Invalid, "boom", "boom")
	err := db.Update(context.Background(), func(tx credit.Tx) error {
		if err := tx.InsertAccount(credit.Account{ID: "acme", CreatedAt: t0}, credit.Grant{ID: "ovd_acme", Account: "acme", Source: credit.SourceOverdraft, CreatedAt: t0}); err != nil {
			return err
		}
		return boom
	})
	if err != boom {
		t.Fatalf("Update = %v; want fn's error", err)
	}
	mustView(t, db, func(tx credit.Tx) error {
		_, err := tx.Account("acme")
		wantError(t, "Account after rollback", err, credit.NotFound, "unknown_account")
		return nil
	})
}

func TestJournal_AppendOnly(t *testing.T) {
	db := pgtest.Open(t)
	newAccount(t, db, "acme", 0, credit.Whole(1))
	mustUpdate(t, db, func(tx credit.Tx) error {
		return tx.AppendTransaction(&credit.Transaction{Kind: credit.TxGrant, Account: "acme", Time: t0, Ref: "grt_acme",
			Postings: []credit.Posting{{Account: "platform", Book: credit.BookIssued, Amount: -1000}, {Account: "acme", Book: credit.BookAvailable, Grant: "grt_acme", Amount: 1000}}})
	})
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

func TestPing(t *testing.T) {
	db := pgtest.Open(t)
	if err := db.Ping(context.Background()); err != nil {
		t.Errorf("Ping() = %v", err)
	}
}
