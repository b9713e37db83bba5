package storetest

import (
	"fmt"
	"math/rand"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/quick"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// scenario is a small random ledger history: a few accounts and grants, then
// holds, captures, releases, generations, refunds and the passing of time.
// testing/quick generates them; a failing one is printed whole.
type scenario struct {
	Accounts []scAccount
	Steps    []scStep
}

type scAccount struct {
	Overdraft credit.Credits
	Grants    []scGrant
}

type scGrant struct {
	Credits   credit.Credits
	Priority  int
	ExpiresIn time.Duration // 0: never
}

type scStep struct {
	Op      string // hold, capture, release, generation, complete, refund, grant, wait, sweep
	Account int
	Credits credit.Credits
	N       int // images, or which hold/generation (modulo how many there are)
	Wait    time.Duration
	Grant   scGrant
}

func randGrant(r *rand.Rand) scGrant {
	g := scGrant{Credits: credit.Whole(int64(1+r.Intn(20))) + credit.Credits(r.Intn(2)*500), Priority: r.Intn(3)}
	if r.Intn(2) == 0 {
		g.ExpiresIn = time.Duration(10+r.Intn(300)) * time.Minute
	}
	return g
}

// Generate makes a scenario (quick.Generator).
func (scenario) Generate(r *rand.Rand, size int) reflect.Value {
	var s scenario
	for range 1 + r.Intn(2) {
		a := scAccount{}
		if r.Intn(2) == 0 {
			a.Overdraft = credit.Whole(int64(r.Intn(15)))
		}
		for range 1 + r.Intn(5) {
			a.Grants = append(a.Grants, randGrant(r))
		}
		s.Accounts = append(s.Accounts, a)
	}
	ops := []string{"hold", "hold", "capture", "release", "generation", "generation", "complete", "refund", "grant", "wait", "sweep"}
	for range 3 + r.Intn(min(size, 12)+1) {
		st := scStep{Op: ops[r.Intn(len(ops))], Account: r.Intn(len(s.Accounts)), N: r.Intn(8)}
		switch st.Op {
		case "hold", "capture":
			st.Credits = credit.Whole(int64(1+r.Intn(30))) + credit.Credits(r.Intn(4)*250)
		case "refund":
			st.Credits = credit.Whole(int64(1 + r.Intn(10)))
		case "grant":
			st.Grant = randGrant(r)
		case "wait":
			st.Wait = time.Duration(1+r.Intn(120)) * time.Minute
		}
		s.Steps = append(s.Steps, st)
	}
	return reflect.ValueOf(s)
}

func (s scenario) String() string {
	var b strings.Builder
	for i, a := range s.Accounts {
		fmt.Fprintf(&b, "account %d overdraft %s grants %+v\n", i, a.Overdraft, a.Grants)
	}
	for _, st := range s.Steps {
		fmt.Fprintf(&b, "  %+v\n", st)
	}
	return b.String()
}

// property is one invariant, checked after every step of a scenario. before
// is the snapshot before the step (nil for properties that do not need it);
// hold is the hold the step created, if any.
type property struct {
	name       string
	needBefore bool
	check      func(before, after *credit.Snapshot, hold *credit.Hold) error
}

func runProperties(t *testing.T, open func(t *testing.T) credit.Store) {
	count := 12
	if testing.Short() {
		count = 5
	}
	for _, p := range []property{
		{name: "ZeroSum", check: propZeroSum},
		{name: "AvailableAboveOverdraft", check: propOverdraft},
		{name: "HeldIsOpenHolds", check: propHeld},
		{name: "ConsumptionOrder", needBefore: true, check: propConsumptionOrder},
	} {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, open)
			run := 0
			var failure string
			f := func(s scenario) bool {
				run++
				if err := playScenario(e, fmt.Sprintf("p%d", run), s, p); err != nil {
					failure = err.Error()
					return false
				}
				return true
			}
			seed := time.Now().UnixNano()
			cfg := &quick.Config{MaxCount: count, Rand: rand.New(rand.NewSource(seed))}
			if err := quick.Check(f, cfg); err != nil {
				t.Errorf("%s (quick seed %d): %s\n%v", p.name, seed, failure, err)
			}
		})
	}
}

