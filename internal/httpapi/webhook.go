package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tally-credits/tally/internal/credit"
)

// Webhook is an endpoint the studio registered to be sent events.
type Webhook struct {
	ID          string   `json:"id" example:"wh_01JF3Z8Q4W6V0T9G2R5N7K1M3B"`
	URL         string   `json:"url" example:"https://studio.example/hooks/tally"`
	Events      []string `json:"events" doc:"The event types it is sent, sorted; [\"*\"]: every type."`
	Description string   `json:"description"`
	// Secret is set only in the answer that made the endpoint.
	Secret         string     `json:"secret,omitempty" doc:"The signing secret, whsec_ and the base64 of 32 random bytes: only in the answer to POST /v1/webhooks, never again. Verify each delivery's webhook-signature with it (Standard Webhooks)." example:"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"`
	Status         string     `json:"status" enum:"active,disabled" doc:"active: events are delivered; disabled: its URL answered 410 Gone, and nothing is sent any more (delete it and register the URL again to resume)."`
	CreatedAt      time.Time  `json:"created_at"`
	DisabledAt     *time.Time `json:"disabled_at,omitempty"`
	DisabledReason string     `json:"disabled_reason,omitempty"`
}

// NewWebhook converts an endpoint to its wire form (with its secret only if
// w carries it: the answer that made it).
func NewWebhook(w credit.Webhook) *Webhook {
	out := &Webhook{ID: w.ID, URL: w.URL, Events: append([]string{}, w.Events...), Description: w.Description, Secret: w.Secret,
		Status: "active", CreatedAt: w.CreatedAt.UTC(), DisabledAt: optTime(w.DisabledAt), DisabledReason: w.DisabledReason}
	if !w.DisabledAt.IsZero() {
		out.Status = "disabled"
	}
	return out
}

// Webhooks is every endpoint, oldest first.
type Webhooks struct {
	Webhooks []Webhook `json:"webhooks" doc:"Oldest first; never their secrets."`
}

// WebhookRequest registers an endpoint.
type WebhookRequest struct {
	URL         string   `json:"url" doc:"Where to POST the events: an absolute http or https URL of at most 2048 bytes, with no user name or password. A URL whose host is or resolves to a loopback, private, link-local or otherwise internal address is refused (422 webhook_url_private) unless the server runs with --webhooks-allow-private." example:"https://studio.example/hooks/tally"`
	Events      []string `json:"events" doc:"The event types to send, or [\"*\"] for every type (422 invalid_event_type lists them)." example:"[\"balance.low\",\"topup.requested\"]"`
	Description string   `json:"description,omitempty" doc:"For people: at most 500 bytes of printable text."`
}

// Delivery is one event sent to one endpoint: where it is, and how its last
// attempt went.
type Delivery struct {
	ID            string                `json:"id" example:"whd_01JF3Z8Q4W6V0T9G2R5N7K1M3B"`
	Webhook       string                `json:"webhook"`
	Event         string                `json:"event" doc:"The event's id: the webhook-id header of every attempt."`
	EventType     string                `json:"event_type" example:"topup.requested"`
	Account       string                `json:"account,omitempty" doc:"The event's account; absent for catalog.published."`
	Status        credit.DeliveryStatus `json:"status" enum:"pending,delivered,failed" doc:"pending: to be attempted at next_at; delivered: answered 2xx; failed: the retries gave up, a day after the event (POST …/retry sends it again)."`
	Attempts      int                   `json:"attempts"`
	NextAt        *time.Time            `json:"next_at,omitempty" doc:"When the next attempt is due (pending only)."`
	LastAttemptAt *time.Time            `json:"last_attempt_at,omitempty"`
	LastStatus    *int                  `json:"last_status,omitempty" doc:"The HTTP status the last attempt was answered; absent when it got no answer (see last_error) or none was made."`
	LastError     string                `json:"last_error,omitempty" doc:"Why the last attempt failed: no answer (a timeout, a refused connection), or the start of a non-2xx answer's body."`
	CreatedAt     time.Time             `json:"created_at"`
	DeliveredAt   *time.Time            `json:"delivered_at,omitempty"`
}

// NewDelivery converts a delivery to its wire form.
func NewDelivery(d credit.Delivery) Delivery {
	out := Delivery{ID: d.ID, Webhook: d.Webhook, Event: d.Event, EventType: d.EventType, Account: d.Account, Status: d.Status,
		Attempts: d.Attempts, LastAttemptAt: optTime(d.LastAttemptAt), LastError: d.LastError, CreatedAt: d.CreatedAt.UTC(),
		DeliveredAt: optTime(d.DeliveredAt)}
	if d.Status == credit.DeliveryPending {
		out.NextAt = optTime(d.NextAt)
	}
	if d.LastStatus != 0 {
		out.LastStatus = &d.LastStatus
	}
	return out
}

