package credit

import (
	"context"
	"time"
)

// reserve holds amount on an account: Book.reserve checks and moves the
// balance in one step, then the amount is allocated across the grants in
// consumption order (the overdraft grant last, which may go below zero within
// the limit the check enforced). g is the generation the hold is for,
// recorded on its entry; nil for a generic hold.
//
// A team member's hold (h.Member) is counted against the member's limit in
// the same step: both checks pass, or neither moves anything.
func reserve(b *Book, h *Hold, g *Generation, now time.Time) (*Entry, error) {
	if err := checkMember(b, h.Member); err != nil {
		return nil, err
	}
	pays := payer(b, g)
	if h.Member != "" {
		if err := b.reserveMember(h, now); err != nil {
			return nil, err
		}
	}
	acct, err := b.reserve(h.Amount, now, pays)
	if err != nil {
		return nil, err
	}
	grants := b.Grants()
	e := newDraft(EntryHold, h.Account, h.ID, now)
	if g != nil {
		e.generation(*g)
	}
	e.t.Member = h.Member
	rest := h.Amount
	for _, g := range grants {
		if rest == 0 {
			break
		}
		take := min(rest, max(0, g.Remaining))
		if g.Source == SourceOverdraft {
			take = rest // the limit was checked by Reserve
		} else if !g.Live(now) || !pays(&g) {
			continue
		}
		if take == 0 {
			continue
		}
		h.Allocations = append(h.Allocations, Allocation{Grant: g.ID, Amount: take})
		e.wallet(BookAvailable, g.ID, -take)
		e.wallet(BookHeld, g.ID, take)
		rest -= take
	}
	if rest != 0 {
		return nil, Errorf(Internal, "allocation", "ledger: %s left unallocated on hold %s", rest, h.ID)
	}
	b.insertHold(*h)
	if h.Amount == 0 {
		return nil, nil // a free generation (a tiny upscale rounds to 0) moves nothing: no journal entry
	}
	return e.commit(b, &acct)
}

// payer returns which grants may pay for a hold for generation g (nil: a
// generic hold, which names no model): those whose applies_to allows its
// model with the model's tags in the catalog the batch runs with.
func payer(b *Book, g *Generation) func(*Grant) bool {
	model, tags := "", []string(nil)
	if g != nil {
		model = g.Model
		if b.cat != nil {
			if m, err := b.cat.Model(g.Model); err == nil {
				tags = m.Tags
			}
		}
	}
	return func(gr *Grant) bool { return gr.AppliesTo.Allows(model, tags) }
}

// resolveHold captures `capture` of an open hold and returns the rest, in one
// transaction, and records the outcome. The capture is taken from the
// allocations in consumption order. Returned credits go back to their grants,
// or to the platform's expired book if the grant expired meanwhile.
func resolveHold(b *Book, h *Hold, capture Credits, status HoldStatus, at time.Time) error {
	if h.Status != HoldOpen {
		return holdResolved(h)
	}
	if capture < 0 || capture > h.Open() {
		return Errorf(Invalid, "over_capture", "cannot capture %s credits of a hold of %s", capture, h.Open())
	}
	kind := EntryCapture
	if capture == 0 {
		kind = EntryRelease
	}
	e := newDraft(kind, h.Account, h.ID, at)
	e.t.Generation, e.t.Member = h.Generation, h.Member
	e.t.ChargedDelta, e.t.ListCredits = capture, capture
	if h.Generation != "" {
		// Every charge records what it was priced with.
		g, err := b.Generation(h.Generation)
		if err != nil {
			return err
		}
		e.generation(g)
	}
	rest := capture
	var returned Credits
	first := true
	for i := range h.Allocations {
		a := &h.Allocations[i]
		take := min(rest, a.Amount-a.Captured)
		a.Captured += take
		rest -= take
		if take > 0 {
			b.consume(at, e.t.Model, a.Grant, take, first)
			first = false
		}
		back := a.Amount - a.Captured
		e.wallet(BookHeld, a.Grant, -(take + back))
		e.platform(BookRevenue, take)
		if back == 0 {
			continue
		}
		g, err := b.Grant(a.Grant)
		if err != nil {
			return err
		}
		switch {
		case g.Source == SourceOverdraft:
			// What comes back to a payer that has expired since would have
			// expired with it.
			lost, err := returnToOverdraft(b, e, g, back, at)
			if err != nil {
				return err
			}
			e.platform(BookExpired, lost)
		case g.Live(at):
			e.wallet(BookAvailable, a.Grant, back)
		default:
			e.platform(BookExpired, back)
		}
		returned += back
	}
	if err := b.returnMember(h, h.Open()-capture); err != nil {
		return err
	}
	h.Captured += capture
	h.Released += returned
	h.Status = status
	if status == HoldCaptured && capture == 0 {
		h.Status = HoldReleased
	}
	h.ResolvedAt = at
	if err := b.updateHold(*h); err != nil {
		return err
	}
	if h.Amount > 0 { // a zero hold moves nothing and has no journal entry
		if _, err := e.commit(b, nil); err != nil {
			return err
		}
	}
	if h.Generation != "" {
		return recordGenerationOutcome(b, h, at)
	}
	return nil
}

func holdResolved(h *Hold) error {
	if h.Status == HoldExpired {
		return Errorf(Conflict, "hold_expired", "hold %s expired at %s and its credits were returned", h.ID, h.ExpiresAt.Format(time.RFC3339))
	}
	return Errorf(Conflict, "already_resolved", "hold %s is already %s", h.ID, h.Status)
}