// playScenario plays s on fresh accounts named by prefix and checks p after
// every step. Refusals are part of the game (insufficient credits, a hold
// already resolved…); only the invariant matters.
func playScenario(e *env, prefix string, s scenario, p property) error {
	var accounts, holds, gens []string
	grantSpec := func(g scGrant) credit.GrantSpec {
		spec := credit.GrantSpec{Credits: g.Credits, Source: credit.SourcePromo, Priority: g.Priority}
		if g.ExpiresIn > 0 {
			spec.ExpiresAt = e.clock.Now().Add(g.ExpiresIn)
		}
		return spec
	}
	for i, a := range s.Accounts {
		id := fmt.Sprintf("%s-%d", prefix, i)
		if _, err := e.ledger.CreateAccount(e.ctx, nil, id, a.Overdraft); err != nil {
			return fmt.Errorf("CreateAccount: %v", err)
		}
		accounts = append(accounts, id)
		for _, g := range a.Grants {
			e.clock.Add(time.Millisecond)
			if _, err := e.ledger.AddGrant(e.ctx, nil, id, grantSpec(g)); err != nil {
				return fmt.Errorf("AddGrant: %v", err)
			}
		}
	}
	for i, st := range s.Steps {
		e.clock.Add(time.Millisecond)
		acct := accounts[st.Account]
		var before *credit.Snapshot
		if p.needBefore {
			// Settle first (a read of something past its time does), so that
			// the snapshot shows the grants as the next hold will find them.
			if _, err := e.ledger.Account(e.ctx, acct); err != nil {
				return fmt.Errorf("step %d: Account(%s): %v", i, acct, err)
			}
			before = e.snapshot()
		}
		var made *credit.Hold
		var err error
		switch st.Op {
		case "hold":
			var h credit.Hold
			if h, err = e.ledger.CreateHold(e.ctx, nil, acct, credit.HoldSpec{Credits: st.Credits}); err == nil {
				holds = append(holds, h.ID)
				made = &h
			}
		case "capture", "release":
			if len(holds) == 0 {
				continue
			}
			id := holds[st.N%len(holds)]
			if st.Op == "release" {
				_, err = e.ledger.ReleaseHold(e.ctx, nil, id)
			} else {
				_, err = e.ledger.CaptureHold(e.ctx, nil, id, &st.Credits)
			}
		case "generation":
			var g credit.Generation
			if g, err = e.ledger.CreateGeneration(e.ctx, nil, credit.GenerationSpec{Account: acct, Request: images(fluxDev, 1+st.N%4)}); err == nil {
				gens = append(gens, g.ID)
				h, herr := e.ledger.Hold(e.ctx, g.Hold)
				if herr != nil {
					return fmt.Errorf("step %d: Hold(%s): %v", i, g.Hold, herr)
				}
				made = &h
			}
		case "complete":
			if len(gens) == 0 {
				continue
			}
			_, err = e.ledger.CompleteGeneration(e.ctx, nil, gens[st.N%len(gens)], st.N%5)
		case "refund":
			if len(gens) == 0 {
				continue
			}
			_, err = e.ledger.RefundGeneration(e.ctx, nil, gens[st.N%len(gens)], &st.Credits)
		case "grant":
			_, err = e.ledger.AddGrant(e.ctx, nil, acct, grantSpec(st.Grant))
		case "wait":
			e.clock.Add(st.Wait)
			continue
		case "sweep":
			_, err = e.ledger.ExpireDue(e.ctx)
		}
		if code := credit.ErrorCode(err); code == credit.Internal || code == credit.Unavailable {
			return fmt.Errorf("step %d (%+v): %v", i, st, err)
		}
		if err := p.check(before, e.snapshot(), made); err != nil {
			return fmt.Errorf("after step %d (%+v): %v", i, st, err)
		}
	}
	return nil
}

