package postgres_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/postgres"
	"github.com/tally-credits/tally/internal/postgres/pgtest"
)

// audit is an audit entry of the test's.
func audit(action, target string) credit.AuditEntry {
	return credit.AuditEntry{At: t0, Actor: "admin", Action: action, Target: target, Detail: []byte(`{}`)}
}

// endpoint inserts an endpoint wanting types, made at t0.
func endpoint(tb testing.TB, db *postgres.DB, id string, types ...string) credit.Webhook {
	tb.Helper()
	w := credit.Webhook{ID: id, URL: "https://" + id + ".example/hook", Events: types, Description: "d " + id, Secret: "whsec_" + id, CreatedAt: t0}
	if err := db.InsertWebhook(context.Background(), w, audit(credit.AuditWebhookCreate, id)); err != nil {
		tb.Fatalf("InsertWebhook(%s): %v", id, err)
	}
	return w
}

// publish writes events evt_<from> to evt_<to>, of the type types[i %
// len(types)] and of acme, at t0, in one change, and waits until the feed
// answers them.
func publish(tb testing.TB, db *postgres.DB, from, to int, types ...string) []string {
	tb.Helper()
	var evs []credit.Event
	var ids []string
	for i := from; i <= to; i++ {
		id := fmt.Sprintf("evt_%03d", i)
		evs = append(evs, event(id, types[i%len(types)], "acme", t0, fmt.Sprintf(`{"n": %d}`, i)))
		ids = append(ids, id)
	}
	apply(tb, db, "acme", &credit.Change{Events: evs})
	visible(tb, db, ids[len(ids)-1])
	return ids
}

// visible waits until the feed answers the event id.
func visible(tb testing.TB, db *postgres.DB, id string) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		if err := db.Pool().QueryRow(context.Background(), `SELECT count(*) FROM events
			WHERE id = $1 AND tx < pg_snapshot_xmin(pg_current_snapshot())`, id).Scan(&n); err != nil {
			tb.Fatal(err)
		}
		if n == 1 {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("event %s is not in the feed after 10 s", id)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// schedule runs ScheduleDeliveries and checks how many it made.
func schedule(tb testing.TB, db *postgres.DB, now time.Time, limit, want int) {
	tb.Helper()
	if n, err := db.ScheduleDeliveries(context.Background(), now, limit); err != nil || n != want {
		tb.Errorf("ScheduleDeliveries(%d) = %d, %v; want %d", limit, n, err, want)
	}
}

// deliveries returns the deliveries q asks for, by event id.
func deliveries(tb testing.TB, db *postgres.DB, q credit.DeliveryQuery) map[string]credit.Delivery {
	tb.Helper()
	if q.Limit == 0 {
		q.Limit = 1000
	}
	ds, err := db.Deliveries(context.Background(), q)
	if err != nil {
		tb.Fatalf("Deliveries: %v", err)
	}
	out := map[string]credit.Delivery{}
	for _, d := range ds {
		out[d.Event] = d
	}
	return out
}

// claim runs ClaimDeliveries and returns the events of the claims, sorted.
func claim(tb testing.TB, db *postgres.DB, now, until time.Time, limit int) []string {
	tb.Helper()
	cs, err := db.ClaimDeliveries(context.Background(), now, until, limit)
	if err != nil {
		tb.Fatalf("ClaimDeliveries: %v", err)
	}
	var out []string
	for _, c := range cs {
		out = append(out, c.Event.ID)
	}
	slices.Sort(out)
	return out
}

func auditActions(tb testing.TB, db *postgres.DB) []string {
	tb.Helper()
	var out []string
	mustView(tb, db, func(tx credit.Tx) error {
		es, err := tx.AuditLog(0, 100)
		for i := len(es) - 1; i >= 0; i-- {
			out = append(out, es[i].Action+" "+es[i].Target)
		}
		return err
	})
	return out
}

// TestWebhooks_Endpoints: endpoints are stored with their secret, listed
// oldest first, deleted (and then unknown), each action audited in its
// transaction.
func TestWebhooks_Endpoints(t *testing.T) {
	db := pgtest.Open(t)
	ctx := context.Background()
	w1 := endpoint(t, db, "wh_1", credit.EventGrantCreated, credit.EventBalanceLow)
	w2 := endpoint(t, db, "wh_2", "*") // made at the same time: listed by id
	if got, err := db.Webhook(ctx, "wh_1"); err != nil || fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", w1) {
		t.Errorf("Webhook(wh_1) = %+v, %v; want %+v", got, err, w1)
	}
	if got, err := db.Webhooks(ctx); err != nil || fmt.Sprintf("%+v", got) != fmt.Sprintf("%+v", []credit.Webhook{w1, w2}) {
		t.Errorf("Webhooks() = %+v, %v; want wh_1, wh_2", got, err)
	}
	wantError(t, "InsertWebhook(wh_1 again)", db.InsertWebhook(ctx, w1, audit(credit.AuditWebhookCreate, "wh_1")), credit.Conflict, "id_exists")

	if err := db.DeleteWebhook(ctx, "wh_2", t0.Add(time.Second), audit(credit.AuditWebhookDelete, "wh_2")); err != nil {
		t.Fatal(err)
	}
	_, err := db.Webhook(ctx, "wh_2")
	wantError(t, "Webhook(deleted)", err, credit.NotFound, "unknown_webhook")
	_, err = db.Webhook(ctx, "wh_9")
	wantError(t, "Webhook(wh_9)", err, credit.NotFound, "unknown_webhook")
	wantError(t, "DeleteWebhook(deleted)", db.DeleteWebhook(ctx, "wh_2", t0, audit(credit.AuditWebhookDelete, "wh_2")), credit.NotFound, "unknown_webhook")
	wantError(t, "DeleteWebhook(wh_9)", db.DeleteWebhook(ctx, "wh_9", t0, audit(credit.AuditWebhookDelete, "wh_9")), credit.NotFound, "unknown_webhook")
	if got, err := db.Webhooks(ctx); err != nil || len(got) != 1 || got[0].ID != "wh_1" {
		t.Errorf("Webhooks() after a delete = %+v, %v; want wh_1", got, err)
	}
	want := []string{"webhook.create wh_1", "webhook.create wh_2", "webhook.delete wh_2"}
	if got := auditActions(t, db); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("audit log = %v; want %v", got, want)
	}
}

