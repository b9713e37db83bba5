package storetest

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
)

// The flows of plans (SPEC §7) on a real store, priced and planned with the
// example catalog examples/plans.yaml. Its numbers, used by hand below:
//
//   - free (program): 100 credits a local day, source free, expiring at the
//     local midnight, applies_to and models {exclude_tags: [pro]}, no top-ups;
//   - basic: 1000 a month; standard-yearly: 3000 a month;
//   - pro: 5000 a month, unspent credits roll over up to 2000, the rollover
//     grant expiring 30 days (720 hours) after the renewal;
//   - unlimited: 2000 a month; windows of 7 days from each billing period's
//     start on nano-banana-2 (1 at a time, 50 fast a day, then relaxed) and
//     nano-banana-pro (2 at a time, 10 fast a day, then refused);
//   - prices as the seed page: Flux Dev 5, Nano Banana 2 49 (1K), Nano Banana
//     Pro 80 (1K) and 160 (4K), Recraft v4 Pro 150; the Pro models carry the
//     tag pro.
func planFlows() []flow {
	return append([]flow{
		{name: "PlanRenewalAtExpiryOnce", fn: flowPlanRenewalAtExpiryOnce, catalog: plansCatalog},
		{name: "PlanDoubleClick", fn: flowPlanDoubleClick, catalog: plansCatalog},
		{name: "PlanLocalMidnight", fn: flowPlanLocalMidnight, catalog: plansCatalog},
		{name: "PlanExpiredNeverSpendable", fn: flowPlanExpiredNeverSpendable, catalog: plansCatalog},
		{name: "PlanRefundAfterPeriodEnd", fn: flowPlanRefundAfterPeriodEnd, catalog: plansCatalog},
		{name: "PlanRenewalRace", fn: flowPlanRenewalRace, catalog: plansCatalog},
		// planedges.go
		{name: "PlanListCreditsKept", fn: flowPlanListCreditsKept, catalog: plansCatalog},
		{name: "PlanSubscribeAfterCanceledStart", fn: flowPlanSubscribeAfterCanceledStart, catalog: plansCatalog},
		{name: "PlanVoidExpiredReason", fn: flowPlanVoidExpiredReason, catalog: plansCatalog},
		{name: "PlanZoneChangeSameDay", fn: flowPlanZoneChangeSameDay, catalog: plansCatalog},
		{name: "PlanVerifySnapshotTags", fn: flowPlanVerifySnapshotTags, catalog: plansCatalog},
	}, planBugFlows()...)
}

// plansFile is examples/plans.yaml, found from this source file.
func plansFile() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "..", "examples", "plans.yaml")
}

// plansCatalog is the example catalog with plans, loaded once.
var plansCatalog = sync.OnceValue(func() *credit.Catalog {
	c, err := catalog.LoadFile(plansFile())
	if err != nil {
		panic("storetest: " + err.Error())
	}
	return c
})

// simPlansCatalog is the example catalog with plans as the simulation uses
// it: a prompt enhancer of 2 credits (as enhancerCatalog) and daily fast
// limits of 2 (nano-banana-2, then relaxed) and 2 (nano-banana-pro, then refused), so that a run
// reaches the relaxed lane and the refusal until midnight.
var simPlansCatalog = sync.OnceValue(func() *credit.Catalog {
	data, err := os.ReadFile(plansFile())
	if err != nil {
		panic("storetest: " + err.Error())
	}
	text := string(data)
	for _, r := range [][2]string{
		{"prompt_enhancer_credits: 0", "prompt_enhancer_credits: 2"},
		{"daily_fast: 50", "daily_fast: 2"},
		{"daily_fast: 10", "daily_fast: 2"},
	} {
		if !strings.Contains(text, r[0]) {
			panic("storetest: examples/plans.yaml has no " + r[0])
		}
		text = strings.Replace(text, r[0], r[1], 1)
	}
	c, err := catalog.Parse([]byte(text))
	if err != nil {
		panic("storetest: simulation plans catalog: " + err.Error())
	}
	return c
})

func (e *env) openAccount(s credit.AccountSpec) {
	e.t.Helper()
	if _, err := e.ledger.OpenAccount(e.ctx, nil, s); err != nil {
		e.t.Fatalf("OpenAccount(%+v) = %v", s, err)
	}
}

