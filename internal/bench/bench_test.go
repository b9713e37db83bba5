package bench

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
)

// TestHistogramQuantiles compares the histogram's percentiles with the exact
// ones of the same samples: within the bucket width (1/128 of the value).
func TestHistogramQuantiles(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var h histogram
	var all []time.Duration
	for range 100_000 {
		// Log-uniform from 100 ns to 1 s: every bucket scale.
		d := time.Duration(100 * float64(uint64(1)<<rng.IntN(24)) * (1 + rng.Float64()))
		h.record(d)
		all = append(all, d)
	}
	slices.Sort(all)
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999, 1} {
		exact := all[int(q*float64(len(all))+0.999999)-1]
		got := h.quantile(q)
		if diff := float64(got-exact) / float64(exact); diff < -1.0/128 || diff > 1.0/128 {
			t.Errorf("quantile(%v) = %v; the exact value is %v (%.2f%% off; want within 0.8%%)", q, got, exact, 100*diff)
		}
	}
	if h.count() != int64(len(all)) || h.max != all[len(all)-1] {
		t.Errorf("count %d, max %v; want %d, %v", h.count(), h.max, len(all), all[len(all)-1])
	}
}

// TestHistogramExactBelow256ns: small values have buckets of their own.
func TestHistogramExactBelow256ns(t *testing.T) {
	var h histogram
	for d := time.Duration(1); d <= 200; d++ {
		h.record(d)
	}
	if got := h.quantile(0.5); got != 100 {
		t.Errorf("median of 1…200 ns = %v; want 100ns", got)
	}
}

// TestBuckets: bucketRange inverts bucketOf at every bucket's edges.
func TestBuckets(t *testing.T) {
	for i := range nBuckets {
		lo, w := bucketRange(i)
		if bucketOf(lo) != i || bucketOf(lo+w-1) != i {
			t.Fatalf("bucket %d = [%d, %d]: bucketOf gives %d and %d", i, lo, lo+w-1, bucketOf(lo), bucketOf(lo+w-1))
		}
		if i+1 < nBuckets {
			if next, _ := bucketRange(i + 1); next != lo+w {
				t.Fatalf("bucket %d ends at %d, bucket %d starts at %d", i, lo+w, i+1, next)
			}
		}
	}
}

// TestRSSSlope fits a line through samples that grow 3 MiB a minute, with a
// wobble, and through flat ones.
func TestRSSSlope(t *testing.T) {
	t0 := time.Now()
	var growing, flat []rssSample
	for i := range 600 {
		at := t0.Add(time.Duration(i) * time.Second)
		wobble := int64(i%7-3) << 20
		growing = append(growing, rssSample{at, 100<<20 + int64(i)*(3<<20)/60 + wobble})
		flat = append(flat, rssSample{at, 100<<20 + wobble})
	}
	if got, n := rssSlope(growing); got < 2.95 || got > 3.05 || n != 600 {
		t.Errorf("slope of +3 MiB/min = %.3f over %d samples; want 3.00 over 600", got, n)
	}
	if got, _ := rssSlope(flat); got < -0.05 || got > 0.05 {
		t.Errorf("slope of a flat resident set = %.3f MiB/min; want 0", got)
	}
	if got, n := rssSlope(growing[:2]); got != 0 || n != 2 {
		t.Errorf("slope of 2 samples = %v (%d); want 0: no trend", got, n)
	}
}

