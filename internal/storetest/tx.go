package storetest

import (
	"context"
	"errors"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// runTx checks the credit.Tx contract row by row, below the Ledger: what a
// store keeps and gives back, the answers its methods give, and what Update
// and View promise about commit, rollback and cancellation. The rows written
// here need not make a consistent ledger, so no Verify runs after them.
func runTx(t *testing.T, open func(t *testing.T) credit.Store) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s credit.Store)
	}{
		{"Account", txAccount},
		{"AddBalances", txAddBalances},
		{"Reserve", txReserve},
		{"ReserveConcurrent", txReserveConcurrent},
		{"ReserveOverdraft", txReserveOverdraft},
		{"Errors", txErrors},
		{"RollbackOnError", txRollbackOnError},
		{"RollbackOnPanic", txRollbackOnPanic},
		{"BrokenTxNotCommitted", txBrokenNotCommitted},
		{"ViewWriteIsInternal", txViewWriteIsInternal},
		{"Canceled", txCanceled},
		{"Ping", txPing},
		{"Grant", txGrant},
		{"GrantConsumptionOrder", txGrantConsumptionOrder},
		{"DueGrants", txDueGrants},
		{"Hold", txHold},
		{"OpenHoldsDueHolds", txOpenHoldsDueHolds},
		{"Generation", txGeneration},
		{"Idempotency", txIdempotency},
		{"Key", txKey},
		{"Journal", txJournal},
		{"Usage", txUsage},
		{"Snapshot", txSnapshot},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// tx0 is a time with microseconds, the stores' precision: a row must give
// back every digit of it.
var tx0 = time.Date(2025, 3, 14, 9, 26, 53, 589793000, time.UTC)

// mustUpdate runs fn in an Update and fails the test on an error.
func mustUpdate(t testing.TB, s credit.Store, fn func(credit.Tx) error) {
	t.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// mustView runs fn in a View and fails the test on an error.
func mustView(t testing.TB, s credit.Store, fn func(credit.Tx) error) {
	t.Helper()
	if err := s.View(context.Background(), fn); err != nil {
		t.Fatalf("View: %v", err)
	}
}

// rowAccount creates an account with its overdraft grant ovd_ID, and with a
// never-expiring topup grant grt_ID of `available` if it is not zero.
func rowAccount(t testing.TB, s credit.Store, id string, overdraft, available credit.Credits) {
	t.Helper()
	mustUpdate(t, s, func(tx credit.Tx) error {
		a := credit.Account{ID: id, Overdraft: overdraft, CreatedAt: tx0}
		g := credit.Grant{ID: "ovd_" + id, Account: id, Source: credit.SourceOverdraft, Priority: 1 << 31, CreatedAt: tx0}
		if err := tx.InsertAccount(a, g); err != nil {
			return err
		}
		if available == 0 {
			return nil
		}
		if err := tx.InsertGrant(credit.Grant{ID: "grt_" + id, Account: id, Source: credit.SourceTopup,
			Granted: available, Remaining: available, CreatedAt: tx0}); err != nil {
			return err
		}
		_, err := tx.AddBalances(id, available, 0)
		return err
	})
}

// accountOf reads an account.
func accountOf(t testing.TB, s credit.Store, id string) credit.Account {
	t.Helper()
	var a credit.Account
	mustView(t, s, func(tx credit.Tx) error {
		var err error
		a, err = tx.Account(id)
		return err
	})
	return a
}

// wantNoAccount checks that an account does not exist.
func wantNoAccount(t testing.TB, s credit.Store, id string) {
	t.Helper()
	err := s.View(context.Background(), func(tx credit.Tx) error {
		_, err := tx.Account(id)
		return err
	})
	wantErr(t, "Account("+id+")", err, credit.NotFound, "unknown_account")
}

func txAccount(t *testing.T, s credit.Store) {
	tokyo := time.FixedZone("JST", 9*3600)
	mustUpdate(t, s, func(tx credit.Tx) error {
		// Balances given to InsertAccount are ignored: an account starts at zero.
		a := credit.Account{ID: "acme", Overdraft: 2500, Available: 99, Held: 99, CreatedAt: tx0.In(tokyo)}
		return tx.InsertAccount(a, credit.Grant{ID: "ovd_acme", Account: "acme", Source: credit.SourceOverdraft, Priority: 1 << 31, CreatedAt: tx0})
	})
	mustView(t, s, func(tx credit.Tx) error {
		got, err := tx.Account("acme")
		if err != nil {
			return err
		}
		if want := (credit.Account{ID: "acme", Overdraft: 2500, CreatedAt: tx0}); !reflect.DeepEqual(got, want) {
			t.Errorf("Account(acme) = %+v; want %+v", got, want)
		}
		if got.CreatedAt.Location() != time.UTC {
			t.Errorf("CreatedAt location = %v; want UTC", got.CreatedAt.Location())
		}
		g, err := tx.Grant("ovd_acme")
		if err != nil {
			return err
		}
		if g.Source != credit.SourceOverdraft || g.Account != "acme" || g.Priority != 1<<31 {
			t.Errorf("overdraft grant = %+v; want source overdraft, account acme, priority 2^31", g)
		}
		_, err = tx.Account("nobody")
		wantErr(t, "Account(nobody)", err, credit.NotFound, "unknown_account")
		return nil
	})
}

func txAddBalances(t *testing.T, s credit.Store) {
	rowAccount(t, s, "acme", 0, 0)
	mustUpdate(t, s, func(tx credit.Tx) error {
		a, err := tx.AddBalances("acme", 7500, 2500)
		if err != nil {
			return err
		}
		if a.Available != 7500 || a.Held != 2500 {
			t.Errorf("AddBalances(+7.5, +2.5) = %v/%v; want 7.5/2.5", a.Available, a.Held)
		}
		// No check: below zero is allowed (the ledger's returns, expiries).
		if a, err = tx.AddBalances("acme", -10000, -2500); err != nil {
			return err
		}
		if a.Available != -2500 || a.Held != 0 {
			t.Errorf("AddBalances(-10, -2.5) = %v/%v; want -2.5/0", a.Available, a.Held)
		}
		_, err = tx.AddBalances("nobody", 1, 0)
		wantErr(t, "AddBalances(nobody)", err, credit.NotFound, "unknown_account")
		return nil
	})
}

func txReserve(t *testing.T, s credit.Store) {
	rowAccount(t, s, "acme", 0, 73500)
	t.Run("Enough", func(t *testing.T) {
		mustUpdate(t, s, func(tx credit.Tx) error {
			a, err := tx.Reserve("acme", 49000)
			if err == nil && (a.Available != 24500 || a.Held != 49000) {
				t.Errorf("Reserve(49) = %v/%v; want 24.5 available, 49 held", a.Available, a.Held)
			}
			return err
		})
	})
	t.Run("ErrInsufficientCredits", func(t *testing.T) {
		err := s.Update(context.Background(), func(tx credit.Tx) error {
			a, err := tx.Reserve("acme", 24501)
			if a.Available != 24500 || a.Held != 49000 {
				t.Errorf("Reserve(24.501) returned the account as %v/%v; want it as it is, 24.5/49", a.Available, a.Held)
			}
			return err
		})
		wantErr(t, "Reserve(24.501 of 24.5)", err, credit.InsufficientCredits, "insufficient_credits")
		// The ledger reads these fields without errors.As.
		if e, ok := err.(*credit.Error); !ok || e.Available != 24500 || e.Required != 24501 {
			t.Errorf("Reserve(24.501 of 24.5) = %#v; want a *credit.Error with Available/Required 24.5/24.501", err)
		}
	})
	t.Run("ErrUnknownAccount", func(t *testing.T) {
		err := s.Update(context.Background(), func(tx credit.Tx) error {
			_, err := tx.Reserve("nobody", 1)
			return err
		})
		wantErr(t, "Reserve(nobody)", err, credit.NotFound, "unknown_account")
	})
	t.Run("Exact", func(t *testing.T) {
		mustUpdate(t, s, func(tx credit.Tx) error {
			a, err := tx.Reserve("acme", 24500)
			if err == nil && (a.Available != 0 || a.Held != 73500) {
				t.Errorf("Reserve(all) = %v/%v; want 0/73.5", a.Available, a.Held)
			}
			return err
		})
	})
}

// txReserveConcurrent: under any concurrency the available balance never
// goes below zero: 64 clients race to reserve 5 credits each of 100; exactly
// 20 win.
func txReserveConcurrent(t *testing.T, s credit.Store) {
	rowAccount(t, s, "acme", 0, credit.Whole(100))
	const clients = 64
	var wg sync.WaitGroup
	errs := make([]error, clients)
	start := make(chan struct{})
	for i := range clients {
		wg.Go(func() {
			<-start
			errs[i] = s.Update(context.Background(), func(tx credit.Tx) error {
				_, err := tx.Reserve("acme", credit.Whole(5))
				return err
			})
		})
	}
	close(start)
	wg.Wait()
	var ok, refused int
	for _, err := range errs {
		switch credit.ErrorCode(err) {
		case "":
			ok++
		case credit.InsufficientCredits:
			refused++
		default:
			t.Errorf("Reserve(5) = %v; want success or InsufficientCredits", err)
		}
	}
	if ok != 20 || refused != 44 {
		t.Errorf("64 × Reserve(5) of 100: %d succeeded, %d refused; want 20 and 44", ok, refused)
	}
	if a := accountOf(t, s, "acme"); a.Available != 0 || a.Held != credit.Whole(100) {
		t.Errorf("after the race: Available %v, Held %v; want 0 and 100", a.Available, a.Held)
	}
}

func txReserveOverdraft(t *testing.T, s credit.Store) {
	rowAccount(t, s, "acme", 10000, 0) // may go to -10 credits, no further
	for _, step := range []struct {
		amount    credit.Credits
		code      string
		available credit.Credits
	}{
		{4000, "", -4000},
		{6001, credit.InsufficientCredits, -4000},
		{6000, "", -10000},
		{1, credit.InsufficientCredits, -10000},
		{0, "", -10000},
	} {
		err := s.Update(context.Background(), func(tx credit.Tx) error {
			_, err := tx.Reserve("acme", step.amount)
			return err
		})
		if credit.ErrorCode(err) != step.code {
			t.Fatalf("Reserve(%v) = %v; want code %q", step.amount, err, step.code)
		}
		if a := accountOf(t, s, "acme"); a.Available != step.available {
			t.Errorf("after Reserve(%v): Available %v; want %v", step.amount, a.Available, step.available)
		}
	}
}

// txErrors: a refused write is answered with the ledger's code and reason,
// as a *credit.Error itself, which wraps no driver error, and rolls back with
// the rest of its transaction; a store failure fn swallows still keeps the
// transaction from committing.
func txErrors(t *testing.T, s credit.Store) {
	rowAccount(t, s, "acme", 0, credit.Whole(1))
	ctx := context.Background()
	for _, tc := range []struct {
		name         string
		fn           func(tx credit.Tx) error
		code, reason string
	}{
		{"AccountExists", func(tx credit.Tx) error {
			return tx.InsertAccount(credit.Account{ID: "acme", CreatedAt: tx0}, credit.Grant{ID: "ovd_x", Account: "acme", Source: credit.SourceOverdraft, CreatedAt: tx0})
		}, credit.Conflict, "account_exists"},
		{"GrantIDExists", func(tx credit.Tx) error {
			return tx.InsertGrant(credit.Grant{ID: "grt_acme", Account: "acme", Source: credit.SourceTopup, CreatedAt: tx0})
		}, credit.Conflict, "id_exists"},
		{"GrantUnknownAccount", func(tx credit.Tx) error {
			return tx.InsertGrant(credit.Grant{ID: "grt_x", Account: "nobody", Source: credit.SourceTopup, CreatedAt: tx0})
		}, credit.NotFound, "unknown_account"},
		// Only the overdraft grant may go below zero.
		{"GrantNegative", func(tx credit.Tx) error {
			return tx.InsertGrant(credit.Grant{ID: "grt_y", Account: "acme", Source: credit.SourceTopup, Remaining: -1, CreatedAt: tx0})
		}, credit.Internal, "store_error"},
		{"KeyExists", func(tx credit.Tx) error {
			k := credit.Key{ID: "k", Hash: []byte{1}, Scope: credit.ScopeAdmin, CreatedAt: tx0}
			if err := tx.InsertKey(k); err != nil {
				return err
			}
			return tx.InsertKey(k)
		}, credit.Conflict, "key_exists"},
		{"KeyUnknownAccount", func(tx credit.Tx) error {
			return tx.InsertKey(credit.Key{ID: "k2", Hash: []byte{1}, Scope: credit.ScopeAccount, Account: "nobody", CreatedAt: tx0})
		}, credit.NotFound, "unknown_account"},
		{"IdempotencyConflict", func(tx credit.Tx) error {
			r := credit.IdempotencyRecord{Idempotency: credit.Idempotency{Scope: "s", Key: "k", Hash: "h"}, CreatedAt: tx0}
			if err := tx.PutIdempotency(r); err != nil {
				return err
			}
			return tx.PutIdempotency(r)
		}, credit.Conflict, "idempotency_conflict"},
		{"PostingUnknownGrant", func(tx credit.Tx) error {
			return tx.AppendEntry(&credit.Entry{Kind: credit.EntryGrant, Account: "acme", Time: tx0,
				Postings: []credit.Posting{{Account: "acme", Book: credit.BookAvailable, Grant: "grt_nope", Amount: 1}, {Account: credit.PlatformAccount, Book: credit.BookIssued, Amount: -1}}})
		}, credit.NotFound, "unknown_grant"},
		{"AllocationUnknownGrant", func(tx credit.Tx) error {
			return tx.InsertHold(credit.Hold{ID: "hld_x", Account: "acme", Amount: 1, Status: credit.HoldOpen, ExpiresAt: tx0, CreatedAt: tx0,
				Allocations: []credit.Allocation{{Grant: "grt_nope", Amount: 1}}})
		}, credit.NotFound, "unknown_grant"},
		{"UnknownHold", func(tx credit.Tx) error { _, err := tx.Hold("hld_nope"); return err }, credit.NotFound, "unknown_hold"},
		{"UnknownGeneration", func(tx credit.Tx) error { _, err := tx.Generation("gen_nope"); return err }, credit.NotFound, "unknown_generation"},
		{"UnknownGrant", func(tx credit.Tx) error { return tx.UpdateGrant("grt_nope", 1, 0) }, credit.NotFound, "unknown_grant"},
		{"UnknownKey", func(tx credit.Tx) error { return tx.RevokeKey("nope", tx0) }, credit.NotFound, "unknown_key"},
		{"CheckViolation", func(tx credit.Tx) error { return tx.UpdateGrant("grt_acme", -credit.Whole(2), 0) }, credit.Internal, "store_error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := s.Update(ctx, tc.fn)
			wantErr(t, tc.name, err, tc.code, tc.reason)
			if _, ok := err.(*credit.Error); !ok {
				t.Errorf("%s error is a %T; want the *credit.Error itself, wrapping nothing of the driver's", tc.name, err)
			}
			// Swallowed, a store failure still keeps the transaction from
			// committing. (A refusal, NotFound or Conflict, is an answer: a
			// store may go on after it, or fail the commit with it.)
			if tc.code == credit.Internal {
				err = s.Update(ctx, func(tx credit.Tx) error { _ = tc.fn(tx); return nil })
				wantErr(t, tc.name+" swallowed: Update", err, tc.code, tc.reason)
			}
		})
	}
	mustView(t, s, func(tx credit.Tx) error {
		if ks, err := tx.Keys(); err != nil || len(ks) != 0 {
			t.Errorf("Keys after refused transactions = %v, %v; want none", ks, err)
		}
		return nil
	})
}

func txRollbackOnError(t *testing.T, s credit.Store) {
	boom := errors.New("boom")
	err := s.Update(context.Background(), func(tx credit.Tx) error {
		if err := tx.InsertAccount(credit.Account{ID: "acme", CreatedAt: tx0},
			credit.Grant{ID: "ovd_acme", Account: "acme", Source: credit.SourceOverdraft, CreatedAt: tx0}); err != nil {
			return err
		}
		return boom
	})
	if err != boom {
		t.Fatalf("Update(fn returning boom) = %v; want boom itself", err)
	}
	wantNoAccount(t, s, "acme")
}

func txRollbackOnPanic(t *testing.T, s credit.Store) {
	func() {
		defer func() {
			if p := recover(); p != "boom" {
				t.Errorf("recovered %v; want the panic of fn (boom) to go on up", p)
			}
		}()
		_ = s.Update(context.Background(), func(tx credit.Tx) error {
			_ = tx.InsertAccount(credit.Account{ID: "acme", CreatedAt: tx0},
				credit.Grant{ID: "ovd_acme", Account: "acme", Source: credit.SourceOverdraft, CreatedAt: tx0})
			panic("boom")
		})
	}()
	wantNoAccount(t, s, "acme")
	// The connection was given back: the store still writes.
	rowAccount(t, s, "acme", 0, 0)
}

// txBrokenNotCommitted: a store failure that fn ignores must not commit the
// rest.
func txBrokenNotCommitted(t *testing.T, s credit.Store) {
	rowAccount(t, s, "acme", 0, 0)
	err := s.Update(context.Background(), func(tx credit.Tx) error {
		if _, err := tx.AddBalances("acme", credit.Whole(1), 0); err != nil {
			return err
		}
		// NotFound is an answer, not a failure: the transaction goes on.
		if err := tx.UpdateGrant("grt_none", 0, 0); credit.ErrorCode(err) != credit.NotFound {
			t.Errorf("UpdateGrant(unknown) = %v; want NotFound", err)
		}
		// A held balance below zero breaks a CHECK constraint: Internal.
		if err := tx.UpdateGrant("ovd_acme", 0, -1); credit.ErrorCode(err) != credit.Internal {
			t.Errorf("UpdateGrant(held below zero) = %v; want Internal", err)
		}
		return nil // and ignore it
	})
	wantErr(t, "Update after an ignored store failure", err, credit.Internal, "store_error")
	if a := accountOf(t, s, "acme"); a.Available != 0 {
		t.Errorf("Available = %v after a broken Update; want 0 (nothing committed)", a.Available)
	}
}

func txViewWriteIsInternal(t *testing.T, s credit.Store) {
	rowAccount(t, s, "acme", 0, 0)
	ctx := context.Background()
	err := s.View(ctx, func(tx credit.Tx) error {
		return tx.InsertAccount(credit.Account{ID: "bob", CreatedAt: tx0},
			credit.Grant{ID: "ovd_bob", Account: "bob", Source: credit.SourceOverdraft, CreatedAt: tx0})
	})
	wantErr(t, "InsertAccount in View", err, credit.Internal, "store_error")
	err = s.View(ctx, func(tx credit.Tx) error {
		_, err := tx.AddBalances("acme", 1, 0)
		return err
	})
	wantErr(t, "AddBalances in View", err, credit.Internal, "store_error")
	wantNoAccount(t, s, "bob")
	if a := accountOf(t, s, "acme"); a.Available != 0 {
		t.Errorf("Available after a write in View = %v; want 0", a.Available)
	}
}

// txCanceled: a request canceled before its Update starts is not run; one
// canceled while it runs is answered Unavailable/canceled and not committed.
func txCanceled(t *testing.T, s credit.Store) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	called := false
	err := s.Update(ctx, func(tx credit.Tx) error { called = true; return nil })
	wantErr(t, "Update(canceled context)", err, credit.Unavailable, "canceled")
	if called {
		t.Errorf("Update(canceled context) ran fn")
	}

	rowAccount(t, s, "acme", 0, 0)
	ctx, cancel = context.WithCancel(context.Background())
	err = s.Update(ctx, func(tx credit.Tx) error {
		if _, err := tx.AddBalances("acme", 1, 0); err != nil {
			return err
		}
		cancel()
		_, err := tx.Account("acme")
		return err
	})
	wantErr(t, "Update canceled while it runs", err, credit.Unavailable, "canceled")
	if a := accountOf(t, s, "acme"); a.Available != 0 {
		t.Errorf("Available after a canceled Update = %v; want 0 (nothing committed)", a.Available)
	}
}

func txPing(t *testing.T, s credit.Store) {
	if err := s.Ping(context.Background()); err != nil {
		t.Errorf("Ping() = %v", err)
	}
}
