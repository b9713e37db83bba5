package storetest

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// The reference model's teams (SPEC §8), worked out again from the spec
// rather than from the ledger's code:
//
//   - a team is an account of kind team; its grants are one pool, spent by
//     its members' generations and holds, and no one else's: a team's
//     hold names one of its members who has not left (member_required,
//     unknown_member), and a user's names none (not_a_team);
//   - a member's period is the month of the team's active subscription
//     (from its start, then local midnight of the renewal day, in the
//     subscription's zone), else the calendar month in the team's zone;
//   - a member's hold counts, in the period under way when it is made,
//     against the member's monthly limit (if any) before the pool is
//     checked: used + the hold over the limit is member_limit_exceeded,
//     with what is left of the limit and when the period ends;
//   - what of a hold is not charged (a release, a failure, an expiry, a
//     capture of less) and what of a charge is refunded goes back to the
//     period the hold was made in, ended or not, never to the one under
//     way;
//   - leaving keeps the member's periods: set again, the member has the
//     same used as before; setting a member as they are changes nothing.

// Paths of teams the simulation reports (model.reached).
const (
	teamReturnEnded    = "team: credits given back to a member period that had ended"
	teamSubPeriod      = "team: a member's hold counted in a subscription's month"
	teamRemovedResolve = "team: a removed member's hold resolved"
	teamReadded        = "team: a removed member set again"
)

// mustReachTeams are the team paths every default run must take (summed
// over its seeds); a refusal is counted as "refused <reason>" (see
// teamRefusals).
var mustReachTeams = []string{teamReturnEnded, teamSubPeriod, teamReadded, "refused member_limit_exceeded"}

// teamRefusals are the teams' refusals the simulation counts (as "refused
// <reason>" among the paths reached).
var teamRefusals = []string{"member_limit_exceeded", "member_required", "unknown_member", "not_a_team"}

type mMember struct {
	account, id                     string
	limit                           *credit.Credits // nil: none
	createdAt, updatedAt, removedAt time.Time
}

type mPeriodKey struct {
	account, member string
	start           int64 // Unix microseconds
}

type mPeriod struct {
	account, member string
	start, end      time.Time
	used            credit.Credits
	limit           *credit.Credits
	reached         time.Time // when member.limit_reached told of it (modelevents.go)
}

func memberKey(account, id string) string { return account + "\x00" + id }

func periodKey(account, member string, start time.Time) mPeriodKey {
	return mPeriodKey{account, member, start.UnixMicro()}
}

func cloneLimit(c *credit.Credits) *credit.Credits {
	if c == nil {
		return nil
	}
	v := *c
	return &v
}

func sameLimit(a, b *credit.Credits) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

func limitText(c *credit.Credits) string {
	if c == nil {
		return "none"
	}
	return c.String()
}

// cloneTeams deep-copies m's members and periods into n.
func (m *model) cloneTeams(n *model) {
	n.members = make(map[string]*mMember, len(m.members))
	for k, x := range m.members {
		c := *x
		c.limit = cloneLimit(x.limit)
		n.members[k] = &c
	}
	n.periods = make(map[mPeriodKey]*mPeriod, len(m.periods))
	for k, p := range m.periods {
		c := *p
		c.limit = cloneLimit(p.limit)
		n.periods[k] = &c
	}
}

// memberPeriodAt returns the members' period of team account that t is in.
func (m *model) memberPeriodAt(account string, t time.Time) (from, to time.Time, sub bool) {
	a := m.accounts[account]
	for _, id := range a.subs {
		if s := m.subs[id]; s.active(t) {
			k := s.monthAt(t)
			return s.monthStart(k), s.monthStart(k + 1), true
		}
	}
	loc := location(a.tz)
	y, mo, _ := t.In(loc).Date()
	return time.Date(y, mo, 1, 0, 0, 0, 0, loc).UTC(), time.Date(y, mo+1, 1, 0, 0, 0, 0, loc).UTC(), false
}

