package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/httpapi"
)

// The generation commands are support's view of one press of Create: what
// was held, delivered, charged and refunded; and the corrections a person
// makes (complete or fail one the studio left open, refund a charge). They
// work on the store directly, under the catalog tally serve would apply.
func (m Main) generationCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "generation", Short: "Show a generation; complete, fail or refund it"}
	cmd.AddCommand(m.generationShowCmd(), m.generationCompleteCmd(), m.generationFailCmd(), m.generationRefundCmd())
	return cmd
}

func (m Main) generationShowCmd() *cobra.Command {
	var lf ledgerFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show a generation: its settings, what was held, delivered, charged and refunded",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, _, closeStore, err := lf.ledger(cmd.Context())
			if err != nil {
				return err
			}
			defer closeStore()
			g, err := l.Generation(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				writeJSON(m.Stdout, httpapi.NewGeneration(g))
				return nil
			}
			printGeneration(m.Stdout, g)
			return nil
		},
	}
	lf.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the generation as GET /v1/generations/{id} does")
	return cmd
}

func (m Main) generationCompleteCmd() *cobra.Command {
	var lf ledgerFlags
	var images int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "complete ID --images N",
		Short: "Charge the images delivered (N × the price per image) and return the rest of the hold",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("images") {
				return credit.Errorf(credit.Invalid, "invalid_flags", "--images: give the images delivered, 0 to the images held for")
			}
			l, _, closeStore, err := lf.ledger(cmd.Context())
			if err != nil {
				return err
			}
			defer closeStore()
			g, err := l.CompleteGeneration(cmd.Context(), nil, args[0], images)
			if err != nil {
				return err
			}
			if asJSON {
				writeJSON(m.Stdout, httpapi.NewGeneration(g))
				return nil
			}
			fmt.Fprintf(m.Stdout, "generation %s of %s completed: %d of %d images delivered, %s credits charged, %s returned\n",
				g.ID, g.Account, g.ImagesDelivered, g.Images, g.Charged, g.HoldCredits-g.Charged)
			return nil
		},
	}
	lf.register(cmd.Flags())
	cmd.Flags().IntVar(&images, "images", 0, "images delivered: 0 to the images held for")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the generation as POST /v1/generations/{id}/complete answers it")
	return cmd
}

func (m Main) generationFailCmd() *cobra.Command {
	var lf ledgerFlags
	var rf reasonFlag
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "fail ID",
		Short: "Return a generation's whole hold: nothing is charged (audited with --reason)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx, err := rf.context(cmd.Context())
			if err != nil {
				return err
			}
			l, _, closeStore, err := lf.ledger(ctx)
			if err != nil {
				return err
			}
			defer closeStore()
			g, err := l.FailGeneration(ctx, nil, args[0])
			if err != nil {
				return err
			}
			if asJSON {
				writeJSON(m.Stdout, httpapi.NewGeneration(g))
				return nil
			}
			fmt.Fprintf(m.Stdout, "generation %s of %s failed: nothing charged, %s credits returned\n", g.ID, g.Account, g.HoldCredits)
			return nil
		},
	}
	lf.register(cmd.Flags())
	rf.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the generation as POST /v1/generations/{id}/fail answers it")
	return cmd
}

func (m Main) generationRefundCmd() *cobra.Command {
	var lf ledgerFlags
	var rf reasonFlag
	var credits string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "refund ID [--credits X]",
		Short: "Give back all or part of a generation's charge, to the grants that paid it (audited with --reason)",
		Long: "Gives back --credits of the charge, or all that is left to refund without it, to the grants the charge came from,\n" +
			"the last consumed first. The share of a grant that has expired since comes back as a new refund grant that never expires.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var amount *credit.Credits
			if cmd.Flags().Changed("credits") {
				c, err := credit.ParseCredits(credits)
				if err != nil {
					return err
				}
				amount = &c
			}
			ctx, err := rf.context(cmd.Context())
			if err != nil {
				return err
			}
			l, _, closeStore, err := lf.ledger(ctx)
			if err != nil {
				return err
			}
			defer closeStore()
			g, err := l.RefundGeneration(ctx, nil, args[0], amount)
			if err != nil {
				return err
			}
			if asJSON {
				writeJSON(m.Stdout, httpapi.NewGeneration(g))
				return nil
			}
			if amount != nil {
				fmt.Fprintf(m.Stdout, "refunded %s credits of generation %s to %s (%s of its %s charged credits refunded in all)\n", *amount, g.ID, g.Account, g.Refunded, g.Charged)
			} else {
				fmt.Fprintf(m.Stdout, "refunded the rest of generation %s's charge to %s (%s of its %s charged credits refunded in all)\n", g.ID, g.Account, g.Refunded, g.Charged)
			}
			return nil
		},
	}
	lf.register(cmd.Flags())
	rf.register(cmd.Flags())
	cmd.Flags().StringVar(&credits, "credits", "", "how much to give back, more than 0 (default: all that is left to refund)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the generation as POST /v1/generations/{id}/refund answers it")
	return cmd
}

