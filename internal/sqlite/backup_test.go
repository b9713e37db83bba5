package sqlite_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
	tsqlite "github.com/tally-credits/tally/internal/sqlite"
)

// TestBackupUnderLoad backs up a store while 8 goroutines create and complete
// generations on 4 accounts through a Ledger. The copy must open, pass
// Verify (every transaction in it is whole: balances are the folds of the
// postings), and hold a prefix of the live journal at least as long as the
// journal was when the backup began.
func TestBackupUnderLoad(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := MustOpenPath(t, filepath.Join(dir, "live.db"))
	l := testLedger(db)
	accounts := []string{"acct-0", "acct-1", "acct-2", "acct-3"}
	for _, id := range accounts {
		grantAccount(t, l, id, credit.Whole(1_000_000))
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
				g, err := l.CreateGeneration(ctx, nil, credit.GenerationSpec{Account: acct, Request: credit.QuoteRequest{Model: "flux-dev", Images: 2}})
				if err != nil {
					errs <- fmt.Errorf("CreateGeneration on %s: %w", acct, err)
					return
				}
				if _, err := l.CompleteGeneration(ctx, nil, g.ID, 1+i%2); err != nil {
					errs <- fmt.Errorf("CompleteGeneration %s: %w", g.ID, err)
					return
				}
				cycles.Add(1)
			}
		})
	}
	waitCycles(t, &cycles, 50)

	dest := filepath.Join(dir, "backup.db")
	before := journalLength(t, db)
	info, err := db.Backup(ctx, dest, tsqlite.BackupOptions{})
	after := journalLength(t, db)
	if err != nil {
		t.Fatalf("Backup under load = %v", err)
	}
	waitCycles(t, &cycles, cycles.Load()+50) // the writers go on after the backup
	close(stop)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("journal: %d transactions when the backup began, %d in the backup, %d when it ended; %d bytes", before, info.Transactions, after, info.Bytes)

	if info.Path != dest || info.Accounts != len(accounts) || info.Transactions < before || info.Transactions > after {
		t.Errorf("Backup info = %+v; want path %s, %d accounts, between %d and %d transactions", info, dest, len(accounts), before, after)
	}
	if fi, err := os.Stat(dest); err != nil || fi.Size() != info.Bytes || fi.Mode().Perm() != 0o600 {
		t.Errorf("backup file: %v, %v; want %d bytes, mode 0600", fi, err, info.Bytes)
	}
	// A self-contained file: rollback-journal mode (file format bytes 18
	// and 19 are 1, not WAL's 2), nothing beside it, no temporary left over.
	if b := readHeader(t, dest); b[18] != 1 || b[19] != 1 {
		t.Errorf("backup header bytes 18,19 = %d,%d; want 1,1 (not WAL)", b[18], b[19])
	}
	assertDir(t, dir, "backup.db", "live.db", "live.db-shm", "live.db-wal")

	copied := MustOpenPath(t, dest)
	if vs, err := testLedger(copied).Verify(ctx); err != nil || len(vs) > 0 {
		t.Fatalf("Verify(backup) = %v, %v; want no violation", vs, err)
	}
	live, snap := snapshot(t, db), snapshot(t, copied)
	n := len(snap.Entries)
	if n != info.Transactions || n == 0 || snap.Entries[n-1].ID != info.LastTransaction {
		t.Fatalf("backup holds %d transactions; info says %d, last #%d", n, info.Transactions, info.LastTransaction)
	}
	if !reflect.DeepEqual(snap.Entries, live.Entries[:n]) {
		t.Errorf("the backup's journal is not the first %d transactions of the live journal", n)
	}
}

