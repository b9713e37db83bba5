package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// runKeyBootstrap checks that the first admin key of a fresh ledger is made
// once, however many nodes start on it together.
func runKeyBootstrap(t *testing.T, open func(t *testing.T) credit.Store) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, e *env)
	}{
		{"Nodes16", bootstrapNodes16},
		{"OneLedger16", bootstrapOneLedger16},
		{"LiveAdminKey", bootstrapLiveAdminKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newEnv(t, open))
		})
	}
}

// bootstrapNodes16: 16 nodes — each a Ledger of its own on the one store,
// as tally serve makes one per process — bootstrap a fresh ledger at once.
// Exactly one admin key is made, and exactly one node got its token.
func bootstrapNodes16(t *testing.T, e *env) {
	ledgers := make([]*credit.Ledger, 16)
	for i := range ledgers {
		ledgers[i] = credit.NewLedger(e.store, credit.LedgerConfig{Now: e.clock.Now, Catalog: seedCatalog})
	}
	bootstrapRace(t, e, ledgers)
}

// bootstrapOneLedger16: 16 goroutines of one node bootstrap at once (their
// writes may share a group commit).
func bootstrapOneLedger16(t *testing.T, e *env) {
	ledgers := make([]*credit.Ledger, 16)
	for i := range ledgers {
		ledgers[i] = e.ledger
	}
	bootstrapRace(t, e, ledgers)
}

func bootstrapRace(t *testing.T, e *env, ledgers []*credit.Ledger) {
	t.Helper()
	warmUp(t, e)
	var mu sync.Mutex
	var made []credit.Key
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i, l := range ledgers {
		wg.Go(func() {
			<-start
			k, token, err := l.BootstrapAdminKey(e.ctx)
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err != nil:
				t.Errorf("node %d: BootstrapAdminKey = %v", i, err)
			case token != "":
				made = append(made, k)
				if got, err := e.ledger.Authenticate(e.ctx, token); err != nil || got.ID != k.ID || got.Scope != credit.ScopeAdmin {
					t.Errorf("node %d: the bootstrap token authenticates as %+v, %v; want admin key %s", i, got, err, k.ID)
				}
			case k.ID != "":
				t.Errorf("node %d: BootstrapAdminKey = key %s without a token; want both or neither", i, k.ID)
			}
		})
	}
	close(start)
	wg.Wait()
	if len(made) != 1 {
		t.Errorf("%d nodes bootstrapping a fresh ledger made %d admin keys; want 1", len(ledgers), len(made))
	}
	if n := adminKeys(t, e); n != 1 {
		t.Errorf("the store holds %d admin keys after the bootstrap; want 1", n)
	}
	// Started again, no node makes another.
	if k, token, err := ledgers[0].BootstrapAdminKey(e.ctx); err != nil || token != "" || k.ID != "" {
		t.Errorf("BootstrapAdminKey with an admin key = %s, %q, %v; want nothing made", k.ID, token, err)
	}
	if n := adminKeys(t, e); n != 1 {
		t.Errorf("the store holds %d admin keys after a second bootstrap; want 1", n)
	}
}

// bootstrapLiveAdminKey: only a live admin key stops the bootstrap — not a
// service key, a revoked admin key or an expired one.
func bootstrapLiveAdminKey(t *testing.T, e *env) {
	mustKey := func(s credit.KeySpec) credit.Key {
		t.Helper()
		k, _, err := e.ledger.CreateKey(e.ctx, s)
		if err != nil {
			t.Fatalf("CreateKey(%+v) = %v", s, err)
		}
		return k
	}
	mustKey(credit.KeySpec{Scope: credit.ScopeService})
	revoked := mustKey(credit.KeySpec{Scope: credit.ScopeAdmin})
	if err := e.ledger.RevokeKey(e.ctx, revoked.ID); err != nil {
		t.Fatal(err)
	}
	mustKey(credit.KeySpec{Scope: credit.ScopeAdmin, ExpiresAt: t0.Add(time.Hour)})
	// While the expiring admin key is live, the bootstrap makes nothing.
	e.unchanged("a bootstrap beside a live admin key", func() {
		if k, token, err := e.ledger.BootstrapAdminKey(e.ctx); err != nil || token != "" || k.ID != "" {
			t.Errorf("BootstrapAdminKey beside a live admin key = %s, %q, %v; want nothing made", k.ID, token, err)
		}
	})
	// An hour later it has expired, and the revoked one is no key at all.
	e.clock.Set(t0.Add(time.Hour))
	k, token, err := e.ledger.BootstrapAdminKey(e.ctx)
	if err != nil || token == "" || k.Scope != credit.ScopeAdmin || !k.ExpiresAt.IsZero() || !k.RevokedAt.IsZero() {
		t.Fatalf("BootstrapAdminKey with only a service, a revoked and an expired admin key = %+v, token %q, %v; want a new admin key that never expires", k, token, err)
	}
	if got, err := e.ledger.Authenticate(e.ctx, token); err != nil || got.ID != k.ID {
		t.Errorf("the bootstrap token authenticates as %s, %v; want %s", got.ID, err, k.ID)
	}
}

// warmUp opens as many store connections as the store runs writers at once,
// as nodes that have just migrated have theirs: otherwise the first
// bootstrap would commit while the others still wait for a connection, and
// the race would not be run.
func warmUp(t *testing.T, e *env) {
	t.Helper()
	n := e.store.Writers()
	var all sync.WaitGroup
	all.Add(n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			err := e.store.View(e.ctx, func(tx credit.Tx) error {
				all.Done()
				all.Wait() // every connection is open at once
				_, err := tx.Keys()
				return err
			})
			if err != nil {
				t.Errorf("warm up: View = %v", err)
			}
		})
	}
	wg.Wait()
}

// adminKeys counts the admin keys in the store, live or not.
func adminKeys(t *testing.T, e *env) int {
	t.Helper()
	keys, err := e.ledger.Keys(e.ctx)
	if err != nil {
		t.Fatalf("Keys = %v", err)
	}
	n := 0
	for _, k := range keys {
		if k.Scope == credit.ScopeAdmin {
			n++
		}
	}
	return n
}
