package storetest

import (
	"context"
	"crypto/sha256"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// The reads and the account-less writes that remain on Tx (Update and
// View), their rows set up through Write. Part of runWrite.

// wCharge is a capture entry of amount for model at `at`, balanced, from
// grt_ACCOUNT (a refund if amount is negative), at a list price of amount.
func wCharge(account, model string, kind credit.Kind, at time.Time, amount credit.Credits) *credit.Entry {
	x := &credit.Entry{Kind: credit.EntryCapture, Account: account, Time: at, Model: model, ModelKind: kind, ChargedDelta: amount, ListCredits: amount,
		Postings: []credit.Posting{
			{Account: account, Book: credit.BookHeld, Grant: "grt_" + account, Amount: -amount},
			{Account: credit.PlatformAccount, Book: credit.BookRevenue, Amount: amount},
		}}
	if amount < 0 {
		x.Kind = credit.EntryRefund
	}
	return x
}

// wRefused runs fn alone in an Update and checks its answer. Each refusal
// gets a transaction of its own: a store may abort the transaction a refused
// write was in (PostgreSQL does), so nothing else may follow it there.
func wRefused(t testing.TB, s credit.Store, what string, fn func(credit.Tx) error, code, reason string) {
	t.Helper()
	wantErr(t, what, s.Update(context.Background(), fn), code, reason)
}

// wrTxErrors: the reads answer NotFound with the noun's reason, as the
// *credit.Error itself; lists of an unknown account are empty.
func wrTxErrors(t *testing.T, s credit.Store) {
	wAccount(t, s, "acme", 0, credit.Whole(1))
	for _, tc := range []struct {
		name   string
		fn     func(tx credit.Tx) error
		reason string
	}{
		{"Account", func(tx credit.Tx) error { _, err := tx.Account("nobody"); return err }, "unknown_account"},
		{"Grant", func(tx credit.Tx) error { _, err := tx.Grant("grt_nope"); return err }, "unknown_grant"},
		{"Hold", func(tx credit.Tx) error { _, err := tx.Hold("hld_nope"); return err }, "unknown_hold"},
		{"Generation", func(tx credit.Tx) error { _, err := tx.Generation("gen_nope"); return err }, "unknown_generation"},
		{"Subscription", func(tx credit.Tx) error { _, err := tx.Subscription("sub_nope"); return err }, "unknown_subscription"},
		{"Key", func(tx credit.Tx) error { _, err := tx.Key("nope"); return err }, "unknown_key"},
	} {
		err := s.View(context.Background(), tc.fn)
		wantErr(t, tc.name+"(unknown)", err, credit.NotFound, tc.reason)
		if _, ok := err.(*credit.Error); !ok {
			t.Errorf("%s(unknown) error is a %T; want the *credit.Error itself", tc.name, err)
		}
	}
	wRefused(t, s, "RevokeKey(nope)", func(tx credit.Tx) error { return tx.RevokeKey("nope", wt0) }, credit.NotFound, "unknown_key")
	wView(t, s, func(tx credit.Tx) error {
		gs, err := tx.Grants("nobody")
		if err != nil || len(gs) != 0 {
			t.Errorf("Grants(nobody) = %v, %v; want none", gs, err)
		}
		hs, err := tx.OpenHolds("nobody")
		if err != nil || len(hs) != 0 {
			t.Errorf("OpenHolds(nobody) = %v, %v; want none", hs, err)
		}
		es, err := tx.Entries("nobody", "", 0, 10)
		if err != nil || len(es) != 0 {
			t.Errorf("Entries(nobody) = %v, %v; want none", es, err)
		}
		us, err := tx.Usage("nobody", wt0.Add(-48*time.Hour), wt0)
		if err != nil || len(us) != 0 {
			t.Errorf("Usage(nobody) = %v, %v; want none", us, err)
		}
		ss, err := tx.Subscriptions("nobody")
		if err != nil || len(ss) != 0 {
			t.Errorf("Subscriptions(nobody) = %v, %v; want none", ss, err)
		}
		return nil
	})
}

// wrTxUpdateRollback: an Update whose fn fails, or panics, commits nothing
// of what fn wrote, and returns fn's error itself.
func wrTxUpdateRollback(t *testing.T, s credit.Store) {
	key := credit.Key{ID: "k1", Hash: []byte{1}, Scope: credit.ScopeAdmin, Name: "ops", CreatedAt: wt0}
	boom := errors.New("boom")
	err := s.Update(context.Background(), func(tx credit.Tx) error {
		if err := tx.InsertKey(key); err != nil {
			return err
		}
		if err := tx.AppendAudit(&credit.AuditEntry{At: wt0, Actor: "t", Action: credit.AuditKeyCreate, Target: "k1", Detail: []byte(`{}`)}); err != nil {
			return err
		}
		return boom
	})
	if err != boom {
		t.Errorf("Update(fn returning boom) = %v; want boom itself", err)
	}
	func() {
		defer func() {
			if p := recover(); p != "boom" {
				t.Errorf("recovered %v; want the panic of fn (boom) to go on up", p)
			}
		}()
		_ = s.Update(context.Background(), func(tx credit.Tx) error {
			_ = tx.InsertKey(key)
			panic("boom")
		})
	}()
	wView(t, s, func(tx credit.Tx) error {
		_, err := tx.Key("k1")
		wantErr(t, "Key(k1) after the rollbacks", err, credit.NotFound, "unknown_key")
		if log, err := tx.AuditLog(0, 10); err != nil || len(log) != 0 {
			t.Errorf("AuditLog after a rollback = %+v, %v; want none", log, err)
		}
		return nil
	})
	// The connection was given back: the store still writes.
	wUpdate(t, s, func(tx credit.Tx) error { return tx.InsertKey(key) })
	wAccount(t, s, "acme", 0, 0)
}

// wrTxViewIsReadOnly: the writes of Tx in a View are Internal, and write
// nothing.
func wrTxViewIsReadOnly(t *testing.T, s credit.Store) {
	ctx := context.Background()
	key := credit.Key{ID: "k1", Hash: []byte{1}, Scope: credit.ScopeAdmin, Name: "ops", CreatedAt: wt0}
	wUpdate(t, s, func(tx credit.Tx) error { return tx.InsertKey(key) })
	MustApply(t, s, "x", &credit.Change{Idempotency: []credit.IdempotencyRecord{{Idempotency: credit.Idempotency{Scope: "s", Key: "k", Hash: "h"}, CreatedAt: wt0}}})
	for _, tc := range []struct {
		name string
		fn   func(tx credit.Tx) error
	}{
		{"InsertKey", func(tx credit.Tx) error {
			return tx.InsertKey(credit.Key{ID: "k2", Hash: []byte{1}, Scope: credit.ScopeAdmin, CreatedAt: wt0})
		}},
		{"RevokeKey", func(tx credit.Tx) error { return tx.RevokeKey("k1", wt0) }},
		{"AppendAudit", func(tx credit.Tx) error {
			return tx.AppendAudit(&credit.AuditEntry{At: wt0, Actor: "t", Action: credit.AuditKeyCreate, Target: "k", Detail: []byte(`{}`)})
		}},
		{"PruneIdempotency", func(tx credit.Tx) error { _, err := tx.PruneIdempotency(wt0.Add(time.Hour), 10); return err }},
	} {
		err := s.View(ctx, tc.fn)
		wantErr(t, tc.name+" in View", err, credit.Internal, "store_error")
	}
	wView(t, s, func(tx credit.Tx) error {
		if _, err := tx.Key("k2"); credit.ErrorCode(err) != credit.NotFound {
			t.Errorf("Key(k2) after InsertKey in View = %v; want NotFound", err)
		}
		if k, err := tx.Key("k1"); err != nil || !k.RevokedAt.IsZero() {
			t.Errorf("Key(k1) after RevokeKey in View = %+v, %v; want it not revoked", k, err)
		}
		if log, err := tx.AuditLog(0, 10); err != nil || len(log) != 0 {
			t.Errorf("AuditLog after AppendAudit in View = %+v, %v; want none", log, err)
		}
		return nil
	})
	if got := wIdempotency(t, s, [2]string{"s", "k"}); len(got) != 1 {
		t.Errorf("idempotency records after PruneIdempotency in View = %+v; want the one there was", got)
	}
}

// wrTxCanceled: an Update canceled before it starts is not run; one
// canceled while it runs is answered Unavailable/canceled and not committed.
func wrTxCanceled(t *testing.T, s credit.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	called := false
	err := s.Update(ctx, func(tx credit.Tx) error { called = true; return nil })
	wantErr(t, "Update(canceled context)", err, credit.Unavailable, "canceled")
	if called {
		t.Errorf("Update(canceled context) ran fn")
	}

	ctx, cancel = context.WithCancel(context.Background())
	defer cancel()
	err = s.Update(ctx, func(tx credit.Tx) error {
		if err := tx.InsertKey(credit.Key{ID: "k1", Hash: []byte{1}, Scope: credit.ScopeAdmin, CreatedAt: wt0}); err != nil {
			return err
		}
		cancel()
		_, err := tx.Keys()
		return err
	})
	wantErr(t, "Update canceled while it runs", err, credit.Unavailable, "canceled")
	wView(t, s, func(tx credit.Tx) error {
		if ks, err := tx.Keys(); err != nil || len(ks) != 0 {
			t.Errorf("Keys after a canceled Update = %+v, %v; want none", ks, err)
		}
		return nil
	})
}

func wrTxPing(t *testing.T, s credit.Store) {
	if err := s.Ping(context.Background()); err != nil {
		t.Errorf("Ping() = %v", err)
	}
}

func wrTxKeys(t *testing.T, s credit.Store) {
	wAccount(t, s, "acme", 0, 0)
	tokyo := time.FixedZone("JST", 9*3600)
	sum := sha256.Sum256([]byte("tally_k1_secret"))
	admin := credit.Key{ID: "k1", Hash: sum[:], Scope: credit.ScopeAdmin, Name: "ops ✿", CreatedAt: wt0}
	reader := credit.Key{ID: "k0", Hash: []byte{0, 1, 2, 0xff}, Scope: credit.ScopeAccount, Account: "acme", Name: "dashboard",
		CreatedAt: wt0.Add(time.Second), ExpiresAt: wt0.Add(24 * time.Hour)}
	service := credit.Key{ID: "k2", Hash: []byte{9}, Scope: credit.ScopeService, Name: "studio", CreatedAt: wt0.Add(2 * time.Second)}
	wUpdate(t, s, func(tx credit.Tx) error {
		r := reader
		r.CreatedAt, r.ExpiresAt = r.CreatedAt.In(tokyo), r.ExpiresAt.In(tokyo)
		for _, k := range []credit.Key{service, admin, r} {
			if err := tx.InsertKey(k); err != nil {
				return err
			}
		}
		return nil
	})
	wUpdate(t, s, func(tx credit.Tx) error {
		got, err := tx.Key("k1")
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(got, admin) {
			t.Errorf("Key(k1) = %+v; want %+v", got, admin)
		}
		keys, err := tx.Keys()
		if err != nil {
			return err
		}
		if want := []credit.Key{admin, reader, service}; !reflect.DeepEqual(keys, want) {
			t.Errorf("Keys() =\n%+v\nwant k1, k0, k2 (oldest first)\n%+v", keys, want)
		}
		if err := tx.RevokeKey("k0", wt0.Add(time.Hour).In(tokyo)); err != nil {
			return err
		}
		return tx.RevokeKey("k0", wt0.Add(2*time.Hour)) // the first revocation stands
	})
	wRefused(t, s, "Key(nope)", func(tx credit.Tx) error { _, err := tx.Key("nope"); return err }, credit.NotFound, "unknown_key")
	wRefused(t, s, "RevokeKey(nope)", func(tx credit.Tx) error { return tx.RevokeKey("nope", wt0) }, credit.NotFound, "unknown_key")
	wRefused(t, s, "InsertKey(k1 again)", func(tx credit.Tx) error { return tx.InsertKey(admin) }, credit.Conflict, "key_exists")
	stray := reader
	stray.ID, stray.Account = "k3", "nobody"
	wRefused(t, s, "InsertKey(unknown account)", func(tx credit.Tx) error { return tx.InsertKey(stray) }, credit.NotFound, "unknown_account")
	wView(t, s, func(tx credit.Tx) error {
		got, err := tx.Key("k0")
		want := reader
		want.RevokedAt = wt0.Add(time.Hour)
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Errorf("Key(k0) after RevokeKey = %+v; want %+v", got, want)
		}
		if ks, err := tx.Keys(); err != nil || len(ks) != 3 {
			t.Errorf("Keys() after the refusals = %+v, %v; want the three", ks, err)
		}
		return err
	})
}

