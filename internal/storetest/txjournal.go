package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// The Tx contract for the journal: entries, usage and the snapshot. Part of
// runTx.

// charge is a capture entry of amount for model at `at`, balanced (a refund
// if amount is negative).
func charge(account, model string, kind credit.Kind, at time.Time, amount credit.Credits) *credit.Entry {
	x := &credit.Entry{Kind: credit.EntryCapture, Account: account, Time: at, Model: model, ModelKind: kind, ChargedDelta: amount,
		Postings: []credit.Posting{
			{Account: account, Book: credit.BookHeld, Grant: "grt_" + account, Amount: -amount},
			{Account: credit.PlatformAccount, Book: credit.BookRevenue, Amount: amount},
		}}
	if amount < 0 {
		x.Kind = credit.EntryRefund
	}
	return x
}

func txJournal(t *testing.T, s credit.Store) {
	rowAccount(t, s, "acme", 0, credit.Whole(100))
	rowAccount(t, s, "bob", 0, credit.Whole(100))
	grant := credit.Entry{Kind: credit.EntryGrant, Account: "acme", Time: tx0, Ref: "grt_acme", Memo: "welcome",
		AvailableDelta: 100000, AvailableAfter: 100000, Postings: []credit.Posting{
			{Account: credit.PlatformAccount, Book: credit.BookIssued, Amount: -100000},
			{Account: "acme", Book: credit.BookAvailable, Grant: "grt_acme", Amount: 100000},
		}}
	hold := credit.Entry{Kind: credit.EntryHold, Account: "acme", Time: tx0.Add(time.Second), Ref: "hld_1", Generation: "gen_1",
		AvailableDelta: -49000, HeldDelta: 49000, AvailableAfter: 51000, HeldAfter: 49000, Postings: []credit.Posting{
			{Account: "acme", Book: credit.BookAvailable, Grant: "grt_acme", Amount: -49000},
			{Account: "acme", Book: credit.BookHeld, Grant: "grt_acme", Amount: 49000},
		}}
	capture := credit.Entry{Kind: credit.EntryCapture, Account: "acme", Time: tx0.Add(2 * time.Second), Ref: "hld_1", Generation: "gen_1",
		Model: "nano-banana-2", ModelKind: credit.KindImage, CatalogVersion: "v1",
		HeldDelta: -49000, AvailableAfter: 51000, ChargedDelta: 49000, Postings: []credit.Posting{
			{Account: "acme", Book: credit.BookHeld, Grant: "grt_acme", Amount: -49000},
			{Account: credit.PlatformAccount, Book: credit.BookRevenue, Amount: 49000},
		}}
	var want []credit.Entry
	mustUpdate(t, s, func(tx credit.Tx) error {
		for _, x := range []credit.Entry{grant, hold} {
			if err := tx.AppendEntry(&x); err != nil {
				return err
			}
			want = append(want, x)
		}
		return nil
	})
	if want[0].ID <= 0 {
		t.Errorf("AppendTransaction set ID %d; want > 0", want[0].ID)
	}
	mustUpdate(t, s, func(tx credit.Tx) error {
		other := charge("bob", "imagen-4", credit.KindImage, tx0, 1000) // interleaved: another account's entry
		if err := tx.AppendEntry(other); err != nil {
			return err
		}
		x := capture
		if err := tx.AppendEntry(&x); err != nil {
			return err
		}
		if x.ID <= other.ID || other.ID <= want[1].ID || want[1].ID <= want[0].ID {
			t.Errorf("ids %d, %d, %d, %d; want increasing", want[0].ID, want[1].ID, other.ID, x.ID)
		}
		want = append(want, x)
		return nil
	})
	newest := []credit.Entry{want[2], want[1], want[0]}
	mustView(t, s, func(tx credit.Tx) error {
		for _, tt := range []struct {
			before int64
			limit  int
			want   []credit.Entry
		}{
			{0, 10, newest},
			{0, 0, newest},
			{0, 2, newest[:2]},
			{want[1].ID, 2, newest[2:]},
			{want[0].ID, 10, nil},
		} {
			got, err := tx.Entries("acme", tt.before, tt.limit)
			if err != nil {
				return err
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Entries(acme, %d, %d) =\n%+v\nwant\n%+v", tt.before, tt.limit, got, tt.want)
			}
		}
		return nil
	})

	mustUpdate(t, s, func(tx credit.Tx) error {
		bad := charge("acme", "m", credit.KindImage, tx0, 5)
		bad.Postings[1].Amount = 4
		wantErr(t, "AppendTransaction(unbalanced)", tx.AppendEntry(bad), credit.Internal, "unbalanced")
		return nil
	})
	err := s.Update(t.Context(), func(tx credit.Tx) error {
		return tx.AppendEntry(charge("nobody", "m", credit.KindImage, tx0, 5))
	})
	wantErr(t, "AppendTransaction(unknown account)", err, credit.NotFound, "unknown_account")
}

