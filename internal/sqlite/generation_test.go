package sqlite_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

func TestGeneration_RoundTrip(t *testing.T) {
	db := MustOpenDB(t)
	newAccount(t, db, "acme", 0, credit.Whole(1000))
	want := credit.Generation{ID: "gen_1", Account: "acme", Status: credit.GenerationHeld, Hold: "hld_1",
		Model: "nano-banana-pro", Kind: credit.KindImage, CatalogVersion: "2025-03-01", Images: 3,
		HoldCredits: 480000, UnitCredits: 160000, Quote: []byte(`{"total_credits":480}`),
		ExpiresAt: t0.Add(15 * time.Minute), CreatedAt: t0}
	hold := credit.Hold{ID: "hld_1", Account: "acme", Generation: "gen_1", Amount: 480000, Status: credit.HoldOpen,
		ExpiresAt: want.ExpiresAt, CreatedAt: t0, Allocations: []credit.Allocation{{Grant: "grt_acme", Amount: 480000}}}
	// The generation names its hold before the hold exists, and the hold its
	// generation: both are checked at commit.
	mustUpdate(t, db, func(tx credit.Tx) error {
		if err := tx.InsertGeneration(want); err != nil {
			return err
		}
		return tx.InsertHold(hold)
	})
	check := func(want credit.Generation) {
		t.Helper()
		mustView(t, db, func(tx credit.Tx) error {
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
	done.Status, done.ImagesDelivered, done.Charged, done.Refunded, done.ResolvedAt = credit.GenerationCompleted, 2, 320000, 160000, t0.Add(time.Minute)
	mustUpdate(t, db, func(tx credit.Tx) error { return tx.UpdateGeneration(done) })
	check(done)

	mustUpdate(t, db, func(tx credit.Tx) error {
		_, err := tx.Generation("gen_none")
		wantError(t, "Generation(gen_none)", err, credit.NotFound, "unknown_generation")
		wantError(t, "UpdateGeneration(gen_none)", tx.UpdateGeneration(credit.Generation{ID: "gen_none", Status: credit.GenerationFailed}), credit.NotFound, "unknown_generation")
		wantError(t, "InsertGeneration(gen_1 again)", tx.InsertGeneration(want), credit.Conflict, "id_exists")
		other := want
		other.ID, other.Account = "gen_2", "nobody"
		wantError(t, "InsertGeneration(unknown account)", tx.InsertGeneration(other), credit.NotFound, "unknown_account")
		return nil
	})

	// A generation whose hold never comes is refused at commit.
	err := db.Update(t.Context(), func(tx credit.Tx) error {
		g := want
		g.ID, g.Hold, g.Quote = "gen_3", "hld_never", nil
		return tx.InsertGeneration(g)
	})
	wantError(t, "commit of a generation without its hold", err, credit.Internal, "store_error")
}
