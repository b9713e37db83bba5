package storetest

import (
	"strings"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// historyFlows are exactly-once, history, keys and affordability.
func historyFlows() []flow {
	return []flow{
		{name: "Idempotency", fn: flowIdempotency},
		{name: "IdempotencyConflict", fn: flowIdempotencyConflict},
		{name: "IdempotencyRefusalNotRecorded", fn: flowIdempotencyRefusal},
		{name: "IdempotencyRetention", fn: flowIdempotencyRetention},
		{name: "Entries", fn: flowEntries},
		{name: "Usage", fn: flowUsage},
		{name: "Keys", fn: flowKeys},
		{name: "Afford", fn: flowAfford},
	}
}

// journalLen is the number of transactions in the whole journal.
func (e *env) journalLen() int {
	e.t.Helper()
	return len(e.snapshot().Entries)
}

// once runs call twice with the same idempotency key and request hash: the
// second answer must be the first, and the journal must not grow.
func once[T any](t *testing.T, e *env, what string, call func() (T, error), same func(a, b T) bool) T {
	t.Helper()
	first, err := call()
	if err != nil {
		t.Fatalf("%s = %v", what, err)
	}
	n := e.journalLen()
	before := e.snapshot()
	second, err := call()
	if err != nil {
		t.Fatalf("%s retried = %v; want the first answer", what, err)
	}
	if !same(first, second) {
		t.Errorf("%s retried = %+v; want the first answer %+v", what, second, first)
	}
	if m := e.journalLen(); m != n {
		t.Errorf("%s retried: journal %d → %d transactions; want no second effect", what, n, m)
	}
	if d := diffSnapshots(before, e.snapshot()); d != "" {
		t.Errorf("%s retried changed the store: %s", what, d)
	}
	return first
}

func flowIdempotency(t *testing.T, e *env) {
	acct := once(t, e, "CreateAccount", func() (credit.Account, error) {
		return e.ledger.CreateAccount(e.ctx, idem("acct-1", "h-acct"), "a", 0)
	}, func(a, b credit.Account) bool { return a.ID == b.ID && a.CreatedAt.Equal(b.CreatedAt) })
	if acct.ID != "a" {
		t.Fatalf("CreateAccount = %+v", acct)
	}
	gr := once(t, e, "AddGrant", func() (credit.Grant, error) {
		return e.ledger.AddGrant(e.ctx, idem("grant-1", "h-grant"), "a", credit.GrantSpec{Credits: credit.Whole(100), Source: credit.SourceTopup})
	}, func(a, b credit.Grant) bool { return a.ID == b.ID && a.Granted == b.Granted })
	e.balances("a", credit.Whole(100), 0)

	gen := once(t, e, "CreateGeneration", func() (credit.Generation, error) {
		return e.ledger.CreateGeneration(e.ctx, idem("gen-1", "h-gen"), credit.GenerationSpec{Account: "a", Request: images(fluxDev, 3)})
	}, func(a, b credit.Generation) bool {
		return a.ID == b.ID && a.Hold == b.Hold && a.HoldCredits == b.HoldCredits && a.Status == b.Status && a.ExpiresAt.Equal(b.ExpiresAt)
	})
	e.balances("a", credit.Whole(85), credit.Whole(15))
	once(t, e, "CompleteGeneration", func() (credit.Generation, error) {
		return e.ledger.CompleteGeneration(e.ctx, idem("done-1", "h-done"), gen.ID, 2)
	}, func(a, b credit.Generation) bool {
		return a.ID == b.ID && a.Charged == b.Charged && a.Status == b.Status
	})
	e.balances("a", credit.Whole(90), 0) // 100 − 2 × 5
	once(t, e, "RefundGeneration", func() (credit.Generation, error) {
		three := credit.Whole(3)
		return e.ledger.RefundGeneration(e.ctx, idem("refund-1", "h-refund"), gen.ID, &three)
	}, func(a, b credit.Generation) bool { return a.ID == b.ID && a.Refunded == b.Refunded })
	e.balances("a", credit.Whole(93), 0)

	h := once(t, e, "CreateHold", func() (credit.Hold, error) {
		return e.ledger.CreateHold(e.ctx, idem("hold-1", "h-hold"), "a", credit.HoldSpec{Credits: credit.Whole(30)})
	}, func(a, b credit.Hold) bool {
		return a.ID == b.ID && a.Amount == b.Amount && len(a.Allocations) == len(b.Allocations)
	})
	once(t, e, "CaptureHold", func() (credit.Hold, error) {
		ten := credit.Whole(10)
		return e.ledger.CaptureHold(e.ctx, idem("capture-1", "h-capture"), h.ID, &ten)
	}, func(a, b credit.Hold) bool { return a.ID == b.ID && a.Captured == b.Captured && a.Status == b.Status })
	e.balances("a", credit.Whole(83), 0)
	h2 := e.hold("a", credit.Whole(5), 0)
	once(t, e, "ReleaseHold", func() (credit.Hold, error) {
		return e.ledger.ReleaseHold(e.ctx, idem("release-1", "h-release"), h2.ID)
	}, func(a, b credit.Hold) bool { return a.ID == b.ID && a.Status == b.Status })
	gen2 := e.generation("a", fluxDev)
	once(t, e, "FailGeneration", func() (credit.Generation, error) {
		return e.ledger.FailGeneration(e.ctx, idem("fail-1", "h-fail"), gen2.ID)
	}, func(a, b credit.Generation) bool { return a.ID == b.ID && a.Status == b.Status })
	e.balances("a", credit.Whole(83), 0)

	// A retry answers what was first answered, even after the state moved on.
	e.unchanged("a late retry", func() {
		again, err := e.ledger.CreateHold(e.ctx, idem("hold-1", "h-hold"), "a", credit.HoldSpec{Credits: credit.Whole(30)})
		if err != nil || again.ID != h.ID || again.Status != credit.HoldOpen {
			t.Errorf("CreateHold retried after its capture = %+v, %v; want the first answer (%s, open)", again, err, h.ID)
		}
	})

	// The same key from another client (scope) is another request.
	other := &credit.Idempotency{Scope: "key_other", Key: "grant-1", Hash: "h-grant"}
	g2, err := e.ledger.AddGrant(e.ctx, other, "a", credit.GrantSpec{Credits: credit.Whole(100), Source: credit.SourceTopup})
	if err != nil || g2.ID == gr.ID {
		t.Errorf("AddGrant with another scope's key = %+v, %v; want a new grant", g2, err)
	}
	e.balances("a", credit.Whole(183), 0)
}

func flowIdempotencyConflict(t *testing.T, e *env) {
	e.account("a", 0)
	if _, err := e.ledger.AddGrant(e.ctx, idem("k", "h1"), "a", credit.GrantSpec{Credits: credit.Whole(50), Source: credit.SourceTopup}); err != nil {
		t.Fatal(err)
	}
	e.unchanged("the same key for another request", func() {
		_, err := e.ledger.AddGrant(e.ctx, idem("k", "h2"), "a", credit.GrantSpec{Credits: credit.Whole(60), Source: credit.SourceTopup})
		wantErr(t, "AddGrant(same key, other hash)", err, credit.Conflict, "idempotency_conflict")
		// Another operation altogether with the same key.
		_, err = e.ledger.CreateHold(e.ctx, idem("k", "h3"), "a", credit.HoldSpec{Credits: credit.Whole(1)})
		wantErr(t, "CreateHold(same key, other hash)", err, credit.Conflict, "idempotency_conflict")
	})
	e.balances("a", credit.Whole(50), 0)
}

// flowIdempotencyRetention: PruneIdempotency deletes the records older than
// the retention and only those: a key within it is still answered from its
// record (nothing done twice); a key past it is a new request, as the
// retention documents. With no retention nothing is ever deleted.
func flowIdempotencyRetention(t *testing.T, e *env) {
	e.account("a", 0)
	grant := func(l *credit.Ledger, key string) credit.Grant {
		t.Helper()
		g, err := l.AddGrant(e.ctx, idem(key, "h-"+key), "a", credit.GrantSpec{Credits: credit.Whole(10), Source: credit.SourceTopup})
		if err != nil {
			t.Fatalf("AddGrant(%s) = %v", key, err)
		}
		return g
	}
	day := 24 * time.Hour
	keeping := credit.NewLedger(e.store, credit.LedgerConfig{Now: e.clock.Now, IdempotencyRetention: day})
	forever := credit.NewLedger(e.store, credit.LedgerConfig{Now: e.clock.Now})

	old := grant(keeping, "old")       // t0
	e.clock.Add(23 * time.Hour)        // t0 + 23 h
	recent := grant(keeping, "recent") // 10 + 10
	e.clock.Add(2 * time.Hour)         // t0 + 25 h: "old" is past a day, "recent" is not

	if n, err := forever.PruneIdempotency(e.ctx); err != nil || n != 0 {
		t.Errorf("PruneIdempotency with no retention = %d, %v; want 0, nil", n, err)
	}
	if n, err := keeping.PruneIdempotency(e.ctx); err != nil || n != 1 {
		t.Fatalf("PruneIdempotency(1 day) at t0 + 25 h = %d, %v; want 1 (the record of t0)", n, err)
	}
	if n, err := keeping.PruneIdempotency(e.ctx); err != nil || n != 0 {
		t.Errorf("PruneIdempotency again = %d, %v; want 0", n, err)
	}
	if g := grant(keeping, "recent"); g.ID != recent.ID {
		t.Errorf("a retry within the retention made grant %s; want the first answer, %s", g.ID, recent.ID)
	}
	e.balances("a", credit.Whole(20), 0)
	if g := grant(keeping, "old"); g.ID == old.ID {
		t.Errorf("a key sent again after its record was pruned answered %s from a record that should be gone", g.ID)
	}
	e.balances("a", credit.Whole(30), 0) // a new request: 10 more
}

// flowIdempotencyRefusal: refusals are not recorded, so a refused request may
// be retried with its key once it can succeed.
func flowIdempotencyRefusal(t *testing.T, e *env) {
	e.account("a", 0)
	key := idem("create-1", "h")
	spec := credit.GenerationSpec{Account: "a", Request: fluxDev}
	_, err := e.ledger.CreateGeneration(e.ctx, key, spec)
	wantErr(t, "CreateGeneration on 0", err, credit.InsufficientCredits, "insufficient_credits")
	e.topup("a", 5)
	g, err := e.ledger.CreateGeneration(e.ctx, key, spec)
	if err != nil || g.HoldCredits != credit.Whole(5) {
		t.Fatalf("CreateGeneration retried after a grant = %+v, %v; want a hold of 5", g, err)
	}
	again, err := e.ledger.CreateGeneration(e.ctx, key, spec)
	if err != nil || again.ID != g.ID {
		t.Errorf("CreateGeneration retried = %s, %v; want %s", again.ID, err, g.ID)
	}
	e.balances("a", 0, credit.Whole(5))
}

func flowEntries(t *testing.T, e *env) {
	e.account("a", 0)
	e.account("b", 0)
	e.topup("a", 10) // 1 grant
	e.topup("b", 10)
	g := e.generation("a", fluxDev) // 2 hold
	e.generation("b", fluxDev)
	e.complete(g.ID, 1)                           // 3 capture
	h := e.hold("a", credit.Whole(2), 0)          // 4 hold
	_, _ = e.ledger.ReleaseHold(e.ctx, nil, h.ID) // 5 release
	e.topup("b", 1)
	e.topup("a", 1) // 6 grant
	wantKinds := []credit.EntryKind{credit.EntryGrant, credit.EntryRelease, credit.EntryHold, credit.EntryCapture, credit.EntryHold, credit.EntryGrant}

	var all []credit.Entry
	before := int64(0)
	for page := 0; ; page++ {
		got, err := e.ledger.Entries(e.ctx, "a", before, 4)
		if err != nil {
			t.Fatalf("Entries(a, %d, 4) = %v", before, err)
		}
		if len(got) > 4 {
			t.Fatalf("Entries(a, %d, 4) returned %d", before, len(got))
		}
		if len(got) == 0 {
			break
		}
		for i, tr := range got {
			if before != 0 && tr.ID >= before {
				t.Errorf("page %d: entry %d has ID %d ≥ cursor %d", page, i, tr.ID, before)
			}
			if i > 0 && tr.ID >= got[i-1].ID {
				t.Errorf("page %d: IDs %d then %d; want newest first", page, got[i-1].ID, tr.ID)
			}
			if tr.Account != "a" || len(tr.Postings) == 0 {
				t.Errorf("entry %d: account %s, %d postings; want a, with postings", tr.ID, tr.Account, len(tr.Postings))
			}
		}
		all = append(all, got...)
		before = got[len(got)-1].ID
		if page > 10 {
			t.Fatal("Entries does not end")
		}
	}
	if len(all) != len(wantKinds) {
		t.Fatalf("Entries(a) paged = %d transactions; want %d", len(all), len(wantKinds))
	}
	for i, tr := range all {
		if tr.Kind != wantKinds[i] {
			t.Errorf("entry %d (newest first) = %s; want %s", i, tr.Kind, wantKinds[i])
		}
	}
	if all[0].AvailableAfter != credit.Whole(6) { // 10 − 5 + 1
		t.Errorf("newest entry's available after = %s; want 6", all[0].AvailableAfter)
	}
	_, err := e.ledger.Entries(e.ctx, "nobody", 0, 10)
	wantErr(t, "Entries(unknown)", err, credit.NotFound, "unknown_account")
	_, err = e.ledger.Entries(e.ctx, "a", 0, 0)
	wantErr(t, "Entries(limit 0)", err, credit.Invalid, "invalid_limit")
	_, err = e.ledger.Entries(e.ctx, "a", -1, 10)
	wantErr(t, "Entries(before −1)", err, credit.Invalid, "invalid_cursor")
}

func flowUsage(t *testing.T, e *env) {
	e.account("a", 0)
	e.topup("a", 1000)
	day1 := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC) // t0 is 10:00 that day
	day2 := day1.Add(24 * time.Hour)
	day3 := day2.Add(24 * time.Hour)

	flux := e.generation("a", images(fluxDev, 2))
	e.complete(flux.ID, 2) // flux-dev 10
	banana := e.generation("a", images(banana2K, 1))
	e.complete(banana.ID, 1) // nano-banana-2 73.5
	// Topaz, 1920×1080 at 2×: the page's example, 41 credits.
	topaz := e.generation("a", credit.QuoteRequest{Model: "topaz", Scale: 2, InputWidth: 1920, InputHeight: 1080})
	if topaz.HoldCredits != credit.Whole(41) || topaz.Kind != credit.KindUpscale {
		t.Fatalf("Topaz 1920×1080 2× = %s (%s); want 41, upscale (the seed page)", topaz.HoldCredits, topaz.Kind)
	}
	e.complete(topaz.ID, 1)
	h := e.hold("a", credit.Whole(7), 0)
	if _, err := e.ledger.CaptureHold(e.ctx, nil, h.ID, nil); err != nil { // other 7
		t.Fatal(err)
	}
	e.clock.Set(day2.Add(9 * time.Hour))
	flux2 := e.generation("a", images(fluxDev, 4))
	e.complete(flux2.ID, 3) // flux-dev 15
	five := credit.Whole(5)
	if _, err := e.ledger.RefundGeneration(e.ctx, nil, banana.ID, &five); err != nil { // nano-banana-2 −5 on day 2
		t.Fatal(err)
	}
	// An expired generation charges nothing and shows nowhere.
	e.generation("a", fluxDev)
	e.clock.Add(time.Hour)

	type row struct {
		key     string
		charged credit.Credits
	}
	check := func(by credit.GroupBy, from, to time.Time, want []row, counts []int) {
		t.Helper()
		got, err := e.ledger.Usage(e.ctx, "a", from, to, by)
		if err != nil {
			t.Fatalf("Usage(%s) = %v", by, err)
		}
		var g []row
		for _, u := range got {
			g = append(g, row{u.Key, u.Charged})
		}
		if len(g) != len(want) {
			t.Errorf("Usage(%s, %s…%s) = %v; want %v", by, from.Format(time.DateOnly), to.Format(time.DateOnly), g, want)
			return
		}
		for i := range want {
			if g[i] != want[i] {
				t.Errorf("Usage(%s, %s…%s) = %v; want %v", by, from.Format(time.DateOnly), to.Format(time.DateOnly), g, want)
				return
			}
			if counts != nil && got[i].Count != counts[i] {
				t.Errorf("Usage(%s) %s count = %d; want %d", by, got[i].Key, got[i].Count, counts[i])
			}
		}
	}
	// Two days: flux 10 + 15 = 25; banana 73.5 − 5 = 68.5; topaz 41; the generic hold 7.
	check(credit.ByModel, day1, day3, []row{{"flux-dev", cr("25")}, {"nano-banana-2", cr("68.5")}, {"other", credit.Whole(7)}, {"topaz", credit.Whole(41)}}, nil)
	// image: 25 + 68.5 = 93.5; upscale 41; other 7.
	check(credit.ByKind, day1, day3, []row{{"image", cr("93.5")}, {"other", credit.Whole(7)}, {"upscale", credit.Whole(41)}}, nil)
	// Day 1: 10 + 73.5 + 41 + 7 = 131.5; day 2: 15 − 5 = 10.
	check(credit.ByDay, day1, day3, []row{{"2026-11-24", cr("131.5")}, {"2026-11-25", credit.Whole(10)}}, nil)
	// Day 1 alone: one charge each.
	check(credit.ByModel, day1, day2, []row{{"flux-dev", credit.Whole(10)}, {"nano-banana-2", cr("73.5")}, {"other", credit.Whole(7)}, {"topaz", credit.Whole(41)}}, []int{1, 1, 1, 1})
	// Day 2 alone: the refund nets against nothing charged that day.
	check(credit.ByModel, day2, day3, []row{{"flux-dev", credit.Whole(15)}, {"nano-banana-2", credit.Whole(-5)}}, nil)

	// Windows that start or end inside a day: a store may answer the whole
	// days from a rollup and the partial ends from the journal; the answer
	// is the same. Day 1's charges are at 10:00, day 2's at 09:00.
	after10 := day1.Add(10*time.Hour + time.Microsecond)
	check(credit.ByDay, after10, day3, []row{{"2026-11-25", credit.Whole(10)}}, nil) // a partial day 1, a whole day 2
	check(credit.ByDay, day1.Add(10*time.Hour), day2.Add(9*time.Hour), []row{{"2026-11-24", cr("131.5")}}, nil)
	check(credit.ByDay, day1.Add(10*time.Hour), day2.Add(9*time.Hour+time.Microsecond), []row{{"2026-11-24", cr("131.5")}, {"2026-11-25", credit.Whole(10)}}, []int{4, 1})
	check(credit.ByModel, day2.Add(8*time.Hour), day2.Add(10*time.Hour), []row{{"flux-dev", credit.Whole(15)}, {"nano-banana-2", credit.Whole(-5)}}, []int{1, 0})
	check(credit.ByModel, day1.Add(-36*time.Hour), day3.Add(36*time.Hour), []row{{"flux-dev", cr("25")}, {"nano-banana-2", cr("68.5")}, {"other", credit.Whole(7)}, {"topaz", credit.Whole(41)}}, []int{2, 1, 1, 1})
	check(credit.ByModel, day1.Add(-36*time.Hour), day1.Add(10*time.Hour), nil, nil) // just before the first charge

	_, err := e.ledger.Usage(e.ctx, "a", day1, day3, "hour")
	wantErr(t, "Usage(by hour)", err, credit.Invalid, "invalid_group_by")
	_, err = e.ledger.Usage(e.ctx, "a", day2, day1, credit.ByDay)
	wantErr(t, "Usage(to before from)", err, credit.Invalid, "invalid_range")
	_, err = e.ledger.Usage(e.ctx, "nobody", day1, day3, credit.ByDay)
	wantErr(t, "Usage(unknown)", err, credit.NotFound, "unknown_account")
}

