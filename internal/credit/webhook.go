package credit

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"time"
)

// Webhook is an endpoint the studio registered to be told of events (SPEC
// §9): each event of a type it wants becomes one Delivery, signed with its
// secret per the Standard Webhooks specification.
type Webhook struct {
	ID          string // "wh_…"
	URL         string
	Events      []string // event types, or ["*"] for every type
	Description string
	// Secret is "whsec_" and the base64 of the signing key's bytes. It is
	// answered once, when the endpoint is made; every other answer leaves
	// it out. The store keeps it as it is: signing needs the key itself.
	Secret    string
	CreatedAt time.Time
	// DisabledAt is when deliveries to it stopped (its URL answered 410
	// Gone), with why; zero while it is live.
	DisabledAt     time.Time
	DisabledReason string
}

// DeliveryStatus is where a delivery is in its life.
type DeliveryStatus string

// The delivery statuses. A delivery is pending until an attempt is answered
// 2xx (delivered) or the backoff gives up a day after it was made (failed).
const (
	DeliveryPending   DeliveryStatus = "pending"
	DeliveryDelivered DeliveryStatus = "delivered"
	DeliveryFailed    DeliveryStatus = "failed"
)

// Delivery is one event sent to one endpoint, and the log of its attempts
// in brief: how many, and how the last one went.
type Delivery struct {
	ID        string // "whd_…"
	Webhook   string
	Event     string // the event's ID: the webhook-id header of every attempt
	EventType string
	Account   string // the event's account ("" for catalog.published)
	Status    DeliveryStatus
	Attempts  int
	// NextAt is when the next attempt is due (pending only).
	NextAt        time.Time
	LastAttemptAt time.Time
	// LastStatus is the HTTP status the last attempt was answered (0: no
	// answer, see LastError).
	LastStatus  int
	LastError   string
	CreatedAt   time.Time
	DeliveredAt time.Time
}

// Claim is a delivery leased to one node for one attempt, with what the
// attempt needs.
type Claim struct {
	Delivery Delivery
	Event    Event
	URL      string
	Secret   string
}

// Attempt is the outcome of one attempt, for WebhookStore.FinishAttempt.
type Attempt struct {
	Delivery string
	Webhook  string
	At       time.Time
	// Status is the HTTP status answered (0: none, see Error).
	Status int
	Error  string
	// Outcome is the delivery's new status: delivered, pending (tried
	// again at NextAt) or failed.
	Outcome DeliveryStatus
	NextAt  time.Time
	// Disable stops the endpoint's deliveries, with DisableReason (a 410).
	Disable       bool
	DisableReason string
}

// DeliveryQuery asks for deliveries, newest first.
type DeliveryQuery struct {
	Webhook string // "": every endpoint's
	Account string // "": every account's
	Before  string // a delivery ID: those made before it ("": the newest)
	Limit   int
}

// WebhookStore keeps endpoints and deliveries. Both stores implement it.
// Deliveries are made from the feed (ScheduleDeliveries), never on the
// ledger's write path: a slow or dead endpoint cannot slow a write.
type WebhookStore interface {
	// InsertWebhook stores an endpoint whose deliveries start with the
	// events after the feed's head (EventReader.EventsHead) at its commit,
	// and appends the audit entry a (webhook.create) in the same
	// transaction.
	InsertWebhook(ctx context.Context, w Webhook, a AuditEntry) error
	// Webhook returns a live or disabled endpoint. NotFound unknown_webhook
	// (deleted ones too).
	Webhook(ctx context.Context, id string) (Webhook, error)
	// Webhooks returns every endpoint not deleted, oldest first.
	Webhooks(ctx context.Context) ([]Webhook, error)
	// DeleteWebhook deletes an endpoint (its pending deliveries are never
	// attempted) and appends a (webhook.delete). NotFound unknown_webhook.
	DeleteWebhook(ctx context.Context, id string, at time.Time, a AuditEntry) error
	// ScheduleDeliveries makes the deliveries of the events after each live
	// endpoint's place in the feed, up to limit events an endpoint, and
	// moves its place past them, in one transaction per endpoint, so that
	// each event an endpoint wants becomes exactly one delivery (NextAt:
	// now) however many nodes schedule at once. It returns how many
	// deliveries it made.
	ScheduleDeliveries(ctx context.Context, now time.Time, limit int) (int, error)
	// ClaimDeliveries leases up to limit pending deliveries of live
	// endpoints due at now (NextAt ≤ now) whose lease has ended, until
	// `until`: no other claim takes them before then, on any node. A node
	// that dies mid-attempt leaves its lease to end, and the delivery is
	// claimed again: at least once.
	ClaimDeliveries(ctx context.Context, now, until time.Time, limit int) ([]Claim, error)
	// FinishAttempt records an attempt: Attempts+1, the last status and
	// error, the new status, NextAt; ends the lease; and disables the
	// endpoint if asked. NotFound unknown_delivery.
	FinishAttempt(ctx context.Context, a Attempt) error
	// Deliveries returns deliveries, newest first.
	Deliveries(ctx context.Context, q DeliveryQuery) ([]Delivery, error)
	// RetryDelivery makes a delivery of webhook pending and due at now,
	// whatever its status, and appends a (webhook.retry). NotFound
	// unknown_delivery (also when it is another endpoint's).
	RetryDelivery(ctx context.Context, webhook, id string, now time.Time, a AuditEntry) (Delivery, error)
}

