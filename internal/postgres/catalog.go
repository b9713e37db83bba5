package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tally-credits/tally/internal/credit"
)

var _ credit.CatalogStore = (*DB)(nil)

// catalogChannel is the NOTIFY channel of catalog publishes; the payload is
// the version.
const catalogChannel = "tally_catalog"

// watcherApplicationName names the LISTEN connection in pg_stat_activity.
const watcherApplicationName = "tally catalog watcher"

// Watch timings. A LISTEN connection whose peer vanished without closing it
// (a network partition, a killed VM) would wait forever, so the watcher
// checks it with a ping after every heartbeat of silence; a connection that
// fails is replaced with a backoff, from watchMinBackoff doubling up to
// watchMaxBackoff.
var (
	watchHeartbeat  = 15 * time.Second
	watchPing       = 5 * time.Second
	watchMinBackoff = 100 * time.Millisecond
	watchMaxBackoff = 5 * time.Second
)

// PublishCatalog stores a new catalog version and, in the same transaction,
// appends its audit entry and its catalog.published event and notifies
// every node's watcher (pg_notify, delivered on commit only, so a
// watcher never looks before the row is visible). Conflict catalog_exists if
// the version was published before (by the primary key, so two publishers
// racing cannot both win). A zero PublishedAt is stored as now. It does not
// validate the YAML: the caller has.
func (db *DB) PublishCatalog(ctx context.Context, r credit.CatalogRecord) error {
	if r.Version == "" {
		return credit.Errorf(credit.Invalid, "invalid_catalog", "postgres: publish catalog: the version is empty")
	}
	if r.PublishedAt.IsZero() {
		r.PublishedAt = time.Now()
	}
	ptx, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return storeError(ctx, "publish catalog", err)
	}
	defer ptx.Rollback(context.WithoutCancel(ctx))
	_, err = ptx.Exec(ctx, `INSERT INTO catalogs (version, effective_at, published_at, yaml) VALUES ($1, $2, $3, $4)`,
		r.Version, r.EffectiveAt.UTC(), r.PublishedAt.UTC(), append([]byte{}, r.YAML...))
	switch {
	case violates(err, uniqueViolation, "catalogs_pkey"):
		return credit.Errorf(credit.Conflict, "catalog_exists", "catalog version %q was already published; publish a new version", r.Version)
	case err != nil:
		return storeError(ctx, "publish catalog", err)
	}
	a := credit.PublishAudit(r)
	if _, err := ptx.Exec(ctx, `INSERT INTO audit_log (at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5)`,
		a.At, a.Actor, a.Action, a.Target, a.Detail); err != nil {
		return storeError(ctx, "publish catalog", err)
	}
	if err := insertEvent(ctx, ptx, credit.PublishEvent(r)); err != nil {
		return storeError(ctx, "publish catalog", err)
	}
	if _, err := ptx.Exec(ctx, `SELECT pg_notify($1, $2)`, catalogChannel, r.Version); err != nil {
		return storeError(ctx, "publish catalog", err)
	}
	if err := ptx.Commit(ctx); err != nil {
		return storeError(ctx, "publish catalog", err)
	}
	return nil
}

// Catalogs returns every published version, oldest (first published) first.
func (db *DB) Catalogs(ctx context.Context) ([]credit.CatalogRecord, error) {
	rows, err := db.pool.Query(ctx, `SELECT version, effective_at, published_at, yaml FROM catalogs ORDER BY seq`)
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

// WatchCatalogs calls fn after every publish, on any node, until ctx ends; it
// then returns nil. It holds a connection of its own (outside the pool, so a
// busy pool never delays a switch, and the watcher never takes a request's
// connection) that LISTENs on tally_catalog. It calls fn right after each
// (re)connection too, so that a publish made while it was disconnected is
// not missed. A lost connection is replaced, with backoff, for as long as ctx
// lasts: a watcher never gives up.
func (db *DB) WatchCatalogs(ctx context.Context, fn func()) error {
	backoff := watchMinBackoff
	for {
		listened, _ := db.listen(ctx, fn)
		if listened {
			backoff = watchMinBackoff
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, watchMaxBackoff)
	}
}

// listen runs one LISTEN connection until it fails or ctx ends. listened says
// whether it got as far as listening (so the backoff starts over).
func (db *DB) listen(ctx context.Context, fn func()) (listened bool, err error) {
	cfg := db.pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = watcherApplicationName
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return false, err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, `LISTEN `+catalogChannel); err != nil {
		return false, err
	}
	fn()
	for {
		wctx, cancel := context.WithTimeout(ctx, watchHeartbeat)
		_, err := conn.WaitForNotification(wctx)
		cancel()
		switch {
		case err == nil:
			fn()
		case ctx.Err() != nil:
			return true, ctx.Err()
		case errors.Is(err, context.DeadlineExceeded) && !conn.IsClosed():
			// Silence: make sure the server is still there.
			pctx, cancel := context.WithTimeout(ctx, watchPing)
			err := conn.Ping(pctx)
			cancel()
			if err != nil {
				return true, err
			}
		default:
			return true, err
		}
	}
}