// TestRunCountsMinOpsOnASlowMachine: an operation slower than the whole
// window (a loaded CI machine, the race detector) still gets MinOps counted,
// closed and open loop, and the report says the window was stretched; a
// hopeless one ends at MaxExtend instead of running forever.
func TestRunCountsMinOpsOnASlowMachine(t *testing.T) {
	slow := Scenario{Name: "slow", Op: func(ctx context.Context, _ int) (int, error) {
		select {
		case <-time.After(60 * time.Millisecond):
			return 0, nil
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}}
	for _, o := range []Options{
		{Clients: 2, Duration: 10 * time.Millisecond, Warmup: 30 * time.Millisecond, MinOps: 5},
		{Clients: 2, Duration: 10 * time.Millisecond, Warmup: 30 * time.Millisecond, MinOps: 5, Rate: 40},
	} {
		r, err := Run(context.Background(), slow, o)
		if err != nil {
			t.Fatalf("rate %v: %v", o.Rate, err)
		}
		if r.Ops < 5 || r.Throughput <= 0 || r.P50 < 60*time.Millisecond {
			t.Errorf("rate %v: %d ops, %.1f ops/s, p50 %v; want at least 5 ops of at least 60ms", o.Rate, r.Ops, r.Throughput, r.P50)
		}
		if len(r.Notes) == 0 || !strings.Contains(r.Notes[0], "stayed open") {
			t.Errorf("rate %v: notes %q; want one saying the window was stretched", o.Rate, r.Notes)
		}
	}

	began := time.Now()
	r, err := Run(context.Background(), slow, Options{Duration: 10 * time.Millisecond, MinOps: 1_000_000, MaxExtend: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// 10 ms + 200 ms of starts, and the last one's 60 ms: well under 2 s.
	if el := time.Since(began); el > 2*time.Second || r.Ops < 1 {
		t.Errorf("MaxExtend 200ms: the run took %v and counted %d ops; want it bounded, and some ops", el, r.Ops)
	}
}

// TestBracket divides by the mean of the rounds around a scenario and gives
// the ratio's range, with numbers worked by hand.
func TestBracket(t *testing.T) {
	for _, tc := range []struct {
		name                   string
		throughput             float64
		rounds                 []float64
		mean, ratio, low, high float64
	}{
		// 900 / 3300 = 0.272727…; 900 / 3600 = 0.25; 900 / 3000 = 0.3.
		{"moved up", 900, []float64{3000, 3600}, 3300, 900.0 / 3300, 0.25, 0.3},
		// The same rounds the other way round: the same answer.
		{"moved down", 900, []float64{3600, 3000}, 3300, 900.0 / 3300, 0.25, 0.3},
		// A steady machine: no range. 534 / 23,510 = 0.022714…
		{"steady", 534, []float64{23510, 23510}, 23510, 534.0 / 23510, 534.0 / 23510, 534.0 / 23510},
		// B S B S B: a row may be divided by three rounds; (10+20+30)/3 = 20.
		{"three rounds", 5, []float64{10, 20, 30}, 20, 0.25, 5.0 / 30, 0.5},
		// A round that measured nothing is left out, not counted as 0.
		{"one round failed", 900, []float64{0, 3600}, 3600, 0.25, 0.25, 0.25},
		{"no round", 900, []float64{0, 0}, 0, 0, 0, 0},
		{"no rounds at all", 900, nil, 0, 0, 0, 0},
	} {
		mean, ratio, low, high := bracket(tc.throughput, tc.rounds...)
		if !near(mean, tc.mean) || !near(ratio, tc.ratio) || !near(low, tc.low) || !near(high, tc.high) {
			t.Errorf("%s: bracket(%v, %v) = mean %v, ratio %v, range %v–%v; want %v, %v, %v–%v",
				tc.name, tc.throughput, tc.rounds, mean, ratio, low, high, tc.mean, tc.ratio, tc.low, tc.high)
		}
	}
}

func near(a, b float64) bool { return a == b || (a-b < 1e-12 && b-a < 1e-12) }

// TestDivide: a row's baseline keeps both rounds, its throughput is their
// mean, and a row whose rounds both failed says why instead of a ratio.
func TestDivide(t *testing.T) {
	r := Result{Clients: 32, Throughput: 889}
	before, after := Round{Throughput: 3486}, Round{Throughput: 3000}
	divide(&r, "SQLite one-row durable commits", before, after)
	b := r.Baseline
	// (3486 + 3000) / 2 = 3243; 889 / 3243 = 0.274129…; 889 / 3486 = 0.255020…; 889 / 3000 = 0.296333…
	if b == nil || b.Clients != 32 || b.Before != before || b.After != after || !near(b.Throughput, 3243) {
		t.Fatalf("baseline %+v; want 32 clients, rounds 3486 and 3000, mean 3243", b)
	}
	if !near(r.Ratio, 889.0/3243) || !near(r.RatioLow, 889.0/3486) || !near(r.RatioHigh, 889.0/3000) {
		t.Errorf("ratio %v (%v–%v); want 0.2741 (0.2550–0.2963)", r.Ratio, r.RatioLow, r.RatioHigh)
	}
	if got := formatRatioRange(r.RatioLow, r.RatioHigh); got != "0.255–0.296×" {
		t.Errorf("range printed %q; want 0.255–0.296×", got)
	}
	if c, ok := change(before.Throughput, after.Throughput); !ok || !near(c, 3000.0/3486-1) {
		t.Errorf("change 3486 → 3000 = %v, %v; want -0.1394 (−13.9%%)", c, ok)
	}

	r = Result{Clients: 32, Throughput: 150, OK: true}
	divide(&r, "pgbench tpcb-like -s 1", Round{Note: "pgbench is not installed"}, Round{Note: "pgbench is not installed"})
	if r.Ratio != 0 || len(r.Notes) != 1 || r.Notes[0] != "no baseline: pgbench is not installed" {
		t.Errorf("no round measured: ratio %v, notes %q; want no ratio and the reason", r.Ratio, r.Notes)
	}
	if _, ok := change(0, 3000); ok {
		t.Error("change from a round that measured nothing: ok; want none")
	}
}

// TestRoundsAreShared: the round after a row is the round before the next
// row of the same baseline and clients (B S B S B), and any other row, or
// another client count, gets a round of its own.
func TestRoundsAreShared(t *testing.T) {
	var calls int
	y := &yardstick{name: "y", measure: func(_ context.Context, clients int) (Round, error) {
		calls++
		return Round{Throughput: float64(100*clients + calls)}, nil
	}}
	other := &yardstick{name: "other", measure: func(context.Context, int) (Round, error) {
		calls++
		return Round{Throughput: 1}, nil
	}}
	ctx := context.Background()
	s := &suite{}
	b1, _ := s.roundBefore(ctx, y, 32) // call 1: 3201
	a1, _ := s.roundAfter(ctx, y, 32)  // call 2: 3202
	b2, _ := s.roundBefore(ctx, y, 32) // shared: 3202
	a2, _ := s.roundAfter(ctx, y, 32)  // call 3: 3203
	b3, _ := s.roundBefore(ctx, y, 1)  // other clients, call 4: 104
	_, _ = s.roundAfter(ctx, y, 1)     // call 5
	_, _ = s.roundBefore(ctx, other, 1)
	_, _ = s.roundAfter(ctx, other, 1) // calls 6, 7
	b4, _ := s.roundBefore(ctx, y, 1)  // the last round was other's: call 8: 108
	got := []float64{b1.Throughput, a1.Throughput, b2.Throughput, a2.Throughput, b3.Throughput, b4.Throughput}
	want := []float64{3201, 3202, 3202, 3203, 104, 108}
	if !slices.Equal(got, want) || calls != 8 {
		t.Errorf("rounds %v after %d measurements; want %v after 8", got, calls, want)
	}
	// A row with no round after it (its scenario failed) leaves nothing to
	// share: the next row measures its own round before.
	s.last = nil
	if r, _ := s.roundBefore(ctx, y, 1); calls != 9 || r.Throughput != 109 {
		t.Errorf("after a row with no round after it: round %v after %d measurements; want a new one (109, 9)", r.Throughput, calls)
	}
}

// TestImpactCatalog: the impact rows' catalog is the built-in one with Flux
// Dev at 6 credits an image, under a version of its own; every other price
// of the history's generations stays.
func TestImpactCatalog(t *testing.T) {
	def := catalog.Default()
	other, err := impactCatalog(def)
	if err != nil {
		t.Fatal(err)
	}
	if want := def.Version + ".bench-impact"; other.Version != want {
		t.Errorf("version %q; want %q", other.Version, want)
	}
	// Flux Dev, 2 images: 2 × 6 = 12 credits (10 in the built-in catalog);
	// Nano Banana 2 at 2K, 16:9, 4 images: 4 × 73.5 = 294 in both.
	for _, tc := range []struct {
		req  credit.QuoteRequest
		want credit.Credits
	}{
		{cycleRequest, credit.Whole(12)},
		{quoteRequest, credit.Whole(294)},
	} {
		q, err := other.Quote(tc.req)
		if err != nil || q.TotalCredits != tc.want {
			t.Errorf("%s: %s credits (%v); want %s", tc.req.Model, q.TotalCredits, err, tc.want)
		}
	}
	if len(catalog.Diff(def, other)) == 0 {
		t.Error("no difference from the built-in catalog")
	}
}

// TestReportWindow: the rows' windows are 30 whole days within the year,
// and reach both of its ends.
func TestReportWindow(t *testing.T) {
	from := time.Date(2025, 12, 5, 0, 0, 0, 0, time.UTC)
	h := &historyReports{yearFrom: from, yearTo: from.AddDate(0, 0, 367)}
	rng := rand.New(rand.NewPCG(3, 4))
	var first, last bool
	for range 20_000 {
		f, to := h.reportWindow(rng)
		if f.Before(h.yearFrom) || to.After(h.yearTo) || to.Sub(f) != 30*24*time.Hour || !f.Equal(f.Truncate(24*time.Hour)) {
			t.Fatalf("window %s to %s; want 30 whole days within %s to %s", f, to, h.yearFrom, h.yearTo)
		}
		first = first || f.Equal(h.yearFrom)
		last = last || to.Equal(h.yearTo)
	}
	if !first || !last {
		t.Errorf("the windows reached the year's start %v, its end %v; want both", first, last)
	}
}
