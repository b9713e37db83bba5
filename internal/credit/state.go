package credit

import (
	"slices"
	"time"
)

// State is what a write needs of one account, as a store loads it in one
// step under the account's lock (Store.Write): the prefetch of TigerBeetle's
// prefetch → execute → commit. The ledger decides every write of a batch
// from it in memory (see Book) and hands the store back a Change.
//
// A store loads at least:
//   - the account (nil when there is none);
//   - its working set of grants, in consumption order: every grant not yet
//     expired that has something left or held or has an expiry still to
//     reach, every grant with PaidBack (returnToOverdraft gives back to
//     those), the overdraft grant (at zero too: a grant pays it back, a hold
//     draws on it), and every grant a loaded hold's allocations name. Grants spent
//     to zero that never expire (nearly all of an old account's) are not in
//     it: no write reads or changes them;
//   - its holds that a write may touch, with their allocations: the open ones
//     due at Refs.Now, the ones Refs names or that belong to a generation
//     Refs names, and the open ones with an allocation on the overdraft
//     grant (a grant that pays the overdraft back moves those);
//   - the generations Refs names and those of the loaded holds;
//   - the idempotency records Refs names that exist;
//   - every subscription of the account (an account has few);
//   - the team's members Refs names (removed ones too), each with its
//     MemberPeriods that have not ended at Refs.Now; and the MemberPeriod
//     each loaded hold with a Member counts in (Hold.MemberPeriod);
//   - its top-ups that are pending or were made at or after Refs.Now less
//     TopupWindow (the monthly cap counts a calendar month's), and those
//     Refs.Topups names.
//
// It may load more (SQLite loads every open hold, and keeps states in memory
// between writes): the ledger decides alike on any superset. Everything is
// the account's own: a hold or generation of another account is not loaded
// even if named, and is then unknown to the write.
type State struct {
	Account       *Account
	Grants        []Grant
	Holds         []Hold
	Generations   []Generation
	Idempotency   []IdempotencyRecord
	Subscriptions []Subscription
	Members       []Member
	MemberPeriods []MemberPeriod
	Topups        []Topup
}

// TopupWindow is how far back a State's top-ups reach: past the start of
// any calendar month under way, in any time zone.
const TopupWindow = 32 * 24 * time.Hour

// Refs is what the writes of a batch name besides their account.
type Refs struct {
	// Now is when the batch runs: the open holds due at Now are loaded.
	Now         time.Time
	Holds       []string
	Generations []string
	Idempotency []Idempotency // Scope and Key; Hash is not used
	// Members are the members of a team the writes name.
	Members []string
	// Topups are the top-ups the writes name.
	Topups []string
	// TryLock asks the store not to wait for the account's lock: if another
	// transaction holds it, Write loads nothing and sets Batch.Skipped. The
	// expiry sweeper uses it so that nodes settling in parallel never do the
	// same work; a store with a single writer never skips.
	TryLock bool
}

func (r *Refs) add(o Refs) {
	r.Holds = append(r.Holds, o.Holds...)
	r.Generations = append(r.Generations, o.Generations...)
	r.Idempotency = append(r.Idempotency, o.Idempotency...)
	r.Members = append(r.Members, o.Members...)
	r.Topups = append(r.Topups, o.Topups...)
	r.TryLock = r.TryLock && o.TryLock // a batch skips only if all its writes may
}

