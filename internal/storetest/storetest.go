// Package storetest is the one conformance suite every credit.Store runs: the
// ledger's flows, its concurrency guarantees, a seeded simulation against an
// in-memory reference model, property checks over the journal, and the
// credit.Tx contract row by row.
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) credit.Store { return MustOpenDB(t) })
//	}
//
// Every expected number is worked out by hand in a comment, typed from the
// studio page (../shared/seeds/000_269dcb4ae9c79468.txt) or computed by the
// reference model of model.go, never by the code under test. Credits are
// thousandths: 73.5 credits is 73_500.
//
// The package is imported by tests only; it registers its flags at init:
//
//	-storetest.seed N   run the simulation with this seed only (replays a failure)
//	-storetest.steps N  steps per simulated seed (default 500, 150 with -short)
package storetest

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
)

var (
	seedFlag  int64
	stepsFlag int
)

func init() {
	flag.Int64Var(&seedFlag, "storetest.seed", 0, "storetest: run the simulation with this seed only (0: three seeds from the time)")
	flag.IntVar(&stepsFlag, "storetest.steps", 0, "storetest: steps per simulated seed (0: 500, or 150 with -short)")
}

// Run runs the conformance suite. open returns a fresh, empty store for one
// subtest and arranges (with t.Cleanup) for it to be closed.
//
// The ledger group-commits its writes (batches of up to credit.DefaultMaxBatch
// here, on every store): the flows, the concurrency tests and the simulation
// run that way, and again as BatchOfOne on the store forced to one write per
// transaction, so that batching changes no outcome. Events has the flows of
// the change feed, its alerts and auto top-ups, and the webhook store
// (eventflows.go, feedflows.go, webhookflows.go); the simulation checks
// the feed after every step against the model's events (modelevents.go).
// Reports has the flows of the support desk and finance: the liability and
// consumption reports and their rollups, debits and reasons, the account
// directory and a catalog's impact (reportflows.go and its neighbours); the
// simulation checks both reports after every step against the model's
// (modelreports.go).
func Run(t *testing.T, open func(t *testing.T) credit.Store) {
	t.Run("Flows", func(t *testing.T) { runFlows(t, open) })
	t.Run("Concurrency", func(t *testing.T) { runConcurrency(t, open) })
	t.Run("Simulation", func(t *testing.T) { runSimulation(t, open) })
	t.Run("Properties", func(t *testing.T) { runProperties(t, open) })
	t.Run("Batch", func(t *testing.T) { runBatch(t, open) })
	t.Run("KeyBootstrap", func(t *testing.T) { runKeyBootstrap(t, open) })
	t.Run("Write", func(t *testing.T) { runWrite(t, open) })
	t.Run("Events", func(t *testing.T) { runEvents(t, open, false) })
	t.Run("Reports", func(t *testing.T) { runReports(t, open, false) })
	one := func(t *testing.T) credit.Store { return batchOfOne{open(t)} }
	t.Run("BatchOfOne", func(t *testing.T) {
		t.Run("Flows", func(t *testing.T) { runFlows(t, one) })
		t.Run("Events", func(t *testing.T) { runEvents(t, one, true) })
		t.Run("Reports", func(t *testing.T) { runReports(t, one, true) })
		t.Run("Concurrency", func(t *testing.T) { runConcurrency(t, one) })
		t.Run("Simulation", func(t *testing.T) { runSimulation(t, one) })
	})
}

// batchOfOne is a store on which the ledger of newEnv gives every write a
// transaction of its own (LedgerConfig.MaxBatch 1), as without batching.
type batchOfOne struct{ credit.Store }

func isBatchOfOne(s credit.Store) bool {
	if g, ok := s.(*gatedStore); ok {
		s = g.Store
	}
	_, ok := s.(batchOfOne)
	return ok
}

// t0 is where every test clock starts: the seed catalog's effective day,
// at a whole second (the stores keep microseconds).
var t0 = time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)

// Clock is a test clock: the Ledger reads it, the test moves it.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Add moves the clock forward by d.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to at.
func (c *Clock) Set(at time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = at
}

// seedCatalog is the built-in catalog, loaded once.
var seedCatalog = sync.OnceValue(catalog.Default)

