package httpapi

import (
	"context"
	"encoding/json"
	"net/http"
	"reflect"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tally-credits/tally/internal/credit"
)

// Generation is one press of Create: the quote the user was shown and the
// hold for its total, then what was delivered and charged.
type Generation struct {
	ID              string                  `json:"id"`
	Account         string                  `json:"account"`
	Status          credit.GenerationStatus `json:"status" enum:"held,completed,failed,expired"`
	Hold            string                  `json:"hold" doc:"The hold for hold_credits."`
	Model           string                  `json:"model"`
	Kind            credit.Kind             `json:"kind" enum:"image,personalize,style_reference,upscale"`
	CatalogVersion  string                  `json:"catalog_version" doc:"The catalog version it was priced with."`
	Images          int                     `json:"images" doc:"Images asked for (and held for)."`
	ImagesDelivered int                     `json:"images_delivered"`
	HoldCredits     credit.Credits          `json:"hold_credits" doc:"The quote's total, held at creation."`
	ChargedCredits  credit.Credits          `json:"charged_credits" doc:"Charged on completion: images_delivered × the per-image price, plus per-generation surcharges when any image was delivered."`
	RefundedCredits credit.Credits          `json:"refunded_credits" doc:"Of charged_credits, given back since."`
	Quote           QuoteJSON               `json:"quote" doc:"The quote as the client was shown it at creation, kept for audit: the JSON of POST /v1/quotes."`
	Unlimited       bool                    `json:"unlimited" doc:"It runs in an unlimited window of the account's plan: it holds and charges 0, and list_credits records its price."`
	Lane            credit.Lane             `json:"lane,omitempty" enum:"fast,relaxed" doc:"The queue an unlimited generation runs in: fast, or relaxed past the window's daily fast generations; absent when not unlimited."`
	ListCredits     credit.Credits          `json:"list_credits" doc:"The list price of what was delivered: what it was charged for (before refunds), or for an unlimited one what it would have cost. 0 until it is completed."`
	Member          string                  `json:"member,omitempty" doc:"On a team's account: the member who made it, whose monthly limit it counts against; absent on any other account." example:"user_42"`
	CreatedAt       time.Time               `json:"created_at"`
	ExpiresAt       time.Time               `json:"expires_at" doc:"When the hold is released by the service if the generation is neither completed nor failed."`
	ResolvedAt      *time.Time              `json:"resolved_at,omitempty"`
}

// QuoteJSON is a quote kept as the JSON it was rendered to, byte for byte.
type QuoteJSON json.RawMessage

// MarshalJSON writes the stored JSON.
func (q QuoteJSON) MarshalJSON() ([]byte, error) {
	if len(q) == 0 {
		return []byte("null"), nil
	}
	return q, nil
}

// UnmarshalJSON keeps the JSON (for clients decoding a Generation).
func (q *QuoteJSON) UnmarshalJSON(b []byte) error {
	*q = append((*q)[:0], b...)
	return nil
}

// Schema documents a QuoteJSON as a Quote (huma.SchemaProvider).
func (QuoteJSON) Schema(r huma.Registry) *huma.Schema {
	return r.Schema(reflect.TypeFor[Quote](), true, "Quote")
}

// NewGeneration converts a generation to its wire form.
func NewGeneration(g credit.Generation) *Generation {
	return &Generation{
		ID: g.ID, Account: g.Account, Status: g.Status, Hold: g.Hold, Model: g.Model, Kind: g.Kind,
		CatalogVersion: g.CatalogVersion, Images: g.Images, ImagesDelivered: g.ImagesDelivered,
		HoldCredits: g.HoldCredits, ChargedCredits: g.Charged, RefundedCredits: g.Refunded, Quote: QuoteJSON(g.Quote),
		Unlimited: g.Window != "", Lane: g.Lane, ListCredits: g.ListCredits, Member: g.Member,
		CreatedAt: g.CreatedAt.UTC(), ExpiresAt: g.ExpiresAt.UTC(), ResolvedAt: optTime(g.ResolvedAt),
	}
}

// quoteJSON renders a quote for a generation's audit record exactly as
// POST /v1/quotes renders it, so that the record equals what the client saw.
func quoteJSON(q credit.Quote) []byte {
	b, err := encodeJSON(NewQuote(q))
	if err != nil {
		return nil // a Quote always encodes; the ledger then stores its own form
	}
	return b[:len(b)-1] // the encoder's newline
}

// GenerationRequest is the Create button: the settings of POST /v1/quotes, the
// account to charge, and optionally the hold's TTL.
type GenerationRequest struct {
	QuoteRequest
	HoldTTLSeconds *int   `json:"hold_ttl_seconds,omitempty" doc:"Seconds until the service releases the hold if the generation is neither completed nor failed: 1 to 86400; absent: 900 (15 minutes)."`
	Member         string `json:"member,omitempty" doc:"The team member who pressed Create: required on a team's account (422 member_required; 404 unknown_member for one who is not a member), refused on any other (422 not_a_team). The team's pool pays, within the member's monthly limit." example:"user_42"`
}

