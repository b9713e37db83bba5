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
	"sync"
	"sync/atomic"
	"testing"
	"time"

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
// and nothing is written; reads still work. Once the fault is cleared, writes
// succeed again with no restart.
// As root, file permissions do not stop writes, so the file is made immutable
// with chattr +i instead (skipped where chattr is not available).
func TestReadOnlyFile(t *testing.T) {
	ctx := context.Background()
	ro, clear := openReadOnly(t, "before")
	// SQLite opened it read-only: every write must be refused as
	// Unavailable, saying so, with nothing written.
	l := credit.NewLedger(ro, credit.LedgerConfig{})
	var err error
	for range 3 {
		_, err = l.CreateAccount(ctx, nil, "acme", 0)
		if credit.ErrorCode(err) != credit.Unavailable || !strings.Contains(err.Error(), "read-only") {
			t.Errorf("a write on a read-only file = %v; want Unavailable saying the database is read-only", err)
		}
	}
	if _, err := l.Account(ctx, "acme"); credit.ErrorCode(err) != credit.NotFound {
		t.Errorf("Account(acme) after the refused write = %v; want NotFound", err)
	}
	if _, err := l.Account(ctx, "before"); err != nil {
		t.Errorf("reading while the file is read-only = %v; want reads to work", err)
	}

	// The operator clears the fault: writes work again, no restart. The
	// store reopens the file at most every 100 ms, so a few writes may still
	// be refused; each is retried as a client would.
	clear()
	var ok bool
	for range 250 {
		_, err = l.CreateAccount(ctx, nil, "acme", 0)
		if err == nil {
			ok = true
			break
		}
		if credit.ErrorCode(err) != credit.Unavailable {
			t.Fatalf("a write after the fault cleared = %v; want success (or Unavailable until the reopen)", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !ok {
		t.Fatalf("writes still refused 5 s after the file became writable: %v", err)
	}
	if _, err := l.AddGrant(ctx, nil, "acme", credit.GrantSpec{Credits: credit.Whole(10), Source: credit.SourceTopup}); err != nil {
		t.Errorf("a second write after the fault cleared = %v", err)
	}
	if a, err := l.Account(ctx, "acme"); err != nil || a.Available != credit.Whole(10) {
		t.Errorf("Account(acme) = %+v, %v; want 10 credits available", a, err)
	}
	if vs, err := l.Verify(ctx); err != nil || len(vs) != 0 {
		t.Errorf("Verify after the fault = %v, %v; want clean", vs, err)
	}
}

// openReadOnly makes a database file holding one account, makes the file
// read-only (see readOnly) and opens it; clear makes it writable again. Both
// are undone when the test ends.
func openReadOnly(t *testing.T, account string) (ro *tsqlite.DB, clear func()) {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tally.db")
	db := MustOpenPath(t, path)
	if _, err := credit.NewLedger(db, credit.LedgerConfig{}).CreateAccount(ctx, nil, account, 0); err != nil {
		t.Fatal(err)
	}
	db.Close()
	protect, clear := readOnly(t, path)
	protect()
	t.Cleanup(clear)
	ro, err := tsqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("Open(read-only file) = %v; want it opened for reading", err)
	}
	t.Cleanup(func() { ro.Close() })
	return ro, clear
}

// readOnly returns functions that make the file at path read-only to this
// process and writable again: chattr +i as root (whom permissions do not
// stop; skips the test without a working chattr), chmod 0444 otherwise.
func readOnly(t *testing.T, path string) (protect, clear func()) {
	t.Helper()
	if os.Geteuid() == 0 {
		if out, err := exec.Command("chattr", "-i", path).CombinedOutput(); err != nil {
			t.Skipf("running as root without a working chattr (%v: %s): cannot make a read-only file here", err, out)
		}
		chattr := func(flag string) func() {
			return func() {
				if out, err := exec.Command("chattr", flag, path).CombinedOutput(); err != nil {
					t.Fatalf("chattr %s %s: %v: %s", flag, path, err, out)
				}
			}
		}
		return chattr("+i"), chattr("-i")
	}
	chmod := func(mode os.FileMode) func() {
		return func() {
			if err := os.Chmod(path, mode); err != nil {
				t.Fatal(err)
			}
		}
	}
	return chmod(0o444), chmod(0o644)
}

// TestReadOnlyRecoversUnderLoad clears a read-only fault while readers and
// writers hammer the store: the old opening is retired under their feet, and
// no request may fail with anything but Unavailable (never an Internal error
// from a closed pool or statement); every write answered nil is there.
func TestReadOnlyRecoversUnderLoad(t *testing.T) {
	ctx := context.Background()
	ro, clear := openReadOnly(t, "acme")
	l := credit.NewLedger(ro, credit.LedgerConfig{})

	var (
		wg      sync.WaitGroup
		granted atomic.Int64
		stop    atomic.Bool
	)
	errs := make(chan error, 64)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				var err error
				if w%2 == 0 {
					_, err = l.Account(ctx, "acme")
				} else if _, err = l.AddGrant(ctx, nil, "acme", credit.GrantSpec{Credits: credit.Whole(1), Source: credit.SourceTopup}); err == nil {
					granted.Add(1)
				}
				if err != nil && (w%2 == 0 || credit.ErrorCode(err) != credit.Unavailable) {
					select {
					case errs <- err:
					default:
					}
				}
				time.Sleep(time.Millisecond)
			}
		}()
	}
	time.Sleep(50 * time.Millisecond)
	clear()
	for i := 0; i < 500 && granted.Load() < 50; i++ {
		time.Sleep(10 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("a request while the fault cleared = %v; want reads to work and writes to succeed or be Unavailable", err)
	}
	if granted.Load() < 50 {
		t.Fatalf("%d grants succeeded in 5 s after the file became writable; want 50", granted.Load())
	}
	if a, err := l.Account(ctx, "acme"); err != nil || a.Available != credit.Whole(granted.Load()) {
		t.Errorf("Account(acme) = %+v, %v; want %d credits, one per grant answered nil", a, err, granted.Load())
	}
	if vs, err := l.Verify(ctx); err != nil || len(vs) != 0 {
		t.Errorf("Verify = %v, %v; want clean", vs, err)
	}
}

