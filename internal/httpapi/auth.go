package httpapi

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tally-credits/tally/internal/credit"
)

// Who may call what. Prices are public; every ledger route needs
// `Authorization: Bearer KEY`, where KEY is the admin key (TALLY_ADMIN_KEY) or
// a stored key (`tally keys create`), and the key's scope decides. Scopes are
// not nested: a support key voids grants but holds nothing, a service key
// holds but voids nothing, so each route names every scope it accepts. A
// member key is an account key of a team that names one of its members
// (`tally keys create --scope account --account TEAM --member M`): it reads
// its team as an account key does, narrowed to what is the member's own.
// A support key that writes gives a reason (422 reason_required without one),
// which the ledger puts in the action's audit entry.
//
//	route                                       admin service support account key member key
//	POST /v1/quotes, /v1/quotes/cheapest        yes   yes     yes     yes         yes         (public)
//	  … with "account"                          yes   yes     yes     own only    own team    (a key is then required)
//	GET  /v1/models, /v1/models/{id},
//	     /v1/catalog, /v1/catalog/versions,
//	     /v1/catalog/diff, /openapi.json,
//	     /healthz, /readyz                      yes   yes     yes     yes         yes         (public)
//	GET  /v1/whoami                             yes   yes     yes     yes         yes         (shows the member)
//	GET  /v1/accounts                           yes   403     yes     403         403
//	POST /v1/accounts                           yes   403     403     403         403
//	PUT  /v1/accounts/{id}/plan                 yes   403     403     403         403
//	POST /v1/accounts/{id}/grants               yes   403     promo,  403         403
//	                                                          adjustment (else 403 support_source)
//	POST /v1/accounts/{id}/debits               yes   403     yes     403         403
//	POST /v1/grants/{id}/void                   yes   403     yes     403         403
//	POST /v1/grants/{id}/expiry                 yes   403     403     403         403
//	POST /v1/accounts/{id}/subscriptions        yes   403     403     403         403
//	POST /v1/subscriptions/{id}/cancel          yes   403     403     403         403
//	POST /v1/subscriptions/{id}/change          yes   403     403     403         403
//	PUT  /v1/accounts/{id}/members/{member}     yes   403     403     403         403
//	DELETE /v1/accounts/{id}/members/{member}   yes   403     403     403         403
//	GET  /v1/accounts/{id}/members              yes   yes     yes     own only    own row only
//	GET  /v1/accounts/{id}/subscriptions        yes   yes     yes     own only    own team
//	GET  /v1/subscriptions/{id}                 yes   yes     yes     own only    own team
//	GET  /v1/accounts/{id}                      yes   yes     yes     own only    own team, its own open holds
//	GET  /v1/accounts/{id}/entries              yes   yes     yes     own only    own team, its own and the pool's entries
//	GET  /v1/accounts/{id}/usage                yes   yes     yes     own only    own team, its own usage
//	GET  /v1/accounts/{id}/generations          yes   yes     yes     own only    own team, its own generations
//	GET  /v1/accounts/{id}/audit                yes   403     yes     403         403
//	POST /v1/accounts/{id}/holds                yes   yes     403     403         403
//	POST /v1/generations                        yes   yes     403     403         403
//	POST /v1/generations/{id}/complete          yes   yes     403     403         403
//	POST /v1/generations/{id}/fail              yes   yes     yes     403         403
//	POST /v1/generations/{id}/refund            yes   yes     yes     403         403
//	GET  /v1/generations/{id}                   yes   yes     yes     own only    its own only
//	POST /v1/holds/{id}/capture                 yes   yes     403     403         403
//	POST /v1/holds/{id}/release                 yes   yes     yes     403         403
//	GET  /v1/holds/{id}                         yes   yes     yes     own only    its own only
//	GET  /v1/reports/liability                  yes   403     yes     403         403
//	GET  /v1/reports/consumption                yes   403     yes     403         403
//	GET  /v1/catalog/impact                     yes   403     yes     403         403
//	GET  /v1/audit                              yes   403     403     403         403
//	GET  /v1/events                             yes   yes     403     403         403
//	POST /v1/webhooks, GET /v1/webhooks         yes   403     403     403         403
//	GET|DELETE /v1/webhooks/{id}                yes   403     403     403         403
//	GET  /v1/webhooks/{id}/deliveries           yes   403     403     403         403
//	POST /v1/webhooks/{id}/deliveries/{d}/retry yes   403     403     403         403
//	GET  /v1/accounts/{id}/deliveries           yes   403     403     403         403
//	PUT  /v1/accounts/{id}/alerts               yes   403     403     403         403
//	PUT|DELETE /v1/accounts/{id}/auto-topup     yes   403     403     403         403
//	GET  /v1/accounts/{id}/topups               yes   yes     yes     own only    own team
//	GET  /v1/topups/{id}                        yes   yes     yes     own only    own team
//	POST /v1/topups/{id}/confirm, …/cancel      yes   yes     403     403         403
//
// No key or a bad one is 401 unauthorized (with WWW-Authenticate: Bearer);
// a valid key out of its scope is 403 forbidden. Accounts, plans,
// subscriptions, team members, grant expiries, alerts and auto top-up are
// admin-only because they create money or decide who may spend it, and
// webhooks because they send every account's events away; a service (the
// studio's backend) prices, holds, charges and refunds, reads the change
// feed, and confirms or cancels the top-ups auto top-up asks for. Support
// (a person at the help desk) reads every account, its generations and its
// audit trail, and puts right what went wrong: a promo or adjustment grant,
// a debit, a void, a refund, a hold released (a generation's by failing
// it); finance's reports and a catalog's price impact are admin's and
// support's. An account key reading another account, or another account's
// generation, hold or subscription, gets exactly the 404 of one that does
// not exist: a key never learns whether someone else's account exists. A
// member key gets the same 404 for another member's generation or hold.
const authDoc = "**Auth.** Prices are public. Every ledger route needs `Authorization: Bearer KEY`: the admin key, a service key, a support key, or a read-only account key. Scopes are not nested: each operation lists the scopes it accepts in `x-tally-scopes`. Admin keys may do everything. Service keys price, hold, charge and refund for any account and read any account. Support keys read any account (with its generations and audit trail), list accounts, and correct them — grant promo or adjustment credits (other sources are 403 `support_source`), take credits back (`POST /v1/accounts/{id}/debits`), void grants, refund generations, release holds and fail generations — each with a `reason` (422 `reason_required` without one) that goes to the audit log; they also read the liability and consumption reports and a catalog's price impact. Account keys read their own account, entries, usage, subscriptions, generations and holds. A member key (an account key of a team, for one of its members) reads its team's balance and subscriptions, and of the rest only what is the member's own: its open holds, its row of the members, its entries (with the pool's), its usage, its generations and holds. Only admin keys create accounts, put accounts on plans, move grant expiries, start, cancel or change subscriptions, set or remove team members, set alerts and auto top-up, manage webhooks and read the whole audit log. Service keys also read the change feed (`GET /v1/events`) and confirm or cancel top-ups; account keys also read their own top-ups. No key or a bad key is 401 `unauthorized`; a key out of its scope is 403 `forbidden`; another account's data is 404, like data that does not exist."