func (e *env) subscribe(account string, s credit.SubscriptionSpec) credit.Subscription {
	e.t.Helper()
	sub, err := e.ledger.Subscribe(e.ctx, nil, account, s)
	if err != nil {
		e.t.Fatalf("Subscribe(%s, %+v) = %v", account, s, err)
	}
	return sub
}

// periodGrant returns the grant of account for period, straight from the
// store; ok is false when there is none.
func (e *env) periodGrant(account, period string) (credit.Grant, bool) {
	e.t.Helper()
	id := credit.PeriodGrantID(account, period)
	for _, g := range e.snapshot().Grants {
		if g.ID == id {
			return g, true
		}
	}
	return credit.Grant{}, false
}

// wantPeriodGrant checks a plan's grant: granted, remaining, its expiry
// (zero: never) and whether it has expired.
func (e *env) wantPeriodGrant(account, period string, granted, remaining credit.Credits, expires time.Time, expired bool) credit.Grant {
	e.t.Helper()
	g, ok := e.periodGrant(account, period)
	if !ok {
		e.t.Errorf("no grant of %s for period %s", account, period)
		return g
	}
	if g.Granted != granted || g.Remaining != remaining || !g.ExpiresAt.Equal(expires) || g.ExpiredAt.IsZero() == expired {
		e.t.Errorf("grant for %s: granted %s, remaining %s, expires %v, expired at %v; want %s, %s, %v, expired %v",
			period, g.Granted, g.Remaining, g.ExpiresAt, g.ExpiredAt, granted, remaining, expires, expired)
	}
	return g
}

// still runs fn and fails the test if the store differs afterwards in any
// row (subscriptions and audit included) or journal entry.
func (e *env) still(what string, fn func()) {
	e.t.Helper()
	before := e.snapshot()
	fn()
	after := e.snapshot()
	if !reflect.DeepEqual(before, after) {
		d := diffSnapshots(before, after)
		if !reflect.DeepEqual(before.Subscriptions, after.Subscriptions) {
			d += fmt.Sprintf("; subscriptions %+v → %+v", before.Subscriptions, after.Subscriptions)
		}
		e.t.Errorf("%s wrote to the store: %s", what, d)
	}
}

// sourceGrants returns the account's grants of source src.
func (e *env) sourceGrants(account string, src credit.Source) []credit.Grant {
	e.t.Helper()
	var out []credit.Grant
	for _, g := range e.snapshot().Grants {
		if g.Account == account && g.Source == src {
			out = append(out, g)
		}
	}
	return out
}