// wrTxAudit: AppendAudit and Change.Audit share one log, whose ids increase
// in the order of appending; AuditLog pages it newest first.
func wrTxAudit(t *testing.T, s credit.Store) {
	wAccount(t, s, "acme", 0, 0)
	entry := func(i int) credit.AuditEntry {
		return credit.AuditEntry{At: wt0.Add(time.Duration(i) * time.Second), Actor: "key_" + string(rune('a'+i)), Action: credit.AuditKeyCreate,
			Target: "k" + string(rune('0'+i)), Detail: []byte(`{"i":` + string(rune('0'+i)) + `,"note":"✿"}`)}
	}
	want := []credit.AuditEntry{entry(0), entry(1), entry(2), entry(3)}
	MustApply(t, s, "acme", &credit.Change{Audit: want[:2]})
	wUpdate(t, s, func(tx credit.Tx) error {
		e := want[2]
		e.At = e.At.In(wParis)
		if err := tx.AppendAudit(&e); err != nil {
			return err
		}
		want[2].ID = e.ID
		return nil
	})
	MustApply(t, s, "acme", &credit.Change{Audit: want[3:]})
	var all []credit.AuditEntry
	wView(t, s, func(tx credit.Tx) error {
		var err error
		all, err = tx.AuditLog(0, 100)
		return err
	})
	if len(all) != 4 {
		t.Fatalf("AuditLog(0, 100) = %d entries; want 4", len(all))
	}
	if all[1].ID != want[2].ID {
		t.Errorf("AuditLog: the AppendAudit entry has id %d in the log; AppendAudit set %d", all[1].ID, want[2].ID)
	}
	newest := make([]credit.AuditEntry, 4)
	for i := range want {
		want[i].ID = all[3-i].ID
		newest[3-i] = want[i]
	}
	for i := 1; i < 4; i++ {
		if newest[i].ID >= newest[i-1].ID {
			t.Errorf("AuditLog ids %d then %d; want newest first, increasing in the order appended", newest[i-1].ID, newest[i].ID)
		}
	}
	wView(t, s, func(tx credit.Tx) error {
		for _, tt := range []struct {
			before int64
			limit  int
			want   []credit.AuditEntry
		}{
			{0, 10, newest},
			{0, 2, newest[:2]},
			{newest[1].ID, 10, newest[2:]},
			{newest[1].ID, 1, newest[2:3]},
			{newest[3].ID, 10, nil},
		} {
			got, err := tx.AuditLog(tt.before, tt.limit)
			if err != nil {
				return err
			}
			if len(got) == 0 && len(tt.want) == 0 {
				continue
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("AuditLog(%d, %d) =\n%+v\nwant\n%+v", tt.before, tt.limit, got, tt.want)
			}
		}
		return nil
	})
}

