package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/postgres/pgtest"
)

// Issue 4, "Hot accounts": generation throughput through two `tally serve`
// processes on one PostgreSQL, on one account and on many.
//
// The helpers of twonode_test.go take a *testing.T, which a benchmark does not
// have; the few this file needs (a fresh database, the binary, a node) are
// restated here on testing.TB. Its constants and wire types are shared.

const (
	// benchClients is how many HTTP clients run cycles at once (32 on 2
	// cores: b.SetParallelism(benchClients / GOMAXPROCS)).
	benchClients = 32
	// benchGrant is each account's one grant: enough for any run.
	benchGrant = "100000000"
	// benchModel, benchImages: the cheapest per_image model on the page (Flux
	// Dev, 5 credits per image, offered up to 1K) at its defaults (1K, 1:1),
	// two images, both delivered.
	benchModel  = "flux-dev"
	benchImages = 2
	// benchCyclePrice is one cycle's charge, from the seed page by hand:
	// 5 credits × 2 images, no enhancer (0 in the built-in catalog). The
	// benchmark checks each answer and the balances against it.
	benchCyclePrice = "10"
)

// BenchmarkTwoNodes runs the Create button end to end over HTTP: 32 clients
// spread over two `tally serve` processes on one fresh PostgreSQL database,
// each iteration one cycle, POST /v1/generations then POST
// /v1/generations/{id}/complete, each with an Idempotency-Key, the two through
// different nodes.
//
//   - accounts=1: every cycle on one hot account.
//   - accounts=64: each cycle on the next account in turn, so that the 32
//     cycles in flight are on different accounts (as BenchmarkGenerationCycle
//     in internal/postgres does).
//   - accounts=64,pick=random: each cycle on an account picked at random, as
//     real traffic would: cycles in flight sometimes share an account, and
//     transactions that lock several accounts may lock them in different
//     orders.
//
// It reports cycles/s, the p50 and p99 latency of a cycle, and the retries (a
// transport error or a 5xx retried with the same key). After each round the
// balances must have fallen by exactly cycles × 10 credits, with nothing
// held, and the journal must hold exactly one capture of 10 per cycle; after
// the last, both nodes must stop cleanly and `tally verify` must exit 0. A
// lost or doubled update fails the benchmark.
//
// Skipped unless TALLY_TEST_POSTGRES is set. scripts/bench-postgres.sh runs it
// next to pgbench on the same server (BENCHMARKS.md).
func BenchmarkTwoNodes(b *testing.B) {
	base := pgtest.URL(b)
	bin := buildTally(b)
	for _, sub := range []struct {
		accounts int
		random   bool
	}{{1, false}, {64, false}, {64, true}} {
		name := fmt.Sprintf("accounts=%d", sub.accounts)
		if sub.random {
			name += ",pick=random"
		}
		// Set up in the first round, so that a -bench pattern that leaves
		// this sub-benchmark out starts nothing; kept for the later rounds,
		// torn down after the last.
		var env *hotEnv
		b.Cleanup(func() { env.close(b) }) // however the benchmark ends
		b.Run(name, func(b *testing.B) {
			if env == nil {
				env = &hotEnv{bin: bin, random: sub.random}
				env.setup(b, base, sub.accounts)
			}
			env.run(b)
		})
		env.finish(b)
	}
}

// hotEnv is one sub-benchmark's two nodes and database. It outlives the
// rounds of the sub-benchmark (testing runs its function once per b.N, and
// its Cleanups after each), so it cleans up after itself (finish, close),
// and the balances carry over: done counts every cycle of every round.
type hotEnv struct {
	bin, dsn string
	random   bool   // each cycle picks its account at random, not in turn
	drop     func() // drops the database
	accounts []string
	nodes    [2]*benchNode
	client   *http.Client
	run1     string         // a prefix that makes Idempotency-Keys unique
	done     []atomic.Int64 // completed cycles, per account
	open     []atomic.Int64 // generations created and not (yet) completed, per account
	next     atomic.Int64   // cycles started (all rounds)
	retries  atomic.Int64
}

