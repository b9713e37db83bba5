package storetest

import (
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// expiryFlows are the flows where time passes or money comes back: hold TTLs,
// grant expiry, refunds and the overdraft.
func expiryFlows() []flow {
	return []flow{
		{name: "HoldTTL", fn: flowHoldTTL},
		{name: "HoldTTLLazy", fn: flowHoldTTLLazy},
		{name: "GrantExpiry", fn: flowGrantExpiry},
		{name: "GrantExpiryHeld", fn: flowGrantExpiryHeld},
		{name: "GrantExpirySubMicrosecond", fn: flowGrantExpirySubMicrosecond},
		{name: "Refund", fn: flowRefund},
		{name: "RefundAcrossGrants", fn: flowRefundAcrossGrants},
		{name: "RefundExpiredGrant", fn: flowRefundExpiredGrant},
		{name: "NotRefundable", fn: flowNotRefundable},
		{name: "RefundNothingLeft", fn: flowRefundNothingLeft},
		{name: "FreeGeneration", fn: flowFreeGeneration},
		{name: "Overdraft", fn: flowOverdraft},
		{name: "OverdraftPaybackThenRelease", fn: flowOverdraftPaybackThenRelease},
		{name: "OverdraftPaybackThenRefund", fn: flowOverdraftPaybackThenRefund},
		{name: "OverdraftPaybackAttribution", fn: flowOverdraftPaybackAttribution},
		{name: "OverdraftPaybackExpiryRefund", fn: flowOverdraftPaybackExpiryRefund},
		{name: "OverdraftHoldPaybackExpiry", fn: flowOverdraftHoldPaybackExpiry},
	}
}

// flowHoldTTL: the background sweeper (ExpireDue) releases a hold at its TTL;
// completing it afterwards is a clear conflict.
func flowHoldTTL(t *testing.T, e *env) {
	e.account("a", 0)
	e.topup("a", 10)
	g := e.generation("a", images(fluxDev, 2)) // 10, expiring t0+15m
	e.clock.Set(g.ExpiresAt.Add(-time.Microsecond))
	if n, err := e.ledger.ExpireDue(e.ctx); err != nil || n != 0 {
		t.Errorf("ExpireDue a microsecond before the TTL = %d, %v; want 0", n, err)
	}
	e.clock.Set(g.ExpiresAt)
	if n, err := e.ledger.ExpireDue(e.ctx); err != nil || n != 1 {
		t.Errorf("ExpireDue at the TTL = %d, %v; want 1 account settled", n, err)
	}
	s := e.snapshot()
	for _, sg := range s.Generations {
		if sg.ID == g.ID && (sg.Status != credit.GenerationExpired || sg.Charged != 0) {
			t.Errorf("stored generation after ExpireDue = %s, charged %s; want expired, 0", sg.Status, sg.Charged)
		}
	}
	for _, h := range s.Holds {
		if h.ID == g.Hold && (h.Status != credit.HoldExpired || h.Released != credit.Whole(10) || !h.ResolvedAt.Equal(g.ExpiresAt)) {
			t.Errorf("stored hold after ExpireDue = %s, released %s at %v; want expired, 10 at %v", h.Status, h.Released, h.ResolvedAt, g.ExpiresAt)
		}
	}
	j := e.journal("a")
	if last := j[len(j)-1]; last.Kind != credit.EntryRelease || !last.Time.Equal(g.ExpiresAt) || last.AvailableDelta != credit.Whole(10) {
		t.Errorf("expiry transaction = %s %s at %v; want release of 10 at %v", last.Kind, last.AvailableDelta, last.Time, g.ExpiresAt)
	}
	e.balances("a", credit.Whole(10), 0)
	e.clock.Add(time.Minute)
	e.unchanged("resolving an expired generation", func() {
		_, err := e.ledger.CompleteGeneration(e.ctx, nil, g.ID, 2)
		wantErr(t, "CompleteGeneration after the TTL", err, credit.Conflict, "hold_expired")
		_, err = e.ledger.FailGeneration(e.ctx, nil, g.ID)
		wantErr(t, "FailGeneration after the TTL", err, credit.Conflict, "hold_expired")
		if n, err := e.ledger.ExpireDue(e.ctx); err != nil || n != 0 {
			t.Errorf("ExpireDue with nothing due = %d, %v; want 0", n, err)
		}
	})
}

// flowHoldTTLLazy: without the sweeper, the next access to the account or the
// generation settles what is past its time, at that time.
func flowHoldTTLLazy(t *testing.T, e *env) {
	e.account("a", 0)
	e.topup("a", 10)
	// Just inside the TTL, completing works.
	g1 := e.generation("a", fluxDev) // 5
	e.clock.Set(g1.ExpiresAt.Add(-time.Microsecond))
	e.complete(g1.ID, 1)
	// 5 left; hold it, let the TTL pass, and read the generation.
	g2 := e.generation("a", fluxDev)
	e.clock.Add(time.Hour)
	got, err := e.ledger.Generation(e.ctx, g2.ID)
	if err != nil || got.Status != credit.GenerationExpired {
		t.Fatalf("Generation after its TTL = %s, %v; want expired", got.Status, err)
	}
	_, err = e.ledger.CompleteGeneration(e.ctx, nil, g2.ID, 1)
	wantErr(t, "CompleteGeneration after the TTL", err, credit.Conflict, "hold_expired")
	e.balances("a", credit.Whole(5), 0)

	// Reading the account settles too.
	g3 := e.generation("a", fluxDev)
	e.clock.Add(20 * time.Minute)
	e.balances("a", credit.Whole(5), 0)
	if v := e.view("a"); len(v.OpenHolds) != 0 {
		t.Errorf("Account(a) open holds after the TTL = %d; want 0", len(v.OpenHolds))
	}
	// And so does a new generation: the expired hold's 5 pay for it.
	g4 := e.generation("a", fluxDev)
	e.clock.Add(20 * time.Minute)
	g5 := e.generation("a", fluxDev)
	s := e.snapshot()
	for _, sg := range s.Generations {
		switch sg.ID {
		case g3.ID, g4.ID:
			if sg.Status != credit.GenerationExpired {
				t.Errorf("generation %s = %s; want expired", sg.ID, sg.Status)
			}
		case g5.ID:
			if sg.Status != credit.GenerationHeld {
				t.Errorf("generation %s = %s; want held", sg.ID, sg.Status)
			}
		}
	}
	e.balances("a", 0, credit.Whole(5))
}

// flowGrantExpiry: a grant's remainder leaves to the platform's expired book
// by a transaction dated at its expiry, by the sweeper or on the next access.
func flowGrantExpiry(t *testing.T, e *env) {
	e.account("a", 0)
	e.account("b", 0)
	e.account("c", 0)
	promoA := e.grant("a", credit.GrantSpec{Credits: credit.Whole(10), Source: credit.SourcePromo, ExpiresAt: t0.Add(time.Hour)})
	e.topup("a", 5)
	promoB := e.grant("b", credit.GrantSpec{Credits: credit.Whole(7), Source: credit.SourcePromo, ExpiresAt: t0.Add(time.Hour)})
	e.grant("c", credit.GrantSpec{Credits: credit.Whole(5), Source: credit.SourcePromo, ExpiresAt: t0.Add(3 * time.Hour)})

	// At its expiry a grant can no longer be spent.
	e.clock.Set(t0.Add(time.Hour))
	_, err := e.ledger.CreateHold(e.ctx, nil, "b", credit.HoldSpec{Credits: credit.Whole(1)})
	wantErr(t, "CreateHold on an expired grant", err, credit.InsufficientCredits, "")

	e.clock.Set(t0.Add(2 * time.Hour))
	if n, err := e.ledger.ExpireDue(e.ctx); err != nil || n != 2 {
		t.Errorf("ExpireDue = %d, %v; want 2 accounts (a and b)", n, err)
	}
	for _, tc := range []struct {
		account string
		grant   credit.Grant
		amount  credit.Credits
		after   credit.Credits
	}{
		{"a", promoA, credit.Whole(10), credit.Whole(5)},
		{"b", promoB, credit.Whole(7), 0},
	} {
		j := e.journal(tc.account)
		last := j[len(j)-1]
		if last.Kind != credit.EntryExpire || !last.Time.Equal(tc.grant.ExpiresAt) || last.Ref != tc.grant.ID || last.AvailableAfter != tc.after {
			t.Errorf("%s: expiry transaction = %s at %v ref %s, %s after; want expire at %v ref %s, %s after",
				tc.account, last.Kind, last.Time, last.Ref, last.AvailableAfter, tc.grant.ExpiresAt, tc.grant.ID, tc.after)
		}
		wantPostings(t, last, []credit.Posting{
			{Account: tc.account, Book: credit.BookAvailable, Grant: tc.grant.ID, Amount: -tc.amount},
			{Account: credit.PlatformAccount, Book: credit.BookExpired, Amount: tc.amount},
		})
		g := e.grantState(tc.grant.ID)
		if g.Remaining != 0 || !g.ExpiredAt.Equal(tc.grant.ExpiresAt) {
			t.Errorf("%s: expired grant remaining %s, expired at %v; want 0 at %v", tc.account, g.Remaining, g.ExpiredAt, tc.grant.ExpiresAt)
		}
	}
	e.balances("a", credit.Whole(5), 0)
	e.balances("b", 0, 0)

	// c's grant expires at t0+3h; nobody sweeps; reading it at t0+5h settles it, dated t0+3h.
	e.clock.Set(t0.Add(5 * time.Hour))
	e.balances("c", 0, 0)
	j := e.journal("c")
	if last := j[len(j)-1]; last.Kind != credit.EntryExpire || !last.Time.Equal(t0.Add(3*time.Hour)) {
		t.Errorf("c: lazy expiry transaction = %s at %v; want expire at t0+3h", last.Kind, last.Time)
	}
	if got := platformBook(e.snapshot(), credit.BookExpired); got != credit.Whole(22) {
		t.Errorf("platform expired = %s; want 22 (10 + 7 + 5)", got)
	}
}

// expiredOf sums the platform's expired postings made by one account's transactions.
func expiredOf(s *credit.Snapshot, account string) credit.Credits {
	var sum credit.Credits
	for _, t := range s.Entries {
		if t.Account != account {
			continue
		}
		for _, p := range t.Postings {
			if p.Account == credit.PlatformAccount && p.Book == credit.BookExpired {
				sum += p.Amount
			}
		}
	}
	return sum
}

// revenueOf sums the platform's revenue postings made by one account's transactions.
func revenueOf(s *credit.Snapshot, account string) credit.Credits {
	var sum credit.Credits
	for _, t := range s.Entries {
		if t.Account != account {
			continue
		}
		for _, p := range t.Postings {
			if p.Account == credit.PlatformAccount && p.Book == credit.BookRevenue {
				sum += p.Amount
			}
		}
	}
	return sum
}

// flowGrantExpiryHeld: the held part of an expiring grant follows its hold:
// captured, it is revenue; returned, it goes to the expired book.
func flowGrantExpiryHeld(t *testing.T, e *env) {
	holds := map[string]credit.Hold{}
	grants := map[string]credit.Grant{}
	for _, a := range []string{"capture", "release", "partial", "ttl"} {
		e.account(a, 0)
		grants[a] = e.grant(a, credit.GrantSpec{Credits: credit.Whole(10), Source: credit.SourcePromo, ExpiresAt: t0.Add(time.Hour)})
		holds[a] = e.hold(a, credit.Whole(6), 2*time.Hour)
	}
	e.clock.Set(t0.Add(90 * time.Minute))
	if n, err := e.ledger.ExpireDue(e.ctx); err != nil || n != 4 {
		t.Errorf("ExpireDue = %d, %v; want 4", n, err)
	}
	for a, g := range grants {
		// 10 − 6 held = 4 left the balance at t0+1h; the 6 stay held.
		e.wantGrant(a, g.ID, 0, credit.Whole(6))
		e.balances(a, 0, credit.Whole(6))
	}
	if _, err := e.ledger.CaptureHold(e.ctx, nil, holds["capture"].ID, nil); err != nil {
		t.Errorf("CaptureHold(capture) = %v", err)
	}
	if _, err := e.ledger.ReleaseHold(e.ctx, nil, holds["release"].ID); err != nil {
		t.Errorf("ReleaseHold(release) = %v", err)
	}
	two := credit.Whole(2)
	if _, err := e.ledger.CaptureHold(e.ctx, nil, holds["partial"].ID, &two); err != nil {
		t.Errorf("CaptureHold(partial, 2) = %v", err)
	}
	e.clock.Set(t0.Add(3 * time.Hour)) // past the ttl hold's TTL (t0+2h)
	if _, err := e.ledger.ExpireDue(e.ctx); err != nil {
		t.Errorf("ExpireDue = %v", err)
	}
	s := e.snapshot()
	for _, tc := range []struct {
		account          string
		revenue, expired credit.Credits
	}{
		{"capture", credit.Whole(6), credit.Whole(4)}, // 6 charged; 4 expired at t0+1h
		{"release", 0, credit.Whole(10)},              // 4 at t0+1h, then the 6 released
		{"partial", credit.Whole(2), credit.Whole(8)}, // 2 charged; 4 + 4 returned
		{"ttl", 0, credit.Whole(10)},                  // 4, then the 6 at the hold's TTL
	} {
		if got := revenueOf(s, tc.account); got != tc.revenue {
			t.Errorf("%s: revenue = %s; want %s", tc.account, got, tc.revenue)
		}
		if got := expiredOf(s, tc.account); got != tc.expired {
			t.Errorf("%s: expired = %s; want %s", tc.account, got, tc.expired)
		}
		e.wantGrant(tc.account, grants[tc.account].ID, 0, 0)
		e.balances(tc.account, 0, 0)
	}
	j := e.journal("ttl")
	if last := j[len(j)-1]; last.Kind != credit.EntryRelease || !last.Time.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("ttl: last transaction = %s at %v; want the hold's release at t0+2h", last.Kind, last.Time)
	}
}

