package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

var (
	_ credit.WebhookStore = (*DB)(nil)
	_ credit.Gauges       = (*DB)(nil)
)

// Webhook endpoints and their deliveries (migration 0009). Every write here
// is one write transaction, and SQLite runs one at a time on the file (the
// writer's transactions BEGIN IMMEDIATE, in this process and any other): a
// claim, or the scheduling of an endpoint, reads and writes with no other
// writer in between, so a lease needs no row lock, only lease_until.

const webhookColumns = `id, url, events, description, secret, created_at, disabled_at, disabled_reason`

func scanWebhook(s scanner) (credit.Webhook, error) {
	var w credit.Webhook
	err := s.Scan(&w.ID, &w.URL, jsonColumn{&w.Events}, &w.Description, &w.Secret, timeColumn{&w.CreatedAt},
		timeColumn{&w.DisabledAt}, &w.DisabledReason)
	return w, err
}

func unknownWebhook(id string) *credit.Error {
	return credit.Errorf(credit.NotFound, "unknown_webhook", "unknown webhook %q", id)
}

func unknownDelivery(id string) *credit.Error {
	return credit.Errorf(credit.NotFound, "unknown_delivery", "unknown delivery %q", id)
}

// update and view run fn in a write or a read transaction on the tx type.
func (db *DB) update(ctx context.Context, fn func(*tx) error) error {
	return db.run(ctx, false, func(t credit.Tx) error { return fn(t.(*tx)) })
}

func (db *DB) view(ctx context.Context, fn func(*tx) error) error {
	return db.run(ctx, true, func(t credit.Tx) error { return fn(t.(*tx)) })
}

