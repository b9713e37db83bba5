package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/storetest"
)

// TestCatalogStore runs the CatalogStore conformance tests on two handles on
// one file, as two processes would open it.
func TestCatalogStore(t *testing.T) {
	storetest.RunCatalogs(t, func(t *testing.T) (credit.CatalogStore, credit.CatalogStore) {
		path := filepath.Join(t.TempDir(), "tally.db")
		return MustOpenPath(t, path), MustOpenPath(t, path)
	})
}
