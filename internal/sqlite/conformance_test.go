package sqlite_test

import (
	"testing"

	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/storetest"
)

// TestConformance runs the suite every store runs (internal/storetest) on
// SQLite files, a fresh one per subtest.
func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) credit.Store { return MustOpenDB(t) })
}
