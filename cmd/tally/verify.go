package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/tally-credits/tally/internal/catalog"
)

func (m Main) verifyCmd() *cobra.Command {
	var sf storeFlags
	cmd := &cobra.Command{
		Use:   "verify",
		Short: "Check every ledger invariant on a live store; exit 1 naming each violation",
		Args:  cobra.ExactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, s, err := sf.openLedger(cmd.Context(), catalog.Default)
			if err != nil {
				return err
			}
			defer s.Close()
			vs, err := l.Verify(cmd.Context())
			if err != nil {
				return err
			}
			for _, v := range vs {
				fmt.Fprintf(m.Stdout, "VIOLATION %s\n", v)
			}
			if len(vs) > 0 {
				fmt.Fprintf(m.Stderr, "tally: verify found %d violation(s) in %s\n", len(vs), sf.name())
				return silentError{exitInternal}
			}
			fmt.Fprintf(m.Stdout, "%s: every invariant holds\n", sf.name())
			return nil
		},
	}
	sf.register(cmd.Flags())
	return cmd
}

func (m Main) migrateCmd() *cobra.Command {
	var sf storeFlags
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Create or upgrade the ledger's schema (serve does this on start too)",
		Args:  cobra.ExactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := sf.create(cmd.Context())
			if err != nil {
				return err
			}
			defer s.Close()
			fmt.Fprintf(m.Stdout, "%s: schema is up to date\n", sf.name())
			return nil
		},
	}
	sf.register(cmd.Flags())
	return cmd
}
