package credit

// Tests of the events a write tells (Book.news) with no database: the
// account is pLedger's, priced by pCatalog ("std" 10 credits an image).
// Every expected event and number is worked out by hand in the comments.

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// told returns the events of the changes written since mark (an index
// into st.changes), as "type" or "type key=value" for the data fields
// named.
func told(st *pStore, mark int) []Event {
	var out []Event
	for _, c := range st.changes[mark:] {
		out = append(out, c.Events...)
	}
	return out
}

func types(evs []Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.Type
	}
	return out
}

// field returns a data field of e as its JSON text.
func field(t *testing.T, e Event, name string) string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(e.Data, &m); err != nil {
		t.Fatalf("%s data %s: %v", e.Type, e.Data, err)
	}
	return strings.Trim(string(m[name]), `"`)
}

// expectTold checks the types of the events written since *mark, and
// moves the mark past them.
func expectTold(t *testing.T, st *pStore, mark *int, want ...string) []Event {
	t.Helper()
	evs := told(st, *mark)
	*mark = len(st.changes)
	if got := types(evs); !slices.Equal(got, want) {
		t.Fatalf("events %q; want %q", got, want)
	}
	return evs
}

func hold(t *testing.T, l *Ledger, credits float64) Hold {
	t.Helper()
	h, err := l.CreateHold(context.Background(), nil, tAcc, HoldSpec{Credits: cr(credits), TTL: MaxHoldTTL})
	if err != nil {
		t.Fatalf("hold of %v: %v", credits, err)
	}
	return h
}

// spend charges credits for good: a hold captured whole.
func spend(t *testing.T, l *Ledger, credits float64) {
	t.Helper()
	h := hold(t, l, credits)
	if _, err := l.CaptureHold(context.Background(), nil, h.ID, nil); err != nil {
		t.Fatalf("capture %s: %v", h.ID, err)
	}
}

// charge makes a generation of images of "std" and delivers them all.
func charge(t *testing.T, l *Ledger, images int) Generation {
	t.Helper()
	g := mustGen(t, l, "std", images)
	g, err := l.CompleteGeneration(context.Background(), nil, g.ID, images)
	if err != nil {
		t.Fatalf("complete %s: %v", g.ID, err)
	}
	return g
}

func release(t *testing.T, l *Ledger, h Hold) {
	t.Helper()
	if _, err := l.ReleaseHold(context.Background(), nil, h.ID); err != nil {
		t.Fatalf("release %s: %v", h.ID, err)
	}
}

