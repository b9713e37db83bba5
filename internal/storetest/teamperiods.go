package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// flowTeamPeriodCalendarDST: a team with no subscription resets its
// members' limits at its local first of the month. Berlin's March runs
// from 1 March 00:00 CET (28 February 23:00 UTC) to 1 April 00:00 CEST (31
// March 22:00 UTC), 743 hours across the change of 29 March: the last
// second of March is refused, the first of April allowed. What March's
// holds give back after that (a release, an expiry, a refund) goes to
// March, not to April's budget.
func flowTeamPeriodCalendarDST(t *testing.T, e *env) {
	march, april, may := at("2026-02-28T23:00:00Z"), at("2026-03-31T22:00:00Z"), at("2026-04-30T22:00:00Z")
	e.clock.Set(at("2026-03-20T12:00:00Z"))
	e.team("berlin", "Europe/Berlin")
	e.topup("berlin", 1000)
	e.setMember("berlin", "ann", limitOf(100))
	g1 := e.memberGen("berlin", "ann", images(fluxDev, 4)) // 20
	e.complete(g1.ID, 4)

	e.clock.Set(at("2026-03-31T21:30:00Z")) // 23:30 CEST
	h1 := e.memberHold("berlin", "ann", credit.Whole(50), 2*time.Hour)
	if !h1.MemberPeriod.Equal(march) {
		t.Errorf("hold at 23:30 CEST on 31 March counts in the period from %s; want %s", timeText(h1.MemberPeriod), timeText(march))
	}
	e.clock.Set(at("2026-03-31T21:40:00Z"))
	h2 := e.memberHold("berlin", "ann", credit.Whole(30), 30*time.Minute) // until 22:10 UTC
	e.wantPeriod("berlin", "ann", march, april, credit.Whole(100), limitOf(100))

	e.clock.Set(at("2026-03-31T21:59:59Z")) // 23:59:59 CEST
	e.unchanged("March's last second", func() {
		_, err := e.ledger.CreateHold(e.ctx, nil, "berlin", credit.HoldSpec{Credits: credit.Whole(1), Member: "ann"})
		wantLimitRefusal(t, "a hold of 1 at 23:59:59 CEST on 31 March", err, 0, credit.Whole(1), april)
		_, err = e.ledger.CreateGeneration(e.ctx, nil, credit.GenerationSpec{Account: "berlin", Member: "ann", Request: fluxDev})
		wantLimitRefusal(t, "a generation of 5 at 23:59:59 CEST on 31 March", err, 0, credit.Whole(5), april)
	})
	e.clock.Set(april) // 1 April 00:00 CEST
	h3 := e.memberHold("berlin", "ann", credit.Whole(1), 2*time.Hour)
	if !h3.MemberPeriod.Equal(april) {
		t.Errorf("hold at 00:00 CEST on 1 April counts in the period from %s; want %s", timeText(h3.MemberPeriod), timeText(april))
	}
	e.wantMember("berlin", "ann", credit.Whole(1), limitOf(99), april, may)

	// March's holds give back to March: a release (50), an expiry (30), a
	// refund (5): 100 − 85 = 15. April keeps its 1.
	e.clock.Set(at("2026-03-31T22:05:00Z"))
	if _, err := e.ledger.ReleaseHold(e.ctx, nil, h1.ID); err != nil {
		t.Fatal(err)
	}
	e.clock.Set(at("2026-03-31T22:10:00Z"))
	if _, err := e.ledger.ExpireDue(e.ctx); err != nil {
		t.Fatal(err)
	}
	if got, err := e.ledger.Hold(e.ctx, h2.ID); err != nil || got.Status != credit.HoldExpired {
		t.Errorf("Hold(h2) = %s, %v; want expired", got.Status, err)
	}
	e.clock.Set(at("2026-03-31T22:20:00Z"))
	five := credit.Whole(5)
	if _, err := e.ledger.RefundGeneration(e.ctx, nil, g1.ID, &five); err != nil {
		t.Fatal(err)
	}
	e.wantPeriod("berlin", "ann", march, april, credit.Whole(15), limitOf(100))
	e.wantPeriod("berlin", "ann", april, may, credit.Whole(1), limitOf(100))
	e.wantMember("berlin", "ann", credit.Whole(1), limitOf(99), april, may)
	// April's 99 left are 99: a hold of 99 is held, one more credit is not.
	e.memberHold("berlin", "ann", credit.Whole(99), 0)
	e.unchanged("April's budget spent", func() {
		_, err := e.ledger.CreateHold(e.ctx, nil, "berlin", credit.HoldSpec{Credits: credit.Whole(1), Member: "ann"})
		wantLimitRefusal(t, "a hold of 1 with April's 100 used", err, 0, credit.Whole(1), may)
	})
	// The pool: 1000 − 20 + 5, of which April's 100 held.
	e.balances("berlin", credit.Whole(885), credit.Whole(100))
}

