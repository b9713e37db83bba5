package postgres_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"reflect"
	"sort"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/postgres/pgtest"
	"github.com/tally-credits/tally/internal/sqlite"
)

// TestDifferential runs the same seeded sequence of ledger operations on a
// fresh SQLite file and a fresh PostgreSQL database, with one fixed clock, and
// requires the same answer to every call and, at the end, the same accounts,
// grants, holds, generations and journal. Ids are random (credit.NewID), so
// things are compared by what identifies them in the sequence: a grant, hold
// or generation by its account, creation time and kind (each step makes at
// most one of each), a journal entry by its position.
func TestDifferential(t *testing.T) {
	pgtest.DSN(t)
	for _, seed := range []uint64{1, 2, 3} {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			lite, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "tally.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { lite.Close() })
			pg := pgtest.Open(t)
			runs := []*diffRun{newDiffRun(lite), newDiffRun(pg)}
			rng := rand.New(rand.NewPCG(seed, 0xd1ff))
			steps := 400
			if testing.Short() {
				steps = 150
			}
			for step := range steps {
				op := diffOps[rng.IntN(len(diffOps))]
				// One draw of the operation's random numbers, shared by both stores.
				args := make([]int, 6)
				for i := range args {
					args[i] = rng.IntN(1 << 20)
				}
				var answers [2]string
				for i, r := range runs {
					r.clock = r.clock.Add(time.Millisecond)
					answers[i] = op.do(r, args)
				}
				if answers[0] != answers[1] {
					t.Fatalf("seed %d step %d %s: SQLite answered %q; PostgreSQL %q", seed, step, op.name, answers[0], answers[1])
				}
			}
			a, b := runs[0].canonical(t), runs[1].canonical(t)
			if len(a.Journal) == 0 {
				t.Fatal("the simulation wrote no journal")
			}
			if !reflect.DeepEqual(a, b) {
				t.Errorf("seed %d: the stores differ:\n%s", seed, firstDiff(a, b))
			}
			for _, r := range runs {
				if vs, err := r.ledger.Verify(context.Background()); err != nil || len(vs) > 0 {
					t.Errorf("Verify = %v, %v", vs, err)
				}
			}
		})
	}
}

// diffRun is one store with its ledger, clock and the ids it made, in order.
type diffRun struct {
	store  credit.Store
	ledger *credit.Ledger
	clock  time.Time
	gens   []string
	holds  []string
	keys   int
}

var diffAccounts = []struct {
	id        string
	overdraft credit.Credits
}{{"u0", 0}, {"u1", credit.Whole(10)}, {"u2", credit.Whole(40)}}

func newDiffRun(s credit.Store) *diffRun {
	r := &diffRun{store: s, clock: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)}
	cat := catalog.Default()
	r.ledger = credit.NewLedger(s, credit.LedgerConfig{Now: func() time.Time { return r.clock }, Catalog: func() *credit.Catalog { return cat }})
	ctx := context.Background()
	for i, a := range diffAccounts {
		if _, err := r.ledger.CreateAccount(ctx, nil, a.id, a.overdraft); err != nil {
			panic(err)
		}
		if _, err := r.ledger.AddGrant(ctx, nil, a.id, credit.GrantSpec{Credits: credit.Whole(int64(30 * (i + 1))), Source: credit.SourceSubscription}); err != nil {
			panic(err)
		}
	}
	return r
}

// answer renders a call's outcome: what both stores must agree on.
func answer(v string, err error) string {
	if err != nil {
		return "error " + credit.ErrorCode(err) + "/" + credit.ErrorReason(err)
	}
	return v
}

func (r *diffRun) idem(n int) *credit.Idempotency {
	if n%3 != 0 {
		return nil
	}
	r.keys++
	return &credit.Idempotency{Scope: "diff", Key: fmt.Sprint("k", r.keys), Hash: fmt.Sprint("h", r.keys)}
}

var diffModels = []credit.QuoteRequest{
	{Model: "flux-dev"},
	{Model: "nano-banana-2", Resolution: "2K"},
	{Model: "nano-banana-2", Resolution: "4K"},
}