// TestFilesTurnReadOnlyWhileServing: the database and its WAL become
// immutable under a running store (as root, with chattr +i; the nearest a
// test gets to a file system remounted read-only):
// writes fail Unavailable and write nothing; once the files are writable
// again, the same opening writes on, and the journal verifies. (The -shm too
// is left out: under the race detector that crashed the process inside the
// driver's C-to-Go code — see RELIABILITY.md.)
func TestFilesTurnReadOnlyWhileServing(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root for chattr +i: permissions do not affect files already open")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tally.db")
	db := MustOpenPath(t, path)
	l := credit.NewLedger(db, credit.LedgerConfig{})
	if _, err := l.CreateAccount(ctx, nil, "acme", 0); err != nil {
		t.Fatal(err)
	}
	var clears []func()
	for _, f := range []string{path, path + "-wal"} {
		protect, clear := readOnly(t, f)
		protect()
		defer clear()
		clears = append(clears, clear)
	}
	for range 3 {
		_, err := l.AddGrant(ctx, nil, "acme", credit.GrantSpec{Credits: credit.Whole(7), Source: credit.SourceTopup})
		if credit.ErrorCode(err) != credit.Unavailable {
			t.Fatalf("a write while the files are immutable = %v; want Unavailable", err)
		}
	}
	for _, clear := range clears {
		clear()
	}
	if _, err := l.AddGrant(ctx, nil, "acme", credit.GrantSpec{Credits: credit.Whole(5), Source: credit.SourceTopup}); err != nil {
		t.Fatalf("a write once the files are writable = %v", err)
	}
	if a, err := l.Account(ctx, "acme"); err != nil || a.Available != credit.Whole(5) {
		t.Errorf("Account(acme) = %+v, %v; want 5 credits: the refused grants of 7 wrote nothing", a, err)
	}
	if vs, err := l.Verify(ctx); err != nil || len(vs) != 0 {
		t.Errorf("Verify = %v, %v; want clean", vs, err)
	}
}