// bearerScheme names the security scheme in the OpenAPI document.
const bearerScheme = "bearer"

var (
	requireBearer  = []map[string][]string{{bearerScheme: {}}}
	optionalBearer = []map[string][]string{{}, {bearerScheme: {}}}
)

// access is who may call a route: the set of key scopes it accepts, each
// named (the table above). The empty set is a public route.
type access uint8

const (
	allowAdmin   access = 1 << iota // admin keys: the TALLY_ADMIN_KEY and stored ones
	allowService                    // the studio's backend
	allowSupport                    // the support desk: a reason with every write
	allowAccount                    // account keys (member keys too), each for its own account: the handler checks which
	// keyOptional marks a public route that needs a key only when the
	// request names an account (a quote asking what it can afford): its
	// handler authenticates the key then, and any scope may ask.
	keyOptional
)

// public is a route that needs no key.
const public access = 0

const accessKey = "tally.access" // huma.Operation.Metadata key

// scopeBits maps each key scope to its bit of access, in the order the
// OpenAPI document lists them.
var scopeBits = []struct {
	scope credit.Scope
	bit   access
}{
	{credit.ScopeAdmin, allowAdmin},
	{credit.ScopeService, allowService},
	{credit.ScopeSupport, allowSupport},
	{credit.ScopeAccount, allowAccount},
}

// allows reports whether a key of scope s may call a route of access a.
func (a access) allows(s credit.Scope) bool {
	for _, b := range scopeBits {
		if b.scope == s {
			return a&b.bit != 0
		}
	}
	return false
}

// scopes lists the key scopes a route accepts, for the OpenAPI document.
func (a access) scopes() []string {
	var out []string
	for _, b := range scopeBits {
		if a&b.bit != 0 {
			out = append(out, string(b.scope))
		}
	}
	return out
}

// keyed reports whether every request of the route authenticates a key
// before its handler runs.
func (a access) keyed() bool { return a != public && a&keyOptional == 0 }

