package credit

import (
	"context"
	"sort"
	"time"
)

// GrantSpec is a request to put credits into an account.
type GrantSpec struct {
	Credits   Credits
	Source    Source
	ExpiresAt time.Time // zero: never, unless Expires
	// Expires says ExpiresAt was given, so that Go's zero time
	// (0001-01-01T00:00:00Z) from a client is that time, long past and
	// refused, rather than "never". A non-zero ExpiresAt expires either way.
	Expires  bool
	Priority int // lower is used first; default 0
	Memo     string
}

// MaxPriority bounds a grant's priority; the overdraft grant sits above it.
const MaxPriority = 1_000_000

// AddGrant puts credits into an account. If the account is overdrawn, the new
// credits first pay that back. NotFound unknown_account; Invalid for a bad
// amount, source, priority or an expiry in the past.
func (l *Ledger) AddGrant(ctx context.Context, idem *Idempotency, account string, s GrantSpec) (Grant, error) {
	if err := checkAccountID(account); err != nil {
		return Grant{}, err
	}
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
	if err := checkMemo(s.Memo); err != nil {
		return Grant{}, err
	}
	return update(ctx, l, idem, account, Refs{}, func(b *Book, now time.Time) (Grant, error) {
		s.ExpiresAt = s.ExpiresAt.UTC().Truncate(time.Microsecond) // the store's precision
		if (s.Expires || !s.ExpiresAt.IsZero()) && !s.ExpiresAt.After(now) {
			return Grant{}, Errorf(Invalid, "invalid_expiry", "expires_at %s is not in the future", s.ExpiresAt.Format(time.RFC3339))
		}
		if _, err := b.Account(); err != nil {
			return Grant{}, err
		}
		if err := settle(b, now); err != nil {
			return Grant{}, err
		}
		g := Grant{ID: NewID("grt", now), Account: account, Source: s.Source, Granted: s.Credits,
			Priority: s.Priority, ExpiresAt: s.ExpiresAt.UTC().Truncate(time.Microsecond), CreatedAt: now, Memo: s.Memo}
		b.insertGrant(g)
		e := newDraft(EntryGrant, account, g.ID, now)
		e.t.Memo = s.Memo
		e.platform(BookIssued, -s.Credits)
		// Pay back an overdraft first: the overdraft grant is below zero.
		ovd, err := b.Grant(overdraftGrantID(account))
		if err != nil {
			return Grant{}, err
		}
		owed := max(0, -ovd.Remaining)
		// Open holds on the overdraft move onto the new grant, so that what
		// they return later comes back to the grant that covered them.
		moved, err := moveOverdraftHolds(b, e, ovd.ID, g.ID, min(s.Credits, owed))
		if err != nil {
			return Grant{}, err
		}
		// What is still owed was charged: the new grant pays it back.
		payback := min(s.Credits-moved, owed-moved)
		e.wallet(BookAvailable, ovd.ID, payback)
		e.wallet(BookAvailable, g.ID, s.Credits-moved-payback)
		if payback > 0 {
			if err := b.addPaidBack(g.ID, payback); err != nil {
				return Grant{}, err
			}
		}
		if _, err := e.commit(b, nil); err != nil {
			return Grant{}, err
		}
		detail := struct {
			Grant     string    `json:"grant"`
			Credits   Credits   `json:"credits"`
			Source    Source    `json:"source"`
			Priority  int       `json:"priority,omitempty"`
			ExpiresAt time.Time `json:"expires_at,omitzero"`
			Memo      string    `json:"memo,omitempty"`
		}{g.ID, s.Credits, s.Source, s.Priority, g.ExpiresAt, s.Memo}
		if err := audit(ctx, b, now, AuditGrantCreate, account, detail); err != nil {
			return Grant{}, err
		}
		return b.Grant(g.ID)
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

// moveOverdraftHolds moves up to budget of the open holds' overdraft
// allocations onto grant g, oldest hold first: g's credits become held for
// those holds in place of the overdraft. It returns how much moved.
func moveOverdraftHolds(b *Book, e *draft, ovd, g string, budget Credits) (Credits, error) {
	if budget == 0 {
		return 0, nil
	}
	holds := b.overdraftHolds()
	var moved Credits
	for _, h := range holds {
		changed := false
		for i := 0; i < len(h.Allocations) && moved < budget; i++ {
			a := &h.Allocations[i]
			if a.Grant != ovd || a.Amount == 0 {
				continue
			}
			x := min(a.Amount, budget-moved)
			a.Amount -= x
			// The moved part goes just before the overdraft's: charged first.
			h.Allocations = append(h.Allocations[:i], append([]Allocation{{Grant: g, Amount: x}}, h.Allocations[i:]...)...)
			i++
			e.wallet(BookHeld, ovd, -x)
			e.wallet(BookAvailable, ovd, x)
			e.wallet(BookHeld, g, x)
			moved += x
			changed = true
		}
		if changed {
			kept := h.Allocations[:0]
			for _, a := range h.Allocations {
				if a.Amount > 0 {
					kept = append(kept, a)
				}
			}
			h.Allocations = kept
			if err := b.updateHold(h); err != nil {
				return 0, err
			}
		}
		if moved == budget {
			break
		}
	}
	return moved, nil
}

// returnToOverdraft posts credits coming back to the overdraft grant ovd (a
// released hold or a refunded charge that had been taken from the overdraft).
// They pay down what is still owed; any more means later grants paid back a
// debt that turned out not to be owed, so that part returns to those grants,
// newest first.
//
// A share whose grant has expired since is not posted: it is returned, and
// the caller applies its own policy to it — a hold's return goes to the
// expired book (the credits would have expired with the grant), a refund's
// becomes a new never-expiring refund grant (a customer never loses refunded
// credits to expiry), exactly as each does for its other expired grants.
func returnToOverdraft(b *Book, e *draft, ovd Grant, amount Credits, at time.Time) (expired Credits, err error) {
	owed := max(0, -(ovd.Remaining + pending(e, ovd.ID)))
	toOvd := min(amount, owed)
	e.wallet(BookAvailable, ovd.ID, toOvd)
	excess := amount - toOvd
	if excess == 0 {
		return 0, nil
	}
	grants := b.Grants()
	sort.SliceStable(grants, func(i, j int) bool { return grants[i].CreatedAt.After(grants[j].CreatedAt) })
	for _, g := range grants {
		if excess == 0 {
			break
		}
		x := min(excess, g.PaidBack)
		if x == 0 {
			continue
		}
		if err := b.addPaidBack(g.ID, -x); err != nil {
			return 0, err
		}
		if g.Live(at) {
			e.wallet(BookAvailable, g.ID, x)
		} else {
			expired += x
		}
		excess -= x
	}
	e.wallet(BookAvailable, ovd.ID, excess) // nothing paid it back: it stays with the overdraft grant
	return expired, nil
}

// pending is what e already posts to a grant's available book.
func pending(e *draft, grant string) Credits {
	var sum Credits
	for _, p := range e.t.Postings {
		if p.Account == e.t.Account && p.Book == BookAvailable && p.Grant == grant {
			sum += p.Amount
		}
	}
	return sum
}