// CompleteRequest reports a delivery.
type CompleteRequest struct {
	ImagesDelivered int `json:"images_delivered" doc:"Images delivered: 0 to the images held for. Each is charged; the rest of the hold returns."`
}

// RefundRequest gives back all or part of a charge.
type RefundRequest struct {
	Credits *Amount `json:"credits,omitempty" doc:"How much to give back; absent: all that is left to refund."`
	Reason  string  `json:"reason,omitempty" doc:"Why, in words a person wrote (duplicate charge, ticket 4411): at most 500 bytes of one line of text (422 invalid_reason). Required of a support key (422 reason_required); an admin or service key may give one. Given, the refund is audited (generation.refund) with it."`
}

// FailRequest reports a failure, or a person releasing a generation's hold.
type FailRequest struct {
	Reason string `json:"reason,omitempty" doc:"Why, in words a person wrote (stuck in the queue, ticket 4411): at most 500 bytes of one line of text (422 invalid_reason). Required of a support key (422 reason_required); an admin or service key may give one. Given, the release of the hold is audited (hold.release) with it."`
}

func (s *Server) generationRoutes() {
	register(s, huma.Operation{
		OperationID:   "create-generation",
		Method:        http.MethodPost,
		Path:          "/v1/generations",
		Summary:       "Create: price a generation and hold its total",
		Description:   "Prices the settings like POST /v1/quotes and holds the total on the account in one atomic step, from the grants that may pay for the model. 402 insufficient_credits (with available_credits, eligible_available_credits and required_credits) when they, with the overdraft, cannot cover it; on a team's account the member's monthly limit is reserved in the same step, and 402 member_limit_exceeded (with remaining_credits, required_credits and resets_at, the end of the member's period) when what is left of it cannot cover it; 403 plan_required for a model the account's plan does not allow (a Pro model without a subscription), before anything is held; the quote's 422 errors for settings the model does not offer. In an unlimited window of the account's plan it holds 0 and runs in the fast or relaxed lane; 429 concurrency_limit when the window's generations at a time are open, daily_limit_reached (with resets_at and Retry-After) past its daily fast generations where the window blocks then.",
		Tags:          []string{"Generations"},
		DefaultStatus: http.StatusCreated,
		Errors:        []int{402},
		Responses:     map[string]*huma.Response{"429": s.limitedResponse()},
	}, allowAdmin|allowService, func(ctx context.Context, in *struct {
		IdempotencyKey string `header:"Idempotency-Key" doc:"Makes the request exactly-once: a retry with the same key and body gets the first answer and changes nothing; the same key with another body is 409 idempotency_conflict. 1 to 255 visible ASCII characters (! to ~)."`
		Body           jsonBody[GenerationRequest]
		RawBody        []byte
	}) (*struct{ Body *Generation }, error) {
		if in.Body.Value.Account == "" {
			return nil, s.fail(credit.Errorf(credit.Invalid, "invalid_account_id", "account is required: the account to hold the credits on"))
		}
		req, err := in.Body.Value.Domain(s.Catalog())
		if err != nil {
			return nil, s.fail(err)
		}
		ttl, err := seconds(in.Body.Value.HoldTTLSeconds, "hold_ttl_seconds")
		if err != nil {
			return nil, s.fail(err)
		}
		idem, err := s.idempotency(ctx, in.IdempotencyKey, in.RawBody)
		if err != nil {
			return nil, s.fail(err)
		}
		g, err := s.ledger.CreateGeneration(ctx, idem, credit.GenerationSpec{Account: in.Body.Value.Account, Request: req, TTL: ttl, QuoteJSON: quoteJSON, Member: in.Body.Value.Member})
		if err != nil {
			return nil, s.failOn(err, "account", in.Body.Value.Account)
		}
		return &struct{ Body *Generation }{NewGeneration(g)}, nil
	})

	register(s, huma.Operation{
		OperationID: "complete-generation",
		Method:      http.MethodPost,
		Path:        "/v1/generations/{id}/complete",
		Summary:     "Delivered: charge the images delivered",
		Description: "Charges images_delivered × the per-image price (plus per-generation surcharges when any image was delivered) and returns the rest of the hold. 409 hold_expired when the hold's TTL passed first (its credits were returned), already_resolved when it was completed or failed before; 422 invalid_image_count for more images than were held for.",
		Tags:        []string{"Generations"},
	}, allowAdmin|allowService, func(ctx context.Context, in *struct {
		ID             string `path:"id" doc:"Generation id."`
		IdempotencyKey string `header:"Idempotency-Key" doc:"Makes the request exactly-once: a retry with the same key and body gets the first answer and changes nothing; the same key with another body is 409 idempotency_conflict. 1 to 255 visible ASCII characters (! to ~)."`
		Body           jsonBody[CompleteRequest]
		RawBody        []byte
	}) (*struct{ Body *Generation }, error) {
		idem, err := s.idempotency(ctx, in.IdempotencyKey, in.RawBody)
		if err != nil {
			return nil, s.fail(err)
		}
		g, err := s.ledger.CompleteGeneration(ctx, idem, in.ID, in.Body.Value.ImagesDelivered)
		if err != nil {
			return nil, s.failOn(err, "generation", in.ID)
		}
		return &struct{ Body *Generation }{NewGeneration(g)}, nil
	})

	register(s, huma.Operation{
		OperationID: "fail-generation",
		Method:      http.MethodPost,
		Path:        "/v1/generations/{id}/fail",
		Summary:     "Failed: release the hold",
		Description: "Returns the whole hold: nothing is charged. This is also how support releases a generation's hold (POST /v1/holds/{id}/release refuses it: generation_hold): a support key gives a reason (422 reason_required), and a release with a reason is audited (hold.release). 409 as for complete.",
		Tags:        []string{"Generations"},
	}, allowAdmin|allowService|allowSupport, func(ctx context.Context, in *struct {
		ID             string `path:"id" doc:"Generation id."`
		IdempotencyKey string `header:"Idempotency-Key" doc:"Makes the request exactly-once: a retry with the same key and body gets the first answer and changes nothing; the same key with another body is 409 idempotency_conflict. 1 to 255 visible ASCII characters (! to ~)."`
		Body           *jsonBody[FailRequest]
		RawBody        []byte
	}) (*struct{ Body *Generation }, error) {
		var reason string
		if in.Body != nil {
			reason = in.Body.Value.Reason
		}
		ctx, err := s.reasoned(ctx, reason)
		if err != nil {
			return nil, s.fail(err)
		}
		idem, err := s.idempotency(ctx, in.IdempotencyKey, in.RawBody)
		if err != nil {
			return nil, s.fail(err)
		}
		g, err := s.ledger.FailGeneration(ctx, idem, in.ID)
		if err != nil {
			return nil, s.failOn(err, "generation", in.ID)
		}
		return &struct{ Body *Generation }{NewGeneration(g)}, nil
	})

	register(s, huma.Operation{
		OperationID: "refund-generation",
		Method:      http.MethodPost,
		Path:        "/v1/generations/{id}/refund",
		Summary:     "Refund a generation's charge",
		Description: "Gives back all or part of the charge to the grants it came from, the last-consumed first. A share whose grant has expired since comes back as a new never-expiring grant of source refund, so no refunded credit is lost. A support key gives a reason (422 reason_required); a refund with a reason, a person's, is audited (generation.refund). 409 not_refundable unless the generation was completed with a charge; 422 over_refund for more than is left to refund.",
		Tags:        []string{"Generations"},
	}, allowAdmin|allowService|allowSupport, func(ctx context.Context, in *struct {
		ID             string `path:"id" doc:"Generation id."`
		IdempotencyKey string `header:"Idempotency-Key" doc:"Makes the request exactly-once: a retry with the same key and body gets the first answer and changes nothing; the same key with another body is 409 idempotency_conflict. 1 to 255 visible ASCII characters (! to ~)."`
		Body           *jsonBody[RefundRequest]
		RawBody        []byte
	}) (*struct{ Body *Generation }, error) {
		var amount *credit.Credits
		var reason string
		if in.Body != nil {
			var err error
			if amount, err = optCredits(in.Body.Value.Credits); err != nil {
				return nil, s.fail(err)
			}
			reason = in.Body.Value.Reason
		}
		ctx, err := s.reasoned(ctx, reason)
		if err != nil {
			return nil, s.fail(err)
		}
		idem, err := s.idempotency(ctx, in.IdempotencyKey, in.RawBody)
		if err != nil {
			return nil, s.fail(err)
		}
		g, err := s.ledger.RefundGeneration(ctx, idem, in.ID, amount)
		if err != nil {
			return nil, s.failOn(err, "generation", in.ID)
		}
		return &struct{ Body *Generation }{NewGeneration(g)}, nil
	})

	register(s, huma.Operation{
		OperationID: "get-generation",
		Method:      http.MethodGet,
		Path:        "/v1/generations/{id}",
		Summary:     "Get a generation",
		Description: "As of now: a generation whose hold passed its TTL is expired first. A member key reads only its own member's: another member's is 404 like a missing one.",
		Tags:        []string{"Generations"},
	}, allowAdmin|allowService|allowSupport|allowAccount, func(ctx context.Context, in *struct {
		ID string `path:"id" doc:"Generation id."`
	}) (*struct{ Body *Generation }, error) {
		g, err := s.ledger.Generation(ctx, in.ID)
		if err != nil {
			return nil, s.failOn(err, "generation", in.ID)
		}
		if err := s.readableOf(ctx, "generation", in.ID, g.Account, g.Member); err != nil {
			return nil, s.fail(err)
		}
		return &struct{ Body *Generation }{NewGeneration(g)}, nil
	})
}
