package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// flow is one ledger scenario, run on a fresh store. After it, Verify must be
// clean (newEnv checks).
type flow struct {
	name    string
	fn      func(t *testing.T, e *env)
	catalog func() *credit.Catalog // nil: the seed catalog
}

// flows are the ledger's scenarios: this file has accounts, grants, the
// consumption order, generations and holds; expiry.go expiry, refunds and the
// overdraft; history.go idempotency, history and keys; planflows.go plans;
// teamflows.go and teamperiods.go teams (runEvents: events, alerts, the feed
// and webhooks).
func flowList() []flow {
	return slices.Concat([]flow{
		{name: "CreateAccount", fn: flowCreateAccount},
		{name: "SeedHistory", fn: flowSeedHistory},
		{name: "AccountExists", fn: flowAccountExists},
		{name: "Grants", fn: flowGrants},
		{name: "BadGrants", fn: flowBadGrants},
		{name: "ConsumptionOrder", fn: flowConsumptionOrder},
		{name: "GenerationComplete", fn: flowGenerationComplete},
		{name: "GenerationSurcharge", fn: flowGenerationSurcharge, catalog: enhancerCatalog},
		{name: "GenerationFail", fn: flowGenerationFail},
		{name: "ErrInsufficientCredits", fn: flowInsufficientCredits},
		{name: "InvalidImageCount", fn: flowInvalidImageCount},
		{name: "AlreadyResolved", fn: flowAlreadyResolved},
		{name: "GenericHolds", fn: flowGenericHolds},
		{name: "BadHolds", fn: flowBadHolds},
		{name: "Audit", fn: flowAudit},
		{name: "BadIDsAreUnknown", fn: flowBadIDsAreUnknown},
	}, expiryFlows(), historyFlows(), planFlows(), teamFlows())
}

func runFlows(t *testing.T, open func(t *testing.T) credit.Store) {
	runFlowList(t, open, flowList())
}

// runEvents runs the flows of events, alerts and the feed
// (eventflows.go, feedflows.go) and those of the webhook store
// (webhookflows.go); with races only, only those whose writes race (the
// others make one write at a time, which batches alike however large a
// batch may be, and no batching changes the webhook store).
func runEvents(t *testing.T, open func(t *testing.T) credit.Store, racesOnly bool) {
	list := slices.Concat(eventFlows(), feedFlows(), webhookFlows())
	if racesOnly {
		list = slices.DeleteFunc(list, func(f flow) bool { return !strings.Contains(f.name, "Race") && !strings.Contains(f.name, "Concurrent") })
	}
	runFlowList(t, open, list)
}

func runFlowList(t *testing.T, open func(t *testing.T) credit.Store, list []flow) {
	for _, f := range list {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			cat := seedCatalog()
			if f.catalog != nil {
				cat = f.catalog()
			}
			f.fn(t, newEnvCatalog(t, open, cat))
		})
	}
}

