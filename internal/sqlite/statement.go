package sqlite

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
)

// maxStatements bounds a statement cache. tally's queries are constants, a
// few dozen in all; the bound only guards against a future query built from
// data filling memory.
const maxStatements = 256

// statements caches prepared statements on one pool. Parsing SQL was the
// largest single cost of a ledger write (about two fifths of its CPU time in
// a profile of BenchmarkGenerationCycle); database/sql keeps a cached
// statement prepared on every connection it has run on, so it is parsed once
// per connection, not once per call.
//
// A statement cannot be prepared on the pool while a transaction holds the
// pool's connection (the writer has one: it would wait for itself), so a
// query met for the first time runs unprepared and is noted, and prepare
// prepares the noted ones once the transaction has ended.
type statements struct {
	pool *sql.DB
	// ran counts the statements run through the cache: how chatty the
	// ledger's transactions are, which DB.Statements reports.
	ran     atomic.Int64
	mu      sync.Mutex
	m       map[string]*sql.Stmt
	missing map[string]bool
}

func newStatements(pool *sql.DB) *statements {
	return &statements{pool: pool, m: map[string]*sql.Stmt{}, missing: map[string]bool{}}
}

// get returns the prepared statement of query, or nil if it is not prepared
// yet (it is noted for prepare).
func (s *statements) get(query string) *sql.Stmt {
	s.ran.Add(1)
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.m[query]
	if st == nil && len(s.m)+len(s.missing) < maxStatements {
		s.missing[query] = true
	}
	return st
}

// prepare prepares the queries get has noted. Call it with no transaction
// of the pool open in this goroutine.
func (s *statements) prepare(ctx context.Context) {
	s.mu.Lock()
	if len(s.missing) == 0 {
		s.mu.Unlock()
		return
	}
	var queries []string
	for q := range s.missing {
		queries = append(queries, q)
	}
	clear(s.missing)
	s.mu.Unlock()
	for _, q := range queries {
		st, err := s.pool.PrepareContext(context.WithoutCancel(ctx), q)
		if err != nil {
			continue // it runs unprepared, and fails there with its own error
		}
		s.mu.Lock()
		if s.m[q] == nil {
			s.m[q] = st
			st = nil
		}
		s.mu.Unlock()
		if st != nil {
			st.Close()
		}
	}
}

// close closes every cached statement.
func (s *statements) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for q, st := range s.m {
		st.Close()
		delete(s.m, q)
	}
}
