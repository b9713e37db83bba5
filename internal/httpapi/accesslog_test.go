package httpapi_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/httpapi"
)

// lockedBuffer is a log destination safe for the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) lines() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Split(strings.TrimSpace(l.b.String()), "\n")
}

// TestAccessLog: each request gets one JSON line with its method, route
// template (never the path, which holds account ids), status, duration, the
// key that called it and the request id the answer's X-Request-Id header
// carries; an unknown path is route "unmatched".
func TestAccessLog(t *testing.T) {
	var buf lockedBuffer
	e := mustLedgerServer(t, httpapi.Config{Catalog: catalog.Default(), AccessLog: slog.New(slog.NewJSONHandler(&buf, nil))})
	created := e.Do(http.MethodPost, "/v1/accounts", adminKey, `{"id":"user_log_1"}`)
	missing := e.Do(http.MethodGet, "/v1/accounts/user_log_2", adminKey, "")
	nowhere := e.Do(http.MethodGet, "/v9/nothing", "", "")
	type line struct {
		Msg       string  `json:"msg"`
		Method    string  `json:"method"`
		Route     string  `json:"route"`
		Status    int     `json:"status"`
		Duration  float64 `json:"duration"`
		Key       string  `json:"key"`
		RequestID string  `json:"request_id"`
	}
	var got []line
	for _, s := range buf.lines() {
		var l line
		if err := json.Unmarshal([]byte(s), &l); err != nil {
			t.Fatalf("access log line %q: %v", s, err)
		}
		if l.Msg == "request" {
			got = append(got, l)
		}
	}
	want := []struct {
		r                  response
		method, route, key string
		status             int
	}{
		{created, "POST", "/v1/accounts", "admin", 201},
		{missing, "GET", "/v1/accounts/{id}", "admin", 404},
		{nowhere, "GET", "unmatched", "", 404},
	}
	if len(got) != len(want) {
		t.Fatalf("%d access log lines for %d requests: %+v", len(got), len(want), got)
	}
	for i, w := range want {
		g := got[i]
		id := w.r.header.Get(httpapi.RequestIDHeader)
		if !strings.HasPrefix(id, "req_") || g.RequestID != id {
			t.Errorf("request %d: X-Request-Id %q, logged %q; want the same req_ id", i, id, g.RequestID)
		}
		if g.Method != w.method || g.Route != w.route || g.Status != w.status || g.Key != w.key || g.Duration <= 0 {
			t.Errorf("request %d logged %+v; want %s %s %d key %q, a duration", i, g, w.method, w.route, w.status, w.key)
		}
		if strings.Contains(g.Route, "user_log") {
			t.Errorf("request %d: the route %q names an account", i, g.Route)
		}
	}
	if got[0].RequestID == got[1].RequestID {
		t.Error("two requests logged the same request id")
	}
}