// Change is what a batch of writes on one account decided, for the store to
// apply in one step: rows to insert, the final values of the rows to update
// (one per row, however many writes of the batch changed it), and the
// journal, idempotency and audit records to append, in order.
type Change struct {
	NewAccount *Account // insert
	// Account is updated to its Available, Held, Plan, TimeZone, Daily,
	// LowBalance and AutoTopup (never its Kind).
	Account   *Account
	NewGrants []Grant
	// Grants are updated to their Remaining, Held, PaidBack, ExpiresAt,
	// ExpiredAt and WarnedAt.
	Grants   []Grant
	NewHolds []Hold // with their allocations
	// Holds are updated to their Status, Captured, Released and ResolvedAt;
	// their allocations are written by Allocations.
	Holds []Hold
	// Allocations are the allocation rows to insert or overwrite, at
	// (Hold, Seq); TrimAllocations removes a hold's rows from Seq on, where a
	// hold has fewer allocations than it had.
	Allocations     []AllocationRow
	TrimAllocations []AllocationRow
	NewGenerations  []Generation
	// Generations are updated to their Status, ImagesDelivered, Charged,
	// Refunded, ResolvedAt and ListCredits.
	Generations []Generation
	// NewSubscriptions are inserted; Subscriptions are updated whole (every
	// field but ID, Account and CreatedAt).
	NewSubscriptions []Subscription
	Subscriptions    []Subscription
	// Members and MemberPeriods are inserted, or updated whole (every field
	// but the key: Account and ID; Account, Member and Start) where the
	// row exists.
	Members       []Member
	MemberPeriods []MemberPeriod
	// NewTopups are inserted; Topups are updated to their Status, Grant
	// and ResolvedAt.
	NewTopups []Topup
	Topups    []Topup
	Entries   []Entry // the store assigns their IDs, in order
	// Events are appended to the feed, in order, in the same transaction
	// (the outbox).
	Events      []Event
	Idempotency []IdempotencyRecord
	Audit       []AuditEntry
	// Liability and Consumption are what the writes add to the report
	// rollups: the store adds each row to its row with the same key (or
	// inserts it), in the same transaction. See rollup.go.
	Liability   []LiabilityRow
	Consumption []ConsumptionRow
}

// AllocationRow is one allocation of a hold at its place (Seq) in the hold's
// consumption order.
type AllocationRow struct {
	Hold string
	Seq  int
	Allocation
}

// Empty reports whether c changes nothing.
func (c *Change) Empty() bool {
	return c.NewAccount == nil && c.Account == nil && len(c.NewGrants) == 0 && len(c.Grants) == 0 &&
		len(c.NewHolds) == 0 && len(c.Holds) == 0 && len(c.Allocations) == 0 && len(c.TrimAllocations) == 0 &&
		len(c.NewGenerations) == 0 && len(c.Generations) == 0 && len(c.Entries) == 0 &&
		len(c.Idempotency) == 0 && len(c.Audit) == 0 && len(c.NewSubscriptions) == 0 && len(c.Subscriptions) == 0 &&
		len(c.Members) == 0 && len(c.MemberPeriods) == 0 && len(c.NewTopups) == 0 && len(c.Topups) == 0 && len(c.Events) == 0 &&
		len(c.Liability) == 0 && len(c.Consumption) == 0
}

// Batch is the queued writes of one account, which a store runs under one
// lock, one load and one apply (Store.Write).
type Batch struct {
	Account string
	// Writes is how many writes the batch holds (for metrics and tests).
	Writes int
	Refs   Refs
	// Decide decides the batch's writes from the loaded state and returns
	// what to apply. It does not change the State it is given, and the
	// Change it returns touches only rows of that State and rows it
	// inserts. A store may call it again with a fresh state (after a
	// deadlock or serialization failure); each call starts over.
	Decide func(*State) (*Change, error)
	// Skipped is set by the store when Refs.TryLock found the lock taken:
	// Decide was not called and nothing was written.
	Skipped bool
}

