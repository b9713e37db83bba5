package credit

import (
	"cmp"
	"context"
	"slices"
	"sync"
	"time"
)

// DefaultMaxBatch bounds how many writes one transaction takes. Past a few
// dozen the lock, the load and the fsync are already shared thinly; a bound
// keeps one transaction, and the wait of the writes queued behind it, short.
const DefaultMaxBatch = 64

// write is one queued ledger write on an account.
type write struct {
	ctx     context.Context
	account string
	refs    Refs
	fn      func(b *Book, now time.Time) error
	err     error
	panic   any
	done    chan struct{}
}

// group is the ledger's group commit, by account. Writes queue; up to
// Store.Writers committers each take what is queued and run it as one
// Store.Write: the writes of one account form one Batch — one lock, one load,
// each write decided in turn on what the previous one left, one apply — and
// a transaction takes the batches of up to Store.MaxAccounts accounts. Each
// write still succeeds or fails alone, in queue order.
//
// A batch never waits for company. A committer starts as soon as a write
// arrives and none is free, and takes what is queued at that moment: under
// light load a batch is one write and the only added latency is a goroutine
// hand-off; under load, the writes that arrive while a batch commits form the
// next one. Two committers never take the same account's writes at once
// (busy): they would only queue on its lock and split a batch in two.
type group struct {
	store    Store
	now      func() time.Time
	max      int // writes per transaction
	accounts int // accounts per transaction
	writers  int
	observer Observer // nil: none
	// notice is how long before a grant's expiry grant.expiring tells.
	notice time.Duration
	// committed, if set, is called after each commit that wrote events
	// (the feed's long polls wake on it).
	committed func()

	mu      sync.Mutex
	queue   []*write
	busy    map[string]bool // accounts a committer is writing
	running int             // committers at work
}

func newGroup(store Store, now func() time.Time, max int) *group {
	if max <= 0 {
		max = DefaultMaxBatch
	}
	return &group{store: store, now: now, max: max, accounts: max1(store.MaxAccounts()), writers: max1(store.Writers()), busy: map[string]bool{}}
}

func max1(n int) int {
	if n < 1 {
		return 1
	}
	return n
}

// update queues fn as one write on account and returns its outcome once its
// transaction has committed (or failed). It waits even if ctx ends
// meanwhile: a write that has started runs to its end, and its caller must
// not be told it failed when it may have committed. A write whose ctx ends
// before its batch is decided is not run.
func (g *group) update(ctx context.Context, account string, refs Refs, fn func(*Book, time.Time) error) error {
	w := &write{ctx: ctx, account: account, refs: refs, fn: fn, done: make(chan struct{})}
	g.mu.Lock()
	g.queue = append(g.queue, w)
	start := g.running < g.writers
	if start {
		g.running++
	}
	g.mu.Unlock()
	if start {
		go g.commit()
	}
	<-w.done
	if w.panic != nil {
		panic(w.panic)
	}
	if g.observer != nil {
		g.observer.LedgerWrite(operationOf(ctx), outcomeOf(w.err))
	}
	return w.err
}

// queued returns how many writes wait for a committer.
func (g *group) queued() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return len(g.queue)
}

// commit runs transactions until nothing it may take is queued.
func (g *group) commit() {
	for {
		g.mu.Lock()
		batches := g.take()
		if len(batches) == 0 {
			g.running--
			g.mu.Unlock()
			return
		}
		g.mu.Unlock()

		g.run(batches)

		g.mu.Lock()
		for _, b := range batches {
			delete(g.busy, b[0].account)
		}
		g.mu.Unlock()
		for _, b := range batches {
			for _, w := range b {
				close(w.done)
			}
		}
	}
}

