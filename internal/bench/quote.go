package bench

import (
	"bytes"
	"context"
	"fmt"
	"net/http"

	"github.com/tally-credits/tally/internal/credit"
)

// The quote of the quote scenarios, BENCHMARKS.md's: Nano Banana 2 at 2K
// 16:9, four images, 73.5 credits each on the seed page: 294.
var (
	quoteRequest = credit.QuoteRequest{Model: "nano-banana-2", Resolution: "2K", AspectRatio: "16:9", Images: 4}
	quoteTotal   = credit.Whole(294)
	quoteBody    = []byte(`{"model":"nano-banana-2","resolution":"2K","aspect_ratio":"16:9","images":4}`)
	quoteAnswer  = []byte(`"total_credits":294,`)
)

// quote runs "quote" (Catalog.Quote in process, against the JSON of its
// answer) and "quote/http" (POST /v1/quotes, against GET /healthz).
func (s *suite) quote(ctx context.Context) error {
	cat := s.cfg.Catalog
	q, err := cat.Quote(quoteRequest)
	if err != nil {
		return fmt.Errorf("bench: the quote scenario's quote: %w", err)
	}
	sc := Scenario{Name: "quote", Op: func(context.Context, int) (int, error) {
		q, err := cat.Quote(quoteRequest)
		if err != nil {
			return 0, err
		}
		if q.TotalCredits != quoteTotal {
			return 0, fmt.Errorf("bench: nano-banana-2 2K 16:9 ×4 is %s credits; the seed page says %s", q.TotalCredits, quoteTotal)
		}
		return 0, nil
	}}
	r, err := s.measure(ctx, sc, s.options(), s.jsonBaseline(q), nil)
	if err != nil {
		return err
	}
	r.Notes = append(r.Notes, fmt.Sprintf("%.2f allocs/op in the whole process; each latency includes two clock reads", r.AllocsPerOp))

	sc = Scenario{Name: "quote/http", Op: func(ctx context.Context, _ int) (int, error) {
		status, b, err := s.http.do(ctx, http.MethodPost, "/v1/quotes", quoteBody, "")
		if err != nil {
			return 0, err
		}
		if status != http.StatusOK || !bytes.Contains(b, quoteAnswer) {
			return 0, fmt.Errorf("POST /v1/quotes: %d %s; want 200 and total_credits 294 (the seed page)", status, bytes.TrimSpace(b))
		}
		return 0, nil
	}}
	if r, err = s.measure(ctx, sc, s.options(), s.healthzBaseline(), nil); err != nil {
		return err
	}
	s.noteHTTP(r)
	return nil
}

// noteHTTP says where the HTTP numbers come from.
func (s *suite) noteHTTP(r *Result) {
	if s.cfg.URL == "" {
		r.Notes = append(r.Notes, "client and in-process server share the machine's CPUs, over loopback with keep-alive")
	} else {
		r.Notes = append(r.Notes, "against "+s.cfg.URL+"; peak RSS is the bench client's")
	}
	if n := s.http.retries.Swap(0); n > 0 {
		r.Notes = append(r.Notes, fmt.Sprintf("%d requests retried (transport error or 5xx, same Idempotency-Key)", n))
	}
}
