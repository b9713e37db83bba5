package postgres_test

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/postgres/pgtest"
	"github.com/tally-credits/tally/internal/storetest"
)

// BenchmarkGenerationCycle measures the Create button on PostgreSQL: a
// generation (quote + hold) and its completion, two transactions per op, from
// 32 concurrent clients, on one hot account and on 64 accounts. BENCHMARKS.md
// sets it next to `pgbench -b tpcb-like` run on the same server in the same
// session (TPC-B is five statements per transaction on hot branch rows: the
// closest standard yardstick for a ledger).
func BenchmarkGenerationCycle(b *testing.B) {
	for _, accounts := range []int{1, 64} {
		b.Run(fmt.Sprintf("accounts=%d", accounts), func(b *testing.B) {
			ctx := context.Background()
			db := pgtest.Open(b)
			cat := catalog.Default()
			l := credit.NewLedger(db, credit.LedgerConfig{Catalog: func() *credit.Catalog { return cat }})
			for i := range accounts {
				id := fmt.Sprint("acct-", i)
				if _, err := l.CreateAccount(ctx, nil, id, 0); err != nil {
					b.Fatal(err)
				}
				if _, err := l.AddGrant(ctx, nil, id, credit.GrantSpec{Credits: credit.Whole(1_000_000_000), Source: credit.SourceTopup}); err != nil {
					b.Fatal(err)
				}
			}
			var n atomic.Int64
			b.SetParallelism(16) // 32 clients on 2 cores
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					acct := fmt.Sprint("acct-", n.Add(1)%int64(accounts))
					g, err := l.CreateGeneration(ctx, nil, credit.GenerationSpec{Account: acct, Request: credit.QuoteRequest{Model: "flux-dev", Images: 2}})
					if err != nil {
						b.Error(err)
						return
					}
					if _, err := l.CompleteGeneration(ctx, nil, g.ID, 2); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.StopTimer()
			if vs, err := l.Verify(ctx); err != nil || len(vs) > 0 {
				b.Fatalf("verify after the benchmark: %v %v", err, vs)
			}
		})
	}
}

// BenchmarkRoundTripsPerWrite counts what a lone write sends to the server
// (DB.RoundTrips: every statement, BEGIN and COMMIT included, each a round
// trip): a generation's create and its completion, each with an
// Idempotency-Key as the studio sends them, on an account with one grant.
// Every round trip after the account's row lock is time the lock is held;
// BENCHMARKS.md reports it.
func BenchmarkRoundTripsPerWrite(b *testing.B) {
	db := pgtest.Open(b)
	storetest.BenchmarkWriteCounts(b, db, db.RoundTrips, "trips")
}
