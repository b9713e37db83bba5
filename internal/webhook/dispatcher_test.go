package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/sqlite"
	"github.com/tally-credits/tally/internal/webhook"
)

// clock is the test's clock, moved by hand.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is a ledger on a fresh SQLite file, with a test clock that the
// ledger, the dispatchers and the receivers share.
type env struct {
	ctx    context.Context
	db     *sqlite.DB
	clock  *clock
	ledger *credit.Ledger
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ctx := credit.WithActor(context.Background(), "test")
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "tally.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clk := &clock{}
	clk.Set(time.Date(2026, 5, 1, 12, 0, 0, 123456000, time.UTC))
	cat := catalog.Default()
	l := credit.NewLedger(db, credit.LedgerConfig{Now: clk.Now, Catalog: func() *credit.Catalog { return cat }})
	return &env{ctx: ctx, db: db, clock: clk, ledger: l}
}

// dispatcher returns a dispatcher of the env's store on its clock, allowed
// to reach the receivers on 127.0.0.1.
func (e *env) dispatcher(cfg webhook.Config) *webhook.Dispatcher {
	cfg.Store, cfg.Now, cfg.AllowPrivate = e.db, e.clock.Now, true
	return webhook.NewDispatcher(cfg)
}

// addWebhook stores an endpoint for r wanting types (none: every type),
// as the ledger would once the URL passed the guard, and gives r its secret.
func (e *env) addWebhook(t *testing.T, r *receiver, types ...string) credit.Webhook {
	t.Helper()
	if len(types) == 0 {
		types = []string{"*"}
	}
	now := e.clock.Now()
	w := credit.Webhook{ID: credit.NewID("wh", now), URL: r.srv.URL + "/hooks", Events: types, Secret: credit.NewWebhookSecret(), CreatedAt: now}
	a := credit.AuditEntry{At: now, Actor: "test", Action: credit.AuditWebhookCreate, Target: w.ID, Detail: []byte(`{}`)}
	if err := e.db.InsertWebhook(e.ctx, w, a); err != nil {
		t.Fatalf("InsertWebhook = %v", err)
	}
	r.setSecret(w.Secret)
	return w
}

// activity makes events on account: its grant, a generation completed and
// one failed.
func (e *env) activity(t *testing.T, account string) {
	t.Helper()
	if _, err := e.ledger.CreateAccount(e.ctx, nil, account, 0); err != nil {
		t.Fatalf("CreateAccount(%s) = %v", account, err)
	}
	e.grant(t, account)
	for _, complete := range []bool{true, false} {
		g, err := e.ledger.CreateGeneration(e.ctx, nil, credit.GenerationSpec{Account: account, Request: credit.QuoteRequest{Model: "flux-dev", Images: 2}})
		if err != nil {
			t.Fatalf("CreateGeneration(%s) = %v", account, err)
		}
		if complete {
			_, err = e.ledger.CompleteGeneration(e.ctx, nil, g.ID, 2)
		} else {
			_, err = e.ledger.FailGeneration(e.ctx, nil, g.ID)
		}
		if err != nil {
			t.Fatalf("finish generation %s = %v", g.ID, err)
		}
	}
}

// grant gives an existing account 100 credits (one grant.created).
func (e *env) grant(t *testing.T, account string) {
	t.Helper()
	if _, err := e.ledger.AddGrant(e.ctx, nil, account, credit.GrantSpec{Credits: credit.Whole(100), Source: credit.SourceTopup}); err != nil {
		t.Fatalf("AddGrant(%s) = %v", account, err)
	}
}

// events returns the whole feed.
func (e *env) events(t *testing.T) []credit.Event {
	t.Helper()
	var all []credit.Event
	after := ""
	for {
		page, err := e.ledger.Events(e.ctx, credit.EventQuery{After: after, Limit: credit.MaxEvents})
		if err != nil {
			t.Fatalf("Events(after %q) = %v", after, err)
		}
		if len(page) == 0 {
			return all
		}
		all = append(all, page...)
		after = page[len(page)-1].Cursor
	}
}

