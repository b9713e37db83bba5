package main

import (
	"encoding/csv"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/httpapi"
)

// The report commands answer finance's two questions from the store's
// daily rollups, as GET /v1/reports/liability and /v1/reports/consumption
// do: how many credits are owed and when they expire, and which balances
// paid for what was charged.
func (m Main) reportCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "report", Short: "Finance reports: credits outstanding and when they expire; credits charged and which balances paid"}
	cmd.AddCommand(m.reportLiabilityCmd(), m.reportConsumptionCmd())
	return cmd
}

// reportFormat is --csv and --json: a report prints as a table, as CSV
// (what the API answers to Accept: text/csv) or as the API's JSON.
type reportFormat struct{ csv, json bool }

func (f *reportFormat) register(cmd *cobra.Command, path string) {
	cmd.Flags().BoolVar(&f.csv, "csv", false, "print the report as CSV, as "+path+" answers Accept: text/csv")
	cmd.Flags().BoolVar(&f.json, "json", false, "print the report as "+path+" does")
}

func (f *reportFormat) check() error {
	if f.csv && f.json {
		return credit.Errorf(credit.Invalid, "invalid_flags", "--csv and --json: give one of them")
	}
	return nil
}

// liabilityCells are the figures of a liability line, in the order of
// liabilityCSV.
func liabilityCells(l httpapi.LiabilityCredits) []string {
	return []string{l.OutstandingCredits.String(), l.ExpiringWithin7DaysCredits.String(), l.ExpiringWithin30DaysCredits.String(),
		l.ExpiringWithin90DaysCredits.String(), l.NeverExpiringCredits.String(), l.PastExpiryCredits.String()}
}

// liabilityCSV is the header row of the liability report's CSV.
var liabilityCSV = []string{"source", "outstanding_credits", "expiring_within_7_days_credits", "expiring_within_30_days_credits",
	"expiring_within_90_days_credits", "never_expiring_credits", "past_expiry_credits"}

func (m Main) reportLiabilityCmd() *cobra.Command {
	var sf storeFlags
	var at string
	var format reportFormat
	cmd := &cobra.Command{
		Use:   "liability [--at DATE]",
		Short: "Credits outstanding by grant source, and how much of them expires within 7, 30 and 90 days",
		Long: "Sums the credits the ledger owes (available and held) by the source of their grants, now or at the start of\n" +
			"--at (a UTC day), and how much of them expires within 7, 30 and 90 days of that day. past expiry is what\n" +
			"grants past their expiry still hold until the sweeper takes it (normally 0).",
		Args: cobra.ExactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := format.check(); err != nil {
				return err
			}
			var t time.Time // zero: now
			if at != "" {
				var err error
				if t, err = timeFlag("--at", at); err != nil {
					return err
				}
				if t.IsZero() {
					return credit.Errorf(credit.Invalid, "invalid_at", "--at %s is before the ledger's first day (leave --at out for now)", at)
				}
			}
			l, s, err := sf.openLedger(cmd.Context(), catalog.Default)
			if err != nil {
				return err
			}
			defer s.Close()
			r, err := l.Liability(cmd.Context(), t)
			if err != nil {
				return err
			}
			out := httpapi.NewLiability(r)
			switch {
			case format.json:
				writeJSON(m.Stdout, out)
				return nil
			case format.csv:
				rows := make([][]string, 0, len(out.BySource)+1)
				for _, s := range out.BySource {
					rows = append(rows, append([]string{string(s.Source)}, liabilityCells(s.LiabilityCredits)...))
				}
				rows = append(rows, append([]string{"total"}, liabilityCells(out.LiabilityCredits)...))
				return writeCSV(m.Stdout, liabilityCSV, rows)
			}
			when := out.At.Format(time.RFC3339) + " (now)"
			if at != "" {
				when = "the start of " + out.At.Format(time.DateOnly) + " (UTC)"
			}
			fmt.Fprintf(m.Stdout, "credits outstanding at %s\n", when)
			tw := tabwriter.NewWriter(m.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "SOURCE\tOUTSTANDING\tEXPIRING IN 7 DAYS\tIN 30 DAYS\tIN 90 DAYS\tNEVER EXPIRING\tPAST EXPIRY")
			for _, s := range out.BySource {
				fmt.Fprintf(tw, "%s\t%s\n", s.Source, strings.Join(liabilityCells(s.LiabilityCredits), "\t"))
			}
			fmt.Fprintf(tw, "total\t%s\n", strings.Join(liabilityCells(out.LiabilityCredits), "\t"))
			tw.Flush()
			return nil
		},
	}
	sf.register(cmd.Flags())
	cmd.Flags().StringVar(&at, "at", "", "a past day, 2026-12-01 (or its midnight UTC in RFC 3339): the report as of its start (default: now)")
	format.register(cmd, "GET /v1/reports/liability")
	return cmd
}

