package storetest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// The flows of teams (SPEC §8) on a real store: a team's members spend one
// pool within their monthly limits, reserved with the pool in one atomic
// step. Prices are the seed page's (Flux Dev 5 an image, Nano Banana 2 73.5
// at 2K) unless a flow says otherwise; every number is worked out by hand
// in its comment (teamperiods.go: members' periods and usage; teambugs.go:
// regressions).
func teamFlows() []flow {
	return append([]flow{
		{name: "TeamMemberLimitRace", fn: flowTeamMemberLimitRace},
		{name: "TeamPoolRace", fn: flowTeamPoolRace},
		{name: "TeamPeriodCalendarDST", fn: flowTeamPeriodCalendarDST},
		{name: "TeamPeriodSubscriptionDST", fn: flowTeamPeriodSubscriptionDST, catalog: plansCatalog},
		{name: "TeamMemberLifecycle", fn: flowTeamMemberLifecycle},
		{name: "TeamBadInputs", fn: flowTeamBadInputs},
		{name: "TeamUsageByMember", fn: flowTeamUsageByMember},
	}, teamBugFlows()...)
}

// limitOf returns n whole credits as a member's limit.
func limitOf(n int64) *credit.Credits {
	c := credit.Whole(n)
	return &c
}

func (e *env) team(id, zone string) {
	e.t.Helper()
	e.openAccount(credit.AccountSpec{ID: id, Kind: credit.AccountTeam, TimeZone: zone})
}

func (e *env) setMember(team, member string, limit *credit.Credits) credit.MemberView {
	e.t.Helper()
	v, err := e.ledger.SetMember(e.ctx, nil, team, member, limit)
	if err != nil {
		e.t.Fatalf("SetMember(%s, %s, %s) = %v", team, member, limitText(limit), err)
	}
	return v
}

func (e *env) memberGen(team, member string, r credit.QuoteRequest) credit.Generation {
	e.t.Helper()
	g, err := e.ledger.CreateGeneration(e.ctx, nil, credit.GenerationSpec{Account: team, Member: member, Request: r})
	if err != nil {
		e.t.Fatalf("CreateGeneration(%s by %s, %+v) = %v", team, member, r, err)
	}
	if g.Member != member {
		e.t.Errorf("generation %s is member %q's; want %q", g.ID, g.Member, member)
	}
	return g
}

func (e *env) memberHold(team, member string, c credit.Credits, ttl time.Duration) credit.Hold {
	e.t.Helper()
	h, err := e.ledger.CreateHold(e.ctx, nil, team, credit.HoldSpec{Credits: c, TTL: ttl, Member: member})
	if err != nil {
		e.t.Fatalf("CreateHold(%s by %s, %s) = %v", team, member, c, err)
	}
	return h
}

// wantPeriod checks the member period of member from start, straight from
// the store: its end, used and the limit it was checked against.
func (e *env) wantPeriod(team, member string, start, end time.Time, used credit.Credits, limit *credit.Credits) {
	e.t.Helper()
	for _, p := range e.snapshot().MemberPeriods {
		if p.Account == team && p.Member == member && p.Start.Equal(start) {
			if !p.End.Equal(end) || p.Used != used || !sameLimit(p.Limit, limit) {
				e.t.Errorf("member %s's period from %s: to %s, used %s, limit %s; want to %s, used %s, limit %s", member, timeText(start),
					timeText(p.End), p.Used, limitText(p.Limit), timeText(end), used, limitText(limit))
			}
			return
		}
	}
	e.t.Errorf("member %s of %s has no period from %s", member, team, timeText(start))
}

// wantMember checks a member as Ledger.Members shows them.
func (e *env) wantMember(team, member string, used credit.Credits, remaining *credit.Credits, from, to time.Time) {
	e.t.Helper()
	ms, err := e.ledger.Members(e.ctx, team)
	if err != nil {
		e.t.Fatalf("Members(%s) = %v", team, err)
	}
	for _, v := range ms {
		if v.Member == member {
			want := memberViewText(credit.MemberView{Member: member, MonthlyLimit: v.MonthlyLimit, Used: used, Remaining: remaining, PeriodStart: from, PeriodEnd: to})
			if got := memberViewText(v); got != want {
				e.t.Errorf("Members(%s): %s; want %s", team, got, want)
			}
			return
		}
	}
	e.t.Errorf("Members(%s) = %+v: no %s", team, ms, member)
}

