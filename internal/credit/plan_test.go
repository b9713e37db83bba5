package credit

// Tests of plans with no database: calendar arithmetic in time zones,
// eligibility, and the ledger's plan decisions on an account kept in memory
// (pStore applies each Change to its State, as SQLite's writer cache does).
// Expected numbers are worked out by hand in the comments.

import (
	"context"
	"slices"
	"testing"
	"time"
)

func utc(s string) time.Time {
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// TestMonthStart: months start on the renewal day at local midnight; a
// subscription started on the 31st renews on the last day of shorter
// months and on the 31st again when there is one; DST never moves a
// boundary off local midnight.
func TestMonthStart(t *testing.T) {
	s := Subscription{StartsAt: utc("2026-01-31T11:00:00Z"), TimeZone: "Europe/Berlin"} // 12:00 CET
	for k, want := range []string{
		"2026-01-31T11:00:00Z", // the start itself
		"2026-02-27T23:00:00Z", // 28 Feb 00:00 CET (UTC+1)
		"2026-03-30T22:00:00Z", // 31 Mar 00:00 CEST (UTC+2; DST began 29 Mar)
		"2026-04-29T22:00:00Z", // 30 Apr 00:00 CEST
		"2026-05-30T22:00:00Z", // 31 May 00:00 CEST: the 31st again
		"2026-06-29T22:00:00Z", // 30 Jun
	} {
		if got := s.monthStart(k); !got.Equal(utc(want)) {
			t.Errorf("monthStart(%d) = %s; want %s", k, got.Format(time.RFC3339), want)
		}
	}
	leap := Subscription{StartsAt: utc("2028-01-30T12:00:00Z")} // UTC
	if got := leap.monthStart(1); !got.Equal(utc("2028-02-29T00:00:00Z")) {
		t.Errorf("leap monthStart(1) = %s; want 2028-02-29", got)
	}
	for _, c := range []struct {
		at   string
		want int
	}{
		{"2026-01-31T11:00:00Z", 0},
		{"2026-02-27T22:59:59Z", 0},
		{"2026-02-27T23:00:00Z", 1},
		{"2026-03-30T21:59:59Z", 1},
		{"2026-03-30T22:00:00Z", 2},
		{"2027-01-30T23:00:00Z", 12}, // 31 Jan 2027 00:00 CET
	} {
		if got := s.monthAt(utc(c.at)); got != c.want {
			t.Errorf("monthAt(%s) = %d; want %d", c.at, got, c.want)
		}
	}
	q := s
	q.Billing = BillQuarter
	from, to := q.billingPeriod(utc("2026-05-01T00:00:00Z"))
	if !from.Equal(utc("2026-04-29T22:00:00Z")) || !to.Equal(utc("2026-07-30T22:00:00Z")) { // months 3 to 6
		t.Errorf("quarter at 1 May = [%s, %s); want [30 Apr, 31 Jul) CEST", from, to)
	}
}

// TestLocalDays: a day is local midnight to local midnight, 23 or 25 hours
// on a DST change, in every zone the simulation uses.
func TestLocalDays(t *testing.T) {
	for _, c := range []struct {
		zone, at, start, next string
	}{
		{"Europe/Berlin", "2026-03-29T12:00:00Z", "2026-03-28T23:00:00Z", "2026-03-29T22:00:00Z"}, // 23 h
		{"Europe/Berlin", "2026-10-25T12:00:00Z", "2026-10-24T22:00:00Z", "2026-10-25T23:00:00Z"}, // 25 h
		{"America/New_York", "2026-03-08T12:00:00Z", "2026-03-08T05:00:00Z", "2026-03-09T04:00:00Z"},
		{"Asia/Kolkata", "2026-06-01T20:00:00Z", "2026-06-01T18:30:00Z", "2026-06-02T18:30:00Z"},     // 01:30 IST on 2 Jun
		{"Pacific/Auckland", "2026-04-04T12:00:00Z", "2026-04-04T11:00:00Z", "2026-04-05T12:00:00Z"}, // 5 Apr: NZDT ends, 25 h
		{"", "2026-06-01T20:00:00Z", "2026-06-01T00:00:00Z", "2026-06-02T00:00:00Z"},
	} {
		loc, err := zone(c.zone)
		if err != nil {
			t.Fatal(err)
		}
		if got := dayStart(utc(c.at), loc); !got.Equal(utc(c.start)) {
			t.Errorf("%s: dayStart(%s) = %s; want %s", c.zone, c.at, got.Format(time.RFC3339), c.start)
		}
		if got := nextMidnight(utc(c.at), loc); !got.Equal(utc(c.next)) {
			t.Errorf("%s: nextMidnight(%s) = %s; want %s", c.zone, c.at, got.Format(time.RFC3339), c.next)
		}
	}
	for _, bad := range []string{"Mars/Olympus", "Local", "../etc/passwd", "/usr/share/zoneinfo/UTC"} {
		if err := CheckTimeZone(bad); ErrorReason(err) != "invalid_time_zone" {
			t.Errorf("CheckTimeZone(%q) = %v; want invalid_time_zone", bad, err)
		}
	}
}

func TestEligibility(t *testing.T) {
	pro := []string{"pro"}
	for _, c := range []struct {
		e     Eligibility
		model string
		tags  []string
		want  bool
	}{
		{Eligibility{}, "a", nil, true},
		{Eligibility{}, "", nil, true},
		{Eligibility{ExcludeTags: pro}, "a", nil, true},
		{Eligibility{ExcludeTags: pro}, "b", pro, false},
		{Eligibility{ExcludeTags: pro}, "", nil, true}, // a generic hold: exclusions alone do not limit
		{Eligibility{Models: []string{"a"}}, "a", nil, true},
		{Eligibility{Models: []string{"a"}}, "b", nil, false},
		{Eligibility{Models: []string{"a"}}, "", nil, false},
		{Eligibility{Tags: pro}, "b", pro, true},
		{Eligibility{Tags: pro, ExcludeModels: []string{"b"}}, "b", pro, false},
		{Eligibility{Models: []string{"a"}, Tags: pro}, "c", pro, true},
	} {
		if got := c.e.Allows(c.model, c.tags); got != c.want {
			t.Errorf("%+v.Allows(%q, %v) = %v; want %v", c.e, c.model, c.tags, got, c.want)
		}
	}
}

// pStore is one account's store in memory: each Write decides on a copy of
// its State and applies the Change to it.
type pStore struct {
	tStore
	changes []*Change
}

func (s *pStore) Write(_ context.Context, batches []*Batch) error {
	for _, b := range batches {
		c, err := b.Decide(s.state.Clone())
		if err != nil {
			return err
		}
		if err := c.Check(); err != nil {
			return err
		}
		s.state.Apply(c)
		s.changes = append(s.changes, c)
	}
	return nil
}

// pCatalog prices "std" at 10 a image and "ultra" (tagged pro) at 30, with
// plans: the free program (100 a day, not pro), "basic" (100 a month),
// "big" (300 a month), "roll" (100 a month, rollover up to 30, never
// expiring), "unl" (100 a month; std free 7 days, 1 at a time, 2 fast a
// day, then relaxed) and "unlb" (the same window, blocking).
func pCatalog() *Catalog {
	model := func(id string, price Credits, tags ...string) *Model {
		return &Model{ID: id, Name: id, Kind: KindImage, Cap: CapUpTo, CapTier: 1, Resolutions: []Resolution{1},
			AspectRatios: []AspectRatio{{1, 1, "1:1"}}, Price: Rule{Kind: PerImage, Credits: price}, MaxImages: 4, Tags: tags}
	}
	c := NewCatalog("p1", utc("2026-01-01T00:00:00Z"), []*Model{model("std", cr(10)), model("ultra", cr(30), "pro")})
	notPro := Eligibility{ExcludeTags: []string{"pro"}}
	monthly := func(n float64) Allowance {
		return Allowance{Credits: cr(n), Every: EveryMonth, Source: SourceSubscription, Expires: Expiry{Kind: ExpiresPeriodEnd}}
	}
	roll := monthly(100)
	roll.Rollover = &Rollover{MaxCredits: cr(30)}
	roll3 := monthly(300)
	roll3.Rollover = &Rollover{MaxCredits: cr(30)}
	window := Window{Models: []string{"std"}, Days: 7, MaxConcurrent: 1, DailyFast: 2, AfterFast: AfterFastRelaxed}
	blocking := window
	blocking.AfterFast = AfterFastBlock
	c.Plans = []*Plan{
		{ID: "free", Name: "Free", Program: true, Models: notPro,
			Allowances: []Allowance{{Credits: cr(100), Every: EveryDay, Source: SourceFree, Expires: Expiry{Kind: ExpiresPeriodEnd}, AppliesTo: notPro}}},
		{ID: "basic", Name: "Basic", Topups: true, Allowances: []Allowance{monthly(100)}},
		{ID: "big", Name: "Big", Topups: true, Allowances: []Allowance{monthly(300)}},
		{ID: "roll", Name: "Roll", Topups: true, Allowances: []Allowance{roll}},
		{ID: "roll3", Name: "Roll 3", Topups: true, Allowances: []Allowance{roll3}},
		{ID: "unl", Name: "Unl", Topups: true, Allowances: []Allowance{monthly(100)}, Unlimited: []Window{window}},
		{ID: "unlb", Name: "UnlB", Topups: true, Allowances: []Allowance{monthly(100)}, Unlimited: []Window{blocking}},
	}
	return c
}

// pLedger is a ledger on one account "acc" kept in memory, on pCatalog, at
// the clock *now.
func pLedger(t *testing.T, now *time.Time, spec AccountSpec) (*Ledger, *pStore) {
	t.Helper()
	st := &pStore{tStore: tStore{state: &State{}}}
	cat := pCatalog()
	l := NewLedger(st, LedgerConfig{Now: func() time.Time { return *now }, Catalog: func() *Catalog { return cat }})
	spec.ID = tAcc
	if _, err := l.OpenAccount(context.Background(), nil, spec); err != nil {
		t.Fatal(err)
	}
	return l, st
}

func gen(t *testing.T, l *Ledger, model string, images int) (Generation, error) {
	t.Helper()
	return l.CreateGeneration(context.Background(), nil, GenerationSpec{Account: tAcc, Request: QuoteRequest{Model: model, Images: images}})
}

func mustGen(t *testing.T, l *Ledger, model string, images int) Generation {
	t.Helper()
	g, err := gen(t, l, model, images)
	if err != nil {
		t.Fatalf("generation of %d %s: %v", images, model, err)
	}
	return g
}

// live returns the account's live grants with something left, by ID.
func live(st *pStore, now time.Time) map[string]Grant {
	out := map[string]Grant{}
	for _, g := range st.state.Grants {
		if g.Source != SourceOverdraft && g.Live(now) && g.Remaining+g.Held > 0 {
			out[g.ID] = g
		}
	}
	return out
}

// written counts the changes that wrote something.
func written(st *pStore) int {
	n := 0
	for _, c := range st.changes {
		if !c.Empty() {
			n++
		}
	}
	return n
}

func wantAvailable(t *testing.T, st *pStore, want Credits) {
	t.Helper()
	if got := st.state.Account.Available; got != want {
		t.Errorf("available %s; want %s", got, want)
	}
}

// TestFreeProgram: the free program's 100 credits are given by the day's
// first charge, expire at local midnight (Berlin, across the spring DST
// change), never pay for a Pro model, and an account on it cannot use one
// or buy a top-up; a refusal writes nothing.
func TestFreeProgram(t *testing.T) {
	ctx := context.Background()
	now := utc("2026-03-28T22:30:00Z") // 23:30 CET on 28 Mar
	l, st := pLedger(t, &now, AccountSpec{Plan: "free", TimeZone: "Europe/Berlin"})
	if n := len(st.state.Grants); n != 1 { // the overdraft grant only: nothing given yet
		t.Fatalf("%d grants after opening; want the overdraft grant only", n)
	}
	mustGen(t, l, "std", 1) // 10 of today's 100
	day1 := PeriodGrantID(tAcc, "free/0/2026-03-28")
	g := live(st, now)[day1]
	if g.Granted != cr(100) || g.Remaining != cr(90) || g.Held != cr(10) || !g.ExpiresAt.Equal(utc("2026-03-28T23:00:00Z")) {
		t.Errorf("day 1 grant %+v; want 100 granted, 90 left, 10 held, expiring 29 Mar 00:00 CET", g)
	}
	// A Pro model: refused before anything is held.
	before := written(st)
	_, err := gen(t, l, "ultra", 1)
	wantError(t, err, Forbidden, "plan_required")
	_, err = l.AddGrant(ctx, nil, tAcc, GrantSpec{Credits: cr(50), Source: SourceTopup})
	wantError(t, err, Forbidden, "subscription_required")
	if written(st) != before {
		t.Errorf("refusals wrote %d changes; want none", written(st)-before)
	}
	// 00:30 CET on 29 Mar: yesterday's 90 expire at midnight, today's 100
	// come with the first charge, and end at 00:00 CEST on 30 Mar (a
	// 23-hour day).
	now = utc("2026-03-28T23:30:00Z")
	mustGen(t, l, "std", 2)
	day2 := PeriodGrantID(tAcc, "free/0/2026-03-29")
	g = live(st, now)[day2]
	if g.Remaining != cr(80) || !g.ExpiresAt.Equal(utc("2026-03-29T22:00:00Z")) {
		t.Errorf("day 2 grant %+v; want 80 left, expiring 29 Mar 22:00 UTC", g)
	}
	if _, ok := live(st, now)[day1]; ok {
		t.Errorf("yesterday's grant is still live")
	}
	wantAvailable(t, st, cr(80))
	// A second charge the same day gives nothing more.
	mustGen(t, l, "std", 1)
	wantAvailable(t, st, cr(70))
	// Expired credits are never spendable, even before a sweep marks them:
	// at 22:00 UTC today's grant has expired, unmarked; a promo limited to
	// other models does not pay for std either.
	if _, err := l.AddGrant(ctx, nil, tAcc, GrantSpec{Credits: cr(5), Source: SourcePromo, AppliesTo: Eligibility{Models: []string{"ultra"}}}); err != nil {
		t.Fatal(err)
	}
	wantAvailable(t, st, cr(75))
}

// TestProNeedsEligibleCredits: a hold takes only grants that may pay for its
// model; the refusal says how much could.
func TestProNeedsEligibleCredits(t *testing.T) {
	ctx := context.Background()
	now := utc("2026-06-01T12:00:00Z")
	l, st := pLedger(t, &now, AccountSpec{})
	if _, err := l.AddGrant(ctx, nil, tAcc, GrantSpec{Credits: cr(100), Source: SourcePromo, AppliesTo: Eligibility{ExcludeTags: []string{"pro"}}}); err != nil {
		t.Fatal(err)
	}
	now = now.Add(time.Minute) // the top-up is younger: used after the promo
	if _, err := l.AddGrant(ctx, nil, tAcc, GrantSpec{Credits: cr(20), Source: SourceTopup}); err != nil {
		t.Fatal(err)
	}
	_, err := gen(t, l, "ultra", 1) // 30 > the 20 that may pay
	e := wantError(t, err, InsufficientCredits, "insufficient_credits")
	if e.Available != cr(120) || e.Eligible != cr(20) || e.Required != cr(30) {
		t.Errorf("refusal available %s eligible %s required %s; want 120, 20, 30", e.Available, e.Eligible, e.Required)
	}
	g := mustGen(t, l, "std", 3) // 30: the promo comes first (created first), all of it from there
	h, _ := NewBook(tAcc, st.state).Hold(g.Hold)
	if len(h.Allocations) != 1 || h.Allocations[0].Amount != cr(30) {
		t.Errorf("std hold allocations %+v; want 30 from the promo", h.Allocations)
	}
	wantAvailable(t, st, cr(90))
}

// TestRenewalAndRollover: a subscription started on the 31st is given 100
// at its start and on each renewal day; at the instant one month's credits
// expire and the next month's arrive, they are counted once, and the unspent
// part rolls over up to 30.
func TestRenewalAndRollover(t *testing.T) {
	ctx := context.Background()
	now := utc("2026-01-31T12:00:00Z")
	l, st := pLedger(t, &now, AccountSpec{})
	sub, err := l.Subscribe(ctx, nil, tAcc, SubscriptionSpec{Plan: "roll"})
	if err != nil {
		t.Fatal(err)
	}
	if !sub.RenewsAt.Equal(utc("2026-02-28T00:00:00Z")) || sub.Period != 1 {
		t.Errorf("subscription renews at %s, period %d; want 28 Feb, 1", sub.RenewsAt, sub.Period)
	}
	wantAvailable(t, st, cr(100))
	g := mustGen(t, l, "std", 2)
	if _, err := l.CompleteGeneration(ctx, nil, g.ID, 2); err != nil { // 20 charged: 80 left
		t.Fatal(err)
	}
	// The renewal instant: month 0's 80 expire, 30 of them roll over, and
	// month 1's 100 arrive: 130, not 230.
	now = utc("2026-02-28T00:00:00Z")
	if _, err := l.AddGrant(ctx, nil, tAcc, GrantSpec{Credits: cr(1), Source: SourcePromo}); err != nil { // any write settles
		t.Fatal(err)
	}
	wantAvailable(t, st, cr(131))
	roll := live(st, now)[PeriodGrantID(tAcc, sub.ID+"/0/0/rollover")]
	if roll.Remaining != cr(30) || roll.Source != SourceRollover || !roll.ExpiresAt.IsZero() {
		t.Errorf("rollover grant %+v; want 30 never expiring", roll)
	}
	m1 := live(st, now)[PeriodGrantID(tAcc, sub.ID+"/0/1")]
	if m1.Remaining != cr(100) || !m1.ExpiresAt.Equal(utc("2026-03-31T00:00:00Z")) {
		t.Errorf("month 1 grant %+v; want 100 expiring 31 Mar", m1)
	}
	// Two months later without a write: each month is given once and its
	// unspent 100 rolls over 30: 30 + 30 + 30 + 100 + the promo's 1.
	now = utc("2026-04-30T00:00:00Z")
	if _, err := l.AddGrant(ctx, nil, tAcc, GrantSpec{Credits: cr(1), Source: SourcePromo}); err != nil {
		t.Fatal(err)
	}
	wantAvailable(t, st, cr(192))
	var expired Credits
	for _, c := range st.changes {
		for _, e := range c.Entries {
			if e.Kind == EntryExpire {
				for _, p := range e.Postings {
					if p.Book == BookExpired {
						expired += p.Amount
					}
				}
			}
		}
	}
	if expired != cr(50+70+70) { // 80 − 30, then 100 − 30 twice
		t.Errorf("expired %s; want 190", expired)
	}
	// A replayed renewal changes nothing: settling again gives no grant.
	n := len(st.state.Grants)
	if _, err := l.AddGrant(ctx, nil, tAcc, GrantSpec{Credits: cr(1), Source: SourcePromo}); err != nil {
		t.Fatal(err)
	}
	if len(st.state.Grants) != n+1 {
		t.Errorf("%d grants after one more promo; want %d", len(st.state.Grants), n+1)
	}
}

// TestSubscriptionChange: an upgrade now gives this month's difference; a
// downgrade waits for the period's end; a double-clicked cancel changes
// nothing the second time; after the end the account falls back to its
// program.
func TestSubscriptionChange(t *testing.T) {
	ctx := context.Background()
	now := utc("2026-05-10T08:00:00Z")
	l, st := pLedger(t, &now, AccountSpec{Plan: "free"})
	sub, err := l.Subscribe(ctx, nil, tAcc, SubscriptionSpec{Plan: "basic"})
	if err != nil {
		t.Fatal(err)
	}
	// Subscribed: no free credits, Pro models allowed.
	g := mustGen(t, l, "ultra", 1)
	wantAvailable(t, st, cr(70)) // 100 − 30
	if _, err := l.CompleteGeneration(ctx, nil, g.ID, 1); err != nil {
		t.Fatal(err)
	}
	now = utc("2026-05-11T08:00:00Z")
	if sub, err = l.ChangeSubscription(ctx, nil, sub.ID, "big", AtNow); err != nil {
		t.Fatal(err)
	}
	if sub.Plan != "big" || sub.NextPlan != "" {
		t.Errorf("after upgrade plan %q next %q; want big now", sub.Plan, sub.NextPlan)
	}
	wantAvailable(t, st, cr(270)) // + 300 − 100 for this month
	up := live(st, now)[PeriodGrantID(tAcc, sub.ID+"/0/0/upgrade-big")]
	if up.Granted != cr(200) || !up.ExpiresAt.Equal(utc("2026-06-10T00:00:00Z")) {
		t.Errorf("upgrade grant %+v; want 200 expiring 10 Jun", up)
	}
	// Downgrade now: waits for 10 Jun.
	if sub, err = l.ChangeSubscription(ctx, nil, sub.ID, "basic", AtNow); err != nil {
		t.Fatal(err)
	}
	if sub.Plan != "big" || sub.NextPlan != "basic" || !sub.NextAt.Equal(utc("2026-06-10T00:00:00Z")) {
		t.Errorf("after downgrade %+v; want big until 10 Jun, then basic", sub)
	}
	// Cancel at the period's end, twice: the second changes nothing.
	if sub, err = l.CancelSubscription(ctx, nil, sub.ID, AtPeriodEnd); err != nil {
		t.Fatal(err)
	}
	n := written(st)
	again, err := l.CancelSubscription(ctx, nil, sub.ID, AtPeriodEnd)
	if err != nil || !again.EndsAt.Equal(utc("2026-06-10T00:00:00Z")) || !sub.EndsAt.Equal(again.EndsAt) {
		t.Errorf("cancel twice: %v, ends %s then %s; want 10 Jun both", err, sub.EndsAt, again.EndsAt)
	}
	if written(st) != n {
		t.Errorf("the second cancel wrote %+v; want nothing", st.changes[len(st.changes)-1])
	}
	// 10 Jun: the month's credits expire, no renewal, the free program
	// is back: Pro refused, the day's 100 given by the next charge.
	now = utc("2026-06-10T09:00:00Z")
	_, err = gen(t, l, "ultra", 1)
	wantError(t, err, Forbidden, "plan_required")
	mustGen(t, l, "std", 1)
	wantAvailable(t, st, cr(90))
	if s, _ := NewBook(tAcc, st.state).Subscription(sub.ID); !s.RenewsAt.IsZero() || s.Period != 1 {
		t.Errorf("ended subscription renews at %s, period %d; want never, 1", s.RenewsAt, s.Period)
	}
}

// TestUnlimitedWindow: inside the window std costs 0; one at a time; two
// fast a local day, then relaxed (or refused until midnight); the journal
// records the list price; outside the window std is charged again.
func TestUnlimitedWindow(t *testing.T) {
	ctx := context.Background()
	now := utc("2026-07-01T10:00:00Z")
	l, st := pLedger(t, &now, AccountSpec{TimeZone: "America/New_York"})
	if _, err := l.Subscribe(ctx, nil, tAcc, SubscriptionSpec{Plan: "unl"}); err != nil {
		t.Fatal(err)
	}
	g1 := mustGen(t, l, "std", 2)
	if g1.Window == "" || g1.Lane != LaneFast || g1.HoldCredits != 0 {
		t.Errorf("first generation window %q lane %q hold %s; want a window, fast, 0", g1.Window, g1.Lane, g1.HoldCredits)
	}
	_, err := gen(t, l, "std", 1)
	wantError(t, err, Limited, "concurrency_limit")
	done, err := l.CompleteGeneration(ctx, nil, g1.ID, 2)
	if err != nil || done.Charged != 0 || done.ListCredits != cr(20) || done.Status != GenerationCompleted {
		t.Errorf("completed %+v, %v; want completed, 0 charged, list 20", done, err)
	}
	last := st.changes[len(st.changes)-1].Entries
	if len(last) != 1 || last[0].ListCredits != cr(20) || last[0].ChargedDelta != 0 || len(last[0].Postings) != 0 {
		t.Errorf("completion entries %+v; want one capture recording list 20, no postings", last)
	}
	g2 := mustGen(t, l, "std", 1)
	if _, err := l.FailGeneration(ctx, nil, g2.ID); err != nil {
		t.Fatal(err)
	}
	g3 := mustGen(t, l, "std", 1) // the third today: relaxed
	if g3.Lane != LaneRelaxed {
		t.Errorf("third generation lane %q; want relaxed", g3.Lane)
	}
	if _, err := l.CompleteGeneration(ctx, nil, g3.ID, 1); err != nil {
		t.Fatal(err)
	}
	// Local midnight in New York (04:00 UTC, EDT): fast again.
	now = utc("2026-07-02T04:00:00Z")
	if g := mustGen(t, l, "std", 1); g.Lane != LaneFast {
		t.Errorf("after local midnight lane %q; want fast", g.Lane)
	}
	wantAvailable(t, st, cr(100)) // nothing charged
	// 8 July 10:00 UTC: the 7 days (from 1 July 06:00 EDT) are over; std costs 10.
	now = utc("2026-07-08T10:00:00Z")
	if g := mustGen(t, l, "std", 1); g.Window != "" || g.HoldCredits != cr(10) {
		t.Errorf("after the window: window %q hold %s; want none, 10", g.Window, g.HoldCredits)
	}

	// The blocking window refuses the third with the reset time.
	now = utc("2026-07-01T10:00:00Z")
	lb, _ := pLedger(t, &now, AccountSpec{TimeZone: "America/New_York"})
	if _, err := lb.Subscribe(ctx, nil, tAcc, SubscriptionSpec{Plan: "unlb"}); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		g := mustGen(t, lb, "std", 1)
		if _, err := lb.CompleteGeneration(ctx, nil, g.ID, 1); err != nil {
			t.Fatal(err)
		}
	}
	_, err = gen(t, lb, "std", 1)
	e := wantError(t, err, Limited, "daily_limit_reached")
	if !e.ResetsAt.Equal(utc("2026-07-02T04:00:00Z")) {
		t.Errorf("resets at %s; want New York's midnight, 04:00 UTC", e.ResetsAt)
	}
}

