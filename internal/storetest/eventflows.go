package storetest

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// The flows of events and alerts (SPEC §9) on a real store: the
// low-balance alert, grant.expiring, member.limit_reached, auto top-up
// (feedflows.go: the feed itself; webhookflows.go: the webhook store).
// Every expected event is written by hand; eventsOf compares the feed with
// them by account and subject, in order (the order of events of one write
// is not part of the contract).
func eventFlows() []flow {
	return []flow{
		{name: "EventBalanceLow", fn: flowEventBalanceLow},
		{name: "EventBalanceOverdraft", fn: flowEventBalanceOverdraft},
		{name: "EventGrantExpiring", fn: flowEventGrantExpiring},
		{name: "EventGrantVoidedHeld", fn: flowEventGrantVoidedHeld},
		{name: "EventMemberLimit", fn: flowEventMemberLimit},
		{name: "EventMemberLimitLowered", fn: flowEventMemberLimitLowered},
		{name: "EventMemberLimitNoLimitRow", fn: flowEventMemberLimitNoLimitRow},
		{name: "AutoTopupOnePending", fn: flowAutoTopupOnePending},
		{name: "AutoTopupCapRace", fn: flowAutoTopupCapRace},
		{name: "AutoTopupCapBerlinDST", fn: flowAutoTopupCapBerlinDST},
	}
}

// ev is an expected event of account about subject (the id its data names;
// "" for the balance's) at `at` (zero: any time), with data given as
// name, value pairs (values: string, credit.Credits, int, time.Time); the
// subject's own field is added.
func ev(typ, account, subject string, at time.Time, kv ...any) mEvent {
	d := map[string]any{}
	if f := subjectField(typ); f != "" {
		d[f] = subject
	}
	for i := 0; i+1 < len(kv); i += 2 {
		d[kv[i].(string)] = kv[i+1]
	}
	return mEvent{typ: typ, account: account, subject: subject, at: at, data: d}
}

// readFeed reads the feed after q.After to its end, page by page (q.Limit,
// or MaxEvents), through the store's EventReader.
func (e *env) readFeed(q credit.EventQuery) []credit.Event {
	e.t.Helper()
	if q.Limit == 0 {
		q.Limit = credit.MaxEvents
	}
	var out []credit.Event
	for {
		var page []credit.Event
		err := e.store.View(e.ctx, func(tx credit.Tx) error {
			r, err := credit.Events(tx)
			if err != nil {
				return err
			}
			page, err = r.Events(q)
			return err
		})
		if err != nil {
			e.t.Fatalf("Events(%+v) = %v", q, err)
		}
		if len(page) > q.Limit {
			e.t.Fatalf("Events(%+v) answered %d events", q, len(page))
		}
		out = append(out, page...)
		if len(page) < q.Limit {
			return out
		}
		q.After = page[len(page)-1].Cursor
	}
}

