// Package bench is what `tally bench` runs: a small load runner (Run) that
// measures one scenario with many clients — throughput, latency percentiles
// and the process's memory — and the scenarios and baselines of issue 6 on
// top of it (Suite). Every scenario is reported with a baseline measured
// just before and just after it, on the same machine and store, with the
// same client count, because absolute numbers move with the machine and its
// load; the ratio to the mean of the two is what BENCHMARKS.md compares, and
// the gap between them shows how far the machine moved meanwhile.
//
// Honesty rules (TigerBeetle's): a warm-up runs before each measurement and is
// not counted; an operation counts if it started inside the measured window
// and its time is the window's start to the last counted operation's end; an
// open-loop run (Options.Rate) times each operation from when it was due, not
// from when a client got to it, so a stall shows in the latency instead of
// thinning the load; nothing about durability is relaxed for a benchmark.
package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
)

// Scenario is one workload.
type Scenario struct {
	Name string
	// Kinds names the kinds of operation Op does, for a mixed workload;
	// empty for a workload of one kind.
	Kinds []string
	// Op does one operation as client c (0 ≤ c < Clients); each client calls
	// it from one goroutine. It returns which kind it did (an index into
	// Kinds; 0 for one kind). An error ends the run: Run returns it.
	Op func(ctx context.Context, c int) (kind int, err error)
}

// Options say how Run loads a scenario.
type Options struct {
	// Clients is how many goroutines call Op concurrently (default 1).
	Clients int
	// Duration is the measured window; Warmup runs before it, uncounted.
	Duration, Warmup time.Duration
	// Rate, if > 0, is an open-loop load: operations are due at Rate per
	// second in total, whatever the latency, and the Clients run them as
	// they come due. 0 is a closed loop: each client runs its next operation
	// as soon as its last one returned.
	Rate float64
	// MinOps is how many operations the window must count: on a machine too
	// slow (or too loaded, or under the race detector) to finish MinOps in
	// Duration, the window stays open until it has, for at most MaxExtend
	// more. Without it a short run on a slow machine measures nothing, or
	// one operation, and its numbers are noise. Default 10; negative: none.
	MinOps int
	// MaxExtend bounds that extension (default max(10 × Duration, 30 s)),
	// so that a run always ends.
	MaxExtend time.Duration
	// Progress, if set, gets a progress line every second ("\r" updates).
	Progress io.Writer
}

// Result is one measured scenario.
type Result struct {
	Name    string  `json:"name"`
	Clients int     `json:"clients"`
	Rate    float64 `json:"target_rate,omitempty"` // open loop: ops/s asked for
	Ops     int64   `json:"ops"`
	// Seconds is from the start of the measured window to the end of the
	// last operation counted.
	Seconds    float64 `json:"seconds"`
	Throughput float64 `json:"ops_per_second"`
	// Latency percentiles of the counted operations (log-bucket histogram,
	// within 0.4%).
	P50  time.Duration `json:"p50_ns"`
	P99  time.Duration `json:"p99_ns"`
	P999 time.Duration `json:"p999_ns"`
	Max  time.Duration `json:"max_ns"`
	// AllocsPerOp is heap allocations in the whole process during the
	// window, per operation: client and (in-process) server together.
	AllocsPerOp float64 `json:"allocs_per_op"`
	// PeakRSS is the process's resident-set high-water mark during the run
	// (bytes; reset at its start where the OS allows, see PeakRSSScope).
	PeakRSS      int64  `json:"peak_rss_bytes"`
	PeakRSSScope string `json:"peak_rss_scope"`
	// RSSSlope is the least-squares slope of the resident set sampled every
	// second of the measured window, MiB per minute (RSSSamples samples).
	RSSSlope   float64 `json:"rss_slope_mib_per_min"`
	RSSSamples int     `json:"rss_samples"`
	// Parts breaks a mixed workload down by kind.
	Parts []Part `json:"parts,omitempty"`

	// Set by the suite, not by Run.
	Baseline *Baseline `json:"baseline,omitempty"`
	Ratio    float64   `json:"ratio,omitempty"` // Throughput / Baseline.Throughput
	// RatioLow and RatioHigh are the ratio's range: Throughput divided by
	// the faster and by the slower of the baseline's rounds. They are
	// apart when the machine moved while the scenario ran.
	RatioLow  float64 `json:"ratio_low,omitempty"`
	RatioHigh float64 `json:"ratio_high,omitempty"`
	// Check is the end-of-run correctness check: "ok", a failure, or ""
	// where there is nothing to check (a pure computation).
	Check   string   `json:"check,omitempty"`
	OK      bool     `json:"ok"`
	Skipped string   `json:"skipped,omitempty"` // why the scenario did not run
	Notes   []string `json:"notes,omitempty"`
}

