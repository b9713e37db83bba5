package credit

import (
	"context"
	"sync"
)

// DefaultMaxBatch bounds how many writes one group commit takes on a store
// that batches (SQLite). Past a few dozen the fsync is already shared
// thinly; a bound keeps one batch's transaction, and the wait of the
// requests queued behind it, short.
const DefaultMaxBatch = 64

// group is the ledger's group commit. Writes queue; up to Store.Writers
// committers each take everything queued (at most max) and run it as one
// Store.UpdateBatch: one transaction and one durable commit for the lot, each
// write still succeeding or failing on its own, in queue order.
//
// A batch never waits for company. A committer starts as soon as a write
// arrives and none is free, and takes what is queued at that moment: under
// light load a batch is one write and the only added latency is a goroutine
// hand-off; under load, the writes that arrive while a batch commits form the
// next one. A write therefore waits at most for the batch in progress when it
// arrived (≤ max writes) and then its own.
type group struct {
	store   Store
	max     int
	writers int

	mu      sync.Mutex
	queue   []*Op
	done    map[*Op]chan struct{}
	running int // committers at work
}

func newGroup(store Store, max int) *group {
	if max <= 0 {
		max = max1(store.MaxBatch())
	}
	return &group{store: store, max: max, writers: max1(store.Writers()), done: map[*Op]chan struct{}{}}
}

func max1(n int) int {
	if n < 1 {
		return 1
	}
	return n
}

// update queues fn as one write and returns its outcome once its batch has
// committed (or failed). It waits even if ctx ends meanwhile: a write that has
// started runs to its end, and its caller must not be told it failed when it
// may have committed. A write whose ctx ends before it starts is not run.
func (g *group) update(ctx context.Context, fn func(Tx) error) error {
	op := &Op{Ctx: ctx, Fn: fn}
	done := make(chan struct{})
	g.mu.Lock()
	g.queue = append(g.queue, op)
	g.done[op] = done
	start := g.running < g.writers
	if start {
		g.running++
	}
	g.mu.Unlock()
	if start {
		go g.commit()
	}
	<-done
	if op.Panic != nil {
		panic(op.Panic)
	}
	return op.Err
}

// commit runs batches until the queue is empty.
func (g *group) commit() {
	for {
		g.mu.Lock()
		n := min(len(g.queue), g.max)
		if n == 0 {
			g.running--
			g.mu.Unlock()
			return
		}
		batch := make([]*Op, n)
		copy(batch, g.queue)
		g.queue = append(g.queue[:0], g.queue[n:]...)
		dones := make([]chan struct{}, n)
		for i, op := range batch {
			dones[i] = g.done[op]
			delete(g.done, op)
		}
		g.mu.Unlock()

		// The batch's own failure is already in every op's Err.
		_ = g.store.UpdateBatch(context.Background(), batch)
		for _, d := range dones {
			close(d)
		}
	}
}

// RunOp runs op.Fn on tx, recording its error, or what it panicked with, in
// op. Stores call it from UpdateBatch so that one op's panic rolls back that
// op alone and is raised again in its caller's goroutine.
func RunOp(op *Op, tx Tx) {
	op.Err, op.Panic = nil, nil
	defer func() {
		if v := recover(); v != nil {
			op.Panic = v
			op.Err = Errorf(Internal, "panic", "ledger: a write panicked: %v", v)
		}
	}()
	op.Err = op.Fn(tx)
}

// FailBatch fails every op of a batch with err (nothing of it committed) and
// returns err.
func FailBatch(ops []*Op, err error) error {
	for _, op := range ops {
		op.Err = err
	}
	return err
}
