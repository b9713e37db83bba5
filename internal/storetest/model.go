package storetest

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// model is the reference the simulation checks the store against: the ledger
// of SPEC §3, §7 and §8 and doc.go written as plainly as possible, in memory,
// with no journal — just what each account, grant, hold, generation,
// subscription, team member and member period holds. Ids come from the
// store (they are random), but for a plan's grants, whose ids
// credit.PeriodGrantID makes from their period; everything else the model
// works out itself (plans: modelplans.go; teams: modelteams.go; the
// reports and debits: modelreports.go).
//
// Where the ledger documents a policy, the model follows the document:
//   - consumption order: priority, then expiry (never last), then creation,
//     then id; the overdraft grant after every real grant, taking whatever is
//     left (the limit was checked on the account);
//   - a new grant first pays back what the overdraft grant is below zero, and
//     remembers how much it paid back;
//   - credits coming back to the overdraft grant (a hold on it returned, a
//     charge from it refunded) pay down what it is still below zero; the rest
//     was never owed, so it goes back to the grants that paid it back, newest
//     first, and only what no grant paid back stays on the overdraft grant;
//     the share of a payer that is no longer live is treated as credits
//     coming back to an expired grant, by the rule of what returns them:
//   - a capture is taken from a hold's allocations in order; the rest goes
//     back to each allocation's grant (the overdraft grant as above), or to
//     the expired book if that grant is no longer live;
//   - a refund goes back over the allocations last-first, to live grants and
//     the overdraft grant (as above); what belongs to grants no longer live
//     goes into new never-expiring refund grants, one per applies_to (an
//     overdraft payer's share may pay for anything): a customer never loses
//     refunded credits to expiry, and never gains what they may pay for;
//   - a hold takes only grants whose applies_to allows its model (a generic
//     hold: grants not limited to some models), and only those count in its
//     balance check;
//   - what is past its time is settled on the next write to its account (or by
//     ExpireDue), in time order, at its own time, and at one instant a hold
//     before a grant before a subscription's renewal; a refused request
//     settles nothing (its transaction rolls back).
type model struct {
	// cat is the catalog the ledger runs with: the model reads its plans
	// and models' tags as data, and works out their rules itself
	// (modelplans.go).
	cat      *credit.Catalog
	accounts map[string]*mAccount
	grants   map[string]*mGrant
	holds    map[string]*mHold
	gens     map[string]*mGen
	subs     map[string]*mSub
	// members and periods are the teams' (modelteams.go).
	members map[string]*mMember
	periods map[mPeriodKey]*mPeriod
	// books are the platform's: issued (negative), revenue, expired.
	issued, revenue, expired credit.Credits
	// reached counts the paths credits took back (see the path… names), so
	// that the simulation can show it reached the rare ones.
	reached map[string]int

	// The events and alerts (modelevents.go).
	notice time.Duration      // how long before a grant's expiry grant.expiring tells
	topups map[string]*mTopup // by id ("?…" until the store's id is learnt)
	events []mEvent           // told since the simulation last read the feed
	wrote  []string           // the accounts the write under way wrote (begin)
	// lastWrote is the account of the last write told of (a retry of it
	// is a write on the same account).
	lastWrote string
	unbound   int // top-ups made, for their provisional ids

	// consumed is what was charged, net of refunds, by UTC day, model and
	// paying source (modelreports.go).
	consumed map[mConsKey]mCons
}

// The paths of credits coming back that the simulation must reach: a
// refund or a hold's return, to a grant still live or not, straight or
// through the overdraft grant to the grants that paid it back.
const (
	pathRefundToOverdraft    = "refund pays the overdraft down"
	pathRefundToLivePayer    = "refund to a live grant that paid the overdraft back"
	pathRefundToExpiredPayer = "refund to an expired grant that paid the overdraft back (new refund grant)"
	pathRefundToExpiredGrant = "refund to an expired grant (new refund grant)"
	pathReturnToExpiredPayer = "hold return to an expired grant that paid the overdraft back (expired book)"
	pathReturnToExpiredGrant = "hold return to an expired grant (expired book)"
	pathReturnToLivePayer    = "hold return to a live grant that paid the overdraft back"
)

