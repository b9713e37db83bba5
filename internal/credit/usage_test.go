package credit

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestWholeDays: a usage window splits at UTC midnights into the whole days
// a store reads from its rollup and the partial ends it reads from the
// journal; together they are the window, once.
func TestWholeDays(t *testing.T) {
	at := func(s string) time.Time {
		v, err := time.Parse(time.RFC3339, s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		from, to        string
		dayFrom, dayTo  string // the whole days; equal: none
		wantNoWholeDays bool
	}{
		{"2026-11-24T00:00:00Z", "2026-11-26T00:00:00Z", "2026-11-24T00:00:00Z", "2026-11-26T00:00:00Z", false},
		{"2026-11-24T10:30:00Z", "2026-11-26T09:00:00Z", "2026-11-25T00:00:00Z", "2026-11-26T00:00:00Z", false},
		{"2026-11-24T10:30:00Z", "2026-11-25T09:00:00Z", "2026-11-25T09:00:00Z", "2026-11-25T09:00:00Z", true},
		{"2026-11-24T01:00:00Z", "2026-11-24T02:00:00Z", "2026-11-24T02:00:00Z", "2026-11-24T02:00:00Z", true},
		// Another zone's offset is no UTC midnight: 01:00+01:00 is midnight UTC.
		{"2026-11-24T01:00:00+01:00", "2026-11-25T12:00:00+01:00", "2026-11-24T00:00:00Z", "2026-11-25T00:00:00Z", false},
		// A microsecond past midnight starts the next day.
		{"2026-11-24T00:00:00.000001Z", "2026-11-27T00:00:00Z", "2026-11-25T00:00:00Z", "2026-11-27T00:00:00Z", false},
	}
	for _, tc := range tests {
		from, to := at(tc.from), at(tc.to)
		df, dt := WholeDays(from, to)
		if !df.Equal(at(tc.dayFrom)) || !dt.Equal(at(tc.dayTo)) {
			t.Errorf("WholeDays(%s, %s) = %s, %s; want %s, %s", tc.from, tc.to, df, dt, tc.dayFrom, tc.dayTo)
		}
		if tc.wantNoWholeDays != df.Equal(dt) {
			t.Errorf("WholeDays(%s, %s): whole days %v; want %v", tc.from, tc.to, !df.Equal(dt), !tc.wantNoWholeDays)
		}
		if df.Before(from) || dt.After(to) || dt.Before(df) {
			t.Errorf("WholeDays(%s, %s) = %s, %s: not inside the window", tc.from, tc.to, df, dt)
		}
	}
}

// TestVerifyUsageRollup: a rollup that agrees with the journal passes; one
// that disagrees in an amount, a count, a missing or an extra row is named.
func TestVerifyUsageRollup(t *testing.T) {
	day1 := time.Date(2026, 11, 24, 23, 59, 0, 0, time.UTC)
	day2 := day1.Add(2 * time.Minute)
	charge := func(id int64, at time.Time, model string, c Credits) Entry {
		return Entry{ID: id, Kind: EntryCapture, Account: "a", Time: at, Model: model, ModelKind: KindImage, ChargedDelta: c}
	}
	journal := []Entry{
		charge(1, day1, "flux-dev", Whole(10)),
		charge(2, day2, "flux-dev", Whole(15)),
		charge(3, day2, "flux-dev", Whole(-5)), // a refund: charged, not counted
		{ID: 4, Kind: EntryGrant, Account: "a", Time: day2},
	}
	row := func(day string, c Credits, n int) DailyUsage {
		return DailyUsage{Account: "a", UsageRow: UsageRow{Day: day, Model: "flux-dev", Kind: "image", Charged: c, Count: n}}
	}
	good := []DailyUsage{row("2026-11-24", Whole(10), 1), row("2026-11-25", Whole(10), 1)}
	usageViolations := func(u []DailyUsage) []string {
		var out []string
		for _, v := range VerifySnapshot(&Snapshot{Entries: journal, Usage: u}) {
			if v.Invariant == "usage_rollup" {
				out = append(out, v.Detail)
			}
		}
		return out
	}
	if v := usageViolations(good); len(v) != 0 {
		t.Errorf("a rollup that agrees with the journal: %q; want no usage_rollup violation", v)
	}
	for name, tc := range map[string]struct {
		usage []DailyUsage
		want  string
	}{
		"amount":  {[]DailyUsage{row("2026-11-24", Whole(11), 1), good[1]}, "2026-11-24"},
		"count":   {[]DailyUsage{good[0], row("2026-11-25", Whole(10), 2)}, "2026-11-25"},
		"missing": {good[:1], "no row"},
		"extra":   {append([]DailyUsage{row("2026-11-23", Whole(1), 1)}, good...), "2026-11-23"},
	} {
		v := usageViolations(tc.usage)
		if len(v) != 1 || !strings.Contains(v[0], tc.want) {
			t.Errorf("%s: usage_rollup violations %q; want one naming %q", name, v, tc.want)
		}
	}
}

// TestVerifyHoldsAndGenerations: the hold and generation checks, which
// Verify runs on streams, name each kind of break.
func TestVerifyHoldsAndGenerations(t *testing.T) {
	alloc := func(amount, captured Credits) []Allocation {
		return []Allocation{{Grant: "g1", Amount: amount, Captured: captured}}
	}
	s := &Snapshot{
		Accounts: []Account{{ID: "a", Held: Whole(5)}},
		Holds: []Hold{
			{ID: "h-open", Account: "a", Amount: Whole(7), Status: HoldOpen, Allocations: alloc(Whole(7), 0)},                                 // a held 5, open holds 7
			{ID: "h-short", Account: "a", Amount: Whole(4), Captured: Whole(4), Status: HoldCaptured, Allocations: alloc(Whole(3), Whole(3))}, // allocates 3 of 4
			{ID: "h-ok", Account: "a", Amount: Whole(2), Captured: Whole(2), Status: HoldCaptured, Allocations: alloc(Whole(2), Whole(2))},
		},
		Generations: []Generation{
			{ID: "gen-orphan", Account: "a", Hold: "h-none", Status: GenerationCompleted},
			{ID: "gen-overcharged", Account: "a", Hold: "h-ok", Status: GenerationCompleted, Charged: Whole(3)},
			{ID: "gen-stale", Account: "a", Hold: "h-ok", Status: GenerationHeld, Charged: Whole(2)},
		},
	}
	var got []string
	for _, v := range VerifySnapshot(s) {
		if v.Invariant == "holds" || v.Invariant == "generations" {
			got = append(got, v.String())
		}
	}
	for _, want := range []string{
		"holds: hold h-short of a allocates 3 of its 4",
		"holds: account a has 5 held; its open holds sum to 7",
		"generations: generation gen-orphan has no hold h-none",
		"generations: generation gen-overcharged charged 3; its hold captured 2",
		"generations: generation gen-stale is held but its hold is resolved",
	} {
		if !slices.Contains(got, want) {
			t.Errorf("VerifySnapshot lacks %q; it found:\n%s", want, strings.Join(got, "\n"))
		}
	}
	if len(got) != 5 {
		t.Errorf("VerifySnapshot found %d hold and generation violations; want 5:\n%s", len(got), strings.Join(got, "\n"))
	}
}