// TestWebhooks_Schedule: an endpoint gets a delivery of each event it
// wants that committed after it was made, once, at most limit events read
// an endpoint a call; disabled and deleted endpoints get none.
func TestWebhooks_Schedule(t *testing.T) {
	db := pgtest.Open(t)
	ctx := context.Background()
	publish(t, db, 0, 0, credit.EventGrantCreated) // before every endpoint
	endpoint(t, db, "wh_grants", credit.EventGrantCreated)
	endpoint(t, db, "wh_all", "*")
	endpoint(t, db, "wh_disabled", "*")
	endpoint(t, db, "wh_deleted", "*")
	if _, err := db.Pool().Exec(ctx, `UPDATE webhooks SET disabled_at = $1 WHERE id = 'wh_disabled'`, t0); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteWebhook(ctx, "wh_deleted", t0, audit(credit.AuditWebhookDelete, "wh_deleted")); err != nil {
		t.Fatal(err)
	}
	// evt_001 grant.created, evt_002 balance.low, evt_003 grant.created.
	publish(t, db, 1, 3, credit.EventBalanceLow, credit.EventGrantCreated)
	t1 := t0.Add(time.Minute)
	schedule(t, db, t1, 100, 2+3)
	schedule(t, db, t1, 100, 0)
	got := deliveries(t, db, credit.DeliveryQuery{Webhook: "wh_grants"})
	if len(got) != 2 {
		t.Fatalf("wh_grants' deliveries = %+v; want evt_001 and evt_003", got)
	}
	for _, id := range []string{"evt_001", "evt_003"} {
		d := got[id]
		if d.Webhook != "wh_grants" || d.EventType != credit.EventGrantCreated || d.Account != "acme" || d.Status != credit.DeliveryPending ||
			d.Attempts != 0 || !d.NextAt.Equal(t1) || !d.CreatedAt.Equal(t1) || !d.LastAttemptAt.IsZero() || !d.DeliveredAt.IsZero() || len(d.ID) < 5 || d.ID[:4] != "whd_" {
			t.Errorf("delivery of %s = %+v; want a pending one of wh_grants, due and made at t1", id, d)
		}
	}
	if n := len(deliveries(t, db, credit.DeliveryQuery{Webhook: "wh_all"})); n != 3 {
		t.Errorf("wh_all has %d deliveries; want 3", n)
	}
	for _, w := range []string{"wh_disabled", "wh_deleted"} {
		if n := len(deliveries(t, db, credit.DeliveryQuery{Webhook: w})); n != 0 {
			t.Errorf("%s has %d deliveries; want none", w, n)
		}
	}

	// Two events read an endpoint a call: evt_004 grant.created, evt_005
	// balance.low, then evt_006 grant.created.
	publish(t, db, 4, 6, credit.EventGrantCreated, credit.EventBalanceLow)
	schedule(t, db, t1, 2, 1+2)
	schedule(t, db, t1, 2, 1+1)
	schedule(t, db, t1, 2, 0)
	if n := len(deliveries(t, db, credit.DeliveryQuery{Webhook: "wh_grants"})); n != 4 {
		t.Errorf("wh_grants has %d deliveries; want 4", n)
	}
}

