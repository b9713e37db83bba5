package credit

import "time"

// Source says where a grant's credits came from.
type Source string

// The sources of grants. SourceOverdraft is internal: every account has one
// overdraft grant, which may go below zero down to the account's overdraft
// limit and is used after every real grant.
const (
	SourceSubscription Source = "subscription"
	SourceTopup        Source = "topup"
	SourcePromo        Source = "promo"
	SourceRefund       Source = "refund"
	SourceAdjustment   Source = "adjustment"
	SourceFree         Source = "free"     // a plan's daily free credits
	SourceRollover     Source = "rollover" // the unspent part of a period's allowance, carried over
	SourceOverdraft    Source = "overdraft"
)

// Sources lists the sources a caller may grant from.
var Sources = []Source{SourceSubscription, SourceTopup, SourcePromo, SourceRefund, SourceAdjustment, SourceFree, SourceRollover}

// Account is a wallet: the studio's user or team. Available and Held are kept as
// columns for speed; they always equal the fold of the account's journal.
type Account struct {
	ID        string
	Overdraft Credits // how far below zero Available may go (0: not at all)
	Available Credits // spendable now: the sum of the grants' Remaining
	Held      Credits // reserved by open holds: the sum of the grants' Held
	CreatedAt time.Time
	// Plan is the program the account is on ("free"), "" for a plain
	// wallet. An active subscription takes over from it while it lasts.
	Plan string
	// TimeZone is the IANA zone of the account's days ("" is UTC): its
	// free credits reset at its local midnight.
	TimeZone string
	// Daily is the last local day whose daily allowances the account was
	// given, with their scope ("free/2026-12-05"): a day's grant expires
	// and leaves the state a write loads, and this is what still says it
	// was given (after a move to a zone where that day is not over).
	Daily string
	// Kind is a user's wallet or a team's pool (see Member). It is set
	// when the account is opened and never changes.
	Kind AccountKind
	// LowBalance is the threshold of the balance.low alert: a write that
	// takes Available from at or above it to below it tells so, once per
	// crossing (0: no alert). See Book.news.
	LowBalance Credits
	// AutoTopup asks the studio for credits when Available runs low.
	AutoTopup AutoTopup
}

// Grant is one lot of credits put into an account. Remaining is its spendable
// part, Held the part reserved by open holds.
type Grant struct {
	ID        string
	Account   string
	Source    Source
	Granted   Credits
	Remaining Credits
	Held      Credits
	Priority  int       // lower is used first
	ExpiresAt time.Time // zero: never expires
	ExpiredAt time.Time // when its remainder left the balance; zero while live
	CreatedAt time.Time
	Memo      string
	// PaidBack is the part of Granted that paid back the account's overdraft
	// when it arrived. If credits later return to the overdraft (a hold on it
	// released, a charge refunded), that debt was never owed: they go back to
	// the grants that paid it, newest first, or to the expired book if such a
	// grant has expired.
	PaidBack Credits
	// AppliesTo limits the models the grant pays for (zero: any).
	AppliesTo Eligibility
	// Subscription is the subscription whose allowance (or rollover) this
	// is, "" for others.
	Subscription string
	// WarnedAt is when grant.expiring was told of it (zero: not yet).
	WarnedAt time.Time
	// Period names the allowance period the grant was given for
	// ("free/2026-12-05", "sub_…/0/3"), "" for others. A plan's grant has
	// the ID PeriodGrantID gives, so that a period is granted at most once
	// per account: a second insert collides on the primary key.
	Period string
}

// Live reports whether g can still be spent at now.
func (g *Grant) Live(now time.Time) bool {
	return g.ExpiredAt.IsZero() && (g.ExpiresAt.IsZero() || now.Before(g.ExpiresAt))
}

// HoldStatus is where a hold is in its life.
type HoldStatus string

// The hold statuses. Every hold starts open and resolves exactly once.
const (
	HoldOpen     HoldStatus = "open"
	HoldCaptured HoldStatus = "captured" // all or part charged, the rest returned
	HoldReleased HoldStatus = "released" // nothing charged, all returned
	HoldExpired  HoldStatus = "expired"  // its TTL passed: released by the service
)

