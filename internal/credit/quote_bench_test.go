package credit_test

import (
	"encoding/json"
	"testing"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
)

// benchQuotes are successful quotes of each price rule and lookup path.
var benchQuotes = []struct {
	name string
	req  credit.QuoteRequest
}{
	{"PerImage", credit.QuoteRequest{Model: "seedream-v4.5", Resolution: "1K", AspectRatio: "1:1", Images: 1}},
	{"PerImageByResolution", credit.QuoteRequest{Model: "nano-banana-2", Resolution: "2K", AspectRatio: "16:9", Images: 4}},
	{"PerMegapixel", credit.QuoteRequest{Model: "topaz", Scale: 2, InputWidth: 1920, InputHeight: 1080}},
	{"ByScale", credit.QuoteRequest{Model: "magnific-precision-v2", Scale: 16, InputWidth: 1024, InputHeight: 1024}},
	// A display name misses the id index and walks the models: Seedream v4 is the last image model.
	{"ByDisplayName", credit.QuoteRequest{Model: "Seedream v4", Resolution: "4K", AspectRatio: "9:16"}},
}

var quoteSink credit.Quote

func BenchmarkQuote(b *testing.B) {
	cat := catalog.Default()
	for _, bq := range benchQuotes {
		b.Run(bq.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				q, err := cat.Quote(bq.req)
				if err != nil {
					b.Fatalf("Quote(%+v) error = %v", bq.req, err)
				}
				quoteSink = q
			}
		})
	}
}

// TestQuoteAllocatesNothing holds Quote to its doc comment: a successful quote
// allocates nothing. It counts allocations, not time.
func TestQuoteAllocatesNothing(t *testing.T) {
	cat := catalog.Default()
	for _, bq := range benchQuotes {
		var err error
		allocs := testing.AllocsPerRun(100, func() {
			quoteSink, err = cat.Quote(bq.req)
		})
		if err != nil {
			t.Errorf("Quote(%+v) error = %v", bq.req, err)
			continue
		}
		if allocs != 0 {
			t.Errorf("Quote(%+v) allocs = %v; want 0", bq.req, allocs)
		}
	}
}

// BenchmarkQuoteBaseline is the yardstick BENCHMARKS.md divides by: encoding
// the same quote's answer as JSON, the least work any quote endpoint must do
// besides pricing.
func BenchmarkQuoteBaseline(b *testing.B) {
	cat := catalog.Default()
	q, err := cat.Quote(benchQuotes[1].req)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		out, _ := json.Marshal(struct {
			Total credit.Credits `json:"total_credits"`
			Unit  credit.Credits `json:"unit_credits"`
			Model string         `json:"model"`
		}{q.TotalCredits, q.UnitCredits, q.Model})
		_ = out
	}
}
