package postgres

import (
	"context"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/tally-credits/tally/internal/credit"
)

// The feed (credit.EventReader). Events are appended in the transaction of
// the change they tell of (apply.go's appendEvents, PublishCatalog), each
// with its transaction's id (tx, an xid8) and a seq. PostgreSQL's
// transactions overlap and commit in an order that neither follows: a
// transaction that took seq 7 may commit after the one that took seq 8,
// and a reader that had been answered 8 would never see 7 if the feed
// were ordered by seq. So the feed is ordered by (tx, seq), and a reader is
// answered only the events of the transactions older than the oldest one
// still running at its snapshot (pg_snapshot_xmin): each of those has ended,
// so no event can ever appear before the cursor it is given — a transaction
// that commits later has a tx at or above that horizon, after every event
// answered. The price is that one long write transaction holds the feed
// back (not its readers' writes: read-only transactions have no id) until
// it ends.

var _ credit.EventReader = (*tx)(nil)

// eventColumns are an event's columns, its transaction's id as text (pgx
// has no codec for xid8) named apart from tx, which ORDER BY must not take
// for it.
const eventColumns = `id, type, time, account, data, tx::text AS cursor_tx, seq`

// feedHorizon is the oldest transaction still running at the statement's
// snapshot (at the transaction's, in View): every event of an older one
// has committed or never will. A subquery, so that it is computed once.
const feedHorizon = `(SELECT pg_snapshot_xmin(pg_current_snapshot()))`

// feedOrder is the feed's order, the events_feed index's; feedOrderBack
// is the same index read from its end.
const (
	feedOrder     = `tx, seq`
	feedOrderBack = `tx DESC, seq DESC`
)

func scanEvent(s scanner) (credit.Event, error) {
	var r eventRow
	err := s.Scan(r.dest()...)
	return r.event(), err
}

// eventRow is the destinations of an event's columns (eventColumns), from
// which event makes the event.
type eventRow struct {
	e    credit.Event
	data []byte
	tx   string
	seq  int64
}

func (r *eventRow) dest() []any {
	return []any{&r.e.ID, &r.e.Type, timeColumn{&r.e.Time}, &r.e.Account, &r.data, &r.tx, &r.seq}
}

func (r *eventRow) event() credit.Event {
	e := r.e
	e.Data = json.RawMessage(r.data)
	e.Cursor = r.tx + "-" + strconv.FormatInt(r.seq, 10)
	return e
}

// cursor is a place in the feed: after the event (tx, seq), or before it
// in a backward read.
type cursor struct {
	tx  string // decimal, for an xid8 parameter (pgx has no codec for xid8)
	seq int64
}

// feedEnd is the cursor of a backward read from the feed's end
// (credit.EventsEnd): the largest xid8 and seq, before which is every
// event there can be (the horizon bounds the page anyway).
var feedEnd = cursor{tx: strconv.FormatUint(math.MaxUint64, 10), seq: math.MaxInt64}

// parseCursor reads a cursor of the feed: "<tx>-<seq>", both decimal, as
// scanEvent and EventsHead write them; "" is the feed's start. Invalid
// invalid_cursor for anything else.
func parseCursor(s string) (cursor, error) {
	if s == "" {
		return cursor{tx: "0"}, nil
	}
	bad := credit.Errorf(credit.Invalid, "invalid_cursor", "cursor %q is not one of the feed's: pass the cursor of an event, or none", s)
	x, y, ok := strings.Cut(s, "-")
	if !ok {
		return cursor{}, bad
	}
	txid, err := strconv.ParseUint(x, 10, 64)
	if err != nil {
		return cursor{}, bad
	}
	seq, err := strconv.ParseUint(y, 10, 64)
	if err != nil || seq > math.MaxInt64 {
		return cursor{}, bad
	}
	return cursor{tx: strconv.FormatUint(txid, 10), seq: int64(seq)}, nil
}

