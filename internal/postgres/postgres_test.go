package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/postgres"
	"github.com/tally-credits/tally/internal/storetest"
)

// testDSN returns the DSN of the PostgreSQL the tests use, from
// TALLY_TEST_POSTGRES. Unset, the test is skipped, visibly, except in CI (CI=1
// or TALLY_REQUIRE_POSTGRES=1), where a skip would hide a missing database
// and is a failure.
func testDSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv("TALLY_TEST_POSTGRES")
	if dsn == "" {
		if os.Getenv("CI") == "1" || os.Getenv("TALLY_REQUIRE_POSTGRES") == "1" {
			tb.Fatal("TALLY_TEST_POSTGRES not set, and CI=1 or TALLY_REQUIRE_POSTGRES=1 requires the PostgreSQL tests")
		}
		tb.Skip("TALLY_TEST_POSTGRES not set: skipping PostgreSQL tests")
	}
	return dsn
}

// NewDatabase creates a fresh, empty database on the server of
// TALLY_TEST_POSTGRES, dropped (WITH (FORCE)) when the test ends, and
// returns its DSN. An unreachable server fails the test.
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	dsn := testDSN(tb)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		tb.Fatalf("TALLY_TEST_POSTGRES is set but PostgreSQL is unreachable: %v", err)
	}
	defer admin.Close(ctx)
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	name := "tally_test_" + hex.EncodeToString(b)
	if _, err := admin.Exec(ctx, `CREATE DATABASE `+name); err != nil {
		tb.Fatalf("CREATE DATABASE %s: %v", name, err)
	}
	tb.Cleanup(func() {
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			tb.Errorf("drop database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			tb.Errorf("DROP DATABASE %s: %v", name, err)
		}
	})
	return withDatabase(tb, dsn, name)
}

// withDatabase returns dsn with its database replaced by name.
func withDatabase(tb testing.TB, dsn, name string) string {
	tb.Helper()
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			tb.Fatalf("TALLY_TEST_POSTGRES: %v", err)
		}
		u.Path = "/" + name
		return u.String()
	}
	return dsn + " dbname=" + name // key=value: the last one wins
}

// MustOpenDB opens the store on a fresh database, closed when the test ends
// (before the database is dropped).
func MustOpenDB(tb testing.TB) *postgres.DB {
	tb.Helper()
	return MustOpenDSN(tb, NewDatabase(tb))
}

// MustOpenDSN opens the store at dsn, closed when the test ends.
func MustOpenDSN(tb testing.TB, dsn string) *postgres.DB {
	tb.Helper()
	db, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		tb.Fatalf("Open = %v", err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("Close() = %v", err)
		}
	})
	return db
}

// mustUpdate runs fn in an Update and fails the test on an error.
func mustUpdate(tb testing.TB, db *postgres.DB, fn func(credit.Tx) error) {
	tb.Helper()
	if err := db.Update(context.Background(), fn); err != nil {
		tb.Fatalf("Update: %v", err)
	}
}

// mustView runs fn in a View and fails the test on an error.
func mustView(tb testing.TB, db *postgres.DB, fn func(credit.Tx) error) {
	tb.Helper()
	if err := db.View(context.Background(), fn); err != nil {
		tb.Fatalf("View: %v", err)
	}
}

// wantError checks an error's code and reason.
func wantError(tb testing.TB, what string, err error, code, reason string) {
	tb.Helper()
	if got := credit.ErrorCode(err); got != code {
		tb.Errorf("%s = %v (code %q); want code %q", what, err, got, code)
		return
	}
	if got := credit.ErrorReason(err); reason != "" && got != reason {
		tb.Errorf("%s reason = %q (%v); want %q", what, got, err, reason)
	}
}

// TestMigrateBackfillsUsageRollup: see storetest.RunUsageBackfill.
func TestMigrateBackfillsUsageRollup(t *testing.T) {
	db := MustOpenDB(t)
	storetest.RunUsageBackfill(t, db, func(ctx context.Context) error {
		_, err := db.Pool().Exec(ctx, `DROP TRIGGER transactions_usage_daily ON transactions;
			DROP FUNCTION usage_daily_add();
			DROP TABLE usage_daily;
			DELETE FROM schema_migrations WHERE version = 4;`)
		return err
	}, db.Migrate)
}
