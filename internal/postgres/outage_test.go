package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/httpapi"
	"github.com/tally-credits/tally/internal/postgres"
	"github.com/tally-credits/tally/internal/postgres/pgtest"
)

// outageAdminKey is the admin key of the outage tests' servers.
const outageAdminKey = "outage-admin-key-0123456789"

// proxiedServer opens the store on a fresh database through a proxy, and
// serves the API on it as `tally serve` wires it.
func proxiedServer(t *testing.T) (*Proxy, *postgres.DB, *credit.Ledger, *httptest.Server) {
	t.Helper()
	proxy, dsn := ProxyTo(t, pgtest.NewDatabase(t))
	db := pgtest.OpenDSN(t, dsn)
	srv := httpapi.NewServer(httpapi.Config{Catalog: catalog.Default(), AdminKey: outageAdminKey, Version: "test"})
	ledger := credit.NewLedger(db, credit.LedgerConfig{Catalog: srv.Catalog})
	srv.SetLedger(ledger)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return proxy, db, ledger, ts
}

// call is one answered HTTP request.
type call struct {
	status int
	ctype  string
	body   []byte
}

// problemCode returns the code of a problem body, "" if it is not one.
func (c call) problemCode() string {
	var p struct{ Code string }
	_ = json.Unmarshal(c.body, &p)
	return p.Code
}

// do sends one request with the admin key; err is a transport failure.
func do(client *http.Client, method, url, body string, hdr ...string) (call, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		return call{}, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+outageAdminKey)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		return call{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return call{}, err
	}
	return call{status: resp.StatusCode, ctype: resp.Header.Get("Content-Type"), body: b}, nil
}

// mustDo sends a request that must answer status.
func mustDo(t *testing.T, client *http.Client, status int, method, url, body string, hdr ...string) []byte {
	t.Helper()
	c, err := do(client, method, url, body, hdr...)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	if c.status != status {
		t.Fatalf("%s %s = %d %s; want %d", method, url, c.status, c.body, status)
	}
	return c.body
}

// TestReadyzFollowsDatabase cuts the database away from a running server:
// /readyz turns into a 503 problem within seconds, and back to 200 by itself
// within seconds of the database coming back, with nothing restarted.
func TestReadyzFollowsDatabase(t *testing.T) {
	proxy, _, _, ts := proxiedServer(t)
	client := &http.Client{Timeout: 3 * time.Second}
	readyz := func() (call, error) { return do(client, http.MethodGet, ts.URL+"/readyz", "") }
	waitReady := func(want int, within time.Duration) call {
		t.Helper()
		began := time.Now()
		var last call
		var lastErr error
		for time.Since(began) < within {
			last, lastErr = readyz()
			if lastErr == nil && last.status == want {
				t.Logf("/readyz %d after %v", want, time.Since(began).Round(time.Millisecond))
				return last
			}
			time.Sleep(50 * time.Millisecond)
		}
		t.Fatalf("/readyz did not answer %d within %v: last %d %s (err %v)", want, within, last.status, last.body, lastErr)
		return last
	}

	waitReady(http.StatusOK, time.Second)
	for round := range 2 {
		proxy.Cut()
		c := waitReady(http.StatusServiceUnavailable, 5*time.Second)
		if c.ctype != "application/problem+json" || c.problemCode() != "not_ready" {
			t.Errorf("round %d: /readyz while cut = %s %s; want an application/problem+json not_ready problem", round, c.ctype, c.body)
		}
		// It stays unready while the database is away (within the
		// client's timeout: a probe that hangs is as bad as a wrong one).
		if c, err := readyz(); err != nil || c.status != http.StatusServiceUnavailable {
			t.Errorf("round %d: /readyz still cut = %d, %v; want 503", round, c.status, err)
		}
		proxy.Restore()
		waitReady(http.StatusOK, 5*time.Second)
	}

	// A database that stops answering (new connections hang, as behind a
	// black hole) must not hang the probe: /readyz answers 503 within
	// httpapi.ReadyTimeout, inside the client's 3 s.
	proxy.Stall()
	for i := range 3 {
		if c, err := readyz(); err != nil || c.status != http.StatusServiceUnavailable || c.problemCode() != "not_ready" {
			t.Errorf("probe %d while stalled = %d %s, %v; want a 503 not_ready problem, not a hang", i, c.status, c.body, err)
		}
	}
	proxy.Restore()
	waitReady(http.StatusOK, 10*time.Second)
}