func flowKeys(t *testing.T, e *env) {
	e.account("a", 0)
	admin, token, err := e.ledger.CreateKey(e.ctx, credit.KeySpec{Scope: credit.ScopeAdmin, Name: "ops"})
	if err != nil || admin.Scope != credit.ScopeAdmin || !strings.HasPrefix(token, "tally_") || !admin.CreatedAt.Equal(t0) {
		t.Fatalf("CreateKey(admin) = %+v, %q, %v", admin, token, err)
	}
	k, err := e.ledger.Authenticate(e.ctx, token)
	if err != nil || k.ID != admin.ID || k.Scope != credit.ScopeAdmin || k.Name != "ops" {
		t.Errorf("Authenticate(admin token) = %+v, %v; want key %s", k, err, admin.ID)
	}
	e.clock.Add(time.Second) // keys list oldest first
	acct, acctToken, err := e.ledger.CreateKey(e.ctx, credit.KeySpec{Scope: credit.ScopeAccount, Account: "a", ExpiresAt: t0.Add(time.Second + time.Hour)})
	if err != nil {
		t.Fatalf("CreateKey(account a) = %v", err)
	}
	if k, err := e.ledger.Authenticate(e.ctx, acctToken); err != nil || k.Account != "a" || k.Scope != credit.ScopeAccount {
		t.Errorf("Authenticate(account token) = %+v, %v; want account a", k, err)
	}
	keys, err := e.ledger.Keys(e.ctx)
	if err != nil || len(keys) != 2 || keys[0].ID != admin.ID || keys[1].ID != acct.ID {
		t.Errorf("Keys = %+v, %v; want admin then account key", keys, err)
	}
	for _, k := range keys {
		if strings.Contains(string(k.Hash), token) || len(k.Hash) != 32 {
			t.Errorf("key %s stored hash is %d bytes; want the 32-byte SHA-256, never the secret", k.ID, len(k.Hash))
		}
	}
	// A wrong secret, a malformed token, an unknown id: all the same refusal.
	wrong := token[:len(token)-1] + "a"
	if strings.HasSuffix(token, "a") {
		wrong = token[:len(token)-1] + "b"
	}
	for name, tok := range map[string]string{
		"wrong secret": wrong,
		"malformed":    "nope",
		"no secret":    "tally_" + admin.ID,
		"unknown id":   "tally_zzzzzzzz_" + strings.Repeat("a", 32),
		"empty":        "",
	} {
		_, err := e.ledger.Authenticate(e.ctx, tok)
		wantErr(t, "Authenticate("+name+")", err, credit.Unauthorized, "")
	}
	// The account key expires an hour after it was made.
	e.clock.Set(t0.Add(time.Second + time.Hour))
	_, err = e.ledger.Authenticate(e.ctx, acctToken)
	wantErr(t, "Authenticate(expired)", err, credit.Unauthorized, "")
	// Revoked: refused at once.
	if err := e.ledger.RevokeKey(e.ctx, admin.ID); err != nil {
		t.Fatalf("RevokeKey = %v", err)
	}
	_, err = e.ledger.Authenticate(e.ctx, token)
	wantErr(t, "Authenticate(revoked)", err, credit.Unauthorized, "")
	wantErr(t, "RevokeKey(unknown)", e.ledger.RevokeKey(e.ctx, "nope"), credit.NotFound, "unknown_key")

	for _, tc := range []struct {
		name   string
		spec   credit.KeySpec
		code   string
		reason string
	}{
		{"unknown account", credit.KeySpec{Scope: credit.ScopeAccount, Account: "nobody"}, credit.NotFound, "unknown_account"},
		{"account key without account", credit.KeySpec{Scope: credit.ScopeAccount}, credit.Invalid, "invalid_key"},
		{"admin key with account", credit.KeySpec{Scope: credit.ScopeAdmin, Account: "a"}, credit.Invalid, "invalid_key"},
		{"unknown scope", credit.KeySpec{Scope: "root"}, credit.Invalid, "invalid_scope"},
		{"expiry in the past", credit.KeySpec{Scope: credit.ScopeService, ExpiresAt: t0}, credit.Invalid, "invalid_expiry"},
	} {
		_, _, err := e.ledger.CreateKey(e.ctx, tc.spec)
		wantErr(t, "CreateKey("+tc.name+")", err, tc.code, tc.reason)
	}
	if keys, _ := e.ledger.Keys(e.ctx); len(keys) != 2 {
		t.Errorf("Keys after refusals = %d; want 2", len(keys))
	}
}

func flowAfford(t *testing.T, e *env) {
	e.account("a", 0)
	e.topup("a", 100)
	e.account("b", credit.Whole(10))
	e.topup("b", 100)
	cat := seedCatalog()
	flux, _ := cat.Quote(fluxDev)
	banana, _ := cat.Quote(images(banana2K, 2))
	for _, tc := range []struct {
		account     string
		q           credit.Quote
		images, gen int64
	}{
		{"a", flux, 20, 20}, // 100 / 5
		{"a", banana, 1, 0}, // 100 / 73.5 → 1 image; 100 / 147 → 0 generations
		{"b", flux, 22, 22}, // (100 + 10 overdraft) / 5
		{"b", banana, 1, 0}, // 110 / 73.5 → 1; 110 / 147 → 0
	} {
		got, err := e.ledger.Afford(e.ctx, tc.account, tc.q)
		if err != nil || got.Images != tc.images || got.Generations != tc.gen || got.Available != credit.Whole(100) {
			t.Errorf("Afford(%s, %s ×%d) = %+v, %v; want %d images, %d generations, 100 available", tc.account, tc.q.Model, tc.q.Images, got, err, tc.images, tc.gen)
		}
	}
}
