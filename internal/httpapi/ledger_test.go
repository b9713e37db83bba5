package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/httpapi"
	"github.com/tally-credits/tally/internal/sqlite"
)

// adminKey is the TALLY_ADMIN_KEY of the test servers.
const adminKey = "test-admin-key-0123456789"

// start is the test clock's first reading: after the seed catalog's
// effective time.
var start = time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)

// Clock is a movable clock for the ledger.
type Clock struct {
	mu  sync.Mutex
	now time.Time
}

// Now returns the clock's reading.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Add moves the clock.
func (c *Clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Env is a real server on a real SQLite file, with a movable clock.
type Env struct {
	tb     testing.TB
	Server *httpapi.Server
	TS     *httptest.Server
	Ledger *credit.Ledger
	Clock  *Clock
}

// MustLedgerServer starts the API with the built-in catalog and a ledger on a
// fresh SQLite file, wired as cmd/tally wires it (the ledger prices with the
// server's catalog).
func MustLedgerServer(tb testing.TB) *Env {
	return MustLedgerServerWith(tb, catalog.Default())
}

// MustLedgerServerWith is MustLedgerServer with another catalog.
func MustLedgerServerWith(tb testing.TB, cat *credit.Catalog) *Env {
	tb.Helper()
	return mustLedgerServer(tb, httpapi.Config{Catalog: cat})
}

// mustLedgerServer serves a ledger on a fresh SQLite file with cfg (its
// AdminKey and Version are set here).
func mustLedgerServer(tb testing.TB, cfg httpapi.Config) *Env {
	tb.Helper()
	return mustLedgerServerOn(tb, mustOpenSQLite(tb), cfg)
}

// mustOpenSQLite opens a store on a fresh SQLite file, closed when the test
// ends.
func mustOpenSQLite(tb testing.TB) credit.Store {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "tally.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// mustLedgerServerOn is mustLedgerServer on the store db.
func mustLedgerServerOn(tb testing.TB, db credit.Store, cfg httpapi.Config) *Env {
	tb.Helper()
	return mustEnv(tb, db, cfg, &Clock{now: start}, nil)
}

// mustEnv is mustLedgerServerOn with the ledger's clock, and with more of
// its configuration set by ledger (if not nil).
func mustEnv(tb testing.TB, db credit.Store, cfg httpapi.Config, clock *Clock, ledger func(*credit.LedgerConfig)) *Env {
	tb.Helper()
	cfg.AdminKey, cfg.Version = adminKey, "test"
	srv := httpapi.NewServer(cfg)
	lc := credit.LedgerConfig{Catalog: srv.Catalog, Now: clock.Now}
	if cfg.Metrics != nil {
		lc.Observer = cfg.Metrics
	}
	if ledger != nil {
		ledger(&lc)
	}
	l := credit.NewLedger(db, lc)
	srv.SetLedger(l)
	ts := httptest.NewServer(srv)
	tb.Cleanup(ts.Close)
	e := &Env{tb: tb, Server: srv, TS: ts, Ledger: l, Clock: clock}
	// Whatever a test sent, the ledger's invariants hold after it.
	tb.Cleanup(e.Verify)
	return e
}

// With returns e reporting to tb (a subtest's, or a fuzz target's).
func (e *Env) With(tb testing.TB) *Env {
	c := *e
	c.tb = tb
	return &c
}

// Do sends a request with the API key (none if "") and a JSON body (none if
// ""); hdr are more header name/value pairs.
func (e *Env) Do(method, path, key, body string, hdr ...string) response {
	e.tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.TS.URL+path, rd)
	if err != nil {
		e.tb.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := e.TS.Client().Do(req)
	if err != nil {
		e.tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		e.tb.Fatalf("%s %s: reading body: %v", method, path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

// Want fails unless r has the status and a JSON body, and returns the body.
func (e *Env) Want(r response, status int, what string) map[string]any {
	e.tb.Helper()
	if r.status != status {
		e.tb.Fatalf("%s: status = %d; want %d\n%s", what, r.status, status, truncate(r.body))
	}
	if got := mediaType(r.header); got != "application/json" {
		e.tb.Errorf("%s: Content-Type = %q; want application/json", what, got)
	}
	return object(e.tb, r.body)
}

// Key makes a stored API key and returns its token.
func (e *Env) Key(scope credit.Scope, account string) string {
	e.tb.Helper()
	_, token, err := e.Ledger.CreateKey(context.Background(), credit.KeySpec{Scope: scope, Account: account, Name: "test"})
	if err != nil {
		e.tb.Fatal(err)
	}
	return token
}

// Account opens an account with a topup grant (none if credits is "").
func (e *Env) Account(id, overdraft, credits string) {
	e.tb.Helper()
	body := `{"id":"` + id + `"}`
	if overdraft != "" {
		body = `{"id":"` + id + `","overdraft_credits":` + overdraft + `}`
	}
	e.Want(e.Do(http.MethodPost, "/v1/accounts", adminKey, body), http.StatusCreated, "create account "+id)
	if credits != "" {
		e.Want(e.Do(http.MethodPost, "/v1/accounts/"+id+"/grants", adminKey, `{"credits":`+credits+`,"source":"topup"}`), http.StatusCreated, "grant to "+id)
	}
}

// Balance returns an account's available and held credits as JSON text.
func (e *Env) Balance(id string) (available, held string) {
	e.tb.Helper()
	a := e.Want(e.Do(http.MethodGet, "/v1/accounts/"+id, adminKey, ""), http.StatusOK, "get account "+id)
	return num(e.tb, a["available_credits"], "available_credits"), num(e.tb, a["held_credits"], "held_credits")
}

// WantBalance checks an account's available and held credits.
func (e *Env) WantBalance(id, available, held string) {
	e.tb.Helper()
	if a, h := e.Balance(id); a != available || h != held {
		e.tb.Errorf("account %s: available, held = %s, %s; want %s, %s", id, a, h, available, held)
	}
}

// Verify fails on any broken ledger invariant.
func (e *Env) Verify() {
	e.tb.Helper()
	vs, err := e.Ledger.Verify(context.Background())
	if err != nil {
		e.tb.Fatal(err)
	}
	for _, v := range vs {
		e.tb.Errorf("verify: %s", v)
	}
}

// Generation creates a generation and returns its id.
func (e *Env) Generation(body string) string {
	e.tb.Helper()
	g := e.Want(e.Do(http.MethodPost, "/v1/generations", adminKey, body), http.StatusCreated, "create generation "+body)
	return str(e.tb, g["id"], "id")
}

func TestGenerationFlow(t *testing.T) {
	e := MustLedgerServer(t)
	// 100 credits and an overdraft of 50: Nano Banana 2 at 2K is 73.5 an
	// image (page), so two images (147) need 47 of the overdraft.
	e.Account("alice", "50", "100")
	e.WantBalance("alice", "100", "0")

	var genID string
	t.Run("Create", func(t *testing.T) {
		body := `{"account":"alice","model":"nano-banana-2","resolution":"2K","images":2}`
		r := e.Do(http.MethodPost, "/v1/generations", adminKey, body)
		g := e.Want(r, http.StatusCreated, "create generation")
		genID = str(t, g["id"], "id")
		if got := g["status"]; got != "held" {
			t.Errorf("status = %#v; want held", got)
		}
		if got := g["account"]; got != "alice" {
			t.Errorf("account = %#v; want alice", got)
		}
		if got := num(t, g["hold_credits"], "hold_credits"); got != "147" {
			t.Errorf("hold_credits = %s; want 147 (2 × 73.5)", got)
		}
		if got, want := str(t, g["expires_at"], "expires_at"), start.Add(15*time.Minute).Format(time.RFC3339); got != want {
			t.Errorf("expires_at = %s; want %s (the default TTL of 15 minutes)", got, want)
		}
		// The audit record is the quote the client would have been shown.
		q := wantOK(t, postQuote(t, e.TS, `{"model":"nano-banana-2","resolution":"2K","images":2}`))
		if got := g["quote"]; !reflect.DeepEqual(got, any(q)) {
			t.Errorf("quote = %v; want the answer of POST /v1/quotes %v", got, q)
		}
		e.WantBalance("alice", "-47", "147")
		got := e.Want(e.Do(http.MethodGet, "/v1/generations/"+genID, adminKey, ""), http.StatusOK, "get generation")
		if !reflect.DeepEqual(got, g) {
			t.Errorf("GET /v1/generations/%s = %v; want the creation's answer %v", genID, got, g)
		}
	})

	t.Run("CompleteOneOfTwo", func(t *testing.T) {
		r := e.Do(http.MethodPost, "/v1/generations/"+genID+"/complete", adminKey, `{"images_delivered":1}`)
		g := e.Want(r, http.StatusOK, "complete")
		if got := g["status"]; got != "completed" {
			t.Errorf("status = %#v; want completed", got)
		}
		if got := num(t, g["charged_credits"], "charged_credits"); got != "73.5" {
			t.Errorf("charged_credits = %s; want 73.5", got)
		}
		if got := num(t, g["images_delivered"], "images_delivered"); got != "1" {
			t.Errorf("images_delivered = %s; want 1", got)
		}
		if _, ok := g["resolved_at"]; !ok {
			t.Errorf("resolved_at missing in %v", g)
		}
		e.WantBalance("alice", "26.5", "0") // 100 − 73.5
		r = e.Do(http.MethodPost, "/v1/generations/"+genID+"/complete", adminKey, `{"images_delivered":1}`)
		wantProblem(t, r, http.StatusConflict, "already_resolved")
		e.WantBalance("alice", "26.5", "0")
	})

	t.Run("FailReleasesAll", func(t *testing.T) {
		id := e.Generation(`{"account":"alice","model":"nano-banana-2","resolution":"2K"}`)
		e.WantBalance("alice", "-47", "73.5")
		g := e.Want(e.Do(http.MethodPost, "/v1/generations/"+id+"/fail", adminKey, ""), http.StatusOK, "fail")
		if got := g["status"]; got != "failed" {
			t.Errorf("status = %#v; want failed", got)
		}
		if got := num(t, g["charged_credits"], "charged_credits"); got != "0" {
			t.Errorf("charged_credits = %s; want 0", got)
		}
		e.WantBalance("alice", "26.5", "0")
	})

	t.Run("InsufficientCredits", func(t *testing.T) {
		// 26.5 available + 50 overdraft = 76.5 < 2 × 73.5.
		r := e.Do(http.MethodPost, "/v1/generations", adminKey, `{"account":"alice","model":"nano-banana-2","resolution":"2K","images":2}`)
		p := wantProblem(t, r, http.StatusPaymentRequired, "insufficient_credits")
		if got := num(t, p["available_credits"], "available_credits"); got != "26.5" {
			t.Errorf("available_credits = %s; want 26.5", got)
		}
		if got := num(t, p["required_credits"], "required_credits"); got != "147" {
			t.Errorf("required_credits = %s; want 147", got)
		}
		e.WantBalance("alice", "26.5", "0")
	})

	e.Account("bob", "", "1000")
	var fourID string
	t.Run("ThreeOfFourDelivered", func(t *testing.T) {
		fourID = e.Generation(`{"account":"bob","model":"nano-banana-2","resolution":"2K","images":4}`)
		e.WantBalance("bob", "706", "294") // 4 × 73.5 = 294
		g := e.Want(e.Do(http.MethodPost, "/v1/generations/"+fourID+"/complete", adminKey, `{"images_delivered":3}`), http.StatusOK, "complete 3 of 4")
		if got := num(t, g["charged_credits"], "charged_credits"); got != "220.5" {
			t.Errorf("charged_credits = %s; want 220.5 (3 × 73.5)", got)
		}
		e.WantBalance("bob", "779.5", "0")
	})

	t.Run("Refund", func(t *testing.T) {
		g := e.Want(e.Do(http.MethodPost, "/v1/generations/"+fourID+"/refund", adminKey, `{"credits":73.5}`), http.StatusOK, "refund part")
		if got := num(t, g["refunded_credits"], "refunded_credits"); got != "73.5" {
			t.Errorf("refunded_credits = %s; want 73.5", got)
		}
		e.WantBalance("bob", "853", "0")
		r := e.Do(http.MethodPost, "/v1/generations/"+fourID+"/refund", adminKey, `{"credits":200}`)
		wantProblem(t, r, http.StatusUnprocessableEntity, "over_refund")
		g = e.Want(e.Do(http.MethodPost, "/v1/generations/"+fourID+"/refund", adminKey, ""), http.StatusOK, "refund the rest")
		if got := num(t, g["refunded_credits"], "refunded_credits"); got != "220.5" {
			t.Errorf("refunded_credits = %s; want 220.5", got)
		}
		e.WantBalance("bob", "1000", "0")
	})

	t.Run("HoldExpires", func(t *testing.T) {
		id := e.Generation(`{"account":"bob","model":"flux-dev","images":2,"hold_ttl_seconds":60}`)
		e.WantBalance("bob", "990", "10") // Flux Dev: 5 an image (page)
		e.Clock.Add(61 * time.Second)
		r := e.Do(http.MethodPost, "/v1/generations/"+id+"/complete", adminKey, `{"images_delivered":2}`)
		wantProblem(t, r, http.StatusConflict, "hold_expired")
		e.WantBalance("bob", "1000", "0")
		g := e.Want(e.Do(http.MethodGet, "/v1/generations/"+id, adminKey, ""), http.StatusOK, "get expired generation")
		if got := g["status"]; got != "expired" {
			t.Errorf("status = %#v; want expired", got)
		}
		if got := num(t, g["charged_credits"], "charged_credits"); got != "0" {
			t.Errorf("charged_credits = %s; want 0", got)
		}
	})

	t.Run("GenericHold", func(t *testing.T) {
		h := e.Want(e.Do(http.MethodPost, "/v1/accounts/bob/holds", adminKey, `{"credits":30,"ttl_seconds":120}`), http.StatusCreated, "hold")
		id := str(t, h["id"], "id")
		if got := h["status"]; got != "open" {
			t.Errorf("status = %#v; want open", got)
		}
		e.WantBalance("bob", "970", "30")
		a := e.Want(e.Do(http.MethodGet, "/v1/accounts/bob", adminKey, ""), http.StatusOK, "get account")
		if holds := objects(t, a["open_holds"], "open_holds"); len(holds) != 1 || holds[0]["id"] != id {
			t.Errorf("open_holds = %v; want the hold %s", holds, id)
		}
		h = e.Want(e.Do(http.MethodPost, "/v1/holds/"+id+"/capture", adminKey, `{"credits":12.25}`), http.StatusOK, "capture")
		if got, want := []any{h["status"], h["captured_credits"], h["released_credits"]}, []any{"captured", json.Number("12.25"), json.Number("17.75")}; !reflect.DeepEqual(got, want) {
			t.Errorf("status, captured, released = %v; want %v", got, want)
		}
		e.WantBalance("bob", "987.75", "0")
		wantProblem(t, e.Do(http.MethodPost, "/v1/holds/"+id+"/release", adminKey, ""), http.StatusConflict, "already_resolved")

		h = e.Want(e.Do(http.MethodPost, "/v1/accounts/bob/holds", adminKey, `{"credits":7}`), http.StatusCreated, "hold")
		id = str(t, h["id"], "id")
		h = e.Want(e.Do(http.MethodPost, "/v1/holds/"+id+"/release", adminKey, ""), http.StatusOK, "release")
		if got := h["status"]; got != "released" {
			t.Errorf("status = %#v; want released", got)
		}
		e.WantBalance("bob", "987.75", "0")
		h = e.Want(e.Do(http.MethodGet, "/v1/holds/"+id, adminKey, ""), http.StatusOK, "get hold")
		if got := h["status"]; got != "released" {
			t.Errorf("GET hold status = %#v; want released", got)
		}
	})
	e.Verify()
}

// TestConcurrentGenerations is the test over HTTP: one account with
// 100 credits, 64 clients each creating a 5-credit generation at once.
func TestConcurrentGenerations(t *testing.T) {
	e := MustLedgerServer(t)
	e.Account("crowd", "", "100")
	service := e.Key(credit.ScopeService, "")
	const clients = 64
	statuses := make([]int, clients)
	codes := make([]string, clients)
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			req, _ := http.NewRequest(http.MethodPost, e.TS.URL+"/v1/generations", strings.NewReader(`{"account":"crowd","model":"flux-dev"}`))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("Authorization", "Bearer "+service)
			resp, err := e.TS.Client().Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var body struct{ Code string }
			_ = json.NewDecoder(resp.Body).Decode(&body)
			statuses[i], codes[i] = resp.StatusCode, body.Code
		}()
	}
	close(gate)
	wg.Wait()
	created, refused := 0, 0
	for i := range clients {
		switch {
		case statuses[i] == http.StatusCreated:
			created++
		case statuses[i] == http.StatusPaymentRequired && codes[i] == "insufficient_credits":
			refused++
		default:
			t.Errorf("client %d: status %d, code %q; want 201 or 402 insufficient_credits", i, statuses[i], codes[i])
		}
	}
	if created != 20 || refused != 44 {
		t.Errorf("created, refused = %d, %d; want 20, 44 (100 credits / 5)", created, refused)
	}
	e.WantBalance("crowd", "0", "100")
	e.Verify()
}

func TestIdempotency(t *testing.T) {
	e := MustLedgerServer(t)
	e.Account("idem", "", "")
	grant := `{"credits":40,"source":"promo"}`

	t.Run("SameKeySameBody", func(t *testing.T) {
		first := e.Do(http.MethodPost, "/v1/accounts/idem/grants", adminKey, grant, "Idempotency-Key", "grant-1")
		second := e.Do(http.MethodPost, "/v1/accounts/idem/grants", adminKey, grant, "Idempotency-Key", "grant-1")
		if first.status != http.StatusCreated || second.status != first.status {
			t.Fatalf("statuses = %d, %d; want 201, 201\n%s\n%s", first.status, second.status, first.body, second.body)
		}
		if string(second.body) != string(first.body) {
			t.Errorf("retry body = %s; want the first answer %s", second.body, first.body)
		}
		e.WantBalance("idem", "40", "0")
	})

	t.Run("SameKeyOtherBody", func(t *testing.T) {
		r := e.Do(http.MethodPost, "/v1/accounts/idem/grants", adminKey, `{"credits":41,"source":"promo"}`, "Idempotency-Key", "grant-1")
		wantProblem(t, r, http.StatusConflict, "idempotency_conflict")
		// Another path is another request too.
		r = e.Do(http.MethodPost, "/v1/accounts/idem/holds", adminKey, `{"credits":40}`, "Idempotency-Key", "grant-1")
		wantProblem(t, r, http.StatusConflict, "idempotency_conflict")
		e.WantBalance("idem", "40", "0")
	})

	t.Run("KeysAreScopedToTheAPIKey", func(t *testing.T) {
		service := e.Key(credit.ScopeService, "")
		r := e.Do(http.MethodPost, "/v1/accounts/idem/holds", service, `{"credits":1}`, "Idempotency-Key", "grant-1")
		e.Want(r, http.StatusCreated, "another API key's grant-1")
		e.WantBalance("idem", "39", "1")
	})

	t.Run("Generation", func(t *testing.T) {
		body := `{"account":"idem","model":"flux-dev","images":3}`
		first := e.Do(http.MethodPost, "/v1/generations", adminKey, body, "Idempotency-Key", "gen-1")
		second := e.Do(http.MethodPost, "/v1/generations", adminKey, body, "Idempotency-Key", "gen-1")
		if first.status != http.StatusCreated || second.status != first.status || string(second.body) != string(first.body) {
			t.Fatalf("create twice = %d %s, %d %s; want the same 201 twice", first.status, first.body, second.status, second.body)
		}
		e.WantBalance("idem", "24", "16") // one hold of 3 × 5
		id := str(t, object(t, first.body)["id"], "id")
		done := `{"images_delivered":2}`
		c1 := e.Do(http.MethodPost, "/v1/generations/"+id+"/complete", adminKey, done, "Idempotency-Key", "done-1")
		c2 := e.Do(http.MethodPost, "/v1/generations/"+id+"/complete", adminKey, done, "Idempotency-Key", "done-1")
		if c1.status != http.StatusOK || c2.status != c1.status || string(c2.body) != string(c1.body) {
			t.Fatalf("complete twice = %d %s, %d %s; want the same 200 twice", c1.status, c1.body, c2.status, c2.body)
		}
		e.WantBalance("idem", "29", "1")
		// Without the key, a second completion is refused.
		wantProblem(t, e.Do(http.MethodPost, "/v1/generations/"+id+"/complete", adminKey, done), http.StatusConflict, "already_resolved")
		f1 := e.Do(http.MethodPost, "/v1/generations/"+id+"/fail", adminKey, "", "Idempotency-Key", "done-1")
		wantProblem(t, f1, http.StatusConflict, "idempotency_conflict")
	})

	t.Run("TooLong", func(t *testing.T) {
		r := e.Do(http.MethodPost, "/v1/accounts/idem/grants", adminKey, grant, "Idempotency-Key", strings.Repeat("k", 256))
		wantProblem(t, r, http.StatusUnprocessableEntity, "invalid_idempotency_key")
		r = e.Do(http.MethodPost, "/v1/accounts/idem/grants", adminKey, grant, "Idempotency-Key", strings.Repeat("k", 255))
		e.Want(r, http.StatusCreated, "a 255-character key")
		e.WantBalance("idem", "69", "1")
	})
	e.Verify()
}

func TestAffordability(t *testing.T) {
	e := MustLedgerServer(t)
	e.Account("carol", "", "100")
	e.Account("dave", "", "10")
	carol := e.Key(credit.ScopeAccount, "carol")
	body := `{"account":"carol","model":"nano-banana-2","resolution":"2K"}`

	q := e.Want(e.Do(http.MethodPost, "/v1/quotes", carol, body), http.StatusOK, "quote with account")
	a, ok := q["affordable"].(map[string]any)
	if !ok {
		t.Fatalf("affordable = %#v; want an object", q["affordable"])
	}
	// 100 credits buy one image at 73.5 (page: Nano Banana 2, 2K), and one
	// generation of one image.
	for _, c := range []struct{ field, want string }{{"available_credits", "100"}, {"images", "1"}, {"generations", "1"}} {
		if got := num(t, a[c.field], c.field); got != c.want {
			t.Errorf("affordable.%s = %s; want %s", c.field, got, c.want)
		}
	}
	if got := num(t, q["total_credits"], "total_credits"); got != "73.5" {
		t.Errorf("total_credits = %s; want 73.5", got)
	}
	// Flux Dev at 5 an image, 4 images a generation: 20 images, 5 generations.
	q = e.Want(e.Do(http.MethodPost, "/v1/quotes", adminKey, `{"account":"carol","model":"flux-dev","images":4}`), http.StatusOK, "flux dev")
	a, _ = q["affordable"].(map[string]any)
	if got := []string{num(t, a["images"], "images"), num(t, a["generations"], "generations")}; !reflect.DeepEqual(got, []string{"20", "5"}) {
		t.Errorf("affordable images, generations = %v; want [20 5]", got)
	}

	wantProblem(t, e.Do(http.MethodPost, "/v1/quotes", "", body), http.StatusUnauthorized, "unauthorized")
	wantProblem(t, e.Do(http.MethodPost, "/v1/quotes", carol, `{"account":"dave","model":"flux-dev"}`), http.StatusNotFound, "unknown_account")
	wantProblem(t, e.Do(http.MethodPost, "/v1/quotes", adminKey, `{"account":"nobody","model":"flux-dev"}`), http.StatusNotFound, "unknown_account")
	// Without an account a quote stays public and says nothing of balances.
	q = e.Want(e.Do(http.MethodPost, "/v1/quotes", "", `{"model":"flux-dev"}`), http.StatusOK, "public quote")
	if _, ok := q["affordable"]; ok {
		t.Errorf("public quote has affordable: %v", q)
	}
}

func TestModelFilters(t *testing.T) {
	_, ts := MustServer(t)
	body := wantOK(t, get(t, ts, "/v1/models?kind=image&resolution=4K&aspect_ratio=9:16&images=2"))
	// The same question as TestCheapest, from the page.
	want := [][2]string{{"seedream-v4", "36"}, {"seedream-v4.5", "48"}, {"imagineart-1.5-pro", "50"}, {"nano-banana-2", "196"}, {"nano-banana-pro", "320"}}
	models := objects(t, body["models"], "models")
	if len(models) != len(want) {
		t.Fatalf("len(models) = %d; want %d", len(models), len(want))
	}
	for i, m := range models {
		if got := [2]string{str(t, m["id"], "id"), num(t, m["quote_total_credits"], "quote_total_credits")}; got != want[i] {
			t.Errorf("models[%d] = %v; want %v", i, got, want[i])
		}
	}
	// prompt_enhancer=false is a filter: every image model accepts it, and
	// the answer is priced and sorted.
	body = wantOK(t, get(t, ts, "/v1/models?prompt_enhancer=false&kind=upscale&scale=2&input_width=1920&input_height=1080"))
	models = objects(t, body["models"], "models")
	// Topaz 1920×1080 at 2× is 41 (page); Magnific 2× is 65.
	if len(models) != 2 || models[0]["id"] != "topaz" || num(t, models[0]["quote_total_credits"], "topaz") != "41" || models[1]["id"] != "magnific-precision-v2" {
		t.Errorf("upscalers at 2× for 1920×1080 = %v; want topaz 41, then magnific-precision-v2", models)
	}
	body = wantOK(t, get(t, ts, "/v1/models"))
	for _, m := range objects(t, body["models"], "models") {
		if _, ok := m["quote_total_credits"]; ok {
			t.Errorf("unfiltered model %v has quote_total_credits", m["id"])
		}
	}
	wantProblem(t, get(t, ts, "/v1/models?kind=video"), http.StatusUnprocessableEntity, "")
}

func TestSetLedgerOnce(t *testing.T) {
	e := MustLedgerServer(t)
	defer func() {
		if recover() == nil {
			t.Error("SetLedger on a serving server did not panic")
		}
	}()
	e.Server.SetLedger(e.Ledger)
}

func TestReadyWithLedger(t *testing.T) {
	e := MustLedgerServer(t)
	e.Want(e.Do(http.MethodGet, "/readyz", "", ""), http.StatusOK, "readyz")
}

// TestAccountIDInPath opens an account whose id needs escaping in a path.
func TestAccountIDInPath(t *testing.T) {
	e := MustLedgerServer(t)
	e.Want(e.Do(http.MethodPost, "/v1/accounts", adminKey, `{"id":"team/7?x#y"}`), http.StatusCreated, "create")
	esc := url.PathEscape("team/7?x#y")
	e.Want(e.Do(http.MethodPost, "/v1/accounts/"+esc+"/grants", adminKey, `{"credits":12,"source":"topup"}`, "Idempotency-Key", "k"), http.StatusCreated, "grant")
	a := e.Want(e.Do(http.MethodGet, "/v1/accounts/"+esc, adminKey, ""), http.StatusOK, "get")
	if a["id"] != "team/7?x#y" || num(t, a["available_credits"], "available_credits") != "12" {
		t.Errorf("account = %v; want team/7?x#y with 12 credits", a)
	}
}

func TestPricingOnlyServer(t *testing.T) {
	_, ts := MustServer(t)
	wantProblem(t, get(t, ts, "/v1/accounts/x"), http.StatusNotFound, "not_found")
	wantProblem(t, postQuote(t, ts, `{"account":"x","model":"flux-dev"}`), http.StatusUnprocessableEntity, "no_ledger")
}

// TestRefundTwice refunds a whole charge, then asks for the rest again.
func TestRefundTwice(t *testing.T) {
	e := MustLedgerServer(t)
	e.Account("alice", "", "100")
	id := e.Generation(`{"account":"alice","model":"flux-dev"}`)
	e.Want(e.Do(http.MethodPost, "/v1/generations/"+id+"/complete", adminKey, `{"images_delivered":1}`), http.StatusOK, "complete")
	e.Want(e.Do(http.MethodPost, "/v1/generations/"+id+"/refund", adminKey, ""), http.StatusOK, "refund")
	wantProblem(t, e.Do(http.MethodPost, "/v1/generations/"+id+"/refund", adminKey, ""), http.StatusConflict, "not_refundable")
	e.WantBalance("alice", "100", "0")
	e.Verify()
}
