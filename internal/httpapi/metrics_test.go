package httpapi_test

import (
	"bytes"
	"net/http"
	"runtime"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/httpapi"
	"github.com/tally-credits/tally/internal/metrics"
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
	e := mustLedgerServer(t, httpapi.Config{Catalog: catalog.Default(), Metrics: metrics.New("test")})
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
