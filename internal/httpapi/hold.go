package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tally-credits/tally/internal/credit"
)

// Hold is credits reserved before work starts, captured when it is delivered
// or released when it fails.
type Hold struct {
	ID              string            `json:"id"`
	Account         string            `json:"account"`
	Generation      string            `json:"generation,omitempty" doc:"The generation the hold is for; absent for a generic hold."`
	Status          credit.HoldStatus `json:"status" enum:"open,captured,released,expired"`
	Credits         credit.Credits    `json:"credits" doc:"The amount held."`
	CapturedCredits credit.Credits    `json:"captured_credits" doc:"Charged."`
	ReleasedCredits credit.Credits    `json:"released_credits" doc:"Returned (to the grants, or to the platform's expired book for a grant that expired meanwhile)."`
	ExpiresAt       time.Time         `json:"expires_at" doc:"When the service releases the hold itself if it is still open."`
	CreatedAt       time.Time         `json:"created_at"`
	ResolvedAt      *time.Time        `json:"resolved_at,omitempty"`
	Member          string            `json:"member,omitempty" doc:"On a team's account: the member the hold is for, whose monthly limit it counts against; absent on any other account." example:"user_42"`
	Allocations     []Allocation      `json:"allocations" doc:"Which grants the hold reserved from, in consumption order."`
}

// Allocation is the part of a hold reserved from one grant.
type Allocation struct {
	Grant           string         `json:"grant"`
	Credits         credit.Credits `json:"credits"`
	CapturedCredits credit.Credits `json:"captured_credits"`
	RefundedCredits credit.Credits `json:"refunded_credits"`
}

// NewHold converts a hold to its wire form.
func NewHold(h credit.Hold) *Hold {
	out := &Hold{
		ID: h.ID, Account: h.Account, Generation: h.Generation, Status: h.Status, Credits: h.Amount,
		CapturedCredits: h.Captured, ReleasedCredits: h.Released, ExpiresAt: h.ExpiresAt.UTC(),
		CreatedAt: h.CreatedAt.UTC(), ResolvedAt: optTime(h.ResolvedAt), Member: h.Member, Allocations: make([]Allocation, len(h.Allocations)),
	}
	for i, a := range h.Allocations {
		out.Allocations[i] = Allocation{Grant: a.Grant, Credits: a.Amount, CapturedCredits: a.Captured, RefundedCredits: a.Refunded}
	}
	return out
}

// HoldRequest reserves credits for a product other than image generation.
type HoldRequest struct {
	Credits    Amount `json:"credits"`
	TTLSeconds *int   `json:"ttl_seconds,omitempty" doc:"Seconds until the service releases the hold itself: 1 to 86400; absent: 900 (15 minutes)."`
	Member     string `json:"member,omitempty" doc:"The team member the credits are for: required on a team's account (422 member_required; 404 unknown_member for one who is not a member), refused on any other (422 not_a_team)." example:"user_42"`
}

// ReleaseRequest returns a hold whole.
type ReleaseRequest struct {
	Reason string `json:"reason,omitempty" doc:"Why, in words a person wrote (the job was canceled, ticket 4411): at most 500 bytes of one line of text (422 invalid_reason). Required of a support key (422 reason_required); an admin or service key may give one. Given, the release is audited (hold.release) with it."`
}

// CaptureRequest charges all or part of a hold.
type CaptureRequest struct {
	Credits *Amount `json:"credits,omitempty" doc:"How much to charge, more than 0 (release the hold to charge nothing); absent: all of it. The rest returns."`
}