// Part is one kind of operation of a mixed workload.
type Part struct {
	Kind string        `json:"kind"`
	Ops  int64         `json:"ops"`
	P50  time.Duration `json:"p50_ns"`
	P99  time.Duration `json:"p99_ns"`
	P999 time.Duration `json:"p999_ns"`
}

// Baseline is the yardstick a scenario's throughput is divided by: rounds
// measured just before and just after the scenario, in the same run, with
// the same client count.
type Baseline struct {
	Name    string `json:"name"`
	Clients int    `json:"clients"`
	// Throughput is the mean of the rounds that measured something.
	Throughput float64 `json:"ops_per_second"`
	Before     Round   `json:"before"`
	After      Round   `json:"after"`
}

// Round is one measurement of a baseline. No throughput: it could not be
// measured, and Note says why.
type Round struct {
	Throughput float64       `json:"ops_per_second"`
	P50        time.Duration `json:"p50_ns,omitempty"`
	P99        time.Duration `json:"p99_ns,omitempty"`
	Note       string        `json:"note,omitempty"`
}

// client is one goroutine's tallies, padded so that clients do not share a
// cache line on the counter every operation bumps.
type client struct {
	hists   []histogram // per kind
	done    atomic.Int64
	lastEnd time.Time
	_       [64]byte
}

