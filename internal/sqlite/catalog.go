package sqlite

import (
	"context"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

var _ credit.CatalogStore = (*DB)(nil)

// CatalogPollInterval is how often WatchCatalogs looks for a new publish.
//
// SQLite has no notifications between processes: another process publishing
// to the file (`tally catalog publish --db tally.db` next to a running
// `tally serve`) can only be seen by reading the file. PRAGMA data_version
// would say cheaply that the file changed, but it is per connection, and a
// pool hands out any of its connections, so a poll of the newest seq (one
// index lookup on a reader, which never waits for the writer in WAL mode) is
// the simple, reliable equivalent; four times a second keeps the switch well
// within the second the catalog contract promises.
const CatalogPollInterval = 250 * time.Millisecond

// PublishCatalog stores a new catalog version. Conflict catalog_exists if the
// version was published before (by the UNIQUE constraint, not by a read
// first, so two publishers racing cannot both win). The publish's audit
// entry (credit.PublishAudit) and its catalog.published event
// (credit.PublishEvent) commit with it. A zero PublishedAt is
// stored as now. It does not validate the YAML: the caller has.
func (db *DB) PublishCatalog(ctx context.Context, r credit.CatalogRecord) error {
	if r.Version == "" {
		return credit.Errorf(credit.Invalid, "invalid_catalog", "sqlite: publish catalog: the version is empty")
	}
	if r.PublishedAt.IsZero() {
		r.PublishedAt = time.Now()
	}
	p := db.acquire(true)
	defer p.release()
	stx, err := p.writer.BeginTx(ctx, nil)
	if err != nil {
		return p.writeError(ctx, "publish catalog", err)
	}
	defer stx.Rollback()
	_, err = stx.ExecContext(ctx,
		`INSERT INTO catalogs (version, effective_at, published_at, yaml) VALUES (?, ?, ?, ?)`,
		r.Version, r.EffectiveAt.UnixMicro(), r.PublishedAt.UnixMicro(), append([]byte{}, r.YAML...))
	switch {
	case isDuplicate(err):
		return catalogExists(r.Version)
	case err != nil:
		return p.writeError(ctx, "publish catalog", err)
	}
	a := credit.PublishAudit(r)
	if _, err := stx.ExecContext(ctx, `INSERT INTO audit_log (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?)`,
		a.At.UnixMicro(), a.Actor, a.Action, a.Target, a.Detail); err != nil {
		return p.writeError(ctx, "publish catalog", err)
	}
	e := credit.PublishEvent(r)
	if _, err := stx.ExecContext(ctx, `INSERT INTO events (id, type, time, account, data) VALUES (?, ?, ?, ?, ?)`,
		e.ID, e.Type, e.Time.UnixMicro(), e.Account, string(e.Data)); err != nil {
		return p.writeError(ctx, "publish catalog", err)
	}
	if err := stx.Commit(); err != nil {
		return p.writeError(ctx, "publish catalog", err)
	}
	return nil
}

func catalogExists(version string) *credit.Error {
	return credit.Errorf(credit.Conflict, "catalog_exists", "catalog version %q was already published; publish a new version", version)
}

// Catalogs returns every published version, oldest (first published) first.
func (db *DB) Catalogs(ctx context.Context) ([]credit.CatalogRecord, error) {
	p := db.acquire(false)
	defer p.release()
	rows, err := p.reader.QueryContext(ctx, `SELECT version, effective_at, published_at, yaml FROM catalogs ORDER BY seq`)
	if err != nil {
		return nil, storeError(ctx, "read catalogs", err)
	}
	defer rows.Close()
	var out []credit.CatalogRecord
	for rows.Next() {
		var r credit.CatalogRecord
		if err := rows.Scan(&r.Version, timeColumn{&r.EffectiveAt}, timeColumn{&r.PublishedAt}, &r.YAML); err != nil {
			return nil, storeError(ctx, "read catalogs", err)
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, storeError(ctx, "read catalogs", err)
	}
	return out, nil
}

// WatchCatalogs calls fn at once, then after every publish to the file,
// by this process or another, until ctx ends; it then returns nil. It polls
// the newest seq every CatalogPollInterval (see there for why). A failed poll
// (the disk, a lock held too long) is retried at the next tick: a watcher
// never gives up while ctx lasts.
func (db *DB) WatchCatalogs(ctx context.Context, fn func()) error {
	last := int64(-1)
	t := time.NewTicker(CatalogPollInterval)
	defer t.Stop()
	for {
		var seq int64
		p := db.acquire(false)
		err := p.reader.QueryRowContext(ctx, `SELECT coalesce(max(seq), 0) FROM catalogs`).Scan(&seq)
		p.release()
		if err == nil && seq != last {
			last = seq
			fn()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
