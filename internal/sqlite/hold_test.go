package sqlite_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

func TestHold_RoundTrip(t *testing.T) {
	db := MustOpenDB(t)
	newAccount(t, db, "acme", 0, 0)
	mustUpdate(t, db, func(tx credit.Tx) error {
		for _, id := range []string{"g-a", "g-m", "g-z"} {
			if err := tx.InsertGrant(credit.Grant{ID: id, Account: "acme", Source: credit.SourceTopup, Granted: 100000, CreatedAt: t0}); err != nil {
				return err
			}
		}
		return nil
	})
	// Allocations keep their order, which is not the order of grant ids.
	want := credit.Hold{ID: "hld_1", Account: "acme", Amount: 60000, Status: credit.HoldOpen,
		ExpiresAt: t0.Add(15 * time.Minute), CreatedAt: t0,
		Allocations: []credit.Allocation{{Grant: "g-z", Amount: 10000}, {Grant: "g-a", Amount: 20000}, {Grant: "g-m", Amount: 30000}}}
	mustUpdate(t, db, func(tx credit.Tx) error { return tx.InsertHold(want) })
	check := func(want credit.Hold) {
		t.Helper()
		mustView(t, db, func(tx credit.Tx) error {
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
	resolved.Status, resolved.Captured, resolved.Released, resolved.ResolvedAt = credit.HoldCaptured, 35000, 25000, t0.Add(time.Minute)
	mustUpdate(t, db, func(tx credit.Tx) error { return tx.UpdateHold(resolved) })
	check(resolved)

	// Allocations may shrink or grow; the stored ones follow.
	shrunk := resolved
	shrunk.Allocations = resolved.Allocations[:1]
	mustUpdate(t, db, func(tx credit.Tx) error { return tx.UpdateHold(shrunk) })
	check(shrunk)
	mustUpdate(t, db, func(tx credit.Tx) error { return tx.UpdateHold(resolved) })
	check(resolved)

	mustUpdate(t, db, func(tx credit.Tx) error {
		_, err := tx.Hold("hld_none")
		wantError(t, "Hold(hld_none)", err, credit.NotFound, "unknown_hold")
		wantError(t, "UpdateHold(hld_none)", tx.UpdateHold(credit.Hold{ID: "hld_none", Status: credit.HoldReleased}), credit.NotFound, "unknown_hold")
		wantError(t, "InsertHold(hld_1 again)", tx.InsertHold(want), credit.Conflict, "id_exists")
		other := credit.Hold{ID: "hld_2", Account: "nobody", Amount: 1, Status: credit.HoldOpen, ExpiresAt: t0, CreatedAt: t0}
		wantError(t, "InsertHold(unknown account)", tx.InsertHold(other), credit.NotFound, "unknown_account")
		return nil // none of these wrote anything: the transaction commits
	})

	// A hold whose allocation names an unknown grant: the hold row was
	// written, its allocation was not. The transaction cannot commit half a
	// hold, even when fn goes on.
	half := credit.Hold{ID: "hld_3", Account: "acme", Amount: 1, Status: credit.HoldOpen, ExpiresAt: t0, CreatedAt: t0,
		Allocations: []credit.Allocation{{Grant: "g-nope", Amount: 1}}}
	err := db.Update(t.Context(), func(tx credit.Tx) error {
		wantError(t, "InsertHold(unknown grant)", tx.InsertHold(half), credit.NotFound, "unknown_grant")
		return nil
	})
	wantError(t, "Update after half an InsertHold", err, credit.NotFound, "unknown_grant")
	mustView(t, db, func(tx credit.Tx) error {
		_, err := tx.Hold("hld_3")
		wantError(t, "Hold(hld_3)", err, credit.NotFound, "unknown_hold")
		return nil
	})
}

func TestOpenHolds_DueHolds(t *testing.T) {
	db := MustOpenDB(t)
	newAccount(t, db, "acme", 0, credit.Whole(100))
	newAccount(t, db, "bob", 0, credit.Whole(100))
	m := time.Minute
	mustUpdate(t, db, func(tx credit.Tx) error {
		for _, h := range []credit.Hold{
			{ID: "h1", Account: "acme", CreatedAt: t0.Add(2 * m), ExpiresAt: t0.Add(10 * m)},
			{ID: "h2", Account: "acme", CreatedAt: t0.Add(1 * m), ExpiresAt: t0.Add(30 * m)},
			{ID: "h3", Account: "acme", CreatedAt: t0.Add(3 * m), ExpiresAt: t0.Add(5 * m)},
			{ID: "h4", Account: "acme", CreatedAt: t0, ExpiresAt: t0.Add(5 * m), Status: credit.HoldReleased},
			{ID: "h5", Account: "bob", CreatedAt: t0, ExpiresAt: t0.Add(7 * m)},
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
	mustView(t, db, func(tx credit.Tx) error {
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
			hs, err := tx.DueHolds(tt.account, t0.Add(10*m), tt.limit)
			if err != nil {
				return err
			}
			if got := ids(hs); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("DueHolds(%q, t0+10m, %d) = %v; want %v", tt.account, tt.limit, got, tt.want)
			}
		}
		return nil
	})
}
