package credit

// Tests of teams with no database: members' limits reserved with the pool,
// given back by releases, failures, expiries and refunds, and their periods
// in the team's calendar across DST. The team is pLedger's one account,
// priced by pCatalog ("std" 10 credits an image); expected numbers are
// worked out by hand in the comments.

import (
	"cmp"
	"context"
	"slices"
	"strings"
	"testing"
	"time"
)

func limitOf(n float64) *Credits { c := cr(n); return &c }

// team opens pLedger's account as a team in zone, with 1,000 credits of
// top-up, and members a (limit 100) and b (no limit).
func team(t *testing.T, now *time.Time, zone string) (*Ledger, *pStore) {
	t.Helper()
	l, st := pLedger(t, now, AccountSpec{Kind: AccountTeam, TimeZone: zone})
	ctx := context.Background()
	if _, err := l.AddGrant(ctx, nil, tAcc, GrantSpec{Credits: cr(1000), Source: SourceTopup}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.SetMember(ctx, nil, tAcc, "a", limitOf(100)); err != nil {
		t.Fatal(err)
	}
	if _, err := l.SetMember(ctx, nil, tAcc, "b", nil); err != nil {
		t.Fatal(err)
	}
	return l, st
}

func memberGen(l *Ledger, member string, images int) (Generation, error) {
	return l.CreateGeneration(context.Background(), nil, GenerationSpec{Account: tAcc, Member: member,
		Request: QuoteRequest{Model: "std", Images: images}})
}

// memberHold holds credits for member with a generic hold of the longest
// TTL.
func memberHold(l *Ledger, member string, credits float64) (Hold, error) {
	return l.CreateHold(context.Background(), nil, tAcc, HoldSpec{Credits: cr(credits), Member: member, TTL: MaxHoldTTL})
}

func mustMemberHold(t *testing.T, l *Ledger, member string, credits float64) Hold {
	t.Helper()
	h, err := memberHold(l, member, credits)
	if err != nil {
		t.Fatalf("%s's hold of %v: %v", member, credits, err)
	}
	return h
}

func mustMemberGen(t *testing.T, l *Ledger, member string, images int) Generation {
	t.Helper()
	g, err := memberGen(l, member, images)
	if err != nil {
		t.Fatalf("%s's generation of %d: %v", member, images, err)
	}
	return g
}

// used returns what member used in the period starting at start.
func used(st *pStore, member string, start time.Time) Credits {
	for _, p := range st.state.MemberPeriods {
		if p.Member == member && p.Start.Equal(start) {
			return p.Used
		}
	}
	return 0
}

// pSnapshot is the whole of the in-memory store, as a store's Snapshot
// would read it (the usage rollup summed from the journal as a store's
// trigger sums it, the report rollups from what each change added).
func pSnapshot(st *pStore) *Snapshot {
	s := st.state.Clone()
	snap := &Snapshot{Accounts: []Account{*s.Account}, Grants: s.Grants, Holds: s.Holds, Generations: s.Generations,
		Subscriptions: s.Subscriptions, Members: s.Members, MemberPeriods: s.MemberPeriods}
	rollup := map[usageKey]*DailyUsage{}
	var id int64
	for _, c := range st.changes {
		for _, e := range c.Entries {
			id++
			e.ID = id
			snap.Entries = append(snap.Entries, e)
			if e.ChargedDelta == 0 && e.ListCredits == 0 {
				continue
			}
			k := usageKey{e.Account, e.Time.UTC().Format(time.DateOnly), e.Model, string(e.ModelKind), e.Member}
			u := rollup[k]
			if u == nil {
				u = &DailyUsage{Account: e.Account, UsageRow: UsageRow{Day: k.day, Model: e.Model, Kind: string(e.ModelKind), Member: e.Member}}
				rollup[k] = u
			}
			u.Charged += e.ChargedDelta
			u.List += e.ListCredits
			if e.ChargedDelta > 0 {
				u.Count++
			}
		}
	}
	for _, u := range rollup {
		snap.Usage = append(snap.Usage, *u)
	}
	snap.Liability, snap.Consumption = rolled(st)
	slices.SortFunc(snap.Holds, func(a, b Hold) int { return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID)) })
	return snap
}

