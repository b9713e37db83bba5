package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/tally-credits/tally/internal/credit"
)

// migrations holds the schema as numbered SQL files, applied in order. A
// migration, once released, is never edited: changes are new files.
//
//go:embed migration/*.sql
var migrations embed.FS

// migrateLock is the key of the advisory lock Migrate holds: nodes that start
// together against one database apply each migration once, one after the
// other. (Tx.Idempotency's locks are two-key advisory locks, a separate key
// space from this one-key lock.)
const migrateLock int64 = 0x7a11_0001

// migration is one file of the schema: migration/0001_ledger.sql is version 1.
type migration struct {
	version int
	name    string
	sql     string
}

func loadMigrations() ([]migration, error) {
	names, err := fs.Glob(migrations, "migration/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, name := range names {
		base := strings.TrimPrefix(name, "migration/")
		digits, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(digits)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: the name must start with a version number and '_'", base)
		}
		b, err := migrations.ReadFile(name)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: base, sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i := 1; i < len(out); i++ {
		if out[i].version == out[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s have the same version", out[i-1].name, out[i].name)
		}
	}
	return out, nil
}

// Migrate brings the schema up to date: it applies, in order, every embedded
// migration not yet recorded in schema_migrations, all in one transaction
// under an advisory lock, so the database is either fully migrated or left as
// it was, and nodes starting together do not race. Running it again is a
// no-op. Open calls it. It refuses a database whose schema is newer than this
// build knows (written by a newer tally).
func (db *DB) Migrate(ctx context.Context) error {
	ms, err := loadMigrations()
	if err != nil {
		return credit.Errorf(credit.Internal, "store_error", "postgres: migrate: %v", err)
	}
	ptx, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return storeError(ctx, "migrate", err)
	}
	defer ptx.Rollback(context.WithoutCancel(ctx))
	if _, err := ptx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLock); err != nil {
		return storeError(ctx, "migrate", err)
	}
	if _, err := ptx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
	)`); err != nil {
		return storeError(ctx, "migrate", err)
	}
	rows, err := ptx.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return storeError(ctx, "migrate", err)
	}
	applied, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		return storeError(ctx, "migrate", err)
	}
	done := map[int]bool{}
	current := 0
	for _, v := range applied {
		done[v] = true
		current = max(current, v)
	}
	if latest := ms[len(ms)-1].version; current > latest {
		return credit.Errorf(credit.Internal, "schema_too_new",
			"postgres: migrate: the database schema is at version %d, newer than this build's %d: use a newer tally", current, latest)
	}
	for _, m := range ms {
		if done[m.version] {
			continue
		}
		// No arguments: the simple protocol, which runs a file of statements.
		if _, err := ptx.Exec(ctx, m.sql); err != nil {
			return storeError(ctx, "migrate "+m.name, err)
		}
		if _, err := ptx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, m.version); err != nil {
			return storeError(ctx, "migrate "+m.name, err)
		}
	}
	if err := ptx.Commit(ctx); err != nil {
		return storeError(ctx, "migrate", err)
	}
	return nil
}
