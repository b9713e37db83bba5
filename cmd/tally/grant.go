package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/httpapi"
)

// The grant commands correct a grant after the fact (support's tools):
// each is a journal entry or an audited change, never an edit of history.
func (m Main) grantCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "grant", Short: "Void a grant or move its expiry"}
	cmd.AddCommand(m.grantVoidCmd(), m.grantExpiryCmd())
	return cmd
}

func (m Main) grantVoidCmd() *cobra.Command {
	var lf ledgerFlags
	var rf reasonFlag
	var memo string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "void GRANT",
		Short: "Take back what is left of a grant (a journal entry, audited with --memo and --reason)",
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
			g, err := l.VoidGrant(ctx, nil, args[0], memo)
			if err != nil {
				return err
			}
			if asJSON {
				writeJSON(m.Stdout, httpapi.NewGrant(g))
				return nil
			}
			fmt.Fprintf(m.Stdout, "grant %s of %s voided (%s credits still held by open holds)\n", g.ID, g.Account, g.Held)
			return nil
		},
	}
	lf.register(cmd.Flags())
	cmd.Flags().StringVar(&memo, "memo", "", "why (kept in the journal and the audit log)")
	rf.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the grant as POST /v1/grants/{id}/void answers it")
	return cmd
}

func (m Main) grantExpiryCmd() *cobra.Command {
	var lf ledgerFlags
	var expiresAt, memo string
	var never, asJSON bool
	cmd := &cobra.Command{
		Use:   "expiry GRANT",
		Short: "Move a live grant's expiry (--expires-at T, or --never), audited with --memo",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			given := cmd.Flags().Changed("expires-at")
			if given == never {
				return credit.Errorf(credit.Invalid, "invalid_flags", "--expires-at and --never: give one of them")
			}
			var t time.Time // zero: never
			if given {
				var err error
				if t, err = timeFlag("--expires-at", expiresAt); err != nil {
					return err
				}
				if t.IsZero() {
					return credit.Errorf(credit.Invalid, "invalid_expiry", "--expires-at %s is not in the future (--never: never expires)", expiresAt)
				}
			}
			l, _, closeStore, err := lf.ledger(cmd.Context())
			if err != nil {
				return err
			}
			defer closeStore()
			g, err := l.AmendGrantExpiry(cmd.Context(), nil, args[0], t, memo)
			if err != nil {
				return err
			}
			if asJSON {
				writeJSON(m.Stdout, httpapi.NewGrant(g))
				return nil
			}
			fmt.Fprintf(m.Stdout, "grant %s of %s now %s\n", g.ID, g.Account, expiryText(g.ExpiresAt))
			return nil
		},
	}
	lf.register(cmd.Flags())
	f := cmd.Flags()
	f.StringVar(&expiresAt, "expires-at", "", "the new expiry, in the future: RFC 3339 or a date")
	f.BoolVar(&never, "never", false, "the grant never expires")
	f.StringVar(&memo, "memo", "", "why (kept in the audit log)")
	f.BoolVar(&asJSON, "json", false, "print the grant as POST /v1/grants/{id}/expiry answers it")
	return cmd
}