// Hold is credits reserved before work starts (the Create button), captured
// when the work is delivered or released when it fails.
type Hold struct {
	ID         string
	Account    string
	Generation string // "" for a generic hold
	Amount     Credits
	Captured   Credits
	Released   Credits
	Status     HoldStatus
	ExpiresAt  time.Time
	CreatedAt  time.Time
	ResolvedAt time.Time
	// Member is the team member the hold is for ("" on a user's account),
	// and MemberPeriod the start of the member's period it counts in (see
	// MemberPeriod).
	Member       string
	MemberPeriod time.Time
	// Allocations say which grants the hold reserved from, in consumption order.
	Allocations []Allocation
}

// Open returns the part of the hold still reserved.
func (h *Hold) Open() Credits { return h.Amount - h.Captured - h.Released }

// Allocation is the part of a hold reserved from one grant, and what became of it.
type Allocation struct {
	Grant    string
	Amount   Credits
	Captured Credits
	Refunded Credits // of Captured, later refunded
}

// GenerationStatus is where a generation is in its life.
type GenerationStatus string

// The generation statuses.
const (
	GenerationHeld      GenerationStatus = "held"
	GenerationCompleted GenerationStatus = "completed"
	GenerationFailed    GenerationStatus = "failed"
	GenerationExpired   GenerationStatus = "expired"
)

// Generation is one press of Create: a quote and a hold for its total.
type Generation struct {
	ID              string
	Account         string
	Status          GenerationStatus
	Hold            string
	Model           string
	Kind            Kind
	CatalogVersion  string
	Images          int
	ImagesDelivered int
	HoldCredits     Credits
	UnitCredits     Credits
	Surcharge       Credits // per-generation surcharges (prompt enhancer)
	Charged         Credits
	Refunded        Credits
	Quote           []byte // the quote as priced, JSON, kept for audit
	// Window is the unlimited window the generation ran in ("sub_…/0": the
	// subscription and the window's index in its plan), "" when it was
	// charged. Such a generation holds and charges 0; ListCredits is its
	// list price, so usage reports stay true.
	Window      string
	Lane        Lane
	ListCredits Credits
	// Member is the team member who made it ("" on a user's account).
	Member     string
	ExpiresAt  time.Time
	CreatedAt  time.Time
	ResolvedAt time.Time
}

// EntryKind names what a journal entry did.
type EntryKind string

// The kinds of journal entry.
const (
	EntryGrant   EntryKind = "grant"
	EntryHold    EntryKind = "hold"
	EntryCapture EntryKind = "capture" // a charge, and the return of the uncharged rest
	EntryRelease EntryKind = "release" // a hold returned whole (failure, release or expiry)
	EntryExpire  EntryKind = "expire"  // a grant's remainder left at its expiry
	EntryRefund  EntryKind = "refund"
	EntryVoid    EntryKind = "void" // a grant's remainder taken back before its expiry
	// EntryDebit is credits taken back from an account's grants by a
	// negative adjustment (Ledger.Debit).
	EntryDebit EntryKind = "debit"
)

// Books: the balances postings move credits between. A user's wallet has two,
// per grant; the platform has three.
const (
	BookAvailable = "available"
	BookHeld      = "held"
	BookIssued    = "issued"  // platform: where granted credits come from
	BookRevenue   = "revenue" // platform: where charges go
	BookExpired   = "expired" // platform: where expired remainders go
)

// PlatformAccount is the account of the platform's books.
const PlatformAccount = "platform"

// Posting is one line of a transaction: an amount into (positive) or out of
// (negative) one book. The postings of a transaction sum to zero.
type Posting struct {
	Account string
	Book    string
	Grant   string // for wallet books; "" on platform books
	Amount  Credits
}