// TestBackupRefuses covers the refusals: an existing destination, a bad
// path, a source that is not a tally ledger. None leaves a file behind.
func TestBackupRefuses(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "live.db")
	db := MustOpenPath(t, src)
	grantAccount(t, testLedger(db), "alice", credit.Whole(10))

	dest := filepath.Join(dir, "backup.db")
	writeBytes(t, dest, []byte("keep me"))
	_, err := db.Backup(ctx, dest, tsqlite.BackupOptions{})
	wantError(t, "Backup to an existing file", err, credit.Conflict, "backup_exists")
	if b, _ := os.ReadFile(dest); string(b) != "keep me" {
		t.Errorf("the refused backup changed the existing file: %q", b)
	}
	if info, err := db.Backup(ctx, dest, tsqlite.BackupOptions{Overwrite: true}); err != nil || info.Accounts != 1 {
		t.Errorf("Backup with Overwrite = %+v, %v; want a copy of 1 account", info, err)
	}

	notDir := filepath.Join(dir, "file")
	writeBytes(t, notDir, nil)
	for _, bad := range []string{filepath.Join(dir, "missing", "backup.db"), filepath.Join(notDir, "backup.db"), dir} {
		_, err := db.Backup(ctx, bad, tsqlite.BackupOptions{Overwrite: true})
		wantError(t, "Backup to "+bad, err, credit.Invalid, "invalid_path")
	}
	_, err = db.Backup(ctx, src, tsqlite.BackupOptions{Overwrite: true})
	wantError(t, "Backup onto itself", err, credit.Invalid, "invalid_path")

	// A destination that another connection has open is not overwritten.
	other := filepath.Join(dir, "other.db")
	MustOpenPath(t, other)
	_, err = db.Backup(ctx, other, tsqlite.BackupOptions{Overwrite: true})
	wantError(t, "Backup over a database in use", err, credit.Conflict, "database_in_use")

	_, err = tsqlite.BackupFile(ctx, filepath.Join(dir, "nope.db"), filepath.Join(dir, "b2.db"), tsqlite.BackupOptions{})
	wantError(t, "BackupFile of a missing file", err, credit.Invalid, "no_database")
	garbage := filepath.Join(dir, "garbage.db")
	writeBytes(t, garbage, bytes.Repeat([]byte("not a database "), 300))
	_, err = tsqlite.BackupFile(ctx, garbage, filepath.Join(dir, "b2.db"), tsqlite.BackupOptions{})
	wantError(t, "BackupFile of garbage", err, credit.Invalid, "not_a_database")
	plain := filepath.Join(dir, "plain.db")
	raw, err := sql.Open("sqlite", plain)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`CREATE TABLE t (x)`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	_, err = tsqlite.BackupFile(ctx, plain, filepath.Join(dir, "b2.db"), tsqlite.BackupOptions{})
	wantError(t, "BackupFile of another SQLite file", err, credit.Invalid, "not_a_ledger")

	assertDir(t, dir, "backup.db", "file", "garbage.db", "live.db", "live.db-shm", "live.db-wal", "other.db", "other.db-shm", "other.db-wal", "plain.db")
}

// TestBackupFileChangesNothing backs up a closed store, as `tally backup`
// does from another process: the source file is byte for byte what it was.
func TestBackupFileChangesNothing(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "live.db")
	db, err := tsqlite.Open(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	grantAccount(t, testLedger(db), "alice", credit.Whole(10))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	orig, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	info, err := tsqlite.BackupFile(ctx, src, filepath.Join(dir, "backup.db"), tsqlite.BackupOptions{})
	if err != nil || info.Accounts != 1 || info.Transactions != 1 {
		t.Fatalf("BackupFile = %+v, %v; want 1 account, 1 transaction (its grant)", info, err)
	}
	if now, err := os.ReadFile(src); err != nil || !bytes.Equal(now, orig) {
		t.Errorf("BackupFile changed the source file (%v)", err)
	}
}