// propZeroSum: every transaction has postings and they sum to zero; a
// transaction touches one user account, with one posting per book and grant.
func propZeroSum(_, s *credit.Snapshot, _ *credit.Hold) error {
	for _, t := range s.Entries {
		if len(t.Postings) == 0 {
			return fmt.Errorf("transaction %d (%s) has no postings", t.ID, t.Kind)
		}
		var sum credit.Credits
		seen := map[string]bool{}
		for _, p := range t.Postings {
			sum += p.Amount
			if p.Account != credit.PlatformAccount && p.Account != t.Account {
				return fmt.Errorf("transaction %d of %s posts to account %s", t.ID, t.Account, p.Account)
			}
			k := p.Account + "/" + p.Book + "/" + p.Grant
			if seen[k] {
				return fmt.Errorf("transaction %d has two postings to %s", t.ID, k)
			}
			seen[k] = true
		}
		if sum != 0 {
			return fmt.Errorf("transaction %d (%s) sums to %s", t.ID, t.Kind, sum)
		}
	}
	return nil
}

// propOverdraft: available ≥ −overdraft, and only the overdraft grant is ever
// below zero.
func propOverdraft(_, s *credit.Snapshot, _ *credit.Hold) error {
	for _, a := range s.Accounts {
		if a.Available < -a.Overdraft {
			return fmt.Errorf("account %s: available %s below −%s", a.ID, a.Available, a.Overdraft)
		}
	}
	for _, g := range s.Grants {
		if g.Source != credit.SourceOverdraft && g.Remaining < 0 {
			return fmt.Errorf("grant %s of %s: remaining %s", g.ID, g.Account, g.Remaining)
		}
		if g.Held < 0 {
			return fmt.Errorf("grant %s of %s: held %s", g.ID, g.Account, g.Held)
		}
	}
	return nil
}

// propHeld: an account's held credits are the sum of its open holds, and of
// its grants' held parts.
func propHeld(_, s *credit.Snapshot, _ *credit.Hold) error {
	open := map[string]credit.Credits{}
	for _, h := range s.Holds {
		if h.Status == credit.HoldOpen {
			open[h.Account] += h.Amount - h.Captured - h.Released
		}
	}
	grants := map[string]credit.Credits{}
	for _, g := range s.Grants {
		grants[g.Account] += g.Held
	}
	for _, a := range s.Accounts {
		if a.Held != open[a.ID] || a.Held != grants[a.ID] {
			return fmt.Errorf("account %s: held %s; open holds %s, grants' held %s", a.ID, a.Held, open[a.ID], grants[a.ID])
		}
	}
	return nil
}

// propConsumptionOrder: a new hold takes from the account's spendable grants
// in order — priority, then expiry (never last), then creation, then id —
// each emptied before the next is touched, the overdraft grant last.
func propConsumptionOrder(before, _ *credit.Snapshot, h *credit.Hold) error {
	if h == nil {
		return nil
	}
	at := h.CreatedAt
	// The grants as the hold found them: spendable at its creation.
	var gs []credit.Grant
	for _, g := range before.Grants {
		if g.Account != h.Account {
			continue
		}
		if g.Source == credit.SourceOverdraft || (g.Remaining > 0 && g.Live(at)) {
			gs = append(gs, g)
		}
	}
	slices.SortFunc(gs, func(a, b credit.Grant) int {
		if (a.Source == credit.SourceOverdraft) != (b.Source == credit.SourceOverdraft) {
			if a.Source == credit.SourceOverdraft {
				return 1
			}
			return -1
		}
		if a.Priority != b.Priority {
			return a.Priority - b.Priority
		}
		if !a.ExpiresAt.Equal(b.ExpiresAt) {
			switch {
			case a.ExpiresAt.IsZero():
				return 1
			case b.ExpiresAt.IsZero():
				return -1
			}
			return a.ExpiresAt.Compare(b.ExpiresAt)
		}
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	var want []credit.Allocation
	rest := h.Amount
	for _, g := range gs {
		if rest == 0 {
			break
		}
		take := min(rest, g.Remaining)
		if g.Source == credit.SourceOverdraft {
			take = rest
		}
		if take > 0 {
			want = append(want, credit.Allocation{Grant: g.ID, Amount: take})
			rest -= take
		}
	}
	if got := allocText(h.Allocations); got != allocText(want) {
		return fmt.Errorf("hold %s of %s allocates %s; in consumption order it is %s", h.ID, h.Amount, got, allocText(want))
	}
	return nil
}
