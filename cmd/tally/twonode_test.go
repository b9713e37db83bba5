package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/postgres/pgtest"
)

// nodeAdminKey is the TALLY_ADMIN_KEY of the two-node tests' servers.
const nodeAdminKey = "two-node-admin-key-0123456789"

// freshDatabase creates an empty database on the server of
// TALLY_TEST_POSTGRES, dropped when the test ends, and returns its
// postgres:// URL (see pgtest: skipped unless that is a URL).
func freshDatabase(t testing.TB) string {
	t.Helper()
	pgtest.URL(t)
	return pgtest.NewDatabase(t)
}

// buildTally builds this package's binary into a temporary directory.
func buildTally(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "tally")
	cmd := exec.Command("go", "build", "-buildvcs=false", "-o", bin, ".")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOFLAGS=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// node is a `tally serve` subprocess.
type node struct {
	t    *testing.T
	name string
	base string
	cmd  *exec.Cmd
	log  *syncBuffer
	done chan error
}

// startNode starts `tally serve --addr 127.0.0.1:0 --db dsn` (and args) and
// waits for the address it logs. The process is killed when the test ends,
// however it ends.
func startNode(t *testing.T, bin, name, dsn string, args ...string) *node {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--db", dsn}, args...)...)
	cmd.Env = append(os.Environ(), "TALLY_ADMIN_KEY="+nodeAdminKey)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	n := &node{t: t, name: name, cmd: cmd, log: &syncBuffer{}, done: make(chan error, 1)}
	t.Cleanup(func() {
		_ = cmd.Process.Kill() // a no-op once it has exited
		<-n.done
		if t.Failed() {
			t.Logf("%s log:\n%s", name, n.log.String())
		}
	})
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
		t.Fatalf("%s never logged its address:\n%s", name, n.log.String())
	}
	return n
}

// stop sends SIGTERM and requires a clean exit (0).
func (n *node) stop() {
	n.t.Helper()
	if err := n.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		n.t.Fatalf("%s: SIGTERM: %v", n.name, err)
	}
	select {
	case err := <-n.done:
		n.done <- err // for the cleanup
		if err != nil {
			n.t.Errorf("%s exited with %v after SIGTERM; want 0\n%s", n.name, err, n.log.String())
		}
	case <-time.After(20 * time.Second):
		n.t.Fatalf("%s did not exit within 20 s of SIGTERM", n.name)
	}
}

// reply is one HTTP answer.
type reply struct {
	status int
	body   []byte
}

// code returns the problem code of the body.
func (r reply) code() string {
	var p struct{ Code string }
	_ = json.Unmarshal(r.body, &p)
	return p.Code
}

var nodeClient = &http.Client{Timeout: 15 * time.Second}

// do sends a request with the admin key and a JSON body (none if ""); hdr
// are more header name/value pairs.
func (n *node) do(method, path, body string, hdr ...string) reply {
	n.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, n.base+path, rd)
	if err != nil {
		n.t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+nodeAdminKey)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := nodeClient.Do(req)
	if err != nil {
		n.t.Errorf("%s: %s %s: %v", n.name, method, path, err)
		return reply{}
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		n.t.Errorf("%s: %s %s: %v", n.name, method, path, err)
	}
	return reply{status: resp.StatusCode, body: b}
}

// want sends a request that must answer status, and decodes its body into v
// (unless nil).
func (n *node) want(status int, v any, method, path, body string, hdr ...string) reply {
	n.t.Helper()
	r := n.do(method, path, body, hdr...)
	if r.status != status {
		n.t.Fatalf("%s: %s %s = %d %s; want %d", n.name, method, path, r.status, r.body, status)
	}
	if v != nil {
		if err := json.Unmarshal(r.body, v); err != nil {
			n.t.Fatalf("%s: %s %s: %v\n%s", n.name, method, path, err, r.body)
		}
	}
	return r
}

// wireGeneration is the part of a generation the tests read.
type wireGeneration struct {
	ID             string         `json:"id"`
	Account        string         `json:"account"`
	Status         string         `json:"status"`
	Hold           string         `json:"hold"`
	HoldCredits    credit.Credits `json:"hold_credits"`
	ChargedCredits credit.Credits `json:"charged_credits"`
}

type wireAccount struct {
	Available credit.Credits `json:"available_credits"`
	Held      credit.Credits `json:"held_credits"`
}

type wireEntries struct {
	Entries []struct {
		Kind         string         `json:"kind"`
		Ref          string         `json:"ref"`
		Generation   string         `json:"generation"`
		ChargedDelta credit.Credits `json:"charged_delta"`
	} `json:"entries"`
	NextCursor string `json:"next_cursor"`
}