// secure marks op as accepting the callers of a, in its metadata (read by
// the middleware) and in the OpenAPI document.
func secure(op huma.Operation, a access) huma.Operation {
	if op.Metadata == nil {
		op.Metadata = map[string]any{}
	}
	op.Metadata[accessKey] = a
	if !a.keyed() {
		return op
	}
	op.Security = requireBearer
	if op.Extensions == nil {
		op.Extensions = map[string]any{}
	}
	op.Extensions["x-tally-scopes"] = a.scopes()
	op.Errors = append(op.Errors, http.StatusUnauthorized, http.StatusForbidden)
	return op
}

// caller is who sent a request: the key's id (the scope of its idempotency
// keys), its scope, for an account key the account it may read, and for a
// member key the team member whose own data it may read of that account.
type caller struct {
	ID      string
	Scope   credit.Scope
	Account string
	Member  string
}

// adminCaller is the admin key from the environment.
var adminCaller = caller{ID: "admin", Scope: credit.ScopeAdmin}

// canRead reports whether c may read the account's data.
func (c *caller) canRead(account string) bool {
	return c.Scope != credit.ScopeAccount || c.Account == account
}

// canReadOf reports whether c may read a thing of account that is member's
// ("" for none): a member key reads only its own member's.
func (c *caller) canReadOf(account, member string) bool {
	return c.canRead(account) && (c.Member == "" || c.Member == member)
}

// request is what the middleware learned about a request, for the handlers.
type request struct {
	method, path  string
	authorization string
	caller        *caller // nil until authenticated
}

type requestKey struct{}

func requestOf(ctx context.Context) *request {
	r, _ := ctx.Value(requestKey{}).(*request)
	if r == nil {
		r = &request{}
	}
	return r
}

// authenticate is the huma middleware that enforces the table above: it
// refuses a request without a valid key (401) or out of the key's scope (403)
// before its body is read. Ownership (an account key reading its own account
// only) depends on what the request names, so the handlers check it.
func (s *Server) authenticate(ctx huma.Context, next func(huma.Context)) {
	a, _ := ctx.Operation().Metadata[accessKey].(access)
	now := time.Now()
	byIP := func() bool { // charges the client's address; false once it wrote a 429
		if ok, wait := s.ipLimits.allow(clientIP(ctx.RemoteAddr()), now); !ok {
			s.writeError(ctx, tooMany(wait))
			return false
		}
		return true
	}
	if a == public {
		if byIP() {
			next(ctx)
		}
		return
	}
	req := &request{method: ctx.Method(), path: ctx.URL().Path, authorization: ctx.Header("Authorization")}
	if !a.keyed() {
		// A quote may name an account, and then its handler authenticates
		// the key; the address pays for it here.
		if byIP() {
			next(huma.WithValue(ctx, requestKey{}, req))
		}
		return
	}
	c, err := s.callerOf(ctx.Context(), req)
	if err != nil {
		// A refused key is charged to the address: that bounds guessing.
		if byIP() {
			s.writeError(ctx, err)
		}
		return
	}
	if ok, wait := s.keyLimits.allow(c.ID, now); !ok {
		s.writeError(ctx, tooMany(wait))
		return
	}
	if err := permit(c, a); err != nil {
		s.writeError(ctx, err)
		return
	}
	// The ledger records the key id in the audit log of admin actions.
	ctx = huma.WithContext(ctx, credit.WithActor(ctx.Context(), c.ID))
	next(huma.WithValue(ctx, requestKey{}, req))
}

// callerOf authenticates req's bearer token (once) and returns its caller.
// The error is a 401 problem, or the store's error.
func (s *Server) callerOf(ctx context.Context, req *request) (c *caller, err error) {
	if req.caller != nil {
		return req.caller, nil
	}
	defer func() {
		if c != nil {
			setKey(ctx, c.ID) // for the access log
		}
	}()
	scheme, token, _ := strings.Cut(strings.TrimSpace(req.authorization), " ")
	token = strings.TrimSpace(token)
	switch {
	case req.authorization == "":
		return nil, unauthorized("this route needs an API key: send Authorization: Bearer KEY", false)
	case !strings.EqualFold(scheme, "Bearer") || token == "":
		return nil, unauthorized("send the API key as Authorization: Bearer KEY", true)
	case credit.MatchSecret(token, s.adminKey):
		c := adminCaller
		req.caller = &c
		return req.caller, nil
	case s.ledger == nil || !wellFormedToken(token):
		return nil, unauthorized("the API key is not valid", true)
	}
	k, err := s.ledger.Authenticate(ctx, token)
	if credit.ErrorCode(err) == credit.Unauthorized {
		return nil, unauthorized("the API key is not valid", true)
	} else if err != nil {
		return nil, err
	}
	req.caller = &caller{ID: k.ID, Scope: k.Scope, Account: k.Account, Member: k.Member}
	return req.caller, nil
}

