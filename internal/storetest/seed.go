package storetest

import (
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// flowSeedHistory seeds seven cycles of two templates (a 5-credit and a
// 3-credit generation) and checks the journal by hand arithmetic: one pass
// costs 8, seven cycles are three passes and a first template, 3·8 + 5 = 29;
// the grant is that and a thousand of the first template over, 29 + 5000 =
// 5029, so 5000 stay available. Verify (at the test's end) accepts every
// row, as it would the ledger's own; the seeded account keeps working.
func flowSeedHistory(t *testing.T, e *env) {
	e.account("h", 0)
	five := credit.Generation{Model: "flux-dev", Kind: credit.KindImage, CatalogVersion: "v1", Images: 1, ImagesDelivered: 1,
		HoldCredits: credit.Whole(5), UnitCredits: credit.Whole(5), Charged: credit.Whole(5), Quote: []byte(`{"model":"flux-dev"}`)}
	three := credit.Generation{Model: "nano-banana", Kind: credit.KindImage, CatalogVersion: "v1", Images: 3, ImagesDelivered: 3,
		HoldCredits: credit.Whole(3), UnitCredits: credit.Whole(1), Charged: credit.Whole(3)}
	to := t0
	from := to.Add(-7 * time.Hour)
	n, err := credit.SeedHistory(e.ctx, e.store, "h", 7, from, to, []credit.Generation{five, three})
	if err != nil {
		t.Fatalf("SeedHistory = %v", err)
	}
	if n != 15 {
		t.Errorf("SeedHistory wrote %d entries; want 1 + 2·7 = 15", n)
	}
	e.balances("h", credit.Whole(5000), 0)
	journal := e.journal("h")
	if len(journal) != 15 {
		t.Fatalf("the journal has %d entries; want 15", len(journal))
	}
	var charged credit.Credits
	for _, x := range journal {
		charged += x.ChargedDelta
	}
	if charged != credit.Whole(29) {
		t.Errorf("the journal charges %s; want 29", charged)
	}
	_, err = credit.SeedHistory(e.ctx, e.store, "h", 1, from, to, []credit.Generation{five})
	wantErr(t, "SeedHistory on a seeded account", err, credit.Invalid, "account_not_empty")
	_, err = credit.SeedHistory(e.ctx, e.store, "nobody", 1, from, to, []credit.Generation{five})
	wantErr(t, "SeedHistory on no account", err, credit.NotFound, "unknown_account")
	// 5000 − 5 = 4995 after one more image through the ledger.
	e.complete(e.generation("h", credit.QuoteRequest{Model: "flux-dev", Images: 1}).ID, 1)
	e.balances("h", credit.Whole(4995), 0)
}
