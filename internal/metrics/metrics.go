// Package metrics is tally's Prometheus instrumentation, served at GET
// /metrics: HTTP requests and their durations by route and status, ledger
// writes by operation and outcome, the store's commits (how many writes
// each carried, how long each took), webhook delivery attempts by outcome,
// the store's open holds and outbox lag (read at scrape time), and
// tally_build_info, on a registry of its own (no global state). Labels name routes, operations and stable
// error reasons only — never an account, a key or anything a caller
// chooses — so every series' count is bounded by the code.
package metrics

import (
	"context"
	"log/slog"
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tally-credits/tally/internal/credit"
)

// Metrics holds tally's series. It implements credit.Observer, and the
// webhook dispatcher's observer (Delivery).
type Metrics struct {
	reg          *prometheus.Registry
	requests     *prometheus.CounterVec
	durations    *prometheus.HistogramVec
	ledgerWrites *prometheus.CounterVec
	commits      *prometheus.CounterVec
	commitTime   prometheus.Histogram
	commitWrites prometheus.Histogram
	deliveries   *prometheus.CounterVec
}

var _ credit.Observer = (*Metrics)(nil)

// Config configures the series of a process.
type Config struct {
	// Version is the build's version (tally_build_info).
	Version string
	// Gauges, if set, answers tally_open_holds and tally_outbox_lag_seconds
	// at each scrape, within ScrapeTimeout; a gauge the store cannot answer
	// in time is left out of that scrape (and logged), the rest is served.
	Gauges credit.Gauges
	// Now is the clock of the outbox lag (default time.Now): the ledger's.
	Now func() time.Time
	// Log receives the gauges' store errors (default: none logged).
	Log *slog.Logger
}

// ScrapeTimeout bounds the store's answers to one scrape's gauges: a slow
// database must not hang the scrape.
const ScrapeTimeout = 2 * time.Second

// New returns the series of a process configured by cfg, registered with
// the Go runtime's and the process's own.
func New(cfg Config) *Metrics {
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tally_http_requests_total",
			Help: "HTTP requests answered, by method, route (the path template) and status code.",
		}, []string{"method", "route", "status"}),
		durations: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tally_http_request_duration_seconds",
			Help:    "Time from a request's arrival to the end of its answer, by method and route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"method", "route"}),
		ledgerWrites: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tally_ledger_writes_total",
			Help: "Ledger writes (one operation on one account) by operation and outcome: ok, or the refusal's stable code.",
		}, []string{"operation", "outcome"}),
		commits: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tally_store_commits_total",
			Help: "Store write transactions by outcome: ok, or the error's stable code.",
		}, []string{"outcome"}),
		commitTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tally_store_commit_duration_seconds",
			Help:    "Time one store write transaction took: lock, load, apply and a durable commit.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
		}),
		commitWrites: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tally_store_commit_writes",
			Help:    "Ledger writes one store transaction carried (group commit's batch size).",
			Buckets: []float64{1, 2, 4, 8, 16, 32, 64, 128, 256},
		}),
		deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tally_webhook_deliveries_total",
			Help: "Webhook delivery attempts by outcome: delivered (2xx), retry (failed, tried again later), failed (failed, and the retries gave up), gone (410: the endpoint was disabled).",
		}, []string{"outcome"}),
	}
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "tally_build_info",
		Help:        "Always 1: the build's version and Go version, as labels.",
		ConstLabels: prometheus.Labels{"version": cfg.Version, "goversion": runtime.Version()},
	})
	info.Set(1)
	m.reg.MustRegister(m.requests, m.durations, m.ledgerWrites, m.commits, m.commitTime, m.commitWrites, m.deliveries, info,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if cfg.Gauges != nil {
		m.reg.MustRegister(newStoreGauges(cfg))
	}
	return m
}

// Handler serves the series in Prometheus' text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// Request records one answered request.
func (m *Metrics) Request(method, route string, status int, d time.Duration) {
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.durations.WithLabelValues(method, route).Observe(d.Seconds())
}

// LedgerWrite records one ledger write (credit.Observer).
func (m *Metrics) LedgerWrite(operation, outcome string) {
	m.ledgerWrites.WithLabelValues(operation, outcome).Inc()
}

// StoreWrite records one store transaction (credit.Observer).
func (m *Metrics) StoreWrite(writes, _ int, d time.Duration, err error) {
	outcome := "ok"
	if err != nil {
		outcome = credit.ErrorReason(err)
	}
	m.commits.WithLabelValues(outcome).Inc()
	m.commitTime.Observe(d.Seconds())
	m.commitWrites.Observe(float64(writes))
}

// Delivery records one webhook delivery attempt (the dispatcher's
// observer): outcome is one of the dispatcher's few, never a URL.
func (m *Metrics) Delivery(outcome string) {
	m.deliveries.WithLabelValues(outcome).Inc()
}

// storeGauges asks the store for its gauges when scraped.
type storeGauges struct {
	gauges    credit.Gauges
	now       func() time.Time
	log       *slog.Logger
	openHolds *prometheus.Desc
	lag       *prometheus.Desc
}

func newStoreGauges(cfg Config) *storeGauges {
	g := &storeGauges{gauges: cfg.Gauges, now: cfg.Now, log: cfg.Log,
		openHolds: prometheus.NewDesc("tally_open_holds", "Holds not yet captured, released or expired, of every account (read from the store at scrape time).", nil, nil),
		lag:       prometheus.NewDesc("tally_outbox_lag_seconds", "How far the webhook endpoints are behind the change feed: the age of the oldest event a live endpoint has not yet been sent with a 2xx answer; 0 when none waits (read from the store at scrape time).", nil, nil),
	}
	if g.now == nil {
		g.now = time.Now
	}
	if g.log == nil {
		g.log = slog.New(slog.DiscardHandler)
	}
	return g
}

// Describe sends the gauges' descriptions (prometheus.Collector).
func (g *storeGauges) Describe(ch chan<- *prometheus.Desc) {
	ch <- g.openHolds
	ch <- g.lag
}

// Collect reads the gauges from the store (prometheus.Collector).
func (g *storeGauges) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), ScrapeTimeout)
	defer cancel()
	if n, err := g.gauges.OpenHolds(ctx); err != nil {
		g.log.Warn("metrics: open holds", "err", err)
	} else {
		ch <- prometheus.MustNewConstMetric(g.openHolds, prometheus.GaugeValue, float64(n))
	}
	if d, err := g.gauges.OutboxLag(ctx, g.now()); err != nil {
		g.log.Warn("metrics: outbox lag", "err", err)
	} else {
		ch <- prometheus.MustNewConstMetric(g.lag, prometheus.GaugeValue, max(0, d.Seconds()))
	}
}
