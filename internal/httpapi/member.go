package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tally-credits/tally/internal/credit"
)

// Member is one member of a team with their monthly limit of the team's
// pool and what they used of it in the period under way.
type Member struct {
	Member              string          `json:"member" doc:"The member: the studio's user id." example:"user_42"`
	MonthlyLimitCredits *credit.Credits `json:"monthly_limit_credits" nullable:"true" doc:"How many credits of the pool the member may use in one period; null: no limit."`
	UsedCredits         credit.Credits  `json:"used_credits" doc:"Used in the period under way: what the member's open holds hold and their generations charged, less what was given back (failures, releases, refunds)."`
	RemainingCredits    *credit.Credits `json:"remaining_credits" nullable:"true" doc:"What is left of the limit in the period under way (0 when a lowered limit is below what was used); null: no limit."`
	PeriodStart         time.Time       `json:"period_start" doc:"The start of the period under way: the team's subscription month (its renewal day, in its time zone), else the calendar month in the team's time zone. A period under way runs to its end when the team's billing changes (a subscription starts or ends, the time zone changes)."`
	PeriodEnd           time.Time       `json:"period_end" doc:"The end of the period under way, when the limit is whole again."`
}

// NewMember converts a member's view to its wire form.
func NewMember(v credit.MemberView) *Member {
	return &Member{
		Member: v.Member, MonthlyLimitCredits: v.MonthlyLimit, UsedCredits: v.Used, RemainingCredits: v.Remaining,
		PeriodStart: v.PeriodStart.UTC(), PeriodEnd: v.PeriodEnd.UTC(),
	}
}

// Members is a team's members, by id.
type Members struct {
	Account string   `json:"account"`
	Members []Member `json:"members" doc:"By member id; removed members are not listed. To a member key, only its own member."`
}

// MemberRequest sets a member's monthly limit. The field is required, null
// included: a body that leaves the limit out is refused rather than read as
// "no limit".
type MemberRequest struct {
	MonthlyLimitCredits *Amount `json:"monthly_limit_credits" nullable:"true" doc:"Credits of the pool the member may use in one period: 0 or more, at most three decimals; null: no limit. Required: a body without it is 422 invalid_request, never read as no limit." example:"100"`
}

func (s *Server) memberRoutes() {
	register(s, huma.Operation{
		OperationID: "set-member",
		Method:      http.MethodPut,
		Path:        "/v1/accounts/{id}/members/{member}",
		Summary:     "Add a member to a team, or set their monthly limit",
		Description: "Makes member a member of the team (again, if they were removed: their period's usage is kept) with a monthly limit of the team's pool, or changes their limit. A limit below what the member used this period stops their next generations, not the ones under way. Answers the member as the change left them, which is also what a retry with the same Idempotency-Key gets. 422 not_a_team for an account that is not a team, invalid_member_id, invalid_amount; 404 unknown_account.",
		Tags:        []string{"Teams"},
		Errors:      []int{http.StatusConflict},
	}, allowAdmin, func(ctx context.Context, in *struct {
		ID             string `path:"id" doc:"The team's account id."`
		Member         string `path:"member" doc:"The member: the studio's user id (an account id's alphabet)."`
		IdempotencyKey string `header:"Idempotency-Key" doc:"Makes the request exactly-once: a retry with the same key and body gets the first answer and changes nothing; the same key with another body is 409 idempotency_conflict. 1 to 255 visible ASCII characters (! to ~)."`
		Body           jsonBody[MemberRequest]
		RawBody        []byte
	}) (*struct{ Body *Member }, error) {
		limit, err := optCredits(in.Body.Value.MonthlyLimitCredits)
		if err != nil {
			return nil, s.fail(err)
		}
		idem, err := s.idempotency(ctx, in.IdempotencyKey, in.RawBody)
		if err != nil {
			return nil, s.fail(err)
		}
		v, err := s.ledger.SetMember(ctx, idem, in.ID, in.Member, limit)
		if err != nil {
			return nil, s.failOn(err, "account", in.ID)
		}
		return &struct{ Body *Member }{NewMember(v)}, nil
	})

	register(s, huma.Operation{
		OperationID: "list-members",
		Method:      http.MethodGet,
		Path:        "/v1/accounts/{id}/members",
		Summary:     "A team's members, with their limits and what they used",
		Description: "Every member of the team, by id, with their monthly limit and what they used of it in the period under way. A member key sees only its own member. 422 not_a_team for an account that is not a team.",
		Tags:        []string{"Teams"},
	}, allowAdmin|allowService|allowSupport|allowAccount, func(ctx context.Context, in *struct {
		ID string `path:"id" doc:"The team's account id."`
	}) (*struct{ Body *Members }, error) {
		c, err := s.reader(ctx, "account", in.ID, in.ID)
		if err != nil {
			return nil, s.fail(err)
		}
		vs, err := s.ledger.Members(ctx, in.ID)
		if err != nil {
			return nil, s.failOn(err, "account", in.ID)
		}
		out := &Members{Account: in.ID, Members: []Member{}}
		for _, v := range vs {
			if c.Member == "" || v.Member == c.Member {
				out.Members = append(out.Members, *NewMember(v))
			}
		}
		return &struct{ Body *Members }{out}, nil
	})

	register(s, huma.Operation{
		OperationID: "remove-member",
		Method:      http.MethodDelete,
		Path:        "/v1/accounts/{id}/members/{member}",
		Summary:     "Remove a member from a team",
		Description: "The member may make no new generations or holds on the team; those under way resolve as any. Answers the member as they were removed, with what they used of the period under way. Set again, they keep that usage. 404 unknown_member for one who is not a member (or was removed); 422 not_a_team.",
		Tags:        []string{"Teams"},
		Errors:      []int{http.StatusConflict},
	}, allowAdmin, func(ctx context.Context, in *struct {
		ID             string `path:"id" doc:"The team's account id."`
		Member         string `path:"member" doc:"The member."`
		IdempotencyKey string `header:"Idempotency-Key" doc:"Makes the request exactly-once: a retry with the same key gets the first answer and changes nothing. 1 to 255 visible ASCII characters (! to ~)."`
	}) (*struct{ Body *Member }, error) {
		idem, err := s.idempotency(ctx, in.IdempotencyKey, nil)
		if err != nil {
			return nil, s.fail(err)
		}
		v, err := s.ledger.RemoveMember(ctx, idem, in.ID, in.Member)
		if err != nil {
			return nil, s.failOn(err, "account", in.ID)
		}
		return &struct{ Body *Member }{NewMember(v)}, nil
	})
}
