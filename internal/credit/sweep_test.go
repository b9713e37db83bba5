package credit_test

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/sqlite"
	"github.com/tally-credits/tally/internal/storetest"
)

// sweepEnv is a ledger on a fresh SQLite file with a test clock and a
// retention of a day, and its sweeper's log.
type sweepEnv struct {
	ctx    context.Context
	clock  *storetest.Clock
	ledger *credit.Ledger
	log    *syncBuffer
}

func newSweepEnv(t *testing.T) *sweepEnv {
	t.Helper()
	ctx := credit.WithActor(context.Background(), "test")
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "tally.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clock := &storetest.Clock{}
	clock.Set(time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC))
	l := credit.NewLedger(db, credit.LedgerConfig{Now: clock.Now, IdempotencyRetention: 24 * time.Hour})
	return &sweepEnv{ctx: ctx, clock: clock, ledger: l, log: &syncBuffer{}}
}

func (e *sweepEnv) sweeper(interval time.Duration) *credit.Sweeper {
	return credit.NewSweeper(e.ledger, credit.SweepConfig{Interval: interval, Log: slog.New(slog.NewTextHandler(e.log, nil))})
}

// grant adds 10 credits to account with an Idempotency-Key; expires may be zero (never).
func (e *sweepEnv) grant(t *testing.T, account, key string, expires time.Time) credit.Grant {
	t.Helper()
	g, err := e.ledger.AddGrant(e.ctx, &credit.Idempotency{Scope: "test", Key: key, Hash: "h-" + key}, account,
		credit.GrantSpec{Credits: credit.Whole(10), Source: credit.SourceTopup, ExpiresAt: expires, Expires: !expires.IsZero()})
	if err != nil {
		t.Fatalf("AddGrant(%s, %s) = %v", account, key, err)
	}
	return g
}

// kinds returns the kinds of an account's journal entries, oldest first.
func (e *sweepEnv) kinds(t *testing.T, account string) string {
	t.Helper()
	entries, err := e.ledger.Entries(e.ctx, account, 0, 100)
	if err != nil {
		t.Fatalf("Entries(%s) = %v", account, err)
	}
	var out []string
	for i := len(entries) - 1; i >= 0; i-- {
		out = append(out, string(entries[i].Kind))
	}
	return strings.Join(out, " ")
}

