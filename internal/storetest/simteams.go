package storetest

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// The simulation's teams: two team accounts in the plan accounts' time
// zones, one subscribed from the start, with members limited and not. Their
// generations and holds are the simulation's own steps (createGenerationOn
// and createHold pick a member on a team, and now and then none, a removed
// one or a stranger); the steps here set and remove members, read them and
// the team's usage, and tell stories of holds made just before a member
// period ends and resolved or refunded after it.

// setupTeams opens the teams, one with an overdraft, one subscribed to
// basic, and their members.
func (s *sim) setupTeams() {
	now := s.now()
	for i, t := range []struct {
		id        string
		overdraft credit.Credits
		members   []string
		limits    []int64 // −1: no limit
	}{
		{"team-a", credit.Whole(25), []string{"ana", "ben", "cy"}, []int64{60, 250, -1}},
		{"team-b", 0, []string{"dee", "eli", "fay"}, []int64{40, -1, 150}},
	} {
		zone := simZones[s.rng.IntN(len(simZones))]
		spec := credit.AccountSpec{ID: t.id, TimeZone: zone, Overdraft: t.overdraft, Kind: credit.AccountTeam}
		s.note("open team %s in %s", t.id, zone)
		if _, err := s.e.ledger.OpenAccount(s.e.ctx, nil, spec); err != nil {
			s.fail("OpenAccount(%+v) = %v", spec, err)
		}
		ovd := findGrant(s.t, s.e.snapshot(), t.id, credit.SourceOverdraft)
		s.m.addAccount(t.id, spec.Overdraft, ovd.ID, "", zone, now)
		s.m.accounts[t.id].kind = credit.AccountTeam
		s.accounts = append(s.accounts, t.id)
		s.planAccounts = append(s.planAccounts, t.id)
		s.teams = append(s.teams, t.id)
		for j, id := range t.members {
			var limit *credit.Credits
			if t.limits[j] >= 0 {
				l := credit.Whole(t.limits[j])
				limit = &l
			}
			s.setMemberTo(t.id, id, limit)
		}
		if i == 1 {
			spec := credit.SubscriptionSpec{Plan: "basic"}
			if s.rng.IntN(2) == 0 {
				spec.TimeZone = simZones[s.rng.IntN(len(simZones))]
			}
			s.subscribeWith(t.id, spec)
		}
		top := credit.GrantSpec{Credits: credit.Whole(300), Source: credit.SourceTopup}
		s.note("grant %s %s", t.id, top.Credits)
		g, err := s.e.ledger.AddGrant(s.e.ctx, nil, t.id, top)
		s.apply(err, func(m *model) error { return m.grant(g.ID, t.id, top, now) })
	}
}

func (s *sim) team() string { return s.teams[s.rng.IntN(len(s.teams))] }

func (s *sim) isTeam(acct string) bool { return slices.Contains(s.teams, acct) }

func memberNote(member string) string {
	if member == "" {
		return ""
	}
	return " by " + member
}

// memberFor returns who makes a generation or hold on acct: on a team,
// mostly one of its members (now and then one who left), sometimes none or
// a stranger; on a user's account mostly none, once in a while a team's
// member (refused: not a team).
func (s *sim) memberFor(acct string) string {
	if !s.isTeam(acct) {
		if s.rng.IntN(40) == 0 {
			return "ana"
		}
		return ""
	}
	switch s.rng.IntN(40) {
	case 0:
		return ""
	case 1:
		return "stranger"
	}
	if id := s.pickMember(acct, 10); id != "" {
		return id
	}
	return "stranger"
}

// pickMember picks a member of team, one who has not left unless one in
// anyLeft (or none is left to pick).
func (s *sim) pickMember(team string, anyLeft int) string {
	var active, all []string
	for _, x := range s.m.teamMembers(team) {
		all = append(all, x.id)
		if x.removedAt.IsZero() {
			active = append(active, x.id)
		}
	}
	if len(active) > 0 && s.rng.IntN(anyLeft) > 0 {
		return active[s.rng.IntN(len(active))]
	}
	if len(all) == 0 {
		return ""
	}
	return all[s.rng.IntN(len(all))]
}

// leftMembers returns the members of team who left.
func (s *sim) leftMembers(team string) []string {
	var out []string
	for _, x := range s.m.teamMembers(team) {
		if !x.removedAt.IsZero() {
			out = append(out, x.id)
		}
	}
	return out
}

// setMember adds a member to a team, changes a limit, sets a member who
// left again, or sets one as they are; now and then on a user's account.
func (s *sim) setMember() {
	team := s.team()
	if s.rng.IntN(20) == 0 {
		team = s.accounts[s.rng.IntN(4)] // a user's: not a team
	}
	id := s.pickMember(team, 3)
	if left := s.leftMembers(team); len(left) > 0 && s.rng.IntN(3) == 0 {
		id = left[s.rng.IntN(len(left))]
	} else if id == "" || s.rng.IntN(6) == 0 {
		s.newMembers++
		id = fmt.Sprintf("m%d", s.newMembers)
	}
	var limit *credit.Credits
	switch r := s.rng.IntN(8); {
	case r < 2: // none
	case r < 6:
		l := credit.Whole(int64(s.rng.IntN(300)))
		limit = &l
	default: // as it is
		if x := s.m.members[memberKey(team, id)]; x != nil {
			limit = cloneLimit(x.limit)
		}
	}
	s.setMemberTo(team, id, limit)
}

