package sqlite

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"

	"github.com/tally-credits/tally/internal/credit"
)

var _ credit.EventReader = (*tx)(nil)

// The feed (migration 0009) is the events table in seq order: SQLite
// commits one transaction at a time, so the order in which events were
// inserted is the order in which their changes committed, and no event
// ever commits before one already read. A cursor is an event's seq in
// decimal; the feed's head is the largest seq (0 for an empty feed).

const eventColumns = `seq, id, type, time, account, data`

func scanEvent(s scanner) (credit.Event, error) {
	var e credit.Event
	var seq int64
	var data []byte
	if err := s.Scan(&seq, &e.ID, &e.Type, timeColumn{&e.Time}, &e.Account, &data); err != nil {
		return e, err
	}
	e.Data = json.RawMessage(data)
	e.Cursor = strconv.FormatInt(seq, 10)
	return e, nil
}

func (t *tx) events(op, query string, args ...any) ([]credit.Event, error) {
	var out []credit.Event
	err := t.each(op, func(s scanner) error {
		e, err := scanEvent(s)
		out = append(out, e)
		return err
	}, query, args...)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// parseCursor reads a cursor of the feed: "" is its start (0).
func parseCursor(c string) (int64, error) {
	if c == "" {
		return 0, nil
	}
	seq, err := strconv.ParseInt(c, 10, 64)
	if err != nil || seq < 0 || strconv.FormatInt(seq, 10) != c {
		return 0, credit.Errorf(credit.Invalid, "invalid_cursor", "%q is not a cursor of the event feed", c)
	}
	return seq, nil
}

// parseBefore reads the cursor of a backward read as the largest seq its
// page may hold: the one before the cursor's, every seq for the feed's end
// (credit.EventsEnd).
func parseBefore(c string) (int64, error) {
	if c == credit.EventsEnd {
		return math.MaxInt64, nil
	}
	seq, err := parseCursor(c)
	return seq - 1, err
}

// The feed's queries: one account's by events_account, every account's by
// the primary key; a type filter (?2, a JSON array, NULL for every type)
// checks the rows met on the way. The backward ones read the same index
// from the other end, down from the seq ?1 (included), and answer the page
// newest first, which Events turns round.
const (
	eventsQuery = `SELECT ` + eventColumns + ` FROM events
		WHERE seq > ?1 AND (?2 IS NULL OR type IN (SELECT value FROM json_each(?2))) ORDER BY seq LIMIT ?3`
	accountEventsQuery = `SELECT ` + eventColumns + ` FROM events
		WHERE account = ?4 AND seq > ?1 AND (?2 IS NULL OR type IN (SELECT value FROM json_each(?2))) ORDER BY seq LIMIT ?3`
	eventsBackQuery = `SELECT ` + eventColumns + ` FROM events
		WHERE seq <= ?1 AND (?2 IS NULL OR type IN (SELECT value FROM json_each(?2))) ORDER BY seq DESC LIMIT ?3`
	accountEventsBackQuery = `SELECT ` + eventColumns + ` FROM events
		WHERE account = ?4 AND seq <= ?1 AND (?2 IS NULL OR type IN (SELECT value FROM json_each(?2))) ORDER BY seq DESC LIMIT ?3`
)

// Events returns the events after q.After in feed order, at most q.Limit
// (≤ 0: no limit), of q.Types only (none, or "*": every type) and of
// q.Account only (""; every account's). With q.Before it returns the last
// of them before that cursor (credit.EventsEnd: the newest), in feed order
// too. Invalid invalid_cursor for a cursor that is not a seq, and for
// After and Before together.
func (t *tx) Events(q credit.EventQuery) ([]credit.Event, error) {
	if q.After != "" && q.Before != "" {
		return nil, credit.Errorf(credit.Invalid, "invalid_cursor", "after and before cannot be given together")
	}
	back := q.Before != ""
	var (
		from int64
		err  error
	)
	if back {
		from, err = parseBefore(q.Before)
	} else {
		from, err = parseCursor(q.After)
	}
	if err != nil {
		return nil, err
	}
	var types any // NULL: every type
	if len(q.Types) > 0 && !slices.Contains(q.Types, "*") {
		b, err := json.Marshal(q.Types)
		if err != nil {
			return nil, credit.Errorf(credit.Internal, "store_error", "sqlite: read events: %v", err)
		}
		types = string(b)
	}
	query, args := eventsQuery, []any{from, types, sqlLimit(q.Limit)}
	switch {
	case back && q.Account != "":
		query = accountEventsBackQuery
	case back:
		query = eventsBackQuery
	case q.Account != "":
		query = accountEventsQuery
	}
	if q.Account != "" {
		args = append(args, q.Account)
	}
	out, err := t.events("read events", query, args...)
	if back {
		slices.Reverse(out)
	}
	return out, err
}

// EventsHead returns the cursor of the last event (0 for none): the events
// after it are those of the changes that commit later.
func (t *tx) EventsHead() (string, error) {
	head, err := t.head()
	if err != nil {
		return "", err
	}
	return strconv.FormatInt(head, 10), nil
}

// head is the seq of the last event, 0 for none.
func (t *tx) head() (int64, error) {
	var seq int64
	if err := t.queryRow(`SELECT coalesce(max(seq), 0) FROM events`).Scan(&seq); err != nil {
		return 0, t.fail("read the feed's head", err)
	}
	return seq, nil
}