// TestOutageLosesNoAcknowledgedWrite runs clients creating and completing
// generations over HTTP while the database is cut away twice for about a
// second. Clients retry every failed or unanswered request with the same
// Idempotency-Key. Afterwards every generation exists exactly once, charged
// exactly what the test computes, the balance is exact, the journal verifies,
// and every 5xx the clients saw was a 503 store_unavailable problem.
func TestOutageLosesNoAcknowledgedWrite(t *testing.T) {
	proxy, db, ledger, ts := proxiedServer(t)
	setup := &http.Client{Timeout: 10 * time.Second}
	const (
		clients  = 8
		accounts = 2
		start    = 100000 // credits per account
		perImage = 5      // Flux Dev, the page's price
	)
	for a := range accounts {
		id := fmt.Sprintf("outage-%d", a)
		mustDo(t, setup, http.StatusCreated, http.MethodPost, ts.URL+"/v1/accounts", `{"id":"`+id+`"}`)
		mustDo(t, setup, http.StatusCreated, http.MethodPost, ts.URL+"/v1/accounts/"+id+"/grants", fmt.Sprintf(`{"credits":%d,"source":"topup"}`, start))
	}

	// The outage: two cuts of about a second while the clients run. Before
	// each, the answers to a few COMMITs are lost on their way back (the
	// transaction committed; the client cannot know): the case where only the
	// Idempotency-Key stands between a retry and a second charge.
	const lostAnswers = 8
	cutsDone := make(chan struct{})
	go func() {
		defer close(cutsDone)
		for round, pause := range []time.Duration{300 * time.Millisecond, 700 * time.Millisecond} {
			proxy.DropCommitAnswers(lostAnswers)
			time.Sleep(pause)
			// Group commit makes few COMMITs under a light load (a slow
			// machine, the race detector): wait for this round's losses
			// before the cut, rather than for a fixed time.
			for wait := time.Now().Add(20 * time.Second); proxy.DroppedCommits() < (round+1)*lostAnswers && time.Now().Before(wait); {
				time.Sleep(10 * time.Millisecond)
			}
			proxy.Cut()
			time.Sleep(time.Second)
			proxy.Restore()
		}
		time.Sleep(300 * time.Millisecond) // some load after the last cut
	}()

	type done struct {
		id      string
		account string
		charged int // credits, computed by the test
	}
	var (
		mu        sync.Mutex
		completed []done
		// Non-2xx answers and transport failures the clients saw.
		unavailable, transport atomic.Int64
		retries                atomic.Int64
	)
	// send sends one request until it is answered with want, retrying with
	// the same key; any answer other than want or a 503 store_unavailable
	// fails the test.
	send := func(client *http.Client, what, url, body, key string, want int) ([]byte, bool) {
		backoff := 10 * time.Millisecond
		deadline := time.Now().Add(20 * time.Second)
		for attempt := 1; ; attempt++ {
			c, err := do(client, http.MethodPost, url, body, "Idempotency-Key", key)
			switch {
			case err != nil:
				transport.Add(1)
			case c.status == want:
				return c.body, true
			case c.status == http.StatusServiceUnavailable && c.ctype == "application/problem+json" && c.problemCode() == "store_unavailable":
				unavailable.Add(1)
			default:
				t.Errorf("%s (attempt %d) = %d %s %s; want %d, or 503 store_unavailable while the database is away", what, attempt, c.status, c.ctype, c.body, want)
				return nil, false
			}
			if time.Now().After(deadline) {
				t.Errorf("%s: no answer %d after %d attempts; last %d %s (err %v)", what, want, attempt, c.status, c.body, err)
				return nil, false
			}
			retries.Add(1)
			time.Sleep(backoff)
			backoff = min(2*backoff, 200*time.Millisecond)
		}
	}
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 5 * time.Second}
			account := fmt.Sprintf("outage-%d", c%accounts)
			for i := 0; ; i++ {
				select {
				case <-cutsDone:
					return
				default:
				}
				images := 1 + (c+i)%4
				delivered := (c + 2*i) % (images + 1) // 0 … images
				body, ok := send(client, fmt.Sprintf("client %d create %d", c, i), ts.URL+"/v1/generations",
					fmt.Sprintf(`{"account":%q,"model":"flux-dev","images":%d}`, account, images), fmt.Sprintf("gen-%d-%d", c, i), http.StatusCreated)
				if !ok {
					return
				}
				var g httpapi.Generation
				if err := json.Unmarshal(body, &g); err != nil {
					t.Errorf("client %d create %d: %v: %s", c, i, err, body)
					return
				}
				if g.Status != credit.GenerationHeld || g.HoldCredits != credits(images*perImage) {
					t.Errorf("client %d create %d = %s; want held for %d", c, i, body, images*perImage)
				}
				body, ok = send(client, fmt.Sprintf("client %d complete %d", c, i), ts.URL+"/v1/generations/"+g.ID+"/complete",
					fmt.Sprintf(`{"images_delivered":%d}`, delivered), fmt.Sprintf("done-%d-%d", c, i), http.StatusOK)
				if !ok {
					return
				}
				var got httpapi.Generation
				if err := json.Unmarshal(body, &got); err != nil {
					t.Errorf("client %d complete %d: %v: %s", c, i, err, body)
					return
				}
				if got.ID != g.ID || got.Status != credit.GenerationCompleted || got.ChargedCredits != credits(delivered*perImage) {
					t.Errorf("client %d complete %d = %s; want %s completed, charged %d", c, i, body, g.ID, delivered*perImage)
				}
				mu.Lock()
				completed = append(completed, done{id: g.ID, account: account, charged: delivered * perImage})
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	t.Logf("%d generations created and completed; %d retries: %d answered 503 store_unavailable, %d transport failures; %d COMMIT answers lost",
		len(completed), retries.Load(), unavailable.Load(), transport.Load(), proxy.DroppedCommits())
	if t.Failed() {
		return
	}
	if unavailable.Load() == 0 {
		t.Errorf("no request saw the outage: the cuts missed the load")
	}
	if got := proxy.DroppedCommits(); got != 2*lostAnswers {
		t.Errorf("%d COMMIT answers lost; want %d: the load missed them", got, 2*lostAnswers)
	}

	// The end state, read with the database back.
	charged := map[string]int{}
	byID := map[string]done{}
	for _, d := range completed {
		charged[d.account] += d.charged
		if _, dup := byID[d.id]; dup {
			t.Errorf("generation %s acknowledged to two different requests", d.id)
		}
		byID[d.id] = d
	}
	for a := range accounts {
		id := fmt.Sprintf("outage-%d", a)
		var acct httpapi.Account
		if err := json.Unmarshal(mustDo(t, setup, http.StatusOK, http.MethodGet, ts.URL+"/v1/accounts/"+id, ""), &acct); err != nil {
			t.Fatal(err)
		}
		if want := credits(start - charged[id]); acct.AvailableCredits != want || acct.HeldCredits != 0 {
			t.Errorf("%s: available %v, held %v; want %v (%d − %d charged), 0", id, acct.AvailableCredits, acct.HeldCredits, want, start, charged[id])
		}
	}
	snap, err := credit.ReadSnapshot(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	if len(snap.Generations) != len(completed) {
		t.Errorf("the store has %d generations; the clients were acknowledged %d: a retry made a second one or one was lost", len(snap.Generations), len(completed))
	}
	for _, g := range snap.Generations {
		d, ok := byID[g.ID]
		switch {
		case !ok:
			t.Errorf("generation %s (%s, %s) was never acknowledged: a retry did the work twice", g.ID, g.Account, g.Status)
		case g.Status != credit.GenerationCompleted || g.Charged != credits(d.charged):
			t.Errorf("generation %s: %s, charged %v; want completed, charged %d", g.ID, g.Status, g.Charged, d.charged)
		}
	}
	// One hold per generation, and one capture (or, with nothing
	// delivered, one release) per completion.
	holds, resolutions := 0, 0
	var revenue credit.Credits
	for _, tr := range snap.Entries {
		switch tr.Kind {
		case credit.EntryCapture, credit.EntryRelease:
			resolutions++
			revenue += tr.ChargedDelta
		case credit.EntryHold:
			holds++
		}
	}
	total := 0
	for _, c := range charged {
		total += c
	}
	if holds != len(completed) || resolutions != len(completed) || revenue != credits(total) {
		t.Errorf("journal: %d holds, %d captures and releases charging %v; want %d, %d, %d", holds, resolutions, revenue, len(completed), len(completed), total)
	}
	vs, err := ledger.Verify(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		t.Errorf("verify: %s", v)
	}
}

// credits returns n whole credits.
func credits(n int) credit.Credits {
	c, err := credit.ParseCredits(fmt.Sprint(n))
	if err != nil {
		panic(err)
	}
	return c
}
