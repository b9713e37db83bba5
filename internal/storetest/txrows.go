package storetest

import (
	"context"
	"crypto/sha256"
	"reflect"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// The Tx contract, noun by noun: each row comes back as it went in, every
// time in UTC to the microsecond, and the lists come in their documented
// order. Part of runTx.

// refused runs fn alone in an Update and checks its answer. Each refusal
// gets a transaction of its own: a store may abort the transaction a refused
// write was in (PostgreSQL does), so nothing else may follow it there.
func refused(t testing.TB, s credit.Store, what string, fn func(credit.Tx) error, code, reason string) {
	t.Helper()
	wantErr(t, what, s.Update(context.Background(), fn), code, reason)
}

func txGrant(t *testing.T, s credit.Store) {
	rowAccount(t, s, "acme", 0, 0)
	paris := time.FixedZone("CET", 3600)
	want := credit.Grant{ID: "grt_1", Account: "acme", Source: credit.SourcePromo, Granted: 73500, Remaining: 50000, Held: 23500,
		Priority: 3, ExpiresAt: tx0.Add(30 * 24 * time.Hour), CreatedAt: tx0, Memo: "spring promo ✿"}
	never := credit.Grant{ID: "grt_2", Account: "acme", Source: credit.SourceSubscription, Granted: 1, CreatedAt: tx0}
	mustUpdate(t, s, func(tx credit.Tx) error {
		g := want
		g.ExpiresAt = g.ExpiresAt.In(paris)
		if err := tx.InsertGrant(g); err != nil {
			return err
		}
		return tx.InsertGrant(never)
	})
	mustView(t, s, func(tx credit.Tx) error {
		for _, w := range []credit.Grant{want, never} {
			got, err := tx.Grant(w.ID)
			if err != nil {
				return err
			}
			if !reflect.DeepEqual(got, w) {
				t.Errorf("Grant(%s) = %+v; want %+v", w.ID, got, w)
			}
		}
		_, err := tx.Grant("grt_none")
		wantErr(t, "Grant(grt_none)", err, credit.NotFound, "unknown_grant")
		return nil
	})

	mustUpdate(t, s, func(tx credit.Tx) error {
		if err := tx.UpdateGrant("grt_1", -10000, 10000); err != nil {
			return err
		}
		if err := tx.UpdateGrant("grt_1", 0, -33500); err != nil {
			return err
		}
		wantErr(t, "UpdateGrant(grt_none)", tx.UpdateGrant("grt_none", 1, 0), credit.NotFound, "unknown_grant")
		g, err := tx.Grant("grt_1")
		if err == nil && (g.Remaining != 40000 || g.Held != 0) {
			t.Errorf("after UpdateGrant: remaining %v held %v; want 40 and 0", g.Remaining, g.Held)
		}
		if err := tx.ExpireGrant("grt_1", want.ExpiresAt); err != nil {
			return err
		}
		wantErr(t, "ExpireGrant(grt_none)", tx.ExpireGrant("grt_none", tx0), credit.NotFound, "unknown_grant")
		return err
	})
	mustView(t, s, func(tx credit.Tx) error {
		got, err := tx.Grant("grt_1")
		w := want
		w.Remaining, w.Held, w.ExpiredAt = 0, 0, want.ExpiresAt
		if err == nil && !reflect.DeepEqual(got, w) {
			t.Errorf("Grant(grt_1) after expiry = %+v; want %+v", got, w)
		}
		return err
	})
}

// txGrantConsumptionOrder: priority (lower first), then expiry (earliest
// first, never-expiring last), then creation, then id.
func txGrantConsumptionOrder(t *testing.T, s credit.Store) {
	rowAccount(t, s, "acme", 0, 0) // ovd_acme, priority 2^31: last of all
	// Inserted in this order; the ids are chosen so that neither insertion
	// nor id order is the answer.
	grants := []struct {
		id        string
		priority  int
		expiresIn int // days after tx0; 0: never
		createdIn int // seconds after tx0
	}{
		{"m", 1, 0, 0},
		{"k", 0, 0, 0},
		{"z", 0, 2, 1},
		{"q", 0, 1, 0},
		{"c", 0, 2, 0},
		{"b", 0, 2, 0},
		{"a", 0, 0, 1},
		{"y", 0, 30, 0},
		{"x", 0, 31, 0},
		{"d", 1, 100, 0},
	}
	want := []string{
		"q",           // priority 0, expires first
		"b", "c", "z", // priority 0, expire second: created first, then by id; z was created later
		"y", "x", // priority 0, expire later
		"k", "a", // priority 0, never expire: k was created first
		"d", "m", // priority 1: the expiring one first
		"ovd_acme",
	}
	mustUpdate(t, s, func(tx credit.Tx) error {
		for _, g := range grants {
			var exp time.Time
			if g.expiresIn != 0 {
				exp = tx0.Add(time.Duration(g.expiresIn) * 24 * time.Hour)
			}
			err := tx.InsertGrant(credit.Grant{ID: g.id, Account: "acme", Source: credit.SourceTopup, Granted: 1, Remaining: 1,
				Priority: g.priority, ExpiresAt: exp, CreatedAt: tx0.Add(time.Duration(g.createdIn) * time.Second)})
			if err != nil {
				return err
			}
		}
		return nil
	})
	mustView(t, s, func(tx credit.Tx) error {
		gs, err := tx.Grants("acme")
		var got []string
		for _, g := range gs {
			got = append(got, g.ID)
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Grants(acme) order = %v; want %v", got, want)
		}
		none, err2 := tx.Grants("nobody")
		if len(none) != 0 || err2 != nil {
			t.Errorf("Grants(nobody) = %v, %v; want none", none, err2)
		}
		return err
	})
}

func txDueGrants(t *testing.T, s credit.Store) {
	rowAccount(t, s, "acme", 0, 0)
	rowAccount(t, s, "bob", 0, 0)
	h := time.Hour
	mustUpdate(t, s, func(tx credit.Tx) error {
		for _, g := range []credit.Grant{
			{ID: "a1", Account: "acme", Remaining: 5, ExpiresAt: tx0.Add(2 * h)},
			{ID: "a2", Account: "acme", Remaining: 5, ExpiresAt: tx0.Add(1 * h)},
			{ID: "a3", Account: "acme", Remaining: 0, Held: 5, ExpiresAt: tx0.Add(1 * h)}, // nothing left, but due to be marked expired
			{ID: "a4", Account: "acme", Remaining: 5},                                     // never expires
			{ID: "a5", Account: "acme", Remaining: 5, ExpiresAt: tx0.Add(5 * h)},          // not yet
			{ID: "a6", Account: "acme", Remaining: 5, ExpiresAt: tx0.Add(1 * h)},          // already expired, below
			{ID: "b1", Account: "bob", Remaining: 5, ExpiresAt: tx0.Add(3 * h)},           // due at its expiry, not a µs before
		} {
			g.Source, g.Granted, g.CreatedAt = credit.SourcePromo, 10, tx0
			if err := tx.InsertGrant(g); err != nil {
				return err
			}
		}
		return tx.ExpireGrant("a6", tx0.Add(h))
	})
	now := tx0.Add(3 * h)
	for _, tt := range []struct {
		account string
		now     time.Time
		limit   int
		want    []string
	}{
		{"acme", now, 100, []string{"a2", "a3", "a1"}},
		{"", now, 100, []string{"a2", "a3", "a1", "b1"}},
		{"", now, 2, []string{"a2", "a3"}},
		{"", now, 0, []string{"a2", "a3", "a1", "b1"}},
		{"bob", now, 100, []string{"b1"}},
		{"bob", now.Add(-time.Microsecond), 100, nil},
		{"nobody", now, 100, nil},
	} {
		mustView(t, s, func(tx credit.Tx) error {
			gs, err := tx.DueGrants(tt.account, tt.now, tt.limit)
			var got []string
			for _, g := range gs {
				got = append(got, g.ID)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("DueGrants(%q, tx0+%v, %d) = %v; want %v", tt.account, tt.now.Sub(tx0), tt.limit, got, tt.want)
			}
			return err
		})
	}
}

func txHold(t *testing.T, s credit.Store) {
	rowAccount(t, s, "acme", 0, 0)
	mustUpdate(t, s, func(tx credit.Tx) error {
		for _, id := range []string{"g-a", "g-m", "g-z"} {
			if err := tx.InsertGrant(credit.Grant{ID: id, Account: "acme", Source: credit.SourceTopup, Granted: 100000, CreatedAt: tx0}); err != nil {
				return err
			}
		}
		return nil
	})
	// Allocations keep their order, which is not the order of grant ids.
	want := credit.Hold{ID: "hld_1", Account: "acme", Amount: 60000, Status: credit.HoldOpen,
		ExpiresAt: tx0.Add(15 * time.Minute), CreatedAt: tx0,
		Allocations: []credit.Allocation{{Grant: "g-z", Amount: 10000}, {Grant: "g-a", Amount: 20000}, {Grant: "g-m", Amount: 30000}}}
	mustUpdate(t, s, func(tx credit.Tx) error { return tx.InsertHold(want) })
	check := func(want credit.Hold) {
		t.Helper()
		mustView(t, s, func(tx credit.Tx) error {
			got, err := tx.Hold(want.ID)
			if err == nil && !reflect.DeepEqual(got, want) {
				t.Errorf("Hold(%s) = %+v; want %+v", want.ID, got, want)
			}
			return err
		})
	}
	check(want) // Generation "" and ResolvedAt zero come back as such

	// Capture 35: the first two allocations whole and 5 of the third; the
	// rest released.
	resolved := want
	resolved.Allocations = []credit.Allocation{{Grant: "g-z", Amount: 10000, Captured: 10000, Refunded: 2500},
		{Grant: "g-a", Amount: 20000, Captured: 20000}, {Grant: "g-m", Amount: 30000, Captured: 5000}}
	resolved.Status, resolved.Captured, resolved.Released, resolved.ResolvedAt = credit.HoldCaptured, 35000, 25000, tx0.Add(time.Minute)
	mustUpdate(t, s, func(tx credit.Tx) error { return tx.UpdateHold(resolved) })
	check(resolved)

	// Allocations may shrink or grow; the stored ones follow.
	shrunk := resolved
	shrunk.Allocations = resolved.Allocations[:1]
	mustUpdate(t, s, func(tx credit.Tx) error { return tx.UpdateHold(shrunk) })
	check(shrunk)
	mustUpdate(t, s, func(tx credit.Tx) error { return tx.UpdateHold(resolved) })
	check(resolved)

	refused(t, s, "Hold(hld_none)", func(tx credit.Tx) error { _, err := tx.Hold("hld_none"); return err }, credit.NotFound, "unknown_hold")
	refused(t, s, "UpdateHold(hld_none)", func(tx credit.Tx) error {
		return tx.UpdateHold(credit.Hold{ID: "hld_none", Status: credit.HoldReleased})
	}, credit.NotFound, "unknown_hold")
	refused(t, s, "InsertHold(hld_1 again)", func(tx credit.Tx) error { return tx.InsertHold(want) }, credit.Conflict, "id_exists")
	refused(t, s, "InsertHold(unknown account)", func(tx credit.Tx) error {
		return tx.InsertHold(credit.Hold{ID: "hld_2", Account: "nobody", Amount: 1, Status: credit.HoldOpen, ExpiresAt: tx0, CreatedAt: tx0})
	}, credit.NotFound, "unknown_account")
	check(resolved)

	// A hold whose allocation names an unknown grant: the hold row was
	// written, its allocation was not. The transaction cannot commit half a
	// hold, even when fn goes on.
	half := credit.Hold{ID: "hld_3", Account: "acme", Amount: 1, Status: credit.HoldOpen, ExpiresAt: tx0, CreatedAt: tx0,
		Allocations: []credit.Allocation{{Grant: "g-nope", Amount: 1}}}
	err := s.Update(t.Context(), func(tx credit.Tx) error {
		wantErr(t, "InsertHold(unknown grant)", tx.InsertHold(half), credit.NotFound, "unknown_grant")
		return nil
	})
	wantErr(t, "Update after half an InsertHold", err, credit.NotFound, "unknown_grant")
	mustView(t, s, func(tx credit.Tx) error {
		_, err := tx.Hold("hld_3")
		wantErr(t, "Hold(hld_3)", err, credit.NotFound, "unknown_hold")
		return nil
	})
}

func txOpenHoldsDueHolds(t *testing.T, s credit.Store) {
	rowAccount(t, s, "acme", 0, credit.Whole(100))
	rowAccount(t, s, "bob", 0, credit.Whole(100))
	m := time.Minute
	mustUpdate(t, s, func(tx credit.Tx) error {
		for _, h := range []credit.Hold{
			{ID: "h1", Account: "acme", CreatedAt: tx0.Add(2 * m), ExpiresAt: tx0.Add(10 * m)}, // due at its expiry
			{ID: "h2", Account: "acme", CreatedAt: tx0.Add(1 * m), ExpiresAt: tx0.Add(30 * m)},
			{ID: "h3", Account: "acme", CreatedAt: tx0.Add(3 * m), ExpiresAt: tx0.Add(5 * m)},
			{ID: "h4", Account: "acme", CreatedAt: tx0, ExpiresAt: tx0.Add(5 * m), Status: credit.HoldReleased},
			{ID: "h5", Account: "bob", CreatedAt: tx0, ExpiresAt: tx0.Add(7 * m)},
		} {
			if h.Status == "" {
				h.Status = credit.HoldOpen
			}
			h.Amount = 1000
			h.Allocations = []credit.Allocation{{Grant: "grt_" + h.Account, Amount: 1000}}
			if err := tx.InsertHold(h); err != nil {
				return err
			}
		}
		return nil
	})
	ids := func(hs []credit.Hold) []string {
		var out []string
		for _, h := range hs {
			if len(h.Allocations) != 1 || h.Allocations[0].Amount != 1000 {
				t.Errorf("hold %s allocations = %+v; want its one allocation", h.ID, h.Allocations)
			}
			out = append(out, h.ID)
		}
		return out
	}
	mustView(t, s, func(tx credit.Tx) error {
		hs, err := tx.OpenHolds("acme")
		if got, want := ids(hs), []string{"h2", "h1", "h3"}; !reflect.DeepEqual(got, want) {
			t.Errorf("OpenHolds(acme) = %v; want %v (open ones, oldest first)", got, want)
		}
		if err != nil {
			return err
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
			hs, err := tx.DueHolds(tt.account, tx0.Add(10*m), tt.limit)
			if err != nil {
				return err
			}
			if got := ids(hs); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("DueHolds(%q, tx0+10m, %d) = %v; want %v", tt.account, tt.limit, got, tt.want)
			}
		}
		return nil
	})
}