// setup creates the database, starts the two nodes, and creates the
// accounts, each with one grant of benchGrant credits.
func (e *hotEnv) setup(b *testing.B, base string, accounts int) {
	b.Helper()
	e.done, e.open = make([]atomic.Int64, accounts), make([]atomic.Int64, accounts)
	e.client = &http.Client{
		Timeout: 30 * time.Second,
		// Keep a connection per client: the default keeps 2 idle per host,
		// and 32 clients would open and close a TCP connection per request.
		Transport: &http.Transport{MaxIdleConns: 4 * benchClients, MaxIdleConnsPerHost: 2 * benchClients},
	}
	r := make([]byte, 4)
	_, _ = rand.Read(r)
	e.run1 = hex.EncodeToString(r)
	e.dsn, e.drop = pgtest.Create(b, base, "tally_twonodes_")
	for i := range e.nodes {
		e.nodes[i] = startBenchNode(b, e.bin, fmt.Sprintf("node %d", i+1), e.dsn)
	}
	for i := range accounts {
		id := fmt.Sprintf("hot-%d", i)
		e.accounts = append(e.accounts, id)
		n := e.nodes[i%2]
		if r := e.post(n, "/v1/accounts", `{"id":"`+id+`"}`, ""); r.status != http.StatusCreated {
			b.Fatalf("create account %s: %d %s", id, r.status, r.body)
		}
		if r := e.post(n, "/v1/accounts/"+id+"/grants", `{"credits":`+benchGrant+`,"source":"topup"}`, ""); r.status != http.StatusCreated {
			b.Fatalf("grant to %s: %d %s", id, r.status, r.body)
		}
	}
}

// run is one round of the sub-benchmark: b.N cycles from benchClients
// clients, then the balance and journal checks.
func (e *hotEnv) run(b *testing.B) {
	price := cr(benchCyclePrice)
	var mu sync.Mutex
	var lat []time.Duration
	retriesBefore := e.retries.Load()
	procs := max(1, benchClients/runtime.GOMAXPROCS(0)) // RunParallel starts procs × GOMAXPROCS goroutines
	b.SetParallelism(procs)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		var mine []time.Duration
		defer func() {
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
		for pb.Next() {
			c := e.next.Add(1)
			a := int(c % int64(len(e.accounts)))
			if e.random {
				a = mrand.IntN(len(e.accounts))
			}
			creator, completer := e.nodes[c%2], e.nodes[(c+1)%2]
			began := time.Now()
			var g benchGeneration
			if err := e.call(creator, "/v1/generations",
				fmt.Sprintf(`{"account":%q,"model":%q,"images":%d}`, e.accounts[a], benchModel, benchImages),
				fmt.Sprintf("gen-%s-%d", e.run1, c), http.StatusCreated, &g); err != nil {
				b.Error(err)
				return
			}
			if g.Status != "held" || g.HoldCredits != price {
				b.Errorf("generation %s: status %s, hold %v; want held, %v", g.ID, g.Status, g.HoldCredits, price)
				return
			}
			e.open[a].Add(1)
			var done benchGeneration
			if err := e.call(completer, "/v1/generations/"+g.ID+"/complete",
				fmt.Sprintf(`{"images_delivered":%d}`, benchImages),
				"done-"+g.ID, http.StatusOK, &done); err != nil {
				b.Error(err)
				return
			}
			if done.Status != "completed" || done.ChargedCredits != price {
				b.Errorf("complete %s: status %s, charged %v; want completed, %v", g.ID, done.Status, done.ChargedCredits, price)
				return
			}
			mine = append(mine, time.Since(began))
			e.open[a].Add(-1)
			e.done[a].Add(1)
		}
	})
	b.StopTimer()
	if secs := b.Elapsed().Seconds(); secs > 0 {
		b.ReportMetric(float64(len(lat))/secs, "cycles/s")
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		b.ReportMetric(millis(lat[len(lat)/2]), "p50-ms")
		b.ReportMetric(millis(lat[min(len(lat)-1, len(lat)*99/100)]), "p99-ms")
	}
	b.ReportMetric(float64(e.retries.Load()-retriesBefore), "retries")
	e.check(b)
}

