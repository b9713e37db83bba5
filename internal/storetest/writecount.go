package storetest

import (
	"context"
	"fmt"
	"testing"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
)

// BenchmarkWriteCounts runs lone generation cycles on store and reports, per
// create and per completion, what sent counts (a store's statement or round
// trip counter) moved by, as the metrics unit+"/create" and
// unit+"/complete". Each write carries an Idempotency-Key as the studio
// sends it, on an account with one grant: how chatty a write is decides how
// long it holds its store's writer or its account's lock.
func BenchmarkWriteCounts(b *testing.B, store credit.Store, sent func() int64, unit string) {
	ctx := context.Background()
	cat := catalog.Default()
	l := credit.NewLedger(store, credit.LedgerConfig{Catalog: func() *credit.Catalog { return cat }})
	if _, err := l.CreateAccount(ctx, nil, "solo", 0); err != nil {
		b.Fatal(err)
	}
	if _, err := l.AddGrant(ctx, nil, "solo", credit.GrantSpec{Credits: credit.Whole(1_000_000_000), Source: credit.SourceTopup}); err != nil {
		b.Fatal(err)
	}
	var creates, completes, n int64
	for b.Loop() {
		n++
		before := sent()
		g, err := l.CreateGeneration(ctx, &credit.Idempotency{Scope: "bench", Key: fmt.Sprint("c", n), Hash: "h"},
			credit.GenerationSpec{Account: "solo", Request: credit.QuoteRequest{Model: "flux-dev", Images: 1}})
		if err != nil {
			b.Fatal(err)
		}
		mid := sent()
		if _, err := l.CompleteGeneration(ctx, &credit.Idempotency{Scope: "bench", Key: fmt.Sprint("d", n), Hash: "h"}, g.ID, 1); err != nil {
			b.Fatal(err)
		}
		creates += mid - before
		completes += sent() - mid
	}
	b.ReportMetric(float64(creates)/float64(n), unit+"/create")
	b.ReportMetric(float64(completes)/float64(n), unit+"/complete")
}
