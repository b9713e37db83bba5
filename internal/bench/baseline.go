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

// The baselines. A scenario's ratio is to rounds of its baseline measured
// just before and just after it, with its client count, for as long, after
// the same warm-up (pgbench has no warm-up): on a shared machine the load
// moves within minutes, and a baseline measured once for the whole run would
// make the later rows' ratios drift with it. The two rounds also show how far
// the machine moved while the scenario ran.

// maxBaselineDuration caps a baseline round's measured time: a yardstick is
// steady well within it, and a ten-minute scenario (the RSS slope of mixed)
// needs no ten-minute /healthz.
const maxBaselineDuration = 30 * time.Second

// yardstick is one baseline: its name as printed, and how to measure one
// round of it with a client count. measure returns a round with no
// throughput and a note where it cannot be measured here, and an error when
// it failed.
type yardstick struct {
	name    string
	measure func(ctx context.Context, clients int) (Round, error)
}

// lastRound is the baseline round measured last, after a scenario: the next
// scenario may take it as its own round before, if it divides by the same
// yardstick with the same clients and nothing was measured in between. Rows
// of one baseline in a row then share rounds: B S B S B.
type lastRound struct {
	key   string
	round Round
}

// baselineRound measures one round of y with clients. A failed round is a
// round with no throughput and a note saying why; only ctx's end is
// returned.
func (s *suite) baselineRound(ctx context.Context, y *yardstick, clients int, when string) (Round, error) {
	s.say("measuring baseline %s (%d clients), %s", y.name, clients, when)
	r, err := y.measure(ctx, clients)
	if err != nil {
		if ctx.Err() != nil {
			return Round{}, ctx.Err()
		}
		return Round{Note: "failed: " + err.Error()}, nil
	}
	return r, nil
}

// roundBefore is the baseline round just before a scenario: the round after
// the previous scenario when it is the same yardstick and clients, else a
// new one.
func (s *suite) roundBefore(ctx context.Context, y *yardstick, clients int) (Round, error) {
	key := fmt.Sprintf("%s/%d", y.name, clients)
	if last := s.last; last != nil && last.key == key {
		s.last = nil
		return last.round, nil
	}
	s.last = nil
	return s.baselineRound(ctx, y, clients, "before")
}

// roundAfter is the baseline round just after a scenario; the next scenario
// may share it.
func (s *suite) roundAfter(ctx context.Context, y *yardstick, clients int) (Round, error) {
	r, err := s.baselineRound(ctx, y, clients, "after")
	if err != nil {
		return Round{}, err
	}
	s.last = &lastRound{key: fmt.Sprintf("%s/%d", y.name, clients), round: r}
	return r, nil
}

// bracket divides a scenario's throughput by the mean of the baseline rounds
// measured around it, leaving out a round that measured nothing, and gives
// the ratio's range: against the fastest round (low) and the slowest
// (high). A range much wider than the ratio's precision says the machine
// moved while the scenario ran. With no round measured, all are 0.
func bracket(throughput float64, rounds ...float64) (mean, ratio, low, high float64) {
	var n int
	var fastest, slowest float64
	for _, b := range rounds {
		if b <= 0 {
			continue
		}
		if n == 0 || b > fastest {
			fastest = b
		}
		if n == 0 || b < slowest {
			slowest = b
		}
		mean += b
		n++
	}
	if n == 0 {
		return 0, 0, 0, 0
	}
	mean /= float64(n)
	return mean, throughput / mean, throughput / fastest, throughput / slowest
}

// baselineOptions are the load options of a baseline round with clients.
func (s *suite) baselineOptions(clients int) Options {
	o := s.optionsFor(clients)
	o.Duration = min(o.Duration, maxBaselineDuration)
	return o
}

// measured turns a run of a baseline workload into a Round.
func measured(ctx context.Context, name string, sc Scenario, o Options) (Round, error) {
	sc.Name = "baseline: " + name
	r, err := Run(ctx, sc, o)
	if err != nil {
		return Round{}, err
	}
	return Round{Throughput: r.Throughput, P50: r.P50, P99: r.P99}, nil
}

