package postgres

import (
	"context"
	"embed"

	"github.com/jackc/pgx/v5"

	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/migration"
)

// migrations holds the schema as numbered SQL files, applied in order. A
// migration, once released, is never edited: changes are new files.
//
//go:embed migration/*.sql
var migrations embed.FS

// migrateLock is the key of the advisory lock Migrate holds: nodes that start
// together against one database apply each migration once, one after the
// other.
const migrateLock int64 = 0x7a11_0001

// backfill holds, by version, what fills in Go what a migration made for a
// ledger that already has a history: Migrate runs it in the migration's
// transaction, under its lock, so that it happens once, with the file,
// however many nodes start together.
var backfill = map[int]func(context.Context, pgx.Tx) error{
	9: backfillRollups,
}

// Migrate brings the schema up to date: it applies, in order, every embedded
// migration not yet recorded in schema_migrations, all in one transaction
// under an advisory lock, so the database is either fully migrated or left as
// it was, and nodes starting together do not race. Running it again is a
// no-op. Open calls it. It refuses a database whose schema is newer than this
// build knows (written by a newer tally). What a migration needs done in Go
// (backfill: the report rollups of a ledger with a history) is done in the
// same transaction, so that it happens exactly once too.
func (db *DB) Migrate(ctx context.Context) error {
	ms, err := migration.Load(migrations, "migration")
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
	pending, err := migration.Pending(ms, applied)
	if err != nil {
		return credit.Errorf(credit.Internal, "schema_too_new", "postgres: migrate: %v", err)
	}
	var backfills []func(context.Context, pgx.Tx) error
	for _, m := range pending {
		// No arguments: the simple protocol, which runs a file of statements.
		if _, err := ptx.Exec(ctx, m.SQL); err != nil {
			return storeError(ctx, "migrate "+m.Name, err)
		}
		if _, err := ptx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, m.Version); err != nil {
			return storeError(ctx, "migrate "+m.Name, err)
		}
		if fill := backfill[m.Version]; fill != nil {
			backfills = append(backfills, fill)
		}
	}
	// After every file: a backfill reads the ledger with this build's
	// statements, which know the schema of the newest one.
	for _, fill := range backfills {
		if err := fill(ctx, ptx); err != nil {
			return err
		}
	}
	if err := ptx.Commit(ctx); err != nil {
		return storeError(ctx, "migrate", err)
	}
	return nil
}
