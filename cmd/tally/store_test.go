package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// ledgerCommands are every command that works on an existing ledger, with
// the arguments they need; only serve and migrate (and the bench, which fills
// a scratch store) may create one.
func ledgerCommands(t *testing.T) [][]string {
	catalogFile := fluxSix(t)
	return [][]string{
		{"verify"},
		{"keys", "create", "--scope", "admin"},
		{"keys", "list"},
		{"keys", "revoke", "k1"},
		{"account", "create", "alice"},
		{"account", "grant", "alice", "10"},
		{"account", "show", "alice"},
		{"account", "history", "alice"},
		{"catalog", "publish", catalogFile},
		{"catalog", "publish", catalogFile, "--dry-run"},
		{"catalog", "history"},
		{"backup", filepath.Join(t.TempDir(), "copy.db")},
		{"quote", "--model", "flux-dev"},
		{"catalog", "show"},
		{"events"},
		{"webhook", "create", "--url", "https://93.184.216.34/hook", "--events", "*"},
		{"webhook", "list"},
		{"webhook", "delete", "wh_1"},
		{"webhook", "deliveries", "wh_1"},
		{"webhook", "retry", "wh_1", "whd_1"},
		{"account", "alerts", "alice", "--low-balance", "5"},
		{"account", "auto-topup", "alice", "--off"},
		{"topup", "list", "alice"},
		{"topup", "confirm", "top_1"},
		{"topup", "cancel", "top_1"},
	}
}

// TestLedgerCommandsRefuseMissingLedger: a mistyped --db, $TALLY_DB or a
// command run from another folder (./tally.db) is refused in one line naming
// the path and --db, exit 2, and leaves no file behind (no -wal or -shm
// either); a key is never made in a ledger no server reads.
func TestLedgerCommandsRefuseMissingLedger(t *testing.T) {
	check := func(t *testing.T, dir, shown string, args []string, extra ...string) {
		t.Helper()
		code, out, errOut := run(t, append(args, extra...)...)
		want := "tally: no ledger at " + shown + " (give --db PATH, or run tally serve or tally migrate to create one)\n"
		if code != exitInvalid || errOut != want || out != "" {
			t.Errorf("tally %s: exit %d, stdout %q, stderr %q; want exit 2 and %q", strings.Join(args, " "), code, out, errOut, want)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Errorf("tally %s left %v in %s; want nothing", strings.Join(args, " "), entries, dir)
		}
	}
	t.Run("Flag", func(t *testing.T) {
		for _, args := range ledgerCommands(t) {
			dir := t.TempDir()
			db := filepath.Join(dir, "typo.db")
			check(t, dir, db, args, "--db", db)
		}
	})
	t.Run("Env", func(t *testing.T) {
		dir := t.TempDir()
		db := filepath.Join(dir, "typo.db")
		t.Setenv("TALLY_DB", db)
		for _, args := range ledgerCommands(t) {
			check(t, dir, db, args)
		}
	})
	t.Run("Default", func(t *testing.T) {
		dir := t.TempDir()
		t.Chdir(dir)
		for _, args := range ledgerCommands(t) {
			if args[0] == "quote" || (args[0] == "catalog" && args[1] == "show") {
				continue // a price lookup needs no ledger: TestQuoteWithoutLedger
			}
			check(t, dir, "./tally.db", args)
		}
	})
}

// TestLedgerCommandsRefuseForeignFile: an existing file that is not a tally
// ledger is refused, and left as it was (not migrated into one).
func TestLedgerCommandsRefuseForeignFile(t *testing.T) {
	dir := t.TempDir()
	for _, tt := range []struct{ name, content string }{{"empty.db", ""}, {"notes.txt", "not a database\n"}} {
		path := filepath.Join(dir, tt.name)
		writeFile(t, path, tt.content)
		code, _, errOut := run(t, "verify", "--db", path)
		if code != exitInvalid || !strings.Contains(errOut, path+" is not a tally ledger") || !strings.Contains(errOut, "--db") {
			t.Errorf("verify --db %s: exit %d, stderr %q; want exit 2, not a tally ledger, --db", tt.name, code, errOut)
		}
		if got := readFile(t, path); got != tt.content {
			t.Errorf("verify changed %s to %q", tt.name, got)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("files after the refusals: %v; want only the two", entries)
	}
}

// TestLedgerCommandsRefuseEmptyPostgres: a PostgreSQL database where tally's
// schema was never made is refused, and the refusal creates no table there.
func TestLedgerCommandsRefuseEmptyPostgres(t *testing.T) {
	dsn := freshDatabase(t)
	for _, args := range [][]string{{"verify"}, {"keys", "create", "--scope", "admin"}, {"catalog", "history"}, {"account", "show", "alice"}} {
		code, _, errOut := run(t, append(args, "--db", dsn)...)
		if code != exitInvalid || !strings.Contains(errOut, "no ledger in ") || !strings.Contains(errOut, "--db") || strings.Count(errOut, "\n") != 1 {
			t.Errorf("tally %s on an empty database: exit %d, stderr %q; want exit 2, one line naming --db", strings.Join(args, " "), code, errOut)
		}
	}
	ctx := context.Background()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close(ctx)
	var tables int
	if err := c.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`).Scan(&tables); err != nil {
		t.Fatal(err)
	}
	if tables != 0 {
		t.Errorf("the refused commands made %d table(s); want none", tables)
	}
	// migrate makes the ledger; then the same commands work.
	if code, _, errOut := run(t, "migrate", "--db", dsn); code != 0 {
		t.Fatalf("migrate: exit %d: %s", code, errOut)
	}
	if code, out, errOut := run(t, "verify", "--db", dsn); code != 0 || !strings.Contains(out, "every invariant holds") {
		t.Errorf("verify after migrate: exit %d, %q %q", code, out, errOut)
	}
}
