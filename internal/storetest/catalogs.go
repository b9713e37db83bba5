package storetest

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// RunCatalogs runs the conformance tests of credit.CatalogStore. open returns
// two handles on one fresh, empty database (two nodes, or two processes on
// one SQLite file) and arranges for both to be closed.
//
//	func TestCatalogStore(t *testing.T) {
//		storetest.RunCatalogs(t, func(t *testing.T) (credit.CatalogStore, credit.CatalogStore) {
//			path := filepath.Join(t.TempDir(), "tally.db")
//			return MustOpenPath(t, path), MustOpenPath(t, path)
//		})
//	}
func RunCatalogs(t *testing.T, open func(t *testing.T) (a, b credit.CatalogStore)) {
	t.Run("PublishAndList", func(t *testing.T) { catalogsPublishAndList(t, open) })
	t.Run("Duplicate", func(t *testing.T) { catalogsDuplicate(t, open) })
	t.Run("Watch", func(t *testing.T) { catalogsWatch(t, open) })
}

// catalogRecord is a record as a publisher makes it, at whole microseconds
// (the stores' precision).
func catalogRecord(version string, effective, published time.Time) credit.CatalogRecord {
	return credit.CatalogRecord{Version: version, EffectiveAt: effective, PublishedAt: published,
		YAML: []byte("version: \"" + version + "\"\n")}
}

func catalogsPublishAndList(t *testing.T, open func(t *testing.T) (a, b credit.CatalogStore)) {
	ctx := context.Background()
	a, b := open(t)
	if rs, err := a.Catalogs(ctx); err != nil || len(rs) != 0 {
		t.Fatalf("Catalogs() on a new database = %v, %v; want none", rs, err)
	}
	// Published in this order; the version strings and the effective times
	// sort otherwise, and Catalogs must keep the publication order.
	want := []credit.CatalogRecord{
		catalogRecord("b-2", t0.Add(time.Hour), t0),
		catalogRecord("a-1", t0.Add(-time.Hour), t0.Add(time.Minute)),
		catalogRecord("c-3", t0, t0.Add(2*time.Minute)),
	}
	for i, r := range want {
		pub := a
		if i%2 == 1 {
			pub = b
		}
		r.PublishedBy = "cli:publisher"
		if err := pub.PublishCatalog(ctx, r); err != nil {
			t.Fatalf("PublishCatalog(%s) = %v", r.Version, err)
		}
	}
	publishAudited(t, a, "b-2", "a-1", "c-3")
	for _, s := range []credit.CatalogStore{a, b} {
		got, err := s.Catalogs(ctx)
		if err != nil {
			t.Fatalf("Catalogs() = %v", err)
		}
		if len(got) != len(want) {
			t.Fatalf("Catalogs() = %d records; want %d", len(got), len(want))
		}
		for i := range want {
			g, w := got[i], want[i]
			if g.Version != w.Version || !g.EffectiveAt.Equal(w.EffectiveAt) || !g.PublishedAt.Equal(w.PublishedAt) || string(g.YAML) != string(w.YAML) {
				t.Errorf("Catalogs()[%d] = %s effective %v published %v yaml %q; want %s effective %v published %v yaml %q",
					i, g.Version, g.EffectiveAt, g.PublishedAt, g.YAML, w.Version, w.EffectiveAt, w.PublishedAt, w.YAML)
			}
		}
	}
}

// publishAudited checks that each publish left an audit entry, when the
// catalog store is also the ledger's store.
func publishAudited(t *testing.T, s credit.CatalogStore, versions ...string) {
	t.Helper()
	st, ok := s.(credit.Store)
	if !ok {
		return
	}
	var log []credit.AuditEntry
	if err := st.View(context.Background(), func(tx credit.Tx) error {
		var err error
		log, err = tx.AuditLog(0, 100)
		return err
	}); err != nil {
		t.Fatalf("AuditLog = %v", err)
	}
	if len(log) != len(versions) {
		t.Fatalf("audit log has %d entries; want one per publish (%d)", len(log), len(versions))
	}
	for i, v := range versions {
		e := log[len(log)-1-i] // the log is newest first
		if e.Action != credit.AuditCatalogPublish || e.Target != v || e.Actor != "cli:publisher" {
			t.Errorf("audit entry for publish %d = %s %s by %s; want catalog.publish %s by cli:publisher", i, e.Action, e.Target, e.Actor, v)
		}
	}
}

func catalogsDuplicate(t *testing.T, open func(t *testing.T) (a, b credit.CatalogStore)) {
	ctx := context.Background()
	a, b := open(t)
	first := catalogRecord("v1", t0, t0)
	if err := a.PublishCatalog(ctx, first); err != nil {
		t.Fatalf("PublishCatalog(v1) = %v", err)
	}
	again := first
	again.YAML = []byte("version: \"v1\" # changed\n")
	err := b.PublishCatalog(ctx, again)
	if credit.ErrorCode(err) != credit.Conflict || credit.ErrorReason(err) != "catalog_exists" {
		t.Fatalf("PublishCatalog(v1) again = %v (code %q, reason %q); want conflict catalog_exists",
			err, credit.ErrorCode(err), credit.ErrorReason(err))
	}
	got, err := a.Catalogs(ctx)
	if err != nil || len(got) != 1 || string(got[0].YAML) != string(first.YAML) {
		t.Fatalf("after a refused duplicate Catalogs() = %v, %v; want only the first v1", got, err)
	}
	if err := b.PublishCatalog(ctx, catalogRecord("v2", t0, t0)); err != nil {
		t.Fatalf("PublishCatalog(v2) after a refused duplicate = %v", err)
	}
}

// catalogsWatch: a watcher calls fn once when it starts, then within a second
// of a publish through another handle.
func catalogsWatch(t *testing.T, open func(t *testing.T) (a, b credit.CatalogStore)) {
	a, b := open(t)
	ctx, cancel := context.WithCancel(context.Background())
	var calls atomic.Int64
	returned := make(chan error, 1)
	go func() { returned <- a.WatchCatalogs(ctx, func() { calls.Add(1) }) }()
	defer func() {
		cancel()
		select {
		case err := <-returned:
			if err != nil {
				t.Errorf("WatchCatalogs after its context ended = %v; want nil", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("WatchCatalogs did not return within 5 s of its context ending")
		}
	}()
	waitUntil(t, 5*time.Second, func() bool { return calls.Load() >= 1 }, "the watcher's first call")
	// Let the watcher settle (a poller's first tick, a listener's LISTEN),
	// then publish through the other handle.
	time.Sleep(300 * time.Millisecond)
	for i, version := range []string{"w1", "w2"} {
		before := calls.Load()
		published := time.Now()
		if err := b.PublishCatalog(context.Background(), catalogRecord(version, t0, t0)); err != nil {
			t.Fatalf("PublishCatalog(%s) = %v", version, err)
		}
		waitUntil(t, 5*time.Second, func() bool { return calls.Load() > before }, "the watcher's call after publish "+version)
		if took := time.Since(published); took > time.Second {
			t.Errorf("publish %d: the watcher was called %v after the publish; want within 1 s", i+1, took)
		}
	}
}

// waitUntil polls cond every 10 ms and fails the test if it is not true
// within limit.
func waitUntil(t *testing.T, limit time.Duration, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(limit); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", limit, what)
		}
	}
}
