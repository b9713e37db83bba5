package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/httpapi"
)

func (m Main) accountUsageCmd() *cobra.Command {
	var sf storeFlags
	var from, to, by string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "usage ID",
		Short: "Show where an account's credits went: charges by model, kind, day or team member, net of refunds",
		Long: "Sums what the account was charged in [--from, --to), net of refunds, with the list price of the same\n" +
			"(generations in an unlimited window are charged 0 but keep their price). Default: the last 30 days.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var start, end time.Time
			var err error
			if to != "" {
				if end, err = timeFlag("--to", to); err != nil {
					return err
				}
			}
			if from != "" {
				if start, err = timeFlag("--from", from); err != nil {
					return err
				}
			}
			l, s, err := sf.openLedger(cmd.Context(), catalog.Default)
			if err != nil {
				return err
			}
			defer s.Close()
			if to == "" {
				// The next whole second, as the API: what happened now is in.
				end = l.Now().Truncate(time.Second).Add(time.Second)
			}
			if from == "" {
				start = end.Add(-httpapi.UsageWindow)
			}
			groups, err := l.Usage(cmd.Context(), args[0], start, end, credit.GroupBy(by))
			if err != nil {
				return err
			}
			out := httpapi.Usage{Account: args[0], From: start.UTC(), To: end.UTC(), GroupBy: by, Groups: make([]httpapi.UsageGroup, len(groups))}
			var total httpapi.UsageGroup
			for i, g := range groups {
				out.Groups[i] = httpapi.UsageGroup{Key: g.Key, ChargedCredits: g.Charged, ListCredits: g.List, Count: g.Count}
				total.ChargedCredits += g.Charged
				total.ListCredits += g.List
				total.Count += g.Count
			}
			if asJSON {
				writeJSON(m.Stdout, out)
				return nil
			}
			fmt.Fprintf(m.Stdout, "account %s, %s to %s, by %s\n", out.Account, out.From.Format(time.RFC3339), out.To.Format(time.RFC3339), by)
			tw := tabwriter.NewWriter(m.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintf(tw, "%s\tCHARGED\tLIST\tCHARGES\n", strings.ToUpper(by))
			for _, g := range out.Groups {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", g.Key, g.ChargedCredits, g.ListCredits, g.Count)
			}
			fmt.Fprintf(tw, "total\t%s\t%s\t%d\n", total.ChargedCredits, total.ListCredits, total.Count)
			tw.Flush()
			return nil
		},
	}
	sf.register(cmd.Flags())
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "start, inclusive: a date (2026-12-01, its midnight UTC) or RFC 3339 (default: 30 days before --to)")
	f.StringVar(&to, "to", "", "end, exclusive: a date or RFC 3339, at most 400 days after --from (default: now)")
	f.StringVar(&by, "group-by", "model", "model, kind, day (UTC) or member (a team's members)")
	f.BoolVar(&asJSON, "json", false, "print the usage as GET /v1/accounts/{id}/usage does")
	return cmd
}