// enhancerCatalog is the built-in catalog with a prompt enhancer of 2 credits
// per generation (the seed page does not publish it; SPEC §1 asks tests to use
// a catalog where it is not 0).
var enhancerCatalog = sync.OnceValue(func() *credit.Catalog {
	text := strings.Replace(string(catalog.DefaultYAML()), "prompt_enhancer_credits: 0", "prompt_enhancer_credits: 2", 1)
	c, err := catalog.Parse([]byte(text))
	if err != nil {
		panic("storetest: enhancer catalog: " + err.Error())
	}
	return c
})

// env is one store under test, with a ledger on it and the clock it reads.
type env struct {
	t      testing.TB
	ctx    context.Context
	store  credit.Store
	ledger *credit.Ledger
	clock  *Clock
}

// newEnv opens a fresh store and puts a ledger on it, priced with the seed
// catalog. When the test ends, Verify must find nothing wrong.
func newEnv(t *testing.T, open func(t *testing.T) credit.Store) *env {
	return newEnvCatalog(t, open, seedCatalog())
}

func newEnvCatalog(t *testing.T, open func(t *testing.T) credit.Store, cat *credit.Catalog) *env {
	t.Helper()
	return newEnvConfig(t, open, cat, nil)
}

// newEnvConfig is newEnvCatalog with the ledger's configuration changed by
// config (if not nil).
func newEnvConfig(t *testing.T, open func(t *testing.T) credit.Store, cat *credit.Catalog, config func(*credit.LedgerConfig)) *env {
	t.Helper()
	store := open(t)
	e := &env{t: t, ctx: context.Background(), store: store, clock: &Clock{now: t0}}
	// Batching on, whatever the store's default (PostgreSQL's is 1), so that
	// every store's batch path runs the whole suite; BatchOfOne runs it
	// again forced to one write per transaction.
	batch := credit.DefaultMaxBatch
	if isBatchOfOne(store) {
		batch = 1
	}
	cfg := credit.LedgerConfig{Now: e.clock.Now, Catalog: func() *credit.Catalog { return cat }, MaxBatch: batch}
	if config != nil {
		config(&cfg)
	}
	e.ledger = credit.NewLedger(store, cfg)
	// Registered after open's Close, so it runs before it.
	t.Cleanup(func() { e.verify() })
	return e
}

// verify reports every violation ledger.Verify finds, and checks that
// Verify's streamed journal (Scanner.EachEntry) is the snapshot's, entry for
// entry, and finds what VerifySnapshot finds.
func (e *env) verify() {
	e.t.Helper()
	vs, err := e.ledger.Verify(e.ctx)
	if err != nil {
		e.t.Errorf("Verify: %v", err)
		return
	}
	for _, v := range vs {
		e.t.Errorf("Verify: %s", v)
	}
	snap := e.snapshot()
	var streamed []credit.Entry
	err = e.store.View(e.ctx, func(tx credit.Tx) error {
		sc, err := credit.Scan(tx)
		if err != nil {
			return err
		}
		return sc.EachEntry(func(t *credit.Entry) error {
			streamed = append(streamed, *t)
			return nil
		})
	})
	if err != nil {
		e.t.Errorf("EachTransaction: %v", err)
	} else if !reflect.DeepEqual(streamed, snap.Entries) {
		e.t.Errorf("EachTransaction streamed %d transactions unlike the snapshot's %d", len(streamed), len(snap.Entries))
	}
	if got := credit.VerifySnapshot(snap); !reflect.DeepEqual(got, vs) {
		e.t.Errorf("VerifySnapshot = %v; Verify (streamed) = %v", got, vs)
	}
}

// snapshot returns the whole store.
func (e *env) snapshot() *credit.Snapshot {
	e.t.Helper()
	s, err := credit.ReadSnapshot(e.ctx, e.store)
	if err != nil {
		e.t.Fatalf("Snapshot: %v", err)
	}
	return s
}

// unchanged runs fn and fails the test if the store differs afterwards: a
// refused request writes nothing.
func (e *env) unchanged(what string, fn func()) {
	e.t.Helper()
	before := e.snapshot()
	fn()
	after := e.snapshot()
	if d := diffSnapshots(before, after); d != "" {
		e.t.Errorf("%s wrote to the store: %s", what, d)
	}
}

func (e *env) account(id string, overdraft credit.Credits) {
	e.t.Helper()
	if _, err := e.ledger.CreateAccount(e.ctx, nil, id, overdraft); err != nil {
		e.t.Fatalf("CreateAccount(%q) = %v", id, err)
	}
}

