package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/httpapi"
)

// The account commands work on the store directly (SQLite with the server
// running is fine: WAL lets them share the file), for operators on the box.
// Those that touch plans apply the catalog tally serve would (ledgerFlags).
func (m Main) accountCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "account", Short: "Create and find accounts, grant and take back credits, set plans, alerts and auto top-up, show balances, history, usage and audit"}
	cmd.AddCommand(m.accountCreateCmd(), m.accountPlanCmd(), m.accountGrantCmd(), m.accountShowCmd(), m.accountHistoryCmd(), m.accountAlertsCmd(), m.accountAutoTopupCmd())
	cmd.AddCommand(m.accountListCmd(), m.accountGenerationsCmd(), m.accountUsageCmd(), m.accountDebitCmd(), m.accountAuditCmd())
	return cmd
}

func (m Main) accountCreateCmd() *cobra.Command {
	var lf ledgerFlags
	var overdraft, plan, tz, kind string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "create ID",
		Short: "Open an account (the studio's user or team id), on a program if given one",
		Long:  "Opens a wallet with zero balance. With --kind team, a team's pool: its members (tally team member set) spend it, each within a monthly limit.",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			od, err := credit.ParseCredits(overdraft)
			if err != nil {
				return err
			}
			l, _, closeStore, err := lf.ledger(cmd.Context())
			if err != nil {
				return err
			}
			defer closeStore()
			a, err := l.OpenAccount(cmd.Context(), nil, credit.AccountSpec{ID: args[0], Overdraft: od, Plan: plan, TimeZone: tz, Kind: credit.AccountKind(kind)})
			if err != nil {
				return err
			}
			if asJSON {
				v, err := l.Account(cmd.Context(), a.ID)
				if err != nil {
					return err
				}
				writeJSON(m.Stdout, httpapi.NewAccount(v, l.Now()))
				return nil
			}
			what := "account"
			if a.Kind == credit.AccountTeam {
				what = "team account"
			}
			fmt.Fprintf(m.Stdout, "%s %s created (overdraft %s credits%s)\n", what, a.ID, a.Overdraft, planText(a.Account))
			return nil
		},
	}
	lf.register(cmd.Flags())
	f := cmd.Flags()
	f.StringVar(&overdraft, "overdraft", "0", "credits the account may go below zero")
	f.StringVar(&plan, "plan", "", "a program of the catalog to put the account on, e.g. free (default: none, a plain wallet)")
	f.StringVar(&tz, "time-zone", "", "IANA time zone of the account's days, e.g. Europe/Berlin (default UTC)")
	f.StringVar(&kind, "kind", "user", "user (one person's wallet) or team (a pool its members spend)")
	f.BoolVar(&asJSON, "json", false, "print the account as GET /v1/accounts/{id} does")
	return cmd
}

// planText says which program an account is on and in which time zone, for
// a line that ends in a parenthesis.
func planText(a credit.Account) string {
	s := ""
	if a.Plan != "" {
		s += ", plan " + a.Plan
	}
	if a.TimeZone != "" {
		s += ", time zone " + a.TimeZone
	}
	return s
}

func (m Main) accountPlanCmd() *cobra.Command {
	var lf ledgerFlags
	var tz string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "plan ID PLAN",
		Short: "Put an account on a program (free), or take it off (none)",
		Long:  "Puts the account on a program of the catalog, such as free (its daily free credits, no Pro models), or takes it off with none. A subscription takes over from the program while it is active.",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			plan := args[1]
			if plan == "none" {
				plan = ""
			}
			var zone *string
			if cmd.Flags().Changed("time-zone") {
				zone = &tz
			}
			l, _, closeStore, err := lf.ledger(cmd.Context())
			if err != nil {
				return err
			}
			defer closeStore()
			a, err := l.SetPlan(cmd.Context(), nil, args[0], plan, zone)
			if err != nil {
				return err
			}
			if asJSON {
				v, err := l.Account(cmd.Context(), a.ID)
				if err != nil {
					return err
				}
				writeJSON(m.Stdout, httpapi.NewAccount(v, l.Now()))
				return nil
			}
			if a.Plan == "" {
				fmt.Fprintf(m.Stdout, "account %s is on no program (time zone %s)\n", a.ID, zoneOrUTC(a.TimeZone))
				return nil
			}
			fmt.Fprintf(m.Stdout, "account %s is on the %s program (time zone %s)\n", a.ID, a.Plan, zoneOrUTC(a.TimeZone))
			return nil
		},
	}
	lf.register(cmd.Flags())
	cmd.Flags().StringVar(&tz, "time-zone", "", "IANA time zone of the account's days, e.g. Europe/Berlin (default: unchanged)")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the account as GET /v1/accounts/{id} does")
	return cmd
}

