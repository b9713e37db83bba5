package sqlite_test

import (
	"cmp"
	"context"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"
	tsqlite "github.com/tally-credits/tally/internal/sqlite"
	"github.com/tally-credits/tally/internal/storetest"
)

func auditEntry(action, target string) credit.AuditEntry {
	return credit.AuditEntry{At: t0, Actor: "admin", Action: action, Target: target, Detail: []byte(`{}`)}
}

func webhook(id string, created time.Time, events ...string) credit.Webhook {
	return credit.Webhook{ID: id, URL: "https://example.com/hooks/" + id, Events: events, Description: "for " + id,
		Secret: "whsec_c2VjcmV0LW9mLQ==" + id, CreatedAt: created}
}

func mustInsertWebhook(tb testing.TB, db *tsqlite.DB, w credit.Webhook) {
	tb.Helper()
	if err := db.InsertWebhook(context.Background(), w, auditEntry(credit.AuditWebhookCreate, w.ID)); err != nil {
		tb.Fatalf("InsertWebhook(%s) = %v", w.ID, err)
	}
}

// addEvents appends events through a write of account.
func addEvents(tb testing.TB, db *tsqlite.DB, account string, es ...credit.Event) {
	tb.Helper()
	storetest.MustApply(tb, db, account, &credit.Change{Events: es})
}

func mustSchedule(tb testing.TB, db *tsqlite.DB, now time.Time, limit int) int {
	tb.Helper()
	n, err := db.ScheduleDeliveries(context.Background(), now, limit)
	if err != nil {
		tb.Fatalf("ScheduleDeliveries(%v, %d) = %v", now, limit, err)
	}
	return n
}

func mustClaim(tb testing.TB, db *tsqlite.DB, now, until time.Time, limit int) []credit.Claim {
	tb.Helper()
	cs, err := db.ClaimDeliveries(context.Background(), now, until, limit)
	if err != nil {
		tb.Fatalf("ClaimDeliveries(%v) = %v", now, err)
	}
	return cs
}

func mustDeliveries(tb testing.TB, db *tsqlite.DB, q credit.DeliveryQuery) []credit.Delivery {
	tb.Helper()
	ds, err := db.Deliveries(context.Background(), q)
	if err != nil {
		tb.Fatalf("Deliveries(%+v) = %v", q, err)
	}
	return ds
}

// pairs names deliveries by "webhook/event", sorted.
func pairs(ds []credit.Delivery) []string {
	var out []string
	for _, d := range ds {
		out = append(out, d.Webhook+"/"+d.Event)
	}
	slices.Sort(out)
	return out
}

func claimed(cs []credit.Claim) []string {
	var out []credit.Delivery
	for _, c := range cs {
		out = append(out, c.Delivery)
	}
	return pairs(out)
}

// delivery finds the delivery of event to webhook.
func delivery(tb testing.TB, db *tsqlite.DB, webhook, event string) credit.Delivery {
	tb.Helper()
	for _, d := range mustDeliveries(tb, db, credit.DeliveryQuery{Webhook: webhook, Limit: 1000}) {
		if d.Event == event {
			return d
		}
	}
	tb.Fatalf("no delivery of %s to %s", event, webhook)
	return credit.Delivery{}
}