type mAccount struct {
	id        string
	overdraft credit.Credits
	ovd       string   // the overdraft grant's id
	grants    []string // every grant, in creation order
	plan, tz  string   // its program ("" none) and time zone ("" UTC)
	daily     string   // the last day given its daily allowances: "scope/2026-03-08"
	subs      []string // its subscriptions, oldest first
	kind      credit.AccountKind
	// lowBalance is the balance.low threshold, autoTopup the auto top-up
	// (modelevents.go).
	lowBalance credit.Credits
	autoTopup  credit.AutoTopup
}

type mGrant struct {
	id, account     string
	ovd             bool
	source          credit.Source
	granted         credit.Credits
	priority        int
	expiresAt       time.Time // zero: never
	createdAt       time.Time
	remaining, held credit.Credits
	paidBack        credit.Credits // of its credits, those that paid back the overdraft
	expired         bool           // its remainder has left (or it had none when its time came)
	expiredAt       time.Time      // when (its expiry, or when it was voided)
	appliesTo       credit.Eligibility
	sub, period     string         // a plan's grant: its subscription ("" for a program's) and period
	warnedAt        time.Time      // when grant.expiring told of it
	voided          bool           // expired by a void, not by its time
	took            credit.Credits // what it had left when it expired or was voided
}

func (g *mGrant) live(at time.Time) bool {
	return g.ovd || (!g.expired && (g.expiresAt.IsZero() || at.Before(g.expiresAt)))
}

type mHold struct {
	id, account, gen   string
	amount             credit.Credits
	captured, released credit.Credits
	status             credit.HoldStatus
	expiresAt          time.Time
	createdAt          time.Time
	allocs             []mAlloc
	// member is the team member the hold is for, memberPeriod the start
	// of the member period it counts in (modelteams.go).
	member       string
	memberPeriod time.Time
}

type mAlloc struct {
	grant                      string
	amount, captured, refunded credit.Credits
}

type mGen struct {
	id, account, hold string
	model             string
	images            int
	unit, surcharge   credit.Credits
	holdCredits       credit.Credits // 0 in an unlimited window
	status            credit.GenerationStatus
	charged, refunded credit.Credits
	window            string      // "sub/i" of an unlimited window, "" when charged
	lane              credit.Lane // in a window
	list              credit.Credits
	member            string // the team member who made it
	delivered         int    // images delivered (completed)
}

func newModel(cat *credit.Catalog) *model {
	return &model{cat: cat, accounts: map[string]*mAccount{}, grants: map[string]*mGrant{}, holds: map[string]*mHold{}, gens: map[string]*mGen{},
		subs: map[string]*mSub{}, reached: map[string]int{}, members: map[string]*mMember{}, periods: map[mPeriodKey]*mPeriod{},
		notice: credit.DefaultExpiringNotice, topups: map[string]*mTopup{}, consumed: map[mConsKey]mCons{}}
}

// clone returns a deep copy, so that a refused request can be undone.
func (m *model) clone() *model {
	n := &model{cat: m.cat, accounts: map[string]*mAccount{}, grants: map[string]*mGrant{}, holds: map[string]*mHold{}, gens: map[string]*mGen{},
		subs: map[string]*mSub{}, issued: m.issued, revenue: m.revenue, expired: m.expired, reached: maps.Clone(m.reached),
		notice: m.notice, topups: map[string]*mTopup{}, events: slices.Clone(m.events), wrote: slices.Clone(m.wrote), lastWrote: m.lastWrote, unbound: m.unbound,
		consumed: maps.Clone(m.consumed)}
	for k, t := range m.topups {
		c := *t
		n.topups[k] = &c
	}
	for k, a := range m.accounts {
		c := *a
		c.grants = slices.Clone(a.grants)
		c.subs = slices.Clone(a.subs)
		n.accounts[k] = &c
	}
	for k, sub := range m.subs {
		c := *sub
		c.usage = slices.Clone(sub.usage)
		n.subs[k] = &c
	}
	for k, g := range m.grants {
		c := *g
		n.grants[k] = &c
	}
	for k, h := range m.holds {
		c := *h
		c.allocs = slices.Clone(h.allocs)
		n.holds[k] = &c
	}
	for k, g := range m.gens {
		c := *g
		n.gens[k] = &c
	}
	m.cloneTeams(n)
	return n
}

