package httpapi_test

import (
	"testing"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/httpapi"
)

// eachStore runs f against a ledger server with the built-in catalog on each
// of stores, as subtests named after the store: an answer of the API must not
// depend on the store.
func eachStore(t *testing.T, f func(t *testing.T, e *Env)) {
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			f(t, mustLedgerServerOn(t, s.open(t), httpapi.Config{Catalog: catalog.Default()}))
		})
	}
}
