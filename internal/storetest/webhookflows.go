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

// The webhook store (credit.WebhookStore, credit.Gauges) on a real store:
// endpoints made at the feed's head, deliveries scheduled once however
// many nodes schedule, leases that keep a delivery to one node until they
// end, attempts, retries and the delivery log. The ledger's events are
// made by ledger writes; the store's calls are made straight, as the
// sender (internal/webhook) makes them.
func webhookFlows() []flow {
	return []flow{
		{name: "WebhookEndpoints", fn: flowWebhookEndpoints},
		{name: "WebhookSchedule", fn: flowWebhookSchedule},
		{name: "WebhookClaims", fn: flowWebhookClaims},
	}
}

// webhookStore returns the store's WebhookStore (under the suite's
// wrappers).
func webhookStore(t testing.TB, s credit.Store) credit.WebhookStore {
	t.Helper()
	ws, ok := unwrap(s).(credit.WebhookStore)
	if !ok {
		t.Fatalf("store %T is not a credit.WebhookStore", unwrap(s))
	}
	return ws
}

// newWebhook makes an endpoint wanting types at now, with its audit entry.
func (e *env) newWebhook(ws credit.WebhookStore, url string, types ...string) credit.Webhook {
	e.t.Helper()
	now := e.clock.Now()
	w := credit.Webhook{ID: credit.NewID("wh", now), URL: url, Events: types, Description: "test " + url,
		Secret: "whsec_" + strings.Repeat("A", 43) + "=", CreatedAt: now}
	a := credit.AuditEntry{At: now, Actor: "key_test", Action: credit.AuditWebhookCreate, Target: w.ID, Detail: []byte(`{"url":"` + url + `"}`)}
	if err := ws.InsertWebhook(e.ctx, w, a); err != nil {
		e.t.Fatalf("InsertWebhook(%s) = %v", url, err)
	}
	return w
}

func webhookText(w credit.Webhook) string {
	return fmt.Sprintf("%s %s %v %q created %s disabled %s %q", w.ID, w.URL, w.Events, w.Description, timeText(w.CreatedAt), timeText(w.DisabledAt), w.DisabledReason)
}

func deliveryText(d credit.Delivery) string {
	return fmt.Sprintf("%s of %s: event %s (%s of %q) %s, %d attempts, next %s, last %s %d %q, created %s, delivered %s", d.ID, d.Webhook, d.Event, d.EventType,
		d.Account, d.Status, d.Attempts, timeText(d.NextAt), timeText(d.LastAttemptAt), d.LastStatus, d.LastError, timeText(d.CreatedAt), timeText(d.DeliveredAt))
}

// deliveries returns the deliveries of q, all pages.
func (e *env) deliveries(ws credit.WebhookStore, q credit.DeliveryQuery) []credit.Delivery {
	e.t.Helper()
	if q.Limit == 0 {
		q.Limit = 100
	}
	var out []credit.Delivery
	for {
		page, err := ws.Deliveries(e.ctx, q)
		if err != nil {
			e.t.Fatalf("Deliveries(%+v) = %v", q, err)
		}
		out = append(out, page...)
		if len(page) < q.Limit {
			return out
		}
		q.Before = page[len(page)-1].ID
	}
}

