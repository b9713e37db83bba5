package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/httpapi"
)

// auditJSON is what `tally account audit --json` prints: the page of
// GET /v1/accounts/{id}/audit, with the --before value of the next page in
// place of the API's opaque cursor (as account history does).
type auditJSON struct {
	httpapi.AuditLog
	NextBefore int64 `json:"next_before,omitempty"`
}

func (m Main) accountAuditCmd() *cobra.Command {
	var sf storeFlags
	var limit int
	var before int64
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "audit ID",
		Short: "Show the audit log of an account: who granted, voided, debited, refunded or released what, and why",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if before < 0 {
				return credit.Errorf(credit.Invalid, "invalid_cursor", "--before %d is not an audit entry id", before)
			}
			if limit < 1 || limit > credit.MaxAuditPage {
				return credit.Errorf(credit.Invalid, "invalid_limit", "--limit %d: allowed: 1 to %d", limit, credit.MaxAuditPage)
			}
			l, s, err := sf.openLedger(cmd.Context(), catalog.Default)
			if err != nil {
				return err
			}
			defer s.Close()
			// One more than asked says whether there is a next page.
			page, err := l.AccountAudit(cmd.Context(), args[0], before, min(limit+1, credit.MaxAuditPage))
			if err != nil {
				return err
			}
			out := auditJSON{AuditLog: httpapi.AuditLog{Entries: []httpapi.AuditEntry{}}}
			for i, e := range page {
				if i == limit {
					out.NextBefore = page[i-1].ID
					break
				}
				out.Entries = append(out.Entries, httpapi.AuditEntry{ID: e.ID, At: e.At.UTC(), Actor: e.Actor, Action: e.Action, Target: e.Target, Detail: e.Detail})
			}
			if len(page) == limit && limit == credit.MaxAuditPage {
				// A full page of the largest size: look one entry further.
				next, err := l.AccountAudit(cmd.Context(), args[0], page[limit-1].ID, 1)
				if err != nil {
					return err
				}
				if len(next) > 0 {
					out.NextBefore = page[limit-1].ID
				}
			}
			if asJSON {
				writeJSON(m.Stdout, out)
				return nil
			}
			tw := tabwriter.NewWriter(m.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tTIME\tACTOR\tACTION\tDETAIL")
			for _, e := range out.Entries {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", e.ID, e.At.Format(time.RFC3339), e.Actor, e.Action, e.Detail)
			}
			tw.Flush()
			if out.NextBefore > 0 {
				fmt.Fprintf(m.Stdout, "more: --before %d\n", out.NextBefore)
			}
			return nil
		},
	}
	sf.register(cmd.Flags())
	cmd.Flags().IntVar(&limit, "limit", 50, "entries per page (1 to 500)")
	cmd.Flags().Int64Var(&before, "before", 0, "show entries older than this audit entry id")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the page as GET /v1/accounts/{id}/audit does (next_before for the next page)")
	return cmd
}
