package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/httpapi"
)

func (m Main) catalogCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "catalog",
		Short: "Validate, show, compare and publish price catalogs; what a new one would have charged",
	}
	cmd.AddCommand(m.catalogValidateCmd(), m.catalogShowCmd(), m.catalogDiffCmd(), m.catalogPublishCmd(), m.catalogHistoryCmd(), m.catalogImpactCmd())
	return cmd
}

func (m Main) catalogValidateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "validate FILE",
		Short: "Check a catalog file and list every mistake with its line",
		Args:  cobra.ExactArgs(1),
		RunE: func(_ *cobra.Command, args []string) error {
			c, err := catalog.LoadFile(args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(m.Stdout, "%s: valid catalog %s (effective %s), %d models\n",
				args[0], c.Version, c.EffectiveAt.Format("2006-01-02T15:04:05Z07:00"), len(c.Models))
			return nil
		},
	}
}

func (m Main) catalogShowCmd() *cobra.Command {
	var prices priceFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show",
		Short: "Print the catalog in use as the studio page's tables, and its plans",
		Long: "Prints the catalog tally serve would price with: the one in use in the ledger (--db, $TALLY_DB, or\n" +
			"./tally.db if it exists), else the --catalog file, else the built-in catalog.",
		Args: cobra.ExactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := prices.load(cmd.Context())
			if err != nil {
				return err
			}
			if asJSON {
				writeJSON(m.Stdout, httpapi.NewCatalog(c))
				return nil
			}
			printTables(m.Stdout, c)
			return nil
		},
	}
	prices.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the catalog as GET /v1/catalog does")
	return cmd
}

func (m Main) catalogDiffCmd() *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "diff OLD NEW",
		Short: "List what changed between two catalog files: prices up and down, models, aspect ratios, resolutions",
		Args:  cobra.ExactArgs(2),
		RunE: func(_ *cobra.Command, args []string) error {
			old, err := catalog.LoadFile(args[0])
			if err != nil {
				return err
			}
			new, err := catalog.LoadFile(args[1])
			if err != nil {
				return err
			}
			changes := catalog.Diff(old, new)
			if asJSON {
				if changes == nil {
					changes = []catalog.Change{}
				}
				writeJSON(m.Stdout, struct {
					Old     string           `json:"old_version"`
					New     string           `json:"new_version"`
					Changes []catalog.Change `json:"changes"`
				}{old.Version, new.Version, changes})
				return nil
			}
			fmt.Fprintf(m.Stdout, "catalog %s → %s: %d change(s)\n", old.Version, new.Version, len(changes))
			for _, ch := range changes {
				fmt.Fprintf(m.Stdout, "  %s\n", ch)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the changes as JSON")
	return cmd
}

// printTables writes the four tables of the studio page from the catalog,
// then its plans.
func printTables(w io.Writer, c *credit.Catalog) {
	fmt.Fprintf(w, "Catalog %s, effective %s\n", c.Version, c.EffectiveAt.Format("2006-01-02 15:04 MST"))
	section := func(title string, header string, kinds ...credit.Kind) *tabwriter.Writer {
		fmt.Fprintf(w, "\n%s\n\n", title)
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, header)
		return tw
	}
	of := func(k credit.Kind) []*credit.Model {
		var out []*credit.Model
		for _, m := range c.Models {
			if m.Kind == k {
				out = append(out, m)
			}
		}
		return out
	}
	aspects := func(m *credit.Model) string { return strings.Join(m.AspectTexts(), ", ") }

	// A model's tags follow its name in brackets: "Nano Banana Pro [pro]".
	name := func(m *credit.Model) string {
		if len(m.Tags) == 0 {
			return m.Name
		}
		return m.Name + " [" + strings.Join(m.Tags, ", ") + "]"
	}

	tw := section("Create / Edit Image (base cost per 1 image)", "Model\tCredits (per image)\tResolution\tSupported aspect ratios")
	for _, m := range of(credit.KindImage) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", name(m), catalog.PriceText(m), m.CapText(), aspects(m))
	}
	tw.Flush()
	tw = section("Personalise Image", "Mode\tCredits (per image)\tSupported aspect ratios")
	for _, m := range of(credit.KindPersonalize) {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", name(m), catalog.PriceText(m), aspects(m))
	}
	tw.Flush()
	tw = section("Style Reference", "Feature\tCredits (per image)\tSupported aspect ratios")
	for _, m := range of(credit.KindStyleReference) {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", name(m), catalog.PriceText(m), aspects(m))
	}
	tw.Flush()
	tw = section("Upscale Image", "Model\tBase Cost\tSupported scales\tCredits")
	for _, m := range of(credit.KindUpscale) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", name(m), catalog.PriceText(m), catalog.ScalesText(m), strings.Join(catalog.ScaleCredits(m), "; "))
	}
	tw.Flush()
	if len(c.Plans) == 0 {
		return
	}
	tw = section("Plans", "Plan\tName\tKind\tModels\tTop-ups\tAllowances\tUnlimited")
	for _, p := range c.Plans {
		kind := "subscription"
		if p.Program {
			kind = "program"
		}
		models := catalog.EligibilityText(p.Models)
		if models == "" {
			models = "all"
		}
		topups := "no"
		if p.Topups {
			topups = "yes"
		}
		var allowances, windows []string
		for _, a := range p.Allowances {
			allowances = append(allowances, catalog.AllowanceText(a))
		}
		for _, w := range p.Unlimited {
			windows = append(windows, catalog.WindowText(w))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.ID, p.Name, kind, models, topups, orDash(strings.Join(allowances, "; ")), orDash(strings.Join(windows, "; ")))
	}
	tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