func flowCreateAccount(t *testing.T, e *env) {
	a, err := e.ledger.CreateAccount(e.ctx, nil, "user_1", credit.Whole(10))
	if err != nil {
		t.Fatalf("CreateAccount = %v", err)
	}
	if a.ID != "user_1" || a.Overdraft != credit.Whole(10) || a.Available != 0 || a.Held != 0 || !a.CreatedAt.Equal(t0) {
		t.Errorf("CreateAccount = %+v; want user_1, overdraft 10, 0 available, 0 held, created %v", a, t0)
	}
	v := e.view("user_1")
	if v.Available != 0 || v.Held != 0 || v.OverdraftUsed != 0 || len(v.Grants) != 0 || len(v.OpenHolds) != 0 {
		t.Errorf("Account(user_1) = %+v; want an empty wallet", v)
	}
	if v.Overdraft != credit.Whole(10) {
		t.Errorf("Account(user_1).Overdraft = %s; want 10", v.Overdraft)
	}
	_, err = e.ledger.Account(e.ctx, "nobody")
	wantErr(t, "Account(nobody)", err, credit.NotFound, "unknown_account")

	e.unchanged("bad accounts", func() {
		for _, tc := range []struct {
			id        string
			overdraft credit.Credits
			reason    string
		}{
			{"", 0, "invalid_account_id"},
			{"has space", 0, "invalid_account_id"},
			{"tab\tin", 0, "invalid_account_id"},
			// Bytes no id holds: refused alike by both stores, before either sees them.
			{"a\x00b", 0, "invalid_account_id"},
			{"\xff", 0, "invalid_account_id"},
			{"\xc3\x28", 0, "invalid_account_id"},
			// Invisible, control and bidi characters: "user_1" and a look-alike never coexist.
			{"user_1\u0085", 0, "invalid_account_id"},
			{"user_1\u009b", 0, "invalid_account_id"},
			{"user\u00a01", 0, "invalid_account_id"},
			{"user_1\u200b", 0, "invalid_account_id"},
			{"user_1\u2028", 0, "invalid_account_id"},
			{"\u202euser_1", 0, "invalid_account_id"},
			{"\ufeffuser_1", 0, "invalid_account_id"},
			{"user\u30001", 0, "invalid_account_id"},
			{"\ue000", 0, "invalid_account_id"}, // private use
			// A URL path cannot name them: no normalising client reaches them.
			{".", 0, "invalid_account_id"},
			{"..", 0, "invalid_account_id"},
			{strings.Repeat("é", 129), 0, "invalid_account_id"}, // 129 characters
			{credit.PlatformAccount, 0, "reserved_account_id"},  // the platform's books
			{"ok", -1, "invalid_amount"},
			{"ok", credit.MaxCredits + 1, "invalid_amount"},
		} {
			_, err := e.ledger.CreateAccount(e.ctx, nil, tc.id, tc.overdraft)
			wantErr(t, fmt.Sprintf("CreateAccount(%+q)", tc.id), err, credit.Invalid, tc.reason)
		}
	})
	// The limit counts characters: 128 two-byte letters are an id, and so
	// are ids that are not ASCII.
	for _, id := range []string{strings.Repeat("é", 128), "ünïcødé-用户-✓"} {
		if _, err := e.ledger.CreateAccount(e.ctx, nil, id, 0); err != nil {
			t.Errorf("CreateAccount(%q) = %v; want it opened", id, err)
		} else if v := e.view(id); v.ID != id {
			t.Errorf("Account(%q).ID = %q", id, v.ID)
		}
	}
}

func flowAccountExists(t *testing.T, e *env) {
	e.account("user_1", 0)
	e.topup("user_1", 7)
	e.unchanged("a second CreateAccount", func() {
		_, err := e.ledger.CreateAccount(e.ctx, nil, "user_1", credit.Whole(5))
		wantErr(t, "CreateAccount(user_1) again", err, credit.Conflict, "account_exists")
	})
	e.balances("user_1", credit.Whole(7), 0)
}

func flowGrants(t *testing.T, e *env) {
	e.account("a", 0)
	// One grant of each source, a second apart, so "oldest" orders them.
	sub := e.grant("a", credit.GrantSpec{Credits: credit.Whole(100), Source: credit.SourceSubscription, ExpiresAt: t0.Add(30 * 24 * time.Hour), Memo: "November plan"})
	e.clock.Add(time.Second)
	top := e.grant("a", credit.GrantSpec{Credits: credit.Whole(50), Source: credit.SourceTopup})
	e.clock.Add(time.Second)
	promo := e.grant("a", credit.GrantSpec{Credits: credit.Whole(20), Source: credit.SourcePromo, ExpiresAt: t0.Add(7 * 24 * time.Hour), Priority: 5})
	e.clock.Add(time.Second)
	ref := e.grant("a", credit.GrantSpec{Credits: credit.Whole(3), Source: credit.SourceRefund})
	e.clock.Add(time.Second)
	adj := e.grant("a", credit.GrantSpec{Credits: cr("1.5"), Source: credit.SourceAdjustment})

	if sub.Source != credit.SourceSubscription || sub.Granted != credit.Whole(100) || sub.Remaining != credit.Whole(100) || sub.Held != 0 ||
		!sub.ExpiresAt.Equal(t0.Add(30*24*time.Hour)) || !sub.CreatedAt.Equal(t0) || sub.Account != "a" || sub.Memo != "November plan" || !sub.ExpiredAt.IsZero() {
		t.Errorf("AddGrant(subscription 100) = %+v", sub)
	}
	if promo.Priority != 5 || !top.ExpiresAt.IsZero() {
		t.Errorf("AddGrant priority %d, topup expiry %v; want 5 and never", promo.Priority, top.ExpiresAt)
	}
	// 100 + 50 + 20 + 3 + 1.5 = 174.5
	e.balances("a", cr("174.5"), 0)

	// The view lists the real grants in consumption order: priority 0 first —
	// the subscription (it expires), then the never-expiring ones oldest first —
	// then the promo (priority 5).
	v := e.view("a")
	var got []string
	for _, g := range v.Grants {
		got = append(got, g.ID)
	}
	want := []string{sub.ID, top.ID, ref.ID, adj.ID, promo.ID}
	if !slices.Equal(got, want) {
		t.Errorf("Account(a).Grants = %v; want %v (subscription, topup, refund, adjustment, promo)", got, want)
	}

	// Each grant is one transaction: the platform's issued book pays the grant.
	j := e.journal("a")
	if len(j) != 5 {
		t.Fatalf("journal of a has %d transactions; want 5", len(j))
	}
	last := j[4]
	if last.Kind != credit.EntryGrant || last.Ref != adj.ID || last.AvailableDelta != cr("1.5") || last.AvailableAfter != cr("174.5") || !last.Time.Equal(t0.Add(4*time.Second)) {
		t.Errorf("grant transaction = %+v; want grant of 1.5 on %s, 174.5 after, at t0+4s", last, adj.ID)
	}
	wantPostings(t, last, []credit.Posting{
		{Account: credit.PlatformAccount, Book: credit.BookIssued, Amount: cr("-1.5")},
		{Account: "a", Book: credit.BookAvailable, Grant: adj.ID, Amount: cr("1.5")},
	})
	if got := platformBook(e.snapshot(), credit.BookIssued); got != cr("-174.5") {
		t.Errorf("platform issued = %s; want -174.5", got)
	}
}