func at(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// Requests of the plans catalog, priced by hand.
var (
	recraftPro = credit.QuoteRequest{Model: "recraft-v4-pro"}                    // 150, pro
	bananaPro  = credit.QuoteRequest{Model: "nano-banana-pro", Resolution: "1K"} // 80, pro
)

// flowPlanRenewalAtExpiryOnce: at the instant a month's credits expire the
// next month's arrive; they are counted once, the unspent part rolls over up
// to its cap, and every read, sweep and node at that instant changes nothing
// more. Pro in Berlin from 31 January: months start on 28 February 00:00 CET
// and on 31 March 00:00 CEST (after the DST change of 29 March).
func flowPlanRenewalAtExpiryOnce(t *testing.T, e *env) {
	e.clock.Set(at("2026-01-31T12:00:00Z"))
	e.openAccount(credit.AccountSpec{ID: "acc", TimeZone: "Europe/Berlin"})
	sub := e.subscribe("acc", credit.SubscriptionSpec{Plan: "pro"})
	if !sub.RenewsAt.Equal(at("2026-02-27T23:00:00Z")) || sub.Period != 1 || sub.TimeZone != "Europe/Berlin" {
		t.Errorf("subscription renews at %v, period %d, zone %q; want 28 Feb 00:00 CET (27 Feb 23:00 UTC), 1, the account's", sub.RenewsAt, sub.Period, sub.TimeZone)
	}
	e.wantPeriodGrant("acc", sub.ID+"/0/0", credit.Whole(5000), credit.Whole(5000), at("2026-02-27T23:00:00Z"), false)
	for range 2 {
		g := e.generation("acc", images(recraftPro, 4)) // 4 × 150 = 600
		e.complete(g.ID, 4)
	}
	e.balances("acc", credit.Whole(3800), 0) // 5000 − 1200

	// The instant: 3800 unspent, 2000 roll over, 1800 expire; month 1's
	// 5000 arrive: 7000, not 10800.
	e.clock.Set(at("2026-02-27T23:00:00Z"))
	e.balances("acc", credit.Whole(7000), 0)
	e.wantPeriodGrant("acc", sub.ID+"/0/0", credit.Whole(5000), 0, at("2026-02-27T23:00:00Z"), true)
	roll := e.wantPeriodGrant("acc", sub.ID+"/0/0/rollover", credit.Whole(2000), credit.Whole(2000), at("2026-03-29T23:00:00Z"), false) // + 720 h
	if roll.Source != credit.SourceRollover || roll.Subscription != sub.ID {
		t.Errorf("rollover grant source %s, subscription %q; want rollover, %s", roll.Source, roll.Subscription, sub.ID)
	}
	e.wantPeriodGrant("acc", sub.ID+"/0/1", credit.Whole(5000), credit.Whole(5000), at("2026-03-30T22:00:00Z"), false)
	if got := platformBook(e.snapshot(), credit.BookExpired); got != credit.Whole(1800) {
		t.Errorf("expired book %s; want 1800", got)
	}
	// Every other way of reaching the same instant changes nothing more.
	node2 := credit.NewLedger(e.store, credit.LedgerConfig{Now: e.clock.Now, Catalog: func() *credit.Catalog { return plansCatalog() }})
	e.still("reads and sweeps at the renewal instant", func() {
		e.view("acc")
		if _, err := e.ledger.ExpireDue(e.ctx); err != nil {
			t.Errorf("ExpireDue = %v", err)
		}
		if _, err := node2.ExpireDue(e.ctx); err != nil {
			t.Errorf("node 2 ExpireDue = %v", err)
		}
		if _, err := node2.Subscriptions(e.ctx, "acc"); err != nil {
			t.Errorf("node 2 Subscriptions = %v", err)
		}
	})
	if subs, err := e.ledger.Subscriptions(e.ctx, "acc"); err != nil || len(subs) != 1 || subs[0].Period != 2 || !subs[0].RenewsAt.Equal(at("2026-03-30T22:00:00Z")) {
		t.Errorf("Subscriptions = %+v, %v; want one, period 2, renewing 31 Mar 00:00 CEST", subs, err)
	}

	// The rollover is used first (it expires first): 600 of its 2000.
	g := e.generation("acc", images(recraftPro, 4))
	e.complete(g.ID, 4)
	e.wantPeriodGrant("acc", sub.ID+"/0/0/rollover", credit.Whole(2000), credit.Whole(1400), at("2026-03-29T23:00:00Z"), false)
	// 31 March 00:00 CEST, with no write in between: the rollover's 1400
	// expired on 29 March 23:00 UTC (no rollover of a rollover); month 1's
	// 5000 roll over 2000 and expire 3000; month 2's 5000 arrive.
	e.clock.Set(at("2026-03-30T22:00:00Z"))
	if _, err := e.ledger.ExpireDue(e.ctx); err != nil {
		t.Fatalf("ExpireDue = %v", err)
	}
	e.balances("acc", credit.Whole(7000), 0)
	e.wantPeriodGrant("acc", sub.ID+"/0/1/rollover", credit.Whole(2000), credit.Whole(2000), at("2026-04-29T22:00:00Z"), false)
	e.wantPeriodGrant("acc", sub.ID+"/0/2", credit.Whole(5000), credit.Whole(5000), at("2026-04-29T22:00:00Z"), false) // 30 Apr 00:00 CEST
	if got := platformBook(e.snapshot(), credit.BookExpired); got != credit.Whole(1800+1400+3000) {
		t.Errorf("expired book %s; want 6200", got)
	}
}

// flowPlanDoubleClick: a subscription, an upgrade, a downgrade and a cancel,
// each clicked twice — with the same idempotency key (the first answer
// again) and with another (nothing happens twice). Basic in New York from 6
// March 10:00 EST; the month ends on 6 April 00:00 EDT (04:00 UTC).
func flowPlanDoubleClick(t *testing.T, e *env) {
	e.clock.Set(at("2026-03-06T15:00:00Z"))
	e.openAccount(credit.AccountSpec{ID: "acc", Plan: "free", TimeZone: "America/New_York"})
	spec := credit.SubscriptionSpec{Plan: "basic"}
	sub, err := e.ledger.Subscribe(e.ctx, idem("s1", "h1"), "acc", spec)
	if err != nil {
		t.Fatalf("Subscribe = %v", err)
	}
	e.clock.Add(time.Second)
	e.still("a retried subscribe", func() {
		again, err := e.ledger.Subscribe(e.ctx, idem("s1", "h1"), "acc", spec)
		if err != nil || again.ID != sub.ID {
			t.Errorf("retried Subscribe = %s, %v; want %s", again.ID, err, sub.ID)
		}
		_, err = e.ledger.Subscribe(e.ctx, idem("s2", "h2"), "acc", spec)
		wantErr(t, "second Subscribe", err, credit.Conflict, "subscription_exists")
	})
	e.wantPeriodGrant("acc", sub.ID+"/0/0", credit.Whole(1000), credit.Whole(1000), at("2026-04-06T04:00:00Z"), false)

	// Upgrade to pro now: this month's difference, 4000, once.
	up, err := e.ledger.ChangeSubscription(e.ctx, idem("c1", "h1"), sub.ID, "pro", credit.AtNow)
	if err != nil || up.Plan != "pro" || up.NextPlan != "" {
		t.Fatalf("upgrade = %+v, %v; want pro now", up, err)
	}
	e.wantPeriodGrant("acc", sub.ID+"/0/0/upgrade-pro", credit.Whole(4000), credit.Whole(4000), at("2026-04-06T04:00:00Z"), false)
	e.clock.Add(time.Second)
	e.still("a double-clicked upgrade", func() {
		if again, err := e.ledger.ChangeSubscription(e.ctx, idem("c1", "h1"), sub.ID, "pro", credit.AtNow); err != nil || again.Plan != "pro" {
			t.Errorf("retried upgrade = %+v, %v; want the first answer", again, err)
		}
		// With another key: already on pro. The ledger answers same_plan.
		_, err := e.ledger.ChangeSubscription(e.ctx, idem("c2", "h2"), sub.ID, "pro", credit.AtNow)
		if err != nil {
			wantErr(t, "second upgrade", err, credit.Invalid, "same_plan")
		}
	})
	e.balances("acc", credit.Whole(5000), 0)

	// Downgrade to basic: waits for the period's end, asked twice.
	down, err := e.ledger.ChangeSubscription(e.ctx, idem("d1", "h1"), sub.ID, "basic", credit.AtNow)
	if err != nil || down.Plan != "pro" || down.NextPlan != "basic" || !down.NextAt.Equal(at("2026-04-06T04:00:00Z")) {
		t.Fatalf("downgrade = %+v, %v; want pro until 6 Apr 04:00 UTC, then basic", down, err)
	}
	e.clock.Add(time.Second)
	e.still("a double-clicked downgrade", func() {
		again, err := e.ledger.ChangeSubscription(e.ctx, idem("d2", "h2"), sub.ID, "basic", credit.AtNow)
		if err != nil || again.NextPlan != "basic" || !again.NextAt.Equal(down.NextAt) {
			t.Errorf("second downgrade = %+v, %v; want the same", again, err)
		}
	})

	// Cancel at the period's end, three clicks, two keys.
	c, err := e.ledger.CancelSubscription(e.ctx, idem("x1", "h1"), sub.ID, credit.AtPeriodEnd)
	if err != nil || !c.EndsAt.Equal(at("2026-04-06T04:00:00Z")) || c.NextPlan != "" || !c.RenewsAt.IsZero() {
		t.Fatalf("cancel = %+v, %v; want ending 6 Apr 04:00 UTC, no downgrade, no renewal", c, err)
	}
	e.clock.Add(time.Second)
	e.still("a double-clicked cancel", func() {
		for _, k := range []string{"x1", "x2"} {
			again, err := e.ledger.CancelSubscription(e.ctx, idem(k, "h1"), sub.ID, credit.AtPeriodEnd)
			if err != nil || !again.EndsAt.Equal(c.EndsAt) || !again.CanceledAt.Equal(c.CanceledAt) {
				t.Errorf("cancel again with key %s = %+v, %v; want ending %v, canceled at %v", k, again, err, c.EndsAt, c.CanceledAt)
			}
		}
	})
	if n := len(e.snapshot().Subscriptions); n != 1 {
		t.Errorf("%d subscriptions; want 1", n)
	}

	// The end: 1000 + 4000 expire (no rollover: the subscription has
	// ended), nothing renews, the free program is back.
	e.clock.Set(at("2026-04-06T04:00:00Z"))
	v := e.view("acc")
	if v.Available != credit.Whole(100) || v.ActivePlan != "free" || v.ActiveSubscription != "" || v.Balances.Free != credit.Whole(100) {
		t.Errorf("after the end: available %s, plan %q, subscription %q, free %s; want 100 (today's free credits), free, none, 100", v.Available, v.ActivePlan, v.ActiveSubscription, v.Balances.Free)
	}
	if _, ok := e.periodGrant("acc", sub.ID+"/0/0/rollover"); ok {
		t.Errorf("a rollover grant after the subscription ended")
	}
	if _, ok := e.periodGrant("acc", sub.ID+"/0/1"); ok {
		t.Errorf("a month 1 grant after the subscription ended")
	}
	_, err = e.ledger.CancelSubscription(e.ctx, nil, sub.ID, credit.AtNow)
	wantErr(t, "cancel after the end", err, credit.Conflict, "subscription_ended")
}

// flowPlanLocalMidnight: the free program's credits reset at the account's
// local midnight, not UTC's: New York across its spring DST change (8 March
// is 23 hours long) and Kolkata (UTC+5:30). Reads show the day's credits
// and write nothing; the day's first charge gives them.
func flowPlanLocalMidnight(t *testing.T, e *env) {
	// Kolkata: midnight is 18:30 UTC. Yesterday's 95 are gone at the first
	// charge of the new day, which has 100 of its own.
	e.clock.Set(at("2026-03-07T18:29:59Z")) // 23:59:59 IST
	e.openAccount(credit.AccountSpec{ID: "in", Plan: "free", TimeZone: "Asia/Kolkata"})
	g := e.generation("in", fluxDev)
	e.complete(g.ID, 1)
	e.wantPeriodGrant("in", "free/0/2026-03-07", credit.Whole(100), credit.Whole(95), at("2026-03-07T18:30:00Z"), false)
	e.clock.Set(at("2026-03-07T18:30:00Z"))
	_, err := e.ledger.CreateHold(e.ctx, nil, "in", credit.HoldSpec{Credits: credit.Whole(101)})
	wantErr(t, "a hold of 101 at Kolkata's midnight", err, credit.InsufficientCredits, "insufficient_credits")
	if x := asError(err); x != nil && x.Available != credit.Whole(100) {
		t.Errorf("refusal available %s; want 100 (today's, not yesterday's 95 too)", x.Available)
	}
	h := e.hold("in", credit.Whole(100), 0)
	e.wantPeriodGrant("in", "free/0/2026-03-08", credit.Whole(100), 0, at("2026-03-08T18:30:00Z"), false)
	if _, err := e.ledger.ReleaseHold(e.ctx, nil, h.ID); err != nil {
		t.Fatal(err)
	}

	e.clock.Set(at("2026-03-07T23:00:00Z")) // 18:00 EST, 7 March
	e.openAccount(credit.AccountSpec{ID: "ny", Plan: "free", TimeZone: "America/New_York"})
	e.still("a read before the first charge", func() {
		v := e.view("ny")
		if v.Available != credit.Whole(100) || v.Balances.Free != credit.Whole(100) || v.ActivePlan != "free" {
			t.Errorf("view before any charge: available %s, free %s, plan %q; want 100, 100, free", v.Available, v.Balances.Free, v.ActivePlan)
		}
	})
	g = e.generation("ny", images(fluxDev, 4)) // 20
	e.complete(g.ID, 4)
	e.wantPeriodGrant("ny", "free/0/2026-03-07", credit.Whole(100), credit.Whole(80), at("2026-03-08T05:00:00Z"), false)

	// UTC's midnight is not New York's: 19:30 EST, still 7 March.
	e.clock.Set(at("2026-03-08T00:30:00Z"))
	e.balances("ny", credit.Whole(80), 0)
	g = e.generation("ny", fluxDev) // 5 more of the same day's credits
	e.complete(g.ID, 1)
	if _, ok := e.periodGrant("ny", "free/0/2026-03-08"); ok {
		t.Errorf("a grant for 8 March at 19:30 EST on 7 March")
	}
	e.clock.Set(at("2026-03-08T04:59:59.999Z"))
	e.balances("ny", credit.Whole(75), 0)

	// 00:00 EST: 7 March's 75 expire; a read shows 8 March's 100 and gives
	// nothing.
	e.clock.Set(at("2026-03-08T05:00:00Z"))
	if _, err := e.ledger.ExpireDue(e.ctx); err != nil {
		t.Fatal(err)
	}
	e.still("a read after local midnight", func() { e.balances("ny", credit.Whole(100), 0) })
	if got := platformBook(e.snapshot(), credit.BookExpired); got != credit.Whole(95+75) {
		t.Errorf("expired book %s; want 170 (Kolkata's 95, New York's 75)", got)
	}
	g = e.generation("ny", images(fluxDev, 2)) // 10
	e.complete(g.ID, 2)
	// 8 March is 23 hours long: its credits end at 00:00 EDT on 9 March.
	e.wantPeriodGrant("ny", "free/0/2026-03-08", credit.Whole(100), credit.Whole(90), at("2026-03-09T04:00:00Z"), false)
	e.clock.Set(at("2026-03-09T03:59:59Z"))
	e.balances("ny", credit.Whole(90), 0)
	e.clock.Set(at("2026-03-09T04:00:00Z"))
	e.balances("ny", credit.Whole(100), 0)
}

// flowPlanExpiredNeverSpendable: credits past their expiry pay for nothing,
// though no sweep has run: a promo at Auckland's midnight after its DST
// change, and a cancelled month's allowance at its period's end.
func flowPlanExpiredNeverSpendable(t *testing.T, e *env) {
	e.clock.Set(at("2026-04-04T10:00:00Z")) // 23:00 NZDT, 4 April
	e.openAccount(credit.AccountSpec{ID: "akl", TimeZone: "Pacific/Auckland"})
	sub := e.subscribe("akl", credit.SubscriptionSpec{Plan: "basic"})
	// Month 1 starts on 4 May 00:00 NZST (UTC+12).
	e.wantPeriodGrant("akl", sub.ID+"/0/0", credit.Whole(1000), credit.Whole(1000), at("2026-05-03T12:00:00Z"), false)
	if _, err := e.ledger.CancelSubscription(e.ctx, nil, sub.ID, credit.AtPeriodEnd); err != nil {
		t.Fatal(err)
	}
	// 6 April 00:00 NZST, after a 25-hour 5 April.
	e.grant("akl", credit.GrantSpec{Credits: credit.Whole(50), Source: credit.SourcePromo, ExpiresAt: at("2026-04-05T12:00:00Z")})
	e.balances("akl", credit.Whole(1050), 0)

	e.clock.Set(at("2026-04-05T12:00:00Z")) // the promo's instant; nothing swept
	_, err := e.ledger.CreateHold(e.ctx, nil, "akl", credit.HoldSpec{Credits: credit.Whole(1001)})
	wantErr(t, "a hold of 1001 at the promo's expiry", err, credit.InsufficientCredits, "insufficient_credits")
	if x := asError(err); x != nil && x.Available != credit.Whole(1000) {
		t.Errorf("refusal available %s; want 1000", x.Available)
	}
	h := e.hold("akl", credit.Whole(1000), 0)
	if _, err := e.ledger.ReleaseHold(e.ctx, nil, h.ID); err != nil {
		t.Fatal(err)
	}

	e.clock.Set(at("2026-05-03T11:59:59.999999Z"))
	g := e.generation("akl", fluxDev)
	e.complete(g.ID, 1)
	e.clock.Set(at("2026-05-03T12:00:00Z")) // the month's end; nothing swept
	_, err = e.ledger.CreateGeneration(e.ctx, nil, credit.GenerationSpec{Account: "akl", Request: fluxDev})
	wantErr(t, "a generation at the month's end", err, credit.InsufficientCredits, "insufficient_credits")
	if x := asError(err); x != nil && x.Available != 0 {
		t.Errorf("refusal available %s; want 0", x.Available)
	}
	_, err = e.ledger.CreateHold(e.ctx, nil, "akl", credit.HoldSpec{Credits: credit.Whole(1)})
	wantErr(t, "a hold at the month's end", err, credit.InsufficientCredits, "insufficient_credits")
	e.balances("akl", 0, 0)
	e.wantPeriodGrant("akl", sub.ID+"/0/0", credit.Whole(1000), 0, at("2026-05-03T12:00:00Z"), true)
	if got := platformBook(e.snapshot(), credit.BookExpired); got != credit.Whole(50+995) {
		t.Errorf("expired book %s; want 1045", got)
	}
}

// flowPlanRefundAfterPeriodEnd: a refund of credits whose period ended comes
// back as never-expiring refund grants, one per applies_to, that pay for
// what they could pay for before and no more.
func flowPlanRefundAfterPeriodEnd(t *testing.T, e *env) {
	e.clock.Set(at("2026-03-28T12:00:00Z")) // 13:00 CET
	e.openAccount(credit.AccountSpec{ID: "acc", Plan: "free", TimeZone: "Europe/Berlin"})
	promo := e.grant("acc", credit.GrantSpec{Credits: credit.Whole(50), Source: credit.SourcePromo, ExpiresAt: at("2026-03-28T23:00:00Z")})
	e.unchanged("refusals on the free program", func() {
		_, err := e.ledger.AddGrant(e.ctx, nil, "acc", credit.GrantSpec{Credits: credit.Whole(10), Source: credit.SourceTopup})
		wantErr(t, "a top-up on the free program", err, credit.Forbidden, "subscription_required")
		_, err = e.ledger.CreateGeneration(e.ctx, nil, credit.GenerationSpec{Account: "acc", Request: bananaPro})
		wantErr(t, "a Pro model on the free program", err, credit.Forbidden, "plan_required")
	})
	e.clock.Add(time.Minute)
	// 98: the promo (older, same expiry) gives 50, the day's free credits 48.
	g := e.generation("acc", images(banana1K, 2))
	e.complete(g.ID, 2)
	e.wantPeriodGrant("acc", "free/0/2026-03-28", credit.Whole(100), credit.Whole(52), at("2026-03-28T23:00:00Z"), false)
	e.wantGrant("promo", promo.ID, 0, 0)

	e.clock.Set(at("2026-03-29T10:00:00Z")) // 12:00 CEST: both grants have expired
	if _, err := e.ledger.RefundGeneration(e.ctx, nil, g.ID, nil); err != nil {
		t.Fatal(err)
	}
	refunds := e.sourceGrants("acc", credit.SourceRefund)
	slices.SortFunc(refunds, func(a, b credit.Grant) int { return int(a.Granted - b.Granted) })
	notPro := credit.Eligibility{ExcludeTags: []string{"pro"}}
	if len(refunds) != 2 || refunds[0].Granted != credit.Whole(48) || !reflect.DeepEqual(refunds[0].AppliesTo, notPro) ||
		refunds[1].Granted != credit.Whole(50) || !refunds[1].AppliesTo.IsZero() || !refunds[0].ExpiresAt.IsZero() || !refunds[1].ExpiresAt.IsZero() {
		t.Errorf("refund grants %+v; want 48 not for pro (the free credits' share) and 50 for anything (the promo's), never expiring", refunds)
	}
	if got := platformBook(e.snapshot(), credit.BookExpired); got != credit.Whole(52) {
		t.Errorf("expired book %s; want 52 (what was left of the free credits)", got)
	}
	v := e.view("acc") // today's 100 are shown, not yet given
	if v.Available != credit.Whole(198) || v.Balances.Free != credit.Whole(100) || v.Balances.Other != credit.Whole(98) {
		t.Errorf("view: available %s, free %s, other %s; want 198, 100, 98", v.Available, v.Balances.Free, v.Balances.Other)
	}

	// Off the program, a Pro model may be used, but only the promo's 50 may
	// pay for it.
	if _, err := e.ledger.SetPlan(e.ctx, nil, "acc", "", nil); err != nil {
		t.Fatal(err)
	}
	_, err := e.ledger.CreateGeneration(e.ctx, nil, credit.GenerationSpec{Account: "acc", Request: bananaPro})
	wantErr(t, "80 of Pro with 50 eligible", err, credit.InsufficientCredits, "insufficient_credits")
	if x := asError(err); x != nil && (x.Available != credit.Whole(98) || x.Eligible != credit.Whole(50) || x.Required != credit.Whole(80)) {
		t.Errorf("refusal available %s, eligible %s, required %s; want 98, 50, 80", x.Available, x.Eligible, x.Required)
	}
	g = e.generation("acc", images(banana1K, 2)) // 98: both pay
	e.complete(g.ID, 2)
	e.balances("acc", 0, 0)

	// A month's allowance: basic in Berlin from 28 March; the month ends on
	// 28 April 00:00 CEST (27 April 22:00 UTC).
	e.clock.Set(at("2026-03-28T12:00:00Z"))
	e.openAccount(credit.AccountSpec{ID: "sub", TimeZone: "Europe/Berlin"})
	sub := e.subscribe("sub", credit.SubscriptionSpec{Plan: "basic"})
	g = e.generation("sub", images(credit.QuoteRequest{Model: "nano-banana-pro", Resolution: "4K"}, 2)) // 320
	e.complete(g.ID, 2)
	e.clock.Set(at("2026-04-28T10:00:00Z"))
	if _, err := e.ledger.RefundGeneration(e.ctx, nil, g.ID, nil); err != nil {
		t.Fatal(err)
	}
	e.wantPeriodGrant("sub", sub.ID+"/0/0", credit.Whole(1000), 0, at("2026-04-27T22:00:00Z"), true)
	e.wantPeriodGrant("sub", sub.ID+"/0/1", credit.Whole(1000), credit.Whole(1000), at("2026-05-27T22:00:00Z"), false)
	refunds = e.sourceGrants("sub", credit.SourceRefund)
	if len(refunds) != 1 || refunds[0].Remaining != credit.Whole(320) || !refunds[0].ExpiresAt.IsZero() {
		t.Errorf("refund grants %+v; want one of 320, never expiring", refunds)
	}
	e.balances("sub", credit.Whole(1320), 0)
}

// flowPlanRenewalRace: two ledgers (nodes) on one store settle the same
// renewals at once, by sweeps, reads and writes: each month is granted
// exactly once. On SQLite the writes take turns; on PostgreSQL they race.
func flowPlanRenewalRace(t *testing.T, e *env) {
	e.clock.Set(at("2026-01-31T00:00:00Z"))
	e.openAccount(credit.AccountSpec{ID: "acc"})
	sub := e.subscribe("acc", credit.SubscriptionSpec{Plan: "basic"})
	node2 := credit.NewLedger(e.store, credit.LedgerConfig{Now: e.clock.Now, Catalog: func() *credit.Catalog { return plansCatalog() }})
	nodes := []*credit.Ledger{e.ledger, node2}
	const workers = 4 // per node
	// Month starts (UTC): 28 Feb, 31 Mar, 30 Apr, 31 May.
	for k, start := range []string{"2026-02-28T00:00:00Z", "2026-03-31T00:00:00Z", "2026-04-30T00:00:00Z", "2026-05-31T00:00:00Z"} {
		month := k + 1
		e.clock.Set(at(start))
		var wg sync.WaitGroup
		errs := make(chan error, 2*workers)
		for n, node := range nodes {
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					var err error
					switch (n + w) % 4 {
					case 0:
						_, err = node.ExpireDue(e.ctx)
					case 1:
						_, err = node.Account(e.ctx, "acc")
					case 2:
						_, err = node.Subscriptions(e.ctx, "acc")
					default:
						_, err = node.AddGrant(e.ctx, nil, "acc", credit.GrantSpec{Credits: credit.Whole(1), Source: credit.SourcePromo})
					}
					if err != nil {
						errs <- fmt.Errorf("node %d worker %d: %w", n+1, w, err)
					}
				}()
			}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("month %d: %v", month, err)
		}
		var given []credit.Grant
		for _, g := range e.snapshot().Grants {
			if g.Subscription == sub.ID && g.Period == fmt.Sprintf("%s/0/%d", sub.ID, month) {
				given = append(given, g)
			}
		}
		if len(given) != 1 || given[0].Granted != credit.Whole(1000) {
			t.Errorf("month %d: grants %+v; want exactly one of 1000", month, given)
		}
		// 1000 of this month and 2 promos a month (two workers of the
		// eight grant).
		e.balances("acc", credit.Whole(1000+2*int64(month)), 0)
		if got := platformBook(e.snapshot(), credit.BookExpired); got != credit.Whole(1000*int64(month)) {
			t.Errorf("month %d: expired book %s; want %d", month, got, 1000*month)
		}
	}
}