// flowGrantExpirySubMicrosecond: the stores keep microseconds. An expiry less
// than a microsecond ahead passes the "in the future" check but is stored as
// now, so the grant is born expired. Either refuse it or keep it spendable.
func flowGrantExpirySubMicrosecond(t *testing.T, e *env) {
	e.account("a", 0)
	g, err := e.ledger.AddGrant(e.ctx, nil, "a", credit.GrantSpec{Credits: credit.Whole(10), Source: credit.SourcePromo, ExpiresAt: t0.Add(500 * time.Nanosecond)})
	if err != nil {
		wantErr(t, "AddGrant(expiring in 500ns)", err, credit.Invalid, "invalid_expiry")
		return
	}
	if !g.Live(t0) {
		t.Errorf("AddGrant(10, expiring at t0+500ns) at t0 = a grant expiring at %v that cannot be spent now; want it refused (invalid_expiry) or spendable", g.ExpiresAt)
	}
	e.balances("a", credit.Whole(10), 0)
}

func flowRefund(t *testing.T, e *env) {
	e.account("a", 0)
	top := e.topup("a", 100)
	g := e.generation("a", images(fluxDev, 4)) // 20
	e.complete(g.ID, 4)
	e.balances("a", credit.Whole(80), 0)
	e.clock.Add(time.Minute)
	r, err := e.ledger.RefundGeneration(e.ctx, nil, g.ID, nil)
	if err != nil || r.Refunded != credit.Whole(20) || r.Charged != credit.Whole(20) || r.Status != credit.GenerationCompleted {
		t.Fatalf("RefundGeneration(all) = %+v, %v; want 20 of 20 refunded", r, err)
	}
	e.balances("a", credit.Whole(100), 0)
	e.wantGrant("topup", top.ID, credit.Whole(100), 0)
	s := e.snapshot()
	if got := platformBook(s, credit.BookRevenue); got != 0 {
		t.Errorf("platform revenue after a whole refund = %s; want 0", got)
	}
	j := e.journal("a")
	last := j[len(j)-1]
	if last.Kind != credit.EntryRefund || last.ChargedDelta != credit.Whole(-20) || last.Model != "flux-dev" || last.Generation != g.ID || last.CatalogVersion != "2026-11-24.seed" {
		t.Errorf("refund transaction = %+v; want refund of 20 of flux-dev, charged −20", last)
	}
	wantPostings(t, last, []credit.Posting{
		{Account: credit.PlatformAccount, Book: credit.BookRevenue, Amount: credit.Whole(-20)},
		{Account: "a", Book: credit.BookAvailable, Grant: top.ID, Amount: credit.Whole(20)},
	})
	e.unchanged("refunding again", func() {
		one := credit.Whole(1)
		_, err := e.ledger.RefundGeneration(e.ctx, nil, g.ID, &one)
		wantRefused(t, "RefundGeneration(1 more)", err, "over_refund", "not_refundable")
	})
}

