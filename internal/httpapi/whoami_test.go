package httpapi_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/httpapi"
)

func TestWhoAmI(t *testing.T) {
	e := MustLedgerServer(t)
	e.Account("alice", "", "10")
	service := e.Key(credit.ScopeService, "")
	own := e.Key(credit.ScopeAccount, "alice")
	support := e.Key(credit.ScopeSupport, "")
	for _, tt := range []struct {
		name, key      string
		scope, account string
	}{
		{"admin", adminKey, "admin", ""},
		{"service", service, "service", ""},
		{"support", support, "support", ""},
		{"account", own, "account", "alice"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got := e.Want(e.Do(http.MethodGet, "/v1/whoami", tt.key, ""), http.StatusOK, "whoami")
			if s := str(t, got["scope"], "scope"); s != tt.scope {
				t.Errorf("scope = %q; want %q", s, tt.scope)
			}
			account, _ := got["account"].(string)
			if account != tt.account {
				t.Errorf("account = %q; want %q", account, tt.account)
			}
			// The key's id is the middle of its token (tally_<id>_<secret>).
			wantKey := "admin"
			if tt.key != adminKey {
				wantKey = strings.Split(tt.key, "_")[1]
			}
			if k := str(t, got["key"], "key"); k != wantKey {
				t.Errorf("key = %q; want %q", k, wantKey)
			}
		})
	}
	for name, key := range map[string]string{"none": "", "bad": "tally_nosuchkey_c2VjcmV0"} {
		t.Run(name, func(t *testing.T) {
			r := e.Do(http.MethodGet, "/v1/whoami", key, "")
			wantProblem(t, r, http.StatusUnauthorized, "unauthorized")
			if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
				t.Errorf("WWW-Authenticate = %q; want a Bearer challenge", got)
			}
		})
	}
}

func TestWhoAmIOpenAPI(t *testing.T) {
	e := MustLedgerServer(t)
	var doc struct {
		Paths map[string]map[string]struct {
			OperationID string                `json:"operationId"`
			Security    []map[string][]string `json:"security"`
			Scopes      []string              `json:"x-tally-scopes"`
			Responses   map[string]any        `json:"responses"`
		} `json:"paths"`
	}
	r := e.Do(http.MethodGet, "/openapi.json", "", "")
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatal(err)
	}
	op, ok := doc.Paths["/v1/whoami"]["get"]
	if !ok {
		t.Fatal("/openapi.json does not document GET /v1/whoami")
	}
	if op.OperationID != "whoami" || len(op.Security) == 0 || strings.Join(op.Scopes, ",") != "admin,service,support,account" {
		t.Errorf("GET /v1/whoami documented as %+v; want operation whoami, bearer security, every scope", op)
	}
	for _, status := range []string{"200", "401"} {
		if _, ok := op.Responses[status]; !ok {
			t.Errorf("GET /v1/whoami documents no %s response", status)
		}
	}
}

// The console serves what the API does not: unmatched paths outside the API.
func TestConsoleMount(t *testing.T) {
	ui := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = io.WriteString(w, "console "+r.Method+" "+r.URL.Path)
	})
	srv := httpapi.NewServer(httpapi.Config{Catalog: catalog.Default(), Version: "test", Console: ui})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	for _, path := range []string{"/", "/pricing", "/accounts/alice", "/catalog", "/assets/app.js", "/v1x"} {
		r := get(t, ts, path)
		if r.status != http.StatusOK || string(r.body) != "console GET "+path {
			t.Errorf("GET %s = %d %q; want the console", path, r.status, r.body)
		}
	}
	// The API's own answers are untouched, problems included.
	if r := get(t, ts, "/v1/models/nano-banana-2"); r.status != http.StatusOK || mediaType(r.header) != "application/json" {
		t.Errorf("GET /v1/models/nano-banana-2 = %d %s", r.status, mediaType(r.header))
	}
	wantProblem(t, get(t, ts, "/v1/no/such/route"), http.StatusNotFound, "not_found")
	wantProblem(t, get(t, ts, "/v1"), http.StatusNotFound, "not_found")
	wantProblem(t, get(t, ts, "/metrics"), http.StatusNotFound, "not_found")
	wantProblem(t, do(t, ts.Client(), http.MethodDelete, ts.URL+"/v1/quotes", "", nil), http.StatusMethodNotAllowed, "method_not_allowed")
	wantProblem(t, do(t, ts.Client(), http.MethodPost, ts.URL+"/openapi.json", "", nil), http.StatusMethodNotAllowed, "method_not_allowed")
	if r := get(t, ts, "/healthz"); r.status != http.StatusOK {
		t.Errorf("GET /healthz = %d", r.status)
	}

	// Without a console, those paths are the API's 404.
	plain := httptest.NewServer(httpapi.New(catalog.Default(), "test", nil))
	t.Cleanup(plain.Close)
	wantProblem(t, get(t, plain, "/pricing"), http.StatusNotFound, "not_found")
}
