package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/webhook"
)

// The webhook test's load: each account gets one grant, and the
// generations, spread over the accounts, are each created through one node
// and completed through the other.
const (
	whAccounts    = 6
	whGenerations = 24
	// whSlow is how long the receiver holds each answer while deliveries
	// should be in flight: far longer than the moment between seeing them
	// and the kill, far shorter than an attempt's timeout (10 s).
	whSlow = 2 * time.Second
	// whDrain bounds the wait, after the kill, for every event to be
	// delivered: the killed node's leases (an attempt's timeout and 20 s:
	// 30 s by default) must run out first.
	whDrain = 60 * time.Second
)

// whFeedEvent is one event of GET /v1/events, and its JSON as answered.
type whFeedEvent struct {
	ID      string          `json:"id"`
	Type    string          `json:"type"`
	Account string          `json:"account"`
	Data    json.RawMessage `json:"data"`
	raw     json.RawMessage
}

// whFeed reads the whole feed after cursor `after` ("" from its start),
// page by page, and returns its events and the cursor after the last.
func (n *node) whFeed(after string) ([]whFeedEvent, string) {
	n.t.Helper()
	var all []whFeedEvent
	for {
		path := "/v1/events?limit=1000"
		if after != "" {
			path += "&after=" + url.QueryEscape(after)
		}
		var page struct {
			Events     []json.RawMessage `json:"events"`
			NextCursor string            `json:"next_cursor"`
		}
		n.want(http.StatusOK, &page, http.MethodGet, path, "")
		if len(page.Events) == 0 {
			return all, after
		}
		for _, raw := range page.Events {
			var e whFeedEvent
			if err := json.Unmarshal(raw, &e); err != nil {
				n.t.Fatalf("feed event %s: %v", raw, err)
			}
			e.raw = raw
			all = append(all, e)
		}
		if page.NextCursor == after {
			n.t.Fatalf("GET %s: %d events and next_cursor %q, the cursor asked", path, len(page.Events), after)
		}
		after = page.NextCursor
	}
}

// whDelivery is the part of a delivery log row the test reads.
type whDelivery struct {
	ID          string     `json:"id"`
	Event       string     `json:"event"`
	Status      string     `json:"status"`
	Attempts    int        `json:"attempts"`
	DeliveredAt *time.Time `json:"delivered_at"`
}

// whDeliveries reads the whole delivery log of endpoint id, page by page.
func (n *node) whDeliveries(id string) []whDelivery {
	n.t.Helper()
	var all []whDelivery
	before := ""
	for {
		path := "/v1/webhooks/" + id + "/deliveries?limit=500"
		if before != "" {
			path += "&before=" + url.QueryEscape(before)
		}
		var page struct {
			Deliveries []whDelivery `json:"deliveries"`
			NextBefore string       `json:"next_before"`
		}
		n.want(http.StatusOK, &page, http.MethodGet, path, "")
		all = append(all, page.Deliveries...)
		if page.NextBefore == "" {
			return all
		}
		before = page.NextBefore
	}
}

// whEventRef returns field of an event's data (a grant's or generation's id).
func whEventRef(e whFeedEvent, field string) string {
	var d map[string]any
	_ = json.Unmarshal(e.Data, &d)
	s, _ := d[field].(string)
	return s
}