// deliveries returns an endpoint's deliveries, newest first.
func (e *env) deliveries(t *testing.T, w credit.Webhook) []credit.Delivery {
	t.Helper()
	ds, err := e.db.Deliveries(e.ctx, credit.DeliveryQuery{Webhook: w.ID, Limit: 1000})
	if err != nil {
		t.Fatalf("Deliveries(%s) = %v", w.ID, err)
	}
	return ds
}

// drain runs rounds until one attempts nothing.
func drain(t *testing.T, d *webhook.Dispatcher) {
	t.Helper()
	for range 50 {
		n, err := d.RunOnce(context.Background())
		if err != nil {
			t.Fatalf("RunOnce = %v", err)
		}
		if n == 0 {
			return
		}
	}
	t.Fatal("RunOnce still attempting after 50 rounds")
}

// request is a delivery attempt as a receiver got it.
type request struct {
	header http.Header
	body   []byte
}

// receiver is a studio's endpoint: it verifies every request with verify
// on the shared clock, answers those that fail 400 (and notes them), and
// answers the others with status(n), n being how many verified requests
// of that webhook-id it has had, this one included.
type receiver struct {
	t      *testing.T
	clock  *clock
	srv    *httptest.Server
	status func(n int) int

	mu     sync.Mutex
	secret string
	got    map[string][]request // verified, by webhook-id
	order  []string             // webhook-ids, as they came
	bad    []string             // why requests failed verification
}

func newReceiver(t *testing.T, clk *clock, status func(n int) int) *receiver {
	r := &receiver{t: t, clock: clk, status: status, got: map[string][]request{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func ok(int) int { return http.StatusOK }

func (r *receiver) setSecret(s string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secret = s
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	secret := r.secret
	r.mu.Unlock()
	err := verify(secret, req.Header, body, r.clock.Now())
	if err == nil && (req.Method != http.MethodPost || req.URL.Path != "/hooks" ||
		req.Header.Get("Content-Type") != "application/json" || req.Header.Get("User-Agent") != "tally-webhooks") {
		r.mu.Lock()
		r.bad = append(r.bad, req.Method+" "+req.URL.Path+" "+req.Header.Get("Content-Type")+" "+req.Header.Get("User-Agent"))
		r.mu.Unlock()
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if err != nil {
		r.mu.Lock()
		r.bad = append(r.bad, err.Error())
		r.mu.Unlock()
		http.Error(w, "bad signature", http.StatusBadRequest)
		return
	}
	id := req.Header.Get("webhook-id")
	r.mu.Lock()
	r.got[id] = append(r.got[id], request{header: req.Header.Clone(), body: body})
	r.order = append(r.order, id)
	n := len(r.got[id])
	r.mu.Unlock()
	status := r.status(n)
	w.WriteHeader(status)
	if status == http.StatusInternalServerError {
		io.WriteString(w, "boom\n\x00 and the rest of a long body "+strings.Repeat("x", 300))
	}
}

// requests returns the verified requests of one webhook-id.
func (r *receiver) requests(id string) []request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.got[id])
}

// ids returns the webhook-ids received, sorted, once each.
func (r *receiver) ids() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]string, 0, len(r.got))
	for id := range r.got {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

func (r *receiver) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.order)
}

// checkVerified fails the test if any request failed verification.
func (r *receiver) checkVerified() {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.bad) > 0 {
		r.t.Errorf("receiver refused %d requests: %q", len(r.bad), r.bad)
	}
}

// outcomes counts what an Observer is told.
type outcomes struct {
	mu sync.Mutex
	n  map[string]int
}

func (o *outcomes) Delivery(outcome string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.n == nil {
		o.n = map[string]int{}
	}
	o.n[outcome]++
}

func (o *outcomes) get() map[string]int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return maps.Clone(o.n)
}

func ids(evs []credit.Event, keep func(credit.Event) bool) []string {
	var out []string
	for _, e := range evs {
		if keep(e) {
			out = append(out, e.ID)
		}
	}
	slices.Sort(out)
	return out
}

