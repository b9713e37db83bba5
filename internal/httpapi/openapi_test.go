package httpapi_test

import (
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/httpapi"
)

// publicPricing are the operations that read neither a key nor the store:
// they cannot answer 503.
var publicPricing = []string{"cheapest-quotes", "list-models", "get-model", "get-catalog"}

// TestOpenAPIDocument checks what the document says of every operation
// beyond its input: the probes are documented with their bodies; every
// operation served through the rate limiter declares 429 with Retry-After;
// every one that reads a key or the store declares 503; and the servers.
func TestOpenAPIDocument(t *testing.T) {
	e := mustLedgerServer(t, httpapi.Config{Catalog: catalog.Default(), RateLimit: httpapi.DefaultRateLimit})
	doc := openAPI(t, e.Do(http.MethodGet, "/openapi.json", "", ""))

	t.Run("Servers", func(t *testing.T) {
		var urls []string
		for _, s := range objects(t, doc["servers"], "servers") {
			urls = append(urls, str(t, s["url"], "url"))
		}
		if !slices.Equal(urls, []string{"/", "http://127.0.0.1:8080"}) {
			t.Errorf("servers = %v; want [/ http://127.0.0.1:8080]", urls)
		}
	})

	t.Run("Probes", func(t *testing.T) {
		for _, p := range []struct{ path, status string }{{"/healthz", "ok"}, {"/readyz", "ready"}} {
			op := at(t, doc, "paths", p.path, "get")
			s := resolve(t, doc, at(t, op, "responses", "200", "content", "application/json", "schema"))
			if got := at(t, s, "properties", "status")["enum"]; !slices.Contains(got.([]any), any(p.status)) {
				t.Errorf("%s status enum = %v; want it to hold %q", p.path, got, p.status)
			}
			// The documented body is the one served.
			var body map[string]any
			if err := json.Unmarshal(e.Do(http.MethodGet, p.path, "", "").body, &body); err != nil || body["status"] != p.status {
				t.Errorf("GET %s = %v, %v; want status %q", p.path, body, err, p.status)
			}
			if _, ok := at(t, op, "responses")["429"]; ok {
				t.Errorf("%s declares 429; probes are not rate limited", p.path)
			}
		}
		at(t, doc, "paths", "/readyz", "get", "responses", "503", "content", "application/problem+json")
	})

	t.Run("EveryOperation", func(t *testing.T) {
		n := 0
		for path, item := range at(t, doc, "paths") {
			for method, v := range item.(map[string]any) {
				op, ok := v.(map[string]any)
				if !ok || path == "/healthz" || path == "/readyz" {
					continue
				}
				n++
				id := str(t, op["operationId"], "operationId")
				responses := at(t, op, "responses")
				if _, ok := responses["429"]; !ok {
					t.Errorf("%s %s (%s) does not declare 429", method, path, id)
				} else {
					at(t, responses, "429", "headers", "Retry-After", "schema")
					at(t, responses, "429", "content", "application/problem+json")
				}
				if _, ok := responses["503"]; !ok && !slices.Contains(publicPricing, id) {
					t.Errorf("%s %s (%s) does not declare 503", method, path, id)
				}
			}
		}
		if n < 20 {
			t.Errorf("the document has %d operations; want every route (20 or more)", n)
		}
	})

	t.Run("PriorityOrder", func(t *testing.T) {
		// README: grants are used by priority (lower first), then expiry.
		grant := resolve(t, doc, at(t, doc, "paths", "/v1/accounts/{id}/grants", "post", "requestBody", "content", "application/json", "schema"))
		for _, d := range []string{
			str(t, at(t, grant, "properties", "priority")["description"], "description"),
			str(t, at(t, doc, "components", "schemas", "Grant", "properties", "priority")["description"], "description"),
			str(t, at(t, doc, "components", "schemas", "Account", "properties", "grants")["description"], "description"),
		} {
			if !strings.Contains(d, "lowest priority first") || strings.Contains(d, "same expiry") {
				t.Errorf("description %q; want priority first (lowest first), then expiry", d)
			}
		}
	})

	t.Run("NoLimitsNoLedger", func(t *testing.T) {
		// A pricing-only server without limits promises neither.
		_, ts := MustServer(t)
		doc := openAPI(t, get(t, ts, "/openapi.json"))
		for _, p := range []string{"/v1/models", "/v1/catalog"} {
			responses := at(t, doc, "paths", p, "get", "responses")
			if _, ok := responses["429"]; ok {
				t.Errorf("%s declares 429 on a server without limits", p)
			}
			if _, ok := responses["503"]; ok {
				t.Errorf("%s declares 503 on a server without a store", p)
			}
		}
	})
}

func openAPI(tb testing.TB, r response) map[string]any {
	tb.Helper()
	if r.status != http.StatusOK {
		tb.Fatalf("GET /openapi.json: %d", r.status)
	}
	var doc map[string]any
	if err := json.Unmarshal(r.body, &doc); err != nil {
		tb.Fatalf("/openapi.json is not JSON: %v", err)
	}
	return doc
}