// flowRefundAcrossGrants: a charge from two grants is given back to them, the
// last-consumed first; partial refunds add up; more than is left is refused.
func flowRefundAcrossGrants(t *testing.T, e *env) {
	e.account("a", 0)
	gA := e.grant("a", credit.GrantSpec{Credits: credit.Whole(7)})
	gB := e.grant("a", credit.GrantSpec{Credits: credit.Whole(100), Priority: 1})
	g := e.generation("a", images(fluxDev, 4)) // 20: A 7, B 13
	h, _ := e.ledger.Hold(e.ctx, g.Hold)
	if got := allocs(h, map[string]string{gA.ID: "A", gB.ID: "B"}); got != "A:7 B:13" {
		t.Fatalf("hold allocates %s; want A:7 B:13", got)
	}
	e.complete(g.ID, 3) // 15: A 7, B 8; B gets 5 back
	e.wantGrant("A", gA.ID, 0, 0)
	e.wantGrant("B", gB.ID, credit.Whole(92), 0)

	refund := func(n int64) credit.Generation {
		t.Helper()
		amt := credit.Whole(n)
		r, err := e.ledger.RefundGeneration(e.ctx, nil, g.ID, &amt)
		if err != nil {
			t.Fatalf("RefundGeneration(%d) = %v", n, err)
		}
		return r
	}
	refund(5) // all to B, the last consumed: B 97
	e.wantGrant("A", gA.ID, 0, 0)
	e.wantGrant("B", gB.ID, credit.Whole(97), 0)
	refund(6) // B's last 3 (8 − 5), then 3 to A
	e.wantGrant("A", gA.ID, credit.Whole(3), 0)
	e.wantGrant("B", gB.ID, credit.Whole(100), 0)
	e.unchanged("over-refund", func() {
		five := credit.Whole(5)
		_, err := e.ledger.RefundGeneration(e.ctx, nil, g.ID, &five)
		wantErr(t, "RefundGeneration(5 of 4 left)", err, credit.Invalid, "over_refund")
	})
	if r := refund(4); r.Refunded != credit.Whole(15) {
		t.Errorf("refunded = %s; want 15", r.Refunded)
	}
	e.wantGrant("A", gA.ID, credit.Whole(7), 0)
	e.balances("a", credit.Whole(107), 0)
	h, _ = e.ledger.Hold(e.ctx, g.Hold)
	for _, a := range h.Allocations {
		if a.Refunded != a.Captured {
			t.Errorf("allocation on %s: captured %s, refunded %s; want all refunded", a.Grant, a.Captured, a.Refunded)
		}
	}
}

