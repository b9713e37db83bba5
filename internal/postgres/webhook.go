package postgres

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tally-credits/tally/internal/credit"
)

var (
	_ credit.WebhookStore = (*DB)(nil)
	_ credit.Gauges       = (*DB)(nil)
)

// Webhook endpoints and their deliveries (credit.WebhookStore). Deliveries
// are made from the feed by ScheduleDeliveries, one transaction per
// endpoint that holds the endpoint's row lock, and leased to one node at a
// time by ClaimDeliveries: both take their rows FOR UPDATE SKIP LOCKED, so
// that nodes working at once share the work and never wait for each other.

const webhookColumns = `id, url, events, description, secret, created_at, disabled_at, disabled_reason`

// liveWebhook is the condition of an endpoint (with the alias p: "w." or
// "") whose deliveries are made and attempted.
func liveWebhook(p string) string {
	return p + `deleted_at IS NULL AND ` + p + `disabled_at IS NULL`
}

func scanWebhook(s scanner) (credit.Webhook, error) {
	var w credit.Webhook
	var events string
	if err := s.Scan(&w.ID, &w.URL, &events, &w.Description, &w.Secret, timeColumn{&w.CreatedAt}, timeColumn{&w.DisabledAt}, &w.DisabledReason); err != nil {
		return w, err
	}
	if err := json.Unmarshal([]byte(events), &w.Events); err != nil {
		return w, err
	}
	return w, nil
}

// deliveryColumns are a delivery's columns, each prefixed with p ("d."
// or "").
func deliveryColumns(p string) string {
	return p + `id, ` + p + `webhook, ` + p + `event, ` + p + `event_type, ` + p + `account, ` + p + `status, ` +
		p + `attempts, ` + p + `next_at, ` + p + `last_attempt_at, ` + p + `last_status, ` + p + `last_error, ` +
		p + `created_at, ` + p + `delivered_at`
}

// scanDelivery scans deliveryColumns, and more destinations after them.
func scanDelivery(s scanner, more ...any) (credit.Delivery, error) {
	var d credit.Delivery
	err := s.Scan(append([]any{&d.ID, &d.Webhook, &d.Event, &d.EventType, &d.Account, &d.Status, &d.Attempts,
		timeColumn{&d.NextAt}, timeColumn{&d.LastAttemptAt}, &d.LastStatus, &d.LastError,
		timeColumn{&d.CreatedAt}, timeColumn{&d.DeliveredAt}}, more...)...)
	return d, err
}

func unknownWebhook(id string) *credit.Error {
	return credit.Errorf(credit.NotFound, "unknown_webhook", "unknown webhook %q", id)
}

func unknownDelivery(id string) *credit.Error {
	return credit.Errorf(credit.NotFound, "unknown_delivery", "unknown delivery %q", id)
}

// update runs fn in a transaction of Update (READ COMMITTED, run again
// after a serialization failure or a deadlock), with the package's Tx.
func (db *DB) update(ctx context.Context, fn func(*tx) error) error {
	return db.Update(ctx, func(t credit.Tx) error { return fn(t.(*tx)) })
}

// collect runs a query outside any transaction and returns what scan reads
// of each row.
func collect[T any](ctx context.Context, db *DB, op string, scan func(scanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := db.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, storeError(ctx, op, err)
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		x, err := scan(rows)
		if err != nil {
			return nil, storeError(ctx, op, err)
		}
		out = append(out, x)
	}
	if err := rows.Err(); err != nil {
		return nil, storeError(ctx, op, err)
	}
	return out, nil
}

// InsertWebhook stores an endpoint whose place in the feed is its head
// (EventsHead) at the insert's snapshot, and appends a, in one transaction.
// Conflict id_exists if the id is taken.
func (db *DB) InsertWebhook(ctx context.Context, w credit.Webhook, a credit.AuditEntry) error {
	events, err := json.Marshal(w.Events)
	if err != nil {
		return credit.Errorf(credit.Internal, "store_error", "postgres: insert webhook: %v", err)
	}
	return db.update(ctx, func(t *tx) error {
		_, err := t.exec(`INSERT INTO webhooks (id, url, events, description, secret, created_at, cursor_tx, cursor_seq)
			VALUES ($1, $2, $3, $4, $5, $6, `+feedHorizon+`, 0)`,
			w.ID, w.URL, string(events), w.Description, w.Secret, w.CreatedAt.UTC())
		switch {
		case violates(err, uniqueViolation, "webhooks_pkey"):
			return t.expected(credit.Errorf(credit.Conflict, "id_exists", "a webhook with id %q already exists", w.ID))
		case err != nil:
			return t.fail("insert webhook", err)
		}
		return t.AppendAudit(&a)
	})
}

