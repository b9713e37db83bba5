package credit

import (
	"context"
	"slices"
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
		e.t.ChargedDelta, e.t.ListCredits = -amount, -amount
		e.platform(BookRevenue, -amount)
		rest := amount
		// What cannot go back to its grant becomes new refund grants, one
		// per applies_to, so that a refund never widens what credits may
		// pay for (refunded free credits still do not pay for Pro models).
		var toNew []Grant
		give := func(x Credits, elig Eligibility) {
			for i := range toNew {
				if slices.Equal(toNew[i].AppliesTo.Models, elig.Models) && slices.Equal(toNew[i].AppliesTo.Tags, elig.Tags) &&
					slices.Equal(toNew[i].AppliesTo.ExcludeModels, elig.ExcludeModels) && slices.Equal(toNew[i].AppliesTo.ExcludeTags, elig.ExcludeTags) {
					toNew[i].Granted += x
					return
				}
			}
			toNew = append(toNew, Grant{Granted: x, AppliesTo: elig})
		}
		for i := len(h.Allocations) - 1; i >= 0 && rest > 0; i-- {
			a := &h.Allocations[i]
			back := min(rest, a.Captured-a.Refunded)
			if back == 0 {
				continue
			}
			a.Refunded += back
			rest -= back
			b.consume(now, g.Model, a.Grant, -back, false)
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
				if lost > 0 {
					give(lost, Eligibility{})
				}
			case gr.Live(now):
				e.wallet(BookAvailable, a.Grant, back)
			default:
				give(back, gr.AppliesTo)
			}
		}
		for _, ng := range toNew {
			ng.ID, ng.Account, ng.Source, ng.CreatedAt = NewID("grt", now), g.Account, SourceRefund, now
			ng.Memo = "refund of generation " + g.ID + " (its grant had expired)"
			b.insertGrant(ng)
			e.wallet(BookAvailable, ng.ID, ng.Granted)
		}
		if _, err := e.commit(b, nil); err != nil {
			return Generation{}, err
		}
		if err := b.returnMember(&h, amount); err != nil {
			return Generation{}, err
		}
		if err := b.updateHold(h); err != nil {
			return Generation{}, err
		}
		g.Refunded += amount
		if err := b.updateGeneration(g); err != nil {
			return Generation{}, err
		}
		if ReasonOf(ctx) != "" {
			// A person's refund (support), not the studio's own: audited.
			detail := struct {
				Generation    string  `json:"generation"`
				Refunded      Credits `json:"refunded"`
				RefundedTotal Credits `json:"refunded_total"`
				Charged       Credits `json:"charged"`
			}{g.ID, amount, g.Refunded, g.Charged}
			if err := audit(ctx, b, now, AuditGenerationRefund, g.Account, detail); err != nil {
				return Generation{}, err
			}
		}
		return g, nil
	})
}
