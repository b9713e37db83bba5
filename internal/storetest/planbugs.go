package storetest

import (
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// Flows of ledger bugs the simulation's reference model found, kept as
// regressions: each failed before its fix.

func planBugFlows() []flow {
	return []flow{
		{name: "PlanBugVoidRetried", fn: flowPlanBugVoidRetried, catalog: plansCatalog},
		{name: "PlanBugRolloverCapAcrossWrites", fn: flowPlanBugRolloverCapAcrossWrites, catalog: plansCatalog},
	}
}

// flowPlanBugVoidRetried: a void (or an amend) retried with its
// idempotency key answers what it answered the first time, and the key
// reused for another request is idempotency_conflict (SPEC §3). Since
// VoidGrant and AmendGrantExpiry looked the grant up before the idempotent
// write, a retry after the void succeeded found the grant voided and
// answered grant_expired; so did the reused key. Now every refusal is
// decided in the write.
func flowPlanBugVoidRetried(t *testing.T, e *env) {
	e.clock.Set(at("2026-06-01T12:00:00Z"))
	e.openAccount(credit.AccountSpec{ID: "acc"})
	g := e.grant("acc", credit.GrantSpec{Credits: credit.Whole(50), Source: credit.SourcePromo})
	first, err := e.ledger.VoidGrant(e.ctx, idem("v1", "h1"), g.ID, "mistake")
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Add(time.Second)
	e.still("a retried void", func() {
		again, err := e.ledger.VoidGrant(e.ctx, idem("v1", "h1"), g.ID, "mistake")
		if err != nil || again.ID != first.ID || again.Remaining != first.Remaining || !again.ExpiredAt.Equal(first.ExpiredAt) {
			t.Errorf("retried VoidGrant = %+v, %v; want the first answer %+v", again, err, first)
		}
		_, err = e.ledger.VoidGrant(e.ctx, idem("v1", "h2"), g.ID, "another")
		wantErr(t, "VoidGrant with the key of another request", err, credit.Conflict, "idempotency_conflict")
	})
	h := e.grant("acc", credit.GrantSpec{Credits: credit.Whole(50), Source: credit.SourcePromo, ExpiresAt: at("2026-06-01T13:00:00Z")})
	amended, err := e.ledger.AmendGrantExpiry(e.ctx, idem("a1", "h1"), h.ID, at("2026-06-01T12:30:00Z"), "")
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Set(at("2026-06-01T12:45:00Z")) // past the amended expiry
	again, err := e.ledger.AmendGrantExpiry(e.ctx, idem("a1", "h1"), h.ID, at("2026-06-01T12:30:00Z"), "")
	if err != nil || !again.ExpiresAt.Equal(amended.ExpiresAt) {
		t.Errorf("retried AmendGrantExpiry = %+v, %v; want the first answer %+v", again, err, amended)
	}
}

// flowPlanBugRolloverCapAcrossWrites: a month's rollover cap (pro: 2000) is
// shared by the month's grant and its upgrade's, which expire at the same
// instant and are settled in one write. The simulation found (PostgreSQL,
// seed 299146376984) that an upgrade grant whose expiry was amended to an
// hour later rolled over its 2000 alone, and the month grant 1000 more a
// month later, when the first rollover was no longer loaded: a period's
// grant now expires with its period (Invalid plan_grant), and the month
// rolls over 2000 in all.
func flowPlanBugRolloverCapAcrossWrites(t *testing.T, e *env) {
	e.clock.Set(at("2026-01-01T00:00:00Z"))
	e.openAccount(credit.AccountSpec{ID: "acc"})
	sub := e.subscribe("acc", credit.SubscriptionSpec{Plan: "basic"}) // 1000, month 0 until 1 February
	e.clock.Add(time.Second)
	if _, err := e.ledger.ChangeSubscription(e.ctx, nil, sub.ID, "pro", credit.AtNow); err != nil { // + 4000
		t.Fatal(err)
	}
	up, _ := e.periodGrant("acc", sub.ID+"/0/0/upgrade-pro")
	e.still("an amended period grant", func() {
		_, err := e.ledger.AmendGrantExpiry(e.ctx, nil, up.ID, at("2026-01-01T01:00:00Z"), "")
		wantErr(t, "AmendGrantExpiry of the upgrade grant", err, credit.Invalid, "plan_grant")
	})
	// 1 February: 1000 + 4000 unspent, 2000 roll over in all; month 1
	// gives pro's 5000: 7000.
	e.clock.Set(at("2026-02-01T00:00:00Z"))
	if _, err := e.ledger.ExpireDue(e.ctx); err != nil {
		t.Fatal(err)
	}
	var rolled credit.Credits
	for _, g := range e.snapshot().Grants {
		if g.Source == credit.SourceRollover {
			rolled += g.Granted
		}
	}
	if rolled != credit.Whole(2000) {
		t.Errorf("month 0 rolled over %s; the cap is 2000", rolled)
	}
	e.balances("acc", credit.Whole(7000), 0)
}
