package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tally-credits/tally/internal/credit"
)

// Account is a wallet as support sees it: balances, grants, open holds.
type Account struct {
	ID                   string         `json:"id" doc:"The studio's user or team id." example:"user_42"`
	AvailableCredits     credit.Credits `json:"available_credits" doc:"Spendable now (negative only within the overdraft)."`
	HeldCredits          credit.Credits `json:"held_credits" doc:"Reserved by open holds."`
	OverdraftCredits     credit.Credits `json:"overdraft_credits" doc:"How far below zero available_credits may go."`
	OverdraftUsedCredits credit.Credits `json:"overdraft_used_credits" doc:"How far below zero the account is."`
	CreatedAt            time.Time      `json:"created_at"`
	Grants               []Grant        `json:"grants" doc:"The grants, in consumption order (lowest priority first, then earliest expiry with non-expiring last, then oldest); expired ones show expired_at."`
	OpenHolds            []Hold         `json:"open_holds" doc:"Holds not yet captured, released or expired, oldest first."`
}

// NewAccount converts an account view to its wire form.
func NewAccount(v credit.AccountView) *Account {
	a := &Account{
		ID: v.ID, AvailableCredits: v.Available, HeldCredits: v.Held, OverdraftCredits: v.Overdraft,
		OverdraftUsedCredits: v.OverdraftUsed, CreatedAt: v.CreatedAt.UTC(),
		Grants: make([]Grant, len(v.Grants)), OpenHolds: make([]Hold, len(v.OpenHolds)),
	}
	for i, g := range v.Grants {
		a.Grants[i] = *NewGrant(g)
	}
	for i, h := range v.OpenHolds {
		a.OpenHolds[i] = *NewHold(h)
	}
	return a
}

// Grant is one lot of credits put into an account.
type Grant struct {
	ID               string         `json:"id"`
	Account          string         `json:"account"`
	Source           credit.Source  `json:"source" enum:"subscription,topup,promo,refund,adjustment"`
	GrantedCredits   credit.Credits `json:"granted_credits"`
	RemainingCredits credit.Credits `json:"remaining_credits" doc:"Spendable part."`
	HeldCredits      credit.Credits `json:"held_credits" doc:"Part reserved by open holds."`
	Priority         int            `json:"priority" doc:"Grants are used lowest priority first, then earliest expiry (non-expiring last), then oldest."`
	ExpiresAt        *time.Time     `json:"expires_at,omitempty" doc:"When its remainder leaves the balance; absent: never."`
	ExpiredAt        *time.Time     `json:"expired_at,omitempty" doc:"When its remainder left the balance."`
	CreatedAt        time.Time      `json:"created_at"`
	Memo             string         `json:"memo,omitempty"`
}

// NewGrant converts a grant to its wire form.
func NewGrant(g credit.Grant) *Grant {
	return &Grant{
		ID: g.ID, Account: g.Account, Source: g.Source, GrantedCredits: g.Granted, RemainingCredits: g.Remaining,
		HeldCredits: g.Held, Priority: g.Priority, ExpiresAt: optTime(g.ExpiresAt), ExpiredAt: optTime(g.ExpiredAt),
		CreatedAt: g.CreatedAt.UTC(), Memo: g.Memo,
	}
}

// AccountRequest opens an account.
type AccountRequest struct {
	ID               string  `json:"id" doc:"The studio's user or team id: 1 to 128 characters, no spaces." example:"user_42"`
	OverdraftCredits *Amount `json:"overdraft_credits,omitempty" doc:"How far below zero the balance may go; default 0 (never)."`
}

// GrantRequest puts credits into an account.
type GrantRequest struct {
	Credits   Amount        `json:"credits"`
	Source    credit.Source `json:"source" doc:"subscription, topup, promo, refund or adjustment."`
	ExpiresAt *Time         `json:"expires_at,omitempty" doc:"When the remainder leaves the balance, in the future: RFC 3339 (2027-01-01T00:00:00Z) or a date (2027-01-01, that day's midnight UTC); absent or null: never."`
	Priority  int           `json:"priority,omitempty" doc:"Grants are used lowest priority first, whatever their expiry; among equal priorities, the earliest expiry first (non-expiring last), then the oldest. 0 to 1000000, default 0."`
	Memo      string        `json:"memo,omitempty" doc:"Why, for support and finance; at most 1000 bytes."`
}

