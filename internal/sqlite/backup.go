package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"syscall"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/tally-credits/tally/internal/credit"
)

// A backup is SQLite's own consistent copy, `VACUUM INTO`, run on a read-only
// connection of its own (the readers are query_only, which refuses VACUUM
// INTO): it reads one snapshot of the file (a WAL reader sees every commit
// before its read began and none after, and never blocks the writer), and
// writes a compact, self-contained file in rollback-journal mode that needs no
// -wal or -shm beside it. The online backup API (modernc.org/sqlite's
// NewBackup, through sql.Conn.Raw) would copy as consistently, but its copy
// keeps the WAL flag in its header (opening it makes a -wal and a -shm, in a
// directory that must be writable), keeps the free pages, and its Step(-1) is
// not interrupted by a canceled context, where VACUUM INTO is one statement
// that is.
//
// Nothing is ever written to the destination path itself: the copy is made in
// a temporary file beside it, checked (it opens, PRAGMA integrity_check says
// ok), fsynced, and renamed into place, and the directory is fsynced. A
// crash leaves the old file or the new one, and at worst a stray temporary
// file (.NAME.tmp-…), never half a backup.
//
// Files are only ever opened through SQLite or after SQLite has closed them:
// POSIX locks belong to the process, and a close(2) of any descriptor of a
// database file drops every lock SQLite holds on it.

// BackupInfo describes a backup file or a restored database: what it holds.
type BackupInfo struct {
	Path            string // absolute
	Bytes           int64
	Accounts        int
	Transactions    int   // journal transactions
	LastTransaction int64 // id of the journal's last transaction; 0 for none
	SchemaVersion   int
}

// BackupOptions tune Backup.
type BackupOptions struct {
	// Overwrite replaces an existing destination file. Without it an existing
	// destination is refused.
	Overwrite bool
}

// Backup writes a consistent copy of the database to dest while the store
// keeps serving. See BackupFile.
func (db *DB) Backup(ctx context.Context, dest string, opt BackupOptions) (BackupInfo, error) {
	return BackupFile(ctx, db.path, dest, opt)
}

// BackupFile writes a consistent copy of the ledger at src to dest. It reads
// src on a read-only connection, so it may run in another process than the
// server that writes src: it takes no write lock and changes nothing in the
// file. It returns Invalid for a src that is missing or not a tally ledger
// and for a dest in a directory that does not exist or cannot be written,
// Conflict backup_exists for an existing dest without opt.Overwrite (and
// database_in_use for one that a connection has open), and Unavailable when
// the disk is full or the source is busy.
func BackupFile(ctx context.Context, src, dest string, opt BackupOptions) (BackupInfo, error) {
	const op = "backup"
	src, dest, err := absPaths(op, src, dest)
	if err != nil {
		return BackupInfo{}, err
	}
	if err := checkSource(op, src, "no_database", "database"); err != nil {
		return BackupInfo{}, err
	}
	if err := checkTarget(ctx, op, dest, opt.Overwrite, "backup_exists"); err != nil {
		return BackupInfo{}, err
	}

	tmp, err := tempFile(op, dest, ".tmp-")
	if err != nil {
		return BackupInfo{}, err
	}
	done := false
	defer func() {
		if !done {
			removeWithSidecars(tmp)
		}
	}()
	if err := vacuumInto(ctx, op, src, tmp, false); err != nil {
		return BackupInfo{}, err
	}
	info, err := inspect(ctx, op, tmp, dest, true)
	if err != nil {
		// The copy SQLite just wrote does not pass its own check: the
		// source is damaged, or the disk lies.
		return BackupInfo{}, credit.Errorf(credit.Internal, "store_error", "sqlite: %s: the copy of %s fails its check: %s", op, src, credit.ErrorMessage(err))
	}
	if err := syncFile(op, tmp); err != nil {
		return BackupInfo{}, err
	}
	if err := replace(ctx, op, tmp, dest, opt.Overwrite); err != nil {
		return BackupInfo{}, err
	}
	done = true
	info.Path = dest
	return info, nil
}

// RestoreOptions tune Restore.
type RestoreOptions struct {
	// Overwrite replaces an existing target database. Without it an
	// existing target is refused.
	Overwrite bool
	// Check, if set, runs on the restored copy, opened with Open (schema
	// migrated) before it replaces the target. An error refuses the backup;
	// return Invalid for a backup that is at fault.
	Check func(ctx context.Context, db *DB) error
}

