package storetest

import (
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// The overdraft's flows (listed with expiryFlows): an account below zero, a
// later grant paying it back, and what happens to credits that come back
// after that grant has expired.

// flowOverdraft: an account with an overdraft of 10 may go down to −10 and no
// further; a later grant pays the overdraft back first.
func flowOverdraft(t *testing.T, e *env) {
	e.account("a", credit.Whole(10))
	h := e.hold("a", credit.Whole(10), 0)
	e.balances("a", credit.Whole(-10), credit.Whole(10))
	if v := e.view("a"); v.OverdraftUsed != credit.Whole(10) {
		t.Errorf("overdraft used = %s; want 10", v.OverdraftUsed)
	}
	e.unchanged("a hold past the overdraft", func() {
		_, err := e.ledger.CreateHold(e.ctx, nil, "a", credit.HoldSpec{Credits: cr("0.001")})
		wantErr(t, "CreateHold(0.001 at −10)", err, credit.InsufficientCredits, "")
		_, err = e.ledger.CreateGeneration(e.ctx, nil, credit.GenerationSpec{Account: "a", Request: fluxDev})
		wantErr(t, "CreateGeneration at −10", err, credit.InsufficientCredits, "insufficient_credits")
		if ce := asError(err); ce == nil || ce.Available != credit.Whole(-10) || ce.Required != credit.Whole(5) {
			t.Errorf("insufficient error = %+v; want available −10, required 5", ce)
		}
	})
	if _, err := e.ledger.CaptureHold(e.ctx, nil, h.ID, nil); err != nil {
		t.Fatalf("CaptureHold = %v", err)
	}
	e.balances("a", credit.Whole(-10), 0)
	// 25 granted: 10 pay the overdraft back, 15 remain on the grant.
	g := e.topup("a", 25)
	if g.Granted != credit.Whole(25) || g.Remaining != credit.Whole(15) {
		t.Errorf("AddGrant(25) at −10 = granted %s, remaining %s; want 25, 15", g.Granted, g.Remaining)
	}
	v := e.view("a")
	if v.Available != credit.Whole(15) || v.OverdraftUsed != 0 {
		t.Errorf("after the grant: available %s, overdraft used %s; want 15, 0", v.Available, v.OverdraftUsed)
	}
	// 20 held: the grant's 15 first, then 5 of the overdraft.
	ovd := findGrant(t, e.snapshot(), "a", credit.SourceOverdraft)
	h2 := e.hold("a", credit.Whole(20), 0)
	if got := allocs(h2, map[string]string{g.ID: "topup", ovd.ID: "overdraft"}); got != "topup:15 overdraft:5" {
		t.Errorf("hold of 20 allocates %s; want topup:15 overdraft:5", got)
	}
	e.balances("a", credit.Whole(-5), credit.Whole(20))

	// With generations: 3 − 10 = −7 is allowed, −7 − 5 = −12 is not.
	e.account("b", credit.Whole(10))
	e.topup("b", 3)
	e.generation("b", images(fluxDev, 2))
	_, err := e.ledger.CreateGeneration(e.ctx, nil, credit.GenerationSpec{Account: "b", Request: fluxDev})
	wantErr(t, "CreateGeneration to −12", err, credit.InsufficientCredits, "insufficient_credits")
	e.balances("b", credit.Whole(-7), credit.Whole(10))
}

// flowOverdraftPaybackThenRelease: an overdraft that is only held is "paid
// back" by a promo grant; when the hold is released, the credits go back to
// the overdraft grant, which never expires. The account spent nothing and
// owned nothing but the 20 promo credits: when they expire it must be at 0.
func flowOverdraftPaybackThenRelease(t *testing.T, e *env) {
	e.account("a", credit.Whole(10))
	h := e.hold("a", credit.Whole(10), 2*time.Hour) // all on the overdraft
	e.grant("a", credit.GrantSpec{Credits: credit.Whole(20), Source: credit.SourcePromo, ExpiresAt: t0.Add(time.Hour)})
	if _, err := e.ledger.ReleaseHold(e.ctx, nil, h.ID); err != nil {
		t.Fatalf("ReleaseHold = %v", err)
	}
	e.balances("a", credit.Whole(20), 0) // the promo, nothing spent
	e.clock.Set(t0.Add(90 * time.Minute))
	// The promo's 20 have expired; nothing else was ever put in.
	e.balances("a", 0, 0)
	if got := expiredOf(e.snapshot(), "a"); got != credit.Whole(20) {
		t.Errorf("expired = %s; want 20 (the whole promo)", got)
	}
}

// flowOverdraftPaybackThenRefund: a charge on the overdraft is paid back by a
// grant and then refunded. The refund is the customer's (they paid the
// overdraft back), but the view must add up: available = the grants'
// remaining − the overdraft used.
func flowOverdraftPaybackThenRefund(t *testing.T, e *env) {
	e.account("a", credit.Whole(10))
	g := e.generation("a", images(fluxDev, 2)) // 10, all on the overdraft
	e.complete(g.ID, 2)
	e.topup("a", 25) // pays the 10 back; 15 remain
	if _, err := e.ledger.RefundGeneration(e.ctx, nil, g.ID, nil); err != nil {
		t.Fatalf("RefundGeneration = %v", err)
	}
	v := e.view("a")
	if v.Available != credit.Whole(25) {
		t.Errorf("available = %s; want 25 (the topup; the charge was refunded)", v.Available)
	}
	var sum credit.Credits
	for _, gr := range v.Grants {
		sum += gr.Remaining
	}
	if sum-v.OverdraftUsed != v.Available {
		t.Errorf("Account(a): grants hold %s, overdraft used %s, but available is %s: %s are in no grant the view shows",
			sum, v.OverdraftUsed, v.Available, v.Available-(sum-v.OverdraftUsed))
	}
}

// flowOverdraftPaybackAttribution: two holds on the overdraft, each paid back
// by its own grant — a topup that never expires, then a promo that does. The
// second hold is charged (the promo paid that debt), the first is released:
// that debt was never owed, so the credits belong back with the topup that
// paid it. Whichever way one looks at it — back to the grant that paid, or
// the consumption order (what expires first is spent first) — the account
// keeps 5 credits after the promo expires.
func flowOverdraftPaybackAttribution(t *testing.T, e *env) {
	e.account("a", credit.Whole(10))
	h1 := e.hold("a", credit.Whole(5), 2*time.Hour) // on the overdraft: −5
	e.clock.Add(time.Second)
	top := e.topup("a", 5) // pays h1's 5 back
	e.clock.Add(time.Second)
	h2 := e.hold("a", credit.Whole(5), 2*time.Hour) // the topup is empty: on the overdraft again
	e.clock.Add(time.Second)
	promo := e.grant("a", credit.GrantSpec{Credits: credit.Whole(5), Source: credit.SourcePromo, ExpiresAt: t0.Add(time.Hour)}) // pays h2's 5 back
	if _, err := e.ledger.CaptureHold(e.ctx, nil, h2.ID, nil); err != nil {
		t.Fatalf("CaptureHold(h2) = %v", err)
	}
	if _, err := e.ledger.ReleaseHold(e.ctx, nil, h1.ID); err != nil {
		t.Fatalf("ReleaseHold(h1) = %v", err)
	}
	// 5 + 5 put in, 5 charged.
	e.balances("a", credit.Whole(5), 0)
	if g := e.grantState(top.ID); g.Remaining != credit.Whole(5) {
		t.Errorf("after h1's release: topup %s, promo %s remaining; want the topup's 5 back (it paid h1's debt)", g.Remaining, e.grantState(promo.ID).Remaining)
	}
	e.clock.Set(t0.Add(90 * time.Minute))
	e.balances("a", credit.Whole(5), 0)
}

// banana1K is Nano Banana 2 at 1K, one image: 49 credits ("49 (1K)").
var banana1K = credit.QuoteRequest{Model: "nano-banana-2", Resolution: "1K"}

// flowOverdraftPaybackExpiryRefund: a charge taken from the overdraft is paid
// back by a grant that then expires, and the charge is refunded after that.
// The debt the grant paid turns out not to have been owed, and the grant that
// paid it is gone: the refund comes back as a new never-expiring refund grant,
// as a refund to any expired grant does, and the overdraft stays paid back.
func flowOverdraftPaybackExpiryRefund(t *testing.T, e *env) {
	e.account("a", credit.Whole(100))
	ovd := findGrant(t, e.snapshot(), "a", credit.SourceOverdraft)
	g := e.generation("a", banana1K) // 49, all on the overdraft
	e.complete(g.ID, 1)
	e.balances("a", credit.Whole(-49), 0)
	// 100 expiring in 2 s: 49 pay the overdraft back, 51 remain.
	top := e.grant("a", credit.GrantSpec{Credits: credit.Whole(100), Source: credit.SourceTopup, ExpiresAt: t0.Add(2 * time.Second)})
	if top.Remaining != credit.Whole(51) || top.PaidBack != credit.Whole(49) {
		t.Errorf("AddGrant(100) at −49 = remaining %s, paid back %s; want 51, 49", top.Remaining, top.PaidBack)
	}
	e.clock.Set(t0.Add(3 * time.Second))
	e.balances("a", 0, 0) // the 51 expired; the overdraft is paid back

	r, err := e.ledger.RefundGeneration(e.ctx, nil, g.ID, nil)
	if err != nil || r.Refunded != credit.Whole(49) {
		t.Fatalf("RefundGeneration = refunded %s, %v; want 49", r.Refunded, err)
	}
	v := e.view("a")
	if v.Available != credit.Whole(49) || v.Held != 0 || v.OverdraftUsed != 0 {
		t.Errorf("after the refund: available %s, held %s, overdraft used %s; want 49, 0, 0", v.Available, v.Held, v.OverdraftUsed)
	}
	var fresh []credit.Grant
	for _, gr := range e.snapshot().Grants {
		if gr.Account == "a" && gr.ID != ovd.ID && gr.ID != top.ID {
			fresh = append(fresh, gr)
		}
	}
	if len(fresh) != 1 {
		t.Fatalf("grants after the refund: %d new; want 1 (the refund's)", len(fresh))
	}
	ng := fresh[0]
	if ng.Source != credit.SourceRefund || ng.Granted != credit.Whole(49) || ng.Remaining != credit.Whole(49) || !ng.ExpiresAt.IsZero() || !ng.CreatedAt.Equal(t0.Add(3*time.Second)) {
		t.Errorf("refund grant = %+v; want source refund, 49, never expiring, created t0+3s", ng)
	}
	j := e.journal("a")
	wantPostings(t, j[len(j)-1], []credit.Posting{
		{Account: credit.PlatformAccount, Book: credit.BookRevenue, Amount: credit.Whole(-49)},
		{Account: "a", Book: credit.BookAvailable, Grant: ng.ID, Amount: credit.Whole(49)},
	})
	// The overdraft grant stays at 0: nothing is owed, and nothing more.
	if g := e.grantState(ovd.ID); g.Remaining != 0 || g.Held != 0 {
		t.Errorf("overdraft grant remaining, held = %s, %s; want 0, 0", g.Remaining, g.Held)
	}
	// The topup paid back a debt that was not owed: it has paid back nothing.
	if g := e.grantState(top.ID); g.Remaining != 0 || g.PaidBack != 0 {
		t.Errorf("topup remaining, paid back = %s, %s; want 0, 0", g.Remaining, g.PaidBack)
	}
	s := e.snapshot()
	if got := revenueOf(s, "a"); got != 0 {
		t.Errorf("revenue from a = %s; want 0 (49 charged, 49 refunded)", got)
	}
	if got := expiredOf(s, "a"); got != credit.Whole(51) {
		t.Errorf("expired from a = %s; want 51 (what the topup had left at its expiry)", got)
	}
	// The refund is spendable, before the overdraft, and never expires.
	h := e.hold("a", credit.Whole(49), 0)
	if got := allocs(h, map[string]string{ng.ID: "refund", ovd.ID: "overdraft"}); got != "refund:49" {
		t.Errorf("hold of 49 allocates %s; want refund:49", got)
	}
	if _, err := e.ledger.ReleaseHold(e.ctx, nil, h.ID); err != nil {
		t.Fatalf("ReleaseHold = %v", err)
	}
	e.clock.Set(t0.Add(400 * 24 * time.Hour))
	e.balances("a", credit.Whole(49), 0)
}

// flowOverdraftHoldPaybackExpiry: the other order. A generation's hold is on
// the overdraft when a grant arrives: the hold moves onto that grant, which
// expires while the hold is open. The charge is taken from it, and the
// uncharged rest of the hold expires with it (a return to an expired grant);
// a refund of that charge afterwards becomes a new refund grant.
func flowOverdraftHoldPaybackExpiry(t *testing.T, e *env) {
	e.account("a", credit.Whole(100))
	ovd := findGrant(t, e.snapshot(), "a", credit.SourceOverdraft)
	g := e.generation("a", images(banana1K, 2)) // 98, all on the overdraft
	e.balances("a", credit.Whole(-98), credit.Whole(98))
	// 100 expiring in 2 s: the hold's 98 move onto it, 2 are left; nothing
	// was charged, so nothing is paid back.
	top := e.grant("a", credit.GrantSpec{Credits: credit.Whole(100), Source: credit.SourceTopup, ExpiresAt: t0.Add(2 * time.Second)})
	if top.Remaining != credit.Whole(2) || top.Held != credit.Whole(98) || top.PaidBack != 0 {
		t.Errorf("AddGrant(100) = remaining %s, held %s, paid back %s; want 2, 98, 0", top.Remaining, top.Held, top.PaidBack)
	}
	e.balances("a", credit.Whole(2), credit.Whole(98))
	e.clock.Set(t0.Add(3 * time.Second))
	// One image of two delivered: 49 charged from the topup; the other 49
	// return to it, but it has expired: they leave with it.
	if r := e.complete(g.ID, 1); r.Charged != credit.Whole(49) {
		t.Errorf("CompleteGeneration(1 of 2) charged %s; want 49", r.Charged)
	}
	e.balances("a", 0, 0)
	if got := expiredOf(e.snapshot(), "a"); got != credit.Whole(51) {
		t.Errorf("expired from a = %s; want 51 (2 left at the expiry, 49 returned after it)", got)
	}
	r, err := e.ledger.RefundGeneration(e.ctx, nil, g.ID, nil)
	if err != nil || r.Refunded != credit.Whole(49) {
		t.Fatalf("RefundGeneration = refunded %s, %v; want 49", r.Refunded, err)
	}
	v := e.view("a")
	if v.Available != credit.Whole(49) || v.OverdraftUsed != 0 {
		t.Errorf("after the refund: available %s, overdraft used %s; want 49, 0", v.Available, v.OverdraftUsed)
	}
	ng := findGrant(t, e.snapshot(), "a", credit.SourceRefund)
	if ng.Granted != credit.Whole(49) || !ng.ExpiresAt.IsZero() {
		t.Errorf("refund grant = %s, expires %v; want 49, never", ng.Granted, ng.ExpiresAt)
	}
	if g := e.grantState(ovd.ID); g.Remaining != 0 || g.Held != 0 {
		t.Errorf("overdraft grant remaining, held = %s, %s; want 0, 0", g.Remaining, g.Held)
	}
	if got := revenueOf(e.snapshot(), "a"); got != 0 {
		t.Errorf("revenue from a = %s; want 0 (49 charged, 49 refunded)", got)
	}
}
