package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/sqlite"
)

// The baselines. Each is measured with the client count of the scenario it
// divides, for as long, after the same warm-up (pgbench has no warm-up).

// maxBaselineDuration caps a baseline's measured time: a yardstick is steady
// well within it, and a ten-minute scenario (the RSS slope of mixed) needs no
// ten-minute /healthz.
const maxBaselineDuration = 30 * time.Second

// baselineOptions are the load options of a baseline run with clients.
func (s *suite) baselineOptions(clients int) Options {
	o := s.optionsFor(clients)
	o.Duration = min(o.Duration, maxBaselineDuration)
	return o
}

// measured turns a run of a baseline workload into a Baseline.
func measured(ctx context.Context, name string, sc Scenario, o Options) (*Baseline, error) {
	sc.Name = "baseline: " + name
	r, err := Run(ctx, sc, o)
	if err != nil {
		return nil, err
	}
	return &Baseline{Name: name, Clients: r.Clients, Throughput: r.Throughput, P50: r.P50, P99: r.P99}, nil
}

// jsonBaseline encodes the three numbers of the quote's answer as JSON: the
// least work any quote endpoint must do besides pricing (BENCHMARKS.md's
// BenchmarkQuoteBaseline).
func (s *suite) jsonBaseline(q credit.Quote) func(context.Context, int) (*Baseline, error) {
	return func(ctx context.Context, clients int) (*Baseline, error) {
		type answer struct {
			Total credit.Credits `json:"total_credits"`
			Unit  credit.Credits `json:"unit_credits"`
			Model string         `json:"model"`
		}
		sc := Scenario{Op: func(context.Context, int) (int, error) {
			_, err := json.Marshal(answer{q.TotalCredits, q.UnitCredits, q.Model})
			return 0, err
		}}
		return measured(ctx, "JSON of the answer's 3 numbers", sc, s.baselineOptions(clients))
	}
}

// healthzBaseline is GET /healthz on the server under test: HTTP itself.
func (s *suite) healthzBaseline(ctx context.Context, clients int) (*Baseline, error) {
	sc := Scenario{Op: func(ctx context.Context, _ int) (int, error) {
		return 0, s.http.call(ctx, http.MethodGet, "/healthz", nil, "", http.StatusOK, nil)
	}}
	return measured(ctx, "GET /healthz", sc, s.baselineOptions(clients))
}

// storeBaseline is the raw write rate of the store with `accounts` hot rows.
func (s *suite) storeBaseline(accounts int) (string, func(context.Context, int) (*Baseline, error)) {
	if s.cfg.StoreKind == "postgres" {
		scale := accounts
		if s.cfg.Quick {
			scale = 1
		}
		return fmt.Sprintf("pgbench tpcb-like -s %d", scale), func(ctx context.Context, clients int) (*Baseline, error) {
			return s.pgbench(ctx, scale, clients)
		}
	}
	return "SQLite one-row durable commits", s.commitBaseline
}

// commitBaseline is one-row durable commits per second on a scratch SQLite
// file in the store's directory (the same disk), opened with the store's own
// Open (the same pragmas: WAL, synchronous=FULL): each commit one Store.Update
// writing one idempotency record, from as many clients as the scenario.
func (s *suite) commitBaseline(ctx context.Context, clients int) (*Baseline, error) {
	var tok [4]byte
	_, _ = rand.Read(tok[:])
	path := filepath.Join(filepath.Dir(s.cfg.SQLitePath), ".tally-bench-commit-"+hex.EncodeToString(tok[:])+".db")
	defer func() {
		for _, suffix := range []string{"", "-wal", "-shm"} {
			_ = os.Remove(path + suffix)
		}
	}()
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var n atomic.Int64
	now := time.Now()
	sc := Scenario{Op: func(ctx context.Context, _ int) (int, error) {
		rec := credit.IdempotencyRecord{Idempotency: credit.Idempotency{Scope: "bench", Key: strconv.FormatInt(n.Add(1), 10), Hash: "h"}, CreatedAt: now}
		return 0, db.Update(ctx, func(tx credit.Tx) error { return tx.PutIdempotency(rec) })
	}}
	return measured(ctx, "SQLite one-row durable commits", sc, s.baselineOptions(clients))
}

// pointReadBaseline reads one account row in a View: the cheapest indexed
// read the store does, the yardstick of the history queries in process.
func (s *suite) pointReadBaseline(account string) func(context.Context, int) (*Baseline, error) {
	return func(ctx context.Context, clients int) (*Baseline, error) {
		sc := Scenario{Op: func(ctx context.Context, _ int) (int, error) {
			return 0, s.cfg.Store.View(ctx, func(tx credit.Tx) error {
				_, err := tx.Account(account)
				return err
			})
		}}
		return measured(ctx, "point read (View: one account row)", sc, s.baselineOptions(clients))
	}
}

