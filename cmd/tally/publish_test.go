package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/sqlite"
)

// fluxSix is the built-in catalog with Flux Dev at 6 credits instead of the
// page's 5, as version "2026-12-01.flux6".
func fluxSix(t *testing.T) string {
	t.Helper()
	seed := string(catalog.DefaultYAML())
	changed := strings.Replace(seed, "  - name: Flux Dev\n    kind: image\n    price: {per_image: 5}", "  - name: Flux Dev\n    kind: image\n    price: {per_image: 6}", 1)
	changed = strings.Replace(changed, `version: "2026-11-24.seed"`, `version: "2026-12-01.flux6"`, 1)
	if changed == seed || !strings.Contains(changed, "2026-12-01.flux6") || !strings.Contains(changed, "per_image: 6") {
		t.Fatal("the built-in catalog changed shape: fluxSix no longer applies")
	}
	path := filepath.Join(t.TempDir(), "flux6.yaml")
	writeFile(t, path, changed)
	return path
}

const fluxDevQuote = `{"model":"flux-dev"}`

// TestCatalogPublishTwoNodes runs two `tally serve` in-process on one
// PostgreSQL database, publishes a catalog with `tally catalog publish`, and
// requires both nodes to price with it within a second, and a generation made
// through the second node to record its version.
func TestCatalogPublishTwoNodes(t *testing.T) {
	dsn := freshDatabase(t)
	const admin = "test-admin-key-publish"
	t.Setenv("TALLY_ADMIN_KEY", admin)
	n1 := startServe(t, "--db", dsn)
	defer n1.stop()
	n2 := startServe(t, "--db", dsn)
	defer n2.stop()
	for i, n := range []*server{n1, n2} {
		// The page: Flux Dev, 5 credits per image.
		if got := n.quoteTotal(t, fluxDevQuote); got != cr("5") {
			t.Fatalf("node %d before the publish: Flux Dev = %v; want 5 (the built-in catalog)", i+1, got)
		}
	}

	file := fluxSix(t)
	var out, errOut bytes.Buffer
	if code := (Main{Stdout: &out, Stderr: &errOut}).Run(context.Background(), []string{"catalog", "publish", file, "--db", dsn}); code != 0 {
		t.Fatalf("tally catalog publish: exit %d: %s", code, errOut.String())
	}
	published := time.Now()
	if want := "published 2026-12-01.flux6 (effective "; !strings.HasPrefix(out.String(), want) || !strings.Contains(out.String(), "nodes switch within a second") {
		t.Errorf("tally catalog publish printed %q; want %q… nodes switch within a second", out.String(), want)
	}
	// Both nodes, every 50 ms, until both quote 6 (give up after 5 s).
	nodes := []*server{n1, n2}
	took := make([]time.Duration, len(nodes))
	pollUntil(5*time.Second, func() bool {
		done := true
		for i, n := range nodes {
			if took[i] == 0 && n.quoteTotal(t, fluxDevQuote) == cr("6") {
				took[i] = time.Since(published)
			}
			done = done && took[i] != 0
		}
		return done
	})
	t.Logf("after the publish, node 1 quoted 6 in %v, node 2 in %v", took[0], took[1])
	for i, n := range nodes {
		switch {
		case took[i] == 0:
			t.Errorf("node %d: Flux Dev still not 6 credits 5 s after the publish\n%s", i+1, n.log.String())
		case took[i] > time.Second:
			t.Errorf("node %d quoted the new price %v after the publish; want within 1 s", i+1, took[i])
		}
		if !strings.Contains(n.log.String(), "catalog switched") {
			t.Errorf("node %d did not log the switch:\n%s", i+1, n.log.String())
		}
	}
	if t.Failed() {
		t.FailNow()
	}

	// A generation through node 2 is priced with, and records, the new version.
	for _, args := range [][]string{{"account", "create", "studio-1"}, {"account", "grant", "studio-1", "100", "--source", "topup"}} {
		if code, _, stderr := run(t, append(args, "--db", dsn)...); code != 0 {
			t.Fatalf("tally %s: exit %d: %s", strings.Join(args, " "), code, stderr)
		}
	}
	var g struct {
		CatalogVersion string         `json:"catalog_version"`
		HoldCredits    credit.Credits `json:"hold_credits"`
	}
	n2.postJSON(t, "/v1/generations", admin, `{"account":"studio-1","model":"flux-dev"}`, http.StatusCreated, &g)
	if g.CatalogVersion != "2026-12-01.flux6" || g.HoldCredits != cr("6") {
		t.Errorf("generation through node 2: catalog_version %q, hold %v; want 2026-12-01.flux6 and 6 credits", g.CatalogVersion, g.HoldCredits)
	}

	// The same version again is refused, and changes nothing.
	if code, _, stderr := run(t, "catalog", "publish", file, "--db", dsn); code != exitInvalid || !strings.Contains(stderr, "already published") {
		t.Errorf("publishing 2026-12-01.flux6 again: exit %d, stderr %q; want exit %d, already published", code, stderr, exitInvalid)
	}
	var versions struct {
		InUse    string `json:"in_use"`
		Versions []struct {
			Version string `json:"version"`
		} `json:"versions"`
	}
	n1.getJSON(t, "/v1/catalog/versions", &versions)
	// The built-in catalog stays listed, first: the charges before the publish name it.
	if versions.InUse != "2026-12-01.flux6" || len(versions.Versions) != 2 || versions.Versions[0].Version != "2026-11-24.seed" {
		t.Errorf("GET /v1/catalog/versions on node 1 = %+v; want in_use 2026-12-01.flux6, the built-in version and it", versions)
	}
}

