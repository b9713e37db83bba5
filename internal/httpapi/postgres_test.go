package httpapi_test

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
)

// mustOpenPostgres opens a store on a fresh database of the PostgreSQL server
// named by TALLY_TEST_POSTGRES, closed and dropped (WITH (FORCE)) when the
// test ends. Unset, the test is skipped, visibly, except in CI (CI=1 or
// TALLY_REQUIRE_POSTGRES=1), where a skip would hide a missing database and
// is a failure; set but unreachable is a failure.
func mustOpenPostgres(tb testing.TB) credit.Store {
	tb.Helper()
	dsn := os.Getenv("TALLY_TEST_POSTGRES")
	if dsn == "" {
		if os.Getenv("CI") == "1" || os.Getenv("TALLY_REQUIRE_POSTGRES") == "1" {
			tb.Fatal("TALLY_TEST_POSTGRES not set, and CI=1 or TALLY_REQUIRE_POSTGRES=1 requires the PostgreSQL tests")
		}
		tb.Skip("TALLY_TEST_POSTGRES not set: skipping the PostgreSQL half of this test")
	}
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
	tb.Cleanup(func() { // runs after the store's Close, registered below
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
	own := dsn + " dbname=" + name // key=value: the last one wins
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			tb.Fatalf("TALLY_TEST_POSTGRES: %v", err)
		}
		u.Path = "/" + name
		own = u.String()
	}
	db, err := postgres.Open(ctx, own)
	if err != nil {
		tb.Fatalf("postgres.Open: %v", err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("Close() = %v", err)
		}
	})
	return db
}

// stores are the stores the tests that must hold on both run on.
var stores = []struct {
	name string
	open func(testing.TB) credit.Store
}{
	{"SQLite", mustOpenSQLite},
	{"PostgreSQL", mustOpenPostgres},
}
