package bench

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"
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