// Deliveries is a page of the delivery log, newest first.
type Deliveries struct {
	Webhook    string     `json:"webhook,omitempty" doc:"The endpoint whose deliveries these are (GET /v1/webhooks/{id}/deliveries)."`
	Account    string     `json:"account,omitempty" doc:"The account whose events' deliveries these are (GET /v1/accounts/{id}/deliveries)."`
	Deliveries []Delivery `json:"deliveries" doc:"Newest first."`
	NextBefore string     `json:"next_before,omitempty" doc:"Pass as before for the next (older) page; absent on the last page."`
}

// DefaultDeliveryPage is the deliveries per page when the client does not
// say.
const DefaultDeliveryPage = 50

// deliveryPage answers a page of the delivery log for q, which names a
// webhook or an account: limit of them (and whether older ones remain)
// before q.Before.
func (s *Server) deliveryPage(ctx context.Context, q credit.DeliveryQuery) (*Deliveries, error) {
	if err := checkCursor("before", q.Before); err != nil {
		return nil, err
	}
	limit := q.Limit
	if limit == 0 {
		limit = DefaultDeliveryPage
	}
	page, more, err := pageOf(limit, credit.MaxDeliveryPage, func(before string, n int) ([]credit.Delivery, error) {
		q.Before, q.Limit = before, n
		return s.ledger.Deliveries(ctx, q)
	}, q.Before, func(d credit.Delivery) string { return d.ID })
	if err != nil {
		return nil, err
	}
	out := &Deliveries{Webhook: q.Webhook, Account: q.Account, Deliveries: make([]Delivery, len(page))}
	for i, d := range page {
		out.Deliveries[i] = NewDelivery(d)
	}
	if more {
		out.NextBefore = page[len(page)-1].ID
	}
	return out, nil
}

// pageOf reads a page of at most limit items before `before` with read (at
// most max a call), and whether older ones remain: it asks for one more
// than the page, or, for a page of max, looks one item further.
func pageOf[T any](limit, max int, read func(before string, n int) ([]T, error), before string, id func(T) string) ([]T, bool, error) {
	ask := min(limit+1, max)
	page, err := read(before, ask)
	if err != nil {
		return nil, false, err
	}
	if len(page) > limit {
		return page[:limit], true, nil
	}
	if len(page) < limit || len(page) == 0 || ask > limit {
		return page, false, nil
	}
	next, err := read(id(page[len(page)-1]), 1)
	if err != nil {
		return nil, false, err
	}
	return page, len(next) > 0, nil
}

