package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/httpapi"
)

// The alert and top-up commands work on the store directly, under the
// catalog tally serve would apply (ledgerFlags): a write settles the
// account first, which may renew its subscription.

func (m Main) accountAlertsCmd() *cobra.Command {
	var lf ledgerFlags
	var low string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "alerts ACCOUNT --low-balance CREDITS",
		Short: "Set the balance below which the account's balance.low event is told (0: no alert)",
		Long:  "A write that takes the account's available credits from --low-balance or more to below it tells balance.low, once per crossing; balance.recovered when they are back. 0 turns the alert off.",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if !cmd.Flags().Changed("low-balance") {
				return credit.Errorf(credit.Invalid, "invalid_flags", "--low-balance: give the threshold in credits (0 turns the alert off)")
			}
			c, err := flagCredits("--low-balance", low)
			if err != nil {
				return err
			}
			l, _, closeStore, err := lf.ledger(cmd.Context())
			if err != nil {
				return err
			}
			defer closeStore()
			v, err := l.SetAlerts(cmd.Context(), nil, args[0], c)
			if err != nil {
				return err
			}
			if asJSON {
				writeJSON(m.Stdout, httpapi.NewAccount(v, v.At))
				return nil
			}
			if v.LowBalance == 0 {
				fmt.Fprintf(m.Stdout, "account %s: no low-balance alert\n", v.ID)
				return nil
			}
			fmt.Fprintf(m.Stdout, "account %s: balance.low when available credits fall below %s (now %s)\n", v.ID, v.LowBalance, v.Available)
			return nil
		},
	}
	lf.register(cmd.Flags())
	cmd.Flags().StringVar(&low, "low-balance", "", "the threshold in credits, 0 or more (0: no alert)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the account as PUT /v1/accounts/{id}/alerts answers")
	return cmd
}

// autoTopupFlags name, in a refusal, the flag each field of the request
// comes from.
var autoTopupFlags = strings.NewReplacer("threshold_credits", "--threshold", "monthly_cap_credits", "--monthly-cap", "amount_credits", "--amount")

func (m Main) accountAutoTopupCmd() *cobra.Command {
	var lf ledgerFlags
	var threshold, amount, monthlyCap string
	var off, asJSON bool
	cmd := &cobra.Command{
		Use:   "auto-topup ACCOUNT (--threshold CREDITS --amount CREDITS --monthly-cap CREDITS | --off)",
		Short: "Ask for a top-up whenever the account's balance falls below a threshold",
		Long: "When a write leaves the account's available credits below --threshold, tally asks the studio for --amount credits: a pending top-up and its topup.requested event, " +
			"never a second while one is pending, never more than --monthly-cap in a calendar month of the account's time zone. The studio confirms it (tally topup confirm), which grants the credits, or cancels it. " +
			"If the balance is below the threshold already, it asks at once. --off turns it off.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			given := 0
			for _, name := range []string{"threshold", "amount", "monthly-cap"} {
				if cmd.Flags().Changed(name) {
					given++
				}
			}
			switch {
			case off && given > 0:
				return credit.Errorf(credit.Invalid, "invalid_flags", "--off turns auto top-up off: give it alone, without --threshold, --amount or --monthly-cap")
			case !off && given < 3:
				return credit.Errorf(credit.Invalid, "invalid_flags", "--threshold, --amount and --monthly-cap: give all three (or --off)")
			}
			var at credit.AutoTopup
			if !off {
				var err error
				for _, f := range []struct {
					flag, value string
					dst         *credit.Credits
				}{{"--threshold", threshold, &at.Threshold}, {"--amount", amount, &at.Amount}, {"--monthly-cap", monthlyCap, &at.MonthlyCap}} {
					if *f.dst, err = flagCredits(f.flag, f.value); err != nil {
						return err
					}
				}
			}
			l, _, closeStore, err := lf.ledger(cmd.Context())
			if err != nil {
				return err
			}
			defer closeStore()
			v, err := l.SetAutoTopup(cmd.Context(), nil, args[0], at)
			if credit.ErrorReason(err) == "invalid_auto_topup" {
				// The ledger names the API's fields; say which flags.
				return credit.Errorf(credit.Invalid, "invalid_auto_topup", "%s", autoTopupFlags.Replace(credit.ErrorMessage(err)))
			}
			if err != nil {
				return err
			}
			if asJSON {
				writeJSON(m.Stdout, httpapi.NewAccount(v, v.At))
				return nil
			}
			a := v.AutoTopup
			if !a.On() {
				fmt.Fprintf(m.Stdout, "account %s: auto top-up off\n", v.ID)
				return nil
			}
			fmt.Fprintf(m.Stdout, "account %s: asks for %s credits when available credits fall below %s, at most %s a month (now %s)\n",
				v.ID, a.Amount, a.Threshold, a.MonthlyCap, v.Available)
			return nil
		},
	}
	lf.register(cmd.Flags())
	f := cmd.Flags()
	f.StringVar(&threshold, "threshold", "", "ask when available credits fall below this, more than 0")
	f.StringVar(&amount, "amount", "", "credits to ask for each time, more than 0")
	f.StringVar(&monthlyCap, "monthly-cap", "", "the most credits to ask for in a calendar month, at least --amount")
	f.BoolVar(&off, "off", false, "turn auto top-up off")
	f.BoolVar(&asJSON, "json", false, "print the account as PUT /v1/accounts/{id}/auto-topup answers")
	return cmd
}

