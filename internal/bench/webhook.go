package bench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/webhook"
)

// webhooks measures what a dead webhook endpoint does to the ledger's
// writes (SPEC §9: a slow or dead endpoint never slows the ledger). The
// generation cycle runs closed-loop for its peak, then open-loop at half
// of it twice: first with no endpoint, then with a dispatcher delivering
// every event to one endpoint that never answers and one that answers 500.
// The last row's notes compare its latency with the row before it: the
// same load, the same store, only the endpoints differ. Deliveries are made
// from the feed by the dispatcher, off the write path; what they still
// cost the writes is the store's work of recording them.
func (s *suite) webhooks(ctx context.Context) error {
	ws, ok := s.cfg.Store.(credit.WebhookStore)
	if !ok {
		s.skip("webhook", s.cfg.Clients, fmt.Sprintf("the store (%T) keeps no webhooks", s.cfg.Store))
		return nil
	}
	peak, err := s.ledgerCycles(ctx, "webhook", 64, 0, s.storeBaseline(64), false)
	if err != nil || !peak.OK {
		return err
	}
	rate := peak.Throughput / 2
	quiet, err := s.ledgerCycles(ctx, "webhook/none@50%", 64, rate, nil, false)
	if err != nil || !quiet.OK {
		return err
	}

	hanging := make(chan struct{})
	var hung, failed atomic.Int64
	hang, err := serveLoopback(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hung.Add(1)
		select {
		case <-hanging:
		case <-r.Context().Done():
		}
	}))
	if err != nil {
		return err
	}
	defer hang.Close()
	defer close(hanging)
	fail, err := serveLoopback(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		failed.Add(1)
		http.Error(w, "down for maintenance", http.StatusInternalServerError)
	}))
	if err != nil {
		return err
	}
	defer fail.Close()
	var ids []string
	for _, url := range []string{hang.URL, fail.URL} {
		w, err := s.ledger.CreateWebhook(ctx, credit.WebhookSpec{URL: url + "/hooks", Events: []string{"*"}, Description: "tally bench"})
		if err != nil {
			return fmt.Errorf("bench: webhook: %w", err)
		}
		ids = append(ids, w.ID)
	}
	defer func() {
		for _, id := range ids {
			_ = s.ledger.DeleteWebhook(context.WithoutCancel(ctx), id)
		}
	}()
	var outcomes sync.Map
	dctx, stop := context.WithCancel(ctx)
	d := webhook.NewDispatcher(webhook.Config{Store: ws, AllowPrivate: true, Observer: outcomeCounter{&outcomes}})
	done := make(chan struct{})
	go func() { d.Run(dctx); close(done) }()
	loaded, err := s.ledgerCycles(ctx, "webhook/hanging+500@50%", 64, rate, nil, false)
	stop()
	<-done
	if err != nil || !loaded.OK {
		return err
	}
	ratio := func(a, b time.Duration) string {
		if b == 0 {
			return "-"
		}
		return fmt.Sprintf("%.2f×", float64(a)/float64(b))
	}
	loaded.Notes = append(loaded.Notes,
		fmt.Sprintf("two endpoints for every event: one never answers (%d attempts hung), one answers 500 (%d attempts)", hung.Load(), failed.Load()),
		fmt.Sprintf("latency against webhook/none@50%% (the same load, no endpoint): p50 %s, p99 %s; throughput %s",
			ratio(loaded.P50, quiet.P50), ratio(loaded.P99, quiet.P99), fmt.Sprintf("%.2f×", loaded.Throughput/max(quiet.Throughput, 1e-9))),
		"deliveries by outcome: "+countsText(&outcomes))
	return nil
}

// outcomeCounter counts a dispatcher's attempts by outcome.
type outcomeCounter struct{ m *sync.Map }

func (o outcomeCounter) Delivery(outcome string) {
	v, _ := o.m.LoadOrStore(outcome, new(atomic.Int64))
	v.(*atomic.Int64).Add(1)
}

func countsText(m *sync.Map) string {
	out := ""
	m.Range(func(k, v any) bool {
		if out != "" {
			out += ", "
		}
		out += fmt.Sprintf("%s %d", k, v.(*atomic.Int64).Load())
		return true
	})
	if out == "" {
		return "none"
	}
	return out
}

// loopback is an HTTP server on 127.0.0.1 for the endpoints of a run.
type loopback struct {
	URL string
	srv *http.Server
}

func serveLoopback(h http.Handler) (*loopback, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bench: listen: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	return &loopback{URL: "http://" + ln.Addr().String(), srv: srv}, nil
}

// Close stops the server without waiting for the handlers that hang.
func (l *loopback) Close() { _ = l.srv.Close() }
