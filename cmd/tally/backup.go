package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/sqlite"
)

// backupJSON is what `tally backup --json` prints.
type backupJSON struct {
	Path            string    `json:"path"`
	Source          string    `json:"source"`
	Bytes           int64     `json:"bytes"`
	Accounts        int       `json:"accounts"`
	Transactions    int       `json:"transactions"`
	LastTransaction int64     `json:"last_transaction"`
	SchemaVersion   int       `json:"schema_version"`
	TakenAt         time.Time `json:"taken_at"`
}

func (m Main) backupCmd() *cobra.Command {
	var sf storeFlags
	var force, asJSON bool
	cmd := &cobra.Command{
		Use:   "backup FILE",
		Short: "Copy the SQLite ledger to FILE, consistently, while tally serve keeps serving",
		Long: "backup writes a consistent copy of the ledger (SQLite's VACUUM INTO, on a read-only connection: it takes\n" +
			"no write lock and changes nothing in the ledger) to a temporary file beside FILE, checks it\n" +
			"(integrity_check), syncs it and renames it to FILE. An existing FILE is refused without --force.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if isPostgres(sf.db) {
				return credit.Errorf(credit.Invalid, "unsupported_store",
					"backup: %s is a PostgreSQL database: back it up with pg_dump (one database) or pg_basebackup (the whole cluster)", sf.name())
			}
			taken := time.Now().UTC()
			info, err := sqlite.BackupFile(cmd.Context(), sf.db, args[0], sqlite.BackupOptions{Overwrite: force})
			if err != nil {
				return forceHint(sf.noLedger(err))
			}
			if asJSON {
				writeJSON(m.Stdout, backupJSON{
					Path: info.Path, Source: sf.name(), Bytes: info.Bytes, Accounts: info.Accounts,
					Transactions: info.Transactions, LastTransaction: info.LastTransaction,
					SchemaVersion: info.SchemaVersion, TakenAt: taken,
				})
				return nil
			}
			fmt.Fprintf(m.Stdout, "backed up %s to %s: %s\n", sf.name(), info.Path, info)
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "replace FILE if it exists")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the summary as JSON")
	sf.register(cmd.Flags())
	return cmd
}

func (m Main) restoreCmd() *cobra.Command {
	var sf storeFlags
	var force bool
	cmd := &cobra.Command{
		Use:   "restore BACKUP",
		Short: "Replace the SQLite ledger with BACKUP, once it passes integrity_check and verify; not while a server has it open",
		Long: "restore checks BACKUP (a SQLite file, integrity_check, a tally ledger), copies it beside the ledger,\n" +
			"brings its schema up to date and runs every verify invariant on the copy, then renames the copy\n" +
			"over the ledger. It refuses an existing ledger without --force, and a ledger that any process\n" +
			"has open (stop tally serve first).",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if isPostgres(sf.db) {
				return credit.Errorf(credit.Invalid, "unsupported_store",
					"restore: %s is a PostgreSQL database: restore it with pg_restore or psql (from pg_dump), or from pg_basebackup", sf.name())
			}
			backup := args[0]
			verify := func(ctx context.Context, db *sqlite.DB) error {
				vs, err := credit.NewLedger(db, credit.LedgerConfig{Catalog: catalog.Default}).Verify(ctx)
				if err != nil {
					return err
				}
				for _, v := range vs {
					fmt.Fprintf(m.Stdout, "VIOLATION %s\n", v)
				}
				if len(vs) > 0 {
					return credit.Errorf(credit.Invalid, "bad_backup", "restore: %s fails verify: %d violation(s), the first: %s", backup, len(vs), vs[0])
				}
				return nil
			}
			info, err := sqlite.Restore(cmd.Context(), backup, sf.db, sqlite.RestoreOptions{Overwrite: force, Check: verify})
			if err != nil {
				return forceHint(err)
			}
			fmt.Fprintf(m.Stdout, "restored %s to %s: %s; every invariant holds\n", backup, info.Path, info)
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "replace the ledger if it exists")
	sf.register(cmd.Flags())
	return cmd
}

// forceHint tells the operator how to replace a file that exists.
func forceHint(err error) error {
	switch credit.ErrorReason(err) {
	case "backup_exists", "target_exists":
		return credit.Errorf(credit.Conflict, credit.ErrorReason(err), "%s (--force replaces it)", credit.ErrorMessage(err))
	}
	return err
}
