package credit

import (
	"context"
	"math"
	"time"
)

// AccountView is an account as support sees it: balances, grants, open holds.
type AccountView struct {
	Account
	// OverdraftUsed is how far the account is below zero (0 when not).
	OverdraftUsed Credits
	// Grants are the real grants, in consumption order (the overdraft grant is
	// summarized by OverdraftUsed).
	Grants    []Grant
	OpenHolds []Hold
}

func overdraftGrantID(account string) string { return "ovd_" + account }

// CreateAccount opens an account with the given overdraft limit (0: none).
// Conflict account_exists if the id is taken; Invalid reserved_account_id for
// PlatformAccount, whose books are the platform's: a user's wallet of that
// name would mix its postings with revenue and issued credits.
func (l *Ledger) CreateAccount(ctx context.Context, idem *Idempotency, id string, overdraft Credits) (Account, error) {
	if err := checkAccountID(id); err != nil {
		return Account{}, err
	}
	if id == PlatformAccount {
		return Account{}, Errorf(Invalid, "reserved_account_id", "the account id %q is reserved for the platform's books", id)
	}
	if overdraft < 0 || overdraft > MaxCredits {
		return Account{}, Errorf(Invalid, "invalid_amount", "overdraft must be 0 to %s credits, not %s", MaxCredits, overdraft)
	}
	return update(ctx, l, idem, id, Refs{}, func(b *Book, now time.Time) (Account, error) {
		a := Account{ID: id, Overdraft: overdraft, CreatedAt: now}
		g := Grant{ID: overdraftGrantID(id), Account: id, Source: SourceOverdraft, Priority: math.MaxInt32, CreatedAt: now}
		if err := b.insertAccount(a, g); err != nil {
			return Account{}, err
		}
		detail := struct {
			Overdraft Credits `json:"overdraft"`
		}{overdraft}
		if err := audit(ctx, b, now, AuditAccountCreate, id, detail); err != nil {
			return Account{}, err
		}
		return a, nil
	})
}

// Account returns an account with its grants and open holds, as of now: holds
// and grants past their time are expired first.
func (l *Ledger) Account(ctx context.Context, id string) (AccountView, error) {
	if err := named(id, "account"); err != nil {
		return AccountView{}, err
	}
	v, err := view(ctx, l, func(tx Tx, now time.Time) (AccountView, error) { return accountView(tx, id, now) })
	if err != nil || !v.due(l.Now()) {
		return v, err
	}
	// Something is past its time: settle it (a write), then answer.
	if _, err := update(ctx, l, nil, id, Refs{}, func(b *Book, now time.Time) (struct{}, error) {
		return struct{}{}, settle(b, now)
	}); err != nil {
		return AccountView{}, err
	}
	return view(ctx, l, func(tx Tx, now time.Time) (AccountView, error) { return accountView(tx, id, now) })
}

func (v *AccountView) due(now time.Time) bool {
	for _, h := range v.OpenHolds {
		if !now.Before(h.ExpiresAt) {
			return true
		}
	}
	for _, g := range v.Grants {
		if g.ExpiredAt.IsZero() && !g.ExpiresAt.IsZero() && !now.Before(g.ExpiresAt) {
			return true
		}
	}
	return false
}

func accountView(tx Tx, id string, now time.Time) (AccountView, error) {
	a, err := tx.Account(id)
	if err != nil {
		return AccountView{}, err
	}
	v := AccountView{Account: a}
	grants, err := tx.Grants(id)
	if err != nil {
		return AccountView{}, err
	}
	for _, g := range grants {
		if g.Source == SourceOverdraft {
			if g.Remaining < 0 {
				v.OverdraftUsed = -g.Remaining
			}
			if g.Remaining <= 0 {
				continue // shown as OverdraftUsed; above zero it holds spendable credits
			}
		}
		v.Grants = append(v.Grants, g)
	}
	if v.OpenHolds, err = tx.OpenHolds(id); err != nil {
		return AccountView{}, err
	}
	return v, nil
}
