package credit

import (
	"cmp"
	"context"
	"slices"
	"time"
)

// A team is an account whose credits are one pool its members spend: its
// subscription's allowances and its top-ups are grants like any account's.
// What a team adds is a budget per member: an admin sets each member a
// monthly limit (or none), and a member's holds reserve against it in the
// same step as they reserve the pool (Book.reserveMember, beside
// Book.reserve), under the team's lock.
//
// A member's period follows the team's billing: the month of its active
// subscription (renewal day and time zone, as the allowances), or the
// calendar month in the team's time zone when it has none; a period under
// way runs to its end when the billing changes (memberPeriodFor). What a period
// counts is a MemberPeriod row: a hold adds its amount when it is made, and
// whatever of it is not charged in the end (a release, a failure, an
// expiry, a refund) is given back to the same period — so a period's Used
// is always captured + held − returned of the holds made in it, and a
// return after the period has ended changes that period's record, not the
// budget of the one under way (which never counted it).

// AccountKind says what an account is.
type AccountKind string

// The account kinds.
const (
	AccountUser AccountKind = "user" // one person's wallet
	AccountTeam AccountKind = "team" // a shared pool with members
)

// Member is one person of a team, with their monthly budget of the pool.
type Member struct {
	Account string // the team
	ID      string // the member: the studio's user id
	// MonthlyLimit is how many credits the member may use of the pool in
	// one period; nil: no limit.
	MonthlyLimit *Credits
	CreatedAt    time.Time
	UpdatedAt    time.Time
	// RemovedAt is when the member left the team; zero while a member. A
	// removed member's open holds resolve as any; they may not make new
	// ones. Set again, they keep the period's usage: leaving and coming
	// back does not reset a budget.
	RemovedAt time.Time
}

// MemberPeriod is what one member used of the team's pool in one period.
type MemberPeriod struct {
	Account string
	Member  string
	Start   time.Time // [Start, End): the team's period (see memberPeriodAt)
	End     time.Time
	// Used is what the holds made in the period hold and charged, less
	// what was returned of them: captured + held − returned.
	Used Credits
	// Limit is the limit the period's last reservation was checked
	// against (nil: none). Used ≤ Limit always holds: a reservation keeps
	// it, a return lowers Used, and an admin who lowers a member's limit
	// below Used changes only what later reservations are checked
	// against.
	Limit *Credits
	// Reached is when member.limit_reached was told of this period (zero:
	// not yet): once a period.
	Reached time.Time
}

// MemberView is a member as the team's admin (or the member) sees them:
// their limit and what is used and left of it in the period under way.
type MemberView struct {
	Member       string
	MonthlyLimit *Credits // nil: no limit
	Used         Credits
	Remaining    *Credits // nil: no limit
	PeriodStart  time.Time
	PeriodEnd    time.Time
}

// memberPeriodFor returns the period of member at t: the member's period
// (of periods) that t falls in, if there is one, else the team's
// (memberPeriodAt). A period runs to its end even when the team's billing
// moves meanwhile — a subscription starts or ends, the time zone changes —
// so that no member's budget starts afresh in the middle of a month; the
// new billing takes over when it ends.
func memberPeriodFor(a *Account, subs []Subscription, periods []MemberPeriod, member string, t time.Time) (from, to time.Time) {
	found := false
	for _, p := range periods {
		if p.Member == member && !t.Before(p.Start) && t.Before(p.End) && (!found || p.Start.After(from)) {
			from, to, found = p.Start, p.End, true
		}
	}
	if found {
		return from, to
	}
	return memberPeriodAt(a, subs, t)
}

// memberPeriodAt returns the members' period of team a that t falls in:
// the month of its subscription active at t (from its renewal day, in its
// time zone), else the calendar month in the team's time zone.
func memberPeriodAt(a *Account, subs []Subscription, t time.Time) (from, to time.Time) {
	for i := range subs {
		if s := &subs[i]; s.ActiveAt(t) {
			k := s.monthAt(t)
			return s.monthStart(k), s.monthStart(k + 1)
		}
	}
	loc := mustZone(a.TimeZone)
	y, m, _ := t.In(loc).Date()
	return time.Date(y, m, 1, 0, 0, 0, 0, loc).UTC(), time.Date(y, m+1, 1, 0, 0, 0, 0, loc).UTC()
}

func (b *Book) memberAt(id string) *Member {
	for i := range b.cur.Members {
		if b.cur.Members[i].ID == id {
			return &b.cur.Members[i]
		}
	}
	return nil
}

func (b *Book) memberPeriod(member string, start time.Time) *MemberPeriod {
	for i := range b.cur.MemberPeriods {
		if p := &b.cur.MemberPeriods[i]; p.Member == member && p.Start.Equal(start) {
			return p
		}
	}
	return nil
}