func flowBadGrants(t *testing.T, e *env) {
	e.account("a", 0)
	e.topup("a", 10)
	e.unchanged("refused grants", func() {
		for _, tc := range []struct {
			name   string
			spec   credit.GrantSpec
			code   string
			reason string
		}{
			{"unknown source", credit.GrantSpec{Credits: credit.Whole(5), Source: "gift"}, credit.Invalid, "unknown_source"},
			{"overdraft source", credit.GrantSpec{Credits: credit.Whole(5), Source: credit.SourceOverdraft}, credit.Invalid, "unknown_source"},
			{"no source", credit.GrantSpec{Credits: credit.Whole(5)}, credit.Invalid, "unknown_source"},
			{"zero", credit.GrantSpec{Credits: 0, Source: credit.SourceTopup}, credit.Invalid, "invalid_amount"},
			{"negative", credit.GrantSpec{Credits: credit.Whole(-5), Source: credit.SourceTopup}, credit.Invalid, "invalid_amount"},
			{"too much", credit.GrantSpec{Credits: credit.MaxCredits + 1, Source: credit.SourceTopup}, credit.Invalid, "invalid_amount"},
			{"expiry in the past", credit.GrantSpec{Credits: credit.Whole(5), Source: credit.SourcePromo, ExpiresAt: t0.Add(-time.Hour)}, credit.Invalid, "invalid_expiry"},
			{"expiry now", credit.GrantSpec{Credits: credit.Whole(5), Source: credit.SourcePromo, ExpiresAt: t0}, credit.Invalid, "invalid_expiry"},
			{"negative priority", credit.GrantSpec{Credits: credit.Whole(5), Source: credit.SourceTopup, Priority: -1}, credit.Invalid, "invalid_priority"},
			{"priority too high", credit.GrantSpec{Credits: credit.Whole(5), Source: credit.SourceTopup, Priority: credit.MaxPriority + 1}, credit.Invalid, "invalid_priority"},
		} {
			_, err := e.ledger.AddGrant(e.ctx, nil, "a", tc.spec)
			wantErr(t, "AddGrant("+tc.name+")", err, tc.code, tc.reason)
			if tc.reason == "unknown_source" {
				if ce := asError(err); ce == nil || !slices.Equal(ce.Allowed, []string{"subscription", "topup", "promo", "refund", "adjustment", "free", "rollover"}) {
					t.Errorf("AddGrant(%s) allowed = %v; want the seven sources", tc.name, ce)
				}
			}
		}
		_, err := e.ledger.AddGrant(e.ctx, nil, "nobody", credit.GrantSpec{Credits: credit.Whole(5), Source: credit.SourceTopup})
		wantErr(t, "AddGrant(unknown account)", err, credit.NotFound, "unknown_account")
	})
	e.balances("a", credit.Whole(10), 0)
}