// memberPeriodFor returns member's period at t: the member's period that
// t falls in, if any (it runs to its end when the team's billing moves),
// else the team's (memberPeriodAt).
func (m *model) memberPeriodFor(account, member string, t time.Time) (from, to time.Time, sub bool) {
	found := false
	for _, p := range m.periods {
		if p.account == account && p.member == member && !t.Before(p.start) && t.Before(p.end) && (!found || p.start.After(from)) {
			from, to, found = p.start, p.end, true
		}
	}
	_, _, sub = m.memberPeriodAt(account, t)
	if found {
		return from, to, sub
	}
	return m.memberPeriodAt(account, t)
}

// activeMember returns a member of team account who has not left.
func (m *model) activeMember(account, id string) (*mMember, error) {
	if m.accounts[account].kind != credit.AccountTeam {
		return nil, refuse(credit.Invalid, "not_a_team")
	}
	x := m.members[memberKey(account, id)]
	if x == nil || !x.removedAt.IsZero() {
		return nil, refuse(credit.NotFound, "unknown_member")
	}
	return x, nil
}

// checkMember refuses a hold's member that does not fit its account.
func (m *model) checkMember(account, member string) error {
	switch {
	case m.accounts[account].kind == credit.AccountTeam && member == "":
		return refuse(credit.Invalid, "member_required")
	case member == "":
		return nil
	}
	_, err := m.activeMember(account, member)
	return err
}

// reserveMember counts hold h against its member's limit in the period
// under way at now, or refuses it.
func (m *model) reserveMember(h *mHold, now time.Time) error {
	x, err := m.activeMember(h.account, h.member)
	if err != nil {
		return err
	}
	from, to, sub := m.memberPeriodFor(h.account, h.member, now)
	k := periodKey(h.account, h.member, from)
	p := m.periods[k]
	if p == nil {
		p = &mPeriod{account: h.account, member: h.member, start: from, end: to}
		m.periods[k] = p
	}
	if x.limit != nil && p.used+h.amount > *x.limit {
		left := max(0, *x.limit-p.used)
		return &refusal{code: credit.InsufficientCredits, reason: "member_limit_exceeded", amounts: true,
			available: left, eligible: left, required: h.amount, resetsAt: to, account: h.account, member: h.member}
	}
	if h.amount > 0 {
		p.used += h.amount
		p.limit = cloneLimit(x.limit)
	}
	if sub {
		m.reached[teamSubPeriod]++
	}
	h.memberPeriod = from
	return nil
}

// returnMember gives amount of hold h back to the period it counts in.
func (m *model) returnMember(h *mHold, amount credit.Credits, at time.Time) {
	if h.member == "" || amount == 0 {
		return
	}
	p := m.periods[periodKey(h.account, h.member, h.memberPeriod)]
	if p == nil {
		panic(fmt.Sprintf("storetest: hold %s of member %s counts in no period of the model", h.id, h.member))
	}
	p.used -= amount
	if !at.Before(p.end) {
		m.reached[teamReturnEnded]++
	}
	if x := m.members[memberKey(h.account, h.member)]; x != nil && !x.removedAt.IsZero() {
		m.reached[teamRemovedResolve]++
	}
}

// dueAt reports whether something of account is past its time at now: an
// open hold's TTL, a grant's expiry, a subscription's renewal.
func (m *model) dueAt(account string, now time.Time) bool {
	for _, h := range m.holds {
		if h.account == account && h.status == credit.HoldOpen && !now.Before(h.expiresAt) {
			return true
		}
	}
	for _, id := range m.accounts[account].grants {
		if g := m.grants[id]; !g.ovd && !g.expired && !g.expiresAt.IsZero() && !now.Before(g.expiresAt) {
			return true
		}
	}
	for _, id := range m.accounts[account].subs {
		if r := m.subs[id].renewsAt; !r.IsZero() && !now.Before(r) {
			return true
		}
	}
	return false
}