// TestWebhooks_ScheduleConcurrent: nodes scheduling at once make exactly
// one delivery of each event an endpoint wants.
func TestWebhooks_ScheduleConcurrent(t *testing.T) {
	db := pgtest.Open(t)
	endpoint(t, db, "wh_all", "*")
	endpoint(t, db, "wh_grants", credit.EventGrantCreated)
	// 200 events, every other one grant.created: 200 + 100 deliveries.
	for i := 0; i < 200; i += 50 {
		publish(t, db, i, i+49, credit.EventGrantCreated, credit.EventBalanceLow)
	}
	const want = 300
	var made atomic.Int64
	var wg sync.WaitGroup
	start := make(chan struct{})
	deadline := time.Now().Add(30 * time.Second)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			for made.Load() < want && time.Now().Before(deadline) {
				n, err := db.ScheduleDeliveries(context.Background(), t0, 7)
				if err != nil {
					t.Errorf("ScheduleDeliveries: %v", err)
					return
				}
				made.Add(int64(n))
			}
		}()
	}
	close(start)
	wg.Wait()
	schedule(t, db, t0, 1000, 0)
	if made.Load() != want {
		t.Errorf("the schedulers made %d deliveries; want %d", made.Load(), want)
	}
	var n, pairs, grants int
	if err := db.Pool().QueryRow(context.Background(), `SELECT count(*), count(DISTINCT (webhook, event)),
			count(*) FILTER (WHERE webhook = 'wh_grants' AND event_type = 'grant.created') FROM deliveries`).Scan(&n, &pairs, &grants); err != nil {
		t.Fatal(err)
	}
	if n != want || pairs != want || grants != 100 {
		t.Errorf("deliveries: %d, of %d endpoint and event pairs, %d of wh_grants' grant.created; want %d, %d, 100", n, pairs, grants, want, want)
	}
}

