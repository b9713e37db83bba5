package sqlite_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

func TestSnapshot(t *testing.T) {
	db := MustOpenDB(t)
	newAccount(t, db, "zed", 0, 0)
	newAccount(t, db, "acme", 5000, 0)
	grant := credit.Grant{ID: "grt_1", Account: "acme", Source: credit.SourceTopup, Granted: 10000, Remaining: 6000, Held: 4000, CreatedAt: t0}
	hold := credit.Hold{ID: "hld_1", Account: "acme", Amount: 4000, Status: credit.HoldOpen, ExpiresAt: t0.Add(time.Hour), CreatedAt: t0,
		Allocations: []credit.Allocation{{Grant: "grt_1", Amount: 3000}, {Grant: "ovd_acme", Amount: 1000}}}
	gen := credit.Generation{ID: "gen_1", Account: "acme", Status: credit.GenerationHeld, Hold: "hld_2", Model: "imagen-4", Kind: credit.KindImage,
		Images: 1, HoldCredits: 0, ExpiresAt: t0.Add(time.Hour), CreatedAt: t0}
	hold2 := credit.Hold{ID: "hld_2", Account: "acme", Generation: "gen_1", Status: credit.HoldOpen, ExpiresAt: t0.Add(time.Hour), CreatedAt: t0.Add(time.Second)}
	x1 := credit.Transaction{Kind: credit.TxGrant, Account: "acme", Time: t0, Ref: "grt_1", AvailableDelta: 10000, AvailableAfter: 10000,
		Postings: []credit.Posting{{Account: credit.PlatformAccount, Book: credit.BookIssued, Amount: -10000}, {Account: "acme", Book: credit.BookAvailable, Grant: "grt_1", Amount: 10000}}}
	x2 := credit.Transaction{Kind: credit.TxHold, Account: "acme", Time: t0, Ref: "hld_1", AvailableDelta: -4000, HeldDelta: 4000, AvailableAfter: 6000, HeldAfter: 4000,
		Postings: []credit.Posting{{Account: "acme", Book: credit.BookAvailable, Grant: "grt_1", Amount: -4000}, {Account: "acme", Book: credit.BookHeld, Grant: "grt_1", Amount: 4000}}}
	mustUpdate(t, db, func(tx credit.Tx) error {
		for _, f := range []func() error{
			func() error { return tx.InsertGrant(grant) },
			func() error { return tx.InsertHold(hold) },
			func() error { return tx.InsertGeneration(gen) },
			func() error { return tx.InsertHold(hold2) },
			func() error { return tx.AppendTransaction(&x1) },
			func() error { return tx.AppendTransaction(&x2) },
		} {
			if err := f(); err != nil {
				return err
			}
		}
		return nil
	})
	mustView(t, db, func(tx credit.Tx) error {
		s, err := tx.Snapshot()
		if err != nil {
			return err
		}
		var accounts []string
		for _, a := range s.Accounts {
			accounts = append(accounts, a.ID)
		}
		if want := []string{"acme", "zed"}; !reflect.DeepEqual(accounts, want) {
			t.Errorf("Snapshot accounts = %v; want %v", accounts, want)
		}
		var grants []string
		for _, g := range s.Grants {
			grants = append(grants, g.ID)
		}
		if want := []string{"grt_1", "ovd_acme", "ovd_zed"}; !reflect.DeepEqual(grants, want) {
			t.Errorf("Snapshot grants = %v; want %v (by account, in consumption order)", grants, want)
		}
		if !reflect.DeepEqual(s.Grants[0], grant) {
			t.Errorf("Snapshot grant = %+v; want %+v", s.Grants[0], grant)
		}
		if want := []credit.Hold{hold, hold2}; !reflect.DeepEqual(s.Holds, want) {
			t.Errorf("Snapshot holds = %+v; want %+v", s.Holds, want)
		}
		if want := []credit.Generation{gen}; !reflect.DeepEqual(s.Generations, want) {
			t.Errorf("Snapshot generations = %+v; want %+v", s.Generations, want)
		}
		if want := []credit.Transaction{x1, x2}; !reflect.DeepEqual(s.Transactions, want) {
			t.Errorf("Snapshot transactions = %+v; want %+v", s.Transactions, want)
		}
		return nil
	})
}