// setMemberTo sets member id of team with limit and checks the answer
// against the model's.
func (s *sim) setMemberTo(team, id string, limit *credit.Credits) {
	s.note("set member %s of %s limit %s", id, team, limitText(limit))
	key := s.key()
	call := func(k *credit.Idempotency) (string, error) {
		v, err := s.e.ledger.SetMember(s.e.ctx, k, team, id, limit)
		return memberViewText(v), err
	}
	answer, err := call(key)
	now := s.now()
	var want mMemberView
	if s.apply(err, func(m *model) error {
		var err error
		want, err = m.setMember(team, id, limit, now)
		return err
	}) {
		if answer != want.text() {
			s.fail("SetMember(%s, %s) = %s; model %s", team, id, answer, want.text())
		}
		s.remember(key, call, answer)
	}
}

// removeMember takes a member out of a team (one who left already: refused).
func (s *sim) removeMember() {
	team := s.team()
	id := s.pickMember(team, 5)
	if id == "" {
		s.setMember()
		return
	}
	s.note("remove member %s of %s", id, team)
	key := s.key()
	call := func(k *credit.Idempotency) (string, error) {
		v, err := s.e.ledger.RemoveMember(s.e.ctx, k, team, id)
		return memberViewText(v), err
	}
	answer, err := call(key)
	now := s.now()
	var want mMemberView
	if s.apply(err, func(m *model) error {
		var err error
		want, err = m.removeMember(team, id, now)
		return err
	}) {
		if answer != want.text() {
			s.fail("RemoveMember(%s, %s) = %s; model %s", team, id, answer, want.text())
		}
		s.remember(key, call, answer)
	}
}

// readMembers reads a team's members and checks them against the model;
// now and then a user's account, refused. Whether the read settles what is
// due (see flowTeamBugMembersAfterExpiry) the store says: when something
// is, the model settles too if the store did, and the members must be as
// the model then shows them (as they were, or settled, if it did not).
func (s *sim) readMembers() {
	team := s.team()
	if s.rng.IntN(15) == 0 {
		team = s.accounts[s.rng.IntN(4)]
	}
	s.note("read members of %s", team)
	got, err := s.e.ledger.Members(s.e.ctx, team)
	now := s.now()
	want, merr := s.m.membersView(team, now)
	if merr != nil {
		if r := merr.(*refusal); credit.ErrorReason(err) != r.reason {
			s.fail("Members(%s) = %v; model refuses with %s", team, err, r)
		}
		return
	}
	if err != nil {
		s.fail("Members(%s) = %v", team, err)
	}
	// The read settles the team (a write) when one of its holds is past
	// its TTL, and then answers the members as settled.
	settled := s.m.clone()
	settled.settleWrite(team, now)
	wantSettled, _ := settled.membersView(team, now)
	if s.m.holdDue(team, now) {
		s.m, want = settled, wantSettled
	}
	text := func(vs []mMemberView) []string {
		var out []string
		for _, v := range vs {
			out = append(out, v.text())
		}
		return out
	}
	var g []string
	for _, v := range got {
		g = append(g, memberViewText(v))
	}
	if !slices.Equal(g, text(want)) && !slices.Equal(g, text(wantSettled)) {
		s.fail("Members(%s) =\n    %s\n  model\n    %s", team, strings.Join(g, "\n    "), strings.Join(text(want), "\n    "))
	}
}

