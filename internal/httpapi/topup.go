package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tally-credits/tally/internal/credit"
)

// AutoTopup is an account's auto top-up, as an account shows it.
type AutoTopup struct {
	ThresholdCredits  credit.Credits `json:"threshold_credits" doc:"A write that leaves available_credits below this asks for a top-up."`
	AmountCredits     credit.Credits `json:"amount_credits" doc:"The credits each request asks for."`
	MonthlyCapCredits credit.Credits `json:"monthly_cap_credits" doc:"The most the requests of one calendar month (in the account's time zone) may ask for, pending and confirmed ones together."`
}

// Schema describes an auto top-up as a nullable object (huma.SchemaProvider):
// huma cannot mark a field of a named struct type nullable, and an account
// shows null when auto top-up is off.
func (AutoTopup) Schema(huma.Registry) *huma.Schema {
	credits := func(doc string) *huma.Schema { return &huma.Schema{Type: "number", Description: doc} }
	return &huma.Schema{
		Type: "object", Nullable: true, AdditionalProperties: false,
		Description: "An account's auto top-up; null when it is off.",
		Properties: map[string]*huma.Schema{
			"threshold_credits":   credits("A write that leaves available_credits below this asks for a top-up."),
			"amount_credits":      credits("The credits each request asks for."),
			"monthly_cap_credits": credits("The most the requests of one calendar month (in the account's time zone) may ask for, pending and confirmed ones together."),
		},
		Required: []string{"threshold_credits", "amount_credits", "monthly_cap_credits"},
	}
}

// newAutoTopup is an account's auto top-up in its wire form, nil when off.
func newAutoTopup(a credit.AutoTopup) *AutoTopup {
	if !a.On() {
		return nil
	}
	return &AutoTopup{ThresholdCredits: a.Threshold, AmountCredits: a.Amount, MonthlyCapCredits: a.MonthlyCap}
}

// Topup is one request for credits that auto top-up made.
type Topup struct {
	ID         string             `json:"id" example:"top_01JF3Z8Q4W6V0T9G2R5N7K1M3B"`
	Account    string             `json:"account"`
	Credits    credit.Credits     `json:"credits" doc:"What it asks for: the auto top-up's amount_credits when it was made."`
	Status     credit.TopupStatus `json:"status" enum:"pending,confirmed,canceled" doc:"pending: waiting for the studio to charge for it and confirm it, or cancel it; confirmed: the credits were granted (grant); canceled: nothing was granted."`
	Grant      string             `json:"grant,omitempty" doc:"The topup grant its confirmation made."`
	CreatedAt  time.Time          `json:"created_at"`
	ResolvedAt *time.Time         `json:"resolved_at,omitempty" doc:"When it was confirmed or canceled."`
}

// NewTopup converts a top-up to its wire form.
func NewTopup(t credit.Topup) *Topup {
	return &Topup{ID: t.ID, Account: t.Account, Credits: t.Credits, Status: t.Status, Grant: t.Grant,
		CreatedAt: t.CreatedAt.UTC(), ResolvedAt: optTime(t.ResolvedAt)}
}

// Topups is a page of an account's top-ups, newest first.
type Topups struct {
	Account    string  `json:"account"`
	Topups     []Topup `json:"topups" doc:"Newest first."`
	NextBefore string  `json:"next_before,omitempty" doc:"Pass as before for the next (older) page; absent on the last page."`
}

// AlertsRequest sets an account's balance alert.
type AlertsRequest struct {
	LowBalanceCredits Amount `json:"low_balance_credits" doc:"A write that takes available_credits from this or more to below it tells balance.low (once per crossing; balance.recovered when it is back). 0 turns the alert off. Required." example:"100"`
}

// AutoTopupRequest sets an account's auto top-up. Every field is required:
// a body that leaves one out is refused rather than read as 0.
type AutoTopupRequest struct {
	ThresholdCredits  Amount `json:"threshold_credits" doc:"Ask when a write leaves available_credits below this; more than 0 (0 with the others 0 turns auto top-up off)." example:"100"`
	AmountCredits     Amount `json:"amount_credits" doc:"Ask for this many credits each time; 0 turns auto top-up off (then all three must be 0)." example:"500"`
	MonthlyCapCredits Amount `json:"monthly_cap_credits" doc:"Ask for at most this many credits in a calendar month of the account's time zone (pending and confirmed requests count); at least amount_credits." example:"2000"`
}

// DefaultTopupPage is the top-ups per page when the client does not say.
const DefaultTopupPage = 50

