package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"

	"github.com/tally-credits/tally/internal/credit"
)

// Event is one thing that happened to the ledger, as the change feed
// answers it and a webhook delivery's body carries it.
type Event struct {
	ID      string          `json:"id" doc:"evt_…: unique; a webhook delivery's webhook-id header. Consumers that may see an event twice (a retried delivery, a feed read again) deduplicate by it." example:"evt_01JF3Z8Q4W6V0T9G2R5N7K1M3B"`
	Type    string          `json:"type" doc:"The event type (see the README's table of event types and their data)." example:"balance.low"`
	Time    time.Time       `json:"time" doc:"When the change happened (the ledger's clock)."`
	Account string          `json:"account" doc:"The account it concerns; \"\" for catalog.published."`
	Data    json.RawMessage `json:"data" doc:"The event's fields, by type: credits are JSON numbers, times RFC 3339."`
}

// NewEvent converts an event to its wire form.
func NewEvent(e credit.Event) Event {
	data := e.Data
	if len(data) == 0 {
		data = json.RawMessage("{}")
	}
	return Event{ID: e.ID, Type: e.Type, Time: e.Time.UTC(), Account: e.Account, Data: data}
}

// Events is a page of the change feed.
type Events struct {
	Events     []Event `json:"events" doc:"In feed order, oldest first: the order their changes committed (a page read with before too)."`
	NextCursor string  `json:"next_cursor" doc:"Pass as after for the events that follow: the last event's cursor. With none: the after given (\"\" from the start of an empty feed); with before=end, the feed's end as it was, so that reading after it (with wait) follows the feed live; with another before, \"\" (nothing the filters keep is before it, so reading from the start misses nothing)."`
	PrevCursor string  `json:"prev_cursor,omitempty" doc:"Pass as before for the events that precede this page: the first event's cursor. Absent when the page is empty."`
}

// DefaultEventPage is the events per page when the client does not say.
const DefaultEventPage = 100

// longPollMargin is how long past its wait a long poll may take to write
// its answer: the server's read and write deadlines of the connection are
// moved to the wait plus this, so that a 60 s poll outlives a 30 s write
// timeout.
const longPollMargin = 30 * time.Second