// flowTeamPeriodSubscriptionDST: with a subscription, a member's period is
// the subscription's month, in the subscription's zone, not the team's
// calendar: basic from 31 January 12:00 EST in New York, on a team in
// Kolkata. Month 0 runs to 28 February 00:00 EST (05:00 UTC), month 1 to
// 31 March 00:00 EDT (04:00 UTC), across New York's change of 8 March; at
// each end the last second is refused and the first allowed (Kolkata's
// April would start only at 18:30 UTC). A month-1 hold released in month 2
// gives back to month 1.
func flowTeamPeriodSubscriptionDST(t *testing.T, e *env) {
	m0, m1, m2, m3 := at("2026-01-31T17:00:00Z"), at("2026-02-28T05:00:00Z"), at("2026-03-31T04:00:00Z"), at("2026-04-30T04:00:00Z")
	e.clock.Set(m0)
	e.team("nyc", "Asia/Kolkata")
	e.subscribe("nyc", credit.SubscriptionSpec{Plan: "basic", TimeZone: "America/New_York"}) // 1000 a month into the pool
	e.setMember("nyc", "bo", limitOf(100))

	e.clock.Set(at("2026-02-10T12:00:00Z"))
	h := e.memberHold("nyc", "bo", credit.Whole(100), 0)
	if _, err := e.ledger.CaptureHold(e.ctx, nil, h.ID, nil); err != nil {
		t.Fatal(err)
	}
	e.wantMember("nyc", "bo", credit.Whole(100), limitOf(0), m0, m1)
	e.clock.Set(m1.Add(-time.Second)) // 23:59:59 EST, 27 February
	e.unchanged("month 0's last second", func() {
		_, err := e.ledger.CreateHold(e.ctx, nil, "nyc", credit.HoldSpec{Credits: credit.Whole(1), Member: "bo"})
		wantLimitRefusal(t, "a hold of 1 at 23:59:59 EST on 27 February", err, 0, credit.Whole(1), m1)
	})
	e.clock.Set(m1)
	g := e.memberGen("nyc", "bo", images(fluxDev, 4)) // 20 of month 1
	e.complete(g.ID, 4)
	e.wantMember("nyc", "bo", credit.Whole(20), limitOf(80), m1, m2)

	e.clock.Set(at("2026-03-31T03:00:00Z")) // 23:00 EDT, 30 March
	late := e.memberHold("nyc", "bo", credit.Whole(80), 2*time.Hour)
	e.clock.Set(m2.Add(-time.Second))
	e.unchanged("month 1's last second", func() {
		_, err := e.ledger.CreateHold(e.ctx, nil, "nyc", credit.HoldSpec{Credits: credit.Whole(1), Member: "bo"})
		wantLimitRefusal(t, "a hold of 1 at 23:59:59 EDT on 30 March", err, 0, credit.Whole(1), m2)
	})
	e.clock.Set(m2)
	e.memberHold("nyc", "bo", credit.Whole(1), 2*time.Hour)
	e.clock.Set(at("2026-03-31T04:30:00Z"))
	if _, err := e.ledger.ReleaseHold(e.ctx, nil, late.ID); err != nil {
		t.Fatal(err)
	}
	e.wantPeriod("nyc", "bo", m0, m1, credit.Whole(100), limitOf(100))
	e.wantPeriod("nyc", "bo", m1, m2, credit.Whole(20), limitOf(100))
	e.wantPeriod("nyc", "bo", m2, m3, credit.Whole(1), limitOf(100))
	e.wantMember("nyc", "bo", credit.Whole(1), limitOf(99), m2, m3)
}