// TestDeliversEveryEventOnce: every event after an endpoint was made, of
// the types it wants, reaches a healthy receiver exactly once, signed, in
// the feed's form; the events before it never do. Then the receiver's own
// checks refuse a delivery tampered with and one replayed too late.
func TestDeliversEveryEventOnce(t *testing.T) {
	e := newEnv(t)
	if _, err := e.ledger.CreateAccount(e.ctx, nil, "early", 0); err != nil {
		t.Fatal(err)
	}
	e.grant(t, "early")
	before := len(e.events(t))
	if before == 0 {
		t.Fatal("no event before the endpoints were made; want the early grant's")
	}

	all := newReceiver(t, e.clock, ok)
	grants := newReceiver(t, e.clock, ok)
	wAll := e.addWebhook(t, all)
	wGrants := e.addWebhook(t, grants, credit.EventGrantCreated)
	for _, acct := range []string{"alice", "bob", "carol"} {
		e.activity(t, acct)
		e.clock.Add(time.Second)
	}
	e.grant(t, "early")
	feed := e.events(t)[before:]

	seen := &outcomes{}
	d := e.dispatcher(webhook.Config{Workers: 3, Observer: seen})
	drain(t, d)
	all.checkVerified()
	grants.checkVerified()

	wantAll := ids(feed, func(credit.Event) bool { return true })
	wantGrants := ids(feed, func(ev credit.Event) bool { return ev.Type == credit.EventGrantCreated })
	if len(wantAll) < 12 || len(wantGrants) != 4 {
		t.Fatalf("the activity made %d events, %d grant.created; want at least 12, and 4", len(wantAll), len(wantGrants))
	}
	if got := all.ids(); !slices.Equal(got, wantAll) {
		t.Errorf("receiver of * got %d events %v; want %d %v", len(got), got, len(wantAll), wantAll)
	}
	if got := grants.ids(); !slices.Equal(got, wantGrants) {
		t.Errorf("receiver of grant.created got %v; want %v", got, wantGrants)
	}
	if n := all.count() + grants.count(); n != len(wantAll)+len(wantGrants) {
		t.Errorf("receivers got %d requests; want %d, one an event and endpoint", n, len(wantAll)+len(wantGrants))
	}
	if got, want := seen.get(), map[string]int{"delivered": len(wantAll) + len(wantGrants)}; !maps.Equal(got, want) {
		t.Errorf("observer told %v; want %v", got, want)
	}

	// The body is the event as the feed shows it, data byte for byte.
	for _, ev := range feed {
		reqs := all.requests(ev.ID)
		if len(reqs) != 1 {
			continue // reported above
		}
		var body struct {
			ID, Type, Account string
			Time              time.Time
			Data              json.RawMessage
		}
		if err := json.Unmarshal(reqs[0].body, &body); err != nil {
			t.Fatalf("body of %s: %v", ev.ID, err)
		}
		if body.ID != ev.ID || body.Type != ev.Type || body.Account != ev.Account || !body.Time.Equal(ev.Time) || !bytes.Equal(body.Data, ev.Data) {
			t.Errorf("body of %s = %s; want the event %+v", ev.ID, reqs[0].body, ev)
		}
		for _, k := range []string{`"id":`, `"type":`, `"time":`, `"account":`, `"data":`} {
			if !bytes.Contains(reqs[0].body, []byte(k)) {
				t.Errorf("body of %s = %s; want a key %s", ev.ID, reqs[0].body, k)
			}
		}
		if ts := reqs[0].header.Get("webhook-timestamp"); ts != strconv.FormatInt(e.clock.Now().Unix(), 10) {
			t.Errorf("webhook-timestamp of %s = %s; want the attempt's time %d", ev.ID, ts, e.clock.Now().Unix())
		}
	}
	for _, w := range []credit.Webhook{wAll, wGrants} {
		for _, dl := range e.deliveries(t, w) {
			if dl.Status != credit.DeliveryDelivered || dl.Attempts != 1 || dl.LastStatus != 200 || !dl.DeliveredAt.Equal(e.clock.Now()) {
				t.Errorf("delivery %+v; want delivered on its first attempt, 200, now", dl)
			}
		}
	}
	if n, err := d.RunOnce(e.ctx); n != 0 || err != nil {
		t.Errorf("RunOnce after all were delivered = %d, %v; want 0", n, err)
	}

	// A delivery tampered with, or replayed more than 5 minutes on, is
	// refused by the receiver: the signature covers the body and the time.
	orig := all.requests(wantGrants[0])[0]
	tampered := bytes.Replace(orig.body, []byte(`"credits":100`), []byte(`"credits":900`), 1)
	if bytes.Equal(tampered, orig.body) {
		t.Fatalf("body %s has no \"credits\":100 to tamper with", orig.body)
	}
	if err := verify(wAll.Secret, orig.header, tampered, e.clock.Now()); err == nil {
		t.Error("verify(tampered body) = nil; want a refusal")
	}
	replay := func(body []byte) int {
		req, _ := http.NewRequest(http.MethodPost, wAll.URL, bytes.NewReader(body))
		req.Header = orig.header.Clone()
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatalf("replay: %v", err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if got := replay(tampered); got != http.StatusBadRequest {
		t.Errorf("receiver answered a tampered body %d; want 400", got)
	}
	if got := replay(orig.body); got != http.StatusOK {
		t.Errorf("receiver answered the untouched request replayed at once %d; want 200", got)
	}
	e.clock.Add(5*time.Minute + time.Second)
	if err := verify(wAll.Secret, orig.header, orig.body, e.clock.Now()); err == nil {
		t.Error("verify(5m1s old) = nil; want a refusal")
	}
	if got := replay(orig.body); got != http.StatusBadRequest {
		t.Errorf("receiver answered the request replayed 5m1s on %d; want 400", got)
	}
}

// TestRetrySameID: an endpoint that answers 500 is tried again after the
// backoff (5s ±10%), not before, with the same webhook-id and a new
// timestamp, and the second attempt is delivered.
func TestRetrySameID(t *testing.T) {
	e := newEnv(t)
	if _, err := e.ledger.CreateAccount(e.ctx, nil, "alice", 0); err != nil {
		t.Fatal(err)
	}
	r := newReceiver(t, e.clock, func(n int) int {
		if n == 1 {
			return http.StatusInternalServerError
		}
		return http.StatusOK
	})
	w := e.addWebhook(t, r, credit.EventGrantCreated)
	e.grant(t, "alice")
	seen := &outcomes{}
	d := e.dispatcher(webhook.Config{Observer: seen})

	first := e.clock.Now()
	if n, err := d.RunOnce(e.ctx); n != 1 || err != nil {
		t.Fatalf("RunOnce = %d, %v; want 1 attempt", n, err)
	}
	ds := e.deliveries(t, w)
	if len(ds) != 1 {
		t.Fatalf("deliveries = %+v; want 1", ds)
	}
	dl := ds[0]
	if dl.Status != credit.DeliveryPending || dl.Attempts != 1 || dl.LastStatus != 500 || !dl.LastAttemptAt.Equal(first) {
		t.Errorf("after a 500: %+v; want pending, 1 attempt, last status 500 at %s", dl, first)
	}
	if want := "500 Internal Server Error: boom"; !strings.HasPrefix(dl.LastError, want) || len(dl.LastError) > len("500 Internal Server Error: ")+200 || strings.ContainsAny(dl.LastError, "\n\x00") {
		t.Errorf("LastError = %q; want %q and at most 200 bytes of body on one line", dl.LastError, want)
	}
	if lo, hi := first.Add(4500*time.Millisecond), first.Add(5500*time.Millisecond); dl.NextAt.Before(lo) || dl.NextAt.After(hi) {
		t.Errorf("NextAt = first attempt +%s; want 5s ±10%%", dl.NextAt.Sub(first))
	}

	e.clock.Add(4 * time.Second)
	if n, err := d.RunOnce(e.ctx); n != 0 || err != nil {
		t.Errorf("RunOnce 4s on = %d, %v; want 0 (not due)", n, err)
	}
	e.clock.Add(2 * time.Second)
	if n, err := d.RunOnce(e.ctx); n != 1 || err != nil {
		t.Fatalf("RunOnce 6s on = %d, %v; want 1", n, err)
	}
	r.checkVerified()
	reqs := r.requests(dl.Event)
	if len(reqs) != 2 || r.count() != 2 {
		t.Fatalf("receiver got %d requests, %d of %s; want 2, both of the event", r.count(), len(reqs), dl.Event)
	}
	t1, t2 := reqs[0].header.Get("webhook-timestamp"), reqs[1].header.Get("webhook-timestamp")
	if want := strconv.FormatInt(first.Unix()+6, 10); t1 != strconv.FormatInt(first.Unix(), 10) || t2 != want {
		t.Errorf("webhook-timestamps = %s, %s; want %d, %s", t1, t2, first.Unix(), want)
	}
	if !bytes.Equal(reqs[0].body, reqs[1].body) {
		t.Errorf("bodies differ: %s, %s; want the same event", reqs[0].body, reqs[1].body)
	}
	dl = e.deliveries(t, w)[0]
	if dl.Status != credit.DeliveryDelivered || dl.Attempts != 2 || dl.LastStatus != 200 || dl.LastError != "" {
		t.Errorf("after the retry: %+v; want delivered, 2 attempts, 200, no error", dl)
	}
	if got, want := seen.get(), map[string]int{"retry": 1, "delivered": 1}; !maps.Equal(got, want) {
		t.Errorf("observer told %v; want %v", got, want)
	}
}

// TestGoneDisables: a 410 fails the delivery and disables the endpoint,
// which then gets nothing more; another endpoint is not touched.
func TestGoneDisables(t *testing.T) {
	e := newEnv(t)
	if _, err := e.ledger.CreateAccount(e.ctx, nil, "alice", 0); err != nil {
		t.Fatal(err)
	}
	gone := newReceiver(t, e.clock, func(int) int { return http.StatusGone })
	healthy := newReceiver(t, e.clock, ok)
	wGone := e.addWebhook(t, gone, credit.EventGrantCreated)
	e.addWebhook(t, healthy, credit.EventGrantCreated)
	e.grant(t, "alice")
	seen := &outcomes{}
	d := e.dispatcher(webhook.Config{Observer: seen})
	at := e.clock.Now()
	if n, err := d.RunOnce(e.ctx); n != 2 || err != nil {
		t.Fatalf("RunOnce = %d, %v; want 2 attempts", n, err)
	}
	got, err := e.db.Webhook(e.ctx, wGone.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := "410 Gone from " + wGone.URL; !got.DisabledAt.Equal(at) || got.DisabledReason != want {
		t.Errorf("endpoint after a 410: disabled at %s, %q; want %s, %q", got.DisabledAt, got.DisabledReason, at, want)
	}
	ds := e.deliveries(t, wGone)
	if len(ds) != 1 || ds[0].Status != credit.DeliveryFailed || ds[0].LastStatus != 410 || ds[0].Attempts != 1 {
		t.Fatalf("deliveries after a 410 = %+v; want one failed, 410, 1 attempt", ds)
	}

	for range 3 {
		e.grant(t, "alice")
		e.clock.Add(time.Hour)
		drain(t, d)
	}
	if n := gone.count(); n != 1 {
		t.Errorf("disabled endpoint got %d requests; want 1 (the 410)", n)
	}
	if n := len(e.deliveries(t, wGone)); n != 1 {
		t.Errorf("disabled endpoint has %d deliveries; want 1: none made after", n)
	}
	if n := healthy.count(); n != 4 {
		t.Errorf("other endpoint got %d requests; want 4", n)
	}
	gone.checkVerified()
	healthy.checkVerified()
	if got, want := seen.get(), map[string]int{"gone": 1, "delivered": 4}; !maps.Equal(got, want) {
		t.Errorf("observer told %v; want %v", got, want)
	}
}

// TestHangingEndpoint: Run attempts deliveries concurrently, so an endpoint
// that never answers holds up no other; its attempts end at the timeout as
// failures to retry, and Run, stopped, waits for them to be recorded.
func TestHangingEndpoint(t *testing.T) {
	e := newEnv(t)
	if _, err := e.ledger.CreateAccount(e.ctx, nil, "alice", 0); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	hanging := newReceiver(t, e.clock, func(int) int { <-release; return http.StatusOK })
	t.Cleanup(func() { close(release) }) // before the server closes (cleanups run last first)
	healthy := newReceiver(t, e.clock, ok)
	wHanging := e.addWebhook(t, hanging, credit.EventGrantCreated)
	wHealthy := e.addWebhook(t, healthy, credit.EventGrantCreated)
	for range 3 {
		e.grant(t, "alice")
	}

	const timeout = 2 * time.Second
	ctx, cancel := context.WithCancel(e.ctx)
	defer cancel()
	d := e.dispatcher(webhook.Config{Timeout: timeout, Interval: 20 * time.Millisecond})
	start := time.Now()
	done := make(chan struct{})
	go func() {
		d.Run(ctx)
		close(done)
	}()
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		for !cond() {
			if time.Since(start) > 3*timeout {
				t.Fatalf("%s: not after %s", what, 3*timeout)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	waitFor("healthy endpoint got 3", func() bool { return healthy.count() == 3 })
	// Not one hanging attempt has ended yet: the healthy deliveries did
	// not wait for them.
	for _, dl := range e.deliveries(t, wHanging) {
		if dl.Attempts != 0 {
			t.Errorf("hanging delivery %+v recorded before the healthy ones were all delivered; want them in flight", dl)
		}
	}
	waitFor("hanging endpoint got 3 at once", func() bool { return hanging.count() == 3 })
	cancel()
	select {
	case <-done:
	case <-time.After(3 * timeout):
		t.Fatal("Run did not return after its context ended")
	}
	if waited := time.Since(start); waited < timeout {
		t.Errorf("Run returned %s after start; want it to wait for the attempts in flight (%s)", waited, timeout)
	}
	for _, dl := range e.deliveries(t, wHanging) {
		if dl.Status != credit.DeliveryPending || dl.Attempts != 1 || dl.LastStatus != 0 || dl.LastError != "no answer within 2s" {
			t.Errorf("hanging delivery %+v; want pending, 1 attempt, status 0, \"no answer within 2s\"", dl)
		}
	}
	for _, dl := range e.deliveries(t, wHealthy) {
		if dl.Status != credit.DeliveryDelivered {
			t.Errorf("healthy delivery %+v; want delivered", dl)
		}
	}
	healthy.checkVerified()
}

// TestGuardAtConnect: without AllowPrivate, an endpoint that reaches a
// private address at send time (its name rebound since it passed the
// guard) is refused at connect: no request, a failure to retry.
func TestGuardAtConnect(t *testing.T) {
	e := newEnv(t)
	if _, err := e.ledger.CreateAccount(e.ctx, nil, "alice", 0); err != nil {
		t.Fatal(err)
	}
	r := newReceiver(t, e.clock, ok)
	w := e.addWebhook(t, r, credit.EventGrantCreated)
	e.grant(t, "alice")
	d := webhook.NewDispatcher(webhook.Config{Store: e.db, Now: e.clock.Now})
	if n, err := d.RunOnce(e.ctx); n != 1 || err != nil {
		t.Fatalf("RunOnce = %d, %v; want 1", n, err)
	}
	if n := r.count(); n != 0 {
		t.Errorf("private receiver got %d requests; want 0", n)
	}
	dl := e.deliveries(t, w)[0]
	if dl.Status != credit.DeliveryPending || dl.LastStatus != 0 || !strings.Contains(dl.LastError, "127.0.0.1") || !strings.Contains(dl.LastError, "public addresses only") {
		t.Errorf("delivery to a private address: %+v; want pending, status 0, an error naming the address", dl)
	}
}
