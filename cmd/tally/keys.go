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
	var scope, account, name string
	var expiresIn time.Duration
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a key and print its secret once",
		Args:  cobra.ExactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, s, err := sf.openLedger(cmd.Context(), catalog.Default)
			if err != nil {
				return err
			}
			defer s.Close()
			spec := credit.KeySpec{Scope: credit.Scope(scope), Account: account, Name: name}
			if expiresIn != 0 {
				spec.ExpiresAt = l.Now().Add(expiresIn)
			}
			k, token, err := l.CreateKey(cmd.Context(), spec)
			if err != nil {
				return err
			}
			fmt.Fprintf(m.Stderr, "key %s (%s) created; its secret is shown once:\n", k.ID, k.Scope)
			fmt.Fprintln(m.Stdout, token)
			return nil
		},
	}
	sf.register(cmd.Flags())
	f := cmd.Flags()
	f.StringVar(&scope, "scope", "service", "admin, service or account")
	f.StringVar(&account, "account", "", "the account an account key may read")
	f.StringVar(&name, "name", "", "a label for people")
	f.DurationVar(&expiresIn, "expires-in", 0, "expiry from now, e.g. 2160h (default never)")
	return cmd
}

func (m Main) keysListCmd() *cobra.Command {
	var sf storeFlags
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
			tw := tabwriter.NewWriter(m.Stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tSCOPE\tACCOUNT\tNAME\tCREATED\tSTATE")
			for _, k := range keys {
				state := "valid"
				switch {
				case !k.RevokedAt.IsZero():
					state = "revoked " + k.RevokedAt.Format(time.RFC3339)
				case !k.ExpiresAt.IsZero() && !l.Now().Before(k.ExpiresAt):
					state = "expired " + k.ExpiresAt.Format(time.RFC3339)
				case !k.ExpiresAt.IsZero():
					state = "valid until " + k.ExpiresAt.Format(time.RFC3339)
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", k.ID, k.Scope, k.Account, k.Name, k.CreatedAt.Format(time.RFC3339), state)
			}
			return tw.Flush()
		},
	}
	sf.register(cmd.Flags())
	return cmd
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