// queryCursor is the place q reads from: after q.After, or before
// q.Before (feedEnd for credit.EventsEnd). Invalid invalid_cursor.
func queryCursor(q credit.EventQuery) (cursor, error) {
	switch {
	case q.After != "" && q.Before != "":
		return cursor{}, credit.Errorf(credit.Invalid, "invalid_cursor", "after and before cannot be given together")
	case q.Before == credit.EventsEnd:
		return feedEnd, nil
	case q.Before != "":
		return parseCursor(q.Before)
	}
	return parseCursor(q.After)
}

// eventsQuery returns the statement of q's events after c (before c,
// newest first, when q.Before is set), of the transactions below the
// horizon, and its arguments. With an account it reads the events_account
// index, which starts with it; without, events_feed: forward, or backward
// from the cursor down. A type filter is applied to the rows as they are
// read.
func eventsQuery(q credit.EventQuery, c cursor) (string, []any) {
	args := []any{c.tx, c.seq, sqlLimit(q.Limit)}
	op, order := `>`, feedOrder
	if q.Before != "" {
		op, order = `<`, feedOrderBack
	}
	from := `(tx, seq) ` + op + ` ($1::text::xid8, $2::bigint)`
	if q.Account != "" {
		args = append(args, q.Account)
		from = `account = $4 AND (account, tx, seq) ` + op + ` ($4, $1::text::xid8, $2::bigint)`
	}
	where := []string{from, `tx < ` + feedHorizon}
	if len(q.Types) > 0 {
		args = append(args, q.Types)
		where = append(where, `type = ANY($`+strconv.Itoa(len(args))+`::text[])`)
	}
	return `SELECT ` + eventColumns + ` FROM events WHERE ` + strings.Join(where, ` AND `) + `
		ORDER BY ` + order + ` LIMIT $3`, args
}

// Events returns the events after q.After in feed order, at most q.Limit
// (≤ 0: all), each with its Cursor (see credit.EventReader); with
// q.Before, the last of them before that cursor (credit.EventsEnd: the
// newest), in feed order too. Invalid invalid_cursor.
func (t *tx) Events(q credit.EventQuery) ([]credit.Event, error) {
	c, err := queryCursor(q)
	if err != nil {
		return nil, err
	}
	query, args := eventsQuery(q, c)
	var out []credit.Event
	err = t.each("read events", func(s scanner) error {
		e, err := scanEvent(s)
		out = append(out, e)
		return err
	}, query, args...)
	if err != nil {
		return nil, err
	}
	if q.Before != "" {
		slices.Reverse(out)
	}
	return out, nil
}

// EventsHead returns the cursor before every event of the transactions
// that have not ended yet: "<horizon>-0". Every event after it is of a
// change that commits after the statement's snapshot, or was running then.
func (t *tx) EventsHead() (string, error) {
	var h string
	if err := t.queryRow(`SELECT ` + feedHorizon + `::text`).Scan(&h); err != nil {
		return "", t.fail("read the feed's head", err)
	}
	return h + "-0", nil
}

// snapshotEvents reads the whole feed in its order, as the transaction's
// snapshot sees it (Snapshot).
func (t *tx) snapshotEvents() ([]credit.Event, error) {
	var out []credit.Event
	err := t.each("snapshot events", func(s scanner) error {
		e, err := scanEvent(s)
		out = append(out, e)
		return err
	}, `SELECT `+eventColumns+` FROM events ORDER BY `+feedOrder)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// insertEvent appends e to the feed in ptx (outside a Write: a catalog's
// publish).
func insertEvent(ctx context.Context, ptx pgx.Tx, e credit.Event) error {
	_, err := ptx.Exec(ctx, `INSERT INTO events (id, type, time, account, data) VALUES ($1, $2, $3, $4, $5)`,
		e.ID, e.Type, e.Time.UTC(), e.Account, string(e.Data))
	return err
}