// flowTeamUsageByMember: a team's usage grouped by member sums each
// member's charges net of refunds; one member's usage is theirs alone;
// a member's view of the journal is their entries and the pool's, never
// another member's.
func flowTeamUsageByMember(t *testing.T, e *env) {
	e.clock.Set(at("2026-06-10T10:00:00Z"))
	e.team("agency", "")
	e.topup("agency", 1000)
	e.setMember("agency", "a", nil)
	e.setMember("agency", "b", nil)
	e.setMember("agency", "c", limitOf(50))
	e.account("solo", 0)
	e.topup("solo", 100)

	// 10 June: a 10 and 15 (3 of 4 delivered), b 73.5, c 12 of a hold of 20.
	g := e.memberGen("agency", "a", images(fluxDev, 2))
	e.complete(g.ID, 2)
	aFirst := g
	g = e.memberGen("agency", "b", banana2K)
	e.complete(g.ID, 1)
	h := e.memberHold("agency", "c", credit.Whole(20), 0)
	twelve := credit.Whole(12)
	if _, err := e.ledger.CaptureHold(e.ctx, nil, h.ID, &twelve); err != nil {
		t.Fatal(err)
	}
	g = e.memberGen("agency", "a", images(fluxDev, 4))
	e.complete(g.ID, 3)
	// 11 June: b 5, a refunded 4, c's generation failed; solo 5.
	e.clock.Set(at("2026-06-11T09:00:00Z"))
	g = e.memberGen("agency", "b", fluxDev)
	e.complete(g.ID, 1)
	four := credit.Whole(4)
	if _, err := e.ledger.RefundGeneration(e.ctx, nil, aFirst.ID, &four); err != nil {
		t.Fatal(err)
	}
	g = e.memberGen("agency", "c", images(fluxDev, 2))
	if _, err := e.ledger.FailGeneration(e.ctx, nil, g.ID); err != nil {
		t.Fatal(err)
	}
	g = e.generation("solo", fluxDev)
	e.complete(g.ID, 1)

	// Whole days (read from the rollup) and a window of parts of days (the
	// journal): every charge above is in both.
	for _, w := range [][2]time.Time{
		{at("2026-06-10T00:00:00Z"), at("2026-06-12T00:00:00Z")},
		{at("2026-06-10T10:00:00Z"), at("2026-06-11T09:00:00.5Z")},
	} {
		e.wantMemberUsage(w[0], w[1])
	}
	if got, err := e.ledger.Usage(e.ctx, "agency", at("2026-06-10T00:00:00Z"), at("2026-06-12T00:00:00Z"), credit.ByMember); err != nil || len(got) != 3 || got[1].Key != "b" || got[1].Charged != cr("78.5") {
		t.Errorf("Usage(agency, by member) = %+v, %v; want a, b (78.5), c", got, err)
	}

	// The journal by member: a's two generations (a hold and a capture
	// each) and refund, b's two the same, c's hold and capture and
	// generation (a hold and a release); the pool's top-up.
	count := map[string]int{}
	for _, x := range e.journal("agency") {
		count[x.Member]++
	}
	if want := map[string]int{"a": 5, "b": 4, "c": 4, "": 1}; fmt.Sprint(count) != fmt.Sprint(want) {
		t.Errorf("journal of agency by member %v; want %v", count, want)
	}
	for _, member := range []string{"a", "b", "c"} {
		e.wantMemberEntries("agency", member)
	}
	all, err := e.ledger.Entries(e.ctx, "agency", 0, 100)
	if err != nil || len(all) != 14 {
		t.Errorf("Entries(agency) = %d entries, %v; want all 14", len(all), err)
	}
}

// wantMemberUsage checks the usage of flowTeamUsageByMember in [from, to).
func (e *env) wantMemberUsage(from, to time.Time) {
	t := e.t
	t.Helper()
	usage := func(account, member string, by credit.GroupBy) string {
		t.Helper()
		gs, err := e.ledger.MemberUsage(e.ctx, account, member, from, to, by)
		if err != nil {
			t.Fatalf("MemberUsage(%s, %q, %s) = %v", account, member, by, err)
		}
		var parts []string
		for _, g := range gs {
			parts = append(parts, fmt.Sprintf("%s %s in %d", g.Key, g.Charged, g.Count))
		}
		return fmt.Sprint(parts)
	}
	for _, c := range []struct {
		account, member string
		by              credit.GroupBy
		want            string
	}{
		// a: 10 + 15 − 4 = 21 in 2 charges; b: 73.5 + 5 in 2; c: 12 in 1.
		{"agency", "", credit.ByMember, "[a 21 in 2 b 78.5 in 2 c 12 in 1]"},
		{"agency", "a", credit.ByDay, "[2026-06-10 25 in 2 2026-06-11 -4 in 0]"},
		{"agency", "a", credit.ByMember, "[a 21 in 2]"},
		{"agency", "b", credit.ByModel, "[flux-dev 5 in 1 nano-banana-2 73.5 in 1]"},
		{"agency", "c", credit.ByModel, "[other 12 in 1]"}, // a generic hold has no model
		{"agency", "zed", credit.ByMember, "[]"},
		{"solo", "", credit.ByMember, "[other 5 in 1]"}, // no member outside teams
	} {
		if got := usage(c.account, c.member, c.by); got != c.want {
			t.Errorf("MemberUsage(%s, %q, by %s) in [%s, %s) = %s; want %s", c.account, c.member, c.by, timeText(from), timeText(to), got, c.want)
		}
	}
}

// wantMemberEntries checks a member's view of the team's journal, read in
// pages of 2: their entries and the pool's, newest first, never another
// member's.
func (e *env) wantMemberEntries(team, member string) {
	t := e.t
	t.Helper()
	var want []int64
	for _, x := range e.journal(team) {
		if x.Member == member || x.Member == "" {
			want = append(want, x.ID)
		}
	}
	slices.Reverse(want) // newest first
	var got []int64
	for before := int64(0); ; {
		page, err := e.ledger.MemberEntries(e.ctx, team, member, before, 2)
		if err != nil {
			t.Fatalf("MemberEntries(%s, %s) = %v", team, member, err)
		}
		for _, x := range page {
			if x.Member != member && x.Member != "" {
				t.Errorf("MemberEntries(%s, %s) shows entry %d of member %s", team, member, x.ID, x.Member)
			}
			got = append(got, x.ID)
		}
		if len(page) < 2 {
			break
		}
		before = page[len(page)-1].ID
	}
	if !slices.Equal(got, want) {
		t.Errorf("MemberEntries(%s, %s) in pages of 2 = %v; want %v", team, member, got, want)
	}
}
