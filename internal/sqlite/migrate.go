package sqlite

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// migrations holds the schema as numbered SQL files, applied in order. A
// migration, once released, is never edited: changes are new files.
//
//go:embed migration/*.sql
var migrations embed.FS

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
// migration not yet recorded in schema_migrations, all in one transaction, so
// the file is either fully migrated or left as it was. Running it again is a
// no-op. Open calls it. It refuses a file whose schema is newer than this
// build knows (written by a newer tally).
func (db *DB) Migrate(ctx context.Context) error {
	ms, err := loadMigrations()
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
	var current int
	if err := stx.QueryRowContext(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
		return p.writeError(ctx, "migrate", err)
	}
	if latest := ms[len(ms)-1].version; current > latest {
		return credit.Errorf(credit.Internal, "schema_too_new",
			"sqlite: migrate: the database schema is at version %d, newer than this build's %d: use a newer tally", current, latest)
	}
	applied := map[int]bool{}
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
		applied[v] = true
	}
	if err := rows.Err(); err != nil {
		return p.writeError(ctx, "migrate", err)
	}
	rows.Close()
	for _, m := range ms {
		if applied[m.version] {
			continue
		}
		if _, err := stx.ExecContext(ctx, m.sql); err != nil {
			return p.writeError(ctx, "migrate "+m.name, err)
		}
		if _, err := stx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
			m.version, time.Now().UnixMicro()); err != nil {
			return p.writeError(ctx, "migrate "+m.name, err)
		}
	}
	if err := stx.Commit(); err != nil {
		return p.writeError(ctx, "migrate", err)
	}
	return nil
}
