package credit

import (
	"context"
	"encoding/json"
	"time"
)

// GenerationSpec is the Create button: what to make, for whom.
type GenerationSpec struct {
	Account string
	Request QuoteRequest
	TTL     time.Duration // hold TTL; 0: the default
	// QuoteJSON renders the quote for the audit record; nil stores the engine's
	// own JSON form.
	QuoteJSON func(Quote) []byte
	// Member is the team member who pressed Create: required on a team's
	// account, whose pool pays within the member's monthly limit; refused
	// on any other.
	Member string
}

// CreateGeneration prices the request and holds its total in one step.
// InsufficientCredits (with Available and Required) when the balance cannot
// cover it; the quote's Invalid errors for bad settings.
func (l *Ledger) CreateGeneration(ctx context.Context, idem *Idempotency, s GenerationSpec) (Generation, error) {
	if err := checkAccountID(s.Account); err != nil {
		return Generation{}, err
	}
	ttl, err := l.ttl(s.TTL)
	if err != nil {
		return Generation{}, err
	}
	if s.Member != "" {
		if err := checkMemberID(s.Member); err != nil {
			return Generation{}, err
		}
	}
	g, err := update(ctx, l, idem, s.Account, memberRefs(s.Member), func(b *Book, now time.Time) (Generation, error) {
		// Priced inside the transaction, after the idempotency check: a retry
		// gets its first answer even if the catalog changed in between.
		q, err := l.catalog().Quote(s.Request)
		if err != nil {
			return Generation{}, err
		}
		var quoteJSON []byte
		if s.QuoteJSON != nil {
			quoteJSON = s.QuoteJSON(q)
		} else {
			quoteJSON, _ = json.Marshal(q)
		}
		if err := settle(b, now); err != nil {
			return Generation{}, err
		}
		a, err := b.Account()
		if err != nil {
			return Generation{}, err
		}
		if err := checkMember(b, s.Member); err != nil {
			return Generation{}, err
		}
		// The plan decides before anything is held: whether the account may
		// use the model, and whether a window makes it free.
		plan, sub := planAt(b.cat, &a, b.cur.Subscriptions, now)
		if err := planAllows(l.catalog(), plan, &a, q.Model); err != nil {
			return Generation{}, err
		}
		g := Generation{
			ID: NewID("gen", now), Account: s.Account, Status: GenerationHeld,
			Model: q.Model, Kind: q.Kind, CatalogVersion: q.CatalogVersion, Images: q.Images,
			HoldCredits: q.TotalCredits, UnitCredits: q.UnitCredits, Surcharge: q.TotalCredits - q.UnitCredits*Credits(q.Images),
			Quote: quoteJSON, CreatedAt: now, ExpiresAt: now.Add(ttl), Member: s.Member,
		}
		if w, i := windowAt(plan, sub, q.Model, now); w != nil {
			if g.Lane, err = useWindow(b, sub, w, i, now); err != nil {
				return Generation{}, err
			}
			g.Window, g.HoldCredits = windowRef(sub.ID, i), 0
		} else if err := giveDaily(b, now); err != nil {
			return Generation{}, err
		}
		h := Hold{ID: NewID("hld", now), Account: s.Account, Generation: g.ID, Amount: g.HoldCredits,
			Status: HoldOpen, CreatedAt: now, ExpiresAt: g.ExpiresAt, Member: s.Member}
		g.Hold = h.ID
		if _, err := reserve(b, &h, &g, now); err != nil {
			if ErrorReason(err) == "insufficient_credits" {
				return Generation{}, insufficient(err, q.TotalCredits)
			}
			return Generation{}, err
		}
		b.insertGeneration(g)
		return g, nil
	})
	if err == nil {
		l.owners.remember(g.ID, g.Account)
	}
	return g, err
}

// insufficient rewrites the balance check's refusal in the Create button's
// words.
func insufficient(err error, required Credits) error {
	var available, eligible Credits
	if e, ok := err.(*Error); ok {
		available, eligible = e.Available, e.Eligible
	}
	msg := "the account has " + available.String() + " credits available; this generation needs " + required.String()
	if eligible != available {
		msg = "the account has " + available.String() + " credits available, of which " + eligible.String() +
			" may pay for this model; this generation needs " + required.String()
	}
	return &Error{Code: InsufficientCredits, Reason: "insufficient_credits", Message: msg,
		Available: available, Eligible: eligible, Required: required}
}

// planAllows refuses (Forbidden plan_required) a model the account's plan
// does not let it use: a Pro model without a subscription.
func planAllows(cat *Catalog, p *Plan, a *Account, model string) error {
	if p == nil || p.Models.IsZero() {
		return nil
	}
	m, err := cat.Model(model)
	if err != nil {
		return err
	}
	if p.Models.Allows(m.ID, m.Tags) {
		return nil
	}
	return Errorf(Forbidden, "plan_required", "%s needs an active subscription: account %s is on the %s plan", m.Name, a.ID, p.Name)
}