var diffOps = []struct {
	name string
	do   func(r *diffRun, a []int) string
}{
	{"grant", func(r *diffRun, a []int) string {
		s := credit.GrantSpec{Credits: credit.Credits(1 + a[1]%80_000), Source: credit.Sources[a[2]%len(credit.Sources)], Priority: a[3] % 4}
		switch a[4] % 3 {
		case 0:
			s.ExpiresAt = r.clock.Add(time.Duration(60+a[5]%(3*3600)) * time.Second)
		case 1:
			s.ExpiresAt = r.clock.Add(time.Duration(60+a[5]%(48*3600)) * time.Second)
		}
		g, err := r.ledger.AddGrant(context.Background(), r.idem(a[5]), diffAccounts[a[0]%3].id, s)
		return answer(fmt.Sprint(g.Granted, g.Remaining, g.PaidBack), err)
	}},
	{"generation", func(r *diffRun, a []int) string {
		req := diffModels[a[1]%len(diffModels)]
		req.Images = 1 + a[2]%4
		ttl := time.Duration(0)
		if a[3]%2 == 0 {
			ttl = time.Duration(60+a[4]%1800) * time.Second
		}
		g, err := r.ledger.CreateGeneration(context.Background(), r.idem(a[5]), credit.GenerationSpec{Account: diffAccounts[a[0]%3].id, Request: req, TTL: ttl})
		if err == nil {
			r.gens = append(r.gens, g.ID)
		}
		return answer(fmt.Sprint(g.Status, g.HoldCredits), err)
	}},
	{"complete", func(r *diffRun, a []int) string {
		if len(r.gens) == 0 {
			return "none"
		}
		g, err := r.ledger.CompleteGeneration(context.Background(), r.idem(a[5]), r.gens[a[0]%len(r.gens)], a[1]%5)
		return answer(fmt.Sprint(g.Status, g.Charged), err)
	}},
	{"fail", func(r *diffRun, a []int) string {
		if len(r.gens) == 0 {
			return "none"
		}
		g, err := r.ledger.FailGeneration(context.Background(), r.idem(a[5]), r.gens[a[0]%len(r.gens)])
		return answer(fmt.Sprint(g.Status, g.Charged), err)
	}},
	{"refund", func(r *diffRun, a []int) string {
		if len(r.gens) == 0 {
			return "none"
		}
		var c *credit.Credits
		if a[1]%2 == 0 {
			x := credit.Credits(1 + a[2]%20_000)
			c = &x
		}
		g, err := r.ledger.RefundGeneration(context.Background(), r.idem(a[5]), r.gens[a[0]%len(r.gens)], c)
		return answer(fmt.Sprint(g.Charged, g.Refunded), err)
	}},
	{"hold", func(r *diffRun, a []int) string {
		ttl := time.Duration(0)
		if a[3]%2 == 0 {
			ttl = time.Duration(1+a[4]%3600) * time.Second
		}
		h, err := r.ledger.CreateHold(context.Background(), r.idem(a[5]), diffAccounts[a[0]%3].id, credit.HoldSpec{Credits: credit.Credits(1 + a[1]%60_000), TTL: ttl})
		if err == nil {
			r.holds = append(r.holds, h.ID)
		}
		return answer(fmt.Sprint(h.Status, h.Amount), err)
	}},
	{"capture", func(r *diffRun, a []int) string {
		if len(r.holds) == 0 {
			return "none"
		}
		var c *credit.Credits
		if a[1]%2 == 0 {
			x := credit.Credits(a[2] % 30_000)
			c = &x
		}
		h, err := r.ledger.CaptureHold(context.Background(), r.idem(a[5]), r.holds[a[0]%len(r.holds)], c)
		return answer(fmt.Sprint(h.Status, h.Captured, h.Released), err)
	}},
	{"release", func(r *diffRun, a []int) string {
		if len(r.holds) == 0 {
			return "none"
		}
		h, err := r.ledger.ReleaseHold(context.Background(), r.idem(a[5]), r.holds[a[0]%len(r.holds)])
		return answer(fmt.Sprint(h.Status, h.Captured, h.Released), err)
	}},
	{"clock", func(r *diffRun, a []int) string {
		r.clock = r.clock.Add(time.Duration(1+a[0]%7200) * time.Second)
		return "ok"
	}},
	{"expire", func(r *diffRun, a []int) string {
		n, err := r.ledger.ExpireDue(context.Background())
		return answer(fmt.Sprint(n), err)
	}},
	{"read", func(r *diffRun, a []int) string {
		v, err := r.ledger.Account(context.Background(), diffAccounts[a[0]%3].id)
		return answer(fmt.Sprint(v.Available, v.Held, len(v.OpenHolds)), err)
	}},
}

