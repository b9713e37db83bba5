package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/httpapi"
)

func (m Main) catalogImpactCmd() *cobra.Command {
	var sf storeFlags
	var from, to string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "impact FILE|VERSION --from DATE --to DATE",
		Short: "What another catalog would have charged for the generations charged in a window, by model",
		Long: "Re-prices every generation completed with a charge in [--from, --to) with another catalog: a catalog file\n" +
			"(checked as tally catalog validate checks it), or a version published to the ledger. Each generation keeps\n" +
			"its own settings and images delivered. Prints, by model, the credits charged then (before refunds) and\n" +
			"now, the difference, and the generations the other catalog cannot price, with why.",
		Example: `  tally catalog impact prices.yaml --from 2026-11-01 --to 2026-12-01
  tally catalog impact 2026-12-01.prices --from 2026-11-01 --to 2026-12-01 --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if from == "" || to == "" {
				return credit.Errorf(credit.Invalid, "invalid_flags", "--from and --to: give both, e.g. --from 2026-11-01 --to 2026-12-01")
			}
			start, err := timeFlag("--from", from)
			if err != nil {
				return err
			}
			end, err := timeFlag("--to", to)
			if err != nil {
				return err
			}
			var c *credit.Catalog
			file := catalogFile(args[0])
			if file {
				if c, err = catalog.LoadFile(args[0]); err != nil {
					return err
				}
			}
			l, s, err := sf.openLedger(cmd.Context(), catalog.Default)
			if err != nil {
				return err
			}
			defer s.Close()
			if !file {
				if c, err = catalogVersion(cmd.Context(), s, args[0]); err != nil {
					return err
				}
			}
			r, err := l.Impact(cmd.Context(), c, start, end)
			if err != nil {
				return err
			}
			out := httpapi.NewImpact(r)
			if asJSON {
				writeJSON(m.Stdout, out)
				return nil
			}
			fmt.Fprintf(m.Stdout, "catalog %s on the generations charged from %s to %s (exclusive): %d re-priced, %d it cannot price\n",
				out.Version, out.From.Format(time.RFC3339), out.To.Format(time.RFC3339), out.Generations, out.UnpricedGenerations)
			tw := tabwriter.NewWriter(m.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "MODEL\tGENERATIONS\tCHARGED THEN\tNOW\tDIFFERENCE\tUNPRICED\tUNPRICED THEN\tWHY UNPRICED")
			for _, x := range out.Models {
				fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%d\t%s\t%s\n", x.Model, x.Generations, x.ChargedThenCredits, x.ChargedNowCredits, signed(x.DifferenceCredits),
					x.UnpricedGenerations, x.UnpricedThenCredits, reasonsText(x.UnpricedReasons))
			}
			fmt.Fprintf(tw, "total\t%d\t%s\t%s\t%s\t%d\t%s\n", out.Generations, out.ChargedThenCredits, out.ChargedNowCredits, signed(out.DifferenceCredits),
				out.UnpricedGenerations, out.UnpricedThenCredits)
			tw.Flush()
			return nil
		},
	}
	sf.register(cmd.Flags())
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "the window's start, inclusive: a date, e.g. 2026-11-01, or RFC 3339")
	f.StringVar(&to, "to", "", "the window's end, exclusive: a date or RFC 3339, at most 400 days after --from")
	f.BoolVar(&asJSON, "json", false, "print the impact as GET /v1/catalog/impact does")
	return cmd
}

// catalogFile reports whether the argument of catalog impact names a file
// (one that exists, or a name ending in .yaml or .yml) rather than a
// published version.
func catalogFile(arg string) bool {
	if fi, err := os.Stat(arg); err == nil && fi.Mode().IsRegular() {
		return true
	}
	return strings.HasSuffix(arg, ".yaml") || strings.HasSuffix(arg, ".yml")
}

// catalogVersion returns a catalog version of the ledger's: a published
// one, or the built-in catalog's. NotFound unknown_version.
func catalogVersion(ctx context.Context, s credit.Store, version string) (*credit.Catalog, error) {
	var records []credit.CatalogRecord
	if cs, ok := s.(credit.CatalogStore); ok {
		var err error
		if records, err = cs.Catalogs(ctx); err != nil {
			return nil, err
		}
	}
	for _, r := range catalog.Versions(records) {
		if r.Version == version {
			c, err := catalog.Parse(r.YAML)
			if err != nil {
				return nil, credit.Errorf(credit.Invalid, "invalid_catalog", "catalog version %q is published but does not validate with this build", version)
			}
			return c, nil
		}
	}
	return nil, credit.Errorf(credit.NotFound, "unknown_catalog_version", "no catalog file or published catalog version %q", version)
}

// reasonsText lists why generations could not be priced: "unknown_model 3, …".
func reasonsText(reasons map[string]int) string {
	keys := make([]string, 0, len(reasons))
	for k := range reasons {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s %d", k, reasons[k])
	}
	return strings.Join(parts, ", ")
}