// Restore puts the backup file in place of the database at target. The backup
// is opened read-only and must be a tally ledger that passes PRAGMA
// integrity_check; it is copied (VACUUM INTO) into a temporary file beside
// target, which is opened with Open (migrating its schema) and must pass
// opt.Check. Only then is the copy closed, fsynced, and renamed over target,
// after the target's stale -wal, -shm and -journal are removed: they belong
// to the old file, and SQLite would read them as part of the new one.
//
// A target that any connection has open (a running tally serve) is refused:
// Restore must get SQLite's exclusive lock on it, which no other connection
// in WAL mode lets go of while it is open. It returns Invalid for a missing
// backup or one that fails a check, Conflict target_exists for an existing
// target without opt.Overwrite, Conflict database_in_use, and Unavailable
// when the disk is full.
func Restore(ctx context.Context, backup, target string, opt RestoreOptions) (BackupInfo, error) {
	const op = "restore"
	backup, target, err := absPaths(op, backup, target)
	if err != nil {
		return BackupInfo{}, err
	}
	if err := checkSource(op, backup, "no_backup", "backup"); err != nil {
		return BackupInfo{}, err
	}
	if err := checkTarget(ctx, op, target, opt.Overwrite, "target_exists"); err != nil {
		return BackupInfo{}, err
	}

	tmp, err := tempFile(op, target, ".restore-")
	if err != nil {
		return BackupInfo{}, err
	}
	done := false
	defer func() {
		if !done {
			removeWithSidecars(tmp)
		}
	}()
	if err := vacuumInto(ctx, op, backup, tmp, true); err != nil {
		return BackupInfo{}, err
	}
	db, err := Open(ctx, tmp)
	if err != nil {
		return BackupInfo{}, badBackup(backup, err)
	}
	if opt.Check != nil {
		if err := opt.Check(ctx, db); err != nil {
			db.Close()
			return BackupInfo{}, err
		}
	}
	info, err := contents(ctx, db.cur.Load().reader, op, target) // a private opening: never reopened
	if err != nil {
		db.Close()
		return BackupInfo{}, err
	}
	// The last connection to close checkpoints the WAL into the file and
	// removes the -wal and -shm: the copy is one file again.
	if err := db.Close(); err != nil {
		return BackupInfo{}, err
	}
	fi, err := os.Stat(tmp)
	if err != nil {
		return BackupInfo{}, fsError(op, tmp, err)
	}
	info.Bytes = fi.Size()
	if err := syncFile(op, tmp); err != nil {
		return BackupInfo{}, err
	}
	if err := replace(ctx, op, tmp, target, opt.Overwrite); err != nil {
		return BackupInfo{}, err
	}
	done = true
	info.Path = target
	return info, nil
}

// badBackup refuses a backup that this build cannot open: a newer tally
// wrote it. Any other failure to open the checked copy is tally's own.
func badBackup(path string, err error) error {
	if credit.ErrorReason(err) == "schema_too_new" {
		return credit.Errorf(credit.Invalid, "bad_backup", "sqlite: restore: %s was written by a newer tally: %s", path, credit.ErrorMessage(err))
	}
	return err
}

// absPaths returns src and dest made absolute, refusing the same path twice.
func absPaths(op, src, dest string) (string, string, error) {
	var err error
	if src, err = filepath.Abs(src); err != nil {
		return "", "", credit.Errorf(credit.Invalid, "invalid_path", "sqlite: %s: %v", op, err)
	}
	if dest, err = filepath.Abs(dest); err != nil {
		return "", "", credit.Errorf(credit.Invalid, "invalid_path", "sqlite: %s: %v", op, err)
	}
	if src == dest {
		return "", "", credit.Errorf(credit.Invalid, "invalid_path", "sqlite: %s: %s is both the source and the destination", op, src)
	}
	if a, err := os.Stat(src); err == nil {
		if b, err := os.Stat(dest); err == nil && os.SameFile(a, b) {
			return "", "", credit.Errorf(credit.Invalid, "invalid_path", "sqlite: %s: %s and %s are the same file", op, src, dest)
		}
	}
	return src, dest, nil
}

