// Package httpapi is tally's HTTP interface: the routes under /v1, RFC 9457
// problems, and the OpenAPI 3.1 document, which huma generates from the same
// Go types that decode the requests and encode the answers, so the document
// cannot drift from what the server does.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math"
	"mime"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/metrics"
)

// MaxBodyBytes is the largest request body accepted (1 MiB).
const MaxBodyBytes = 1 << 20

// Config configures a Server.
//
// Wiring a server with a ledger: the ledger prices generations with the
// server's catalog, so that a catalog reload (SetCatalog) reprices quotes and
// generations alike. Build the server first, then the ledger on srv.Catalog,
// then hand it over before serving:
//
//	srv := httpapi.NewServer(httpapi.Config{Catalog: cat, AdminKey: os.Getenv("TALLY_ADMIN_KEY"), Version: v, Log: log})
//	srv.SetLedger(credit.NewLedger(db, credit.LedgerConfig{Catalog: srv.Catalog}))
//	http.ListenAndServe(addr, srv)
type Config struct {
	// Catalog is the price catalog in use at start; SetCatalog swaps it.
	Catalog *credit.Catalog
	// Ledger serves accounts, grants, holds, generations and history. With
	// nil the server is pricing-only: the ledger routes are not registered
	// (SetLedger can add them before serving).
	Ledger *credit.Ledger
	// Catalogs, if set, serves the published catalog history: GET
	// /v1/catalog/versions and /v1/catalog/diff are registered only then.
	Catalogs credit.CatalogStore
	// AdminKey is the admin API key from TALLY_ADMIN_KEY, compared in
	// constant time; "" disables it (stored keys still work).
	AdminKey string
	// Version is the build's version, shown in the OpenAPI document.
	Version string
	// Log receives internal errors; nil discards them.
	Log *slog.Logger
	// RateLimit bounds each caller's request rate (429 with Retry-After
	// beyond it); the zero value sets no limit. tally serve uses
	// DefaultRateLimit unless told otherwise.
	RateLimit RateLimit
	// Console, if set, serves every path outside the API (/v1/…,
	// /openapi.json, /healthz, /readyz, /metrics) that no route matched: the
	// web console. Unset, those paths answer the 404 problem.
	Console http.Handler
	// Metrics, if set, counts requests and serves GET /metrics (public,
	// like /healthz: its labels name no account or key).
	Metrics *metrics.Metrics
	// AccessLog, if set, gets one line per request: method, route, status,
	// duration, key id and request id.
	AccessLog *slog.Logger
}

// ReadyTimeout bounds how long /readyz waits for the store to answer.
const ReadyTimeout = 2 * time.Second

// Server serves the API. It is safe for concurrent use; the catalog in use can
// be swapped while serving and every request prices against one whole version.
type Server struct {
	log      *slog.Logger
	catalog  atomic.Pointer[credit.Catalog]
	ledger   *credit.Ledger // set before serving, never after
	catalogs credit.CatalogStore
	metrics  *metrics.Metrics // nil: none
	access   *slog.Logger     // nil: no access log
	adminKey string
	api      huma.API
	bodies   *bodyDecoder
	handler  http.Handler
	serving  atomic.Bool
	// Token buckets per API key and per client address (nil: no limit).
	keyLimits, ipLimits *limiters
	// drained is closed by EndLongPolls: the long polls answer at once.
	drained  chan struct{}
	draining sync.Once
}

// New returns a pricing-only server pricing with c: NewServer without a
// ledger. Version is the build's version, shown in the OpenAPI document.
func New(c *credit.Catalog, version string, log *slog.Logger) *Server {
	return NewServer(Config{Catalog: c, Version: version, Log: log})
}