// TestRefundAfterPeriodEnd: credits whose month ended come back from a
// refund as a new grant that never expires, and may pay for what they
// could before (not more).
func TestRefundAfterPeriodEnd(t *testing.T) {
	ctx := context.Background()
	now := utc("2026-03-28T12:00:00Z")
	l, st := pLedger(t, &now, AccountSpec{Plan: "free"})
	g := mustGen(t, l, "std", 3)
	if _, err := l.CompleteGeneration(ctx, nil, g.ID, 3); err != nil {
		t.Fatal(err)
	}
	now = utc("2026-03-30T12:00:00Z") // the 28th's free credits have expired
	if _, err := l.RefundGeneration(ctx, nil, g.ID, nil); err != nil {
		t.Fatal(err)
	}
	var refund []Grant
	for _, gr := range st.state.Grants {
		if gr.Source == SourceRefund {
			refund = append(refund, gr)
		}
	}
	if len(refund) != 1 || refund[0].Remaining != cr(30) || !refund[0].ExpiresAt.IsZero() || !slices.Equal(refund[0].AppliesTo.ExcludeTags, []string{"pro"}) {
		t.Errorf("refund grants %+v; want one of 30, never expiring, not for pro", refund)
	}
	wantAvailable(t, st, cr(30))
}

// TestUpgradeRolloverCap: a month's allowance and its upgrade grant expire
// at one instant and share the allowance's rollover cap.
func TestUpgradeRolloverCap(t *testing.T) {
	ctx := context.Background()
	now := utc("2026-01-10T09:00:00Z")
	l, st := pLedger(t, &now, AccountSpec{})
	sub, err := l.Subscribe(ctx, nil, tAcc, SubscriptionSpec{Plan: "roll"})
	if err != nil {
		t.Fatal(err)
	}
	now = utc("2026-01-11T09:00:00Z")
	if _, err := l.ChangeSubscription(ctx, nil, sub.ID, "roll3", AtNow); err != nil {
		t.Fatal(err)
	}
	wantAvailable(t, st, cr(300)) // 100 + the upgrade's 200
	// 10 Feb: 100 + 200 unspent; 30 roll over in all (the cap), 270
	// expire; roll3's month brings 300.
	now = utc("2026-02-10T00:00:00Z")
	if _, err := l.AddGrant(ctx, nil, tAcc, GrantSpec{Credits: cr(1), Source: SourcePromo}); err != nil {
		t.Fatal(err)
	}
	wantAvailable(t, st, cr(331))
	var rolled Credits
	for _, g := range st.state.Grants {
		if g.Source == SourceRollover {
			rolled += g.Granted
		}
	}
	if rolled != cr(30) {
		t.Errorf("rolled over %s; want 30", rolled)
	}
}