// checkSource refuses a source path that is not a regular file.
func checkSource(op, path, reason, noun string) error {
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return credit.Errorf(credit.Invalid, reason, "sqlite: %s: no %s at %s", op, noun, path)
	case err != nil:
		return fsError(op, path, err)
	case !fi.Mode().IsRegular():
		return credit.Errorf(credit.Invalid, reason, "sqlite: %s: %s is not a %s file", op, path, noun)
	}
	return nil
}

// checkTarget refuses a destination that exists (unless overwrite), that is
// not a regular file, that a connection has open, or whose directory is
// missing.
func checkTarget(ctx context.Context, op, path string, overwrite bool, exists string) error {
	fi, err := os.Lstat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		dir, err := os.Stat(filepath.Dir(path))
		if err != nil {
			return fsError(op, filepath.Dir(path), err)
		}
		if !dir.IsDir() {
			return credit.Errorf(credit.Invalid, "invalid_path", "sqlite: %s: %s is not a directory", op, filepath.Dir(path))
		}
		return nil
	case err != nil:
		return fsError(op, path, err)
	case !fi.Mode().IsRegular():
		return credit.Errorf(credit.Invalid, "invalid_path", "sqlite: %s: %s exists and is not a regular file", op, path)
	case !overwrite:
		return credit.Errorf(credit.Conflict, exists, "sqlite: %s: %s already exists", op, path)
	}
	return checkIdle(ctx, op, path)
}

// checkIdle returns Conflict database_in_use if a connection, in this
// process or another, has the database at path open. A connection to a
// database in WAL mode keeps a shared lock on the file for as long as it is
// open (SQLite relies on that to find the last one out, which checkpoints), so
// a connection in exclusive locking mode that gets the write lock is alone.
// A writer's lock alone (BEGIN IMMEDIATE) would not do: an idle server holds
// none. A file that is not a database is nobody's, and may be replaced.
func checkIdle(ctx context.Context, op, path string) error {
	c, err := sql.Open("sqlite", fileURI(path, "mode", "rw", "_pragma", "busy_timeout(250)", "_pragma", "locking_mode(EXCLUSIVE)"))
	if err != nil {
		return storeError(ctx, op+" "+path, err)
	}
	defer c.Close()
	conn, err := c.Conn(ctx)
	if err == nil {
		defer conn.Close()
		if _, err = conn.ExecContext(ctx, `BEGIN EXCLUSIVE`); err == nil {
			_, err = conn.ExecContext(ctx, `ROLLBACK`)
		}
	}
	switch sqliteCode(err) & 0xff {
	case sqlite3.SQLITE_OK:
		if err != nil {
			return storeError(ctx, op+" "+path, err)
		}
		return nil
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return credit.Errorf(credit.Conflict, "database_in_use",
			"sqlite: %s: %s is in use by another connection (a running tally serve?); stop it first", op, path)
	case sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT:
		return nil
	}
	return storeError(ctx, op+" "+path, err)
}

// checkLedger refuses a database that is not a tally ledger.
func checkLedger(ctx context.Context, c *sql.DB, op, path string) error {
	var n int
	err := c.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&n)
	switch {
	case sqliteCode(err)&0xff == sqlite3.SQLITE_NOTADB:
		return credit.Errorf(credit.Invalid, "not_a_database", "sqlite: %s: %s is not a SQLite database", op, path)
	case sqliteCode(err)&0xff == sqlite3.SQLITE_CORRUPT:
		return credit.Errorf(credit.Invalid, "corrupt_database", "sqlite: %s: %s is corrupt", op, path)
	case err != nil:
		return storeError(ctx, op+" "+path, err)
	case n == 0:
		return credit.Errorf(credit.Invalid, "not_a_ledger", "sqlite: %s: %s is a SQLite database but not a tally ledger", op, path)
	}
	return nil
}

