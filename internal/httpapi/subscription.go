package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tally-credits/tally/internal/credit"
)

// The statuses of a subscription, derived from its times and the clock.
const (
	SubScheduled = "scheduled" // starts later
	SubActive    = "active"    // in force and renewing
	SubCanceled  = "canceled"  // in force until ends_at (or, not started, never will be)
	SubEnded     = "ended"
)

// Subscription is an account's subscription to a paid plan.
type Subscription struct {
	ID         string         `json:"id"`
	Account    string         `json:"account"`
	Plan       string         `json:"plan" doc:"The plan it is on now." example:"basic"`
	Billing    credit.Billing `json:"billing" enum:"month,quarter,year" doc:"How often it is paid for. Allowances are given monthly whatever the billing; an unlimited window starts with each billing period."`
	TimeZone   string         `json:"time_zone" doc:"The IANA time zone its months start in, at local midnight of the renewal day (the start's day of month, or a shorter month's last day)."`
	Status     string         `json:"status" enum:"scheduled,active,canceled,ended" doc:"scheduled: starts at starts_at; active: in force and renewing; canceled: in force until ends_at (or, canceled before it started, never); ended: over."`
	StartsAt   time.Time      `json:"starts_at"`
	EndsAt     *time.Time     `json:"ends_at,omitempty" doc:"When it ends (a cancel); absent while it renews."`
	CanceledAt *time.Time     `json:"canceled_at,omitempty" doc:"When it was canceled."`
	NextPlan   string         `json:"next_plan,omitempty" doc:"The plan it changes to at next_at (a downgrade, or a change at the period's end)."`
	NextAt     *time.Time     `json:"next_at,omitempty"`
	RenewsAt   *time.Time     `json:"renews_at,omitempty" doc:"The next renewal: when the next month's allowances are given. Absent once none is left to give (it ends first)."`
	CreatedAt  time.Time      `json:"created_at"`
}

// NewSubscription converts a subscription to its wire form as of now.
func NewSubscription(s credit.Subscription, now time.Time) *Subscription {
	out := &Subscription{
		ID: s.ID, Account: s.Account, Plan: s.Plan, Billing: s.Billing, TimeZone: zoneName(s.TimeZone),
		StartsAt: s.StartsAt.UTC(), EndsAt: optTime(s.EndsAt), CanceledAt: optTime(s.CanceledAt),
		NextPlan: s.NextPlan, NextAt: optTime(s.NextAt), RenewsAt: optTime(s.RenewsAt), CreatedAt: s.CreatedAt.UTC(),
	}
	if s.NextPlan != "" && !now.Before(s.NextAt) {
		// Changed already; the next renewal records it.
		out.Plan, out.NextPlan, out.NextAt = s.NextPlan, "", nil
	}
	ends := !s.EndsAt.IsZero()
	switch {
	case ends && !now.Before(s.EndsAt):
		out.Status = SubEnded
	case ends && !s.EndsAt.After(s.StartsAt):
		out.Status = SubCanceled // canceled before it started: it never will
	case now.Before(s.StartsAt):
		out.Status = SubScheduled
	case ends:
		out.Status = SubCanceled
	default:
		out.Status = SubActive
	}
	return out
}

// Subscriptions is an account's subscriptions, oldest first.
type Subscriptions struct {
	Account       string         `json:"account"`
	Subscriptions []Subscription `json:"subscriptions"`
}

// SubscriptionRequest subscribes an account to a paid plan.
type SubscriptionRequest struct {
	Plan     string `json:"plan" doc:"A paid plan of the catalog in use (422 unknown_plan lists them)." example:"basic"`
	Billing  string `json:"billing,omitempty" doc:"month, quarter or year; default month. Allowances are given monthly whatever the billing." example:"month"`
	StartsAt *Time  `json:"starts_at,omitempty" doc:"When it starts: now or within a year, RFC 3339 or a date (that day's midnight UTC); absent: now."`
	TimeZone string `json:"time_zone,omitempty" doc:"The IANA time zone its months start in; absent: the account's." example:"Europe/Berlin"`
}