func zoneOrUTC(tz string) string {
	if tz == "" {
		return "UTC"
	}
	return tz
}

// appliesToFlags names the flag of each list of a grant's applies_to.
var appliesToFlags = map[string]string{
	"models": "--applies-to-models", "tags": "--applies-to-tags",
	"exclude_models": "--exclude-models", "exclude_tags": "--exclude-tags",
}

func (m Main) accountGrantCmd() *cobra.Command {
	var lf ledgerFlags
	var source, expires, memo string
	var expiresIn time.Duration
	var priority int
	var appliesTo credit.Eligibility
	var rf reasonFlag
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "grant ID CREDITS",
		Short: "Put credits into an account, for every model or only some",
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
			ctx, err := rf.context(cmd.Context())
			if err != nil {
				return err
			}
			l, c, closeStore, err := lf.ledger(ctx)
			if err != nil {
				return err
			}
			defer closeStore()
			if spec.AppliesTo, err = httpapi.CheckAppliesTo(c, appliesTo, func(list string) string { return appliesToFlags[list] }); err != nil {
				return err
			}
			g, err := l.AddGrant(ctx, nil, args[0], spec)
			if err != nil {
				return err
			}
			if asJSON {
				writeJSON(m.Stdout, httpapi.NewGrant(g))
				return nil
			}
			fmt.Fprintf(m.Stdout, "granted %s credits to %s (grant %s, %s, %s%s)\n", g.Granted, g.Account, g.ID, g.Source, expiryText(g.ExpiresAt), eligibilityText(g.AppliesTo))
			return nil
		},
	}
	lf.register(cmd.Flags())
	f := cmd.Flags()
	f.StringVar(&source, "source", "topup", "subscription, topup, promo, refund, adjustment, free or rollover")
	f.StringVar(&expires, "expires", "", "expiry time (RFC 3339)")
	f.DurationVar(&expiresIn, "expires-in", 0, "expiry from now, e.g. 720h")
	f.IntVar(&priority, "priority", 0, "lower is used first")
	f.StringVar(&memo, "memo", "", "why (kept in the journal)")
	rf.register(f)
	f.StringSliceVar(&appliesTo.Models, "applies-to-models", nil, "only these models may spend it (ids or names, comma-separated)")
	f.StringSliceVar(&appliesTo.Tags, "applies-to-tags", nil, "only models with one of these tags may spend it, e.g. pro")
	f.StringSliceVar(&appliesTo.ExcludeModels, "exclude-models", nil, "these models may not spend it")
	f.StringSliceVar(&appliesTo.ExcludeTags, "exclude-tags", nil, "models with one of these tags may not spend it, e.g. pro")
	f.BoolVar(&asJSON, "json", false, "print the grant as POST /v1/accounts/{id}/grants answers it")
	return cmd
}

// eligibilityText says which models a grant pays for, after a comma; "" for
// every model.
func eligibilityText(e credit.Eligibility) string {
	var parts []string
	if len(e.Models) > 0 || len(e.Tags) > 0 {
		parts = append(parts, "for "+strings.Join(append(append([]string{}, e.Models...), tagged(e.Tags)...), ", "))
	}
	if len(e.ExcludeModels) > 0 || len(e.ExcludeTags) > 0 {
		parts = append(parts, "not for "+strings.Join(append(append([]string{}, e.ExcludeModels...), tagged(e.ExcludeTags)...), ", "))
	}
	if len(parts) == 0 {
		return ""
	}
	return ", " + strings.Join(parts, ", ")
}