func txGeneration(t *testing.T, s credit.Store) {
	rowAccount(t, s, "acme", 0, credit.Whole(1000))
	want := credit.Generation{ID: "gen_1", Account: "acme", Status: credit.GenerationHeld, Hold: "hld_1",
		Model: "nano-banana-pro", Kind: credit.KindImage, CatalogVersion: "2025-03-01", Images: 3,
		HoldCredits: 480000, UnitCredits: 160000, Quote: []byte(`{"total_credits":480}`),
		ExpiresAt: tx0.Add(15 * time.Minute), CreatedAt: tx0}
	hold := credit.Hold{ID: "hld_1", Account: "acme", Generation: "gen_1", Amount: 480000, Status: credit.HoldOpen,
		ExpiresAt: want.ExpiresAt, CreatedAt: tx0, Allocations: []credit.Allocation{{Grant: "grt_acme", Amount: 480000}}}
	// The generation names its hold before the hold exists, and the hold its
	// generation: both are checked at commit.
	mustUpdate(t, s, func(tx credit.Tx) error {
		if err := tx.InsertGeneration(want); err != nil {
			return err
		}
		return tx.InsertHold(hold)
	})
	check := func(want credit.Generation) {
		t.Helper()
		mustView(t, s, func(tx credit.Tx) error {
			got, err := tx.Generation(want.ID)
			if err == nil && !reflect.DeepEqual(got, want) {
				t.Errorf("Generation(%s) = %+v; want %+v", want.ID, got, want)
			}
			h, err := tx.Hold(hold.ID)
			if err == nil && h.Generation != want.ID {
				t.Errorf("Hold(%s).Generation = %q; want %q", hold.ID, h.Generation, want.ID)
			}
			return err
		})
	}
	check(want)

	done := want
	done.Status, done.ImagesDelivered, done.Charged, done.Refunded, done.ResolvedAt = credit.GenerationCompleted, 2, 320000, 160000, tx0.Add(time.Minute)
	mustUpdate(t, s, func(tx credit.Tx) error { return tx.UpdateGeneration(done) })
	check(done)

	refused(t, s, "Generation(gen_none)", func(tx credit.Tx) error { _, err := tx.Generation("gen_none"); return err }, credit.NotFound, "unknown_generation")
	refused(t, s, "UpdateGeneration(gen_none)", func(tx credit.Tx) error {
		return tx.UpdateGeneration(credit.Generation{ID: "gen_none", Status: credit.GenerationFailed})
	}, credit.NotFound, "unknown_generation")
	refused(t, s, "InsertGeneration(gen_1 again)", func(tx credit.Tx) error { return tx.InsertGeneration(want) }, credit.Conflict, "id_exists")
	other := want
	other.ID, other.Account = "gen_2", "nobody"
	refused(t, s, "InsertGeneration(unknown account)", func(tx credit.Tx) error { return tx.InsertGeneration(other) }, credit.NotFound, "unknown_account")
	check(done)

	// A generation whose hold never comes is refused at commit.
	err := s.Update(t.Context(), func(tx credit.Tx) error {
		g := want
		g.ID, g.Hold, g.Quote = "gen_3", "hld_never", nil
		return tx.InsertGeneration(g)
	})
	wantErr(t, "commit of a generation without its hold", err, credit.Internal, "store_error")
}