// activeMember returns a member of the team who has not left. Invalid
// not_a_team when the account is not a team; NotFound unknown_member.
func (b *Book) activeMember(id string) (*Member, error) {
	a, err := b.Account()
	if err != nil {
		return nil, err
	}
	if a.Kind != AccountTeam {
		return nil, notTeam(a.ID)
	}
	m := b.memberAt(id)
	if m == nil || !m.RemovedAt.IsZero() {
		return nil, Errorf(NotFound, "unknown_member", "%q is not a member of team %s", shown(id), a.ID)
	}
	return m, nil
}

func notTeam(account string) *Error {
	return Errorf(Invalid, "not_a_team", "account %s is not a team: only a team has members", account)
}

// reserveMember counts a hold of amount against member's limit in the
// period under way at now and records the period on the hold; otherwise
// InsufficientCredits member_limit_exceeded (with what is left of the limit
// as Available) and nothing changes. Like Book.reserve, it checks a value
// loaded under the team's lock: one atomic step.
func (b *Book) reserveMember(h *Hold, now time.Time) error {
	m, err := b.activeMember(h.Member)
	if err != nil {
		return err
	}
	from, to := memberPeriodFor(b.cur.Account, b.cur.Subscriptions, b.cur.MemberPeriods, m.ID, now)
	p := b.memberPeriod(m.ID, from)
	if p == nil {
		b.cur.MemberPeriods = append(b.cur.MemberPeriods, MemberPeriod{Account: b.id, Member: m.ID, Start: from, End: to})
		p = &b.cur.MemberPeriods[len(b.cur.MemberPeriods)-1]
	}
	if m.MonthlyLimit != nil && p.Used+h.Amount > *m.MonthlyLimit {
		b.limitMember = m.ID
		left := max(0, *m.MonthlyLimit-p.Used)
		return &Error{Code: InsufficientCredits, Reason: "member_limit_exceeded",
			Message: "member " + m.ID + " has " + left.String() + " of their " + m.MonthlyLimit.String() +
				" monthly credits left until " + to.Format(time.RFC3339) + "; " + h.Amount.String() + " are needed",
			Available: left, Eligible: left, Required: h.Amount, ResetsAt: to}
	}
	if h.Amount > 0 {
		p.Used += h.Amount
		p.Limit = m.MonthlyLimit
	}
	h.MemberPeriod = from
	return nil
}

// returnMember gives amount of hold h back to the member period it was
// counted in.
func (b *Book) returnMember(h *Hold, amount Credits) error {
	if h.Member == "" || amount == 0 {
		return nil
	}
	p := b.memberPeriod(h.Member, h.MemberPeriod)
	if p == nil {
		return Errorf(Internal, "member_period", "ledger: hold %s counts in a period of member %s that was not loaded", h.ID, h.Member)
	}
	p.Used -= amount
	return nil
}

// memberView returns m's view at now from the book.
func (b *Book) memberView(m *Member, now time.Time) MemberView {
	from, to := memberPeriodFor(b.cur.Account, b.cur.Subscriptions, b.cur.MemberPeriods, m.ID, now)
	var used Credits
	if p := b.memberPeriod(m.ID, from); p != nil {
		used = p.Used
	}
	return newMemberView(m, used, from, to)
}

func newMemberView(m *Member, used Credits, from, to time.Time) MemberView {
	v := MemberView{Member: m.ID, MonthlyLimit: m.MonthlyLimit, Used: used, PeriodStart: from, PeriodEnd: to}
	if m.MonthlyLimit != nil {
		left := max(0, *m.MonthlyLimit-used)
		v.Remaining = &left
	}
	return v
}

// SetMember adds member to team, or changes their monthly limit (nil: no
// limit), and answers the member as the write leaves them. A lower limit
// than what the member used this period stops their next generations, not
// the ones under way. Invalid not_a_team, invalid_account_id (for the
// member's id), invalid_amount; NotFound unknown_account.
func (l *Ledger) SetMember(ctx context.Context, idem *Idempotency, team, member string, limit *Credits) (MemberView, error) {
	if err := checkAccountID(team); err != nil {
		return MemberView{}, err
	}
	if err := checkMemberID(member); err != nil {
		return MemberView{}, err
	}
	if limit != nil && (*limit < 0 || *limit > MaxCredits) {
		return MemberView{}, Errorf(Invalid, "invalid_amount", "monthly_limit_credits must be 0 to %s credits, or null for no limit, not %s", MaxCredits, *limit)
	}
	return update(ctx, l, idem, team, Refs{Members: []string{member}}, func(b *Book, now time.Time) (MemberView, error) {
		a, err := b.Account()
		if err != nil {
			return MemberView{}, err
		}
		if a.Kind != AccountTeam {
			return MemberView{}, notTeam(a.ID)
		}
		if err := settle(b, now); err != nil {
			return MemberView{}, err
		}
		m := b.memberAt(member)
		if m != nil && m.RemovedAt.IsZero() && equalLimit(m.MonthlyLimit, limit) {
			return b.memberView(m, now), nil // set as it is: nothing to write or audit
		}
		if m == nil {
			b.cur.Members = append(b.cur.Members, Member{Account: team, ID: member, CreatedAt: now})
			m = &b.cur.Members[len(b.cur.Members)-1]
		}
		m.MonthlyLimit, m.UpdatedAt, m.RemovedAt = cloneCredits(limit), now, time.Time{}
		detail := struct {
			Member       string   `json:"member"`
			MonthlyLimit *Credits `json:"monthly_limit_credits"`
		}{member, limit}
		if err := audit(ctx, b, now, AuditMemberSet, team, detail); err != nil {
			return MemberView{}, err
		}
		return b.memberView(m, now), nil
	})
}

