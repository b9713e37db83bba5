package main

import (
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// benchReport is what the tests read of `tally bench --json`.
type benchReport struct {
	Machine struct {
		GOOS      string `json:"goos"`
		NumCPU    int    `json:"num_cpu"`
		GoVersion string `json:"go_version"`
	} `json:"machine"`
	Store struct {
		Kind string `json:"kind"`
	} `json:"store"`
	Quick   bool `json:"quick"`
	OK      bool `json:"ok"`
	Results []struct {
		Name       string  `json:"name"`
		Clients    int     `json:"clients"`
		Ops        int64   `json:"ops"`
		Throughput float64 `json:"ops_per_second"`
		P50        int64   `json:"p50_ns"`
		P99        int64   `json:"p99_ns"`
		P999       int64   `json:"p999_ns"`
		PeakRSS    int64   `json:"peak_rss_bytes"`
		Baseline   *struct {
			Name       string  `json:"name"`
			Clients    int     `json:"clients"`
			Throughput float64 `json:"ops_per_second"`
			Before     struct {
				Throughput float64 `json:"ops_per_second"`
			} `json:"before"`
			After struct {
				Throughput float64 `json:"ops_per_second"`
			} `json:"after"`
		} `json:"baseline"`
		Ratio     float64 `json:"ratio"`
		RatioLow  float64 `json:"ratio_low"`
		RatioHigh float64 `json:"ratio_high"`
		Check     string  `json:"check"`
		OK        bool    `json:"ok"`
		Skipped   string  `json:"skipped"`
	} `json:"results"`
}

// benchRows are the rows of a full `tally bench` without --url; the write
// rows end with the bench's own check (balances or the reports against the
// seed, then verify).
var benchRows = []struct {
	name  string
	write bool
}{
	{"quote", false}, {"quote/http", false},
	{"generation", true}, {"generation@50%", true}, {"generation/http", true}, {"generation/http@50%", true},
	{"team", true},
	{"hot-account", true}, {"hot-account/http", true},
	{"mixed/http", true},
	{"history/entries", true}, {"history/usage", true}, {"history/entries/http", true}, {"history/usage/http", true},
	{"reports/liability", true}, {"reports/consumption", true}, {"catalog/impact", true},
	{"reports/liability/http", true}, {"reports/consumption/http", true},
}

// checkBenchReport holds a `tally bench --quick --json` run to what CI asks
// of it: every scenario ran and reports sane, non-zero numbers next to a
// non-zero baseline measured just before and just after it, and every
// end-of-run check passed.
func checkBenchReport(t *testing.T, code int, stdout, stderr, kind string) {
	t.Helper()
	if code != 0 {
		t.Fatalf("tally bench --quick --json exit %d; stderr:\n%s\nstdout:\n%s", code, stderr, stdout)
	}
	var r benchReport
	if err := json.Unmarshal([]byte(stdout), &r); err != nil {
		t.Fatalf("tally bench --json printed no JSON object: %v\n%s", err, stdout)
	}
	if !r.OK || !r.Quick || r.Store.Kind != kind || r.Machine.NumCPU < 1 || r.Machine.GoVersion == "" || r.Machine.GOOS == "" {
		t.Errorf("report: ok %v, quick %v, store %q, machine %+v; want ok, quick, store %q and the machine", r.OK, r.Quick, r.Store.Kind, r.Machine, kind)
	}
	var names []string
	for _, res := range r.Results {
		names = append(names, res.Name)
	}
	for _, row := range benchRows {
		i := slices.Index(names, row.name)
		if i < 0 {
			t.Errorf("no result for %s (results: %s)", row.name, strings.Join(names, ", "))
			continue
		}
		res := r.Results[i]
		switch {
		case res.Skipped != "":
			t.Errorf("%s skipped: %s", res.Name, res.Skipped)
		case !res.OK:
			t.Errorf("%s failed: %s", res.Name, res.Check)
		case res.Ops <= 0 || res.Throughput <= 0:
			t.Errorf("%s: %d ops, %v ops/s; want more than 0", res.Name, res.Ops, res.Throughput)
		case res.P50 <= 0 || res.P50 > res.P99 || res.P99 > res.P999:
			t.Errorf("%s: p50 %d ns, p99 %d ns, p999 %d ns; want 0 < p50 ≤ p99 ≤ p999", res.Name, res.P50, res.P99, res.P999)
		case res.Baseline == nil || res.Baseline.Throughput <= 0 || res.Ratio <= 0:
			t.Errorf("%s: baseline %+v, ratio %v; want a baseline measured above 0", res.Name, res.Baseline, res.Ratio)
		case res.Baseline.Clients != res.Clients:
			t.Errorf("%s: %d clients, its baseline %d; want the same", res.Name, res.Clients, res.Baseline.Clients)
		case res.Baseline.Before.Throughput <= 0 || res.Baseline.After.Throughput <= 0:
			t.Errorf("%s: baseline rounds %v before and %v after; want both measured above 0", res.Name, res.Baseline.Before.Throughput, res.Baseline.After.Throughput)
		case !(res.RatioLow <= res.Ratio && res.Ratio <= res.RatioHigh):
			t.Errorf("%s: ratio %v, range %v–%v; want the ratio within its range", res.Name, res.Ratio, res.RatioLow, res.RatioHigh)
		case row.write && res.Check != "ok":
			t.Errorf("%s: check %q; want ok (balances and verify)", res.Name, res.Check)
		case res.PeakRSS <= 0:
			t.Errorf("%s: peak RSS %d; want more than 0", res.Name, res.PeakRSS)
		}
	}
}

// TestBenchQuick is CI's run of `tally bench --quick`: every scenario, a few
// seconds each, on a temporary SQLite file; then `tally verify` on the file
// accepts what the bench left, the seeded history included.
func TestBenchQuick(t *testing.T) {
	if testing.Short() {
		t.Skip("tally bench --quick takes about a minute")
	}
	db := filepath.Join(t.TempDir(), "bench.db")
	code, stdout, stderr := run(t, "bench", "--quick", "--json", "--db", db)
	checkBenchReport(t, code, stdout, stderr, "sqlite")
	if code, stdout, stderr := run(t, "verify", "--db", db); code != 0 {
		t.Errorf("tally verify after the bench: exit %d\n%s%s", code, stdout, stderr)
	}
}

// TestBenchQuickPostgres runs the same on a fresh PostgreSQL database, with
// pgbench as the store's baseline where it is installed.
func TestBenchQuickPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("tally bench --quick takes about a minute")
	}
	dsn := freshDatabase(t)
	code, stdout, stderr := run(t, "bench", "--quick", "--json", "--db", dsn)
	checkBenchReport(t, code, stdout, stderr, "postgres")
	if code, stdout, stderr := run(t, "verify", "--db", dsn); code != 0 {
		t.Errorf("tally verify after the bench: exit %d\n%s%s", code, stdout, stderr)
	}
}

// TestBenchRefusesBadFlags: a refused command line does nothing and exits 2.
func TestBenchRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"bench", "--scenario", "quote,nope"},
		{"bench", "--clients", "0"},
		{"bench", "--url", "http://127.0.0.1:1", "--key", ""},
	} {
		code, _, stderr := run(t, args...)
		if code != exitInvalid || !strings.HasPrefix(stderr, "tally: ") {
			t.Errorf("tally %s: exit %d, stderr %q; want exit %d and one line", strings.Join(args, " "), code, stderr, exitInvalid)
		}
	}
}