// jsonBaseline encodes the three numbers of the quote's answer as JSON: the
// least work any quote endpoint must do besides pricing (BENCHMARKS.md's
// BenchmarkQuoteBaseline).
func (s *suite) jsonBaseline(q credit.Quote) *yardstick {
	const name = "JSON of the answer's 3 numbers"
	return &yardstick{name: name, measure: func(ctx context.Context, clients int) (Round, error) {
		type answer struct {
			Total credit.Credits `json:"total_credits"`
			Unit  credit.Credits `json:"unit_credits"`
			Model string         `json:"model"`
		}
		sc := Scenario{Op: func(context.Context, int) (int, error) {
			_, err := json.Marshal(answer{q.TotalCredits, q.UnitCredits, q.Model})
			return 0, err
		}}
		return measured(ctx, name, sc, s.baselineOptions(clients))
	}}
}

// healthzBaseline is GET /healthz on the server under test: HTTP itself.
func (s *suite) healthzBaseline() *yardstick {
	const name = "GET /healthz"
	return &yardstick{name: name, measure: func(ctx context.Context, clients int) (Round, error) {
		sc := Scenario{Op: func(ctx context.Context, _ int) (int, error) {
			return 0, s.http.call(ctx, http.MethodGet, "/healthz", nil, "", http.StatusOK, nil)
		}}
		return measured(ctx, name, sc, s.baselineOptions(clients))
	}}
}

// storeBaseline is the raw write rate of the store with `accounts` hot rows.
func (s *suite) storeBaseline(accounts int) *yardstick {
	if s.cfg.StoreKind == "postgres" {
		scale := accounts
		if s.cfg.Quick {
			scale = 1
		}
		return &yardstick{name: fmt.Sprintf("pgbench tpcb-like -s %d", scale), measure: func(ctx context.Context, clients int) (Round, error) {
			return s.pgbench(ctx, scale, clients)
		}}
	}
	return &yardstick{name: "SQLite one-row durable commits", measure: s.commitBaseline}
}

// commitBaseline is one-row durable commits per second on a scratch SQLite
// file in the store's directory (the same disk), opened with the store's own
// Open (the same pragmas: WAL, synchronous=FULL): each commit one Store.Update
// appending one audit-log row, from as many clients as the scenario. Each
// round starts from a fresh file, so that rounds measure the same thing.
func (s *suite) commitBaseline(ctx context.Context, clients int) (Round, error) {
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
		return Round{}, err
	}
	defer db.Close()
	var n atomic.Int64
	now := time.Now()
	sc := Scenario{Op: func(ctx context.Context, _ int) (int, error) {
		e := credit.AuditEntry{At: now, Actor: "bench", Action: credit.AuditKeyRevoke, Target: strconv.FormatInt(n.Add(1), 10), Detail: []byte(`{}`)}
		return 0, db.Update(ctx, func(tx credit.Tx) error { return tx.AppendAudit(&e) })
	}}
	return measured(ctx, "SQLite one-row durable commits", sc, s.baselineOptions(clients))
}

// pointReadBaseline reads one account row in a View: the cheapest indexed
// read the store does, the yardstick of the history queries in process.
func (s *suite) pointReadBaseline(account string) *yardstick {
	const name = "point read (View: one account row)"
	return &yardstick{name: name, measure: func(ctx context.Context, clients int) (Round, error) {
		sc := Scenario{Op: func(ctx context.Context, _ int) (int, error) {
			return 0, s.cfg.Store.View(ctx, func(tx credit.Tx) error {
				_, err := tx.Account(account)
				return err
			})
		}}
		return measured(ctx, name, sc, s.baselineOptions(clients))
	}}
}