// canonicalLedger is a snapshot with ids replaced by labels.
type canonicalLedger struct {
	Accounts    []credit.Account
	Grants      []credit.Grant
	Holds       []credit.Hold
	Generations []credit.Generation
	Journal     []credit.Entry
}

func (r *diffRun) canonical(t *testing.T) canonicalLedger {
	t.Helper()
	s, err := credit.ReadSnapshot(context.Background(), r.store)
	if err != nil {
		t.Fatal(err)
	}
	label := map[string]string{}
	for _, g := range s.Grants {
		label[g.ID] = fmt.Sprintf("grant %s %s %s", g.Account, g.CreatedAt.Format(time.RFC3339Nano), g.Source)
	}
	for _, h := range s.Holds {
		label[h.ID] = fmt.Sprintf("hold %s %s", h.Account, h.CreatedAt.Format(time.RFC3339Nano))
	}
	for _, g := range s.Generations {
		label[g.ID] = fmt.Sprintf("generation %s %s", g.Account, g.CreatedAt.Format(time.RFC3339Nano))
	}
	l := func(id string) string {
		if id == "" {
			return ""
		}
		if x, ok := label[id]; ok {
			return x
		}
		t.Fatalf("an id %q that no grant, hold or generation has", id)
		return ""
	}
	c := canonicalLedger{Accounts: s.Accounts}
	for _, g := range s.Grants {
		g.ID = l(g.ID)
		c.Grants = append(c.Grants, g)
	}
	for _, h := range s.Holds {
		h.ID, h.Generation = l(h.ID), l(h.Generation)
		for i := range h.Allocations {
			h.Allocations[i].Grant = l(h.Allocations[i].Grant)
		}
		c.Holds = append(c.Holds, h)
	}
	for _, g := range s.Generations {
		g.ID, g.Hold, g.Quote = l(g.ID), l(g.Hold), nil
		c.Generations = append(c.Generations, g)
	}
	for _, x := range s.Entries {
		x.ID, x.Ref, x.Generation = 0, l(x.Ref), l(x.Generation)
		x.Memo = "" // a refund grant's memo names a generation id
		for i := range x.Postings {
			x.Postings[i].Grant = l(x.Postings[i].Grant)
		}
		c.Journal = append(c.Journal, x)
	}
	byLabel := func(n int, id func(int) string, swap func(i, j int)) {
		sort.Sort(labelSort{n, id, swap})
	}
	byLabel(len(c.Grants), func(i int) string { return c.Grants[i].ID }, func(i, j int) { c.Grants[i], c.Grants[j] = c.Grants[j], c.Grants[i] })
	byLabel(len(c.Holds), func(i int) string { return c.Holds[i].ID }, func(i, j int) { c.Holds[i], c.Holds[j] = c.Holds[j], c.Holds[i] })
	byLabel(len(c.Generations), func(i int) string { return c.Generations[i].ID }, func(i, j int) {
		c.Generations[i], c.Generations[j] = c.Generations[j], c.Generations[i]
	})
	return c
}

type labelSort struct {
	n    int
	id   func(int) string
	swap func(i, j int)
}

func (s labelSort) Len() int           { return s.n }
func (s labelSort) Less(i, j int) bool { return s.id(i) < s.id(j) }
func (s labelSort) Swap(i, j int)      { s.swap(i, j) }

// firstDiff describes the first difference between two canonical ledgers.
func firstDiff(a, b canonicalLedger) string {
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	for f := range va.NumField() {
		name := va.Type().Field(f).Name
		x, y := va.Field(f), vb.Field(f)
		if x.Len() != y.Len() {
			return fmt.Sprintf("%s: %d on SQLite, %d on PostgreSQL", name, x.Len(), y.Len())
		}
		for i := range x.Len() {
			if !reflect.DeepEqual(x.Index(i).Interface(), y.Index(i).Interface()) {
				return fmt.Sprintf("%s[%d]:\n  SQLite     %+v\n  PostgreSQL %+v", name, i, x.Index(i).Interface(), y.Index(i).Interface())
			}
		}
	}
	return ""
}