// pgbench runs `pgbench -b tpcb-like` on a scratch database of the store's
// server: -i -s scale, then -c clients -j 2 -T duration -n. Scale is the
// number of branch rows, TPC-B's hot rows: the scenario's account count.
func (s *suite) pgbench(ctx context.Context, scale, clients int) (*Baseline, error) {
	name := fmt.Sprintf("pgbench tpcb-like -s %d", scale)
	bin, err := exec.LookPath("pgbench")
	if err != nil {
		return &Baseline{Name: name, Clients: clients, Note: "pgbench is not installed"}, nil
	}
	var tok [4]byte
	_, _ = rand.Read(tok[:])
	dbname := "tally_bench_pgbench_" + hex.EncodeToString(tok[:])
	admin, err := pgx.Connect(ctx, plainDSN(s.cfg.PostgresDSN))
	if err != nil {
		return nil, fmt.Errorf("pgbench: connect: %w", err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+dbname); err != nil {
		return nil, fmt.Errorf("pgbench: create database: %w", err)
	}
	defer func() {
		_, _ = admin.Exec(context.WithoutCancel(ctx), "DROP DATABASE IF EXISTS "+dbname+" WITH (FORCE)")
	}()
	u, err := url.Parse(plainDSN(s.cfg.PostgresDSN))
	if err != nil {
		return nil, errors.New("pgbench: the database URL is not valid")
	}
	u.Path = "/" + dbname
	target := u.String()
	// Server-side data generation (-I dtGvp): the same tables, made faster.
	init := exec.CommandContext(ctx, bin, "-i", "-s", strconv.Itoa(scale), "-I", "dtGvp", "-q", target)
	if out, err := init.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("pgbench -i: %v: %s", err, lastLine(out))
	}
	secs := max(1, int(math.Ceil(min(s.cfg.Duration, maxBaselineDuration).Seconds())))
	jobs := min(2, clients)
	run := exec.CommandContext(ctx, bin, "-b", "tpcb-like", "-c", strconv.Itoa(clients), "-j", strconv.Itoa(jobs),
		"-T", strconv.Itoa(secs), "-n", target)
	out, err := run.CombinedOutput()
	if err != nil {
		return nil, fmt.Errorf("pgbench: %v: %s", err, lastLine(out))
	}
	m := tpsLine.FindSubmatch(out)
	if m == nil {
		// On a loaded machine a short -T can end before its clients have
		// connected: no transaction, no tps. Count transactions instead,
		// which always finishes (a quick run's size, per client).
		secs = 0
		run = exec.CommandContext(ctx, bin, "-b", "tpcb-like", "-c", strconv.Itoa(clients), "-j", strconv.Itoa(jobs),
			"-t", strconv.Itoa(pgbenchFallbackTx), "-n", target)
		if out, err = run.CombinedOutput(); err != nil {
			return nil, fmt.Errorf("pgbench: %v: %s", err, lastLine(out))
		}
		if m = tpsLine.FindSubmatch(out); m == nil {
			return nil, fmt.Errorf("pgbench: no tps in its output: %s", lastLine(out))
		}
	}
	tps, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		return nil, fmt.Errorf("pgbench: tps %q: %v", m[1], err)
	}
	length := fmt.Sprintf("-T %d", secs)
	if secs == 0 {
		length = fmt.Sprintf("-t %d (-T %d ran no transaction)", pgbenchFallbackTx, max(1, int(math.Ceil(min(s.cfg.Duration, maxBaselineDuration).Seconds()))))
	}
	b := &Baseline{Name: name, Clients: clients, Throughput: tps,
		Note: fmt.Sprintf("-c %d -j %d %s -n on a scratch database of the same server; no warm-up", clients, jobs, length)}
	if lat := latencyLine.FindSubmatch(out); lat != nil {
		if ms, err := strconv.ParseFloat(string(lat[1]), 64); err == nil {
			b.Note += fmt.Sprintf("; latency average %.1f ms", ms)
		}
	}
	return b, nil
}

// pgbenchFallbackTx is how many transactions each pgbench client runs when a
// timed run ended before any transaction.
const pgbenchFallbackTx = 50

var (
	tpsLine     = regexp.MustCompile(`(?m)^tps = ([0-9.]+)`)
	latencyLine = regexp.MustCompile(`(?m)^latency average = ([0-9.]+) ms`)
)

func lastLine(b []byte) string {
	b = bytes.TrimSpace(b)
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		b = b[i+1:]
	}
	return string(b)
}

// postgresInfo returns the server's version and its durability settings.
func postgresInfo(ctx context.Context, dsn string) (version, notes string) {
	conn, err := pgx.Connect(ctx, plainDSN(dsn))
	if err != nil {
		return "", ""
	}
	defer conn.Close(context.WithoutCancel(ctx))
	show := func(name string) string {
		var v string
		if err := conn.QueryRow(ctx, "SHOW "+name).Scan(&v); err != nil {
			return "?"
		}
		return v
	}
	var settings []string
	for _, name := range []string{"fsync", "synchronous_commit", "wal_sync_method", "commit_delay", "shared_buffers", "max_connections"} {
		settings = append(settings, name+"="+show(name))
	}
	return show("server_version"), strings.Join(settings, " ")
}

// plainDSN drops pgxpool's own parameters (pool_max_conns, …) from a URL,
// which a single connection or pgbench would send to the server as settings.
func plainDSN(dsn string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	q := u.Query()
	for k := range q {
		if strings.HasPrefix(k, "pool_") {
			q.Del(k)
		}
	}
	u.RawQuery = q.Encode()
	return u.String()
}
