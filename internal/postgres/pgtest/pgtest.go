// Package pgtest gives tests a PostgreSQL database of their own on the server
// named by TALLY_TEST_POSTGRES: created empty, dropped (WITH (FORCE)) when the
// test ends. Unset, a test that needs it is skipped, visibly, except in CI
// (CI=1 or TALLY_REQUIRE_POSTGRES=1), where a skip would hide a missing
// database and is a failure; set but unreachable is always a failure.
//
// The package is imported by tests only.
package pgtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tally-credits/tally/internal/postgres"
)

// DSN returns TALLY_TEST_POSTGRES, or skips the test (fails it in CI).
func DSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv("TALLY_TEST_POSTGRES")
	if dsn == "" {
		if os.Getenv("CI") == "1" || os.Getenv("TALLY_REQUIRE_POSTGRES") == "1" {
			tb.Fatal("TALLY_TEST_POSTGRES not set, and CI=1 or TALLY_REQUIRE_POSTGRES=1 requires the PostgreSQL tests")
		}
		tb.Skip("TALLY_TEST_POSTGRES not set: skipping the PostgreSQL tests")
	}
	return dsn
}

// URL returns TALLY_TEST_POSTGRES as DSN does, and skips the test unless it
// is a postgres:// URL, which `tally serve --db` needs.
func URL(tb testing.TB) string {
	tb.Helper()
	dsn := DSN(tb)
	if !isURL(dsn) {
		tb.Skip("TALLY_TEST_POSTGRES is not a postgres:// URL, which `tally serve --db` needs")
	}
	return dsn
}

// NewDatabase creates a fresh, empty database on the server of
// TALLY_TEST_POSTGRES, dropped when the test ends, and returns its DSN (a
// URL if TALLY_TEST_POSTGRES is one, key=value otherwise).
func NewDatabase(tb testing.TB) string {
	tb.Helper()
	dsn, drop := Create(tb, DSN(tb), "tally_test_")
	tb.Cleanup(drop)
	return dsn
}

// Create creates an empty database named prefix and a random suffix on the
// server of dsn, and returns its DSN and a function that drops it (WITH
// (FORCE)), once however often it is called. The caller must call drop: a
// benchmark whose database outlives the test function that made it drops it
// itself; a test uses NewDatabase.
func Create(tb testing.TB, dsn, prefix string) (own string, drop func()) {
	tb.Helper()
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		tb.Fatalf("TALLY_TEST_POSTGRES is set but PostgreSQL is unreachable: %v", err)
	}
	defer admin.Close(ctx)
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	name := prefix + hex.EncodeToString(b)
	if _, err := admin.Exec(ctx, `CREATE DATABASE `+name); err != nil {
		tb.Fatalf("CREATE DATABASE %s: %v", name, err)
	}
	var once sync.Once
	drop = func() {
		once.Do(func() {
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
	}
	if !isURL(dsn) {
		return dsn + " dbname=" + name, drop // key=value: the last one wins
	}
	u, err := url.Parse(dsn)
	if err != nil {
		drop()
		tb.Fatalf("TALLY_TEST_POSTGRES: %v", err)
	}
	u.Path = "/" + name
	return u.String(), drop
}

// Open opens the store on a fresh database, closed when the test ends
// (before the database is dropped).
func Open(tb testing.TB) *postgres.DB {
	tb.Helper()
	return OpenDSN(tb, NewDatabase(tb))
}

// OpenDSN opens the store at dsn, closed when the test ends.
func OpenDSN(tb testing.TB, dsn string) *postgres.DB {
	tb.Helper()
	db, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		tb.Fatalf("postgres.Open = %v", err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("Close() = %v", err)
		}
	})
	return db
}

func isURL(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}
