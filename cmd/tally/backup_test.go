package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/sqlite"
)

// TestBackupRestoreUnderLoad runs `tally serve` on a SQLite file under HTTP
// load (8 clients creating and completing generations on 4 accounts), takes
// `tally backup` of the file while it serves, and `tally restore`s the backup
// into a new file. The restored ledger passes `tally verify` (every balance is
// the fold of its journal), holds at least the transactions committed before
// the backup began, and its journal is a prefix of the live one: it is a
// state the server passed through. Restore refuses a target the server has
// open, an existing target without --force, and a file that is not a ledger.
func TestBackupRestoreUnderLoad(t *testing.T) {
	const admin = "test-admin-key-backup"
	t.Setenv("TALLY_ADMIN_KEY", admin)
	dir := t.TempDir()
	live := filepath.Join(dir, "live.db")
	s := startServe(t, "--db", live)
	running := true
	defer func() {
		if running {
			s.stop()
		}
	}()

	accounts := []string{"studio-0", "studio-1", "studio-2", "studio-3"}
	for _, id := range accounts {
		s.postJSON(t, "/v1/accounts", admin, `{"id":"`+id+`"}`, http.StatusCreated, &struct{}{})
		s.postJSON(t, "/v1/accounts/"+id+"/grants", admin, `{"credits":1000000,"source":"topup"}`, http.StatusCreated, &struct{}{})
	}
	var (
		cycles atomic.Int64
		stop   = make(chan struct{})
		wg     sync.WaitGroup
		errs   = make(chan error, 8)
	)
	for w := range 8 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				acct := accounts[(w+i)%len(accounts)]
				var g struct {
					ID string `json:"id"`
				}
				if err := backupPost(s, "/v1/generations", admin, `{"account":"`+acct+`","model":"flux-dev","images":2}`, http.StatusCreated, &g); err != nil {
					errs <- err
					return
				}
				if err := backupPost(s, "/v1/generations/"+g.ID+"/complete", admin, fmt.Sprintf(`{"images_delivered":%d}`, 1+i%2), http.StatusOK, &g); err != nil {
					errs <- err
					return
				}
				cycles.Add(1)
			}
		})
	}
	stopLoad := func() {
		t.Helper()
		select {
		case <-stop:
			return
		default:
		}
		close(stop)
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
	}
	defer stopLoad()
	backupWaitCycles(t, &cycles, 30)

	// The backup, while the load goes on.
	bk := filepath.Join(t.TempDir(), "tally-backup.db")
	before := backupJournalLength(t, live)
	code, out, errOut := run(t, "backup", bk, "--db", live, "--json")
	if code != 0 {
		t.Fatalf("tally backup: exit %d: %s", code, errOut)
	}
	var info backupJSON
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("tally backup --json printed %q: %v", out, err)
	}
	if info.Path != bk || info.Accounts != len(accounts) || info.Transactions < before || info.Bytes == 0 {
		t.Errorf("tally backup --json = %+v; want path %s, %d accounts, at least %d transactions", info, bk, len(accounts), before)
	}
	backupWaitCycles(t, &cycles, cycles.Load()+30)

	// Refusals while the server runs.
	refused := func(reason string, args ...string) {
		t.Helper()
		code, out, errOut := run(t, args...)
		if code != exitInvalid || !strings.Contains(errOut, reason) || strings.Count(errOut, "\n") != 1 || !strings.HasPrefix(errOut, "tally: ") {
			t.Errorf("tally %s: exit %d, stderr %q, stdout %q; want exit %d and one line naming %q", strings.Join(args, " "), code, errOut, out, exitInvalid, reason)
		}
	}
	refused("already exists (--force replaces it)", "backup", bk, "--db", live)
	refused("in use by another connection", "restore", bk, "--db", live, "--force")
	refused("pg_dump", "backup", bk, "--db", "postgres://tally:secret@db.internal/tally")
	refused("pg_restore", "restore", bk, "--db", "postgres://tally@db.internal/tally")
	garbage := filepath.Join(dir, "garbage.db")
	writeFile(t, garbage, strings.Repeat("this is not a database ", 200))
	refused("not a SQLite database", "restore", garbage, "--db", filepath.Join(dir, "never.db"))
	refused("no backup at", "restore", filepath.Join(dir, "missing.db"), "--db", filepath.Join(dir, "never.db"))
	refused("no such directory", "backup", filepath.Join(dir, "missing", "b.db"), "--db", live)

	// The restore, into a new file, while the server still runs on the old.
	restored := filepath.Join(t.TempDir(), "restored.db")
	code, out, errOut = run(t, "restore", bk, "--db", restored)
	if code != 0 || !strings.Contains(out, "every invariant holds") {
		t.Fatalf("tally restore: exit %d, stdout %q, stderr %q", code, out, errOut)
	}
	refused("already exists (--force replaces it)", "restore", bk, "--db", restored)
	if code, out, errOut := run(t, "verify", "--db", restored); code != 0 || !strings.Contains(out, "every invariant holds") {
		t.Fatalf("tally verify --db restored: exit %d, %q %q", code, out, errOut)
	}

	stopLoad()
	got, want := backupSnapshot(t, restored), backupSnapshot(t, live)
	n := len(got.Entries)
	t.Logf("journal: %d transactions before the backup, %d restored, %d at the end (%d cycles)", before, n, len(want.Entries), cycles.Load())
	if n < before || n != info.Transactions || n > len(want.Entries) {
		t.Fatalf("restored %d transactions; want the backup's %d, at least the %d before it began, at most the %d at the end", n, info.Transactions, before, len(want.Entries))
	}
	if !reflect.DeepEqual(got.Entries, want.Entries[:n]) {
		t.Errorf("the restored journal is not the first %d transactions of the live one", n)
	}
	// Each restored account's balance is the one its last transaction in
	// that prefix recorded: what the live server showed at that moment.
	last := map[string]credit.Entry{}
	for _, tr := range want.Entries[:n] {
		last[tr.Account] = tr
	}
	for _, a := range got.Accounts {
		if tr, ok := last[a.ID]; !ok || a.Available != tr.AvailableAfter || a.Held != tr.HeldAfter {
			t.Errorf("restored %s: available %v, held %v; the live journal's transaction #%d recorded %v, %v", a.ID, a.Available, a.Held, tr.ID, tr.AvailableAfter, tr.HeldAfter)
		}
	}

	// Stopped, the server lets go of the file, and the backup may replace it.
	if code := s.stop(); code != 0 {
		t.Errorf("serve exited %d", code)
	}
	running = false
	if code, out, errOut := run(t, "restore", bk, "--db", live, "--force"); code != 0 {
		t.Fatalf("tally restore --force over the stopped server's file: exit %d, %q %q", code, out, errOut)
	}
	if code, _, errOut := run(t, "verify", "--db", live); code != 0 {
		t.Errorf("tally verify after restoring over the live file: exit %d: %s", code, errOut)
	}
	if got := backupSnapshot(t, live); len(got.Entries) != n {
		t.Errorf("after restore --force the ledger has %d transactions; want the backup's %d", len(got.Entries), n)
	}
}

