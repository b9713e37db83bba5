package catalog_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/storetest"
)

// memCatalogs is a catalog store in memory: a publish wakes the watcher, as
// the stores' watchers wake on a publish by any node.
type memCatalogs struct {
	mu      sync.Mutex
	records []credit.CatalogRecord
	wake    chan struct{}
}

func newMemCatalogs() *memCatalogs { return &memCatalogs{wake: make(chan struct{}, 1)} }

func (m *memCatalogs) PublishCatalog(_ context.Context, r credit.CatalogRecord) error {
	m.mu.Lock()
	m.records = append(m.records, r)
	m.mu.Unlock()
	select {
	case m.wake <- struct{}{}:
	default:
	}
	return nil
}

func (m *memCatalogs) Catalogs(context.Context) ([]credit.CatalogRecord, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]credit.CatalogRecord(nil), m.records...), nil
}

func (m *memCatalogs) WatchCatalogs(ctx context.Context, fn func()) error {
	fn()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-m.wake:
			fn()
		}
	}
}

// server holds a catalog, as the HTTP server does.
type server struct {
	c atomic.Pointer[credit.Catalog]
}

func (s *server) Catalog() *credit.Catalog     { return s.c.Load() }
func (s *server) SetCatalog(c *credit.Catalog) { s.c.Store(c) }

// logBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// versionYAML is the built-in catalog as version v.
func versionYAML(t *testing.T, v string) []byte {
	t.Helper()
	seed := string(catalog.DefaultYAML())
	out := strings.Replace(seed, `version: "2026-11-24.seed"`, `version: "`+v+`"`, 1)
	if out == seed {
		t.Fatal("the built-in catalog's version line changed: versionYAML no longer applies")
	}
	return []byte(out)
}

// eventually waits, up to 10 s, for cond.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

type followEnv struct {
	ctx    context.Context
	store  *memCatalogs
	srv    *server
	clock  *storetest.Clock
	log    *logBuffer
	follow *catalog.Follower
}

func newFollowEnv(t *testing.T, file string, reload chan os.Signal) *followEnv {
	t.Helper()
	e := &followEnv{ctx: context.Background(), store: newMemCatalogs(), srv: &server{}, clock: &storetest.Clock{}, log: &logBuffer{}}
	e.clock.Set(time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC))
	e.srv.SetCatalog(catalog.Default())
	e.follow = catalog.NewFollower(catalog.FollowerConfig{Store: e.store, Server: e.srv, File: file, Reload: reload,
		Now: e.clock.Now, Every: time.Millisecond, Log: slog.New(slog.NewTextHandler(e.log, nil))})
	return e
}

// run runs the follower until the test ends.
func (e *followEnv) run(t *testing.T) {
	ctx, cancel := context.WithCancel(e.ctx)
	done := make(chan struct{})
	go func() { e.follow.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			t.Error("Run did not return after its context ended")
		}
	})
}

func (e *followEnv) publish(t *testing.T, version string, effective time.Time, yaml []byte) {
	t.Helper()
	if err := e.store.PublishCatalog(e.ctx, credit.CatalogRecord{Version: version, EffectiveAt: effective, PublishedAt: e.clock.Now(), YAML: yaml}); err != nil {
		t.Fatal(err)
	}
}

func (e *followEnv) inUse() string { return e.srv.Catalog().Version }

// TestFollowerSwitches: a publish switches the server to the new version; a
// version published with a future effective time waits, then takes over when
// the clock reaches it; a stored version this build cannot read is logged,
// once, and skipped.
func TestFollowerSwitches(t *testing.T) {
	e := newFollowEnv(t, "", nil)
	if err := e.follow.Sync(e.ctx); err != nil {
		t.Fatal(err)
	}
	if got, want := e.inUse(), catalog.Default().Version; got != want {
		t.Fatalf("with nothing published, in use = %s; want the built-in %s", got, want)
	}
	e.run(t)

	e.publish(t, "v1", e.clock.Now().Add(-time.Hour), versionYAML(t, "v1"))
	eventually(t, "the switch to v1, logged", func() bool {
		return e.inUse() == "v1" && strings.Contains(e.log.String(), `msg="catalog switched" from=2026-11-24.seed to=v1`)
	})

	e.publish(t, "v2", e.clock.Now().Add(time.Hour), versionYAML(t, "v2"))
	if err := e.follow.Sync(e.ctx); err != nil { // v2 read for sure
		t.Fatal(err)
	}
	if got := e.inUse(); got != "v1" {
		t.Errorf("before v2's effective time, in use = %s; want v1", got)
	}
	e.clock.Add(time.Hour)
	eventually(t, "v2 taking over at its effective time", func() bool { return e.inUse() == "v2" })

	e.publish(t, "junk", e.clock.Now().Add(-time.Minute), []byte("version: [broken\n"))
	eventually(t, "the broken version's log line", func() bool {
		return strings.Contains(e.log.String(), `msg="published catalog does not validate; skipped" version=junk`)
	})
	if err := e.follow.Sync(e.ctx); err != nil {
		t.Fatal(err)
	}
	if got := e.inUse(); got != "v2" {
		t.Errorf("after a broken version was stored, in use = %s; want v2", got)
	}
	if n := strings.Count(e.log.String(), "version=junk"); n != 1 {
		t.Errorf("the broken version was logged %d times; want once:\n%s", n, e.log.String())
	}
}

// TestFollowerReloadsFile: each reload reads the file again while nothing
// published is in effect; a file that does not validate is refused and the
// running catalog stays; once a published version is in effect, a reload
// leaves it in use.
func TestFollowerReloadsFile(t *testing.T) {
	file := filepath.Join(t.TempDir(), "catalog.yaml")
	write := func(b []byte) {
		if err := os.WriteFile(file, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	reload := make(chan os.Signal)
	e := newFollowEnv(t, file, reload)
	if err := e.follow.Sync(e.ctx); err != nil {
		t.Fatal(err)
	}
	e.run(t)

	write(versionYAML(t, "file-2"))
	reload <- os.Interrupt
	eventually(t, "the reloaded file in use", func() bool { return e.inUse() == "file-2" })

	write([]byte("version: [broken\n"))
	reload <- os.Interrupt
	eventually(t, "the refusal in the log", func() bool {
		return strings.Contains(e.log.String(), `msg="catalog reload refused; the running catalog stays"`)
	})
	if got := e.inUse(); got != "file-2" {
		t.Errorf("after a broken reload, in use = %s; want file-2", got)
	}

	e.publish(t, "v1", e.clock.Now().Add(-time.Hour), versionYAML(t, "v1"))
	eventually(t, "the switch to v1", func() bool { return e.inUse() == "v1" })
	write(versionYAML(t, "file-3"))
	reload <- os.Interrupt
	eventually(t, "the reload in the log", func() bool {
		return strings.Contains(e.log.String(), "the published catalog in use stays")
	})
	if got := e.inUse(); got != "v1" {
		t.Errorf("after a reload with v1 published, in use = %s; want v1", got)
	}
}