// NewServer returns a server configured by cfg.
func NewServer(cfg Config) *Server {
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{log: log, adminKey: cfg.AdminKey, catalogs: cfg.Catalogs, metrics: cfg.Metrics, access: cfg.AccessLog,
		keyLimits: newLimiters(cfg.RateLimit.PerKey), ipLimits: newLimiters(cfg.RateLimit.PerIP), drained: make(chan struct{})}
	s.catalog.Store(cfg.Catalog)

	mux := http.NewServeMux()
	hc := huma.DefaultConfig("tally", cfg.Version)
	hc.Info.Description = "Prices, holds and charges the credits of an AI image studio. Amounts are decimal credits with at most three decimals. Errors are RFC 9457 problems with a stable code.\n\n" + authDoc
	hc.DocsPath = ""     // the docs renderer loads scripts from a CDN; the document itself is served
	hc.CreateHooks = nil // no $schema links injected into response bodies
	hc.Transformers = append(hc.Transformers, stampProblem)
	hc.Servers = servers
	// A misspelt filter must not silently widen an answer (?supports=… lists nothing but is refused).
	hc.RejectUnknownQueryParameters = true
	hc.Components.Schemas.RegisterTypeAlias(reflect.TypeFor[credit.Credits](), reflect.TypeFor[float64]())
	hc.Components.SecuritySchemes = map[string]*huma.SecurityScheme{
		bearerScheme: {Type: "http", Scheme: "bearer", Description: "An API key: the admin key (TALLY_ADMIN_KEY), or a key made by `tally keys create` (tally_…)."},
	}
	s.bodies = newBodyDecoder(hc.Components.Schemas)
	hc.Formats = s.bodies.formats()
	s.api = humago.New(mux, hc)
	s.api.UseMiddleware(s.nameOperation, s.authenticate, s.checkPathID)
	s.routes()
	if cfg.Catalogs != nil {
		s.catalogRoutes()
	}
	if cfg.Ledger != nil {
		s.SetLedger(cfg.Ledger)
	}
	s.documentProbes()
	s.documentLimits()

	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		setRoute(r.Context(), "/healthz")
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		setRoute(r.Context(), "/readyz")
		s.readyz(w, r)
	})
	if cfg.Metrics != nil {
		scrape := cfg.Metrics.Handler()
		mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
			setRoute(r.Context(), "/metrics")
			scrape.ServeHTTP(w, r)
		})
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		if cfg.Console != nil && !apiPath(r.URL.Path) {
			setRoute(r.Context(), "console")
			cfg.Console.ServeHTTP(w, r)
			return
		}
		noRoute(mux, w, r)
	})
	s.handler = s.observe(s.recoverPanics(normalizeContentType(utf8Bodies(mux))))
	return s
}

// SetLedger adds the ledger routes, served by l. It is for the wiring in
// Config's comment, where the ledger is built on the server's Catalog method:
// call it once, before the server serves its first request; it panics
// otherwise, because routes cannot be added to a server in use.
func (s *Server) SetLedger(l *credit.Ledger) {
	if l == nil {
		panic("httpapi: SetLedger(nil)")
	}
	if s.serving.Load() {
		panic("httpapi: SetLedger after the server started serving")
	}
	if s.ledger != nil {
		panic("httpapi: SetLedger called twice")
	}
	s.ledger = l
	// A quote may name an account to ask what it can afford: document the
	// optional key.
	if p := s.api.OpenAPI().Paths["/v1/quotes"]; p != nil && p.Post != nil {
		p.Post.Security = optionalBearer
	}
	s.ledgerRoutes()
	s.documentLimits()
}

// ServeHTTP serves a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !s.serving.Load() {
		s.serving.Store(true)
	}
	s.handler.ServeHTTP(w, r)
}

// Catalog returns the catalog in use.
func (s *Server) Catalog() *credit.Catalog { return s.catalog.Load() }

// SetCatalog switches to c for every request that starts afterwards.
func (s *Server) SetCatalog(c *credit.Catalog) { s.catalog.Store(c) }

// OpenAPI returns the generated OpenAPI document.
func (s *Server) OpenAPI() *huma.OpenAPI { return s.api.OpenAPI() }