// maxToken bounds a bearer token (a stored key's is 64 characters).
const maxToken = 512

// wellFormedToken reports whether token could be a stored key's: up to
// maxToken visible ASCII characters. Anything else is refused as an invalid
// key before the store sees it, so that bytes a store cannot hold (NUL,
// invalid UTF-8) answer 401 on every store instead of failing inside one.
func wellFormedToken(token string) bool {
	if len(token) > maxToken {
		return false
	}
	for i := 0; i < len(token); i++ {
		if token[i] < '!' || token[i] > '~' {
			return false
		}
	}
	return true
}

// permit refuses a caller out of scope for a route.
func permit(c *caller, a access) error {
	if a.allows(c.Scope) {
		return nil
	}
	return newProblem(http.StatusForbidden, "forbidden", "this API key ("+string(c.Scope)+" scope) may not do this; it needs "+needed(a), nil)
}

// needed names the keys a route accepts: "an admin or support key".
func needed(a access) string {
	names := a.scopes()
	if len(names) == 0 {
		return "no key"
	}
	article := "a"
	if strings.ContainsRune("aeiou", rune(names[0][0])) {
		article = "an"
	}
	list := names[0]
	if n := len(names); n > 1 {
		list = strings.Join(names[:n-1], ", ") + " or " + names[n-1]
	}
	return article + " " + list + " key"
}

// unauthorized is the 401 problem. invalid says a token was sent but refused
// (RFC 6750's invalid_token).
func unauthorized(detail string, invalid bool) *authProblem {
	challenge := `Bearer realm="tally"`
	if invalid {
		challenge += `, error="invalid_token"`
	}
	return &authProblem{Problem: newProblem(http.StatusUnauthorized, "unauthorized", detail, nil), challenge: challenge}
}

// authProblem is a 401 problem with its WWW-Authenticate challenge (RFC 9110
// §11.6.1 requires one on every 401).
type authProblem struct {
	*Problem
	challenge string
}

// GetHeaders returns the challenge (huma.HeadersError).
func (p *authProblem) GetHeaders() http.Header {
	return http.Header{"Www-Authenticate": {p.challenge}}
}

// Unwrap lets ProblemFor find the problem.
func (p *authProblem) Unwrap() error { return p.Problem }

// writeError writes err as a problem from a middleware, with the headers
// its kind needs (a 401's challenge, a 429's Retry-After).
func (s *Server) writeError(ctx huma.Context, err error) {
	if ap, ok := err.(*authProblem); ok {
		ctx.SetHeader("WWW-Authenticate", ap.challenge)
	}
	if rp, ok := err.(*rateProblem); ok {
		ctx.SetHeader("Retry-After", rp.retryAfter)
	}
	p := ProblemFor(err, s.log)
	_ = huma.WriteErr(s.api, ctx, p.Status, p.Detail, p)
}

// readable lets a request read account's data (what, id: the thing it
// named), or refuses it with the canonical 404 for that thing when an
// account key asks for another account's: the answer a missing one gets.
func (s *Server) readable(ctx context.Context, what, id, account string) error {
	_, err := s.reader(ctx, what, id, account)
	return err
}

// reader is readable that also returns the caller, for the answers a
// member key narrows to its own member's.
func (s *Server) reader(ctx context.Context, what, id, account string) (*caller, error) {
	c, err := s.callerOf(ctx, requestOf(ctx))
	if err != nil {
		return nil, err
	}
	if !c.canRead(account) {
		return nil, missing(what, id)
	}
	return c, nil
}

// readableOf is readable for a thing of one team member's (member "" for
// none): a generation or a hold. A member key asking for another member's
// gets the 404 of a missing one too.
func (s *Server) readableOf(ctx context.Context, what, id, account, member string) error {
	c, err := s.callerOf(ctx, requestOf(ctx))
	if err != nil {
		return err
	}
	if !c.canReadOf(account, member) {
		return missing(what, id)
	}
	return nil
}

// canAfford checks that a quote may ask about account: the server has a
// ledger, the request's key may read the account, and it is an account id
// (a body id outside the alphabet is refused as such, before the store).
func (s *Server) canAfford(ctx context.Context, account string) error {
	if s.ledger == nil {
		return credit.Errorf(credit.Invalid, "no_ledger", "this server only prices: it has no accounts to check affordability against")
	}
	if err := s.readable(ctx, "account", account, account); err != nil {
		return err
	}
	return credit.CheckAccountID(account)
}
