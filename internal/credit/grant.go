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
	// AppliesTo limits the models the grant pays for (zero: any).
	AppliesTo Eligibility
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
		if s.Source == SourceTopup {
			a, _ := b.Account()
			if p, _ := planAt(b.cat, &a, b.cur.Subscriptions, now); p != nil && !p.Topups {
				return Grant{}, Errorf(Forbidden, "subscription_required", "top-ups are on sale to account %s only with an active subscription (it is on the %s plan)", account, p.Name)
			}
		}
		g := Grant{ID: NewID("grt", now), Account: account, Source: s.Source, Granted: s.Credits,
			Priority: s.Priority, ExpiresAt: s.ExpiresAt.UTC().Truncate(time.Microsecond), CreatedAt: now, Memo: s.Memo, AppliesTo: s.AppliesTo}
		if err := addGrant(b, g, now); err != nil {
			return Grant{}, err
		}
		detail := struct {
			Grant     string       `json:"grant"`
			Credits   Credits      `json:"credits"`
			Source    Source       `json:"source"`
			Priority  int          `json:"priority,omitempty"`
			ExpiresAt time.Time    `json:"expires_at,omitzero"`
			Memo      string       `json:"memo,omitempty"`
			AppliesTo *Eligibility `json:"applies_to,omitempty"`
		}{g.ID, s.Credits, s.Source, s.Priority, g.ExpiresAt, s.Memo, nil}
		if !s.AppliesTo.IsZero() {
			detail.AppliesTo = &s.AppliesTo
		}
		if err := audit(ctx, b, now, AuditGrantCreate, account, detail); err != nil {
			return Grant{}, err
		}
		return b.Grant(g.ID)
	})
}