func wantVerified(t *testing.T, st *pStore) {
	t.Helper()
	if vs := VerifySnapshot(pSnapshot(st)); len(vs) > 0 {
		t.Errorf("verify: %v", vs)
	}
}

// TestMemberLimit: a member's holds reserve their limit with the pool in
// one step; captured and held credits count as used; a partial capture,
// a failure and a refund give the rest back; over the limit is 402
// member_limit_exceeded with what remains, and writes nothing.
func TestMemberLimit(t *testing.T) {
	now := utc("2026-06-10T12:00:00Z")
	l, st := team(t, &now, "Europe/Berlin")
	ctx := context.Background()
	june := utc("2026-05-31T22:00:00Z") // 1 Jun 00:00 CEST
	g1 := mustMemberGen(t, l, "a", 4)   // 40
	g2 := mustMemberGen(t, l, "a", 4)   // 80
	if got := used(st, "a", june); got != cr(80) {
		t.Fatalf("a used %s after two holds of 40; want 80", got)
	}
	before := len(st.changes)
	_, err := memberGen(l, "a", 3) // 30 > the 20 left
	e := wantError(t, err, InsufficientCredits, "member_limit_exceeded")
	if e != nil && (e.Available != cr(20) || e.Required != cr(30) || !e.ResetsAt.Equal(utc("2026-06-30T22:00:00Z"))) {
		t.Errorf("refusal says %s left, %s required, resets %s; want 20, 30, 1 Jul 00:00 CEST", e.Available, e.Required, e.ResetsAt)
	}
	// The refusal writes only its news: the period marked Reached and
	// member.limit_reached (see news_test.go); no hold, no entry.
	if written(st) != before {
		c := st.changes[len(st.changes)-1]
		news := len(c.Events) == 1 && c.Events[0].Type == EventMemberLimitReached && len(c.MemberPeriods) == 1 && c.MemberPeriods[0].Used == cr(80)
		c.Events, c.MemberPeriods = nil, nil
		if !news || !c.Empty() {
			t.Errorf("a refused generation wrote %+v", st.changes[len(st.changes)-1])
		}
	}
	mustMemberGen(t, l, "a", 2) // 100: exactly the limit
	// b has no limit: 5 holds of 100 are 500 of the pool.
	for range 5 {
		mustMemberHold(t, l, "b", 100)
	}
	if _, err := l.CompleteGeneration(ctx, nil, g1.ID, 2); err != nil { // 20 charged, 20 back
		t.Fatal(err)
	}
	if _, err := l.FailGeneration(ctx, nil, g2.ID); err != nil { // 40 back
		t.Fatal(err)
	}
	if got := used(st, "a", june); got != cr(40) { // 100 − 20 − 40
		t.Errorf("a used %s after a capture of 2 of 4 and a failure; want 40", got)
	}
	refund := cr(5)
	if _, err := l.RefundGeneration(ctx, nil, g1.ID, &refund); err != nil {
		t.Fatal(err)
	}
	if got := used(st, "a", june); got != cr(35) {
		t.Errorf("a used %s after a refund of 5; want 35", got)
	}
	ms, err := viewMembers(st, now)
	if err != nil {
		t.Fatal(err)
	}
	if a := ms["a"]; a.Used != cr(35) || a.Remaining == nil || *a.Remaining != cr(65) || !a.PeriodEnd.Equal(utc("2026-06-30T22:00:00Z")) {
		t.Errorf("a's view %+v; want 35 used, 65 left, period ending 1 Jul 00:00 CEST", a)
	}
	if b := ms["b"]; b.Used != cr(500) || b.Remaining != nil {
		t.Errorf("b's view %+v; want 500 used, no limit", b)
	}
	// The pool: 1,000 − a's 20 charged + 5 refunded − a's 20 still held −
	// b's 500 held.
	wantAvailable(t, st, cr(465))
	wantVerified(t, st)
}