// flowConsumptionOrder shows the order by the grants a hold allocates from:
// priority (lower first), then earliest expiry (never-expiring last), then
// oldest, then id; the overdraft last of all.
func flowConsumptionOrder(t *testing.T, e *env) {
	e.account("a", credit.Whole(5))
	ten := credit.Whole(10)
	gA := e.grant("a", credit.GrantSpec{Credits: ten, Priority: 1}) // t0, priority 1: after every priority-0 grant
	e.clock.Add(time.Second)
	gB := e.grant("a", credit.GrantSpec{Credits: ten, Source: credit.SourcePromo, ExpiresAt: t0.Add(48 * time.Hour)}) // t0+1s
	e.clock.Add(time.Second)
	gC := e.grant("a", credit.GrantSpec{Credits: ten, Source: credit.SourcePromo, ExpiresAt: t0.Add(24 * time.Hour)}) // t0+2s, expires first
	e.clock.Add(time.Second)
	gD := e.grant("a", credit.GrantSpec{Credits: ten}) // t0+3s, never expires, older
	e.clock.Add(time.Second)
	gE := e.grant("a", credit.GrantSpec{Credits: ten}) // t0+4s, never expires, newer
	e.clock.Add(time.Second)
	// Two grants alike in everything but their ids: the smaller id first.
	gF := e.grant("a", credit.GrantSpec{Credits: ten, Source: credit.SourceSubscription, ExpiresAt: t0.Add(72 * time.Hour)})
	gG := e.grant("a", credit.GrantSpec{Credits: ten, Source: credit.SourceSubscription, ExpiresAt: t0.Add(72 * time.Hour)})
	labels := map[string]string{gA.ID: "A", gB.ID: "B", gC.ID: "C", gD.ID: "D", gE.ID: "E", gF.ID: "F", gG.ID: "G"}
	first, second := "F", "G"
	if gG.ID < gF.ID {
		first, second = "G", "F"
	}
	// Priority 0: C (24h), B (48h), F and G (72h, by id), D then E (never,
	// oldest first); then A (priority 1). 65 = six grants of 10, and 5 of A.
	h := e.hold("a", credit.Whole(65), 0)
	want := "C:10 B:10 " + first + ":10 " + second + ":10 D:10 E:10 A:5"
	if got := allocs(h, labels); got != want {
		t.Errorf("hold of 65 allocates %s; want %s", got, want)
	}
	// A has 5 left; a hold of 8 takes those, then 3 of the overdraft.
	ovd := findGrant(t, e.snapshot(), "a", credit.SourceOverdraft)
	labels[ovd.ID] = "overdraft"
	h2 := e.hold("a", credit.Whole(8), 0)
	if got := allocs(h2, labels); got != "A:5 overdraft:3" {
		t.Errorf("hold of 8 allocates %s; want A:5 overdraft:3", got)
	}
	// 70 granted − 73 held = −3: within the overdraft of 5.
	e.balances("a", credit.Whole(-3), credit.Whole(73))
	e.wantGrant("A", gA.ID, 0, ten)
	e.wantGrant("overdraft", ovd.ID, credit.Whole(-3), credit.Whole(3))
	// The same order holds in the stored hold and in the open holds of the view.
	if v := e.view("a"); len(v.OpenHolds) != 2 || v.OverdraftUsed != credit.Whole(3) {
		t.Errorf("Account(a) open holds %d, overdraft used %s; want 2, 3", len(v.OpenHolds), v.OverdraftUsed)
	}
	if stored, err := e.ledger.Hold(e.ctx, h.ID); err != nil || allocs(stored, labels) != want {
		t.Errorf("Hold(%s) = %s, %v; want %s", h.ID, allocs(stored, labels), err, want)
	}
}

// findGrant returns an account's only grant of a source.
func findGrant(t testing.TB, s *credit.Snapshot, account string, src credit.Source) credit.Grant {
	t.Helper()
	var found []credit.Grant
	for _, g := range s.Grants {
		if g.Account == account && g.Source == src {
			found = append(found, g)
		}
	}
	if len(found) != 1 {
		t.Fatalf("account %s has %d grants of source %s; want 1", account, len(found), src)
	}
	return found[0]
}

