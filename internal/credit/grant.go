package credit

import (
	"context"
	"time"
)

// GrantSpec is a request to put credits into an account.
type GrantSpec struct {
	Credits   Credits
	Source    Source
	ExpiresAt time.Time // zero: never
	Priority  int       // lower is used first; default 0
	Memo      string
}

// MaxPriority bounds a grant's priority; the overdraft grant sits above it.
const MaxPriority = 1_000_000

// AddGrant puts credits into an account. If the account is overdrawn, the new
// credits first pay that back. NotFound unknown_account; Invalid for a bad
// amount, source, priority or an expiry in the past.
func (l *Ledger) AddGrant(ctx context.Context, idem *Idempotency, account string, s GrantSpec) (Grant, error) {
	if err := checkAmount(s.Credits, "a grant"); err != nil {
		return Grant{}, err
	}
	if !validSource(s.Source) {
		e := Errorf(Invalid, "unknown_source", "unknown grant source %q", s.Source)
		for _, src := range Sources {
			e.Allowed = append(e.Allowed, string(src))
		}
		return Grant{}, e
	}
	if s.Priority < 0 || s.Priority > MaxPriority {
		return Grant{}, Errorf(Invalid, "invalid_priority", "priority must be 0 to %d, not %d", MaxPriority, s.Priority)
	}
	if len(s.Memo) > 1000 {
		return Grant{}, Errorf(Invalid, "invalid_memo", "a memo is at most 1000 bytes")
	}
	return update(ctx, l, idem, func(tx Tx, now time.Time) (Grant, error) {
		if !s.ExpiresAt.IsZero() && !s.ExpiresAt.After(now) {
			return Grant{}, Errorf(Invalid, "invalid_expiry", "expires_at %s is not in the future", s.ExpiresAt.Format(time.RFC3339))
		}
		if _, err := tx.Account(account); err != nil {
			return Grant{}, err
		}
		if err := l.settle(tx, account, now); err != nil {
			return Grant{}, err
		}
		g := Grant{ID: NewID("grt", now), Account: account, Source: s.Source, Granted: s.Credits,
			Priority: s.Priority, ExpiresAt: s.ExpiresAt.UTC().Truncate(time.Microsecond), CreatedAt: now, Memo: s.Memo}
		if err := tx.InsertGrant(g); err != nil {
			return Grant{}, err
		}
		e := newEntry(TxGrant, account, g.ID, now)
		e.t.Memo = s.Memo
		e.platform(BookIssued, -s.Credits)
		// Pay back an overdraft first: the overdraft grant is below zero.
		ovd, err := tx.Grant(overdraftGrantID(account))
		if err != nil {
			return Grant{}, err
		}
		payback := min(s.Credits, max(0, -ovd.Remaining))
		e.wallet(BookAvailable, ovd.ID, payback)
		e.wallet(BookAvailable, g.ID, s.Credits-payback)
		if _, err := e.commit(tx, nil); err != nil {
			return Grant{}, err
		}
		return tx.Grant(g.ID)
	})
}

func validSource(s Source) bool {
	for _, src := range Sources {
		if s == src {
			return true
		}
	}
	return false
}
