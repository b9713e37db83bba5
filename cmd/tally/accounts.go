package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/httpapi"
)

func (m Main) accountListCmd() *cobra.Command {
	var sf storeFlags
	var prefix, cursor string
	var limit int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list [--prefix P]",
		Short: "Find accounts: those whose id starts with --prefix, by id, a page at a time",
		Long: "Lists the accounts whose id starts with --prefix (byte by byte, case-sensitive), by id, with their kind,\n" +
			"program and balances as last written (tally account show ID settles what is due first).",
		Args: cobra.ExactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, s, err := sf.openLedger(cmd.Context(), catalog.Default)
			if err != nil {
				return err
			}
			defer s.Close()
			page, err := l.Accounts(cmd.Context(), prefix, cursor, limit)
			if err != nil {
				return err
			}
			out := httpapi.AccountList{Accounts: make([]httpapi.AccountSummary, len(page.Accounts)), NextCursor: page.Next}
			for i, a := range page.Accounts {
				out.Accounts[i] = httpapi.NewAccountSummary(a)
			}
			if asJSON {
				writeJSON(m.Stdout, out)
				return nil
			}
			tw := tabwriter.NewWriter(m.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tKIND\tPROGRAM\tAVAILABLE\tHELD\tCREATED")
			for _, a := range out.Accounts {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", a.ID, a.Kind, orDash(a.Plan), a.AvailableCredits, a.HeldCredits, a.CreatedAt.Format(time.RFC3339))
			}
			tw.Flush()
			if out.NextCursor != "" {
				fmt.Fprintf(m.Stdout, "more: --cursor %s\n", out.NextCursor)
			}
			return nil
		},
	}
	sf.register(cmd.Flags())
	f := cmd.Flags()
	f.StringVar(&prefix, "prefix", "", "only accounts whose id starts with this (case-sensitive; default: every account)")
	f.StringVar(&cursor, "cursor", "", "the next page: the cursor the previous page printed")
	f.IntVar(&limit, "limit", 50, "accounts per page (1 to 500)")
	f.BoolVar(&asJSON, "json", false, "print the page as GET /v1/accounts does")
	return cmd
}
