package sqlite

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
	"time"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/tally-credits/tally/internal/credit"
)

// reopenEvery bounds how often a DB reopens a file it found read-only: while
// the fault lasts, at most one write in this interval pays for a new opening.
const reopenEvery = 100 * time.Millisecond

// pools are one opening of the file: the writer pool, the reader pool and
// their prepared statements. A DB replaces its opening when a write finds
// the file read-only.
//
// Why: SQLite opens a file it may not write (an immutable file, a read-only
// mount, missing permissions) read-only instead of failing, and a connection
// stays read-only for its life, so without a new opening a database whose
// fault has been cleared would refuse writes until tally restarts. A new
// opening beside the old one gets read-write connections once the file
// allows it (the old one's connections do not stop it).
type pools struct {
	writer *sql.DB // one connection; transactions BEGIN IMMEDIATE
	reader *sql.DB // query_only connections
	wstmts *statements
	rstmts *statements
	opened time.Time
	// readOnly is set when a write on this opening met SQLITE_READONLY.
	readOnly atomic.Bool

	// inUse is read-held by every transaction on this opening and
	// write-held to retire it, so that an opening is closed only after its
	// last transaction; retired (set under the write lock) tells a late
	// comer to take the new one.
	inUse   sync.RWMutex
	retired bool
}

// openPools opens the two pools on the file at path (absolute). It does not
// connect: the first transaction of each pool does. With existing, a
// connection fails rather than create the file.
func openPools(path string, existing bool) (*pools, error) {
	w, err := sql.Open("sqlite", dsn(path, false, existing))
	if err != nil {
		return nil, err
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxLifetime(0)
	w.SetConnMaxIdleTime(0)
	r, err := sql.Open("sqlite", dsn(path, true, existing))
	if err != nil {
		w.Close()
		return nil, err
	}
	r.SetMaxOpenConns(Readers)
	r.SetMaxIdleConns(Readers)
	r.SetConnMaxLifetime(0)
	r.SetConnMaxIdleTime(0)
	return &pools{writer: w, reader: r, wstmts: newStatements(w), rstmts: newStatements(r), opened: time.Now()}, nil
}

// close closes the statements and both pools.
func (p *pools) close() error {
	p.wstmts.close()
	p.rstmts.close()
	rerr := p.reader.Close()
	if werr := p.writer.Close(); werr != nil {
		return werr
	}
	return rerr
}

// noteWrite records what a failed write on this opening says of the file.
func (p *pools) noteWrite(err error) {
	if err != nil && sqliteCode(err)&0xff == sqlite3.SQLITE_READONLY {
		p.readOnly.Store(true)
	}
}

// writeError is storeError for a write on this opening: it notes the error
// first (see noteWrite).
func (p *pools) writeError(ctx context.Context, op string, err error) *credit.Error {
	p.noteWrite(err)
	return storeError(ctx, op, err)
}

// acquire returns the current opening, read-held: call release when the
// transaction is over. For a write, an opening that found the file
// read-only is first replaced by a new one (at most every reopenEvery).
func (db *DB) acquire(write bool) *pools {
	for {
		p := db.cur.Load()
		if write && p.readOnly.Load() {
			p = db.reopen(p)
		}
		p.inUse.RLock()
		if !p.retired {
			return p
		}
		p.inUse.RUnlock()
	}
}

func (p *pools) release() { p.inUse.RUnlock() }

// reopen replaces old, the current opening, with a new one, and retires old
// once its last transaction is over. It returns the opening to use: old if
// it was opened less than reopenEvery ago or a new one cannot be opened.
func (db *DB) reopen(old *pools) *pools {
	db.reopenMu.Lock()
	defer db.reopenMu.Unlock()
	if cur := db.cur.Load(); cur != old {
		return cur // another write reopened it
	}
	if time.Since(old.opened) < reopenEvery {
		return old
	}
	p, err := openPools(db.path, db.existing)
	if err != nil {
		return old
	}
	db.cur.Store(p)
	db.retiring.Add(1)
	go func() {
		defer db.retiring.Done()
		old.inUse.Lock()
		old.retired = true
		old.inUse.Unlock()
		_ = old.close()
	}()
	return p
}
