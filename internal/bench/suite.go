package bench

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/httpapi"
)

// Scenarios are the scenario names `tally bench --scenario` takes, in the
// order they run. history and idle run last: they seed a large journal and
// many accounts, and their verify reads all of it, which would weigh on the
// others' memory.
var Scenarios = []string{"quote", "generation", "team", "webhook", "hot-account", "mixed", "history", "idle"}

// Config is one `tally bench` run.
type Config struct {
	// Store is the ledger's store the in-process scenarios run on (and the
	// in-process server, without URL).
	Store credit.Store
	// StoreKind is "sqlite" or "postgres"; StoreName is the store as it may
	// be printed (a path, a URL without its password).
	StoreKind, StoreName string
	// SQLitePath is the SQLite file (sqlite): the baseline's scratch file
	// goes next to it, on the same disk.
	SQLitePath string
	// PostgresDSN is the database URL (postgres): pgbench's scratch database
	// goes on the same server.
	PostgresDSN string
	// Catalog prices quotes and generations.
	Catalog *credit.Catalog
	// URL is a running server for the HTTP scenarios, with Key its admin
	// key. "" starts one in-process on 127.0.0.1:0 over Store.
	URL, Key string
	// StoreIsServers says Store is the store of the server at URL: the
	// end-of-run verify of the HTTP scenarios and the history seed need it.
	// Always true without URL.
	StoreIsServers bool
	// Scenarios to run (nil: all), Clients per scenario, the measured
	// Duration of each after its Warmup.
	Scenarios        []string
	Clients          int
	Duration, Warmup time.Duration
	// Quick marks a smoke run (CI): shorter, and pgbench at scale 1.
	Quick bool
	// Entries is the journal length the history scenario seeds.
	Entries int
	// IdleAccounts is how many accounts the idle scenario seeds (0:
	// 1,000,000, or 20,000 with Quick).
	IdleAccounts int
	// Progress, if set, gets the progress line and a line per setup step.
	Progress io.Writer
}

// Report is a run's output: what it ran on, and the results.
type Report struct {
	Machine  Machine   `json:"machine"`
	Store    StoreInfo `json:"store"`
	Started  time.Time `json:"started"`
	Clients  int       `json:"clients"`
	Duration float64   `json:"duration_seconds"` // measured window of each scenario
	Warmup   float64   `json:"warmup_seconds"`
	Quick    bool      `json:"quick"`
	URL      string    `json:"url,omitempty"` // the server of the HTTP scenarios
	Results  []*Result `json:"results"`
	// OK is false if any scenario failed its run or its check.
	OK bool `json:"ok"`
}

// StoreInfo names the store.
type StoreInfo struct {
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Version string `json:"version,omitempty"` // the server's (PostgreSQL)
	Notes   string `json:"notes,omitempty"`
}

// cyclePrice is what one generation cycle of the write scenarios charges:
// Flux Dev at its defaults (1K, 1:1) is 5 credits per image on the seed
// page, and a cycle asks for two images and delivers both. The checks hold
// the ledger to this hand-known number, not to anything the code computed.
var cyclePrice = credit.Whole(10)

// cycleRequest is that generation.
var cycleRequest = credit.QuoteRequest{Model: "flux-dev", Images: 2}

const cycleImages = 2

// accountGrant is each bench account's one grant: a billion credits, the
// most a grant may be, which no run spends.
var accountGrant = credit.MaxCredits

// suite is one run in progress.
type suite struct {
	cfg    Config
	ledger *credit.Ledger
	http   *httpClient
	url    string
	run    string // makes account ids and idempotency keys unique to the run
	report *Report
	// last is the baseline round measured after the last scenario, which
	// the next may share; nil once anything else was measured.
	last *lastRound
	// pgbenchDBs are the pgbench databases initialized so far, by scale
	// (their URLs); dropPgbench their names, dropped at the end of the run.
	pgbenchDBs  map[int]string
	dropPgbench []string
}