// TestDailyAfterZoneChange: a day's free credits are given once per
// calendar date: an account moved from Auckland to New York, where the day
// it had them for is not over, gets no second 100 for it; New York's next
// day brings the next.
func TestDailyAfterZoneChange(t *testing.T) {
	ctx := context.Background()
	now := utc("2026-03-28T12:00:00Z") // 01:00 NZDT on 29 March
	l, st := pLedger(t, &now, AccountSpec{Plan: "free", TimeZone: "Pacific/Auckland"})
	g := mustGen(t, l, "std", 1)
	if _, err := l.CompleteGeneration(ctx, nil, g.ID, 1); err != nil {
		t.Fatal(err)
	}
	now = utc("2026-03-29T12:00:00Z") // 01:00 NZDT on 30 March; 08:00 EDT on 29 March
	ny := "America/New_York"
	if _, err := l.SetPlan(ctx, nil, tAcc, "free", &ny); err != nil {
		t.Fatal(err)
	}
	_, err := gen(t, l, "std", 1)
	e := wantError(t, err, InsufficientCredits, "insufficient_credits")
	if e.Available != 0 {
		t.Errorf("available %s after the move; want 0 (29 March was given in Auckland and has expired there)", e.Available)
	}
	now = utc("2026-03-30T04:00:00Z") // New York's midnight: 30 March
	mustGen(t, l, "std", 1)
	wantAvailable(t, st, cr(90))
	if got := st.state.Account.Daily; got != "free/2026-03-30" {
		t.Errorf("daily mark %q; want free/2026-03-30", got)
	}
}
