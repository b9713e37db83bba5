package postgres

import (
	"context"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
)

// roundTrips counts the statements the store sends to the server, each a
// round trip (BEGIN and COMMIT included), as a pgx tracer on every pooled
// connection: how chatty a write is decides how long it holds its account's
// row lock. A batch, which pgx sends whole (a pipeline with one Sync), counts
// once: Write's two batches are its two round trips.
//
// It does not count what pgx does on its own: the round trip that prepares
// the statements a batch uses for the first time on a connection (once per
// connection and statement: pgx caches them), connecting, and the pool's
// ping of a connection idle for more than a second before it hands it out.
// TestWrite_RoundTrips checks it against the round trips on the wire.
type roundTrips struct{ n atomic.Int64 }

func (r *roundTrips) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	r.n.Add(1)
	return ctx
}

func (r *roundTrips) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

func (r *roundTrips) TraceBatchStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceBatchStartData) context.Context {
	r.n.Add(1)
	return ctx
}

func (r *roundTrips) TraceBatchQuery(context.Context, *pgx.Conn, pgx.TraceBatchQueryData) {}

func (r *roundTrips) TraceBatchEnd(context.Context, *pgx.Conn, pgx.TraceBatchEndData) {}

// RoundTrips is how many statements (and batches) the store has sent to the
// server since it opened, BEGIN and COMMIT included: the benchmarks report it
// per write.
func (db *DB) RoundTrips() int64 { return db.trips.n.Load() }