// holdDue reports whether an open hold of account is past its TTL at now.
func (m *model) holdDue(account string, now time.Time) bool {
	for _, h := range m.holds {
		if h.account == account && h.status == credit.HoldOpen && !now.Before(h.expiresAt) {
			return true
		}
	}
	return false
}

// mMemberView is what Ledger.Members (or a member write) shows of a member.
type mMemberView struct {
	member       string
	limit        *credit.Credits
	used         credit.Credits
	from, to     time.Time
	hasRemaining bool
	remaining    credit.Credits
}

func (v mMemberView) text() string {
	rem := "none"
	if v.hasRemaining {
		rem = v.remaining.String()
	}
	return fmt.Sprintf("%s limit %s used %s remaining %s period %s – %s", v.member, limitText(v.limit), v.used, rem, timeText(v.from), timeText(v.to))
}

func memberViewText(v credit.MemberView) string {
	rem := "none"
	if v.Remaining != nil {
		rem = v.Remaining.String()
	}
	return fmt.Sprintf("%s limit %s used %s remaining %s period %s – %s", v.Member, limitText(v.MonthlyLimit), v.Used, rem, timeText(v.PeriodStart), timeText(v.PeriodEnd))
}

// memberView returns member x's view at now, from the periods as they are
// (a read settles nothing).
func (m *model) memberView(x *mMember, now time.Time) mMemberView {
	from, to, _ := m.memberPeriodFor(x.account, x.id, now)
	var used credit.Credits
	if p := m.periods[periodKey(x.account, x.id, from)]; p != nil {
		used = p.used
	}
	v := mMemberView{member: x.id, limit: cloneLimit(x.limit), used: used, from: from, to: to}
	if x.limit != nil {
		v.hasRemaining, v.remaining = true, max(0, *x.limit-used)
	}
	return v
}

// membersView is Ledger.Members: the team's members who have not left, by id.
func (m *model) membersView(account string, now time.Time) ([]mMemberView, error) {
	if m.accounts[account].kind != credit.AccountTeam {
		return nil, refuse(credit.Invalid, "not_a_team")
	}
	var out []mMemberView
	for _, x := range m.teamMembers(account) {
		if x.removedAt.IsZero() {
			out = append(out, m.memberView(x, now))
		}
	}
	return out, nil
}

// teamMembers returns a team's members, removed ones too, by id.
func (m *model) teamMembers(account string) []*mMember {
	var out []*mMember
	for _, x := range m.members {
		if x.account == account {
			out = append(out, x)
		}
	}
	slices.SortFunc(out, func(a, b *mMember) int { return strings.Compare(a.id, b.id) })
	return out
}

// setMember is SetMember: a new member, a limit changed, or a member who
// left set again (keeping their periods); set as they are, nothing changes.
func (m *model) setMember(account, id string, limit *credit.Credits, now time.Time) (mMemberView, error) {
	if m.accounts[account].kind != credit.AccountTeam {
		return mMemberView{}, refuse(credit.Invalid, "not_a_team")
	}
	m.begin(account, now)
	x := m.members[memberKey(account, id)]
	if x != nil && x.removedAt.IsZero() && sameLimit(x.limit, limit) {
		return m.memberView(x, now), nil
	}
	if x == nil {
		x = &mMember{account: account, id: id, createdAt: now}
		m.members[memberKey(account, id)] = x
	} else if !x.removedAt.IsZero() {
		m.reached[teamReadded]++
	}
	x.limit, x.updatedAt, x.removedAt = cloneLimit(limit), now, time.Time{}
	return m.memberView(x, now), nil
}

// removeMember is RemoveMember: the member leaves; their holds stay.
func (m *model) removeMember(account, id string, now time.Time) (mMemberView, error) {
	x, err := m.activeMember(account, id)
	if err != nil {
		return mMemberView{}, err
	}
	m.begin(account, now)
	x.removedAt, x.updatedAt = now, now
	return m.memberView(x, now), nil
}

