package httpapi_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/httpapi"
)

// walkBodies is a body each operation that takes one would accept, so that
// a request differing only in one bad value would reach the store were that
// value not refused first. A new operation with a body must add one here
// (TestBadBytesEveryRoute says so).
var walkBodies = map[string]string{
	"create-quote":        `{"model":"flux-dev","account":"acme"}`,
	"cheapest-quotes":     `{"kind":"image"}`,
	"create-account":      `{"id":"walk-new","plan":"free","time_zone":"UTC"}`,
	"create-grant":        `{"credits":5,"source":"topup","memo":"walk","reason":"walk"}`,
	"create-debit":        `{"credits":1,"memo":"walk","reason":"walk"}`,
	"create-hold":         `{"credits":1}`,
	"create-generation":   `{"account":"acme","model":"flux-dev"}`,
	"complete-generation": `{"images_delivered":1}`,
	"refund-generation":   `{"credits":1,"reason":"walk"}`,
	"fail-generation":     `{"reason":"walk"}`,
	"release-hold":        `{"reason":"walk"}`,
	"capture-hold":        `{"credits":1}`,
	"set-account-plan":    `{"plan":"free","time_zone":"Europe/Berlin"}`,
	"create-subscription": `{"plan":"basic","billing":"month","time_zone":"UTC","starts_at":"2027-01-01"}`,
	"cancel-subscription": `{"at":"period_end"}`,
	"change-subscription": `{"plan":"pro","at":"now"}`,
	"void-grant":          `{"memo":"walk","reason":"walk"}`,
	"amend-grant-expiry":  `{"expires_at":"2030-01-01T00:00:00Z","memo":"walk"}`,
	"set-member":          `{"monthly_limit_credits":5}`,
	"create-webhook":      `{"url":"https://93.184.216.34/walk","events":["*"],"description":"walk"}`,
	"set-account-alerts":  `{"low_balance_credits":5}`,
	"set-auto-topup":      `{"threshold_credits":10,"amount_credits":20,"monthly_cap_credits":100}`,
}

// walkMember is the team member the walk's member paths name.
const walkMember = "walk-member"

// Bad values. Path ids are as sent on the wire (percent-encoded); "." and
// ".." are not among them because a URL path cannot carry them (the router
// cleans them away before any route sees them).
var (
	badPathIDs  = []string{"a%00b", "%ff", "%c3%28", "acme%e2%80%8b", "%e2%80%aeacme", "acme%c2%85", "a%20b", "%ef%bb%bfacme"}
	badIdemKeys = []string{"\xff", "\xc3\x28", "a\x00b", "k\u202e", "clé", "a b", strings.Repeat("k", 256)}
	badTokens   = []string{"tally_\xff_x", "tally_a\x00b_x", "tally_\xc3\x28_x", "tally_\u202e_x", "tally_" + strings.Repeat("a", 600) + "_x", "\xff"}
	// badTexts replace a JSON string's contents: escapes that decode to
	// characters no id or memo may hold, and raw bytes that are not UTF-8.
	badTexts = []string{`a\u0000b`, `a\u009bb`, "a\xffb", "\xc3\x28"}
)

// TestBadBytesEveryRoute walks every operation of the OpenAPI document, on
// both stores, with bytes a store cannot hold or an id may not contain: in
// each path id, in Idempotency-Key, in the bearer token and in each text field
// of the body. Every answer is a 4xx problem with the stable code of the
// case, never a 5xx; nothing is written (the store's contents and the audit
// log are unchanged, verify is clean) and nothing is logged as an error.
func TestBadBytesEveryRoute(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			db := st.open(t)
			log := &errorLog{}
			// The example catalog: the built-in models, and paid plans to
			// subscribe to.
			cfg := httpapi.Config{Catalog: mustPlansCatalog(t), Log: slog.New(log)}
			if cs, ok := db.(credit.CatalogStore); ok {
				cfg.Catalogs = cs
			}
			e := mustLedgerServerOn(t, db, cfg)
			walkBadBytes(t, e)
			for _, m := range log.lines() {
				t.Errorf("logged: %s", m)
			}
		})
	}
}

