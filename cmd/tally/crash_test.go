package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/httpapi"
)

// The crash test's load: clients × their scripts, on accounts that start with
// crashStart credits each (enough that no generation is ever refused).
const (
	crashClients  = 8
	crashAccounts = 4
	crashStart    = 100000
	// crashDeadline bounds how long one request may go unanswered, retries
	// included, before the test gives up on it.
	crashDeadline = 30 * time.Second
)

// crashModels are per_image models with their prices from the seed page
// (Flux Dev 5, Z Image Turbo 5, Minimax Image 6 credits per image).
var crashModels = []struct {
	id    string
	price int
}{{"flux-dev", 5}, {"z-image-turbo", 5}, {"minimax-image", 6}}

// crashSeedEnv replays a run: the seed decides how many kills there are and
// when they land.
const crashSeedEnv = "TALLY_CRASH_SEED"

// crashSeed returns the seed of TALLY_CRASH_SEED, or a random one.
func crashSeed(t *testing.T) uint64 {
	t.Helper()
	if s := os.Getenv(crashSeedEnv); s != "" {
		seed, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("%s=%q: %v", crashSeedEnv, s, err)
		}
		return seed
	}
	return rand.Uint64()
}

// TestCrashRecovery kills `tally serve` with SIGKILL at random points while
// clients create, complete, fail and refund generations and grant credits,
// every request with an Idempotency-Key; restarts it on the same database
// each time; and has the clients retry every request that went unanswered
// (no answer, or a 5xx) with the same key and body until it is answered.
// Then: every acknowledged effect is in the journal exactly once, and
// nothing else is; every request sent again gets its first answer byte for
// byte; each balance is the hand computation from the answers; and `tally
// verify` is clean. The seed (logged) decides the kills; TALLY_CRASH_SEED
// replays it.
func TestCrashRecovery(t *testing.T) {
	bin := buildTally(t)
	t.Run("sqlite", func(t *testing.T) {
		crashRun(t, bin, filepath.Join(t.TempDir(), "tally.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		crashRun(t, bin, freshDatabase(t))
	})
}

// crashCall is one request of a client's script and what became of it.
type crashCall struct {
	what    string // account, grant, create, complete, fail, refund
	account string
	key     string
	path    string
	body    string // "" for none
	want    int    // the status the script expects

	attempts   int       // requests sent
	unanswered int       // of them, without an answer (transport error or 5xx)
	sent       time.Time // when the answered attempt was sent
	answer     reply     // the acknowledged answer
}

// crashGen is a generation as the clients' acknowledged answers leave it.
type crashGen struct {
	id, account string
	held        credit.Credits
	resolved    bool // completed or failed
	charged     credit.Credits
	refunded    credit.Credits
	refunds     int
	create      *crashCall
}

// crashGrant is a grant as acknowledged.
type crashGrant struct {
	id, account string
	amount      credit.Credits
}

// crashHarness is the shared state of one run.
type crashHarness struct {
	t      *testing.T
	seed   uint64
	ctx    context.Context // cancelled when the test gives up
	base   atomic.Pointer[string]
	client *http.Client

	mu     sync.Mutex
	calls  []*crashCall
	gens   map[string]*crashGen
	grants map[string]crashGrant

	transport, unavailable atomic.Int64 // unanswered attempts, by cause
	answered               atomic.Int64 // attempts answered
}

// crashRun runs the crash test on one store.
func crashRun(t *testing.T, bin, dsn string) {
	seed := crashSeed(t)
	t.Logf("seed %d (replay with %s=%d)", seed, crashSeedEnv, seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x7a11))

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := &crashHarness{
		t: t, seed: seed, ctx: ctx,
		client: &http.Client{Timeout: 10 * time.Second},
		gens:   map[string]*crashGen{}, grants: map[string]crashGrant{},
	}
	defer h.client.CloseIdleConnections()
	n := startNode(t, bin, "tally serve", dsn)
	h.setBase(n.base)

	for a := range crashAccounts {
		acct := fmt.Sprintf("crash-%d", a)
		h.do(&crashCall{what: "account", account: acct, key: "setup-" + acct, path: "/v1/accounts",
			body: `{"id":"` + acct + `"}`, want: http.StatusCreated})
		c := h.do(&crashCall{what: "grant", account: acct, key: "setup-grant-" + acct, path: "/v1/accounts/" + acct + "/grants",
			body: fmt.Sprintf(`{"credits":%d,"source":"subscription"}`, crashStart), want: http.StatusCreated})
		if !h.grant(c, crashCredits(crashStart)) {
			t.FailNow()
		}
	}

	// The clients, until stop; on a failure of the test goroutine, cancel
	// ends them at once, and they are waited for either way.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	steps := make([]int, crashClients)
	for c := range crashClients {
		wg.Go(func() {
			for step := 0; ; step++ {
				select {
				case <-stop:
					return
				case <-ctx.Done():
					return
				default:
				}
				if !h.script(c, step) {
					return
				}
				steps[c]++
			}
		})
	}

	// The killer: 3 to 5 SIGKILLs, each after 300 to 900 ms of load, then as
	// much load again after the last restart.
	kills := 3 + rng.IntN(3)
	for k := range kills {
		h.underLoad()
		time.Sleep(time.Duration(300+rng.IntN(601)) * time.Millisecond)
		// Clients wait for the new address rather than send to a port that
		// another process may take meanwhile; requests in flight die with
		// the process.
		h.setBase("")
		n.kill9()
		if t.Failed() {
			return
		}
		n = startNode(t, bin, fmt.Sprintf("tally serve (restart %d)", k+1), dsn)
		h.setBase(n.base)
	}
	h.underLoad()
	time.Sleep(time.Duration(300+rng.IntN(601)) * time.Millisecond)
	close(stop)
	wg.Wait()
	if t.Failed() {
		return
	}

	// Count before the replays below add attempts of their own.
	h.mu.Lock()
	calls := append([]*crashCall(nil), h.calls...)
	h.mu.Unlock()
	attempts, retried := 0, 0
	for _, c := range calls {
		attempts += c.attempts
		if c.unanswered > 0 {
			retried++
		}
	}
	if retried == 0 {
		t.Errorf("%d kills and no request went unanswered: the kills missed the load", kills)
	}

	// Every request again, on the restarted server: the first answer,
	// byte for byte, and no second effect (checked in the journal below).
	var rwg sync.WaitGroup
	var alike atomic.Int64
	for c := range crashClients {
		rwg.Go(func() {
			for i := c; i < len(calls); i += crashClients {
				first := calls[i]
				again := *first
				again.attempts, again.unanswered = 0, 0
				if !h.send(&again) {
					return
				}
				if again.answer.status != first.answer.status || withoutRequestID(again.answer.body) != withoutRequestID(first.answer.body) {
					t.Errorf("%s (key %s) sent again = %d %s; want the first answer %d %s (seed %d)",
						first.what, first.key, again.answer.status, again.answer.body, first.answer.status, first.answer.body, seed)
					continue
				}
				alike.Add(1)
			}
		})
	}
	rwg.Wait()

	// Each balance, from the acknowledged answers.
	want := map[string]credit.Credits{}
	for _, g := range h.grants {
		want[g.account] += g.amount
	}
	for _, g := range h.gens {
		want[g.account] += g.refunded - g.charged
	}
	for a := range crashAccounts {
		acct := fmt.Sprintf("crash-%d", a)
		var got httpapi.Account
		n.want(http.StatusOK, &got, http.MethodGet, "/v1/accounts/"+acct, "")
		if got.AvailableCredits != want[acct] || got.HeldCredits != 0 {
			t.Errorf("%s: available %v, held %v; want %v (grants − charges + refunds, from the answers), 0 (seed %d)",
				acct, got.AvailableCredits, got.HeldCredits, want[acct], seed)
		}
	}
	n.stop()

	snap := crashSnapshot(t, dsn)
	h.checkJournal(snap)
	verifyDB(t, bin, dsn)

	lost := h.lostAnswers(calls, snap)
	t.Logf("crash recovery (%s, seed %d): %d kills; %d requests (%d steps of %d clients) in %d attempts: %d retries, "+
		"%d requests unanswered then retried (%d of them committed before the kill: the answer was lost), "+
		"%d transport failures, %d 5xx; %d journal entries; %d of the %d requests sent again answered alike",
		crashStoreKind(dsn), seed, kills, len(calls), crashSum(steps), crashClients, attempts, attempts-len(calls),
		retried, lost, h.transport.Load(), h.unavailable.Load(), len(snap.Entries), alike.Load(), len(calls))
}

// kill9 sends SIGKILL and waits for the process to be reaped.
func (n *node) kill9() {
	n.t.Helper()
	if err := n.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		n.t.Errorf("%s: SIGKILL: %v", n.name, err)
	}
	select {
	case err := <-n.done:
		n.done <- err // for the cleanup
	case <-time.After(20 * time.Second):
		n.t.Errorf("%s was not reaped within 20 s of SIGKILL", n.name)
	}
}

