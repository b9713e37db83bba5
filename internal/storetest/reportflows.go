package storetest

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// The flows of the support desk and finance: the liability and consumption
// reports (this file) and the rollups behind them (rollupflows.go), debits
// and the audit of a person's reasons (debitflows.go), the account
// directory (directoryflows.go) and a catalog's impact (impactflows.go).
// Every expected number is worked out by hand in its comment; each flow
// ends with a clean Verify (newEnv), which checks the rollups against the
// journal, and most with wantRollups, which checks them against
// ComputeRollups.
func reportFlows() []flow {
	return []flow{
		{name: "Liability", fn: flowLiability},
		{name: "Consumption", fn: flowConsumption},
		{name: "BadReports", fn: flowBadReports},
		{name: "Rollups", fn: flowRollups},
		{name: "RollupRace", fn: flowRollupRace},
		{name: "Debit", fn: flowDebit},
		{name: "DebitOverdrawn", fn: flowDebitOverdrawn},
		{name: "ReasonsAudited", fn: flowReasonsAudited},
		{name: "AccountDirectory", fn: flowAccountDirectory},
		{name: "GenerationDirectory", fn: flowGenerationDirectory},
		{name: "AccountAuditPages", fn: flowAccountAuditPages},
		{name: "Impact", fn: flowImpact, catalog: enhancerCatalog},
	}
}

// runReports runs the report flows; with races only, only those whose
// writes race (the others make one write at a time, which batches alike).
func runReports(t *testing.T, open func(t *testing.T) credit.Store, racesOnly bool) {
	list := reportFlows()
	if racesOnly {
		list = slices.DeleteFunc(list, func(f flow) bool { return !strings.Contains(f.name, "Race") })
	}
	runFlowList(t, open, list)
}

// liabilityText renders one source's (or the totals') six figures.
func liabilityText(s credit.SourceLiability) string {
	return fmt.Sprintf("%s: outstanding %s, within 7 days %s, 30 %s, 90 %s, never %s, past expiry %s",
		s.Source, s.Outstanding, s.Within7, s.Within30, s.Within90, s.Never, s.PastExpiry)
}

// reportText renders a liability report: its time, totals and sources.
func reportText(at time.Time, total credit.SourceLiability, sources []credit.SourceLiability) string {
	total.Source = "total"
	lines := []string{"at " + timeText(at), liabilityText(total)}
	for _, s := range sources {
		lines = append(lines, liabilityText(s))
	}
	return strings.Join(lines, "\n    ")
}

// wantLiability checks Ledger.Liability(at) against the figures worked out
// by hand; at zero is now, reported at the clock's time.
func (e *env) wantLiability(what string, at time.Time, total credit.SourceLiability, sources ...credit.SourceLiability) {
	e.t.Helper()
	r, err := e.ledger.Liability(e.ctx, at)
	if err != nil {
		e.t.Errorf("Liability(%s) = %v", what, err)
		return
	}
	wantAt := at
	if at.IsZero() {
		wantAt = e.clock.Now()
	}
	got, want := reportText(r.At, r.SourceLiability, r.Sources), reportText(wantAt, total, sources)
	if got != want {
		e.t.Errorf("Liability(%s) =\n    %s\nwant\n    %s", what, got, want)
	}
}

// owed is one line of a liability report, in credits (decimal text).
func owed(src credit.Source, outstanding, within7, within30, within90, never, past string) credit.SourceLiability {
	return credit.SourceLiability{Source: src, Outstanding: cr(outstanding), Within7: cr(within7), Within30: cr(within30),
		Within90: cr(within90), Never: cr(never), PastExpiry: cr(past)}
}