// viewMembers is Ledger.Members on the in-memory store (which has no Tx).
func viewMembers(st *pStore, now time.Time) (map[string]MemberView, error) {
	b := NewBook(tAcc, st.state)
	out := map[string]MemberView{}
	for i := range b.cur.Members {
		m := &b.cur.Members[i]
		out[m.ID] = b.memberView(m, now)
	}
	return out, nil
}

// TestMemberPoolRace: the pool's balance check still holds for a member
// without a limit: a hold beyond the pool is insufficient_credits, and a
// member's refusal moves neither the pool nor the member's period.
func TestMemberPoolLimit(t *testing.T) {
	now := utc("2026-06-10T12:00:00Z")
	l, st := team(t, &now, "")
	for range 25 {
		mustMemberGen(t, l, "b", 4) // 25 × 40 = the pool's 1,000
	}
	june := utc("2026-06-01T00:00:00Z")
	_, err := memberGen(l, "b", 1)
	wantError(t, err, InsufficientCredits, "insufficient_credits")
	_, err = memberGen(l, "a", 1)
	wantError(t, err, InsufficientCredits, "insufficient_credits")
	if got := used(st, "a", june); got != 0 {
		t.Errorf("a used %s after a refused generation; want 0", got)
	}
	if got := used(st, "b", june); got != cr(1000) {
		t.Errorf("b used %s; want 1000", got)
	}
	wantAvailable(t, st, 0)
	wantVerified(t, st)
}

// TestMemberPeriodCalendar: a team with no subscription resets its
// members at its local first of the month — Berlin's 1 April comes at
// 22:00 UTC, in summer time — and a hold made in March and released in
// April gives back to March, not to April's budget.
func TestMemberPeriodCalendar(t *testing.T) {
	now := utc("2026-03-31T21:00:00Z") // 23:00 CEST on 31 Mar (DST began 29 Mar)
	l, st := team(t, &now, "Europe/Berlin")
	ctx := context.Background()
	march, april := utc("2026-02-28T23:00:00Z"), utc("2026-03-31T22:00:00Z")
	h := mustMemberHold(t, l, "a", 100) // March's limit used up
	now = utc("2026-03-31T21:59:59Z")
	_, err := memberGen(l, "a", 1)
	wantError(t, err, InsufficientCredits, "member_limit_exceeded")
	now = april // 00:00 CEST: April's budget
	mustMemberHold(t, l, "a", 80)
	g2 := mustMemberGen(t, l, "a", 1)                        // 90
	if _, err := l.ReleaseHold(ctx, nil, h.ID); err != nil { // March's 100 back to March
		t.Fatal(err)
	}
	if got := used(st, "a", march); got != 0 {
		t.Errorf("March used %s after the failure; want 0", got)
	}
	if got := used(st, "a", april); got != cr(90) {
		t.Errorf("April used %s; want 90 (March's return is not April's)", got)
	}
	if _, err := memberGen(l, "a", 2); err == nil { // 20 > 10 left in April
		t.Error("a generation of 20 with 10 left of April was held")
	}
	if g2.Member != "a" {
		t.Errorf("generation member %q; want a", g2.Member)
	}
	wantVerified(t, st)
}

