package main

import (
	"context"
	"os"

	"github.com/spf13/pflag"

	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/sqlite"
)

// defaultDB is where `tally serve` keeps its ledger when given no --db.
const defaultDB = "./tally.db"

// storeFlags are the flags of every command that opens the ledger.
type storeFlags struct {
	db string
}

func (f *storeFlags) register(fs *pflag.FlagSet) {
	def := defaultDB
	if env := os.Getenv("TALLY_DB"); env != "" {
		def = env
	}
	fs.StringVar(&f.db, "db", def, "the ledger: a SQLite file path (or $TALLY_DB)")
}

// open opens the store and applies its migrations.
func (f *storeFlags) open(ctx context.Context) (credit.Store, error) {
	return sqlite.Open(ctx, f.db)
}

// openLedger opens the store and a ledger on it that prices with c.
func (f *storeFlags) openLedger(ctx context.Context, c func() *credit.Catalog) (*credit.Ledger, credit.Store, error) {
	s, err := f.open(ctx)
	if err != nil {
		return nil, nil, err
	}
	return credit.NewLedger(s, credit.LedgerConfig{Catalog: c}), s, nil
}
