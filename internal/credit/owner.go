package credit

import (
	"context"
	"sync"
	"time"
)

// owners remembers which account each hold, generation, subscription and
// grant belongs to, which
// never changes: a write that names one is queued on its account's batch
// without asking the store. A miss reads the row once.
type owners struct {
	mu sync.Mutex
	m  map[string]string
}

// maxOwners bounds the memory of owners (about 100 bytes an id): past it, the
// map starts over, and a miss costs one read.
const maxOwners = 1 << 18

func (o *owners) remember(id, account string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.m == nil || len(o.m) >= maxOwners {
		o.m = make(map[string]string)
	}
	o.m[id] = account
}

func (o *owners) lookup(id string) (string, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	a, ok := o.m[id]
	return a, ok
}

// holdAccount returns the account of hold id. NotFound unknown_hold.
func (l *Ledger) holdAccount(ctx context.Context, id string) (string, error) {
	if a, ok := l.owners.lookup(id); ok {
		return a, nil
	}
	h, err := view(ctx, l, func(tx Tx, _ time.Time) (Hold, error) { return tx.Hold(id) })
	if err != nil {
		return "", err
	}
	l.owners.remember(id, h.Account)
	return h.Account, nil
}

// generationAccount returns the account of generation id. NotFound
// unknown_generation.
func (l *Ledger) generationAccount(ctx context.Context, id string) (string, error) {
	if a, ok := l.owners.lookup(id); ok {
		return a, nil
	}
	g, err := view(ctx, l, func(tx Tx, _ time.Time) (Generation, error) { return tx.Generation(id) })
	if err != nil {
		return "", err
	}
	l.owners.remember(id, g.Account)
	return g.Account, nil
}

// subscriptionAccount returns the account of subscription id. NotFound
// unknown_subscription.
func (l *Ledger) subscriptionAccount(ctx context.Context, id string) (string, error) {
	if a, ok := l.owners.lookup(id); ok {
		return a, nil
	}
	s, err := view(ctx, l, func(tx Tx, _ time.Time) (Subscription, error) { return tx.Subscription(id) })
	if err != nil {
		return "", err
	}
	l.owners.remember(id, s.Account)
	return s.Account, nil
}

// topupAccount returns the account of top-up id. NotFound unknown_topup.
func (l *Ledger) topupAccount(ctx context.Context, id string) (string, error) {
	if a, ok := l.owners.lookup(id); ok {
		return a, nil
	}
	t, err := view(ctx, l, func(tx Tx, _ time.Time) (Topup, error) { return tx.Topup(id) })
	if err != nil {
		return "", err
	}
	l.owners.remember(id, t.Account)
	return t.Account, nil
}