// flagCredits reads an amount of credits given to flag, refusing one that
// is not as one line naming the flag.
func flagCredits(flag, s string) (credit.Credits, error) {
	c, err := credit.ParseCredits(s)
	if err != nil {
		return 0, credit.Errorf(credit.Invalid, "invalid_amount", "%s %q: allowed: 0 or more credits, at most three decimals, e.g. 100", flag, s)
	}
	return c, nil
}

func (m Main) topupCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "topup", Short: "List, confirm and cancel the top-ups auto top-up asks for"}
	cmd.AddCommand(m.topupListCmd(), m.topupAnswerCmd("confirm"), m.topupAnswerCmd("cancel"))
	return cmd
}

func (m Main) topupListCmd() *cobra.Command {
	var lf ledgerFlags
	var before string
	var limit int
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list ACCOUNT",
		Short: "List an account's top-up requests, newest first",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, _, closeStore, err := lf.ledger(cmd.Context())
			if err != nil {
				return err
			}
			defer closeStore()
			ts, err := l.Topups(cmd.Context(), args[0], before, limit)
			if err != nil {
				return err
			}
			out := httpapi.Topups{Account: args[0], Topups: make([]httpapi.Topup, len(ts))}
			for i, t := range ts {
				out.Topups[i] = *httpapi.NewTopup(t)
			}
			if len(ts) == limit {
				out.NextBefore = ts[len(ts)-1].ID
			}
			if asJSON {
				writeJSON(m.Stdout, out)
				return nil
			}
			tw := tabwriter.NewWriter(m.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tCREDITS\tSTATUS\tCREATED\tRESOLVED\tGRANT")
			for _, t := range out.Topups {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Credits, t.Status, t.CreatedAt.Format(time.RFC3339), timeOrDash(t.ResolvedAt), orDash(t.Grant))
			}
			return tw.Flush()
		},
	}
	lf.register(cmd.Flags())
	f := cmd.Flags()
	f.StringVar(&before, "before", "", "a top-up id: list those made before it (the last line of the previous page)")
	f.IntVar(&limit, "limit", httpapi.DefaultTopupPage, "top-ups to list, 1 to 500")
	f.BoolVar(&asJSON, "json", false, "print the top-ups as GET /v1/accounts/{id}/topups does (next_before when more may follow)")
	return cmd
}

// topupAnswerCmd is `tally topup confirm` or `tally topup cancel`.
func (m Main) topupAnswerCmd(verb string) *cobra.Command {
	var lf ledgerFlags
	var asJSON bool
	short := "Confirm a pending top-up: the studio was paid, its credits are granted (once)"
	if verb == "cancel" {
		short = "Cancel a pending top-up: nothing is granted"
	}
	cmd := &cobra.Command{
		Use:   verb + " ID",
		Short: short,
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, _, closeStore, err := lf.ledger(cmd.Context())
			if err != nil {
				return err
			}
			defer closeStore()
			answer := l.ConfirmTopup
			if verb == "cancel" {
				answer = l.CancelTopup
			}
			t, err := answer(cmd.Context(), nil, args[0])
			if err != nil {
				return err
			}
			if asJSON {
				writeJSON(m.Stdout, httpapi.NewTopup(t))
				return nil
			}
			if t.Status == credit.TopupConfirmed {
				fmt.Fprintf(m.Stdout, "top-up %s of account %s confirmed: %s credits granted (grant %s)\n", t.ID, t.Account, t.Credits, t.Grant)
				return nil
			}
			fmt.Fprintf(m.Stdout, "top-up %s of account %s canceled: nothing granted\n", t.ID, t.Account)
			return nil
		},
	}
	lf.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the top-up as POST /v1/topups/{id}/"+verb+" answers")
	return cmd
}