// RunSuite runs the scenarios of cfg and returns the report. It returns an
// error only when the run could not go on (ctx ended, the store or the
// server could not be set up); a scenario that fails is reported as such.
func RunSuite(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Clients < 1 {
		cfg.Clients = 1
	}
	if len(cfg.Scenarios) == 0 {
		cfg.Scenarios = Scenarios
	}
	for _, name := range cfg.Scenarios {
		if !slices.Contains(Scenarios, name) {
			return nil, credit.Errorf(credit.Invalid, "unknown_scenario", "bench: unknown scenario %q (the scenarios: %s)", name, strings.Join(Scenarios, ", "))
		}
	}
	var tok [4]byte
	_, _ = rand.Read(tok[:])
	s := &suite{
		cfg: cfg, run: "bench-" + hex.EncodeToString(tok[:]), pgbenchDBs: map[int]string{},
		report: &Report{
			Machine: machine(), Store: StoreInfo{Kind: cfg.StoreKind, Name: cfg.StoreName}, Started: time.Now().UTC(),
			Clients: cfg.Clients, Duration: cfg.Duration.Seconds(), Warmup: cfg.Warmup.Seconds(), Quick: cfg.Quick, OK: true,
		},
	}
	if cfg.StoreKind == "postgres" {
		s.report.Store.Version, s.report.Store.Notes = postgresInfo(ctx, cfg.PostgresDSN)
	} else {
		s.report.Store.Notes = "WAL, synchronous=FULL"
	}
	cat := cfg.Catalog
	if cfg.URL == "" {
		stop, err := s.startServer(cat)
		if err != nil {
			return nil, err
		}
		defer stop()
		s.cfg.StoreIsServers = true
	} else {
		s.url = cfg.URL
		s.ledger = credit.NewLedger(cfg.Store, credit.LedgerConfig{Catalog: func() *credit.Catalog { return cat }})
		s.report.URL = cfg.URL
	}
	s.http = newHTTPClient(s.url, s.cfg.Key, cfg.Clients)
	defer s.http.close()
	defer s.dropPgbenchDatabases(ctx)

	for _, name := range Scenarios {
		if !slices.Contains(cfg.Scenarios, name) {
			continue
		}
		var err error
		switch name {
		case "quote":
			err = s.quote(ctx)
		case "generation":
			err = s.generation(ctx, "generation", 64)
		case "team":
			err = s.team(ctx)
		case "webhook":
			err = s.webhooks(ctx)
		case "hot-account":
			err = s.generation(ctx, "hot-account", 1)
		case "mixed":
			err = s.mixed(ctx)
		case "history":
			err = s.history(ctx)
		case "idle":
			err = s.idle(ctx)
		}
		if err != nil {
			return s.report, err
		}
	}
	s.report.Machine.LoadAfter = loadAverage()
	for _, r := range s.report.Results {
		if !r.OK && r.Skipped == "" {
			s.report.OK = false
		}
	}
	return s.report, nil
}

