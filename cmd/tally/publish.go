package main

import (
	"context"
	"fmt"
	"os"
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
			good := catalog.Parsable(records)
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
			inUse := catalog.Current(catalog.Parsable(records), time.Now())
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

func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}
