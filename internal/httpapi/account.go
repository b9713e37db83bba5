package httpapi

import (
	"context"
	"net/http"
	"slices"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tally-credits/tally/internal/credit"
)

// Account is a wallet as support sees it: balances, grants, open holds,
// and the plan whose rules apply to it.
type Account struct {
	ID                   string             `json:"id" doc:"The studio's user or team id." example:"user_42"`
	Kind                 credit.AccountKind `json:"kind" enum:"user,team" doc:"user: one person's wallet; team: a pool its members spend, each within the monthly limit an admin sets (GET /v1/accounts/{id}/members)."`
	AvailableCredits     credit.Credits     `json:"available_credits" doc:"Spendable now (negative only within the overdraft). For an account on a program, the day's free credits are counted from the day's first read: no write is needed."`
	HeldCredits          credit.Credits     `json:"held_credits" doc:"Reserved by open holds."`
	OverdraftCredits     credit.Credits     `json:"overdraft_credits" doc:"How far below zero available_credits may go."`
	OverdraftUsedCredits credit.Credits     `json:"overdraft_used_credits" doc:"How far below zero the account is."`
	CreatedAt            time.Time          `json:"created_at"`
	Program              string             `json:"program,omitempty" doc:"The program the account is on (free), as POST /v1/accounts or PUT /v1/accounts/{id}/plan set it; absent: none." example:"free"`
	Plan                 string             `json:"plan,omitempty" doc:"The plan whose rules apply now: an active subscription's plan, else the account's program; absent: a plain wallet." example:"free"`
	Subscription         string             `json:"subscription,omitempty" doc:"The active subscription the plan comes through; absent: none."`
	TimeZone             string             `json:"time_zone" doc:"The IANA time zone of the account's days: its free credits reset at its local midnight. UTC unless set." example:"Europe/Berlin"`
	Balances             Balances           `json:"balances" doc:"available_credits by the kind of credits, as the studio shows them."`
	Grants               []Grant            `json:"grants" doc:"The grants, in consumption order (lowest priority first, then earliest expiry with non-expiring last, then oldest); expired ones show expired_at."`
	OpenHolds            []Hold             `json:"open_holds" doc:"Holds not yet captured, released or expired, oldest first. To a member key, only its own member's."`
	Subscriptions        []Subscription     `json:"subscriptions" doc:"Its subscriptions, oldest first, ended ones included."`
	Unlimited            []Window           `json:"unlimited" doc:"The unlimited windows in force now: models that cost nothing, with what is left of today's fast generations."`
	LowBalanceCredits    credit.Credits     `json:"low_balance_credits" doc:"The balance.low alert's threshold (PUT /v1/accounts/{id}/alerts); 0: no alert."`
	AutoTopup            *AutoTopup         `json:"auto_topup" doc:"The auto top-up (PUT /v1/accounts/{id}/auto-topup); null: off."`
}

// Balances is what an account can spend, by where it came from.
type Balances struct {
	FreeCredits         credit.Credits `json:"free_credits" doc:"Today's free credits of the account's program."`
	SubscriptionCredits credit.Credits `json:"subscription_credits" doc:"Monthly allowances of a subscription, and their rollovers."`
	TopupCredits        credit.Credits `json:"topup_credits"`
	OtherCredits        credit.Credits `json:"other_credits" doc:"Promotions, refunds and adjustments."`
}

// Window is an unlimited window in force, with what is left of it today.
type Window struct {
	Models        []string         `json:"models" doc:"Model ids that cost nothing in it." example:"nano-banana-2"`
	Until         time.Time        `json:"until" doc:"When the window closes (the end of its days in the billing period)."`
	MaxConcurrent int              `json:"max_concurrent" doc:"Generations that may be open at a time."`
	Open          int              `json:"open" doc:"Generations open now."`
	DailyFast     int              `json:"daily_fast" doc:"Fast generations a local day; 0: no limit."`
	FastLeft      int              `json:"fast_left" doc:"Fast generations left today (0 when daily_fast is 0: no limit)."`
	AfterFast     credit.AfterFast `json:"after_fast" enum:"block,relaxed" doc:"Past daily_fast: block (429 daily_limit_reached until resets_at) or relaxed (the relaxed lane)."`
	ResetsAt      time.Time        `json:"resets_at" doc:"The account's next local midnight, when today's count resets."`
}

