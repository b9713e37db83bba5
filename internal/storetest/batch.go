package storetest

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tally-credits/tally/internal/credit"
)

// runBatch checks the ledger's batches of one account's writes on the store:
// every write of a batch succeeds or fails on its own, each decided against
// what the writes before it left, and the ledger forms batches of more than
// one write under concurrency.
func runBatch(t *testing.T, open func(t *testing.T) credit.Store) {
	t.Run("WritesFailAlone", func(t *testing.T) { t.Parallel(); batchWritesFailAlone(t, open) })
	t.Run("LedgerBatches", func(t *testing.T) { t.Parallel(); batchLedger(t, open) })
}

// gatedStore, once armed, holds the next Write until release is closed, so that writes
// queue behind it and form the next batch; it records the batches it wrote.
type gatedStore struct {
	credit.Store
	mu               sync.Mutex
	entered, release chan struct{} // while armed
	writes           []int         // Batch.Writes of every batch written, in order
}

// arm makes the next Write close entered and wait for release to be closed.
func (s *gatedStore) arm() (entered, release chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.entered, s.release = make(chan struct{}), make(chan struct{})
	return s.entered, s.release
}

func (s *gatedStore) Write(ctx context.Context, batches []*credit.Batch) error {
	s.mu.Lock()
	entered, release := s.entered, s.release
	s.entered, s.release = nil, nil
	s.mu.Unlock()
	if entered != nil {
		close(entered)
		<-release
	}
	s.mu.Lock()
	for _, b := range batches {
		s.writes = append(s.writes, b.Writes)
	}
	s.mu.Unlock()
	return s.Store.Write(ctx, batches)
}

// batchWritesFailAlone queues seven writes of one account behind a write
// held at the store, so that they form one batch, and checks each one's
// answer against hand arithmetic: three are refused for reasons of their
// own (a balance one of the earlier writes of the batch used up, an
// idempotency key reused for another request, a request canceled before its
// batch ran) and leave nothing behind, and the others see the writes before
// them (a hold that used the balance, an idempotency record written earlier
// in the same batch).
func batchWritesFailAlone(t *testing.T, open func(t *testing.T) credit.Store) {
	gs := &gatedStore{Store: open(t)}
	e := newEnv(t, func(*testing.T) credit.Store { return gs })
	e.account("b", 0)
	e.topup("b", 10)
	entered, release := gs.arm()
	held := make(chan error, 1)
	go func() { // the write held at the store: +1 credit, 11 in all
		_, err := e.ledger.AddGrant(e.ctx, nil, "b", credit.GrantSpec{Credits: credit.Whole(1), Source: credit.SourcePromo})
		held <- err
	}()
	<-entered
	canceled, cancel := context.WithCancel(e.ctx)
	type result struct {
		v   any
		err error
	}
	writes := []func() (any, error){
		func() (any, error) {
			return e.ledger.CreateHold(e.ctx, nil, "b", credit.HoldSpec{Credits: credit.Whole(5)})
		}, // 11 → 6
		func() (any, error) {
			return e.ledger.CreateHold(e.ctx, nil, "b", credit.HoldSpec{Credits: credit.Whole(7)})
		}, // 7 > 6: refused
		func() (any, error) {
			return e.ledger.CreateHold(e.ctx, nil, "b", credit.HoldSpec{Credits: credit.Whole(6)})
		}, // 6 → 0
		func() (any, error) {
			return e.ledger.AddGrant(e.ctx, idem("k1", "h1"), "b", credit.GrantSpec{Credits: credit.Whole(2), Source: credit.SourceTopup})
		}, // 0 → 2
		func() (any, error) {
			return e.ledger.AddGrant(e.ctx, idem("k1", "h1"), "b", credit.GrantSpec{Credits: credit.Whole(2), Source: credit.SourceTopup})
		}, // a replay
		func() (any, error) {
			return e.ledger.AddGrant(e.ctx, idem("k1", "h2"), "b", credit.GrantSpec{Credits: credit.Whole(3), Source: credit.SourceTopup})
		}, // another request
		func() (any, error) {
			return e.ledger.CreateHold(canceled, nil, "b", credit.HoldSpec{Credits: credit.Whole(1)})
		}, // canceled before it runs
	}
	results := make([]chan result, len(writes))
	for i, w := range writes {
		results[i] = make(chan result, 1)
		go func() { v, err := w(); results[i] <- result{v, err} }()
		for e.ledger.QueuedWrites() < i+1 {
			runtime.Gosched() // queued in this order, one at a time
		}
	}
	cancel()
	close(release)
	if err := <-held; err != nil {
		t.Fatalf("the held write: %v", err)
	}
	got := make([]result, len(writes))
	for i := range writes {
		got[i] = <-results[i]
	}
	want := []struct{ code, reason string }{
		{"", ""},
		{credit.InsufficientCredits, "insufficient_credits"},
		{"", ""},
		{"", ""},
		{"", ""},
		{credit.Conflict, "idempotency_conflict"},
		{credit.Unavailable, "canceled"},
	}
	for i, w := range want {
		if code := credit.ErrorCode(got[i].err); code != w.code {
			t.Errorf("write %d: err = %v; want code %q", i+1, got[i].err, w.code)
		} else if w.reason != "" && asError(got[i].err).Reason != w.reason {
			t.Errorf("write %d: err = %v; want reason %q", i+1, got[i].err, w.reason)
		}
	}
	if a, b := got[3].v.(credit.Grant), got[4].v.(credit.Grant); a.ID == "" || a.ID != b.ID {
		t.Errorf("write 5 answered grant %q; want write 4's %q, whose record it found in the same batch", b.ID, a.ID)
	}
	gs.mu.Lock()
	largest := slices.Max(gs.writes)
	gs.mu.Unlock()
	if largest != len(writes) {
		t.Errorf("the largest batch held %d writes; want the %d queued behind the held one", largest, len(writes))
	}
	// 10 + 1 + 2 granted; 5 + 6 held; 2 available.
	e.balances("b", credit.Whole(2), credit.Whole(11))
	if v := e.view("b"); len(v.OpenHolds) != 2 || len(v.Grants) != 3 {
		t.Errorf("account b has %d open holds and %d grants; want 2 and 3 (the refused writes left nothing)", len(v.OpenHolds), len(v.Grants))
	}
}