// TestSweeperSettlesAndPrunes: one sweep releases a hold past its TTL and
// expires a grant past its expiry on accounts nobody touches (the journal
// shows it without any read settling them), and deletes an idempotency record
// past its retention, so its key is a new request again; what is not yet due
// stays.
func TestSweeperSettlesAndPrunes(t *testing.T) {
	e := newSweepEnv(t)
	for _, id := range []string{"holder", "expiring"} {
		if _, err := e.ledger.CreateAccount(e.ctx, nil, id, 0); err != nil {
			t.Fatal(err)
		}
	}
	e.grant(t, "holder", "old", time.Time{})
	if _, err := e.ledger.CreateHold(e.ctx, nil, "holder", credit.HoldSpec{Credits: credit.Whole(4), TTL: 24 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	e.grant(t, "expiring", "soon", e.clock.Now().Add(2*time.Hour))
	e.clock.Add(23 * time.Hour)
	e.grant(t, "holder", "recent", time.Time{})
	e.clock.Add(2 * time.Hour) // the hold, the grant and the key "old" are past their time; "recent" is not

	e.sweeper(time.Hour).Sweep(e.ctx)

	if got, want := e.kinds(t, "holder"), "grant hold grant release"; got != want {
		t.Errorf("holder's journal after a sweep = %q; want %q (the hold released at its TTL)", got, want)
	}
	if got, want := e.kinds(t, "expiring"), "grant expire"; got != want {
		t.Errorf("expiring's journal after a sweep = %q; want %q (the grant expired)", got, want)
	}
	for _, want := range []string{`msg="expiry sweep" accounts=2`, `msg="idempotency prune" records=2`} {
		if !strings.Contains(e.log.String(), want) {
			t.Errorf("the sweeper's log lacks %q:\n%s", want, e.log.String())
		}
	}
	// "old" and "soon" were pruned: sent again, each is a new grant; "recent" is still answered from its record.
	e.grant(t, "holder", "old", time.Time{})
	e.grant(t, "holder", "recent", time.Time{})
	if got, want := e.kinds(t, "holder"), "grant hold grant release grant"; got != want {
		t.Errorf("holder's journal after resending keys old and recent = %q; want %q (one new grant, for old)", got, want)
	}
	v, err := e.ledger.Account(e.ctx, "holder")
	if err != nil || v.Available != credit.Whole(30) || v.Held != 0 {
		t.Errorf("holder = available %v, held %v, %v; want 30 available, nothing held", v.Available, v.Held, err)
	}
}

// TestSweeperRunsUntilCancelled: Run sweeps on its own, and returns when its
// context ends.
func TestSweeperRunsUntilCancelled(t *testing.T) {
	e := newSweepEnv(t)
	if _, err := e.ledger.CreateAccount(e.ctx, nil, "a", 0); err != nil {
		t.Fatal(err)
	}
	e.grant(t, "a", "g", e.clock.Now().Add(time.Minute))
	e.clock.Add(time.Hour)

	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan struct{})
	go func() { e.sweeper(time.Millisecond).Run(ctx); close(done) }()
	for deadline := time.Now().Add(10 * time.Second); e.kinds(t, "a") != "grant expire"; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("Run did not expire the grant; journal %q, log:\n%s", e.kinds(t, "a"), e.log.String())
		}
	}
	cancel()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestSweepWarnsIdleGrants: an account nobody writes still hears of its
// grant's expiry, once, from the sweeper: a grant of 10 expiring in 100 h
// is told of at 72 h before (the default notice), not before, and not
// again; a day's free credits never are.
func TestSweepWarnsIdleGrants(t *testing.T) {
	e := newSweepEnv(t)
	if _, err := e.ledger.CreateAccount(e.ctx, nil, "idle", 0); err != nil {
		t.Fatal(err)
	}
	start := e.clock.Now()
	g := e.grant(t, "idle", "g1", start.Add(100*time.Hour))
	expiring := func() []credit.Event {
		t.Helper()
		evs, err := e.ledger.Events(e.ctx, credit.EventQuery{Types: []string{credit.EventGrantExpiring}, Account: "idle", Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		return evs
	}
	e.clock.Set(start.Add(28*time.Hour - time.Second)) // 72 h and 1 s before
	if _, err := e.ledger.ExpireDue(e.ctx); err != nil {
		t.Fatal(err)
	}
	if evs := expiring(); len(evs) != 0 {
		t.Fatalf("told %d grant.expiring 72 h and 1 s before the expiry; want 0", len(evs))
	}
	e.clock.Set(start.Add(28 * time.Hour)) // 72 h before
	if n, err := e.ledger.ExpireDue(e.ctx); err != nil || n != 1 {
		t.Fatalf("ExpireDue = %d, %v; want the one account", n, err)
	}
	evs := expiring()
	if len(evs) != 1 || !strings.Contains(string(evs[0].Data), g.ID) || !strings.Contains(string(evs[0].Data), `"remaining":10`) {
		t.Fatalf("grant.expiring events %+v; want one of %s with 10 remaining", evs, g.ID)
	}
	e.clock.Set(start.Add(29 * time.Hour))
	if n, err := e.ledger.ExpireDue(e.ctx); err != nil || n != 0 {
		t.Fatalf("ExpireDue an hour later = %d, %v; want nothing to do", n, err)
	}
	if evs := expiring(); len(evs) != 1 {
		t.Fatalf("told %d grant.expiring; want it once", len(evs))
	}
}