// wantPostings checks a transaction's postings, in any order.
func wantPostings(t testing.TB, tr credit.Entry, want []credit.Posting) {
	t.Helper()
	got := slices.Clone(tr.Postings)
	cmp := func(a, b credit.Posting) int {
		if a.Account != b.Account {
			return cmpStr(a.Account, b.Account)
		}
		if a.Book != b.Book {
			return cmpStr(a.Book, b.Book)
		}
		return cmpStr(a.Grant, b.Grant)
	}
	want = slices.Clone(want)
	slices.SortFunc(got, cmp)
	slices.SortFunc(want, cmp)
	if !slices.Equal(got, want) {
		t.Errorf("transaction %d (%s) postings = %+v; want %+v", tr.ID, tr.Kind, got, want)
	}
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func flowGenerationComplete(t *testing.T, e *env) {
	e.account("a", 0)
	e.topup("a", 500)
	// Nano Banana 2 at 2K, 3 images: 3 × 73.5 = 220.5.
	g := e.generation("a", images(banana2K, 3))
	if g.Status != credit.GenerationHeld || g.HoldCredits != cr("220.5") || g.UnitCredits != cr("73.5") || g.Surcharge != 0 ||
		g.Images != 3 || g.Model != "nano-banana-2" || g.Kind != credit.KindImage || g.CatalogVersion != "2026-11-24.seed" ||
		!g.ExpiresAt.Equal(t0.Add(15*time.Minute)) || g.Hold == "" || g.Account != "a" || len(g.Quote) == 0 {
		t.Errorf("CreateGeneration = %+v; want held 220.5 (3 × 73.5), nano-banana-2, image, 2026-11-24.seed, expiring t0+15m", g)
	}
	// 500 − 220.5 = 279.5 available.
	e.balances("a", cr("279.5"), cr("220.5"))

	e.clock.Add(time.Minute)
	// 2 of the 3 images delivered: 2 × 73.5 = 147 charged, 73.5 returned.
	done := e.complete(g.ID, 2)
	if done.Status != credit.GenerationCompleted || done.Charged != credit.Whole(147) || done.ImagesDelivered != 2 || !done.ResolvedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("CompleteGeneration(2 of 3) = status %s, charged %s, delivered %d, resolved %v; want completed, 147, 2, t0+1m",
			done.Status, done.Charged, done.ImagesDelivered, done.ResolvedAt)
	}
	// 500 − 147 = 353.
	e.balances("a", credit.Whole(353), 0)
	h, err := e.ledger.Hold(e.ctx, g.Hold)
	if err != nil || h.Status != credit.HoldCaptured || h.Captured != credit.Whole(147) || h.Released != cr("73.5") {
		t.Errorf("Hold(%s) = %+v, %v; want captured 147, released 73.5", g.Hold, h, err)
	}
	got, err := e.ledger.Generation(e.ctx, g.ID)
	if err != nil || got.Status != credit.GenerationCompleted || got.Charged != credit.Whole(147) || got.ImagesDelivered != 2 {
		t.Errorf("Generation(%s) = %+v, %v; want completed, 147 charged, 2 delivered", g.ID, got, err)
	}
	s := e.snapshot()
	if r := platformBook(s, credit.BookRevenue); r != credit.Whole(147) {
		t.Errorf("platform revenue = %s; want 147", r)
	}
	j := e.journal("a")
	last := j[len(j)-1]
	if last.Kind != credit.EntryCapture || last.ChargedDelta != credit.Whole(147) || last.Model != "nano-banana-2" ||
		last.ModelKind != credit.KindImage || last.CatalogVersion != "2026-11-24.seed" || last.Generation != g.ID ||
		last.AvailableDelta != cr("73.5") || last.HeldDelta != cr("-220.5") || last.AvailableAfter != credit.Whole(353) || last.HeldAfter != 0 {
		t.Errorf("capture transaction = %+v; want capture of 147 (nano-banana-2, 2026-11-24.seed), +73.5 available, −220.5 held", last)
	}
}