// TestWebhookEndpoints: endpoints are stored as given, listed oldest first,
// deleted ones are unknown, and each change is audited.
func TestWebhookEndpoints(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	w1 := webhook("wh_1", t0, credit.EventGrantCreated, credit.EventBalanceLow)
	w2 := webhook("wh_2", t0.Add(time.Second), "*")
	mustInsertWebhook(t, db, w2) // inserted first, made later
	mustInsertWebhook(t, db, w1)
	if got, err := db.Webhook(ctx, "wh_1"); err != nil || !reflect.DeepEqual(got, w1) {
		t.Errorf("Webhook(wh_1) = %+v, %v; want %+v", got, err, w1)
	}
	if got, err := db.Webhooks(ctx); err != nil || !reflect.DeepEqual(got, []credit.Webhook{w1, w2}) {
		t.Errorf("Webhooks() = %+v, %v; want wh_1, wh_2", got, err)
	}
	err := db.InsertWebhook(ctx, w1, auditEntry(credit.AuditWebhookCreate, "wh_1"))
	wantError(t, "InsertWebhook(wh_1 again)", err, credit.Conflict, "webhook_exists")

	if err := db.DeleteWebhook(ctx, "wh_2", t0.Add(time.Minute), auditEntry(credit.AuditWebhookDelete, "wh_2")); err != nil {
		t.Fatal(err)
	}
	_, err = db.Webhook(ctx, "wh_2")
	wantError(t, "Webhook(deleted wh_2)", err, credit.NotFound, "unknown_webhook")
	err = db.DeleteWebhook(ctx, "wh_2", t0.Add(time.Minute), auditEntry(credit.AuditWebhookDelete, "wh_2"))
	wantError(t, "DeleteWebhook(deleted wh_2)", err, credit.NotFound, "unknown_webhook")
	err = db.DeleteWebhook(ctx, "wh_9", t0.Add(time.Minute), auditEntry(credit.AuditWebhookDelete, "wh_9"))
	wantError(t, "DeleteWebhook(wh_9)", err, credit.NotFound, "unknown_webhook")
	_, err = db.Webhook(ctx, "wh_9")
	wantError(t, "Webhook(wh_9)", err, credit.NotFound, "unknown_webhook")
	if got, err := db.Webhooks(ctx); err != nil || !reflect.DeepEqual(got, []credit.Webhook{w1}) {
		t.Errorf("Webhooks() after deleting wh_2 = %+v, %v; want wh_1", got, err)
	}

	mustView(t, db, func(tx credit.Tx) error {
		log, err := tx.AuditLog(0, 10)
		if err != nil {
			return err
		}
		var got []string
		for _, e := range log {
			got = append(got, e.Action+" "+e.Target)
		}
		// The refused insert and deletes wrote nothing.
		if want := []string{"webhook.delete wh_2", "webhook.create wh_1", "webhook.create wh_2"}; !reflect.DeepEqual(got, want) {
			t.Errorf("AuditLog = %v; want %v", got, want)
		}
		return nil
	})
}

// TestScheduleDeliveries: an endpoint gets a delivery of each event after
// its place at creation that it wants, limit events at a time, once.
func TestScheduleDeliveries(t *testing.T) {
	db := MustOpenDB(t)
	addEvents(t, db, "acme", event("evt_0", credit.EventGrantCreated, "acme", t0, `{}`)) // before every endpoint
	mustInsertWebhook(t, db, webhook("wh_a", t0, credit.EventGrantCreated, credit.EventBalanceLow))
	mustInsertWebhook(t, db, webhook("wh_b", t0, "*"))
	mustInsertWebhook(t, db, webhook("wh_c", t0, credit.EventTopupRequested))
	addEvents(t, db, "acme",
		event("evt_1", credit.EventGrantCreated, "acme", t0, `{}`),
		event("evt_2", credit.EventBalanceLow, "acme", t0, `{}`))
	addEvents(t, db, "bolt",
		event("evt_3", credit.EventGenerationCreated, "bolt", t0, `{}`),
		event("evt_4", credit.EventGrantCreated, "bolt", t0, `{}`),
		event("evt_5", credit.EventBalanceDepleted, "bolt", t0, `{}`))

	// Two events an endpoint a call: wh_a wants evt_1, evt_2 | evt_4 | —;
	// wh_b every one; wh_c none.
	now1, now2, now3 := t0.Add(time.Minute), t0.Add(2*time.Minute), t0.Add(3*time.Minute)
	for i, tc := range []struct {
		now  time.Time
		want int
	}{{now1, 2 + 2}, {now2, 1 + 2}, {now3, 0 + 1}, {now3, 0}} {
		if got := mustSchedule(t, db, tc.now, 2); got != tc.want {
			t.Errorf("ScheduleDeliveries call %d = %d; want %d", i+1, got, tc.want)
		}
	}
	all := mustDeliveries(t, db, credit.DeliveryQuery{Limit: 100})
	want := []string{"wh_a/evt_1", "wh_a/evt_2", "wh_a/evt_4", "wh_b/evt_1", "wh_b/evt_2", "wh_b/evt_3", "wh_b/evt_4", "wh_b/evt_5"}
	if got := pairs(all); !reflect.DeepEqual(got, want) {
		t.Fatalf("deliveries = %v; want %v", got, want)
	}
	made := map[string]time.Time{"evt_1": now1, "evt_2": now1, "evt_3": now2, "evt_4": now2, "evt_5": now3}
	types := map[string]string{"evt_1": credit.EventGrantCreated, "evt_2": credit.EventBalanceLow, "evt_3": credit.EventGenerationCreated,
		"evt_4": credit.EventGrantCreated, "evt_5": credit.EventBalanceDepleted}
	accounts := map[string]string{"evt_1": "acme", "evt_2": "acme", "evt_3": "bolt", "evt_4": "bolt", "evt_5": "bolt"}
	for _, d := range all {
		w := credit.Delivery{ID: d.ID, Webhook: d.Webhook, Event: d.Event, EventType: types[d.Event], Account: accounts[d.Event],
			Status: credit.DeliveryPending, NextAt: made[d.Event], CreatedAt: made[d.Event]}
		if !reflect.DeepEqual(d, w) || len(d.ID) < 5 || d.ID[:4] != "whd_" {
			t.Errorf("delivery = %+v; want %+v", d, w)
		}
	}
	// Nothing new: nothing more.
	if got := mustSchedule(t, db, now3, 100); got != 0 {
		t.Errorf("ScheduleDeliveries with no new event = %d; want 0", got)
	}
	addEvents(t, db, "acme", event("evt_6", credit.EventTopupRequested, "acme", t0, `{}`))
	if got := mustSchedule(t, db, now3, 0); got != 2 { // wh_b and wh_c
		t.Errorf("ScheduleDeliveries after evt_6 = %d; want 2", got)
	}
}

