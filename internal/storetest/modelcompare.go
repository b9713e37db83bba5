package storetest

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// compare checks a store snapshot against the model and returns every
// difference.
func (m *model) compare(s *credit.Snapshot) []string {
	var d []string
	bad := func(format string, args ...any) { d = append(d, fmt.Sprintf(format, args...)) }
	seen := map[string]bool{}
	for _, a := range s.Accounts {
		ma := m.accounts[a.ID]
		if ma == nil {
			bad("account %s is not in the model", a.ID)
			continue
		}
		seen[a.ID] = true
		if a.Available != m.available(a.ID) || a.Held != m.held(a.ID) {
			bad("account %s: available %s, held %s; model %s, %s", a.ID, a.Available, a.Held, m.available(a.ID), m.held(a.ID))
		}
		if a.Plan != ma.plan || a.TimeZone != ma.tz || a.Daily != ma.daily {
			bad("account %s: plan %q, time zone %q, daily %q; model %q, %q, %q", a.ID, a.Plan, a.TimeZone, a.Daily, ma.plan, ma.tz, ma.daily)
		}
		if a.LowBalance != ma.lowBalance || a.AutoTopup != ma.autoTopup {
			bad("account %s: low balance %s, auto top-up %+v; model %s, %+v", a.ID, a.LowBalance, a.AutoTopup, ma.lowBalance, ma.autoTopup)
		}
	}
	if len(seen) != len(m.accounts) {
		bad("store has %d accounts; model %d", len(seen), len(m.accounts))
	}
	n := 0
	for _, g := range s.Grants {
		mg := m.grants[g.ID]
		if mg == nil {
			bad("grant %s (%s, %s of %s, period %q) is not in the model", g.ID, g.Source, g.Remaining, g.Account, g.Period)
			continue
		}
		n++
		if g.Remaining != mg.remaining || g.Held != mg.held || g.PaidBack != mg.paidBack {
			bad("grant %s of %s: remaining %s, held %s, paid back %s; model %s, %s, %s", g.ID, g.Account, g.Remaining, g.Held, g.PaidBack, mg.remaining, mg.held, mg.paidBack)
		}
		if got, want := storeGrantText(g), modelGrantText(mg); got != want {
			bad("grant %s: %s; model %s", g.ID, got, want)
		}
	}
	if n != len(m.grants) {
		var missing []string
		for id, g := range m.grants {
			if !slices.ContainsFunc(s.Grants, func(sg credit.Grant) bool { return sg.ID == id }) {
				missing = append(missing, fmt.Sprintf("%s (%s of %s, period %q)", id, g.source, g.account, g.period))
			}
		}
		bad("store has %d grants; model %d (not in the store: %s)", n, len(m.grants), strings.Join(missing, ", "))
	}
	n = 0
	for _, h := range s.Holds {
		mh := m.holds[h.ID]
		if mh == nil {
			bad("hold %s is not in the model", h.ID)
			continue
		}
		n++
		if h.Status != mh.status || h.Captured != mh.captured || h.Released != mh.released || h.Amount != mh.amount {
			bad("hold %s: %s %s, captured %s, released %s; model %s %s, %s, %s", h.ID, h.Status, h.Amount, h.Captured, h.Released, mh.status, mh.amount, mh.captured, mh.released)
		}
		if got, want := allocText(h.Allocations), mAllocText(mh.allocs); got != want {
			bad("hold %s allocations: %s; model %s", h.ID, got, want)
		}
	}
	if n != len(m.holds) {
		bad("store has %d holds; model %d", n, len(m.holds))
	}
	n = 0
	for _, g := range s.Generations {
		mg := m.gens[g.ID]
		if mg == nil {
			bad("generation %s is not in the model", g.ID)
			continue
		}
		n++
		if g.Status != mg.status || g.Charged != mg.charged || g.Refunded != mg.refunded {
			bad("generation %s: %s, charged %s, refunded %s; model %s, %s, %s", g.ID, g.Status, g.Charged, g.Refunded, mg.status, mg.charged, mg.refunded)
		}
		if g.Model != mg.model || g.HoldCredits != mg.holdCredits || g.Window != mg.window || g.Lane != mg.lane || g.ListCredits != mg.list {
			bad("generation %s: %s, hold %s, window %q, lane %q, list %s; model %s, %s, %q, %q, %s", g.ID, g.Model, g.HoldCredits, g.Window, g.Lane, g.ListCredits,
				mg.model, mg.holdCredits, mg.window, mg.lane, mg.list)
		}
	}
	if n != len(m.gens) {
		bad("store has %d generations; model %d", n, len(m.gens))
	}
	n = 0
	for _, sub := range s.Subscriptions {
		ms := m.subs[sub.ID]
		if ms == nil {
			bad("subscription %s of %s is not in the model", sub.ID, sub.Account)
			continue
		}
		n++
		if got, want := storeSubText(sub), ms.text(); got != want {
			bad("subscription %s:\n    store %s\n    model %s", sub.ID, got, want)
		}
	}
	if n != len(m.subs) {
		bad("store has %d subscriptions; model %d", n, len(m.subs))
	}
	d = append(d, m.compareTeams(s)...)
	n = 0
	for _, t := range s.Topups {
		mt := m.topups[t.ID]
		if mt == nil {
			bad("top-up %s is not in the model", topupText(t))
			continue
		}
		n++
		if got, want := topupText(t), mt.text(); got != want {
			bad("top-up %s; model %s", got, want)
		}
	}
	if n != len(m.topups) {
		bad("store has %d top-ups; model %d", n, len(m.topups))
	}
	for _, b := range []struct {
		book string
		want credit.Credits
	}{{credit.BookIssued, m.issued}, {credit.BookRevenue, m.revenue}, {credit.BookExpired, m.expired}} {
		if got := platformBook(s, b.book); got != b.want {
			bad("platform %s book folds to %s; model %s", b.book, got, b.want)
		}
	}
	return d
}

// storeGrantText and modelGrantText render what a grant is, beyond its
// balances, for compare.
func storeGrantText(g credit.Grant) string {
	return fmt.Sprintf("%s %s priority %d created %s expires %s expired %s applies_to %s subscription %q period %q warned %s", g.Source, g.Granted, g.Priority,
		timeText(g.CreatedAt), timeText(g.ExpiresAt), timeText(g.ExpiredAt), eligibilityText(g.AppliesTo), g.Subscription, g.Period, timeText(g.WarnedAt))
}

func modelGrantText(g *mGrant) string {
	return fmt.Sprintf("%s %s priority %d created %s expires %s expired %s applies_to %s subscription %q period %q warned %s", g.source, g.granted, g.priority,
		timeText(g.createdAt), timeText(g.expiresAt), timeText(g.expiredAt), eligibilityText(g.appliesTo), g.sub, g.period, timeText(g.warnedAt))
}

func timeText(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339Nano)
}

func eligibilityText(e credit.Eligibility) string {
	return fmt.Sprintf("{models %v tags %v exclude_models %v exclude_tags %v}", e.Models, e.Tags, e.ExcludeModels, e.ExcludeTags)
}

func allocText(as []credit.Allocation) string {
	var parts []string
	for _, a := range as {
		parts = append(parts, fmt.Sprintf("%s:%s/%s/%s", a.Grant, a.Amount, a.Captured, a.Refunded))
	}
	return strings.Join(parts, " ")
}

func mAllocText(as []mAlloc) string {
	var parts []string
	for _, a := range as {
		parts = append(parts, fmt.Sprintf("%s:%s/%s/%s", a.grant, a.amount, a.captured, a.refunded))
	}
	return strings.Join(parts, " ")
}