// wrTxPruneIdempotency: PruneIdempotency deletes at most limit records
// created before `before`, and says how many.
func wrTxPruneIdempotency(t *testing.T, s credit.Store) {
	var recs []credit.IdempotencyRecord
	var keys [][2]string
	for i := range 5 {
		k := string(rune('a' + i))
		recs = append(recs, credit.IdempotencyRecord{Idempotency: credit.Idempotency{Scope: "p", Key: k, Hash: "h"},
			Response: []byte(`{}`), CreatedAt: wt0.Add(time.Duration(i) * time.Minute)})
		keys = append(keys, [2]string{"p", k})
	}
	MustApply(t, s, "acme", &credit.Change{Idempotency: recs})
	before := wt0.Add(3 * time.Minute) // a, b, c are older; d was created at it
	for i, want := range []int{2, 1, 0} {
		var n int
		wUpdate(t, s, func(tx credit.Tx) error {
			var err error
			n, err = tx.PruneIdempotency(before, 2)
			return err
		})
		if n != want {
			t.Errorf("PruneIdempotency(wt0+3m, 2) #%d = %d; want %d", i+1, n, want)
		}
	}
	if got, want := wIdempotency(t, s, keys...), recs[3:]; !reflect.DeepEqual(got, want) {
		t.Errorf("records after pruning = %+v; want %+v", got, want)
	}
	// A rolled-back prune deletes nothing.
	_ = s.Update(context.Background(), func(tx credit.Tx) error {
		if _, err := tx.PruneIdempotency(wt0.Add(time.Hour), 10); err != nil {
			return err
		}
		return errors.New("boom")
	})
	if got := wIdempotency(t, s, keys...); len(got) != 2 {
		t.Errorf("records after a rolled-back prune = %+v; want d and e", got)
	}
}

