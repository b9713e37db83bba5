package main

import (
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/httpapi"
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
			f := cmd.Flags()
			if spec.ExpiresAt, err = expiryFlags(time.Now(), f.Changed("expires"), expires, f.Changed("expires-in"), expiresIn); err != nil {
				return err
			}
			// A flag given is a time given: the ledger checks it against its
			// own clock too, never reading Go's zero time as "never".
			spec.Expires = f.Changed("expires") || f.Changed("expires-in")
			l, s, err := sf.openLedger(cmd.Context(), catalog.Default)
			if err != nil {
				return err
			}
			defer s.Close()
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

// expiryFlags reads --expires and --expires-in. A flag given is always a
// time given: 0001-01-01T00:00:00Z is that (past) time and --expires-in 0 is
// now, both refused as not in the future, never read as "never expires"
// (which is what leaving both out means). The zero time returned means never.
func expiryFlags(now time.Time, givenAt bool, at string, givenIn bool, in time.Duration) (time.Time, error) {
	switch {
	case givenAt && givenIn:
		return time.Time{}, credit.Errorf(credit.Invalid, "invalid_flags", "--expires and --expires-in: give one, not both")
	case givenAt:
		t, err := time.Parse(time.RFC3339, at)
		if err != nil {
			return time.Time{}, credit.Errorf(credit.Invalid, "invalid_expiry", "--expires %q is not an RFC 3339 time", at)
		}
		if !t.After(now) {
			return time.Time{}, credit.Errorf(credit.Invalid, "invalid_expiry", "--expires %s is not in the future (leave --expires out for a grant that never expires)", at)
		}
		return t, nil
	case givenIn:
		if in <= 0 {
			return time.Time{}, credit.Errorf(credit.Invalid, "invalid_expiry_in", "--expires-in %s is not more than 0 (leave it out for a grant that never expires)", in)
		}
		return now.Add(in), nil
	}
	return time.Time{}, nil
}

func expiryText(t time.Time) string {
	if t.IsZero() {
		return "never expires"
	}
	return "expires " + t.Format(time.RFC3339)
}

func (m Main) accountShowCmd() *cobra.Command {
	var sf storeFlags
	var asJSON bool
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
			if asJSON {
				writeJSON(m.Stdout, httpapi.NewAccount(v))
				return nil
			}
			printAccount(m.Stdout, v)
			return nil
		},
	}
	sf.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the account as GET /v1/accounts/{id} does")
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

// historyJSON is what `tally account history --json` prints: the page of
// GET /v1/accounts/{id}/entries, with the --before value of the next page
// in place of the API's opaque cursor.
type historyJSON struct {
	httpapi.Entries
	NextBefore int64 `json:"next_before,omitempty"`
}

func (m Main) accountHistoryCmd() *cobra.Command {
	var sf storeFlags
	var limit int
	var before int64
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "history ID",
		Short: "Show an account's journal, newest first, with what each entry charged",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if before < 0 {
				return credit.Errorf(credit.Invalid, "invalid_cursor", "--before %d is not an entry id", before)
			}
			l, s, err := sf.openLedger(cmd.Context(), catalog.Default)
			if err != nil {
				return err
			}
			defer s.Close()
			entries, err := l.Entries(cmd.Context(), args[0], before, limit)
			if err != nil {
				return err
			}
			var next int64
			if len(entries) == limit {
				next = entries[len(entries)-1].ID
			}
			if asJSON {
				out := historyJSON{Entries: httpapi.Entries{Account: args[0], Entries: make([]httpapi.Entry, len(entries))}, NextBefore: next}
				for i, t := range entries {
					out.Entries.Entries[i] = httpapi.NewEntry(t)
				}
				writeJSON(m.Stdout, out)
				return nil
			}
			tw := tabwriter.NewWriter(m.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ENTRY\tTIME\tKIND\tAVAILABLE Δ\tHELD Δ\tCHARGED\tAVAILABLE\tHELD\tREF\tMODEL\tCATALOG")
			for _, t := range entries {
				charged := ""
				if t.ChargedDelta != 0 {
					charged = t.ChargedDelta.String()
				}
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Time.Format(time.RFC3339), t.Kind,
					signed(t.AvailableDelta), signed(t.HeldDelta), charged, t.AvailableAfter, t.HeldAfter, t.Ref, t.Model, t.CatalogVersion)
			}
			tw.Flush()
			if next > 0 {
				fmt.Fprintf(m.Stdout, "more: --before %d\n", next)
			}
			return nil
		},
	}
	sf.register(cmd.Flags())
	cmd.Flags().IntVar(&limit, "limit", 50, "entries per page (1 to 1000)")
	cmd.Flags().Int64Var(&before, "before", 0, "show entries older than this entry id")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the page as GET /v1/accounts/{id}/entries does (next_before for the next page)")
	return cmd
}

func signed(c credit.Credits) string {
	if c > 0 {
		return "+" + c.String()
	}
	return c.String()
}
