package credit

import (
	"context"
	"log/slog"
	"time"
)

// DefaultSweepInterval is how often a Sweeper settles what is past its time.
const DefaultSweepInterval = time.Second

// DefaultPruneEvery is how often a Sweeper deletes idempotency records past
// their retention: the retention is days, so a minute late is nothing.
const DefaultPruneEvery = time.Minute

// SweepConfig configures a Sweeper. Zero fields take defaults.
type SweepConfig struct {
	// Interval is how often holds past their TTL and grants past their
	// expiry are settled (DefaultSweepInterval).
	Interval time.Duration
	// PruneEvery is how often idempotency records past the ledger's
	// retention are deleted (DefaultPruneEvery).
	PruneEvery time.Duration
	// Log receives a line for each sweep that settled or deleted something,
	// and for each that failed (default: nothing is logged).
	Log *slog.Logger
}

// Sweeper keeps a ledger's books timely in the background: it expires holds
// past their TTL and grants past their expiry, and deletes idempotency
// records past their retention. Every ledger operation also settles its
// account first, so the sweeper is about the timeliness of the books (the
// expired book, an account nobody touches), not their correctness.
type Sweeper struct {
	ledger     *Ledger
	interval   time.Duration
	pruneEvery time.Duration
	log        *slog.Logger
}

// NewSweeper returns a sweeper of l.
func NewSweeper(l *Ledger, cfg SweepConfig) *Sweeper {
	s := &Sweeper{ledger: l, interval: cfg.Interval, pruneEvery: cfg.PruneEvery, log: cfg.Log}
	if s.interval <= 0 {
		s.interval = DefaultSweepInterval
	}
	if s.pruneEvery <= 0 {
		s.pruneEvery = DefaultPruneEvery
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	return s
}

// Run sweeps every Interval, and prunes every PruneEvery, until ctx ends.
// A failed sweep is logged and tried again at the next tick: the sweeper
// never gives up while ctx lasts.
func (s *Sweeper) Run(ctx context.Context) {
	ctx = WithOperation(ctx, "sweep")
	t := time.NewTicker(s.interval)
	defer t.Stop()
	var pruned time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		s.expire(ctx)
		if time.Since(pruned) < s.pruneEvery {
			continue
		}
		pruned = time.Now()
		s.prune(ctx)
	}
}

// Sweep settles everything past its time and prunes the idempotency records
// past their retention once, now.
func (s *Sweeper) Sweep(ctx context.Context) {
	s.expire(ctx)
	s.prune(ctx)
}

func (s *Sweeper) expire(ctx context.Context) {
	if n, err := s.ledger.ExpireDue(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("expiry sweep failed; retrying", "err", err)
	} else if n > 0 {
		s.log.Info("expiry sweep", "accounts", n)
	}
}

func (s *Sweeper) prune(ctx context.Context) {
	if n, err := s.ledger.PruneIdempotency(ctx); err != nil && ctx.Err() == nil {
		s.log.Warn("idempotency prune failed; retrying", "err", err)
	} else if n > 0 {
		s.log.Info("idempotency prune", "records", n)
	}
}