// check requires every account's balance to be its grant less 10 credits per
// cycle completed on it, nothing held, and the journal to hold exactly one
// capture of 10 credits per cycle. (A generation left open by a failed
// request, which has already failed the benchmark, is counted as held.)
func (e *hotEnv) check(b *testing.B) {
	b.Helper()
	price, grant := cr(benchCyclePrice), cr(benchGrant)
	var total int64
	for i, id := range e.accounts {
		n := e.done[i].Load()
		total += n
		var a wireAccount
		r := e.get(e.nodes[i%2], "/v1/accounts/"+id)
		if r.status != http.StatusOK {
			b.Fatalf("GET account %s: %d %s", id, r.status, r.body)
		}
		if err := json.Unmarshal(r.body, &a); err != nil {
			b.Fatal(err)
		}
		open := credit.Credits(e.open[i].Load())
		if want := grant - credit.Credits(n)*price - open*price; a.Available != want || a.Held != open*price {
			b.Errorf("%s after %d cycles (%d left open): available %v, held %v; want %v, %v (a lost or doubled update)",
				id, n, open, a.Available, a.Held, want, open*price)
		}
	}
	ctx := context.Background()
	c, err := pgx.Connect(ctx, e.dsn)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close(ctx)
	var captures, charged int64
	if err := c.QueryRow(ctx, `SELECT count(*), coalesce(sum(charged_delta), 0)::bigint FROM transactions WHERE kind = 'capture'`).
		Scan(&captures, &charged); err != nil {
		b.Fatal(err)
	}
	if captures != total || credit.Credits(charged) != credit.Credits(total)*price {
		b.Errorf("journal: %d captures charging %v; want %d charging %v", captures, credit.Credits(charged), total, credit.Credits(total)*price)
	}
}