// balance returns an account's available and held credits.
func (n *node) balance(account string) wireAccount {
	n.t.Helper()
	var a wireAccount
	n.want(http.StatusOK, &a, http.MethodGet, "/v1/accounts/"+account, "")
	return a
}

// entries returns an account's whole journal (one page of up to 1000).
func (n *node) entries(account string) wireEntries {
	n.t.Helper()
	var e wireEntries
	n.want(http.StatusOK, &e, http.MethodGet, "/v1/accounts/"+account+"/entries?limit=1000", "")
	if e.NextCursor != "" {
		n.t.Fatalf("%s has more than 1000 entries", account)
	}
	return e
}

// verifyDB runs `tally verify --db dsn`, which must exit 0.
func verifyDB(t *testing.T, bin, dsn string) {
	t.Helper()
	var out, errOut bytes.Buffer
	cmd := exec.Command(bin, "verify", "--db", dsn)
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Errorf("tally verify: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errOut.String())
	}
}

// TestTwoNodesRaceOneAccount starts two `tally serve` processes on one
// PostgreSQL database and races 64 generations of 5 credits against one
// account of 100 through both: exactly 20 are held and 44 refused (no
// overdraft); each is completed through the other node and the completion
// retried with the same Idempotency-Key through the first (the same answer,
// no second charge); both nodes stop cleanly and `tally verify` is clean.
func TestTwoNodesRaceOneAccount(t *testing.T) {
	dsn := freshDatabase(t)
	bin := buildTally(t)
	began := time.Now()
	nodes := []*node{startNode(t, bin, "node 1", dsn), startNode(t, bin, "node 2", dsn)}
	n1 := nodes[0]
	n1.want(http.StatusCreated, nil, http.MethodPost, "/v1/accounts", `{"id":"race"}`)
	n1.want(http.StatusCreated, nil, http.MethodPost, "/v1/accounts/race/grants", `{"credits":100,"source":"topup"}`)

	const clients = 64
	replies := make([]reply, clients)
	var wg sync.WaitGroup
	gate := make(chan struct{})
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			replies[i] = nodes[i%2].do(http.MethodPost, "/v1/generations", `{"account":"race","model":"flux-dev","images":1}`)
		}()
	}
	close(gate)
	wg.Wait()
	type held struct {
		id   string
		node int // the node that created it
	}
	var created []held
	refused := 0
	for i, r := range replies {
		switch {
		case r.status == http.StatusCreated:
			var g wireGeneration
			if err := json.Unmarshal(r.body, &g); err != nil {
				t.Fatal(err)
			}
			if g.HoldCredits != cr("5") || g.Status != "held" {
				t.Errorf("client %d: %s; want held for 5", i, r.body)
			}
			created = append(created, held{g.ID, i % 2})
		case r.status == http.StatusPaymentRequired && r.code() == "insufficient_credits":
			refused++
		default:
			t.Errorf("client %d via %s: %d %s; want 201 or 402 insufficient_credits", i, nodes[i%2].name, r.status, r.body)
		}
	}
	if len(created) != 20 || refused != 44 {
		t.Fatalf("created, refused = %d, %d; want 20, 44 (100 credits / 5)", len(created), refused)
	}
	if a := n1.balance("race"); a.Available != 0 || a.Held != cr("100") {
		t.Errorf("after the race: available %v, held %v; want 0, 100", a.Available, a.Held)
	}

	// Complete each through the other node, then retry through the first.
	for _, h := range created {
		other, first := nodes[1-h.node], nodes[h.node]
		key := "done-" + h.id
		path := "/v1/generations/" + h.id + "/complete"
		var g wireGeneration
		r1 := other.want(http.StatusOK, &g, http.MethodPost, path, `{"images_delivered":1}`, "Idempotency-Key", key)
		if g.Status != "completed" || g.ChargedCredits != cr("5") {
			t.Errorf("complete %s via %s = %s; want completed, charged 5", h.id, other.name, r1.body)
		}
		r2 := first.do(http.MethodPost, path, `{"images_delivered":1}`, "Idempotency-Key", key)
		if r2.status != r1.status || !bytes.Equal(r2.body, r1.body) {
			t.Errorf("retry of complete %s via %s = %d %s; want the first answer %d %s", h.id, first.name, r2.status, r2.body, r1.status, r1.body)
		}
	}
	for _, n := range nodes {
		if a := n.balance("race"); a.Available != 0 || a.Held != 0 {
			t.Errorf("%s: available %v, held %v; want 0, 0", n.name, a.Available, a.Held)
		}
	}
	var charged credit.Credits
	captures := 0
	for _, e := range n1.entries("race").Entries {
		charged += e.ChargedDelta
		if e.Kind == "capture" {
			captures++
		}
	}
	if captures != 20 || charged != cr("100") {
		t.Errorf("journal: %d captures charging %v; want 20 charging 100", captures, charged)
	}
	t.Logf("two nodes: race, completions and retries took %v", time.Since(began).Round(time.Millisecond))

	for _, n := range nodes {
		n.stop()
	}
	verifyDB(t, bin, dsn)
}

