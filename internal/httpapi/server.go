// Package httpapi is tally's HTTP interface: the routes under /v1, RFC 9457
// problems, and the OpenAPI 3.1 document, which huma generates from the same
// Go types that decode the requests and encode the answers, so the document
// cannot drift from what the server does.
package httpapi

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/tally-credits/tally/internal/credit"
)

// MaxBodyBytes is the largest request body accepted (1 MiB).
const MaxBodyBytes = 1 << 20

// Server serves the API. It is safe for concurrent use; the catalog in use can
// be swapped while serving and every request prices against one whole version.
type Server struct {
	log     *slog.Logger
	catalog atomic.Pointer[credit.Catalog]
	api     huma.API
	handler http.Handler
}

// New returns a server pricing with c. Version is the build's version, shown in
// the OpenAPI document.
func New(c *credit.Catalog, version string, log *slog.Logger) *Server {
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{log: log}
	s.catalog.Store(c)

	mux := http.NewServeMux()
	cfg := huma.DefaultConfig("tally", version)
	cfg.Info.Description = "Prices, holds and charges the credits of an AI image studio. Amounts are decimal credits with at most three decimals. Errors are RFC 9457 problems with a stable code."
	cfg.DocsPath = ""     // the docs renderer loads scripts from a CDN; the document itself is served
	cfg.CreateHooks = nil // no $schema links injected into response bodies
	cfg.Components.Schemas.RegisterTypeAlias(reflect.TypeFor[credit.Credits](), reflect.TypeFor[float64]())
	s.api = humago.New(mux, cfg)
	s.routes()

	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"status":"ok"}`)
	})
	mux.HandleFunc("GET /readyz", s.readyz)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { noRoute(mux, w, r) })
	s.handler = s.recoverPanics(normalizeContentType(mux))
	return s
}

// ServeHTTP serves a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// Catalog returns the catalog in use.
func (s *Server) Catalog() *credit.Catalog { return s.catalog.Load() }

// SetCatalog switches to c for every request that starts afterwards.
func (s *Server) SetCatalog(c *credit.Catalog) { s.catalog.Store(c) }

// OpenAPI returns the generated OpenAPI document.
func (s *Server) OpenAPI() *huma.OpenAPI { return s.api.OpenAPI() }

func (s *Server) readyz(w http.ResponseWriter, _ *http.Request) {
	if s.Catalog() == nil {
		writeProblem(w, newProblem(http.StatusServiceUnavailable, "not_ready", "no catalog loaded", nil))
		return
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

func (s *Server) fail(err error) error { return ProblemFor(err, s.log) }

func (s *Server) routes() {
	huma.Register(s.api, huma.Operation{
		OperationID:  "create-quote",
		Method:       http.MethodPost,
		Path:         "/v1/quotes",
		Summary:      "Price a generation",
		Description:  "The total shown when hovering Create: the model's per-image price at these settings, times the images, plus surcharges. Writes nothing.",
		Tags:         []string{"Pricing"},
		MaxBodyBytes: MaxBodyBytes + 1, // huma refuses a body that reaches the limit; 1 MiB itself is allowed
		Errors:       []int{400, 413, 415, 422},
	}, func(ctx context.Context, in *struct{ Body QuoteRequest }) (*struct{ Body *Quote }, error) {
		req, err := in.Body.Domain()
		if err != nil {
			return nil, s.fail(err)
		}
		q, err := s.Catalog().Quote(req)
		if err != nil {
			return nil, s.fail(err)
		}
		return &struct{ Body *Quote }{NewQuote(q)}, nil
	})

	huma.Register(s.api, huma.Operation{
		OperationID:  "cheapest-quotes",
		Method:       http.MethodPost,
		Path:         "/v1/quotes/cheapest",
		Summary:      "Which models can make this, cheapest first",
		Description:  "Prices the settings with every model that accepts them; models that refuse them are left out.",
		Tags:         []string{"Pricing"},
		MaxBodyBytes: MaxBodyBytes + 1,
		Errors:       []int{400, 413, 415, 422},
	}, func(ctx context.Context, in *struct{ Body CheapestRequest }) (*struct{ Body *Quotes }, error) {
		return &struct{ Body *Quotes }{Cheapest(s.Catalog(), in.Body)}, nil
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
		Tags:        []string{"Pricing"},
	}, func(ctx context.Context, _ *struct{}) (*struct{ Body modelList }, error) {
		c := s.Catalog()
		out := &struct{ Body modelList }{modelList{CatalogVersion: c.Version, Models: make([]Model, len(c.Models))}}
		for i, m := range c.Models {
			out.Body.Models[i] = NewModel(m)
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