// Gauges are the store's answers to the scrape's gauges (GET /metrics).
// Both stores implement it.
type Gauges interface {
	// OutboxLag is how far the endpoints are behind the feed at now: the
	// age of the oldest event a live endpoint has not yet been answered
	// 2xx for (the event of a pending delivery, or the first event after
	// an endpoint's place in the feed not yet scheduled), 0 when there is
	// none.
	OutboxLag(ctx context.Context, now time.Time) (time.Duration, error)
	// OpenHolds counts the open holds of every account.
	OpenHolds(ctx context.Context) (int64, error)
}

// WebhookSpec asks for an endpoint.
type WebhookSpec struct {
	URL         string
	Events      []string // event types, or ["*"]
	Description string
}

// MaxWebhookURL bounds a webhook URL's length in bytes.
const MaxWebhookURL = 2048

// MaxDeliveryPage bounds one page of the delivery log.
const MaxDeliveryPage = 500

func (l *Ledger) webhooks() (WebhookStore, error) {
	ws, ok := l.store.(WebhookStore)
	if !ok {
		return nil, Errorf(Internal, "no_webhooks", "store: %T keeps no webhooks", l.store)
	}
	return ws, nil
}

// NewWebhookSecret returns a new signing secret: "whsec_" and the base64 of
// 32 random bytes, as the Standard Webhooks specification writes them.
func NewWebhookSecret() string {
	var b [32]byte // within the specification's 24 to 64 bytes; HMAC-SHA256's size
	_, _ = rand.Read(b[:])
	return "whsec_" + base64.StdEncoding.EncodeToString(b[:])
}

// CreateWebhook registers an endpoint and answers it with its signing
// secret, the only answer that carries it; audited. Its deliveries start
// with the events of changes that commit after it. Invalid
// invalid_webhook_url, webhook_url_private (LedgerConfig.WebhookGuard),
// invalid_event_type, invalid_description.
func (l *Ledger) CreateWebhook(ctx context.Context, s WebhookSpec) (Webhook, error) {
	if err := l.checkWebhookURL(ctx, s.URL); err != nil {
		return Webhook{}, err
	}
	if len(s.Events) == 0 {
		return Webhook{}, &Error{Code: Invalid, Reason: "invalid_event_type", Allowed: append([]string{"*"}, EventTypes...),
			Message: `events must name at least one event type, or be ["*"] for every type`}
	}
	if err := CheckEventTypes(s.Events, true); err != nil {
		return Webhook{}, err
	}
	if len(s.Description) > 500 || badText(s.Description) != "" {
		return Webhook{}, Errorf(Invalid, "invalid_description", "description must be at most 500 bytes of printable text")
	}
	ws, err := l.webhooks()
	if err != nil {
		return Webhook{}, err
	}
	now := l.Now()
	w := Webhook{ID: NewID("wh", now), URL: s.URL, Events: slices.Compact(slices.Sorted(slices.Values(s.Events))), Description: s.Description,
		Secret: NewWebhookSecret(), CreatedAt: now}
	a, err := auditEntry(ctx, now, AuditWebhookCreate, w.ID, struct {
		URL    string   `json:"url"`
		Events []string `json:"events"`
	}{w.URL, w.Events})
	if err != nil {
		return Webhook{}, err
	}
	if err := ws.InsertWebhook(ctx, w, a); err != nil {
		return Webhook{}, err
	}
	return w, nil
}

// checkWebhookURL checks a webhook URL's form, then asks the guard.
func (l *Ledger) checkWebhookURL(ctx context.Context, raw string) error {
	if _, err := CheckWebhookURL(raw); err != nil {
		return err
	}
	if l.webhookGuard != nil {
		return l.webhookGuard(ctx, raw)
	}
	return nil
}

