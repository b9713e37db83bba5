package main

import (
	"context"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/spf13/pflag"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/postgres"
	"github.com/tally-credits/tally/internal/sqlite"
)

// defaultDB is where `tally serve` keeps its ledger when given no --db.
const defaultDB = "./tally.db"

// storeFlags are the flags of every command that opens the ledger.
type storeFlags struct {
	db string
	fs *pflag.FlagSet
}

func (f *storeFlags) register(fs *pflag.FlagSet) {
	def := defaultDB
	if env := os.Getenv("TALLY_DB"); env != "" {
		def = env
	}
	f.fs = fs
	fs.StringVar(&f.db, "db", def, "the ledger: a SQLite file path, or a postgres:// URL (or $TALLY_DB)")
}

// given reports whether the ledger was named, by --db or $TALLY_DB, rather
// than left at the default.
func (f *storeFlags) given() bool {
	return os.Getenv("TALLY_DB") != "" || (f.fs != nil && f.fs.Changed("db"))
}

// create opens the store, creating the ledger and its schema if there is
// none: for the commands that set a ledger up (serve, migrate).
func (f *storeFlags) create(ctx context.Context) (credit.Store, error) {
	if isPostgres(f.db) {
		return postgres.Open(ctx, f.db)
	}
	return sqlite.Open(ctx, f.db)
}

// open opens an existing ledger (bringing its schema up to date). Every
// command but serve and migrate opens with it: a missing SQLite file, or a
// PostgreSQL database without tally's schema, is refused with a line that
// names it and --db, and nothing is created. Otherwise a mistyped path would
// become a new, empty ledger that no server reads (and a key made there
// would be a key nothing accepts).
func (f *storeFlags) open(ctx context.Context) (credit.Store, error) {
	if isPostgres(f.db) {
		if err := f.checkPostgresSchema(ctx); err != nil {
			return nil, err
		}
		return postgres.Open(ctx, f.db)
	}
	s, err := sqlite.OpenExisting(ctx, f.db)
	if err != nil {
		return nil, f.noLedger(err)
	}
	return s, nil
}

// noLedger rewrites the store's refusal of a missing or foreign file into
// one line that says what to do.
func (f *storeFlags) noLedger(err error) error {
	switch r := credit.ErrorReason(err); r {
	case "no_ledger", "no_database":
		return credit.Errorf(credit.Invalid, "no_ledger",
			"no ledger at %s (give --db PATH, or run tally serve or tally migrate to create one)", f.name())
	case "not_a_ledger", "not_a_database", "corrupt_database":
		return credit.Errorf(credit.Invalid, r, "%s is not a tally ledger (give --db the path of one, or run tally serve or tally migrate with a new path to create one)", f.name())
	}
	return err
}

// checkPostgresSchema refuses a PostgreSQL database in which tally's schema
// was never made, rather than let postgres.Open create it there: one short
// connection of its own, before the store's pool.
func (f *storeFlags) checkPostgresSchema(ctx context.Context) error {
	cfg, err := pgxpool.ParseConfig(f.db)
	if err != nil {
		// The parse error may quote the URL, password included: not shown.
		return credit.Errorf(credit.Invalid, "invalid_dsn", "--db: the database URL is not valid")
	}
	cc := cfg.ConnConfig
	if cc.ConnectTimeout == 0 {
		cc.ConnectTimeout = postgres.DefaultConnectTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, cc.ConnectTimeout+10*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cc)
	if err != nil {
		return credit.Errorf(credit.Unavailable, "store_unavailable", "postgres: cannot connect to %s: %v", f.name(), err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var ok bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&ok); err != nil {
		return credit.Errorf(credit.Unavailable, "store_unavailable", "postgres: %s: %v", f.name(), err)
	}
	if !ok {
		return credit.Errorf(credit.Invalid, "no_ledger",
			"no ledger in %s: the database has no tally schema (give --db the URL of a ledger, or run tally serve or tally migrate to create one)", f.name())
	}
	return nil
}

// openLedger opens the existing store and a ledger on it that prices with c.
func (f *storeFlags) openLedger(ctx context.Context, c func() *credit.Catalog) (*credit.Ledger, credit.Store, error) {
	s, err := f.open(ctx)
	if err != nil {
		return nil, nil, err
	}
	return credit.NewLedger(s, credit.LedgerConfig{Catalog: c}), s, nil
}

// ledgerFlags are the flags of a command that works on accounts under the
// catalog's plans (programs, subscriptions, Pro models, applies_to): the
// ledger, and the catalog file that applies while the ledger has none
// published in effect.
type ledgerFlags struct {
	storeFlags
	file string
}

func (f *ledgerFlags) register(fs *pflag.FlagSet) {
	f.storeFlags.register(fs)
	fs.StringVar(&f.file, "catalog", "", "catalog YAML file whose plans and prices apply while the ledger has no published catalog in effect, as for tally serve --catalog (default: the built-in catalog)")
}

// ledger opens the existing ledger and a ledger on it that applies the
// catalog tally serve would: the one in use in the ledger, else the
// --catalog file, else the built-in catalog. closeStore closes the store.
func (f *ledgerFlags) ledger(ctx context.Context) (l *credit.Ledger, c *credit.Catalog, closeStore func(), err error) {
	// The file first: a bad --catalog is refused before the store is opened.
	if c, err = loadCatalog(f.file); err != nil {
		return nil, nil, nil, err
	}
	s, err := f.open(ctx)
	if err != nil {
		return nil, nil, nil, err
	}
	if cs, ok := s.(credit.CatalogStore); ok {
		records, err := cs.Catalogs(ctx)
		if err != nil {
			s.Close()
			return nil, nil, nil, err
		}
		if r, ok := catalog.InUse(catalog.Parsable(records), time.Now()); ok {
			if c, err = catalog.Parse(r.YAML); err != nil {
				s.Close()
				return nil, nil, nil, err
			}
		}
	}
	return credit.NewLedger(s, credit.LedgerConfig{Catalog: func() *credit.Catalog { return c }}), c, func() { s.Close() }, nil
}

// name is the store as it may be printed: a URL's password is redacted.
func (f *storeFlags) name() string {
	if u, err := url.Parse(f.db); err == nil && u.User != nil {
		return u.Redacted()
	}
	return f.db
}

// isPostgres reports whether db names a PostgreSQL database rather than a
// SQLite file.
func isPostgres(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}