func (s *Server) topupRoutes() {
	register(s, huma.Operation{
		OperationID: "set-account-alerts",
		Method:      http.MethodPut,
		Path:        "/v1/accounts/{id}/alerts",
		Summary:     "Set an account's low-balance alert",
		Description: "When a write takes the account's available credits from low_balance_credits or more to below it, the feed and the webhooks get one balance.low; when they come back to it or above, balance.recovered. balance.depleted (the balance reaching 0) needs no threshold. Answers the account as the change left it, which is also what a retry with the same Idempotency-Key gets. Audited. 422 invalid_threshold, invalid_amount; 404 unknown_account.",
		Tags:        []string{"Alerts and top-ups"},
		Errors:      []int{http.StatusConflict},
	}, allowAdmin, func(ctx context.Context, in *struct {
		ID             string `path:"id" doc:"Account id."`
		IdempotencyKey string `header:"Idempotency-Key" doc:"Makes the request exactly-once: a retry with the same key and body gets the first answer and changes nothing; the same key with another body is 409 idempotency_conflict. 1 to 255 visible ASCII characters (! to ~)."`
		Body           jsonBody[AlertsRequest]
		RawBody        []byte
	}) (*struct{ Body *Account }, error) {
		low, err := in.Body.Value.LowBalanceCredits.Credits()
		if err != nil {
			return nil, s.fail(err)
		}
		idem, err := s.idempotency(ctx, in.IdempotencyKey, in.RawBody)
		if err != nil {
			return nil, s.fail(err)
		}
		v, err := s.ledger.SetAlerts(ctx, idem, in.ID, low)
		if err != nil {
			return nil, s.failOn(err, "account", in.ID)
		}
		return &struct{ Body *Account }{NewAccount(v, v.At)}, nil
	})

	register(s, huma.Operation{
		OperationID: "set-auto-topup",
		Method:      http.MethodPut,
		Path:        "/v1/accounts/{id}/auto-topup",
		Summary:     "Set an account's auto top-up",
		Description: "When a write leaves the account's available credits below threshold_credits, tally asks the studio for amount_credits: a pending top-up and its topup.requested event. It never asks again while one is pending, nor past monthly_cap_credits in a calendar month; the studio charges its customer and confirms the top-up (POST /v1/topups/{id}/confirm), which grants the credits, or cancels it. If the account is below the new threshold already, it asks at once. All three fields are required; all 0 turns auto top-up off. Answers the account as the change left it. Audited. 422 invalid_auto_topup, invalid_amount; 404 unknown_account.",
		Tags:        []string{"Alerts and top-ups"},
		Errors:      []int{http.StatusConflict},
	}, allowAdmin, func(ctx context.Context, in *struct {
		ID             string `path:"id" doc:"Account id."`
		IdempotencyKey string `header:"Idempotency-Key" doc:"Makes the request exactly-once: a retry with the same key and body gets the first answer and changes nothing; the same key with another body is 409 idempotency_conflict. 1 to 255 visible ASCII characters (! to ~)."`
		Body           jsonBody[AutoTopupRequest]
		RawBody        []byte
	}) (*struct{ Body *Account }, error) {
		var at credit.AutoTopup
		b := &in.Body.Value
		for _, f := range []struct {
			a   Amount
			dst *credit.Credits
		}{{b.ThresholdCredits, &at.Threshold}, {b.AmountCredits, &at.Amount}, {b.MonthlyCapCredits, &at.MonthlyCap}} {
			c, err := f.a.Credits()
			if err != nil {
				return nil, s.fail(err)
			}
			*f.dst = c
		}
		idem, err := s.idempotency(ctx, in.IdempotencyKey, in.RawBody)
		if err != nil {
			return nil, s.fail(err)
		}
		v, err := s.ledger.SetAutoTopup(ctx, idem, in.ID, at)
		if err != nil {
			return nil, s.failOn(err, "account", in.ID)
		}
		return &struct{ Body *Account }{NewAccount(v, v.At)}, nil
	})

	register(s, huma.Operation{
		OperationID: "remove-auto-topup",
		Method:      http.MethodDelete,
		Path:        "/v1/accounts/{id}/auto-topup",
		Summary:     "Turn an account's auto top-up off",
		Description: "As PUT with all three fields 0: no more requests are made; a pending one stays until it is confirmed or canceled. Answers the account as the change left it. Audited (when it was on). 404 unknown_account.",
		Tags:        []string{"Alerts and top-ups"},
		Errors:      []int{http.StatusConflict},
	}, allowAdmin, func(ctx context.Context, in *struct {
		ID             string `path:"id" doc:"Account id."`
		IdempotencyKey string `header:"Idempotency-Key" doc:"Makes the request exactly-once: a retry with the same key gets the first answer and changes nothing. 1 to 255 visible ASCII characters (! to ~)."`
	}) (*struct{ Body *Account }, error) {
		idem, err := s.idempotency(ctx, in.IdempotencyKey, nil)
		if err != nil {
			return nil, s.fail(err)
		}
		v, err := s.ledger.SetAutoTopup(ctx, idem, in.ID, credit.AutoTopup{})
		if err != nil {
			return nil, s.failOn(err, "account", in.ID)
		}
		return &struct{ Body *Account }{NewAccount(v, v.At)}, nil
	})

	register(s, huma.Operation{
		OperationID: "list-topups",
		Method:      http.MethodGet,
		Path:        "/v1/accounts/{id}/topups",
		Summary:     "An account's top-up requests, newest first",
		Description: "Every request auto top-up made, pending, confirmed or canceled. Paged: pass next_before as before. A team's are its pool's, which its member keys read too.",
		Tags:        []string{"Alerts and top-ups"},
	}, allowAdmin|allowService|allowSupport|allowAccount, func(ctx context.Context, in *struct {
		ID     string `path:"id" doc:"Account id."`
		Before string `query:"before" doc:"next_before of the previous page (a top-up id); absent: the newest."`
		Limit  int    `query:"limit" minimum:"1" maximum:"500" default:"50" doc:"Top-ups per page."`
	}) (*struct{ Body *Topups }, error) {
		if err := s.readable(ctx, "account", in.ID, in.ID); err != nil {
			return nil, s.fail(err)
		}
		if err := checkCursor("before", in.Before); err != nil {
			return nil, s.fail(err)
		}
		limit := in.Limit
		if limit == 0 {
			limit = DefaultTopupPage
		}
		page, more, err := pageOf(limit, credit.MaxTopupPage, func(before string, n int) ([]credit.Topup, error) {
			return s.ledger.Topups(ctx, in.ID, before, n)
		}, in.Before, func(t credit.Topup) string { return t.ID })
		if err != nil {
			return nil, s.failOn(err, "account", in.ID)
		}
		out := &Topups{Account: in.ID, Topups: make([]Topup, len(page))}
		for i, t := range page {
			out.Topups[i] = *NewTopup(t)
		}
		if more {
			out.NextBefore = page[len(page)-1].ID
		}
		return &struct{ Body *Topups }{out}, nil
	})

	register(s, huma.Operation{
		OperationID: "get-topup",
		Method:      http.MethodGet,
		Path:        "/v1/topups/{id}",
		Summary:     "Get a top-up request",
		Tags:        []string{"Alerts and top-ups"},
	}, allowAdmin|allowService|allowSupport|allowAccount, func(ctx context.Context, in *struct {
		ID string `path:"id" doc:"Top-up id."`
	}) (*struct{ Body *Topup }, error) {
		t, err := s.ledger.Topup(ctx, in.ID)
		if err != nil {
			return nil, s.failOn(err, "topup", in.ID)
		}
		if err := s.readable(ctx, "topup", in.ID, t.Account); err != nil {
			return nil, s.fail(err)
		}
		return &struct{ Body *Topup }{NewTopup(t)}, nil
	})

	answer := func(verb, summary, desc string, do func(context.Context, *credit.Idempotency, string) (credit.Topup, error)) {
		register(s, huma.Operation{
			OperationID: verb + "-topup",
			Method:      http.MethodPost,
			Path:        "/v1/topups/{id}/" + verb,
			Summary:     summary,
			Description: desc,
			Tags:        []string{"Alerts and top-ups"},
		}, allowAdmin|allowService, func(ctx context.Context, in *struct {
			ID             string `path:"id" doc:"Top-up id."`
			IdempotencyKey string `header:"Idempotency-Key" doc:"Makes the request exactly-once: a retry with the same key gets the first answer and changes nothing. 1 to 255 visible ASCII characters (! to ~)."`
		}) (*struct{ Body *Topup }, error) {
			idem, err := s.idempotency(ctx, in.IdempotencyKey, nil)
			if err != nil {
				return nil, s.fail(err)
			}
			t, err := do(ctx, idem, in.ID)
			if err != nil {
				return nil, s.failOn(err, "topup", in.ID)
			}
			return &struct{ Body *Topup }{NewTopup(t)}, nil
		})
	}
	answer("confirm", "Confirm a top-up: grant its credits",
		"The studio charged its customer: the top-up's credits are granted (source topup, never expiring) exactly once, and topup.confirmed tells of it. Confirming a confirmed top-up again answers it as it is and grants nothing, with or without an Idempotency-Key. 409 topup_canceled.",
		s.ledger.ConfirmTopup)
	answer("cancel", "Cancel a top-up: grant nothing",
		"The studio could not charge for it: nothing is granted, topup.canceled tells of it, and the next write that leaves the balance below the threshold may ask again. Canceling a canceled top-up again answers it as it is. 409 topup_confirmed.",
		s.ledger.CancelTopup)
}