// Apply changes s in place to what it is once c has committed: for a store
// that keeps the states of busy accounts in memory between writes (SQLite),
// so that the next write of the account loads nothing. Rows c inserts are
// added, rows it updates take their new values; nothing is removed (see
// Prune).
//
// It returns false when c updates a row s does not hold (no write of the
// ledger does: a Change touches the rows of the State it was decided on and
// the rows it inserts): s is then no longer the account's state, and a
// store must not keep it.
func (s *State) Apply(c *Change) bool {
	whole := true
	if c.NewAccount != nil {
		a := *c.NewAccount
		s.Account = &a
	}
	if c.Account != nil && s.Account != nil {
		s.Account.Available, s.Account.Held = c.Account.Available, c.Account.Held
		s.Account.Plan, s.Account.TimeZone, s.Account.Daily = c.Account.Plan, c.Account.TimeZone, c.Account.Daily
		s.Account.LowBalance, s.Account.AutoTopup = c.Account.LowBalance, c.Account.AutoTopup
	}
	if c.NewAccount == nil && c.Account != nil && s.Account == nil {
		whole = false
	}
	s.Grants = append(s.Grants, c.NewGrants...)
	for _, u := range c.Grants {
		i := slices.IndexFunc(s.Grants, func(g Grant) bool { return g.ID == u.ID })
		if i < 0 {
			whole = false
			continue
		}
		g := &s.Grants[i]
		g.Remaining, g.Held, g.PaidBack, g.ExpiresAt, g.ExpiredAt, g.WarnedAt = u.Remaining, u.Held, u.PaidBack, u.ExpiresAt, u.ExpiredAt, u.WarnedAt
	}
	sortGrants(s.Grants)
	for _, h := range c.NewHolds {
		h.Allocations = slices.Clone(h.Allocations)
		s.Holds = append(s.Holds, h)
	}
	hold := func(id string) *Hold {
		for i := range s.Holds {
			if s.Holds[i].ID == id {
				return &s.Holds[i]
			}
		}
		return nil
	}
	for _, u := range c.Holds {
		h := hold(u.ID)
		if h == nil {
			whole = false
			continue
		}
		h.Status, h.Captured, h.Released, h.ResolvedAt = u.Status, u.Captured, u.Released, u.ResolvedAt
	}
	for _, r := range c.Allocations {
		h := hold(r.Hold)
		if h == nil || r.Seq > len(h.Allocations) {
			whole = false
			continue
		}
		if r.Seq == len(h.Allocations) {
			h.Allocations = append(h.Allocations, r.Allocation)
		} else {
			h.Allocations[r.Seq] = r.Allocation
		}
	}
	for _, r := range c.TrimAllocations {
		h := hold(r.Hold)
		if h == nil {
			whole = false
			continue
		}
		if r.Seq < len(h.Allocations) {
			h.Allocations = h.Allocations[:r.Seq]
		}
	}
	s.Generations = append(s.Generations, c.NewGenerations...)
	for _, u := range c.Generations {
		i := slices.IndexFunc(s.Generations, func(g Generation) bool { return g.ID == u.ID })
		if i < 0 {
			whole = false
			continue
		}
		g := &s.Generations[i]
		g.Status, g.ImagesDelivered, g.Charged, g.Refunded, g.ResolvedAt, g.ListCredits = u.Status, u.ImagesDelivered, u.Charged, u.Refunded, u.ResolvedAt, u.ListCredits
	}
	s.Idempotency = append(s.Idempotency, c.Idempotency...)
	for _, u := range c.NewSubscriptions {
		u.Usage = slices.Clone(u.Usage)
		s.Subscriptions = append(s.Subscriptions, u)
	}
	for _, u := range c.Subscriptions {
		i := slices.IndexFunc(s.Subscriptions, func(o Subscription) bool { return o.ID == u.ID })
		if i < 0 {
			whole = false
			continue
		}
		u.Usage = slices.Clone(u.Usage)
		s.Subscriptions[i] = u
	}
	for _, u := range c.Members {
		u.MonthlyLimit = cloneCredits(u.MonthlyLimit)
		if i := slices.IndexFunc(s.Members, func(o Member) bool { return o.ID == u.ID }); i >= 0 {
			s.Members[i] = u
		} else {
			s.Members = append(s.Members, u)
		}
	}
	for _, u := range c.MemberPeriods {
		u.Limit = cloneCredits(u.Limit)
		if i := slices.IndexFunc(s.MemberPeriods, func(o MemberPeriod) bool { return o.Member == u.Member && o.Start.Equal(u.Start) }); i >= 0 {
			s.MemberPeriods[i] = u
		} else {
			s.MemberPeriods = append(s.MemberPeriods, u)
		}
	}
	s.Topups = append(s.Topups, c.NewTopups...)
	for _, u := range c.Topups {
		i := slices.IndexFunc(s.Topups, func(o Topup) bool { return o.ID == u.ID })
		if i < 0 {
			whole = false
			continue
		}
		t := &s.Topups[i]
		t.Status, t.Grant, t.ResolvedAt = u.Status, u.Grant, u.ResolvedAt
	}
	return whole
}

