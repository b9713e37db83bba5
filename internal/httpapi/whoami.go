package httpapi

import (
	"context"
	"net/http"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tally-credits/tally/internal/credit"
)

// WhoAmI says what the presented API key may do: its scope and, for an
// account key, the one account it may read (and for a member key, the team
// member it reads as). The web console asks it once at
// login, so that it offers an account key its own account and no other.
type WhoAmI struct {
	Key     string       `json:"key" doc:"The key's id; admin for the TALLY_ADMIN_KEY." example:"01jz3q8v5c2w0e9kz4t3b1n6ma"`
	Scope   credit.Scope `json:"scope" enum:"admin,service,support,account" doc:"admin: everything; service: price, hold and charge for any account; support: read every account and correct it (grants of promo or adjustment credits, debits, voids, refunds, released holds), each with a reason, and read the reports; account: read one account."`
	Account string       `json:"account,omitempty" doc:"Only for an account key: the account it may read." example:"user_42"`
	Member  string       `json:"member,omitempty" doc:"Only for a member key (an account key of a team for one of its members): the member whose own holds, entries and usage it reads of the team." example:"user_7"`
}

func (s *Server) whoamiRoutes() {
	huma.Register(s.api, secure(huma.Operation{
		OperationID: "whoami",
		Method:      http.MethodGet,
		Path:        "/v1/whoami",
		Summary:     "Who the API key is: its scope, and for an account key its account",
		Description: "Answers for any valid key, whatever its scope; 401 without one. Reveals nothing the key's holder could not learn by trying.",
		Tags:        []string{"Auth"},
	}, allowAdmin|allowService|allowSupport|allowAccount), func(ctx context.Context, _ *struct{}) (*struct{ Body WhoAmI }, error) {
		c, err := s.callerOf(ctx, requestOf(ctx))
		if err != nil {
			return nil, s.fail(err)
		}
		return &struct{ Body WhoAmI }{WhoAmI{Key: c.ID, Scope: c.Scope, Account: c.Account, Member: c.Member}}, nil
	})
}
