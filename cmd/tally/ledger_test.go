package main

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"
)

// TestAccountCommands runs the operator's commands on a real SQLite file.
func TestAccountCommands(t *testing.T) {
	db := filepath.Join(t.TempDir(), "tally.db")
	ok := func(args ...string) string {
		t.Helper()
		code, out, errOut := run(t, append(args, "--db", db)...)
		if code != 0 {
			t.Fatalf("tally %s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		return out
	}
	refused := func(reason string, args ...string) {
		t.Helper()
		code, out, errOut := run(t, append(args, "--db", db)...)
		if code != exitInvalid || !strings.Contains(errOut, reason) || strings.Count(errOut, "\n") != 1 {
			t.Errorf("tally %s: exit %d, stderr %q, stdout %q; want exit %d and one line naming %q", strings.Join(args, " "), code, errOut, out, exitInvalid, reason)
		}
	}
	ok("migrate")
	ok("account", "create", "alice")
	refused("already exists", "account", "create", "alice")
	ok("account", "grant", "alice", "100", "--source", "subscription", "--expires-in", "720h")
	ok("account", "grant", "alice", "12.5", "--source", "promo", "--priority", "1")
	refused("unknown grant source", "account", "grant", "alice", "5", "--source", "gift")
	refused("more than three decimals", "account", "grant", "alice", "1.2345")
	refused("unknown account", "account", "grant", "bob", "5")
	out := ok("account", "show", "alice")
	// 100 + 12.5 = 112.5, typed by hand.
	if !strings.Contains(out, "available 112.5 credits") || !strings.Contains(out, "subscription") || !strings.Contains(out, "promo") {
		t.Errorf("account show:\n%s", out)
	}
	out = ok("account", "history", "alice")
	if strings.Count(out, "grant") != 2 || !strings.Contains(out, "+12.5") {
		t.Errorf("account history:\n%s", out)
	}
	if out := ok("verify"); !strings.Contains(out, "every invariant holds") {
		t.Errorf("verify: %s", out)
	}

	token := strings.TrimSpace(ok("keys", "create", "--scope", "account", "--account", "alice", "--name", "alice's app"))
	if !strings.HasPrefix(token, "tally_") || len(token) < 40 {
		t.Errorf("keys create printed %q; want a tally_ token", token)
	}
	refused("needs the account", "keys", "create", "--scope", "account")
	refused("unknown key scope", "keys", "create", "--scope", "root")
	list := ok("keys", "list")
	if !strings.Contains(list, "alice's app") || strings.Contains(list, token) {
		t.Errorf("keys list must name the key and never show its secret:\n%s", list)
	}
	id := strings.Split(strings.TrimPrefix(token, "tally_"), "_")[0]
	ok("keys", "revoke", id)
	if list := ok("keys", "list"); !strings.Contains(list, "revoked") {
		t.Errorf("keys list after revoke:\n%s", list)
	}
}

// TestVerifyNamesViolations corrupts a balance behind the ledger's back:
// verify must exit non-zero and name the broken invariant.
func TestVerifyNamesViolations(t *testing.T) {
	db := filepath.Join(t.TempDir(), "tally.db")
	for _, args := range [][]string{{"migrate"}, {"account", "create", "carol"}, {"account", "grant", "carol", "10"}} {
		if code, _, errOut := run(t, append(args, "--db", db)...); code != 0 {
			t.Fatalf("%v: %s", args, errOut)
		}
	}
	raw, err := sql.Open("sqlite", "file:"+db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`UPDATE accounts SET available = available + 1000 WHERE id = 'carol'`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	code, out, _ := run(t, "verify", "--db", db)
	if code == 0 || !strings.Contains(out, "VIOLATION account_fold") || !strings.Contains(out, "carol") {
		t.Errorf("verify after corruption: exit %d, output:\n%s\nwant non-zero and an account_fold violation naming carol", code, out)
	}
}

func TestStoreNameRedactsPassword(t *testing.T) {
	f := storeFlags{db: "postgres://tally:s3cret@db.internal:5432/tally?sslmode=require"}
	if got := f.name(); strings.Contains(got, "s3cret") || !strings.Contains(got, "db.internal") {
		t.Errorf("name() = %q; want the URL without its password", got)
	}
	if f := (storeFlags{db: "./tally.db"}); f.name() != "./tally.db" {
		t.Errorf("name() = %q; want the path as given", f.name())
	}
}