// Prune keeps of s what every later write may need, whatever it names: the
// account, the working set of grants (see State) and the grants open holds
// name, every open hold and the generations of those, the members and
// their periods (a member's periods that have ended are kept: a write
// cannot tell which have from the State alone, and they are one row a
// month), and the top-ups (a few a month; those older than TopupWindow
// are kept too, which changes no decision). Idempotency records are
// dropped: they are looked up by key.
func (s *State) Prune() {
	s.Holds = slices.DeleteFunc(s.Holds, func(h Hold) bool { return h.Status != HoldOpen })
	s.Grants = slices.DeleteFunc(s.Grants, func(g Grant) bool {
		return !g.working() && !slices.ContainsFunc(s.Holds, func(h Hold) bool {
			return slices.ContainsFunc(h.Allocations, func(a Allocation) bool { return a.Grant == g.ID })
		})
	})
	s.Generations = slices.DeleteFunc(s.Generations, func(g Generation) bool {
		return !slices.ContainsFunc(s.Holds, func(h Hold) bool { return h.ID == g.Hold })
	})
	s.Idempotency = nil
}

// working reports whether g is in its account's working set of grants (see
// State): not yet expired, with something left or held or an expiry still to
// come; or with PaidBack; or the overdraft grant. Grants an open hold's
// allocations name are in it by their Held.
func (g *Grant) working() bool {
	return (g.ExpiredAt.IsZero() && (g.Remaining != 0 || g.Held != 0 || !g.ExpiresAt.IsZero())) || g.PaidBack != 0 || g.Source == SourceOverdraft
}

// Clone returns a deep copy of s.
func (s *State) Clone() *State {
	c := &State{Grants: slices.Clone(s.Grants), Generations: slices.Clone(s.Generations), Idempotency: slices.Clone(s.Idempotency), Topups: slices.Clone(s.Topups)}
	for _, m := range s.Members {
		m.MonthlyLimit = cloneCredits(m.MonthlyLimit)
		c.Members = append(c.Members, m)
	}
	for _, p := range s.MemberPeriods {
		p.Limit = cloneCredits(p.Limit)
		c.MemberPeriods = append(c.MemberPeriods, p)
	}
	for _, u := range s.Subscriptions {
		u.Usage = slices.Clone(u.Usage)
		c.Subscriptions = append(c.Subscriptions, u)
	}
	if s.Account != nil {
		a := *s.Account
		c.Account = &a
	}
	c.Holds = make([]Hold, len(s.Holds))
	for i, h := range s.Holds {
		h.Allocations = slices.Clone(h.Allocations)
		c.Holds[i] = h
	}
	return c
}

// Check refuses (Internal unbalanced) a change with an entry whose postings
// do not sum to zero. Stores run it before they write anything: the journal
// is append-only, so a wrong entry could never be taken back, and the
// ledger's own check (draft.commit) should not be the only one.
func (c *Change) Check() error {
	for _, x := range c.Entries {
		var sum Credits
		for _, p := range x.Postings {
			sum += p.Amount
		}
		if sum != 0 {
			return Errorf(Internal, "unbalanced", "store: a %s entry on %s has postings summing to %s, not 0", x.Kind, x.Account, sum)
		}
	}
	return nil
}

// SortGrants puts grants in consumption order: priority, then expiry
// (never-expiring last), then creation, then id.
func SortGrants(gs []Grant) { sortGrants(gs) }