// refusal is a request the model expects the ledger to refuse. amounts
// says the refusal's Available, Eligible and Required are to be checked
// too, and resetsAt (when not zero) its ResetsAt.
type refusal struct {
	code, reason                  string
	amounts                       bool
	available, eligible, required credit.Credits
	resetsAt                      time.Time
	// account and member are the team and member a limit refused
	// (member_limit_exceeded), which is news (modelevents.go).
	account, member string
}

func (r *refusal) Error() string { return r.code + "/" + r.reason }

func refuse(code, reason string) *refusal { return &refusal{code: code, reason: reason} }

func (m *model) available(account string) credit.Credits {
	var sum credit.Credits
	for _, id := range m.accounts[account].grants {
		sum += m.grants[id].remaining
	}
	return sum
}

func (m *model) held(account string) credit.Credits {
	var sum credit.Credits
	for _, id := range m.accounts[account].grants {
		sum += m.grants[id].held
	}
	return sum
}

// addAccount records an account the store created, with its overdraft grant.
func (m *model) addAccount(id string, overdraft credit.Credits, ovdGrant string, plan, tz string, now time.Time) {
	m.accounts[id] = &mAccount{id: id, overdraft: overdraft, ovd: ovdGrant, grants: []string{ovdGrant}, plan: plan, tz: tz}
	m.grants[ovdGrant] = &mGrant{id: ovdGrant, account: id, ovd: true, source: credit.SourceOverdraft, priority: math.MaxInt32, createdAt: now}
}

