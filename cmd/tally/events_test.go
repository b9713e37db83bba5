package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// cliEvents is `tally events --json`'s answer.
type cliEvents struct {
	Events []struct {
		ID      string         `json:"id"`
		Type    string         `json:"type"`
		Account string         `json:"account"`
		Data    map[string]any `json:"data"`
	} `json:"events"`
	NextCursor string `json:"next_cursor"`
}

func (e cliEvents) types() []string {
	var out []string
	for _, ev := range e.Events {
		out = append(out, ev.Type)
	}
	return out
}

// cliRefused fails unless `tally args…` exits 2 with one line on stderr,
// nothing on stdout, naming each of want in order.
func cliRefused(t *testing.T, want []string, args ...string) {
	t.Helper()
	code, out, errOut := run(t, args...)
	good := code == exitInvalid && strings.Count(errOut, "\n") == 1 && strings.HasPrefix(errOut, "tally: ") && out == ""
	rest := errOut
	for _, w := range want {
		i := strings.Index(rest, w)
		if i < 0 {
			good = false
			break
		}
		rest = rest[i+len(w):]
	}
	if !good {
		t.Errorf("tally %s: exit %d, stderr %q, stdout %q; want exit 2 and one line naming %q", strings.Join(args, " "), code, errOut, out, want)
	}
}

// cliOK runs `tally args…`, which must succeed, and returns its stdout.
func cliOK(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := run(t, args...)
	if code != 0 {
		t.Fatalf("tally %s: exit %d: %s", strings.Join(args, " "), code, errOut)
	}
	return out
}

