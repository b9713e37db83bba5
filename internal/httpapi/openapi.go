package httpapi

import (
	"net/http"
	"reflect"

	"github.com/danielgtaylor/huma/v2"
)

// servers are the OpenAPI document's servers: "/" (OpenAPI's own default) is
// the origin the document was fetched from, whatever address the node is
// reached at; the second is where `tally serve` listens by default.
var servers = []*huma.Server{
	{URL: "/", Description: "The server that served this document."},
	{URL: "http://127.0.0.1:8080", Description: "tally serve's default address."},
}

// Health is the body of /healthz and /readyz.
type Health struct {
	Status string `json:"status" enum:"ok,ready" doc:"ok: the process serves (GET /healthz); ready: the catalog is loaded and the store answers (GET /readyz)."`
}

// probeKey marks the probes' operations (huma.Operation.Metadata), which are
// documented only.
const probeKey = "tally.probe"

// documentProbes adds /healthz and /readyz to the OpenAPI document. They are
// plain handlers, outside huma: a load balancer's probe must not pass through
// the rate limiter, nor be refused by it.
func (s *Server) documentProbes() {
	reg := s.api.OpenAPI().Components.Schemas
	health := reg.Schema(reflect.TypeFor[Health](), true, "Health")
	problem := reg.Schema(reflect.TypeFor[Problem](), true, "Problem")
	ok := func(example string) map[string]*huma.Response {
		return map[string]*huma.Response{"200": {Description: "OK", Content: map[string]*huma.MediaType{
			"application/json": {Schema: health, Example: map[string]string{"status": example}}}}}
	}
	s.api.OpenAPI().AddOperation(&huma.Operation{
		OperationID: "healthz",
		Method:      http.MethodGet,
		Path:        "/healthz",
		Summary:     "Liveness: the process serves",
		Description: "Always 200 while the process runs; it reads no store. Not rate limited.",
		Tags:        []string{"Health"},
		Responses:   ok("ok"),
		Metadata:    map[string]any{probeKey: true},
	})
	ready := ok("ready")
	ready["503"] = &huma.Response{
		Description: "not_ready: no catalog is loaded, or the store did not answer within 2 s. It answers 200 again as soon as the store does.",
		Content:     map[string]*huma.MediaType{"application/problem+json": {Schema: problem}},
	}
	s.api.OpenAPI().AddOperation(&huma.Operation{
		OperationID: "readyz",
		Method:      http.MethodGet,
		Path:        "/readyz",
		Summary:     "Readiness: the node can serve requests",
		Description: "Pings the store (2 s timeout): point a load balancer's health check here. Not rate limited.",
		Tags:        []string{"Health"},
		Responses:   ready,
		Metadata:    map[string]any{probeKey: true},
	})
	if s.metrics == nil {
		return
	}
	s.api.OpenAPI().AddOperation(&huma.Operation{
		OperationID: "metrics",
		Method:      http.MethodGet,
		Path:        "/metrics",
		Summary:     "Prometheus metrics",
		Description: "The process's series in Prometheus' text format: tally_http_requests_total and tally_http_request_duration_seconds by method, route (the path template) and status; tally_ledger_writes_total by operation and outcome (ok or the refusal's code); tally_store_commits_total, tally_store_commit_duration_seconds and tally_store_commit_writes; tally_webhook_deliveries_total by outcome; tally_open_holds and tally_outbox_lag_seconds, read from the store at each scrape; tally_build_info; and the Go runtime's and the process's. No label names an account or a key. Not rate limited.",
		Tags:        []string{"Health"},
		Responses: map[string]*huma.Response{"200": {Description: "OK", Content: map[string]*huma.MediaType{
			"text/plain; version=0.0.4": {Schema: &huma.Schema{Type: "string"}}}}},
		Metadata: map[string]any{probeKey: true},
	})
}

// documentLimits declares on every operation the refusals that do not depend
// on its input: 429 rate_limited (with Retry-After) where the server limits
// the caller's key or address, and 503 store_unavailable where the operation
// reads or writes the store (every route that takes a key, since stored keys
// are looked up there, once the server has a ledger). It may run again after
// more routes are added; it only adds what is missing.
func (s *Server) documentLimits() {
	problem := s.api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[Problem](), true, "Problem")
	content := map[string]*huma.MediaType{"application/problem+json": {Schema: problem}}
	for _, item := range s.api.OpenAPI().Paths {
		for _, op := range []*huma.Operation{item.Get, item.Post, item.Put, item.Patch, item.Delete} {
			if op == nil {
				continue
			}
			if op.Metadata[probeKey] != nil {
				continue // not served through huma's middleware
			}
			// Routes registered without secure are public: the middleware
			// reads a missing access as public, and so does this.
			a, _ := op.Metadata[accessKey].(access)
			if s.rateLimited(a) && op.Responses["429"] == nil {
				op.Responses["429"] = &huma.Response{
					Description: "rate_limited: too many requests from this API key or, without a valid key, from this address. Retry after Retry-After seconds.",
					Headers:     retryAfterHeader(),
					Content:     content,
				}
			}
			if a != public && s.ledger != nil && op.Responses["503"] == nil {
				op.Responses["503"] = &huma.Response{
					Description: "store_unavailable: the store cannot serve now (disk full, read-only file, database busy or unreachable). Retry later; a POST with the same Idempotency-Key.",
					Content:     content,
				}
			}
		}
	}
}

// retryAfterHeader documents the Retry-After of a 429.
func retryAfterHeader() map[string]*huma.Param {
	return map[string]*huma.Param{"Retry-After": {
		Description: "Seconds to wait before the next request.",
		Schema:      &huma.Schema{Type: "integer", Minimum: ptr(1.0)},
	}}
}

// limitedResponse documents the 429 of a route a plan's limits refuse,
// whether or not the server limits rates too (documentLimits leaves it be).
func (s *Server) limitedResponse() *huma.Response {
	problem := s.api.OpenAPI().Components.Schemas.Schema(reflect.TypeFor[Problem](), true, "Problem")
	return &huma.Response{
		Description: "concurrency_limit: the unlimited window's generations at a time are open, retry when one ends; daily_limit_reached: the window's fast generations of today are used and it blocks until resets_at, the account's next local midnight (Retry-After says how long). Where the server limits request rates, also rate_limited, with Retry-After.",
		Headers:     retryAfterHeader(),
		Content:     map[string]*huma.MediaType{"application/problem+json": {Schema: problem}},
	}
}

// rateLimited reports whether a route of access a can answer 429: every
// request is charged to its key, or without a valid key to its address.
func (s *Server) rateLimited(a access) bool {
	if !a.keyed() {
		return s.ipLimits != nil
	}
	return s.keyLimits != nil || s.ipLimits != nil
}

func ptr[T any](v T) *T { return &v }