func tagged(tags []string) []string {
	out := make([]string, len(tags))
	for i, t := range tags {
		out[i] = "models tagged " + t
	}
	return out
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
	var lf ledgerFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show ID",
		Short: "Show an account's plan, balances, unlimited windows, subscriptions, grants and open holds",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, _, closeStore, err := lf.ledger(cmd.Context())
			if err != nil {
				return err
			}
			defer closeStore()
			v, err := l.Account(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				writeJSON(m.Stdout, httpapi.NewAccount(v, l.Now()))
				return nil
			}
			printAccount(m.Stdout, v, l.Now())
			return nil
		},
	}
	lf.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the account as GET /v1/accounts/{id} does")
	return cmd
}

func printAccount(w io.Writer, v credit.AccountView, now time.Time) {
	fmt.Fprintf(w, "account %s\n", v.ID)
	if v.Account.Kind == credit.AccountTeam {
		fmt.Fprintf(w, "  kind      team (tally team member list %s shows its members)\n", v.ID)
	}
	fmt.Fprintf(w, "  available %s credits\n  held      %s credits\n", v.Available, v.Held)
	if v.Overdraft > 0 {
		fmt.Fprintf(w, "  overdraft %s of %s credits used\n", v.OverdraftUsed, v.Overdraft)
	}
	switch {
	case v.ActiveSubscription != "":
		fmt.Fprintf(w, "  plan      %s (subscription %s)\n", v.ActivePlan, v.ActiveSubscription)
	case v.ActivePlan != "":
		fmt.Fprintf(w, "  plan      %s (program)\n", v.ActivePlan)
	default:
		fmt.Fprintf(w, "  plan      none (a plain wallet)\n")
	}
	if v.Account.Plan != "" && v.ActiveSubscription != "" {
		fmt.Fprintf(w, "  program   %s (again when the subscription ends)\n", v.Account.Plan)
	}
	fmt.Fprintf(w, "  time zone %s\n", zoneOrUTC(v.TimeZone))
	fmt.Fprintf(w, "  balances  free %s, subscription %s, top-up %s, other %s credits\n", v.Balances.Free, v.Balances.Subscription, v.Balances.Topup, v.Balances.Other)
	if len(v.Windows) > 0 {
		fmt.Fprintln(w, "unlimited windows:")
		for _, u := range v.Windows {
			fast := "no daily limit"
			if u.DailyFast > 0 {
				then := "then the relaxed lane"
				if u.AfterFast != credit.AfterFastRelaxed {
					then = "then refused"
				}
				fast = fmt.Sprintf("%d of %d fast left today, %s until %s", u.FastLeft, u.DailyFast, then, u.ResetsAt.Format(time.RFC3339))
			}
			fmt.Fprintf(w, "  %s  until %s  %d of %d open  %s\n", strings.Join(u.Models, ", "), u.Until.Format(time.RFC3339), u.Open, u.MaxConcurrent, fast)
		}
	}
	if len(v.Subscriptions) > 0 {
		fmt.Fprintln(w, "subscriptions:")
		printSubscriptions(w, v.Subscriptions, now, "  ")
	}
	if len(v.Grants) > 0 {
		fmt.Fprintln(w, "grants (in consumption order):")
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "  ID\tSOURCE\tGRANTED\tREMAINING\tHELD\tPRIORITY\tEXPIRY\tMODELS")
		for _, g := range v.Grants {
			exp := expiryText(g.ExpiresAt)
			if !g.ExpiredAt.IsZero() {
				exp = "expired " + g.ExpiredAt.Format(time.RFC3339)
			}
			models := strings.TrimPrefix(eligibilityText(g.AppliesTo), ", ")
			if models == "" {
				models = "all"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", g.ID, g.Source, g.Granted, g.Remaining, g.Held, g.Priority, exp, models)
		}
		tw.Flush()
	}
	if len(v.OpenHolds) > 0 {
		fmt.Fprintln(w, "open holds:")
		for _, h := range v.OpenHolds {
			member := ""
			if h.Member != "" {
				member = "  member " + h.Member
			}
			fmt.Fprintf(w, "  %s  %s credits  until %s  %s%s\n", h.ID, h.Amount, h.ExpiresAt.Format(time.RFC3339), h.Generation, member)
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
