package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// quoteJSON runs tally quote --json with args and returns the total and the
// catalog version it was priced with.
func quoteJSON(t *testing.T, args ...string) (total, version string) {
	t.Helper()
	code, out, errOut := run(t, append([]string{"quote", "--json"}, args...)...)
	if code != 0 {
		t.Fatalf("quote %v: exit %d: %s", args, code, errOut)
	}
	var q struct {
		Total   json.Number `json:"total_credits"`
		Version string      `json:"catalog_version"`
	}
	if err := json.Unmarshal([]byte(out), &q); err != nil {
		t.Fatalf("quote %v: %v\n%s", args, err, out)
	}
	return q.Total.String(), q.Version
}

// TestQuoteFollowsLedger: after a publish, tally quote and tally catalog show
// price with the catalog in use in the ledger, as the server does.
// Flux Dev is 5 credits on the page; fluxSix publishes it at 6.
func TestQuoteFollowsLedger(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "tally.db")
	for _, args := range [][]string{{"migrate"}, {"catalog", "publish", fluxSix(t)}} {
		if code, _, errOut := run(t, append(args, "--db", db)...); code != 0 {
			t.Fatalf("%v: exit %d: %s", args, code, errOut)
		}
	}
	seven := filepath.Join(t.TempDir(), "seven.yaml")
	writeFile(t, seven, strings.Replace(strings.Replace(readFile(t, fluxSix(t)), "per_image: 6}", "per_image: 7}", 1), "2026-12-01.flux6", "draft.flux7", 1))

	check := func(name, wantTotal, wantVersion string, args ...string) {
		t.Helper()
		if total, version := quoteJSON(t, append([]string{"--model", "flux-dev"}, args...)...); total != wantTotal || version != wantVersion {
			t.Errorf("%s: Flux Dev = %s credits, catalog %s; want %s, %s", name, total, version, wantTotal, wantVersion)
		}
	}
	check("--db", "6", "2026-12-01.flux6", "--db", db)
	check("--db beats --catalog while the ledger has a version in effect", "6", "2026-12-01.flux6", "--db", db, "--catalog", seven)
	t.Run("Env", func(t *testing.T) {
		t.Setenv("TALLY_DB", db)
		check("$TALLY_DB", "6", "2026-12-01.flux6")
	})
	t.Run("DefaultLedger", func(t *testing.T) {
		t.Chdir(dir) // ./tally.db is the ledger
		check("./tally.db", "6", "2026-12-01.flux6")
		check("--catalog alone prices with the file", "7", "draft.flux7", "--catalog", seven)
		code, out, errOut := run(t, "catalog", "show", "--json")
		if code != 0 || !strings.Contains(out, `"version": "2026-12-01.flux6"`) {
			t.Errorf("catalog show in the ledger's folder: exit %d, %s %s; want version 2026-12-01.flux6", code, errOut, out[:min(len(out), 200)])
		}
	})
	code, out, _ := run(t, "catalog", "show", "--db", db)
	if code != 0 || !strings.Contains(out, "Catalog 2026-12-01.flux6") || !regexp.MustCompile(`\nFlux Dev +6 `).MatchString(out) {
		t.Errorf("catalog show --db:\n%s\nwant 2026-12-01.flux6 with Flux Dev at 6", out)
	}
	// Another ledger with nothing published: the built-in catalog.
	empty := filepath.Join(t.TempDir(), "empty.db")
	if code, _, errOut := run(t, "migrate", "--db", empty); code != 0 {
		t.Fatal(errOut)
	}
	check("a ledger with nothing published", "5", "2026-11-24.seed", "--db", empty)
	check("a ledger with nothing published, and --catalog", "7", "draft.flux7", "--db", empty, "--catalog", seven)
}

// TestQuoteWithoutLedger: with no --db, no $TALLY_DB and no ./tally.db a
// price lookup works on the built-in catalog, and creates no ledger.
func TestQuoteWithoutLedger(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	check := func(args ...string) {
		t.Helper()
		if total, version := quoteJSON(t, args...); total != "5" || version != "2026-11-24.seed" {
			t.Errorf("quote %v = %s, %s; want the page's 5 credits, 2026-11-24.seed", args, total, version)
		}
	}
	check("--model", "flux-dev")
	if code, out, errOut := run(t, "catalog", "show"); code != 0 || !strings.Contains(out, "Catalog 2026-11-24.seed") {
		t.Errorf("catalog show: exit %d, %s", code, errOut)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("quote and catalog show left %v; want nothing", entries)
	}
}
