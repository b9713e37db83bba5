package storetest

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

func runConcurrency(t *testing.T, open func(t *testing.T) credit.Store) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, e *env)
	}{
		{"Generations64", concGenerations64},
		{"OverdraftRace", concOverdraftRace},
		{"Mixed", concMixed},
		{"SameIdempotencyKey", concSameKey},
		{"LazyExpiry", concLazyExpiry},
		{"ResolveRace", concResolveRace},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newEnv(t, open))
		})
	}
}

// concGenerations64 is the test: 100 credits, 64 goroutines each
// creating a 5-credit generation (Flux Dev, one image): 100 / 5 = 20 succeed,
// the other 44 are refused, and nothing is overdrawn.
func concGenerations64(t *testing.T, e *env) {
	e.account("hot", 0)
	e.topup("hot", 100)
	var mu sync.Mutex
	var ok, insufficient int
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 64 {
		wg.Go(func() {
			<-start
			_, err := e.ledger.CreateGeneration(e.ctx, nil, credit.GenerationSpec{Account: "hot", Request: fluxDev})
			mu.Lock()
			defer mu.Unlock()
			switch credit.ErrorCode(err) {
			case "":
				ok++
			case credit.InsufficientCredits:
				insufficient++
				if ce := asError(err); ce == nil || ce.Required != credit.Whole(5) || ce.Available >= credit.Whole(5) {
					t.Errorf("goroutine %d: insufficient error %+v; want required 5, available under 5", i, ce)
				}
			default:
				t.Errorf("goroutine %d: CreateGeneration = %v (%s); want success or insufficient_credits", i, err, credit.ErrorCode(err))
			}
		})
	}
	close(start)
	wg.Wait()
	if ok != 20 || insufficient != 44 {
		t.Errorf("64 generations of 5 on 100: %d succeeded, %d insufficient; want 20, 44", ok, insufficient)
	}
	e.balances("hot", 0, credit.Whole(100))
	if n := len(e.snapshot().Generations); n != 20 {
		t.Errorf("stored generations = %d; want 20", n)
	}
}

