package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/httpapi"
)

// timeLayout is how the CLI prints catalog times.
const timeLayout = time.RFC3339

func (m Main) catalogPublishCmd() *cobra.Command {
	var sf storeFlags
	var dryRun, force bool
	cmd := &cobra.Command{
		Use:   "publish FILE",
		Short: "Validate a catalog file and publish it to the database: every node switches to it within a second",
		Long: "Validates the whole file (every mistake is listed and nothing is written), refuses a version already\n" +
			"published (or the built-in catalog's), and stores it. Every `tally serve` on the database prices with\n" +
			"it within a second of its effective_at (at once if that has passed). Every charge records the version\n" +
			"it was priced with.\n\n" +
			"A catalog effective earlier than the one in use (or than one scheduled to take over later) is refused\n" +
			"without --force: the newest publish in effect wins, so it would roll every price back at once.\n" +
			"--dry-run runs every check and prints what would change against the catalog in use, writing nothing.",
		Example: `  tally catalog publish prices.yaml --dry-run --db tally.db
  tally catalog publish prices.yaml --db tally.db`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			data, err := os.ReadFile(args[0])
			if err != nil {
				return credit.Errorf(credit.Invalid, "invalid_catalog", "catalog: cannot read %s: %v", args[0], unwrapPathError(err))
			}
			c, err := catalog.Parse(data)
			if err != nil {
				return err
			}
			cs, closeStore, err := sf.openCatalogs(ctx)
			if err != nil {
				return err
			}
			defer closeStore()
			records, err := cs.Catalogs(ctx)
			if err != nil {
				return err
			}
			now := time.Now()
			good := parsable(records)
			if err := catalog.CheckPublish(good, c, now, force); err != nil {
				return err
			}
			if dryRun {
				cur := catalog.Current(good, now)
				old, err := catalog.Parse(cur.YAML)
				if err != nil {
					return err
				}
				changes := catalog.Diff(old, c)
				fmt.Fprintf(m.Stdout, "dry run: %s is valid and may be published (effective %s); nothing was written\n", c.Version, c.EffectiveAt.Format(timeLayout))
				fmt.Fprintf(m.Stdout, "catalog %s (in use) → %s: %d change(s)\n", old.Version, c.Version, len(changes))
				for _, ch := range changes {
					fmt.Fprintf(m.Stdout, "  %s\n", ch)
				}
				return nil
			}
			err = cs.PublishCatalog(ctx, credit.CatalogRecord{Version: c.Version, EffectiveAt: c.EffectiveAt, PublishedAt: now, YAML: data, PublishedBy: credit.ActorOf(ctx)})
			if err != nil {
				return err
			}
			if c.EffectiveAt.After(now) {
				fmt.Fprintf(m.Stdout, "published %s (effective %s, in %s); nodes switch to it then, within a second\n",
					c.Version, c.EffectiveAt.Format(timeLayout), c.EffectiveAt.Sub(now).Round(time.Second))
				return nil
			}
			fmt.Fprintf(m.Stdout, "published %s (effective %s); nodes switch within a second\n", c.Version, c.EffectiveAt.Format(timeLayout))
			return nil
		},
	}
	sf.register(cmd.Flags())
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "check the file and print the changes against the catalog in use; write nothing")
	cmd.Flags().BoolVar(&force, "force", false, "publish a catalog effective earlier than the one in use (rolls prices back)")
	return cmd
}

func (m Main) catalogHistoryCmd() *cobra.Command {
	var sf storeFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "history",
		Short: "List the catalog versions (the built-in one and every published one), marking the one in use",
		Args:  cobra.ExactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			cs, closeStore, err := sf.openCatalogs(ctx)
			if err != nil {
				return err
			}
			defer closeStore()
			records, err := cs.Catalogs(ctx)
			if err != nil {
				return err
			}
			// The version a node without a --catalog file prices with now.
			inUse := catalog.Current(parsable(records), time.Now())
			out := httpapi.NewCatalogVersions(inUse.Version, records)
			if asJSON {
				writeJSON(m.Stdout, out)
				return nil
			}
			tw := tabwriter.NewWriter(m.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "\tVERSION\tEFFECTIVE\tPUBLISHED")
			for _, v := range out.Versions {
				mark, published := "", "built in"
				if v.Version == inUse.Version {
					mark = "*"
				}
				if v.PublishedAt != nil {
					published = v.PublishedAt.Format(timeLayout)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", mark, v.Version, v.EffectiveAt.Format(timeLayout), published)
			}
			tw.Flush()
			if len(records) == 0 {
				fmt.Fprintln(m.Stdout, "no catalog published yet")
			}
			fmt.Fprintln(m.Stdout, "* in use (a node started with --catalog FILE uses that file while no published version is in effect)")
			return nil
		},
	}
	sf.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the versions as GET /v1/catalog/versions does")
	return cmd
}