// memberCharged returns what each member of account was charged net of
// refunds, by all their holds and generations.
func (m *model) memberCharged(account string) map[string]credit.Credits {
	out := map[string]credit.Credits{}
	for _, h := range m.holds {
		if h.account == account && h.member != "" && h.captured != 0 {
			out[h.member] += h.captured
		}
	}
	for _, g := range m.gens {
		if g.account == account && g.member != "" && g.refunded != 0 {
			out[g.member] -= g.refunded
		}
	}
	return out
}

// compareTeams checks the store's teams against the model: accounts'
// kinds, members, member periods, and the member of every hold and
// generation.
func (m *model) compareTeams(s *credit.Snapshot) []string {
	var d []string
	bad := func(format string, args ...any) { d = append(d, fmt.Sprintf(format, args...)) }
	for _, a := range s.Accounts {
		if ma := m.accounts[a.ID]; ma != nil && a.Kind != cmp.Or(ma.kind, credit.AccountUser) {
			bad("account %s is of kind %q; model %q", a.ID, a.Kind, cmp.Or(ma.kind, credit.AccountUser))
		}
	}
	seen := 0
	for _, x := range s.Members {
		mx := m.members[memberKey(x.Account, x.ID)]
		if mx == nil {
			bad("member %s of %s is not in the model", x.ID, x.Account)
			continue
		}
		seen++
		got := fmt.Sprintf("limit %s created %s updated %s removed %s", limitText(x.MonthlyLimit), timeText(x.CreatedAt), timeText(x.UpdatedAt), timeText(x.RemovedAt))
		want := fmt.Sprintf("limit %s created %s updated %s removed %s", limitText(mx.limit), timeText(mx.createdAt), timeText(mx.updatedAt), timeText(mx.removedAt))
		if got != want {
			bad("member %s of %s: %s; model %s", x.ID, x.Account, got, want)
		}
	}
	if seen != len(m.members) {
		bad("store has %d members; model %d", seen, len(m.members))
	}
	seen = 0
	for _, p := range s.MemberPeriods {
		mp := m.periods[periodKey(p.Account, p.Member, p.Start)]
		if mp == nil {
			bad("member period of %s of %s from %s (used %s) is not in the model", p.Member, p.Account, timeText(p.Start), p.Used)
			continue
		}
		seen++
		got := fmt.Sprintf("to %s used %s limit %s reached %s", timeText(p.End), p.Used, limitText(p.Limit), timeText(p.Reached))
		want := fmt.Sprintf("to %s used %s limit %s reached %s", timeText(mp.end), mp.used, limitText(mp.limit), timeText(mp.reached))
		if got != want {
			bad("member period of %s of %s from %s: %s; model %s", p.Member, p.Account, timeText(p.Start), got, want)
		}
	}
	if seen != len(m.periods) {
		var missing []string
		for _, p := range m.periods {
			if !slices.ContainsFunc(s.MemberPeriods, func(sp credit.MemberPeriod) bool {
				return sp.Account == p.account && sp.Member == p.member && sp.Start.Equal(p.start)
			}) {
				missing = append(missing, fmt.Sprintf("%s of %s from %s (used %s)", p.member, p.account, timeText(p.start), p.used))
			}
		}
		slices.Sort(missing)
		bad("store has %d member periods; model %d (not in the store: %s)", seen, len(m.periods), strings.Join(missing, ", "))
	}
	for _, h := range s.Holds {
		if mh := m.holds[h.ID]; mh != nil && (h.Member != mh.member || !h.MemberPeriod.Equal(mh.memberPeriod)) {
			bad("hold %s: member %q period %s; model %q %s", h.ID, h.Member, timeText(h.MemberPeriod), mh.member, timeText(mh.memberPeriod))
		}
	}
	for _, g := range s.Generations {
		if mg := m.gens[g.ID]; mg != nil && g.Member != mg.member {
			bad("generation %s: member %q; model %q", g.ID, g.Member, mg.member)
		}
	}
	return d
}