// flowWebhookEndpoints: endpoints are listed oldest first, read by id,
// deleted (then unknown), each change audited.
func flowWebhookEndpoints(t *testing.T, e *env) {
	ws := webhookStore(t, e.store)
	if hs, err := ws.Webhooks(e.ctx); err != nil || len(hs) != 0 {
		t.Fatalf("Webhooks() on a new store = %v, %v; want none", hs, err)
	}
	a := e.newWebhook(ws, "https://a.example/hook", credit.EventGrantCreated, credit.EventBalanceLow)
	e.clock.Add(time.Second)
	b := e.newWebhook(ws, "https://b.example/hook", "*")
	got, err := ws.Webhook(e.ctx, a.ID)
	if err != nil || webhookText(got) != webhookText(a) || got.Secret != a.Secret {
		t.Errorf("Webhook(a) = %s (secret %q), %v; want %s with its secret", webhookText(got), got.Secret, err, webhookText(a))
	}
	hs, err := ws.Webhooks(e.ctx)
	if err != nil || len(hs) != 2 || webhookText(hs[0]) != webhookText(a) || webhookText(hs[1]) != webhookText(b) {
		t.Errorf("Webhooks() = %v, %v; want a, b", hs, err)
	}
	e.clock.Add(time.Second)
	del := credit.AuditEntry{At: e.clock.Now(), Actor: "key_test", Action: credit.AuditWebhookDelete, Target: a.ID, Detail: []byte(`{}`)}
	if err := ws.DeleteWebhook(e.ctx, a.ID, e.clock.Now(), del); err != nil {
		t.Fatalf("DeleteWebhook(a) = %v", err)
	}
	_, err = ws.Webhook(e.ctx, a.ID)
	wantErr(t, "Webhook(a) deleted", err, credit.NotFound, "unknown_webhook")
	err = ws.DeleteWebhook(e.ctx, a.ID, e.clock.Now(), del)
	wantErr(t, "DeleteWebhook(a) twice", err, credit.NotFound, "unknown_webhook")
	_, err = ws.Webhook(e.ctx, "wh_nothing")
	wantErr(t, "Webhook(wh_nothing)", err, credit.NotFound, "unknown_webhook")
	if hs, err := ws.Webhooks(e.ctx); err != nil || len(hs) != 1 || hs[0].ID != b.ID {
		t.Errorf("Webhooks() after the delete = %v, %v; want b only", hs, err)
	}
	log, err := e.ledger.Audit(e.ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, x := range log {
		actions = append(actions, x.Action+" "+x.Target)
	}
	if want := []string{"webhook.delete " + a.ID, "webhook.create " + b.ID, "webhook.create " + a.ID}; !slices.Equal(actions, want) {
		t.Errorf("audit log %v; want %v (newest first)", actions, want)
	}
	gauges, ok := unwrap(e.store).(credit.Gauges)
	if !ok {
		t.Fatalf("store %T is not a credit.Gauges", unwrap(e.store))
	}
	if lag, err := gauges.OutboxLag(e.ctx, e.clock.Now()); err != nil || lag != 0 {
		t.Errorf("OutboxLag with nothing to send = %v, %v; want 0", lag, err)
	}
	e.account("x", 0)
	e.topup("x", 10)
	e.hold("x", credit.Whole(1), time.Hour)
	e.hold("x", credit.Whole(1), time.Hour)
	if n, err := gauges.OpenHolds(e.ctx); err != nil || n != 2 {
		t.Errorf("OpenHolds = %d, %v; want 2", n, err)
	}
}

// schedule runs ScheduleDeliveries from two goroutines (two nodes), again
// and again, until the deliveries of q number want (or ten seconds have
// passed, for a PostgreSQL feed), and returns how many each call said it
// made in all.
func (e *env) schedule(ws credit.WebhookStore, limit int, q credit.DeliveryQuery, want int) int {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	made := 0
	for {
		var mu sync.Mutex
		var wg sync.WaitGroup
		for range 2 {
			wg.Go(func() {
				n, err := ws.ScheduleDeliveries(e.ctx, e.clock.Now(), limit)
				if err != nil {
					e.t.Errorf("ScheduleDeliveries = %v", err)
				}
				mu.Lock()
				made += n
				mu.Unlock()
			})
		}
		wg.Wait()
		if len(e.deliveries(ws, q)) >= want || time.Now().After(deadline) {
			return made
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// flowWebhookSchedule: an endpoint is told the events after its creation
// (none of before), one delivery per event it wants, however many nodes
// schedule at once, a limit of events at a time; a disabled or deleted
// endpoint gets no more.
func flowWebhookSchedule(t *testing.T, e *env) {
	ws := webhookStore(t, e.store)
	e.account("x", 0)
	e.topup("x", 1) // before the endpoints: never delivered
	e.waitFeed(credit.EventQuery{}, 2)
	e.clock.Add(time.Second)
	grants := e.newWebhook(ws, "https://grants.example/hook", credit.EventGrantCreated)
	all := e.newWebhook(ws, "https://all.example/hook", "*")
	e.clock.Add(time.Second)
	made := e.clock.Now()
	e.topup("x", 5) // grant.created
	e.account("y", 0)
	e.topup("y", 3) // grant.created, balance.recovered
	feed := e.waitFeed(credit.EventQuery{}, 5)
	// Schedule one event at a time: the grants endpoint wants two of the
	// three, the other all three.
	e.clock.Add(time.Second)
	scheduled := e.clock.Now()
	n := e.schedule(ws, 1, credit.DeliveryQuery{}, 5)
	if n != 5 {
		t.Errorf("ScheduleDeliveries made %d deliveries in all; want 5 (2 + 3)", n)
	}
	if more := e.schedule(ws, 100, credit.DeliveryQuery{}, 5); more != 0 {
		t.Errorf("ScheduleDeliveries again made %d; want 0", more)
	}
	ids := func(ds []credit.Delivery) []string {
		var out []string
		for _, d := range ds {
			out = append(out, d.EventType+" "+d.Account)
		}
		slices.Sort(out)
		return out
	}
	gd := e.deliveries(ws, credit.DeliveryQuery{Webhook: grants.ID})
	ad := e.deliveries(ws, credit.DeliveryQuery{Webhook: all.ID})
	if got, want := ids(gd), []string{"grant.created x", "grant.created y"}; !slices.Equal(got, want) {
		t.Errorf("the grants endpoint's deliveries: %v; want %v", got, want)
	}
	if got, want := ids(ad), []string{"balance.recovered y", "grant.created x", "grant.created y"}; !slices.Equal(got, want) {
		t.Errorf("the other endpoint's deliveries: %v; want %v", got, want)
	}
	byEvent := map[string]credit.Event{}
	for _, x := range feed {
		byEvent[x.ID] = x
	}
	for _, d := range slices.Concat(gd, ad) {
		x, ok := byEvent[d.Event]
		if !ok || !x.Time.After(made.Add(-time.Nanosecond)) || d.Status != credit.DeliveryPending || d.Attempts != 0 || !d.NextAt.Equal(scheduled) ||
			!d.CreatedAt.Equal(scheduled) || !strings.HasPrefix(d.ID, "whd_") || x.Type != d.EventType || x.Account != d.Account {
			t.Errorf("delivery %s; want a pending delivery of an event after the endpoints were made, due at %s", deliveryText(d), timeText(scheduled))
		}
	}
	// The log: newest first, by endpoint, by account, in pages.
	if got := e.deliveries(ws, credit.DeliveryQuery{Limit: 2}); len(got) != 5 || !slices.IsSortedFunc(got, func(a, b credit.Delivery) int { return strings.Compare(b.ID, a.ID) }) {
		t.Errorf("Deliveries by 2: %d, ids %v; want 5, newest first", len(got), got)
	}
	if got := e.deliveries(ws, credit.DeliveryQuery{Account: "y"}); len(got) != 3 {
		t.Errorf("Deliveries of y: %d; want 3", len(got))
	}
	if got := e.deliveries(ws, credit.DeliveryQuery{Account: "y", Webhook: grants.ID}); len(got) != 1 {
		t.Errorf("Deliveries of y to the grants endpoint: %d; want 1", len(got))
	}
	// Deleted and disabled endpoints get nothing more.
	e.clock.Add(time.Second)
	if err := ws.DeleteWebhook(e.ctx, grants.ID, e.clock.Now(), credit.AuditEntry{At: e.clock.Now(), Actor: "key_test", Action: credit.AuditWebhookDelete, Target: grants.ID, Detail: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	claims, err := ws.ClaimDeliveries(e.ctx, e.clock.Now(), e.clock.Now().Add(time.Minute), 100)
	if err != nil || len(claims) != 3 {
		t.Fatalf("ClaimDeliveries = %d, %v; want the other endpoint's 3 (the deleted one's are never sent)", len(claims), err)
	}
	e.clock.Add(time.Second)
	gone := e.clock.Now()
	if err := ws.FinishAttempt(e.ctx, credit.Attempt{Delivery: claims[0].Delivery.ID, Webhook: all.ID, At: gone, Status: 410, Outcome: credit.DeliveryFailed,
		Disable: true, DisableReason: "410 Gone"}); err != nil {
		t.Fatal(err)
	}
	if w, err := ws.Webhook(e.ctx, all.ID); err != nil || !w.DisabledAt.Equal(gone) || w.DisabledReason != "410 Gone" {
		t.Errorf("Webhook(all) after a 410 = %s, %v; want disabled at %s, 410 Gone", webhookText(w), err, timeText(gone))
	}
	e.topup("x", 1)
	e.waitFeed(credit.EventQuery{}, 6)
	if n := e.schedule(ws, 100, credit.DeliveryQuery{}, 5); n != 0 {
		t.Errorf("ScheduleDeliveries for a disabled and a deleted endpoint made %d; want 0", n)
	}
	e.clock.Add(2 * time.Minute)
	if claims, err := ws.ClaimDeliveries(e.ctx, e.clock.Now(), e.clock.Now().Add(time.Minute), 100); err != nil || len(claims) != 0 {
		t.Errorf("ClaimDeliveries of a disabled endpoint = %d, %v; want none", len(claims), err)
	}
}

// flowWebhookClaims: a lease keeps a delivery to one claimer until it
// ends; attempts record their outcome (delivered, again later, failed); a
// retry makes any delivery pending and due again.
func flowWebhookClaims(t *testing.T, e *env) {
	ws := webhookStore(t, e.store)
	w := e.newWebhook(ws, "https://hook.example/in", "*")
	other := e.newWebhook(ws, "https://other.example/in", credit.EventGrantCreated)
	e.account("x", 0)
	for i := range 4 {
		e.clock.Add(time.Millisecond)
		e.topup("x", int64(1+i)) // 4 grant.created, one balance.recovered
	}
	feed := e.waitFeed(credit.EventQuery{}, 5)
	e.clock.Add(time.Second)
	now := e.clock.Now()
	if n := e.schedule(ws, 100, credit.DeliveryQuery{}, 9); n != 9 {
		t.Fatalf("ScheduleDeliveries made %d; want 9 (5 + 4)", n)
	}
	// Two claimers at once: each delivery leased to one, until now + 30s.
	until := now.Add(30 * time.Second)
	var mu sync.Mutex
	leased := map[string]int{}
	var claims []credit.Claim
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			cs, err := ws.ClaimDeliveries(e.ctx, now, until, 5)
			if err != nil {
				t.Errorf("ClaimDeliveries = %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			for _, c := range cs {
				leased[c.Delivery.ID]++
				claims = append(claims, c)
			}
		})
	}
	wg.Wait()
	for id, n := range leased {
		if n != 1 {
			t.Errorf("delivery %s claimed %d times at once", id, n)
		}
	}
	if len(claims) != 9 {
		// One claimer may take 5 and the other 4 — or the second came late
		// and found nothing left but what the first left: still 9.
		t.Fatalf("two claims of 5 leased %d deliveries; want all 9", len(claims))
	}
	byEvent := map[string]credit.Event{}
	for _, x := range feed {
		byEvent[x.ID] = x
	}
	var mine credit.Claim // a grant.created of w's
	for _, c := range claims {
		x := byEvent[c.Event.ID]
		wantURL, wantSecret := w.URL, w.Secret
		if c.Delivery.Webhook == other.ID {
			wantURL, wantSecret = other.URL, other.Secret
		}
		if c.Event.ID != c.Delivery.Event || string(c.Event.Data) != string(x.Data) || c.Event.Type != x.Type || !c.Event.Time.Equal(x.Time) ||
			c.Event.Account != x.Account || c.URL != wantURL || c.Secret != wantSecret {
			t.Errorf("claim of %s: event %+v, url %s; want event %+v, url %s and its secret", c.Delivery.ID, c.Event, c.URL, x, wantURL)
		}
		if c.Delivery.Webhook == w.ID && c.Event.Type == credit.EventGrantCreated {
			mine = c
		}
	}
	// Leased: nobody else gets them before the lease ends, at or after.
	for _, at := range []time.Time{now, now.Add(29 * time.Second)} {
		if cs, err := ws.ClaimDeliveries(e.ctx, at, at.Add(time.Minute), 100); err != nil || len(cs) != 0 {
			t.Errorf("ClaimDeliveries at %s (leased until %s) = %d, %v; want none", timeText(at), timeText(until), len(cs), err)
		}
	}
	again, err := ws.ClaimDeliveries(e.ctx, until, until.Add(30*time.Second), 100)
	if err != nil || len(again) != 9 {
		t.Fatalf("ClaimDeliveries when the leases end = %d, %v; want 9 again (at least once)", len(again), err)
	}
	// Attempts: failed for now, again in a minute; delivered; failed for
	// good.
	t1 := until.Add(time.Second)
	id := mine.Delivery.ID
	if err := ws.FinishAttempt(e.ctx, credit.Attempt{Delivery: id, Webhook: w.ID, At: t1, Status: 500, Error: "HTTP 500", Outcome: credit.DeliveryPending,
		NextAt: t1.Add(time.Minute)}); err != nil {
		t.Fatal(err)
	}
	find := func(id string) credit.Delivery {
		t.Helper()
		for _, d := range e.deliveries(ws, credit.DeliveryQuery{Webhook: w.ID}) {
			if d.ID == id {
				return d
			}
		}
		t.Fatalf("no delivery %s of %s", id, w.ID)
		return credit.Delivery{}
	}
	d := find(id)
	if d.Status != credit.DeliveryPending || d.Attempts != 1 || d.LastStatus != 500 || d.LastError != "HTTP 500" || !d.LastAttemptAt.Equal(t1) ||
		!d.NextAt.Equal(t1.Add(time.Minute)) || !d.DeliveredAt.IsZero() {
		t.Errorf("after a 500: %s; want pending, 1 attempt, next at %s", deliveryText(d), timeText(t1.Add(time.Minute)))
	}
	// Its lease ended with the attempt, but it is not due before NextAt;
	// the others' leases last until until + 30s, 29 seconds after t1.
	if cs, err := ws.ClaimDeliveries(e.ctx, t1.Add(20*time.Second), t1.Add(2*time.Minute), 100); err != nil || len(cs) != 0 {
		t.Errorf("ClaimDeliveries before it is due = %d, %v; want none", len(cs), err)
	}
	t2 := t1.Add(time.Minute)
	cs, err := ws.ClaimDeliveries(e.ctx, t2, t2.Add(time.Minute), 100)
	if err != nil || len(cs) != 9 {
		t.Fatalf("ClaimDeliveries at %s = %d, %v; want all 9 (due, leases ended)", timeText(t2), len(cs), err)
	}
	for i := 1; i < len(cs); i++ {
		if cs[i].Delivery.NextAt.Before(cs[i-1].Delivery.NextAt) {
			t.Errorf("claims not oldest due first: %s before %s", deliveryText(cs[i-1].Delivery), deliveryText(cs[i].Delivery))
		}
	}
	if err := ws.FinishAttempt(e.ctx, credit.Attempt{Delivery: id, Webhook: w.ID, At: t2, Status: 200, Outcome: credit.DeliveryDelivered}); err != nil {
		t.Fatal(err)
	}
	d = find(id)
	if d.Status != credit.DeliveryDelivered || d.Attempts != 2 || d.LastStatus != 200 || d.LastError != "" || !d.DeliveredAt.Equal(t2) || !d.LastAttemptAt.Equal(t2) {
		t.Errorf("after a 200: %s; want delivered at %s, 2 attempts", deliveryText(d), timeText(t2))
	}
	var failed credit.Delivery
	for _, c := range cs {
		if c.Delivery.ID != id && c.Delivery.Webhook == w.ID {
			failed = c.Delivery
			break
		}
	}
	if err := ws.FinishAttempt(e.ctx, credit.Attempt{Delivery: failed.ID, Webhook: w.ID, At: t2, Error: "connection refused", Outcome: credit.DeliveryFailed}); err != nil {
		t.Fatal(err)
	}
	if d := find(failed.ID); d.Status != credit.DeliveryFailed || d.Attempts != 1 || d.LastStatus != 0 || d.LastError != "connection refused" {
		t.Errorf("after giving up: %s; want failed, 1 attempt, no status", deliveryText(d))
	}
	// Neither is claimed again; the other seven are, when their lease ends.
	t3 := t2.Add(time.Hour)
	cs, err = ws.ClaimDeliveries(e.ctx, t3, t3.Add(time.Minute), 100)
	if err != nil || len(cs) != 7 || slices.ContainsFunc(cs, func(c credit.Claim) bool { return c.Delivery.ID == id || c.Delivery.ID == failed.ID }) {
		t.Errorf("ClaimDeliveries after one delivered and one failed = %d, %v; want the 7 others", len(cs), err)
	}
	// A retry makes each pending and due at once, whatever its status.
	t4 := t3.Add(2 * time.Minute)
	for _, x := range []string{id, failed.ID} {
		a := credit.AuditEntry{At: t4, Actor: "key_test", Action: credit.AuditWebhookRetry, Target: w.ID, Detail: []byte(`{"delivery":"` + x + `"}`)}
		r, err := ws.RetryDelivery(e.ctx, w.ID, x, t4, a)
		if err != nil || r.ID != x || r.Status != credit.DeliveryPending || !r.NextAt.Equal(t4) {
			t.Errorf("RetryDelivery(%s) = %s, %v; want pending, due at %s", x, deliveryText(r), err, timeText(t4))
		}
	}
	cs, err = ws.ClaimDeliveries(e.ctx, t4, t4.Add(time.Minute), 1)
	if err != nil || len(cs) != 1 {
		t.Errorf("ClaimDeliveries(limit 1) = %d, %v; want 1", len(cs), err)
	}
	_, err = ws.RetryDelivery(e.ctx, other.ID, id, t4, credit.AuditEntry{At: t4, Actor: "key_test", Action: credit.AuditWebhookRetry, Target: other.ID, Detail: []byte(`{}`)})
	wantErr(t, "RetryDelivery of another endpoint's delivery", err, credit.NotFound, "unknown_delivery")
	_, err = ws.RetryDelivery(e.ctx, w.ID, "whd_nothing", t4, credit.AuditEntry{At: t4, Actor: "key_test", Action: credit.AuditWebhookRetry, Target: w.ID, Detail: []byte(`{}`)})
	wantErr(t, "RetryDelivery(whd_nothing)", err, credit.NotFound, "unknown_delivery")
	err = ws.FinishAttempt(e.ctx, credit.Attempt{Delivery: "whd_nothing", Webhook: w.ID, At: t4, Status: 200, Outcome: credit.DeliveryDelivered})
	wantErr(t, "FinishAttempt(whd_nothing)", err, credit.NotFound, "unknown_delivery")
	// The gauges: the oldest event not yet delivered is the first grant's.
	gauges := unwrap(e.store).(credit.Gauges)
	oldest := feed[0].Time
	for _, x := range feed {
		if x.Time.Before(oldest) {
			oldest = x.Time
		}
	}
	if lag, err := gauges.OutboxLag(e.ctx, t4); err != nil || lag != t4.Sub(oldest) {
		t.Errorf("OutboxLag at %s = %v, %v; want %v (since %s)", timeText(t4), lag, err, t4.Sub(oldest), timeText(oldest))
	}
}