// NewAccount converts an account view to its wire form; now is the server's
// clock, for the status of its subscriptions.
func NewAccount(v credit.AccountView, now time.Time) *Account {
	a := &Account{
		ID: v.ID, Kind: kindName(v.Account.Kind), AvailableCredits: v.Available, HeldCredits: v.Held, OverdraftCredits: v.Overdraft,
		OverdraftUsedCredits: v.OverdraftUsed, CreatedAt: v.CreatedAt.UTC(),
		Program: v.Account.Plan, Plan: v.ActivePlan, Subscription: v.ActiveSubscription, TimeZone: zoneName(v.TimeZone),
		Balances: Balances{FreeCredits: v.Balances.Free, SubscriptionCredits: v.Balances.Subscription,
			TopupCredits: v.Balances.Topup, OtherCredits: v.Balances.Other},
		Grants: make([]Grant, len(v.Grants)), OpenHolds: make([]Hold, len(v.OpenHolds)),
		Subscriptions: make([]Subscription, len(v.Subscriptions)), Unlimited: make([]Window, len(v.Windows)),
		LowBalanceCredits: v.Account.LowBalance, AutoTopup: newAutoTopup(v.Account.AutoTopup),
	}
	for i, g := range v.Grants {
		a.Grants[i] = *NewGrant(g)
	}
	for i, h := range v.OpenHolds {
		a.OpenHolds[i] = *NewHold(h)
	}
	for i, s := range v.Subscriptions {
		a.Subscriptions[i] = *NewSubscription(s, now)
	}
	for i, w := range v.Windows {
		a.Unlimited[i] = Window{Models: append([]string{}, w.Models...), Until: w.Until.UTC(), MaxConcurrent: w.MaxConcurrent,
			Open: w.Open, DailyFast: w.DailyFast, FastLeft: w.FastLeft, AfterFast: w.AfterFast, ResetsAt: w.ResetsAt.UTC()}
	}
	return a
}

// openedAccount is the answer to opening an account: the account as opened,
// on its program if it was given one (no subscription yet).
func openedAccount(a credit.Account, now time.Time) *Account {
	out := NewAccount(credit.AccountView{Account: a}, now)
	out.Plan = a.Plan
	return out
}

// kindName is an account's kind: "" (an account opened before teams) is a
// user's.
func kindName(k credit.AccountKind) credit.AccountKind {
	if k == "" {
		return credit.AccountUser
	}
	return k
}

// zoneName is the time zone an account or subscription keeps its days in:
// "" is UTC.
func zoneName(tz string) string {
	if tz == "" {
		return "UTC"
	}
	return tz
}

// Grant is one lot of credits put into an account.
type Grant struct {
	ID               string              `json:"id"`
	Account          string              `json:"account"`
	Source           credit.Source       `json:"source" enum:"subscription,topup,promo,refund,adjustment,free,rollover,overdraft" doc:"overdraft: the account's overdraft grant, listed only while credits returned to it are spendable."`
	GrantedCredits   credit.Credits      `json:"granted_credits"`
	RemainingCredits credit.Credits      `json:"remaining_credits" doc:"Spendable part."`
	HeldCredits      credit.Credits      `json:"held_credits" doc:"Part reserved by open holds."`
	Priority         int                 `json:"priority" doc:"Grants are used lowest priority first, then earliest expiry (non-expiring last), then oldest."`
	ExpiresAt        *time.Time          `json:"expires_at,omitempty" doc:"When its remainder leaves the balance; absent: never."`
	ExpiredAt        *time.Time          `json:"expired_at,omitempty" doc:"When its remainder left the balance (its expiry, or a void)."`
	CreatedAt        time.Time           `json:"created_at"`
	Memo             string              `json:"memo,omitempty"`
	AppliesTo        *credit.Eligibility `json:"applies_to,omitempty" doc:"The models it may pay for; absent: every model."`
	Subscription     string              `json:"subscription,omitempty" doc:"The subscription whose allowance (or rollover) it is."`
	Period           string              `json:"period,omitempty" doc:"The allowance period it was given for, for a plan's grants: each is given once per period."`
}

// NewGrant converts a grant to its wire form.
func NewGrant(g credit.Grant) *Grant {
	return &Grant{
		ID: g.ID, Account: g.Account, Source: g.Source, GrantedCredits: g.Granted, RemainingCredits: g.Remaining,
		HeldCredits: g.Held, Priority: g.Priority, ExpiresAt: optTime(g.ExpiresAt), ExpiredAt: optTime(g.ExpiredAt),
		CreatedAt: g.CreatedAt.UTC(), Memo: g.Memo, AppliesTo: eligibility(g.AppliesTo), Subscription: g.Subscription, Period: g.Period,
	}
}

// AccountRequest opens an account.
type AccountRequest struct {
	ID               string  `json:"id" doc:"The studio's user or team id: 1 to 128 characters, no spaces." example:"user_42"`
	OverdraftCredits *Amount `json:"overdraft_credits,omitempty" doc:"How far below zero the balance may go; default 0 (never)."`
	Plan             string  `json:"plan,omitempty" doc:"A program of the catalog to put the account on (free: its daily free credits, no Pro models); absent: a plain wallet." example:"free"`
	TimeZone         string  `json:"time_zone,omitempty" doc:"The IANA time zone of the account's days (its free credits reset at its local midnight); absent: UTC." example:"Europe/Berlin"`
	Kind             string  `json:"kind,omitempty" doc:"user (the default): one person's wallet; team: a pool its members spend (PUT /v1/accounts/{id}/members/{member} sets each one's monthly limit; its generations and holds name the member). Set once: it never changes. 422 invalid_account_kind for anything else." example:"team"`
}

