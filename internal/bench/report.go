package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteJSON writes the report as one indented JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes the report for people: the machine, a table of the
// results, and each result's notes and baseline.
func (r *Report) WriteTable(w io.Writer) error {
	m := r.Machine
	fmt.Fprintf(w, "tally bench — %s/%s, %d CPUs", m.GOOS, m.GOARCH, m.NumCPU)
	if m.CPU != "" {
		fmt.Fprintf(w, " (%s)", m.CPU)
	}
	if m.Memory > 0 {
		fmt.Fprintf(w, ", %s RAM", formatBytes(m.Memory))
	}
	fmt.Fprintf(w, ", %s", m.GoVersion)
	if m.Kernel != "" {
		fmt.Fprintf(w, ", Linux %s", m.Kernel)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "store: %s %s", r.Store.Kind, r.Store.Name)
	if r.Store.Version != "" {
		fmt.Fprintf(w, " (PostgreSQL %s)", r.Store.Version)
	}
	if r.Store.Notes != "" {
		fmt.Fprintf(w, "; %s", r.Store.Notes)
	}
	fmt.Fprintln(w)
	if r.URL != "" {
		fmt.Fprintf(w, "server: %s\n", r.URL)
	}
	mode := ""
	if r.Quick {
		mode = " (--quick: a smoke run, not a measurement)"
	}
	fmt.Fprintf(w, "%d clients; each scenario %s after a %s warm-up%s; load average %s → %s\n\n",
		r.Clients, formatSeconds(r.Duration), formatSeconds(r.Warmup), mode, orUnknown(m.LoadBefore), orUnknown(m.LoadAfter))

	// Right-aligned columns; the names, padded to one width, read left-aligned.
	width := len("scenario")
	for _, res := range r.Results {
		width = max(width, len(res.Name))
	}
	pad := func(s string) string { return s + strings.Repeat(" ", width-len(s)) }
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, pad("scenario")+"\tclients\tops/s\tp50\tp99\tp999\tbaseline ops/s\tratio\tratio range\tpeak RSS\tcheck\t")
	for _, res := range r.Results {
		if res.Skipped != "" {
			fmt.Fprintf(tw, "%s\t%d\t–\t–\t–\t–\t–\t–\t–\t–\tskipped\t\n", pad(res.Name), res.Clients)
			continue
		}
		base, ratio, span := "–", "–", "–"
		if res.Baseline != nil && res.Baseline.Throughput > 0 {
			base = formatRate(res.Baseline.Throughput)
			ratio = formatRatio(res.Ratio)
			span = formatRatioRange(res.RatioLow, res.RatioHigh)
		}
		check := res.Check
		if check == "" {
			check = "–"
		} else if !res.OK {
			check = "FAILED"
		}
		if res.Ops == 0 {
			fmt.Fprintf(tw, "%s\t%d\t–\t–\t–\t–\t%s\t–\t–\t–\t%s\t\n", pad(res.Name), res.Clients, base, check)
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n", pad(res.Name), res.Clients, formatRate(res.Throughput),
			formatDuration(res.P50), formatDuration(res.P99), formatDuration(res.P999), base, ratio, span, formatBytes(res.PeakRSS), check)
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w)
	for _, res := range r.Results {
		fmt.Fprintf(w, "%s:\n", res.Name)
		if res.Skipped != "" {
			fmt.Fprintf(w, "  skipped: %s\n", res.Skipped)
			continue
		}
		if b := res.Baseline; b != nil {
			fmt.Fprintf(w, "  baseline: %s, %d clients", b.Name, b.Clients)
			if b.Throughput > 0 {
				fmt.Fprintf(w, ": %s/s, the mean of the rounds just before and just after", formatRate(b.Throughput))
				if c, ok := change(b.Before.Throughput, b.After.Throughput); ok {
					switch {
					case c > 0:
						fmt.Fprintf(w, "; %.1f%% faster after than before", 100*c)
					case c < 0:
						fmt.Fprintf(w, "; %.1f%% slower after than before", -100*c)
					}
				}
			}
			fmt.Fprintln(w)
			writeRound(w, "before", b.Before)
			writeRound(w, "after", b.After)
		}
		if !res.OK {
			fmt.Fprintf(w, "  %s\n", res.Check)
		}
		for _, n := range res.Notes {
			fmt.Fprintf(w, "  %s\n", n)
		}
	}
	if r.OK {
		fmt.Fprintln(w, "\nevery check passed")
	} else {
		fmt.Fprintln(w, "\nFAILED: a scenario failed its run or its check (see above)")
	}
	return nil
}

// writeRound writes one round of a baseline on its own line.
func writeRound(w io.Writer, when string, r Round) {
	fmt.Fprintf(w, "    %-7s", when+":")
	if r.Throughput > 0 {
		fmt.Fprintf(w, " %s/s", formatRate(r.Throughput))
		if r.P50 > 0 {
			fmt.Fprintf(w, ", p50 %s, p99 %s", formatDuration(r.P50), formatDuration(r.P99))
		}
	} else {
		fmt.Fprint(w, " not measured")
	}
	if r.Note != "" {
		fmt.Fprintf(w, " (%s)", r.Note)
	}
	fmt.Fprintln(w)
}

// change is how far a baseline moved from its round before a scenario to
// its round after, as a fraction of the first (+0.2: 20 % faster after);
// false when either round measured nothing.
func change(before, after float64) (float64, bool) {
	if before <= 0 || after <= 0 {
		return 0, false
	}
	return after/before - 1, true
}

// formatRatioRange writes a ratio's range with the precision of
// formatRatio, or the one ratio when both ends are the same.
func formatRatioRange(low, high float64) string {
	lo, hi := formatRatio(low), formatRatio(high)
	if lo == hi {
		return lo
	}
	return strings.TrimSuffix(lo, "×") + "–" + hi
}

// formatRatio writes a ratio with three decimals, or three significant
// digits below 0.01.
func formatRatio(v float64) string {
	if v < 0.01 {
		return fmt.Sprintf("%.3g×", v)
	}
	return fmt.Sprintf("%.3f×", v)
}

func orUnknown(s string) string {
	if s == "" {
		return "?"
	}
	return s
}

func formatSeconds(s float64) string {
	return (time.Duration(s * float64(time.Second))).String()
}

// formatRate writes an ops/s figure with three significant digits or more.
func formatRate(v float64) string {
	switch {
	case v >= 10e6:
		return fmt.Sprintf("%.1fM", v/1e6)
	case v >= 100_000:
		return fmt.Sprintf("%.0fk", v/1e3)
	case v >= 100:
		return thousands(int64(v + 0.5))
	default:
		return fmt.Sprintf("%.1f", v)
	}
}

func thousands(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// formatDuration writes a latency with three significant digits.
func formatDuration(d time.Duration) string {
	switch {
	case d < time.Microsecond:
		return fmt.Sprintf("%d ns", d.Nanoseconds())
	case d < time.Millisecond:
		return fmt.Sprintf("%.3g µs", float64(d)/1e3)
	case d < time.Second:
		return fmt.Sprintf("%.3g ms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.3g s", d.Seconds())
	}
}

func formatBytes(n int64) string {
	switch {
	case n <= 0:
		return "?"
	case n < 1<<20:
		return fmt.Sprintf("%d KiB", n>>10)
	case n < 1<<30:
		return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
	default:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	}
}
