package credit

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"
)

// Violation is one broken ledger invariant, named so that an operator can find it.
type Violation struct {
	Invariant string // short stable name: "zero_sum", "grant_fold", …
	Detail    string
}

func (v Violation) String() string { return v.Invariant + ": " + v.Detail }

// Verify checks every invariant of the ledger on a consistent snapshot of the
// store. An empty result means the ledger is sound.
func (l *Ledger) Verify(ctx context.Context) ([]Violation, error) {
	snap, err := view(ctx, l, func(tx Tx, _ time.Time) (*Snapshot, error) { return tx.Snapshot() })
	if err != nil {
		return nil, err
	}
	return VerifySnapshot(snap), nil
}

// VerifySnapshot checks the invariants of doc.go on a snapshot:
//
//   - zero_sum: every transaction has postings, and they sum to zero;
//   - grant_fold: each grant's Remaining and Held equal the sums of its
//     available and held postings;
//   - account_fold: each account's Available and Held equal the sums of its
//     grants', and the running balances recorded on its transactions;
//   - overdraft: Available ≥ −Overdraft; only the overdraft grant is ever
//     below zero; no grant's Held is below zero;
//   - expired_grant: an expired grant has nothing remaining;
//   - holds: allocations sum to the amount; captured + released ≤ amount; an
//     open hold has neither, a resolved one has both equal to the amount;
//     the sum of open holds equals the account's Held;
//   - generations: charged equals the hold's capture; refunded ≤ charged;
//   - charges: revenue equals the charges net of refunds, and every charge of
//     a generation names its catalog version;
//   - usage_rollup: the store's daily usage rollup equals the journal's
//     charges summed by account, UTC day, model and kind.
func VerifySnapshot(s *Snapshot) []Violation {
	var out []Violation
	bad := func(inv, format string, args ...any) {
		out = append(out, Violation{Invariant: inv, Detail: fmt.Sprintf(format, args...)})
	}
	type key struct{ account, book, grant string }
	folds := map[key]Credits{}
	type running struct{ avail, held Credits }
	run := map[string]*running{}
	for _, t := range s.Transactions {
		var sum Credits
		for _, p := range t.Postings {
			sum += p.Amount
			folds[key{p.Account, p.Book, p.Grant}] += p.Amount
		}
		if len(t.Postings) == 0 {
			bad("zero_sum", "transaction %d (%s) has no postings", t.ID, t.Kind)
		}
		if sum != 0 {
			bad("zero_sum", "transaction %d (%s on %s) postings sum to %s", t.ID, t.Kind, t.Account, sum)
		}
		r := run[t.Account]
		if r == nil {
			r = &running{}
			run[t.Account] = r
		}
		r.avail += t.AvailableDelta
		r.held += t.HeldDelta
		if r.avail != t.AvailableAfter || r.held != t.HeldAfter {
			bad("account_fold", "transaction %d on %s records balances %s/%s after it; the journal folds to %s/%s",
				t.ID, t.Account, t.AvailableAfter, t.HeldAfter, r.avail, r.held)
		}
	}
	type sums struct{ remaining, held Credits }
	byAccount := map[string]*sums{}
	for _, g := range s.Grants {
		if got := folds[key{g.Account, BookAvailable, g.ID}]; got != g.Remaining {
			bad("grant_fold", "grant %s of %s has %s remaining; its postings sum to %s", g.ID, g.Account, g.Remaining, got)
		}
		if got := folds[key{g.Account, BookHeld, g.ID}]; got != g.Held {
			bad("grant_fold", "grant %s of %s has %s held; its postings sum to %s", g.ID, g.Account, g.Held, got)
		}
		if g.Remaining < 0 && g.Source != SourceOverdraft {
			bad("overdraft", "grant %s of %s has %s remaining, below zero", g.ID, g.Account, g.Remaining)
		}
		if g.Held < 0 {
			bad("overdraft", "grant %s of %s has %s held, below zero", g.ID, g.Account, g.Held)
		}
		if !g.ExpiredAt.IsZero() && g.Remaining != 0 {
			bad("expired_grant", "grant %s of %s expired at %s with %s remaining", g.ID, g.Account, g.ExpiredAt.Format(time.RFC3339), g.Remaining)
		}
		a := byAccount[g.Account]
		if a == nil {
			a = &sums{}
			byAccount[g.Account] = a
		}
		a.remaining += g.Remaining
		a.held += g.Held
	}
	openHeld := map[string]Credits{}
	holds := map[string]*Hold{}
	for i := range s.Holds {
		h := &s.Holds[i]
		holds[h.ID] = h
		var alloc Credits
		for _, a := range h.Allocations {
			alloc += a.Amount
			if a.Captured > a.Amount || a.Refunded > a.Captured {
				bad("holds", "hold %s allocation on %s: amount %s, captured %s, refunded %s", h.ID, a.Grant, a.Amount, a.Captured, a.Refunded)
			}
		}
		if alloc != h.Amount {
			bad("holds", "hold %s of %s allocates %s of its %s", h.ID, h.Account, alloc, h.Amount)
		}
		switch {
		case h.Status == HoldOpen && (h.Captured != 0 || h.Released != 0 || !h.ResolvedAt.IsZero()):
			bad("holds", "open hold %s has captured %s, released %s", h.ID, h.Captured, h.Released)
		case h.Status != HoldOpen && h.Captured+h.Released != h.Amount:
			bad("holds", "%s hold %s: captured %s + released %s ≠ amount %s", h.Status, h.ID, h.Captured, h.Released, h.Amount)
		}
		if h.Status == HoldOpen {
			openHeld[h.Account] += h.Amount
		}
	}
	for _, a := range s.Accounts {
		g := byAccount[a.ID]
		if g == nil {
			g = &sums{}
		}
		if a.Available != g.remaining || a.Held != g.held {
			bad("account_fold", "account %s has %s available, %s held; its grants sum to %s, %s", a.ID, a.Available, a.Held, g.remaining, g.held)
		}
		if r := run[a.ID]; r != nil && (r.avail != a.Available || r.held != a.Held) {
			bad("account_fold", "account %s has %s available, %s held; its journal folds to %s, %s", a.ID, a.Available, a.Held, r.avail, r.held)
		}
		if a.Available < -a.Overdraft {
			bad("overdraft", "account %s has %s available, below its overdraft limit of %s", a.ID, a.Available, a.Overdraft)
		}
		if openHeld[a.ID] != a.Held {
			bad("holds", "account %s has %s held; its open holds sum to %s", a.ID, a.Held, openHeld[a.ID])
		}
	}
	// Revenue is what was charged, net of refunds: the platform's revenue book
	// folds to the sum of the charges the transactions record; and every
	// charge of a generation names the catalog version it was priced with.
	var charged, revenue Credits
	for _, t := range s.Transactions {
		charged += t.ChargedDelta
		if t.Generation != "" && t.ChargedDelta != 0 && t.CatalogVersion == "" {
			bad("charges", "transaction %d charges generation %s without a catalog version", t.ID, t.Generation)
		}
	}
	for k, v := range folds {
		if k.account == PlatformAccount && k.book == BookRevenue {
			revenue += v
		}
	}
	if charged != revenue {
		bad("charges", "the revenue book folds to %s; the transactions charge %s net of refunds", revenue, charged)
	}
	verifyUsage(s, bad)
	for _, g := range s.Generations {
		h := holds[g.Hold]
		if h == nil {
			bad("generations", "generation %s has no hold %s", g.ID, g.Hold)
			continue
		}
		if g.Charged != h.Captured {
			bad("generations", "generation %s charged %s; its hold captured %s", g.ID, g.Charged, h.Captured)
		}
		if g.Refunded > g.Charged || g.Refunded < 0 {
			bad("generations", "generation %s refunded %s of %s charged", g.ID, g.Refunded, g.Charged)
		}
		if (g.Status == GenerationHeld) != (h.Status == HoldOpen) {
			bad("generations", "generation %s is %s but its hold is %s", g.ID, g.Status, h.Status)
		}
	}
	return out
}