// TestCatalogPublishSQLite publishes to a SQLite file next to a running
// `tally serve` on it: validation, refusal of a duplicate, history, the
// switch, and a version that takes over at its effective time.
func TestCatalogPublishSQLite(t *testing.T) {
	db := filepath.Join(t.TempDir(), "tally.db")
	n := startServe(t, "--db", db)
	defer n.stop()
	if code, out, stderr := run(t, "catalog", "history", "--db", db); code != 0 || !strings.Contains(out, "no catalog published") {
		t.Errorf("history before any publish: exit %d, %q %q; want no catalog published", code, out, stderr)
	}

	// An invalid file: every mistake listed, exit 2, nothing written.
	bad := filepath.Join(t.TempDir(), "bad.yaml")
	writeFile(t, bad, "version: \"x\"\neffective_at: yesterday\nmax_images: 0\nmodels: []\n")
	code, out, stderr := run(t, "catalog", "publish", bad, "--db", db)
	if code != exitInvalid || out != "" || strings.Count(stderr, "catalog: ") < 3 {
		t.Errorf("publish of a file with 3 mistakes: exit %d, stdout %q, stderr %q; want exit 2 and every mistake", code, out, stderr)
	}
	if code, out, _ := run(t, "catalog", "history", "--db", db); code != 0 || !strings.Contains(out, "no catalog published") {
		t.Errorf("history after a refused publish = %q; want nothing published", out)
	}

	file := fluxSix(t)
	if code, out, stderr := run(t, "catalog", "publish", file, "--db", db); code != 0 || !strings.Contains(out, "published 2026-12-01.flux6") {
		t.Fatalf("publish: exit %d, %q %q", code, out, stderr)
	}
	if !pollUntil(5*time.Second, func() bool { return n.quoteTotal(t, fluxDevQuote) == cr("6") }) {
		t.Fatalf("Flux Dev still not 6 credits 5 s after the publish\n%s", n.log.String())
	}
	if code, _, stderr := run(t, "catalog", "publish", file, "--db", db); code != exitInvalid || !strings.Contains(stderr, "already published") {
		t.Errorf("duplicate publish: exit %d, stderr %q; want exit 2, already published", code, stderr)
	}

	// Flux Dev at 7 from two seconds from now: it waits, then takes over.
	later := filepath.Join(t.TempDir(), "later.yaml")
	effective := time.Now().Add(2 * time.Second).UTC().Truncate(time.Second).Add(time.Second)
	text := strings.Replace(readFile(t, file), "per_image: 6}", "per_image: 7}", 1)
	text = strings.Replace(text, `version: "2026-12-01.flux6"`, `version: "2026-12-02.flux7"`, 1)
	text = strings.Replace(text, `effective_at: "2026-11-24T00:00:00Z"`, `effective_at: "`+effective.Format(time.RFC3339)+`"`, 1)
	writeFile(t, later, text)
	if code, out, stderr := run(t, "catalog", "publish", later, "--db", db); code != 0 || !strings.Contains(out, "nodes switch to it then") {
		t.Fatalf("publish of a future version: exit %d, %q %q", code, out, stderr)
	}
	code, out, _ = run(t, "catalog", "history", "--db", db)
	if code != 0 || !strings.Contains(out, "*  2026-12-01.flux6") || !strings.Contains(out, "2026-12-02.flux7") {
		t.Errorf("history with a future version:\n%s\nwant flux6 marked in use, flux7 listed", out)
	}
	if time.Now().Before(effective.Add(-200*time.Millisecond)) && n.quoteTotal(t, fluxDevQuote) != cr("6") {
		t.Errorf("Flux Dev before 2026-12-02.flux7 is effective: want 6")
	}
	if !pollUntil(time.Until(effective)+5*time.Second, func() bool { return n.quoteTotal(t, fluxDevQuote) == cr("7") }) {
		t.Fatalf("Flux Dev not 7 credits after 2026-12-02.flux7 became effective\n%s", n.log.String())
	}
	if time.Now().Before(effective) {
		t.Errorf("Flux Dev was 7 before 2026-12-02.flux7's effective time")
	}
	code, out, _ = run(t, "catalog", "history", "--db", db, "--json")
	var h struct {
		InUse string `json:"in_use"`
	}
	if err := json.Unmarshal([]byte(out), &h); code != 0 || err != nil || h.InUse != "2026-12-02.flux7" {
		t.Errorf("history --json = %s (%v); want in_use 2026-12-02.flux7", out, err)
	}

	// A stored version this build does not accept (written behind the CLI's
	// back, or by another build) is logged and skipped; the node stays put.
	store, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	junk := credit.CatalogRecord{Version: "junk", EffectiveAt: time.Now().Add(-time.Hour), YAML: []byte("version: [broken\n")}
	if err := store.PublishCatalog(context.Background(), junk); err != nil {
		t.Fatal(err)
	}
	if !pollUntil(5*time.Second, func() bool { return strings.Contains(n.log.String(), "published catalog does not validate") }) {
		t.Fatalf("the node did not log the broken version:\n%s", n.log.String())
	}
	if got := n.quoteTotal(t, fluxDevQuote); got != cr("7") {
		t.Errorf("after a broken version was stored, Flux Dev = %v; want 7 (2026-12-02.flux7 stays)", got)
	}
}

