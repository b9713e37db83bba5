package sqlite

import (
	"encoding/json"
	"slices"
	"sync"

	"github.com/tally-credits/tally/internal/credit"
)

// maxCached bounds how many accounts' states the writer keeps in memory
// (a few kilobytes each): past it, the cache starts over.
const maxCached = 10_000

// states keeps, between write transactions, the State of the accounts the
// writer has written: the next write of a busy account decides on it with
// nothing to load. SQLite has one writer, so the states the writer left are
// the file's — unless another connection (another process on the file, a
// restore) wrote in between, which SQLite's data_version tells: the first
// statement of every write transaction reads it, and a change empties the
// cache. A cached state holds every open hold of its account and their
// generations (credit.State.Prune), so it answers any write that names an
// open hold or a held generation; a write that names a resolved one (a
// refund), or a team member or top-up it does not hold, loads.
//
// mu is held from before a write transaction begins until the cache has
// taken its outcome, so no transaction ever decides on a state an earlier
// one has changed.
type states struct {
	mu      sync.Mutex
	p       *pools // the opening the cache was filled on
	version int64  // data_version then
	m       map[string]*credit.State
}

// lookup returns a copy of the cached state of b's account if it holds
// everything b names, else nil.
func (c *states) lookup(b *credit.Batch) *credit.State {
	s := c.m[b.Account]
	if s == nil {
		return nil
	}
	for _, id := range b.Refs.Holds {
		if !slices.ContainsFunc(s.Holds, func(h credit.Hold) bool { return h.ID == id }) {
			return nil
		}
	}
	for _, id := range b.Refs.Generations {
		if !slices.ContainsFunc(s.Generations, func(g credit.Generation) bool { return g.ID == id }) {
			return nil
		}
	}
	// A member the state holds has every period of theirs not yet ended:
	// those the load read, and those the writes since made (Apply), which
	// Prune keeps. One it does not hold is loaded with theirs.
	for _, id := range b.Refs.Members {
		if !slices.ContainsFunc(s.Members, func(m credit.Member) bool { return m.ID == id }) {
			return nil
		}
	}
	// A state holds every top-up of its account that was pending or recent
	// when it was loaded, and every one made since (Prune keeps them all),
	// so it holds every one a write decides on; one it does not hold (an old
	// resolved one a write names) is loaded.
	for _, id := range b.Refs.Topups {
		if !slices.ContainsFunc(s.Topups, func(u credit.Topup) bool { return u.ID == id }) {
			return nil
		}
	}
	return s.Clone()
}

// keep caches the states the transaction's batches leave, once it has
// committed.
func (c *states) keep(written map[string]*credit.State) {
	if c.m == nil || len(c.m)+len(written) > maxCached {
		c.m = make(map[string]*credit.State, len(written))
	}
	for a, s := range written {
		c.m[a] = s
	}
}

// preambleQuery is a write transaction's first statement: the file's
// data_version (which moves only when another connection commits) and the
// idempotency records the transaction's writes name (?1: a JSON array of
// [scope, key]).
const preambleQuery = `SELECT (SELECT data_version FROM pragma_data_version()),
	(SELECT json_group_array(json_object('s', scope, 'k', key, 'h', hash, 'r', CAST(response AS TEXT), 'c', created_at))
		FROM idempotency WHERE (scope, key) IN (SELECT value->>0, value->>1 FROM json_each(?1)))`

// preamble reads the data_version, empties the cache if another connection
// wrote since the last transaction (or the file was reopened), and returns
// the idempotency records the batches name.
func (t *tx) preamble(c *states, batches []*credit.Batch) ([]credit.IdempotencyRecord, error) {
	var d doc
	d.b = append(d.b, '[')
	n := 0
	for _, b := range batches {
		for _, k := range b.Refs.Idempotency {
			if n > 0 {
				d.b = append(d.b, ',')
			}
			n++
			d.b = append(d.b, '[')
			d.str(k.Scope)
			d.b = append(d.b, ',')
			d.str(k.Key)
			d.b = append(d.b, ']')
		}
	}
	d.b = append(d.b, ']')
	var version int64
	var raw []byte
	if err := t.queryRow(preambleQuery, string(d.b)).Scan(&version, &raw); err != nil {
		return nil, t.fail("read data_version", err)
	}
	if c.p != t.p || c.version != version {
		c.p, c.version, c.m = t.p, version, nil
	}
	var sd stateDoc
	if err := json.Unmarshal(append(append([]byte(`{"i":`), raw...), '}'), &sd); err != nil {
		return nil, t.fail("read idempotency", err)
	}
	return sd.state("").Idempotency, nil
}