// cliJSON runs `tally args… --json` and decodes its stdout into v.
func cliJSON(t *testing.T, v any, args ...string) {
	t.Helper()
	out := cliOK(t, append(args, "--json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("tally %s --json: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// TestEventsCommand reads the feed of a SQLite ledger: every event, then
// filtered and paged by cursor, as text and JSON; --follow prints the
// events of a write made while it runs, one JSON object a line, and stops
// cleanly when interrupted; refusals name their flag.
func TestEventsCommand(t *testing.T) {
	db := filepath.Join(t.TempDir(), "tally.db")
	cliOK(t, "migrate", "--db", db)
	cliOK(t, "account", "create", "alice", "--db", db)
	cliOK(t, "account", "grant", "alice", "10", "--db", db)

	var all cliEvents
	cliJSON(t, &all, "events", "--db", db)
	if got := strings.Join(all.types(), " "); got != "grant.created balance.recovered" {
		t.Fatalf("tally events --json = %s; want grant.created balance.recovered", got)
	}
	if all.Events[0].Account != "alice" || all.Events[0].Data["source"] != "topup" || all.NextCursor == "" {
		t.Errorf("tally events --json = %+v; want alice's topup grant and a cursor", all)
	}
	text := cliOK(t, "events", "--db", db)
	for _, w := range []string{"TIME", "TYPE", "grant.created", "alice", all.Events[0].ID, `"source":"topup"`, "next cursor: \"" + all.NextCursor + "\""} {
		if !strings.Contains(text, w) {
			t.Errorf("tally events: no %q in\n%s", w, text)
		}
	}
	var page cliEvents
	cliJSON(t, &page, "events", "--db", db, "--limit", "1")
	var rest cliEvents
	cliJSON(t, &rest, "events", "--db", db, "--after", page.NextCursor)
	if len(page.Events) != 1 || len(rest.Events) != 1 || page.Events[0].ID != all.Events[0].ID || rest.Events[0].ID != all.Events[1].ID {
		t.Errorf("--limit 1, then --after its cursor = %v, %v; want the two events in turn", page.types(), rest.types())
	}
	var typed cliEvents
	cliJSON(t, &typed, "events", "--db", db, "--types", "balance.recovered", "--account", "alice")
	if strings.Join(typed.types(), " ") != "balance.recovered" {
		t.Errorf("--types balance.recovered --account alice = %v", typed.types())
	}

	cliRefused(t, []string{"--types", "allowed: grant.created"}, "events", "--db", db, "--types", "grant.made")
	cliRefused(t, []string{"--wait", "allowed: 0s to 60s"}, "events", "--db", db, "--wait", "2m")
	cliRefused(t, []string{"--wait", "duration"}, "events", "--db", db, "--wait", "soon")
	cliRefused(t, []string{"--after", "allowed: a next cursor"}, "events", "--db", db, "--after", "nonsense")
	cliRefused(t, []string{"--limit", "1 to 1000"}, "events", "--db", db, "--limit", "0")
	cliRefused(t, []string{"--account"}, "events", "--db", db, "--account", "a b")
	cliRefused(t, []string{"--wait", "--follow", "allowed: 1s to 60s"}, "events", "--db", db, "--follow", "--wait", "0s")

	t.Run("Follow", func(t *testing.T) {
		out := &syncBuffer{}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan int, 1)
		go func() {
			done <- Main{Stdout: out, Stderr: io.Discard}.Run(ctx, []string{"events", "--db", db, "--follow", "--json", "--wait", "5s", "--after", all.NextCursor})
		}()
		cliOK(t, "account", "grant", "alice", "5", "--db", db)
		waitFor(t, func() bool { return strings.Contains(out.String(), "grant.created") }, "tally events --follow to print the grant")
		cancel()
		select {
		case code := <-done:
			if code != 0 {
				t.Errorf("tally events --follow exited %d when interrupted; want 0", code)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("tally events --follow did not stop when interrupted")
		}
		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		if len(lines) != 1 {
			t.Fatalf("tally events --follow --json printed %d lines; want the one event:\n%s", len(lines), out.String())
		}
		var ev struct {
			Type string         `json:"type"`
			Data map[string]any `json:"data"`
		}
		if err := json.Unmarshal([]byte(lines[0]), &ev); err != nil || ev.Type != "grant.created" || ev.Data["credits"] != 5.0 {
			t.Errorf("the followed line %q = %+v, %v; want grant.created of 5", lines[0], ev, err)
		}
	})
}

// authDo sends a request to a served node with the admin key and decodes
// the JSON answer into v (if not nil), returning the status.
func authDo(t *testing.T, c *http.Client, method, u, key, body string, v any) int {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, u, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	if v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s %s = %d %s: %v", method, u, resp.StatusCode, b, err)
		}
	}
	return resp.StatusCode
}

// TestServeLongPollOutlastsTimeouts: with read and write timeouts far
// shorter than its wait, a long poll of GET /v1/events is answered, not cut
// off; one under way when the server shuts down is answered at once.
func TestServeLongPollOutlastsTimeouts(t *testing.T) {
	const admin = "test-admin-key-longpoll"
	t.Setenv("TALLY_ADMIN_KEY", admin)
	saved := serveLimits
	// 1s: far shorter than the poll's wait, but long enough for the
	// other requests of the test under -race on a loaded machine.
	serveLimits.read, serveLimits.write = time.Second, time.Second
	defer func() { serveLimits = saved }()
	s := startServe(t)
	c := &http.Client{Timeout: 30 * time.Second}

	var page cliEvents
	begun := time.Now()
	if code := authDo(t, c, http.MethodGet, s.base+"/v1/events?wait=3s", admin, "", &page); code != http.StatusOK || len(page.Events) != 0 {
		t.Fatalf("a 3s long poll behind 1s timeouts = %d %+v; want 200 and no events", code, page)
	}
	if took := time.Since(begun); took < 3*time.Second {
		t.Errorf("the long poll answered after %s; want it to have waited its 3s", took)
	}

	// Woken by a write.
	done := make(chan cliEvents, 1)
	go func() {
		var p cliEvents
		authDo(t, c, http.MethodGet, s.base+"/v1/events?wait=20s&types=grant.created", admin, "", &p)
		done <- p
	}()
	authDo(t, c, http.MethodPost, s.base+"/v1/accounts", admin, `{"id":"ida"}`, nil)
	authDo(t, c, http.MethodPost, s.base+"/v1/accounts/ida/grants", admin, `{"credits":3,"source":"promo"}`, nil)
	if p := <-done; len(p.Events) != 1 || p.Events[0].Account != "ida" {
		t.Errorf("the long poll woken by a grant = %+v; want ida's grant.created", p)
	}

	// Shutdown answers a poll at once.
	after := page.NextCursor
	polled := make(chan string, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, s.base+"/v1/events?wait=60s&types=topup.requested&after="+url.QueryEscape(after), nil)
		req.Header.Set("Authorization", "Bearer "+admin)
		resp, err := c.Do(req)
		if err != nil {
			polled <- err.Error()
			return
		}
		resp.Body.Close()
		polled <- resp.Status
	}()
	// Give the poll time to reach its handler: nothing outside the server
	// can see a request in flight. (Were it late, it would be refused and
	// the test would say so, not pass.)
	time.Sleep(300 * time.Millisecond)
	begun = time.Now()
	if code := s.stop(); code != 0 {
		t.Errorf("serve exited %d; want 0", code)
	}
	if got := <-polled; got != "200 OK" {
		t.Errorf("the poll under way at shutdown = %s; want 200 OK", got)
	}
	if took := time.Since(begun); took > 10*time.Second {
		t.Errorf("shutdown took %s with a long poll under way; want it answered at once", took)
	}
}