// InsertWebhook stores w at the feed's head, with the audit entry a.
// Conflict webhook_exists if its id is taken.
func (db *DB) InsertWebhook(ctx context.Context, w credit.Webhook, a credit.AuditEntry) error {
	events, err := json.Marshal(w.Events)
	if err != nil {
		return credit.Errorf(credit.Internal, "store_error", "sqlite: insert webhook: %v", err)
	}
	return db.update(ctx, func(t *tx) error {
		head, err := t.head()
		if err != nil {
			return err
		}
		_, err = t.exec(`INSERT INTO webhooks (id, url, events, description, secret, created_at, disabled_at, disabled_reason, cursor)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			w.ID, w.URL, string(events), w.Description, w.Secret, micros(w.CreatedAt), micros(w.DisabledAt), w.DisabledReason, head)
		switch {
		case isDuplicate(err):
			return credit.Errorf(credit.Conflict, "webhook_exists", "a webhook with id %q already exists", w.ID)
		case err != nil:
			return t.fail("insert webhook", err)
		}
		return t.AppendAudit(&a)
	})
}

// Webhook returns an endpoint not deleted, with its secret. NotFound
// unknown_webhook.
func (db *DB) Webhook(ctx context.Context, id string) (credit.Webhook, error) {
	var w credit.Webhook
	err := db.view(ctx, func(t *tx) error {
		var err error
		w, err = scanWebhook(t.queryRow(`SELECT `+webhookColumns+` FROM webhooks WHERE id = ? AND deleted_at IS NULL`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return unknownWebhook(id)
		} else if err != nil {
			return t.fail("read webhook", err)
		}
		return nil
	})
	return w, err
}

// Webhooks returns every endpoint not deleted, oldest first, with their
// secrets.
func (db *DB) Webhooks(ctx context.Context) ([]credit.Webhook, error) {
	var out []credit.Webhook
	err := db.view(ctx, func(t *tx) error {
		return t.each("read webhooks", func(s scanner) error {
			w, err := scanWebhook(s)
			out = append(out, w)
			return err
		}, `SELECT `+webhookColumns+` FROM webhooks WHERE deleted_at IS NULL ORDER BY created_at, id`)
	})
	return out, err
}

// DeleteWebhook marks an endpoint deleted at `at`, with the audit entry a.
// Its row and its deliveries stay (the log), but no delivery of it is ever
// claimed again. NotFound unknown_webhook, also for one deleted before.
func (db *DB) DeleteWebhook(ctx context.Context, id string, at time.Time, a credit.AuditEntry) error {
	return db.update(ctx, func(t *tx) error {
		res, err := t.exec(`UPDATE webhooks SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL`, at.UnixMicro(), id)
		if err := t.affected("delete webhook", res, err, unknownWebhook(id)); err != nil {
			return err
		}
		return t.AppendAudit(&a)
	})
}

// ScheduleDeliveries makes the deliveries of the events after each live
// endpoint's cursor, up to limit events an endpoint (≤ 0: all), in one
// write transaction per endpoint that reads its cursor, inserts a pending
// delivery due at now for each event it wants, and moves the cursor to the
// last event read. Transactions on the file run one at a time, so no two
// schedule the same events; UNIQUE (webhook, event) would refuse the second
// delivery anyway, and it is skipped (ON CONFLICT DO NOTHING).
func (db *DB) ScheduleDeliveries(ctx context.Context, now time.Time, limit int) (int, error) {
	var live []string
	err := db.view(ctx, func(t *tx) error {
		return t.each("read webhooks", func(s scanner) error {
			var id string
			err := s.Scan(&id)
			live = append(live, id)
			return err
		}, `SELECT id FROM webhooks WHERE deleted_at IS NULL AND disabled_at IS NULL ORDER BY created_at, id`)
	})
	if err != nil {
		return 0, err
	}
	made := 0
	for _, id := range live {
		n := 0
		err := db.update(ctx, func(t *tx) error {
			var w credit.Webhook
			var cursor int64
			err := t.queryRow(`SELECT events, cursor FROM webhooks WHERE id = ? AND deleted_at IS NULL AND disabled_at IS NULL`, id).
				Scan(jsonColumn{&w.Events}, &cursor)
			if errors.Is(err, sql.ErrNoRows) {
				return nil // deleted or disabled since
			} else if err != nil {
				return t.fail("schedule deliveries", err)
			}
			evs, err := t.events("schedule deliveries", `SELECT `+eventColumns+` FROM events WHERE seq > ? ORDER BY seq LIMIT ?`,
				cursor, sqlLimit(limit))
			if err != nil || len(evs) == 0 {
				return err
			}
			for _, e := range evs {
				if !credit.WantsType(w.Events, e.Type) {
					continue
				}
				res, err := t.exec(`INSERT INTO deliveries (id, webhook, event, event_type, account, status, next_at, created_at)
					VALUES (?, ?, ?, ?, ?, 'pending', ?, ?) ON CONFLICT (webhook, event) DO NOTHING`,
					credit.NewID("whd", now), id, e.ID, e.Type, e.Account, now.UnixMicro(), now.UnixMicro())
				if err != nil {
					return t.halfDone(t.fail("schedule deliveries", err))
				}
				k, err := res.RowsAffected()
				if err != nil {
					return t.halfDone(t.fail("schedule deliveries", err))
				}
				n += int(k)
			}
			last, err := strconv.ParseInt(evs[len(evs)-1].Cursor, 10, 64)
			if err != nil {
				return t.halfDone(credit.Errorf(credit.Internal, "store_error", "sqlite: schedule deliveries: %v", err))
			}
			if _, err := t.exec(`UPDATE webhooks SET cursor = ? WHERE id = ?`, last, id); err != nil {
				return t.halfDone(t.fail("schedule deliveries", err))
			}
			return nil
		})
		if err != nil {
			return made, err
		}
		made += n
	}
	return made, nil
}

// deliveryFields are a delivery's columns, and deliveryColumns the same of
// deliveries AS d (a RETURNING clause takes no table name).
const (
	deliveryFields = `id, webhook, event, event_type, account, status, attempts, next_at, last_attempt_at,
	last_status, last_error, created_at, delivered_at`
	deliveryColumns = `d.id, d.webhook, d.event, d.event_type, d.account, d.status, d.attempts, d.next_at, d.last_attempt_at,
	d.last_status, d.last_error, d.created_at, d.delivered_at`
)

func deliveryDest(d *credit.Delivery) []any {
	return []any{&d.ID, &d.Webhook, &d.Event, &d.EventType, &d.Account, &d.Status, &d.Attempts, timeColumn{&d.NextAt},
		timeColumn{&d.LastAttemptAt}, &d.LastStatus, &d.LastError, timeColumn{&d.CreatedAt}, timeColumn{&d.DeliveredAt}}
}

// claimQuery reads the deliveries a claim takes, by deliveries_due, with
// their events and endpoints.
const claimQuery = `SELECT ` + deliveryColumns + `, e.seq, e.id, e.type, e.time, e.account, e.data, w.url, w.secret
	FROM deliveries d JOIN webhooks w ON w.id = d.webhook JOIN events e ON e.id = d.event
	WHERE d.status = 'pending' AND d.next_at <= ?1 AND (d.lease_until IS NULL OR d.lease_until <= ?1)
		AND w.deleted_at IS NULL AND w.disabled_at IS NULL
	ORDER BY d.next_at, d.id LIMIT ?2`

// ClaimDeliveries leases up to limit pending deliveries of live endpoints,
// due at now and not leased at now, until `until`, oldest due first: one
// write transaction reads them and sets their lease_until, with no other
// writer in between.
func (db *DB) ClaimDeliveries(ctx context.Context, now, until time.Time, limit int) ([]credit.Claim, error) {
	var out []credit.Claim
	err := db.update(ctx, func(t *tx) error {
		out = out[:0]
		err := t.each("claim deliveries", func(s scanner) error {
			var c credit.Claim
			var seq int64
			var data []byte
			dest := append(deliveryDest(&c.Delivery), &seq, &c.Event.ID, &c.Event.Type, timeColumn{&c.Event.Time}, &c.Event.Account, &data,
				&c.URL, &c.Secret)
			if err := s.Scan(dest...); err != nil {
				return err
			}
			c.Event.Data = json.RawMessage(data)
			c.Event.Cursor = strconv.FormatInt(seq, 10)
			out = append(out, c)
			return nil
		}, claimQuery, now.UnixMicro(), sqlLimit(limit))
		if err != nil || len(out) == 0 {
			return err
		}
		ids := make([]string, len(out))
		for i, c := range out {
			ids[i] = c.Delivery.ID
		}
		list, _ := json.Marshal(ids) // strings always encode
		if _, err := t.exec(`UPDATE deliveries SET lease_until = ? WHERE id IN (SELECT value FROM json_each(?))`,
			until.UnixMicro(), string(list)); err != nil {
			return t.halfDone(t.fail("claim deliveries", err))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// FinishAttempt records an attempt (see credit.WebhookStore): NextAt is
// kept for a delivery still pending and cleared otherwise; DeliveredAt is
// set when delivered. With a.Webhook, the delivery must be that endpoint's.
// NotFound unknown_delivery.
func (db *DB) FinishAttempt(ctx context.Context, a credit.Attempt) error {
	next := any(nil)
	if a.Outcome == credit.DeliveryPending {
		next = micros(a.NextAt)
	}
	delivered := any(nil)
	if a.Outcome == credit.DeliveryDelivered {
		delivered = a.At.UnixMicro()
	}
	return db.update(ctx, func(t *tx) error {
		var webhook string
		err := t.queryRow(`UPDATE deliveries SET attempts = attempts + 1, last_attempt_at = ?, last_status = ?, last_error = ?,
				status = ?, next_at = ?, delivered_at = coalesce(?, delivered_at), lease_until = NULL
			WHERE id = ? AND (? = '' OR webhook = ?) RETURNING webhook`,
			micros(a.At), a.Status, a.Error, string(a.Outcome), next, delivered, a.Delivery, a.Webhook, a.Webhook).Scan(&webhook)
		if errors.Is(err, sql.ErrNoRows) {
			return unknownDelivery(a.Delivery)
		} else if err != nil {
			return t.fail("finish attempt", err)
		}
		if !a.Disable {
			return nil
		}
		if _, err := t.exec(`UPDATE webhooks SET disabled_at = ?, disabled_reason = ? WHERE id = ? AND disabled_at IS NULL`,
			a.At.UnixMicro(), a.DisableReason, webhook); err != nil {
			return t.halfDone(t.fail("disable webhook", err))
		}
		return nil
	})
}

// Deliveries returns deliveries newest first (by id, which sorts by
// creation), by deliveries_webhook, deliveries_account or the primary key.
func (db *DB) Deliveries(ctx context.Context, q credit.DeliveryQuery) ([]credit.Delivery, error) {
	where, args := `WHERE true`, []any{}
	if q.Webhook != "" {
		where, args = where+` AND d.webhook = ?`, append(args, q.Webhook)
	}
	if q.Account != "" {
		where, args = where+` AND d.account = ?`, append(args, q.Account)
	}
	if q.Before != "" {
		where, args = where+` AND d.id < ?`, append(args, q.Before)
	}
	args = append(args, sqlLimit(q.Limit))
	var out []credit.Delivery
	err := db.view(ctx, func(t *tx) error {
		return t.each("read deliveries", func(s scanner) error {
			var d credit.Delivery
			err := s.Scan(deliveryDest(&d)...)
			out = append(out, d)
			return err
		}, `SELECT `+deliveryColumns+` FROM deliveries d `+where+` ORDER BY d.id DESC LIMIT ?`, args...)
	})
	return out, err
}

// RetryDelivery makes a delivery of webhook pending, due at now and not
// leased, whatever its status (its attempts and their log stay), with the
// audit entry a. NotFound unknown_delivery, also for another endpoint's.
func (db *DB) RetryDelivery(ctx context.Context, webhook, id string, now time.Time, a credit.AuditEntry) (credit.Delivery, error) {
	var d credit.Delivery
	err := db.update(ctx, func(t *tx) error {
		err := t.queryRow(`UPDATE deliveries SET status = 'pending', next_at = ?, lease_until = NULL
			WHERE id = ? AND webhook = ? RETURNING `+deliveryFields, now.UnixMicro(), id, webhook).Scan(deliveryDest(&d)...)
		if errors.Is(err, sql.ErrNoRows) {
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

// outboxLagQuery is the time of the oldest event a live endpoint waits
// for: that of a pending delivery's (by deliveries_due), or the first after
// its cursor (by the primary key, one row an endpoint). NULL for none.
const outboxLagQuery = `SELECT min(t) FROM (
	SELECT min(e.time) AS t FROM deliveries d JOIN webhooks w ON w.id = d.webhook JOIN events e ON e.id = d.event
		WHERE d.status = 'pending' AND w.deleted_at IS NULL AND w.disabled_at IS NULL
	UNION ALL
	SELECT (SELECT e.time FROM events e WHERE e.seq > w.cursor ORDER BY e.seq LIMIT 1) AS t FROM webhooks w
		WHERE w.deleted_at IS NULL AND w.disabled_at IS NULL
)`

// OutboxLag is how far the live endpoints are behind the feed at now (see
// credit.Gauges), 0 when they are not.
func (db *DB) OutboxLag(ctx context.Context, now time.Time) (time.Duration, error) {
	var oldest time.Time
	err := db.view(ctx, func(t *tx) error {
		if err := t.queryRow(outboxLagQuery).Scan(timeColumn{&oldest}); err != nil {
			return t.fail("read outbox lag", err)
		}
		return nil
	})
	if err != nil || oldest.IsZero() || !oldest.Before(now) {
		return 0, err
	}
	return now.Sub(oldest), nil
}

// OpenHolds counts the open holds of every account (by holds_due).
func (db *DB) OpenHolds(ctx context.Context) (int64, error) {
	var n int64
	err := db.view(ctx, func(t *tx) error {
		if err := t.queryRow(`SELECT count(*) FROM holds WHERE status = 'open'`).Scan(&n); err != nil {
			return t.fail("count open holds", err)
		}
		return nil
	})
	return n, err
}