func (h *crashHarness) setBase(s string) { h.base.Store(&s) }

// underLoad waits until the server (just started) has answered a few
// requests, so that the time to the next kill is time under load, however
// long a restart takes on a busy machine.
func (h *crashHarness) underLoad() {
	from := h.answered.Load()
	for h.answered.Load() < from+crashClients && h.ctx.Err() == nil && !h.t.Failed() {
		time.Sleep(5 * time.Millisecond)
	}
}

// waitBase returns the server's address, waiting while it is restarting;
// "" if the test gave up.
func (h *crashHarness) waitBase() string {
	for {
		if b := *h.base.Load(); b != "" {
			return b
		}
		select {
		case <-h.ctx.Done():
			return ""
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// send sends c until it is answered (any status below 500), with the same
// key and body every time, and reports whether it was. Giving up after
// crashDeadline fails the test.
func (h *crashHarness) send(c *crashCall) bool {
	deadline := time.Now().Add(crashDeadline)
	backoff := 5 * time.Millisecond
	var last string
	for {
		base := h.waitBase()
		if base == "" {
			return false
		}
		c.attempts++
		sent := time.Now()
		r, err := h.post(base, c)
		switch {
		case err == nil && r.status < 500:
			h.answered.Add(1)
			c.sent, c.answer = sent, r
			return true
		case err != nil:
			h.transport.Add(1)
			last = err.Error()
		default:
			h.unavailable.Add(1)
			last = fmt.Sprintf("%d %s", r.status, r.body)
		}
		c.unanswered++
		if time.Now().After(deadline) {
			h.t.Errorf("%s (key %s): unanswered after %d attempts in %v; last: %s (seed %d)", c.what, c.key, c.attempts, crashDeadline, last, h.seed)
			return false
		}
		select {
		case <-h.ctx.Done():
			return false
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 200*time.Millisecond)
	}
}

// post sends one attempt of c; err is a failure to get a whole answer.
func (h *crashHarness) post(base string, c *crashCall) (reply, error) {
	var body io.Reader
	if c.body != "" {
		body = strings.NewReader(c.body)
	}
	req, err := http.NewRequestWithContext(h.ctx, http.MethodPost, base+c.path, body)
	if err != nil {
		return reply{}, err
	}
	if c.body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Authorization", "Bearer "+nodeAdminKey)
	req.Header.Set("Idempotency-Key", c.key)
	resp, err := h.client.Do(req)
	if err != nil {
		return reply{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return reply{}, err
	}
	return reply{status: resp.StatusCode, body: b}, nil
}

// do sends c until answered, records it, and returns it if it was answered
// with the status the script expects (nil otherwise, the test failed).
func (h *crashHarness) do(c *crashCall) *crashCall {
	if !h.send(c) {
		return nil
	}
	h.mu.Lock()
	h.calls = append(h.calls, c)
	h.mu.Unlock()
	if c.answer.status != c.want {
		h.t.Errorf("%s (key %s) = %d %s after %d attempts (%d unanswered); want %d (seed %d)",
			c.what, c.key, c.answer.status, c.answer.body, c.attempts, c.unanswered, c.want, h.seed)
		return nil
	}
	return c
}

// script runs step `step` of client c: a generation of 1 to 4 images that
// is then completed (every image, or one fewer), failed, or completed and
// refunded (in full, or one image's worth); every fourth step also tops the
// account up. Its keys are derived from (c, step) alone.
func (h *crashHarness) script(c, step int) bool {
	acct := fmt.Sprintf("crash-%d", c%crashAccounts)
	m := crashModels[(c+step)%len(crashModels)]
	images := 1 + (c+2*step)%4
	price := crashCredits(m.price)
	key := func(what string) string { return fmt.Sprintf("c%d-s%d-%s", c, step, what) }

	cc := h.do(&crashCall{what: "create", account: acct, key: key("create"), path: "/v1/generations",
		body: fmt.Sprintf(`{"account":%q,"model":%q,"images":%d}`, acct, m.id, images), want: http.StatusCreated})
	var g httpapi.Generation
	if cc == nil || !h.decode(cc, &g) {
		return false
	}
	if g.Account != acct || g.Status != credit.GenerationHeld || g.HoldCredits != price*credit.Credits(images) {
		h.t.Errorf("%s = %s; want held on %s for %d × %v", cc.key, cc.answer.body, acct, images, price)
		return false
	}
	gen := &crashGen{id: g.ID, account: acct, held: g.HoldCredits, create: cc}
	h.mu.Lock()
	if _, dup := h.gens[g.ID]; dup {
		h.t.Errorf("%s: generation %s was acknowledged to another request too", cc.key, g.ID)
	}
	h.gens[g.ID] = gen
	h.mu.Unlock()

	path := "/v1/generations/" + g.ID
	finish := func(what, body string, delivered int) bool {
		fc := h.do(&crashCall{what: what, account: acct, key: key(what), path: path + "/" + what, body: body, want: http.StatusOK})
		var got httpapi.Generation
		if fc == nil || !h.decode(fc, &got) {
			return false
		}
		status, charged := credit.GenerationCompleted, price*credit.Credits(delivered)
		if what == "fail" {
			status, charged = credit.GenerationFailed, 0
		}
		if got.ID != g.ID || got.Status != status || got.ChargedCredits != charged || got.ImagesDelivered != delivered {
			h.t.Errorf("%s = %s; want %s %s, %d delivered, charged %v", fc.key, fc.answer.body, g.ID, status, delivered, charged)
			return false
		}
		h.mu.Lock()
		gen.resolved, gen.charged = true, got.ChargedCredits
		h.mu.Unlock()
		return true
	}
	refund := func(body string, amount credit.Credits) bool {
		rc := h.do(&crashCall{what: "refund", account: acct, key: key("refund"), path: path + "/refund", body: body, want: http.StatusOK})
		var got httpapi.Generation
		if rc == nil || !h.decode(rc, &got) {
			return false
		}
		if got.ID != g.ID || got.RefundedCredits != amount {
			h.t.Errorf("%s = %s; want %s refunded %v", rc.key, rc.answer.body, g.ID, amount)
			return false
		}
		h.mu.Lock()
		gen.refunded, gen.refunds = got.RefundedCredits, gen.refunds+1
		h.mu.Unlock()
		return true
	}
	complete := func(delivered int) bool {
		return finish("complete", fmt.Sprintf(`{"images_delivered":%d}`, delivered), delivered)
	}

	ok := true
	switch (c + 3*step) % 5 {
	case 0:
		ok = complete(images)
	case 1:
		ok = complete(images - 1) // with one image, nothing delivered: a release
	case 2:
		ok = finish("fail", "", 0)
	case 3:
		ok = complete(images) && refund(`{}`, price*credit.Credits(images))
	case 4:
		ok = complete(images) && refund(fmt.Sprintf(`{"credits":%d}`, m.price), price)
	}
	if !ok || step%4 != 3 {
		return ok
	}
	amount := 10 + c
	gc := h.do(&crashCall{what: "grant", account: acct, key: key("grant"), path: "/v1/accounts/" + acct + "/grants",
		body: fmt.Sprintf(`{"credits":%d,"source":"topup"}`, amount), want: http.StatusCreated})
	return h.grant(gc, crashCredits(amount))
}

// grant records an acknowledged grant of amount (c nil: it failed).
func (h *crashHarness) grant(c *crashCall, amount credit.Credits) bool {
	var g httpapi.Grant
	if c == nil || !h.decode(c, &g) {
		return false
	}
	if g.Account != c.account || g.GrantedCredits != amount {
		h.t.Errorf("%s = %s; want a grant of %v to %s", c.key, c.answer.body, amount, c.account)
		return false
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, dup := h.grants[g.ID]; dup {
		h.t.Errorf("%s: grant %s was acknowledged to another request too", c.key, g.ID)
	}
	h.grants[g.ID] = crashGrant{id: g.ID, account: c.account, amount: amount}
	return true
}

func (h *crashHarness) decode(c *crashCall, v any) bool {
	if err := json.Unmarshal(c.answer.body, v); err != nil {
		h.t.Errorf("%s: %v: %s", c.key, err, c.answer.body)
		return false
	}
	return true
}

// crashSnapshot reads the whole store, the server stopped.
func crashSnapshot(t *testing.T, dsn string) *credit.Snapshot {
	t.Helper()
	ctx := context.Background()
	sf := storeFlags{db: dsn}
	store, err := sf.open(ctx)
	if err != nil {
		t.Fatalf("open %s: %v", sf.name(), err)
	}
	defer store.Close()
	var snap *credit.Snapshot
	if snap, err = credit.ReadSnapshot(ctx, store); err != nil {
		t.Fatalf("snapshot: %v", err)
	}
	return snap
}

// checkJournal requires the journal to hold every acknowledged effect
// exactly once, and nothing else: one grant entry per acknowledged grant,
// one hold per generation, one capture (or, nothing charged, one release)
// per completion or failure, one refund per refund, each for the amount
// answered; and the generations in the store to be those acknowledged.
func (h *crashHarness) checkJournal(snap *credit.Snapshot) {
	t := h.t
	type seen struct{ grant, hold, resolve, refund int }
	count := map[string]*seen{} // grant or generation id
	at := func(id string) *seen {
		if count[id] == nil {
			count[id] = &seen{}
		}
		return count[id]
	}
	for _, tr := range snap.Entries {
		bad := func(why string, args ...any) {
			t.Errorf("journal entry %d (%s %s on %s, charged %v): %s (seed %d)", tr.ID, tr.Kind, tr.Ref, tr.Account, tr.ChargedDelta, fmt.Sprintf(why, args...), h.seed)
		}
		switch tr.Kind {
		case credit.EntryGrant:
			at(tr.Ref).grant++
			g, ok := h.grants[tr.Ref]
			switch {
			case !ok:
				bad("a grant no request was answered with")
			case tr.Account != g.account || tr.AvailableDelta != g.amount:
				bad("want %v to %s", g.amount, g.account)
			}
		case credit.EntryHold:
			at(tr.Generation).hold++
			g, ok := h.gens[tr.Generation]
			switch {
			case !ok:
				bad("a hold for generation %q, which no request was answered with", tr.Generation)
			case tr.Account != g.account || tr.HeldDelta != g.held:
				bad("want %v held on %s", g.held, g.account)
			}
		case credit.EntryCapture, credit.EntryRelease:
			at(tr.Generation).resolve++
			g, ok := h.gens[tr.Generation]
			switch {
			case !ok || !g.resolved:
				bad("resolves generation %q, which no answered request completed or failed", tr.Generation)
			case tr.ChargedDelta != g.charged || (tr.Kind == credit.EntryCapture) != (g.charged > 0):
				bad("want a charge of %v", g.charged)
			}
		case credit.EntryRefund:
			at(tr.Generation).refund++
			g, ok := h.gens[tr.Generation]
			switch {
			case !ok || g.refunds == 0:
				bad("refunds generation %q, which no answered request refunded", tr.Generation)
			case tr.ChargedDelta != -g.refunded:
				bad("want a refund of %v", g.refunded)
			}
		default:
			bad("no request of the test makes a %s entry", tr.Kind)
		}
	}
	effects := 0
	for id := range h.grants {
		effects++
		if n := at(id).grant; n != 1 {
			t.Errorf("grant %s: %d journal entries; want exactly 1 (seed %d)", id, n, h.seed)
		}
	}
	for id, g := range h.gens {
		c := at(id)
		want := seen{hold: 1, refund: g.refunds}
		if g.resolved {
			want.resolve = 1
		}
		effects += want.hold + want.resolve + want.refund
		if *c != want {
			t.Errorf("generation %s (%s): %d hold, %d capture/release, %d refund entries; want %d, %d, %d (seed %d)",
				id, g.create.key, c.hold, c.resolve, c.refund, want.hold, want.resolve, want.refund, h.seed)
		}
	}
	if len(snap.Entries) != effects {
		t.Errorf("the journal has %d entries; the acknowledged requests made %d effects", len(snap.Entries), effects)
	}
	if len(snap.Accounts) != crashAccounts {
		t.Errorf("the store has %d accounts; want %d", len(snap.Accounts), crashAccounts)
	}
	if len(snap.Generations) != len(h.gens) {
		t.Errorf("the store has %d generations; the clients were answered with %d", len(snap.Generations), len(h.gens))
	}
	for _, sg := range snap.Generations {
		g, ok := h.gens[sg.ID]
		if !ok {
			t.Errorf("generation %s (%s, %s) in the store: no request was answered with it (seed %d)", sg.ID, sg.Account, sg.Status, h.seed)
			continue
		}
		if sg.Charged != g.charged || sg.Refunded != g.refunded {
			t.Errorf("generation %s (%s): charged %v, refunded %v; want %v, %v (seed %d)", sg.ID, g.create.key, sg.Charged, sg.Refunded, g.charged, g.refunded, h.seed)
		}
	}
}

// lostAnswers counts the requests that went unanswered although their
// effect had committed: the effect is older than the attempt that was
// answered (a replay). This is for the log only; no check depends on it.
func (h *crashHarness) lostAnswers(calls []*crashCall, snap *credit.Snapshot) int {
	refundAt := map[string]time.Time{}
	for _, tr := range snap.Entries {
		if tr.Kind == credit.EntryRefund {
			refundAt[tr.Generation] = tr.Time
		}
	}
	lost := 0
	for _, c := range calls {
		if c.unanswered == 0 {
			continue
		}
		var v struct {
			ID         string    `json:"id"`
			CreatedAt  time.Time `json:"created_at"`
			ResolvedAt time.Time `json:"resolved_at"`
		}
		_ = json.Unmarshal(c.answer.body, &v)
		var when time.Time
		switch c.what {
		case "account", "grant", "create":
			when = v.CreatedAt
		case "complete", "fail":
			when = v.ResolvedAt
		case "refund":
			when = refundAt[v.ID]
		}
		if !when.IsZero() && when.Before(c.sent) {
			lost++
		}
	}
	return lost
}

// crashCredits returns n whole credits.
func crashCredits(n int) credit.Credits { return credit.Credits(n) * cr("1") }

func crashStoreKind(dsn string) string {
	if strings.HasPrefix(dsn, "postgres") {
		return "postgres"
	}
	return "sqlite"
}

func crashSum(xs []int) int {
	s := 0
	for _, x := range xs {
		s += x
	}
	return s
}

var requestIDField = regexp.MustCompile(`,"request_id":"req_[0-9a-z]+"`)

// withoutRequestID is an answer without a problem's request_id, the one
// part of a refusal sent again that is new each time.
func withoutRequestID(body []byte) string { return requestIDField.ReplaceAllString(string(body), "") }