// flowLiability: what is owed, by source and expiry, now and at past UTC
// midnights. Two accounts, one in Berlin, whose clocks go back on 25
// October 2026 at 01:00 UTC (CEST, UTC+2, to CET, UTC+1), which the flow
// crosses: a report's days are UTC days whatever the account's zone.
func flowLiability(t *testing.T, e *env) {
	berlin := location("Europe/Berlin")
	t1 := at("2026-10-24T20:00:00Z") // a Saturday, 22:00 in Berlin (CEST)
	e.clock.Set(t1)
	e.openAccount(credit.AccountSpec{ID: "ber", TimeZone: "Europe/Berlin"})
	e.account("utc", 0)
	// g1 promo 30, expiring in 3 days: 2026-10-27T20:00Z, bucket 2026-10-27.
	g1 := e.grant("ber", credit.GrantSpec{Credits: credit.Whole(30), Source: credit.SourcePromo, ExpiresAt: t1.Add(3 * 24 * time.Hour)})
	// g2 top-up 100, never expiring.
	e.topup("ber", 100)
	// g3 subscription 50, expiring in 40 days: 2026-12-03T20:00Z (October
	// has 31 days: 24 + 40 = 64 = 31 + 30 + 3), bucket 2026-12-03.
	g3 := e.grant("utc", credit.GrantSpec{Credits: credit.Whole(50), Source: credit.SourceSubscription, ExpiresAt: t1.Add(40 * 24 * time.Hour)})
	// g4 adjustment 20, expiring in 100 days: 2027-02-01T20:00Z (7 to 31
	// October, 30 to 30 November, 31 to 31 December, 31 to 31 January, 1
	// more), bucket 2027-02-01.
	e.grant("utc", credit.GrantSpec{Credits: credit.Whole(20), Source: credit.SourceAdjustment, ExpiresAt: t1.Add(100 * 24 * time.Hour)})
	// g5 promo 10, expiring in 10 days: 2026-11-03T20:00Z, bucket 2026-11-03.
	g5 := e.grant("utc", credit.GrantSpec{Credits: credit.Whole(10), Source: credit.SourcePromo, ExpiresAt: t1.Add(10 * 24 * time.Hour)})

	// Past the change of Berlin's clocks: 2026-10-25T23:20Z is 00:20 on
	// 26 October in Berlin (CET), but 25 October in UTC.
	t2 := at("2026-10-25T23:20:00Z")
	if off := func(t time.Time) int { _, o := t.In(berlin).Zone(); return o }; off(t1) != 2*3600 || off(t2) != 3600 || t2.In(berlin).Day() != 26 {
		t.Fatalf("the flow's times are not on both sides of Berlin's DST change: %v, %v", t1.In(berlin), t2.In(berlin))
	}
	e.clock.Set(t2)
	// A hold of 12 on ber takes g1 (promo, expiring first): 18 left, 12 held.
	hB := e.hold("ber", credit.Whole(12), 0)
	e.clock.Set(at("2026-10-25T23:30:00Z"))
	// Capture 8 of it: g1 has 18 + 4 back = 22; 8 are no longer owed.
	c8 := credit.Whole(8)
	if _, err := e.ledger.CaptureHold(e.ctx, nil, hB.ID, &c8); err != nil {
		t.Fatalf("CaptureHold(8 of 12) = %v", err)
	}
	e.wantGrant("g1", g1.ID, credit.Whole(22), 0)

	// A day later: a hold of 5 on utc (TTL a day, so still open at the end)
	// takes g5 (expiring before g3 and g4): 5 left, 5 held.
	e.clock.Set(at("2026-10-26T20:00:00Z"))
	e.hold("utc", credit.Whole(5), 24*time.Hour)
	// Void g5 at 21:00: its 5 left go back; its 5 held stay owed, the grant
	// now expiring at the void (bucket 2026-10-26).
	e.clock.Set(at("2026-10-26T21:00:00Z"))
	if _, err := e.ledger.VoidGrant(e.ctx, nil, g5.ID, "issued twice"); err != nil {
		t.Fatalf("VoidGrant(g5) = %v", err)
	}
	e.wantGrant("g5", g5.ID, 0, credit.Whole(5))
	// The next morning, g3 (subscription 50) is amended to expire on
	// 2026-11-01T12:00Z: its 50 move from bucket 2026-12-03 to 2026-11-01.
	e.clock.Set(at("2026-10-27T09:00:00Z"))
	if _, err := e.ledger.AmendGrantExpiry(e.ctx, nil, g3.ID, at("2026-11-01T12:00:00Z"), "ends with the trial"); err != nil {
		t.Fatalf("AmendGrantExpiry(g3) = %v", err)
	}
	e.clock.Set(at("2026-10-27T10:00:00Z"))

	// Now (2026-10-27T10:00Z): the windows count from today's midnight,
	// buckets in [10-27, 11-03), [10-27, 11-26), [10-27, 2027-01-25).
	//   g1 promo 22 (bucket 10-27): within 7, 30, 90.
	//   g2 topup 100: never.
	//   g3 subscription 50 (bucket 11-01): within 7, 30, 90.
	//   g4 adjustment 20 (bucket 2027-02-01): beyond 90.
	//   g5 promo 5 held (bucket 10-26, before today): past expiry.
	// Totals: 22 + 100 + 50 + 20 + 5 = 197 (210 granted − 8 charged − 5
	// voided); within 7 = 22 + 50 = 72, and so within 30 and 90.
	e.wantLiability("now", time.Time{},
		owed("total", "197", "72", "72", "72", "100", "5"),
		owed(credit.SourceAdjustment, "20", "0", "0", "0", "0", "0"),
		owed(credit.SourcePromo, "27", "22", "22", "22", "0", "5"), // 22 + 5
		owed(credit.SourceSubscription, "50", "50", "50", "50", "0", "0"),
		owed(credit.SourceTopup, "100", "0", "0", "0", "100", "0"))

	// At 2026-10-27T00:00Z: the journal of 24 to 26 October, before the
	// amendment (so g3 is still in bucket 12-03); windows [10-27, 11-03),
	// [10-27, 11-26), [10-27, 2027-01-25).
	//   promo: g1 22 within 7; g5 5 held, voided on the 26th: past expiry.
	//   subscription 50 (12-03): within 90 only.
	//   adjustment 20 (2027-02-01): beyond 90.
	e.wantLiability("2026-10-27", at("2026-10-27T00:00:00Z"),
		owed("total", "197", "22", "22", "72", "100", "5"), // 90: 22 + 50
		owed(credit.SourceAdjustment, "20", "0", "0", "0", "0", "0"),
		owed(credit.SourcePromo, "27", "22", "22", "22", "0", "5"),
		owed(credit.SourceSubscription, "50", "0", "0", "50", "0", "0"),
		owed(credit.SourceTopup, "100", "0", "0", "0", "100", "0"))

	// At 2026-10-26T00:00Z: 24 and 25 October, before the hold on utc and
	// the void. The capture at 2026-10-25T23:30Z (00:30 on the 26th in
	// Berlin) is in: a UTC day. Windows [10-26, 11-02), [10-26, 11-25),
	// [10-26, 2027-01-24).
	//   promo: g1 30 − 8 = 22 (10-27) within 7; g5 10 (11-03) within 30.
	//   subscription 50 (12-03): within 90; adjustment 20: beyond.
	// Totals: 210 − 8 = 202; within 7 22; 30: 22 + 10 = 32; 90: 32 + 50 = 82.
	e.wantLiability("2026-10-26", at("2026-10-26T00:00:00Z"),
		owed("total", "202", "22", "32", "82", "100", "0"),
		owed(credit.SourceAdjustment, "20", "0", "0", "0", "0", "0"),
		owed(credit.SourcePromo, "32", "22", "32", "32", "0", "0"),
		owed(credit.SourceSubscription, "50", "0", "0", "50", "0", "0"),
		owed(credit.SourceTopup, "100", "0", "0", "0", "100", "0"))

	// At 2026-10-25T00:00Z: the grants of the 24th only. Windows [10-25,
	// 11-01), [10-25, 11-24), [10-25, 2027-01-23).
	//   promo: g1 30 (10-27) within 7; g5 10 (11-03) within 30.
	// Totals 210; within 7 30; 30: 40; 90: 40 + 50 = 90.
	e.wantLiability("2026-10-25", at("2026-10-25T00:00:00Z"),
		owed("total", "210", "30", "40", "90", "100", "0"),
		owed(credit.SourceAdjustment, "20", "0", "0", "0", "0", "0"),
		owed(credit.SourcePromo, "40", "30", "40", "40", "0", "0"),
		owed(credit.SourceSubscription, "50", "0", "0", "50", "0", "0"),
		owed(credit.SourceTopup, "100", "0", "0", "0", "100", "0"))

	// At 2026-10-24T00:00Z nothing was owed yet.
	e.wantLiability("2026-10-24", at("2026-10-24T00:00:00Z"), owed("total", "0", "0", "0", "0", "0", "0"))

	// Only UTC midnights not after now.
	for _, tc := range []struct {
		what string
		at   time.Time
	}{
		{"now, not a midnight", at("2026-10-27T10:00:00Z")},
		{"Berlin's midnight (2026-10-26T23:00Z)", time.Date(2026, 10, 27, 0, 0, 0, 0, berlin)},
		{"a microsecond after midnight", at("2026-10-27T00:00:00.000001Z")},
		{"tomorrow's midnight", at("2026-10-28T00:00:00Z")},
	} {
		_, err := e.ledger.Liability(e.ctx, tc.at)
		wantErr(t, "Liability("+tc.what+")", err, credit.Invalid, "invalid_at")
	}

	// The rollup as stored: the capture on UTC day 2026-10-25 (the hold
	// before it moved g1's credits from available to held: 0); the void's
	// and the amendment's moves between buckets on their own days.
	rows := e.liabilityRows()
	for _, w := range []credit.LiabilityRow{
		{Day: "2026-10-25", Source: credit.SourcePromo, Expires: "2026-10-27", Credits: credit.Whole(-8)},
		{Day: "2026-10-26", Source: credit.SourcePromo, Expires: "2026-11-03", Credits: credit.Whole(-10)},        // 5 left + 5 held moved out
		{Day: "2026-10-26", Source: credit.SourcePromo, Expires: "2026-10-26", Credits: credit.Whole(5)},          // 10 moved in − 5 voided
		{Day: "2026-10-27", Source: credit.SourceSubscription, Expires: "2026-12-03", Credits: credit.Whole(-50)}, // moved out
		{Day: "2026-10-27", Source: credit.SourceSubscription, Expires: "2026-11-01", Credits: credit.Whole(50)},  // moved in
	} {
		k := liabilityKey(w)
		if got := rows[k]; got != w.Credits {
			t.Errorf("liability rollup %s = %s; want %s", k, got, w.Credits)
		}
	}
	e.wantRollups()
}