// flowRefundExpiredGrant: the documented policy (refund.go): the share of a
// grant that has expired since comes back as a new never-expiring grant of
// source refund; the share of a live grant goes back to it.
func flowRefundExpiredGrant(t *testing.T, e *env) {
	e.account("a", 0)
	promo := e.grant("a", credit.GrantSpec{Credits: credit.Whole(10), Source: credit.SourcePromo, ExpiresAt: t0.Add(time.Hour)})
	top := e.grant("a", credit.GrantSpec{Credits: credit.Whole(100), Priority: 1})
	g := e.generation("a", images(fluxDev, 4)) // 20: promo 10, topup 10
	e.complete(g.ID, 4)
	e.clock.Set(t0.Add(2 * time.Hour))
	r, err := e.ledger.RefundGeneration(e.ctx, nil, g.ID, nil)
	if err != nil || r.Refunded != credit.Whole(20) {
		t.Fatalf("RefundGeneration = %+v, %v; want 20 refunded", r, err)
	}
	v := e.view("a")
	if v.Available != credit.Whole(110) {
		t.Errorf("available = %s; want 110 (90 + 10 back to the topup + 10 in a new grant)", v.Available)
	}
	e.wantGrant("promo", promo.ID, 0, 0)
	e.wantGrant("topup", top.ID, credit.Whole(100), 0)
	var fresh []credit.Grant
	for _, gr := range v.Grants {
		if gr.ID != promo.ID && gr.ID != top.ID {
			fresh = append(fresh, gr)
		}
	}
	if len(fresh) != 1 {
		t.Fatalf("grants after the refund: %d new; want 1", len(fresh))
	}
	ng := fresh[0]
	if ng.Source != credit.SourceRefund || ng.Granted != credit.Whole(10) || ng.Remaining != credit.Whole(10) || !ng.ExpiresAt.IsZero() || !ng.CreatedAt.Equal(t0.Add(2*time.Hour)) {
		t.Errorf("refund grant = %+v; want source refund, 10, never expiring, created t0+2h", ng)
	}
	j := e.journal("a")
	wantPostings(t, j[len(j)-1], []credit.Posting{
		{Account: credit.PlatformAccount, Book: credit.BookRevenue, Amount: credit.Whole(-20)},
		{Account: "a", Book: credit.BookAvailable, Grant: top.ID, Amount: credit.Whole(10)},
		{Account: "a", Book: credit.BookAvailable, Grant: ng.ID, Amount: credit.Whole(10)},
	})
	// The new grant is spent like any other: priority 0, never expiring, before the topup.
	h := e.hold("a", credit.Whole(12), 0)
	if got := allocs(h, map[string]string{ng.ID: "refund", top.ID: "topup"}); got != "refund:10 topup:2" {
		t.Errorf("hold of 12 allocates %s; want refund:10 topup:2", got)
	}
}

