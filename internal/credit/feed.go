package credit

import (
	"context"
	"sync"
	"time"
)

// MaxEventWait bounds a long poll of the feed.
const MaxEventWait = 60 * time.Second

// feedPoll is how often a long poll reads the store for events committed
// by other nodes; commits of this node wake it at once.
const feedPoll = 200 * time.Millisecond

// feed wakes the long polls of this node when one of its commits may have
// written events.
type feed struct {
	mu sync.Mutex
	ch chan struct{}
}

func newFeed() *feed { return &feed{ch: make(chan struct{})} }

func (f *feed) wake() {
	f.mu.Lock()
	close(f.ch)
	f.ch = make(chan struct{})
	f.mu.Unlock()
}

func (f *feed) changed() <-chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.ch
}

// Events returns a page of the change feed (see EventReader): the events
// after q.After, or the last ones before q.Before, in feed order. Invalid
// invalid_limit, invalid_event_type, invalid_cursor (After and Before
// together too), invalid_account_id.
func (l *Ledger) Events(ctx context.Context, q EventQuery) ([]Event, error) {
	if q.After != "" && q.Before != "" {
		return nil, Errorf(Invalid, "invalid_cursor", "after and before cannot be given together: read forward after a cursor, or backward before one")
	}
	if q.Limit <= 0 || q.Limit > MaxEvents {
		return nil, Errorf(Invalid, "invalid_limit", "limit must be 1 to %d, not %d", MaxEvents, q.Limit)
	}
	if err := CheckEventTypes(q.Types, false); err != nil {
		return nil, err
	}
	if q.Account != "" {
		if err := checkAccountID(q.Account); err != nil {
			return nil, err
		}
	}
	return view(ctx, l, func(tx Tx, _ time.Time) ([]Event, error) {
		r, err := Events(tx)
		if err != nil {
			return nil, err
		}
		return r.Events(q)
	})
}

// WaitEvents is Events as a long poll: when no event is after q.After, it
// waits up to wait (at most MaxEventWait) for one, and answers none if
// none came. A commit on this node wakes it at once; another node's is
// seen within feedPoll.
func (l *Ledger) WaitEvents(ctx context.Context, q EventQuery, wait time.Duration) ([]Event, error) {
	if wait < 0 || wait > MaxEventWait {
		return nil, Errorf(Invalid, "invalid_wait", "wait must be 0s to %s, not %s", MaxEventWait, wait)
	}
	deadline := time.NewTimer(wait)
	defer deadline.Stop()
	poll := time.NewTicker(feedPoll)
	defer poll.Stop()
	for {
		woken := l.feed.changed()
		evs, err := l.Events(ctx, q)
		if err != nil || len(evs) > 0 || wait == 0 {
			return evs, err
		}
		select {
		case <-ctx.Done():
			return nil, nil
		case <-deadline.C:
			return nil, nil
		case <-woken:
		case <-poll.C:
		}
	}
}
