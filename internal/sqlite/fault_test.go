package sqlite_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/httpapi"
	tsqlite "github.com/tally-credits/tally/internal/sqlite"
)

// TestDiskFull fills the database (SQLite's max_page_count caps the file at
// its size, which is how SQLite reports a full disk: SQLITE_FULL) while a
// server takes generations: each write answers 503 store_unavailable with a
// problem that says the disk is full, nothing of it is written, and once
// space is back the next request succeeds with no restart and the journal
// verifies. Flux Dev at 1K is 5 credits on the seed page.
func TestDiskFull(t *testing.T) {
	db := MustOpenDB(t)
	ctx := context.Background()
	cat := catalog.Default()
	srv := httpapi.NewServer(httpapi.Config{Catalog: cat, AdminKey: "admin-secret", Version: "test"})
	l := credit.NewLedger(db, credit.LedgerConfig{Catalog: srv.Catalog})
	srv.SetLedger(l)
	ts := httptest.NewServer(srv)
	defer ts.Close()
	post := func(path, body string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, ts.URL+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer admin-secret")
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var m map[string]any
		_ = json.Unmarshal(b, &m)
		return resp.StatusCode, m
	}
	if code, _ := post("/v1/accounts", `{"id":"acme"}`); code != http.StatusCreated {
		t.Fatalf("create account = %d", code)
	}
	if code, _ := post("/v1/accounts/acme/grants", `{"credits":1000,"source":"topup"}`); code != http.StatusCreated {
		t.Fatalf("grant = %d", code)
	}
	before, err := l.Account(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	entries := func() int {
		es, err := l.Entries(ctx, "acme", 0, 1000)
		if err != nil {
			t.Fatal(err)
		}
		return len(es)
	}
	n0 := entries()

	// The disk is full: the file may not grow by one page.
	w := db.Writer()
	var pages int64
	if err := w.QueryRowContext(ctx, `PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := w.ExecContext(ctx, `PRAGMA max_page_count = `+strconv.FormatInt(pages, 10)); err != nil {
		t.Fatal(err)
	}
	full := 0
	for range 200 { // enough writes to need a new page
		code, p := post("/v1/generations", `{"account":"acme","model":"flux-dev"}`)
		if code == http.StatusCreated {
			continue
		}
		if code != http.StatusServiceUnavailable || p["code"] != "store_unavailable" || p["type"] == nil {
			t.Fatalf("a write on a full disk = %d %v; want a 503 store_unavailable problem", code, p)
		}
		if d, _ := p["detail"].(string); !strings.Contains(d, "disk is full") {
			t.Errorf("the 503's detail = %q; want it to say the disk is full", d)
		}
		full++
		break
	}
	if full == 0 {
		t.Fatal("200 generations fitted in the file's last page; the test never filled the disk")
	}
	held, err := l.Account(ctx, "acme")
	if err != nil {
		t.Fatalf("reading while the disk is full = %v; want reads to work", err)
	}
	// Nothing partial: whatever was held was held by whole generations of 5.
	if held.Available+held.Held != before.Available || held.Held%credit.Whole(5) != 0 {
		t.Errorf("after the refused write: available %s, held %s; want whole holds of 5 out of %s", held.Available, held.Held, before.Available)
	}
	ok := int(held.Held / credit.Whole(5))
	if got := entries() - n0; got != ok {
		t.Errorf("journal has %d new entries; want %d (one per generation answered 201, none for the refused one)", got, ok)
	}

	// Space is back: the next write succeeds, no restart.
	if _, err := w.ExecContext(ctx, `PRAGMA max_page_count = 1073741823`); err != nil {
		t.Fatal(err)
	}
	if code, p := post("/v1/generations", `{"account":"acme","model":"flux-dev"}`); code != http.StatusCreated {
		t.Fatalf("a write once space is back = %d %v; want 201", code, p)
	}
	if vs, err := l.Verify(ctx); err != nil || len(vs) != 0 {
		t.Errorf("Verify after the disk was full = %v, %v; want clean", vs, err)
	}
}

// TestReadOnlyFile: on a database file tally may not write, every write is
// refused as Unavailable (503 over HTTP) saying the database is read-only,
// and nothing is written; reads still work.
// As root, file permissions do not stop writes, so the file is made immutable
// with chattr +i instead (skipped where chattr is not available).
func TestReadOnlyFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "tally.db")
	db := MustOpenPath(t, path)
	db.Close()
	if os.Geteuid() == 0 {
		if out, err := exec.Command("chattr", "+i", path).CombinedOutput(); err != nil {
			t.Skipf("running as root without a working chattr (%v: %s): cannot make a read-only file here", err, out)
		}
		defer exec.Command("chattr", "-i", path).Run()
	} else {
		if err := os.Chmod(path, 0o444); err != nil {
			t.Fatal(err)
		}
	}
	ro, err := tsqlite.Open(context.Background(), path)
	if err != nil {
		if credit.ErrorCode(err) != credit.Unavailable {
			t.Errorf("Open(read-only file) = %v; want Unavailable", err)
		}
		return
	}
	defer ro.Close()
	// SQLite opened it read-only: every write must be refused as
	// Unavailable, saying so, with nothing written.
	l := credit.NewLedger(ro, credit.LedgerConfig{})
	_, err = l.CreateAccount(context.Background(), nil, "acme", 0)
	if credit.ErrorCode(err) != credit.Unavailable || !strings.Contains(err.Error(), "read-only") {
		t.Errorf("a write on a read-only file = %v; want Unavailable saying the database is read-only", err)
	}
	if _, err := l.Account(context.Background(), "acme"); credit.ErrorCode(err) != credit.NotFound {
		t.Errorf("Account(acme) after the refused write = %v; want NotFound", err)
	}
}
