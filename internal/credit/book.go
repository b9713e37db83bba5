package credit

import (
	"cmp"
	"slices"
	"time"
)

// Book is one account's State while the writes of a batch are decided on it:
// the ledger's operations read and change it in memory, each write in turn
// against what the previous one left, and Change diffs it against what was
// loaded. Nothing in it talks to a store, so the balance check (reserve) is
// the check of a value loaded under the account's lock, which the store holds
// until the Change commits: one atomic step, never check-then-act.
//
// A write that fails is undone (rollback to its checkpoint), so that each
// write of a batch succeeds or fails alone.
type Book struct {
	id     string
	loaded *State // as loaded, for Change
	cur    *State // as the writes so far left it
	// cat holds the plans the writes apply (nil: none, a plain ledger).
	cat *Catalog
	// notice is how long before a grant's expiry grant.expiring tells.
	notice time.Duration
	// limitMember is the member whose limit refused the write being
	// decided ("" if none): a refusal that is news (see Book.refused).
	limitMember string
	// voided are the grants the write being decided voided (VoidGrant):
	// news tells grant.voided of them, not grant.expired; left is what
	// each grant that expired or was voided in it had left then.
	voided []string
	left   map[string]Credits

	// now is when the batch runs (the day of the liability rollup's
	// moves between expiry buckets).
	now time.Time

	// Appended by the writes, in order; cut back by a rollback.
	entries []Entry
	idem    []IdempotencyRecord
	audit   []AuditEntry
	events  []Event
	// consumed is what each charge and refund adds to the consumption
	// rollup, by the grant that paid (see Book.consume).
	consumed []ConsumptionRow
}

// NewBook returns a book on the state a store loaded for account.
func NewBook(account string, s *State) *Book {
	b := &Book{id: account, cur: s.Clone()}
	sortGrants(b.cur.Grants)
	b.loaded = b.cur.Clone()
	return b
}

// checkpoint is where a rollback returns the book to.
type checkpoint struct {
	state                                    *State
	entries, idem, audited, events, consumed int
}

func (b *Book) checkpoint() checkpoint {
	return checkpoint{b.cur.Clone(), len(b.entries), len(b.idem), len(b.audit), len(b.events), len(b.consumed)}
}

func (b *Book) rollback(c checkpoint) {
	b.cur = c.state
	b.entries, b.idem, b.audit, b.events = b.entries[:c.entries], b.idem[:c.idem], b.audit[:c.audited], b.events[:c.events]
	b.consumed = b.consumed[:c.consumed]
}

