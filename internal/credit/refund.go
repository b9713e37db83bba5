package credit

import (
	"context"
	"time"
)

// RefundGeneration gives back all (credits nil) or part of a generation's
// charge, to the grants the charge came from, the last-consumed first.
//
// Policy for a grant that has expired since: its share is not sent back into
// the expired grant (where it would leave the balance again at once); it is
// given back as a new grant of source "refund" that never expires, so the
// customer keeps every refunded credit. A share that came from the overdraft
// goes back to the overdraft grant, paying the overdraft down; what the
// overdraft is no longer owed goes back to the grants that paid it back, and
// the share of one of those that has expired since joins the new grant too.
//
// Conflict not_refundable unless the generation was completed with a charge;
// Invalid over_refund when credits exceed what is left to refund.
func (l *Ledger) RefundGeneration(ctx context.Context, idem *Idempotency, id string, credits *Credits) (Generation, error) {
	if credits != nil {
		if err := checkAmount(*credits, "a refund"); err != nil {
			return Generation{}, err
		}
	}
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
		if g.Status != GenerationCompleted || g.Charged == 0 {
			return Generation{}, Errorf(Conflict, "not_refundable", "generation %s is %s with %s credits charged: nothing to refund", g.ID, g.Status, g.Charged)
		}
		left := g.Charged - g.Refunded
		if left == 0 && credits == nil {
			return Generation{}, Errorf(Conflict, "not_refundable", "generation %s was already refunded in full (%s credits)", g.ID, g.Refunded)
		}
		amount := left
		if credits != nil {
			amount = *credits
		}
		if amount > left {
			return Generation{}, Errorf(Invalid, "over_refund", "cannot refund %s credits: %s of the %s charged are left to refund", amount, left, g.Charged)
		}
		h, err := b.Hold(g.Hold)
		if err != nil {
			return Generation{}, err
		}
		e := newDraft(EntryRefund, g.Account, g.ID, now)
		e.generation(g)
		e.t.ChargedDelta = -amount
		e.platform(BookRevenue, -amount)
		rest := amount
		var toNewGrant Credits
		for i := len(h.Allocations) - 1; i >= 0 && rest > 0; i-- {
			a := &h.Allocations[i]
			back := min(rest, a.Captured-a.Refunded)
			if back == 0 {
				continue
			}
			a.Refunded += back
			rest -= back
			gr, err := b.Grant(a.Grant)
			if err != nil {
				return Generation{}, err
			}
			switch {
			case gr.Source == SourceOverdraft:
				// The share of a grant that paid the overdraft back and has
				// expired since is refunded like any expired grant's.
				lost, err := returnToOverdraft(b, e, gr, back, now)
				if err != nil {
					return Generation{}, err
				}
				toNewGrant += lost
			case gr.Live(now):
				e.wallet(BookAvailable, a.Grant, back)
			default:
				toNewGrant += back
			}
		}
		if toNewGrant > 0 {
			ng := Grant{ID: NewID("grt", now), Account: g.Account, Source: SourceRefund, Granted: toNewGrant,
				CreatedAt: now, Memo: "refund of generation " + g.ID + " (its grant had expired)"}
			b.insertGrant(ng)
			e.wallet(BookAvailable, ng.ID, toNewGrant)
		}
		if _, err := e.commit(b, nil); err != nil {
			return Generation{}, err
		}
		if err := b.updateHold(h); err != nil {
			return Generation{}, err
		}
		g.Refunded += amount
		if err := b.updateGeneration(g); err != nil {
			return Generation{}, err
		}
		return g, nil
	})
}