// CheckWebhookURL is the one definition of a webhook URL's form: an
// absolute http or https URL of at most MaxWebhookURL bytes, with a host,
// a port (if any) of 1 to 65535, and no user name or password. Invalid
// invalid_webhook_url otherwise. Where it may send is the guard's to say
// (internal/webhook).
func CheckWebhookURL(raw string) (*url.URL, error) {
	bad := func(why string) (*url.URL, error) {
		return nil, Errorf(Invalid, "invalid_webhook_url",
			"a webhook URL is an absolute http or https URL of at most %d bytes, with a host and no user name or password%s", MaxWebhookURL, why)
	}
	if raw == "" {
		return bad(": this one is empty")
	}
	if len(raw) > MaxWebhookURL {
		return bad(fmt.Sprintf(": this one is %d bytes", len(raw)))
	}
	u, err := url.Parse(raw)
	switch {
	case err != nil:
		return bad(": this one does not parse")
	case u.Scheme != "http" && u.Scheme != "https":
		return bad(fmt.Sprintf(": this one's scheme is %q", u.Scheme))
	case u.Opaque != "" || u.Hostname() == "":
		return bad(": this one has no host")
	case u.User != nil:
		return bad(": this one has a user name")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return bad(fmt.Sprintf(": this one's port %q is not 1 to 65535", p))
		}
	}
	return u, nil
}

// Webhooks returns every endpoint, oldest first, without secrets.
func (l *Ledger) Webhooks(ctx context.Context) ([]Webhook, error) {
	ws, err := l.webhooks()
	if err != nil {
		return nil, err
	}
	out, err := ws.Webhooks(ctx)
	for i := range out {
		out[i].Secret = ""
	}
	return out, err
}

// Webhook returns an endpoint without its secret. NotFound unknown_webhook.
func (l *Ledger) Webhook(ctx context.Context, id string) (Webhook, error) {
	if err := named(id, "webhook"); err != nil {
		return Webhook{}, err
	}
	ws, err := l.webhooks()
	if err != nil {
		return Webhook{}, err
	}
	w, err := ws.Webhook(ctx, id)
	w.Secret = ""
	return w, err
}

// DeleteWebhook deletes an endpoint: its pending deliveries are never
// attempted; audited. NotFound unknown_webhook.
func (l *Ledger) DeleteWebhook(ctx context.Context, id string) error {
	if err := named(id, "webhook"); err != nil {
		return err
	}
	ws, err := l.webhooks()
	if err != nil {
		return err
	}
	now := l.Now()
	a, err := auditEntry(ctx, now, AuditWebhookDelete, id, struct{}{})
	if err != nil {
		return err
	}
	return ws.DeleteWebhook(ctx, id, now, a)
}

// Deliveries returns a page of the delivery log, newest first. With
// q.Webhook or q.Account, that endpoint or account must exist: NotFound
// unknown_webhook, unknown_account.
func (l *Ledger) Deliveries(ctx context.Context, q DeliveryQuery) ([]Delivery, error) {
	if q.Limit <= 0 || q.Limit > MaxDeliveryPage {
		return nil, Errorf(Invalid, "invalid_limit", "limit must be 1 to %d, not %d", MaxDeliveryPage, q.Limit)
	}
	if q.Account != "" {
		if err := named(q.Account, "account"); err != nil {
			return nil, err
		}
		if _, err := view(ctx, l, func(tx Tx, _ time.Time) (Account, error) { return tx.Account(q.Account) }); err != nil {
			return nil, err
		}
	}
	ws, err := l.webhooks()
	if err != nil {
		return nil, err
	}
	if q.Webhook != "" {
		if err := named(q.Webhook, "webhook"); err != nil {
			return nil, err
		}
		if _, err := ws.Webhook(ctx, q.Webhook); err != nil {
			return nil, err
		}
	}
	return ws.Deliveries(ctx, q)
}

// RetryDelivery makes a delivery due now, whatever became of it (a failed
// one after its endpoint is fixed); audited. NotFound unknown_webhook,
// unknown_delivery.
func (l *Ledger) RetryDelivery(ctx context.Context, webhook, id string) (Delivery, error) {
	if err := named(webhook, "webhook"); err != nil {
		return Delivery{}, err
	}
	if err := named(id, "delivery"); err != nil {
		return Delivery{}, err
	}
	ws, err := l.webhooks()
	if err != nil {
		return Delivery{}, err
	}
	if _, err := ws.Webhook(ctx, webhook); err != nil {
		return Delivery{}, err
	}
	now := l.Now()
	a, err := auditEntry(ctx, now, AuditWebhookRetry, webhook, struct {
		Delivery string `json:"delivery"`
	}{id})
	if err != nil {
		return Delivery{}, err
	}
	return ws.RetryDelivery(ctx, webhook, id, now, a)
}