// startServer serves the API over cfg.Store on 127.0.0.1:0, with a ledger
// the in-process scenarios share (one group commit for both, as in `tally
// serve`), and a fresh admin key.
func (s *suite) startServer(cat *credit.Catalog) (stop func(), err error) {
	var key [16]byte
	_, _ = rand.Read(key[:])
	s.cfg.Key = "bench-admin-" + hex.EncodeToString(key[:])
	h := httpapi.NewServer(httpapi.Config{Catalog: cat, AdminKey: s.cfg.Key, Version: "bench",
		Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	s.ledger = credit.NewLedger(s.cfg.Store, credit.LedgerConfig{Catalog: h.Catalog})
	h.SetLedger(s.ledger)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("bench: listen: %w", err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: 120 * time.Second}
	done := make(chan struct{})
	go func() { _ = srv.Serve(ln); close(done) }()
	s.url = "http://" + ln.Addr().String()
	return func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Shutdown(sctx)
		<-done
	}, nil
}

// options are the load options of a scenario of this run.
func (s *suite) options() Options { return s.optionsFor(s.cfg.Clients) }

// optionsFor are the load options of a scenario or a baseline run with
// another client count.
func (s *suite) optionsFor(clients int) Options {
	return Options{Clients: clients, Duration: s.cfg.Duration, Warmup: s.cfg.Warmup, Progress: s.cfg.Progress}
}

// say writes a setup step to the progress writer.
func (s *suite) say(format string, args ...any) {
	if s.cfg.Progress != nil {
		fmt.Fprintf(s.cfg.Progress, "\r%-78s\r%s\n", "", fmt.Sprintf(format, args...))
	}
}

// measure runs sc between two rounds of its baseline y (nil: none), then
// check (nil: nothing to check), and records the result. A failed run or
// check fails the row; only ctx's end is returned. The round after is
// measured before the check, right after the scenario's load.
func (s *suite) measure(ctx context.Context, sc Scenario, o Options, y *yardstick, check func(context.Context, *Result) error) (*Result, error) {
	var before Round
	if y != nil {
		var err error
		if before, err = s.roundBefore(ctx, y, o.Clients); err != nil {
			return nil, err
		}
	}
	s.last = nil
	s.say("running %s (%d clients)", sc.Name, o.Clients)
	r, err := Run(ctx, sc, o)
	r.Name = sc.Name
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		r.Check = "failed: " + err.Error()
		s.report.Results = append(s.report.Results, &r)
		return &r, nil
	}
	r.OK = true
	if y != nil {
		after, err := s.roundAfter(ctx, y, o.Clients)
		if err != nil {
			return nil, err
		}
		divide(&r, y.name, before, after)
	}
	if check != nil {
		if err := check(ctx, &r); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			r.OK = false
			r.Check = "failed: " + err.Error()
		} else {
			r.Check = "ok"
		}
	}
	s.report.Results = append(s.report.Results, &r)
	return &r, nil
}

// divide sets r's baseline to the rounds before and after it, and its ratio
// to their mean.
func divide(r *Result, name string, before, after Round) {
	b := &Baseline{Name: name, Clients: r.Clients, Before: before, After: after}
	b.Throughput, r.Ratio, r.RatioLow, r.RatioHigh = bracket(r.Throughput, before.Throughput, after.Throughput)
	r.Baseline = b
	if b.Throughput == 0 {
		why := before.Note
		if why == "" {
			why = after.Note
		}
		r.Notes = append(r.Notes, "no baseline: "+why)
	}
}

// skip records a scenario that could not run here.
func (s *suite) skip(name string, clients int, why string) {
	s.report.Results = append(s.report.Results, &Result{Name: name, Clients: clients, Skipped: why})
}

// verify runs Ledger.Verify on the store and says how long it took.
func (s *suite) verify(ctx context.Context, r *Result) error {
	t0 := time.Now()
	vs, err := s.ledger.Verify(ctx)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	if len(vs) > 0 {
		var msgs []string
		for i, v := range vs {
			if i == 5 {
				msgs = append(msgs, fmt.Sprintf("… %d more", len(vs)-5))
				break
			}
			msgs = append(msgs, v.String())
		}
		return fmt.Errorf("verify found %d violation(s): %s", len(vs), strings.Join(msgs, "; "))
	}
	r.Notes = append(r.Notes, fmt.Sprintf("verify: every invariant holds (%.1f s)", time.Since(t0).Seconds()))
	return nil
}

// checkBalances checks that each account fell by exactly its cycles ×
// cyclePrice from accountGrant, with nothing held.
func checkBalances(accounts []string, cycles func(i int) int64, balance func(id string) (available, held credit.Credits, err error)) error {
	var total int64
	for i, id := range accounts {
		avail, held, err := balance(id)
		if err != nil {
			return err
		}
		n := cycles(i)
		total += n
		if want := accountGrant - credit.Credits(n)*cyclePrice; avail != want || held != 0 {
			return fmt.Errorf("account %s: %s available, %s held after %d cycles of %s; want %s available, 0 held",
				id, avail, held, n, cyclePrice, want)
		}
	}
	if total == 0 {
		return errors.New("no cycle completed")
	}
	return nil
}
