package postgres_test

import (
	"testing"

	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/postgres/pgtest"
	"github.com/tally-credits/tally/internal/storetest"
)

// TestConformance runs the suite every store runs (internal/storetest) on
// PostgreSQL, a fresh database per subtest.
func TestConformance(t *testing.T) {
	pgtest.DSN(t)
	storetest.Run(t, func(t *testing.T) credit.Store { return pgtest.Open(t) })
}
