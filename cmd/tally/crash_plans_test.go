package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/httpapi"
)

// crashPlansClients is the subscription crash test's load.
const crashPlansClients = 6

// TestCrashSubscriptions kills `tally serve` with SIGKILL while clients put
// new accounts on the free program, subscribe them to Basic, upgrade them to
// Pro and cancel (twice, as a double click does, with two keys), every
// request with an Idempotency-Key and retried until answered; then sends
// every request again. A subscription's allowances are granted exactly
// once per (subscription, allowance, month) across the kills and the
// retries: each account has one subscription, one grant of Basic's 1,000
// for its first month and one of the upgrade's 5,000 − 1,000 = 4,000
// (examples/plans.yaml), a journal entry for each and no other, and
// `tally verify` is clean.
func TestCrashSubscriptions(t *testing.T) {
	bin := buildTally(t)
	t.Run("sqlite", func(t *testing.T) {
		crashPlansRun(t, bin, filepath.Join(t.TempDir(), "tally.db"))
	})
	t.Run("postgres", func(t *testing.T) {
		crashPlansRun(t, bin, freshDatabase(t))
	})
}

func crashPlansRun(t *testing.T, bin, dsn string) {
	seed := crashSeed(t)
	t.Logf("seed %d (replay with %s=%d)", seed, crashSeedEnv, seed)
	rng := rand.New(rand.NewPCG(seed, seed^0x5b5))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	h := &crashHarness{t: t, seed: seed, ctx: ctx, client: &http.Client{Timeout: 10 * time.Second},
		gens: map[string]*crashGen{}, grants: map[string]crashGrant{}}
	defer h.client.CloseIdleConnections()
	plans := filepath.Join("..", "..", "examples", "plans.yaml")
	n := startNode(t, bin, "tally serve", dsn, "--catalog", plans)
	h.setBase(n.base)

	var mu sync.Mutex
	subs := map[string]string{} // account → its subscription, as answered
	script := func(c, step int) bool {
		acct := fmt.Sprintf("plan-%d-%d", c, step)
		key := func(what string) string { return fmt.Sprintf("p%d-s%d-%s", c, step, what) }
		if h.do(&crashCall{what: "account", account: acct, key: key("account"), path: "/v1/accounts",
			body: fmt.Sprintf(`{"id":%q,"plan":"free","time_zone":"Europe/Berlin"}`, acct), want: http.StatusCreated}) == nil {
			return false
		}
		sc := h.do(&crashCall{what: "subscribe", account: acct, key: key("subscribe"), path: "/v1/accounts/" + acct + "/subscriptions",
			body: `{"plan":"basic"}`, want: http.StatusCreated})
		var s httpapi.Subscription
		if sc == nil || !h.decode(sc, &s) {
			return false
		}
		mu.Lock()
		subs[acct] = s.ID
		mu.Unlock()
		if h.do(&crashCall{what: "change", account: acct, key: key("change"), path: "/v1/subscriptions/" + s.ID + "/change",
			body: `{"plan":"pro","at":"now"}`, want: http.StatusOK}) == nil {
			return false
		}
		for i := range 2 { // a double click: two keys, one effect
			if h.do(&crashCall{what: "cancel", account: acct, key: key(fmt.Sprint("cancel", i)), path: "/v1/subscriptions/" + s.ID + "/cancel",
				body: `{"at":"period_end"}`, want: http.StatusOK}) == nil {
				return false
			}
		}
		return true
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	defer func() {
		cancel()
		wg.Wait()
	}()
	for c := range crashPlansClients {
		wg.Go(func() {
			for step := 0; ; step++ {
				select {
				case <-stop:
					return
				case <-ctx.Done():
					return
				default:
				}
				if !script(c, step) {
					return
				}
			}
		})
	}
	kills := 2 + rng.IntN(2)
	for k := range kills {
		h.underLoad()
		time.Sleep(time.Duration(200+rng.IntN(401)) * time.Millisecond)
		h.setBase("")
		n.kill9()
		if t.Failed() {
			return
		}
		n = startNode(t, bin, fmt.Sprintf("tally serve (restart %d)", k+1), dsn, "--catalog", plans)
		h.setBase(n.base)
	}
	h.underLoad()
	close(stop)
	wg.Wait()
	if t.Failed() {
		return
	}

	// Every request again: its first answer, byte for byte.
	h.mu.Lock()
	calls := append([]*crashCall(nil), h.calls...)
	h.mu.Unlock()
	retried := 0
	for _, first := range calls {
		if first.unanswered > 0 {
			retried++
		}
		again := *first
		again.attempts, again.unanswered = 0, 0
		if !h.send(&again) {
			return
		}
		if again.answer.status != first.answer.status || withoutRequestID(again.answer.body) != withoutRequestID(first.answer.body) {
			t.Errorf("%s (key %s) sent again = %d %s; want the first answer %d %s (seed %d)",
				first.what, first.key, again.answer.status, again.answer.body, first.answer.status, first.answer.body, seed)
		}
	}
	if retried == 0 {
		t.Errorf("%d kills and no request went unanswered: the kills missed the load", kills)
	}
	n.stop()

	snap := crashSnapshot(t, dsn)
	type got struct {
		subs, first, upgrade, other, entries int
	}
	per := map[string]*got{}
	for acct := range subs {
		per[acct] = &got{}
	}
	for _, s := range snap.Subscriptions {
		if g := per[s.Account]; g != nil && s.ID == subs[s.Account] && s.Plan == "pro" && !s.EndsAt.IsZero() {
			g.subs++
		} else if g != nil {
			g.other++
		}
	}
	for _, gr := range snap.Grants {
		g := per[gr.Account]
		switch {
		case g == nil || gr.Source == credit.SourceOverdraft:
		case gr.Period == subs[gr.Account]+"/0/0" && gr.Granted == credit.Whole(1000):
			g.first++
		case gr.Period == subs[gr.Account]+"/0/0/upgrade-pro" && gr.Granted == credit.Whole(4000):
			g.upgrade++
		default:
			g.other++
		}
	}
	for _, e := range snap.Entries {
		if g := per[e.Account]; g != nil {
			g.entries++
		}
	}
	for acct, g := range per {
		if *g != (got{subs: 1, first: 1, upgrade: 1, entries: 2}) {
			t.Errorf("%s: %d subscriptions canceled at the period's end on Pro, %d first-month grants of 1,000, %d upgrade grants of 4,000, "+
				"%d other rows, %d journal entries; want 1, 1, 1, 0, 2 (seed %d)", acct, g.subs, g.first, g.upgrade, g.other, g.entries, seed)
		}
	}
	verifyDB(t, bin, dsn)
	t.Logf("subscription crash recovery (%s, seed %d): %d kills; %d accounts subscribed; %d requests, %d of them retried",
		crashStoreKind(dsn), seed, kills, len(subs), len(calls), retried)
}
