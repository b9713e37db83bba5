package httpapi

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tally-credits/tally/internal/credit"
)

// CheckAppliesTo reads a grant's applies_to against catalog c: each model
// named by id or display name becomes its id, and each tag must be one some
// model of c carries, so that a typo cannot make a grant that pays for
// nothing (or, excluded, for everything). field names a list in a refusal
// ("applies_to.models"; the command line names its flags). Invalid
// unknown_model (allowed: the model ids), unknown_tag (allowed: the tags).
func CheckAppliesTo(c *credit.Catalog, e credit.Eligibility, field func(string) string) (credit.Eligibility, error) {
	models := func(name string, ids []string) ([]string, error) {
		var out []string
		for _, id := range ids {
			m, err := c.Model(id)
			if err != nil {
				e := credit.Errorf(credit.Invalid, "unknown_model", "%s: unknown model %q", field(name), id)
				e.Allowed = c.IDs()
				return nil, e
			}
			if !slices.Contains(out, m.ID) {
				out = append(out, m.ID)
			}
		}
		return out, nil
	}
	var known []string
	for _, m := range c.Models {
		for _, t := range m.Tags {
			if !slices.Contains(known, t) {
				known = append(known, t)
			}
		}
	}
	tags := func(name string, ts []string) ([]string, error) {
		var out []string
		for _, t := range ts {
			if !slices.Contains(known, t) {
				e := credit.Errorf(credit.Invalid, "unknown_tag", "%s: no model of the catalog is tagged %q", field(name), t)
				e.Allowed = known
				return nil, e
			}
			if !slices.Contains(out, t) {
				out = append(out, t)
			}
		}
		return out, nil
	}
	var out credit.Eligibility
	var err error
	if out.Models, err = models("models", e.Models); err != nil {
		return credit.Eligibility{}, err
	}
	if out.Tags, err = tags("tags", e.Tags); err != nil {
		return credit.Eligibility{}, err
	}
	if out.ExcludeModels, err = models("exclude_models", e.ExcludeModels); err != nil {
		return credit.Eligibility{}, err
	}
	if out.ExcludeTags, err = tags("exclude_tags", e.ExcludeTags); err != nil {
		return credit.Eligibility{}, err
	}
	return out, nil
}

// appliesToField names a list of a request's applies_to.
func appliesToField(name string) string { return "applies_to." + name }

// VoidRequest takes back what is left of a grant.
type VoidRequest struct {
	Memo   string `json:"memo,omitempty" doc:"Why, for support and finance (kept in the journal and the audit log); at most 1000 bytes."`
	Reason string `json:"reason,omitempty" doc:"Why, in words a person wrote (duplicate grant, ticket 4411): at most 500 bytes of one line of text (422 invalid_reason). Required of a support key (422 reason_required); an admin key may give one. Given, it goes to the audit log, in the action's detail as reason."`
}

// ExpiryRequest moves a grant's expiry.
type ExpiryRequest struct {
	ExpiresAt *Time  `json:"expires_at" nullable:"true" doc:"The new expiry, in the future: RFC 3339 (2027-01-01T00:00:00Z) or a date (2027-01-01, that day's midnight UTC); null: never."`
	Memo      string `json:"memo,omitempty" doc:"Why, for support and finance (kept in the audit log); at most 1000 bytes."`
}

func (s *Server) grantRoutes() {
	register(s, huma.Operation{
		OperationID: "void-grant",
		Method:      http.MethodPost,
		Path:        "/v1/grants/{id}/void",
		Summary:     "Void a grant: take back what is left of it",
		Description: "Its remaining credits leave the balance by a journal entry (kind void) back to the platform's issued book; its held part stays with its holds, and what they return later leaves as from an expired grant. Audited with the memo and the reason (required of a support key: 422 reason_required). Answers the grant, with expired_at set. 409 grant_expired when it has expired or was voided, grant_spent when nothing is left; 422 daily_grant for a day's free credits (they end at midnight).",
		Tags:        []string{"Accounts"},
	}, allowAdmin|allowSupport, func(ctx context.Context, in *struct {
		ID             string `path:"id" doc:"Grant id."`
		IdempotencyKey string `header:"Idempotency-Key" doc:"Makes the request exactly-once: a retry with the same key and body gets the first answer and changes nothing; the same key with another body is 409 idempotency_conflict. 1 to 255 visible ASCII characters (! to ~)."`
		Body           *jsonBody[VoidRequest]
		RawBody        []byte
	}) (*struct{ Body *Grant }, error) {
		var memo, reason string
		if in.Body != nil {
			memo, reason = in.Body.Value.Memo, in.Body.Value.Reason
		}
		ctx, err := s.reasoned(ctx, reason)
		if err != nil {
			return nil, s.fail(err)
		}
		idem, err := s.idempotency(ctx, in.IdempotencyKey, in.RawBody)
		if err != nil {
			return nil, s.fail(err)
		}
		g, err := s.ledger.VoidGrant(ctx, idem, in.ID, memo)
		if err != nil {
			return nil, s.failOn(err, "grant", in.ID)
		}
		return &struct{ Body *Grant }{NewGrant(g)}, nil
	})

	register(s, huma.Operation{
		OperationID: "amend-grant-expiry",
		Method:      http.MethodPost,
		Path:        "/v1/grants/{id}/expiry",
		Summary:     "Move a grant's expiry",
		Description: "Sets when a live grant's remainder leaves the balance: a time in the future, or null for never. Its place in the consumption order follows. Audited with the memo. 409 grant_expired, grant_spent; 422 invalid_expiry (not in the future), daily_grant.",
		Tags:        []string{"Accounts"},
	}, allowAdmin, func(ctx context.Context, in *struct {
		ID             string `path:"id" doc:"Grant id."`
		IdempotencyKey string `header:"Idempotency-Key" doc:"Makes the request exactly-once: a retry with the same key and body gets the first answer and changes nothing; the same key with another body is 409 idempotency_conflict. 1 to 255 visible ASCII characters (! to ~)."`
		Body           jsonBody[ExpiryRequest]
		RawBody        []byte
	}) (*struct{ Body *Grant }, error) {
		var at time.Time
		if t := in.Body.Value.ExpiresAt; t != nil {
			var err error
			if at, err = t.Time("expires_at"); err != nil {
				return nil, s.fail(err)
			}
			if at.IsZero() {
				// Go's zero time given is that time, long past: refused,
				// never read as "never" (that is null).
				return nil, s.fail(credit.Errorf(credit.Invalid, "invalid_expiry", "expires_at %s is not in the future (null: never expires)", at.Format(time.RFC3339)))
			}
		}
		idem, err := s.idempotency(ctx, in.IdempotencyKey, in.RawBody)
		if err != nil {
			return nil, s.fail(err)
		}
		g, err := s.ledger.AmendGrantExpiry(ctx, idem, in.ID, at, in.Body.Value.Memo)
		if err != nil {
			return nil, s.failOn(err, "grant", in.ID)
		}
		return &struct{ Body *Grant }{NewGrant(g)}, nil
	})
}
