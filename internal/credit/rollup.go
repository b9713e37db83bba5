package credit

import (
	"sort"
	"time"
)

// The report rollups (report.go) are kept by the writes themselves: each
// Change carries what it adds to them, which the store adds in the same
// transaction, as it appends the entries they sum. Verify checks both
// against the journal: the liability rollup by day and source against the
// postings, by source and expiry against the grants; the consumption
// rollup by day and model against the charges, by source against the holds'
// allocations.

type liabilityKey struct {
	day     string
	source  Source
	expires string
}

type consumptionKey struct {
	day, model string
	source     Source
}

func utcDay(t time.Time) string { return t.UTC().Format(time.DateOnly) }

// addLiability sets c.Liability: what c's entries and grant changes move in
// the liability rollup, against the state `loaded` they were decided on.
// Every posting to a wallet grant moves its grant's (source, expiry bucket)
// on the entry's day, in the bucket the grant has once c applies; a grant
// whose expiry c moves (a void, an amended expiry) takes what it had
// outstanding before c from its old bucket to its new one, on now's day.
func (c *Change) addLiability(loaded *State, now time.Time) {
	final := map[string]*Grant{}
	for i := range loaded.Grants {
		final[loaded.Grants[i].ID] = &loaded.Grants[i]
	}
	for _, gs := range [][]Grant{c.NewGrants, c.Grants} {
		for i := range gs {
			final[gs[i].ID] = &gs[i]
		}
	}
	sums := map[liabilityKey]Credits{}
	for _, e := range c.Entries {
		day := utcDay(e.Time)
		for _, p := range e.Postings {
			if p.Account != e.Account || (p.Book != BookAvailable && p.Book != BookHeld) {
				continue
			}
			g := final[p.Grant]
			if g == nil {
				continue // no write posts to a grant it did not load or make; Verify would tell
			}
			sums[liabilityKey{day, g.Source, ExpiryBucket(g.ExpiresAt)}] += p.Amount
		}
	}
	for i := range c.Grants {
		g := &c.Grants[i]
		for j := range loaded.Grants {
			o := &loaded.Grants[j]
			if o.ID != g.ID {
				continue
			}
			if was, is := ExpiryBucket(o.ExpiresAt), ExpiryBucket(g.ExpiresAt); was != is && o.Remaining+o.Held != 0 {
				sums[liabilityKey{utcDay(now), o.Source, was}] -= o.Remaining + o.Held
				sums[liabilityKey{utcDay(now), g.Source, is}] += o.Remaining + o.Held
			}
			break
		}
	}
	c.Liability = liabilityRows(sums)
}

func liabilityRows(sums map[liabilityKey]Credits) []LiabilityRow {
	var rows []LiabilityRow
	for k, x := range sums {
		if x != 0 {
			rows = append(rows, LiabilityRow{Day: k.day, Source: k.source, Expires: k.expires, Credits: x})
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.Day != b.Day {
			return a.Day < b.Day
		}
		if a.Source != b.Source {
			return a.Source < b.Source
		}
		return a.Expires < b.Expires
	})
	return rows
}

// consumptionRows sums rows by key, leaving out those that sum to nothing,
// in key order (a deterministic order for the stores' upserts).
func consumptionRows(in []ConsumptionRow) []ConsumptionRow {
	type sum struct {
		charged Credits
		charges int
	}
	sums := map[consumptionKey]*sum{}
	for _, r := range in {
		k := consumptionKey{r.Day, r.Model, r.Source}
		s := sums[k]
		if s == nil {
			s = &sum{}
			sums[k] = s
		}
		s.charged += r.Charged
		s.charges += r.Charges
	}
	var rows []ConsumptionRow
	for k, s := range sums {
		if s.charged != 0 || s.charges != 0 {
			rows = append(rows, ConsumptionRow{Day: k.day, Model: k.model, Source: k.source, Charged: s.charged, Charges: s.charges})
		}
	}
	sort.Slice(rows, func(i, j int) bool {
		a, b := rows[i], rows[j]
		if a.Day != b.Day {
			return a.Day < b.Day
		}
		if a.Model != b.Model {
			return a.Model < b.Model
		}
		return a.Source < b.Source
	})
	return rows
}

