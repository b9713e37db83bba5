package storetest

import (
	"context"
	"fmt"
	"sync"
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

// CheckWriteCounts checks that every kind of write on store sends at most
// max of what sent counts (a store's statement or round-trip counter) in
// its transaction, whatever the number of grants it touches: a grant, a
// generation created and completed on an account whose hold spans three
// grants, a refund, each with an Idempotency-Key, and a batch of eight
// writes of one account. A warm-up write of each kind runs first, so that
// statements are prepared.
func CheckWriteCounts(t *testing.T, store credit.Store, sent func() int64, max int64) {
	ctx := context.Background()
	cat := catalog.Default()
	l := credit.NewLedger(store, credit.LedgerConfig{Catalog: func() *credit.Catalog { return cat }})
	n := 0
	key := func() *credit.Idempotency {
		n++
		return &credit.Idempotency{Scope: "count", Key: fmt.Sprint("k", n), Hash: "h"}
	}
	count := func(what string, fn func() error) {
		t.Helper()
		before := sent()
		if err := fn(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if got := sent() - before; got > max {
			t.Errorf("%s sent %d; want at most %d", what, got, max)
		} else {
			t.Logf("%s: %d", what, got)
		}
	}
	cycle := func(account string, counted bool) {
		t.Helper()
		run := func(what string, fn func() error) {
			if counted {
				count(what, fn)
			} else if err := fn(); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		}
		// Three grants of 2 credits: a Flux Dev image (5 credits on the
		// seed page) is held from all three.
		for range 3 {
			run("grant", func() error {
				_, err := l.AddGrant(ctx, key(), account, credit.GrantSpec{Credits: credit.Whole(2), Source: credit.SourceTopup})
				return err
			})
		}
		var g credit.Generation
		run("create generation (3 grants)", func() (err error) {
			g, err = l.CreateGeneration(ctx, key(), credit.GenerationSpec{Account: account, Request: credit.QuoteRequest{Model: "flux-dev", Images: 1}})
			return err
		})
		run("complete generation (3 grants)", func() error { _, err := l.CompleteGeneration(ctx, key(), g.ID, 1); return err })
		run("refund generation (3 grants)", func() error { _, err := l.RefundGeneration(ctx, key(), g.ID, nil); return err })
	}
	for i, counted := range []bool{false, true} {
		account := fmt.Sprint("count-", i)
		if _, err := l.CreateAccount(ctx, nil, account, 0); err != nil {
			t.Fatal(err)
		}
		cycle(account, counted)
	}
	// Eight holds of one account queued at once: one batch, or a few.
	if _, err := l.AddGrant(ctx, nil, "count-1", credit.GrantSpec{Credits: credit.Whole(100), Source: credit.SourceTopup}); err != nil {
		t.Fatal(err)
	}
	cs := &countingStore{Store: store}
	lb := credit.NewLedger(cs, credit.LedgerConfig{Catalog: func() *credit.Catalog { return cat }})
	before, calls := sent(), cs.batches.Load()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if _, err := lb.CreateHold(ctx, nil, "count-1", credit.HoldSpec{Credits: credit.Whole(1)}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	txs := cs.batches.Load() - calls
	if got := sent() - before; got > max*txs {
		t.Errorf("8 holds of one account in %d transactions sent %d; want at most %d a transaction", txs, got, max)
	} else {
		t.Logf("8 holds of one account: %d transactions, %d sent", txs, got)
	}
}