func (e *env) grant(account string, s credit.GrantSpec) credit.Grant {
	e.t.Helper()
	if s.Source == "" {
		s.Source = credit.SourceTopup
	}
	g, err := e.ledger.AddGrant(e.ctx, nil, account, s)
	if err != nil {
		e.t.Fatalf("AddGrant(%q, %s) = %v", account, s.Credits, err)
	}
	return g
}

// topup grants n whole credits that never expire.
func (e *env) topup(account string, n int64) credit.Grant {
	e.t.Helper()
	return e.grant(account, credit.GrantSpec{Credits: credit.Whole(n), Source: credit.SourceTopup})
}

func (e *env) hold(account string, c credit.Credits, ttl time.Duration) credit.Hold {
	e.t.Helper()
	h, err := e.ledger.CreateHold(e.ctx, nil, account, credit.HoldSpec{Credits: c, TTL: ttl})
	if err != nil {
		e.t.Fatalf("CreateHold(%q, %s) = %v", account, c, err)
	}
	return h
}

func (e *env) generation(account string, r credit.QuoteRequest) credit.Generation {
	e.t.Helper()
	g, err := e.ledger.CreateGeneration(e.ctx, nil, credit.GenerationSpec{Account: account, Request: r})
	if err != nil {
		e.t.Fatalf("CreateGeneration(%q, %+v) = %v", account, r, err)
	}
	return g
}

func (e *env) complete(id string, n int) credit.Generation {
	e.t.Helper()
	g, err := e.ledger.CompleteGeneration(e.ctx, nil, id, n)
	if err != nil {
		e.t.Fatalf("CompleteGeneration(%s, %d) = %v", id, n, err)
	}
	return g
}

// view reads an account as support sees it (which settles what is due).
func (e *env) view(id string) credit.AccountView {
	e.t.Helper()
	v, err := e.ledger.Account(e.ctx, id)
	if err != nil {
		e.t.Fatalf("Account(%q) = %v", id, err)
	}
	return v
}

// balances checks an account's available and held credits.
func (e *env) balances(id string, available, held credit.Credits) {
	e.t.Helper()
	v := e.view(id)
	if v.Available != available || v.Held != held {
		e.t.Errorf("Account(%q) available, held = %s, %s; want %s, %s", id, v.Available, v.Held, available, held)
	}
}

// grantState reads a grant straight from the store (no settling).
func (e *env) grantState(id string) credit.Grant {
	e.t.Helper()
	for _, g := range e.snapshot().Grants {
		if g.ID == id {
			return g
		}
	}
	e.t.Fatalf("no grant %s in the store", id)
	return credit.Grant{}
}

// wantGrant checks a grant's remaining and held credits.
func (e *env) wantGrant(label, id string, remaining, held credit.Credits) {
	e.t.Helper()
	g := e.grantState(id)
	if g.Remaining != remaining || g.Held != held {
		e.t.Errorf("grant %s remaining, held = %s, %s; want %s, %s", label, g.Remaining, g.Held, remaining, held)
	}
}

// journal returns every transaction of an account, oldest first.
func (e *env) journal(account string) []credit.Entry {
	e.t.Helper()
	var out []credit.Entry
	for _, t := range e.snapshot().Entries {
		if t.Account == account {
			out = append(out, t)
		}
	}
	return out
}

// platform sums the postings to one of the platform's books.
func platformBook(s *credit.Snapshot, book string) credit.Credits {
	var sum credit.Credits
	for _, t := range s.Entries {
		for _, p := range t.Postings {
			if p.Account == credit.PlatformAccount && p.Book == book {
				sum += p.Amount
			}
		}
	}
	return sum
}

// wantErr checks an error's code and, if reason is not "", its reason.
func wantErr(t testing.TB, what string, err error, code, reason string) {
	t.Helper()
	if got := credit.ErrorCode(err); got != code {
		t.Errorf("%s error = %v (code %q); want code %q", what, err, got, code)
		return
	}
	if reason != "" {
		if got := credit.ErrorReason(err); got != reason {
			t.Errorf("%s error reason = %q (%v); want %q", what, got, err, reason)
		}
	}
}

// wantRefused checks that err is a refusal with one of the reasons.
func wantRefused(t testing.TB, what string, err error, reasons ...string) {
	t.Helper()
	got := credit.ErrorReason(err)
	for _, r := range reasons {
		if got == r {
			return
		}
	}
	t.Errorf("%s error = %v (reason %q); want one of %q", what, err, got, reasons)
}

// asError returns err's *credit.Error, or nil.
func asError(err error) *credit.Error {
	var e *credit.Error
	if errors.As(err, &e) {
		return e
	}
	return nil
}