func walkBadBytes(t *testing.T, e *Env) {
	e.Account("acme", "", "1000")
	gen := e.Generation(`{"account":"acme","model":"flux-dev","images":2}`)
	hold := str(t, e.Want(e.Do(http.MethodPost, "/v1/accounts/acme/holds", adminKey, `{"credits":4}`), http.StatusCreated, "hold")["id"], "id")
	sub := str(t, e.Want(e.Do(http.MethodPost, "/v1/accounts/acme/subscriptions", adminKey, `{"plan":"basic"}`), http.StatusCreated, "subscribe")["id"], "id")
	grant := str(t, e.Want(e.Do(http.MethodPost, "/v1/accounts/acme/grants", adminKey, `{"credits":5,"source":"promo"}`), http.StatusCreated, "grant")["id"], "id")
	// A pending top-up (acme is below the threshold at once), an endpoint
	// and a delivery of it.
	e.Want(e.Do(http.MethodPut, "/v1/accounts/acme/auto-topup", adminKey, `{"threshold_credits":100000,"amount_credits":1,"monthly_cap_credits":1000}`), http.StatusOK, "auto-topup")
	tops, err := e.Ledger.Topups(t.Context(), "acme", "", 1)
	if err != nil || len(tops) != 1 {
		t.Fatalf("acme's top-ups: %v, %v", tops, err)
	}
	wh := str(t, e.Want(e.Do(http.MethodPost, "/v1/webhooks", adminKey, `{"url":"https://93.184.216.34/walk","events":["*"]}`), http.StatusCreated, "webhook")["id"], "id")
	e.Want(e.Do(http.MethodPost, "/v1/accounts/acme/grants", adminKey, `{"credits":5,"source":"promo"}`), http.StatusCreated, "grant")
	caughtUp(t, e)
	if _, err := e.Ledger.Store().(credit.WebhookStore).ScheduleDeliveries(t.Context(), e.Clock.Now(), 100); err != nil {
		t.Fatal(err)
	}
	ds, err := e.Ledger.Deliveries(t.Context(), credit.DeliveryQuery{Webhook: wh, Limit: 1})
	if err != nil || len(ds) != 1 {
		t.Fatalf("the endpoint's deliveries: %v, %v", ds, err)
	}
	delivery := ds[0].ID
	goodID := map[string]string{"account": "acme", "generation": gen, "hold": hold, "model": "flux-dev", "subscription": sub, "grant": grant,
		"topup": tops[0].ID, "webhook": wh}
	before := contents(t, e)

	type route struct {
		method, path string
		op           *huma.Operation
	}
	var routes []route
	for path, item := range e.Server.OpenAPI().Paths {
		for method, op := range map[string]*huma.Operation{http.MethodGet: item.Get, http.MethodPost: item.Post, http.MethodPut: item.Put, http.MethodPatch: item.Patch, http.MethodDelete: item.Delete} {
			if op != nil {
				routes = append(routes, route{method, path, op})
			}
		}
	}
	slices.SortFunc(routes, func(a, b route) int { return strings.Compare(a.method+a.path, b.method+b.path) })
	if len(routes) < 20 {
		t.Fatalf("the OpenAPI document lists %d operations; want every route (≥ 20)", len(routes))
	}

	n := 0
	send := func(what, method, path, body string, hdr ...string) response {
		t.Helper()
		n++
		req := httptest.NewRequest(method, path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Authorization", "Bearer "+adminKey)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header[hdr[i]] = []string{hdr[i+1]} // as sent: no canonical checks
		}
		rec := httptest.NewRecorder()
		e.Server.ServeHTTP(rec, req)
		return response{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
	}
	want := func(what string, r response, status int, code string) {
		t.Helper()
		var p struct {
			Code   string `json:"code"`
			Status int    `json:"status"`
		}
		err := json.Unmarshal(r.body, &p)
		switch {
		case r.status != status || p.Code != code:
			t.Errorf("%s = %d %q; want %d %s\n%s", what, r.status, p.Code, status, code, truncate(r.body))
		case mediaType(r.header) != "application/problem+json" || err != nil || p.Status != r.status:
			t.Errorf("%s = %d, not a problem: %s", what, r.status, truncate(r.body))
		}
	}

	for _, rt := range routes {
		op := rt.op
		body, hasBody := walkBodies[op.OperationID]
		if op.RequestBody != nil && !hasBody {
			t.Errorf("%s %s (%s) takes a body: add one it accepts to walkBodies", rt.method, rt.path, op.OperationID)
			continue
		}
		noun := ""
		if i := strings.Index(rt.path, "/{id}"); i >= 0 {
			noun = strings.TrimSuffix(rt.path[strings.LastIndex(rt.path[:i], "/")+1:i], "s")
			if goodID[noun] == "" {
				t.Errorf("%s %s: no id to walk it with for a %s", rt.method, rt.path, noun)
				continue
			}
		}
		// A team member in the path: walkMember, or one that cannot be one;
		// likewise a webhook's delivery.
		inner := strings.NewReplacer("{member}", walkMember, "{delivery}", delivery)
		path := inner.Replace(strings.ReplaceAll(rt.path, "{id}", goodID[noun]))
		if rt.path == "/v1/catalog/diff" {
			path += "?from=" + catalog.Default().Version + "&to=" + catalog.Default().Version
		}

		// A path id that cannot be an id names nothing: the 404 of an unknown one.
		if noun != "" {
			for _, bad := range badPathIDs {
				p := inner.Replace(strings.ReplaceAll(rt.path, "{id}", bad))
				want(fmt.Sprintf("%s %s", rt.method, p), send("path", rt.method, p, body), http.StatusNotFound, "unknown_"+noun)
			}
		}
		// A member id that cannot be one is refused as such, before the store.
		if strings.Contains(rt.path, "{member}") {
			for _, bad := range badPathIDs {
				p := strings.ReplaceAll(strings.ReplaceAll(rt.path, "{id}", goodID[noun]), "{member}", bad)
				want(fmt.Sprintf("%s %s", rt.method, p), send("path", rt.method, p, body), http.StatusUnprocessableEntity, "invalid_member_id")
			}
		}
		// A delivery id that cannot be one names nothing.
		if strings.Contains(rt.path, "{delivery}") {
			for _, bad := range badPathIDs {
				p := strings.ReplaceAll(strings.ReplaceAll(rt.path, "{id}", goodID[noun]), "{delivery}", bad)
				want(fmt.Sprintf("%s %s", rt.method, p), send("path", rt.method, p, body), http.StatusNotFound, "unknown_delivery")
			}
		}
		// An Idempotency-Key of other than 1–255 visible ASCII characters.
		if slices.ContainsFunc(op.Parameters, func(p *huma.Param) bool { return p.In == "header" && p.Name == "Idempotency-Key" }) {
			for _, bad := range badIdemKeys {
				want(fmt.Sprintf("%s %s with Idempotency-Key %+q", rt.method, path, bad),
					send("key", rt.method, path, body, "Idempotency-Key", bad), http.StatusUnprocessableEntity, "invalid_idempotency_key")
			}
		}
		// A bearer token that cannot be a key is refused without the store.
		if len(op.Security) > 0 {
			for _, bad := range badTokens {
				want(fmt.Sprintf("%s %s with token %+q", rt.method, path, bad),
					send("token", rt.method, path, body, "Authorization", "Bearer "+bad), http.StatusUnauthorized, "unauthorized")
			}
		}
		// Each text field of the body.
		if hasBody {
			var fields map[string]any
			if err := json.Unmarshal([]byte(body), &fields); err != nil {
				t.Fatalf("walkBodies[%s]: %v", op.OperationID, err)
			}
			for field, v := range fields {
				if _, ok := v.(string); !ok {
					continue
				}
				for _, bad := range badTexts {
					fields[field] = "\x01PLACEHOLDER\x01"
					b, _ := json.Marshal(fields)
					fields[field] = v
					bb := strings.Replace(string(b), `"\u0001PLACEHOLDER\u0001"`, `"`+bad+`"`, 1)
					status, code := http.StatusUnprocessableEntity, textCode(op.OperationID, field)
					if !strings.HasPrefix(bad, `a\u`) {
						status, code = http.StatusBadRequest, "invalid_json"
					}
					want(fmt.Sprintf("%s %s %s", rt.method, path, bb), send("body", rt.method, path, bb), status, code)
				}
			}
		}
	}
	t.Logf("%d operations, %d requests", len(routes), n)

	if after := contents(t, e); !reflect.DeepEqual(after, before) {
		t.Errorf("the store changed:\nbefore %+v\nafter  %+v", before, after)
	}
	e.Verify()
}

// textCode is the code a body text field of an operation answers when it
// holds a NUL or a control character.
func textCode(op, field string) string {
	switch field {
	case "id", "account":
		return "invalid_account_id"
	case "memo":
		return "invalid_memo"
	case "model":
		return "unknown_model"
	case "source":
		return "unknown_source"
	case "kind":
		return "invalid_request" // an enum
	case "plan":
		return "unknown_plan"
	case "time_zone":
		return "invalid_time_zone"
	case "billing":
		return "invalid_billing"
	case "at":
		return "invalid_at"
	case "starts_at", "expires_at":
		return "invalid_time"
	case "url":
		return "invalid_webhook_url"
	case "description":
		return "invalid_description"
	case "reason":
		return "invalid_reason"
	}
	return "field " + field + " of " + op + " has no expected code: add it to textCode"
}

// ledgerContents is what a refused request must leave unchanged.
type ledgerContents struct {
	Snapshot *credit.Snapshot
	Audit    int
}

// contents reads the whole store and the length of the audit log.
func contents(tb testing.TB, e *Env) ledgerContents {
	tb.Helper()
	var c ledgerContents
	var err error
	c.Snapshot, err = credit.ReadSnapshot(context.Background(), e.Ledger.Store())
	if err != nil {
		tb.Fatal(err)
	}
	c.Snapshot.Usage = nil // in any order; it is the journal's, compared whole
	for before := int64(0); ; {
		log, err := e.Ledger.Audit(context.Background(), before, credit.MaxAuditPage)
		if err != nil {
			tb.Fatal(err)
		}
		c.Audit += len(log)
		if len(log) < credit.MaxAuditPage {
			return c
		}
		before = log[len(log)-1].ID
	}
}

// errorLog is a slog handler that keeps the records at ERROR and above: a
// refused request is never an internal error.
type errorLog struct {
	mu  sync.Mutex
	msg []string
}

func (l *errorLog) Enabled(_ context.Context, level slog.Level) bool { return level >= slog.LevelError }
func (l *errorLog) WithAttrs([]slog.Attr) slog.Handler               { return l }
func (l *errorLog) WithGroup(string) slog.Handler                    { return l }

func (l *errorLog) Handle(_ context.Context, r slog.Record) error {
	var sb strings.Builder
	sb.WriteString(r.Message)
	r.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&sb, " %s=%v", a.Key, a.Value)
		return true
	})
	l.mu.Lock()
	defer l.mu.Unlock()
	l.msg = append(l.msg, sb.String())
	return nil
}

func (l *errorLog) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.msg)
}