// Webhook returns an endpoint not deleted. NotFound unknown_webhook.
func (db *DB) Webhook(ctx context.Context, id string) (credit.Webhook, error) {
	ws, err := collect(ctx, db, "read webhook", scanWebhook, `SELECT `+webhookColumns+` FROM webhooks
		WHERE id = $1 AND deleted_at IS NULL`, id)
	if err != nil {
		return credit.Webhook{}, err
	}
	if len(ws) == 0 {
		return credit.Webhook{}, unknownWebhook(id)
	}
	return ws[0], nil
}

// Webhooks returns every endpoint not deleted, oldest first.
func (db *DB) Webhooks(ctx context.Context) ([]credit.Webhook, error) {
	return collect(ctx, db, "read webhooks", scanWebhook, `SELECT `+webhookColumns+` FROM webhooks
		WHERE deleted_at IS NULL ORDER BY created_at, id`)
}

// DeleteWebhook marks an endpoint deleted at `at` and appends a, in one
// transaction. NotFound unknown_webhook (deleted already, too).
func (db *DB) DeleteWebhook(ctx context.Context, id string, at time.Time, a credit.AuditEntry) error {
	return db.update(ctx, func(t *tx) error {
		ct, err := t.exec(`UPDATE webhooks SET deleted_at = $2 WHERE id = $1 AND deleted_at IS NULL`, id, at.UTC())
		if err != nil {
			return t.fail("delete webhook", err)
		}
		if ct.RowsAffected() == 0 {
			return unknownWebhook(id)
		}
		return t.AppendAudit(&a)
	})
}

// ScheduleDeliveries makes the deliveries of every live endpoint, one
// transaction each (see schedule), and returns how many it made.
func (db *DB) ScheduleDeliveries(ctx context.Context, now time.Time, limit int) (int, error) {
	ids, err := collect(ctx, db, "read webhooks", func(s scanner) (string, error) {
		var id string
		return id, s.Scan(&id)
	}, `SELECT id FROM webhooks WHERE `+liveWebhook("")+` ORDER BY created_at, id`)
	if err != nil {
		return 0, err
	}
	made := 0
	for _, id := range ids {
		n, err := db.schedule(ctx, id, now, limit)
		made += n
		if err != nil {
			return made, err
		}
	}
	return made, nil
}