// pgbench runs `pgbench -b tpcb-like -c clients -j 2 -T duration -n` on a
// scratch database of the store's server, made the first time a scale is
// asked for (`pgbench -i -s scale`) and kept for the rounds after, as
// pgbench's own before-and-after runs do. Scale is the number of branch
// rows, TPC-B's hot rows: the scenario's account count.
func (s *suite) pgbench(ctx context.Context, scale, clients int) (Round, error) {
	bin, err := exec.LookPath("pgbench")
	if err != nil {
		return Round{Note: "pgbench is not installed"}, nil
	}
	target, err := s.pgbenchDatabase(ctx, bin, scale)
	if err != nil {
		return Round{}, err
	}
	secs := max(1, int(math.Ceil(min(s.cfg.Duration, maxBaselineDuration).Seconds())))
	jobs := min(2, clients)
	// pgbench's -T includes opening its connections, which on a loaded
	// machine can take the whole of a short run: like Run's MinOps, a round
	// that counted fewer than 10 transactions runs again, twice as long, up
	// to the cap.
	var (
		out       []byte
		processed int
		retried   []string
	)
	for {
		run := exec.CommandContext(ctx, bin, "-b", "tpcb-like", "-c", strconv.Itoa(clients), "-j", strconv.Itoa(jobs),
			"-T", strconv.Itoa(secs), "-n", target)
		out, err = run.CombinedOutput()
		if err != nil {
			return Round{}, fmt.Errorf("pgbench: %v: %s", err, lastLine(out))
		}
		processed = -1
		if m := processedLine.FindSubmatch(out); m != nil {
			processed, _ = strconv.Atoi(string(m[1]))
		}
		limit := int(maxBaselineDuration.Seconds())
		if processed < 0 || processed >= 10 || secs >= limit {
			break
		}
		retried = append(retried, fmt.Sprintf("%d transactions in %d s", processed, secs))
		secs = min(2*secs, limit)
	}
	m := tpsLine.FindSubmatch(out)
	if m == nil || processed == 0 {
		return Round{}, fmt.Errorf("pgbench: no tps in its output: %s", lastLine(out))
	}
	tps, err := strconv.ParseFloat(string(m[1]), 64)
	if err != nil {
		return Round{}, fmt.Errorf("pgbench: tps %q: %v", m[1], err)
	}
	r := Round{Throughput: tps, Note: fmt.Sprintf("-c %d -j %d -T %d -n on a scratch database of the same server; no warm-up", clients, jobs, secs)}
	if lat := latencyLine.FindSubmatch(out); lat != nil {
		if ms, err := strconv.ParseFloat(string(lat[1]), 64); err == nil {
			r.Note += fmt.Sprintf("; latency average %.1f ms", ms)
		}
	}
	if len(retried) > 0 {
		r.Note += "; run again after " + strings.Join(retried, ", then ") + " (a slow or loaded machine)"
	}
	return r, nil
}

// pgbenchDatabase returns the URL of the run's pgbench database of scale,
// creating and initializing it the first time. RunSuite drops it at the end.
func (s *suite) pgbenchDatabase(ctx context.Context, bin string, scale int) (string, error) {
	if target, ok := s.pgbenchDBs[scale]; ok {
		return target, nil
	}
	var tok [4]byte
	_, _ = rand.Read(tok[:])
	dbname := "tally_bench_pgbench_" + hex.EncodeToString(tok[:])
	admin, err := pgx.Connect(ctx, plainDSN(s.cfg.PostgresDSN))
	if err != nil {
		return "", fmt.Errorf("pgbench: connect: %w", err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	if _, err := admin.Exec(ctx, "CREATE DATABASE "+dbname); err != nil {
		return "", fmt.Errorf("pgbench: create database: %w", err)
	}
	s.dropPgbench = append(s.dropPgbench, dbname)
	u, err := url.Parse(plainDSN(s.cfg.PostgresDSN))
	if err != nil {
		return "", errors.New("pgbench: the database URL is not valid")
	}
	u.Path = "/" + dbname
	target := u.String()
	// Server-side data generation (-I dtGvp): the same tables, made faster.
	init := exec.CommandContext(ctx, bin, "-i", "-s", strconv.Itoa(scale), "-I", "dtGvp", "-q", target)
	if out, err := init.CombinedOutput(); err != nil {
		return "", fmt.Errorf("pgbench -i: %v: %s", err, lastLine(out))
	}
	s.pgbenchDBs[scale] = target
	return target, nil
}

// dropPgbenchDatabases drops the run's pgbench databases.
func (s *suite) dropPgbenchDatabases(ctx context.Context) {
	if len(s.dropPgbench) == 0 {
		return
	}
	ctx = context.WithoutCancel(ctx)
	admin, err := pgx.Connect(ctx, plainDSN(s.cfg.PostgresDSN))
	if err != nil {
		s.say("could not drop the pgbench databases %s: %v", strings.Join(s.dropPgbench, ", "), err)
		return
	}
	defer admin.Close(ctx)
	for _, name := range s.dropPgbench {
		if _, err := admin.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			s.say("could not drop the pgbench database %s: %v", name, err)
		}
	}
}

var (
	tpsLine       = regexp.MustCompile(`(?m)^tps = ([0-9.]+)`)
	latencyLine   = regexp.MustCompile(`(?m)^latency average = ([0-9.]+) ms`)
	processedLine = regexp.MustCompile(`(?m)^number of transactions actually processed: ([0-9]+)`)
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