// TestServeWebhooks: tally serve delivers the events an endpoint wants,
// signed; refuses a loopback URL without --webhooks-allow-private; and
// --grant-expiring-notice sets how soon before its expiry a grant is
// told of.
func TestServeWebhooks(t *testing.T) {
	const admin = "test-admin-key-webhooks"
	t.Setenv("TALLY_ADMIN_KEY", admin)
	c := &http.Client{Timeout: 30 * time.Second}
	var mu sync.Mutex
	var got []http.Header
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Header.Clone())
		mu.Unlock()
	}))
	defer hook.Close()

	t.Run("Guarded", func(t *testing.T) {
		s := startServe(t)
		defer s.stop()
		var p struct {
			Code string `json:"code"`
		}
		if code := authDo(t, c, http.MethodPost, s.base+"/v1/webhooks", admin, `{"url":"`+hook.URL+`","events":["*"]}`, &p); code != 422 || p.Code != "webhook_url_private" {
			t.Errorf("a loopback webhook without --webhooks-allow-private = %d %s; want 422 webhook_url_private", code, p.Code)
		}
	})

	t.Run("Delivered", func(t *testing.T) {
		s := startServe(t, "--webhooks-allow-private", "--grant-expiring-notice", "1h")
		defer s.stop()
		var w struct {
			ID     string `json:"id"`
			Secret string `json:"secret"`
		}
		if code := authDo(t, c, http.MethodPost, s.base+"/v1/webhooks", admin, `{"url":"`+hook.URL+`","events":["grant.created","grant.expiring"]}`, &w); code != 201 || w.Secret == "" {
			t.Fatalf("POST /v1/webhooks = %d %+v", code, w)
		}
		authDo(t, c, http.MethodPost, s.base+"/v1/accounts", admin, `{"id":"jo"}`, nil)
		// Expiring in two days: beyond the 1h notice, so not told yet.
		soon := time.Now().Add(48 * time.Hour).UTC().Format(time.RFC3339)
		authDo(t, c, http.MethodPost, s.base+"/v1/accounts/jo/grants", admin, `{"credits":3,"source":"promo","expires_at":"`+soon+`"}`, nil)
		waitFor(t, func() bool { mu.Lock(); defer mu.Unlock(); return len(got) == 1 }, "the grant.created delivery")
		mu.Lock()
		h := got[0]
		mu.Unlock()
		if h.Get("webhook-id") == "" || !strings.HasPrefix(h.Get("webhook-signature"), "v1,") || h.Get("webhook-timestamp") == "" {
			t.Errorf("delivery headers = %v; want webhook-id, webhook-timestamp and a v1 signature", h)
		}
		var feed cliEvents
		authDo(t, c, http.MethodGet, s.base+"/v1/events?types=grant.expiring", admin, "", &feed)
		if len(feed.Events) != 0 {
			t.Errorf("grant.expiring for a grant 48h from expiry under --grant-expiring-notice 1h: %+v", feed.Events)
		}
		// Within the hour: told at once.
		inHalf := time.Now().Add(30 * time.Minute).UTC().Format(time.RFC3339)
		authDo(t, c, http.MethodPost, s.base+"/v1/accounts/jo/grants", admin, `{"credits":2,"source":"promo","expires_at":"`+inHalf+`"}`, nil)
		authDo(t, c, http.MethodGet, s.base+"/v1/events?types=grant.expiring", admin, "", &feed)
		if len(feed.Events) != 1 || feed.Events[0].Data["remaining"] != 2.0 {
			t.Errorf("grant.expiring for a grant 30 min from expiry = %+v; want one, of 2", feed.Events)
		}
	})
}

// TestServeRefusesBadNotice: --grant-expiring-notice must be a duration
// more than 0; a refusal names the flag in one line and opens nothing.
func TestServeRefusesBadNotice(t *testing.T) {
	for _, v := range []string{"0s", "-1h", "soon"} {
		db := filepath.Join(t.TempDir(), "tally.db")
		code, _, stderr := run(t, "serve", "--addr", "127.0.0.1:0", "--db", db, "--grant-expiring-notice", v)
		if code != exitInvalid || !strings.HasPrefix(stderr, "tally: ") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 || !strings.Contains(stderr, "--grant-expiring-notice") {
			t.Errorf("tally serve --grant-expiring-notice %s: exit %d, stderr %q; want exit 2 and one line naming the flag", v, code, stderr)
		}
		if _, err := os.Stat(db); !os.IsNotExist(err) {
			t.Errorf("tally serve --grant-expiring-notice %s left %s behind", v, db)
		}
	}
}