func (s *Server) webhookRoutes() {
	register(s, huma.Operation{
		OperationID:   "create-webhook",
		Method:        http.MethodPost,
		Path:          "/v1/webhooks",
		Summary:       "Register a webhook endpoint",
		Description:   "From the next change that commits, each event of a type it wants becomes one delivery: a POST of the event (as GET /v1/events shows it) to url, signed per the Standard Webhooks specification with the secret this answer carries, the only answer that ever will. Deliveries are at least once, retried with backoff for a day; an endpoint that answers 410 Gone is disabled. Not idempotent: a retry registers a second endpoint (list and delete the extra). Admin keys only. 422 invalid_webhook_url, webhook_url_private, invalid_event_type, invalid_description.",
		Tags:          []string{"Webhooks"},
		DefaultStatus: http.StatusCreated,
	}, allowAdmin, func(ctx context.Context, in *struct {
		Body jsonBody[WebhookRequest]
	}) (*struct{ Body *Webhook }, error) {
		b := &in.Body.Value
		w, err := s.ledger.CreateWebhook(ctx, credit.WebhookSpec{URL: b.URL, Events: b.Events, Description: b.Description})
		if err != nil {
			return nil, s.fail(err)
		}
		return &struct{ Body *Webhook }{NewWebhook(w)}, nil
	})

	register(s, huma.Operation{
		OperationID: "list-webhooks",
		Method:      http.MethodGet,
		Path:        "/v1/webhooks",
		Summary:     "List the webhook endpoints",
		Description: "Every endpoint not deleted, oldest first, disabled ones included; never their secrets. Admin keys only.",
		Tags:        []string{"Webhooks"},
	}, allowAdmin, func(ctx context.Context, _ *struct{}) (*struct{ Body *Webhooks }, error) {
		ws, err := s.ledger.Webhooks(ctx)
		if err != nil {
			return nil, s.fail(err)
		}
		out := &Webhooks{Webhooks: make([]Webhook, len(ws))}
		for i, w := range ws {
			out.Webhooks[i] = *NewWebhook(w)
		}
		return &struct{ Body *Webhooks }{out}, nil
	})

	register(s, huma.Operation{
		OperationID: "get-webhook",
		Method:      http.MethodGet,
		Path:        "/v1/webhooks/{id}",
		Summary:     "Get a webhook endpoint",
		Description: "Without its secret. 404 unknown_webhook, deleted ones too. Admin keys only.",
		Tags:        []string{"Webhooks"},
	}, allowAdmin, func(ctx context.Context, in *struct {
		ID string `path:"id" doc:"Webhook id."`
	}) (*struct{ Body *Webhook }, error) {
		w, err := s.ledger.Webhook(ctx, in.ID)
		if err != nil {
			return nil, s.failOn(err, "webhook", in.ID)
		}
		return &struct{ Body *Webhook }{NewWebhook(w)}, nil
	})

	register(s, huma.Operation{
		OperationID:   "delete-webhook",
		Method:        http.MethodDelete,
		Path:          "/v1/webhooks/{id}",
		Summary:       "Delete a webhook endpoint",
		Description:   "Nothing more is sent to it; its pending deliveries are never attempted. 404 unknown_webhook (also when it was deleted already). Admin keys only.",
		Tags:          []string{"Webhooks"},
		DefaultStatus: http.StatusNoContent,
	}, allowAdmin, func(ctx context.Context, in *struct {
		ID string `path:"id" doc:"Webhook id."`
	}) (*struct{}, error) {
		if err := s.ledger.DeleteWebhook(ctx, in.ID); err != nil {
			return nil, s.failOn(err, "webhook", in.ID)
		}
		return &struct{}{}, nil
	})

	register(s, huma.Operation{
		OperationID: "list-webhook-deliveries",
		Method:      http.MethodGet,
		Path:        "/v1/webhooks/{id}/deliveries",
		Summary:     "An endpoint's deliveries, newest first",
		Description: "Each event sent (or to be sent) to the endpoint, with its status, attempts and how the last one went. Paged: pass next_before as before. Admin keys only. 404 unknown_webhook.",
		Tags:        []string{"Webhooks"},
	}, allowAdmin, func(ctx context.Context, in *struct {
		ID     string `path:"id" doc:"Webhook id."`
		Before string `query:"before" doc:"next_before of the previous page (a delivery id); absent: the newest."`
		Limit  int    `query:"limit" minimum:"1" maximum:"500" default:"50" doc:"Deliveries per page."`
	}) (*struct{ Body *Deliveries }, error) {
		out, err := s.deliveryPage(ctx, credit.DeliveryQuery{Webhook: in.ID, Before: in.Before, Limit: in.Limit})
		if err != nil {
			return nil, s.failOn(err, "webhook", in.ID)
		}
		return &struct{ Body *Deliveries }{out}, nil
	})

	register(s, huma.Operation{
		OperationID: "retry-webhook-delivery",
		Method:      http.MethodPost,
		Path:        "/v1/webhooks/{id}/deliveries/{delivery}/retry",
		Summary:     "Send a delivery again now",
		Description: "Makes the delivery pending and due now, whatever became of it: a failed one once its endpoint is fixed, or a delivered one the receiver lost. The receiver gets the same webhook-id as before. Audited. Admin keys only. 404 unknown_webhook, unknown_delivery (also one of another endpoint).",
		Tags:        []string{"Webhooks"},
	}, allowAdmin, func(ctx context.Context, in *struct {
		ID       string `path:"id" doc:"Webhook id."`
		Delivery string `path:"delivery" doc:"Delivery id."`
	}) (*struct{ Body Delivery }, error) {
		if credit.CheckAccountID(in.Delivery) != nil {
			return nil, s.fail(missing("delivery", in.Delivery))
		}
		d, err := s.ledger.RetryDelivery(ctx, in.ID, in.Delivery)
		if err != nil {
			if credit.ErrorReason(err) == "unknown_delivery" {
				return nil, s.failOn(err, "delivery", in.Delivery)
			}
			return nil, s.failOn(err, "webhook", in.ID)
		}
		return &struct{ Body Delivery }{NewDelivery(d)}, nil
	})

	register(s, huma.Operation{
		OperationID: "list-account-deliveries",
		Method:      http.MethodGet,
		Path:        "/v1/accounts/{id}/deliveries",
		Summary:     "The webhook deliveries of an account's events, newest first",
		Description: "Every endpoint's deliveries of the account's events, for support: was the studio told? An account none of whose events was delivered, or that does not exist, has none. Paged: pass next_before as before. Admin keys only.",
		Tags:        []string{"Webhooks"},
	}, allowAdmin, func(ctx context.Context, in *struct {
		ID     string `path:"id" doc:"Account id."`
		Before string `query:"before" doc:"next_before of the previous page (a delivery id); absent: the newest."`
		Limit  int    `query:"limit" minimum:"1" maximum:"500" default:"50" doc:"Deliveries per page."`
	}) (*struct{ Body *Deliveries }, error) {
		out, err := s.deliveryPage(ctx, credit.DeliveryQuery{Account: in.ID, Before: in.Before, Limit: in.Limit})
		if err != nil {
			return nil, s.failOn(err, "account", in.ID)
		}
		return &struct{ Body *Deliveries }{out}, nil
	})
}
