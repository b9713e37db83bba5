// Package metrics is tally's Prometheus instrumentation, served at GET
// /metrics: HTTP requests and their durations by route and status, ledger
// writes by operation and outcome, the store's commits (how many writes
// each carried, how long each took), and tally_build_info, on a registry of
// its own (no global state). Labels name routes, operations and stable
// error reasons only — never an account, a key or anything a caller
// chooses — so every series' count is bounded by the code.
package metrics

import (
	"net/http"
	"runtime"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tally-credits/tally/internal/credit"
)

// Metrics holds tally's series. It implements credit.Observer.
type Metrics struct {
	reg          *prometheus.Registry
	requests     *prometheus.CounterVec
	durations    *prometheus.HistogramVec
	ledgerWrites *prometheus.CounterVec
	commits      *prometheus.CounterVec
	commitTime   prometheus.Histogram
	commitWrites prometheus.Histogram
}

var _ credit.Observer = (*Metrics)(nil)

// New returns the series of a process running build version, registered
// with the Go runtime's and the process's own.
func New(version string) *Metrics {
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
	}
	info := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "tally_build_info",
		Help:        "Always 1: the build's version and Go version, as labels.",
		ConstLabels: prometheus.Labels{"version": version, "goversion": runtime.Version()},
	})
	info.Set(1)
	m.reg.MustRegister(m.requests, m.durations, m.ledgerWrites, m.commits, m.commitTime, m.commitWrites, info,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
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