// take removes from the queue the writes of up to g.accounts accounts no
// other committer is writing, at most g.max writes, grouped by account in
// queue order, and marks those accounts busy. Called with g.mu held.
func (g *group) take() [][]*write {
	var batches [][]*write
	index := map[string]int{}
	n := 0
	kept := g.queue[:0]
	for _, w := range g.queue {
		i, ok := index[w.account]
		switch {
		case n == g.max:
		case ok:
			batches[i] = append(batches[i], w)
			n++
			continue
		case !g.busy[w.account] && len(batches) < g.accounts:
			index[w.account] = len(batches)
			batches = append(batches, []*write{w})
			g.busy[w.account] = true
			n++
			continue
		}
		kept = append(kept, w)
	}
	clear(g.queue[len(kept):])
	g.queue = kept
	// In the order of their accounts' ids: a store that locks the accounts
	// of a transaction in the order given then locks them in one global
	// order, and transactions on different nodes wait for each other but
	// never deadlock.
	slices.SortFunc(batches, func(a, b []*write) int { return cmp.Compare(a[0].account, b[0].account) })
	return batches
}

// run writes the batches in one transaction. If that fails other than for
// the store being unavailable (a unique key taken by a racing node, say),
// every write runs again alone, so that each fails only for its own reason.
func (g *group) run(batches [][]*write) {
	err := g.write(batches)
	if err == nil {
		return
	}
	alone := len(batches) == 1 && len(batches[0]) == 1
	if alone || ErrorCode(err) == Unavailable {
		for _, b := range batches {
			for _, w := range b {
				w.err, w.panic = err, nil
			}
		}
		return
	}
	for _, b := range batches {
		for _, w := range b {
			if err := g.write([][]*write{{w}}); err != nil {
				w.err, w.panic = err, nil
			}
		}
	}
}

// write runs one Store.Write of the batches.
func (g *group) write(batches [][]*write) error {
	sb := make([]*Batch, len(batches))
	writes := 0
	for i, ws := range batches {
		sb[i] = g.batch(ws)
		writes += len(ws)
	}
	start := time.Now()
	err := g.store.Write(context.Background(), sb)
	if g.observer != nil {
		g.observer.StoreWrite(writes, len(sb), time.Since(start), err)
	}
	if err != nil {
		return err
	}
	if g.committed != nil {
		g.committed()
	}
	for i, b := range sb {
		if b.Skipped {
			for _, w := range batches[i] {
				w.err = errSkipped
			}
		}
	}
	return nil
}

// errSkipped is the outcome of a write whose account's lock was taken when
// its batch asked with Refs.TryLock.
var errSkipped = Errorf(Unavailable, "account_busy", "ledger: the account is being written by another transaction")

// batch makes the Store's Batch of the writes of one account.
func (g *group) batch(ws []*write) *Batch {
	now := g.now().UTC().Truncate(time.Microsecond)
	refs := Refs{Now: now, TryLock: true}
	for _, w := range ws {
		refs.add(w.refs)
	}
	account := ws[0].account
	return &Batch{Account: account, Writes: len(ws), Refs: refs, Decide: func(s *State) (*Change, error) {
		b := NewBook(account, s)
		b.notice, b.now = g.notice, now
		for _, w := range ws {
			w.err, w.panic = nil, nil
			if err := w.ctx.Err(); err != nil {
				w.err = canceled(err)
				continue
			}
			cp := b.checkpoint()
			b.limitMember, b.voided, b.left = "", nil, nil
			run(w, b, now)
			switch {
			case w.panic != nil:
				b.rollback(cp)
			case w.err != nil:
				b.rollback(cp)
				b.refused(w.err, now)
			default:
				b.news(&cp, now)
			}
		}
		return b.Change(), nil
	}}
}

// run decides one write on b, recording its error, or what it panicked with.
func run(w *write, b *Book, now time.Time) {
	defer func() {
		if v := recover(); v != nil {
			w.panic = v
			w.err = Errorf(Internal, "panic", "ledger: a write panicked: %v", v)
		}
	}()
	w.err = w.fn(b, now)
}

func canceled(err error) error {
	if err == context.DeadlineExceeded {
		return Errorf(Unavailable, "canceled", "ledger: the request timed out before its write started")
	}
	return Errorf(Unavailable, "canceled", "ledger: the request was canceled before its write started")
}