// wrTxGrantOrder: Tx.Grants gives all of an account's grants, spent and
// expired ones included, in consumption order.
func wrTxGrantOrder(t *testing.T, s credit.Store) {
	wAccount(t, s, "acme", 0, 0)
	var gs []credit.Grant
	for i, g := range wOrderGrants {
		var exp, expired time.Time
		if g.expiresIn != 0 {
			exp = wt0.Add(time.Duration(g.expiresIn) * 24 * time.Hour)
		}
		remaining := credit.Credits(1)
		if i%3 == 0 { // spent ones are listed too
			remaining = 0
			if !exp.IsZero() {
				expired = exp
			}
		}
		gs = append(gs, credit.Grant{ID: g.id, Account: "acme", Source: credit.SourceTopup, Granted: 1, Remaining: remaining,
			Priority: g.priority, ExpiresAt: exp, ExpiredAt: expired, CreatedAt: wt0.Add(time.Duration(g.createdIn) * time.Second)})
	}
	MustApply(t, s, "acme", &credit.Change{NewGrants: gs})
	wView(t, s, func(tx credit.Tx) error {
		got, err := tx.Grants("acme")
		if ids := grantIDs(got); !reflect.DeepEqual(ids, wOrderWant) {
			t.Errorf("Grants(acme) order = %v; want %v", ids, wOrderWant)
		}
		return err
	})
}

func wrTxDueGrants(t *testing.T, s credit.Store) {
	wAccount(t, s, "acme", 0, 0)
	wAccount(t, s, "bob", 0, 0)
	h := time.Hour
	g := func(id, account string, remaining, held credit.Credits, expires, expired time.Time) credit.Grant {
		return credit.Grant{ID: id, Account: account, Source: credit.SourcePromo, Granted: 10, Remaining: remaining, Held: held,
			ExpiresAt: expires, ExpiredAt: expired, CreatedAt: wt0}
	}
	var never time.Time
	a1 := g("a1", "acme", 5, 0, wt0.Add(2*h), never)
	a2 := g("a2", "acme", 5, 0, wt0.Add(1*h), never)
	a3 := g("a3", "acme", 0, 5, wt0.Add(1*h), never) // nothing left, but due to be marked expired
	MustApply(t, s, "acme", &credit.Change{NewGrants: []credit.Grant{a1, a2, a3,
		g("a4", "acme", 5, 0, never, never),                   // never expires
		g("a5", "acme", 5, 0, wt0.Add(5*h), never),            // not yet
		g("a6", "acme", 0, 0, wt0.Add(1*h), wt0.Add(1*h)),     // already marked expired
		g("a7", "acme", 0, 0, wt0.Add(30*time.Minute), never), // spent, due to be marked
	}})
	b1 := g("b1", "bob", 5, 0, wt0.Add(3*h), never) // due at its expiry, not a µs before
	MustApply(t, s, "bob", &credit.Change{NewGrants: []credit.Grant{b1}})
	now := wt0.Add(3 * h)
	for _, tt := range []struct {
		account string
		now     time.Time
		limit   int
		want    []string
	}{
		{"acme", now, 100, []string{"a7", "a2", "a3", "a1"}},
		{"", now, 100, []string{"a7", "a2", "a3", "a1", "b1"}},
		{"", now, 2, []string{"a7", "a2"}},
		{"", now, 0, []string{"a7", "a2", "a3", "a1", "b1"}},
		{"bob", now, 100, []string{"b1"}},
		{"bob", now.Add(-time.Microsecond), 100, nil},
		{"nobody", now, 100, nil},
	} {
		wView(t, s, func(tx credit.Tx) error {
			gs, err := tx.DueGrants(tt.account, tt.now, tt.limit)
			if got := grantIDs(gs); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("DueGrants(%q, wt0+%v, %d) = %v; want %v", tt.account, tt.now.Sub(wt0), tt.limit, got, tt.want)
			}
			for _, x := range gs {
				if x.ID == "a3" && !reflect.DeepEqual(x, a3) {
					t.Errorf("DueGrants: a3 = %+v; want %+v", x, a3)
				}
			}
			return err
		})
	}
}