// TestRestoreRefusesUnverifiedBackup backs up a ledger whose balance was
// changed behind its back: the backup is a faithful copy, but restore runs
// verify on it and refuses it, naming the violation.
func TestRestoreRefusesUnverifiedBackup(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "tally.db")
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
	bk := filepath.Join(dir, "backup.db")
	if code, out, errOut := run(t, "backup", bk, "--db", db); code != 0 || !strings.HasPrefix(out, "backed up "+db+" to "+bk+": ") {
		t.Fatalf("tally backup: exit %d, %q %q", code, out, errOut)
	}
	target := filepath.Join(dir, "restored.db")
	code, out, errOut := run(t, "restore", bk, "--db", target)
	if code != exitInvalid || !strings.Contains(errOut, "fails verify") || strings.Count(errOut, "\n") != 1 ||
		!strings.Contains(out, "VIOLATION account_fold") || !strings.Contains(out, "carol") {
		t.Errorf("restore of an unverifiable backup: exit %d, stdout %q, stderr %q; want exit %d, fails verify, an account_fold violation naming carol", code, out, errOut, exitInvalid)
	}
	// Nothing was put in place, and nothing is left behind. (The backup's
	// read-only connection leaves the ledger's -wal and -shm, as every
	// read-only SQLite connection to a WAL file that no one else has open.)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if want := []string{"backup.db", "tally.db", "tally.db-shm", "tally.db-wal"}; !slices.Equal(names, want) {
		t.Errorf("after the refused restore %s holds %q; want %q", dir, names, want)
	}
}

// backupPost posts body and decodes the answer into v; unlike postJSON it can
// run on any goroutine.
func backupPost(s *server, path, key, body string, status int, v any) error {
	req, err := http.NewRequest(http.MethodPost, s.base+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	if _, err := buf.ReadFrom(resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != status {
		return fmt.Errorf("POST %s %s = %d %s; want %d", path, body, resp.StatusCode, buf.String(), status)
	}
	return json.Unmarshal(buf.Bytes(), v)
}

func backupWaitCycles(t *testing.T, cycles *atomic.Int64, n int64) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); cycles.Load() < n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the clients did %d cycles in 30 s; want %d", cycles.Load(), n)
		}
	}
}

// backupJournalLength counts the journal's transactions in the SQLite file
// at path, on a read-only connection beside the server.
func backupJournalLength(t *testing.T, path string) int {
	t.Helper()
	raw, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var n int
	if err := raw.QueryRow(`SELECT count(*) FROM transactions`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// backupSnapshot reads the whole ledger in the SQLite file at path.
func backupSnapshot(t *testing.T, path string) *credit.Snapshot {
	t.Helper()
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := credit.ReadSnapshot(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return s
}