// accountHolds returns an account's holds by creation, then id.
func (m *model) accountHolds(account string) []*mHold {
	var hs []*mHold
	for _, h := range m.holds {
		if h.account == account {
			hs = append(hs, h)
		}
	}
	slices.SortFunc(hs, func(a, b *mHold) int {
		if c := a.createdAt.Compare(b.createdAt); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	return hs
}

// settle brings an account to now: what fell due — a hold's TTL, a grant's
// expiry, a subscription's next month — is done at its own time, in time
// order, and at one instant a hold's release before a grant's expiry before
// a renewal (so that a month's credits expire before the next month's
// arrive). Within one kind, holds go by creation and grants in consumption
// order.
func (m *model) settle(account string, now time.Time) {
	for {
		var (
			at    time.Time
			kind  int // 1 hold, 2 grant, 3 renewal
			hold  *mHold
			grant *mGrant
			sub   *mSub
		)
		better := func(t time.Time, k int) bool {
			if t.After(now) {
				return false
			}
			if kind == 0 || t.Before(at) || (t.Equal(at) && k < kind) {
				at, kind = t, k
				return true
			}
			return false
		}
		for _, h := range m.accountHolds(account) {
			if h.status == credit.HoldOpen && better(h.expiresAt, 1) {
				hold = h
			}
		}
		for _, g := range m.order(account) {
			if !g.ovd && !g.expired && !g.expiresAt.IsZero() && better(g.expiresAt, 2) {
				grant = g
			}
		}
		for _, id := range m.accounts[account].subs {
			if s := m.subs[id]; !s.renewsAt.IsZero() && better(s.renewsAt, 3) {
				sub = s
			}
		}
		switch kind {
		case 0:
			return
		case 1:
			m.resolve(hold, 0, credit.HoldExpired, at)
		case 2:
			m.expireGrant(grant, at)
		default:
			m.renew(sub)
		}
	}
}

// expireGrant takes a grant's remainder out of the balance at its expiry:
// to the expired book, but for what rolls over into a new grant.
func (m *model) expireGrant(g *mGrant, at time.Time) {
	lost := g.remaining
	if r := m.rollover(g, at); r != nil {
		lost -= r.granted
		m.grants[r.id] = r
		m.accounts[r.account].grants = append(m.accounts[r.account].grants, r.id)
		m.reached[planRollover]++
	}
	m.expired += lost
	g.took = g.remaining
	g.remaining, g.expired, g.expiredAt = 0, true, at
}

// settleAll settles every account (ExpireDue).
func (m *model) settleAll(now time.Time) {
	for _, id := range slices.Sorted(maps.Keys(m.accounts)) {
		m.settle(id, now)
	}
}

// order returns an account's grants in consumption order.
func (m *model) order(account string) []*mGrant {
	var gs []*mGrant
	for _, id := range m.accounts[account].grants {
		gs = append(gs, m.grants[id])
	}
	slices.SortFunc(gs, func(a, b *mGrant) int {
		if a.ovd != b.ovd {
			if a.ovd {
				return 1
			}
			return -1
		}
		if a.priority != b.priority {
			return a.priority - b.priority
		}
		if !a.expiresAt.Equal(b.expiresAt) {
			switch {
			case a.expiresAt.IsZero():
				return 1
			case b.expiresAt.IsZero():
				return -1
			}
			return a.expiresAt.Compare(b.expiresAt)
		}
		if c := a.createdAt.Compare(b.createdAt); c != 0 {
			return c
		}
		return strings.Compare(a.id, b.id)
	})
	return gs
}

// payer returns which grants may pay for a hold for model ("" a generic
// hold): those whose applies_to allows it, with the model's tags.
func (m *model) payer(model string) func(*mGrant) bool {
	var tags []string
	if model != "" {
		if md, err := m.cat.Model(model); err == nil {
			tags = md.Tags
		}
	}
	return func(g *mGrant) bool { return allows(g.appliesTo, model, tags) }
}

// reserve holds h's amount on its account from the grants that may pay for
// model, or refuses it: only those grants (and the overdraft) count.
//
// A member's hold is counted against the member's limit first, in the same
// step: over the limit, it is refused whatever the pool holds.
func (m *model) reserve(h *mHold, model string, now time.Time) error {
	if h.member != "" {
		if err := m.reserveMember(h, now); err != nil {
			return err
		}
	}
	a := m.accounts[h.account]
	pays := m.payer(model)
	var spendable, eligible credit.Credits
	for _, id := range a.grants {
		switch g := m.grants[id]; {
		case g.ovd:
			spendable += g.remaining
			eligible += g.remaining
		case !g.live(now):
		case pays(g):
			spendable += g.remaining
			eligible += g.remaining
		default:
			spendable += g.remaining
		}
	}
	if eligible-h.amount < -a.overdraft {
		return &refusal{code: credit.InsufficientCredits, reason: "insufficient_credits", amounts: true, available: spendable, eligible: eligible, required: h.amount}
	}
	if eligible != spendable {
		m.reached[planEligibleOnly]++
	}
	rest := h.amount
	for _, g := range m.order(h.account) {
		if rest == 0 {
			break
		}
		var take credit.Credits
		switch {
		case g.ovd:
			take = rest
		case g.live(now) && g.remaining > 0 && pays(g):
			take = min(rest, g.remaining)
		default:
			continue
		}
		g.remaining -= take
		g.held += take
		h.allocs = append(h.allocs, mAlloc{grant: g.id, amount: take})
		rest -= take
	}
	m.holds[h.id] = h
	return nil
}

// resolve captures capture of an open hold and returns the rest.
func (m *model) resolve(h *mHold, capture credit.Credits, status credit.HoldStatus, at time.Time) {
	model := ""
	if h.gen != "" {
		model = m.gens[h.gen].model
	}
	rest := capture
	first := true
	for i := range h.allocs {
		a := &h.allocs[i]
		take := min(rest, a.amount)
		a.captured = take
		rest -= take
		if take > 0 {
			m.consume(at, model, a.grant, take, first)
			first = false
		}
		back := a.amount - take
		g := m.grants[a.grant]
		g.held -= a.amount
		m.revenue += take
		switch {
		case g.ovd:
			toLive, toExpired := m.returnToOverdraft(g, back, at)
			if toLive > 0 {
				m.reached[pathReturnToLivePayer]++
			}
			if toExpired > 0 {
				m.reached[pathReturnToExpiredPayer]++
			}
			m.expired += toExpired
		case g.live(at):
			g.remaining += back
		default:
			if back > 0 {
				m.reached[pathReturnToExpiredGrant]++
			}
			m.expired += back
		}
	}
	m.returnMember(h, h.amount-capture, at)
	h.captured, h.released = capture, h.amount-capture
	if status == credit.HoldCaptured && capture == 0 {
		status = credit.HoldReleased
	}
	h.status = status
	if h.gen != "" {
		g := m.gens[h.gen]
		g.charged = capture
		switch status {
		case credit.HoldExpired:
			g.status = credit.GenerationExpired
		case credit.HoldReleased:
			g.status = credit.GenerationFailed
		default:
			g.status = credit.GenerationCompleted
		}
		if g.window != "" {
			m.closeWindow(g.window)
		}
	}
}

// grant is AddGrant: a top-up needs a plan that sells them (or none); the
// overdraft is paid back first.
func (m *model) grant(id, account string, s credit.GrantSpec, now time.Time) error {
	m.begin(account, now)
	if s.Source == credit.SourceTopup {
		if p, _ := m.planAt(account, now); p != nil && !p.Topups {
			return refuse(credit.Forbidden, "subscription_required")
		}
	}
	m.addGrant(&mGrant{id: id, account: account, source: s.Source, granted: s.Credits, priority: s.Priority,
		expiresAt: s.ExpiresAt.UTC().Truncate(time.Microsecond), createdAt: now, appliesTo: s.AppliesTo})
	return nil
}

// addGrant puts g (its granted credits, at its creation) into its account:
// what the overdraft grant owes is paid back first, but by a grant limited
// to some models (the debt may be for another).
func (m *model) addGrant(g *mGrant) {
	account, amount := g.account, g.granted
	a := m.accounts[account]
	ovd := m.grants[a.ovd]
	owed := max(0, -ovd.remaining)
	if !eligibilityZero(g.appliesTo) {
		owed = 0
	}
	// Open holds on the overdraft move onto the new grant, oldest hold first,
	// each just before its overdraft allocation.
	budget := min(amount, owed)
	var moved credit.Credits
	for _, h := range m.accountHolds(account) {
		if h.status != credit.HoldOpen {
			continue
		}
		var allocs []mAlloc
		for _, al := range h.allocs {
			if al.grant == ovd.id && moved < budget {
				x := min(al.amount, budget-moved)
				allocs = append(allocs, mAlloc{grant: g.id, amount: x})
				al.amount -= x
				ovd.held -= x
				ovd.remaining += x
				g.held += x
				moved += x
			}
			if al.amount > 0 {
				allocs = append(allocs, al)
			}
		}
		h.allocs = allocs
	}
	payback := min(amount-moved, owed-moved)
	ovd.remaining += payback
	g.remaining, g.paidBack = amount-moved-payback, payback
	m.grants[g.id] = g
	a.grants = append(a.grants, g.id)
	m.issued -= amount
}

// returnToOverdraft gives back credits that were taken from the overdraft
// grant. It returns how much went back to live grants that had paid the
// overdraft back, and how much belongs to such grants that are no longer
// live, which it leaves to the caller: that depends on what gives it back.
func (m *model) returnToOverdraft(ovd *mGrant, amount credit.Credits, at time.Time) (toLive, toExpired credit.Credits) {
	owed := max(0, -ovd.remaining)
	toOvd := min(amount, owed)
	ovd.remaining += toOvd
	excess := amount - toOvd
	// Newest first; grants made at the same instant in consumption order.
	gs := m.order(ovd.account)
	slices.SortStableFunc(gs, func(a, b *mGrant) int { return b.createdAt.Compare(a.createdAt) })
	for _, g := range gs {
		if excess == 0 {
			break
		}
		x := min(excess, g.paidBack)
		if x == 0 {
			continue
		}
		g.paidBack -= x
		if g.live(at) {
			g.remaining += x
			toLive += x
		} else {
			toExpired += x
		}
		excess -= x
	}
	ovd.remaining += excess
	return toLive, toExpired
}

// createHold holds credits for a generic hold: the day's free credits are
// given first (a charge), and only grants not limited to some models pay. A
// team's hold is a member's (member), and no one else's is.
func (m *model) createHold(id, account, member string, amount credit.Credits, ttl time.Duration, now time.Time) error {
	m.begin(account, now)
	if err := m.checkMember(account, member); err != nil {
		return err
	}
	m.giveDaily(account, now)
	return m.reserve(&mHold{id: id, account: account, amount: amount, status: credit.HoldOpen, expiresAt: now.Add(ttl), createdAt: now, member: member}, "", now)
}

// createGeneration is the Create button: the plan decides first (a model it
// does not allow is refused before anything), then an unlimited window makes
// it free (within its limits), or the day's free credits are given and the
// price held from the grants that may pay for the model. A team's
// generation is a member's (member), and no one else's is.
func (m *model) createGeneration(id, holdID, account, member string, p price, ttl time.Duration, now time.Time) error {
	m.begin(account, now)
	if err := m.checkMember(account, member); err != nil {
		return err
	}
	model := p.req.Model
	plan, sub := m.planAt(account, now)
	if err := m.planAllows(plan, model); err != nil {
		return err
	}
	g := &mGen{id: id, account: account, hold: holdID, model: model, images: p.images, unit: p.unit, surcharge: p.surcharge,
		holdCredits: p.total(), status: credit.GenerationHeld, member: member}
	if w, i := m.windowAt(plan, sub, model, now); w != nil {
		lane, err := m.useWindow(sub, w, i, now)
		if err != nil {
			return err
		}
		g.window, g.lane, g.holdCredits = fmt.Sprintf("%s/%d", sub.id, i), lane, 0
	} else {
		m.giveDaily(account, now)
	}
	h := &mHold{id: holdID, account: account, gen: id, amount: g.holdCredits, status: credit.HoldOpen, expiresAt: now.Add(ttl), createdAt: now, member: member}
	if err := m.reserve(h, model, now); err != nil {
		return err
	}
	m.gens[id] = g
	return nil
}

// finishGeneration completes (delivered ≥ 0) or fails (delivered < 0) a
// generation. An unlimited window's completion charges nothing and records
// the list price.
func (m *model) finishGeneration(id string, delivered int, fail bool, now time.Time) error {
	g := m.gens[id]
	m.begin(g.account, now)
	switch g.status {
	case credit.GenerationHeld:
	case credit.GenerationExpired:
		return refuse(credit.Conflict, "hold_expired")
	default:
		return refuse(credit.Conflict, "already_resolved")
	}
	h := m.holds[g.hold]
	if fail {
		m.resolve(h, 0, credit.HoldReleased, now)
		return nil
	}
	if delivered < 0 || delivered > g.images {
		return refuse(credit.Invalid, "invalid_image_count")
	}
	var charge credit.Credits
	if delivered > 0 {
		charge = g.unit*credit.Credits(delivered) + g.surcharge
	}
	list := charge
	if g.window != "" {
		charge = 0
		m.reached[planWindowDelivered]++
	}
	m.resolve(h, charge, credit.HoldCaptured, now)
	g.status = credit.GenerationCompleted // even when nothing was delivered
	g.list = list
	g.delivered = delivered
	return nil
}

// finishHold captures (capture ≥ 0, or all with whole) or releases a generic hold.
func (m *model) finishHold(id string, capture credit.Credits, whole bool, now time.Time) error {
	h := m.holds[id]
	if h.gen != "" {
		return refuse(credit.Conflict, "generation_hold")
	}
	m.begin(h.account, now)
	switch h.status {
	case credit.HoldOpen:
	case credit.HoldExpired:
		return refuse(credit.Conflict, "hold_expired")
	default:
		return refuse(credit.Conflict, "already_resolved")
	}
	if whole {
		capture = h.amount
	}
	if capture > h.amount {
		return refuse(credit.Invalid, "over_capture")
	}
	m.resolve(h, capture, credit.HoldCaptured, now)
	return nil
}

// refundShare is credits a refund gives back as a new refund grant, with
// what they may pay for.
type refundShare struct {
	appliesTo credit.Eligibility
	amount    credit.Credits
}

// refund gives back amount (all that is left with whole) of a generation's
// charge. It returns the credits that go into new refund grants, one per
// applies_to of the expired grants they came from (those of the overdraft's
// expired payers may pay for anything), whose ids the caller learns from the
// store and passes to addRefundGrant.
func (m *model) refund(id string, amount credit.Credits, whole bool, now time.Time) ([]refundShare, error) {
	g := m.gens[id]
	m.begin(g.account, now)
	if g.status != credit.GenerationCompleted || g.charged == 0 {
		return nil, refuse(credit.Conflict, "not_refundable")
	}
	left := g.charged - g.refunded
	if left == 0 && whole {
		return nil, refuse(credit.Conflict, "not_refundable") // refunded in full already
	}
	if whole {
		amount = left
	}
	if amount > left {
		return nil, refuse(credit.Invalid, "over_refund")
	}
	var shares []refundShare
	give := func(x credit.Credits, e credit.Eligibility) {
		if x == 0 {
			return
		}
		for i := range shares {
			if eligibilityText(shares[i].appliesTo) == eligibilityText(e) {
				shares[i].amount += x
				return
			}
		}
		shares = append(shares, refundShare{e, x})
	}
	h := m.holds[g.hold]
	rest := amount
	for i := len(h.allocs) - 1; i >= 0 && rest > 0; i-- {
		a := &h.allocs[i]
		back := min(rest, a.captured-a.refunded)
		a.refunded += back
		rest -= back
		m.consume(now, g.model, a.grant, -back, false)
		switch gr := m.grants[a.grant]; {
		case gr.ovd:
			owed := max(0, -gr.remaining)
			toLive, toExpired := m.returnToOverdraft(gr, back, now)
			if min(back, owed) > 0 {
				m.reached[pathRefundToOverdraft]++
			}
			if toLive > 0 {
				m.reached[pathRefundToLivePayer]++
			}
			if toExpired > 0 {
				m.reached[pathRefundToExpiredPayer]++
			}
			give(toExpired, credit.Eligibility{})
		case gr.live(now):
			gr.remaining += back
		default:
			if back > 0 {
				m.reached[pathRefundToExpiredGrant]++
				if gr.period != "" {
					m.reached[planRefundEndedPeriod]++
				}
			}
			give(back, gr.appliesTo)
		}
	}
	g.refunded += amount
	m.revenue -= amount
	m.returnMember(h, amount, now)
	return shares, nil
}

// addRefundGrant records a never-expiring grant a refund created.
func (m *model) addRefundGrant(id, account string, sh refundShare, now time.Time) {
	m.grants[id] = &mGrant{id: id, account: account, source: credit.SourceRefund, granted: sh.amount, createdAt: now, remaining: sh.amount, appliesTo: sh.appliesTo}
	m.accounts[account].grants = append(m.accounts[account].grants, id)
}

// price is a generation's price, worked out by hand from the seed page.
type price struct {
	req             credit.QuoteRequest
	images          int
	unit, surcharge credit.Credits
}

func (p price) total() credit.Credits { return p.unit*credit.Credits(p.images) + p.surcharge }

// prices are the generations the simulation makes, with the page's numbers.
var prices = []struct {
	model, resolution string
	unit              credit.Credits
}{
	{"flux-dev", "", 5_000},            // Flux Dev: 5
	{"z-image-turbo", "", 5_000},       // Z Image Turbo: 5
	{"imagineart-1.5", "2K", 15_000},   // ImagineArt 1.5: 15, up to 2K
	{"nano-banana-2", "1K", 49_000},    // Nano Banana 2: 49 (1K)
	{"nano-banana-2", "2K", 73_500},    // 73.5 (2K)
	{"nano-banana-2", "4K", 98_000},    // 98 (4K)
	{"seedream-v4", "4K", 18_000},      // Seedream v4: 18, up to 4K
	{"personalize-core", "", 24_000},   // Personalize Core: 24
	{"minimax-image", "", 6_000},       // Minimax Image: 6
	{"recraft-v4-pro", "", 150_000},    // Recraft v4 Pro: 150
	{"nano-banana-pro", "4K", 160_000}, // Nano Banana Pro: 160 (4K)
}
