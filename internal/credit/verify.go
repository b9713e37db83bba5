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
// store. An empty result means the ledger is sound. The journal, by far the
// largest part, is streamed through the checks, never held: memory grows with
// accounts, grants, holds and generations, not with the entries.
func (l *Ledger) Verify(ctx context.Context) ([]Violation, error) {
	return view(ctx, l, func(tx Tx, _ time.Time) ([]Violation, error) {
		sc, err := Scan(tx)
		if err != nil {
			return nil, err
		}
		s, err := sc.SnapshotState()
		if err != nil {
			return nil, err
		}
		v := newVerifier()
		v.knowGrants(s.Grants)
		if l.catalog != nil {
			v.cat = l.catalog()
		}
		// Holds before generations: a generation is checked against its hold.
		if err := sc.EachHold(func(h *Hold) error { v.hold(h); return nil }); err != nil {
			return nil, err
		}
		if err := sc.EachGeneration(func(g *Generation) error { v.generation(g); return nil }); err != nil {
			return nil, err
		}
		if err := sc.EachEntry(func(t *Entry) error { v.entry(t); return nil }); err != nil {
			return nil, err
		}
		return v.finish(s), nil
	})
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
//     charges and list credits summed by account, UTC day, model and kind;
//   - period_grant: a plan's grant has the ID of its (account, period), so
//     each allowance period is granted at most once;
//   - eligibility: no charge was paid by a grant whose applies_to does not
//     allow the generation's model (with the tags of the catalog in use:
//     Ledger.Verify checks it, VerifySnapshot, which has no catalog, does not);
//   - unlimited: a generation of an unlimited window holds and charges 0;
//   - member_usage: each team member period's Used equals what the holds
//     made in it hold and charged, less their refunds (captured + held −
//     returned), and every member's hold and generation is on a team and
//     counts in a period that has a row;
//   - member_limit: no member period's Used exceeds the limit its
//     reservations were checked against;
//   - liability_rollup: the liability rollup summed by day and source
//     equals the journal's wallet postings by day and grant source, and
//     summed by source and expiry bucket equals the grants' outstanding
//     (remaining and held) by source and expiry bucket;
//   - consumption_rollup: the consumption rollup summed by day and model
//     equals the journal's charges net of refunds (and the count of
//     charges), and summed by source equals what the holds' allocations
//     charged net of refunds by the source of their grant;
//   - topups: an account has at most one pending top-up, and a confirmed
//     one names the top-up grant of its credits (a confirmation grants
//     exactly once).
func VerifySnapshot(s *Snapshot) []Violation {
	v := newVerifier()
	v.knowGrants(s.Grants)
	for i := range s.Holds {
		v.hold(&s.Holds[i])
	}
	for i := range s.Generations {
		v.generation(&s.Generations[i])
	}
	for i := range s.Entries {
		v.entry(&s.Entries[i])
	}
	return v.finish(s)
}

// verifier checks the invariants as the ledger streams past: hold and
// generation check each one and keep only what later checks need (a hold's
// capture and status, open holds by account); transaction folds the journal,
// one entry at a time in ID order, into sums by book, by account and by usage
// day (and checks what one entry alone can break); finish checks accounts,
// grants and the usage rollup against those sums.
type verifier struct {
	out      []Violation
	holds    map[string]holdState // every hold seen, by ID
	openHeld map[string]Credits   // open holds' amounts by account
	folds    map[foldKey]Credits
	run      map[string]*running
	charged  Credits // net of refunds, over the whole journal
	usage    map[usageKey]UsageRow
	// paid is, for each hold, the grants its charge was taken from; paidFor
	// the model each such grant paid for, checked against its applies_to
	// in finish.
	paid    map[string][]string
	paidFor []grantUse
	cat     *Catalog // the catalog in use, for models' tags (nil: none)
	// memberUse is, for each member period, what its holds hold and
	// charged less what was returned of them.
	memberUse map[memberKey]Credits
	// For the report rollups: every grant's source; the wallet postings
	// by day and source; the charges by day and model; and what the
	// holds' allocations charged net of refunds, by the paying source.
	sources   map[string]Source
	liability map[liabilityKey]Credits // expires ""
	consumed  map[consumptionKey]ConsumptionRow
	paidBy    map[Source]Credits
}

// knowGrants tells v every grant's source, before the streams.
func (v *verifier) knowGrants(gs []Grant) {
	for _, g := range gs {
		v.sources[g.ID] = g.Source
	}
}

type memberKey struct {
	account, member string
	start           int64 // Unix microseconds: the period's Start
}

type grantUse struct{ grant, model, generation string }

// holdState is what a generation's check needs of its hold.
type holdState struct {
	captured Credits
	open     bool
	member   memberKey // member "" when the hold is no member's
}

type foldKey struct{ account, book, grant string }

type running struct{ avail, held Credits }

type usageKey struct{ account, day, model, kind, member string }

func newVerifier() *verifier {
	return &verifier{holds: map[string]holdState{}, openHeld: map[string]Credits{},
		folds: map[foldKey]Credits{}, run: map[string]*running{}, usage: map[usageKey]UsageRow{}, paid: map[string][]string{},
		memberUse: map[memberKey]Credits{}, sources: map[string]Source{}, liability: map[liabilityKey]Credits{},
		consumed: map[consumptionKey]ConsumptionRow{}, paidBy: map[Source]Credits{}}
}

// hold checks one hold; holds come before generations.
func (v *verifier) hold(h *Hold) {
	var alloc Credits
	for _, a := range h.Allocations {
		alloc += a.Amount
		if a.Amount > 0 && h.Generation != "" {
			v.paid[h.ID] = append(v.paid[h.ID], a.Grant)
		}
		v.paidBy[v.sources[a.Grant]] += a.Captured - a.Refunded
		if a.Captured > a.Amount || a.Refunded > a.Captured {
			v.bad("holds", "hold %s allocation on %s: amount %s, captured %s, refunded %s", h.ID, a.Grant, a.Amount, a.Captured, a.Refunded)
		}
	}
	if alloc != h.Amount {
		v.bad("holds", "hold %s of %s allocates %s of its %s", h.ID, h.Account, alloc, h.Amount)
	}
	switch {
	case h.Status == HoldOpen && (h.Captured != 0 || h.Released != 0 || !h.ResolvedAt.IsZero()):
		v.bad("holds", "open hold %s has captured %s, released %s", h.ID, h.Captured, h.Released)
	case h.Status != HoldOpen && h.Captured+h.Released != h.Amount:
		v.bad("holds", "%s hold %s: captured %s + released %s ≠ amount %s", h.Status, h.ID, h.Captured, h.Released, h.Amount)
	}
	if h.Status == HoldOpen {
		v.openHeld[h.Account] += h.Amount
	}
	st := holdState{captured: h.Captured, open: h.Status == HoldOpen}
	if h.Member != "" {
		st.member = memberKey{h.Account, h.Member, h.MemberPeriod.UnixMicro()}
		if h.MemberPeriod.IsZero() {
			v.bad("member_usage", "hold %s of member %s of %s counts in no period", h.ID, h.Member, h.Account)
		}
		v.memberUse[st.member] += h.Amount - h.Released
	}
	v.holds[h.ID] = st
}

// generation checks one generation against its hold.
func (v *verifier) generation(g *Generation) {
	h, ok := v.holds[g.Hold]
	if !ok {
		v.bad("generations", "generation %s has no hold %s", g.ID, g.Hold)
		return
	}
	if g.Charged != h.captured {
		v.bad("generations", "generation %s charged %s; its hold captured %s", g.ID, g.Charged, h.captured)
	}
	if g.Member != h.member.member {
		v.bad("member_usage", "generation %s is member %q's; its hold is member %q's", g.ID, g.Member, h.member.member)
	}
	if h.member.member != "" {
		v.memberUse[h.member] -= g.Refunded
	}
	for _, gr := range v.paid[g.Hold] {
		v.paidFor = append(v.paidFor, grantUse{gr, g.Model, g.ID})
	}
	delete(v.paid, g.Hold)
	if g.Window != "" && (g.Charged != 0 || g.HoldCredits != 0) {
		v.bad("unlimited", "generation %s of unlimited window %s held %s and charged %s; it must be free", g.ID, g.Window, g.HoldCredits, g.Charged)
	}
	if g.Refunded > g.Charged || g.Refunded < 0 {
		v.bad("generations", "generation %s refunded %s of %s charged", g.ID, g.Refunded, g.Charged)
	}
	if (g.Status == GenerationHeld) != h.open {
		status := "resolved"
		if h.open {
			status = "open"
		}
		v.bad("generations", "generation %s is %s but its hold is %s", g.ID, g.Status, status)
	}
}

func (v *verifier) bad(inv, format string, args ...any) {
	v.out = append(v.out, Violation{Invariant: inv, Detail: fmt.Sprintf(format, args...)})
}

// entry folds one journal entry; entries come in ID order.
func (v *verifier) entry(t *Entry) {
	var sum Credits
	day := utcDay(t.Time)
	for _, p := range t.Postings {
		sum += p.Amount
		v.folds[foldKey{p.Account, p.Book, p.Grant}] += p.Amount
		if p.Account == t.Account && (p.Book == BookAvailable || p.Book == BookHeld) {
			v.liability[liabilityKey{day: day, source: v.sources[p.Grant]}] += p.Amount
		}
	}
	if t.ChargedDelta != 0 {
		k := consumptionKey{day: day, model: t.Model}
		r := v.consumed[k]
		r.Charged += t.ChargedDelta
		if t.ChargedDelta > 0 {
			r.Charges++
		}
		v.consumed[k] = r
	}
	// An unlimited window's delivery moves no credit: its entry records
	// the list price only.
	if len(t.Postings) == 0 && (t.Kind != EntryCapture || t.ChargedDelta != 0 || t.ListCredits <= 0) {
		v.bad("zero_sum", "transaction %d (%s) has no postings", t.ID, t.Kind)
	}
	if sum != 0 {
		v.bad("zero_sum", "transaction %d (%s on %s) postings sum to %s", t.ID, t.Kind, t.Account, sum)
	}
	r := v.run[t.Account]
	if r == nil {
		r = &running{}
		v.run[t.Account] = r
	}
	r.avail += t.AvailableDelta
	r.held += t.HeldDelta
	if r.avail != t.AvailableAfter || r.held != t.HeldAfter {
		v.bad("account_fold", "transaction %d on %s records balances %s/%s after it; the journal folds to %s/%s",
			t.ID, t.Account, t.AvailableAfter, t.HeldAfter, r.avail, r.held)
	}
	// Revenue is what was charged, net of refunds (checked in finish); every
	// charge of a generation names the catalog version it was priced with.
	v.charged += t.ChargedDelta
	if t.Generation != "" && t.ChargedDelta != 0 && t.CatalogVersion == "" {
		v.bad("charges", "transaction %d charges generation %s without a catalog version", t.ID, t.Generation)
	}
	if t.ChargedDelta != 0 || t.ListCredits != 0 {
		k := usageKey{t.Account, t.Time.UTC().Format(time.DateOnly), t.Model, string(t.ModelKind), t.Member}
		u := v.usage[k]
		u.Charged += t.ChargedDelta
		u.List += t.ListCredits
		if t.ChargedDelta > 0 {
			u.Count++ // charges; an unlimited window's deliveries show in List only
		}
		v.usage[k] = u
	}
}

// finish checks s's accounts, grants and usage rollup (its holds,
// generations and transactions are not read: hold, generation and
// transaction have seen them) against the sums, and returns every violation.
func (v *verifier) finish(s *Snapshot) []Violation {
	bad, folds, run := v.bad, v.folds, v.run
	type sums struct{ remaining, held Credits }
	byAccount := map[string]*sums{}
	elig := map[string]Eligibility{}
	for _, g := range s.Grants {
		if !g.AppliesTo.IsZero() {
			elig[g.ID] = g.AppliesTo
		}
		if g.Period != "" && g.ID != PeriodGrantID(g.Account, g.Period) {
			bad("period_grant", "grant %s of %s for period %s does not have its period's ID %s", g.ID, g.Account, g.Period, PeriodGrantID(g.Account, g.Period))
		}
		if got := folds[foldKey{g.Account, BookAvailable, g.ID}]; got != g.Remaining {
			bad("grant_fold", "grant %s of %s has %s remaining; its postings sum to %s", g.ID, g.Account, g.Remaining, got)
		}
		if got := folds[foldKey{g.Account, BookHeld, g.ID}]; got != g.Held {
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
		if v.openHeld[a.ID] != a.Held {
			bad("holds", "account %s has %s held; its open holds sum to %s", a.ID, a.Held, v.openHeld[a.ID])
		}
	}
	// Revenue is what was charged, net of refunds: the platform's revenue book
	// folds to the sum of the charges the transactions record.
	var revenue Credits
	for k, amount := range folds {
		if k.account == PlatformAccount && k.book == BookRevenue {
			revenue += amount
		}
	}
	if v.charged != revenue {
		bad("charges", "the revenue book folds to %s; the transactions charge %s net of refunds", revenue, v.charged)
	}
	for _, u := range v.paidFor {
		e, ok := elig[u.grant]
		if !ok || v.cat == nil { // without the catalog, models' tags are unknown
			continue
		}
		var tags []string
		if m, err := v.cat.Model(u.model); err == nil {
			tags = m.Tags
		}
		if !e.Allows(u.model, tags) {
			bad("eligibility", "grant %s of generation %s paid for %s, which its applies_to does not allow", u.grant, u.generation, u.model)
		}
	}
	v.verifyUsage(s.Usage)
	v.verifyRollups(s)
	v.verifyMembers(s)
	v.verifyTopups(s)
	return v.out
}

// verifyMembers checks the member_usage and member_limit invariants (see
// VerifySnapshot) against what the holds and generations folded to.
func (v *verifier) verifyMembers(s *Snapshot) {
	teams := map[string]bool{}
	for _, a := range s.Accounts {
		teams[a.ID] = a.Kind == AccountTeam
	}
	for _, m := range s.Members {
		if !teams[m.Account] {
			v.bad("member_usage", "%s is a member of %s, which is not a team", m.ID, m.Account)
		}
	}
	want := v.memberUse
	for k := range want {
		if !teams[k.account] {
			v.bad("member_usage", "account %s has holds of member %s but is not a team", k.account, k.member)
		}
	}
	for _, p := range s.MemberPeriods {
		k := memberKey{p.Account, p.Member, p.Start.UnixMicro()}
		if got := want[k]; got != p.Used {
			v.bad("member_usage", "member %s of %s used %s in the period from %s; its holds hold and charged %s less returns",
				p.Member, p.Account, p.Used, p.Start.Format(time.RFC3339), got)
		}
		delete(want, k)
		if !p.Start.Before(p.End) {
			v.bad("member_usage", "member %s of %s has a period from %s to %s", p.Member, p.Account, p.Start.Format(time.RFC3339), p.End.Format(time.RFC3339))
		}
		if p.Used < 0 || (p.Limit != nil && p.Used > *p.Limit) {
			limit := "none"
			if p.Limit != nil {
				limit = p.Limit.String()
			}
			v.bad("member_limit", "member %s of %s used %s in the period from %s; the limit is %s", p.Member, p.Account, p.Used, p.Start.Format(time.RFC3339), limit)
		}
	}
	missing := make([]memberKey, 0, len(want))
	for k, used := range want {
		if used != 0 {
			missing = append(missing, k)
		}
	}
	slices.SortFunc(missing, func(a, b memberKey) int {
		return cmp.Or(cmp.Compare(a.account, b.account), cmp.Compare(a.member, b.member), cmp.Compare(a.start, b.start))
	})
	for _, k := range missing {
		v.bad("member_usage", "member %s of %s holds and was charged %s in the period from %s, which has no row",
			k.member, k.account, want[k], time.UnixMicro(k.start).UTC().Format(time.RFC3339))
	}
}

// verifyUsage checks the usage_rollup invariant (see VerifySnapshot): the
// store's rollup rows against the journal's charges folded by transaction.
func (v *verifier) verifyUsage(rollup []DailyUsage) {
	want := v.usage
	for _, u := range rollup {
		k := usageKey{u.Account, u.Day, u.Model, u.Kind, u.Member}
		w := want[k]
		if w.Charged != u.Charged || w.Count != u.Count || w.List != u.List {
			v.bad("usage_rollup", "%s on %s (model %q, kind %q, member %q): the rollup has %s (list %s) in %d charges; the journal %s (list %s) in %d",
				k.account, k.day, k.model, k.kind, k.member, u.Charged, u.List, u.Count, w.Charged, w.List, w.Count)
		}
		delete(want, k)
	}
	missing := make([]usageKey, 0, len(want))
	for k := range want {
		missing = append(missing, k)
	}
	slices.SortFunc(missing, func(a, b usageKey) int {
		return cmp.Or(cmp.Compare(a.account, b.account), cmp.Compare(a.day, b.day), cmp.Compare(a.model, b.model), cmp.Compare(a.kind, b.kind), cmp.Compare(a.member, b.member))
	})
	for _, k := range missing {
		w := want[k]
		v.bad("usage_rollup", "%s on %s (model %q, kind %q, member %q): the journal charges %s in %d charges; the rollup has no row",
			k.account, k.day, k.model, k.kind, k.member, w.Charged, w.Count)
	}
}

// verifyTopups checks the auto top-ups: at most one pending an account; a
// confirmed one names a top-up grant of its account for its credits, and
// no other one names a grant.
func (v *verifier) verifyTopups(s *Snapshot) {
	grants := map[string]*Grant{}
	for i := range s.Grants {
		grants[s.Grants[i].ID] = &s.Grants[i]
	}
	pending := map[string]string{}
	for _, t := range s.Topups {
		switch t.Status {
		case TopupPending:
			if o, ok := pending[t.Account]; ok {
				v.bad("topups", "account %s has two pending top-ups, %s and %s", t.Account, o, t.ID)
			}
			pending[t.Account] = t.ID
		case TopupConfirmed:
			g := grants[t.Grant]
			if g == nil || g.Account != t.Account || g.Source != SourceTopup || g.Granted != t.Credits {
				v.bad("topups", "top-up %s of %s was confirmed for %s, but its grant %q is not a top-up grant of that account for that amount", t.ID, t.Account, t.Credits, t.Grant)
			}
			continue
		}
		if t.Grant != "" {
			v.bad("topups", "top-up %s of %s is %s but names grant %s", t.ID, t.Account, t.Status, t.Grant)
		}
	}
}

// verifyRollups checks the liability_rollup and consumption_rollup
// invariants (see VerifySnapshot): each rollup against two independent
// sums, so that a row in the wrong day, source, bucket or model shows.
func (v *verifier) verifyRollups(s *Snapshot) {
	byDay := map[liabilityKey]Credits{}
	byBucket := map[liabilityKey]Credits{}
	for _, r := range s.Liability {
		byDay[liabilityKey{day: r.Day, source: r.Source}] += r.Credits
		byBucket[liabilityKey{source: r.Source, expires: r.Expires}] += r.Credits
	}
	outstanding := map[liabilityKey]Credits{}
	for _, g := range s.Grants {
		outstanding[liabilityKey{source: g.Source, expires: ExpiryBucket(g.ExpiresAt)}] += g.Remaining + g.Held
	}
	for _, k := range unionKeys(byDay, v.liability) {
		if byDay[k] != v.liability[k] {
			v.bad("liability_rollup", "the liability rollup moves %s credits of %s on %s; the journal's postings move %s", byDay[k], k.source, k.day, v.liability[k])
		}
	}
	for _, k := range unionKeys(byBucket, outstanding) {
		if byBucket[k] != outstanding[k] {
			v.bad("liability_rollup", "the liability rollup holds %s credits of %s expiring in bucket %q; the grants have %s outstanding", byBucket[k], k.source, k.expires, outstanding[k])
		}
	}
	cons := map[consumptionKey]ConsumptionRow{}
	bySource := map[Source]Credits{}
	for _, r := range s.Consumption {
		k := consumptionKey{day: r.Day, model: r.Model}
		c := cons[k]
		c.Charged += r.Charged
		c.Charges += r.Charges
		cons[k] = c
		bySource[r.Source] += r.Charged
	}
	for _, k := range unionKeys(cons, v.consumed) {
		if got, want := cons[k], v.consumed[k]; got.Charged != want.Charged || got.Charges != want.Charges {
			v.bad("consumption_rollup", "the consumption rollup has %s credits in %d charges of model %q on %s; the journal has %s in %d", got.Charged, got.Charges, k.model, k.day, want.Charged, want.Charges)
		}
	}
	for _, k := range unionKeys(bySource, v.paidBy) {
		if bySource[k] != v.paidBy[k] {
			v.bad("consumption_rollup", "the consumption rollup says grants of source %q paid %s credits; the holds' allocations charged %s net of refunds", k, bySource[k], v.paidBy[k])
		}
	}
}

// unionKeys returns the keys of a and b, each once, in no particular order.
func unionKeys[K comparable, A, B any](a map[K]A, b map[K]B) []K {
	keys := make([]K, 0, len(a)+len(b))
	for k := range a {
		keys = append(keys, k)
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	return keys
}
