package bench

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/postgres/pgtest"
	"github.com/tally-credits/tally/internal/sqlite"
)

// TestIdleAccountsCostNothing runs the idle scenario small (2,000 accounts,
// one simulated day of each) on both stores: the idle accounts' day costs no
// write, no entry and no byte, while the control account's day costs a few.
// These are counts, not times.
func TestIdleAccountsCostNothing(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "idle.db")
		db, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatalf("sqlite.Open = %v", err)
		}
		t.Cleanup(func() { db.Close() })
		checkIdle(t, db, sqliteSize(path), nil)
	})
	t.Run("postgres", func(t *testing.T) {
		dsn := pgtest.NewDatabase(t)
		checkIdle(t, pgtest.OpenDSN(t, dsn), postgresSize(dsn), postgresVacuum(dsn))
	})
}

func checkIdle(t *testing.T, store credit.Store, size func(context.Context) (storeSize, error), settle func(context.Context) error) {
	t.Helper()
	ctx := context.Background()
	const accounts, days = 2000, 1
	o, err := runIdle(ctx, idleConfig{
		store: store, catalog: catalog.Default(), accounts: accounts, prefix: "idle-test", days: days,
		start: time.Date(2026, 11, 29, 0, 0, 0, 0, time.UTC), size: size, settle: settle,
		say: func(string, ...any) {},
	})
	if err != nil {
		t.Fatalf("runIdle = %v", err)
	}
	if o.seedWrites != 2 {
		t.Errorf("seeding: %d Store.Write calls; want 2 (2,000 accounts, 1,000 a call)", o.seedWrites)
	}
	if c := o.idle.counts(); c != (storeCounts{}) || o.swept != 0 {
		t.Errorf("idle day: %+v reached the store, %d accounts swept; want nothing", c, o.swept)
	}
	if e := o.idle.entries(); e != (journalCounts{}) {
		t.Errorf("idle day: the journal grew by %+v; want nothing", e)
	}
	if z0, z1 := o.idle.before.size, o.idle.after.size; z0.bytes <= 0 || z0.rows <= 0 || z1 != z0 {
		t.Errorf("idle day: %d → %d B on disk, %d → %d B of rows; want the same, above 0", z0.bytes, z1.bytes, z0.rows, z1.rows)
	}
	// 24 hourly sweeps; reads every 6 hours of 200 accounts (a tenth).
	if len(o.sweeps) != 24 || o.reads != 4*200 || o.readWrites != 0 || len(o.readZones) != len(idleZones) {
		t.Errorf("idle day: %d sweeps, %d reads in zones %v, %d writes while reading; want 24 sweeps, 800 reads in all %d zones, no write",
			len(o.sweeps), o.reads, o.readZones, o.readWrites, len(idleZones))
	}
	// The control's day, by hand: its generation (a Store.Write with its
	// free credits and the hold), the completion (another), and the
	// sweeper's expiry of the day's rest at its local midnight (a third);
	// entries: the free grant, the hold, the capture, the expiry.
	if c := o.control.counts(); o.generations != 1 || c.writes != 3 || c.idleBatches != 0 || o.controlSwept != 1 {
		t.Errorf("control day: %d generations, %+v reached the store, swept %d times; want 1 generation, 3 Store.Write calls, none on idle accounts, swept once",
			o.generations, c, o.controlSwept)
	}
	if e := o.control.entries(); e != (journalCounts{total: 4, control: 4}) {
		t.Errorf("control day: the journal grew by %+v; want 4 entries, all the control's", e)
	}
	if disk, rows := o.control.growth(); disk < 0 || rows <= 0 {
		t.Errorf("control day: %d B on disk, %d B of rows; want no less on disk, more rows", disk, rows)
	}
	vs, err := o.run.ledger.Verify(ctx)
	if err != nil || len(vs) > 0 {
		t.Errorf("Verify after = %v, %v; want no violation", vs, err)
	}
	for _, r := range o.rows() {
		if !r.OK {
			t.Errorf("row %s: %s", r.Name, r.Check)
		}
	}
}