func wrTxOpenHoldsDueHolds(t *testing.T, s credit.Store) {
	wAccount(t, s, "acme", 0, credit.Whole(100))
	wAccount(t, s, "bob", 0, credit.Whole(100))
	m := time.Minute
	var acme, bob []credit.Hold
	for _, h := range []credit.Hold{
		{ID: "h1", Account: "acme", CreatedAt: wt0.Add(2 * m), ExpiresAt: wt0.Add(10 * m)}, // due at its expiry
		{ID: "h2", Account: "acme", CreatedAt: wt0.Add(1 * m), ExpiresAt: wt0.Add(30 * m)},
		{ID: "h3", Account: "acme", CreatedAt: wt0.Add(3 * m), ExpiresAt: wt0.Add(5 * m)},
		{ID: "h4", Account: "acme", CreatedAt: wt0, ExpiresAt: wt0.Add(5 * m), Status: credit.HoldReleased},
		{ID: "h5", Account: "bob", CreatedAt: wt0, ExpiresAt: wt0.Add(7 * m)},
	} {
		if h.Status == "" {
			h.Status = credit.HoldOpen
		} else {
			h.Released, h.ResolvedAt = 1000, wt0.Add(m)
		}
		h.Amount = 1000
		h.Allocations = []credit.Allocation{{Grant: "grt_" + h.Account, Amount: 1000}}
		if h.Account == "acme" {
			acme = append(acme, h)
		} else {
			bob = append(bob, h)
		}
	}
	MustApply(t, s, "acme", &credit.Change{NewHolds: acme})
	MustApply(t, s, "bob", &credit.Change{NewHolds: bob})
	ids := func(hs []credit.Hold) []string {
		for _, h := range hs {
			if len(h.Allocations) != 1 || h.Allocations[0].Amount != 1000 {
				t.Errorf("hold %s allocations = %+v; want its one allocation", h.ID, h.Allocations)
			}
		}
		return holdIDs(hs)
	}
	wView(t, s, func(tx credit.Tx) error {
		hs, err := tx.OpenHolds("acme")
		if err != nil {
			return err
		}
		if got, want := ids(hs), []string{"h2", "h1", "h3"}; !reflect.DeepEqual(got, want) {
			t.Errorf("OpenHolds(acme) = %v; want %v (open ones, oldest first)", got, want)
		}
		for _, tt := range []struct {
			account string
			limit   int
			want    []string
		}{
			{"acme", 10, []string{"h3", "h1"}},
			{"", 10, []string{"h3", "h5", "h1"}},
			{"", 2, []string{"h3", "h5"}},
			{"bob", 10, []string{"h5"}},
			{"nobody", 10, nil},
		} {
			hs, err := tx.DueHolds(tt.account, wt0.Add(10*m), tt.limit)
			if err != nil {
				return err
			}
			if got := ids(hs); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("DueHolds(%q, wt0+10m, %d) = %v; want %v", tt.account, tt.limit, got, tt.want)
			}
		}
		return nil
	})
}

