package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tally-credits/tally/internal/credit"
)

// The support desk's directory: finding an account by the start of its id,
// and an account's generations.

// AccountSummary is one account of the account list: what finds it, and its
// balances as last written.
type AccountSummary struct {
	ID               string             `json:"id" example:"user_42"`
	Kind             credit.AccountKind `json:"kind" enum:"user,team"`
	Plan             string             `json:"plan,omitempty" doc:"The program the account is on (free), as opened or set by PUT /v1/accounts/{id}/plan; absent: none. While a subscription is active its plan applies instead: GET /v1/accounts/{id} shows which." example:"free"`
	AvailableCredits credit.Credits     `json:"available_credits" doc:"As last written: GET /v1/accounts/{id} first settles what is due (holds past their TTL, grants past their expiry, the day's free credits)."`
	HeldCredits      credit.Credits     `json:"held_credits" doc:"As last written, like available_credits."`
	CreatedAt        time.Time          `json:"created_at"`
}

// NewAccountSummary converts an account to its row of the account list.
func NewAccountSummary(a credit.Account) AccountSummary {
	return AccountSummary{ID: a.ID, Kind: kindName(a.Kind), Plan: a.Plan, AvailableCredits: a.Available, HeldCredits: a.Held, CreatedAt: a.CreatedAt.UTC()}
}

// AccountList is a page of the account list, by id.
type AccountList struct {
	Accounts   []AccountSummary `json:"accounts" doc:"By id (byte order)."`
	NextCursor string           `json:"next_cursor,omitempty" doc:"Pass as cursor for the next page; absent on the last page."`
}

// Generations is a page of an account's generations, newest first.
type Generations struct {
	Account     string       `json:"account"`
	Generations []Generation `json:"generations" doc:"Newest first, each as GET /v1/generations/{id} shows it."`
	NextCursor  string       `json:"next_cursor,omitempty" doc:"Pass as cursor for the next (older) page; absent on the last page."`
}

func (s *Server) directoryRoutes() {
	register(s, huma.Operation{
		OperationID: "list-accounts",
		Method:      http.MethodGet,
		Path:        "/v1/accounts",
		Summary:     "Find accounts by the start of their id",
		Description: "The accounts whose id starts with prefix (every account without one), by id, paged: pass next_cursor as cursor for the next page. Each with its kind, program and balances as last written. Admin and support keys.",
		Tags:        []string{"Accounts"},
	}, allowAdmin|allowSupport, func(ctx context.Context, in *struct {
		Prefix string `query:"prefix" doc:"Only ids starting with this, compared byte by byte (case-sensitive); absent: every account. One no id can start with (a space, a control character) finds nothing." example:"user_4"`
		Cursor string `query:"cursor" doc:"next_cursor of the previous page; absent: from the first id."`
		Limit  int    `query:"limit" minimum:"1" maximum:"500" default:"50" doc:"Accounts per page."`
	}) (*struct{ Body AccountList }, error) {
		limit := in.Limit
		if limit == 0 {
			limit = DefaultPageSize
		}
		page, err := s.ledger.Accounts(ctx, in.Prefix, in.Cursor, limit)
		if err != nil {
			return nil, s.fail(err)
		}
		out := AccountList{Accounts: make([]AccountSummary, len(page.Accounts)), NextCursor: page.Next}
		for i, a := range page.Accounts {
			out.Accounts[i] = NewAccountSummary(a)
		}
		return &struct{ Body AccountList }{out}, nil
	})

	register(s, huma.Operation{
		OperationID: "list-account-generations",
		Method:      http.MethodGet,
		Path:        "/v1/accounts/{id}/generations",
		Summary:     "An account's generations, newest first",
		Description: "Every generation of the account, or those of one status or model, newest first (by id, which carries the time it was made to the millisecond), paged: pass next_cursor as cursor for the next page. Each as GET /v1/generations/{id} shows it, without settling: a held one past its TTL shows held until it is read or swept. A member key reads only its own member's. 422 invalid_status (with allowed).",
		Tags:        []string{"Generations"},
	}, allowAdmin|allowService|allowSupport|allowAccount, func(ctx context.Context, in *struct {
		ID     string `path:"id" doc:"Account id."`
		Status string `query:"status" doc:"held, completed, failed or expired; absent: any."`
		Model  string `query:"model" doc:"A model id or display name; absent: any. A model no longer in the catalog is matched by its id." example:"nano-banana-2"`
		Cursor string `query:"cursor" doc:"next_cursor of the previous page; absent: the newest."`
		Limit  int    `query:"limit" minimum:"1" maximum:"1000" default:"50" doc:"Generations per page."`
	}) (*struct{ Body Generations }, error) {
		c, err := s.reader(ctx, "account", in.ID, in.ID)
		if err != nil {
			return nil, s.fail(err)
		}
		limit := in.Limit
		if limit == 0 {
			limit = DefaultPageSize
		}
		model := in.Model
		if m, err := s.Catalog().Model(model); model != "" && err == nil {
			model = m.ID
		}
		// A member key's filter is its member, whatever else it asks.
		f := credit.GenerationFilter{Status: credit.GenerationStatus(in.Status), Model: model, Member: c.Member, Before: in.Cursor, Limit: limit}
		page, err := s.ledger.Generations(ctx, in.ID, f)
		if err != nil {
			return nil, s.failOn(err, "account", in.ID)
		}
		out := Generations{Account: in.ID, Generations: make([]Generation, len(page.Generations)), NextCursor: page.Next}
		for i, g := range page.Generations {
			out.Generations[i] = *NewGeneration(g)
		}
		return &struct{ Body Generations }{out}, nil
	})
}