// pollUntil checks cond every 50 ms until it holds (true) or limit passes.
func pollUntil(limit time.Duration, cond func() bool) bool {
	for deadline := time.Now().Add(limit); ; time.Sleep(50 * time.Millisecond) {
		if cond() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// postJSON posts body with the API key and decodes the answer into v.
func (s *server) postJSON(t *testing.T, path, key, body string, status int, v any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, s.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var raw json.RawMessage
	if err := json.NewDecoder(resp.Body).Decode(&raw); err != nil || resp.StatusCode != status {
		t.Fatalf("POST %s %s = %d %s, %v; want %d", path, body, resp.StatusCode, raw, err, status)
	}
	if err := json.Unmarshal(raw, v); err != nil {
		t.Fatal(err)
	}
}

// getJSON gets path and decodes the answer into v.
func (s *server) getJSON(t *testing.T, path string, v any) {
	t.Helper()
	resp, err := http.Get(s.base + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d, %v", path, resp.StatusCode, err)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// historyVersions returns the versions tally catalog history --json lists,
// and the one in use.
func historyVersions(t *testing.T, db string) (inUse string, versions []string) {
	t.Helper()
	code, out, errOut := run(t, "catalog", "history", "--db", db, "--json")
	var h struct {
		InUse    string `json:"in_use"`
		Versions []struct {
			Version string `json:"version"`
		} `json:"versions"`
	}
	if err := json.Unmarshal([]byte(out), &h); code != 0 || err != nil {
		t.Fatalf("catalog history --json: exit %d, %v, %s %s", code, err, errOut, out)
	}
	for _, v := range h.Versions {
		versions = append(versions, v.Version)
	}
	return h.InUse, versions
}

// TestCatalogPublishGuards: --dry-run checks and shows the diff against the
// catalog in use and writes nothing; a catalog effective before the one in
// use is refused without --force; the built-in catalog stays a version.
func TestCatalogPublishGuards(t *testing.T) {
	db := filepath.Join(t.TempDir(), "tally.db")
	if code, _, errOut := run(t, "migrate", "--db", db); code != 0 {
		t.Fatal(errOut)
	}
	flux6 := fluxSix(t)
	code, out, errOut := run(t, "catalog", "publish", flux6, "--db", db, "--dry-run")
	// Flux Dev 5 → 6 against the built-in catalog in use: +1.
	if code != 0 || !strings.Contains(out, "nothing was written") || !strings.Contains(out, "2026-11-24.seed (in use) → 2026-12-01.flux6: 1 change(s)") ||
		!strings.Contains(out, "flux-dev 1K: 5 → 6 (+1)") {
		t.Errorf("publish --dry-run: exit %d, stdout:\n%s\nstderr %q; want the one change, nothing written", code, out, errOut)
	}
	if inUse, versions := historyVersions(t, db); inUse != "2026-11-24.seed" || strings.Join(versions, " ") != "2026-11-24.seed" {
		t.Errorf("after a dry run: in use %s, versions %v; want only the built-in 2026-11-24.seed", inUse, versions)
	}
	if code, _, errOut := run(t, "catalog", "publish", flux6, "--db", db); code != 0 {
		t.Fatalf("publish: exit %d: %s", code, errOut)
	}

	// A catalog effective 2026-11-01, before 2026-12-01.flux6's 2026-11-24.
	older := filepath.Join(t.TempDir(), "older.yaml")
	text := strings.Replace(string(catalog.DefaultYAML()), `version: "2026-11-24.seed"`, `version: "2026-11-01.old"`, 1)
	writeFile(t, older, strings.Replace(text, `effective_at: "2026-11-24T00:00:00Z"`, `effective_at: "2026-11-01T00:00:00Z"`, 1))
	for _, extra := range [][]string{nil, {"--dry-run"}} {
		code, out, errOut := run(t, append([]string{"catalog", "publish", older, "--db", db}, extra...)...)
		if code != exitInvalid || out != "" || strings.Count(errOut, "\n") != 1 ||
			!strings.Contains(errOut, "before 2026-12-01.flux6") || !strings.Contains(errOut, "--force") {
			t.Errorf("publish of an older catalog %v: exit %d, stdout %q, stderr %q; want exit 2, one line naming the version in use and --force", extra, code, out, errOut)
		}
	}
	if inUse, versions := historyVersions(t, db); inUse != "2026-12-01.flux6" || len(versions) != 2 {
		t.Errorf("after the refusals: in use %s, versions %v; want 2026-12-01.flux6, two versions", inUse, versions)
	}
	// The built-in catalog's version is taken.
	builtIn := filepath.Join(t.TempDir(), "seed.yaml")
	writeFile(t, builtIn, string(catalog.DefaultYAML()))
	if code, _, errOut := run(t, "catalog", "publish", builtIn, "--db", db, "--force"); code != exitInvalid || !strings.Contains(errOut, "built-in catalog") {
		t.Errorf("publish of the built-in version: exit %d, stderr %q; want exit 2, the built-in catalog's", code, errOut)
	}
	// --force rolls back on purpose: the newest publish wins.
	if code, _, errOut := run(t, "catalog", "publish", older, "--db", db, "--force"); code != 0 {
		t.Fatalf("publish --force: exit %d: %s", code, errOut)
	}
	if inUse, versions := historyVersions(t, db); inUse != "2026-11-01.old" || strings.Join(versions, " ") != "2026-11-24.seed 2026-12-01.flux6 2026-11-01.old" {
		t.Errorf("after --force: in use %s, versions %v; want 2026-11-01.old in use, the built-in listed first", inUse, versions)
	}
	code, out, _ = run(t, "catalog", "history", "--db", db)
	if code != 0 || !strings.Contains(out, "2026-11-24.seed   2026-11-24T00:00:00Z  built in") || !strings.Contains(out, "*  2026-11-01.old") {
		t.Errorf("catalog history:\n%s\nwant the built-in version listed, 2026-11-01.old marked in use", out)
	}
}