// concOverdraftRace: an account with nothing but an overdraft of 10, and 32
// goroutines holding 1 credit each: exactly 10 succeed, and the account ends
// at −10, never below.
func concOverdraftRace(t *testing.T, e *env) {
	e.account("od", credit.Whole(10))
	var mu sync.Mutex
	ok := 0
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 32 {
		wg.Go(func() {
			<-start
			_, err := e.ledger.CreateHold(e.ctx, nil, "od", credit.HoldSpec{Credits: credit.Whole(1)})
			mu.Lock()
			defer mu.Unlock()
			switch credit.ErrorCode(err) {
			case "":
				ok++
			case credit.InsufficientCredits:
			default:
				t.Errorf("goroutine %d: CreateHold = %v", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if ok != 10 {
		t.Errorf("32 holds of 1 on an overdraft of 10: %d succeeded; want 10", ok)
	}
	e.balances("od", credit.Whole(-10), credit.Whole(10))
}

// concMixed: many goroutines grant, hold, capture, release, create, complete
// and fail on a few accounts at once. Each keeps the sum of what it did that
// succeeded; at the end every account must hold exactly what those sums say.
func concMixed(t *testing.T, e *env) {
	type acct struct {
		id        string
		overdraft credit.Credits
	}
	accounts := []acct{{"m0", 0}, {"m1", credit.Whole(20)}, {"m2", 0}}
	initial := credit.Whole(50)
	for _, a := range accounts {
		e.account(a.id, a.overdraft)
		e.topup(a.id, 50)
	}
	workers, opsEach := 16, 25
	if testing.Short() {
		workers, opsEach = 8, 15
	}
	var mu sync.Mutex
	granted := map[string]credit.Credits{}
	captured := map[string]credit.Credits{}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), 42))
			type open struct {
				id, account string
				amount      credit.Credits
				gen         bool
			}
			var opens []open
			myGrants := map[string]credit.Credits{}
			myCaptures := map[string]credit.Credits{}
			fail := func(what string, err error) {
				if code := credit.ErrorCode(err); code != "" && code != credit.InsufficientCredits {
					t.Errorf("worker %d: %s = %v (%s)", w, what, err, code)
				}
			}
			resolve := func(o open, how int) {
				switch {
				case o.gen && how == 0:
					_, err := e.ledger.FailGeneration(e.ctx, nil, o.id)
					fail("FailGeneration", err)
				case o.gen:
					n := rng.IntN(int(o.amount/credit.Whole(5)) + 1)
					_, err := e.ledger.CompleteGeneration(e.ctx, nil, o.id, n)
					if err == nil {
						myCaptures[o.account] += credit.Whole(5) * credit.Credits(n)
					}
					fail("CompleteGeneration", err)
				case how == 0:
					_, err := e.ledger.ReleaseHold(e.ctx, nil, o.id)
					fail("ReleaseHold", err)
				case how == 1:
					_, err := e.ledger.CaptureHold(e.ctx, nil, o.id, nil)
					if err == nil {
						myCaptures[o.account] += o.amount
					}
					fail("CaptureHold(all)", err)
				default:
					part := credit.Credits(rng.Int64N(int64(o.amount) + 1))
					_, err := e.ledger.CaptureHold(e.ctx, nil, o.id, &part)
					if err == nil {
						myCaptures[o.account] += part
					}
					fail("CaptureHold(part)", err)
				}
			}
			for range opsEach {
				a := accounts[rng.IntN(len(accounts))].id
				switch r := rng.IntN(10); {
				case r < 2:
					k := credit.Whole(int64(1 + rng.IntN(10)))
					_, err := e.ledger.AddGrant(e.ctx, nil, a, credit.GrantSpec{Credits: k, Source: credit.SourceTopup, Priority: rng.IntN(3)})
					if err == nil {
						myGrants[a] += k
					}
					fail("AddGrant", err)
				case r < 5:
					k := credit.Whole(int64(1+rng.IntN(15))) + credit.Credits(rng.IntN(1000))
					h, err := e.ledger.CreateHold(e.ctx, nil, a, credit.HoldSpec{Credits: k})
					if err == nil {
						opens = append(opens, open{h.ID, a, k, false})
					}
					fail("CreateHold", err)
				case r < 7:
					n := 1 + rng.IntN(2)
					g, err := e.ledger.CreateGeneration(e.ctx, nil, credit.GenerationSpec{Account: a, Request: images(fluxDev, n)})
					if err == nil {
						opens = append(opens, open{g.ID, a, credit.Whole(5) * credit.Credits(n), true})
					}
					fail("CreateGeneration", err)
				default:
					if len(opens) == 0 {
						continue
					}
					i := rng.IntN(len(opens))
					resolve(opens[i], rng.IntN(3))
					opens = append(opens[:i], opens[i+1:]...)
				}
			}
			for _, o := range opens {
				resolve(o, rng.IntN(3))
			}
			mu.Lock()
			defer mu.Unlock()
			for a, k := range myGrants {
				granted[a] += k
			}
			for a, k := range myCaptures {
				captured[a] += k
			}
		})
	}
	wg.Wait()
	var totalGranted, totalCaptured credit.Credits
	for _, a := range accounts {
		// Every hold was resolved: nothing is held, and what is left is what
		// was put in less what was charged.
		e.balances(a.id, initial+granted[a.id]-captured[a.id], 0)
		totalGranted += initial + granted[a.id]
		totalCaptured += captured[a.id]
	}
	s := e.snapshot()
	if got := platformBook(s, credit.BookIssued); got != -totalGranted {
		t.Errorf("platform issued = %s; want −%s", got, totalGranted)
	}
	if got := platformBook(s, credit.BookRevenue); got != totalCaptured {
		t.Errorf("platform revenue = %s; want %s", got, totalCaptured)
	}
	for _, h := range s.Holds {
		if h.Status == credit.HoldOpen {
			t.Errorf("hold %s is still open", h.ID)
		}
	}
}