// printGeneration writes a generation as support reads it.
func printGeneration(w io.Writer, g credit.Generation) {
	fmt.Fprintf(w, "generation %s of %s\n", g.ID, g.Account)
	fmt.Fprintf(w, "  status    %s\n", g.Status)
	fmt.Fprintf(w, "  model     %s (%s), catalog %s\n", g.Model, g.Kind, g.CatalogVersion)
	fmt.Fprintf(w, "  images    %d of %d delivered\n", g.ImagesDelivered, g.Images)
	fmt.Fprintf(w, "  held      %s credits (hold %s)\n", g.HoldCredits, g.Hold)
	fmt.Fprintf(w, "  charged   %s credits\n", g.Charged)
	fmt.Fprintf(w, "  refunded  %s credits\n", g.Refunded)
	if g.Window != "" {
		fmt.Fprintf(w, "  unlimited %s lane, list price %s credits\n", g.Lane, g.ListCredits)
	}
	if g.Member != "" {
		fmt.Fprintf(w, "  member    %s\n", g.Member)
	}
	fmt.Fprintf(w, "  created   %s\n", g.CreatedAt.UTC().Format(time.RFC3339))
	if g.ResolvedAt.IsZero() {
		fmt.Fprintf(w, "  expires   %s (its hold returns then unless it is completed or failed)\n", g.ExpiresAt.UTC().Format(time.RFC3339))
	} else {
		fmt.Fprintf(w, "  resolved  %s\n", g.ResolvedAt.UTC().Format(time.RFC3339))
	}
}

func (m Main) accountGenerationsCmd() *cobra.Command {
	var lf ledgerFlags
	var f credit.GenerationFilter
	var status string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "generations ID",
		Short: "List an account's generations, newest first, with what each held, charged and refunded",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f.Status = credit.GenerationStatus(status)
			l, c, closeStore, err := lf.ledger(cmd.Context())
			if err != nil {
				return err
			}
			defer closeStore()
			// A display name finds its model's id, as over the API; a model
			// no longer in the catalog is found by its id.
			if m, err := c.Model(f.Model); f.Model != "" && err == nil {
				f.Model = m.ID
			}
			page, err := l.Generations(cmd.Context(), args[0], f)
			if err != nil {
				return err
			}
			if asJSON {
				out := httpapi.Generations{Account: args[0], Generations: make([]httpapi.Generation, len(page.Generations)), NextCursor: page.Next}
				for i, g := range page.Generations {
					out.Generations[i] = *httpapi.NewGeneration(g)
				}
				writeJSON(m.Stdout, out)
				return nil
			}
			tw := tabwriter.NewWriter(m.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "GENERATION\tCREATED\tSTATUS\tMODEL\tIMAGES\tHELD\tCHARGED\tREFUNDED\tMEMBER")
			for _, g := range page.Generations {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d/%d\t%s\t%s\t%s\t%s\n", g.ID, g.CreatedAt.UTC().Format(time.RFC3339), g.Status, g.Model,
					g.ImagesDelivered, g.Images, g.HoldCredits, g.Charged, g.Refunded, g.Member)
			}
			tw.Flush()
			if page.Next != "" {
				fmt.Fprintf(m.Stdout, "more: --cursor %s\n", page.Next)
			}
			return nil
		},
	}
	lf.register(cmd.Flags())
	fl := cmd.Flags()
	fl.StringVar(&status, "status", "", "only generations held, completed, failed or expired (default: any)")
	fl.StringVar(&f.Model, "model", "", "only this model's generations: its id or display name (default: any)")
	fl.StringVar(&f.Member, "member", "", "only this team member's generations (default: any)")
	fl.IntVar(&f.Limit, "limit", 50, "generations per page (1 to 1000)")
	fl.StringVar(&f.Before, "cursor", "", "the next page: the cursor the previous page printed")
	fl.BoolVar(&asJSON, "json", false, "print the page as GET /v1/accounts/{id}/generations does")
	return cmd
}