// addGrant puts grant g (its Granted; Remaining is set by the postings)
// into the account at `at`, in one journal entry. If the account is
// overdrawn, the new credits first pay that back.
func addGrant(b *Book, g Grant, at time.Time) error {
	g.Remaining = 0
	b.insertGrant(g)
	e := newDraft(EntryGrant, g.Account, g.ID, at)
	e.t.Memo = g.Memo
	e.platform(BookIssued, -g.Granted)
	// Pay back an overdraft first: the overdraft grant is below zero.
	ovd, err := b.Grant(overdraftGrantID(g.Account))
	if err != nil {
		return err
	}
	owed := max(0, -ovd.Remaining)
	if !g.AppliesTo.IsZero() {
		// Credits limited to some models do not pay an overdraft back: the
		// debt, or an open hold on it, may be for a model they may not pay
		// for.
		owed = 0
	}
	// Open holds on the overdraft move onto the new grant, so that what
	// they return later comes back to the grant that covered them.
	moved, err := moveOverdraftHolds(b, e, ovd.ID, g.ID, min(g.Granted, owed))
	if err != nil {
		return err
	}
	// What is still owed was charged: the new grant pays it back.
	payback := min(g.Granted-moved, owed-moved)
	e.wallet(BookAvailable, ovd.ID, payback)
	e.wallet(BookAvailable, g.ID, g.Granted-moved-payback)
	if payback > 0 {
		if err := b.addPaidBack(g.ID, payback); err != nil {
			return err
		}
	}
	_, err = e.commit(b, nil)
	return err
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

// VoidGrant takes back what is left of a grant, by a journal entry (kind
// void) that returns it to the platform's issued book, and audits it with
// memo. Its held part stays with its holds; what they return later leaves
// the balance as from an expired grant. Conflict grant_expired when it has
// expired or was voided; Invalid daily_grant for a day's free credits (they
// end at midnight and are given again by the next day's first charge);
// NotFound unknown_grant.
func (l *Ledger) VoidGrant(ctx context.Context, idem *Idempotency, id, memo string) (Grant, error) {
	if err := named(id, "grant"); err != nil {
		return Grant{}, err
	}
	if err := checkMemo(memo); err != nil {
		return Grant{}, err
	}
	read, err := l.readGrant(ctx, id)
	if err != nil {
		return Grant{}, err
	}
	return l.changeGrant(ctx, idem, read, func(b *Book, g *Grant, now time.Time) error {
		e := newDraft(EntryVoid, g.Account, g.ID, now)
		e.t.Memo = memo
		e.wallet(BookAvailable, g.ID, -g.Remaining)
		e.platform(BookIssued, g.Remaining)
		if len(e.t.Postings) > 0 {
			if _, err := e.commit(b, nil); err != nil {
				return err
			}
		}
		if err := b.expireGrant(g.ID, now); err != nil {
			return err
		}
		b.grantAt(g.ID).ExpiresAt = now
		b.voided = append(b.voided, g.ID)
		b.noteLeft(g.ID, g.Remaining)
		detail := struct {
			Grant  string  `json:"grant"`
			Voided Credits `json:"voided"`
			Memo   string  `json:"memo,omitempty"`
		}{g.ID, g.Remaining, memo}
		return audit(ctx, b, now, AuditGrantVoid, g.Account, detail)
	})
}

// AmendGrantExpiry moves a live grant's expiry to expiresAt (zero: never),
// which must be in the future; audited with memo. Conflict grant_expired;
// Invalid invalid_expiry, daily_grant, plan_grant (a plan's period grant
// expires with its period); NotFound unknown_grant.
func (l *Ledger) AmendGrantExpiry(ctx context.Context, idem *Idempotency, id string, expiresAt time.Time, memo string) (Grant, error) {
	if err := named(id, "grant"); err != nil {
		return Grant{}, err
	}
	if err := checkMemo(memo); err != nil {
		return Grant{}, err
	}
	expiresAt = expiresAt.UTC().Truncate(time.Microsecond)
	read, err := l.readGrant(ctx, id)
	if err != nil {
		return Grant{}, err
	}
	return l.changeGrant(ctx, idem, read, func(b *Book, g *Grant, now time.Time) error {
		if g.Period != "" && g.Source != SourceRollover {
			// A month's allowance and its upgrade grant expire together and
			// share the rollover cap at that instant (see rollover).
			return Errorf(Invalid, "plan_grant", "grant %s is a plan's credits for a period: it expires with the period", g.ID)
		}
		if !expiresAt.IsZero() && !expiresAt.After(now) {
			return Errorf(Invalid, "invalid_expiry", "expires_at %s is not in the future", expiresAt.Format(time.RFC3339))
		}
		b.grantAt(g.ID).ExpiresAt = expiresAt
		sortGrants(b.cur.Grants)
		detail := struct {
			Grant     string    `json:"grant"`
			ExpiresAt time.Time `json:"expires_at,omitzero"`
			Was       time.Time `json:"was,omitzero"`
			Memo      string    `json:"memo,omitempty"`
		}{g.ID, expiresAt, g.ExpiresAt, memo}
		return audit(ctx, b, now, AuditGrantAmend, g.Account, detail)
	})
}

// readGrant reads grant id from the store (not the owners cache: the read
// is what tells an expired grant, which a write's state may not hold, from
// a spent one). NotFound unknown_grant, also for an overdraft grant.
func (l *Ledger) readGrant(ctx context.Context, id string) (Grant, error) {
	g, err := view(ctx, l, func(tx Tx, _ time.Time) (Grant, error) { return tx.Grant(id) })
	if err == nil && g.Source == SourceOverdraft {
		err = unknown("grant", id)
	}
	if err == nil {
		l.owners.remember(id, g.Account)
	}
	return g, err
}

// changeGrant runs fn on a live, loaded grant, as read before the write.
// Every refusal is decided in the write, after its idempotency check, so
// that a retry gets its first answer.
func (l *Ledger) changeGrant(ctx context.Context, idem *Idempotency, read Grant, fn func(*Book, *Grant, time.Time) error) (Grant, error) {
	id := read.ID
	return update(ctx, l, idem, read.Account, Refs{}, func(b *Book, now time.Time) (Grant, error) {
		if err := settle(b, now); err != nil {
			return Grant{}, err
		}
		g, err := b.Grant(id)
		if err != nil {
			// Not in the working set: expired (and marked so before the
			// read), or spent to nothing and never expiring.
			if !read.ExpiredAt.IsZero() {
				return Grant{}, Errorf(Conflict, "grant_expired", "grant %s expired or was voided at %s", id, read.ExpiredAt.Format(time.RFC3339))
			}
			return Grant{}, Errorf(Conflict, "grant_spent", "grant %s has nothing left: it was spent", id)
		}
		switch {
		case g.Source == SourceOverdraft:
			return Grant{}, unknown("grant", id)
		case !g.ExpiredAt.IsZero():
			return Grant{}, Errorf(Conflict, "grant_expired", "grant %s expired or was voided at %s", id, g.ExpiredAt.Format(time.RFC3339))
		case g.daily():
			return Grant{}, Errorf(Invalid, "daily_grant", "grant %s is a day's free credits: they end at midnight", id)
		}
		if err := fn(b, &g, now); err != nil {
			return Grant{}, err
		}
		return b.Grant(id)
	})
}