// TestScheduleDeliveriesConcurrently: schedulers on two handles on one file
// (two nodes) and two on each, at once, make each wanted event one delivery,
// and the counts they return add up to the deliveries made.
func TestScheduleDeliveriesConcurrently(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tally.db")
	dbs := []*tsqlite.DB{MustOpenPath(t, path), MustOpenPath(t, path)}
	mustInsertWebhook(t, dbs[0], webhook("wh_all", t0, "*"))
	mustInsertWebhook(t, dbs[0], webhook("wh_grants", t0, credit.EventGrantCreated))
	const events = 60
	var es []credit.Event
	grants := 0
	for i := range events {
		typ := credit.EventBalanceLow
		if i%4 == 0 {
			typ = credit.EventGrantCreated
			grants++
		}
		es = append(es, event(credit.NewID("evt", t0), typ, "acme", t0, `{}`))
	}
	addEvents(t, dbs[0], "acme", es...)

	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 10 { // 40 calls of 7 events: enough for 60
				n, err := dbs[g%2].ScheduleDeliveries(context.Background(), t0.Add(time.Minute), 7)
				if err != nil {
					t.Errorf("ScheduleDeliveries = %v", err)
					return
				}
				mu.Lock()
				total += n
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	all := mustDeliveries(t, dbs[1], credit.DeliveryQuery{Limit: 1000})
	if want := events + grants; total != want || len(all) != want {
		t.Errorf("concurrent schedulers made %d deliveries and said %d; want %d (%d events, %d grant.created)", len(all), total, want, events, grants)
	}
	seen := map[string]bool{}
	for _, p := range pairs(all) {
		if seen[p] {
			t.Errorf("two deliveries of %s", p)
		}
		seen[p] = true
	}
}

// TestClaimDeliveries: a claim takes due deliveries of live endpoints,
// oldest due first, with what an attempt needs; no other claim takes them
// until the lease ends, and then one does.
func TestClaimDeliveries(t *testing.T) {
	db := MustOpenDB(t)
	w := webhook("wh_a", t0, "*")
	mustInsertWebhook(t, db, w)
	e1 := event("evt_1", credit.EventGrantCreated, "acme", t0, `{"grant":"grt_1", "credits":5}`)
	addEvents(t, db, "acme", e1)
	now1 := t0.Add(time.Minute)
	mustSchedule(t, db, now1, 100)
	addEvents(t, db, "acme",
		event("evt_2", credit.EventBalanceLow, "acme", t0, `{}`),
		event("evt_3", credit.EventBalanceDepleted, "acme", t0, `{}`))
	now2 := t0.Add(2 * time.Minute)
	mustSchedule(t, db, now2, 100)

	if got := mustClaim(t, db, now1.Add(-time.Second), now1.Add(time.Hour), 10); len(got) != 0 {
		t.Errorf("claim before any is due = %v; want none", claimed(got))
	}
	// Due at now2: evt_1 (due since now1) first.
	c := mustClaim(t, db, now2, now2.Add(30*time.Second), 1)
	if len(c) != 1 {
		t.Fatalf("claim of 1 = %v; want wh_a/evt_1", claimed(c))
	}
	e1.Cursor = c[0].Event.Cursor
	want := credit.Claim{Delivery: delivery(t, db, "wh_a", "evt_1"), Event: e1, URL: w.URL, Secret: w.Secret}
	if !reflect.DeepEqual(c[0], want) || c[0].Event.Cursor == "" {
		t.Errorf("claim = %+v (data %s); want %+v (data %s)", c[0], c[0].Event.Data, want, want.Event.Data)
	}
	c2 := mustClaim(t, db, now2.Add(time.Second), now2.Add(40*time.Second), 10)
	if got := claimed(c2); !reflect.DeepEqual(got, []string{"wh_a/evt_2", "wh_a/evt_3"}) {
		t.Errorf("second claim = %v; want the two not leased", got)
	}
	if got := mustClaim(t, db, now2.Add(29*time.Second), now2.Add(time.Hour), 10); len(got) != 0 {
		t.Errorf("claim while every lease lasts = %v; want none", claimed(got))
	}
	// The first lease ended at now2+30s: evt_1 comes back, the others not yet.
	if got := claimed(mustClaim(t, db, now2.Add(30*time.Second), now2.Add(time.Hour), 10)); !reflect.DeepEqual(got, []string{"wh_a/evt_1"}) {
		t.Errorf("claim once the first lease ended = %v; want wh_a/evt_1", got)
	}
	if got := claimed(mustClaim(t, db, now2.Add(40*time.Second), now2.Add(time.Hour), 10)); !reflect.DeepEqual(got, []string{"wh_a/evt_2", "wh_a/evt_3"}) {
		t.Errorf("claim once the second lease ended = %v; want wh_a/evt_2, wh_a/evt_3", got)
	}
}

// TestClaimDeliveriesConcurrently: claimers on two handles on one file,
// two on each, taking one at a time at the same instant, never take one
// delivery twice, and take them all.
func TestClaimDeliveriesConcurrently(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tally.db")
	dbs := []*tsqlite.DB{MustOpenPath(t, path), MustOpenPath(t, path)}
	mustInsertWebhook(t, dbs[0], webhook("wh_a", t0, "*"))
	var es []credit.Event
	for range 20 {
		es = append(es, event(credit.NewID("evt", t0), credit.EventGrantCreated, "acme", t0, `{}`))
	}
	addEvents(t, dbs[0], "acme", es...)
	now := t0.Add(time.Minute)
	if n := mustSchedule(t, dbs[0], now, 100); n != 20 {
		t.Fatalf("scheduled %d; want 20", n)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	var got []string
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				cs, err := dbs[g%2].ClaimDeliveries(context.Background(), now, now.Add(time.Hour), 1)
				if err != nil {
					t.Errorf("ClaimDeliveries = %v", err)
					return
				}
				if len(cs) == 0 {
					return
				}
				mu.Lock()
				got = append(got, cs[0].Delivery.ID)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	slices.Sort(got)
	if len(got) != 20 || len(slices.Compact(slices.Clone(got))) != 20 {
		t.Errorf("claimers took %d deliveries, %d distinct; want 20 once each", len(got), len(slices.Compact(slices.Clone(got))))
	}
}

// TestFinishAttempt: each outcome is recorded as it says, the lease ends,
// and a 410 disables the endpoint: its deliveries are no longer claimed
// nor scheduled.
func TestFinishAttempt(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	mustInsertWebhook(t, db, webhook("wh_a", t0, "*"))
	mustInsertWebhook(t, db, webhook("wh_b", t0, "*"))
	addEvents(t, db, "acme",
		event("evt_1", credit.EventGrantCreated, "acme", t0, `{}`),
		event("evt_2", credit.EventGrantCreated, "acme", t0, `{}`),
		event("evt_3", credit.EventGrantCreated, "acme", t0, `{}`),
		event("evt_4", credit.EventGrantCreated, "acme", t0, `{}`))
	now := t0.Add(time.Minute)
	mustSchedule(t, db, now, 100)
	if got := mustClaim(t, db, now, now.Add(time.Hour), 100); len(got) != 8 {
		t.Fatalf("claimed %d; want 8", len(got))
	}
	d := func(w, e string) credit.Delivery { return delivery(t, db, w, e) }
	finish := func(a credit.Attempt) {
		t.Helper()
		if err := db.FinishAttempt(ctx, a); err != nil {
			t.Fatalf("FinishAttempt(%+v) = %v", a, err)
		}
	}
	at := now.Add(time.Second)

	a1 := d("wh_a", "evt_1")
	finish(credit.Attempt{Delivery: a1.ID, Webhook: "wh_a", At: at, Status: 200, Outcome: credit.DeliveryDelivered})
	want := a1
	want.Status, want.Attempts, want.LastAttemptAt, want.LastStatus, want.DeliveredAt, want.NextAt = credit.DeliveryDelivered, 1, at, 200, at, time.Time{}
	if got := d("wh_a", "evt_1"); !reflect.DeepEqual(got, want) {
		t.Errorf("delivered = %+v; want %+v", got, want)
	}

	a2 := d("wh_a", "evt_2")
	retryAt := now.Add(time.Minute)
	finish(credit.Attempt{Delivery: a2.ID, Webhook: "wh_a", At: at, Status: 503, Error: "", Outcome: credit.DeliveryPending, NextAt: retryAt})
	want = a2
	want.Attempts, want.LastAttemptAt, want.LastStatus, want.NextAt = 1, at, 503, retryAt
	if got := d("wh_a", "evt_2"); !reflect.DeepEqual(got, want) {
		t.Errorf("to try again = %+v; want %+v", got, want)
	}

	a3 := d("wh_a", "evt_3")
	finish(credit.Attempt{Delivery: a3.ID, Webhook: "wh_a", At: at, Status: 0, Error: "dial tcp: i/o timeout", Outcome: credit.DeliveryFailed})
	want = a3
	want.Status, want.Attempts, want.LastAttemptAt, want.LastError, want.NextAt = credit.DeliveryFailed, 1, at, "dial tcp: i/o timeout", time.Time{}
	if got := d("wh_a", "evt_3"); !reflect.DeepEqual(got, want) {
		t.Errorf("failed = %+v; want %+v", got, want)
	}

	// The lease ended with the attempt: evt_2 is claimed again once due,
	// though its lease ran to now+1h; evt_1 and evt_3 never are.
	if got := mustClaim(t, db, retryAt.Add(-time.Second), retryAt.Add(time.Hour), 100); len(got) != 0 {
		t.Errorf("claim before evt_2 is due again = %v; want none", claimed(got))
	}
	if got := claimed(mustClaim(t, db, retryAt, retryAt.Add(time.Hour), 100)); !reflect.DeepEqual(got, []string{"wh_a/evt_2"}) {
		t.Errorf("claim when evt_2 is due again = %v; want wh_a/evt_2", got)
	}

	a4 := d("wh_a", "evt_4")
	err := db.FinishAttempt(ctx, credit.Attempt{Delivery: a4.ID, Webhook: "wh_b", At: at, Status: 200, Outcome: credit.DeliveryDelivered})
	wantError(t, "FinishAttempt(wh_a's delivery as wh_b's)", err, credit.NotFound, "unknown_delivery")
	err = db.FinishAttempt(ctx, credit.Attempt{Delivery: "whd_none", Webhook: "wh_a", At: at, Status: 200, Outcome: credit.DeliveryDelivered})
	wantError(t, "FinishAttempt(whd_none)", err, credit.NotFound, "unknown_delivery")
	if got := d("wh_a", "evt_4"); !reflect.DeepEqual(got, a4) {
		t.Errorf("after refused attempts = %+v; want it unchanged %+v", got, a4)
	}

	// 410 Gone: wh_b stops.
	b1 := d("wh_b", "evt_1")
	finish(credit.Attempt{Delivery: b1.ID, Webhook: "wh_b", At: at, Status: 410, Outcome: credit.DeliveryFailed, Disable: true,
		DisableReason: "the endpoint answered 410 Gone"})
	wb, err := db.Webhook(ctx, "wh_b")
	if err != nil || !wb.DisabledAt.Equal(at) || wb.DisabledReason != "the endpoint answered 410 Gone" {
		t.Errorf("Webhook(wh_b) after a 410 = %+v, %v; want disabled at %v", wb, err, at)
	}
	if ws, err := db.Webhooks(ctx); err != nil || len(ws) != 2 {
		t.Errorf("Webhooks() = %+v, %v; want both, wh_b disabled", ws, err)
	}
	later := now.Add(2 * time.Hour) // every lease has ended
	if got := claimed(mustClaim(t, db, later, later.Add(time.Hour), 100)); !reflect.DeepEqual(got, []string{"wh_a/evt_2", "wh_a/evt_4"}) {
		t.Errorf("claim after wh_b was disabled = %v; want wh_a's pending ones only", got)
	}
	addEvents(t, db, "acme", event("evt_5", credit.EventGrantCreated, "acme", t0, `{}`))
	if n := mustSchedule(t, db, later, 100); n != 1 {
		t.Errorf("ScheduleDeliveries after wh_b was disabled = %d; want 1 (wh_a's)", n)
	}
}

// TestRetryDelivery: a retry makes a delivery of its endpoint pending, due
// now and unleased, keeps its log, and is audited.
func TestRetryDelivery(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	mustInsertWebhook(t, db, webhook("wh_a", t0, "*"))
	mustInsertWebhook(t, db, webhook("wh_b", t0, "*"))
	addEvents(t, db, "acme", event("evt_1", credit.EventGrantCreated, "acme", t0, `{}`), event("evt_2", credit.EventGrantCreated, "acme", t0, `{}`))
	now := t0.Add(time.Minute)
	mustSchedule(t, db, now, 100)
	mustClaim(t, db, now, now.Add(time.Hour), 100)
	failed := delivery(t, db, "wh_a", "evt_1")
	at := now.Add(time.Second)
	if err := db.FinishAttempt(ctx, credit.Attempt{Delivery: failed.ID, Webhook: "wh_a", At: at, Status: 500, Outcome: credit.DeliveryFailed}); err != nil {
		t.Fatal(err)
	}

	retry := now.Add(10 * time.Minute)
	got, err := db.RetryDelivery(ctx, "wh_a", failed.ID, retry, auditEntry(credit.AuditWebhookRetry, failed.ID))
	want := failed
	want.Attempts, want.LastAttemptAt, want.LastStatus, want.NextAt = 1, at, 500, retry
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Errorf("RetryDelivery = %+v, %v; want %+v", got, err, want)
	}
	if got := delivery(t, db, "wh_a", "evt_1"); !reflect.DeepEqual(got, want) {
		t.Errorf("after the retry = %+v; want %+v", got, want)
	}
	// Leased (until now+1h) and retried: the lease is gone.
	leased := delivery(t, db, "wh_a", "evt_2")
	if _, err := db.RetryDelivery(ctx, "wh_a", leased.ID, retry, auditEntry(credit.AuditWebhookRetry, leased.ID)); err != nil {
		t.Fatal(err)
	}
	if got := claimed(mustClaim(t, db, retry, retry.Add(time.Minute), 100)); !reflect.DeepEqual(got, []string{"wh_a/evt_1", "wh_a/evt_2"}) {
		t.Errorf("claim after the retries = %v; want both of wh_a's", got)
	}

	_, err = db.RetryDelivery(ctx, "wh_b", failed.ID, retry, auditEntry(credit.AuditWebhookRetry, failed.ID))
	wantError(t, "RetryDelivery(wh_a's delivery as wh_b's)", err, credit.NotFound, "unknown_delivery")
	_, err = db.RetryDelivery(ctx, "wh_a", "whd_none", retry, auditEntry(credit.AuditWebhookRetry, "whd_none"))
	wantError(t, "RetryDelivery(whd_none)", err, credit.NotFound, "unknown_delivery")
	mustView(t, db, func(tx credit.Tx) error {
		log, err := tx.AuditLog(0, 10)
		if err != nil {
			return err
		}
		var got []string
		for _, e := range log {
			got = append(got, e.Action+" "+e.Target)
		}
		if want := []string{"webhook.retry " + leased.ID, "webhook.retry " + failed.ID, "webhook.create wh_b", "webhook.create wh_a"}; !reflect.DeepEqual(got, want) {
			t.Errorf("AuditLog = %v; want %v", got, want)
		}
		return nil
	})
}

// TestDeliveriesQuery: deliveries come newest first, by endpoint, by
// account, before a delivery, a page at a time.
func TestDeliveriesQuery(t *testing.T) {
	db := MustOpenDB(t)
	mustInsertWebhook(t, db, webhook("wh_a", t0, "*"))
	mustInsertWebhook(t, db, webhook("wh_b", t0, credit.EventGrantCreated))
	// One event a minute, scheduled at once: the deliveries of each later
	// event have later ids.
	for i, e := range []credit.Event{
		event("evt_0", credit.EventGrantCreated, "acme", t0, `{}`),
		event("evt_1", credit.EventBalanceLow, "bolt", t0, `{}`),
		event("evt_2", credit.EventGrantCreated, "acme", t0, `{}`),
		event("evt_3", credit.EventGrantCreated, "bolt", t0, `{}`),
		event("evt_4", credit.EventCatalogPublished, "", t0, `{}`),
	} {
		addEvents(t, db, e.Account, e)
		mustSchedule(t, db, t0.Add(time.Duration(i+1)*time.Minute), 100)
	}
	events := func(ds []credit.Delivery) []string {
		var out []string
		for _, d := range ds {
			out = append(out, d.Event)
		}
		return out
	}
	all := mustDeliveries(t, db, credit.DeliveryQuery{Limit: 100})
	if !slices.IsSortedFunc(all, func(a, b credit.Delivery) int { return cmp.Compare(b.ID, a.ID) }) {
		t.Errorf("Deliveries() = %v; want newest (greatest id) first", all)
	}
	if got, want := pairs(all), []string{"wh_a/evt_0", "wh_a/evt_1", "wh_a/evt_2", "wh_a/evt_3", "wh_a/evt_4", "wh_b/evt_0", "wh_b/evt_2", "wh_b/evt_3"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Deliveries() = %v; want %v", got, want)
	}
	var paged []credit.Delivery
	for before := ""; ; {
		page := mustDeliveries(t, db, credit.DeliveryQuery{Before: before, Limit: 3})
		if len(page) == 0 {
			break
		}
		if len(page) > 3 {
			t.Fatalf("a page of 3 has %d", len(page))
		}
		paged = append(paged, page...)
		before = page[len(page)-1].ID
	}
	if !reflect.DeepEqual(paged, all) {
		t.Errorf("pages of 3 = %v; want %v", pairs(paged), pairs(all))
	}
	a := mustDeliveries(t, db, credit.DeliveryQuery{Webhook: "wh_a", Limit: 100})
	for _, tc := range []struct {
		name string
		q    credit.DeliveryQuery
		want []string
	}{
		{"wh_a", credit.DeliveryQuery{Webhook: "wh_a", Limit: 100}, []string{"evt_4", "evt_3", "evt_2", "evt_1", "evt_0"}},
		{"wh_a, 2", credit.DeliveryQuery{Webhook: "wh_a", Limit: 2}, []string{"evt_4", "evt_3"}},
		{"wh_a before evt_2's", credit.DeliveryQuery{Webhook: "wh_a", Before: a[2].ID, Limit: 100}, []string{"evt_1", "evt_0"}},
		{"wh_b", credit.DeliveryQuery{Webhook: "wh_b", Limit: 100}, []string{"evt_3", "evt_2", "evt_0"}},
		{"wh_a of bolt", credit.DeliveryQuery{Webhook: "wh_a", Account: "bolt", Limit: 100}, []string{"evt_3", "evt_1"}},
		{"wh_b of acme", credit.DeliveryQuery{Webhook: "wh_b", Account: "acme", Limit: 100}, []string{"evt_2", "evt_0"}},
		{"wh_x", credit.DeliveryQuery{Webhook: "wh_x", Limit: 100}, nil},
	} {
		if got := events(mustDeliveries(t, db, tc.q)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Deliveries(%s) = %v; want %v", tc.name, got, tc.want)
		}
	}
	bolt := mustDeliveries(t, db, credit.DeliveryQuery{Account: "bolt", Limit: 100})
	if got := pairs(bolt); !reflect.DeepEqual(got, []string{"wh_a/evt_1", "wh_a/evt_3", "wh_b/evt_3"}) {
		t.Errorf("Deliveries(bolt) = %v; want wh_a/evt_1, wh_a/evt_3, wh_b/evt_3", got)
	}
	if len(bolt) == 3 && bolt[2].Event != "evt_1" {
		t.Errorf("Deliveries(bolt) = %v; want evt_1's last (oldest)", events(bolt))
	}
}

// TestOutboxLag: the lag is the age of the oldest event a live endpoint
// waits for, pending or not yet scheduled; 0 when there is none, or when it
// is not in the past.
func TestOutboxLag(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	lag := func(now time.Time) time.Duration {
		t.Helper()
		d, err := db.OutboxLag(ctx, now)
		if err != nil {
			t.Fatalf("OutboxLag = %v", err)
		}
		return d
	}
	check := func(when string, now time.Time, want time.Duration) {
		t.Helper()
		if got := lag(now); got != want {
			t.Errorf("%s: OutboxLag(%v) = %v; want %v", when, now, got, want)
		}
	}
	addEvents(t, db, "acme", event("evt_1", credit.EventGrantCreated, "acme", t0, `{}`))
	check("no endpoint", t0.Add(time.Hour), 0)
	mustInsertWebhook(t, db, webhook("wh_a", t0, credit.EventBalanceLow))
	check("an endpoint made after every event", t0.Add(time.Hour), 0)

	addEvents(t, db, "acme",
		event("evt_2", credit.EventGrantCreated, "acme", t0.Add(10*time.Second), `{}`),
		event("evt_3", credit.EventBalanceLow, "acme", t0.Add(20*time.Second), `{}`))
	now := t0.Add(time.Minute)
	check("two events not scheduled", now, 50*time.Second) // evt_2, though wh_a does not want it
	mustSchedule(t, db, now, 100)
	check("evt_3 pending", now, 40*time.Second)
	check("evt_3 pending, now before it", t0.Add(15*time.Second), 0)
	c := mustClaim(t, db, now, now.Add(time.Hour), 10)
	check("evt_3 claimed", now, 40*time.Second)
	if err := db.FinishAttempt(ctx, credit.Attempt{Delivery: c[0].Delivery.ID, Webhook: "wh_a", At: now, Status: 204, Outcome: credit.DeliveryDelivered}); err != nil {
		t.Fatal(err)
	}
	check("evt_3 delivered", now, 0)

	// A disabled endpoint's pending deliveries and unscheduled events count
	// for nothing.
	mustInsertWebhook(t, db, webhook("wh_b", t0, "*"))
	addEvents(t, db, "acme",
		event("evt_4", credit.EventGenerationCreated, "acme", t0.Add(30*time.Second), `{}`),
		event("evt_5", credit.EventGenerationCreated, "acme", t0.Add(31*time.Second), `{}`))
	mustSchedule(t, db, now, 100)
	check("wh_b's two pending", now, 30*time.Second)
	b4 := delivery(t, db, "wh_b", "evt_4")
	if err := db.FinishAttempt(ctx, credit.Attempt{Delivery: b4.ID, Webhook: "wh_b", At: now, Status: 410, Outcome: credit.DeliveryFailed,
		Disable: true, DisableReason: "gone"}); err != nil {
		t.Fatal(err)
	}
	check("wh_b disabled with evt_5 pending", now, 0)
	addEvents(t, db, "acme", event("evt_6", credit.EventGenerationCreated, "acme", t0.Add(45*time.Second), `{}`))
	check("evt_6 after wh_a's place", now, 15*time.Second)
	if err := db.DeleteWebhook(ctx, "wh_a", now, auditEntry(credit.AuditWebhookDelete, "wh_a")); err != nil {
		t.Fatal(err)
	}
	check("every endpoint deleted or disabled", now, 0)
}

// TestOpenHolds counts the open holds of every account, and no other.
func TestOpenHolds(t *testing.T) {
	db := MustOpenDB(t)
	newAccount(t, db, "acme", 0, credit.Whole(10))
	newAccount(t, db, "bolt", 0, credit.Whole(10))
	hold := func(id, account string, status credit.HoldStatus) credit.Hold {
		h := credit.Hold{ID: id, Account: account, Amount: credit.Whole(1), Status: status, ExpiresAt: t0.Add(time.Hour), CreatedAt: t0}
		switch status {
		case credit.HoldCaptured:
			h.Captured, h.ResolvedAt = credit.Whole(1), t0
		case credit.HoldReleased, credit.HoldExpired:
			h.Released, h.ResolvedAt = credit.Whole(1), t0
		}
		return h
	}
	count := func() int64 {
		t.Helper()
		n, err := db.OpenHolds(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 0 {
		t.Errorf("OpenHolds() of a new ledger = %d; want 0", n)
	}
	storetest.MustApply(t, db, "acme", &credit.Change{NewHolds: []credit.Hold{
		hold("h1", "acme", credit.HoldOpen), hold("h2", "acme", credit.HoldOpen), hold("h3", "acme", credit.HoldCaptured),
		hold("h4", "acme", credit.HoldReleased), hold("h5", "acme", credit.HoldExpired)}})
	storetest.MustApply(t, db, "bolt", &credit.Change{NewHolds: []credit.Hold{hold("h6", "bolt", credit.HoldOpen)}})
	if n := count(); n != 3 {
		t.Errorf("OpenHolds() = %d; want 3 (h1, h2, h6)", n)
	}
	h1 := hold("h1", "acme", credit.HoldReleased)
	storetest.MustApply(t, db, "acme", &credit.Change{Holds: []credit.Hold{h1}})
	if n := count(); n != 2 {
		t.Errorf("OpenHolds() after h1 was released = %d; want 2", n)
	}
}