func flowGenerationSurcharge(t *testing.T, e *env) {
	e.account("a", 0)
	e.topup("a", 100)
	enh := images(fluxDev, 4)
	enh.PromptEnhancer = true
	// Flux Dev, 4 images, prompt enhancer 2: 4 × 5 + 2 = 22.
	g := e.generation("a", enh)
	if g.HoldCredits != credit.Whole(22) || g.UnitCredits != credit.Whole(5) || g.Surcharge != credit.Whole(2) {
		t.Errorf("CreateGeneration(flux dev ×4 + enhancer) hold %s, unit %s, surcharge %s; want 22, 5, 2", g.HoldCredits, g.UnitCredits, g.Surcharge)
	}
	// 3 delivered: 3 × 5 + 2 = 17.
	if done := e.complete(g.ID, 3); done.Charged != credit.Whole(17) {
		t.Errorf("CompleteGeneration(3 of 4) charged %s; want 17 (3 × 5 + 2)", done.Charged)
	}
	e.balances("a", credit.Whole(83), 0) // 100 − 17
	// None delivered: nothing charged, not even the surcharge.
	enh.Images = 2
	g2 := e.generation("a", enh) // 2 × 5 + 2 = 12
	e.balances("a", credit.Whole(71), credit.Whole(12))
	if done := e.complete(g2.ID, 0); done.Charged != 0 || done.Status != credit.GenerationCompleted {
		t.Errorf("CompleteGeneration(0 of 2) = %s charged %s; want completed, 0", done.Status, done.Charged)
	}
	e.balances("a", credit.Whole(83), 0)
}

func flowGenerationFail(t *testing.T, e *env) {
	e.account("a", 0)
	e.topup("a", 20)
	g := e.generation("a", images(fluxDev, 4)) // 4 × 5 = 20
	e.balances("a", 0, credit.Whole(20))
	f, err := e.ledger.FailGeneration(e.ctx, nil, g.ID)
	if err != nil || f.Status != credit.GenerationFailed || f.Charged != 0 {
		t.Fatalf("FailGeneration = %+v, %v; want failed, 0 charged", f, err)
	}
	e.balances("a", credit.Whole(20), 0)
	h, err := e.ledger.Hold(e.ctx, g.Hold)
	if err != nil || h.Status != credit.HoldReleased || h.Released != credit.Whole(20) || h.Captured != 0 {
		t.Errorf("Hold after fail = %+v, %v; want released 20", h, err)
	}
	j := e.journal("a")
	if last := j[len(j)-1]; last.Kind != credit.EntryRelease || last.ChargedDelta != 0 || last.AvailableDelta != credit.Whole(20) {
		t.Errorf("fail transaction = %+v; want a release of 20", last)
	}
	if r := platformBook(e.snapshot(), credit.BookRevenue); r != 0 {
		t.Errorf("platform revenue = %s; want 0", r)
	}
}

func flowInsufficientCredits(t *testing.T, e *env) {
	e.account("a", 0)
	e.topup("a", 3)
	e.unchanged("refused generation", func() {
		_, err := e.ledger.CreateGeneration(e.ctx, nil, credit.GenerationSpec{Account: "a", Request: fluxDev})
		wantErr(t, "CreateGeneration(5 of 3)", err, credit.InsufficientCredits, "insufficient_credits")
		if ce := asError(err); ce == nil || ce.Available != credit.Whole(3) || ce.Required != credit.Whole(5) {
			t.Errorf("insufficient error = %+v; want available 3, required 5", ce)
		}
		_, err = e.ledger.CreateHold(e.ctx, nil, "a", credit.HoldSpec{Credits: cr("3.001")})
		wantErr(t, "CreateHold(3.001 of 3)", err, credit.InsufficientCredits, "")
		_, err = e.ledger.CreateGeneration(e.ctx, nil, credit.GenerationSpec{Account: "nobody", Request: fluxDev})
		wantErr(t, "CreateGeneration(unknown account)", err, credit.NotFound, "unknown_account")
		_, err = e.ledger.CreateHold(e.ctx, nil, "nobody", credit.HoldSpec{Credits: credit.Whole(1)})
		wantErr(t, "CreateHold(unknown account)", err, credit.NotFound, "unknown_account")
		_, err = e.ledger.CreateGeneration(e.ctx, nil, credit.GenerationSpec{Account: "a", Request: credit.QuoteRequest{Model: "no-such-model"}})
		wantErr(t, "CreateGeneration(unknown model)", err, credit.Invalid, "unknown_model")
	})
	// Exactly the balance is enough.
	h := e.hold("a", credit.Whole(3), 0)
	e.balances("a", 0, credit.Whole(3))
	if h.Amount != credit.Whole(3) {
		t.Errorf("CreateHold(3) amount = %s", h.Amount)
	}
}

