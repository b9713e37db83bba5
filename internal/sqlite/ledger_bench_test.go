package sqlite_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/sqlite"
	"github.com/tally-credits/tally/internal/storetest"
)

// BenchmarkGenerationCycle measures the Create button end to end on a real
// SQLite file: a generation (quote + hold) and its completion (capture), two
// durable transactions per op ("cycle"). Before it, on the same fresh file,
// through the same writer, "commit" measures one-row durable transactions:
// the baseline BENCHMARKS.md divides by.
func BenchmarkGenerationCycle(b *testing.B) {
	for _, accounts := range []int{1, 64} {
		b.Run(fmt.Sprintf("accounts=%d", accounts), func(b *testing.B) {
			ctx := context.Background()
			db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
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
			var n atomic.Int64 // unique keys across every round of "commit"
			b.Run("commit", func(b *testing.B) {
				b.ReportAllocs()
				b.RunParallel(func(pb *testing.PB) {
					for pb.Next() {
						e := credit.AuditEntry{At: time.Now(), Actor: "bench", Action: credit.AuditKeyRevoke, Target: fmt.Sprint(n.Add(1)), Detail: []byte(`{}`)}
						if err := db.Update(ctx, func(tx credit.Tx) error { return tx.AppendAudit(&e) }); err != nil {
							b.Error(err)
							return
						}
					}
				})
			})
			b.Run("cycle", func(b *testing.B) {
				b.ReportAllocs()
				b.SetParallelism(16) // 32 clients on 2 cores: enough company for group commit
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
			})
			if vs, err := l.Verify(ctx); err != nil || len(vs) > 0 {
				b.Fatalf("verify after the benchmark: %v %v", err, vs)
			}
		})
	}
}

// BenchmarkGroupCommitLatency measures what group commit costs a lone
// client, the light-load case where no batch forms: one generation cycle at a
// time, with batching on (DefaultMaxBatch) and forced to one write per
// transaction. The difference is the queue's hand-off to the committer
// goroutine; BENCHMARKS.md states it.
func BenchmarkGroupCommitLatency(b *testing.B) {
	for _, batch := range []int{credit.DefaultMaxBatch, 1} {
		b.Run(fmt.Sprintf("batch=%d", batch), func(b *testing.B) {
			ctx := context.Background()
			db, err := sqlite.Open(ctx, filepath.Join(b.TempDir(), "bench.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			cat := catalog.Default()
			l := credit.NewLedger(db, credit.LedgerConfig{Catalog: func() *credit.Catalog { return cat }, MaxBatch: batch})
			if _, err := l.CreateAccount(ctx, nil, "solo", 0); err != nil {
				b.Fatal(err)
			}
			if _, err := l.AddGrant(ctx, nil, "solo", credit.GrantSpec{Credits: credit.Whole(1_000_000_000), Source: credit.SourceTopup}); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				g, err := l.CreateGeneration(ctx, nil, credit.GenerationSpec{Account: "solo", Request: credit.QuoteRequest{Model: "flux-dev", Images: 1}})
				if err != nil {
					b.Fatal(err)
				}
				if _, err := l.CompleteGeneration(ctx, nil, g.ID, 1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkStatementsPerWrite counts the statements a lone write runs on
// the writer (DB.Statements; BEGIN and COMMIT not counted): a generation's
// create and its completion, each with an Idempotency-Key as the studio
// sends them, on an account with one grant. How chatty the write path is
// decides how long it holds the single writer; BENCHMARKS.md reports it.
func BenchmarkStatementsPerWrite(b *testing.B) {
	db, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"))
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	storetest.BenchmarkWriteCounts(b, db, db.Statements, "stmts")
}
