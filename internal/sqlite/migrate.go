package sqlite

import (
	"context"
	"embed"
	"time"

	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/migration"
)

// migrations holds the schema as numbered SQL files, applied in order. A
// migration, once released, is never edited: changes are new files.
//
//go:embed migration/*.sql
var migrations embed.FS

// reportsVersion is the migration that adds the report rollups, which
// Migrate fills from the ledger's history (tx.backfillReports).
const reportsVersion = 10

// Migrate brings the schema up to date: it applies, in order, every embedded
// migration not yet recorded in schema_migrations, all in one transaction, so
// the file is either fully migrated or left as it was; a migration whose new
// tables must be filled from the rows already there (0010's report rollups)
// is followed, in that transaction, by the step that fills them. Running it
// again is a no-op. Open calls it. It refuses a file whose schema is newer than this
// build knows (written by a newer tally).
func (db *DB) Migrate(ctx context.Context) error {
	ms, err := migration.Load(migrations, "migration")
	if err != nil {
		return credit.Errorf(credit.Internal, "store_error", "sqlite: migrate: %v", err)
	}
	// BEGIN IMMEDIATE (the writer's mode): two processes opening the same
	// new file do not both apply a migration.
	p := db.acquire(true)
	defer p.release()
	stx, err := p.writer.BeginTx(ctx, nil)
	if err != nil {
		return p.writeError(ctx, "migrate", err)
	}
	defer stx.Rollback()
	if _, err := stx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return p.writeError(ctx, "migrate", err)
	}
	var applied []int
	rows, err := stx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return p.writeError(ctx, "migrate", err)
	}
	defer rows.Close()
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return p.writeError(ctx, "migrate", err)
		}
		applied = append(applied, v)
	}
	if err := rows.Err(); err != nil {
		return p.writeError(ctx, "migrate", err)
	}
	rows.Close()
	pending, err := migration.Pending(ms, applied)
	if err != nil {
		return credit.Errorf(credit.Internal, "schema_too_new", "sqlite: migrate: %v", err)
	}
	backfill := false
	for _, m := range pending {
		if _, err := stx.ExecContext(ctx, m.SQL); err != nil {
			return p.writeError(ctx, "migrate "+m.Name, err)
		}
		if _, err := stx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
			m.Version, time.Now().UnixMicro()); err != nil {
			return p.writeError(ctx, "migrate "+m.Name, err)
		}
		backfill = backfill || m.Version == reportsVersion
	}
	// The report rollups of a ledger that had a history before 0010 are
	// filled from it here, in the same transaction: the file is never
	// seen with the tables and without their rows. It runs after every
	// pending migration, because it reads through this build's queries,
	// which know the newest schema. A new file (nothing applied before)
	// has no history to read.
	if backfill && len(applied) > 0 {
		t := &tx{ctx: ctx, stx: stx, p: p, stmts: newStatements(p.writer)}
		if err := t.backfillReports(); err != nil {
			return err
		}
	}
	if err := stx.Commit(); err != nil {
		return p.writeError(ctx, "migrate", err)
	}
	return nil
}