// vacuumInto copies the ledger at src into the empty file tmp with VACUUM
// INTO, on a read-only connection: one consistent snapshot, taken without the
// write lock. With checkSrc, src must first pass PRAGMA integrity_check.
func vacuumInto(ctx context.Context, op, src, tmp string, checkSrc bool) error {
	c, err := sql.Open("sqlite", fileURI(src, "mode", "ro", "_pragma", "busy_timeout(10000)"))
	if err != nil {
		return storeError(ctx, op+" "+src, err)
	}
	defer c.Close()
	c.SetMaxOpenConns(1)
	if err := checkLedger(ctx, c, op, src); err != nil {
		return err
	}
	if checkSrc {
		if err := integrityCheck(ctx, c, op, src); err != nil {
			return err
		}
	}
	if _, err := c.ExecContext(ctx, `VACUUM INTO ?`, tmp); err != nil {
		if code := sqliteCode(err) & 0xff; code == sqlite3.SQLITE_CORRUPT || code == sqlite3.SQLITE_NOTADB {
			return credit.Errorf(credit.Invalid, "corrupt_database", "sqlite: %s: %s is corrupt", op, src)
		}
		return storeError(ctx, op+" "+src, err)
	}
	if err := c.Close(); err != nil {
		return storeError(ctx, op+" "+src, err)
	}
	return nil
}

// integrityCheck runs PRAGMA integrity_check and returns Invalid
// corrupt_database if it finds anything wrong.
func integrityCheck(ctx context.Context, c *sql.DB, op, name string) error {
	rows, err := c.QueryContext(ctx, `PRAGMA integrity_check`)
	if err != nil {
		return corruptOr(ctx, op, name, err)
	}
	defer rows.Close()
	var problems []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return corruptOr(ctx, op, name, err)
		}
		if s != "ok" {
			problems = append(problems, s)
		}
	}
	if err := rows.Err(); err != nil {
		return corruptOr(ctx, op, name, err)
	}
	if len(problems) > 0 {
		return credit.Errorf(credit.Invalid, "corrupt_database", "sqlite: %s: %s fails integrity_check (%d problem(s)), the first: %s", op, name, len(problems), problems[0])
	}
	return nil
}