// CompleteGeneration charges the images delivered (N × per image, plus the
// per-generation surcharges when N > 0) and returns the rest of the hold.
// Conflict hold_expired when the hold's TTL passed first, already_resolved
// when it was completed or failed before; Invalid invalid_image_count when N
// is more than the generation asked for.
func (l *Ledger) CompleteGeneration(ctx context.Context, idem *Idempotency, id string, delivered int) (Generation, error) {
	return l.finishGeneration(ctx, idem, id, GenerationCompleted, func(g *Generation) (Credits, error) {
		if delivered < 0 || delivered > g.Images {
			e := Errorf(Invalid, "invalid_image_count", "images_delivered must be 0 to %d (the images held for), not %d", g.Images, delivered)
			return 0, e
		}
		g.ImagesDelivered = delivered
		if delivered == 0 {
			return 0, nil
		}
		return g.UnitCredits*Credits(delivered) + g.Surcharge, nil
	})
}

// FailGeneration returns the whole hold: nothing is charged.
func (l *Ledger) FailGeneration(ctx context.Context, idem *Idempotency, id string) (Generation, error) {
	return l.finishGeneration(ctx, idem, id, GenerationFailed, func(*Generation) (Credits, error) { return 0, nil })
}

func (l *Ledger) finishGeneration(ctx context.Context, idem *Idempotency, id string, final GenerationStatus, charge func(*Generation) (Credits, error)) (Generation, error) {
	if err := named(id, "generation"); err != nil {
		return Generation{}, err
	}
	account, err := l.generationAccount(ctx, id)
	if err != nil {
		return Generation{}, err
	}
	return update(ctx, l, idem, account, Refs{Generations: []string{id}}, func(b *Book, now time.Time) (Generation, error) {
		if err := settle(b, now); err != nil {
			return Generation{}, err
		}
		g, err := b.Generation(id)
		if err != nil {
			return Generation{}, err
		}
		switch g.Status {
		case GenerationHeld:
		case GenerationExpired:
			return Generation{}, Errorf(Conflict, "hold_expired", "generation %s was not resolved within its hold TTL (until %s); its credits were returned", g.ID, g.ExpiresAt.Format(time.RFC3339))
		default:
			return Generation{}, Errorf(Conflict, "already_resolved", "generation %s is already %s", g.ID, g.Status)
		}
		amount, err := charge(&g)
		if err != nil {
			return Generation{}, err
		}
		list := amount
		if g.Window != "" {
			amount = 0 // an unlimited window's generation is free; its list price is recorded
		}
		h, err := b.Hold(g.Hold)
		if err != nil {
			return Generation{}, err
		}
		if err := resolveHold(b, &h, amount, HoldCaptured, now); err != nil {
			return Generation{}, err
		}
		delivered := g.ImagesDelivered
		if g, err = b.Generation(id); err != nil {
			return Generation{}, err
		}
		g.Status, g.ImagesDelivered, g.ListCredits = final, delivered, list
		if err := b.updateGeneration(g); err != nil {
			return Generation{}, err
		}
		if g.Window != "" && list > 0 {
			// No credit moves, so the entry has no postings: it is the
			// journal's record of what the window gave.
			a, err := b.Account()
			if err != nil {
				return Generation{}, err
			}
			e := newDraft(EntryCapture, g.Account, h.ID, now)
			e.generation(g)
			e.t.ListCredits = list
			e.t.AvailableAfter, e.t.HeldAfter = a.Available, a.Held
			b.appendEntry(e.t)
		}
		if final == GenerationFailed && ReasonOf(ctx) != "" {
			// A person released the generation's hold (support), not
			// the studio reporting a failure: audited.
			detail := struct {
				Hold       string  `json:"hold"`
				Generation string  `json:"generation"`
				Released   Credits `json:"released"`
			}{h.ID, g.ID, h.Released}
			if err := audit(ctx, b, now, AuditHoldRelease, g.Account, detail); err != nil {
				return Generation{}, err
			}
		}
		return g, nil
	})
}

// recordGenerationOutcome sets a generation's status from its hold's.
func recordGenerationOutcome(b *Book, h *Hold, at time.Time) error {
	g, err := b.Generation(h.Generation)
	if err != nil {
		return err
	}
	switch h.Status {
	case HoldCaptured:
		g.Status = GenerationCompleted
	case HoldReleased:
		g.Status = GenerationFailed
	case HoldExpired:
		g.Status = GenerationExpired
	}
	g.Charged = h.Captured
	g.ResolvedAt = at
	if g.Window != "" {
		closeWindow(b, g.Window)
	}
	return b.updateGeneration(g)
}

// Generation returns a generation, as of now (one past its TTL is expired first).
func (l *Ledger) Generation(ctx context.Context, id string) (Generation, error) {
	if err := named(id, "generation"); err != nil {
		return Generation{}, err
	}
	g, err := view(ctx, l, func(tx Tx, _ time.Time) (Generation, error) { return tx.Generation(id) })
	if err != nil || g.Status != GenerationHeld || l.Now().Before(g.ExpiresAt) {
		return g, err
	}
	return update(ctx, l, nil, g.Account, Refs{Generations: []string{id}}, func(b *Book, now time.Time) (Generation, error) {
		if err := settle(b, now); err != nil {
			return Generation{}, err
		}
		return b.Generation(id)
	})
}