func TestBalanceAlertsOncePerCrossing(t *testing.T) {
	now := utc("2026-03-02T10:00:00Z")
	l, st := pLedger(t, &now, AccountSpec{})
	ctx := context.Background()
	if _, err := l.AddGrant(ctx, nil, tAcc, GrantSpec{Credits: cr(15), Source: SourceTopup}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.SetAlerts(ctx, nil, tAcc, cr(10)); err != nil {
		t.Fatal(err)
	}
	mark := len(st.changes)
	h1 := hold(t, l, 3) // 15 → 12: still at or above 10
	expectTold(t, st, &mark)
	h2 := hold(t, l, 4) // 12 → 8: crosses 10
	evs := expectTold(t, st, &mark, EventBalanceLow)
	if field(t, evs[0], "available") != "8" || field(t, evs[0], "threshold") != "10" {
		t.Errorf("balance.low data %s; want available 8, threshold 10", evs[0].Data)
	}
	h3 := hold(t, l, 3) // 8 → 5: already below, no second alert
	expectTold(t, st, &mark)
	release(t, l, h2) // 5 → 9: still below
	expectTold(t, st, &mark)
	release(t, l, h3) // 9 → 12: back at or above 10
	expectTold(t, st, &mark, EventBalanceRecovered)
	hold(t, l, 3) // 12 → 9: a new crossing, a new alert
	expectTold(t, st, &mark, EventBalanceLow)
	h5 := hold(t, l, 9) // 9 → 0: depleted
	expectTold(t, st, &mark, EventBalanceDepleted)
	release(t, l, h5) // 0 → 9: up, but not to the threshold: no recovery
	expectTold(t, st, &mark)
	release(t, l, h1) // 9 → 12
	expectTold(t, st, &mark, EventBalanceRecovered)

	// Without a threshold, depleted and recovered cross 0.
	if _, err := l.SetAlerts(ctx, nil, tAcc, 0); err != nil {
		t.Fatal(err)
	}
	mark = len(st.changes)
	h := hold(t, l, 12) // 12 → 0 (one 3-credit hold is still open)
	expectTold(t, st, &mark, EventBalanceDepleted)
	release(t, l, h) // 0 → 12
	evs = expectTold(t, st, &mark, EventBalanceRecovered)
	if field(t, evs[0], "threshold") != "" {
		t.Errorf("balance.recovered without a threshold has one: %s", evs[0].Data)
	}
}

func TestGenerationEvents(t *testing.T) {
	now := utc("2026-03-02T10:00:00Z")
	l, st := pLedger(t, &now, AccountSpec{})
	ctx := context.Background()
	if _, err := l.AddGrant(ctx, nil, tAcc, GrantSpec{Credits: cr(100), Source: SourceTopup}); err != nil {
		t.Fatal(err)
	}
	mark := len(st.changes)
	g := mustGen(t, l, "std", 3) // holds 30
	evs := expectTold(t, st, &mark, EventGenerationCreated)
	if field(t, evs[0], "generation") != g.ID || field(t, evs[0], "hold_credits") != "30" || field(t, evs[0], "images") != "3" {
		t.Errorf("generation.created data %s", evs[0].Data)
	}
	if _, err := l.CompleteGeneration(ctx, nil, g.ID, 2); err != nil { // charges 20
		t.Fatal(err)
	}
	evs = expectTold(t, st, &mark, EventGenerationCompleted)
	if field(t, evs[0], "charged_credits") != "20" || field(t, evs[0], "images_delivered") != "2" {
		t.Errorf("generation.completed data %s; want 20 charged for 2 images", evs[0].Data)
	}
	part := cr(7.5)
	if _, err := l.RefundGeneration(ctx, nil, g.ID, &part); err != nil {
		t.Fatal(err)
	}
	evs = expectTold(t, st, &mark, EventGenerationRefunded)
	if field(t, evs[0], "refunded_credits") != "7.5" || field(t, evs[0], "refunded_total") != "7.5" {
		t.Errorf("first refund data %s", evs[0].Data)
	}
	if _, err := l.RefundGeneration(ctx, nil, g.ID, nil); err != nil { // the rest: 12.5
		t.Fatal(err)
	}
	evs = expectTold(t, st, &mark, EventGenerationRefunded)
	if field(t, evs[0], "refunded_credits") != "12.5" || field(t, evs[0], "refunded_total") != "20" {
		t.Errorf("second refund data %s; want 12.5 of 20", evs[0].Data)
	}
	f := mustGen(t, l, "std", 1)
	if _, err := l.FailGeneration(ctx, nil, f.ID); err != nil {
		t.Fatal(err)
	}
	expectTold(t, st, &mark, EventGenerationCreated, EventGenerationFailed)

	// A refused generation tells nothing: 100 − 20 + 20 = 100 left; 4
	// images of ultra are 120.
	if _, err := gen(t, l, "ultra", 4); ErrorCode(err) != InsufficientCredits {
		t.Fatalf("ultra ×4 = %v; want insufficient credits", err)
	}
	expectTold(t, st, &mark)

	// A generation left past its TTL expires at the next write.
	e := mustGen(t, l, "std", 1)
	now = now.Add(DefaultHoldTTL + time.Second)
	if _, err := l.AddGrant(ctx, nil, tAcc, GrantSpec{Credits: cr(1), Source: SourcePromo}); err != nil {
		t.Fatal(err)
	}
	evs = expectTold(t, st, &mark, EventGenerationCreated, EventGenerationExpired, EventGrantCreated)
	if field(t, evs[1], "generation") != e.ID {
		t.Errorf("expired %s; want %s", evs[1].Data, e.ID)
	}
}

func TestGrantExpiringOnceThenExpired(t *testing.T) {
	now := utc("2026-03-02T10:00:00Z")
	l, st := pLedger(t, &now, AccountSpec{})
	ctx := context.Background()
	mark := len(st.changes)
	g, err := l.AddGrant(ctx, nil, tAcc, GrantSpec{Credits: cr(40), Source: SourcePromo, ExpiresAt: now.Add(100 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	// 100 h away, the notice is 72 h: not yet. The balance goes up
	// from 0: with no threshold, that is a recovery.
	evs := expectTold(t, st, &mark, EventGrantCreated, EventBalanceRecovered)
	if field(t, evs[0], "credits") != "40" || field(t, evs[0], "source") != "promo" {
		t.Errorf("grant.created data %s", evs[0].Data)
	}
	charge(t, l, 1) // 30 left
	expectTold(t, st, &mark, EventGenerationCreated, EventGenerationCompleted)

	now = now.Add(30 * time.Hour) // 70 h before the expiry
	charge(t, l, 1)               // its hold leaves 20; then charged
	evs = expectTold(t, st, &mark, EventGenerationCreated, EventGrantExpiring, EventGenerationCompleted)
	if field(t, evs[1], "grant") != g.ID || field(t, evs[1], "remaining") != "20" {
		t.Errorf("grant.expiring data %s; want %s with 20 left", evs[1].Data, g.ID)
	}
	charge(t, l, 1) // 10 left: told once, not again
	expectTold(t, st, &mark, EventGenerationCreated, EventGenerationCompleted)

	// At its expiry, 10 was left, and 10 expires.
	now = g.ExpiresAt.Add(time.Minute)
	if _, err := l.AddGrant(ctx, nil, tAcc, GrantSpec{Credits: cr(1), Source: SourceTopup}); err != nil {
		t.Fatal(err)
	}
	evs = expectTold(t, st, &mark, EventGrantExpired, EventGrantCreated)
	if field(t, evs[0], "grant") != g.ID || field(t, evs[0], "expired_credits") != "10" {
		t.Fatalf("grant.expired data %s; want %s, 10 expired", evs[0].Data, g.ID)
	}
}

func TestAutoTopupOnePendingAndMonthlyCap(t *testing.T) {
	now := utc("2026-03-02T10:00:00Z")
	l, st := pLedger(t, &now, AccountSpec{TimeZone: "Europe/Berlin"})
	ctx := context.Background()
	if _, err := l.AddGrant(ctx, nil, tAcc, GrantSpec{Credits: cr(30), Source: SourceTopup}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.SetAutoTopup(ctx, nil, tAcc, AutoTopup{Threshold: cr(20), Amount: cr(50), MonthlyCap: cr(100)}); err != nil {
		t.Fatal(err)
	}
	mark := len(st.changes)
	request := func(want bool) string {
		t.Helper()
		evs := told(st, mark)
		mark = len(st.changes)
		i := slices.IndexFunc(evs, func(e Event) bool { return e.Type == EventTopupRequested })
		if (i >= 0) != want {
			t.Fatalf("events %q; want a topup.requested: %v", types(evs), want)
		}
		if i < 0 {
			return ""
		}
		if field(t, evs[i], "credits") != "50" {
			t.Errorf("topup.requested data %s; want 50 credits", evs[i].Data)
		}
		id := field(t, evs[i], "topup")
		l.owners.remember(id, tAcc) // pStore has no View to look it up
		return id
	}
	spend(t, l, 15) // 30 → 15, below 20
	first := request(true)
	spend(t, l, 5) // 15 → 10: one is pending, no second
	request(false)
	top, err := l.ConfirmTopup(ctx, nil, first) // 10 + 50 = 60
	if err != nil || top.Status != TopupConfirmed || top.Grant == "" {
		t.Fatalf("confirm = %+v, %v", top, err)
	}
	again, err := l.ConfirmTopup(ctx, nil, first)
	if err != nil || again.Grant != top.Grant {
		t.Fatalf("confirm again = %+v, %v; want the same answer", again, err)
	}
	topups := 0
	for _, g := range st.state.Grants {
		if g.Source == SourceTopup && g.Granted == cr(50) {
			topups++
		}
	}
	if topups != 1 || st.state.Account.Available != cr(60) {
		t.Fatalf("%d top-up grants of 50, available %s; want 1 and 60", topups, st.state.Account.Available)
	}
	if _, err := l.CancelTopup(ctx, nil, first); ErrorReason(err) != "topup_confirmed" {
		t.Fatalf("cancel a confirmed top-up = %v; want topup_confirmed", err)
	}
	spend(t, l, 45) // 60 → 15: 50 confirmed + 50 ≤ 100
	second := request(true)
	if _, err := l.CancelTopup(ctx, nil, second); err != nil {
		t.Fatal(err)
	}
	request(false) // a cancel asks for nothing
	spend(t, l, 5) // 15 → 10: the canceled one does not count
	third := request(true)
	if _, err := l.ConfirmTopup(ctx, nil, third); err != nil { // 60
		t.Fatal(err)
	}
	spend(t, l, 45) // 60 → 15: 100 confirmed this month, the cap
	request(false)

	// April starts at Berlin's midnight, 22:00 UTC on 31 March (summer
	// time began on 29 March): a minute before, still March.
	now = utc("2026-03-31T21:59:00Z")
	spend(t, l, 1) // 15 → 14
	request(false)
	now = utc("2026-03-31T22:00:00Z")
	spend(t, l, 1) // 14 → 13, in April
	request(true)
}

func TestMemberLimitReachedOncePerPeriod(t *testing.T) {
	now := utc("2026-03-02T10:00:00Z")
	l, st := team(t, &now, "UTC") // a's limit is 100
	mark := len(st.changes)
	mustMemberHold(t, l, "a", 60)
	expectTold(t, st, &mark)
	mustMemberHold(t, l, "a", 40) // 100 of 100: reached
	evs := expectTold(t, st, &mark, EventMemberLimitReached)
	if field(t, evs[0], "member") != "a" || field(t, evs[0], "used") != "100" || field(t, evs[0], "limit") != "100" ||
		field(t, evs[0], "period_end") != "2026-04-01T00:00:00Z" {
		t.Errorf("member.limit_reached data %s", evs[0].Data)
	}
	if _, err := memberHold(l, "a", 1); ErrorReason(err) != "member_limit_exceeded" {
		t.Fatalf("a's hold past the limit = %v", err)
	}
	expectTold(t, st, &mark) // told once a period

	// In April, a refusal is the news: 95 fits, 10 more does not.
	now = utc("2026-04-01T00:00:00Z")
	mustMemberHold(t, l, "a", 95)
	expectTold(t, st, &mark)
	if _, err := memberHold(l, "a", 10); ErrorReason(err) != "member_limit_exceeded" {
		t.Fatalf("a's hold of 10 with 5 left = %v", err)
	}
	evs = expectTold(t, st, &mark, EventMemberLimitReached)
	if field(t, evs[0], "used") != "95" {
		t.Errorf("member.limit_reached on a refusal: %s; want used 95", evs[0].Data)
	}
	if _, err := memberHold(l, "a", 10); ErrorReason(err) != "member_limit_exceeded" {
		t.Fatal(err)
	}
	expectTold(t, st, &mark)
	// The refusal wrote nothing else: a's period still has 95 used.
	if u := used(st, "a", utc("2026-04-01T00:00:00Z")); u != cr(95) {
		t.Errorf("a used %s in April; want 95", u)
	}
}

func TestSubscriptionEvents(t *testing.T) {
	now := utc("2026-03-02T10:00:00Z")
	l, st := pLedger(t, &now, AccountSpec{})
	ctx := context.Background()
	mark := len(st.changes)
	s, err := l.Subscribe(ctx, nil, tAcc, SubscriptionSpec{Plan: "basic"})
	if err != nil {
		t.Fatal(err)
	}
	// The first month's 100 credits come with the subscription (and lift
	// the balance from 0).
	evs := expectTold(t, st, &mark, EventGrantCreated, EventSubscriptionCreated, EventBalanceRecovered)
	if field(t, evs[1], "plan") != "basic" || field(t, evs[0], "subscription") != s.ID {
		t.Errorf("subscription events %s %s", evs[0].Data, evs[1].Data)
	}
	now = utc("2026-04-02T10:00:01Z") // the second month has begun
	if _, err := l.AddGrant(ctx, nil, tAcc, GrantSpec{Credits: cr(1), Source: SourcePromo}); err != nil {
		t.Fatal(err)
	}
	evs = told(st, mark)
	mark = len(st.changes)
	for _, want := range []string{EventGrantExpired, EventGrantCreated, EventSubscriptionRenewed} {
		if !slices.Contains(types(evs), want) {
			t.Errorf("events at renewal %q; want %s", types(evs), want)
		}
	}
	if _, err := l.CancelSubscription(ctx, nil, s.ID, AtPeriodEnd); err != nil {
		t.Fatal(err)
	}
	evs = expectTold(t, st, &mark, EventSubscriptionCancel)
	// Months start at the local midnight of the day it began (UTC here).
	if field(t, evs[0], "ends_at") != "2026-05-02T00:00:00Z" {
		t.Errorf("subscription.canceled data %s; want ends_at 2026-05-02T00:00:00Z", evs[0].Data)
	}
}

func TestEventTypesChecked(t *testing.T) {
	if err := CheckEventTypes([]string{"*"}, false); ErrorReason(err) != "invalid_event_type" {
		t.Errorf(`"*" in a feed filter = %v; want invalid_event_type`, err)
	}
	if err := CheckEventTypes([]string{"*", EventBalanceLow}, true); err != nil {
		t.Errorf("a webhook's types = %v", err)
	}
	if err := CheckEventTypes([]string{"balance.lo"}, true); ErrorReason(err) != "invalid_event_type" {
		t.Errorf("a misspelt type = %v", err)
	}
	if !WantsType([]string{"*"}, EventTopupRequested) || WantsType([]string{EventBalanceLow}, EventBalanceDepleted) {
		t.Error("WantsType")
	}
}

func TestVerifyTopups(t *testing.T) {
	at := utc("2026-03-02T10:00:00Z")
	s := &Snapshot{
		Grants: []Grant{{ID: "grt_1", Account: "a", Source: SourceTopup, Granted: cr(50), Remaining: 0, CreatedAt: at}},
		Topups: []Topup{
			{ID: "top_1", Account: "a", Credits: cr(50), Status: TopupConfirmed, Grant: "grt_1"},
			{ID: "top_2", Account: "a", Credits: cr(50), Status: TopupConfirmed, Grant: "grt_9"}, // no such grant
			{ID: "top_3", Account: "b", Credits: cr(50), Status: TopupPending},
			{ID: "top_4", Account: "b", Credits: cr(50), Status: TopupPending}, // a second pending
			{ID: "top_5", Account: "b", Credits: cr(50), Status: TopupCanceled, Grant: "grt_1"},
		},
	}
	var got []string
	for _, v := range VerifySnapshot(s) {
		if v.Invariant == "topups" {
			got = append(got, v.Detail)
		}
	}
	if len(got) != 3 || !strings.Contains(got[0], "top_2") || !strings.Contains(got[1], "top_4") || !strings.Contains(got[2], "top_5") {
		t.Errorf("topups violations %q; want top_2's missing grant, b's second pending, top_5's grant", got)
	}
}