// countingStore counts Write calls and remembers the largest batch.
type countingStore struct {
	credit.Store
	batches, largest atomic.Int64
}

func (s *countingStore) Write(ctx context.Context, batches []*credit.Batch) error {
	s.batches.Add(1)
	n := 0
	for _, b := range batches {
		n += b.Writes
	}
	for {
		l := s.largest.Load()
		if int64(n) <= l || s.largest.CompareAndSwap(l, int64(n)) {
			break
		}
	}
	return s.Store.Write(ctx, batches)
}

// batchLedger has 32 goroutines, four on each of 8 accounts, each create
// and complete 8 generations through one ledger: every write must be
// answered correctly, and writes must have shared transactions (fewer
// transactions than writes) — of one account on every store, of several on a
// store that takes several accounts per transaction. Balances are checked
// against hand arithmetic: Flux Dev at 1K is 5 credits an image on the seed
// page, so each account is charged 4 × 8 × 5 = 160 of its 200.
func batchLedger(t *testing.T, open func(t *testing.T) credit.Store) {
	cs := &countingStore{Store: open(t)}
	e := newEnv(t, func(*testing.T) credit.Store { return cs })
	const clients, accounts, each = 32, 8, 8
	for i := range accounts {
		id := accountName(i)
		e.account(id, 0)
		e.topup(id, 200)
	}
	before := cs.batches.Load()
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				g, err := e.ledger.CreateGeneration(e.ctx, nil, credit.GenerationSpec{Account: accountName(i % accounts), Request: credit.QuoteRequest{Model: "flux-dev", Images: 1}})
				if err != nil {
					t.Errorf("CreateGeneration(%s) = %v", accountName(i%accounts), err)
					return
				}
				if _, err := e.ledger.CompleteGeneration(e.ctx, nil, g.ID, 1); err != nil {
					t.Errorf("CompleteGeneration(%s) = %v", g.ID, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	writes := int64(clients * each * 2)
	batches := cs.batches.Load() - before
	t.Logf("%d writes in %d transactions (largest %d writes)", writes, batches, cs.largest.Load())
	if batches >= writes || cs.largest.Load() < 2 {
		t.Errorf("%d writes took %d transactions, the largest of %d; want writes to share transactions under concurrency", writes, batches, cs.largest.Load())
	}
	for i := range accounts {
		e.balances(accountName(i), credit.Whole(200-4*each*5), 0) // 200 − 4 × 8 × 5 = 40
	}
}

func accountName(i int) string { return "acct_" + string(rune('a'+i/26)) + string(rune('a'+i%26)) }
