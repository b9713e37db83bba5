package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
)

// The account commands work on the store directly (SQLite with the server
// running is fine: WAL lets them share the file), for operators on the box.
func (m Main) accountCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "account", Short: "Create accounts, grant credits, show balances and history"}
	cmd.AddCommand(m.accountCreateCmd(), m.accountGrantCmd(), m.accountShowCmd(), m.accountHistoryCmd())
	return cmd
}

func (m Main) accountCreateCmd() *cobra.Command {
	var sf storeFlags
	var overdraft string
	cmd := &cobra.Command{
		Use:   "create ID",
		Short: "Open an account (the studio's user or team id)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			od, err := credit.ParseCredits(overdraft)
			if err != nil {
				return err
			}
			l, s, err := sf.openLedger(cmd.Context(), catalog.Default)
			if err != nil {
				return err
			}
			defer s.Close()
			a, err := l.CreateAccount(cmd.Context(), nil, args[0], od)
			if err != nil {
				return err
			}
			fmt.Fprintf(m.Stdout, "account %s created (overdraft %s credits)\n", a.ID, a.Overdraft)
			return nil
		},
	}
	sf.register(cmd.Flags())
	cmd.Flags().StringVar(&overdraft, "overdraft", "0", "credits the account may go below zero")
	return cmd
}

func (m Main) accountGrantCmd() *cobra.Command {
	var sf storeFlags
	var source, expires, memo string
	var expiresIn time.Duration
	var priority int
	cmd := &cobra.Command{
		Use:   "grant ID CREDITS",
		Short: "Put credits into an account",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			amount, err := credit.ParseCredits(args[1])
			if err != nil {
				return err
			}
			spec := credit.GrantSpec{Credits: amount, Source: credit.Source(source), Priority: priority, Memo: memo}
			l, s, err := sf.openLedger(cmd.Context(), catalog.Default)
			if err != nil {
				return err
			}
			defer s.Close()
			switch {
			case expires != "" && expiresIn != 0:
				return credit.Errorf(credit.Invalid, "invalid_expiry", "give --expires or --expires-in, not both")
			case expires != "":
				if spec.ExpiresAt, err = time.Parse(time.RFC3339, expires); err != nil {
					return credit.Errorf(credit.Invalid, "invalid_expiry", "--expires %q is not an RFC 3339 time", expires)
				}
			case expiresIn != 0:
				spec.ExpiresAt = l.Now().Add(expiresIn)
			}
			g, err := l.AddGrant(cmd.Context(), nil, args[0], spec)
			if err != nil {
				return err
			}
			fmt.Fprintf(m.Stdout, "granted %s credits to %s (grant %s, %s, %s)\n", g.Granted, g.Account, g.ID, g.Source, expiryText(g.ExpiresAt))
			return nil
		},
	}
	sf.register(cmd.Flags())
	f := cmd.Flags()
	f.StringVar(&source, "source", "topup", "subscription, topup, promo, refund or adjustment")
	f.StringVar(&expires, "expires", "", "expiry time (RFC 3339)")
	f.DurationVar(&expiresIn, "expires-in", 0, "expiry from now, e.g. 720h")
	f.IntVar(&priority, "priority", 0, "lower is used first")
	f.StringVar(&memo, "memo", "", "why (kept in the journal)")
	return cmd
}

func expiryText(t time.Time) string {
	if t.IsZero() {
		return "never expires"
	}
	return "expires " + t.Format(time.RFC3339)
}

func (m Main) accountShowCmd() *cobra.Command {
	var sf storeFlags
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show an account's balances, grants and open holds",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, s, err := sf.openLedger(cmd.Context(), catalog.Default)
			if err != nil {
				return err
			}
			defer s.Close()
			v, err := l.Account(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			printAccount(m.Stdout, v)
			return nil
		},
	}
	sf.register(cmd.Flags())
	return cmd
}

func printAccount(w io.Writer, v credit.AccountView) {
	fmt.Fprintf(w, "account %s\n  available %s credits\n  held      %s credits\n", v.ID, v.Available, v.Held)
	if v.Overdraft > 0 {
		fmt.Fprintf(w, "  overdraft %s of %s credits used\n", v.OverdraftUsed, v.Overdraft)
	}
	if len(v.Grants) > 0 {
		fmt.Fprintln(w, "grants (in consumption order):")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  ID\tSOURCE\tGRANTED\tREMAINING\tHELD\tPRIORITY\tEXPIRY")
		for _, g := range v.Grants {
			exp := expiryText(g.ExpiresAt)
			if !g.ExpiredAt.IsZero() {
				exp = "expired " + g.ExpiredAt.Format(time.RFC3339)
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%d\t%s\n", g.ID, g.Source, g.Granted, g.Remaining, g.Held, g.Priority, exp)
		}
		tw.Flush()
	}
	if len(v.OpenHolds) > 0 {
		fmt.Fprintln(w, "open holds:")
		for _, h := range v.OpenHolds {
			fmt.Fprintf(w, "  %s  %s credits  until %s  %s\n", h.ID, h.Amount, h.ExpiresAt.Format(time.RFC3339), h.Generation)
		}
	}
}

func (m Main) accountHistoryCmd() *cobra.Command {
	var sf storeFlags
	var limit int
	var before int64
	cmd := &cobra.Command{
		Use:   "history ID",
		Short: "Show an account's journal, newest first",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, s, err := sf.openLedger(cmd.Context(), catalog.Default)
			if err != nil {
				return err
			}
			defer s.Close()
			entries, err := l.Entries(cmd.Context(), args[0], before, limit)
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(m.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ENTRY\tTIME\tKIND\tAVAILABLE Δ\tHELD Δ\tAVAILABLE\tHELD\tREF\tMODEL")
			for _, t := range entries {
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Time.Format(time.RFC3339), t.Kind,
					signed(t.AvailableDelta), signed(t.HeldDelta), t.AvailableAfter, t.HeldAfter, t.Ref, t.Model)
			}
			tw.Flush()
			if len(entries) == limit {
				fmt.Fprintf(m.Stdout, "more: --before %d\n", entries[len(entries)-1].ID)
			}
			return nil
		},
	}
	sf.register(cmd.Flags())
	cmd.Flags().IntVar(&limit, "limit", 50, "entries per page (at most 1000)")
	cmd.Flags().Int64Var(&before, "before", 0, "show entries older than this entry id")
	return cmd
}

func signed(c credit.Credits) string {
	if c > 0 {
		return "+" + c.String()
	}
	return c.String()
}
