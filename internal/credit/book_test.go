package credit

// Tests of the ledger's decisions on a Book, with no database: each case
// builds an account's State by hand, decides on it in memory, and checks the
// Change against numbers worked out by hand (the arithmetic is in the
// comments; no expected value is computed by the code under test).
//
// Amounts are in credits: cr(2.5) is 2.5 credits (2500 thousandths). Times
// are hours after tT0: hour(9.5) is 09:30. Every write here runs at tNow,
// hour 10, unless said otherwise.
//
// The decisions that live in a Ledger method's closure rather than in a
// function of their own (AddGrant, RefundGeneration) run through the ledger
// on tStore, a Store with no database: it hands the batch's Decide the State
// the test built and keeps the Change it returns.

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

const (
	tAcc     = "acc"
	tModel   = "flux-pro"
	tCatalog = "2025-03-01"
)

var (
	tOvd = overdraftGrantID(tAcc) // "ovd_acc"
	tT0  = time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	tNow = hour(10)
)

// hour is h hours after tT0.
func hour(h float64) time.Time { return tT0.Add(time.Duration(h * float64(time.Hour))) }

// cr is n credits.
func cr(n float64) Credits { return Credits(math.Round(n * float64(Milli))) }

// tAccount is the account with these balances and overdraft limit.
func tAccount(available, held, limit Credits) *Account {
	return &Account{ID: tAcc, Overdraft: limit, Available: available, Held: held, CreatedAt: tT0}
}

// tGrant is a top-up created at hour created, priority 0, never expiring,
// with Remaining and Held as given and Granted their sum.
func tGrant(id string, remaining, held Credits, created float64) Grant {
	return Grant{ID: id, Account: tAcc, Source: SourceTopup, Granted: remaining + held, Remaining: remaining, Held: held, CreatedAt: hour(created)}
}

// expiresAt gives g an expiry at hour h, not yet reached or not yet marked.
func expiresAt(g Grant, h float64) Grant { g.ExpiresAt = hour(h); return g }

// expiredAt gives g an expiry at hour h, marked expired then (settled).
func expiredAt(g Grant, h float64) Grant { g.ExpiresAt, g.ExpiredAt = hour(h), hour(h); return g }

// paidBack says g was granted `granted`, of which paidBack paid the overdraft back.
func paidBack(g Grant, granted, paidBack Credits) Grant {
	g.Granted, g.PaidBack = granted, paidBack
	return g
}

// tOverdraft is the account's overdraft grant.
func tOverdraft(remaining, held Credits) Grant {
	return Grant{ID: tOvd, Account: tAcc, Source: SourceOverdraft, Remaining: remaining, Held: held, Priority: math.MaxInt32, CreatedAt: tT0}
}

// tHold is an open hold created at hour created, due at hour expires.
func tHold(id string, amount Credits, created, expires float64, allocs ...Allocation) Hold {
	return Hold{ID: id, Account: tAcc, Amount: amount, Status: HoldOpen, CreatedAt: hour(created), ExpiresAt: hour(expires), Allocations: allocs}
}

func al(grant string, amount Credits) Allocation { return Allocation{Grant: grant, Amount: amount} }

// tGen is a held generation of images of tModel, on hold.
func tGen(id, hold string, images int, unit, surcharge, holdCredits Credits, created, expires float64) Generation {
	return Generation{ID: id, Account: tAcc, Status: GenerationHeld, Hold: hold, Model: tModel, Kind: KindImage, CatalogVersion: tCatalog,
		Images: images, HoldCredits: holdCredits, UnitCredits: unit, Surcharge: surcharge, CreatedAt: hour(created), ExpiresAt: hour(expires)}
}

// Postings of the account's wallet and of the platform.
func pAvail(grant string, n Credits) Posting {
	return Posting{Account: tAcc, Book: BookAvailable, Grant: grant, Amount: n}
}
func pHeld(grant string, n Credits) Posting {
	return Posting{Account: tAcc, Book: BookHeld, Grant: grant, Amount: n}
}
func pPlat(book string, n Credits) Posting {
	return Posting{Account: PlatformAccount, Book: book, Amount: n}
}

// ofGen sets the generation fields every entry of a generation carries.
func ofGen(e Entry, id string) Entry {
	e.Generation, e.Model, e.ModelKind, e.CatalogVersion = id, tModel, KindImage, tCatalog
	return e
}

// grantRow is what Change.Grants updates of a grant.
type grantRow struct {
	ID                        string
	Remaining, Held, PaidBack Credits
	ExpiredAt                 time.Time
}

func grantRows(gs []Grant) []grantRow {
	var out []grantRow
	for _, g := range gs {
		out = append(out, grantRow{g.ID, g.Remaining, g.Held, g.PaidBack, g.ExpiredAt})
	}
	return out
}

// holdRow is what Change.Holds updates of a hold, with its allocations.
type holdRow struct {
	ID                 string
	Status             HoldStatus
	Captured, Released Credits
	ResolvedAt         time.Time
	Allocations        []Allocation
}

func holdRows(hs []Hold) []holdRow {
	var out []holdRow
	for _, h := range hs {
		out = append(out, holdRow{h.ID, h.Status, h.Captured, h.Released, h.ResolvedAt, h.Allocations})
	}
	return out
}

// genRow is what Change.Generations updates of a generation.
type genRow struct {
	ID                string
	Status            GenerationStatus
	ImagesDelivered   int
	Charged, Refunded Credits
	ResolvedAt        time.Time
}

func genRows(gs []Generation) []genRow {
	var out []genRow
	for _, g := range gs {
		out = append(out, genRow{g.ID, g.Status, g.ImagesDelivered, g.Charged, g.Refunded, g.ResolvedAt})
	}
	return out
}

func same(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}

func sameEntries(t *testing.T, got, want []Entry) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d entries, want %d:\n got  %+v\n want %+v", len(got), len(want), got, want)
		return
	}
	for i := range got {
		same(t, fmt.Sprintf("entry %d (%s)", i, want[i].Kind), got[i], want[i])
	}
}

// checkJournal checks what holds of every Change: each entry's postings are
// non-zero, one per account, book and grant, and sum to zero; its deltas are
// its wallet postings' sums; its balances after follow from the previous
// entry's (from the account as loaded) by its deltas; the account's final
// balances are the last entry's.
func checkJournal(t *testing.T, loaded *Account, c *Change) {
	t.Helper()
	var avail, hld Credits
	if loaded != nil {
		avail, hld = loaded.Available, loaded.Held
	}
	for i, e := range c.Entries {
		var sum, dA, dH Credits
		seen := map[[3]string]bool{}
		for _, p := range e.Postings {
			k := [3]string{p.Account, p.Book, p.Grant}
			if p.Amount == 0 || seen[k] {
				t.Errorf("entry %d (%s): posting %+v is zero or repeated", i, e.Kind, p)
			}
			seen[k] = true
			sum += p.Amount
			if p.Account == e.Account && p.Book == BookAvailable {
				dA += p.Amount
			}
			if p.Account == e.Account && p.Book == BookHeld {
				dH += p.Amount
			}
		}
		if sum != 0 || len(e.Postings) == 0 {
			t.Errorf("entry %d (%s): %d postings summing to %s, want some summing to 0", i, e.Kind, len(e.Postings), sum)
		}
		if e.AvailableDelta != dA || e.HeldDelta != dH {
			t.Errorf("entry %d (%s): deltas %s/%s, its postings say %s/%s", i, e.Kind, e.AvailableDelta, e.HeldDelta, dA, dH)
		}
		if e.AvailableAfter != avail+e.AvailableDelta || e.HeldAfter != hld+e.HeldDelta {
			t.Errorf("entry %d (%s): after %s/%s, want %s+%s/%s+%s", i, e.Kind, e.AvailableAfter, e.HeldAfter, avail, e.AvailableDelta, hld, e.HeldDelta)
		}
		avail, hld = e.AvailableAfter, e.HeldAfter
	}
	if c.Account != nil && (c.Account.Available != avail || c.Account.Held != hld) {
		t.Errorf("account %s/%s, the journal ends at %s/%s", c.Account.Available, c.Account.Held, avail, hld)
	}
}

