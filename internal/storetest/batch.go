package storetest

import (
	"context"
	"math"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/tally-credits/tally/internal/credit"
)

// runBatch checks the store's group commit (Store.UpdateBatch) directly:
// every op succeeds or fails on its own in one transaction, and the ledger
// forms batches of more than one write under concurrency.
func runBatch(t *testing.T, open func(t *testing.T) credit.Store) {
	t.Run("OpsFailAlone", func(t *testing.T) { t.Parallel(); batchOpsFailAlone(t, newEnv(t, open)) })
	t.Run("LedgerBatches", func(t *testing.T) { t.Parallel(); batchLedger(t, open) })
}

func newAccountOp(id string) func(credit.Tx) error {
	return func(tx credit.Tx) error {
		a := credit.Account{ID: id, CreatedAt: t0}
		g := credit.Grant{ID: "ovd_" + id, Account: id, Source: credit.SourceOverdraft, Priority: math.MaxInt32, CreatedAt: t0}
		return tx.InsertAccount(a, g)
	}
}

// batchOpsFailAlone runs one batch of eight ops, four of which fail in
// different ways (a refused reservation, a duplicate key in the database, a
// panic, a canceled request), and checks that exactly the other four's
// writes committed, and that an op sees the writes of the ops before it.
func batchOpsFailAlone(t *testing.T, e *env) {
	canceled, cancel := context.WithCancel(context.Background())
	cancel()
	var seen *credit.IdempotencyRecord
	rec := credit.IdempotencyRecord{Idempotency: credit.Idempotency{Scope: "batch", Key: "k1", Hash: "h1"}, Response: []byte(`{}`), CreatedAt: t0}
	ops := []*credit.Op{
		{Fn: newAccountOp("b1")},
		{Fn: func(tx credit.Tx) error { // writes, then is refused: its account must go
			if err := newAccountOp("b2")(tx); err != nil {
				return err
			}
			_, err := tx.Reserve("b2", credit.Whole(5))
			return err
		}},
		{Fn: newAccountOp("b1")}, // a duplicate: the database refuses it
		{Fn: func(tx credit.Tx) error { return tx.PutIdempotency(rec) }},
		{Fn: func(tx credit.Tx) error {
			r, err := tx.Idempotency("batch", "k1")
			seen = r
			return err
		}},
		{Fn: func(tx credit.Tx) error {
			if err := newAccountOp("b6")(tx); err != nil {
				return err
			}
			panic("op 6 panics")
		}},
		{Ctx: canceled, Fn: newAccountOp("b7")},
		{Fn: newAccountOp("b8")},
	}
	for _, op := range ops {
		if op.Ctx == nil {
			op.Ctx = e.ctx
		}
	}
	if err := e.store.UpdateBatch(e.ctx, ops); err != nil {
		t.Fatalf("UpdateBatch = %v; want nil (only single ops fail)", err)
	}
	want := []struct{ code, reason string }{
		{"", ""},
		{credit.InsufficientCredits, ""},
		{credit.Conflict, "account_exists"},
		{"", ""},
		{"", ""},
		{credit.Internal, "panic"},
		{credit.Unavailable, "canceled"},
		{"", ""},
	}
	for i, w := range want {
		op := ops[i]
		if got := credit.ErrorCode(op.Err); got != w.code {
			t.Errorf("op %d: Err = %v; want code %q", i+1, op.Err, w.code)
		} else if w.reason != "" && asError(op.Err).Reason != w.reason {
			t.Errorf("op %d: Err = %v; want reason %q", i+1, op.Err, w.reason)
		}
	}
	if ops[5].Panic != "op 6 panics" {
		t.Errorf("op 6: Panic = %v; want its panic value", ops[5].Panic)
	}
	if seen == nil || seen.Hash != "h1" {
		t.Errorf("op 5 read the idempotency record as %+v; want op 4's, written earlier in the batch", seen)
	}
	for id, exists := range map[string]bool{"b1": true, "b2": false, "b6": false, "b7": false, "b8": true} {
		_, err := e.ledger.Account(e.ctx, id)
		if exists && err != nil {
			t.Errorf("Account(%s) = %v; want it committed", id, err)
		} else if !exists && credit.ErrorCode(err) != credit.NotFound {
			t.Errorf("Account(%s) = %v; want NotFound: its op failed, so its writes were rolled back", id, err)
		}
	}
	var got *credit.IdempotencyRecord
	if err := e.store.View(e.ctx, func(tx credit.Tx) error {
		var err error
		got, err = tx.Idempotency("batch", "k1")
		return err
	}); err != nil || got == nil {
		t.Errorf("idempotency record after the batch = %v, %v; want op 4's, committed", got, err)
	}
}

// countingStore counts UpdateBatch calls and remembers the largest batch.
type countingStore struct {
	credit.Store
	batches, largest atomic.Int64
}

func (s *countingStore) UpdateBatch(ctx context.Context, ops []*credit.Op) error {
	s.batches.Add(1)
	for {
		l := s.largest.Load()
		if int64(len(ops)) <= l || s.largest.CompareAndSwap(l, int64(len(ops))) {
			break
		}
	}
	return s.Store.UpdateBatch(ctx, ops)
}

// batchLedger has 32 goroutines each create and complete 8 generations on
// accounts of their own, through one ledger: every write must be answered
// correctly, and writes must have shared transactions (fewer batches than
// writes). Balances are checked against hand arithmetic: Flux Dev at 1K is 5
// credits an image on the seed page.
func batchLedger(t *testing.T, open func(t *testing.T) credit.Store) {
	cs := &countingStore{Store: open(t)}
	e := newEnv(t, func(*testing.T) credit.Store { return cs })
	// Batches of up to 64 whatever the store's default (PostgreSQL's is 1).
	e.ledger = credit.NewLedger(cs, credit.LedgerConfig{Now: e.clock.Now, Catalog: func() *credit.Catalog { return seedCatalog() }, MaxBatch: credit.DefaultMaxBatch})
	const clients, each = 32, 8
	for i := range clients {
		id := accountName(i)
		e.account(id, 0)
		e.topup(id, 100)
	}
	before := cs.batches.Load()
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				g, err := e.ledger.CreateGeneration(e.ctx, nil, credit.GenerationSpec{Account: accountName(i), Request: credit.QuoteRequest{Model: "flux-dev", Images: 1}})
				if err != nil {
					t.Errorf("CreateGeneration(%s) = %v", accountName(i), err)
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
	t.Logf("%d writes in %d group commits (largest %d)", writes, batches, cs.largest.Load())
	if batches >= writes || cs.largest.Load() < 2 {
		t.Errorf("%d writes took %d group commits, the largest of %d; want writes to share commits under concurrency", writes, batches, cs.largest.Load())
	}
	for i := range clients {
		e.balances(accountName(i), credit.Whole(100-5*each), 0) // 100 − 8 × 5 = 60
	}
}

func accountName(i int) string { return "acct_" + string(rune('a'+i/26)) + string(rune('a'+i%26)) }