// RemoveMember takes member out of team: their open holds resolve as any,
// and they may not make new ones. NotFound unknown_account,
// unknown_member; Invalid not_a_team.
func (l *Ledger) RemoveMember(ctx context.Context, idem *Idempotency, team, member string) (MemberView, error) {
	if err := checkAccountID(team); err != nil {
		return MemberView{}, err
	}
	if err := checkMemberID(member); err != nil {
		return MemberView{}, err
	}
	return update(ctx, l, idem, team, Refs{Members: []string{member}}, func(b *Book, now time.Time) (MemberView, error) {
		m, err := b.activeMember(member)
		if err != nil {
			return MemberView{}, err
		}
		if err := settle(b, now); err != nil {
			return MemberView{}, err
		}
		m.RemovedAt, m.UpdatedAt = now, now
		detail := struct {
			Member string `json:"member"`
		}{member}
		if err := audit(ctx, b, now, AuditMemberRemove, team, detail); err != nil {
			return MemberView{}, err
		}
		return b.memberView(m, now), nil
	})
}

// Members returns team's members (those who have not left), by id, with
// what each used of their limit in the period under way. A hold past its
// TTL is released first (a write), as Ledger.Account does: its release
// gives the member's limit back. NotFound unknown_account; Invalid
// not_a_team.
func (l *Ledger) Members(ctx context.Context, team string) ([]MemberView, error) {
	if err := named(team, "account"); err != nil {
		return nil, err
	}
	type read struct {
		members []MemberView
		due     bool
	}
	members := func(tx Tx, now time.Time) (read, error) {
		a, err := tx.Account(team)
		if err != nil {
			return read{}, err
		}
		if a.Kind != AccountTeam {
			return read{}, notTeam(a.ID)
		}
		due, err := tx.DueHolds(team, now, 1)
		if err != nil {
			return read{}, err
		}
		subs, err := tx.Subscriptions(team)
		if err != nil {
			return read{}, err
		}
		ms, err := tx.Members(team)
		if err != nil {
			return read{}, err
		}
		periods, err := tx.MemberPeriods(team, now)
		if err != nil {
			return read{}, err
		}
		out := []MemberView{}
		for i := range ms {
			m := &ms[i]
			if !m.RemovedAt.IsZero() {
				continue
			}
			from, to := memberPeriodFor(&a, subs, periods, m.ID, now)
			var used Credits
			for _, p := range periods {
				if p.Member == m.ID && p.Start.Equal(from) {
					used = p.Used
				}
			}
			out = append(out, newMemberView(m, used, from, to))
		}
		slices.SortFunc(out, func(x, y MemberView) int { return cmp.Compare(x.Member, y.Member) })
		return read{out, len(due) > 0}, nil
	}
	r, err := view(ctx, l, members)
	if err != nil || !r.due {
		return r.members, err
	}
	if _, err := update(ctx, l, nil, team, Refs{}, func(b *Book, now time.Time) (struct{}, error) {
		return struct{}{}, settle(b, now)
	}); err != nil {
		return nil, err
	}
	r, err = view(ctx, l, members)
	return r.members, err
}

// checkMemberID refuses a member id that could not be an account id (the
// studio's user ids are): Invalid invalid_member_id.
func checkMemberID(id string) error {
	if err := CheckAccountID(id); err != nil {
		e := *err.(*Error)
		e.Reason = "invalid_member_id"
		e.Message = "member: " + e.Message
		return &e
	}
	return nil
}

func equalLimit(a, b *Credits) bool {
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return *a == *b
}

func cloneCredits(c *Credits) *Credits {
	if c == nil {
		return nil
	}
	v := *c
	return &v
}

// checkMember refuses a hold's member that does not fit the account: a
// team's holds name one of its members (Invalid member_required; NotFound
// unknown_member), and no other account's do (Invalid not_a_team).
func checkMember(b *Book, member string) error {
	a, err := b.Account()
	if err != nil {
		return err
	}
	switch {
	case a.Kind == AccountTeam && member == "":
		return Errorf(Invalid, "member_required", "account %s is a team: say which member the credits are for (member)", a.ID)
	case member == "":
		return nil
	}
	_, err = b.activeMember(member)
	return err
}

// memberRefs names member for the load of a write (none for "").
func memberRefs(member string) Refs {
	if member == "" {
		return Refs{}
	}
	return Refs{Members: []string{member}}
}