// TestWebhooks_Claim: claims at once never take the same delivery; a
// lease keeps a delivery from every claim until it ends; a claim carries
// the event, byte for byte, and the endpoint's URL and secret.
func TestWebhooks_Claim(t *testing.T) {
	db := pgtest.Open(t)
	w := endpoint(t, db, "wh_all", "*")
	publish(t, db, 0, 99, credit.EventGrantCreated)
	schedule(t, db, t0, 1000, 100)
	until := t0.Add(time.Minute)

	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				cs, err := db.ClaimDeliveries(context.Background(), t0, until, 7)
				if err != nil {
					t.Errorf("ClaimDeliveries: %v", err)
					return
				}
				if len(cs) == 0 {
					return
				}
				mu.Lock()
				for _, c := range cs {
					seen[c.Delivery.ID]++
					n := c.Event.ID[len("evt_"):]
					if c.Delivery.Event != c.Event.ID || c.Event.Type != credit.EventGrantCreated || c.Event.Account != "acme" ||
						string(c.Event.Data) != `{"n": `+fmt.Sprint(atoi(n))+`}` || c.URL != w.URL || c.Secret != w.Secret || c.Event.Cursor == "" {
						t.Errorf("claim = %+v (data %s); want its event, the URL and the secret", c, c.Event.Data)
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != 100 {
		t.Errorf("claims took %d deliveries; want all 100", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("delivery %s was claimed %d times under one lease", id, n)
		}
	}
	if got := claim(t, db, t0.Add(59*time.Second), t0.Add(2*time.Minute), 1000); len(got) != 0 {
		t.Errorf("a claim before the leases end took %v", got)
	}
	if got := claim(t, db, until, t0.Add(2*time.Minute), 1000); len(got) != 100 {
		t.Errorf("a claim once the leases ended took %d; want all 100 again", len(got))
	}
}

// TestWebhooks_Attempts: FinishAttempt records each outcome and ends the
// lease; a pending delivery is claimed again at its NextAt, the most
// overdue first; a 410 disables the endpoint, whose deliveries are then
// neither made nor claimed; RetryDelivery makes any delivery of the
// endpoint due again.
func TestWebhooks_Attempts(t *testing.T) {
	db := pgtest.Open(t)
	ctx := context.Background()
	endpoint(t, db, "wh_1", "*")
	endpoint(t, db, "wh_2", "*")
	publish(t, db, 1, 3, credit.EventGrantCreated)
	schedule(t, db, t0, 100, 6)
	if got := claim(t, db, t0, t0.Add(time.Hour), 100); len(got) != 6 {
		t.Fatalf("claimed %v; want all 6", got)
	}
	d := deliveries(t, db, credit.DeliveryQuery{Webhook: "wh_1"})
	finish := func(a credit.Attempt) {
		t.Helper()
		a.Webhook = "wh_1"
		if err := db.FinishAttempt(ctx, a); err != nil {
			t.Fatalf("FinishAttempt(%+v): %v", a, err)
		}
	}
	s := time.Second
	// evt_001: 503, again at t0+20s; evt_002: timed out, again at t0+15s.
	finish(credit.Attempt{Delivery: d["evt_001"].ID, At: t0.Add(s), Status: 503, Outcome: credit.DeliveryPending, NextAt: t0.Add(20 * s)})
	finish(credit.Attempt{Delivery: d["evt_002"].ID, At: t0.Add(2 * s), Error: "timeout", Outcome: credit.DeliveryPending, NextAt: t0.Add(15 * s)})
	got := deliveries(t, db, credit.DeliveryQuery{Webhook: "wh_1"})["evt_001"]
	if got.Status != credit.DeliveryPending || got.Attempts != 1 || got.LastStatus != 503 || got.LastError != "" ||
		!got.LastAttemptAt.Equal(t0.Add(s)) || !got.NextAt.Equal(t0.Add(20*s)) || !got.DeliveredAt.IsZero() {
		t.Errorf("after a 503: %+v; want pending, 1 attempt, 503, due at t0+20s", got)
	}
	if got := claim(t, db, t0.Add(14*s), t0.Add(time.Hour), 100); len(got) != 0 {
		t.Errorf("claim at t0+14s = %v; want none (not due, or leased)", got)
	}
	cs, err := db.ClaimDeliveries(ctx, t0.Add(30*s), t0.Add(40*s), 1)
	if err != nil || len(cs) != 1 || cs[0].Event.ID != "evt_002" {
		t.Errorf("ClaimDeliveries(t0+30s, limit 1) = %+v, %v; want evt_002's, due first", cs, err)
	}
	if got := claim(t, db, t0.Add(30*s), t0.Add(40*s), 100); fmt.Sprint(got) != "[evt_001]" {
		t.Errorf("claim at t0+30s = %v; want [evt_001]", got)
	}

	// Delivered; failed for good.
	finish(credit.Attempt{Delivery: d["evt_001"].ID, At: t0.Add(31 * s), Status: 200, Outcome: credit.DeliveryDelivered})
	finish(credit.Attempt{Delivery: d["evt_002"].ID, At: t0.Add(32 * s), Status: 500, Error: "HTTP 500", Outcome: credit.DeliveryFailed})
	got1 := deliveries(t, db, credit.DeliveryQuery{Webhook: "wh_1"})
	if g := got1["evt_001"]; g.Status != credit.DeliveryDelivered || g.Attempts != 2 || g.LastStatus != 200 || !g.DeliveredAt.Equal(t0.Add(31*s)) || !g.NextAt.IsZero() {
		t.Errorf("delivered: %+v; want delivered at t0+31s after 2 attempts", g)
	}
	if g := got1["evt_002"]; g.Status != credit.DeliveryFailed || g.Attempts != 2 || g.LastStatus != 500 || g.LastError != "HTTP 500" || !g.DeliveredAt.IsZero() {
		t.Errorf("failed: %+v; want failed after 2 attempts, HTTP 500", g)
	}
	if got := claim(t, db, t0.Add(time.Hour), t0.Add(2*time.Hour), 100); len(got) != 4 {
		t.Errorf("claim at t0+1h = %v; want the 4 leased until then (wh_1's evt_003, wh_2's 3)", got)
	}
	wantError(t, "FinishAttempt(unknown)", db.FinishAttempt(ctx, credit.Attempt{Delivery: "whd_none", At: t0, Outcome: credit.DeliveryDelivered}), credit.NotFound, "unknown_delivery")

	// Retried: the failed one and the leased one are due at once; another
	// endpoint's, or none, is unknown.
	r, err := db.RetryDelivery(ctx, "wh_1", d["evt_002"].ID, t0.Add(100*time.Minute), audit(credit.AuditWebhookRetry, "wh_1"))
	if err != nil || r.ID != d["evt_002"].ID || r.Status != credit.DeliveryPending || !r.NextAt.Equal(t0.Add(100*time.Minute)) || r.Attempts != 2 || r.LastError != "HTTP 500" {
		t.Errorf("RetryDelivery(failed) = %+v, %v; want it pending, due at t0+100m, its 2 attempts kept", r, err)
	}
	// evt_003's, leased until t0+2h.
	if _, err := db.RetryDelivery(ctx, "wh_1", d["evt_003"].ID, t0.Add(90*time.Minute), audit(credit.AuditWebhookRetry, "wh_1")); err != nil {
		t.Fatal(err)
	}
	if got := claim(t, db, t0.Add(110*time.Minute), t0.Add(3*time.Hour), 100); fmt.Sprint(got) != "[evt_002 evt_003]" {
		t.Errorf("claim at t0+110m, after the retries = %v; want wh_1's [evt_002 evt_003], not wh_2's, leased until t0+2h", got)
	}
	_, err = db.RetryDelivery(ctx, "wh_2", d["evt_002"].ID, t0, audit(credit.AuditWebhookRetry, "wh_2"))
	wantError(t, "RetryDelivery(another endpoint's)", err, credit.NotFound, "unknown_delivery")
	_, err = db.RetryDelivery(ctx, "wh_1", "whd_none", t0, audit(credit.AuditWebhookRetry, "wh_1"))
	wantError(t, "RetryDelivery(none)", err, credit.NotFound, "unknown_delivery")

	// 410: wh_2 is disabled, and its deliveries stop.
	d2 := deliveries(t, db, credit.DeliveryQuery{Webhook: "wh_2"})
	if err := db.FinishAttempt(ctx, credit.Attempt{Delivery: d2["evt_001"].ID, Webhook: "wh_2", At: t0.Add(3 * time.Hour), Status: 410,
		Outcome: credit.DeliveryFailed, Disable: true, DisableReason: "the endpoint answered 410 Gone"}); err != nil {
		t.Fatal(err)
	}
	w2, err := db.Webhook(ctx, "wh_2")
	if err != nil || !w2.DisabledAt.Equal(t0.Add(3*time.Hour)) || w2.DisabledReason != "the endpoint answered 410 Gone" {
		t.Errorf("Webhook(wh_2) after a 410 = %+v, %v; want disabled at t0+3h", w2, err)
	}
	if got := claim(t, db, t0.Add(4*time.Hour), t0.Add(5*time.Hour), 100); fmt.Sprint(got) != "[evt_002 evt_003]" {
		t.Errorf("claim at t0+4h = %v; want wh_1's two, none of disabled wh_2's", got)
	}
	publish(t, db, 4, 4, credit.EventGrantCreated)
	schedule(t, db, t0, 100, 1)
	want := []string{"webhook.create wh_1", "webhook.create wh_2", "webhook.retry wh_1", "webhook.retry wh_1"}
	if got := auditActions(t, db); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("audit log = %v; want %v", got, want)
	}
}

// TestWebhooks_Deliveries: the log, newest first, of an endpoint, of an
// account, or all, in pages.
func TestWebhooks_Deliveries(t *testing.T) {
	db := pgtest.Open(t)
	ctx := context.Background()
	endpoint(t, db, "wh_1", "*")
	endpoint(t, db, "wh_2", "*")
	if _, err := db.Pool().Exec(ctx, `INSERT INTO deliveries (id, webhook, event, event_type, account, status, next_at, created_at)
		VALUES ('whd_1', 'wh_1', 'evt_1', 'balance.low', 'acme', 'pending', $1, $1),
			('whd_2', 'wh_2', 'evt_1', 'balance.low', 'acme', 'pending', $1, $1),
			('whd_3', 'wh_1', 'evt_2', 'grant.created', 'other', 'pending', $1, $1),
			('whd_4', 'wh_1', 'evt_3', 'catalog.published', '', 'pending', $1, $1),
			('whd_5', 'wh_2', 'evt_4', 'grant.created', 'acme', 'pending', $1, $1)`, t0); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		q    credit.DeliveryQuery
		want string
	}{
		{credit.DeliveryQuery{Limit: 10}, "[whd_5 whd_4 whd_3 whd_2 whd_1]"},
		{credit.DeliveryQuery{Limit: 2}, "[whd_5 whd_4]"},
		{credit.DeliveryQuery{Before: "whd_4", Limit: 2}, "[whd_3 whd_2]"},
		{credit.DeliveryQuery{Before: "whd_2", Limit: 2}, "[whd_1]"},
		{credit.DeliveryQuery{Webhook: "wh_1", Limit: 10}, "[whd_4 whd_3 whd_1]"},
		{credit.DeliveryQuery{Webhook: "wh_1", Before: "whd_4", Limit: 1}, "[whd_3]"},
		{credit.DeliveryQuery{Account: "acme", Limit: 10}, "[whd_5 whd_2 whd_1]"},
		{credit.DeliveryQuery{Webhook: "wh_2", Account: "acme", Limit: 10}, "[whd_5 whd_2]"},
		{credit.DeliveryQuery{Webhook: "wh_9", Limit: 10}, "[]"},
	} {
		ds, err := db.Deliveries(ctx, c.q)
		ids := []string{}
		for _, d := range ds {
			ids = append(ids, d.ID)
		}
		if err != nil || fmt.Sprint(ids) != c.want {
			t.Errorf("Deliveries(%+v) = %v, %v; want %s", c.q, ids, err, c.want)
		}
	}
}

