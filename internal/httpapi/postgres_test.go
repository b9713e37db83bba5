package httpapi_test

import (
	"testing"

	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/postgres/pgtest"
)

// mustOpenPostgres opens a store on a fresh database of the PostgreSQL server
// named by TALLY_TEST_POSTGRES, closed and dropped when the test ends (see
// pgtest).
func mustOpenPostgres(tb testing.TB) credit.Store {
	tb.Helper()
	return pgtest.Open(tb)
}

// stores are the stores the tests that must hold on both run on.
var stores = []struct {
	name string
	open func(testing.TB) credit.Store
}{
	{"SQLite", mustOpenSQLite},
	{"PostgreSQL", mustOpenPostgres},
}