// parseWait reads the wait of a long poll: a Go duration ("30s", "1m") or
// whole seconds ("30"), 0 to credit.MaxEventWait. "" is 0: answer at once.
func parseWait(s string) (time.Duration, error) {
	bad := func() error {
		return credit.Errorf(credit.Invalid, "invalid_wait", "wait must be 0s to %s, as a duration like 30s or whole seconds like 30, not %q", credit.MaxEventWait, s)
	}
	if s == "" {
		return 0, nil
	}
	if n, err := strconv.ParseUint(s, 10, 32); err == nil {
		if time.Duration(n) > credit.MaxEventWait/time.Second {
			return 0, bad()
		}
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 || d > credit.MaxEventWait {
		return 0, bad()
	}
	return d, nil
}

// checkCursor refuses a cursor that no store could have given out: up to
// 128 visible ASCII characters. It keeps bytes a store cannot compare
// (NUL, invalid UTF-8) away from it.
func checkCursor(field, s string) error {
	ok := len(s) <= 128
	for i := 0; ok && i < len(s); i++ {
		ok = s[i] >= '!' && s[i] <= '~'
	}
	if !ok {
		return credit.Errorf(credit.Invalid, "invalid_cursor", "%s is not a cursor this API gave out", field)
	}
	return nil
}

// splitTypes reads a comma-separated list of event types ("" for every
// type).
func splitTypes(s string) []string {
	if s == "" {
		return nil
	}
	types := strings.Split(s, ",")
	for i := range types {
		types[i] = strings.TrimSpace(types[i])
	}
	return types
}

// longPoll is the middleware of a long-polled route: it moves the
// connection's read and write deadlines past the request's wait, which may
// be longer than the server's timeouts (tally serve's are 30 s). A server
// without timeouts, or a wait that will be refused, is left as it is.
func longPoll(ctx huma.Context, next func(huma.Context)) {
	if wait, err := parseWait(ctx.Query("wait")); err == nil && wait > 0 {
		_, w := humago.Unwrap(ctx)
		rc := http.NewResponseController(w)
		deadline := time.Now().Add(wait + longPollMargin)
		// The read deadline too: net/http cancels a request's context
		// when its connection's read times out.
		_ = rc.SetReadDeadline(deadline)
		_ = rc.SetWriteDeadline(deadline)
	}
	next(ctx)
}

// EndLongPolls answers every long poll in progress, and every one that
// starts later, at once with what it has (often nothing): a server shutting
// down gracefully must not wait a minute for its polls. Call it when
// shutdown begins (http.Server.RegisterOnShutdown); it may be called more
// than once.
func (s *Server) EndLongPolls() { s.draining.Do(func() { close(s.drained) }) }

func (s *Server) eventRoutes() {
	register(s, huma.Operation{
		OperationID: "list-events",
		Method:      http.MethodGet,
		Path:        "/v1/events",
		Summary:     "The change feed: the ledger's events after a cursor (long-polled) or before one",
		Description: "Every change to the ledger writes its events in the same transaction (an outbox), so an event is in the feed if and only if its change committed. Answers up to limit events after the cursor `after`, oldest first, in the order their changes committed; pass next_cursor as after to read on. With wait, when no event is after the cursor yet, the answer waits up to that long for one (a long poll: a write on this node wakes it at once, another node's within a fraction of a second) and answers an empty page if none came. With `before` instead of after, it reads backward: the last limit events before that cursor, still oldest first; `before=end` is the newest events. Pass prev_cursor as before for the page before, and next_cursor as after (with wait) to follow the feed from there. Events of one change share its time and come in no promised order among themselves. Admin and service keys. 422 invalid_cursor (after and before together too), invalid_event_type (allowed lists the types), invalid_wait (wait with before too), invalid_account_id.",
		Tags:        []string{"Events"},
		Middlewares: huma.Middlewares{longPoll},
	}, allowAdmin|allowService, func(ctx context.Context, in *struct {
		After   string `query:"after" doc:"next_cursor of an earlier answer; absent: from the first event."`
		Before  string `query:"before" doc:"Read backward: the events before this cursor (an event's, or an answer's prev_cursor), or before=end for the newest. Not with after, nor with wait." example:"end"`
		Types   string `query:"types" doc:"Comma-separated event types to keep, e.g. balance.low,topup.requested; absent: every type." example:"balance.low,topup.requested"`
		Account string `query:"account" doc:"Keep one account's events only; absent: every account's (and catalog.published)."`
		Limit   int    `query:"limit" minimum:"1" maximum:"1000" default:"100" doc:"Events per page."`
		Wait    string `query:"wait" doc:"How long to wait for an event when none is after the cursor: a duration (30s, 1m) or whole seconds (30), at most 60s; absent or 0: answer at once. Not with before." example:"30s"`
	}) (*struct{ Body *Events }, error) {
		if err := checkCursor("after", in.After); err != nil {
			return nil, s.fail(err)
		}
		if err := checkCursor("before", in.Before); err != nil {
			return nil, s.fail(err)
		}
		wait, err := parseWait(in.Wait)
		if err != nil {
			return nil, s.fail(err)
		}
		limit := in.Limit
		if limit == 0 {
			limit = DefaultEventPage
		}
		q := credit.EventQuery{After: in.After, Before: in.Before, Types: splitTypes(in.Types), Account: in.Account, Limit: limit}
		if in.Before != "" {
			if wait > 0 {
				return nil, s.fail(credit.Errorf(credit.Invalid, "invalid_wait", "wait is not taken with before: a read backward answers at once; pass its next_cursor as after with wait to follow the feed"))
			}
			out, err := s.eventsBefore(ctx, q)
			if err != nil {
				return nil, s.fail(err)
			}
			return &struct{ Body *Events }{out}, nil
		}
		// The poll ends when the client goes away (ctx) or the server
		// shuts down (drained), answering what it has.
		poll, stop := context.WithCancel(ctx)
		defer stop()
		go func() {
			select {
			case <-s.drained:
				stop()
			case <-poll.Done():
			}
		}()
		evs, err := s.ledger.WaitEvents(poll, q, wait)
		if err != nil && poll.Err() != nil && ctx.Err() == nil {
			// Shutting down: an empty page, and the client polls again,
			// at another node.
			evs, err = nil, nil
		}
		if err != nil {
			return nil, s.fail(err)
		}
		return &struct{ Body *Events }{eventPage(evs, in.After)}, nil
	})
}

// eventPage is the answer of evs, next_cursor next when there are none.
func eventPage(evs []credit.Event, next string) *Events {
	out := &Events{Events: make([]Event, len(evs)), NextCursor: next}
	for i, e := range evs {
		out.Events[i] = NewEvent(e)
	}
	if len(evs) > 0 {
		out.PrevCursor = evs[0].Cursor
		out.NextCursor = evs[len(evs)-1].Cursor
	}
	return out
}

// eventsBefore answers a read backward (q.Before). An empty page's
// next_cursor is, before the end, the feed's head, which is read before the
// page is read again: an event that committed between the empty page and
// the head would be after the page but not after the head, and a client
// following the feed from there would never see it. Read before the page,
// the head is at or before its end, and the page (still empty) tells that
// no event the filters keep is between them. Before another cursor it is
// "": nothing the filters keep is before that cursor, so the feed's start
// is the same place.
func (s *Server) eventsBefore(ctx context.Context, q credit.EventQuery) (*Events, error) {
	evs, err := s.ledger.Events(ctx, q)
	if err != nil || len(evs) > 0 || q.Before != credit.EventsEnd {
		return eventPage(evs, ""), err
	}
	var head string
	err = s.ledger.Store().View(ctx, func(tx credit.Tx) error {
		r, err := credit.Events(tx)
		if err != nil {
			return err
		}
		head, err = r.EventsHead()
		return err
	})
	if err != nil {
		return nil, err
	}
	evs, err = s.ledger.Events(ctx, q)
	return eventPage(evs, head), err
}