// wrTxEntries: Entries pages an account's journal newest first, with
// postings, and no other account's entry.
func wrTxEntries(t *testing.T, s credit.Store) {
	wAccount(t, s, "acme", 0, credit.Whole(100))
	wAccount(t, s, "bob", 0, credit.Whole(100))
	grant := credit.Entry{Kind: credit.EntryGrant, Account: "acme", Time: wt0, Ref: "grt_acme", Memo: "welcome",
		AvailableDelta: 100000, AvailableAfter: 100000, Postings: []credit.Posting{
			{Account: credit.PlatformAccount, Book: credit.BookIssued, Amount: -100000},
			{Account: "acme", Book: credit.BookAvailable, Grant: "grt_acme", Amount: 100000},
		}}
	hold := credit.Entry{Kind: credit.EntryHold, Account: "acme", Time: wt0.Add(time.Second), Ref: "hld_1", Generation: "gen_1",
		AvailableDelta: -49000, HeldDelta: 49000, AvailableAfter: 51000, HeldAfter: 49000, Postings: []credit.Posting{
			{Account: "acme", Book: credit.BookAvailable, Grant: "grt_acme", Amount: -49000},
			{Account: "acme", Book: credit.BookHeld, Grant: "grt_acme", Amount: 49000},
		}}
	capture := credit.Entry{Kind: credit.EntryCapture, Account: "acme", Time: wt0.Add(2 * time.Second), Ref: "hld_1", Generation: "gen_1",
		Model: "nano-banana-2", ModelKind: credit.KindImage, CatalogVersion: "v1",
		HeldDelta: -49000, AvailableAfter: 51000, ChargedDelta: 49000, Postings: []credit.Posting{
			{Account: "acme", Book: credit.BookHeld, Grant: "grt_acme", Amount: -49000},
			{Account: credit.PlatformAccount, Book: credit.BookRevenue, Amount: 49000},
		}}
	MustApply(t, s, "acme", &credit.Change{Entries: []credit.Entry{grant, hold}})
	// Interleaved: another account's entry, in the same Write.
	err := s.Write(context.Background(), []*credit.Batch{
		wBatch("bob", &credit.Change{Entries: []credit.Entry{*wCharge("bob", "imagen-4", credit.KindImage, wt0, 1000)}}),
		wBatch("acme", &credit.Change{Entries: []credit.Entry{capture}}),
	})
	if err != nil {
		t.Fatalf("Write(bob, acme): %v", err)
	}
	want := wEntriesOldestFirst(t, s, "acme")
	if len(want) != 3 {
		t.Fatalf("Entries(acme) = %d; want 3", len(want))
	}
	for i, x := range []credit.Entry{grant, hold, capture} {
		x.ID = want[i].ID
		if !reflect.DeepEqual(want[i], x) {
			t.Errorf("entry %d =\n%+v\nwant\n%+v", i, want[i], x)
		}
	}
	newest := []credit.Entry{want[2], want[1], want[0]}
	wView(t, s, func(tx credit.Tx) error {
		for _, tt := range []struct {
			before int64
			limit  int
			want   []credit.Entry
		}{
			{0, 10, newest},
			{0, 0, newest},
			{0, 2, newest[:2]},
			{want[2].ID, 10, newest[1:]},
			{want[1].ID, 2, newest[2:]},
			{want[0].ID, 10, nil},
		} {
			got, err := tx.Entries("acme", "", tt.before, tt.limit)
			if err != nil {
				return err
			}
			if len(got) == 0 && len(tt.want) == 0 {
				continue
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Entries(acme, %d, %d) =\n%+v\nwant\n%+v", tt.before, tt.limit, got, tt.want)
			}
		}
		return nil
	})
}

