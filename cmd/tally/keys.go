package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
)

func (m Main) keysCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "keys", Short: "Create, list and revoke API keys"}
	cmd.AddCommand(m.keysCreateCmd(), m.keysListCmd(), m.keysRevokeCmd())
	return cmd
}

func (m Main) keysCreateCmd() *cobra.Command {
	var sf storeFlags
	var scope, account, member, name string
	var expiresIn time.Duration
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a key and print its secret once",
		Args:  cobra.ExactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			// --expires-in 0 or less is a key expired at birth, not one that
			// never expires (that is leaving the flag out).
			givenIn := cmd.Flags().Changed("expires-in")
			if givenIn && expiresIn <= 0 {
				return credit.Errorf(credit.Invalid, "invalid_expiry_in", "--expires-in %s is not more than 0 (leave it out for a key that never expires)", expiresIn)
			}
			if member != "" && credit.Scope(scope) != credit.ScopeAccount {
				return credit.Errorf(credit.Invalid, "invalid_flags", "--member is only for --scope account (a team member's key, with --account TEAM), not --scope %s", scope)
			}
			l, s, err := sf.openLedger(cmd.Context(), catalog.Default)
			if err != nil {
				return err
			}
			defer s.Close()
			spec := credit.KeySpec{Scope: credit.Scope(scope), Account: account, Member: member, Name: name}
			if givenIn {
				spec.ExpiresAt = l.Now().Add(expiresIn)
			}
			k, token, err := l.CreateKey(cmd.Context(), spec)
			if err != nil {
				return err
			}
			who := string(k.Scope)
			if k.Member != "" {
				who = "member " + k.Member + " of team " + k.Account
			}
			fmt.Fprintf(m.Stderr, "key %s (%s) created; its secret is shown once:\n", k.ID, who)
			fmt.Fprintln(m.Stdout, token)
			return nil
		},
	}
	sf.register(cmd.Flags())
	f := cmd.Flags()
	f.StringVar(&scope, "scope", "service", "admin, service, support (the support desk: reads every account, grants, takes back, voids, refunds and releases with a reason) or account")
	f.StringVar(&account, "account", "", "the account an account key may read")
	f.StringVar(&member, "member", "", "with --scope account on a team: the member whose own holds, entries and usage the key reads (with the team's balance)")
	f.StringVar(&name, "name", "", "a label for people")
	f.DurationVar(&expiresIn, "expires-in", 0, "expiry from now, e.g. 2160h (default never)")
	return cmd
}

// keyJSON is one key as `tally keys list --json` prints it: never its
// secret (tally keeps only its hash).
type keyJSON struct {
	ID        string     `json:"id"`
	Scope     string     `json:"scope"`
	Account   string     `json:"account,omitempty"`
	Member    string     `json:"member,omitempty"`
	Name      string     `json:"name,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at,omitempty"`
	RevokedAt *time.Time `json:"revoked_at,omitempty"`
	State     string     `json:"state" enum:"valid,expired,revoked"`
}

func (m Main) keysListCmd() *cobra.Command {
	var sf storeFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List keys (never their secrets)",
		Args:  cobra.ExactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, s, err := sf.openLedger(cmd.Context(), catalog.Default)
			if err != nil {
				return err
			}
			defer s.Close()
			keys, err := l.Keys(cmd.Context())
			if err != nil {
				return err
			}
			now := l.Now()
			state := func(k credit.Key) string {
				switch {
				case !k.RevokedAt.IsZero():
					return "revoked"
				case !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt):
					return "expired"
				}
				return "valid"
			}
			if asJSON {
				out := make([]keyJSON, len(keys))
				for i, k := range keys {
					out[i] = keyJSON{ID: k.ID, Scope: string(k.Scope), Account: k.Account, Member: k.Member, Name: k.Name, CreatedAt: k.CreatedAt.UTC(),
						ExpiresAt: optTime(k.ExpiresAt), RevokedAt: optTime(k.RevokedAt), State: state(k)}
				}
				writeJSON(m.Stdout, out)
				return nil
			}
			tw := tabwriter.NewWriter(m.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSCOPE\tACCOUNT\tMEMBER\tNAME\tCREATED\tSTATE")
			for _, k := range keys {
				st := state(k)
				switch {
				case st == "revoked":
					st += " " + k.RevokedAt.Format(time.RFC3339)
				case st == "expired":
					st += " " + k.ExpiresAt.Format(time.RFC3339)
				case !k.ExpiresAt.IsZero():
					st = "valid until " + k.ExpiresAt.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Scope, k.Account, k.Member, k.Name, k.CreatedAt.Format(time.RFC3339), st)
			}
			return tw.Flush()
		},
	}
	sf.register(cmd.Flags())
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the keys as JSON")
	return cmd
}

// optTime is t in UTC, or nil for the zero time (never).
func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

func (m Main) keysRevokeCmd() *cobra.Command {
	var sf storeFlags
	cmd := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a key at once",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			l, s, err := sf.openLedger(cmd.Context(), catalog.Default)
			if err != nil {
				return err
			}
			defer s.Close()
			if err := l.RevokeKey(cmd.Context(), args[0]); err != nil {
				return err
			}
			fmt.Fprintf(m.Stdout, "key %s revoked\n", args[0])
			return nil
		},
	}
	sf.register(cmd.Flags())
	return cmd
}
