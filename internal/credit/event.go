package credit

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// The event types (SPEC §9). Each is written in the transaction of the
// change it tells of (an outbox): an event exists if and only if its change
// committed.
const (
	EventGrantCreated        = "grant.created"
	EventGrantExpiring       = "grant.expiring"
	EventGrantExpired        = "grant.expired"
	EventGrantVoided         = "grant.voided"
	EventGenerationCreated   = "generation.created"
	EventGenerationCompleted = "generation.completed"
	EventGenerationFailed    = "generation.failed"
	EventGenerationExpired   = "generation.expired"
	EventGenerationRefunded  = "generation.refunded"
	EventBalanceLow          = "balance.low"
	EventBalanceDepleted     = "balance.depleted"
	EventBalanceRecovered    = "balance.recovered"
	EventMemberLimitReached  = "member.limit_reached"
	EventSubscriptionCreated = "subscription.created"
	EventSubscriptionRenewed = "subscription.renewed"
	EventSubscriptionChanged = "subscription.changed"
	EventSubscriptionCancel  = "subscription.canceled"
	EventTopupRequested      = "topup.requested"
	EventTopupConfirmed      = "topup.confirmed"
	EventTopupCanceled       = "topup.canceled"
	EventCatalogPublished    = "catalog.published"
)

// EventTypes lists every event type, for validation and documentation.
var EventTypes = []string{
	EventGrantCreated, EventGrantExpiring, EventGrantExpired, EventGrantVoided,
	EventGenerationCreated, EventGenerationCompleted, EventGenerationFailed, EventGenerationExpired, EventGenerationRefunded,
	EventBalanceLow, EventBalanceDepleted, EventBalanceRecovered,
	EventMemberLimitReached,
	EventSubscriptionCreated, EventSubscriptionRenewed, EventSubscriptionChanged, EventSubscriptionCancel,
	EventTopupRequested, EventTopupConfirmed, EventTopupCanceled,
	EventCatalogPublished,
}

// Event is one thing that happened to the ledger, as the change feed
// (GET /v1/events) and webhooks tell it. The ledger makes it in the same
// decision as the change it tells of (see Book.news) and the store writes
// it in the change's transaction.
type Event struct {
	// ID is "evt_…", the Standard Webhooks webhook-id of its deliveries.
	ID   string
	Type string
	Time time.Time
	// Account is the account it concerns ("" for catalog.published).
	Account string
	// Data is the event's JSON object (see the event types in the README).
	Data json.RawMessage
	// Cursor is the event's place in the feed, set by the store when it
	// reads it back: an opaque string that EventQuery.After and
	// EventQuery.Before take.
	Cursor string
}

// EventQuery asks the feed for events after a cursor, or before one.
type EventQuery struct {
	// After is a cursor of an earlier answer ("": from the first event).
	After string
	// Before, when set, reads the feed backward: the last Limit events
	// strictly before this cursor in feed order (still answered oldest
	// first), by the same filters and the same visibility rules.
	// EventsEnd is the feed's visible end: the newest events. After and
	// Before together are Invalid invalid_cursor.
	Before string
	// Types keeps events of these types only (nil: every type).
	Types []string
	// Account keeps one account's events only ("": every account's).
	Account string
	// Limit is the most events answered (1 to MaxEvents).
	Limit int
}

// MaxEvents bounds one page of the feed.
const MaxEvents = 1000

// EventsEnd is the EventQuery.Before of the feed's visible end: the page
// of its newest events.
const EventsEnd = "end"

// EventReader is the change feed's read side, which both stores offer on
// their transactions (found by type assertion, as Scanner is).
//
// Events returns the events after q.After in feed order, at most q.Limit;
// or, with q.Before, the last q.Limit events before that cursor (EventsEnd:
// the newest ones), in feed order too.
// Feed order is the order in which their transactions committed, as far as
// a reader can ever tell: once an event has been answered after cursor c, no
// event that commits later is ever answered after c. (SQLite commits one
// transaction at a time, so its order is its insert order; PostgreSQL's
// commits overlap, so it orders by transaction and answers only events of
// transactions older than every transaction still running.) A cursor that
// is not one of the store's is Invalid invalid_cursor.
//
// EventsHead returns the cursor of the feed's end as it is now: events
// after it are those of changes that commit later (a new webhook starts
// there).
type EventReader interface {
	Events(q EventQuery) ([]Event, error)
	EventsHead() (string, error)
}

// Events returns tx's EventReader. Internal if the store has no feed.
func Events(tx Tx) (EventReader, error) {
	r, ok := tx.(EventReader)
	if !ok {
		return nil, Errorf(Internal, "no_events", "store: %T has no event feed", tx)
	}
	return r, nil
}

// CheckEventTypes refuses (Invalid invalid_event_type) a list naming a type
// tally does not have. "*" stands for every type where allowStar.
func CheckEventTypes(types []string, allowStar bool) error {
	for _, t := range types {
		if t == "*" && allowStar {
			continue
		}
		if !slices.Contains(EventTypes, t) {
			allowed := EventTypes
			if allowStar {
				allowed = append([]string{"*"}, EventTypes...)
			}
			return &Error{Code: Invalid, Reason: "invalid_event_type", Allowed: allowed,
				Message: "event type " + shown(t) + " is not one of tally's: " + strings.Join(allowed, ", ")}
		}
	}
	return nil
}

// WantsType reports whether a subscription to types ("*": all) takes an
// event of type t.
func WantsType(types []string, t string) bool {
	return slices.Contains(types, "*") || slices.Contains(types, t)
}

// newEvent makes an event of the account's at `at` with data as its JSON.
func newEvent(typ, account string, at time.Time, data any) Event {
	d, err := json.Marshal(data)
	if err != nil {
		// The data are the ledger's own structs of strings, numbers and
		// times: they always encode.
		panic("credit: encode event data: " + err.Error())
	}
	return Event{ID: NewID("evt", at), Type: typ, Time: at, Account: account, Data: d}
}

// PublishEvent is the catalog.published event of a publish: the stores
// write it in the publish's transaction, beside PublishAudit's entry.
func PublishEvent(r CatalogRecord) Event {
	at := r.PublishedAt.UTC().Truncate(time.Microsecond)
	return newEvent(EventCatalogPublished, "", at, struct {
		Version     string    `json:"version"`
		EffectiveAt time.Time `json:"effective_at"`
	}{r.Version, r.EffectiveAt.UTC()})
}
