package sqlite_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

func TestGrant_RoundTrip(t *testing.T) {
	db := MustOpenDB(t)
	newAccount(t, db, "acme", 0, 0)
	paris := time.FixedZone("CET", 3600)
	want := credit.Grant{ID: "grt_1", Account: "acme", Source: credit.SourcePromo, Granted: 73500, Remaining: 50000, Held: 23500,
		Priority: 3, ExpiresAt: t0.Add(30 * 24 * time.Hour), CreatedAt: t0, Memo: "spring promo ✿"}
	never := credit.Grant{ID: "grt_2", Account: "acme", Source: credit.SourceSubscription, Granted: 1, CreatedAt: t0}
	mustUpdate(t, db, func(tx credit.Tx) error {
		g := want
		g.ExpiresAt = g.ExpiresAt.In(paris)
		if err := tx.InsertGrant(g); err != nil {
			return err
		}
		return tx.InsertGrant(never)
	})
	mustView(t, db, func(tx credit.Tx) error {
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
		wantError(t, "Grant(grt_none)", err, credit.NotFound, "unknown_grant")
		return nil
	})

	mustUpdate(t, db, func(tx credit.Tx) error {
		if err := tx.UpdateGrant("grt_1", -10000, 10000); err != nil {
			return err
		}
		if err := tx.UpdateGrant("grt_1", 0, -33500); err != nil {
			return err
		}
		wantError(t, "UpdateGrant(grt_none)", tx.UpdateGrant("grt_none", 1, 0), credit.NotFound, "unknown_grant")
		g, err := tx.Grant("grt_1")
		if err == nil && (g.Remaining != 40000 || g.Held != 0) {
			t.Errorf("after UpdateGrant: remaining %v held %v; want 40 and 0", g.Remaining, g.Held)
		}
		if err := tx.ExpireGrant("grt_1", want.ExpiresAt); err != nil {
			return err
		}
		wantError(t, "ExpireGrant(grt_none)", tx.ExpireGrant("grt_none", t0), credit.NotFound, "unknown_grant")
		return err
	})
	mustView(t, db, func(tx credit.Tx) error {
		got, err := tx.Grant("grt_1")
		w := want
		w.Remaining, w.Held, w.ExpiredAt = 0, 0, want.ExpiresAt
		if err == nil && !reflect.DeepEqual(got, w) {
			t.Errorf("Grant(grt_1) after expiry = %+v; want %+v", got, w)
		}
		return err
	})
}

func TestInsertGrant_Errors(t *testing.T) {
	db := MustOpenDB(t)
	newAccount(t, db, "acme", 0, 1000) // grt_acme
	for _, tt := range []struct {
		name         string
		g            credit.Grant
		code, reason string
	}{
		{"ErrIDExists", credit.Grant{ID: "grt_acme", Account: "acme", Source: credit.SourceTopup, CreatedAt: t0}, credit.Conflict, "id_exists"},
		{"ErrUnknownAccount", credit.Grant{ID: "grt_x", Account: "nobody", Source: credit.SourceTopup, CreatedAt: t0}, credit.NotFound, "unknown_account"},
		// Only the overdraft grant may go below zero.
		{"ErrNegative", credit.Grant{ID: "grt_y", Account: "acme", Source: credit.SourceTopup, Remaining: -1, CreatedAt: t0}, credit.Internal, "store_error"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			err := db.Update(t.Context(), func(tx credit.Tx) error { return tx.InsertGrant(tt.g) })
			wantError(t, "InsertGrant", err, tt.code, tt.reason)
		})
	}
}

// Consumption order: priority (lower first), then expiry (earliest first,
// never-expiring last), then creation, then id.
func TestGrants_ConsumptionOrder(t *testing.T) {
	db := MustOpenDB(t)
	newAccount(t, db, "acme", 0, 0) // ovd_acme, priority 2^31: last of all
	// Inserted in this order; the ids are chosen so that neither insertion
	// nor id order is the answer.
	grants := []struct {
		id        string
		priority  int
		expiresIn int // days after t0; 0: never
		createdIn int // seconds after t0
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
	mustUpdate(t, db, func(tx credit.Tx) error {
		for _, g := range grants {
			var exp time.Time
			if g.expiresIn != 0 {
				exp = t0.Add(time.Duration(g.expiresIn) * 24 * time.Hour)
			}
			err := tx.InsertGrant(credit.Grant{ID: g.id, Account: "acme", Source: credit.SourceTopup, Granted: 1, Remaining: 1,
				Priority: g.priority, ExpiresAt: exp, CreatedAt: t0.Add(time.Duration(g.createdIn) * time.Second)})
			if err != nil {
				return err
			}
		}
		return nil
	})
	mustView(t, db, func(tx credit.Tx) error {
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

func TestDueGrants(t *testing.T) {
	db := MustOpenDB(t)
	newAccount(t, db, "acme", 0, 0)
	newAccount(t, db, "bob", 0, 0)
	h := time.Hour
	mustUpdate(t, db, func(tx credit.Tx) error {
		for _, g := range []credit.Grant{
			{ID: "a1", Account: "acme", Remaining: 5, ExpiresAt: t0.Add(2 * h)},
			{ID: "a2", Account: "acme", Remaining: 5, ExpiresAt: t0.Add(1 * h)},
			{ID: "a3", Account: "acme", Remaining: 0, Held: 5, ExpiresAt: t0.Add(1 * h)}, // nothing left, but due to be marked expired
			{ID: "a4", Account: "acme", Remaining: 5},                                    // never expires
			{ID: "a5", Account: "acme", Remaining: 5, ExpiresAt: t0.Add(5 * h)},          // not yet
			{ID: "a6", Account: "acme", Remaining: 5, ExpiresAt: t0.Add(1 * h)},          // already expired, below
			{ID: "b1", Account: "bob", Remaining: 5, ExpiresAt: t0.Add(3 * h)},
		} {
			g.Source, g.Granted, g.CreatedAt = credit.SourcePromo, 10, t0
			if err := tx.InsertGrant(g); err != nil {
				return err
			}
		}
		return tx.ExpireGrant("a6", t0.Add(h))
	})
	now := t0.Add(3 * h)
	for _, tt := range []struct {
		account string
		limit   int
		want    []string
	}{
		{"acme", 100, []string{"a2", "a3", "a1"}},
		{"", 100, []string{"a2", "a3", "a1", "b1"}},
		{"", 2, []string{"a2", "a3"}},
		{"", 0, []string{"a2", "a3", "a1", "b1"}},
		{"bob", 100, []string{"b1"}},
		{"nobody", 100, nil},
	} {
		mustView(t, db, func(tx credit.Tx) error {
			gs, err := tx.DueGrants(tt.account, now, tt.limit)
			var got []string
			for _, g := range gs {
				got = append(got, g.ID)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("DueGrants(%q, t0+3h, %d) = %v; want %v", tt.account, tt.limit, got, tt.want)
			}
			return err
		})
	}
}