func flowInvalidImageCount(t *testing.T, e *env) {
	e.account("a", 0)
	e.topup("a", 50)
	g := e.generation("a", images(fluxDev, 4))
	e.unchanged("refused completes", func() {
		for _, n := range []int{5, -1} {
			_, err := e.ledger.CompleteGeneration(e.ctx, nil, g.ID, n)
			wantErr(t, "CompleteGeneration(n of 4)", err, credit.Invalid, "invalid_image_count")
		}
		_, err := e.ledger.CompleteGeneration(e.ctx, nil, "gen_nope", 1)
		wantErr(t, "CompleteGeneration(unknown)", err, credit.NotFound, "unknown_generation")
		_, err = e.ledger.FailGeneration(e.ctx, nil, "gen_nope")
		wantErr(t, "FailGeneration(unknown)", err, credit.NotFound, "unknown_generation")
		_, err = e.ledger.Generation(e.ctx, "gen_nope")
		wantErr(t, "Generation(unknown)", err, credit.NotFound, "unknown_generation")
	})
	e.complete(g.ID, 4)
	e.balances("a", credit.Whole(30), 0) // 50 − 4 × 5
}

func flowAlreadyResolved(t *testing.T, e *env) {
	e.account("a", 0)
	e.topup("a", 50)
	done := e.generation("a", images(fluxDev, 2))
	e.complete(done.ID, 2)
	failed := e.generation("a", images(fluxDev, 2))
	if _, err := e.ledger.FailGeneration(e.ctx, nil, failed.ID); err != nil {
		t.Fatalf("FailGeneration = %v", err)
	}
	e.unchanged("resolving twice", func() {
		_, err := e.ledger.CompleteGeneration(e.ctx, nil, done.ID, 2)
		wantErr(t, "complete after complete", err, credit.Conflict, "already_resolved")
		_, err = e.ledger.FailGeneration(e.ctx, nil, done.ID)
		wantErr(t, "fail after complete", err, credit.Conflict, "already_resolved")
		_, err = e.ledger.CompleteGeneration(e.ctx, nil, failed.ID, 1)
		wantErr(t, "complete after fail", err, credit.Conflict, "already_resolved")
		_, err = e.ledger.FailGeneration(e.ctx, nil, failed.ID)
		wantErr(t, "fail after fail", err, credit.Conflict, "already_resolved")
	})
	e.balances("a", credit.Whole(40), 0) // 50 − 2 × 5
}

func flowGenericHolds(t *testing.T, e *env) {
	e.account("a", 0)
	e.topup("a", 100)

	all := e.hold("a", credit.Whole(30), 0)
	if all.Status != credit.HoldOpen || all.Amount != credit.Whole(30) || !all.ExpiresAt.Equal(t0.Add(credit.DefaultHoldTTL)) || all.Generation != "" {
		t.Errorf("CreateHold(30) = %+v; want open, 30, expiring t0+15m", all)
	}
	e.balances("a", credit.Whole(70), credit.Whole(30))
	got, err := e.ledger.CaptureHold(e.ctx, nil, all.ID, nil)
	if err != nil || got.Status != credit.HoldCaptured || got.Captured != credit.Whole(30) || got.Released != 0 {
		t.Errorf("CaptureHold(all) = %+v, %v; want captured 30", got, err)
	}
	e.balances("a", credit.Whole(70), 0)

	part := e.hold("a", credit.Whole(40), 0)
	fifteen := credit.Whole(15)
	got, err = e.ledger.CaptureHold(e.ctx, nil, part.ID, &fifteen)
	if err != nil || got.Status != credit.HoldCaptured || got.Captured != fifteen || got.Released != credit.Whole(25) {
		t.Errorf("CaptureHold(15 of 40) = %+v, %v; want captured 15, released 25", got, err)
	}
	e.balances("a", credit.Whole(55), 0) // 70 − 15

	rel := e.hold("a", credit.Whole(20), 0)
	got, err = e.ledger.ReleaseHold(e.ctx, nil, rel.ID)
	if err != nil || got.Status != credit.HoldReleased || got.Released != credit.Whole(20) || got.Captured != 0 {
		t.Errorf("ReleaseHold = %+v, %v; want released 20", got, err)
	}
	e.balances("a", credit.Whole(55), 0)

	ten := e.hold("a", credit.Whole(10), 0)
	e.unchanged("refused captures", func() {
		over := cr("10.001")
		_, err := e.ledger.CaptureHold(e.ctx, nil, ten.ID, &over)
		wantErr(t, "CaptureHold(10.001 of 10)", err, credit.Invalid, "over_capture")
		neg := credit.Whole(-1)
		_, err = e.ledger.CaptureHold(e.ctx, nil, ten.ID, &neg)
		wantErr(t, "CaptureHold(-1)", err, credit.Invalid, "invalid_amount")
		_, err = e.ledger.CaptureHold(e.ctx, nil, all.ID, nil)
		wantErr(t, "capture after capture", err, credit.Conflict, "already_resolved")
		_, err = e.ledger.ReleaseHold(e.ctx, nil, part.ID)
		wantErr(t, "release after capture", err, credit.Conflict, "already_resolved")
		_, err = e.ledger.CaptureHold(e.ctx, nil, rel.ID, nil)
		wantErr(t, "capture after release", err, credit.Conflict, "already_resolved")
		_, err = e.ledger.CaptureHold(e.ctx, nil, "hld_nope", nil)
		wantErr(t, "CaptureHold(unknown)", err, credit.NotFound, "unknown_hold")
		_, err = e.ledger.Hold(e.ctx, "hld_nope")
		wantErr(t, "Hold(unknown)", err, credit.NotFound, "unknown_hold")
	})
	tenC := credit.Whole(10)
	if _, err := e.ledger.CaptureHold(e.ctx, nil, ten.ID, &tenC); err != nil {
		t.Errorf("CaptureHold(10 of 10) = %v", err)
	}
	e.balances("a", credit.Whole(45), 0)

	// A generation's hold is resolved through the generation.
	g := e.generation("a", fluxDev)
	e.unchanged("capturing a generation's hold", func() {
		_, err := e.ledger.CaptureHold(e.ctx, nil, g.Hold, nil)
		wantErr(t, "CaptureHold(generation hold)", err, credit.Conflict, "generation_hold")
		_, err = e.ledger.ReleaseHold(e.ctx, nil, g.Hold)
		wantErr(t, "ReleaseHold(generation hold)", err, credit.Conflict, "generation_hold")
	})
	// 30 + 15 + 10 charged.
	if r := platformBook(e.snapshot(), credit.BookRevenue); r != credit.Whole(55) {
		t.Errorf("platform revenue = %s; want 55", r)
	}
}

