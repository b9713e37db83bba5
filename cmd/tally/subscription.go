package main

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/httpapi"
)

// The subscription commands work on the store directly, like the account
// commands, under the catalog tally serve would apply (ledgerFlags): a
// subscription is to one of its paid plans.
func (m Main) subscriptionCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "subscription", Short: "Subscribe accounts to paid plans, show, cancel and change subscriptions"}
	cmd.AddCommand(m.subscriptionCreateCmd(), m.subscriptionShowCmd(), m.subscriptionCancelCmd(), m.subscriptionChangeCmd())
	return cmd
}

func (m Main) subscriptionCreateCmd() *cobra.Command {
	var lf ledgerFlags
	var plan, billing, startsAt, tz string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "create ACCOUNT",
		Short: "Subscribe an account to a paid plan of the catalog",
		Long:  "Starts a subscription now or at --starts-at. On each renewal day (the start's day of month, in its time zone) the plan's monthly allowances are given once, expiring at the month's end; while it is active the plan's rules replace the account's program.",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			spec := credit.SubscriptionSpec{Plan: plan, Billing: credit.Billing(billing), TimeZone: tz}
			if cmd.Flags().Changed("starts-at") {
				t, err := timeFlag("--starts-at", startsAt)
				if err != nil {
					return err
				}
				if t.IsZero() {
					return credit.Errorf(credit.Invalid, "invalid_start", "--starts-at %s is not now or within a year", startsAt)
				}
				spec.StartsAt = t
			}
			l, _, closeStore, err := lf.ledger(cmd.Context())
			if err != nil {
				return err
			}
			defer closeStore()
			s, err := l.Subscribe(cmd.Context(), nil, args[0], spec)
			if err != nil {
				return err
			}
			return m.printSubscription(s, l.Now(), asJSON)
		},
	}
	lf.register(cmd.Flags())
	f := cmd.Flags()
	f.StringVar(&plan, "plan", "", "a paid plan of the catalog (tally catalog show lists them)")
	f.StringVar(&billing, "billing", "month", "month, quarter or year (allowances are given monthly whatever the billing)")
	f.StringVar(&startsAt, "starts-at", "", "when it starts, within a year: RFC 3339 or a date (default now)")
	f.StringVar(&tz, "time-zone", "", "IANA time zone its months start in, e.g. Europe/Berlin (default: the account's)")
	f.BoolVar(&asJSON, "json", false, "print the subscription as the API answers it")
	return cmd
}

func (m Main) subscriptionShowCmd() *cobra.Command {
	var lf ledgerFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "show ACCOUNT|SUBSCRIPTION",
		Short: "Show a subscription, or every subscription of an account",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, _, closeStore, err := lf.ledger(cmd.Context())
			if err != nil {
				return err
			}
			defer closeStore()
			id := args[0]
			if strings.HasPrefix(id, "sub_") {
				s, err := l.Subscription(cmd.Context(), id)
				if err == nil {
					return m.printSubscription(s, l.Now(), asJSON)
				}
				if credit.ErrorReason(err) != "unknown_subscription" {
					return err
				}
				// Not a subscription: an account whose id looks like one.
			}
			subs, err := l.Subscriptions(cmd.Context(), id)
			if err != nil {
				return err
			}
			now := l.Now()
			if asJSON {
				out := httpapi.Subscriptions{Account: id, Subscriptions: make([]httpapi.Subscription, len(subs))}
				for i, s := range subs {
					out.Subscriptions[i] = *httpapi.NewSubscription(s, now)
				}
				writeJSON(m.Stdout, out)
				return nil
			}
			if len(subs) == 0 {
				fmt.Fprintf(m.Stdout, "account %s has no subscription\n", id)
				return nil
			}
			printSubscriptions(m.Stdout, subs, now, "")
			return nil
		},
	}
	lf.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print as GET /v1/subscriptions/{id} or GET /v1/accounts/{id}/subscriptions does")
	return cmd
}

func (m Main) subscriptionCancelCmd() *cobra.Command {
	var lf ledgerFlags
	var at string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "cancel SUBSCRIPTION",
		Short: "Cancel a subscription now or at the end of its billing period",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, _, closeStore, err := lf.ledger(cmd.Context())
			if err != nil {
				return err
			}
			defer closeStore()
			s, err := l.CancelSubscription(cmd.Context(), nil, args[0], at)
			if err != nil {
				return err
			}
			return m.printSubscription(s, l.Now(), asJSON)
		},
	}
	lf.register(cmd.Flags())
	cmd.Flags().StringVar(&at, "at", credit.AtPeriodEnd, "now or period_end")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the subscription as the API answers it")
	return cmd
}

func (m Main) subscriptionChangeCmd() *cobra.Command {
	var lf ledgerFlags
	var plan, at string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "change SUBSCRIPTION",
		Short: "Move a subscription to another paid plan",
		Long:  "An upgrade (more monthly credits) at now takes effect at once and gives this month's difference; a downgrade, or any change at period_end, takes effect when the billing period ends.",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, _, closeStore, err := lf.ledger(cmd.Context())
			if err != nil {
				return err
			}
			defer closeStore()
			s, err := l.ChangeSubscription(cmd.Context(), nil, args[0], plan, at)
			if err != nil {
				return err
			}
			return m.printSubscription(s, l.Now(), asJSON)
		},
	}
	lf.register(cmd.Flags())
	cmd.Flags().StringVar(&plan, "plan", "", "the paid plan to move to")
	cmd.Flags().StringVar(&at, "at", credit.AtNow, "now or period_end")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the subscription as the API answers it")
	return cmd
}

func (m Main) printSubscription(s credit.Subscription, now time.Time, asJSON bool) error {
	if asJSON {
		writeJSON(m.Stdout, httpapi.NewSubscription(s, now))
		return nil
	}
	printSubscriptions(m.Stdout, []credit.Subscription{s}, now, "")
	return nil
}

// printSubscriptions writes one row per subscription, each line indented.
func printSubscriptions(w io.Writer, subs []credit.Subscription, now time.Time, indent string) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "%sID\tACCOUNT\tPLAN\tBILLING\tSTATUS\tSTARTS\tENDS\tRENEWS\tNEXT PLAN\tTIME ZONE\n", indent)
	at := func(t *time.Time) string {
		if t == nil {
			return "-"
		}
		return t.Format(time.RFC3339)
	}
	for _, s := range subs {
		v := httpapi.NewSubscription(s, now)
		next := "-"
		if v.NextPlan != "" {
			next = v.NextPlan + " from " + at(v.NextAt)
		}
		fmt.Fprintf(tw, "%s%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", indent, v.ID, v.Account, v.Plan, v.Billing, v.Status,
			v.StartsAt.Format(time.RFC3339), at(v.EndsAt), at(v.RenewsAt), next, v.TimeZone)
	}
	tw.Flush()
}

// timeFlag reads a time flag as the API reads times: RFC 3339, or a date
// (that day's midnight, UTC).
func timeFlag(flag, s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, credit.Errorf(credit.Invalid, "invalid_time", "%s %q is not a time: give RFC 3339, like 2027-01-01T00:00:00Z, or a date, like 2027-01-01", flag, s)
}