// TestTwoNodesSweepWithoutDoubleWork lets the expiry sweepers of two
// `tally serve` processes on one database race over 50 holds of one second
// across 10 accounts: every generation ends expired, every balance is whole
// again, and each hold is released exactly once in the journal.
func TestTwoNodesSweepWithoutDoubleWork(t *testing.T) {
	dsn := freshDatabase(t)
	bin := buildTally(t)
	nodes := []*node{startNode(t, bin, "node 1", dsn), startNode(t, bin, "node 2", dsn)}
	const accounts, perAccount = 10, 5
	for a := range accounts {
		id := fmt.Sprintf("sweep-%d", a)
		nodes[0].want(http.StatusCreated, nil, http.MethodPost, "/v1/accounts", `{"id":"`+id+`"}`)
		nodes[0].want(http.StatusCreated, nil, http.MethodPost, "/v1/accounts/"+id+"/grants", `{"credits":100,"source":"topup"}`)
	}
	holdOf := map[string]string{}  // generation → hold
	genOf := map[string][]string{} // account → generations
	var mu sync.Mutex
	var wg sync.WaitGroup
	for i := range accounts * perAccount {
		wg.Add(1)
		go func() {
			defer wg.Done()
			account := fmt.Sprintf("sweep-%d", i%accounts)
			var g wireGeneration
			nodes[i%2].want(http.StatusCreated, &g, http.MethodPost, "/v1/generations",
				`{"account":"`+account+`","model":"flux-dev","images":2,"hold_ttl_seconds":1}`)
			mu.Lock()
			holdOf[g.ID] = g.Hold
			genOf[account] = append(genOf[account], g.ID)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	// Only the sweepers write from here on: reads do not settle. Wait for
	// every release, then a while longer for any second one.
	releases := func(account string) map[string]int {
		out := map[string]int{}
		for _, e := range nodes[1].entries(account).Entries {
			if e.Kind == "release" {
				out[e.Ref]++
			}
		}
		return out
	}
	began := time.Now()
	for a := 0; a < accounts; {
		if len(releases(fmt.Sprintf("sweep-%d", a))) == perAccount {
			a++
			continue
		}
		if time.Since(began) > 10*time.Second {
			t.Fatalf("sweep-%d: the holds were not all released 10 s after they expired", a)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("every hold released %v after creation", time.Since(began).Round(time.Millisecond))
	time.Sleep(2500 * time.Millisecond) // both sweepers run at least twice more

	for a := range accounts {
		account := fmt.Sprintf("sweep-%d", a)
		rel := releases(account)
		for _, g := range genOf[account] {
			if n := rel[holdOf[g]]; n != 1 {
				t.Errorf("%s: hold %s of generation %s released %d times; want exactly once", account, holdOf[g], g, n)
			}
			var got wireGeneration
			nodes[a%2].want(http.StatusOK, &got, http.MethodGet, "/v1/generations/"+g, "")
			if got.Status != "expired" || got.ChargedCredits != 0 {
				t.Errorf("generation %s = %s, charged %v; want expired, charged 0", g, got.Status, got.ChargedCredits)
			}
		}
		if len(rel) != perAccount {
			t.Errorf("%s: releases of %d holds; want %d", account, len(rel), perAccount)
		}
		if b := nodes[(a+1)%2].balance(account); b.Available != cr("100") || b.Held != 0 {
			t.Errorf("%s: available %v, held %v; want 100, 0", account, b.Available, b.Held)
		}
	}
	for _, n := range nodes {
		n.stop()
	}
	sweptRE := regexp.MustCompile(`msg="expiry sweep" accounts=(\d+)`)
	for _, n := range nodes {
		settled := 0
		for _, m := range sweptRE.FindAllStringSubmatch(n.log.String(), -1) {
			var k int
			fmt.Sscan(m[1], &k)
			settled += k
		}
		t.Logf("%s's sweeper settled %d account(s)", n.name, settled)
	}
	if n := strings.Count(nodes[0].log.String()+nodes[1].log.String(), "expiry sweep failed"); n > 0 {
		t.Errorf("the sweepers failed %d times:\n%s\n%s", n, nodes[0].log.String(), nodes[1].log.String())
	}
	verifyDB(t, bin, dsn)
}