// finish stops both nodes (each must exit 0 on SIGTERM), runs `tally verify`
// (exit 0), and closes the rest. Nothing to do if the sub-benchmark never ran.
func (e *hotEnv) finish(b *testing.B) {
	b.Helper()
	if e == nil {
		return
	}
	for _, n := range e.nodes {
		if n != nil {
			n.stop(b)
		}
	}
	if e.dsn != "" && !b.Failed() {
		var out, errOut bytes.Buffer
		cmd := exec.Command(e.bin, "verify", "--db", e.dsn)
		cmd.Stdout, cmd.Stderr = &out, &errOut
		if err := cmd.Run(); err != nil {
			b.Errorf("tally verify: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
		}
	}
	e.close(b)
}

// close kills the nodes that still run (logging their tails if the
// benchmark failed), closes the client's connections and drops the
// database. It may run more than once.
func (e *hotEnv) close(b *testing.B) {
	if e == nil {
		return
	}
	for _, n := range e.nodes {
		if n != nil {
			n.kill()
			if b.Failed() && !n.logged {
				n.logged = true
				b.Logf("%s log (last 4 KB):\n%s", n.name, lastBytes(n.log.String(), 4096))
			}
		}
	}
	if e.client != nil {
		e.client.CloseIdleConnections()
	}
	if e.drop != nil {
		e.drop()
	}
}

// benchGeneration is the part of a generation the benchmark reads.
type benchGeneration struct {
	ID             string         `json:"id"`
	Status         string         `json:"status"`
	HoldCredits    credit.Credits `json:"hold_credits"`
	ChargedCredits credit.Credits `json:"charged_credits"`
}

// call POSTs body with an Idempotency-Key and decodes the answer, which must
// be status. A transport error or a 5xx is retried with the same key (at most
// 3 more times): the node may have done the work, and the key makes the
// retry return that answer rather than do it twice.
func (e *hotEnv) call(n *benchNode, path, body, key string, status int, v any) error {
	var r reply
	for attempt := 0; ; attempt++ {
		r = e.post(n, path, body, key)
		if (r.status != 0 && r.status < 500) || attempt == 3 {
			break
		}
		e.retries.Add(1)
		time.Sleep(time.Duration(attempt+1) * 10 * time.Millisecond)
	}
	if r.status != status {
		return fmt.Errorf("%s: POST %s = %d %s; want %d", n.name, path, r.status, r.body, status)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		return fmt.Errorf("%s: POST %s: %v", n.name, path, err)
	}
	return nil
}

// post sends a POST with the admin key; status 0 is a transport error (the
// error is the body).
func (e *hotEnv) post(n *benchNode, path, body, key string) reply {
	req, err := http.NewRequest(http.MethodPost, n.base+path, strings.NewReader(body))
	if err != nil {
		return reply{body: []byte(err.Error())}
	}
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	return e.send(req)
}

func (e *hotEnv) get(n *benchNode, path string) reply {
	req, err := http.NewRequest(http.MethodGet, n.base+path, nil)
	if err != nil {
		return reply{body: []byte(err.Error())}
	}
	return e.send(req)
}

func (e *hotEnv) send(req *http.Request) reply {
	req.Header.Set("Authorization", "Bearer "+nodeAdminKey)
	resp, err := e.client.Do(req)
	if err != nil {
		return reply{body: []byte(err.Error())}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{body: []byte(err.Error())}
	}
	return reply{status: resp.StatusCode, body: body}
}

func millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// benchNode is a `tally serve` subprocess.
type benchNode struct {
	name   string
	base   string
	cmd    *exec.Cmd
	log    *syncBuffer
	done   chan error
	logged bool
}

// startBenchNode starts `tally serve --addr 127.0.0.1:0 --db dsn --rate-key 0`
// with TALLY_ADMIN_KEY and waits for the address it logs. The caller must kill
// it (stop, kill); if it never logs its address, it is killed here.
func startBenchNode(tb testing.TB, bin, name, dsn string) *benchNode {
	tb.Helper()
	// No rate limit: this measures the ledger, and 32 clients on a faster
	// machine would otherwise meet the per-key limit (429) first.
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--db", dsn, "--rate-key", "0")
	cmd.Env = append(os.Environ(), "TALLY_ADMIN_KEY="+nodeAdminKey)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	n := &benchNode{name: name, cmd: cmd, log: &syncBuffer{}, done: make(chan error, 1)}
	addrRE := regexp.MustCompile(`addr=(http://127\.0\.0\.1:\d+)`)
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			n.log.Write([]byte(sc.Text() + "\n"))
			if m := addrRE.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		_, _ = io.Copy(n.log, stderr)
		n.done <- cmd.Wait() // after the pipe is drained, as Wait requires
	}()
	select {
	case n.base = <-found:
	case <-time.After(15 * time.Second):
		n.kill()
		tb.Fatalf("%s never logged its address:\n%s", name, n.log.String())
	}
	return n
}

// kill kills the process (a no-op once it has exited) and waits for it.
func (n *benchNode) kill() {
	_ = n.cmd.Process.Kill()
	err := <-n.done
	n.done <- err
}

// stop sends SIGTERM and requires a clean exit (0) within 20 s.
func (n *benchNode) stop(tb testing.TB) {
	tb.Helper()
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		tb.Fatalf("%s: SIGTERM: %v", n.name, err)
	}
	select {
	case err := <-n.done:
		n.done <- err // for the cleanup
		if err != nil {
			tb.Errorf("%s exited with %v after SIGTERM; want 0\n%s", n.name, err, lastBytes(n.log.String(), 4096))
		}
	case <-time.After(20 * time.Second):
		tb.Fatalf("%s did not exit within 20 s of SIGTERM", n.name)
	}
}

// lastBytes returns the last n bytes of s.
func lastBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "…" + s[len(s)-n:]
}
