package sqlite_test

import (
	"context"
	"testing"

	"github.com/tally-credits/tally/internal/credit"
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

// BenchmarkReserve measures one Update holding credits and giving them back:
// Reserve (the atomic balance check) and AddBalances, one durable commit.
func BenchmarkReserve(b *testing.B) {
	db := MustOpenDB(b)
	newAccount(b, db, "acme", 0, credit.Whole(1000))
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		err := db.Update(ctx, func(tx credit.Tx) error {
			if _, err := tx.Reserve("acme", credit.Whole(5)); err != nil {
				return err
			}
			_, err := tx.AddBalances("acme", credit.Whole(5), -credit.Whole(5))
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}