// HoldSpec asks for a generic hold, for products other than image generation.
type HoldSpec struct {
	Credits Credits
	TTL     time.Duration // 0: the default
	// Member is the team member the hold is for: required on a team's
	// account, refused on any other.
	Member string
}

func (l *Ledger) ttl(d time.Duration) (time.Duration, error) {
	if d == 0 {
		return l.holdTTL, nil
	}
	if d < time.Second || d > MaxHoldTTL {
		return 0, Errorf(Invalid, "invalid_ttl", "a hold TTL is 1 second to %s, not %s", MaxHoldTTL, d)
	}
	return d, nil
}

// CreateHold reserves credits on an account. InsufficientCredits when the
// available balance (with the overdraft) cannot cover it.
func (l *Ledger) CreateHold(ctx context.Context, idem *Idempotency, account string, s HoldSpec) (Hold, error) {
	if err := checkAmount(s.Credits, "a hold"); err != nil {
		return Hold{}, err
	}
	if err := checkAccountID(account); err != nil {
		return Hold{}, err
	}
	ttl, err := l.ttl(s.TTL)
	if err != nil {
		return Hold{}, err
	}
	if s.Member != "" {
		if err := checkMemberID(s.Member); err != nil {
			return Hold{}, err
		}
	}
	h, err := update(ctx, l, idem, account, memberRefs(s.Member), func(b *Book, now time.Time) (Hold, error) {
		if err := settle(b, now); err != nil {
			return Hold{}, err
		}
		if err := checkMember(b, s.Member); err != nil {
			return Hold{}, err
		}
		if err := giveDaily(b, now); err != nil {
			return Hold{}, err
		}
		h := Hold{ID: NewID("hld", now), Account: account, Amount: s.Credits, Status: HoldOpen, CreatedAt: now, ExpiresAt: now.Add(ttl), Member: s.Member}
		if _, err := reserve(b, &h, nil, now); err != nil {
			return Hold{}, err
		}
		return h, nil
	})
	if err == nil {
		l.owners.remember(h.ID, h.Account)
	}
	return h, err
}

// CaptureHold charges all (credits nil) or part of an open generic hold and
// returns the rest. Conflict hold_expired or already_resolved; Invalid
// over_capture, or invalid_amount for credits of 0 or less.
func (l *Ledger) CaptureHold(ctx context.Context, idem *Idempotency, id string, credits *Credits) (Hold, error) {
	if credits != nil {
		// Capturing nothing is a release: say release, not capture 0.
		if err := checkAmount(*credits, "a capture"); err != nil {
			return Hold{}, err
		}
	}
	return l.finishHold(ctx, idem, id, func(h *Hold) Credits {
		if credits == nil {
			return h.Open()
		}
		return *credits
	})
}

// ReleaseHold returns an open generic hold whole.
func (l *Ledger) ReleaseHold(ctx context.Context, idem *Idempotency, id string) (Hold, error) {
	return l.finishHold(ctx, idem, id, func(*Hold) Credits { return 0 })
}

func (l *Ledger) finishHold(ctx context.Context, idem *Idempotency, id string, amount func(*Hold) Credits) (Hold, error) {
	if err := named(id, "hold"); err != nil {
		return Hold{}, err
	}
	account, err := l.holdAccount(ctx, id)
	if err != nil {
		return Hold{}, err
	}
	return update(ctx, l, idem, account, Refs{Holds: []string{id}}, func(b *Book, now time.Time) (Hold, error) {
		h, err := b.Hold(id)
		if err != nil {
			return Hold{}, err
		}
		if h.Generation != "" {
			return Hold{}, Errorf(Conflict, "generation_hold", "hold %s belongs to generation %s: complete or fail the generation", h.ID, h.Generation)
		}
		if err := settle(b, now); err != nil {
			return Hold{}, err
		}
		if h, err = b.Hold(id); err != nil {
			return Hold{}, err
		}
		c := amount(&h)
		if c > h.Open() && h.Status == HoldOpen {
			return Hold{}, Errorf(Invalid, "over_capture", "cannot capture %s credits of a hold of %s", c, h.Open())
		}
		if err := resolveHold(b, &h, c, HoldCaptured, now); err != nil {
			return Hold{}, err
		}
		if c == 0 && ReasonOf(ctx) != "" {
			// A person released it (support): audited.
			detail := struct {
				Hold     string  `json:"hold"`
				Released Credits `json:"released"`
			}{h.ID, h.Released}
			if err := audit(ctx, b, now, AuditHoldRelease, h.Account, detail); err != nil {
				return Hold{}, err
			}
		}
		return h, nil
	})
}

// Hold returns a hold, as of now (one past its TTL is released first).
func (l *Ledger) Hold(ctx context.Context, id string) (Hold, error) {
	if err := named(id, "hold"); err != nil {
		return Hold{}, err
	}
	h, err := view(ctx, l, func(tx Tx, _ time.Time) (Hold, error) { return tx.Hold(id) })
	if err != nil || h.Status != HoldOpen || l.Now().Before(h.ExpiresAt) {
		return h, err
	}
	return update(ctx, l, nil, h.Account, Refs{Holds: []string{id}}, func(b *Book, now time.Time) (Hold, error) {
		if err := settle(b, now); err != nil {
			return Hold{}, err
		}
		return b.Hold(id)
	})
}