// TestTwoNodesWebhooksSurviveKill registers one webhook for every event
// type on a receiver that verifies each delivery as the Standard Webhooks
// specification says (whVerify, not tally's code), makes events through
// two `tally serve` processes on one PostgreSQL database, and kills one of
// them with SIGKILL while deliveries from both are in flight (the receiver
// holds its answers). After a restart: every event the feed lists from the
// webhook's creation on was delivered and answered at least once; each
// webhook-id always came with the same body, the feed's event with that
// id; no other webhook-id came; no delivery of an event overlapped another
// of it; the delivery log has one delivered delivery per event; the
// receiver refuses a tampered body and an old or future timestamp; and
// `tally verify` is clean.
func TestTwoNodesWebhooksSurviveKill(t *testing.T) {
	dsn := freshDatabase(t)
	bin := buildTally(t)
	rc := newWHReceiver(t)
	flags := []string{"--webhooks-allow-private"}
	a := startNode(t, bin, "node A", dsn, flags...)
	b := startNode(t, bin, "node B", dsn, flags...)
	nodes := []*node{a, b}
	began := time.Now()

	for i := range whAccounts {
		a.want(http.StatusCreated, nil, http.MethodPost, "/v1/accounts", fmt.Sprintf(`{"id":"hook-%d"}`, i))
	}
	// The feed's end before the endpoint exists: every event after it
	// must reach the endpoint (none is made in between).
	_, start := b.whFeed("")
	var wh struct {
		ID     string `json:"id"`
		Secret string `json:"secret"`
	}
	a.want(http.StatusCreated, &wh, http.MethodPost, "/v1/webhooks",
		`{"url":"`+rc.url+`","events":["*"],"description":"two nodes, one killed"}`)
	if !strings.HasPrefix(wh.Secret, "whsec_") || wh.ID == "" {
		t.Fatalf("POST /v1/webhooks = id %q, secret %q; want an id and a whsec_ secret", wh.ID, wh.Secret)
	}
	rc.setSecret(wh.Secret)
	rc.setDelay(whSlow)

	// The events, through both nodes.
	grants := map[string]bool{}
	for i := range whAccounts {
		var g struct {
			ID string `json:"id"`
		}
		nodes[i%2].want(http.StatusCreated, &g, http.MethodPost, fmt.Sprintf("/v1/accounts/hook-%d/grants", i), `{"credits":1000,"source":"topup"}`)
		grants[g.ID] = true
	}
	gens := map[string]bool{}
	for j := range whGenerations {
		var g wireGeneration
		nodes[j%2].want(http.StatusCreated, &g, http.MethodPost, "/v1/generations",
			fmt.Sprintf(`{"account":"hook-%d","model":"flux-dev","images":1}`, j%whAccounts))
		nodes[(j+1)%2].want(http.StatusOK, nil, http.MethodPost, "/v1/generations/"+g.ID+"/complete", `{"images_delivered":1}`,
			"Idempotency-Key", "done-"+g.ID)
		gens[g.ID] = true
	}
	made := time.Since(began)

	// Each node attempts at most webhook.DefaultWorkers deliveries at once:
	// more in flight than that, and both nodes have some.
	if !pollUntil(10*time.Second, func() bool { return rc.inFlightNow() > webhook.DefaultWorkers }) {
		t.Fatalf("never more than %d deliveries in flight at once (%d now); want deliveries from both nodes in flight", webhook.DefaultWorkers, rc.inFlightNow())
	}
	flying := rc.inFlightNow()
	a.kill9()
	killed := time.Now()
	rc.setDelay(0)
	// A killed node's connections close with it: the receiver sees its
	// deliveries in flight go unanswered.
	if !pollUntil(5*time.Second, func() bool { return len(rc.abortedIDs()) > 0 }) {
		t.Fatalf("%d deliveries were in flight when node A was killed, and none of them lost its sender; want node A's cut off", flying)
	}
	a = startNode(t, bin, "node A (restarted)", dsn, flags...)
	nodes = []*node{a, b}

	// Wait for the feed to hold every event made, the receiver to have
	// answered each, and the log to show each delivered.
	var feed []whFeedEvent
	var logged []whDelivery
	missing := func() string {
		feed, _ = b.whFeed(start)
		seen := map[string]bool{}
		for _, e := range feed {
			switch e.Type {
			case "grant.created":
				seen[e.Type+" "+whEventRef(e, "grant")] = true
			case "generation.created", "generation.completed":
				seen[e.Type+" "+whEventRef(e, "generation")] = true
			}
		}
		var want []string
		for g := range grants {
			want = append(want, "grant.created "+g)
		}
		for g := range gens {
			want = append(want, "generation.created "+g, "generation.completed "+g)
		}
		for _, w := range want {
			if !seen[w] {
				return "the feed lacks " + w
			}
		}
		for _, e := range feed {
			if rc.answeredCount(e.ID) == 0 {
				return fmt.Sprintf("event %s (%s) not delivered", e.ID, e.Type)
			}
		}
		logged = a.whDeliveries(wh.ID)
		for _, d := range logged {
			if d.Status != "delivered" {
				return fmt.Sprintf("delivery %s of event %s is %s after %d attempts", d.ID, d.Event, d.Status, d.Attempts)
			}
		}
		if len(logged) < len(feed) {
			return fmt.Sprintf("%d deliveries in the log for %d events", len(logged), len(feed))
		}
		return ""
	}
	var why string
	for deadline := killed.Add(whDrain); ; time.Sleep(250 * time.Millisecond) {
		if why = missing(); why == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s after the kill: %s", whDrain, why)
		}
	}
	drained := time.Since(killed)

	rc.mu.Lock()
	bodies, answered, first := maps.Clone(rc.bodies), maps.Clone(rc.answered), maps.Clone(rc.headers)
	overlaps, refused, beforeReady, maxFlying := slices.Clone(rc.overlaps), slices.Clone(rc.refused), rc.beforeReady, rc.maxFlying
	cut := slices.Clone(rc.aborted)
	rc.mu.Unlock()
	if len(refused) > 0 || beforeReady > 0 {
		t.Errorf("the receiver refused %d deliveries (%d before the secret was known): %v", len(refused)+beforeReady, beforeReady, refused)
	}
	if len(overlaps) > 0 {
		t.Errorf("deliveries of %v came while another of the same event was in flight; want one node at a time", overlaps)
	}

	// Every feed event delivered; every webhook-id a feed event, with its
	// body, always the same.
	byID := map[string]whFeedEvent{}
	for _, e := range feed {
		if _, dup := byID[e.ID]; dup {
			t.Errorf("the feed lists event %s twice", e.ID)
		}
		byID[e.ID] = e
	}
	twice := 0
	for id, bs := range bodies {
		e, ok := byID[id]
		if !ok {
			t.Errorf("webhook-id %s (%d deliveries, %s) is not an event of the feed since the webhook was made", id, len(bs), bs[0])
			continue
		}
		if len(bs) > 1 {
			twice++
		}
		for i, body := range bs {
			if !bytes.Equal(body, bs[0]) {
				t.Errorf("webhook-id %s: delivery %d's body %s differs from the first's %s", id, i+1, body, bs[0])
			}
		}
		var got, want map[string]any
		if err := json.Unmarshal(bs[0], &got); err != nil {
			t.Errorf("webhook-id %s: body %s: %v", id, bs[0], err)
			continue
		}
		if got["id"] != id {
			t.Errorf("webhook-id %s: body's id is %v", id, got["id"])
		}
		if err := json.Unmarshal(e.raw, &want); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("webhook-id %s: body %s; want the feed's event %s", id, bs[0], e.raw)
		}
	}
	for _, id := range cut {
		if answered[id] == 0 {
			t.Errorf("event %s, cut off by the kill, was never delivered again", id)
		}
	}

	// The log: one delivery per event, each delivered.
	perEvent := map[string]int{}
	for _, d := range logged {
		perEvent[d.Event]++
		if d.DeliveredAt == nil || d.Attempts < 1 {
			t.Errorf("delivery %s of %s: %d attempts, delivered_at %v; want at least 1 and a time", d.ID, d.Event, d.Attempts, d.DeliveredAt)
		}
		if _, ok := byID[d.Event]; !ok {
			t.Errorf("delivery %s is of event %s, not in the feed since the webhook was made", d.ID, d.Event)
		}
	}
	for _, e := range feed {
		if perEvent[e.ID] != 1 {
			t.Errorf("event %s (%s) has %d deliveries in the log; want 1", e.ID, e.Type, perEvent[e.ID])
		}
	}

	// The receiver refuses what a delivery must not be. One delivery's
	// headers, replayed as they came, pass; with its body changed, they do
	// not; a signature the test makes itself (from the specification)
	// passes with the time now, not 10 minutes before or after.
	ids := make([]string, 0, len(bodies))
	for id := range bodies {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	if len(ids) == 0 {
		t.Fatal("no delivery came")
	}
	id, body := ids[0], bodies[ids[0]][0]
	genuine := http.Header{}
	for _, k := range []string{"webhook-id", "webhook-timestamp", "webhook-signature"} {
		genuine.Set(k, first[id].Get(k))
	}
	tampered := bytes.Replace(body, []byte(`"account":"`), []byte(`"account":"x`), 1)
	if bytes.Equal(tampered, body) {
		t.Fatalf("body %s has no account to tamper with", body)
	}
	now := time.Now().Unix()
	for _, c := range []struct {
		name string
		h    http.Header
		body []byte
		want int
	}{
		{"the delivery replayed", genuine, body, http.StatusNoContent},
		{"its body tampered with", genuine, tampered, http.StatusBadRequest},
		{"no signature", http.Header{"Webhook-Id": {id}, "Webhook-Timestamp": {first[id].Get("webhook-timestamp")}}, body, http.StatusBadRequest},
		{"signed by the test now", whSign(t, wh.Secret, id, now, body), body, http.StatusNoContent},
		{"signed by the test 10 minutes ago", whSign(t, wh.Secret, id, now-600, body), body, http.StatusBadRequest},
		{"signed by the test 10 minutes ahead", whSign(t, wh.Secret, id, now+600, body), body, http.StatusBadRequest},
		{"signed with another secret", whSign(t, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", id, now, body), body, http.StatusBadRequest},
	} {
		if got := rc.post(c.h, c.body); got != c.want {
			t.Errorf("receiver: %s = %d; want %d", c.name, got, c.want)
		}
	}

	t.Logf("%d events made through two nodes in %v; %d deliveries at most in flight, %d when node A was killed, %d cut off by the kill; "+
		"all delivered %v after the kill (%d events delivered more than once); %v in all",
		len(feed), made.Round(time.Millisecond), maxFlying, flying, len(cut), drained.Round(time.Millisecond), twice, time.Since(began).Round(time.Millisecond))

	for _, n := range nodes {
		n.stop()
	}
	verifyDB(t, bin, dsn)
}