// verifyUsage checks the usage_rollup invariant (see VerifySnapshot).
func verifyUsage(s *Snapshot, bad func(inv, format string, args ...any)) {
	type day struct{ account, day, model, kind string }
	want := map[day]UsageRow{}
	for _, t := range s.Transactions {
		if t.ChargedDelta == 0 {
			continue
		}
		k := day{t.Account, t.Time.UTC().Format(time.DateOnly), t.Model, string(t.ModelKind)}
		r := want[k]
		r.Charged += t.ChargedDelta
		if t.ChargedDelta > 0 {
			r.Count++
		}
		want[k] = r
	}
	for _, u := range s.Usage {
		k := day{u.Account, u.Day, u.Model, u.Kind}
		w := want[k]
		if w.Charged != u.Charged || w.Count != u.Count {
			bad("usage_rollup", "%s on %s (model %q, kind %q): the rollup has %s in %d charges; the journal %s in %d",
				k.account, k.day, k.model, k.kind, u.Charged, u.Count, w.Charged, w.Count)
		}
		delete(want, k)
	}
	missing := make([]day, 0, len(want))
	for k := range want {
		missing = append(missing, k)
	}
	slices.SortFunc(missing, func(a, b day) int {
		return cmp.Or(cmp.Compare(a.account, b.account), cmp.Compare(a.day, b.day), cmp.Compare(a.model, b.model), cmp.Compare(a.kind, b.kind))
	})
	for _, k := range missing {
		w := want[k]
		bad("usage_rollup", "%s on %s (model %q, kind %q): the journal charges %s in %d charges; the rollup has no row",
			k.account, k.day, k.model, k.kind, w.Charged, w.Count)
	}
}
