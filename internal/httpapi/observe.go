package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tally-credits/tally/internal/credit"
)

// routeInfo is what the request's metrics and access log learn as it is
// served: the route (a path template, never the path itself: the path
// holds account ids), set by whichever handler answers it, and the API key
// that called it.
type routeInfo struct{ route, key, id string }

type routeKey struct{}

// setRoute names the route of the request r carries, if it is observed.
func setRoute(ctx context.Context, route string) {
	if ri, ok := ctx.Value(routeKey{}).(*routeInfo); ok {
		ri.route = route
	}
}

// setKey records the id of the API key that called the request ctx is of.
func setKey(ctx context.Context, id string) {
	if ri, ok := ctx.Value(routeKey{}).(*routeInfo); ok {
		ri.key = id
	}
}

// RequestIDHeader carries the id tally gives each request, so that a
// client's report can be found in the access log.
const RequestIDHeader = "X-Request-Id"

// observe gives every request an id (RequestIDHeader), and once it is
// answered counts it and its duration by method, route and status in the
// server's metrics and writes its line in the access log (each if set).
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		id := credit.NewID("req", start)
		w.Header().Set(RequestIDHeader, id)
		ri := &routeInfo{route: "unmatched", id: id}
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), routeKey{}, ri)))
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		method := r.Method
		switch method {
		case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete, http.MethodOptions:
		default:
			method = "other" // a label's values are bounded by the code, not the client
		}
		d := time.Since(start)
		if s.metrics != nil {
			s.metrics.Request(method, ri.route, status, d)
		}
		if s.access != nil {
			s.access.LogAttrs(r.Context(), slog.LevelInfo, "request", slog.String("method", r.Method), slog.String("route", ri.route),
				slog.Int("status", status), slog.Duration("duration", d), slog.String("key", ri.key), slog.String("request_id", id))
		}
	})
}

// nameOperation is the huma middleware that names the request's route for
// the metrics and its operation for the ledger's (credit.WithOperation).
func (s *Server) nameOperation(ctx huma.Context, next func(huma.Context)) {
	op := ctx.Operation()
	setRoute(ctx.Context(), op.Path)
	next(huma.WithContext(ctx, credit.WithOperation(ctx.Context(), op.OperationID)))
}

// statusRecorder remembers the status a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection (deadlines,
// flushes) through the recorder.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// requestID returns the id observe gave the request ctx is of ("" outside
// one).
func requestID(ctx context.Context) string {
	if ri, ok := ctx.Value(routeKey{}).(*routeInfo); ok {
		return ri.id
	}
	return ""
}

// stampProblem is the huma transformer that puts the request's id in every
// problem body huma writes: a *Problem, one of the kinds that embed one
// (a 401's, a 429's), or an error wrapping either. Problems are made per
// request, so the id is set in place.
func stampProblem(ctx huma.Context, _ string, v any) (any, error) {
	err, ok := v.(error)
	if !ok {
		return v, nil
	}
	var pr problemer
	if errors.As(err, &pr) {
		if p := pr.problem(); p != nil && p.RequestID == "" {
			p.RequestID = requestID(ctx.Context())
		}
	}
	return v, nil
}

// problemer is a problem, or a kind of problem that embeds one.
type problemer interface{ problem() *Problem }

func (p *Problem) problem() *Problem { return p }