// TestGauges: OutboxLag is the age of the oldest event a live endpoint
// has not been answered 2xx for, pending or not yet scheduled; OpenHolds
// counts open holds.
func TestGauges(t *testing.T) {
	db := pgtest.Open(t)
	ctx := context.Background()
	newAccount(t, db, "acme", 0, 0)
	s := time.Second
	now := t0.Add(60 * s)
	lag := func(what string, at time.Time, want time.Duration) {
		t.Helper()
		if got, err := db.OutboxLag(ctx, at); err != nil || got != want {
			t.Errorf("OutboxLag(%s) = %v, %v; want %v", what, got, err, want)
		}
	}
	at := func(id string, offset time.Duration) {
		t.Helper()
		apply(t, db, "acme", &credit.Change{Events: []credit.Event{event(id, credit.EventGrantCreated, "acme", t0.Add(offset), `{}`)}})
		visible(t, db, id)
	}
	deliver := func(webhook, event string, outcome credit.DeliveryStatus, disable bool) {
		t.Helper()
		d := deliveries(t, db, credit.DeliveryQuery{Webhook: webhook})[event]
		if err := db.FinishAttempt(ctx, credit.Attempt{Delivery: d.ID, Webhook: webhook, At: now, Status: 200, Outcome: outcome,
			NextAt: now.Add(time.Hour), Disable: disable}); err != nil {
			t.Fatal(err)
		}
	}
	at("evt_1", 0)
	lag("no endpoint", now, 0)
	endpoint(t, db, "wh_1", "*")
	lag("nothing after wh_1's place", now, 0)
	at("evt_2", 10*s)
	at("evt_3", 20*s)
	lag("evt_2, not yet scheduled", now, 50*s)
	schedule(t, db, t0.Add(30*s), 100, 2)
	lag("evt_2, pending", now, 50*s)
	deliver("wh_1", "evt_2", credit.DeliveryDelivered, false)
	lag("evt_3, pending", now, 40*s)
	at("evt_4", 5*s) // older than evt_3, after wh_1's place
	lag("evt_4, not yet scheduled", now, 55*s)
	schedule(t, db, now, 100, 1)
	deliver("wh_1", "evt_3", credit.DeliveryDelivered, false)
	deliver("wh_1", "evt_4", credit.DeliveryFailed, false)
	lag("none pending", now, 0)

	endpoint(t, db, "wh_2", "*")
	at("evt_5", 40*s)
	schedule(t, db, now, 100, 2)
	deliver("wh_1", "evt_5", credit.DeliveryDelivered, false)
	lag("wh_2's evt_5", now, 20*s)
	lag("before evt_5's time", t0.Add(30*s), 0)
	deliver("wh_2", "evt_5", credit.DeliveryPending, true)
	lag("wh_2 disabled", now, 0)
	at("evt_6", 45*s)
	lag("evt_6 after wh_1's place", now, 15*s)
	if err := db.DeleteWebhook(ctx, "wh_1", now, audit(credit.AuditWebhookDelete, "wh_1")); err != nil {
		t.Fatal(err)
	}
	lag("no live endpoint", now, 0)

	// Open holds: 2 of acme's, 1 of other's; a captured and a released
	// one are not.
	newAccount(t, db, "other", 0, 0)
	hold := func(id, account string, status credit.HoldStatus) credit.Hold {
		h := credit.Hold{ID: id, Account: account, Amount: 5, Status: status, ExpiresAt: t0.Add(time.Hour), CreatedAt: t0}
		switch status {
		case credit.HoldCaptured:
			h.Captured, h.ResolvedAt = 5, t0
		case credit.HoldReleased:
			h.Released, h.ResolvedAt = 5, t0
		}
		return h
	}
	apply(t, db, "acme", &credit.Change{NewHolds: []credit.Hold{hold("hld_1", "acme", credit.HoldOpen), hold("hld_2", "acme", credit.HoldOpen),
		hold("hld_3", "acme", credit.HoldCaptured), hold("hld_4", "acme", credit.HoldReleased)}})
	apply(t, db, "other", &credit.Change{NewHolds: []credit.Hold{hold("hld_5", "other", credit.HoldOpen)}})
	if n, err := db.OpenHolds(ctx); err != nil || n != 3 {
		t.Errorf("OpenHolds() = %d, %v; want 3", n, err)
	}
}

func atoi(s string) int {
	n := 0
	for _, c := range s {
		n = n*10 + int(c-'0')
	}
	return n
}
