package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tally-credits/tally/internal/httpapi"
)

// The hold commands return a generic hold (one for a product other than
// image generation) that the studio left open: support's tool. A
// generation's hold is resolved with its generation (tally generation
// complete or fail).
func (m Main) holdCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "hold", Short: "Release an open hold"}
	cmd.AddCommand(m.holdReleaseCmd())
	return cmd
}

func (m Main) holdReleaseCmd() *cobra.Command {
	var lf ledgerFlags
	var rf reasonFlag
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "release ID",
		Short: "Return an open generic hold whole: nothing is charged (audited with --reason)",
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
			h, err := l.ReleaseHold(ctx, nil, args[0])
			if err != nil {
				return err
			}
			if asJSON {
				writeJSON(m.Stdout, httpapi.NewHold(h))
				return nil
			}
			fmt.Fprintf(m.Stdout, "hold %s of %s %s: %s credits returned\n", h.ID, h.Account, h.Status, h.Released)
			return nil
		},
	}
	lf.register(cmd.Flags())
	rf.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the hold as POST /v1/holds/{id}/release answers it")
	return cmd
}