// Entry is one record of the journal: every change to any balance is one
// entry, appended, never changed. Each touches exactly one user account;
// the deltas and balances after are kept with it so history needs no folding.
type Entry struct {
	ID             int64 // assigned by the store, increasing
	Kind           EntryKind
	Account        string
	Time           time.Time
	Ref            string // the grant, hold or generation it concerns
	Generation     string
	Model          string // for charges and refunds of generations
	ModelKind      Kind
	CatalogVersion string
	AvailableDelta Credits
	HeldDelta      Credits
	AvailableAfter Credits
	HeldAfter      Credits
	ChargedDelta   Credits // + for a capture's charge, − for a refund
	// ListCredits is the list price of what a capture delivered (− for a
	// refund): ChargedDelta for a charged generation, the price it would
	// have had for one in an unlimited window, which charges 0.
	ListCredits Credits
	// Member is the team member whose generation or hold the entry
	// concerns ("" for the pool's own: grants, expiries, voids).
	Member   string
	Memo     string
	Postings []Posting
}

// Idempotency is a request's key and fingerprint. A mutating call that carries
// one is done at most once: the record of the answer is written in the same
// store transaction as the effect.
type Idempotency struct {
	Scope string // who sent it (the API key id): keys never collide across clients
	Key   string
	Hash  string // fingerprint of the request (method, path, body)
}

// IdempotencyRecord is a stored answer.
type IdempotencyRecord struct {
	Idempotency
	Response  []byte
	CreatedAt time.Time
}

// UsageRow is net credits charged in one group (a model, a kind, a day, a
// team member).
type UsageRow struct {
	Day     string // YYYY-MM-DD (UTC)
	Model   string
	Kind    string
	Member  string  // "" outside teams
	Charged Credits // captures minus refunds
	List    Credits // list credits of the same (see Entry.ListCredits)
	Count   int     // charges
}

// DailyUsage is one row of a store's usage rollup: what one account was
// charged on one UTC day for one model, kind and member. Stores keep the rollup in
// the transaction that appends each charge or refund, so that a usage query
// reads a row per day instead of every entry of its window; Verify checks it
// against the journal.
type DailyUsage struct {
	Account string
	UsageRow
}

// WholeDays splits a usage window [from, to) at UTC midnights: [dayFrom,
// dayTo) is the whole days inside it, which a store answers from its daily
// rollup, and [from, dayFrom) and [dayTo, to) are the partial days at its
// ends, which it answers from the journal. With no whole day inside,
// dayFrom = dayTo = to: the journal answers all of [from, to).
func WholeDays(from, to time.Time) (dayFrom, dayTo time.Time) {
	const day = 24 * time.Hour
	// Truncate counts from the zero time, a UTC midnight, and Go's days
	// have no leap seconds: these are UTC midnights.
	dayFrom = from.Truncate(day)
	if dayFrom.Before(from) {
		dayFrom = dayFrom.Add(day)
	}
	dayTo = to.Truncate(day)
	if !dayFrom.Before(dayTo) {
		return to, to
	}
	return dayFrom.UTC(), dayTo.UTC()
}

// Scope of an API key.
type Scope string

// The scopes. Admin may do anything; service may price, hold and charge for any
// account; account keys read one account's balance and history.
const (
	ScopeAdmin   Scope = "admin"
	ScopeService Scope = "service"
	ScopeAccount Scope = "account"
	// ScopeSupport is the support desk's: it reads every account, and may
	// grant promo and adjustment credits, take credits back, void grants,
	// refund generations and release holds, each with a reason; nothing
	// else (no keys, catalogs, plans, webhooks).
	ScopeSupport Scope = "support"
)

// Key is an API key as stored: never the secret, only its hash.
type Key struct {
	ID      string
	Hash    []byte // SHA-256 of the secret
	Scope   Scope
	Account string // for ScopeAccount
	// Member, for ScopeAccount on a team, makes it a member's key: it
	// sees the pool's balance and the member's own usage, never another
	// member's.
	Member    string
	Name      string
	CreatedAt time.Time
	ExpiresAt time.Time // zero: never
	RevokedAt time.Time // zero: valid
}