// concSameKey: a client retries one request many times at once (a timeout,
// then a storm of retries). Every answer is the first; there is one effect.
func concSameKey(t *testing.T, e *env) {
	e.account("a", 0)
	e.topup("a", 100)
	key := idem("storm", "h-storm")
	spec := credit.GenerationSpec{Account: "a", Request: fluxDev}
	ids := make([]string, 16)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range ids {
		wg.Go(func() {
			<-start
			g, err := e.ledger.CreateGeneration(e.ctx, key, spec)
			if err != nil {
				t.Errorf("retry %d: CreateGeneration = %v (%s); want the one answer", i, err, credit.ErrorReason(err))
				return
			}
			ids[i] = g.ID
		})
	}
	close(start)
	wg.Wait()
	for i, id := range ids {
		if id != "" && id != ids[0] && ids[0] != "" {
			t.Errorf("retry %d got generation %s; retry 0 got %s", i, id, ids[0])
		}
	}
	if n := len(e.snapshot().Generations); n != 1 {
		t.Errorf("stored generations = %d; want 1", n)
	}
	e.balances("a", credit.Whole(95), credit.Whole(5))
}

// concLazyExpiry: a hold past its TTL is settled by whoever comes first —
// readers of the account, of the generation, the sweeper — exactly once.
func concLazyExpiry(t *testing.T, e *env) {
	e.account("a", 0)
	e.topup("a", 10)
	var gens []credit.Generation
	for range 2 {
		gens = append(gens, e.generation("a", fluxDev))
	}
	e.clock.Add(16 * time.Minute)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 24 {
		wg.Go(func() {
			<-start
			var err error
			switch i % 3 {
			case 0:
				_, err = e.ledger.Account(e.ctx, "a")
			case 1:
				_, err = e.ledger.Generation(e.ctx, gens[i%2].ID)
			default:
				_, err = e.ledger.ExpireDue(e.ctx)
			}
			if err != nil {
				t.Errorf("reader %d: %v", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	releases := 0
	for _, tr := range e.journal("a") {
		if tr.Kind == credit.EntryRelease {
			releases++
		}
	}
	if releases != 2 {
		t.Errorf("release transactions = %d; want 2 (one per expired hold)", releases)
	}
	e.balances("a", credit.Whole(10), 0)
	for _, g := range gens {
		got, err := e.ledger.Generation(e.ctx, g.ID)
		if err != nil || got.Status != credit.GenerationExpired {
			t.Errorf("Generation(%s) = %s, %v; want expired", g.ID, got.Status, err)
		}
	}
}

// concResolveRace: completes and fails race on the same generation; exactly
// one wins, the rest are told it is already resolved.
func concResolveRace(t *testing.T, e *env) {
	e.account("a", 0)
	e.topup("a", 100)
	const n = 10
	var gens []credit.Generation
	for range n {
		gens = append(gens, e.generation("a", images(fluxDev, 2))) // 10 each
	}
	var mu sync.Mutex
	wins := map[string][]string{}
	var wg sync.WaitGroup
	for _, g := range gens {
		for i := range 8 {
			wg.Go(func() {
				var err error
				how := "complete"
				if i%2 == 0 {
					_, err = e.ledger.CompleteGeneration(e.ctx, nil, g.ID, 2)
				} else {
					how = "fail"
					_, err = e.ledger.FailGeneration(e.ctx, nil, g.ID)
				}
				mu.Lock()
				defer mu.Unlock()
				switch credit.ErrorReason(err) {
				case "":
					wins[g.ID] = append(wins[g.ID], how)
				case "already_resolved":
				default:
					t.Errorf("%s %s = %v; want success or already_resolved", how, g.ID, err)
				}
			})
		}
	}
	wg.Wait()
	completed := 0
	for _, g := range gens {
		w := wins[g.ID]
		if len(w) != 1 {
			t.Errorf("generation %s resolved %d times (%v); want once", g.ID, len(w), w)
			continue
		}
		if w[0] == "complete" {
			completed++
		}
	}
	// 100 − 10 per completed generation.
	e.balances("a", credit.Whole(100)-credit.Whole(10)*credit.Credits(completed), 0)
	if got := platformBook(e.snapshot(), credit.BookRevenue); got != credit.Whole(10)*credit.Credits(completed) {
		t.Errorf("revenue = %s; want %s (%d completed)", got, fmt.Sprint(credit.Whole(10)*credit.Credits(completed)), completed)
	}
}