// teamStory plans a member's generation (or hold) made just before the
// member period under way ends and resolved after it, with the member's
// next generation in the new period between: whatever the first gives back
// (a failure, an expiry, a capture of less, a refund) goes to the period
// that ended, never to the new one. One story at a time, as the other
// stories, and only when a period ends within days.
func (s *sim) teamStory() {
	if len(s.plan) > 0 {
		s.setMember()
		return
	}
	// The team whose member period ends first: the clock goes there.
	var team string
	var end time.Time
	for _, t := range s.teams {
		if _, e, _ := s.m.memberPeriodAt(t, s.now()); team == "" || e.Before(end) {
			team, end = t, e
		}
	}
	member := s.pickMember(team, 1000)
	// Only a period that ends within days: the story does not leap weeks
	// ahead of the rest of the run.
	if member == "" || end.Sub(s.now()) > 8*24*time.Hour {
		s.setMember()
		return
	}
	s.note("plan on %s: %s's hold across the member period's end %s", team, member, timeText(end))
	var gen, hold string
	s.plan = append(s.plan,
		func() {
			if d := end.Sub(s.now()) - time.Duration(1+s.rng.IntN(90))*time.Second; d > 0 {
				s.note("clock +%v (before %s's period ends)", d, member)
				s.advance(d)
			}
			ttl := time.Duration(30+s.rng.IntN(150)) * time.Minute
			if s.rng.IntN(3) == 0 {
				hold = s.createHoldBy(team, member, s.amount(40), ttl)
				return
			}
			pr := prices[[]int{0, 1, 2, 8}[s.rng.IntN(4)]] // 5 to 15 an image
			p := price{req: credit.QuoteRequest{Model: pr.model, Resolution: pr.resolution, Images: 1 + s.rng.IntN(4)}, unit: pr.unit}
			p.images = p.req.Images
			gen = s.createGenerationBy(team, member, p, ttl)
		},
		func() {
			if d := end.Sub(s.now()) + time.Duration(s.rng.IntN(600))*time.Second; d > 0 {
				s.note("clock +%v (past %s's period end)", d, member)
				s.advance(d)
			}
			s.createGenerationBy(team, member, price{req: credit.QuoteRequest{Model: "flux-dev"}, images: 1, unit: credit.Whole(5)}, 0)
		},
		func() {
			switch {
			case gen != "" && s.rng.IntN(4) > 0:
				g := s.m.gens[gen]
				s.completeWith(gen, s.rng.IntN(g.images+1))
			case gen != "":
				s.failOf(gen)
			case hold != "" && s.rng.IntN(3) > 0:
				h := s.m.holds[hold]
				part := credit.Credits(s.rng.Int64N(int64(h.amount))) + 1
				s.captureOf(hold, &part)
			case hold != "":
				s.note("clock +3h (past the hold's TTL)")
				s.advance(3 * time.Hour)
				s.expireDue()
			default:
				s.readMembers()
			}
		},
		func() {
			if gen != "" && s.m.gens[gen].status == credit.GenerationCompleted && s.m.gens[gen].charged > 0 {
				s.refundOf(gen)
				return
			}
			s.readMembers()
		},
	)
}

// captureOf captures amount of generic hold id (nil: all).
func (s *sim) captureOf(id string, amount *credit.Credits) {
	h := s.m.holds[id]
	what := "all"
	if amount != nil {
		what = amount.String()
	}
	s.note("capture %s (%s %s) %s", id, h.status, h.amount, what)
	_, err := s.e.ledger.CaptureHold(s.e.ctx, nil, id, amount)
	now := s.now()
	s.apply(err, func(m *model) error {
		if amount == nil {
			return m.finishHold(id, 0, true, now)
		}
		return m.finishHold(id, *amount, false, now)
	})
}

// teamUsage reads a team's usage by member over the whole run, and each
// member's own, and checks them against what the model's holds captured
// and generations refunded; and a member's view of the team's journal:
// theirs and the pool's entries, never another member's.
func (s *sim) teamUsage() {
	team := s.team()
	now := s.now()
	start := simStarts[uint64(s.seed)%uint64(len(simStarts))]
	from := start.Truncate(24*time.Hour).AddDate(0, 0, -1)
	to := now.Truncate(24*time.Hour).AddDate(0, 0, 2)
	if to.Sub(from) > credit.MaxUsageSpan {
		s.readMembers()
		return
	}
	s.note("usage of %s by member", team)
	got, err := s.e.ledger.Usage(s.e.ctx, team, from, to, credit.ByMember)
	if err != nil {
		s.fail("Usage(%s, by member) = %v", team, err)
	}
	want := s.m.memberCharged(team)
	gotBy := map[string]credit.Credits{}
	for _, g := range got {
		if g.Charged != 0 {
			gotBy[g.Key] = g.Charged
		}
	}
	for k, v := range want {
		if v == 0 {
			delete(want, k)
		}
	}
	if fmt.Sprint(gotBy) != fmt.Sprint(want) {
		s.fail("Usage(%s, by member) = %v; model %v", team, gotBy, want)
	}
	member := s.pickMember(team, 2)
	if member == "" {
		return
	}
	mine, err := s.e.ledger.MemberUsage(s.e.ctx, team, member, from, to, credit.ByModel)
	if err != nil {
		s.fail("MemberUsage(%s, %s) = %v", team, member, err)
	}
	var sum credit.Credits
	for _, g := range mine {
		sum += g.Charged
	}
	if sum != want[member] {
		s.fail("MemberUsage(%s, %s) sums to %s; model %s", team, member, sum, want[member])
	}
	entries, err := s.e.ledger.MemberEntries(s.e.ctx, team, member, 0, credit.MaxPageSize)
	if err != nil {
		s.fail("MemberEntries(%s, %s) = %v", team, member, err)
	}
	var all []credit.Entry
	for _, e := range s.e.snapshot().Entries {
		if e.Account == team && (e.Member == member || e.Member == "") {
			all = append(all, e)
		}
	}
	slices.Reverse(all)
	all = all[:min(len(all), credit.MaxPageSize)]
	if len(entries) != len(all) {
		s.fail("MemberEntries(%s, %s) = %d entries; the journal has %d of theirs and the pool's", team, member, len(entries), len(all))
	}
	for i := range entries {
		if entries[i].ID != all[i].ID || entries[i].Member != all[i].Member {
			s.fail("MemberEntries(%s, %s)[%d] = entry %d of %q; the journal's is %d of %q", team, member, i, entries[i].ID, entries[i].Member, all[i].ID, all[i].Member)
		}
	}
}