// TestMemberPeriodSubscription: with a subscription, a member's period is
// the subscription's month: from its renewal day at local midnight, in its
// time zone. A subscription started on 31 January in New York renews on 28
// February (EST) and 31 March (EDT, after the 8 March change): the limit
// resets at those instants and not a second before.
func TestMemberPeriodSubscription(t *testing.T) {
	now := utc("2026-01-31T17:00:00Z") // 12:00 EST
	l, st := team(t, &now, "America/New_York")
	ctx := context.Background()
	if _, err := l.Subscribe(ctx, nil, tAcc, SubscriptionSpec{Plan: "basic"}); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ last, start string }{
		{"2026-02-28T04:59:59Z", "2026-02-28T05:00:00Z"}, // 28 Feb 00:00 EST
		{"2026-03-31T03:59:59Z", "2026-03-31T04:00:00Z"}, // 31 Mar 00:00 EDT
		{"2026-04-30T03:59:59Z", "2026-04-30T04:00:00Z"}, // 30 Apr 00:00 EDT
	} {
		now = utc(c.last)
		if _, err := memberHold(l, "a", 100); err != nil && ErrorReason(err) != "member_limit_exceeded" {
			t.Fatal(err)
		}
		_, err := memberGen(l, "a", 1)
		wantError(t, err, InsufficientCredits, "member_limit_exceeded")
		now = utc(c.start)
		mustMemberHold(t, l, "a", 100)
		if got := used(st, "a", utc(c.start)); got != cr(100) {
			t.Errorf("period from %s used %s; want 100", c.start, got)
		}
	}
	wantVerified(t, st)
}

// TestMemberLifecycle: a removed member cannot generate, their open hold
// still resolves and gives back; set again, they keep the period's usage;
// a limit lowered below what was used stops the next generation only;
// members exist on teams only, and a team's generation names one.
func TestMemberLifecycle(t *testing.T) {
	now := utc("2026-06-10T12:00:00Z")
	l, st := team(t, &now, "")
	ctx := context.Background()
	june := utc("2026-06-01T00:00:00Z")
	g := mustMemberGen(t, l, "a", 4) // 40
	mustMemberGen(t, l, "a", 4)      // 80
	if _, err := l.RemoveMember(ctx, nil, tAcc, "a"); err != nil {
		t.Fatal(err)
	}
	_, err := memberGen(l, "a", 1)
	wantError(t, err, NotFound, "unknown_member")
	_, err = l.RemoveMember(ctx, nil, tAcc, "a")
	wantError(t, err, NotFound, "unknown_member")
	if _, err := l.FailGeneration(ctx, nil, g.ID); err != nil {
		t.Fatal(err)
	}
	if got := used(st, "a", june); got != cr(40) {
		t.Errorf("a used %s after a failure while removed; want 40", got)
	}
	v, err := l.SetMember(ctx, nil, tAcc, "a", limitOf(10)) // back, with a limit below the 40 used
	if err != nil {
		t.Fatal(err)
	}
	if v.Used != cr(40) || v.Remaining == nil || *v.Remaining != 0 {
		t.Errorf("a set again: %+v; want 40 used (kept), 0 left", v)
	}
	_, err = memberGen(l, "a", 1)
	wantError(t, err, InsufficientCredits, "member_limit_exceeded")
	// Setting the same limit again writes nothing and audits nothing.
	n := written(st)
	if _, err := l.SetMember(ctx, nil, tAcc, "a", limitOf(10)); err != nil {
		t.Fatal(err)
	}
	if written(st) != n {
		t.Error("setting a member's limit to what it is wrote a change")
	}
	_, err = memberGen(l, "", 1)
	wantError(t, err, Invalid, "member_required")
	_, err = l.CreateHold(ctx, nil, tAcc, HoldSpec{Credits: cr(1)})
	wantError(t, err, Invalid, "member_required")
	_, err = l.SetMember(ctx, nil, tAcc, "a", limitOf(-1))
	wantError(t, err, Invalid, "invalid_amount")
	_, err = l.SetMember(ctx, nil, tAcc, "a b", nil)
	wantError(t, err, Invalid, "invalid_member_id")
	// A generic hold of a member counts too.
	h, err := l.CreateHold(ctx, nil, tAcc, HoldSpec{Credits: cr(7), Member: "b"})
	if err != nil {
		t.Fatal(err)
	}
	if h.Member != "b" || !h.MemberPeriod.Equal(june) {
		t.Errorf("hold member %q period %s; want b, June", h.Member, h.MemberPeriod)
	}
	if _, err := l.CaptureHold(ctx, nil, h.ID, nil); err != nil {
		t.Fatal(err)
	}
	if got := used(st, "b", june); got != cr(7) {
		t.Errorf("b used %s after a hold of 7 captured; want 7", got)
	}
	audits := 0
	for _, c := range st.changes {
		for _, a := range c.Audit {
			if strings.HasPrefix(a.Action, "member.") {
				audits++
			}
		}
	}
	if audits != 4 { // set a, set b, remove a, set a again; the same limit again: none
		t.Errorf("%d member audit entries; want 4", audits)
	}
	wantVerified(t, st)

	// A user's wallet has no members.
	now2 := now
	lu, _ := pLedger(t, &now2, AccountSpec{})
	_, err = lu.SetMember(ctx, nil, tAcc, "a", nil)
	wantError(t, err, Invalid, "not_a_team")
	_, err = lu.CreateGeneration(ctx, nil, GenerationSpec{Account: tAcc, Member: "a", Request: QuoteRequest{Model: "std", Images: 1}})
	wantError(t, err, Invalid, "not_a_team")
	_, err = lu.OpenAccount(ctx, nil, AccountSpec{ID: "x", Kind: "club"})
	wantError(t, err, Invalid, "invalid_account_kind")
}