// schedule makes the deliveries of one endpoint in one transaction: it
// takes the endpoint's row lock, or leaves it to the node that holds it
// (SKIP LOCKED); reads up to limit events after the endpoint's place, by
// the feed's rules (Events: none can later appear before them); makes a
// pending delivery, due now, of each the endpoint wants; and moves its
// place to the last event read. An event becomes one delivery however many
// nodes schedule at once: the lock makes them take turns, each reads the
// place the last one left, and the unique key (webhook, event) stands
// behind that.
func (db *DB) schedule(ctx context.Context, id string, now time.Time, limit int) (int, error) {
	made := 0
	err := db.update(ctx, func(t *tx) error {
		made = 0
		var events, place string
		var seq int64
		err := t.queryRow(`SELECT events, cursor_tx::text, cursor_seq FROM webhooks
			WHERE id = $1 AND `+liveWebhook("")+` FOR UPDATE SKIP LOCKED`, id).Scan(&events, &place, &seq)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil // another node is scheduling it, or it is no longer live
		} else if err != nil {
			return t.fail("schedule deliveries", err)
		}
		var types []string
		if err := json.Unmarshal([]byte(events), &types); err != nil {
			return t.broke(credit.Errorf(credit.Internal, "store_error", "postgres: webhook %q: events %q: %v", id, events, err), false)
		}
		evs, err := t.Events(credit.EventQuery{After: place + "-" + strconv.FormatInt(seq, 10), Limit: limit})
		if err != nil || len(evs) == 0 {
			return err
		}
		var ids, eventIDs, eventTypes, accounts []string
		for _, e := range evs {
			if credit.WantsType(types, e.Type) {
				ids, eventIDs = append(ids, credit.NewID("whd", now)), append(eventIDs, e.ID)
				eventTypes, accounts = append(eventTypes, e.Type), append(accounts, e.Account)
			}
		}
		if len(ids) > 0 {
			ct, err := t.exec(`INSERT INTO deliveries (id, webhook, event, event_type, account, status, next_at, created_at)
				SELECT d.id, $2, d.event, d.event_type, d.account, 'pending', $3, $3
				FROM unnest($1::text[], $4::text[], $5::text[], $6::text[]) AS d (id, event, event_type, account)
				ON CONFLICT (webhook, event) DO NOTHING`, ids, id, now.UTC(), eventIDs, eventTypes, accounts)
			if err != nil {
				return t.fail("schedule deliveries", err)
			}
			made = int(ct.RowsAffected())
		}
		last, err := parseCursor(evs[len(evs)-1].Cursor)
		if err != nil {
			return t.broke(credit.Errorf(credit.Internal, "store_error", "postgres: schedule deliveries: %v", err), false)
		}
		if _, err := t.exec(`UPDATE webhooks SET cursor_tx = $2::text::xid8, cursor_seq = $3 WHERE id = $1`, id, last.tx, last.seq); err != nil {
			return t.fail("schedule deliveries", err)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return made, nil
}

// claimDeliveries leases the due deliveries ($1 now, $2 until, $3 the
// limit): the oldest due first, by the deliveries_due index, skipping those
// another claim has locked (it is leasing them); a row another claim
// leased and committed meanwhile is read again once locked, and no longer
// qualifies. The rows come back with their event and endpoint.
var claimDeliveries = `WITH c AS (
		SELECT d.id FROM deliveries AS d
		WHERE d.status = 'pending' AND d.next_at <= $1 AND (d.lease_until IS NULL OR d.lease_until <= $1)
			AND EXISTS (SELECT FROM webhooks AS w WHERE w.id = d.webhook AND ` + liveWebhook("w.") + `)
		ORDER BY d.next_at, d.id
		LIMIT $3
		FOR UPDATE OF d SKIP LOCKED
	)
	UPDATE deliveries AS d SET lease_until = $2
	FROM c, events AS e, webhooks AS w
	WHERE d.id = c.id AND e.id = d.event AND w.id = d.webhook
	RETURNING ` + deliveryColumns("d.") + `, e.id, e.type, e.time, e.account, e.data, e.tx::text AS cursor_tx, e.seq, w.url, w.secret`

// ClaimDeliveries leases up to limit pending deliveries of live endpoints
// due at now whose lease has ended, until `until`, oldest due first, in
// one statement: no other claim takes them before then, on any node.
func (db *DB) ClaimDeliveries(ctx context.Context, now, until time.Time, limit int) ([]credit.Claim, error) {
	claims, err := collect(ctx, db, "claim deliveries", func(s scanner) (credit.Claim, error) {
		var c credit.Claim
		var ev eventRow
		d, err := scanDelivery(s, append(ev.dest(), &c.URL, &c.Secret)...)
		if err != nil {
			return c, err
		}
		c.Delivery, c.Event = d, ev.event()
		return c, nil
	}, claimDeliveries, now.UTC(), until.UTC(), sqlLimit(limit))
	slices.SortFunc(claims, func(a, b credit.Claim) int {
		return cmp.Or(a.Delivery.NextAt.Compare(b.Delivery.NextAt), cmp.Compare(a.Delivery.ID, b.Delivery.ID))
	})
	return claims, err
}

// FinishAttempt records an attempt on a delivery and ends its lease, and
// disables its endpoint if a.Disable, in one statement. NotFound
// unknown_delivery.
func (db *DB) FinishAttempt(ctx context.Context, a credit.Attempt) error {
	var next any
	if a.Outcome == credit.DeliveryPending {
		next = tstz(a.NextAt)
	}
	var n int
	err := db.pool.QueryRow(ctx, `WITH d AS (
			UPDATE deliveries SET attempts = attempts + 1, last_attempt_at = $2, last_status = $3, last_error = $4,
				status = $5, next_at = $6, delivered_at = CASE WHEN $5 = 'delivered' THEN $2 ELSE delivered_at END,
				lease_until = NULL
			WHERE id = $1
			RETURNING webhook
		), w AS (
			UPDATE webhooks AS w SET disabled_at = $2, disabled_reason = $8
			FROM d WHERE $7::boolean AND w.id = d.webhook AND w.disabled_at IS NULL
			RETURNING w.id
		)
		SELECT count(*) FROM d`,
		a.Delivery, a.At.UTC(), a.Status, a.Error, string(a.Outcome), next, a.Disable, a.DisableReason).Scan(&n)
	if err != nil {
		return storeError(ctx, "finish attempt", err)
	}
	if n == 0 {
		return unknownDelivery(a.Delivery)
	}
	return nil
}

// Deliveries returns deliveries, newest first, by the deliveries_webhook
// or deliveries_account index when q names one.
func (db *DB) Deliveries(ctx context.Context, q credit.DeliveryQuery) ([]credit.Delivery, error) {
	args := []any{sqlLimit(q.Limit)}
	where := []string{`true`}
	arg := func(v any) string {
		args = append(args, v)
		return `$` + strconv.Itoa(len(args))
	}
	if q.Webhook != "" {
		where = append(where, `webhook = `+arg(q.Webhook))
	}
	if q.Account != "" {
		where = append(where, `account = `+arg(q.Account))
	}
	if q.Before != "" {
		where = append(where, `id < `+arg(q.Before))
	}
	return collect(ctx, db, "read deliveries", func(s scanner) (credit.Delivery, error) { return scanDelivery(s) },
		`SELECT `+deliveryColumns("")+` FROM deliveries WHERE `+strings.Join(where, ` AND `)+` ORDER BY id DESC LIMIT $1`, args...)
}

// RetryDelivery makes a delivery of webhook pending and due at now, its
// lease ended, and appends a, in one transaction. NotFound unknown_delivery
// (another endpoint's too).
func (db *DB) RetryDelivery(ctx context.Context, webhook, id string, now time.Time, a credit.AuditEntry) (credit.Delivery, error) {
	var d credit.Delivery
	err := db.update(ctx, func(t *tx) error {
		var err error
		d, err = scanDelivery(t.queryRow(`UPDATE deliveries SET status = 'pending', next_at = $3, lease_until = NULL
			WHERE id = $1 AND webhook = $2 RETURNING `+deliveryColumns(""), id, webhook, now.UTC()))
		if errors.Is(err, pgx.ErrNoRows) {
			return unknownDelivery(id)
		} else if err != nil {
			return t.fail("retry delivery", err)
		}
		return t.AppendAudit(&a)
	})
	if err != nil {
		return credit.Delivery{}, err
	}
	return d, nil
}

// OutboxLag is the age at now of the oldest event a live endpoint has not
// been answered 2xx for: the event of one of its pending deliveries (by the
// deliveries_due index, which holds the pending ones only), or the first
// event after its place in the feed (one row of events_feed an endpoint).
// 0 when there is none, or when the oldest is not older than now.
func (db *DB) OutboxLag(ctx context.Context, now time.Time) (time.Duration, error) {
	var oldest pgtype.Timestamptz
	err := db.pool.QueryRow(ctx, `SELECT least(
		(SELECT min(e.time) FROM deliveries AS d
			JOIN webhooks AS w ON w.id = d.webhook
			JOIN events AS e ON e.id = d.event
			WHERE d.status = 'pending' AND `+liveWebhook("w.")+`),
		(SELECT min(n.time) FROM webhooks AS w
			CROSS JOIN LATERAL (
				SELECT e.time FROM events AS e WHERE (e.tx, e.seq) > (w.cursor_tx, w.cursor_seq)
				ORDER BY e.tx, e.seq LIMIT 1) AS n
			WHERE `+liveWebhook("w.")+`))`).Scan(&oldest)
	if err != nil {
		return 0, storeError(ctx, "read outbox lag", err)
	}
	if !oldest.Valid {
		return 0, nil
	}
	return max(0, now.Sub(oldest.Time)), nil
}

// OpenHolds counts the open holds of every account, by the holds_due
// index, which holds the open ones only.
func (db *DB) OpenHolds(ctx context.Context) (int64, error) {
	var n int64
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM holds WHERE status = 'open'`).Scan(&n); err != nil {
		return 0, storeError(ctx, "count open holds", err)
	}
	return n, nil
}
