package sqlite_test

import (
	"context"
	"testing"
)

// BenchmarkCommit measures the raw durable commit rate of the store's file: one
// transaction per op on the writer pool (BEGIN IMMEDIATE, one INSERT of one
// row, COMMIT with synchronous=FULL), with no ledger logic. It is the baseline
// the store's other benchmarks, and tally bench, are divided by.
func BenchmarkCommit(b *testing.B) {
	db := MustOpenDB(b)
	w := db.Writer()
	ctx := context.Background()
	if _, err := w.ExecContext(ctx, `CREATE TABLE bench_commit (id INTEGER PRIMARY KEY, v INTEGER NOT NULL) STRICT`); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		tx, err := w.BeginTx(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO bench_commit (v) VALUES (?)`, i); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
}