// sortGrants puts grants in consumption order: priority, then expiry
// (never-expiring last), then creation, then id.
func sortGrants(gs []Grant) {
	slices.SortStableFunc(gs, func(a, b Grant) int {
		if c := cmp.Compare(a.Priority, b.Priority); c != 0 {
			return c
		}
		if a.ExpiresAt.IsZero() != b.ExpiresAt.IsZero() {
			if a.ExpiresAt.IsZero() {
				return 1
			}
			return -1
		}
		return cmp.Or(a.ExpiresAt.Compare(b.ExpiresAt), a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
}

// Account returns the account. NotFound unknown_account.
func (b *Book) Account() (Account, error) {
	if b.cur.Account == nil {
		return Account{}, unknown("account", b.id)
	}
	return *b.cur.Account, nil
}

func unknown(noun, id string) *Error {
	return Errorf(NotFound, "unknown_"+noun, "unknown %s %q", noun, id)
}

// insertAccount creates the account. Conflict account_exists if it exists.
func (b *Book) insertAccount(a Account, overdraft Grant) error {
	if b.cur.Account != nil {
		return Errorf(Conflict, "account_exists", "account %q already exists", a.ID)
	}
	b.cur.Account = &a
	b.cur.Grants = append(b.cur.Grants, overdraft)
	return nil
}

// reserve moves amount from Available to Held, only if what the account
// can spend at now on this hold (the grants pays accepts), less amount,
// stays ≥ −Overdraft; otherwise InsufficientCredits (with the spendable
// balance and its part that may pay) and nothing changes. It is tally's one
// balance check. What it can spend is Available less the remainder of
// grants past their expiry but not yet marked expired (every write settles
// first, so there are none, but the check must not depend on it) and less
// the remainder of grants that may not pay for the hold's model (a grant's
// applies_to): the allocation skips such grants, and the overdraft grant
// would take their share beyond the limit.
func (b *Book) reserve(amount Credits, now time.Time, pays func(*Grant) bool) (Account, error) {
	a, err := b.Account()
	if err != nil {
		return Account{}, err
	}
	spendable, eligible := a.Available, a.Available
	for i := range b.cur.Grants {
		g := &b.cur.Grants[i]
		switch {
		case g.Source == SourceOverdraft:
		case !g.Live(now):
			spendable -= g.Remaining
			eligible -= g.Remaining
		case !pays(g):
			eligible -= g.Remaining
		}
	}
	if eligible-amount < -a.Overdraft {
		msg := "account " + a.ID + " has " + spendable.String() + " credits available; " + amount.String() + " are needed"
		if eligible != spendable {
			msg = "account " + a.ID + " has " + spendable.String() + " credits available, of which " + eligible.String() +
				" may pay for this; " + amount.String() + " are needed"
		}
		return a, &Error{Code: InsufficientCredits, Reason: "insufficient_credits", Message: msg,
			Available: spendable, Eligible: eligible, Required: amount}
	}
	b.cur.Account.Available -= amount
	b.cur.Account.Held += amount
	return *b.cur.Account, nil
}

// addBalances adds to the account's balances without a check.
func (b *Book) addBalances(dAvailable, dHeld Credits) (Account, error) {
	if _, err := b.Account(); err != nil {
		return Account{}, err
	}
	b.cur.Account.Available += dAvailable
	b.cur.Account.Held += dHeld
	return *b.cur.Account, nil
}

func (b *Book) grantAt(id string) *Grant {
	for i := range b.cur.Grants {
		if b.cur.Grants[i].ID == id {
			return &b.cur.Grants[i]
		}
	}
	return nil
}

// Grant returns a grant of the working set. NotFound unknown_grant.
func (b *Book) Grant(id string) (Grant, error) {
	if g := b.grantAt(id); g != nil {
		return *g, nil
	}
	return Grant{}, unknown("grant", id)
}

// Grants returns the working set of grants in consumption order.
func (b *Book) Grants() []Grant { return slices.Clone(b.cur.Grants) }

func (b *Book) insertGrant(g Grant) {
	b.cur.Grants = append(b.cur.Grants, g)
	sortGrants(b.cur.Grants)
}

func (b *Book) updateGrant(id string, dRemaining, dHeld Credits) error {
	g := b.grantAt(id)
	if g == nil {
		return unknown("grant", id)
	}
	g.Remaining += dRemaining
	g.Held += dHeld
	return nil
}

func (b *Book) addPaidBack(id string, d Credits) error {
	g := b.grantAt(id)
	if g == nil {
		return unknown("grant", id)
	}
	g.PaidBack += d
	return nil
}

func (b *Book) expireGrant(id string, at time.Time) error {
	g := b.grantAt(id)
	if g == nil {
		return unknown("grant", id)
	}
	g.ExpiredAt, g.Remaining = at, 0
	return nil
}

// dueGrants returns the grants not yet marked expired whose expiry is ≤ now.
func (b *Book) dueGrants(now time.Time) []Grant {
	var out []Grant
	for _, g := range b.cur.Grants {
		if g.ExpiredAt.IsZero() && !g.ExpiresAt.IsZero() && !g.ExpiresAt.After(now) {
			out = append(out, g)
		}
	}
	return out
}

func (b *Book) holdAt(id string) *Hold {
	for i := range b.cur.Holds {
		if b.cur.Holds[i].ID == id {
			return &b.cur.Holds[i]
		}
	}
	return nil
}

// Hold returns a loaded hold with its allocations. NotFound unknown_hold.
func (b *Book) Hold(id string) (Hold, error) {
	if h := b.holdAt(id); h != nil {
		c := *h
		c.Allocations = slices.Clone(h.Allocations)
		return c, nil
	}
	return Hold{}, unknown("hold", id)
}

func (b *Book) insertHold(h Hold) {
	h.Allocations = slices.Clone(h.Allocations)
	b.cur.Holds = append(b.cur.Holds, h)
}

func (b *Book) updateHold(h Hold) error {
	p := b.holdAt(h.ID)
	if p == nil {
		return unknown("hold", h.ID)
	}
	*p = h
	p.Allocations = slices.Clone(h.Allocations)
	return nil
}

// overdraftHolds returns the open holds with an allocation on the overdraft
// grant, oldest first.
func (b *Book) overdraftHolds() []Hold {
	ovd := overdraftGrantID(b.id)
	var out []Hold
	for _, h := range b.cur.Holds {
		if h.Status != HoldOpen {
			continue
		}
		for _, a := range h.Allocations {
			if a.Grant == ovd && a.Amount > 0 {
				c := h
				c.Allocations = slices.Clone(h.Allocations)
				out = append(out, c)
				break
			}
		}
	}
	sortHolds(out)
	return out
}

// dueHolds returns the open holds whose TTL is ≤ now, oldest first.
func (b *Book) dueHolds(now time.Time) []Hold {
	var out []Hold
	for _, h := range b.cur.Holds {
		if h.Status == HoldOpen && !h.ExpiresAt.After(now) {
			out = append(out, h)
		}
	}
	sortHolds(out)
	return out
}

func sortHolds(hs []Hold) {
	slices.SortStableFunc(hs, func(a, b Hold) int { return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID)) })
}

func (b *Book) genAt(id string) *Generation {
	for i := range b.cur.Generations {
		if b.cur.Generations[i].ID == id {
			return &b.cur.Generations[i]
		}
	}
	return nil
}

// Generation returns a loaded generation. NotFound unknown_generation.
func (b *Book) Generation(id string) (Generation, error) {
	if g := b.genAt(id); g != nil {
		return *g, nil
	}
	return Generation{}, unknown("generation", id)
}

func (b *Book) insertGeneration(g Generation) { b.cur.Generations = append(b.cur.Generations, g) }

func (b *Book) updateGeneration(g Generation) error {
	p := b.genAt(g.ID)
	if p == nil {
		return unknown("generation", g.ID)
	}
	*p = g
	return nil
}

// appendEntry appends an entry to the journal of the batch.
func (b *Book) appendEntry(e Entry) { b.entries = append(b.entries, e) }

// idempotency returns the record of (scope, key), nil if there is none.
func (b *Book) idempotency(scope, key string) *IdempotencyRecord {
	for i := range b.cur.Idempotency {
		if r := &b.cur.Idempotency[i]; r.Scope == scope && r.Key == key {
			return r
		}
	}
	return nil
}

func (b *Book) putIdempotency(r IdempotencyRecord) {
	b.cur.Idempotency = append(b.cur.Idempotency, r)
	b.idem = append(b.idem, r)
}

func (b *Book) appendAudit(e AuditEntry) { b.audit = append(b.audit, e) }

// Change returns what the writes decided, against what was loaded.
func (b *Book) Change() *Change {
	c := &Change{Entries: b.entries, Idempotency: b.idem, Audit: b.audit, Events: b.events, Consumption: consumptionRows(b.consumed)}
	switch la, ca := b.loaded.Account, b.cur.Account; {
	case ca == nil:
	case la == nil:
		a := *ca
		c.NewAccount = &a
	case la.Available != ca.Available || la.Held != ca.Held || la.Plan != ca.Plan || la.TimeZone != ca.TimeZone || la.Daily != ca.Daily ||
		la.LowBalance != ca.LowBalance || la.AutoTopup != ca.AutoTopup:
		a := *ca
		c.Account = &a
	}
	for _, g := range b.cur.Grants {
		i := slices.IndexFunc(b.loaded.Grants, func(o Grant) bool { return o.ID == g.ID })
		if i < 0 {
			c.NewGrants = append(c.NewGrants, g)
			continue
		}
		o := b.loaded.Grants[i]
		if o.Remaining != g.Remaining || o.Held != g.Held || o.PaidBack != g.PaidBack || !o.ExpiresAt.Equal(g.ExpiresAt) || !o.ExpiredAt.Equal(g.ExpiredAt) || !o.WarnedAt.Equal(g.WarnedAt) {
			c.Grants = append(c.Grants, g)
		}
	}
	for _, h := range b.cur.Holds {
		i := slices.IndexFunc(b.loaded.Holds, func(o Hold) bool { return o.ID == h.ID })
		if i < 0 {
			c.NewHolds = append(c.NewHolds, h)
			continue
		}
		o := b.loaded.Holds[i]
		if o.Status != h.Status || o.Captured != h.Captured || o.Released != h.Released || !o.ResolvedAt.Equal(h.ResolvedAt) {
			c.Holds = append(c.Holds, h)
		}
		for seq, a := range h.Allocations {
			if seq >= len(o.Allocations) || o.Allocations[seq] != a {
				c.Allocations = append(c.Allocations, AllocationRow{Hold: h.ID, Seq: seq, Allocation: a})
			}
		}
		if len(h.Allocations) < len(o.Allocations) {
			c.TrimAllocations = append(c.TrimAllocations, AllocationRow{Hold: h.ID, Seq: len(h.Allocations)})
		}
	}
	for _, g := range b.cur.Generations {
		i := slices.IndexFunc(b.loaded.Generations, func(o Generation) bool { return o.ID == g.ID })
		if i < 0 {
			c.NewGenerations = append(c.NewGenerations, g)
			continue
		}
		o := b.loaded.Generations[i]
		if o.Status != g.Status || o.ImagesDelivered != g.ImagesDelivered || o.Charged != g.Charged || o.Refunded != g.Refunded || !o.ResolvedAt.Equal(g.ResolvedAt) || o.ListCredits != g.ListCredits {
			c.Generations = append(c.Generations, g)
		}
	}
	for _, m := range b.cur.Members {
		i := slices.IndexFunc(b.loaded.Members, func(o Member) bool { return o.ID == m.ID })
		if i < 0 || !b.loaded.Members[i].equal(&m) {
			m.MonthlyLimit = cloneCredits(m.MonthlyLimit)
			c.Members = append(c.Members, m)
		}
	}
	for _, p := range b.cur.MemberPeriods {
		i := slices.IndexFunc(b.loaded.MemberPeriods, func(o MemberPeriod) bool { return o.Member == p.Member && o.Start.Equal(p.Start) })
		if i < 0 || b.loaded.MemberPeriods[i].Used != p.Used || !equalLimit(b.loaded.MemberPeriods[i].Limit, p.Limit) || !b.loaded.MemberPeriods[i].Reached.Equal(p.Reached) {
			p.Limit = cloneCredits(p.Limit)
			c.MemberPeriods = append(c.MemberPeriods, p)
		}
	}
	for _, t := range b.cur.Topups {
		i := slices.IndexFunc(b.loaded.Topups, func(o Topup) bool { return o.ID == t.ID })
		switch {
		case i < 0:
			c.NewTopups = append(c.NewTopups, t)
		case b.loaded.Topups[i] != t:
			c.Topups = append(c.Topups, t)
		}
	}
	for _, u := range b.cur.Subscriptions {
		i := slices.IndexFunc(b.loaded.Subscriptions, func(o Subscription) bool { return o.ID == u.ID })
		switch {
		case i < 0:
			c.NewSubscriptions = append(c.NewSubscriptions, u)
		case !b.loaded.Subscriptions[i].equal(&u):
			c.Subscriptions = append(c.Subscriptions, u)
		}
	}
	c.addLiability(b.loaded, b.now)
	return c
}

func (m *Member) equal(o *Member) bool {
	return equalLimit(m.MonthlyLimit, o.MonthlyLimit) && m.CreatedAt.Equal(o.CreatedAt) && m.UpdatedAt.Equal(o.UpdatedAt) && m.RemovedAt.Equal(o.RemovedAt)
}

func (s *Subscription) equal(o *Subscription) bool {
	return s.Plan == o.Plan && s.Billing == o.Billing && s.TimeZone == o.TimeZone && s.StartsAt.Equal(o.StartsAt) &&
		s.EndsAt.Equal(o.EndsAt) && s.NextPlan == o.NextPlan && s.NextAt.Equal(o.NextAt) && s.Period == o.Period &&
		s.RenewsAt.Equal(o.RenewsAt) && slices.Equal(s.Usage, o.Usage) && s.CanceledAt.Equal(o.CanceledAt)
}

func (b *Book) subscriptionAt(id string) *Subscription {
	for i := range b.cur.Subscriptions {
		if b.cur.Subscriptions[i].ID == id {
			return &b.cur.Subscriptions[i]
		}
	}
	return nil
}

// Subscription returns one of the account's subscriptions. NotFound
// unknown_subscription.
func (b *Book) Subscription(id string) (Subscription, error) {
	if s := b.subscriptionAt(id); s != nil {
		c := *s
		c.Usage = slices.Clone(s.Usage)
		return c, nil
	}
	return Subscription{}, unknown("subscription", id)
}

// Subscriptions returns the account's subscriptions, oldest first.
func (b *Book) Subscriptions() []Subscription {
	out := make([]Subscription, len(b.cur.Subscriptions))
	for i, s := range b.cur.Subscriptions {
		s.Usage = slices.Clone(s.Usage)
		out[i] = s
	}
	slices.SortStableFunc(out, func(a, b Subscription) int { return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID)) })
	return out
}

// putSubscription inserts s or replaces the one with its ID.
func (b *Book) putSubscription(s Subscription) {
	s.Usage = slices.Clone(s.Usage)
	if p := b.subscriptionAt(s.ID); p != nil {
		*p = s
		return
	}
	b.cur.Subscriptions = append(b.cur.Subscriptions, s)
}

// setAccount replaces the account's plan and time zone.
func (b *Book) setAccountPlan(plan, tz string) error {
	if _, err := b.Account(); err != nil {
		return err
	}
	b.cur.Account.Plan, b.cur.Account.TimeZone = plan, tz
	return nil
}
