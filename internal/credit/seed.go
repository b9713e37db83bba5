package credit

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// SeedHistory appends `cycles` completed generations to the journal of an
// account that has none yet, for `tally bench`'s history scenario: a long
// journal in seconds where deciding each write would take much longer.
//
// First one grant (source topup, dated just before from) pays for every
// cycle and leaves a thousand of the first template's over. Then cycle i, at
// from + i·(to−from)/cycles, is the generation like[i mod len(like)]: its
// generation, hold and allocation rows, its hold entry and, half a step
// later, its capture of the whole hold, each with the postings the ledger
// writes. The rows are the ones the ledger would have written, balances
// after each entry included, so Verify accepts the store after it.
//
// The rows go through Store.Write, as every write's do — the store has one
// writer of ledger rows — in chunks of seedChunk cycles, one transaction
// each. After every chunk the ledger is whole: the account's and the
// grant's balances are the chunk's last entry's.
//
// It returns the entries written, 1 + 2·cycles. Invalid if the account has
// a journal, grants or holds already, or if the grant would exceed
// MaxCredits; NotFound unknown_account.
func SeedHistory(ctx context.Context, store Store, account string, cycles int, from, to time.Time, like []Generation) (int, error) {
	p, err := planSeed(cycles, from, to, like)
	if err != nil {
		return 0, err
	}
	err = store.View(ctx, func(tx Tx) error {
		a, err := tx.Account(account)
		if err != nil {
			return err
		}
		entries, err := tx.Entries(account, "", 0, 1)
		if err != nil {
			return err
		}
		grants, err := tx.Grants(account)
		if err != nil {
			return err
		}
		holds, err := tx.OpenHolds(account)
		if err != nil {
			return err
		}
		if len(entries) > 0 || len(grants) > 1 || len(holds) > 0 || a.Available != 0 || a.Held != 0 {
			return Errorf(Invalid, "account_not_empty", "seed: account %q already has a journal, grants or holds", account)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	g := Grant{ID: p.grant, Account: account, Source: SourceTopup, Granted: p.granted, Remaining: p.granted, CreatedAt: p.grantAt, Memo: p.memo}
	first := &Change{NewGrants: []Grant{g}, Account: &Account{ID: account, Available: p.granted}}
	e := newDraft(EntryGrant, account, g.ID, p.grantAt)
	e.t.Memo = p.memo
	e.platform(BookIssued, -p.granted)
	e.wallet(BookAvailable, g.ID, p.granted)
	e.t.AvailableDelta, e.t.AvailableAfter = p.granted, p.granted
	first.Entries = []Entry{e.t}
	if err := seedWrite(ctx, store, account, first); err != nil {
		return 0, err
	}
	available := p.granted
	for start := 0; start < p.cycles; start += seedChunk {
		c := &Change{}
		for i := start; i < min(start+seedChunk, p.cycles); i++ {
			available = p.cycle(c, account, i, available)
		}
		g.Remaining = available
		c.Grants = []Grant{g}
		c.Account = &Account{ID: account, Available: available}
		if err := seedWrite(ctx, store, account, c); err != nil {
			return 0, err
		}
	}
	return 1 + 2*p.cycles, nil
}

// seedChunk is how many cycles one transaction of SeedHistory writes.
const seedChunk = 5000

func seedWrite(ctx context.Context, store Store, account string, c *Change) error {
	return store.Write(ctx, []*Batch{{Account: account, Writes: 1, Decide: func(s *State) (*Change, error) {
		if s.Account == nil {
			return nil, unknown("account", account)
		}
		c.Consumption = consumptionRows(c.Consumption)
		c.addLiability(s, time.Time{}) // the seed moves no expiry
		return c, nil
	}}})
}

// seedPlan is what SeedHistory writes, worked out before the first row.
type seedPlan struct {
	cycles                       int
	from                         time.Time
	step, ttl                    time.Duration // between cycles; of each hold
	like                         []Generation
	granted                      Credits // every cycle and some over
	grant                        string  // its id
	grantAt                      time.Time
	memo                         string
	generationPrefix, holdPrefix string // + the cycle's number, 9 digits
}

// planSeed checks SeedHistory's arguments and works out its plan.
func planSeed(cycles int, from, to time.Time, like []Generation) (*seedPlan, error) {
	invalid := func(format string, args ...any) (*seedPlan, error) {
		return nil, Errorf(Invalid, "invalid_seed", "seed: "+format, args...)
	}
	if cycles < 1 || cycles > 999_999_999 {
		return invalid("cycles must be 1 to 999999999, not %d", cycles)
	}
	if len(like) == 0 {
		return invalid("no generation to repeat")
	}
	p := &seedPlan{cycles: cycles, from: from.UTC().Truncate(time.Microsecond), ttl: DefaultHoldTTL, like: like, memo: "tally bench: seeded history"}
	p.step = (to.Sub(p.from) / time.Duration(cycles)).Truncate(time.Microsecond)
	if p.step < 2*time.Microsecond {
		return invalid("%d cycles do not fit between %s and %s (2 µs each at least)", cycles, from, to)
	}
	var round Credits // one pass over like
	before := make([]Credits, len(like)+1)
	for k, g := range like {
		if g.Model == "" || g.CatalogVersion == "" || g.HoldCredits <= 0 || g.Charged != g.HoldCredits ||
			g.ImagesDelivered != g.Images || g.UnitCredits*Credits(g.Images)+g.Surcharge != g.HoldCredits {
			return invalid("generation %d to repeat is not a priced generation delivered whole", k)
		}
		before[k+1] = before[k] + g.HoldCredits
	}
	round = before[len(like)]
	m := len(like)
	total := Credits(cycles/m)*round + before[cycles%m]
	p.granted = total + 1000*like[0].HoldCredits
	if total < 0 || p.granted > MaxCredits {
		return invalid("%d cycles cost more than one grant may hold (%s credits)", cycles, MaxCredits)
	}
	now := time.Now()
	p.grant = NewID("grt", now)
	p.grantAt = p.from.Add(-time.Second)
	gen := NewID("gen", now)
	p.generationPrefix = gen + "_"
	p.holdPrefix = "hld" + strings.TrimPrefix(gen, "gen") + "_"
	return p, nil
}

// cycle adds cycle i to c — a completed generation, its captured hold, and
// the hold's and the capture's entries — on an account with `available`
// before it, and returns the account's available balance after it.
func (p *seedPlan) cycle(c *Change, account string, i int, available Credits) Credits {
	t := p.like[i%len(p.like)]
	at := p.from.Add(time.Duration(i) * p.step)
	done := at.Add(p.step / 2)
	amount := t.HoldCredits
	gen := Generation{ID: fmt.Sprintf("%s%09d", p.generationPrefix, i), Account: account, Status: GenerationCompleted,
		Hold: fmt.Sprintf("%s%09d", p.holdPrefix, i), Model: t.Model, Kind: t.Kind, CatalogVersion: t.CatalogVersion,
		Images: t.Images, ImagesDelivered: t.Images, HoldCredits: amount, UnitCredits: t.UnitCredits, Surcharge: t.Surcharge,
		Charged: amount, Quote: t.Quote, ExpiresAt: at.Add(p.ttl), CreatedAt: at, ResolvedAt: done}
	h := Hold{ID: gen.Hold, Account: account, Generation: gen.ID, Amount: amount, Captured: amount, Status: HoldCaptured,
		ExpiresAt: gen.ExpiresAt, CreatedAt: at, ResolvedAt: done,
		Allocations: []Allocation{{Grant: p.grant, Amount: amount, Captured: amount}}}
	c.NewGenerations = append(c.NewGenerations, gen)
	c.NewHolds = append(c.NewHolds, h)

	available -= amount
	hold := newDraft(EntryHold, account, h.ID, at)
	hold.generation(gen)
	hold.wallet(BookAvailable, p.grant, -amount)
	hold.wallet(BookHeld, p.grant, amount)
	hold.t.AvailableDelta, hold.t.HeldDelta, hold.t.AvailableAfter, hold.t.HeldAfter = -amount, amount, available, amount
	capture := newDraft(EntryCapture, account, h.ID, done)
	capture.generation(gen)
	capture.t.ChargedDelta = amount
	capture.wallet(BookHeld, p.grant, -amount)
	capture.platform(BookRevenue, amount)
	capture.t.HeldDelta, capture.t.AvailableAfter = -amount, available
	c.Entries = append(c.Entries, hold.t, capture.t)
	c.Consumption = append(c.Consumption, ConsumptionRow{Day: utcDay(done), Model: gen.Model, Source: SourceTopup, Charged: amount, Charges: 1})
	return available
}