func flowNotRefundable(t *testing.T, e *env) {
	e.account("a", 0)
	e.topup("a", 100)
	held := e.generation("a", fluxDev)
	failed := e.generation("a", fluxDev)
	if _, err := e.ledger.FailGeneration(e.ctx, nil, failed.ID); err != nil {
		t.Fatal(err)
	}
	none := e.generation("a", fluxDev)
	e.complete(none.ID, 0)
	done := e.generation("a", fluxDev)
	e.complete(done.ID, 1)
	e.unchanged("refused refunds", func() {
		for name, id := range map[string]string{"held": held.ID, "failed": failed.ID, "charged nothing": none.ID} {
			_, err := e.ledger.RefundGeneration(e.ctx, nil, id, nil)
			wantErr(t, "RefundGeneration("+name+")", err, credit.Conflict, "not_refundable")
		}
		zero := credit.Credits(0)
		_, err := e.ledger.RefundGeneration(e.ctx, nil, done.ID, &zero)
		wantErr(t, "RefundGeneration(0)", err, credit.Invalid, "invalid_amount")
		neg := credit.Whole(-1)
		_, err = e.ledger.RefundGeneration(e.ctx, nil, done.ID, &neg)
		wantErr(t, "RefundGeneration(-1)", err, credit.Invalid, "invalid_amount")
		_, err = e.ledger.RefundGeneration(e.ctx, nil, "gen_nope", nil)
		wantErr(t, "RefundGeneration(unknown)", err, credit.NotFound, "unknown_generation")
	})
}