// Run measures s: Warmup, then Duration, with o.Clients clients. It returns
// the first error an operation returned, or ctx's.
func Run(ctx context.Context, s Scenario, o Options) (Result, error) {
	if o.Clients < 1 {
		o.Clients = 1
	}
	if o.MinOps == 0 {
		o.MinOps = 10
	}
	if o.MaxExtend <= 0 {
		o.MaxExtend = max(10*o.Duration, 30*time.Second)
	}
	kinds := max(1, len(s.Kinds))
	res := Result{Name: s.Name, Clients: o.Clients, Rate: o.Rate}

	// Start from a clean heap, so that the high-water mark is this run's.
	runtime.GC()
	debug.FreeOSMemory()
	res.PeakRSSScope = resetPeakRSS()

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		errOnce  sync.Once
		firstErr error
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err; cancel() })
	}

	start := time.Now()
	measureFrom := start.Add(o.Warmup)
	measureTo := measureFrom.Add(o.Duration)
	hardStop := measureTo.Add(o.MaxExtend)
	clients := make([]*client, o.Clients)
	for i := range clients {
		clients[i] = &client{hists: make([]histogram, kinds)}
	}
	// over says whether an operation starting at t is past the window: past
	// Duration with MinOps counted, or past the extension's bound.
	var (
		counted  atomic.Int64
		extended atomic.Bool // an operation started past Duration
	)
	over := func(t time.Time) bool {
		if t.Before(measureTo) {
			return false
		}
		return counted.Load() >= int64(o.MinOps) || !t.Before(hardStop)
	}

	// Open loop: a dispatcher hands out the due times.
	var due chan time.Time
	if o.Rate > 0 {
		due = make(chan time.Time, 4096)
		interval := time.Duration(float64(time.Second) / o.Rate)
		go func() {
			defer close(due)
			for k := int64(0); ; k++ {
				at := start.Add(time.Duration(k) * interval)
				if over(at) {
					return
				}
				if !at.Before(measureTo) {
					extended.Store(true)
				}
				if d := time.Until(at); d > 0 {
					select {
					case <-time.After(d):
					case <-ctx.Done():
						return
					}
				}
				select {
				case due <- at:
				case <-ctx.Done():
					return
				}
			}
		}()
	}

	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cl := clients[c]
			for ctx.Err() == nil {
				var began time.Time
				if due != nil {
					at, ok := <-due
					if !ok {
						return
					}
					began = at
				} else {
					began = time.Now()
					if over(began) {
						return
					}
					if !began.Before(measureTo) {
						extended.Store(true)
					}
				}
				kind, err := s.Op(ctx, c)
				end := time.Now()
				if err != nil {
					if ctx.Err() == nil {
						fail(fmt.Errorf("%s: client %d: %w", s.Name, c, err))
					}
					return
				}
				if began.Before(measureFrom) {
					continue
				}
				if kind < 0 || kind >= kinds {
					fail(fmt.Errorf("%s: Op returned kind %d of %d", s.Name, kind, kinds))
					return
				}
				cl.hists[kind].record(end.Sub(began))
				cl.lastEnd = end
				cl.done.Add(1)
				counted.Add(1)
			}
		}()
	}

	// The sampler: the resident set every second of the measured window, the
	// heap allocations at its edges, and the progress line.
	var (
		samples     []rssSample
		mallocsFrom uint64
	)
	sampled := make(chan struct{})
	stopSampling := make(chan struct{})
	go func() {
		defer close(sampled)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		measuring := false
		startMeasuring := time.After(time.Until(measureFrom))
		var ms runtime.MemStats
		for {
			select {
			case <-stopSampling:
				return
			case <-startMeasuring:
				runtime.ReadMemStats(&ms)
				mallocsFrom = ms.Mallocs
				measuring = true
				if rss := currentRSS(); rss > 0 {
					samples = append(samples, rssSample{time.Now(), rss})
				}
				continue
			case now := <-tick.C:
				if measuring {
					if rss := currentRSS(); rss > 0 {
						samples = append(samples, rssSample{now, rss})
					}
				}
				if o.Progress != nil {
					var n int64
					for _, cl := range clients {
						n += cl.done.Load()
					}
					writeProgress(o.Progress, s.Name, now, start, measureFrom, measureTo, n)
				}
			}
		}
	}()

	wg.Wait()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	close(stopSampling)
	<-sampled
	if o.Progress != nil {
		fmt.Fprintf(o.Progress, "\r%-78s\r", "")
	}
	if firstErr != nil {
		return res, firstErr
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}

	all := histogram{}
	var last time.Time
	for _, cl := range clients {
		for k := range cl.hists {
			all.merge(&cl.hists[k])
		}
		if cl.lastEnd.After(last) {
			last = cl.lastEnd
		}
	}
	res.Ops = all.count()
	if res.Ops == 0 {
		return res, errors.New(s.Name + ": no operation completed in the measured window")
	}
	res.Seconds = last.Sub(measureFrom).Seconds()
	if extended.Load() {
		res.Notes = append(res.Notes, fmt.Sprintf("the window stayed open %.1f s past its %.1f s to count %d operations (a slow or loaded machine)", last.Sub(measureTo).Seconds(), o.Duration.Seconds(), min(res.Ops, int64(o.MinOps))))
	}
	res.Throughput = float64(res.Ops) / res.Seconds
	res.P50, res.P99, res.P999, res.Max = all.quantile(0.50), all.quantile(0.99), all.quantile(0.999), all.max
	if mallocsFrom > 0 && ms.Mallocs >= mallocsFrom {
		res.AllocsPerOp = float64(ms.Mallocs-mallocsFrom) / float64(res.Ops)
	}
	res.PeakRSS = peakRSS()
	res.RSSSlope, res.RSSSamples = rssSlope(samples)
	if len(s.Kinds) > 0 {
		for k, name := range s.Kinds {
			var h histogram
			for _, cl := range clients {
				h.merge(&cl.hists[k])
			}
			p := Part{Kind: name, Ops: h.count()}
			if p.Ops > 0 {
				p.P50, p.P99, p.P999 = h.quantile(0.50), h.quantile(0.99), h.quantile(0.999)
			}
			res.Parts = append(res.Parts, p)
		}
	}
	return res, nil
}

func writeProgress(w io.Writer, name string, now, start, from, to time.Time, done int64) {
	if now.Before(from) {
		fmt.Fprintf(w, "\r%-28s warm-up %4.1f s%38s", name, now.Sub(start).Seconds(), "")
		return
	}
	el := now.Sub(from)
	rate := 0.0
	if el > 0 {
		rate = float64(done) / el.Seconds()
	}
	fmt.Fprintf(w, "\r%-28s %6.1f / %.0f s  %10.0f ops/s  rss %s   ", name, el.Seconds(), to.Sub(from).Seconds(), rate, formatBytes(currentRSS()))
}

type rssSample struct {
	at  time.Time
	rss int64
}

// rssSlope fits rss = a + b·t by least squares and returns b in MiB per
// minute, and the number of samples (0 slope under 3 samples: no trend).
func rssSlope(s []rssSample) (float64, int) {
	n := len(s)
	if n < 3 {
		return 0, n
	}
	var sx, sy, sxx, sxy float64
	for _, p := range s {
		x := p.at.Sub(s[0].at).Minutes()
		y := float64(p.rss) / (1 << 20)
		sx += x
		sy += y
		sxx += x * x
		sxy += x * y
	}
	fn := float64(n)
	den := fn*sxx - sx*sx
	if den == 0 {
		return 0, n
	}
	return (fn*sxy - sx*sy) / den, n
}