func txIdempotency(t *testing.T, s credit.Store) {
	rec := credit.IdempotencyRecord{Idempotency: credit.Idempotency{Scope: "key_1", Key: "k-42", Hash: "sha256:ab12"},
		Response: []byte(`{"id":"gen_1"}`), CreatedAt: tx0}
	mustUpdate(t, s, func(tx credit.Tx) error {
		got, err := tx.Idempotency("key_1", "k-42")
		if got != nil || err != nil {
			t.Errorf("Idempotency(unused key) = %+v, %v; want nil, nil", got, err)
		}
		return tx.PutIdempotency(rec)
	})
	mustUpdate(t, s, func(tx credit.Tx) error {
		got, err := tx.Idempotency("key_1", "k-42")
		if err == nil && !reflect.DeepEqual(got, &rec) {
			t.Errorf("Idempotency(key_1, k-42) = %+v; want %+v", got, rec)
		}
		// Scopes never collide.
		if other, err := tx.Idempotency("key_2", "k-42"); other != nil || err != nil {
			t.Errorf("Idempotency(key_2, k-42) = %+v, %v; want nil, nil", other, err)
		}
		return err
	})
	again := rec
	again.Hash = "sha256:cd34"
	refused(t, s, "PutIdempotency(same scope and key)", func(tx credit.Tx) error { return tx.PutIdempotency(again) }, credit.Conflict, "idempotency_conflict")
}