// TestVerifyMembers: verify finds a member period whose Used does not
// match its holds, and one over its limit.
func TestVerifyMembers(t *testing.T) {
	now := utc("2026-06-10T12:00:00Z")
	l, st := team(t, &now, "")
	mustMemberGen(t, l, "a", 4)
	snap := pSnapshot(st)
	for i := range snap.MemberPeriods {
		if snap.MemberPeriods[i].Member == "a" {
			snap.MemberPeriods[i].Used = cr(120)
		}
	}
	var got []string
	for _, v := range VerifySnapshot(snap) {
		got = append(got, v.Invariant)
	}
	slices.Sort(got)
	if !slices.Equal(got, []string{"member_limit", "member_usage"}) {
		t.Errorf("verify of a period with 120 used of 100 (holds: 40) found %v; want member_limit and member_usage", got)
	}
}

// TestMemberPeriodBillingMoves: a team that subscribes in the middle of
// a calendar month keeps its members' period under way to its end (no
// budget starts afresh on 15 June); from then on the subscription's month
// applies (the one of 1 July runs from 15 June to 15 July).
func TestMemberPeriodBillingMoves(t *testing.T) {
	now := utc("2026-06-10T12:00:00Z")
	l, st := team(t, &now, "")
	ctx := context.Background()
	h := mustMemberHold(t, l, "a", 100)
	if _, err := l.CaptureHold(ctx, nil, h.ID, nil); err != nil { // June's 100 used for good
		t.Fatal(err)
	}
	now = utc("2026-06-15T09:00:00Z")
	if _, err := l.Subscribe(ctx, nil, tAcc, SubscriptionSpec{Plan: "basic"}); err != nil {
		t.Fatal(err)
	}
	now = utc("2026-06-30T23:59:59Z")
	_, err := memberGen(l, "a", 1)
	wantError(t, err, InsufficientCredits, "member_limit_exceeded")
	now = utc("2026-07-01T00:00:00Z")
	mustMemberGen(t, l, "a", 1)
	v, err := viewMembers(st, now)
	if err != nil {
		t.Fatal(err)
	}
	if a := v["a"]; a.Used != cr(10) || !a.PeriodStart.Equal(utc("2026-06-15T09:00:00Z")) || !a.PeriodEnd.Equal(utc("2026-07-15T00:00:00Z")) {
		t.Errorf("a on 1 July: %+v; want 10 used in the subscription's month 15 June 09:00 – 15 July", a)
	}
	wantVerified(t, st)
}
