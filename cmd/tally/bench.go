package main

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/tally-credits/tally/internal/bench"
	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/sqlite"
)

func (m Main) benchCmd() *cobra.Command {
	var (
		scenarios            []string
		clients, entries     int
		duration, warmup     time.Duration
		quick, asJSON, force bool
		db, url, key, prof   string
	)
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Measure throughput and latency against baselines measured around each scenario",
		Long: `bench runs the scenarios in process on a ledger store and over HTTP, and reports
each one's throughput, p50/p99/p999 latency and peak RSS next to a baseline
measured just before and just after it with the same clients: the JSON of a
quote's answer (quote), one-row durable commits on the same disk (SQLite) or
pgbench tpcb-like on the same server (PostgreSQL), GET /healthz (HTTP), a
point read (history). The ratio is to the mean of the two baseline rounds;
its range, to each of them, shows how much the machine's load moved during
the scenario. Write scenarios end by checking every balance against the
seed-page price and verifying the whole ledger; a failure exits 1.

Scenarios: ` + strings.Join(bench.Scenarios, ", ") + `.
Without --db, the store is a fresh SQLite file in the temporary directory,
deleted afterwards (never ./tally.db). Without --url, the HTTP scenarios run
against a server started in process on 127.0.0.1:0 over the same store.`,
		Args: cobra.ExactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			flags := cmd.Flags()
			if quick {
				if !flags.Changed("duration") {
					duration = time.Second
				}
				if !flags.Changed("warmup") {
					warmup = 200 * time.Millisecond
				}
				if !flags.Changed("entries") {
					entries = 20_000
				}
			}
			if clients < 1 || duration <= 0 || warmup < 0 || entries < 3 {
				return credit.Errorf(credit.Invalid, "invalid_flags", "--clients must be at least 1, --duration more than 0, --warmup not negative, --entries at least 3")
			}
			var names []string
			for _, s := range scenarios {
				for _, name := range strings.Split(s, ",") {
					if name = strings.TrimSpace(name); name == "" {
						continue
					} else if !slices.Contains(bench.Scenarios, name) {
						return credit.Errorf(credit.Invalid, "unknown_scenario", "--scenario %q: the scenarios are %s", name, strings.Join(bench.Scenarios, ", "))
					}
					names = append(names, name)
				}
			}
			if url != "" && key == "" {
				return credit.Errorf(credit.Invalid, "invalid_flags", "--url needs the server's admin key: --key or $TALLY_ADMIN_KEY")
			}

			cfg := bench.Config{
				Catalog: catalog.Default(), URL: url, Key: key, StoreIsServers: url != "" && db != "",
				Scenarios: names, Clients: clients, Duration: duration, Warmup: warmup, Quick: quick, Entries: entries,
			}
			if force || isTerminal(m.Stderr) {
				cfg.Progress = m.Stderr
			}
			sf := storeFlags{db: db}
			if db == "" {
				dir, err := os.MkdirTemp("", "tally-bench-*")
				if err != nil {
					return fmt.Errorf("bench: %w", err)
				}
				defer os.RemoveAll(dir)
				sf.db = filepath.Join(dir, "bench.db")
			}
			// The bench fills the store it is given: it makes one if needed.
			store, err := sf.create(ctx)
			if err != nil {
				return err
			}
			defer store.Close()
			cfg.Store, cfg.StoreName = store, sf.name()
			if s, ok := store.(*sqlite.DB); ok {
				cfg.StoreKind, cfg.SQLitePath = "sqlite", s.Path()
			} else {
				cfg.StoreKind, cfg.PostgresDSN = "postgres", sf.db
			}

			if prof != "" {
				f, err := os.Create(prof)
				if err != nil {
					return fmt.Errorf("bench: %w", err)
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return fmt.Errorf("bench: %w", err)
				}
				defer pprof.StopCPUProfile()
			}
			report, err := bench.RunSuite(ctx, cfg)
			if err != nil {
				return err
			}
			if asJSON {
				err = report.WriteJSON(m.Stdout)
			} else {
				err = report.WriteTable(m.Stdout)
			}
			if err != nil {
				return err
			}
			if !report.OK {
				fmt.Fprintln(m.Stderr, "tally: bench: a scenario failed its run or its check")
				return silentError{exitInternal}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&scenarios, "scenario", nil, "scenarios to run, repeatable or comma-separated (default: all): "+strings.Join(bench.Scenarios, ", "))
	f.IntVar(&clients, "clients", 32, "concurrent clients of every scenario and its baseline")
	f.DurationVar(&duration, "duration", 10*time.Second, "measured time of each scenario and baseline round")
	f.DurationVar(&warmup, "warmup", 2*time.Second, "unmeasured warm-up before each")
	f.BoolVar(&quick, "quick", false, "a smoke run for CI: 1 s each after 0.2 s, 20,000 history entries, pgbench at scale 1")
	f.BoolVar(&asJSON, "json", false, "print one JSON object (machine, store, results) instead of a table")
	f.BoolVar(&force, "progress", false, "print the progress line on stderr even when it is not a terminal")
	f.StringVar(&db, "db", "", "the store: a SQLite file or a postgres:// URL (default: a fresh SQLite file, deleted after)")
	f.StringVar(&url, "url", "", "run the HTTP scenarios against this running server (default: one in process)")
	f.StringVar(&key, "key", os.Getenv("TALLY_ADMIN_KEY"), "the admin key of the --url server (or $TALLY_ADMIN_KEY)")
	f.IntVar(&entries, "entries", 1_000_000, "journal entries the history scenario seeds on its account")
	f.StringVar(&prof, "cpuprofile", "", "write a CPU profile of the whole run to this file")
	return cmd
}

// isTerminal reports whether w is a terminal (a character device).
func isTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
