package httpapi_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/httpapi"
	"github.com/tally-credits/tally/internal/postgres"
	"github.com/tally-credits/tally/internal/sqlite"
)

// eachStore runs f against a ledger server on a fresh SQLite file and on a
// fresh PostgreSQL database, as subtests named SQLite and PostgreSQL: an
// answer of the API must not depend on the store. PostgreSQL runs when
// TALLY_TEST_POSTGRES holds a postgres:// URL; unset, that subtest skips
// (and fails under CI=1 or TALLY_REQUIRE_POSTGRES=1).
func eachStore(t *testing.T, f func(t *testing.T, e *Env)) {
	t.Run("SQLite", func(t *testing.T) {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "tally.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		f(t, serveLedger(t, httpapi.Config{Catalog: catalog.Default()}, db))
	})
	t.Run("PostgreSQL", func(t *testing.T) {
		db, err := postgres.Open(context.Background(), newPostgresDatabase(t))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		f(t, serveLedger(t, httpapi.Config{Catalog: catalog.Default()}, db))
	})
}

// newPostgresDatabase creates an empty database on the server of
// TALLY_TEST_POSTGRES, dropped when the test ends, and returns its URL.
func newPostgresDatabase(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("TALLY_TEST_POSTGRES")
	if dsn == "" {
		if os.Getenv("CI") == "1" || os.Getenv("TALLY_REQUIRE_POSTGRES") == "1" {
			t.Fatal("TALLY_TEST_POSTGRES not set, and CI=1 or TALLY_REQUIRE_POSTGRES=1 requires the PostgreSQL tests")
		}
		t.Skip("TALLY_TEST_POSTGRES not set: skipping the PostgreSQL half")
	}
	u, err := url.Parse(dsn)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		t.Fatalf("TALLY_TEST_POSTGRES is not a postgres:// URL: %q", dsn)
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("TALLY_TEST_POSTGRES is set but PostgreSQL is unreachable: %v", err)
	}
	defer admin.Close(ctx)
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	name := "tally_test_" + hex.EncodeToString(b)
	if _, err := admin.Exec(ctx, `CREATE DATABASE `+name); err != nil {
		t.Fatalf("CREATE DATABASE %s: %v", name, err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("DROP DATABASE %s: %v", name, err)
		}
	})
	u.Path = "/" + name
	return u.String()
}
