package sqlite_test

import (
	"context"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

func TestAccount_RoundTrip(t *testing.T) {
	db := MustOpenDB(t)
	tokyo := time.FixedZone("JST", 9*3600)
	mustUpdate(t, db, func(tx credit.Tx) error {
		// Balances given to InsertAccount are ignored: an account starts at zero.
		a := credit.Account{ID: "acme", Overdraft: 2500, Available: 99, Held: 99, CreatedAt: t0.In(tokyo)}
		return tx.InsertAccount(a, credit.Grant{ID: "ovd_acme", Account: "acme", Source: credit.SourceOverdraft, Priority: 1 << 31, CreatedAt: t0})
	})
	mustView(t, db, func(tx credit.Tx) error {
		got, err := tx.Account("acme")
		if err != nil {
			return err
		}
		want := credit.Account{ID: "acme", Overdraft: 2500, CreatedAt: t0}
		if !reflect.DeepEqual(got, want) {
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
		wantError(t, "Account(nobody)", err, credit.NotFound, "unknown_account")
		return nil
	})
}

func TestAddBalances(t *testing.T) {
	db := MustOpenDB(t)
	newAccount(t, db, "acme", 0, 0)
	mustUpdate(t, db, func(tx credit.Tx) error {
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
		wantError(t, "AddBalances(nobody)", err, credit.NotFound, "unknown_account")
		return nil
	})
}

func TestReserve(t *testing.T) {
	db := MustOpenDB(t)
	newAccount(t, db, "acme", 0, 73500)
	t.Run("Enough", func(t *testing.T) {
		mustUpdate(t, db, func(tx credit.Tx) error {
			a, err := tx.Reserve("acme", 49000)
			if err != nil {
				return err
			}
			if a.Available != 24500 || a.Held != 49000 {
				t.Errorf("Reserve(49) = %v/%v; want 24.5 available, 49 held", a.Available, a.Held)
			}
			return nil
		})
	})
	t.Run("ErrInsufficientCredits", func(t *testing.T) {
		err := db.Update(context.Background(), func(tx credit.Tx) error {
			a, err := tx.Reserve("acme", 24501)
			if a.Available != 24500 || a.Held != 49000 {
				t.Errorf("Reserve(24.501) returned the account as %v/%v; want it as it is, 24.5/49", a.Available, a.Held)
			}
			return err
		})
		wantError(t, "Reserve(24.501 of 24.5)", err, credit.InsufficientCredits, "insufficient_credits")
		e := err.(*credit.Error) // the ledger reads these fields without errors.As
		if e.Available != 24500 || e.Required != 24501 {
			t.Errorf("InsufficientCredits Available/Required = %v/%v; want 24.5/24.501", e.Available, e.Required)
		}
	})
	t.Run("ErrUnknownAccount", func(t *testing.T) {
		err := db.Update(context.Background(), func(tx credit.Tx) error {
			_, err := tx.Reserve("nobody", 1)
			return err
		})
		wantError(t, "Reserve(nobody)", err, credit.NotFound, "unknown_account")
	})
	t.Run("Exact", func(t *testing.T) {
		mustUpdate(t, db, func(tx credit.Tx) error {
			a, err := tx.Reserve("acme", 24500)
			if err == nil && (a.Available != 0 || a.Held != 73500) {
				t.Errorf("Reserve(all) = %v/%v; want 0/73.5", a.Available, a.Held)
			}
			return err
		})
	})
}

// Under any concurrency the available balance never goes below zero: 64
// clients race to reserve 5 credits each of 100; exactly 20 win.
func TestReserve_Concurrent(t *testing.T) {
	db := MustOpenDB(t)
	newAccount(t, db, "acme", 0, credit.Whole(100))
	const clients = 64
	var wg sync.WaitGroup
	errs := make([]error, clients)
	start := make(chan struct{})
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			errs[i] = db.Update(context.Background(), func(tx credit.Tx) error {
				_, err := tx.Reserve("acme", credit.Whole(5))
				return err
			})
		}()
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
	mustView(t, db, func(tx credit.Tx) error {
		a, err := tx.Account("acme")
		if err == nil && (a.Available != 0 || a.Held != credit.Whole(100)) {
			t.Errorf("after the race: Available %v, Held %v; want 0 and 100", a.Available, a.Held)
		}
		return err
	})
}

func TestReserve_Overdraft(t *testing.T) {
	db := MustOpenDB(t)
	newAccount(t, db, "acme", 10000, 0) // may go to -10 credits, no further
	steps := []struct {
		amount    credit.Credits
		code      string
		available credit.Credits
	}{
		{4000, "", -4000},
		{6001, credit.InsufficientCredits, -4000},
		{6000, "", -10000},
		{1, credit.InsufficientCredits, -10000},
		{0, "", -10000},
	}
	for _, s := range steps {
		err := db.Update(context.Background(), func(tx credit.Tx) error {
			_, err := tx.Reserve("acme", s.amount)
			return err
		})
		if credit.ErrorCode(err) != s.code {
			t.Fatalf("Reserve(%v) = %v; want code %q", s.amount, err, s.code)
		}
		mustView(t, db, func(tx credit.Tx) error {
			a, err := tx.Account("acme")
			if err == nil && a.Available != s.available {
				t.Errorf("after Reserve(%v): Available %v; want %v", s.amount, a.Available, s.available)
			}
			return err
		})
	}
}