// liabilityKey names a liability rollup row.
func liabilityKey(r credit.LiabilityRow) string {
	return fmt.Sprintf("%s %s expires %q", r.Day, r.Source, r.Expires)
}

// liabilityRows returns the store's liability rollup by key.
func (e *env) liabilityRows() map[string]credit.Credits {
	e.t.Helper()
	rows := map[string]credit.Credits{}
	for _, r := range e.snapshot().Liability {
		rows[liabilityKey(r)] += r.Credits
	}
	return rows
}

// consumptionText renders a consumption report: its totals and groups,
// amounts by source without the sources that paid nothing in sum.
func consumptionText(charged credit.Credits, charges int, by map[credit.Source]credit.Credits, groups []credit.ConsumptionGroup) string {
	lines := []string{fmt.Sprintf("total %s in %d charges %s", charged, charges, bySourceText(by))}
	for _, g := range groups {
		lines = append(lines, fmt.Sprintf("%s: %s in %d charges %s", g.Key, g.Charged, g.Charges, bySourceText(g.BySource)))
	}
	return strings.Join(lines, "\n    ")
}

func bySourceText(by map[credit.Source]credit.Credits) string {
	var parts []string
	for _, s := range slices.Sorted(maps.Keys(by)) {
		if by[s] != 0 {
			parts = append(parts, fmt.Sprintf("%s %s", s, by[s]))
		}
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// charged is one group of a consumption report: "key: charged in n charges
// {source amount, …}".
func charged(key, amount string, charges int, by ...string) credit.ConsumptionGroup {
	g := credit.ConsumptionGroup{Key: key, Charged: cr(amount), Charges: charges, BySource: map[credit.Source]credit.Credits{}}
	for i := 0; i+1 < len(by); i += 2 {
		g.BySource[credit.Source(by[i])] = cr(by[i+1])
	}
	return g
}

// wantConsumption checks Ledger.Consumption(from, to, by) against a total
// and groups worked out by hand.
func (e *env) wantConsumption(from, to string, by credit.ReportGroup, total credit.ConsumptionGroup, groups ...credit.ConsumptionGroup) {
	e.t.Helper()
	f, tt := at(from+"T00:00:00Z"), at(to+"T00:00:00Z")
	r, err := e.ledger.Consumption(e.ctx, f, tt, by)
	if err != nil {
		e.t.Errorf("Consumption(%s, %s, %s) = %v", from, to, by, err)
		return
	}
	if !r.From.Equal(f) || !r.To.Equal(tt) || r.By != by {
		e.t.Errorf("Consumption(%s, %s, %s) is of %v to %v by %q", from, to, by, r.From, r.To, r.By)
	}
	got := consumptionText(r.Charged, r.Charges, r.BySource, r.Groups)
	want := consumptionText(total.Charged, total.Charges, total.BySource, groups)
	if got != want {
		e.t.Errorf("Consumption(%s, %s, %s) =\n    %s\nwant\n    %s", from, to, by, got, want)
	}
}

// flowConsumption: what was charged, net of refunds, by model, source and
// day, and which balances paid. The account is in Auckland (UTC+13 in
// November): its local day turns at 11:00 UTC, but the report's days are
// UTC days.
func flowConsumption(t *testing.T, e *env) {
	e.openAccount(credit.AccountSpec{ID: "c", TimeZone: "Pacific/Auckland"})
	// At t0 (2026-11-24T10:00Z, 23:00 in Auckland), in consumption order:
	// f free 3 (expiring at the UTC midnight), p promo 50 (30 days), t
	// top-up 100 (never).
	f := e.grant("c", credit.GrantSpec{Credits: credit.Whole(3), Source: credit.SourceFree, ExpiresAt: at("2026-11-25T00:00:00Z")})
	p := e.grant("c", credit.GrantSpec{Credits: credit.Whole(50), Source: credit.SourcePromo, ExpiresAt: at("2026-12-24T00:00:00Z")})
	tp := e.topup("c", 100)

	// G1 Flux Dev ×2 = 10, paid by f 3 and p 7 (f is its first payer).
	g1 := e.generation("c", images(fluxDev, 2))
	e.clock.Set(at("2026-11-24T10:01:00Z"))
	e.complete(g1.ID, 2)
	// G2 Nano Banana 2 at 2K = 73.5, paid by p 43 (50 − 7) and t 30.5.
	e.clock.Set(at("2026-11-24T10:10:00Z"))
	g2 := e.generation("c", banana2K)
	e.complete(g2.ID, 1)
	// A part refund of 20 of G2: from its last payer, t (69.5 → 89.5).
	e.clock.Set(at("2026-11-24T10:20:00Z"))
	refund := func(id string, c *credit.Credits) {
		t.Helper()
		if _, err := e.ledger.RefundGeneration(e.ctx, nil, id, c); err != nil {
			t.Fatalf("RefundGeneration(%s) = %v", id, err)
		}
	}
	c20 := credit.Whole(20)
	refund(g2.ID, &c20)
	// G3 Flux Dev ×1 = 5 from t (84.5), refunded whole (89.5): nothing
	// charged, but a charge with t as its first payer.
	e.clock.Set(at("2026-11-24T10:30:00Z"))
	g3 := e.generation("c", fluxDev)
	e.complete(g3.ID, 1)
	e.clock.Set(at("2026-11-24T10:40:00Z"))
	refund(g3.ID, nil)
	// Nothing delivered, and a failure: no charge.
	e.clock.Set(at("2026-11-24T10:45:00Z"))
	e.complete(e.generation("c", fluxDev).ID, 0)
	if _, err := e.ledger.FailGeneration(e.ctx, nil, e.generation("c", fluxDev).ID); err != nil {
		t.Fatalf("FailGeneration = %v", err)
	}
	// A generic hold of 8 captured 6 at 11:01Z (00:01 on the 25th in
	// Auckland; the 24th in UTC), from t (89.5 − 6 = 83.5).
	e.clock.Set(at("2026-11-24T11:00:00Z"))
	h := e.hold("c", credit.Whole(8), 0)
	e.clock.Set(at("2026-11-24T11:01:00Z"))
	c6 := credit.Whole(6)
	if _, err := e.ledger.CaptureHold(e.ctx, nil, h.ID, &c6); err != nil {
		t.Fatalf("CaptureHold(6 of 8) = %v", err)
	}
	e.wantGrant("t", tp.ID, cr("83.5"), 0)

	// The next UTC day: f expired at midnight. A refund of 9 of G1 goes
	// back over its payers last-first: p 7 (live: 0 → 7), then f 2, which
	// expired, so a new refund grant of 2; the 2 still count against free.
	e.clock.Set(at("2026-11-25T09:00:00Z"))
	c9 := credit.Whole(9)
	refund(g1.ID, &c9)
	e.wantGrant("p", p.ID, credit.Whole(7), 0)
	e.wantGrant("f", f.ID, 0, 0)
	if rg := e.sourceGrants("c", credit.SourceRefund); len(rg) != 1 || rg[0].Granted != credit.Whole(2) || !rg[0].ExpiresAt.IsZero() {
		t.Errorf("refund grants of c = %+v; want one of 2, never expiring", rg)
	}
	// G4 Minimax Image ×1 = 6, from p (7 → 1).
	e.clock.Set(at("2026-11-25T09:30:00Z"))
	g4 := e.generation("c", credit.QuoteRequest{Model: "minimax-image"})
	e.complete(g4.ID, 1)
	e.wantGrant("p", p.ID, credit.Whole(1), 0)

	// 2026-11-24, by model:
	//   flux-dev: G1 free 3 + promo 7, G3 topup 5 − 5: 10 in 2 charges.
	//   nano-banana-2: promo 43 + topup 30.5 − 20 = 53.5 in 1 charge.
	//   other (the generic hold): topup 6 in 1.
	// 2026-11-25: flux-dev promo −7, free −2 (0 charges); minimax-image
	// promo 6 in 1.
	// Over both days: flux-dev 10 − 9 = 1 (free 3 − 2 = 1, promo 7 − 7 = 0);
	// total 1 + 6 + 53.5 + 6 = 66.5 in 5 charges, which is what was charged
	// (10 + 73.5 + 5 + 6 + 6 = 100.5) less what was refunded (20 + 5 + 9 =
	// 34); by source free 1, promo 43 + 6 = 49, topup 10.5 + 6 = 16.5.
	e.wantConsumption("2026-11-24", "2026-11-26", credit.ReportByModel,
		charged("", "66.5", 5, "free", "1", "promo", "49", "topup", "16.5"),
		charged("flux-dev", "1", 2, "free", "1"),
		charged("minimax-image", "6", 1, "promo", "6"),
		charged("nano-banana-2", "53.5", 1, "promo", "43", "topup", "10.5"),
		charged("other", "6", 1, "topup", "6"))
	// By source: a charge counts where its first payer is: free G1;
	// promo G2, G4; topup G3, the hold.
	e.wantConsumption("2026-11-24", "2026-11-26", credit.ReportBySource,
		charged("", "66.5", 5, "free", "1", "promo", "49", "topup", "16.5"),
		charged("free", "1", 1, "free", "1"),
		charged("promo", "49", 2, "promo", "49"),
		charged("topup", "16.5", 2, "topup", "16.5"))
	// By day: the 24th 10 + 53.5 + 6 = 69.5 in 4 (free 3, promo 7 + 43 =
	// 50, topup 10.5 + 6 = 16.5, the hold's at 00:01 in Auckland among
	// them); the 25th −9 + 6 = −3 in 1 (free −2, promo −7 + 6 = −1).
	e.wantConsumption("2026-11-24", "2026-11-26", credit.ReportByDay,
		charged("", "66.5", 5, "free", "1", "promo", "49", "topup", "16.5"),
		charged("2026-11-24", "69.5", 4, "free", "3", "promo", "50", "topup", "16.5"),
		charged("2026-11-25", "-3", 1, "free", "-2", "promo", "-1"))
	// The 25th alone, by model.
	e.wantConsumption("2026-11-25", "2026-11-26", credit.ReportByModel,
		charged("", "-3", 1, "free", "-2", "promo", "-1"),
		charged("flux-dev", "-9", 0, "free", "-2", "promo", "-7"),
		charged("minimax-image", "6", 1, "promo", "6"))
	// A window with nothing in it.
	e.wantConsumption("2026-11-26", "2026-11-27", credit.ReportByModel, charged("", "0", 0))
	e.wantRollups()
}

// flowBadReports: the reports' refusals.
func flowBadReports(t *testing.T, e *env) {
	e.account("a", 0)
	day := at("2026-11-24T00:00:00Z")
	for _, tc := range []struct {
		what     string
		from, to time.Time
		by       credit.ReportGroup
		reason   string
	}{
		{"an empty window", day, day, credit.ReportByDay, "invalid_range"},
		{"a reversed window", day, day.Add(-24 * time.Hour), credit.ReportByDay, "invalid_range"},
		{"from not a midnight", day.Add(time.Hour), day.Add(48 * time.Hour), credit.ReportByDay, "invalid_range"},
		{"to not a midnight", day, day.Add(25 * time.Hour), credit.ReportByDay, "invalid_range"},
		{"Auckland's midnight", time.Date(2026, 11, 24, 0, 0, 0, 0, location("Pacific/Auckland")), day.Add(24 * time.Hour), credit.ReportByDay, "invalid_range"},
		{"401 days", day, day.AddDate(0, 0, 401), credit.ReportByDay, "invalid_range"},
		{"group by member", day, day.Add(24 * time.Hour), "member", "invalid_group_by"},
		{"no grouping", day, day.Add(24 * time.Hour), "", "invalid_group_by"},
	} {
		_, err := e.ledger.Consumption(e.ctx, tc.from, tc.to, tc.by)
		wantErr(t, "Consumption("+tc.what+")", err, credit.Invalid, tc.reason)
	}
	// 400 days is the longest window (UTC days are 24 hours: 400 × 24 h).
	if _, err := e.ledger.Consumption(e.ctx, day.AddDate(0, 0, -400), day, credit.ReportByModel); err != nil {
		t.Errorf("Consumption(400 days) = %v", err)
	}
}