// allocs renders a hold's allocations as "label:amount" with labels by grant id.
func allocs(h credit.Hold, labels map[string]string) string {
	var parts []string
	for _, a := range h.Allocations {
		l := labels[a.Grant]
		if l == "" {
			l = a.Grant
		}
		parts = append(parts, fmt.Sprintf("%s:%s", l, a.Amount))
	}
	return strings.Join(parts, " ")
}

// diffSnapshots describes the differences between two snapshots, or "". It
// matches things by id, so a store may list them in any order.
func diffSnapshots(a, b *credit.Snapshot) string {
	var d []string
	diff := func(noun string, before, after map[string]string) {
		for id, x := range before {
			if y, ok := after[id]; !ok {
				d = append(d, fmt.Sprintf("%s %s gone", noun, id))
			} else if x != y {
				d = append(d, fmt.Sprintf("%s %s: %s → %s", noun, id, x, y))
			}
		}
		for id, y := range after {
			if _, ok := before[id]; !ok {
				d = append(d, fmt.Sprintf("new %s %s: %s", noun, id, y))
			}
		}
	}
	accounts := func(s *credit.Snapshot) map[string]string {
		m := map[string]string{}
		for _, x := range s.Accounts {
			m[x.ID] = fmt.Sprintf("%s available, %s held, overdraft %s, kind %s", x.Available, x.Held, x.Overdraft, x.Kind)
		}
		return m
	}
	grants := func(s *credit.Snapshot) map[string]string {
		m := map[string]string{}
		for _, x := range s.Grants {
			m[x.ID] = fmt.Sprintf("%s remaining, %s held, expired %v", x.Remaining, x.Held, x.ExpiredAt)
		}
		return m
	}
	holds := func(s *credit.Snapshot) map[string]string {
		m := map[string]string{}
		for _, x := range s.Holds {
			m[x.ID] = fmt.Sprintf("%s %s, captured %s, released %s", x.Status, x.Amount, x.Captured, x.Released)
		}
		return m
	}
	gens := func(s *credit.Snapshot) map[string]string {
		m := map[string]string{}
		for _, x := range s.Generations {
			m[x.ID] = fmt.Sprintf("%s, charged %s, refunded %s", x.Status, x.Charged, x.Refunded)
		}
		return m
	}
	members := func(s *credit.Snapshot) map[string]string {
		m := map[string]string{}
		for _, x := range s.Members {
			m[x.Account+"/"+x.ID] = fmt.Sprintf("limit %s, updated %v, removed %v", limitText(x.MonthlyLimit), x.UpdatedAt, x.RemovedAt)
		}
		return m
	}
	periods := func(s *credit.Snapshot) map[string]string {
		m := map[string]string{}
		for _, x := range s.MemberPeriods {
			m[x.Account+"/"+x.Member+"/"+timeText(x.Start)] = fmt.Sprintf("used %s, limit %s", x.Used, limitText(x.Limit))
		}
		return m
	}
	diff("account", accounts(a), accounts(b))
	diff("grant", grants(a), grants(b))
	diff("hold", holds(a), holds(b))
	diff("generation", gens(a), gens(b))
	diff("member", members(a), members(b))
	diff("member period", periods(a), periods(b))
	if len(a.Entries) != len(b.Entries) {
		d = append(d, fmt.Sprintf("journal %d → %d transactions", len(a.Entries), len(b.Entries)))
	}
	slices.Sort(d)
	return strings.Join(d, "; ")
}

// idem returns an idempotency key of the test's own scope.
func idem(key, hash string) *credit.Idempotency {
	return &credit.Idempotency{Scope: "key_test", Key: key, Hash: hash}
}

// Quote requests priced by hand from the seed page.
var (
	// fluxDev is Flux Dev, 1K, one image: 5 credits ("Flux Dev | 5").
	fluxDev = credit.QuoteRequest{Model: "flux-dev"}
	// banana2K is Nano Banana 2 at 2K: 73.5 credits an image ("73.5 (2K)").
	banana2K = credit.QuoteRequest{Model: "nano-banana-2", Resolution: "2K"}
)

// images returns r for n images.
func images(r credit.QuoteRequest, n int) credit.QuoteRequest {
	r.Images = n
	return r
}

// cr parses a decimal amount of credits; the suite's literals are all valid.
func cr(s string) credit.Credits {
	v, err := credit.ParseCredits(s)
	if err != nil {
		panic(err)
	}
	return v
}
