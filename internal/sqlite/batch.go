package sqlite

import (
	"context"

	"github.com/tally-credits/tally/internal/credit"
)

// Statements is how many statements the ledger's transactions have run on
// the writer of the current opening of the file (a reopen after a fault
// starts again at 0), not counting BEGIN and COMMIT: how chatty a write is,
// which the benchmarks report and a test bounds.
func (db *DB) Statements() int64 { return db.cur.Load().wstmts.ran.Load() }

// Writers is 1: SQLite has one writer at a time, so transactions run one
// after the other and each takes the queue that formed behind the last.
func (db *DB) Writers() int { return 1 }

// MaxAccounts is credit.DefaultMaxBatch: every commit costs an fsync of the
// WAL, which the batches of every account in a transaction share.
func (db *DB) MaxAccounts() int { return credit.DefaultMaxBatch }

// Write runs the batches in one write transaction (see credit.Store): its
// first statement reads the file's data_version and the idempotency records
// the batches name (preamble); each batch's State comes from the writer's
// cache (states) or, for an account not in it, from one statement
// (loadQuery); the ledger decides; one statement applies every batch's
// Change (applyChanges); and the transaction commits: one fsync of the WAL
// for all of them, and two statements for a write on a busy account,
// whatever it touches.
//
// The writer's transaction began IMMEDIATE holds the file's write lock from
// before the first read to the commit: that is the lock of every account,
// and no other process's write lands between a load and its apply.
//
// Statements run without ctx's cancellation once the transaction has begun:
// SQLite answers an interrupted write by rolling back the transaction, and
// the ledger has already told each write's caller to wait for its outcome.
func (db *DB) Write(ctx context.Context, batches []*credit.Batch) error {
	c := &db.states
	c.mu.Lock()
	defer c.mu.Unlock()
	written := make(map[string]*credit.State, len(batches))
	err := db.run(context.WithoutCancel(ctx), false, func(ct credit.Tx) error {
		t := ct.(*tx)
		idem, err := t.preamble(c, batches)
		if err != nil {
			return err
		}
		changes := make([]*credit.Change, 0, len(batches))
		for _, b := range batches {
			s := written[b.Account] // an account twice in one transaction
			if s == nil {
				s = c.lookup(b)
			}
			if s == nil {
				if s, err = t.load(b); err != nil {
					return err
				}
			}
			s.Idempotency = idem
			// Decide gets a copy: what it does to it must not reach
			// the cache.
			ch, err := b.Decide(s.Clone())
			if err != nil {
				return err
			}
			if ch == nil {
				ch = &credit.Change{}
			}
			if err := ch.Check(); err != nil {
				return err
			}
			changes = append(changes, ch)
			// A later batch sees the records this one wrote.
			idem = append(idem, ch.Idempotency...)
			if s.Apply(ch) {
				s.Prune()
				written[b.Account] = s
			} else {
				delete(c.m, b.Account) // and not kept: load it next time
				delete(written, b.Account)
			}
		}
		return t.applyChanges(changes)
	})
	if err != nil {
		c.m = nil // what the cache holds may not be the file's any more
		return err
	}
	c.keep(written)
	return nil
}