func txUsage(t *testing.T, s credit.Store) {
	rowAccount(t, s, "acme", 0, credit.Whole(1000))
	rowAccount(t, s, "bob", 0, credit.Whole(1000))
	day1 := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	day2 := day1.Add(24 * time.Hour)
	mustUpdate(t, s, func(tx credit.Tx) error {
		for _, x := range []*credit.Entry{
			charge("acme", "nano-banana-2", credit.KindImage, day1, 49000),
			charge("acme", "nano-banana-2", credit.KindImage, day1.Add(23*time.Hour+59*time.Minute), 73500),
			charge("acme", "nano-banana-2", credit.KindImage, day1.Add(24*time.Hour), 98000), // day 2, first µs
			charge("acme", "topaz", credit.KindUpscale, day1.Add(time.Hour), 41000),
			charge("acme", "nano-banana-2", credit.KindImage, day2.Add(time.Hour), -49000),                                // a refund
			charge("acme", "", "", day2.Add(2*time.Hour), 5000),                                                           // a generic hold's capture
			charge("acme", "nano-banana-2", credit.KindImage, day1.Add(-time.Microsecond), 1000),                          // before from
			charge("acme", "nano-banana-2", credit.KindImage, day2.Add(24*time.Hour), 1000),                               // at to: excluded
			charge("bob", "nano-banana-2", credit.KindImage, day1, 1000),                                                  // another account
			{Kind: credit.EntryRelease, Account: "acme", Time: day1, Model: "nano-banana-2", ModelKind: credit.KindImage}, // charged nothing
		} {
			if err := tx.AppendEntry(x); err != nil {
				return err
			}
		}
		return nil
	})
	want := []credit.UsageRow{
		{Day: "2025-03-01", Model: "nano-banana-2", Kind: "image", Charged: 122500, Count: 2},
		{Day: "2025-03-01", Model: "topaz", Kind: "upscale", Charged: 41000, Count: 1},
		{Day: "2025-03-02", Model: "", Kind: "", Charged: 5000, Count: 1},
		{Day: "2025-03-02", Model: "nano-banana-2", Kind: "image", Charged: 49000, Count: 1}, // 98 charged, 49 refunded: one charge
	}
	mustView(t, s, func(tx credit.Tx) error {
		got, err := tx.Usage("acme", day1, day2.Add(24*time.Hour))
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Errorf("Usage(acme, March 1–2) =\n%+v\nwant\n%+v", got, want)
		}
		return err
	})
}