// wrTxUsage: Usage sums charges and list credits by day, model and kind,
// whole days from the rollup the store keeps as Write appends the journal,
// partial days from the journal. A capture in an unlimited window, which
// charges 0 at a list price, is in the usage with its list credits, and is
// no charge.
func wrTxUsage(t *testing.T, s credit.Store) {
	wAccount(t, s, "acme", 0, credit.Whole(1000))
	wAccount(t, s, "bob", 0, credit.Whole(1000))
	day1 := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	day2 := day1.Add(24 * time.Hour)
	unlimited := func(at time.Time, list credit.Credits) *credit.Entry {
		x := &credit.Entry{Kind: credit.EntryCapture, Account: "acme", Time: at, Model: "nano-banana-pro", ModelKind: credit.KindImage,
			Generation: "gen_u", CatalogVersion: "v1", ListCredits: list}
		if list < 0 {
			x.Kind = credit.EntryRefund
		}
		return x
	}
	var acme []credit.Entry
	for _, x := range []*credit.Entry{
		wCharge("acme", "nano-banana-2", credit.KindImage, day1, 49000),
		unlimited(day1.Add(12*time.Hour), 24500),
		wCharge("acme", "nano-banana-2", credit.KindImage, day1.Add(23*time.Hour+59*time.Minute), 73500),
		wCharge("acme", "nano-banana-2", credit.KindImage, day1.Add(24*time.Hour).In(wTokyo), 98000), // day 2, first µs (09:00 in Tokyo)
		wCharge("acme", "topaz", credit.KindUpscale, day1.Add(time.Hour), 41000),
		wCharge("acme", "nano-banana-2", credit.KindImage, day2.Add(time.Hour), -49000),                               // a refund
		wCharge("acme", "", "", day2.Add(2*time.Hour), 5000),                                                          // a generic hold's capture
		wCharge("acme", "nano-banana-2", credit.KindImage, day1.Add(-time.Microsecond), 1000),                         // before from
		wCharge("acme", "nano-banana-2", credit.KindImage, day2.Add(24*time.Hour), 1000),                              // at to: excluded
		{Kind: credit.EntryRelease, Account: "acme", Time: day1, Model: "nano-banana-2", ModelKind: credit.KindImage}, // charged nothing
		unlimited(day2.Add(30*time.Minute), 24500),
		unlimited(day2.Add(75*time.Minute), -12250), // half of it refunded
	} {
		acme = append(acme, *x)
	}
	// In two Writes, so that the rollup adds to rows it has.
	MustApply(t, s, "acme", &credit.Change{Entries: acme[:4]})
	err := s.Write(context.Background(), []*credit.Batch{
		wBatch("acme", &credit.Change{Entries: acme[4:]}),
		wBatch("bob", &credit.Change{Entries: []credit.Entry{*wCharge("bob", "nano-banana-2", credit.KindImage, day1, 1000)}}),
	})
	if err != nil {
		t.Fatalf("Write(acme, bob): %v", err)
	}
	want := []credit.UsageRow{
		{Day: "2025-03-01", Model: "nano-banana-2", Kind: "image", Charged: 122500, List: 122500, Count: 2},
		{Day: "2025-03-01", Model: "nano-banana-pro", Kind: "image", Charged: 0, List: 24500, Count: 0},
		{Day: "2025-03-01", Model: "topaz", Kind: "upscale", Charged: 41000, List: 41000, Count: 1},
		{Day: "2025-03-02", Model: "", Kind: "", Charged: 5000, List: 5000, Count: 1},
		{Day: "2025-03-02", Model: "nano-banana-2", Kind: "image", Charged: 49000, List: 49000, Count: 1}, // 98 charged, 49 refunded: one charge
		{Day: "2025-03-02", Model: "nano-banana-pro", Kind: "image", Charged: 0, List: 12250, Count: 0},
	}
	wView(t, s, func(tx credit.Tx) error {
		// Whole days (from the rollup).
		got, err := tx.Usage("acme", day1, day2.Add(24*time.Hour))
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Usage(acme, March 1–2) =\n%+v\nwant\n%+v", got, want)
		}
		// Partial days only (from the journal): 01:00 on March 1 to 01:30
		// on March 2.
		got, err = tx.Usage("acme", day1.Add(time.Hour), day2.Add(90*time.Minute))
		if err != nil {
			return err
		}
		partial := []credit.UsageRow{
			{Day: "2025-03-01", Model: "nano-banana-2", Kind: "image", Charged: 73500, List: 73500, Count: 1},
			{Day: "2025-03-01", Model: "nano-banana-pro", Kind: "image", Charged: 0, List: 24500, Count: 0},
			{Day: "2025-03-01", Model: "topaz", Kind: "upscale", Charged: 41000, List: 41000, Count: 1},
			{Day: "2025-03-02", Model: "nano-banana-2", Kind: "image", Charged: 49000, List: 49000, Count: 1},
			{Day: "2025-03-02", Model: "nano-banana-pro", Kind: "image", Charged: 0, List: 12250, Count: 0},
		}
		if !reflect.DeepEqual(got, partial) {
			t.Errorf("Usage(acme, March 1 01:00 – March 2 01:30) =\n%+v\nwant\n%+v", got, partial)
		}
		return nil
	})
	// The rollup itself.
	snap := wSnapshot(t, s)
	rollup := map[string]credit.UsageRow{}
	for _, u := range snap.Usage {
		if u.Account == "acme" {
			rollup[u.Day+"/"+u.Model+"/"+u.Kind] = u.UsageRow
		}
	}
	wantRollup := map[string]credit.UsageRow{
		"2025-02-28/nano-banana-2/image": {Day: "2025-02-28", Model: "nano-banana-2", Kind: "image", Charged: 1000, List: 1000, Count: 1},
		"2025-03-03/nano-banana-2/image": {Day: "2025-03-03", Model: "nano-banana-2", Kind: "image", Charged: 1000, List: 1000, Count: 1},
	}
	for _, r := range want {
		wantRollup[r.Day+"/"+r.Model+"/"+r.Kind] = r
	}
	if !reflect.DeepEqual(rollup, wantRollup) {
		t.Errorf("Snapshot usage rollup of acme =\n%+v\nwant\n%+v", rollup, wantRollup)
	}
}