// reportSources are the consumption report's source columns, in order:
// the sources a grant may have, then the overdraft.
func reportSources() []credit.Source {
	return append(append([]credit.Source{}, credit.Sources...), credit.SourceOverdraft)
}

func (m Main) reportConsumptionCmd() *cobra.Command {
	var sf storeFlags
	var from, to, by string
	var format reportFormat
	cmd := &cobra.Command{
		Use:   "consumption --from DATE --to DATE",
		Short: "Credits charged, net of refunds, by model, source or day, and which kind of balance paid them",
		Long: "Sums the charges of the UTC days from --from up to --to (exclusive), net of refunds, grouped by model,\n" +
			"by the source of the grants that paid (free, subscription, topup, promo, …) or by day; each group says\n" +
			"which sources paid how much. charges counts the charges, under the source that paid first.",
		Args: cobra.ExactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := format.check(); err != nil {
				return err
			}
			if from == "" || to == "" {
				return credit.Errorf(credit.Invalid, "invalid_flags", "--from and --to: give both, as dates, e.g. --from 2026-11-01 --to 2026-12-01")
			}
			start, err := timeFlag("--from", from)
			if err != nil {
				return err
			}
			end, err := timeFlag("--to", to)
			if err != nil {
				return err
			}
			l, s, err := sf.openLedger(cmd.Context(), catalog.Default)
			if err != nil {
				return err
			}
			defer s.Close()
			r, err := l.Consumption(cmd.Context(), start, end, credit.ReportGroup(by))
			if err != nil {
				return err
			}
			out := httpapi.NewConsumption(r)
			sources := reportSources()
			switch {
			case format.json:
				writeJSON(m.Stdout, out)
				return nil
			case format.csv:
				header := []string{by, "charged_credits", "charges"}
				for _, s := range sources {
					header = append(header, string(s))
				}
				rows := make([][]string, len(out.Groups))
				for i, g := range out.Groups {
					rows[i] = append([]string{g.Key, g.ChargedCredits.String(), strconv.Itoa(g.Charges)}, sourceCells(sources, g.BySource)...)
				}
				return writeCSV(m.Stdout, header, rows)
			}
			// The table shows the sources that paid anything.
			var paid []credit.Source
			for _, s := range sources {
				if out.BySource[s] != 0 {
					paid = append(paid, s)
				}
			}
			fmt.Fprintf(m.Stdout, "credits charged from %s to %s (exclusive), net of refunds, by %s\n", out.From.Format(time.DateOnly), out.To.Format(time.DateOnly), by)
			tw := tabwriter.NewWriter(m.Stdout, 0, 0, 2, ' ', 0)
			header := []string{strings.ToUpper(by), "CHARGED", "CHARGES"}
			for _, s := range paid {
				header = append(header, strings.ToUpper(string(s)))
			}
			fmt.Fprintln(tw, strings.Join(header, "\t"))
			row := func(key string, charged credit.Credits, charges int, bySource map[credit.Source]credit.Credits) {
				cells := append([]string{key, charged.String(), strconv.Itoa(charges)}, sourceCells(paid, bySource)...)
				fmt.Fprintln(tw, strings.Join(cells, "\t"))
			}
			for _, g := range out.Groups {
				row(g.Key, g.ChargedCredits, g.Charges, g.BySource)
			}
			row("total", out.ChargedCredits, out.Charges, out.BySource)
			tw.Flush()
			return nil
		},
	}
	sf.register(cmd.Flags())
	f := cmd.Flags()
	f.StringVar(&from, "from", "", "the first day, e.g. 2026-11-01 (or its midnight UTC in RFC 3339)")
	f.StringVar(&to, "to", "", "the day after the last, e.g. 2026-12-01; at most 400 days after --from")
	f.StringVar(&by, "group-by", "model", "model, source or day (UTC)")
	format.register(cmd, "GET /v1/reports/consumption")
	return cmd
}

// sourceCells are the credits of each of sources in bySource.
func sourceCells(sources []credit.Source, bySource map[credit.Source]credit.Credits) []string {
	cells := make([]string, len(sources))
	for i, s := range sources {
		cells[i] = bySource[s].String()
	}
	return cells
}

// writeCSV writes a report as the API's CSV answers it: RFC 4180 (CRLF),
// a header row, then the rows. The first column is text (a model id, a
// source, a day), the others numbers: a text cell that a spreadsheet
// would read as a formula (=, +, -, @, tab or CR first) gets a single
// quote before it.
func writeCSV(out io.Writer, header []string, rows [][]string) error {
	w := csv.NewWriter(out)
	w.UseCRLF = true
	if err := w.Write(header); err != nil {
		return err
	}
	for _, row := range rows {
		if row[0] != "" && strings.ContainsRune("=+-@\t\r", rune(row[0][0])) {
			row[0] = "'" + row[0]
		}
		if err := w.Write(row); err != nil {
			return err
		}
	}
	w.Flush()
	return w.Error()
}