// PlanRequest puts an account on a program, or takes it off.
type PlanRequest struct {
	Plan     *string `json:"plan" doc:"A program of the catalog (free); \"\" or null takes the account off its program (a plain wallet)." example:"free"`
	TimeZone *string `json:"time_zone,omitempty" doc:"The IANA time zone of the account's days; absent: unchanged; \"\": UTC." example:"Europe/Berlin"`
}

// GrantRequest puts credits into an account.
type GrantRequest struct {
	Credits   Amount              `json:"credits"`
	Source    credit.Source       `json:"source" doc:"subscription, topup, promo, refund, adjustment, free or rollover. A top-up to an account whose plan does not sell them (the free program) is 403 subscription_required."`
	ExpiresAt *Time               `json:"expires_at,omitempty" doc:"When the remainder leaves the balance, in the future: RFC 3339 (2027-01-01T00:00:00Z) or a date (2027-01-01, that day's midnight UTC); absent or null: never."`
	Priority  int                 `json:"priority,omitempty" doc:"Grants are used lowest priority first, whatever their expiry; among equal priorities, the earliest expiry first (non-expiring last), then the oldest. 0 to 1000000, default 0."`
	Memo      string              `json:"memo,omitempty" doc:"Why, for support and finance; at most 1000 bytes."`
	AppliesTo *credit.Eligibility `json:"applies_to,omitempty" doc:"Limits the models the grant may pay for: models (ids or names) or tags (pro) to include, exclude_models and exclude_tags to leave out; each must be in the catalog in use (422 unknown_model, unknown_tag). Absent: every model."`
	Reason    string              `json:"reason,omitempty" doc:"Why, in words a person wrote (duplicate charge, ticket 4411): at most 500 bytes of one line of text (422 invalid_reason). Required of a support key (422 reason_required); an admin key may give one. Given, it goes to the audit log, in the action's detail as reason."`
}