// TestRestore restores a backup into a new file and over an old one, and
// refuses what it must: a target in use, an existing target unless told, a
// file that is not a ledger, a backup its Check refuses.
func TestRestore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	db := MustOpenPath(t, filepath.Join(dir, "live.db"))
	l := testLedger(db)
	grantAccount(t, l, "alice", credit.Whole(10))
	if _, err := l.CreateAccount(ctx, nil, "bob", credit.Whole(5)); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(dir, "backup.db")
	if _, err := db.Backup(ctx, backup, tsqlite.BackupOptions{}); err != nil {
		t.Fatal(err)
	}

	out := t.TempDir()
	target := filepath.Join(out, "restored.db")
	checked := 0
	check := func(ctx context.Context, db *tsqlite.DB) error {
		checked++
		vs, err := testLedger(db).Verify(ctx)
		if err == nil && len(vs) > 0 {
			err = fmt.Errorf("violations: %v", vs)
		}
		return err
	}
	info, err := tsqlite.Restore(ctx, backup, target, tsqlite.RestoreOptions{Check: check})
	if err != nil || checked != 1 || info.Path != target || info.Accounts != 2 || info.Transactions != 1 || info.SchemaVersion == 0 {
		t.Fatalf("Restore = %+v, %v (Check ran %d times); want 2 accounts, 1 transaction, Check once", info, err, checked)
	}
	// One file, in WAL mode like every store, nothing beside it.
	if b := readHeader(t, target); b[18] != 2 || b[19] != 2 {
		t.Errorf("restored header bytes 18,19 = %d,%d; want 2,2 (WAL)", b[18], b[19])
	}
	assertDir(t, out, "restored.db")
	restored := MustOpenPath(t, target)
	if got, want := snapshot(t, restored), snapshot(t, db); !reflect.DeepEqual(got, want) {
		t.Errorf("the restored ledger differs from the one backed up:\n got %+v\nwant %+v", got, want)
	}

	_, err = tsqlite.Restore(ctx, backup, target, tsqlite.RestoreOptions{})
	wantError(t, "Restore over an existing file", err, credit.Conflict, "target_exists")
	_, err = tsqlite.Restore(ctx, backup, target, tsqlite.RestoreOptions{Overwrite: true})
	wantError(t, "Restore over a database in use", err, credit.Conflict, "database_in_use")
	if err := restored.Close(); err != nil {
		t.Fatal(err)
	}
	// Closed, it may be replaced; a stale -wal of the old file goes with it.
	writeBytes(t, target+"-wal", bytes.Repeat([]byte{0xa5}, 4096))
	if _, err := tsqlite.Restore(ctx, backup, target, tsqlite.RestoreOptions{Overwrite: true, Check: check}); err != nil {
		t.Fatalf("Restore over a closed database = %v", err)
	}
	assertDir(t, out, "restored.db")

	garbage := filepath.Join(dir, "garbage.db")
	writeBytes(t, garbage, bytes.Repeat([]byte("not a database "), 300))
	fresh := filepath.Join(out, "fresh.db")
	_, err = tsqlite.Restore(ctx, garbage, fresh, tsqlite.RestoreOptions{Check: check})
	wantError(t, "Restore of garbage", err, credit.Invalid, "not_a_database")
	// A ledger with damaged pages: its header and schema read, its tables do not.
	b, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	for i := 4096; i < len(b); i++ {
		b[i] ^= 0x5a
	}
	damaged := filepath.Join(dir, "damaged.db")
	writeBytes(t, damaged, b)
	_, err = tsqlite.Restore(ctx, damaged, fresh, tsqlite.RestoreOptions{Check: check})
	wantError(t, "Restore of a damaged ledger", err, credit.Invalid, "corrupt_database")
	_, err = tsqlite.Restore(ctx, filepath.Join(dir, "nope.db"), fresh, tsqlite.RestoreOptions{})
	wantError(t, "Restore of a missing file", err, credit.Invalid, "no_backup")
	refuse := credit.Errorf(credit.Invalid, "bad_backup", "refused by the check")
	_, err = tsqlite.Restore(ctx, backup, fresh, tsqlite.RestoreOptions{Check: func(context.Context, *tsqlite.DB) error { return refuse }})
	if !errors.Is(err, refuse) {
		t.Errorf("Restore with a failing Check = %v; want the Check's error", err)
	}
	_, err = tsqlite.Restore(ctx, backup, filepath.Join(dir, "missing", "x.db"), tsqlite.RestoreOptions{})
	wantError(t, "Restore into a missing directory", err, credit.Invalid, "invalid_path")
	assertDir(t, out, "restored.db")
}

func testLedger(db *tsqlite.DB) *credit.Ledger {
	c := catalog.Default()
	return credit.NewLedger(db, credit.LedgerConfig{Catalog: func() *credit.Catalog { return c }})
}

// grantAccount opens an account through the ledger and tops it up.
func grantAccount(t *testing.T, l *credit.Ledger, id string, c credit.Credits) {
	t.Helper()
	if _, err := l.CreateAccount(context.Background(), nil, id, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := l.AddGrant(context.Background(), nil, id, credit.GrantSpec{Credits: c, Source: credit.SourceTopup}); err != nil {
		t.Fatal(err)
	}
}

// waitCycles waits until the writers have done n cycles.
func waitCycles(t *testing.T, cycles *atomic.Int64, n int64) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); cycles.Load() < n; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the writers did %d cycles in 30 s; want %d", cycles.Load(), n)
		}
	}
}

// journalLength counts the committed journal transactions.
func journalLength(t *testing.T, db *tsqlite.DB) int {
	t.Helper()
	var n int
	if err := db.Reader().QueryRow(`SELECT count(*) FROM transactions`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func snapshot(t *testing.T, db *tsqlite.DB) *credit.Snapshot {
	t.Helper()
	s, err := credit.ReadSnapshot(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// readHeader returns the first 100 bytes of a database file SQLite has
// closed (opening one it has open would drop its locks).
func readHeader(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil || len(b) < 100 {
		t.Fatalf("read %s: %d bytes, %v", path, len(b), err)
	}
	return b[:100]
}

func writeBytes(t *testing.T, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// assertDir checks that dir holds exactly the files named.
func assertDir(t *testing.T, dir string, want ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("%s holds %q; want %q", dir, got, want)
	}
}