// checkFolds checks that the book's account balances are its grants' sums,
// and its Held the open part of its open holds.
func checkFolds(t *testing.T, b *Book) {
	t.Helper()
	a := b.cur.Account
	var rem, hld, open Credits
	for _, g := range b.cur.Grants {
		rem += g.Remaining
		hld += g.Held
	}
	for _, h := range b.cur.Holds {
		if h.Status == HoldOpen {
			open += h.Open()
		}
	}
	if a.Available != rem || a.Held != hld || a.Held != open {
		t.Errorf("account %s/%s; grants' sums %s/%s; open holds %s", a.Available, a.Held, rem, hld, open)
	}
}

// decide runs fn as a batch runs a write (batch.go): from a checkpoint, rolled
// back if it fails.
func decide(b *Book, fn func() error) error {
	cp := b.checkpoint()
	err := fn()
	if err != nil {
		b.rollback(cp)
	}
	return err
}

func wantError(t *testing.T, err error, code, reason string) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) || e.Code != code || e.Reason != reason {
		t.Fatalf("error %v, want %s %s", err, code, reason)
	}
	return e
}

func ptr(c Credits) *Credits { return &c }

// tStore is a Store with no database (see the top of the file).
type tStore struct {
	state  *State
	change *Change
}

var errNoDatabase = errors.New("tStore has no database")

func (s *tStore) Write(_ context.Context, batches []*Batch) error {
	for _, b := range batches {
		c, err := b.Decide(s.state)
		if err != nil {
			return err
		}
		s.change = c
	}
	return nil
}
func (s *tStore) Writers() int                                 { return 1 }
func (s *tStore) MaxAccounts() int                             { return 1 }
func (s *tStore) Update(context.Context, func(Tx) error) error { return errNoDatabase }
func (s *tStore) View(context.Context, func(Tx) error) error   { return errNoDatabase }
func (s *tStore) Ping(context.Context) error                   { return nil }
func (s *tStore) Close() error                                 { return nil }
func tLedger(s *State) (*Ledger, *tStore) {
	st := &tStore{state: s}
	return NewLedger(st, LedgerConfig{Now: func() time.Time { return tNow }}), st
}