func (s *Server) accountRoutes() {
	register(s, huma.Operation{
		OperationID:   "create-account",
		Method:        http.MethodPost,
		Path:          "/v1/accounts",
		Summary:       "Open an account",
		Description:   "Opens a wallet with zero balance, on a program (plan: free) if given: an account on the free program has 100 free credits each day of its time zone, counted without a write, and cannot use Pro models. With kind team, a team's pool: its members (PUT /v1/accounts/{id}/members/{member}) spend it, each within a monthly limit. 409 account_exists if the id is taken; 422 unknown_plan, invalid_time_zone, invalid_account_kind.",
		Tags:          []string{"Accounts"},
		DefaultStatus: http.StatusCreated,
		Errors:        []int{409},
	}, allowAdmin, func(ctx context.Context, in *struct {
		IdempotencyKey string `header:"Idempotency-Key" doc:"Makes the request exactly-once: a retry with the same key and body gets the first answer and changes nothing; the same key with another body is 409 idempotency_conflict. 1 to 255 visible ASCII characters (! to ~)."`
		Body           jsonBody[AccountRequest]
		RawBody        []byte
	}) (*struct{ Body *Account }, error) {
		body := &in.Body.Value
		overdraft, err := optCredits(body.OverdraftCredits)
		if err != nil {
			return nil, s.fail(err)
		}
		spec := credit.AccountSpec{ID: body.ID, Plan: body.Plan, TimeZone: body.TimeZone, Kind: credit.AccountKind(body.Kind)}
		if overdraft != nil {
			spec.Overdraft = *overdraft
		}
		idem, err := s.idempotency(ctx, in.IdempotencyKey, in.RawBody)
		if err != nil {
			return nil, s.fail(err)
		}
		v, err := s.ledger.OpenAccount(ctx, idem, spec)
		if err != nil {
			return nil, s.fail(err)
		}
		if v.Account.Plan != "" {
			// On a program: with the day's free credits, as the account was
			// opened (a retry gets this same answer).
			return &struct{ Body *Account }{NewAccount(v, v.At)}, nil
		}
		return &struct{ Body *Account }{openedAccount(v.Account, s.ledger.Now())}, nil
	})

	register(s, huma.Operation{
		OperationID: "set-account-plan",
		Method:      http.MethodPut,
		Path:        "/v1/accounts/{id}/plan",
		Summary:     "Put an account on a program, or take it off",
		Description: "Puts the account on a program of the catalog (free: 100 credits a day, no Pro models), or takes it off (plan \"\" or null: a plain wallet), and sets the time zone of its days when time_zone is given. A subscription takes over from the program while it is active. Answers the account as the change left it (its balances, grants and subscriptions; open holds are listed by GET), which is also what a retry with the same Idempotency-Key gets. 422 unknown_plan (allowed lists the programs), invalid_time_zone.",
		Tags:        []string{"Accounts"},
		Errors:      []int{http.StatusConflict},
	}, allowAdmin, func(ctx context.Context, in *struct {
		ID             string `path:"id" doc:"Account id."`
		IdempotencyKey string `header:"Idempotency-Key" doc:"Makes the request exactly-once: a retry with the same key and body gets the first answer and changes nothing; the same key with another body is 409 idempotency_conflict. 1 to 255 visible ASCII characters (! to ~)."`
		Body           jsonBody[PlanRequest]
		RawBody        []byte
	}) (*struct{ Body *Account }, error) {
		var plan string
		if p := in.Body.Value.Plan; p != nil {
			plan = *p
		}
		idem, err := s.idempotency(ctx, in.IdempotencyKey, in.RawBody)
		if err != nil {
			return nil, s.fail(err)
		}
		// The account as the change left it: a retry gets this same answer.
		v, err := s.ledger.SetPlan(ctx, idem, in.ID, plan, in.Body.Value.TimeZone)
		if err != nil {
			return nil, s.failOn(err, "account", in.ID)
		}
		return &struct{ Body *Account }{NewAccount(v, v.At)}, nil
	})

	register(s, huma.Operation{
		OperationID: "get-account",
		Method:      http.MethodGet,
		Path:        "/v1/accounts/{id}",
		Summary:     "Get an account: balances, grants, open holds, plan",
		Description: "As of now: holds past their TTL, grants past their expiry and subscription renewals due are settled first. An account on a program shows the day's free credits without a write. A member key reads its team's pool (its balances, grants and subscriptions) and, of the open holds, only its own member's.",
		Tags:        []string{"Accounts"},
	}, allowAdmin|allowService|allowSupport|allowAccount, func(ctx context.Context, in *struct {
		ID string `path:"id" doc:"Account id."`
	}) (*struct{ Body *Account }, error) {
		c, err := s.reader(ctx, "account", in.ID, in.ID)
		if err != nil {
			return nil, s.fail(err)
		}
		v, err := s.ledger.Account(ctx, in.ID)
		if err != nil {
			return nil, s.failOn(err, "account", in.ID)
		}
		if c.Member != "" {
			// The pool is the member's to see; the other members' holds are not.
			v.OpenHolds = slices.DeleteFunc(slices.Clone(v.OpenHolds), func(h credit.Hold) bool { return h.Member != c.Member })
		}
		return &struct{ Body *Account }{NewAccount(v, s.ledger.Now())}, nil
	})

	register(s, huma.Operation{
		OperationID:   "create-grant",
		Method:        http.MethodPost,
		Path:          "/v1/accounts/{id}/grants",
		Summary:       "Grant credits to an account",
		Description:   "Puts credits into the account (a subscription, a top-up, a promotion, a refund or an adjustment), for every model or, with applies_to, only some. If the account is overdrawn, the new credits pay that back first (credits limited by applies_to do not). Audited, with the reason when one is given. A support key grants only promo and adjustment credits (403 support_source for any other source), and gives a reason (422 reason_required). 403 subscription_required for a top-up to an account whose plan does not sell them (the free program).",
		Tags:          []string{"Accounts"},
		DefaultStatus: http.StatusCreated,
	}, allowAdmin|allowSupport, func(ctx context.Context, in *struct {
		ID             string `path:"id" doc:"Account id."`
		IdempotencyKey string `header:"Idempotency-Key" doc:"Makes the request exactly-once: a retry with the same key and body gets the first answer and changes nothing; the same key with another body is 409 idempotency_conflict. 1 to 255 visible ASCII characters (! to ~)."`
		Body           jsonBody[GrantRequest]
		RawBody        []byte
	}) (*struct{ Body *Grant }, error) {
		if err := s.supportMayGrant(ctx, in.Body.Value.Source); err != nil {
			return nil, s.fail(err)
		}
		ctx, err := s.reasoned(ctx, in.Body.Value.Reason)
		if err != nil {
			return nil, s.fail(err)
		}
		c, err := in.Body.Value.Credits.Credits()
		if err != nil {
			return nil, s.fail(err)
		}
		spec := credit.GrantSpec{Credits: c, Source: in.Body.Value.Source, Priority: in.Body.Value.Priority, Memo: in.Body.Value.Memo}
		if e := in.Body.Value.AppliesTo; e != nil {
			if spec.AppliesTo, err = CheckAppliesTo(s.Catalog(), *e, appliesToField); err != nil {
				return nil, s.fail(err)
			}
		}
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