// inspect opens the database file at path read-only, checks that it is a
// tally ledger (and, with integrity, that PRAGMA integrity_check finds
// nothing wrong), and reads what it holds. Its errors call the file name.
func inspect(ctx context.Context, op, path, name string, integrity bool) (BackupInfo, error) {
	c, err := sql.Open("sqlite", fileURI(path, "mode", "ro", "_pragma", "busy_timeout(10000)"))
	if err != nil {
		return BackupInfo{}, storeError(ctx, op+" "+name, err)
	}
	defer c.Close()
	c.SetMaxOpenConns(1)
	if err := checkLedger(ctx, c, op, name); err != nil {
		return BackupInfo{}, err
	}
	if integrity {
		if err := integrityCheck(ctx, c, op, name); err != nil {
			return BackupInfo{}, err
		}
	}
	info, err := contents(ctx, c, op, name)
	if err != nil {
		return BackupInfo{}, err
	}
	if err := c.Close(); err != nil {
		return BackupInfo{}, storeError(ctx, op+" "+name, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return BackupInfo{}, fsError(op, name, err)
	}
	info.Bytes = fi.Size()
	return info, nil
}

// contents reads what the ledger on c holds, in one snapshot.
func contents(ctx context.Context, c *sql.DB, op, name string) (BackupInfo, error) {
	var info BackupInfo
	err := c.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM accounts),
		(SELECT count(*) FROM transactions),
		(SELECT coalesce(max(id), 0) FROM transactions),
		(SELECT coalesce(max(version), 0) FROM schema_migrations)`).Scan(&info.Accounts, &info.Transactions, &info.LastTransaction, &info.SchemaVersion)
	if err != nil {
		return BackupInfo{}, corruptOr(ctx, op, name, err)
	}
	return info, nil
}

// corruptOr returns Invalid for SQLite's corruption errors and translates any
// other.
func corruptOr(ctx context.Context, op, path string, err error) error {
	if sqliteCode(err)&0xff == sqlite3.SQLITE_CORRUPT || sqliteCode(err)&0xff == sqlite3.SQLITE_NOTADB {
		return credit.Errorf(credit.Invalid, "corrupt_database", "sqlite: %s: %s is corrupt", op, path)
	}
	if sqliteCode(err)&0xff == sqlite3.SQLITE_ERROR {
		// No such table or column: some other SQLite file.
		return credit.Errorf(credit.Invalid, "not_a_ledger", "sqlite: %s: %s is not a tally ledger", op, path)
	}
	return storeError(ctx, op+" "+path, err)
}

// tempFile makes an empty file, private to its owner, beside path: the
// rename that puts it in place then stays within one file system.
func tempFile(op, path, infix string) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+infix+"*")
	if err != nil {
		return "", fsError(op, filepath.Dir(path), err)
	}
	if err := f.Close(); err != nil {
		os.Remove(f.Name())
		return "", fsError(op, f.Name(), err)
	}
	return f.Name(), nil
}

// replace renames tmp to dest, after removing the -wal, -shm and -journal
// that an old file at dest may have left: SQLite would read them as part of
// the new one. The directory is then synced, so the rename is durable.
func replace(ctx context.Context, op, tmp, dest string, overwrite bool) error {
	fi, err := os.Lstat(dest)
	switch {
	case err == nil && !overwrite:
		// Someone made it since the first look.
		return credit.Errorf(credit.Conflict, "target_exists", "sqlite: %s: %s already exists", op, dest)
	case err == nil:
		// A server may have opened it since the first look; this is the
		// last moment to refuse.
		if err := checkIdle(ctx, op, dest); err != nil {
			return err
		}
		if err := os.Chmod(tmp, fi.Mode().Perm()); err != nil {
			return fsError(op, tmp, err)
		}
	case !errors.Is(err, fs.ErrNotExist):
		return fsError(op, dest, err)
	}
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		if err := os.Remove(dest + suffix); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fsError(op, dest+suffix, err)
		}
	}
	if err := os.Rename(tmp, dest); err != nil {
		return fsError(op, dest, err)
	}
	return syncDir(op, filepath.Dir(dest))
}

// removeWithSidecars removes a temporary database file and whatever SQLite
// made beside it.
func removeWithSidecars(path string) {
	for _, suffix := range []string{"", "-wal", "-shm", "-journal"} {
		os.Remove(path + suffix)
	}
}

// syncFile flushes the file at path to disk.
func syncFile(op, path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fsError(op, path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fsError(op, path, err)
	}
	if err := f.Close(); err != nil {
		return fsError(op, path, err)
	}
	return nil
}

// syncDir flushes the directory at path, so that a rename in it survives a
// crash. File systems that cannot sync a directory are let be.
func syncDir(op, path string) error {
	d, err := os.Open(path)
	if err != nil {
		return fsError(op, path, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) && !errors.Is(err, syscall.ENOTSUP) {
		return fsError(op, path, err)
	}
	return nil
}

// fsError translates a file system error met while doing op on path: a full
// disk or a failing one is Unavailable (retry later), a path that does not
// exist or cannot be written is Invalid (the operator must pick another).
func fsError(op, path string, err error) *credit.Error {
	switch {
	case errors.Is(err, syscall.ENOSPC), errors.Is(err, syscall.EDQUOT):
		return credit.Errorf(credit.Unavailable, "store_unavailable", "sqlite: %s: %s: the disk is full", op, path)
	case errors.Is(err, syscall.EIO):
		return credit.Errorf(credit.Unavailable, "store_unavailable", "sqlite: %s: %s: a disk I/O error occurred", op, path)
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, syscall.ENOTDIR):
		return credit.Errorf(credit.Invalid, "invalid_path", "sqlite: %s: %s: no such directory or file", op, path)
	case errors.Is(err, fs.ErrPermission), errors.Is(err, syscall.EROFS):
		return credit.Errorf(credit.Invalid, "invalid_path", "sqlite: %s: %s: permission denied", op, path)
	case errors.Is(err, syscall.EISDIR):
		return credit.Errorf(credit.Invalid, "invalid_path", "sqlite: %s: %s is a directory", op, path)
	}
	return credit.Errorf(credit.Internal, "store_error", "sqlite: %s: %s: %v", op, path, err)
}

// fileURI returns the URI of the database file at path (absolute) with the
// given query parameters, as key, value pairs.
func fileURI(path string, kv ...string) string {
	q := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		q.Add(kv[i], kv[i+1])
	}
	u := url.URL{Scheme: "file", Path: filepath.ToSlash(path), RawQuery: q.Encode()}
	return u.String()
}

// String returns a one-line summary: size and contents.
func (i BackupInfo) String() string {
	return fmt.Sprintf("%d bytes, %d account(s), %d journal transaction(s) (last #%d), schema version %d",
		i.Bytes, i.Accounts, i.Transactions, i.LastTransaction, i.SchemaVersion)
}