func txKey(t *testing.T, s credit.Store) {
	rowAccount(t, s, "acme", 0, 0)
	sum := sha256.Sum256([]byte("tally_k1_secret"))
	admin := credit.Key{ID: "k1", Hash: sum[:], Scope: credit.ScopeAdmin, Name: "ops", CreatedAt: tx0}
	reader := credit.Key{ID: "k0", Hash: []byte{1, 2, 3}, Scope: credit.ScopeAccount, Account: "acme", Name: "dashboard",
		CreatedAt: tx0.Add(time.Second), ExpiresAt: tx0.Add(24 * time.Hour)}
	mustUpdate(t, s, func(tx credit.Tx) error {
		if err := tx.InsertKey(admin); err != nil {
			return err
		}
		return tx.InsertKey(reader)
	})
	mustUpdate(t, s, func(tx credit.Tx) error {
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
		if !reflect.DeepEqual(keys, []credit.Key{admin, reader}) {
			t.Errorf("Keys() = %+v; want k1 then k0 (oldest first)", keys)
		}
		if err := tx.RevokeKey("k0", tx0.Add(time.Hour)); err != nil {
			return err
		}
		return tx.RevokeKey("k0", tx0.Add(2*time.Hour)) // the first revocation stands
	})
	refused(t, s, "Key(nope)", func(tx credit.Tx) error { _, err := tx.Key("nope"); return err }, credit.NotFound, "unknown_key")
	refused(t, s, "RevokeKey(nope)", func(tx credit.Tx) error { return tx.RevokeKey("nope", tx0) }, credit.NotFound, "unknown_key")
	refused(t, s, "InsertKey(k1 again)", func(tx credit.Tx) error { return tx.InsertKey(admin) }, credit.Conflict, "key_exists")
	stray := reader
	stray.ID, stray.Account = "k2", "nobody"
	refused(t, s, "InsertKey(unknown account)", func(tx credit.Tx) error { return tx.InsertKey(stray) }, credit.NotFound, "unknown_account")
	mustView(t, s, func(tx credit.Tx) error {
		got, err := tx.Key("k0")
		want := reader
		want.RevokedAt = tx0.Add(time.Hour)
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Errorf("Key(k0) after RevokeKey = %+v; want %+v", got, want)
		}
		return err
	})
}