func (s *Server) readyz(w http.ResponseWriter, r *http.Request) {
	if s.Catalog() == nil {
		writeProblem(w, newProblem(http.StatusServiceUnavailable, "not_ready", "no catalog loaded", nil))
		return
	}
	if s.ledger != nil {
		// A database that does not answer must fail the probe within the
		// probe's own timeout, not hang it: a load balancer waiting on a
		// stuck check keeps sending traffic to this node.
		ctx, cancel := context.WithTimeout(r.Context(), ReadyTimeout)
		defer cancel()
		if err := s.ledger.Store().Ping(ctx); err != nil {
			s.log.Warn("readyz: store ping failed", "err", err)
			writeProblem(w, newProblem(http.StatusServiceUnavailable, "not_ready", "the store cannot serve", nil))
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = io.WriteString(w, `{"status":"ready"}`)
}

// recoverPanics turns a panic into a logged internal error instead of a dropped
// connection. A panic is always a bug; this only limits the damage.
func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", v)
				writeProblem(w, newProblem(http.StatusInternalServerError, credit.Internal, "internal error", nil))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// apiPath reports whether path belongs to the API, whose unmatched requests
// answer problems, rather than to the console.
func apiPath(path string) bool {
	switch path {
	case "/v1", "/openapi.json", "/healthz", "/readyz", "/metrics":
		return true
	}
	return strings.HasPrefix(path, "/v1/")
}

// noRoute answers a request no route matched: 405 with Allow when the path
// exists for other methods, 404 otherwise, both as problems.
func noRoute(mux *http.ServeMux, w http.ResponseWriter, r *http.Request) {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := mux.Handler(probe); pattern != "/" && pattern != "" {
			allow = append(allow, m)
		}
	}
	if len(allow) > 0 {
		w.Header().Set("Allow", strings.Join(allow, ", "))
		writeProblem(w, newProblem(http.StatusMethodNotAllowed, "method_not_allowed", r.Method+" is not allowed on "+r.URL.Path, allow))
		return
	}
	writeProblem(w, newProblem(http.StatusNotFound, "not_found", "no such route: "+r.Method+" "+r.URL.Path, nil))
}

// normalizeContentType lower-cases the media type (RFC 9110 §8.3.1: media types
// are case-insensitive), because huma matches it exactly.
func normalizeContentType(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ct := r.Header.Get("Content-Type"); ct != "" {
			if mt, params, err := mime.ParseMediaType(ct); err == nil {
				r.Header.Set("Content-Type", mime.FormatMediaType(mt, params))
			}
		}
		next.ServeHTTP(w, r)
	})
}

// fail turns err into the problem the client sees, keeping a 401's
// WWW-Authenticate challenge, and giving a 429 daily_limit_reached the
// Retry-After of its reset (a 402 member_limit_exceeded says when its limit
// resets too, but it is no rate limit: no Retry-After).
func (s *Server) fail(err error) error {
	var ap *authProblem
	if errors.As(err, &ap) {
		return ap
	}
	p := ProblemFor(err, s.log)
	if p.Status == http.StatusTooManyRequests && p.ResetsAt != nil && s.ledger != nil {
		// A plan's daily limit says when to come back, as a rate limit does.
		secs := max(1, int(math.Ceil(p.ResetsAt.Sub(s.ledger.Now()).Seconds())))
		return &rateProblem{Problem: p, retryAfter: strconv.Itoa(secs)}
	}
	return p
}