// waitFeed reads the whole feed of q until it has at least n events (a
// PostgreSQL feed answers a transaction's events once every older
// transaction has ended), or ten seconds have passed.
func (e *env) waitFeed(q credit.EventQuery, n int) []credit.Event {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := e.readFeed(q)
		if len(got) >= n || time.Now().After(deadline) {
			return got
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// eventsOf checks every event of account of the types (nil: all) in the
// feed against want, by subject in order, data and time.
func (e *env) eventsOf(what, account string, types []string, want ...mEvent) []credit.Event {
	e.t.Helper()
	got := e.waitFeed(credit.EventQuery{Account: account, Types: types}, len(want))
	for _, g := range got {
		if g.Account != account || (types != nil && !slices.Contains(types, g.Type)) {
			e.t.Errorf("%s: the feed of %s %v told %s of %q", what, account, types, g.Type, g.Account)
		}
	}
	if d := compareEvents(got, want); len(d) > 0 {
		e.t.Errorf("%s: the feed of %s %v differs:\n  %s", what, account, types, strings.Join(d, "\n  "))
	}
	return got
}

// spend takes c from account: a hold, captured whole. The hold is the
// write that lowers the balance.
func (e *env) spend(account string, c credit.Credits) credit.Hold {
	e.t.Helper()
	h := e.hold(account, c, time.Hour)
	r, err := e.ledger.CaptureHold(e.ctx, nil, h.ID, nil)
	if err != nil {
		e.t.Fatalf("CaptureHold(%s) = %v", h.ID, err)
	}
	return r
}

func (e *env) setAlerts(account string, low credit.Credits) {
	e.t.Helper()
	if v, err := e.ledger.SetAlerts(e.ctx, nil, account, low); err != nil || v.LowBalance != low {
		e.t.Fatalf("SetAlerts(%s, %s) = %+v, %v", account, low, v.Account, err)
	}
}

var balanceTypes = []string{credit.EventBalanceLow, credit.EventBalanceDepleted, credit.EventBalanceRecovered}

// flowEventBalanceLow: balance.low once per crossing of the threshold, from
// at or above it to below it; balance.recovered when the balance is back at
// the threshold (above 0 without one); balance.depleted when it reaches 0.
func flowEventBalanceLow(t *testing.T, e *env) {
	e.account("a", 0)
	e.topup("a", 15) // 0 → 15: recovered, no threshold
	e.setAlerts("a", credit.Whole(10))
	e.hold("a", credit.Whole(3), time.Hour) // 15 → 12: above 10
	e.hold("a", credit.Whole(4), time.Hour) // 12 → 8: low
	e.hold("a", credit.Whole(3), time.Hour) // 8 → 5: still low, no event
	e.topup("a", 6)                         // 5 → 11: recovered
	e.hold("a", credit.Whole(2), time.Hour) // 11 → 9: low again
	e.hold("a", credit.Whole(9), time.Hour) // 9 → 0: depleted (not low: it was below)
	e.topup("a", 4)                         // 0 → 4: below 10, nothing
	e.clock.Add(time.Second)
	e.setAlerts("a", 0)
	last := e.hold("a", credit.Whole(4), time.Hour) // 4 → 0: depleted
	e.topup("a", 1)                                 // 0 → 1: recovered, no threshold
	// 1 → 5: nothing.
	if _, err := e.ledger.ReleaseHold(e.ctx, nil, last.ID); err != nil {
		t.Fatal(err)
	}
	e.eventsOf("balance crossings", "a", balanceTypes,
		ev(credit.EventBalanceRecovered, "a", "", t0, "available", credit.Whole(15), "threshold", credit.Credits(0)),
		ev(credit.EventBalanceLow, "a", "", t0, "available", credit.Whole(8), "threshold", credit.Whole(10)),
		ev(credit.EventBalanceRecovered, "a", "", t0, "available", credit.Whole(11), "threshold", credit.Whole(10)),
		ev(credit.EventBalanceLow, "a", "", t0, "available", credit.Whole(9), "threshold", credit.Whole(10)),
		ev(credit.EventBalanceDepleted, "a", "", t0, "available", credit.Credits(0)),
		ev(credit.EventBalanceDepleted, "a", "", t0.Add(time.Second), "available", credit.Credits(0)),
		ev(credit.EventBalanceRecovered, "a", "", t0.Add(time.Second), "available", credit.Whole(1), "threshold", credit.Credits(0)),
	)
	// The type filter alone: the two lows.
	e.eventsOf("balance.low only", "a", []string{credit.EventBalanceLow},
		ev(credit.EventBalanceLow, "a", "", t0, "available", credit.Whole(8), "threshold", credit.Whole(10)),
		ev(credit.EventBalanceLow, "a", "", t0, "available", credit.Whole(9), "threshold", credit.Whole(10)),
	)
	for _, a := range e.snapshot().Accounts {
		if a.ID == "a" && a.LowBalance != 0 {
			t.Errorf("account a: low balance %s; want 0 (turned off)", a.LowBalance)
		}
	}
	e.unchanged("a negative threshold", func() {
		_, err := e.ledger.SetAlerts(e.ctx, nil, "a", -1)
		wantErr(t, "SetAlerts(-0.001)", err, credit.Invalid, "invalid_threshold")
		_, err = e.ledger.SetAlerts(e.ctx, nil, "nobody", credit.Whole(1))
		wantErr(t, "SetAlerts(nobody)", err, credit.NotFound, "unknown_account")
	})
}

// flowEventBalanceOverdraft: an account that may overdraw by 10 is
// depleted below 0, and recovers when a grant pays the overdraft back and
// leaves it above 0.
func flowEventBalanceOverdraft(t *testing.T, e *env) {
	e.account("b", credit.Whole(10))
	e.topup("b", 5)                         // 0 → 5: recovered
	e.hold("b", credit.Whole(8), time.Hour) // 5 → −3: depleted
	e.hold("b", credit.Whole(2), time.Hour) // −3 → −5: nothing
	// 10 more: the holds' 5 on the overdraft move onto it, 5 left.
	e.topup("b", 10)
	e.balances("b", credit.Whole(5), credit.Whole(10))
	e.eventsOf("an overdraft", "b", balanceTypes,
		ev(credit.EventBalanceRecovered, "b", "", t0, "available", credit.Whole(5), "threshold", credit.Credits(0)),
		ev(credit.EventBalanceDepleted, "b", "", t0, "available", -credit.Whole(3)),
		ev(credit.EventBalanceRecovered, "b", "", t0, "available", credit.Whole(5), "threshold", credit.Credits(0)),
	)
}

var grantTypes = []string{credit.EventGrantCreated, credit.EventGrantExpiring, credit.EventGrantExpired, credit.EventGrantVoided}

// flowEventGrantExpiring: grant.expiring tells of a grant once, the
// notice (72 hours, the default) before its expiry, in the first write of
// its account from then on, or ExpireDue's for an account nobody writes;
// never of a day's free credits or of a grant with nothing left (until
// something comes back to it); an amended expiry within the notice tells
// at once.
func flowEventGrantExpiring(t *testing.T, e *env) {
	e.account("a", 0)
	a := e.grant("a", credit.GrantSpec{Credits: credit.Whole(10), ExpiresAt: t0.Add(100 * time.Hour)}) // 100 h: not yet
	b := e.grant("a", credit.GrantSpec{Credits: credit.Whole(5), ExpiresAt: t0.Add(10 * time.Hour)})   // 10 h: at once
	f := e.grant("a", credit.GrantSpec{Credits: credit.Whole(3), Source: credit.SourceFree, ExpiresAt: t0.Add(time.Hour)})
	e.eventsOf("three grants", "a", grantTypes,
		ev(credit.EventGrantCreated, "a", a.ID, t0, "source", "topup", "credits", credit.Whole(10), "expires_at", t0.Add(100*time.Hour)),
		ev(credit.EventGrantCreated, "a", b.ID, t0, "source", "topup", "credits", credit.Whole(5), "expires_at", t0.Add(10*time.Hour)),
		ev(credit.EventGrantExpiring, "a", b.ID, t0, "source", "topup", "remaining", credit.Whole(5), "expires_at", t0.Add(10*time.Hour)),
		ev(credit.EventGrantCreated, "a", f.ID, t0, "source", "free", "credits", credit.Whole(3), "expires_at", t0.Add(time.Hour)),
	)

	// 29 hours on: f and b expired (settled by this write), a has 71 hours
	// left and 9 credits after a hold of 1.
	e.clock.Add(29 * time.Hour)
	t29 := e.clock.Now()
	e.hold("a", credit.Whole(1), time.Hour)
	e.clock.Add(time.Minute)
	e.hold("a", credit.Whole(1), time.Hour) // told already: nothing
	c := e.grant("a", credit.GrantSpec{Credits: credit.Whole(2), ExpiresAt: t0.Add(200 * time.Hour)})
	// Amended to expire within the notice: told at once.
	amendAt := e.clock.Now()
	if _, err := e.ledger.AmendGrantExpiry(e.ctx, nil, c.ID, t0.Add(90*time.Hour), "sooner"); err != nil {
		t.Fatal(err)
	}
	e.eventsOf("29 hours on", "a", grantTypes,
		ev(credit.EventGrantCreated, "a", a.ID, t0, "source", "topup", "credits", credit.Whole(10), "expires_at", t0.Add(100*time.Hour)),
		ev(credit.EventGrantExpiring, "a", a.ID, t29, "source", "topup", "remaining", credit.Whole(9), "expires_at", t0.Add(100*time.Hour)),
		ev(credit.EventGrantCreated, "a", b.ID, t0, "source", "topup", "credits", credit.Whole(5), "expires_at", t0.Add(10*time.Hour)),
		ev(credit.EventGrantExpiring, "a", b.ID, t0, "source", "topup", "remaining", credit.Whole(5), "expires_at", t0.Add(10*time.Hour)),
		ev(credit.EventGrantExpired, "a", b.ID, t29, "source", "topup", "expired_credits", credit.Whole(5)),
		ev(credit.EventGrantCreated, "a", f.ID, t0, "source", "free", "credits", credit.Whole(3), "expires_at", t0.Add(time.Hour)),
		ev(credit.EventGrantExpired, "a", f.ID, t29, "source", "free", "expired_credits", credit.Whole(3)),
		ev(credit.EventGrantCreated, "a", c.ID, amendAt, "source", "topup", "credits", credit.Whole(2), "expires_at", t0.Add(200*time.Hour)),
		ev(credit.EventGrantExpiring, "a", c.ID, amendAt, "source", "topup", "remaining", credit.Whole(2), "expires_at", t0.Add(90*time.Hour)),
	)
	if g := e.grantState(a.ID); !g.WarnedAt.Equal(t29) {
		t.Errorf("grant a warned at %s; want %s", timeText(g.WarnedAt), timeText(t29))
	}

	// An account nobody writes: ExpireDue tells, once.
	e.account("quiet", 0)
	q := e.grant("quiet", credit.GrantSpec{Credits: credit.Whole(4), ExpiresAt: e.clock.Now().Add(80 * time.Hour)})
	// A grant with nothing left (all held) is not told of, until the hold
	// gives its credits back.
	e.account("held", 0)
	h := e.grant("held", credit.GrantSpec{Credits: credit.Whole(6), ExpiresAt: e.clock.Now().Add(80 * time.Hour)})
	hold := e.hold("held", credit.Whole(6), 20*time.Hour)
	e.clock.Add(10 * time.Hour) // 70 hours left for both
	swept := e.clock.Now()
	if _, err := e.ledger.ExpireDue(e.ctx); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(time.Second)
	if _, err := e.ledger.ExpireDue(e.ctx); err != nil {
		t.Fatal(err)
	}
	e.eventsOf("ExpireDue", "quiet", grantTypes,
		ev(credit.EventGrantCreated, "quiet", q.ID, swept.Add(-10*time.Hour), "source", "topup", "credits", credit.Whole(4), "expires_at", q.ExpiresAt),
		ev(credit.EventGrantExpiring, "quiet", q.ID, swept, "source", "topup", "remaining", credit.Whole(4), "expires_at", q.ExpiresAt),
	)
	e.clock.Add(time.Minute)
	released := e.clock.Now()
	if _, err := e.ledger.ReleaseHold(e.ctx, nil, hold.ID); err != nil {
		t.Fatal(err)
	}
	e.eventsOf("a grant all held", "held", grantTypes,
		ev(credit.EventGrantCreated, "held", h.ID, swept.Add(-10*time.Hour), "source", "topup", "credits", credit.Whole(6), "expires_at", h.ExpiresAt),
		ev(credit.EventGrantExpiring, "held", h.ID, released, "source", "topup", "remaining", credit.Whole(6), "expires_at", h.ExpiresAt),
	)
	// Voided: grant.voided with what it had left.
	v := e.grant("quiet", credit.GrantSpec{Credits: credit.Whole(7)})
	if _, err := e.ledger.VoidGrant(e.ctx, nil, v.ID, "mistake"); err != nil {
		t.Fatal(err)
	}
	e.eventsOf("a void", "quiet", []string{credit.EventGrantVoided, credit.EventGrantExpired},
		ev(credit.EventGrantVoided, "quiet", v.ID, released, "source", "topup", "voided_credits", credit.Whole(7)))
}

// flowEventGrantVoidedHeld: a grant voided while all its credits are held
// (nothing left to take back, so no journal entry) was still voided, not
// expired: grant.voided with 0 voided credits.
func flowEventGrantVoidedHeld(t *testing.T, e *env) {
	e.account("a", 0)
	g := e.topup("a", 6)
	e.hold("a", credit.Whole(6), time.Hour)
	if _, err := e.ledger.VoidGrant(e.ctx, nil, g.ID, "fraud"); err != nil {
		t.Fatal(err)
	}
	e.eventsOf("a void of a grant all held", "a", []string{credit.EventGrantVoided, credit.EventGrantExpired},
		ev(credit.EventGrantVoided, "a", g.ID, t0, "source", "topup", "voided_credits", credit.Credits(0)))
}

// flowEventMemberLimit: member.limit_reached when a member's period reaches
// the limit, and when a request is refused for it, once a period; the
// refused request writes nothing else. The team is in UTC.
func flowEventMemberLimit(t *testing.T, e *env) {
	e.clock.Set(at("2026-06-10T12:00:00Z"))
	june, july, august := at("2026-06-01T00:00:00Z"), at("2026-07-01T00:00:00Z"), at("2026-08-01T00:00:00Z")
	e.team("t", "")
	e.topup("t", 500)
	e.setMember("t", "ann", limitOf(20))
	var gens []credit.Generation
	for range 3 {
		gens = append(gens, e.memberGen("t", "ann", fluxDev)) // 5, 10, 15: not yet
	}
	e.clock.Add(time.Minute)
	reached := e.clock.Now()
	gens = append(gens, e.memberGen("t", "ann", fluxDev)) // 20: reached
	e.clock.Add(time.Minute)
	_, err := e.ledger.CreateGeneration(e.ctx, nil, credit.GenerationSpec{Account: "t", Member: "ann", Request: fluxDev})
	wantLimitRefusal(t, "a fifth generation", err, 0, credit.Whole(5), july)
	if _, err := e.ledger.FailGeneration(e.ctx, nil, gens[0].ID); err != nil { // 15
		t.Fatal(err)
	}
	e.memberGen("t", "ann", fluxDev) // 20 again: told already this period
	e.wantPeriod("t", "ann", june, july, credit.Whole(20), limitOf(20))

	// July: a request of 25 is refused at once; the period is made, with
	// nothing used, and told of; a second refusal tells nothing more.
	e.clock.Set(at("2026-07-02T09:00:00Z"))
	refused := e.clock.Now()
	before := e.snapshot()
	_, err = e.ledger.CreateHold(e.ctx, nil, "t", credit.HoldSpec{Credits: credit.Whole(25), Member: "ann"})
	wantLimitRefusal(t, "25 of a limit of 20", err, credit.Whole(20), credit.Whole(25), august)
	// It wrote July's row of ann, with nothing used, and nothing else.
	if d := diffSnapshots(before, e.snapshot()); !strings.HasPrefix(d, "new member period t/ann/2026-07-01T00:00:00Z: used 0,") || strings.Contains(d, ";") {
		t.Errorf("the refused request wrote: %s; want July's row of ann, used 0, only", d)
	}
	e.clock.Add(time.Minute)
	_, err = e.ledger.CreateGeneration(e.ctx, nil, credit.GenerationSpec{Account: "t", Member: "ann", Request: banana2K})
	wantLimitRefusal(t, "a generation of 73.5", err, credit.Whole(20), cr("73.5"), august)
	for _, p := range e.snapshot().MemberPeriods {
		want := map[time.Time]time.Time{june: reached, july: refused}[p.Start]
		if p.Member == "ann" && (!p.Reached.Equal(want) || (p.Start.Equal(july) && (p.Used != 0 || !p.End.Equal(august)))) {
			t.Errorf("ann's period from %s to %s: used %s, reached at %s; want reached at %s (used 0 in July, to 1 August)", timeText(p.Start), timeText(p.End),
				p.Used, timeText(p.Reached), timeText(want))
		}
	}
	e.eventsOf("ann's limit", "t", []string{credit.EventMemberLimitReached},
		ev(credit.EventMemberLimitReached, "t", "ann", reached, "limit", credit.Whole(20), "used", credit.Whole(20), "period_start", june, "period_end", july),
		ev(credit.EventMemberLimitReached, "t", "ann", refused, "limit", credit.Whole(20), "used", credit.Credits(0), "period_start", july, "period_end", august),
	)
	// The refused requests told nothing but that: the generations of June
	// and nothing of July.
	var types []string
	for _, x := range e.readFeed(credit.EventQuery{Account: "t"}) {
		if !x.Time.Before(july) {
			types = append(types, x.Type)
		}
	}
	if !slices.Equal(types, []string{credit.EventMemberLimitReached}) {
		t.Errorf("the team's events in July: %v; want member.limit_reached only", types)
	}
}

// flowEventMemberLimitLowered: a member's limit lowered below what they
// used; the next request is refused, and member.limit_reached tells the
// limit that refused it (the member's, 20), not the one the period's last
// reservation was checked against (100).
func flowEventMemberLimitLowered(t *testing.T, e *env) {
	e.clock.Set(at("2026-06-10T12:00:00Z"))
	june, july := at("2026-06-01T00:00:00Z"), at("2026-07-01T00:00:00Z")
	e.team("t", "")
	e.topup("t", 500)
	e.setMember("t", "bob", limitOf(100))
	e.memberHold("t", "bob", credit.Whole(30), time.Hour) // 30 of 100
	e.setMember("t", "bob", limitOf(20))
	e.clock.Add(time.Minute)
	refused := e.clock.Now()
	_, err := e.ledger.CreateGeneration(e.ctx, nil, credit.GenerationSpec{Account: "t", Member: "bob", Request: fluxDev})
	wantLimitRefusal(t, "5 with 30 used of 20", err, 0, credit.Whole(5), july)
	e.eventsOf("bob's lowered limit", "t", []string{credit.EventMemberLimitReached},
		ev(credit.EventMemberLimitReached, "t", "bob", refused, "limit", credit.Whole(20), "used", credit.Whole(30), "period_start", june, "period_end", july))
	e.wantPeriod("t", "bob", june, july, credit.Whole(30), limitOf(100))
}

// flowEventMemberLimitNoLimitRow: a member who used 30 with no limit is
// given a limit of 20; the next request is refused and told of. The
// period's row keeps used 30, and whatever limit the ledger records on it,
// used ≤ limit must still hold (Verify, when the flow ends).
func flowEventMemberLimitNoLimitRow(t *testing.T, e *env) {
	e.clock.Set(at("2026-06-10T12:00:00Z"))
	june, july := at("2026-06-01T00:00:00Z"), at("2026-07-01T00:00:00Z")
	e.team("t", "")
	e.topup("t", 500)
	e.setMember("t", "carl", nil)
	e.memberHold("t", "carl", credit.Whole(30), time.Hour) // 30, no limit
	e.setMember("t", "carl", limitOf(20))
	e.clock.Add(time.Minute)
	refused := e.clock.Now()
	_, err := e.ledger.CreateGeneration(e.ctx, nil, credit.GenerationSpec{Account: "t", Member: "carl", Request: fluxDev})
	wantLimitRefusal(t, "5 with 30 used of 20", err, 0, credit.Whole(5), july)
	e.eventsOf("carl's new limit", "t", []string{credit.EventMemberLimitReached},
		ev(credit.EventMemberLimitReached, "t", "carl", refused, "limit", credit.Whole(20), "used", credit.Whole(30), "period_start", june, "period_end", july))
	for _, p := range e.snapshot().MemberPeriods {
		if p.Member == "carl" && (p.Used != credit.Whole(30) || (p.Limit != nil && *p.Limit < p.Used)) {
			t.Errorf("carl's period: used %s, limit %s; want used 30 and no limit below it", p.Used, limitText(p.Limit))
		}
	}
}

var topupTypes = []string{credit.EventTopupRequested, credit.EventTopupConfirmed, credit.EventTopupCanceled}

// topups returns an account's top-ups, newest first, through the ledger.
func (e *env) topups(account string) []credit.Topup {
	e.t.Helper()
	ts, err := e.ledger.Topups(e.ctx, account, "", credit.MaxTopupPage)
	if err != nil {
		e.t.Fatalf("Topups(%s) = %v", account, err)
	}
	return ts
}

// flowAutoTopupOnePending: one request while it is pending however many
// charges follow below the threshold; confirmed, it grants its credits
// exactly once (confirmed again: the same answer, nothing more); canceled,
// it stops counting, and the next charge asks again; turned off, nothing.
func flowAutoTopupOnePending(t *testing.T, e *env) {
	e.account("a", 0)
	first := e.topup("a", 15)
	at := credit.AutoTopup{Threshold: credit.Whole(10), Amount: credit.Whole(20), MonthlyCap: credit.Whole(100)}
	if v, err := e.ledger.SetAutoTopup(e.ctx, nil, "a", at); err != nil || v.AutoTopup != at {
		t.Fatalf("SetAutoTopup(a) = %+v, %v", v.Account, err)
	}
	e.spend("a", credit.Whole(6)) // 15 → 9: asked
	e.spend("a", credit.Whole(1)) // 8: pending, nothing
	e.spend("a", credit.Whole(1)) // 7: nothing
	ts := e.topups("a")
	if len(ts) != 1 || ts[0].Status != credit.TopupPending || ts[0].Credits != credit.Whole(20) || !ts[0].CreatedAt.Equal(t0) || ts[0].Grant != "" {
		t.Fatalf("Topups(a) = %+v; want one pending request of 20 made at %s", ts, timeText(t0))
	}
	t1 := ts[0]
	e.clock.Add(time.Minute)
	confirmedAt := e.clock.Now()
	c1, err := e.ledger.ConfirmTopup(e.ctx, nil, t1.ID)
	if err != nil || c1.Status != credit.TopupConfirmed || c1.Grant == "" || !c1.ResolvedAt.Equal(confirmedAt) {
		t.Fatalf("ConfirmTopup(%s) = %+v, %v; want confirmed with a grant at %s", t1.ID, c1, err, timeText(confirmedAt))
	}
	g := e.grantState(c1.Grant)
	if g.Source != credit.SourceTopup || g.Granted != credit.Whole(20) || !g.ExpiresAt.IsZero() || g.Account != "a" {
		t.Errorf("the top-up's grant: %+v; want 20 never-expiring top-up credits of a", g)
	}
	e.balances("a", credit.Whole(27), 0)
	// Confirmed again, with or without a key: the same answer, no grant.
	e.clock.Add(time.Minute)
	e.still("confirming again", func() {
		for _, k := range []*credit.Idempotency{nil, idem("again", "h")} {
			c2, err := e.ledger.ConfirmTopup(e.ctx, k, t1.ID)
			if err != nil || topupText(c2) != topupText(c1) {
				t.Errorf("ConfirmTopup(%s) again = %s, %v; want %s", t1.ID, topupText(c2), err, topupText(c1))
			}
		}
		_, err := e.ledger.CancelTopup(e.ctx, nil, t1.ID)
		wantErr(t, "canceling a confirmed top-up", err, credit.Conflict, "topup_confirmed")
	})
	e.unchanged("unknown top-ups", func() {
		_, err := e.ledger.ConfirmTopup(e.ctx, nil, "top_nothing")
		wantErr(t, "ConfirmTopup(top_nothing)", err, credit.NotFound, "unknown_topup")
		_, err = e.ledger.CancelTopup(e.ctx, nil, "top_nothing")
		wantErr(t, "CancelTopup(top_nothing)", err, credit.NotFound, "unknown_topup")
		_, err = e.ledger.Topup(e.ctx, "top_nothing")
		wantErr(t, "Topup(top_nothing)", err, credit.NotFound, "unknown_topup")
	})

	e.clock.Add(time.Minute)
	asked2 := e.clock.Now()
	e.spend("a", credit.Whole(18)) // 27 → 9: asked again (20 of 100 this month)
	t2 := e.topups("a")[0]
	e.clock.Add(time.Minute)
	canceledAt := e.clock.Now()
	c2, err := e.ledger.CancelTopup(e.ctx, nil, t2.ID)
	if err != nil || c2.Status != credit.TopupCanceled || c2.Grant != "" || !c2.ResolvedAt.Equal(canceledAt) {
		t.Fatalf("CancelTopup(%s) = %+v, %v; want canceled at %s", t2.ID, c2, err, timeText(canceledAt))
	}
	e.still("canceling again", func() {
		if again, err := e.ledger.CancelTopup(e.ctx, nil, t2.ID); err != nil || topupText(again) != topupText(c2) {
			t.Errorf("CancelTopup(%s) again = %s, %v; want %s", t2.ID, topupText(again), err, topupText(c2))
		}
		_, err := e.ledger.ConfirmTopup(e.ctx, nil, t2.ID)
		wantErr(t, "confirming a canceled top-up", err, credit.Conflict, "topup_canceled")
	})
	e.clock.Add(time.Minute)
	asked3 := e.clock.Now()
	e.spend("a", credit.Whole(1)) // 9 → 8: asked again (a canceled request does not count)
	t3 := e.topups("a")[0]
	if t3.ID == t2.ID || t3.Status != credit.TopupPending {
		t.Fatalf("Topups(a)[0] = %+v; want a third, pending request", t3)
	}
	e.clock.Add(time.Minute)
	if _, err := e.ledger.CancelTopup(e.ctx, nil, t3.ID); err != nil {
		t.Fatal(err)
	}
	// Off: nothing more.
	if v, err := e.ledger.SetAutoTopup(e.ctx, nil, "a", credit.AutoTopup{}); err != nil || v.AutoTopup.On() {
		t.Fatalf("SetAutoTopup(a, off) = %+v, %v", v.AutoTopup, err)
	}
	e.spend("a", credit.Whole(1))
	last := e.clock.Now()
	e.eventsOf("auto top-up", "a", topupTypes,
		ev(credit.EventTopupRequested, "a", t1.ID, t0, "credits", credit.Whole(20)),
		ev(credit.EventTopupConfirmed, "a", t1.ID, confirmedAt, "credits", credit.Whole(20), "grant", c1.Grant),
		ev(credit.EventTopupRequested, "a", t2.ID, asked2, "credits", credit.Whole(20)),
		ev(credit.EventTopupCanceled, "a", t2.ID, canceledAt, "credits", credit.Whole(20)),
		ev(credit.EventTopupRequested, "a", t3.ID, asked3, "credits", credit.Whole(20)),
		ev(credit.EventTopupCanceled, "a", t3.ID, last, "credits", credit.Whole(20)),
	)
	e.eventsOf("the top-up's grant", "a", []string{credit.EventGrantCreated},
		ev(credit.EventGrantCreated, "a", e.topups("a")[2].Grant, confirmedAt, "source", "topup", "credits", credit.Whole(20)),
		ev(credit.EventGrantCreated, "a", first.ID, t0, "source", "topup", "credits", credit.Whole(15)),
	)
	if got := len(e.topups("a")); got != 3 {
		t.Errorf("a has %d top-ups; want 3", got)
	}

	// Turned on below the threshold: asked at once.
	e.account("b", 0)
	e.topup("b", 5)
	e.clock.Add(time.Minute)
	on := e.clock.Now()
	if _, err := e.ledger.SetAutoTopup(e.ctx, nil, "b", credit.AutoTopup{Threshold: credit.Whole(10), Amount: credit.Whole(5), MonthlyCap: credit.Whole(5)}); err != nil {
		t.Fatal(err)
	}
	tb := e.topups("b")
	if len(tb) != 1 {
		t.Fatalf("Topups(b) = %+v; want one request", tb)
	}
	e.eventsOf("turned on below the threshold", "b", topupTypes, ev(credit.EventTopupRequested, "b", tb[0].ID, on, "credits", credit.Whole(5)))
	e.unchanged("bad auto top-ups", func() {
		for _, bad := range []credit.AutoTopup{
			{Threshold: credit.Whole(10), Amount: -credit.Whole(5), MonthlyCap: credit.Whole(10)},
			{Threshold: -credit.Whole(1), Amount: credit.Whole(5), MonthlyCap: credit.Whole(10)},
			{Threshold: credit.Whole(10), Amount: credit.Whole(5), MonthlyCap: -credit.Whole(10)},
		} {
			_, err := e.ledger.SetAutoTopup(e.ctx, nil, "b", bad)
			wantErr(t, fmt.Sprintf("SetAutoTopup(%+v)", bad), err, credit.Invalid, "invalid_auto_topup")
		}
	})
}

// flowAutoTopupCapRace: 48 holds of 2 race through two nodes on 60
// credits, with an auto top-up of 10 below 50 and a cap of 30 a month,
// while a studio confirms each request as the feed tells it: never more
// than 3 requests, each confirmed once, and every credit accounted for.
func flowAutoTopupCapRace(t *testing.T, e *env) {
	e.clock.Set(at("2026-06-10T12:00:00Z"))
	e.account("race", 0)
	e.topup("race", 60)
	if _, err := e.ledger.SetAutoTopup(e.ctx, nil, "race", credit.AutoTopup{Threshold: credit.Whole(50), Amount: credit.Whole(10), MonthlyCap: credit.Whole(30)}); err != nil {
		t.Fatal(err)
	}
	node2 := credit.NewLedger(e.store, credit.LedgerConfig{Now: e.clock.Now, Catalog: func() *credit.Catalog { return seedCatalog() }})
	nodes := []*credit.Ledger{e.ledger, node2}
	var cursor string
	confirmed := map[string]bool{}
	// confirm confirms the requests the feed has told since the last
	// look, and checks the cap as it goes.
	confirm := func() {
		for _, x := range e.readFeed(credit.EventQuery{After: cursor, Account: "race", Types: []string{credit.EventTopupRequested}}) {
			cursor = x.Cursor
			se, err := storeEvent(x)
			if err != nil {
				t.Fatal(err)
			}
			id := se.subject
			if confirmed[id] {
				t.Errorf("the feed told request %s twice", id)
				continue
			}
			if _, err := nodes[len(confirmed)%2].ConfirmTopup(e.ctx, nil, id); err != nil {
				t.Errorf("ConfirmTopup(%s) = %v", id, err)
			}
			confirmed[id] = true
			if len(confirmed) > 3 {
				t.Errorf("%d requests confirmed in one month; the cap of 30 allows 3 of 10", len(confirmed))
			}
		}
	}
	var holds []string
	var mu sync.Mutex
	done := make(chan struct{})
	studio := make(chan struct{})
	go func() {
		defer close(studio)
		for {
			confirm()
			select {
			case <-done:
				return
			default:
				time.Sleep(time.Millisecond)
			}
		}
	}()
	start := make(chan struct{})
	errs := make(chan error, 48)
	for i := range 48 {
		go func() {
			<-start
			h, err := nodes[i%2].CreateHold(e.ctx, nil, "race", credit.HoldSpec{Credits: credit.Whole(2), TTL: time.Hour})
			if err == nil {
				mu.Lock()
				holds = append(holds, h.ID)
				mu.Unlock()
			}
			errs <- err
		}()
	}
	close(start)
	for range 48 {
		if err := <-errs; err != nil && credit.ErrorReason(err) != "insufficient_credits" {
			t.Errorf("CreateHold = %v; want success or insufficient_credits", err)
		}
	}
	close(done)
	<-studio
	// The race may end before the cap: release a hold and charge again
	// until three requests were made; then once more, and a fourth is
	// never made.
	again := func(i int) {
		e.clock.Add(time.Second)
		if _, err := e.ledger.ReleaseHold(e.ctx, nil, holds[i]); err != nil {
			t.Fatal(err)
		}
		e.hold("race", credit.Whole(2), time.Hour)
		confirm()
	}
	// Every request the store has, told by the feed, and confirmed.
	settled := func() {
		e.waitFeed(credit.EventQuery{Account: "race", Types: []string{credit.EventTopupRequested}}, len(e.topups("race")))
		confirm()
	}
	settled()
	for i := 0; len(confirmed) < 3 && i < 10; i++ {
		again(i)
		settled()
	}
	again(10)
	settled()
	ts := e.topups("race")
	if len(ts) != 3 || len(confirmed) != 3 {
		t.Fatalf("Topups(race) = %+v (%d confirmed); want 3 requests of 10, all confirmed", ts, len(confirmed))
	}
	for _, x := range ts {
		if x.Status != credit.TopupConfirmed || x.Credits != credit.Whole(10) || !confirmed[x.ID] {
			t.Errorf("top-up %s; want a confirmed request of 10", topupText(x))
		}
	}
	v := e.view("race")
	if v.Available+v.Held != credit.Whole(90) || v.Available >= credit.Whole(50) {
		t.Errorf("race: available %s, held %s; want 60 + 3 × 10 = 90 in all (nothing captured), below 50 available", v.Available, v.Held)
	}
	if n := len(e.waitFeed(credit.EventQuery{Account: "race", Types: []string{credit.EventTopupConfirmed}}, 3)); n != 3 {
		t.Errorf("the feed told %d topup.confirmed; want 3", n)
	}
}

// flowAutoTopupCapBerlinDST: the monthly cap counts the calendar month of
// the account's zone: in Berlin, March starts at 23:00 UTC on 28 February
// (CET) and April at 22:00 UTC on 31 March (CEST, after the change of 29
// March). With a cap of one request of 10 a month, a request made at 23:30
// CET on 28 February does not count in March, one made at 00:30 CET on 1
// March does, until 00:00 CEST on 1 April.
func flowAutoTopupCapBerlinDST(t *testing.T, e *env) {
	t1 := at("2026-02-28T22:30:00Z") // 28 February 23:30 CET
	t2 := at("2026-02-28T23:30:00Z") // 1 March 00:30 CET
	t3 := at("2026-03-31T21:59:59Z") // 31 March 23:59:59 CEST
	t4 := at("2026-03-31T22:00:00Z") // 1 April 00:00 CEST
	e.clock.Set(t1)
	e.openAccount(credit.AccountSpec{ID: "berlin", TimeZone: "Europe/Berlin"})
	e.topup("berlin", 100)
	if _, err := e.ledger.SetAutoTopup(e.ctx, nil, "berlin", credit.AutoTopup{Threshold: credit.Whole(50), Amount: credit.Whole(10), MonthlyCap: credit.Whole(10)}); err != nil {
		t.Fatal(err)
	}
	confirmLatest := func() credit.Topup {
		t.Helper()
		ts := e.topups("berlin")
		c, err := e.ledger.ConfirmTopup(e.ctx, nil, ts[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	e.spend("berlin", credit.Whole(60)) // 100 → 40: February's request
	r1 := confirmLatest()               // 50
	e.clock.Set(t2)
	e.spend("berlin", credit.Whole(1)) // 49: March's request
	r2 := confirmLatest()              // 59
	e.clock.Set(t3)
	e.spend("berlin", credit.Whole(10)) // 49: March's cap is used
	e.clock.Set(t4)
	e.spend("berlin", credit.Whole(1)) // 48: April's request
	ts := e.topups("berlin")
	if len(ts) != 3 {
		t.Fatalf("Topups(berlin) = %+v; want three requests", ts)
	}
	e.eventsOf("requests by Berlin's months", "berlin", []string{credit.EventTopupRequested},
		ev(credit.EventTopupRequested, "berlin", r1.ID, t1, "credits", credit.Whole(10)),
		ev(credit.EventTopupRequested, "berlin", r2.ID, t2, "credits", credit.Whole(10)),
		ev(credit.EventTopupRequested, "berlin", ts[0].ID, t4, "credits", credit.Whole(10)),
	)
}
