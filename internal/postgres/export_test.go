package postgres

import (
	"context"
	"net"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/tally-credits/tally/internal/credit"
)

// Pool gives the black-box tests the pool, to read settings and to try
// writes the Tx never makes (the journal's triggers).
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// StoreError is storeError, to test the translation of SQLSTATEs.
var StoreError = storeError

// LoadQueries are the statements of a batch's load, each with the
// parameters it takes (see load.go), to EXPLAIN them.
var LoadQueries = map[string]string{
	"lock":          lockAccounts,
	"grants":        loadGrantsQuery,
	"holds":         loadHoldsQuery,
	"generations":   loadGenerationsQuery,
	"idempotency":   loadIdempotencyQuery,
	"subscriptions": loadSubscriptionsQuery,
	"members":       loadMembersQuery,
	"topups":        loadTopupsQuery,
}

// OpenWire is Open, and counts the network round trips of the pool's
// connections as the wire sees them, whatever pgx does: a round trip is a
// write to the server after a read from it (or the first write). It
// counts what RoundTrips does not: connection setup, statements prepared
// inside a batch, the pool's pings.
func OpenWire(ctx context.Context, dsn string) (*DB, func() int64, error) {
	var n atomic.Int64
	db, err := open(ctx, dsn, func(cfg *pgxpool.Config) {
		dial := cfg.ConnConfig.DialFunc
		cfg.ConnConfig.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			wc := &wireConn{Conn: c, n: &n}
			wc.read.Store(true)
			return wc, nil
		}
	})
	return db, n.Load, err
}

// wireConn counts round trips on a connection (see OpenWire).
type wireConn struct {
	net.Conn
	n    *atomic.Int64
	read atomic.Bool // something was read since the last write
}

func (c *wireConn) Write(b []byte) (int, error) {
	if c.read.Swap(false) {
		c.n.Add(1)
	}
	return c.Conn.Write(b)
}

func (c *wireConn) Read(b []byte) (int, error) {
	n, err := c.Conn.Read(b)
	if n > 0 {
		c.read.Store(true)
	}
	return n, err
}

// EventsQuery is the statement Events runs for q (from the feed's start),
// to EXPLAIN it.
func EventsQuery(q credit.EventQuery) string {
	query, _ := eventsQuery(q, cursor{tx: "0"})
	return query
}

// WarnGrantsQuery is the statement of Tx.WarnGrants, to EXPLAIN it.
const WarnGrantsQuery = warnGrantsQuery

// PrefixEnd is prefixEnd, to test the end of a prefix's range.
var PrefixEnd = prefixEnd

// AccountsQuery, GenerationsQuery, AccountAuditQuery and ChargedQuery are
// the statements of Tx.Accounts (with an end to its range or not),
// Tx.Generations (for f), Tx.AccountAudit and Tx.EachCharged, to EXPLAIN
// them.
func AccountsQuery(bounded bool) string { return accountsQuery(bounded) }

func GenerationsQuery(f credit.GenerationFilter) string {
	query, _ := generationsQuery("", f)
	return query
}

const (
	AccountAuditQuery = accountAuditQuery
	ChargedQuery      = chargedQuery
)
