package httpapi_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/httpapi"
	"github.com/tally-credits/tally/internal/metrics"
	"github.com/tally-credits/tally/internal/webhook"
)

// scrape reads GET /metrics with Prometheus' own text parser.
func scrape(t *testing.T, e *Env) map[string]*dto.MetricFamily {
	t.Helper()
	r := e.Do(http.MethodGet, "/metrics", "", "")
	if r.status != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", r.status, r.body)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(bytes.NewReader(r.body))
	if err != nil {
		t.Fatalf("GET /metrics does not parse as Prometheus text: %v\n%s", err, r.body)
	}
	return families
}

// value returns the value of family's series with exactly labels (name,
// value pairs), 0 if there is none.
func value(families map[string]*dto.MetricFamily, family string, labels ...string) float64 {
	f := families[family]
	if f == nil {
		return 0
	}
next:
	for _, m := range f.Metric {
		if len(m.Label) != len(labels)/2 {
			continue
		}
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.Label {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return 0
}

// TestMetrics: GET /metrics parses with Prometheus' text parser, and each
// series moves when its thing happens: a request by its route template and
// status, a ledger write by its operation and outcome (a refusal by its
// stable code), a store commit; tally_build_info is 1; no label carries an
// account id.
func TestMetrics(t *testing.T) {
	e := mustLedgerServer(t, httpapi.Config{Catalog: catalog.Default(), Metrics: metrics.New(metrics.Config{Version: "test"})})
	before := scrape(t, e)
	if value(before, "tally_build_info", "goversion", runtime.Version(), "version", "test") != 1 {
		t.Errorf("tally_build_info{goversion=%q, version=test} is not 1: %v", runtime.Version(), before["tally_build_info"])
	}
	e.Do(http.MethodPost, "/v1/accounts", adminKey, `{"id":"acct_metrics_7"}`)
	e.Do(http.MethodPost, "/v1/accounts/acct_metrics_7/grants", adminKey, `{"credits":10,"source":"topup"}`)
	ok := e.Do(http.MethodPost, "/v1/generations", adminKey, `{"account":"acct_metrics_7","model":"flux-dev","images":1}`) // 5 credits
	if ok.status != http.StatusCreated {
		t.Fatalf("generation: %d %s", ok.status, ok.body)
	}
	refused := e.Do(http.MethodPost, "/v1/generations", adminKey, `{"account":"acct_metrics_7","model":"flux-dev","images":4}`) // 20 > 5 left
	if refused.status != http.StatusPaymentRequired {
		t.Fatalf("generation of 20 with 5 left: %d %s", refused.status, refused.body)
	}
	after := scrape(t, e)
	for _, c := range []struct {
		family string
		labels []string
		want   float64
	}{
		{"tally_http_requests_total", []string{"method", "POST", "route", "/v1/generations", "status", "201"}, 1},
		{"tally_http_requests_total", []string{"method", "POST", "route", "/v1/generations", "status", "402"}, 1},
		{"tally_http_requests_total", []string{"method", "POST", "route", "/v1/accounts/{id}/grants", "status", "201"}, 1},
		{"tally_http_request_duration_seconds", []string{"method", "POST", "route", "/v1/generations"}, 2},
		{"tally_ledger_writes_total", []string{"operation", "create-generation", "outcome", "ok"}, 1},
		{"tally_ledger_writes_total", []string{"operation", "create-generation", "outcome", "insufficient_credits"}, 1},
	} {
		if got := value(after, c.family, c.labels...) - value(before, c.family, c.labels...); got != c.want {
			t.Errorf("%s%v moved by %v; want %v", c.family, c.labels, got, c.want)
		}
	}
	// Three writes committed at least (account, grant, generation); the
	// refusal may ride in a transaction that commits nothing.
	if got := value(after, "tally_store_commits_total", "outcome", "ok") - value(before, "tally_store_commits_total", "outcome", "ok"); got < 3 {
		t.Errorf("tally_store_commits_total{outcome=ok} moved by %v; want at least 3", got)
	}
	if got := value(after, "tally_store_commit_writes") - value(before, "tally_store_commit_writes"); got < 3 {
		t.Errorf("tally_store_commit_writes observed %v transactions; want at least 3", got)
	}
	r := e.Do(http.MethodGet, "/metrics", "", "")
	if strings.Contains(string(r.body), "acct_metrics_7") {
		t.Error("GET /metrics names an account id")
	}
	if value(after, "tally_http_requests_total", "method", "GET", "route", "/metrics", "status", "200") < 1 {
		t.Error("the scrape itself is not counted under route /metrics")
	}
}

// TestStoreMetrics: on both stores, tally_open_holds follows the open
// holds; tally_outbox_lag_seconds is the age of the oldest event a live
// endpoint has not been sent, on the ledger's clock, and 0 once it is
// delivered; tally_webhook_deliveries_total counts each attempt by its
// outcome.
func TestStoreMetrics(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			db := st.open(t)
			clock := &Clock{now: start}
			mx := metrics.New(metrics.Config{Version: "test", Gauges: db.(credit.Gauges), Now: clock.Now})
			e := mustEnv(t, db, httpapi.Config{Catalog: catalog.Default(), Metrics: mx}, clock, nil)
			gauge := func(name string) float64 {
				t.Helper()
				f := scrape(t, e)
				if f[name] == nil {
					t.Fatalf("GET /metrics has no %s", name)
				}
				return value(f, name)
			}
			if got := gauge("tally_open_holds"); got != 0 {
				t.Errorf("tally_open_holds = %v on an empty ledger; want 0", got)
			}
			if got := gauge("tally_outbox_lag_seconds"); got != 0 {
				t.Errorf("tally_outbox_lag_seconds = %v without endpoints; want 0", got)
			}

			e.Account("gus", "", "100")
			e.Generation(`{"account":"gus","model":"flux-dev"}`)
			h := e.Want(e.Do(http.MethodPost, "/v1/accounts/gus/holds", adminKey, `{"credits":10}`), http.StatusCreated, "hold")
			if got := gauge("tally_open_holds"); got != 2 {
				t.Errorf("tally_open_holds = %v with a generation's hold and another; want 2", got)
			}
			e.Want(e.Do(http.MethodPost, "/v1/holds/"+str(t, h["id"], "id")+"/release", adminKey, ""), http.StatusOK, "release")
			if got := gauge("tally_open_holds"); got != 1 {
				t.Errorf("tally_open_holds = %v after a release; want 1", got)
			}

			var status atomic.Int32
			status.Store(http.StatusServiceUnavailable)
			hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(int(status.Load())) }))
			defer hook.Close()
			e.Want(e.Do(http.MethodPost, "/v1/webhooks", adminKey, `{"url":"`+hook.URL+`","events":["grant.created"]}`), http.StatusCreated, "webhook")
			e.Want(e.Do(http.MethodPost, "/v1/accounts/gus/grants", adminKey, `{"credits":5,"source":"promo"}`), http.StatusCreated, "grant")
			caughtUp(t, e)
			clock.Add(30 * time.Second)
			if got := gauge("tally_outbox_lag_seconds"); got != 30 {
				t.Errorf("tally_outbox_lag_seconds = %v 30 s after an unsent event; want 30", got)
			}

			d := webhook.NewDispatcher(webhook.Config{Store: db.(credit.WebhookStore), Now: clock.Now, AllowPrivate: true, Observer: mx})
			// One attempt for the grant; on PostgreSQL, also for gus's first
			// grant when another transaction of the server was running as
			// the endpoint was made (the feed's head is then a little
			// behind its commit).
			before := scrape(t, e)
			n, err := d.RunOnce(t.Context())
			if n < 1 || n > 2 || err != nil {
				t.Fatalf("RunOnce = %d, %v; want the grant's attempt", n, err)
			}
			after := scrape(t, e)
			if got := value(after, "tally_webhook_deliveries_total", "outcome", "retry") - value(before, "tally_webhook_deliveries_total", "outcome", "retry"); got != float64(n) {
				t.Errorf("tally_webhook_deliveries_total{outcome=retry} moved by %v after %d answered 503; want %d", got, n, n)
			}
			if got := value(after, "tally_outbox_lag_seconds"); got != 30 {
				t.Errorf("tally_outbox_lag_seconds = %v with the delivery pending; want 30", got)
			}

			status.Store(http.StatusNoContent)
			clock.Add(time.Minute) // past the first retry's 5 s (±10 %)
			if again, err := d.RunOnce(t.Context()); again != n || err != nil {
				t.Fatalf("RunOnce = %d, %v; want the %d retries", again, err, n)
			}
			last := scrape(t, e)
			if got := value(last, "tally_webhook_deliveries_total", "outcome", "delivered") - value(after, "tally_webhook_deliveries_total", "outcome", "delivered"); got != float64(n) {
				t.Errorf("tally_webhook_deliveries_total{outcome=delivered} moved by %v after %d answered 204; want %d", got, n, n)
			}
			if got := value(last, "tally_outbox_lag_seconds"); got != 0 {
				t.Errorf("tally_outbox_lag_seconds = %v once delivered; want 0", got)
			}
		})
	}
}
