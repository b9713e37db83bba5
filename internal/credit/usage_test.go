package credit

import (
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
	charge := func(id int64, at time.Time, model string, c Credits) Transaction {
		return Transaction{ID: id, Kind: TxCapture, Account: "a", Time: at, Model: model, ModelKind: KindImage, ChargedDelta: c}
	}
	journal := []Transaction{
		charge(1, day1, "flux-dev", Whole(10)),
		charge(2, day2, "flux-dev", Whole(15)),
		charge(3, day2, "flux-dev", Whole(-5)), // a refund: charged, not counted
		{ID: 4, Kind: TxGrant, Account: "a", Time: day2},
	}
	row := func(day string, c Credits, n int) DailyUsage {
		return DailyUsage{Account: "a", UsageRow: UsageRow{Day: day, Model: "flux-dev", Kind: "image", Charged: c, Count: n}}
	}
	good := []DailyUsage{row("2026-11-24", Whole(10), 1), row("2026-11-25", Whole(10), 1)}
	usageViolations := func(u []DailyUsage) []string {
		var out []string
		for _, v := range VerifySnapshot(&Snapshot{Transactions: journal, Usage: u}) {
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
