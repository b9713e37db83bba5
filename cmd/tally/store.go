package main

import (
	"context"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/pflag"

	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/postgres"
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
	fs.StringVar(&f.db, "db", def, "the ledger: a SQLite file path, or a postgres:// URL (or $TALLY_DB)")
}

// open opens the store and applies its migrations: PostgreSQL for a
// postgres:// or postgresql:// URL, else the SQLite file at that path.
func (f *storeFlags) open(ctx context.Context) (credit.Store, error) {
	if strings.HasPrefix(f.db, "postgres://") || strings.HasPrefix(f.db, "postgresql://") {
		return postgres.Open(ctx, f.db)
	}
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

// name is the store as it may be printed: a URL's password is redacted.
func (f *storeFlags) name() string {
	if u, err := url.Parse(f.db); err == nil && u.User != nil {
		return u.Redacted()
	}
	return f.db
}