// consume records, for the consumption rollup, that grant paid `charged`
// of a charge for model at `at` (negative: a refund gives it back), and
// whether it was the charge's first payer.
func (b *Book) consume(at time.Time, model, grant string, charged Credits, first bool) {
	src := Source("")
	if g := b.grantAt(grant); g != nil {
		src = g.Source
	}
	r := ConsumptionRow{Day: utcDay(at), Model: model, Source: src, Charged: charged}
	if first {
		r.Charges = 1
	}
	b.consumed = append(b.consumed, r)
}

// ComputeRollups reads a store whole and returns what its report rollups
// must hold: for a migration that adds them to a ledger with a history,
// and for tests. The liability rollup puts every posting in the bucket its
// grant has now (the history of moved expiries is not in the journal); the
// consumption rollup replays each hold's capture (its allocations in
// order) and each refund (from the last allocation back), as the ledger
// does. It keeps the captured holds in memory.
func ComputeRollups(sc Scanner) ([]LiabilityRow, []ConsumptionRow, error) {
	s, err := sc.SnapshotState()
	if err != nil {
		return nil, nil, err
	}
	grants := map[string]*Grant{}
	for i := range s.Grants {
		grants[s.Grants[i].ID] = &s.Grants[i]
	}
	source := func(id string) Source {
		if g := grants[id]; g != nil {
			return g.Source
		}
		return ""
	}
	holds := map[string][]Allocation{}
	if err := sc.EachHold(func(h *Hold) error {
		if h.Captured > 0 {
			holds[h.ID] = h.Allocations
		}
		return nil
	}); err != nil {
		return nil, nil, err
	}
	genHold := map[string]string{}
	if err := sc.EachGeneration(func(g *Generation) error {
		if _, ok := holds[g.Hold]; ok {
			genHold[g.ID] = g.Hold
		}
		return nil
	}); err != nil {
		return nil, nil, err
	}
	liab := map[liabilityKey]Credits{}
	var cons []ConsumptionRow
	refunded := map[string][]Credits{} // by hold, per allocation
	err = sc.EachEntry(func(e *Entry) error {
		day := utcDay(e.Time)
		for _, p := range e.Postings {
			if p.Account == e.Account && (p.Book == BookAvailable || p.Book == BookHeld) {
				if g := grants[p.Grant]; g != nil {
					liab[liabilityKey{day, g.Source, ExpiryBucket(g.ExpiresAt)}] += p.Amount
				}
			}
		}
		switch {
		case e.Kind == EntryCapture && e.ChargedDelta > 0:
			first := true
			for _, a := range holds[e.Ref] {
				if a.Captured > 0 {
					cons = append(cons, ConsumptionRow{Day: day, Model: e.Model, Source: source(a.Grant), Charged: a.Captured, Charges: map[bool]int{true: 1}[first]})
					first = false
				}
			}
		case e.Kind == EntryRefund && e.ChargedDelta < 0:
			h := genHold[e.Generation]
			as := holds[h]
			done := refunded[h]
			if done == nil {
				done = make([]Credits, len(as))
				refunded[h] = done
			}
			rest := -e.ChargedDelta
			for i := len(as) - 1; i >= 0 && rest > 0; i-- {
				back := min(rest, as[i].Captured-done[i])
				if back <= 0 {
					continue
				}
				done[i] += back
				rest -= back
				cons = append(cons, ConsumptionRow{Day: day, Model: e.Model, Source: source(as[i].Grant), Charged: -back})
			}
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return liabilityRows(liab), consumptionRows(cons), nil
}
