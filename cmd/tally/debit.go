package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/httpapi"
)

func (m Main) accountDebitCmd() *cobra.Command {
	var lf ledgerFlags
	var rf reasonFlag
	var credits, memo string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "debit ID --credits X",
		Short: "Take credits back from an account: a negative adjustment (audited with --reason)",
		Long: "Takes --credits back from the account's live grants, those it would spend last first, in one journal entry\n" +
			"of kind debit. Only what is available can be taken: held credits stay with their holds, and the balance\n" +
			"never goes below zero.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("credits") {
				return credit.Errorf(credit.Invalid, "invalid_flags", "--credits: give the credits to take back, more than 0")
			}
			amount, err := credit.ParseCredits(credits)
			if err != nil {
				return err
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
			e, err := l.Debit(ctx, nil, args[0], credit.DebitSpec{Credits: amount, Memo: memo})
			if err != nil {
				return err
			}
			v, err := l.Account(ctx, args[0])
			if err != nil {
				return err
			}
			if asJSON {
				writeJSON(m.Stdout, httpapi.Debit{Account: httpapi.NewAccount(v, l.Now()), Entry: httpapi.NewEntry(e)})
				return nil
			}
			fmt.Fprintf(m.Stdout, "took %s credits back from %s; available now %s credits\n", amount, e.Account, v.Available)
			return nil
		},
	}
	lf.register(cmd.Flags())
	rf.register(cmd.Flags())
	cmd.Flags().StringVar(&credits, "credits", "", "the credits to take back, more than 0, at most three decimals")
	cmd.Flags().StringVar(&memo, "memo", "", "a note kept in the journal")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the entry and the account as POST /v1/accounts/{id}/debits answers")
	return cmd
}
