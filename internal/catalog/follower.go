package catalog

import (
	"context"
	"log/slog"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// Server is what a Follower keeps on the catalog in use: the HTTP server,
// which prices every request with the catalog it holds at its start.
type Server interface {
	Catalog() *credit.Catalog
	SetCatalog(c *credit.Catalog)
}

// FollowerConfig is everything a Follower needs. Zero fields take defaults.
type FollowerConfig struct {
	// Store holds the published versions; nil: there are none, and only
	// File is followed.
	Store credit.CatalogStore
	// Server is switched to the catalog in use.
	Server Server
	// File is the catalog file the server started with ("" for the
	// built-in catalog); each value from Reload reads it again.
	File string
	// Reload asks for File to be read again (serve passes the channel
	// signal.Notify fills on SIGHUP); nil: never.
	Reload <-chan os.Signal
	// Now is the clock a version's effective time is compared with
	// (default time.Now); tests move it.
	Now func() time.Time
	// Every is how often the follower looks whether a scheduled version's
	// time has come, and retries a failed read (default one second).
	Every time.Duration
	// Log receives a line for each switch, reload and refusal (default:
	// nothing is logged).
	Log *slog.Logger
}

// Follower keeps a server on the catalog in use in the database: the newest
// published version in effect (InUse). It re-reads the versions when the
// store's watcher calls (a publish, on any node; a reconnection) and
// re-evaluates every second, so a version published with a future
// effective_at takes over when its time comes. A stored version that this
// build cannot read is logged once and skipped, never used and never fatal.
// While the database has no version in effect, the server keeps the catalog
// it started with: File, read again on each Reload, or the built-in one.
type Follower struct {
	store  credit.CatalogStore
	srv    Server
	file   string
	reload <-chan os.Signal
	now    func() time.Time
	every  time.Duration
	log    *slog.Logger

	mu      sync.Mutex
	records []credit.CatalogRecord     // the versions that parse, oldest published first
	parsed  map[string]*credit.Catalog // by version
	refused map[string]bool            // versions that do not parse, logged once
	stale   bool                       // the last read failed: read again at the next tick
}

// NewFollower returns a follower as cfg describes; Sync and Run start it.
func NewFollower(cfg FollowerConfig) *Follower {
	f := &Follower{store: cfg.Store, srv: cfg.Server, file: cfg.File, reload: cfg.Reload, now: cfg.Now, every: cfg.Every, log: cfg.Log,
		parsed: map[string]*credit.Catalog{}, refused: map[string]bool{}}
	if f.now == nil {
		f.now = time.Now
	}
	if f.every <= 0 {
		f.every = time.Second
	}
	if f.log == nil {
		f.log = slog.New(slog.DiscardHandler)
	}
	return f
}

// Sync reads the published versions and switches the server to the one in
// use now. Serve calls it before serving, so that the first request is
// priced with the database's catalog; a store that cannot be read is an
// error here, and only retried once Run follows.
func (f *Follower) Sync(ctx context.Context) error {
	if f.store != nil {
		if err := f.read(ctx); err != nil {
			return err
		}
	}
	f.apply()
	return nil
}

// Run follows the published versions, and File on each Reload, until ctx
// ends.
func (f *Follower) Run(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	wake := make(chan struct{}, 1)
	if f.store != nil {
		wg.Go(func() {
			_ = f.store.WatchCatalogs(ctx, func() {
				select {
				case wake <- struct{}{}:
				default: // a read is already due
				}
			})
		})
	}
	tick := time.NewTicker(f.every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
			f.readOrMark(ctx)
		case <-tick.C:
			if f.isStale() {
				f.readOrMark(ctx)
			}
		case <-f.reload:
			f.reloadFile()
		}
		f.apply()
	}
}

// read reads every published version and parses the new ones.
func (f *Follower) read(ctx context.Context) error {
	records, err := f.store.Catalogs(ctx)
	if err != nil {
		return err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	good := records[:0]
	for _, r := range records {
		if f.refused[r.Version] {
			continue
		}
		if _, ok := f.parsed[r.Version]; !ok {
			c, err := Parse(r.YAML)
			if err != nil {
				f.refused[r.Version] = true
				f.log.Error("published catalog does not validate; skipped", "version", r.Version, "err", strings.ReplaceAll(err.Error(), "\n", "; "))
				continue
			}
			f.parsed[r.Version] = c
		}
		good = append(good, r)
	}
	f.records, f.stale = good, false
	return nil
}

func (f *Follower) readOrMark(ctx context.Context) {
	if err := f.read(ctx); err != nil && ctx.Err() == nil {
		f.log.Warn("cannot read the published catalogs; retrying every second", "running", f.srv.Catalog().Version, "err", err)
		f.mu.Lock()
		f.stale = true
		f.mu.Unlock()
	}
}

func (f *Follower) isStale() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stale
}

// inUse returns the published version in use now, if one is in effect.
func (f *Follower) inUse() (*credit.Catalog, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := InUse(f.records, f.now())
	return f.parsed[r.Version], ok
}

// apply switches the server to the version in use now, if it is not on it.
func (f *Follower) apply() {
	c, ok := f.inUse()
	if !ok {
		return
	}
	if old := f.srv.Catalog(); old == nil || old.Version != c.Version {
		f.srv.SetCatalog(c)
		from := ""
		if old != nil {
			from = old.Version
		}
		f.log.Info("catalog switched", "from", from, "to", c.Version, "effective", c.EffectiveAt.Format(time.RFC3339))
	}
}

// reloadFile reads File again. A file that does not validate is refused
// whole, with every mistake logged, and the running catalog stays. A
// published version in effect outranks the file, so then the file is only
// checked: switching to it would last until the next tick.
func (f *Follower) reloadFile() {
	if f.file == "" {
		return
	}
	c, err := LoadFile(f.file)
	if err != nil {
		f.log.Error("catalog reload refused; the running catalog stays", "file", f.file, "running", f.srv.Catalog().Version, "err", err.Error())
		return
	}
	if p, ok := f.inUse(); ok {
		f.log.Info("catalog file reloaded; the published catalog in use stays", "file", f.file, "version", c.Version, "running", p.Version)
		return
	}
	old := f.srv.Catalog().Version
	f.srv.SetCatalog(c)
	f.log.Info("catalog reloaded", "file", f.file, "from", old, "to", c.Version)
}