func (s *Server) routes() {
	s.whoamiRoutes()
	registerBody(s, secure(huma.Operation{
		OperationID:  "create-quote",
		Method:       http.MethodPost,
		Path:         "/v1/quotes",
		Summary:      "Price a generation",
		Description:  "The total shown when hovering Create: the model's per-image price at these settings, times the images, plus surcharges. Writes nothing. Public; with an account, it also says what that account can afford — which grants would pay, whether its plan makes the model free (unlimited: true, total_credits still the list price) or keeps it out of reach (plan_required) — and then needs an API key that may read the account (401 without one, 404 for an account the key may not read).",
		Tags:         []string{"Pricing"},
		MaxBodyBytes: MaxBodyBytes + 1, // huma refuses a body that reaches the limit; 1 MiB itself is allowed
		Errors:       []int{400, 401, 404, 413, 415, 422},
	}, keyOptional), func(ctx context.Context, in *struct{ Body jsonBody[QuoteRequest] }) (*struct{ Body *Quote }, error) {
		body := &in.Body.Value
		if body.Account != "" {
			if err := s.canAfford(ctx, body.Account); err != nil {
				return nil, s.fail(err)
			}
		}
		c := s.Catalog()
		req, err := body.Domain(c)
		if err != nil {
			return nil, s.fail(err)
		}
		q, err := c.Quote(req)
		if err != nil {
			return nil, s.fail(err)
		}
		out := NewQuote(q)
		if body.Account != "" {
			a, err := s.ledger.Afford(ctx, body.Account, q)
			if err != nil {
				return nil, s.failOn(err, "account", body.Account)
			}
			out.Affordable = NewAffordable(body.Account, a)
			out.Unlimited = a.Unlimited
		}
		return &struct{ Body *Quote }{out}, nil
	})

	registerBody(s, huma.Operation{
		OperationID:  "cheapest-quotes",
		Method:       http.MethodPost,
		Path:         "/v1/quotes/cheapest",
		Summary:      "Which models can make this, cheapest first",
		Description:  "Prices the settings with every model that accepts them; models that refuse them are left out.",
		Tags:         []string{"Pricing"},
		MaxBodyBytes: MaxBodyBytes + 1,
		Errors:       []int{400, 413, 415, 422},
	}, func(ctx context.Context, in *struct{ Body jsonBody[CheapestRequest] }) (*struct{ Body *Quotes }, error) {
		qs, err := Cheapest(s.Catalog(), in.Body.Value)
		if err != nil {
			return nil, s.fail(err)
		}
		return &struct{ Body *Quotes }{qs}, nil
	})

	type modelList struct {
		CatalogVersion string  `json:"catalog_version"`
		Models         []Model `json:"models"`
	}
	huma.Register(s.api, huma.Operation{
		OperationID: "list-models",
		Method:      http.MethodGet,
		Path:        "/v1/models",
		Summary:     "List the models and their prices",
		Description: "Every model in catalog order. With any of the settings as query parameters, only the models that accept those settings, cheapest first for them, each with quote_total_credits.",
		Tags:        []string{"Pricing"},
		Errors:      []int{422},
	}, func(ctx context.Context, in *ModelFilter) (*struct{ Body modelList }, error) {
		c := s.Catalog()
		out := &struct{ Body modelList }{modelList{CatalogVersion: c.Version, Models: []Model{}}}
		if !in.given {
			for _, m := range c.Models {
				out.Body.Models = append(out.Body.Models, NewModel(m))
			}
			return out, nil
		}
		req, err := in.request(c)
		if err != nil {
			return nil, s.fail(err)
		}
		for _, q := range c.Cheapest(req, in.Kind) {
			m, err := c.Model(q.Model)
			if err != nil {
				return nil, s.fail(err)
			}
			wm := NewModel(m)
			total := q.TotalCredits
			wm.QuoteTotalCredits = &total
			out.Body.Models = append(out.Body.Models, wm)
		}
		return out, nil
	})

	huma.Register(s.api, huma.Operation{
		OperationID: "get-model",
		Method:      http.MethodGet,
		Path:        "/v1/models/{id}",
		Summary:     "Get one model: what its tooltip shows",
		Tags:        []string{"Pricing"},
		Errors:      []int{404},
	}, func(ctx context.Context, in *struct {
		ID string `path:"id" doc:"Model id or display name (case-insensitive)."`
	}) (*struct{ Body Model }, error) {
		m, err := s.Catalog().Model(in.ID)
		if err != nil {
			return nil, s.fail(err)
		}
		return &struct{ Body Model }{NewModel(m)}, nil
	})

	huma.Register(s.api, huma.Operation{
		OperationID: "get-catalog",
		Method:      http.MethodGet,
		Path:        "/v1/catalog",
		Summary:     "Get the catalog in use",
		Tags:        []string{"Pricing"},
	}, func(ctx context.Context, _ *struct{}) (*struct{ Body *Catalog }, error) {
		return &struct{ Body *Catalog }{NewCatalog(s.Catalog())}, nil
	})
}

func jsonEncode(w io.Writer, v any) error { return json.NewEncoder(w).Encode(v) }