func flowBadHolds(t *testing.T, e *env) {
	e.account("a", 0)
	e.topup("a", 100)
	e.unchanged("refused holds", func() {
		for _, tc := range []struct {
			name   string
			spec   credit.HoldSpec
			reason string
		}{
			{"zero", credit.HoldSpec{Credits: 0}, "invalid_amount"},
			{"negative", credit.HoldSpec{Credits: credit.Whole(-1)}, "invalid_amount"},
			{"ttl under a second", credit.HoldSpec{Credits: credit.Whole(1), TTL: 500 * time.Millisecond}, "invalid_ttl"},
			{"ttl over a day", credit.HoldSpec{Credits: credit.Whole(1), TTL: 25 * time.Hour}, "invalid_ttl"},
		} {
			_, err := e.ledger.CreateHold(e.ctx, nil, "a", tc.spec)
			wantErr(t, "CreateHold("+tc.name+")", err, credit.Invalid, tc.reason)
		}
		_, err := e.ledger.CreateGeneration(e.ctx, nil, credit.GenerationSpec{Account: "a", Request: fluxDev, TTL: 25 * time.Hour})
		wantErr(t, "CreateGeneration(ttl over a day)", err, credit.Invalid, "invalid_ttl")
		_, err = e.ledger.CreateGeneration(e.ctx, nil, credit.GenerationSpec{Account: "a", Request: images(fluxDev, 5)})
		wantErr(t, "CreateGeneration(5 images)", err, credit.Invalid, "invalid_image_count")
	})
	// A TTL of its own: a hold of a minute is gone after a minute.
	h := e.hold("a", credit.Whole(7), time.Minute)
	if !h.ExpiresAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("CreateHold(ttl 1m) expires %v; want t0+1m", h.ExpiresAt)
	}
	e.clock.Add(time.Minute)
	_, err := e.ledger.CaptureHold(e.ctx, nil, h.ID, nil)
	wantErr(t, "CaptureHold after its TTL", err, credit.Conflict, "hold_expired")
	got, err := e.ledger.Hold(e.ctx, h.ID)
	if err != nil || got.Status != credit.HoldExpired || got.Released != credit.Whole(7) || !got.ResolvedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("Hold after its TTL = %+v, %v; want expired, 7 released at t0+1m", got, err)
	}
	e.balances("a", credit.Whole(100), 0)
}
