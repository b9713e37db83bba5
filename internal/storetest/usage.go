package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// RunUsageBackfill checks a store's usage-rollup migration on a database
// from before it: charges on two UTC days are made, downgrade takes the
// store back to schema 3 (no rollup, no trigger), migrate brings it up again,
// and then Verify is clean (the rollup matches the journal) and usage by day,
// answered from the rollup, is what was charged.
func RunUsageBackfill(t *testing.T, store credit.Store, downgrade, migrate func(context.Context) error) {
	ctx := context.Background()
	now := time.Date(2026, 11, 24, 23, 0, 0, 0, time.UTC)
	l := credit.NewLedger(store, credit.LedgerConfig{Now: func() time.Time { return now }})
	if _, err := l.CreateAccount(ctx, nil, "acme", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := l.AddGrant(ctx, nil, "acme", credit.GrantSpec{Credits: credit.Whole(100), Source: credit.SourceTopup}); err != nil {
		t.Fatal(err)
	}
	charge := func(c int64) {
		h, err := l.CreateHold(ctx, nil, "acme", credit.HoldSpec{Credits: credit.Whole(c)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := l.CaptureHold(ctx, nil, h.ID, nil); err != nil {
			t.Fatal(err)
		}
	}
	charge(3)
	charge(4)
	now = now.Add(2 * time.Hour) // the next UTC day
	charge(5)

	if err := downgrade(ctx); err != nil {
		t.Fatalf("back to schema 3: %v", err)
	}
	if err := migrate(ctx); err != nil {
		t.Fatal(err)
	}
	if vs, err := l.Verify(ctx); err != nil || len(vs) != 0 {
		t.Errorf("Verify after the backfill = %v, %v; want clean", vs, err)
	}
	day := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	got, err := l.Usage(ctx, "acme", day, day.Add(48*time.Hour), credit.ByDay)
	if err != nil {
		t.Fatal(err)
	}
	// 3 + 4 on the 24th, 5 on the 25th: whole days, read from the rollup.
	if len(got) != 2 || got[0].Key != "2026-11-24" || got[0].Charged != credit.Whole(7) || got[0].Count != 2 ||
		got[1].Key != "2026-11-25" || got[1].Charged != credit.Whole(5) || got[1].Count != 1 {
		t.Errorf("Usage by day after the backfill = %+v; want 2026-11-24: 7 in 2, 2026-11-25: 5 in 1", got)
	}
}
