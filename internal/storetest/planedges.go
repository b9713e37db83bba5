package storetest

import (
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// Plan flows at the edges the simulation's reference model found the
// ledger on the wrong side of, once: each shows the edge with numbers
// worked out by hand from examples/plans.yaml (see planflows.go).

// flowPlanListCreditsKept: a completed generation keeps its list price
// (Generation.ListCredits: "its list price, so usage reports stay true"),
// charged or in an unlimited window, in the store too.
func flowPlanListCreditsKept(t *testing.T, e *env) {
	e.clock.Set(at("2026-07-01T10:00:00Z"))
	e.openAccount(credit.AccountSpec{ID: "acc", TimeZone: "America/New_York"})
	e.subscribe("acc", credit.SubscriptionSpec{Plan: "unlimited"})
	charged := e.generation("acc", images(fluxDev, 2)) // 10, charged
	e.complete(charged.ID, 2)
	free := e.generation("acc", images(banana1K, 2)) // 98 at list, in the window
	if free.Window == "" || free.HoldCredits != 0 {
		t.Fatalf("nano-banana-2 generation window %q, hold %s; want the window's, 0", free.Window, free.HoldCredits)
	}
	if g := e.complete(free.ID, 2); g.ListCredits != credit.Whole(98) {
		t.Errorf("CompleteGeneration answered list %s; want 98", g.ListCredits)
	}
	for _, g := range e.snapshot().Generations {
		want := map[string]credit.Credits{charged.ID: credit.Whole(10), free.ID: credit.Whole(98)}[g.ID]
		if g.ListCredits != want {
			t.Errorf("stored generation %s (%s) list credits %s; want %s", g.ID, g.Model, g.ListCredits, want)
		}
	}
}

// flowPlanSubscribeAfterCanceledStart: a subscription cancelled before
// it starts never starts (its EndsAt is its StartsAt): it does not keep
// the account from subscribing again (Subscribe refuses only while another
// is active or yet to start).
func flowPlanSubscribeAfterCanceledStart(t *testing.T, e *env) {
	e.clock.Set(at("2026-03-06T15:00:00Z"))
	e.openAccount(credit.AccountSpec{ID: "acc", Plan: "free", TimeZone: "America/New_York"})
	later := e.subscribe("acc", credit.SubscriptionSpec{Plan: "basic", StartsAt: at("2026-03-31T14:00:00Z")}) // 31 March, 10:00 EDT
	c, err := e.ledger.CancelSubscription(e.ctx, nil, later.ID, credit.AtNow)
	if err != nil || !c.EndsAt.Equal(c.StartsAt) {
		t.Fatalf("cancel before the start = %+v, %v; want ending at its start", c, err)
	}
	e.clock.Add(time.Minute)
	if _, err := e.ledger.Subscribe(e.ctx, nil, "acc", credit.SubscriptionSpec{Plan: "pro"}); err != nil {
		t.Errorf("Subscribe after the only other subscription was cancelled before its start = %v; want a subscription", err)
	}
}

// flowPlanVoidExpiredReason: VoidGrant and AmendGrantExpiry answer
// Conflict grant_expired for a grant that has expired, whether an earlier
// write marked it or not, and with a part still held by an open hold or not
// (SQLite loads every open hold, PostgreSQL only the due ones: the answer
// must not depend on it).
func flowPlanVoidExpiredReason(t *testing.T, e *env) {
	e.clock.Set(at("2026-06-01T12:00:00Z"))
	e.openAccount(credit.AccountSpec{ID: "acc"})
	held := e.grant("acc", credit.GrantSpec{Credits: credit.Whole(50), Source: credit.SourcePromo, ExpiresAt: at("2026-06-01T13:00:00Z")})
	spent := e.grant("acc", credit.GrantSpec{Credits: credit.Whole(50), Source: credit.SourcePromo, ExpiresAt: at("2026-06-01T13:00:00Z"), Priority: 1})
	e.hold("acc", credit.Whole(20), 2*time.Hour) // from the first: priority 0
	e.clock.Set(at("2026-06-01T13:30:00Z"))
	if _, err := e.ledger.ExpireDue(e.ctx); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{spent.ID, held.ID} {
		_, err := e.ledger.VoidGrant(e.ctx, nil, id, "")
		wantErr(t, "VoidGrant of "+id+" (expired half an hour ago)", err, credit.Conflict, "grant_expired")
		_, err = e.ledger.AmendGrantExpiry(e.ctx, nil, id, at("2026-07-01T00:00:00Z"), "")
		wantErr(t, "AmendGrantExpiry of "+id+" (expired half an hour ago)", err, credit.Conflict, "grant_expired")
	}
}

// flowPlanZoneChangeSameDay: an account on the free program that moves to
// a zone where the day it was given credits for is still going on is not
// given that day again (a day's period is granted once, and days do not go
// back): it has no free credits until that zone's next day.
func flowPlanZoneChangeSameDay(t *testing.T, e *env) {
	e.clock.Set(at("2026-03-28T12:00:00Z")) // 01:00 NZDT on 29 March
	e.openAccount(credit.AccountSpec{ID: "acc", Plan: "free", TimeZone: "Pacific/Auckland"})
	g := e.generation("acc", fluxDev)
	e.complete(g.ID, 1)
	e.wantPeriodGrant("acc", "free/0/2026-03-29", credit.Whole(100), credit.Whole(95), at("2026-03-29T11:00:00Z"), false)
	e.clock.Set(at("2026-03-29T12:00:00Z")) // 01:00 NZDT on 30 March; 08:00 EDT on 29 March
	ny := "America/New_York"
	if _, err := e.ledger.SetPlan(e.ctx, nil, "acc", "free", &ny); err != nil {
		t.Fatal(err)
	}
	e.still("a read and a refused generation on a day given in another zone", func() {
		e.balances("acc", 0, 0) // 29 March's credits were Auckland's 29 March's
		_, err := e.ledger.CreateGeneration(e.ctx, nil, credit.GenerationSpec{Account: "acc", Request: fluxDev})
		wantErr(t, "a generation on 29 March again", err, credit.InsufficientCredits, "insufficient_credits")
	})
	e.clock.Set(at("2026-03-30T04:00:00Z")) // 00:00 EDT on 30 March
	g = e.generation("acc", fluxDev)
	e.complete(g.ID, 1)
	e.wantPeriodGrant("acc", "free/0/2026-03-30", credit.Whole(100), credit.Whole(95), at("2026-03-31T04:00:00Z"), false)
}

// flowPlanVerifySnapshotTags: a grant limited to {tags: [pro]} that paid
// for a Pro model breaks no invariant: VerifySnapshot, which has no catalog
// to know the models' tags by, does not say it does (Ledger.Verify, which
// has, agrees; env.verify checks both when the flow ends).
func flowPlanVerifySnapshotTags(t *testing.T, e *env) {
	e.clock.Set(at("2026-06-01T12:00:00Z"))
	e.openAccount(credit.AccountSpec{ID: "acc"})
	e.grant("acc", credit.GrantSpec{Credits: credit.Whole(100), Source: credit.SourcePromo, AppliesTo: credit.Eligibility{Tags: []string{"pro"}}})
	g := e.generation("acc", bananaPro) // 80, paid by the promo
	e.complete(g.ID, 1)
	if vs := credit.VerifySnapshot(e.snapshot()); len(vs) > 0 {
		t.Errorf("VerifySnapshot = %v; want nothing wrong", vs)
	}
}
