package storetest

import (
	"maps"
	"slices"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// The reference model's reports, worked out from what it holds by rules
// of its own, never by the ledger's report code:
//
//   - liability: every grant owes what it has left and holds; a grant
//     that expires counts on the UTC day of its last live instant (a
//     microsecond, the stores' precision, before its expiry). At now, what
//     counts on a day before today (UTC) is past expiry, on a day in
//     [today, today + N days) expires within N days, and a grant with no
//     expiry never expires. A source is listed when the credits it owes on
//     some day (or never) do not sum to nothing;
//   - consumption: a capture charges each allocation what it takes, in
//     order, on the UTC day of the capture, by the generation's model
//     ("" for a generic hold) and the source of the allocation's grant;
//     the first allocation that pays counts the charge. A refund gives
//     back each allocation's part (as m.refund gives them back, last
//     first) against the same source, whatever became of the grant, on
//     the UTC day of the refund. Rows are summed by (day, model, source);
//     a row that sums to nothing is left out of every report.

// debit takes amount back from account (Ledger.Debit): from its live
// grants with credits left, the overdraft grant never, the last to be spent
// first; no more than they have, nor than the balance, which a debit never
// takes below zero.
func (m *model) debit(account string, amount credit.Credits, now time.Time) error {
	m.begin(account, now)
	gs := m.order(account)
	var takeable credit.Credits
	for _, g := range gs {
		if !g.ovd && g.live(now) && g.remaining > 0 {
			takeable += g.remaining
		}
	}
	available := m.available(account)
	takeable = min(takeable, max(0, available))
	if amount > takeable {
		return &refusal{code: credit.InsufficientCredits, reason: "insufficient_credits", amounts: true, available: available, eligible: takeable, required: amount}
	}
	rest := amount
	for i := len(gs) - 1; i >= 0 && rest > 0; i-- {
		if g := gs[i]; !g.ovd && g.live(now) && g.remaining > 0 {
			take := min(rest, g.remaining)
			g.remaining -= take
			rest -= take
		}
	}
	m.issued += amount
	return nil
}

// mConsKey is a row of the model's consumption: a UTC day, a model ("" for
// generic holds) and the source of the grants that paid.
type mConsKey struct {
	day, model string
	source     credit.Source
}

// mCons is what a consumption row sums: credits charged (net of refunds)
// and the charges whose first payer was of its source.
type mCons struct {
	charged credit.Credits
	charges int
}

// consume records that grant paid amount (negative: got it back) of a
// charge for model at `at`, and whether it was the charge's first payer.
func (m *model) consume(at time.Time, model, grant string, amount credit.Credits, first bool) {
	if amount == 0 {
		return
	}
	k := mConsKey{day: at.UTC().Format(time.DateOnly), model: model, source: m.grants[grant].source}
	c := m.consumed[k]
	c.charged += amount
	if first {
		c.charges++
	}
	m.consumed[k] = c
}

// utcDate is the UTC midnight that starts t's UTC day.
func utcDate(t time.Time) time.Time {
	y, mo, d := t.UTC().Date()
	return time.Date(y, mo, d, 0, 0, 0, 0, time.UTC)
}

// liability is what the model owes at now: the totals and each source.
func (m *model) liability(now time.Time) (credit.SourceLiability, []credit.SourceLiability) {
	type key struct {
		source credit.Source
		day    time.Time // the UTC day of the last live instant; zero: never expires
	}
	sums := map[key]credit.Credits{}
	for _, g := range m.grants {
		k := key{source: g.source}
		if !g.expiresAt.IsZero() {
			k.day = utcDate(g.expiresAt.Add(-time.Microsecond))
		}
		sums[k] += g.remaining + g.held
	}
	today := utcDate(now)
	var total credit.SourceLiability
	by := map[credit.Source]*credit.SourceLiability{}
	for k, c := range sums {
		if c == 0 {
			continue
		}
		s := by[k.source]
		if s == nil {
			s = &credit.SourceLiability{Source: k.source}
			by[k.source] = s
		}
		for _, x := range []*credit.SourceLiability{s, &total} {
			x.Outstanding += c
			switch {
			case k.day.IsZero():
				x.Never += c
			case k.day.Before(today):
				x.PastExpiry += c
			default:
				for _, w := range []struct {
					days int
					sum  *credit.Credits
				}{{7, &x.Within7}, {30, &x.Within30}, {90, &x.Within90}} {
					if k.day.Before(today.AddDate(0, 0, w.days)) {
						*w.sum += c
					}
				}
			}
		}
	}
	var sources []credit.SourceLiability
	for _, src := range slices.Sorted(maps.Keys(by)) {
		sources = append(sources, *by[src])
	}
	return total, sources
}

// consumption is what the model charged in [from, to) (UTC midnights),
// grouped by model ("other" for generic holds), source or day.
func (m *model) consumption(from, to time.Time, by credit.ReportGroup) (credit.ConsumptionGroup, []credit.ConsumptionGroup) {
	total := credit.ConsumptionGroup{BySource: map[credit.Source]credit.Credits{}}
	groups := map[string]*credit.ConsumptionGroup{}
	first, last := from.Format(time.DateOnly), to.Format(time.DateOnly)
	for k, c := range m.consumed {
		if k.day < first || k.day >= last || (c.charged == 0 && c.charges == 0) {
			continue
		}
		key := k.day
		switch by {
		case credit.ReportByModel:
			key = k.model
			if key == "" {
				key = "other"
			}
		case credit.ReportBySource:
			key = string(k.source)
		}
		g := groups[key]
		if g == nil {
			g = &credit.ConsumptionGroup{Key: key, BySource: map[credit.Source]credit.Credits{}}
			groups[key] = g
		}
		for _, x := range []*credit.ConsumptionGroup{g, &total} {
			x.Charged += c.charged
			x.Charges += c.charges
			x.BySource[k.source] += c.charged
		}
	}
	var out []credit.ConsumptionGroup
	for _, key := range slices.Sorted(maps.Keys(groups)) {
		out = append(out, *groups[key])
	}
	return total, out
}

// checkReports compares the ledger's reports with the model's: the
// liability now and today's consumption by model (today is the only day a
// step charges or refunds on) after every step; the whole run's
// consumption by day every few steps (and every day's by model at the end:
// checkConsumptionDays).
func (s *sim) checkReports(what string) {
	s.t.Helper()
	now := s.now()
	r, err := s.e.ledger.Liability(s.e.ctx, time.Time{})
	if err != nil {
		s.fail("after %s Liability(now) = %v", what, err)
	}
	total, sources := s.m.liability(now)
	if got, want := reportText(r.At, r.SourceLiability, r.Sources), reportText(now, total, sources); got != want {
		s.fail("after %s Liability(now) =\n    %s\n  the model's\n    %s", what, got, want)
	}
	today := utcDate(now)
	s.wantConsumption(what, today, today.AddDate(0, 0, 1), credit.ReportByModel)
	if s.step%10 == 0 {
		s.wantConsumption(what, s.reportsFrom(), today.AddDate(0, 0, 1), credit.ReportByDay)
	}
}

// reportsFrom is where the run's consumption reports start: the UTC
// midnight before the run began, or the longest window's start.
func (s *sim) reportsFrom() time.Time {
	from := utcDate(simStarts[uint64(s.seed)%uint64(len(simStarts))])
	if last := utcDate(s.now()).AddDate(0, 0, 1).Add(-credit.MaxReportSpan); from.Before(last) {
		from = last
	}
	return from
}

// wantConsumption compares Ledger.Consumption(from, to, by) with the model's.
func (s *sim) wantConsumption(what string, from, to time.Time, by credit.ReportGroup) {
	s.t.Helper()
	r, err := s.e.ledger.Consumption(s.e.ctx, from, to, by)
	if err != nil {
		s.fail("after %s Consumption(%s, %s, %s) = %v", what, from.Format(time.DateOnly), to.Format(time.DateOnly), by, err)
	}
	total, groups := s.m.consumption(from, to, by)
	got := consumptionText(r.Charged, r.Charges, r.BySource, r.Groups)
	if want := consumptionText(total.Charged, total.Charges, total.BySource, groups); got != want {
		s.fail("after %s Consumption(%s, %s, %s) =\n    %s\n  the model's\n    %s", what, from.Format(time.DateOnly), to.Format(time.DateOnly), by, got, want)
	}
}

// checkConsumptionDays compares each day of the run's consumption by model
// with the model's: every (day, model, source) row.
func (s *sim) checkConsumptionDays() {
	s.t.Helper()
	end := utcDate(s.now()).AddDate(0, 0, 1)
	for day := s.reportsFrom(); day.Before(end); day = day.AddDate(0, 0, 1) {
		s.wantConsumption("the run", day, day.AddDate(0, 0, 1), credit.ReportByModel)
	}
}