// wrTxSubscriptions: Subscription and Subscriptions read what Write
// inserted and updated; DueSubscriptions finds, across accounts, the
// subscriptions whose RenewsAt is set and ≤ now, earliest first; and Write
// loads every subscription of its account, and none of another's.
func wrTxSubscriptions(t *testing.T, s credit.Store) {
	wAccount(t, s, "acme", 0, 0)
	wAccount(t, s, "bob", 0, 0)
	h, m := time.Hour, time.Minute
	sub := func(id, account string, created, renews time.Time) credit.Subscription {
		return credit.Subscription{ID: id, Account: account, Plan: "pro", Billing: credit.BillMonth, TimeZone: "Europe/Paris",
			StartsAt: created, RenewsAt: renews, CreatedAt: created}
	}
	var never time.Time
	a0 := sub("s-a0", "acme", wt0, never) // no month left to give
	a1 := sub("s-a1", "acme", wt0.Add(m), wt0.Add(2*h))
	a1.Usage = []credit.WindowUsage{{Open: 1, Day: "2025-03-14", Fast: 3}}
	a2 := sub("s-a2", "acme", wt0.Add(m), wt0.Add(h)) // created with a1: after it by id
	b1 := sub("s-b1", "bob", wt0, wt0.Add(h))         // due with a2: after it by id
	b2 := sub("s-b2", "bob", wt0.Add(m), wt0.Add(5*h))
	MustApply(t, s, "acme", &credit.Change{NewSubscriptions: []credit.Subscription{a2, a0, a1}})
	MustApply(t, s, "bob", &credit.Change{NewSubscriptions: []credit.Subscription{b2, b1}})

	ids := func(us []credit.Subscription) []string {
		var out []string
		for _, u := range us {
			out = append(out, u.ID)
		}
		return out
	}
	due := func(when string, cases []struct {
		now   time.Time
		limit int
		want  []string
	}) {
		t.Helper()
		wView(t, s, func(tx credit.Tx) error {
			for _, tt := range cases {
				us, err := tx.DueSubscriptions(tt.now, tt.limit)
				if err != nil {
					return err
				}
				if got := ids(us); !reflect.DeepEqual(got, tt.want) {
					t.Errorf("%s: DueSubscriptions(wt0+%v, %d) = %v; want %v", when, tt.now.Sub(wt0), tt.limit, got, tt.want)
				}
			}
			return nil
		})
	}
	due("after the inserts", []struct {
		now   time.Time
		limit int
		want  []string
	}{
		{wt0.Add(3 * h), 10, []string{"s-a2", "s-b1", "s-a1"}},
		{wt0.Add(3 * h), 2, []string{"s-a2", "s-b1"}},
		{wt0.Add(3 * h), 0, []string{"s-a2", "s-b1", "s-a1"}},
		{wt0.Add(h), 10, []string{"s-a2", "s-b1"}}, // due at RenewsAt
		{wt0.Add(h - time.Microsecond), 10, nil},
		{wt0.Add(5 * h), 10, []string{"s-a2", "s-b1", "s-a1", "s-b2"}},
	})
	wView(t, s, func(tx credit.Tx) error {
		for account, want := range map[string][]credit.Subscription{"acme": {a0, a1, a2}, "bob": {b1, b2}} {
			us, err := tx.Subscriptions(account)
			if err != nil {
				return err
			}
			if !reflect.DeepEqual(us, want) {
				t.Errorf("Subscriptions(%s) =\n%+v\nwant (by creation, then id)\n%+v", account, us, want)
			}
		}
		u, err := tx.Subscription("s-a1")
		if err == nil && !reflect.DeepEqual(u, a1) {
			t.Errorf("Subscription(s-a1) = %+v; want %+v", u, a1)
		}
		return err
	})
	st := wLoad(t, s, "acme", credit.Refs{Now: wt0})
	wantState(t, s, "acme", "Load(acme)", st, &credit.Account{ID: "acme", CreatedAt: wt0}, nil, nil, nil, nil)
	if got := ids(sortedSubs(st.Subscriptions)); !reflect.DeepEqual(got, []string{"s-a0", "s-a1", "s-a2"}) {
		t.Errorf("Load(acme): subscriptions %v; want s-a0, s-a1, s-a2 (every one of acme's, none of bob's)", got)
	}

	// a2 gives its month and renews later; a1 is canceled at its period's
	// end and has no month left to give.
	a2.Period, a2.RenewsAt = 1, wt0.Add(30*24*h)
	a2.Usage = []credit.WindowUsage{{}, {Open: 2}}
	a1.Period, a1.RenewsAt, a1.EndsAt, a1.CanceledAt, a1.Usage = 1, never, wt0.Add(2*h), wt0.Add(m), nil
	MustApply(t, s, "acme", &credit.Change{Subscriptions: []credit.Subscription{a1, a2}})
	due("after the updates", []struct {
		now   time.Time
		limit int
		want  []string
	}{
		{wt0.Add(3 * h), 10, []string{"s-b1"}},
		{wt0.Add(30 * 24 * h), 10, []string{"s-b1", "s-b2", "s-a2"}},
	})
	for _, when := range []string{"after the updates", "after the updates and a failed Write"} {
		st := wLoad(t, s, "acme", credit.Refs{Now: wt0})
		if got, want := sortedSubs(st.Subscriptions), []credit.Subscription{a0, a1, a2}; !reflect.DeepEqual(got, want) {
			t.Errorf("Load(acme) %s: Subscriptions =\n%+v\nwant\n%+v", when, got, want)
		}
		wFailedWrite(t, s)
	}
	wView(t, s, func(tx credit.Tx) error {
		us, err := tx.Subscriptions("acme")
		if err == nil && !reflect.DeepEqual(us, []credit.Subscription{a0, a1, a2}) {
			t.Errorf("Subscriptions(acme) after the updates =\n%+v\nwant\n%+v", us, []credit.Subscription{a0, a1, a2})
		}
		return err
	})
}