// TestBookReserve: a hold is allocated across the grants in consumption
// order — priority, then the soonest expiry, never-expiring last, the
// overdraft grant after all — skipping a grant past its expiry that settle
// has not marked yet; the overdraft limit is checked on Available, and a
// refusal (InsufficientCredits, with Available and Required) changes nothing.
func TestBookReserve(t *testing.T) {
	// Available 24 = gStale 5 + gSoon 2 + gLate 3 + gNever 4 + gPrio 10 +
	// overdraft 0; the overdraft limit is 5. Loaded in no order.
	state := func() *State {
		gPrio := expiresAt(tGrant("gPrio", cr(10), 0, 0), 10.5)
		gPrio.Priority, gPrio.Source = 1, SourcePromo
		return &State{
			Account: tAccount(cr(24), 0, cr(5)),
			Grants: []Grant{
				tOverdraft(0, 0),
				gPrio,                         // priority 1: after every priority-0 grant, though it expires soonest
				tGrant("gNever", cr(4), 0, 0), // never expires: last of priority 0
				expiresAt(tGrant("gLate", cr(3), 0, 1), 58),
				expiresAt(tGrant("gStale", cr(5), 0, 0), 9), // expired at hour 9, not yet marked
				expiresAt(tGrant("gSoon", cr(2), 0, 3), 11),
			},
		}
	}
	gen := tGen("gen_1", "hld_1", 7, cr(3), 0, cr(21), 10, 10.25)
	hold := func(amount Credits, allocs ...Allocation) Hold {
		h := tHold("hld_1", amount, 10, 10.25, allocs...)
		return h
	}
	entry := func(dAvail, dHeld, availAfter, heldAfter Credits, ps ...Posting) Entry {
		return Entry{Kind: EntryHold, Account: tAcc, Time: tNow, Ref: "hld_1",
			AvailableDelta: dAvail, HeldDelta: dHeld, AvailableAfter: availAfter, HeldAfter: heldAfter, Postings: ps}
	}
	// settle first expires gStale at hour 9: its 5 go to the expired book.
	expireStale := Entry{Kind: EntryExpire, Account: tAcc, Time: hour(9), Ref: "gStale",
		AvailableDelta: cr(-5), AvailableAfter: cr(19), // 24 − 5
		Postings: []Posting{pAvail("gStale", cr(-5)), pPlat(BookExpired, cr(5))}}

	tests := []struct {
		name        string
		settle      bool // settle first, as every write does
		amount      Credits
		gen         *Generation
		wantErr     *Error // Available and Required of an InsufficientCredits
		wantEntries []Entry
		wantGrants  []grantRow
		wantHold    Hold
		wantAccount *Account
	}{
		{
			name:   "soonest expiry first, the stale grant skipped",
			amount: cr(4.5),
			// gSoon 2, then gLate 4.5 − 2 = 2.5.
			wantEntries: []Entry{entry(cr(-4.5), cr(4.5), cr(19.5), cr(4.5), // 24 − 4.5; 0 + 4.5
				pAvail("gSoon", cr(-2)), pHeld("gSoon", cr(2)), pAvail("gLate", cr(-2.5)), pHeld("gLate", cr(2.5)))},
			wantGrants: []grantRow{
				{ID: "gSoon", Held: cr(2)},
				{ID: "gLate", Remaining: cr(0.5), Held: cr(2.5)}, // 3 − 2.5
			},
			wantHold:    hold(cr(4.5), al("gSoon", cr(2)), al("gLate", cr(2.5))),
			wantAccount: tAccount(cr(19.5), cr(4.5), cr(5)),
		},
		{
			name:   "down to the overdraft, for a generation",
			amount: cr(21), gen: &gen,
			// gSoon 2, gLate 3, gNever 4, gPrio 10 (priority 1 last of the
			// real grants), the overdraft 21 − 2 − 3 − 4 − 10 = 2 (limit 5).
			wantEntries: []Entry{ofGen(entry(cr(-21), cr(21), cr(3), cr(21), // 24 − 21
				pAvail("gSoon", cr(-2)), pHeld("gSoon", cr(2)), pAvail("gLate", cr(-3)), pHeld("gLate", cr(3)),
				pAvail("gNever", cr(-4)), pHeld("gNever", cr(4)), pAvail("gPrio", cr(-10)), pHeld("gPrio", cr(10)),
				pAvail(tOvd, cr(-2)), pHeld(tOvd, cr(2))), "gen_1")},
			wantGrants: []grantRow{
				{ID: "gSoon", Held: cr(2)}, {ID: "gLate", Held: cr(3)}, {ID: "gNever", Held: cr(4)}, {ID: "gPrio", Held: cr(10)},
				{ID: tOvd, Remaining: cr(-2), Held: cr(2)},
			},
			wantHold:    hold(cr(21), al("gSoon", cr(2)), al("gLate", cr(3)), al("gNever", cr(4)), al("gPrio", cr(10)), al(tOvd, cr(2))),
			wantAccount: tAccount(cr(3), cr(21), cr(5)),
		},
		{
			name:   "settled first, to the overdraft limit exactly",
			settle: true, amount: cr(24),
			// After settle Available is 19; 19 − 24 = −5 ≥ −5. The real
			// grants give 2 + 3 + 4 + 10 = 19, the overdraft 24 − 19 = 5.
			wantEntries: []Entry{expireStale, entry(cr(-24), cr(24), cr(-5), cr(24),
				pAvail("gSoon", cr(-2)), pHeld("gSoon", cr(2)), pAvail("gLate", cr(-3)), pHeld("gLate", cr(3)),
				pAvail("gNever", cr(-4)), pHeld("gNever", cr(4)), pAvail("gPrio", cr(-10)), pHeld("gPrio", cr(10)),
				pAvail(tOvd, cr(-5)), pHeld(tOvd, cr(5)))},
			wantGrants: []grantRow{
				{ID: "gStale", ExpiredAt: hour(9)},
				{ID: "gSoon", Held: cr(2)}, {ID: "gLate", Held: cr(3)}, {ID: "gNever", Held: cr(4)}, {ID: "gPrio", Held: cr(10)},
				{ID: tOvd, Remaining: cr(-5), Held: cr(5)},
			},
			wantHold:    hold(cr(24), al("gSoon", cr(2)), al("gLate", cr(3)), al("gNever", cr(4)), al("gPrio", cr(10)), al(tOvd, cr(5))),
			wantAccount: tAccount(cr(-5), cr(24), cr(5)),
		},
		{
			name:   "refused past the overdraft limit",
			amount: cr(30),
			// The stale grant's 5 cannot be spent: 24 − 5 = 19; 19 − 30 = −11 < −5.
			wantErr: &Error{Available: cr(19), Required: cr(30)},
		},
		{
			name:   "not settled, the stale grant does not count",
			amount: cr(29),
			// 24 − 29 = −5 would pass on Available alone, and the allocation,
			// skipping gStale, would put 29 − 19 = 10 on the overdraft, past
			// its limit of 5. What can be spent is 19; 19 − 29 = −10 < −5.
			wantErr: &Error{Available: cr(19), Required: cr(29)},
		},
		{
			name:   "settled first, refused by a thousandth",
			settle: true, amount: cr(24.001), // 19 − 24.001 = −5.001 < −5
			wantErr: &Error{Available: cr(19), Required: cr(24.001)},
		},
		{
			name:     "nothing to hold: a hold with no allocation and no entry",
			amount:   0,
			wantHold: hold(0),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := state()
			b := NewBook(tAcc, s)
			var order []string
			for _, g := range b.Grants() {
				order = append(order, g.ID)
			}
			same(t, "consumption order", order, []string{"gStale", "gSoon", "gLate", "gNever", "gPrio", tOvd})
			h := hold(tc.amount)
			err := decide(b, func() error {
				if tc.settle {
					if err := settle(b, tNow); err != nil {
						return err
					}
				}
				_, err := reserve(b, &h, tc.gen, tNow)
				return err
			})
			c := b.Change()
			if tc.wantErr != nil {
				e := wantError(t, err, InsufficientCredits, "insufficient_credits")
				if e.Available != tc.wantErr.Available || e.Required != tc.wantErr.Required {
					t.Errorf("Available %s, Required %s; want %s, %s", e.Available, e.Required, tc.wantErr.Available, tc.wantErr.Required)
				}
				if !c.Empty() {
					t.Errorf("a refused write changed %+v", c)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkJournal(t, s.Account, c)
			checkFolds(t, b)
			sameEntries(t, c.Entries, tc.wantEntries)
			same(t, "grants", grantRows(c.Grants), tc.wantGrants)
			same(t, "new holds", c.NewHolds, []Hold{tc.wantHold})
			same(t, "account", c.Account, tc.wantAccount)
			if c.NewAccount != nil || c.NewGrants != nil || c.Holds != nil || c.Allocations != nil || c.TrimAllocations != nil {
				t.Errorf("unexpected rows in %+v", c)
			}
		})
	}
}

// TestBookResolveHold: a capture is taken from the allocations in order and
// the rest returned, each share to its grant, or to the platform's expired
// book if the grant expired while the hold was open.
func TestBookResolveHold(t *testing.T) {
	// At hour 8 a hold of 8 took gA's 3 (it expires at 9.5) and 5 of gB; gA
	// expired at 9.5 with nothing left but its held 3. Available 1 (gB's
	// rest), Held 8 = 3 + 5.
	gen := tGen("gen_x", "hld_x", 4, cr(2), 0, cr(8), 8, 11)
	state := func(withGen bool) *State {
		h := tHold("hld_x", cr(8), 8, 11, al("gA", cr(3)), al("gB", cr(5)))
		s := &State{
			Account: tAccount(cr(1), cr(8), 0),
			Grants: []Grant{
				tOverdraft(0, 0),
				tGrant("gB", cr(1), cr(5), 1),
				expiredAt(tGrant("gA", 0, cr(3), 0), 9.5),
			},
		}
		if withGen {
			h.Generation = gen.ID
			s.Generations = []Generation{gen}
		}
		s.Holds = []Hold{h}
		return s
	}
	tests := []struct {
		name        string
		withGen     bool
		capture     Credits
		wantErr     string // reason
		wantEntry   Entry
		wantGrants  []grantRow
		wantHold    holdRow
		wantAllocs  []AllocationRow
		wantGen     []genRow
		wantAccount *Account
	}{
		{
			name:    "capture 2: gA's share charged, its returned 1 expired",
			capture: cr(2),
			// gA: 2 charged, 3 − 2 = 1 back, to expired (gA expired at 9.5).
			// gB: 0 charged, 5 back to gB. Available 1 + 5 = 6.
			wantEntry: Entry{Kind: EntryCapture, Account: tAcc, Time: tNow, Ref: "hld_x", ChargedDelta: cr(2), ListCredits: cr(2),
				AvailableDelta: cr(5), HeldDelta: cr(-8), AvailableAfter: cr(6), HeldAfter: 0,
				Postings: []Posting{pHeld("gA", cr(-3)), pPlat(BookRevenue, cr(2)), pPlat(BookExpired, cr(1)), pHeld("gB", cr(-5)), pAvail("gB", cr(5))}},
			wantGrants: []grantRow{
				{ID: "gA", ExpiredAt: hour(9.5)},
				{ID: "gB", Remaining: cr(6)}, // 1 + 5
			},
			wantHold: holdRow{"hld_x", HoldCaptured, cr(2), cr(6), tNow, // released 8 − 2
				[]Allocation{{Grant: "gA", Amount: cr(3), Captured: cr(2)}, {Grant: "gB", Amount: cr(5)}}},
			wantAllocs:  []AllocationRow{{Hold: "hld_x", Seq: 0, Allocation: Allocation{Grant: "gA", Amount: cr(3), Captured: cr(2)}}},
			wantAccount: tAccount(cr(6), 0, 0),
		},
		{
			name:    "capture 4 of a generation: gA's 3 and 1 of gB, nothing back to gA",
			withGen: true, capture: cr(4),
			// gA: 3 charged, 0 back. gB: 4 − 3 = 1 charged, 5 − 1 = 4 back.
			// Revenue 3 + 1 = 4 in one posting. Available 1 + 4 = 5.
			wantEntry: ofGen(Entry{Kind: EntryCapture, Account: tAcc, Time: tNow, Ref: "hld_x", ChargedDelta: cr(4), ListCredits: cr(4),
				AvailableDelta: cr(4), HeldDelta: cr(-8), AvailableAfter: cr(5), HeldAfter: 0,
				Postings: []Posting{pHeld("gA", cr(-3)), pPlat(BookRevenue, cr(4)), pHeld("gB", cr(-5)), pAvail("gB", cr(4))}}, "gen_x"),
			wantGrants: []grantRow{
				{ID: "gA", ExpiredAt: hour(9.5)},
				{ID: "gB", Remaining: cr(5)}, // 1 + 4
			},
			wantHold: holdRow{"hld_x", HoldCaptured, cr(4), cr(4), tNow, // released 8 − 4
				[]Allocation{{Grant: "gA", Amount: cr(3), Captured: cr(3)}, {Grant: "gB", Amount: cr(5), Captured: cr(1)}}},
			wantAllocs: []AllocationRow{
				{Hold: "hld_x", Seq: 0, Allocation: Allocation{Grant: "gA", Amount: cr(3), Captured: cr(3)}},
				{Hold: "hld_x", Seq: 1, Allocation: Allocation{Grant: "gB", Amount: cr(5), Captured: cr(1)}},
			},
			wantGen:     []genRow{{ID: "gen_x", Status: GenerationCompleted, Charged: cr(4), ResolvedAt: tNow}},
			wantAccount: tAccount(cr(5), 0, 0),
		},
		{
			name:    "capture 0 of a generation is a release: the generation failed",
			withGen: true, capture: 0,
			// gA's 3 to expired, gB's 5 back to gB: Available 1 + 5 = 6.
			wantEntry: ofGen(Entry{Kind: EntryRelease, Account: tAcc, Time: tNow, Ref: "hld_x",
				AvailableDelta: cr(5), HeldDelta: cr(-8), AvailableAfter: cr(6), HeldAfter: 0,
				Postings: []Posting{pHeld("gA", cr(-3)), pPlat(BookExpired, cr(3)), pHeld("gB", cr(-5)), pAvail("gB", cr(5))}}, "gen_x"),
			wantGrants: []grantRow{
				{ID: "gA", ExpiredAt: hour(9.5)},
				{ID: "gB", Remaining: cr(6)},
			},
			wantHold:    holdRow{"hld_x", HoldReleased, 0, cr(8), tNow, []Allocation{{Grant: "gA", Amount: cr(3)}, {Grant: "gB", Amount: cr(5)}}},
			wantGen:     []genRow{{ID: "gen_x", Status: GenerationFailed, ResolvedAt: tNow}},
			wantAccount: tAccount(cr(6), 0, 0),
		},
		{
			name:    "capture 8.001 of 8 is refused",
			capture: cr(8.001), wantErr: "over_capture",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := state(tc.withGen)
			b := NewBook(tAcc, s)
			h, err := b.Hold("hld_x")
			if err != nil {
				t.Fatal(err)
			}
			err = decide(b, func() error { return resolveHold(b, &h, tc.capture, HoldCaptured, tNow) })
			c := b.Change()
			if tc.wantErr != "" {
				wantError(t, err, Invalid, tc.wantErr)
				if !c.Empty() {
					t.Errorf("a refused write changed %+v", c)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			checkJournal(t, s.Account, c)
			checkFolds(t, b)
			sameEntries(t, c.Entries, []Entry{tc.wantEntry})
			same(t, "grants", grantRows(c.Grants), tc.wantGrants)
			same(t, "holds", holdRows(c.Holds), []holdRow{tc.wantHold})
			same(t, "allocations", c.Allocations, tc.wantAllocs)
			same(t, "generations", genRows(c.Generations), tc.wantGen)
			same(t, "account", c.Account, tc.wantAccount)
			// A hold resolves once.
			h, _ = b.Hold("hld_x")
			wantError(t, resolveHold(b, &h, 0, HoldReleased, tNow), Conflict, "already_resolved")
		})
	}
}

// TestBookReleaseOverdraftHold: a hold on the overdraft returns what is still
// owed to the overdraft grant; what is not owed any more (a later grant paid
// the overdraft back meanwhile) goes back to the grants that paid it, newest
// first, reducing their PaidBack — or to the expired book for one that has
// expired since.
func TestBookReleaseOverdraftHold(t *testing.T) {
	// History (overdraft limit 10): a charge of 5 on the overdraft, paid back
	// by gOld (5, at hour 1); a charge of 2, paid back by gNew (2, at hour 3);
	// at hour 4 a hold of 4 on the overdraft (−4, held 4). In the "not owed"
	// cases a refund of 3 of the first charge then paid the overdraft down to
	// −1 (its debt was the hold's, not owed). gOld and gNew have nothing left.
	state := func(ovdRemaining Credits, newExpired bool) *State {
		gNew := paidBack(tGrant("gNew", 0, 0, 3), cr(2), cr(2))
		if newExpired {
			gNew = expiredAt(gNew, 6) // it expired at 6 with nothing left
		}
		return &State{
			Account: tAccount(ovdRemaining, cr(4), cr(10)),
			Grants:  []Grant{gNew, paidBack(tGrant("gOld", 0, 0, 1), cr(5), cr(5)), tOverdraft(ovdRemaining, cr(4))},
			Holds:   []Hold{tHold("hld_o", cr(4), 4, 11, al(tOvd, cr(4)))},
		}
	}
	release := func(dAvail, availAfter Credits, ps ...Posting) Entry {
		return Entry{Kind: EntryRelease, Account: tAcc, Time: tNow, Ref: "hld_o",
			AvailableDelta: dAvail, HeldDelta: cr(-4), AvailableAfter: availAfter, HeldAfter: 0, Postings: ps}
	}
	tests := []struct {
		name         string
		ovdRemaining Credits
		newExpired   bool
		wantEntry    Entry
		wantGrants   []grantRow
	}{
		{
			name:         "owed: all of it pays the overdraft down",
			ovdRemaining: cr(-4),
			// owed 4, returned 4: all to the overdraft. Available −4 + 4 = 0.
			wantEntry:  release(cr(4), 0, pHeld(tOvd, cr(-4)), pAvail(tOvd, cr(4))),
			wantGrants: []grantRow{{ID: tOvd}},
		},
		{
			name:         "not owed: the excess back to its payers, newest first",
			ovdRemaining: cr(-1),
			// owed 1: 1 to the overdraft; the excess 4 − 1 = 3 to gNew (the
			// newest: min(3, its PaidBack 2) = 2, PaidBack 0) then gOld (1,
			// PaidBack 5 − 1 = 4). Available −1 + 4 = 3.
			wantEntry: release(cr(4), cr(3), pHeld(tOvd, cr(-4)), pAvail(tOvd, cr(1)), pAvail("gNew", cr(2)), pAvail("gOld", cr(1))),
			wantGrants: []grantRow{ // consumption order: gOld (hour 1) before gNew (hour 3)
				{ID: "gOld", Remaining: cr(1), PaidBack: cr(4)},
				{ID: "gNew", Remaining: cr(2), PaidBack: 0},
				{ID: tOvd},
			},
		},
		{
			name:         "not owed, the newest payer expired: its share to the expired book",
			ovdRemaining: cr(-1), newExpired: true,
			// As above, but gNew's 2 go to the expired book (its PaidBack
			// still falls to 0). Available −1 + 1 + 1 = 1.
			wantEntry: release(cr(2), cr(1), pHeld(tOvd, cr(-4)), pAvail(tOvd, cr(1)), pAvail("gOld", cr(1)), pPlat(BookExpired, cr(2))),
			wantGrants: []grantRow{ // gNew expires, so it comes first
				{ID: "gNew", PaidBack: 0, ExpiredAt: hour(6)},
				{ID: "gOld", Remaining: cr(1), PaidBack: cr(4)},
				{ID: tOvd},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := state(tc.ovdRemaining, tc.newExpired)
			b := NewBook(tAcc, s)
			h, err := b.Hold("hld_o")
			if err != nil {
				t.Fatal(err)
			}
			if err := decide(b, func() error { return resolveHold(b, &h, 0, HoldReleased, tNow) }); err != nil {
				t.Fatal(err)
			}
			c := b.Change()
			checkJournal(t, s.Account, c)
			checkFolds(t, b)
			sameEntries(t, c.Entries, []Entry{tc.wantEntry})
			same(t, "grants", grantRows(c.Grants), tc.wantGrants)
			same(t, "holds", holdRows(c.Holds), []holdRow{{"hld_o", HoldReleased, 0, cr(4), tNow, []Allocation{al(tOvd, cr(4))}}})
			same(t, "allocations", c.Allocations, []AllocationRow(nil))
		})
	}
}

// TestBookAddGrantPaysOverdraft: a grant to an overdrawn account first takes
// over the open holds' overdraft allocations (oldest hold first, placed just
// before the overdraft's), then pays back what was charged on the overdraft,
// recording it as its PaidBack. The new grant is in Change.NewGrants with its
// final values, never in Change.Grants.
func TestBookAddGrantPaysOverdraft(t *testing.T) {
	// Overdraft limit 10. A charge of 4 on the overdraft, then at hour 5 a
	// hold of 5 took gA's last 2 and 3 of the overdraft: the overdraft is at
	// −4 − 3 = −7, holding 3. Available −7, Held 2 + 3 = 5.
	state := func() *State {
		return &State{
			Account: tAccount(cr(-7), cr(5), cr(10)),
			Grants:  []Grant{tGrant("gA", 0, cr(2), 1), tOverdraft(cr(-7), cr(3))},
			Holds:   []Hold{tHold("hld_o", cr(5), 5, 11, al("gA", cr(2)), al(tOvd, cr(3)))},
		}
	}
	const newID = "NEW" // the new grant's id, which is random
	tests := []struct {
		name       string
		credits    Credits
		wantPosts  []Posting
		wantAfter  Credits // Available after; Held stays 5
		wantNew    grantRow
		wantOvd    grantRow
		wantAllocs []AllocationRow
	}{
		{
			name:    "2: less than the hold's overdraft share, which splits",
			credits: cr(2),
			// owed 7; budget min(2, 7) = 2 moves 2 of the hold's 3; payback
			// min(2 − 2, 7 − 2) = 0; nothing is left for the new grant.
			wantPosts: []Posting{pPlat(BookIssued, cr(-2)), pHeld(tOvd, cr(-2)), pAvail(tOvd, cr(2)), pHeld(newID, cr(2))},
			wantAfter: cr(-5), // −7 + 2
			wantNew:   grantRow{ID: newID, Held: cr(2)},
			wantOvd:   grantRow{ID: tOvd, Remaining: cr(-5), Held: cr(1)}, // −7 + 2; 3 − 2
			wantAllocs: []AllocationRow{ // [gA 2, ovd 3] → [gA 2, new 2, ovd 1]
				{Hold: "hld_o", Seq: 1, Allocation: al(newID, cr(2))},
				{Hold: "hld_o", Seq: 2, Allocation: al(tOvd, cr(1))},
			},
		},
		{
			name:    "5: the hold moves whole, 2 pay the charge back",
			credits: cr(5),
			// budget min(5, 7) = 5 moves all 3; payback min(5 − 3, 7 − 3) =
			// 2; the new grant keeps 5 − 3 − 2 = 0. The overdraft gets 3 + 2.
			wantPosts: []Posting{pPlat(BookIssued, cr(-5)), pHeld(tOvd, cr(-3)), pAvail(tOvd, cr(5)), pHeld(newID, cr(3))},
			wantAfter: cr(-2), // −7 + 5
			wantNew:   grantRow{ID: newID, Held: cr(3), PaidBack: cr(2)},
			wantOvd:   grantRow{ID: tOvd, Remaining: cr(-2), Held: 0}, // −7 + 5
			wantAllocs: []AllocationRow{ // [gA 2, ovd 3] → [gA 2, new 3]
				{Hold: "hld_o", Seq: 1, Allocation: al(newID, cr(3))},
			},
		},
		{
			name:    "10: everything paid back, 3 left to spend",
			credits: cr(10),
			// budget min(10, 7) = 7 moves 3; payback min(10 − 3, 7 − 3) = 4;
			// the new grant keeps 10 − 3 − 4 = 3. The overdraft gets 3 + 4.
			wantPosts: []Posting{pPlat(BookIssued, cr(-10)), pHeld(tOvd, cr(-3)), pAvail(tOvd, cr(7)), pHeld(newID, cr(3)), pAvail(newID, cr(3))},
			wantAfter: cr(3), // −7 + 10
			wantNew:   grantRow{ID: newID, Remaining: cr(3), Held: cr(3), PaidBack: cr(4)},
			wantOvd:   grantRow{ID: tOvd}, // −7 + 7
			wantAllocs: []AllocationRow{
				{Hold: "hld_o", Seq: 1, Allocation: al(newID, cr(3))},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := state()
			l, st := tLedger(s)
			g, err := l.AddGrant(context.Background(), nil, tAcc, GrantSpec{Credits: tc.credits, Source: SourceTopup, Memo: "top-up"})
			if err != nil {
				t.Fatal(err)
			}
			c := st.change
			if !strings.HasPrefix(g.ID, "grt_") || len(c.NewGrants) != 1 || c.NewGrants[0].ID != g.ID {
				t.Fatalf("grant %q; new grants %+v", g.ID, c.NewGrants)
			}
			checkJournal(t, s.Account, c)
			ng := c.NewGrants[0]
			same(t, "the grant returned", g, ng)
			if ng.Granted != tc.credits || ng.Source != SourceTopup || !ng.ExpiresAt.IsZero() || !ng.CreatedAt.Equal(tNow) || ng.Memo != "top-up" {
				t.Errorf("new grant %+v", ng)
			}
			// Replace the random id by newID.
			rename := func(id string) string {
				if id == g.ID {
					return newID
				}
				return id
			}
			for i := range c.Entries {
				for j := range c.Entries[i].Postings {
					c.Entries[i].Postings[j].Grant = rename(c.Entries[i].Postings[j].Grant)
				}
			}
			for i := range c.Allocations {
				c.Allocations[i].Grant = rename(c.Allocations[i].Grant)
			}
			ng.ID = newID
			sameEntries(t, c.Entries, []Entry{{Kind: EntryGrant, Account: tAcc, Time: tNow, Ref: g.ID, Memo: "top-up",
				// All of the grant enters Available (to the overdraft or the
				// new grant); what moves to the new grant's held book leaves
				// the overdraft's: Held +0.
				AvailableDelta: tc.credits, HeldDelta: 0, AvailableAfter: tc.wantAfter, HeldAfter: cr(5), Postings: tc.wantPosts}})
			same(t, "new grant", grantRows([]Grant{ng}), []grantRow{tc.wantNew})
			same(t, "grants", grantRows(c.Grants), []grantRow{tc.wantOvd})
			same(t, "holds", c.Holds, []Hold(nil))
			same(t, "allocations", c.Allocations, tc.wantAllocs)
			same(t, "trimmed", c.TrimAllocations, []AllocationRow(nil))
			same(t, "account", c.Account, tAccount(tc.wantAfter, cr(5), cr(10)))
			if len(c.Audit) != 1 || c.Audit[0].Action != AuditGrantCreate || c.Audit[0].Target != tAcc || !c.Audit[0].At.Equal(tNow) {
				t.Errorf("audit %+v", c.Audit)
			}
		})
	}
}

// TestBookSettle: settle releases the open holds past their TTL and expires
// the grants past their expiry, each at its own time, in time order: a hold
// due before its grant's expiry returns its share to the grant (which then
// expires with it), one due after returns it to the expired book. The
// generation of an expired hold is marked expired.
func TestBookSettle(t *testing.T) {
	// History: gE (6, expires 8) and gN (5) at hour 0. At 5 hold hA took 4 of
	// gE; at 5.5 h2 took 1 of gE; at 6 hG (a generation's) took gE's last 1
	// and 4 of gN; at 6.2 h3 took gN's last 1; at 6.4 gB (1, expires 10) and
	// gF (2, expires 11) were granted; at 6.5 hA was captured 1 and released
	// 3 to gE. gZ (a promo, spent) expires at 6.8; gX expired at 1 and was
	// settled. Nothing settled since hour 6.5.
	//
	// Available 6 = gE 3 + gB 1 + gF 2; Held 7 = gE 2 + gN 5 = h2 1 + hG 5 + h3 1.
	gen := tGen("gen_g", "hld_g", 5, cr(1), 0, cr(5), 6, 7)
	hG := tHold("hld_g", cr(5), 6, 7, al("gE", cr(1)), al("gN", cr(4)))
	hG.Generation = gen.ID
	gZ := expiresAt(tGrant("gZ", 0, 0, 0), 6.8)
	gZ.Source, gZ.Granted = SourcePromo, cr(1)
	state := &State{
		Account: tAccount(cr(6), cr(7), 0),
		Grants: []Grant{
			expiredAt(tGrant("gX", 0, 0, 0), 1),
			gZ,
			expiresAt(tGrant("gE", cr(3), cr(2), 0), 8),
			expiresAt(tGrant("gB", cr(1), 0, 6.4), 10), // due at now exactly
			expiresAt(tGrant("gF", cr(2), 0, 6.4), 11), // not due
			tGrant("gN", 0, cr(5), 0),
			tOverdraft(0, 0),
		},
		Holds: []Hold{
			tHold("hld_2", cr(1), 5.5, 9, al("gE", cr(1))),
			hG,
			tHold("hld_3", cr(1), 6.2, 11, al("gN", cr(1))), // not due
		},
		Generations: []Generation{gen},
	}
	b := NewBook(tAcc, state)
	if err := decide(b, func() error { return settle(b, tNow) }); err != nil {
		t.Fatal(err)
	}
	c := b.Change()
	checkJournal(t, state.Account, c)
	checkFolds(t, b)
	// In time order: gZ at 6.8 (nothing left: marked, no entry); hG at 7;
	// gE at 8; h2 at 9; gB at 10.
	sameEntries(t, c.Entries, []Entry{
		// hG at 7: gE is live until 8, so its 1 goes back to it; gN's 4 too.
		ofGen(Entry{Kind: EntryRelease, Account: tAcc, Time: hour(7), Ref: "hld_g",
			AvailableDelta: cr(5), HeldDelta: cr(-5), AvailableAfter: cr(11), HeldAfter: cr(2), // 6 + 5; 7 − 5
			Postings: []Posting{pHeld("gE", cr(-1)), pAvail("gE", cr(1)), pHeld("gN", cr(-4)), pAvail("gN", cr(4))}}, "gen_g"),
		// gE at 8 loses 3 + 1 = 4; its held 1 (h2's) stays held.
		{Kind: EntryExpire, Account: tAcc, Time: hour(8), Ref: "gE",
			AvailableDelta: cr(-4), AvailableAfter: cr(7), HeldAfter: cr(2), // 11 − 4
			Postings: []Posting{pAvail("gE", cr(-4)), pPlat(BookExpired, cr(4))}},
		// h2 at 9: gE expired at 8, so its 1 goes to the expired book.
		{Kind: EntryRelease, Account: tAcc, Time: hour(9), Ref: "hld_2",
			HeldDelta: cr(-1), AvailableAfter: cr(7), HeldAfter: cr(1), // 2 − 1
			Postings: []Posting{pHeld("gE", cr(-1)), pPlat(BookExpired, cr(1))}},
		// gB at 10 (≤ now) loses its 1.
		{Kind: EntryExpire, Account: tAcc, Time: hour(10), Ref: "gB",
			AvailableDelta: cr(-1), AvailableAfter: cr(6), HeldAfter: cr(1), // 7 − 1
			Postings: []Posting{pAvail("gB", cr(-1)), pPlat(BookExpired, cr(1))}},
	})
	same(t, "grants", grantRows(c.Grants), []grantRow{ // consumption order
		{ID: "gZ", ExpiredAt: hour(6.8)},
		{ID: "gE", ExpiredAt: hour(8)},            // 3 + 1 − 4; held 2 − 1 − 1
		{ID: "gB", ExpiredAt: hour(10)},           // 1 − 1
		{ID: "gN", Remaining: cr(4), Held: cr(1)}, // 0 + 4; 5 − 4
	})
	same(t, "holds", holdRows(c.Holds), []holdRow{
		{"hld_2", HoldExpired, 0, cr(1), hour(9), []Allocation{al("gE", cr(1))}},
		{"hld_g", HoldExpired, 0, cr(5), hour(7), []Allocation{al("gE", cr(1)), al("gN", cr(4))}},
	})
	same(t, "generations", genRows(c.Generations), []genRow{{ID: "gen_g", Status: GenerationExpired, ResolvedAt: hour(7)}})
	same(t, "account", c.Account, tAccount(cr(6), cr(1), 0)) // gF 2 + gN 4; h3's 1
	same(t, "allocations", c.Allocations, []AllocationRow(nil))
	// Settled: settling again at now changes nothing more.
	if err := settle(b, tNow); err != nil {
		t.Fatal(err)
	}
	if n := len(b.Change().Entries); n != 4 {
		t.Errorf("%d entries after settling twice, want 4", n)
	}
}

// TestBookRefund: a refund gives a generation's charge back to the grants it
// came from, the last-consumed first; the share of a grant that expired since
// becomes a new never-expiring grant of source refund (Change.NewGrants), and
// so does the share of an expired grant that had paid the overdraft back.
func TestBookRefund(t *testing.T) {
	// At hour 2 a generation of 5 images at 1 credit plus a surcharge of 1
	// held 6: gA's 3 (it expires at 6) and 3 of gB (3 granted). 4 images
	// were delivered: 4 × 1 + 1 = 5 charged, gA's 3 then 2 of gB; gB's 1
	// came back. gA expired at 6 with nothing left. Available 1 (gB).
	expiredSource := func() *State {
		gen := tGen("gen_r", "hld_r", 5, cr(1), cr(1), cr(6), 2, 2.25)
		gen.Status, gen.ImagesDelivered, gen.Charged, gen.ResolvedAt = GenerationCompleted, 4, cr(5), hour(2.1)
		h := tHold("hld_r", cr(6), 2, 2.25, Allocation{Grant: "gA", Amount: cr(3), Captured: cr(3)}, Allocation{Grant: "gB", Amount: cr(3), Captured: cr(2)})
		h.Generation, h.Status, h.Captured, h.Released, h.ResolvedAt = gen.ID, HoldCaptured, cr(5), cr(1), hour(2.1)
		return &State{
			Account:     tAccount(cr(1), 0, 0),
			Grants:      []Grant{expiredAt(paidBack(tGrant("gA", 0, 0, 0), cr(3), 0), 6), paidBack(tGrant("gB", cr(1), 0, 0), cr(3), 0), tOverdraft(0, 0)},
			Holds:       []Hold{h},
			Generations: []Generation{gen},
		}
	}
	// Overdraft limit 5. At hour 2 a generation of 4 images at 1 held 4 on
	// the overdraft (the account had nothing) and was charged 4 (overdraft
	// −4); at 3 gP (4, expires 6) paid it back whole (PaidBack 4); gP expired
	// at 6. Available 0.
	overdraftShare := func() *State {
		gen := tGen("gen_r", "hld_r", 4, cr(1), 0, cr(4), 2, 2.25)
		gen.Status, gen.ImagesDelivered, gen.Charged, gen.ResolvedAt = GenerationCompleted, 4, cr(4), hour(2.1)
		h := tHold("hld_r", cr(4), 2, 2.25, Allocation{Grant: tOvd, Amount: cr(4), Captured: cr(4)})
		h.Generation, h.Status, h.Captured, h.ResolvedAt = gen.ID, HoldCaptured, cr(4), hour(2.1)
		return &State{
			Account:     tAccount(0, 0, cr(5)),
			Grants:      []Grant{expiredAt(paidBack(tGrant("gP", 0, 0, 3), cr(4), cr(4)), 6), tOverdraft(0, 0)},
			Holds:       []Hold{h},
			Generations: []Generation{gen},
		}
	}
	const newID = "NEW"
	tests := []struct {
		name         string
		state        func() *State
		credits      *Credits // nil: all that is left
		wantErr      string   // reason
		wantPosts    []Posting
		wantAfter    Credits // Available after
		wantNew      Credits // the new refund grant's credits; 0: none
		wantGrants   []grantRow
		wantAllocs   []AllocationRow
		wantRefunded Credits
	}{
		{
			name: "all 5: gB's 2 to gB, expired gA's 3 to a new grant", state: expiredSource,
			// Last consumed first: gB min(5, 2) = 2, then gA min(3, 3) = 3.
			wantPosts: []Posting{pPlat(BookRevenue, cr(-5)), pAvail("gB", cr(2)), pAvail(newID, cr(3))},
			wantAfter: cr(6), wantNew: cr(3), // 1 + 5
			wantGrants: []grantRow{{ID: "gB", Remaining: cr(3)}}, // 1 + 2
			wantAllocs: []AllocationRow{
				{Hold: "hld_r", Seq: 0, Allocation: Allocation{Grant: "gA", Amount: cr(3), Captured: cr(3), Refunded: cr(3)}},
				{Hold: "hld_r", Seq: 1, Allocation: Allocation{Grant: "gB", Amount: cr(3), Captured: cr(2), Refunded: cr(2)}},
			},
			wantRefunded: cr(5),
		},
		{
			name: "1: all from gB, no new grant", state: expiredSource, credits: ptr(cr(1)),
			wantPosts:    []Posting{pPlat(BookRevenue, cr(-1)), pAvail("gB", cr(1))},
			wantAfter:    cr(2),                                    // 1 + 1
			wantGrants:   []grantRow{{ID: "gB", Remaining: cr(2)}}, // 1 + 1
			wantAllocs:   []AllocationRow{{Hold: "hld_r", Seq: 1, Allocation: Allocation{Grant: "gB", Amount: cr(3), Captured: cr(2), Refunded: cr(1)}}},
			wantRefunded: cr(1),
		},
		{
			name: "4: gB's 2, then 2 of gA's to a new grant", state: expiredSource, credits: ptr(cr(4)),
			// gB min(4, 2) = 2; gA min(4 − 2, 3) = 2.
			wantPosts: []Posting{pPlat(BookRevenue, cr(-4)), pAvail("gB", cr(2)), pAvail(newID, cr(2))},
			wantAfter: cr(5), wantNew: cr(2), // 1 + 4
			wantGrants: []grantRow{{ID: "gB", Remaining: cr(3)}},
			wantAllocs: []AllocationRow{
				{Hold: "hld_r", Seq: 0, Allocation: Allocation{Grant: "gA", Amount: cr(3), Captured: cr(3), Refunded: cr(2)}},
				{Hold: "hld_r", Seq: 1, Allocation: Allocation{Grant: "gB", Amount: cr(3), Captured: cr(2), Refunded: cr(2)}},
			},
			wantRefunded: cr(4),
		},
		{
			name: "6 of 5 is refused", state: expiredSource, credits: ptr(cr(6)), wantErr: "over_refund",
		},
		{
			name: "all 4 of an overdraft charge paid back by an expired grant: to a new grant", state: overdraftShare,
			// The overdraft is owed nothing (0): the 4 are its payer gP's
			// (PaidBack 4 − 4 = 0), which expired: they become the new grant.
			wantPosts: []Posting{pPlat(BookRevenue, cr(-4)), pAvail(newID, cr(4))},
			wantAfter: cr(4), wantNew: cr(4), // 0 + 4
			wantGrants:   []grantRow{{ID: "gP", PaidBack: 0, ExpiredAt: hour(6)}},
			wantAllocs:   []AllocationRow{{Hold: "hld_r", Seq: 0, Allocation: Allocation{Grant: tOvd, Amount: cr(4), Captured: cr(4), Refunded: cr(4)}}},
			wantRefunded: cr(4),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := tc.state()
			l, st := tLedger(s)
			l.owners.remember("gen_r", tAcc) // the store is never asked whose it is
			g, err := l.RefundGeneration(context.Background(), nil, "gen_r", tc.credits)
			c := st.change
			if tc.wantErr != "" {
				wantError(t, err, Invalid, tc.wantErr)
				if !c.Empty() {
					t.Errorf("a refused write changed %+v", c)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if g.Refunded != tc.wantRefunded {
				t.Errorf("refunded %s, want %s", g.Refunded, tc.wantRefunded)
			}
			checkJournal(t, s.Account, c)
			if tc.wantNew == 0 {
				same(t, "new grants", c.NewGrants, []Grant(nil))
			} else {
				if len(c.NewGrants) != 1 {
					t.Fatalf("new grants %+v, want one", c.NewGrants)
				}
				ng := c.NewGrants[0]
				if !strings.HasPrefix(ng.ID, "grt_") {
					t.Errorf("new grant id %q", ng.ID)
				}
				for i := range c.Entries {
					for j := range c.Entries[i].Postings {
						if p := &c.Entries[i].Postings[j]; p.Grant == ng.ID {
							p.Grant = newID
						}
					}
				}
				same(t, "new grant", ng, Grant{ID: ng.ID, Account: tAcc, Source: SourceRefund, Granted: tc.wantNew, Remaining: tc.wantNew,
					CreatedAt: tNow, Memo: "refund of generation gen_r (its grant had expired)"})
			}
			sameEntries(t, c.Entries, []Entry{ofGen(Entry{Kind: EntryRefund, Account: tAcc, Time: tNow, Ref: "gen_r",
				ChargedDelta: -tc.wantRefunded, ListCredits: -tc.wantRefunded, AvailableDelta: tc.wantRefunded, AvailableAfter: tc.wantAfter, Postings: tc.wantPosts}, "gen_r")})
			same(t, "grants", grantRows(c.Grants), tc.wantGrants)
			same(t, "holds", c.Holds, []Hold(nil)) // still captured: only its allocations change
			same(t, "allocations", c.Allocations, tc.wantAllocs)
			same(t, "generations", genRows(c.Generations), []genRow{{ID: "gen_r", Status: GenerationCompleted, ImagesDelivered: 4,
				Charged: s.Generations[0].Charged, Refunded: tc.wantRefunded, ResolvedAt: hour(2.1)}})
			same(t, "account", c.Account, tAccount(tc.wantAfter, 0, s.Account.Overdraft))
		})
	}
}

// TestBookRollback: the writes of a batch are decided one after the other on
// one book; one that fails is rolled back to its checkpoint, whatever it had
// changed, and the Change holds only the rows of those that succeeded.
func TestBookRollback(t *testing.T) {
	// gD (2) expired at 9, not yet marked; gL (3). Available 5, no overdraft.
	state := &State{
		Account: tAccount(cr(5), 0, 0),
		Grants:  []Grant{expiresAt(tGrant("gD", cr(2), 0, 0), 9), tGrant("gL", cr(3), 0, 0), tOverdraft(0, 0)},
	}
	b := NewBook(tAcc, state)

	// 1: a hold of 2, from gL (gD is past its expiry). Available 5 − 2 = 3.
	h1 := tHold("hld_1", cr(2), 10, 10.25)
	if err := decide(b, func() error { _, err := reserve(b, &h1, nil, tNow); return err }); err != nil {
		t.Fatal(err)
	}

	// 2: captures 1 of it (1 back to gL: Available 3 + 1 = 4), settles (gD's
	// 2 expire: 4 − 2 = 2), then asks for 10: 2 − 10 < 0, refused.
	err := decide(b, func() error {
		h, err := b.Hold("hld_1")
		if err != nil {
			return err
		}
		if err := resolveHold(b, &h, cr(1), HoldCaptured, tNow); err != nil {
			return err
		}
		if err := settle(b, tNow); err != nil {
			return err
		}
		if n := len(b.entries); n != 3 {
			t.Errorf("the failing write had made %d entries before failing, want 3 (hold, capture, expire)", n)
		}
		h2 := tHold("hld_2", cr(10), 10, 10.25)
		_, err = reserve(b, &h2, nil, tNow)
		return err
	})
	e := wantError(t, err, InsufficientCredits, "insufficient_credits")
	if e.Available != cr(2) || e.Required != cr(10) {
		t.Errorf("Available %s, Required %s; want 2, 10", e.Available, e.Required)
	}

	// 3: a hold of 1 on what the first left: gD still unmarked (skipped),
	// gL's 3 − 2 = 1. Available 3 − 1 = 2.
	h3 := tHold("hld_3", cr(1), 10, 10.25)
	if err := decide(b, func() error { _, err := reserve(b, &h3, nil, tNow); return err }); err != nil {
		t.Fatal(err)
	}

	c := b.Change()
	checkJournal(t, state.Account, c)
	checkFolds(t, b)
	hold := func(id string, dAvail, availAfter, heldAfter Credits) Entry {
		return Entry{Kind: EntryHold, Account: tAcc, Time: tNow, Ref: id, AvailableDelta: dAvail, HeldDelta: -dAvail,
			AvailableAfter: availAfter, HeldAfter: heldAfter, Postings: []Posting{pAvail("gL", dAvail), pHeld("gL", -dAvail)}}
	}
	sameEntries(t, c.Entries, []Entry{
		hold("hld_1", cr(-2), cr(3), cr(2)), // 5 − 2; 0 + 2
		hold("hld_3", cr(-1), cr(2), cr(3)), // 3 − 1; 2 + 1
	})
	same(t, "new holds", c.NewHolds, []Hold{
		tHold("hld_1", cr(2), 10, 10.25, al("gL", cr(2))), // open, nothing captured
		tHold("hld_3", cr(1), 10, 10.25, al("gL", cr(1))),
	})
	same(t, "grants", grantRows(c.Grants), []grantRow{{ID: "gL", Remaining: 0, Held: cr(3)}}) // gD untouched
	same(t, "account", c.Account, tAccount(cr(2), cr(3), 0))
	if c.Holds != nil || c.Allocations != nil || c.NewGrants != nil || c.Generations != nil {
		t.Errorf("rows of the failed write left in %+v", c)
	}
}

// TestBookChange: Change diffs the book against what was loaded — one row per
// changed row, with its final values; a row inserted and changed in the same
// book is only an insert; a row changed and changed back is not there; a hold
// with fewer allocations than it had is trimmed.
func TestBookChange(t *testing.T) {
	t.Run("nothing decided, nothing changed", func(t *testing.T) {
		b := NewBook(tAcc, &State{Account: tAccount(cr(3), 0, 0), Grants: []Grant{tGrant("gL", cr(3), 0, 0), tOverdraft(0, 0)}})
		if c := b.Change(); !c.Empty() {
			t.Errorf("change %+v", c)
		}
	})

	t.Run("a grant inserted then changed is only a new grant, with its final values", func(t *testing.T) {
		s := &State{Account: tAccount(0, 0, 0), Grants: []Grant{tOverdraft(0, 0)}}
		b := NewBook(tAcc, s)
		g := Grant{ID: "grt_new", Account: tAcc, Source: SourcePromo, Granted: cr(5), CreatedAt: tNow}
		b.insertGrant(g)
		e := newDraft(EntryGrant, tAcc, g.ID, tNow)
		e.platform(BookIssued, cr(-5))
		e.wallet(BookAvailable, g.ID, cr(5))
		if _, err := e.commit(b, nil); err != nil {
			t.Fatal(err)
		}
		h := tHold("hld_1", cr(3), 10, 10.25)
		if _, err := reserve(b, &h, nil, tNow); err != nil {
			t.Fatal(err)
		}
		c := b.Change()
		checkJournal(t, s.Account, c)
		checkFolds(t, b)
		g.Remaining, g.Held = cr(2), cr(3) // 5 − 3; 3
		same(t, "new grants", c.NewGrants, []Grant{g})
		same(t, "grants", c.Grants, []Grant(nil))
		same(t, "account", c.Account, tAccount(cr(2), cr(3), 0)) // 0 + 5 − 3; 0 + 3
		if len(c.Entries) != 2 || c.Entries[0].Kind != EntryGrant || c.Entries[1].Kind != EntryHold {
			t.Errorf("entries %+v", c.Entries)
		}
	})

	t.Run("a hold opened and released in one book: a new hold, its grant and the account unchanged", func(t *testing.T) {
		s := &State{Account: tAccount(cr(3), 0, 0), Grants: []Grant{tGrant("gL", cr(3), 0, 0), tOverdraft(0, 0)}}
		b := NewBook(tAcc, s)
		h := tHold("hld_q", cr(1), 10, 10.25)
		if _, err := reserve(b, &h, nil, tNow); err != nil {
			t.Fatal(err)
		}
		if err := resolveHold(b, &h, 0, HoldReleased, tNow); err != nil {
			t.Fatal(err)
		}
		c := b.Change()
		checkJournal(t, s.Account, c)
		// gL: 3 − 1 + 1 = 3, held 0 + 1 − 1 = 0: as loaded.
		same(t, "grants", c.Grants, []Grant(nil))
		same(t, "account", c.Account, (*Account)(nil))
		want := tHold("hld_q", cr(1), 10, 10.25, al("gL", cr(1)))
		want.Status, want.Released, want.ResolvedAt = HoldReleased, cr(1), tNow
		same(t, "new holds", c.NewHolds, []Hold{want})
		same(t, "holds", c.Holds, []Hold(nil))
		same(t, "allocations", c.Allocations, []AllocationRow(nil)) // a new hold's go with it
		if len(c.Entries) != 2 || c.Entries[0].Kind != EntryHold || c.Entries[1].Kind != EntryRelease {
			t.Errorf("entries %+v", c.Entries)
		}
	})

	t.Run("fewer allocations: the changed ones rewritten, the rest trimmed", func(t *testing.T) {
		s := &State{
			Account: tAccount(0, cr(6), 0),
			Grants:  []Grant{tGrant("gA", 0, cr(1), 0), tGrant("gB", 0, cr(2), 0), tGrant("gC", 0, cr(3), 0), tOverdraft(0, 0)},
			Holds:   []Hold{tHold("hld_s", cr(6), 9, 11, al("gA", cr(1)), al("gB", cr(2)), al("gC", cr(3)))},
		}
		b := NewBook(tAcc, s)
		h, _ := b.Hold("hld_s")
		h.Allocations = []Allocation{al("gA", cr(1)), al("gB", cr(5))} // as a move of gC's 3 onto gB would leave it
		if err := b.updateHold(h); err != nil {
			t.Fatal(err)
		}
		c := b.Change()
		same(t, "allocations", c.Allocations, []AllocationRow{{Hold: "hld_s", Seq: 1, Allocation: al("gB", cr(5))}})
		same(t, "trimmed", c.TrimAllocations, []AllocationRow{{Hold: "hld_s", Seq: 2}})
		same(t, "holds", c.Holds, []Hold(nil)) // status and amounts unchanged
		// The loaded state is not the book's: Change still diffs against it.
		same(t, "loaded allocations", s.Holds[0].Allocations, []Allocation{al("gA", cr(1)), al("gB", cr(2)), al("gC", cr(3))})
	})

	t.Run("a generation inserted then updated is only a new generation", func(t *testing.T) {
		old := tGen("gen_old", "hld_old", 1, cr(1), 0, cr(1), 1, 1.25)
		old.Status, old.ResolvedAt = GenerationFailed, hour(1.1)
		b := NewBook(tAcc, &State{Account: tAccount(0, 0, 0), Grants: []Grant{tOverdraft(0, 0)}, Generations: []Generation{old}})
		g := tGen("gen_new", "hld_new", 2, cr(1), 0, cr(2), 10, 10.25)
		b.insertGeneration(g)
		g.Status, g.ResolvedAt = GenerationFailed, tNow
		if err := b.updateGeneration(g); err != nil {
			t.Fatal(err)
		}
		c := b.Change()
		same(t, "new generations", c.NewGenerations, []Generation{g})
		same(t, "generations", c.Generations, []Generation(nil))
	})

	t.Run("an account inserted: a new account and its overdraft grant", func(t *testing.T) {
		b := NewBook(tAcc, &State{})
		if _, err := b.Account(); ErrorCode(err) != NotFound {
			t.Fatalf("no account: %v", err)
		}
		a := Account{ID: tAcc, Overdraft: cr(5), CreatedAt: tNow}
		if err := b.insertAccount(a, tOverdraft(0, 0)); err != nil {
			t.Fatal(err)
		}
		wantError(t, b.insertAccount(a, tOverdraft(0, 0)), Conflict, "account_exists")
		c := b.Change()
		same(t, "new account", c.NewAccount, &a)
		same(t, "account", c.Account, (*Account)(nil))
		same(t, "new grants", c.NewGrants, []Grant{tOverdraft(0, 0)})
	})
}
