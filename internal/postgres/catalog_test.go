package postgres_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/postgres"
	"github.com/tally-credits/tally/internal/postgres/pgtest"
	"github.com/tally-credits/tally/internal/storetest"
)

// TestCatalogStore runs the CatalogStore conformance tests on two handles on
// one database, as two nodes would open it.
func TestCatalogStore(t *testing.T) {
	pgtest.DSN(t)
	storetest.RunCatalogs(t, func(t *testing.T) (credit.CatalogStore, credit.CatalogStore) {
		dsn := pgtest.NewDatabase(t)
		return pgtest.OpenDSN(t, dsn), pgtest.OpenDSN(t, dsn)
	})
}

// TestWatchCatalogsReconnects kills the watcher's LISTEN connection on the
// server, publishes while it is gone, and requires the watcher to reconnect
// and call fn (so the publish it could not hear is not missed); then a
// publish after the reconnection is heard as usual.
func TestWatchCatalogsReconnects(t *testing.T) {
	defer postgres.SetWatchHeartbeat(200 * time.Millisecond)()
	dsn := pgtest.NewDatabase(t)
	a, b := pgtest.OpenDSN(t, dsn), pgtest.OpenDSN(t, dsn)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var calls atomic.Int64
	go a.WatchCatalogs(ctx, func() { calls.Add(1) })
	waitCatalogCalls(t, &calls, 1, "the first call")

	// The watcher is the only connection with its application_name on this
	// database: terminate it as a failover or an idle-connection killer would.
	terminate := func() int {
		var n int
		err := b.Pool().QueryRow(context.Background(),
			`SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1`,
			postgres.WatcherApplicationName).Scan(&n)
		if err != nil {
			t.Fatalf("terminate the watcher: %v", err)
		}
		return n
	}
	waitForCatalog(t, func() bool { return terminate() == 1 }, "the watcher's connection to terminate")
	if err := b.PublishCatalog(context.Background(), credit.CatalogRecord{Version: "while-down", EffectiveAt: time.Now(), YAML: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	waitCatalogCalls(t, &calls, 2, "a call after reconnecting")

	time.Sleep(300 * time.Millisecond)
	before := calls.Load()
	if err := b.PublishCatalog(context.Background(), credit.CatalogRecord{Version: "after", EffectiveAt: time.Now(), YAML: []byte("x")}); err != nil {
		t.Fatal(err)
	}
	waitCatalogCalls(t, &calls, before+1, "the call after a publish on the new connection")
}

func waitCatalogCalls(t *testing.T, calls *atomic.Int64, n int64, what string) {
	t.Helper()
	waitForCatalog(t, func() bool { return calls.Load() >= n }, what)
}

func waitForCatalog(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