// openCatalogs opens the store for its published catalogs.
func (f *storeFlags) openCatalogs(ctx context.Context) (credit.CatalogStore, func(), error) {
	s, err := f.open(ctx)
	if err != nil {
		return nil, nil, err
	}
	cs, ok := s.(credit.CatalogStore)
	if !ok {
		s.Close()
		return nil, nil, credit.Errorf(credit.Invalid, "no_catalog_store", "the store %s does not keep catalogs", f.name())
	}
	return cs, func() { s.Close() }, nil
}

// parsable returns the records whose YAML this build still accepts.
func parsable(records []credit.CatalogRecord) []credit.CatalogRecord {
	var out []credit.CatalogRecord
	for _, r := range records {
		if _, err := catalog.Parse(r.YAML); err == nil {
			out = append(out, r)
		}
	}
	return out
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// catalogFollower keeps a server on the catalog in use in the database: the
// newest published version in effect (catalog.InUse). It re-reads the
// versions when the store's watcher calls (a publish, on any node; a
// reconnection) and re-evaluates every second, so a version published with a
// future effective_at takes over when its time comes. While the database has
// no version in effect, the server keeps the catalog it has (--catalog FILE,
// reloaded on SIGHUP, or the built-in one).
type catalogFollower struct {
	store credit.CatalogStore
	srv   *httpapi.Server
	log   *slog.Logger

	mu      sync.Mutex
	records []credit.CatalogRecord     // the versions that parse, oldest published first
	parsed  map[string]*credit.Catalog // by version
	refused map[string]bool            // versions that do not parse, logged once
	stale   bool                       // the last read failed: read again at the next tick
}

// followCatalogs switches srv to the catalog in use in the database now, then
// follows it until the returned stop is called. A stored catalog that no
// longer parses is logged and skipped, never used and never fatal.
func followCatalogs(ctx context.Context, store credit.CatalogStore, srv *httpapi.Server, log *slog.Logger) (stop func(), err error) {
	f := &catalogFollower{store: store, srv: srv, log: log, parsed: map[string]*credit.Catalog{}, refused: map[string]bool{}}
	if err := f.reload(ctx); err != nil {
		return nil, err
	}
	f.apply(time.Now())

	ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	wake := make(chan struct{}, 1)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		_ = store.WatchCatalogs(ctx, func() {
			select {
			case wake <- struct{}{}:
			default: // a reload is already due
			}
		})
	}()
	go func() {
		defer wg.Done()
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-wake:
				f.reloadOrMark(ctx)
			case <-tick.C:
				if f.isStale() {
					f.reloadOrMark(ctx)
				}
			}
			f.apply(time.Now())
		}
	}()
	return func() { cancel(); wg.Wait() }, nil
}

// reload reads every published version and parses the new ones.
func (f *catalogFollower) reload(ctx context.Context) error {
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
			c, err := catalog.Parse(r.YAML)
			if err != nil {
				f.refused[r.Version] = true
				f.log.Error("published catalog does not validate; skipped", "version", r.Version, "err", oneLine(err.Error()))
				continue
			}
			f.parsed[r.Version] = c
		}
		good = append(good, r)
	}
	f.records, f.stale = good, false
	return nil
}

func (f *catalogFollower) reloadOrMark(ctx context.Context) {
	if err := f.reload(ctx); err != nil && ctx.Err() == nil {
		f.log.Warn("cannot read the published catalogs; retrying every second", "running", f.srv.Catalog().Version, "err", err)
		f.mu.Lock()
		f.stale = true
		f.mu.Unlock()
	}
}

func (f *catalogFollower) isStale() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.stale
}

// apply switches the server to the version in use at now, if it is not on it.
func (f *catalogFollower) apply(now time.Time) {
	f.mu.Lock()
	r, ok := catalog.InUse(f.records, now)
	c := f.parsed[r.Version]
	f.mu.Unlock()
	if !ok {
		return
	}
	if old := f.srv.Catalog(); old == nil || old.Version != c.Version {
		f.srv.SetCatalog(c)
		from := ""
		if old != nil {
			from = old.Version
		}
		f.log.Info("catalog switched", "from", from, "to", c.Version, "effective", c.EffectiveAt.Format(timeLayout))
	}
}