func (s *Server) accountRoutes() {
	register(s, huma.Operation{
		OperationID:   "create-account",
		Method:        http.MethodPost,
		Path:          "/v1/accounts",
		Summary:       "Open an account",
		Description:   "Opens a wallet with zero balance. 409 account_exists if the id is taken.",
		Tags:          []string{"Accounts"},
		DefaultStatus: http.StatusCreated,
		Errors:        []int{409},
	}, accessAdmin, func(ctx context.Context, in *struct {
		IdempotencyKey string `header:"Idempotency-Key" doc:"Makes the request exactly-once: a retry with the same key and body gets the first answer and changes nothing; the same key with another body is 409 idempotency_conflict. 1 to 255 visible ASCII characters (! to ~)."`
		Body           jsonBody[AccountRequest]
		RawBody        []byte
	}) (*struct{ Body *Account }, error) {
		overdraft, err := optCredits(in.Body.Value.OverdraftCredits)
		if err != nil {
			return nil, s.fail(err)
		}
		var od credit.Credits
		if overdraft != nil {
			od = *overdraft
		}
		idem, err := s.idempotency(ctx, in.IdempotencyKey, in.RawBody)
		if err != nil {
			return nil, s.fail(err)
		}
		a, err := s.ledger.CreateAccount(ctx, idem, in.Body.Value.ID, od)
		if err != nil {
			return nil, s.fail(err)
		}
		return &struct{ Body *Account }{NewAccount(credit.AccountView{Account: a})}, nil
	})

	register(s, huma.Operation{
		OperationID: "get-account",
		Method:      http.MethodGet,
		Path:        "/v1/accounts/{id}",
		Summary:     "Get an account: balances, grants, open holds",
		Description: "As of now: holds past their TTL and grants past their expiry are settled first.",
		Tags:        []string{"Accounts"},
	}, accessRead, func(ctx context.Context, in *struct {
		ID string `path:"id" doc:"Account id."`
	}) (*struct{ Body *Account }, error) {
		if err := s.readable(ctx, "account", in.ID, in.ID); err != nil {
			return nil, s.fail(err)
		}
		v, err := s.ledger.Account(ctx, in.ID)
		if err != nil {
			return nil, s.failOn(err, "account", in.ID)
		}
		return &struct{ Body *Account }{NewAccount(v)}, nil
	})

	register(s, huma.Operation{
		OperationID:   "create-grant",
		Method:        http.MethodPost,
		Path:          "/v1/accounts/{id}/grants",
		Summary:       "Grant credits to an account",
		Description:   "Puts credits into the account (a subscription, a top-up, a promotion, a refund or an adjustment). If the account is overdrawn, the new credits pay that back first.",
		Tags:          []string{"Accounts"},
		DefaultStatus: http.StatusCreated,
	}, accessAdmin, func(ctx context.Context, in *struct {
		ID             string `path:"id" doc:"Account id."`
		IdempotencyKey string `header:"Idempotency-Key" doc:"Makes the request exactly-once: a retry with the same key and body gets the first answer and changes nothing; the same key with another body is 409 idempotency_conflict. 1 to 255 visible ASCII characters (! to ~)."`
		Body           jsonBody[GrantRequest]
		RawBody        []byte
	}) (*struct{ Body *Grant }, error) {
		c, err := in.Body.Value.Credits.Credits()
		if err != nil {
			return nil, s.fail(err)
		}
		spec := credit.GrantSpec{Credits: c, Source: in.Body.Value.Source, Priority: in.Body.Value.Priority, Memo: in.Body.Value.Memo}
		if in.Body.Value.ExpiresAt != nil {
			if spec.ExpiresAt, err = in.Body.Value.ExpiresAt.Time("expires_at"); err != nil {
				return nil, s.fail(err)
			}
			spec.Expires = true
		}
		idem, err := s.idempotency(ctx, in.IdempotencyKey, in.RawBody)
		if err != nil {
			return nil, s.fail(err)
		}
		g, err := s.ledger.AddGrant(ctx, idem, in.ID, spec)
		if err != nil {
			return nil, s.failOn(err, "account", in.ID)
		}
		return &struct{ Body *Grant }{NewGrant(g)}, nil
	})
}