func (s *Server) holdRoutes() {
	register(s, huma.Operation{
		OperationID:   "create-hold",
		Method:        http.MethodPost,
		Path:          "/v1/accounts/{id}/holds",
		Summary:       "Hold credits on an account",
		Description:   "Reserves credits in one atomic step with the balance check: 402 insufficient_credits (with available_credits and required_credits) when the balance, with the overdraft, cannot cover them. On a team's account the hold is a member's (member), reserved against their monthly limit in the same step: 402 member_limit_exceeded (with remaining_credits, required_credits and resets_at) when what is left of it cannot cover it.",
		Tags:          []string{"Holds"},
		DefaultStatus: http.StatusCreated,
		Errors:        []int{402},
	}, allowAdmin|allowService, func(ctx context.Context, in *struct {
		ID             string `path:"id" doc:"Account id."`
		IdempotencyKey string `header:"Idempotency-Key" doc:"Makes the request exactly-once: a retry with the same key and body gets the first answer and changes nothing; the same key with another body is 409 idempotency_conflict. 1 to 255 visible ASCII characters (! to ~)."`
		Body           jsonBody[HoldRequest]
		RawBody        []byte
	}) (*struct{ Body *Hold }, error) {
		c, err := in.Body.Value.Credits.Credits()
		if err != nil {
			return nil, s.fail(err)
		}
		ttl, err := seconds(in.Body.Value.TTLSeconds, "ttl_seconds")
		if err != nil {
			return nil, s.fail(err)
		}
		idem, err := s.idempotency(ctx, in.IdempotencyKey, in.RawBody)
		if err != nil {
			return nil, s.fail(err)
		}
		h, err := s.ledger.CreateHold(ctx, idem, in.ID, credit.HoldSpec{Credits: c, TTL: ttl, Member: in.Body.Value.Member})
		if err != nil {
			return nil, s.failOn(err, "account", in.ID)
		}
		return &struct{ Body *Hold }{NewHold(h)}, nil
	})

	register(s, huma.Operation{
		OperationID: "capture-hold",
		Method:      http.MethodPost,
		Path:        "/v1/holds/{id}/capture",
		Summary:     "Charge a hold",
		Description: "Charges all of an open hold, or part of it (credits), and returns the rest. 409 hold_expired when its TTL passed first, already_resolved when it was captured or released before, generation_hold for a generation's hold (complete or fail the generation instead); 422 over_capture for more than the hold, invalid_amount for 0 or less.",
		Tags:        []string{"Holds"},
	}, allowAdmin|allowService, func(ctx context.Context, in *struct {
		ID             string `path:"id" doc:"Hold id."`
		IdempotencyKey string `header:"Idempotency-Key" doc:"Makes the request exactly-once: a retry with the same key and body gets the first answer and changes nothing; the same key with another body is 409 idempotency_conflict. 1 to 255 visible ASCII characters (! to ~)."`
		Body           *jsonBody[CaptureRequest]
		RawBody        []byte
	}) (*struct{ Body *Hold }, error) {
		var amount *credit.Credits
		if in.Body != nil {
			var err error
			if amount, err = optCredits(in.Body.Value.Credits); err != nil {
				return nil, s.fail(err)
			}
		}
		idem, err := s.idempotency(ctx, in.IdempotencyKey, in.RawBody)
		if err != nil {
			return nil, s.fail(err)
		}
		h, err := s.ledger.CaptureHold(ctx, idem, in.ID, amount)
		if err != nil {
			return nil, s.failOn(err, "hold", in.ID)
		}
		return &struct{ Body *Hold }{NewHold(h)}, nil
	})

	register(s, huma.Operation{
		OperationID: "release-hold",
		Method:      http.MethodPost,
		Path:        "/v1/holds/{id}/release",
		Summary:     "Release a hold",
		Description: "Returns an open hold whole: nothing is charged. A support key gives a reason (422 reason_required); a release with a reason, a person's, is audited (hold.release). 409 as for capture (a generation's hold is released by failing the generation).",
		Tags:        []string{"Holds"},
	}, allowAdmin|allowService|allowSupport, func(ctx context.Context, in *struct {
		ID             string `path:"id" doc:"Hold id."`
		IdempotencyKey string `header:"Idempotency-Key" doc:"Makes the request exactly-once: a retry with the same key and body gets the first answer and changes nothing; the same key with another body is 409 idempotency_conflict. 1 to 255 visible ASCII characters (! to ~)."`
		Body           *jsonBody[ReleaseRequest]
		RawBody        []byte
	}) (*struct{ Body *Hold }, error) {
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
		h, err := s.ledger.ReleaseHold(ctx, idem, in.ID)
		if err != nil {
			return nil, s.failOn(err, "hold", in.ID)
		}
		return &struct{ Body *Hold }{NewHold(h)}, nil
	})

	register(s, huma.Operation{
		OperationID: "get-hold",
		Method:      http.MethodGet,
		Path:        "/v1/holds/{id}",
		Summary:     "Get a hold",
		Description: "As of now: a hold past its TTL is released first. A member key reads only its own member's: another member's is 404 like a missing one.",
		Tags:        []string{"Holds"},
	}, allowAdmin|allowService|allowSupport|allowAccount, func(ctx context.Context, in *struct {
		ID string `path:"id" doc:"Hold id."`
	}) (*struct{ Body *Hold }, error) {
		h, err := s.ledger.Hold(ctx, in.ID)
		if err != nil {
			return nil, s.failOn(err, "hold", in.ID)
		}
		if err := s.readableOf(ctx, "hold", in.ID, h.Account, h.Member); err != nil {
			return nil, s.fail(err)
		}
		return &struct{ Body *Hold }{NewHold(h)}, nil
	})
}
