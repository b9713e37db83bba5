package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/httpapi"
)

// The team commands work on the store directly, like the account commands,
// under the catalog tally serve would apply (ledgerFlags): a member's
// period follows the team's subscription, which a write may renew first.
func (m Main) teamCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "team", Short: "Manage the members of team accounts and their monthly limits"}
	member := &cobra.Command{Use: "member", Short: "Set, list and remove a team's members"}
	member.AddCommand(m.teamMemberSetCmd(), m.teamMemberListCmd(), m.teamMemberRemoveCmd())
	cmd.AddCommand(member)
	return cmd
}

func (m Main) teamMemberSetCmd() *cobra.Command {
	var lf ledgerFlags
	var limit string
	var unlimited, asJSON bool
	cmd := &cobra.Command{
		Use:   "set TEAM MEMBER (--limit CREDITS | --unlimited)",
		Short: "Add a member to a team, or change their monthly limit",
		Long:  "Makes MEMBER (the studio's user id) a member of the team account TEAM with a monthly limit of the team's credits (--limit), or none (--unlimited); one of the two is required. A limit lower than what the member used this period stops their next generations, not the ones under way. A removed member set again keeps the period's usage.",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			given := cmd.Flags().Changed("limit")
			if given == unlimited {
				what := "give one"
				if given {
					what = "give one, not both"
				}
				return credit.Errorf(credit.Invalid, "invalid_flags", "--limit or --unlimited: %s (--limit CREDITS a month, 0 or more; --unlimited for no limit)", what)
			}
			var lim *credit.Credits
			if given {
				c, err := credit.ParseCredits(limit)
				if err != nil {
					return err
				}
				if c < 0 {
					return credit.Errorf(credit.Invalid, "invalid_amount", "--limit %s is below 0", limit)
				}
				lim = &c
			}
			l, _, closeStore, err := lf.ledger(cmd.Context())
			if err != nil {
				return err
			}
			defer closeStore()
			v, err := l.SetMember(cmd.Context(), nil, args[0], args[1], lim)
			if err != nil {
				return err
			}
			if asJSON {
				writeJSON(m.Stdout, httpapi.NewMember(v))
				return nil
			}
			fmt.Fprintf(m.Stdout, "member %s of team %s: %s\n", v.Member, args[0], memberText(v))
			return nil
		},
	}
	lf.register(cmd.Flags())
	f := cmd.Flags()
	f.StringVar(&limit, "limit", "", "credits of the team's pool the member may use a month, 0 or more (at most three decimals)")
	f.BoolVar(&unlimited, "unlimited", false, "no monthly limit")
	f.BoolVar(&asJSON, "json", false, "print the member as PUT /v1/accounts/{id}/members/{member} answers it")
	return cmd
}

// memberText says what a member may use and has used this period.
func memberText(v credit.MemberView) string {
	if v.MonthlyLimit == nil {
		return fmt.Sprintf("no limit, %s credits used this period (until %s)", v.Used, v.PeriodEnd.Format(time.RFC3339))
	}
	return fmt.Sprintf("%s credits a month, %s used, %s left until %s", *v.MonthlyLimit, v.Used, *v.Remaining, v.PeriodEnd.Format(time.RFC3339))
}

func (m Main) teamMemberListCmd() *cobra.Command {
	var lf ledgerFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list TEAM",
		Short: "List a team's members with their limits and what they used this period",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, _, closeStore, err := lf.ledger(cmd.Context())
			if err != nil {
				return err
			}
			defer closeStore()
			vs, err := l.Members(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if asJSON {
				out := httpapi.Members{Account: args[0], Members: make([]httpapi.Member, len(vs))}
				for i, v := range vs {
					out.Members[i] = *httpapi.NewMember(v)
				}
				writeJSON(m.Stdout, out)
				return nil
			}
			tw := tabwriter.NewWriter(m.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "MEMBER\tLIMIT\tUSED\tREMAINING\tPERIOD")
			for _, v := range vs {
				lim, left := "none", "-"
				if v.MonthlyLimit != nil {
					lim, left = v.MonthlyLimit.String(), v.Remaining.String()
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s to %s\n", v.Member, lim, v.Used, left, v.PeriodStart.Format(time.RFC3339), v.PeriodEnd.Format(time.RFC3339))
			}
			return tw.Flush()
		},
	}
	lf.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the members as GET /v1/accounts/{id}/members does")
	return cmd
}

func (m Main) teamMemberRemoveCmd() *cobra.Command {
	var lf ledgerFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "remove TEAM MEMBER",
		Short: "Remove a member from a team: they may make no new generations on it",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, _, closeStore, err := lf.ledger(cmd.Context())
			if err != nil {
				return err
			}
			defer closeStore()
			v, err := l.RemoveMember(cmd.Context(), nil, args[0], args[1])
			if err != nil {
				return err
			}
			if asJSON {
				writeJSON(m.Stdout, httpapi.NewMember(v))
				return nil
			}
			fmt.Fprintf(m.Stdout, "member %s removed from team %s (%s credits used this period)\n", v.Member, args[0], v.Used)
			return nil
		},
	}
	lf.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the member as DELETE /v1/accounts/{id}/members/{member} answers it")
	return cmd
}