// flowRefundNothingLeft: a whole refund of a generation already refunded in
// full has nothing to give back; it must be refused and write nothing (a
// transaction without postings breaks the journal's zero_sum invariant).
func flowRefundNothingLeft(t *testing.T, e *env) {
	e.account("a", 0)
	e.topup("a", 10)
	g := e.generation("a", fluxDev)
	e.complete(g.ID, 1)
	if _, err := e.ledger.RefundGeneration(e.ctx, nil, g.ID, nil); err != nil {
		t.Fatalf("RefundGeneration(all) = %v", err)
	}
	e.unchanged("a second whole refund", func() {
		_, err := e.ledger.RefundGeneration(e.ctx, nil, g.ID, nil)
		wantRefused(t, "RefundGeneration(all) of a fully refunded generation", err, "over_refund", "not_refundable")
	})
	e.balances("a", credit.Whole(10), 0)
}

// flowFreeGeneration: Topaz on a 100×100 input at 2× is 20 × 0.01 × 1 = 0.2
// credits, rounded half up to a whole credit: 0. Such a generation holds
// nothing, completes with nothing charged and writes no journal entry.
func flowFreeGeneration(t *testing.T, e *env) {
	e.account("a", 0)
	g := e.generation("a", credit.QuoteRequest{Model: "topaz", Scale: 2, InputWidth: 100, InputHeight: 100})
	if g.HoldCredits != 0 {
		t.Errorf("hold = %s; want 0", g.HoldCredits)
	}
	if g = e.complete(g.ID, 1); g.Status != credit.GenerationCompleted || g.Charged != 0 {
		t.Errorf("CompleteGeneration = %s, %s charged; want completed, 0", g.Status, g.Charged)
	}
	if entries, err := e.ledger.Entries(e.ctx, "a", 0, 10); err != nil || len(entries) != 0 {
		t.Errorf("entries = %d, %v; want none", len(entries), err)
	}
	e.balances("a", 0, 0)
}