func txSnapshot(t *testing.T, s credit.Store) {
	rowAccount(t, s, "zed", 0, 0)
	rowAccount(t, s, "acme", 5000, 0)
	grant := credit.Grant{ID: "grt_1", Account: "acme", Source: credit.SourceTopup, Granted: 10000, Remaining: 6000, Held: 4000, CreatedAt: tx0}
	hold := credit.Hold{ID: "hld_1", Account: "acme", Amount: 4000, Status: credit.HoldOpen, ExpiresAt: tx0.Add(time.Hour), CreatedAt: tx0,
		Allocations: []credit.Allocation{{Grant: "grt_1", Amount: 3000}, {Grant: "ovd_acme", Amount: 1000}}}
	gen := credit.Generation{ID: "gen_1", Account: "acme", Status: credit.GenerationHeld, Hold: "hld_2", Model: "imagen-4", Kind: credit.KindImage,
		Images: 1, HoldCredits: 0, ExpiresAt: tx0.Add(time.Hour), CreatedAt: tx0}
	hold2 := credit.Hold{ID: "hld_2", Account: "acme", Generation: "gen_1", Status: credit.HoldOpen, ExpiresAt: tx0.Add(time.Hour), CreatedAt: tx0.Add(time.Second)}
	x1 := credit.Entry{Kind: credit.EntryGrant, Account: "acme", Time: tx0, Ref: "grt_1", AvailableDelta: 10000, AvailableAfter: 10000,
		Postings: []credit.Posting{{Account: credit.PlatformAccount, Book: credit.BookIssued, Amount: -10000}, {Account: "acme", Book: credit.BookAvailable, Grant: "grt_1", Amount: 10000}}}
	x2 := credit.Entry{Kind: credit.EntryHold, Account: "acme", Time: tx0, Ref: "hld_1", AvailableDelta: -4000, HeldDelta: 4000, AvailableAfter: 6000, HeldAfter: 4000,
		Postings: []credit.Posting{{Account: "acme", Book: credit.BookAvailable, Grant: "grt_1", Amount: -4000}, {Account: "acme", Book: credit.BookHeld, Grant: "grt_1", Amount: 4000}}}
	mustUpdate(t, s, func(tx credit.Tx) error {
		for _, f := range []func() error{
			func() error { return tx.InsertGrant(grant) },
			func() error { return tx.InsertHold(hold) },
			func() error { return tx.InsertGeneration(gen) },
			func() error { return tx.InsertHold(hold2) },
			func() error { return tx.AppendEntry(&x1) },
			func() error { return tx.AppendEntry(&x2) },
		} {
			if err := f(); err != nil {
				return err
			}
		}
		return nil
	})
	mustView(t, s, func(tx credit.Tx) error {
		sc, err := credit.Scan(tx)
		if err != nil {
			return err
		}
		snap, err := sc.Snapshot()
		if err != nil {
			return err
		}
		var accounts []string
		for _, a := range snap.Accounts {
			accounts = append(accounts, a.ID)
		}
		if want := []string{"acme", "zed"}; !reflect.DeepEqual(accounts, want) {
			t.Errorf("Snapshot accounts = %v; want %v", accounts, want)
		}
		var grants []string
		for _, g := range snap.Grants {
			grants = append(grants, g.ID)
		}
		if want := []string{"grt_1", "ovd_acme", "ovd_zed"}; !reflect.DeepEqual(grants, want) {
			t.Errorf("Snapshot grants = %v; want %v (by account, in consumption order)", grants, want)
		}
		if len(snap.Grants) == 0 || !reflect.DeepEqual(snap.Grants[0], grant) {
			t.Errorf("Snapshot grants = %+v; want %+v first", snap.Grants, grant)
		}
		if want := []credit.Hold{hold, hold2}; !reflect.DeepEqual(snap.Holds, want) {
			t.Errorf("Snapshot holds = %+v; want %+v", snap.Holds, want)
		}
		if want := []credit.Generation{gen}; !reflect.DeepEqual(snap.Generations, want) {
			t.Errorf("Snapshot generations = %+v; want %+v", snap.Generations, want)
		}
		if want := []credit.Entry{x1, x2}; !reflect.DeepEqual(snap.Entries, want) {
			t.Errorf("Snapshot transactions = %+v; want %+v", snap.Entries, want)
		}
		return nil
	})
}