// wantLimitRefusal checks a member_limit_exceeded refusal: what is left of
// the limit, what was asked, and when the period ends.
func wantLimitRefusal(t testing.TB, what string, err error, left, required credit.Credits, resets time.Time) {
	t.Helper()
	wantErr(t, what, err, credit.InsufficientCredits, "member_limit_exceeded")
	if x := asError(err); x != nil && (x.Available != left || x.Required != required || !x.ResetsAt.Equal(resets)) {
		t.Errorf("%s: refusal says %s left, %s required, resets at %s; want %s, %s, %s", what, x.Available, x.Required, timeText(x.ResetsAt), left, required, timeText(resets))
	}
}

// flowTeamMemberLimitRace: 64 generations of 10 race on one member whose
// limit is 200, through two nodes, on a pool of 1000 that could pay for
// all of them: the limit is reserved with the pool in one step, so exactly
// 20 are held and 44 refused member_limit_exceeded with nothing left;
// releases give the limit back.
func flowTeamMemberLimitRace(t *testing.T, e *env) {
	e.clock.Set(at("2026-06-10T12:00:00Z"))
	june, july := at("2026-06-01T00:00:00Z"), at("2026-07-01T00:00:00Z")
	e.team("studio", "")
	e.topup("studio", 1000)
	e.setMember("studio", "ann", limitOf(200))
	ten := images(fluxDev, 2) // 2 × 5
	// Half the racers go through another node on the same store.
	node2 := credit.NewLedger(e.store, credit.LedgerConfig{Now: e.clock.Now, Catalog: func() *credit.Catalog { return seedCatalog() }})
	nodes := []*credit.Ledger{e.ledger, node2}
	var mu sync.Mutex
	var held []credit.Generation
	refused := 0
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 64 {
		wg.Go(func() {
			<-start
			g, err := nodes[i%2].CreateGeneration(e.ctx, nil, credit.GenerationSpec{Account: "studio", Member: "ann", Request: ten})
			mu.Lock()
			defer mu.Unlock()
			switch credit.ErrorReason(err) {
			case "":
				held = append(held, g)
			case "member_limit_exceeded":
				refused++
				wantLimitRefusal(t, fmt.Sprintf("goroutine %d", i), err, 0, credit.Whole(10), july)
			default:
				t.Errorf("goroutine %d: CreateGeneration = %v; want success or member_limit_exceeded", i, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if len(held) != 20 || refused != 44 {
		t.Fatalf("64 generations of 10 on a limit of 200: %d held, %d refused; want 20, 44", len(held), refused)
	}
	e.balances("studio", credit.Whole(800), credit.Whole(200))
	e.wantPeriod("studio", "ann", june, july, credit.Whole(200), limitOf(200))
	e.wantMember("studio", "ann", credit.Whole(200), limitOf(0), june, july)

	// Three fail (30 back), two deliver one image of two (5 charged, 5
	// back each): 200 − 30 − 10 = 160 used, 40 left.
	for _, g := range held[:3] {
		if _, err := e.ledger.FailGeneration(e.ctx, nil, g.ID); err != nil {
			t.Fatal(err)
		}
	}
	for _, g := range held[3:5] {
		e.complete(g.ID, 1)
	}
	e.wantMember("studio", "ann", credit.Whole(160), limitOf(40), june, july)
	for range 4 {
		e.memberGen("studio", "ann", ten)
	}
	e.unchanged("a generation past the limit again", func() {
		_, err := e.ledger.CreateGeneration(e.ctx, nil, credit.GenerationSpec{Account: "studio", Member: "ann", Request: ten})
		wantLimitRefusal(t, "the 25th generation", err, 0, credit.Whole(10), july)
	})
	// The pool: 1000 − 10 charged; held 20 × 10 − 30 − 20 + 40 = 190.
	e.balances("studio", credit.Whole(800), credit.Whole(190))
	e.wantPeriod("studio", "ann", june, july, credit.Whole(200), limitOf(200))
}

// flowTeamPoolRace: two members with no limit race 64 generations of 5 on a
// pool of 100: exactly 20 are held, 44 are insufficient_credits, and the
// pool is never below zero, read as the race runs.
func flowTeamPoolRace(t *testing.T, e *env) {
	e.clock.Set(at("2026-06-10T12:00:00Z"))
	june, july := at("2026-06-01T00:00:00Z"), at("2026-07-01T00:00:00Z")
	e.team("pool", "")
	e.topup("pool", 100)
	e.setMember("pool", "a", nil)
	e.setMember("pool", "b", nil)
	var mu sync.Mutex
	held := map[string]int{}
	insufficient := 0
	var wg sync.WaitGroup
	start := make(chan struct{})
	done := make(chan struct{})
	var reader sync.WaitGroup
	reader.Go(func() {
		<-start
		for {
			v, err := e.ledger.Account(e.ctx, "pool")
			if err != nil {
				t.Errorf("Account(pool) during the race = %v", err)
				return
			}
			if v.Available < 0 || v.Available+v.Held != credit.Whole(100) {
				t.Errorf("Account(pool) during the race: available %s, held %s; want ≥ 0, summing to 100", v.Available, v.Held)
			}
			select {
			case <-done:
				return
			default:
			}
		}
	})
	for i := range 64 {
		member := []string{"a", "b"}[i%2]
		wg.Go(func() {
			<-start
			_, err := e.ledger.CreateGeneration(e.ctx, nil, credit.GenerationSpec{Account: "pool", Member: member, Request: fluxDev})
			mu.Lock()
			defer mu.Unlock()
			switch credit.ErrorReason(err) {
			case "":
				held[member]++
			case "insufficient_credits":
				insufficient++
				if x := asError(err); x == nil || x.Required != credit.Whole(5) || x.Available >= credit.Whole(5) || x.Available < 0 {
					t.Errorf("goroutine %d: refusal %+v; want required 5, available 0 to under 5", i, x)
				}
			default:
				t.Errorf("goroutine %d (%s): CreateGeneration = %v; want success or insufficient_credits", i, member, err)
			}
		})
	}
	close(start)
	wg.Wait()
	close(done)
	reader.Wait()
	if held["a"]+held["b"] != 20 || insufficient != 44 {
		t.Fatalf("64 generations of 5 on a pool of 100: %v held, %d insufficient; want 20 in all, 44", held, insufficient)
	}
	e.balances("pool", 0, credit.Whole(100))
	for _, m := range []string{"a", "b"} {
		used := credit.Whole(5) * credit.Credits(held[m])
		e.wantMember("pool", m, used, nil, june, july)
		if held[m] > 0 {
			e.wantPeriod("pool", m, june, july, used, nil)
		}
	}
}

// flowTeamMemberLifecycle: a member who leaves keeps their holds, which
// still resolve and give back; set again, they keep the period's usage; a
// limit lowered below it stops the next generation; refunds give back; a
// generic hold of a member counts; setting a member as they are writes
// nothing. The team is in UTC; June's period is [1 June, 1 July).
func flowTeamMemberLifecycle(t *testing.T, e *env) {
	e.clock.Set(at("2026-06-10T12:00:00Z"))
	created := e.clock.Now()
	june, july := at("2026-06-01T00:00:00Z"), at("2026-07-01T00:00:00Z")
	e.team("crew", "")
	e.topup("crew", 500)
	if v := e.setMember("crew", "a", limitOf(100)); memberViewText(v) != memberViewText(credit.MemberView{Member: "a", MonthlyLimit: limitOf(100), Remaining: limitOf(100), PeriodStart: june, PeriodEnd: july}) {
		t.Errorf("SetMember(a) = %+v; want 0 used of 100, June", v)
	}
	e.setMember("crew", "b", nil)

	e.clock.Add(time.Minute)
	gA := e.memberGen("crew", "a", images(fluxDev, 4)) // 20
	hA := e.memberHold("crew", "a", credit.Whole(60), time.Hour)
	e.wantPeriod("crew", "a", june, july, credit.Whole(80), limitOf(100))
	if _, err := e.ledger.RemoveMember(e.ctx, nil, "crew", "a"); err != nil {
		t.Fatal(err)
	}
	if ms, err := e.ledger.Members(e.ctx, "crew"); err != nil || len(ms) != 1 || ms[0].Member != "b" {
		t.Errorf("Members(crew) after a left = %+v, %v; want b only", ms, err)
	}
	e.unchanged("a removed member's requests", func() {
		_, err := e.ledger.CreateGeneration(e.ctx, nil, credit.GenerationSpec{Account: "crew", Member: "a", Request: fluxDev})
		wantErr(t, "a generation by a member who left", err, credit.NotFound, "unknown_member")
		_, err = e.ledger.CreateHold(e.ctx, nil, "crew", credit.HoldSpec{Credits: credit.Whole(1), Member: "a"})
		wantErr(t, "a hold by a member who left", err, credit.NotFound, "unknown_member")
		_, err = e.ledger.RemoveMember(e.ctx, nil, "crew", "a")
		wantErr(t, "RemoveMember twice", err, credit.NotFound, "unknown_member")
	})
	// Their open holds still resolve: 20 back, then 30 of 60 back.
	if _, err := e.ledger.FailGeneration(e.ctx, nil, gA.ID); err != nil {
		t.Fatal(err)
	}
	part := credit.Whole(30)
	if _, err := e.ledger.CaptureHold(e.ctx, nil, hA.ID, &part); err != nil {
		t.Fatal(err)
	}
	e.wantPeriod("crew", "a", june, july, credit.Whole(30), limitOf(100))

	// Back, with a limit of 20: the 30 used are kept, nothing is left.
	e.clock.Add(time.Minute)
	readded := e.clock.Now()
	v := e.setMember("crew", "a", limitOf(20))
	if v.Used != credit.Whole(30) || v.Remaining == nil || *v.Remaining != 0 {
		t.Errorf("a set again: %+v; want 30 used (kept), 0 left", v)
	}
	for _, m := range e.snapshot().Members {
		if m.Account == "crew" && m.ID == "a" && (!m.CreatedAt.Equal(created) || !m.UpdatedAt.Equal(readded) || !m.RemovedAt.IsZero()) {
			t.Errorf("member a: created %v, updated %v, removed %v; want created %v, updated %v, not removed", m.CreatedAt, m.UpdatedAt, m.RemovedAt, created, readded)
		}
	}
	e.unchanged("a generation past a lowered limit", func() {
		_, err := e.ledger.CreateGeneration(e.ctx, nil, credit.GenerationSpec{Account: "crew", Member: "a", Request: fluxDev})
		wantLimitRefusal(t, "a generation of 5 with 30 used of 20", err, 0, credit.Whole(5), july)
	})
	e.clock.Add(time.Second)
	e.still("setting a member as they are", func() {
		if _, err := e.ledger.SetMember(e.ctx, nil, "crew", "a", limitOf(20)); err != nil {
			t.Error(err)
		}
	})

	// A limit of 100 again: 70 left. A generation of 20 delivered, then
	// refunded 5 and the rest: 30 + 20 − 5 − 15 = 30.
	e.setMember("crew", "a", limitOf(100))
	g := e.memberGen("crew", "a", images(fluxDev, 4))
	e.complete(g.ID, 4)
	e.wantMember("crew", "a", credit.Whole(50), limitOf(50), june, july)
	five := credit.Whole(5)
	if _, err := e.ledger.RefundGeneration(e.ctx, nil, g.ID, &five); err != nil {
		t.Fatal(err)
	}
	e.wantPeriod("crew", "a", june, july, credit.Whole(45), limitOf(100))
	if _, err := e.ledger.RefundGeneration(e.ctx, nil, g.ID, nil); err != nil {
		t.Fatal(err)
	}
	e.wantMember("crew", "a", credit.Whole(30), limitOf(70), june, july)

	// A generic hold of b's: 7 held, 5 captured, 2 back.
	h := e.memberHold("crew", "b", credit.Whole(7), 0)
	if h.Member != "b" || !h.MemberPeriod.Equal(june) {
		t.Errorf("hold of b: member %q, period %s; want b, June", h.Member, timeText(h.MemberPeriod))
	}
	five = credit.Whole(5)
	if _, err := e.ledger.CaptureHold(e.ctx, nil, h.ID, &five); err != nil {
		t.Fatal(err)
	}
	e.wantPeriod("crew", "b", june, july, credit.Whole(5), nil)
	for _, x := range e.journal("crew") {
		if x.Ref == h.ID && x.Member != "b" {
			t.Errorf("entry %d (%s) of b's hold: member %q; want b", x.ID, x.Kind, x.Member)
		}
	}
	// The pool: 500 − a's 30 captured − b's 5 (a's 20 refunded).
	e.balances("crew", credit.Whole(465), 0)

	log, err := e.ledger.Audit(e.ctx, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	var actions []string
	for _, a := range log {
		if strings.HasPrefix(a.Action, "member.") {
			actions = append(actions, a.Action)
		}
	}
	// Newest first: set a (100), set a (20), remove a, set b, set a; not
	// the set as it was.
	want := []string{credit.AuditMemberSet, credit.AuditMemberSet, credit.AuditMemberRemove, credit.AuditMemberSet, credit.AuditMemberSet}
	if strings.Join(actions, " ") != strings.Join(want, " ") {
		t.Errorf("member audit entries %v; want %v", actions, want)
	}
}

// flowTeamBadInputs: requests that do not fit a team or a user's account
// are refused and write nothing.
func flowTeamBadInputs(t *testing.T, e *env) {
	e.clock.Set(at("2026-06-10T12:00:00Z"))
	e.team("crew", "Europe/Berlin")
	e.topup("crew", 100)
	e.setMember("crew", "a", limitOf(10))
	e.account("solo", 0)
	e.topup("solo", 100)
	e.clock.Add(time.Minute)
	e.unchanged("bad team requests", func() {
		gen := func(account, member string) error {
			_, err := e.ledger.CreateGeneration(e.ctx, nil, credit.GenerationSpec{Account: account, Member: member, Request: fluxDev})
			return err
		}
		hold := func(account, member string) error {
			_, err := e.ledger.CreateHold(e.ctx, nil, account, credit.HoldSpec{Credits: credit.Whole(1), Member: member})
			return err
		}
		for _, c := range []struct {
			what         string
			err          error
			code, reason string
		}{
			{"a team's generation of no member", gen("crew", ""), credit.Invalid, "member_required"},
			{"a team's hold of no member", hold("crew", ""), credit.Invalid, "member_required"},
			{"a generation of a stranger", gen("crew", "zed"), credit.NotFound, "unknown_member"},
			{"a hold of a stranger", hold("crew", "zed"), credit.NotFound, "unknown_member"},
			{"a generation of a bad member id", gen("crew", "a b"), credit.Invalid, "invalid_member_id"},
			{"a hold of a bad member id", hold("crew", "a\x00"), credit.Invalid, "invalid_member_id"},
			{"a user's generation of a member", gen("solo", "a"), credit.Invalid, "not_a_team"},
			{"a user's hold of a member", hold("solo", "a"), credit.Invalid, "not_a_team"},
		} {
			wantErr(t, c.what, c.err, c.code, c.reason)
		}
		_, err := e.ledger.SetMember(e.ctx, nil, "solo", "a", nil)
		wantErr(t, "SetMember on a user's account", err, credit.Invalid, "not_a_team")
		_, err = e.ledger.RemoveMember(e.ctx, nil, "solo", "a")
		wantErr(t, "RemoveMember on a user's account", err, credit.Invalid, "not_a_team")
		_, err = e.ledger.Members(e.ctx, "solo")
		wantErr(t, "Members of a user's account", err, credit.Invalid, "not_a_team")
		_, err = e.ledger.SetMember(e.ctx, nil, "nobody", "a", nil)
		wantErr(t, "SetMember on no account", err, credit.NotFound, "unknown_account")
		_, err = e.ledger.Members(e.ctx, "nobody")
		wantErr(t, "Members of no account", err, credit.NotFound, "unknown_account")
		_, err = e.ledger.RemoveMember(e.ctx, nil, "crew", "zed")
		wantErr(t, "RemoveMember of a stranger", err, credit.NotFound, "unknown_member")
		for _, id := range []string{"", "a b", "tab\tin", "..", strings.Repeat("x", 129)} {
			_, err = e.ledger.SetMember(e.ctx, nil, "crew", id, nil)
			wantErr(t, fmt.Sprintf("SetMember(%q)", id), err, credit.Invalid, "invalid_member_id")
		}
		for _, l := range []credit.Credits{-1, credit.MaxCredits + 1} {
			_, err = e.ledger.SetMember(e.ctx, nil, "crew", "a", &l)
			wantErr(t, fmt.Sprintf("SetMember(limit %s)", l), err, credit.Invalid, "invalid_amount")
		}
		_, err = e.ledger.OpenAccount(e.ctx, nil, credit.AccountSpec{ID: "club", Kind: "club"})
		wantErr(t, "OpenAccount(kind club)", err, credit.Invalid, "invalid_account_kind")
	})
	// A request over a's limit is refused, and writes only a's period
	// (made, with nothing used: member.limit_reached tells of it, once).
	before := e.snapshot()
	_, err := e.ledger.CreateGeneration(e.ctx, nil, credit.GenerationSpec{Account: "crew", Member: "a", Request: images(fluxDev, 3)})
	wantLimitRefusal(t, "15 of a limit of 10", err, credit.Whole(10), credit.Whole(15), at("2026-06-30T22:00:00Z")) // 1 July 00:00 CEST
	if d := diffSnapshots(before, e.snapshot()); !strings.HasPrefix(d, "new member period crew/a/2026-05-31T22:00:00Z: used 0,") || strings.Contains(d, ";") {
		t.Errorf("a request over the limit wrote: %s; want a's period of June (from 00:00 CEST), used 0, only", d)
	}
	// A generation of 5 fits a's 10; the kinds are as opened.
	e.memberGen("crew", "a", fluxDev)
	kinds := map[string]credit.AccountKind{}
	for _, a := range e.snapshot().Accounts {
		kinds[a.ID] = a.Kind
	}
	if kinds["crew"] != credit.AccountTeam || kinds["solo"] != credit.AccountUser {
		t.Errorf("account kinds %v; want crew a team, solo a user", kinds)
	}
}