// CancelRequest ends a subscription.
type CancelRequest struct {
	At string `json:"at,omitempty" doc:"now, or period_end (the end of the billing period under way); default period_end. Canceling again with the same effect changes nothing." example:"period_end"`
}

// ChangeRequest moves a subscription to another plan.
type ChangeRequest struct {
	Plan string `json:"plan" doc:"The paid plan to move to." example:"pro"`
	At   string `json:"at,omitempty" doc:"now or period_end; default now. An upgrade (more monthly credits) now takes effect at once and gives this month's difference; a downgrade waits for the period's end either way." example:"now"`
}

func (s *Server) subscriptionRoutes() {
	register(s, huma.Operation{
		OperationID:   "create-subscription",
		Method:        http.MethodPost,
		Path:          "/v1/accounts/{id}/subscriptions",
		Summary:       "Subscribe an account to a paid plan",
		Description:   "Starts a subscription now or later (starts_at). Each month from its start, on the renewal day in its time zone, the plan's monthly allowances are given once, expiring at the month's end; while it is active the plan's rules replace the account's program (no free credits). 409 subscription_exists while another is active or scheduled; 422 unknown_plan, invalid_billing, invalid_time_zone, invalid_start.",
		Tags:          []string{"Subscriptions"},
		DefaultStatus: http.StatusCreated,
	}, allowAdmin, func(ctx context.Context, in *struct {
		ID             string `path:"id" doc:"Account id."`
		IdempotencyKey string `header:"Idempotency-Key" doc:"Makes the request exactly-once: a retry with the same key and body gets the first answer and changes nothing; the same key with another body is 409 idempotency_conflict. 1 to 255 visible ASCII characters (! to ~)."`
		Body           jsonBody[SubscriptionRequest]
		RawBody        []byte
	}) (*struct{ Body *Subscription }, error) {
		body := &in.Body.Value
		spec := credit.SubscriptionSpec{Plan: body.Plan, Billing: credit.Billing(body.Billing), TimeZone: body.TimeZone}
		if body.StartsAt != nil {
			t, err := body.StartsAt.Time("starts_at")
			if err != nil {
				return nil, s.fail(err)
			}
			if t.IsZero() {
				// Given, Go's zero time is that time (long past), not "now".
				return nil, s.fail(credit.Errorf(credit.Invalid, "invalid_start", "starts_at must be now or within a year, not %s", t.Format(time.RFC3339)))
			}
			spec.StartsAt = t
		}
		idem, err := s.idempotency(ctx, in.IdempotencyKey, in.RawBody)
		if err != nil {
			return nil, s.fail(err)
		}
		sub, err := s.ledger.Subscribe(ctx, idem, in.ID, spec)
		if err != nil {
			return nil, s.failOn(err, "account", in.ID)
		}
		return &struct{ Body *Subscription }{NewSubscription(sub, s.ledger.Now())}, nil
	})

	register(s, huma.Operation{
		OperationID: "list-subscriptions",
		Method:      http.MethodGet,
		Path:        "/v1/accounts/{id}/subscriptions",
		Summary:     "An account's subscriptions",
		Description: "Oldest first, ended ones included, as of now (a renewal due is given first).",
		Tags:        []string{"Subscriptions"},
	}, allowAdmin|allowService|allowSupport|allowAccount, func(ctx context.Context, in *struct {
		ID string `path:"id" doc:"Account id."`
	}) (*struct{ Body *Subscriptions }, error) {
		if err := s.readable(ctx, "account", in.ID, in.ID); err != nil {
			return nil, s.fail(err)
		}
		subs, err := s.ledger.Subscriptions(ctx, in.ID)
		if err != nil {
			return nil, s.failOn(err, "account", in.ID)
		}
		now := s.ledger.Now()
		out := &Subscriptions{Account: in.ID, Subscriptions: make([]Subscription, len(subs))}
		for i, sub := range subs {
			out.Subscriptions[i] = *NewSubscription(sub, now)
		}
		return &struct{ Body *Subscriptions }{out}, nil
	})

	register(s, huma.Operation{
		OperationID: "get-subscription",
		Method:      http.MethodGet,
		Path:        "/v1/subscriptions/{id}",
		Summary:     "Get a subscription",
		Description: "As of now (a renewal due is given first).",
		Tags:        []string{"Subscriptions"},
	}, allowAdmin|allowService|allowSupport|allowAccount, func(ctx context.Context, in *struct {
		ID string `path:"id" doc:"Subscription id."`
	}) (*struct{ Body *Subscription }, error) {
		sub, err := s.ledger.Subscription(ctx, in.ID)
		if err != nil {
			return nil, s.failOn(err, "subscription", in.ID)
		}
		if err := s.readable(ctx, "subscription", in.ID, sub.Account); err != nil {
			return nil, s.fail(err)
		}
		return &struct{ Body *Subscription }{NewSubscription(sub, s.ledger.Now())}, nil
	})

	register(s, huma.Operation{
		OperationID: "cancel-subscription",
		Method:      http.MethodPost,
		Path:        "/v1/subscriptions/{id}/cancel",
		Summary:     "Cancel a subscription",
		Description: "Ends it now, or at the end of the billing period under way (period_end, the default): no renewal after that; the account falls back to its program. A cancel that changes nothing (a double click) answers the subscription as it is and writes nothing. 409 subscription_ended; 422 invalid_at.",
		Tags:        []string{"Subscriptions"},
	}, allowAdmin, func(ctx context.Context, in *struct {
		ID             string `path:"id" doc:"Subscription id."`
		IdempotencyKey string `header:"Idempotency-Key" doc:"Makes the request exactly-once: a retry with the same key and body gets the first answer and changes nothing; the same key with another body is 409 idempotency_conflict. 1 to 255 visible ASCII characters (! to ~)."`
		Body           *jsonBody[CancelRequest]
		RawBody        []byte
	}) (*struct{ Body *Subscription }, error) {
		at := credit.AtPeriodEnd
		if in.Body != nil && in.Body.Value.At != "" {
			at = in.Body.Value.At
		}
		idem, err := s.idempotency(ctx, in.IdempotencyKey, in.RawBody)
		if err != nil {
			return nil, s.fail(err)
		}
		sub, err := s.ledger.CancelSubscription(ctx, idem, in.ID, at)
		if err != nil {
			return nil, s.failOn(err, "subscription", in.ID)
		}
		return &struct{ Body *Subscription }{NewSubscription(sub, s.ledger.Now())}, nil
	})

	register(s, huma.Operation{
		OperationID: "change-subscription",
		Method:      http.MethodPost,
		Path:        "/v1/subscriptions/{id}/change",
		Summary:     "Change a subscription's plan",
		Description: "An upgrade (more monthly credits) at now takes effect at once and gives, for the month under way, the difference of each allowance; a downgrade, or any change at period_end, takes effect when the billing period ends (next_plan, next_at). Asking again for the same change answers the subscription as it is. 409 subscription_ended; 422 unknown_plan, same_plan, invalid_at.",
		Tags:        []string{"Subscriptions"},
	}, allowAdmin, func(ctx context.Context, in *struct {
		ID             string `path:"id" doc:"Subscription id."`
		IdempotencyKey string `header:"Idempotency-Key" doc:"Makes the request exactly-once: a retry with the same key and body gets the first answer and changes nothing; the same key with another body is 409 idempotency_conflict. 1 to 255 visible ASCII characters (! to ~)."`
		Body           jsonBody[ChangeRequest]
		RawBody        []byte
	}) (*struct{ Body *Subscription }, error) {
		at := in.Body.Value.At
		if at == "" {
			at = credit.AtNow
		}
		idem, err := s.idempotency(ctx, in.IdempotencyKey, in.RawBody)
		if err != nil {
			return nil, s.fail(err)
		}
		sub, err := s.ledger.ChangeSubscription(ctx, idem, in.ID, in.Body.Value.Plan, at)
		if err != nil {
			return nil, s.failOn(err, "subscription", in.ID)
		}
		return &struct{ Body *Subscription }{NewSubscription(sub, s.ledger.Now())}, nil
	})
}
