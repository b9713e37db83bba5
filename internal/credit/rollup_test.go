package credit

// Tests of the report rollups each write adds (rollup.go) and of the
// reports folded from them (report.go), with no database: the account is
// pLedger's, priced by pCatalog ("std" 10 credits an image). Every expected
// row is worked out by hand in the comments.

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
)

// rolled sums the rollup rows of every change st was given, by key,
// leaving out those that sum to zero.
func rolled(st *pStore) ([]LiabilityRow, []ConsumptionRow) {
	liab := map[liabilityKey]Credits{}
	var cons []ConsumptionRow
	for _, c := range st.changes {
		for _, r := range c.Liability {
			liab[liabilityKey{r.Day, r.Source, r.Expires}] += r.Credits
		}
		cons = append(cons, c.Consumption...)
	}
	return liabilityRows(liab), consumptionRows(cons)
}

// TestRollups_ChargeRefundExpiry: a charge paid by two sources, a part
// refund, and the rest refunded after the first payer expired.
func TestRollups_ChargeRefundExpiry(t *testing.T) {
	ctx := context.Background()
	now := utc("2026-03-10T12:00:00Z")
	l, st := pLedger(t, &now, AccountSpec{})
	promo, err := l.AddGrant(ctx, nil, tAcc, GrantSpec{Credits: cr(3), Source: SourcePromo, ExpiresAt: now.Add(48 * time.Hour)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := l.AddGrant(ctx, nil, tAcc, GrantSpec{Credits: cr(10), Source: SourceTopup}); err != nil {
		t.Fatal(err)
	}
	// One std image is 10: the promo grant expires first, so it pays 3 and
	// the top-up 7; the promo grant is the charge's first payer.
	g := charge(t, l, 1)
	if _, err := l.RefundGeneration(ctx, nil, g.ID, new(cr(4))); err != nil {
		t.Fatal(err)
	}
	// A refund goes back from the last payer: 4 to the top-up.
	now = utc("2026-03-13T09:00:00Z") // the promo grant expired at 03-12 12:00
	if _, err := l.RefundGeneration(ctx, nil, g.ID, nil); err != nil {
		t.Fatal(err)
	}
	// The last 6: 3 more to the top-up, and the promo's 3 as a new refund
	// grant (its grant expired) — still counted against promo.
	liab, cons := rolled(st)
	wantCons := []ConsumptionRow{
		{Day: "2026-03-10", Model: "std", Source: SourcePromo, Charged: cr(3), Charges: 1},
		{Day: "2026-03-10", Model: "std", Source: SourceTopup, Charged: cr(7 - 4)},
		{Day: "2026-03-13", Model: "std", Source: SourcePromo, Charged: cr(-3)},
		{Day: "2026-03-13", Model: "std", Source: SourceTopup, Charged: cr(-3)},
	}
	if !slices.Equal(cons, wantCons) {
		t.Errorf("consumption rollup\n got %+v\nwant %+v", cons, wantCons)
	}
	// Liability: promo +3 −3 (its charge) in bucket 03-12 on 03-10: 0;
	// top-up +10 −7 +4 on 03-10, +3 on 03-13; the refund grant +3 on 03-13.
	wantLiab := []LiabilityRow{
		{Day: "2026-03-10", Source: SourceTopup, Credits: cr(7)},
		{Day: "2026-03-13", Source: SourceRefund, Credits: cr(3)},
		{Day: "2026-03-13", Source: SourceTopup, Credits: cr(3)},
	}
	if !slices.Equal(liab, wantLiab) {
		t.Errorf("liability rollup\n got %+v\nwant %+v", liab, wantLiab)
	}
	if ExpiryBucket(promo.ExpiresAt) != "2026-03-12" {
		t.Errorf("promo bucket %q", ExpiryBucket(promo.ExpiresAt))
	}
	if v := VerifySnapshot(pSnapshot(st)); len(v) != 0 {
		t.Fatalf("verify: %v", v)
	}
}

// TestRollups_ExpiryMoves: a change that moves a grant's expiry (an
// amended expiry, a void) takes what the grant had outstanding before it
// from its old bucket to its new one, on the day of the change; postings
// go to the bucket the grant has after it.
func TestRollups_ExpiryMoves(t *testing.T) {
	now := utc("2026-03-11T08:00:00Z")
	was := Grant{ID: "g1", Account: tAcc, Source: SourcePromo, Granted: cr(20), Remaining: cr(12), Held: cr(3)}
	loaded := &State{Account: tAccount(cr(12), cr(3), 0), Grants: []Grant{was}}
	amended := was
	amended.ExpiresAt = utc("2026-03-20T00:00:00Z") // a midnight: the bucket of 03-19
	c := &Change{Grants: []Grant{amended}}
	c.addLiability(loaded, now)
	want := []LiabilityRow{
		{Day: "2026-03-11", Source: SourcePromo, Credits: cr(-15)},
		{Day: "2026-03-11", Source: SourcePromo, Expires: "2026-03-19", Credits: cr(15)},
	}
	if !slices.Equal(c.Liability, want) {
		t.Errorf("amended expiry\n got %+v\nwant %+v", c.Liability, want)
	}
	// A void on 03-12 of the amended grant: its 12 leave by an entry at
	// now, in the bucket the void gives it (now: 03-12); the 15 it had
	// move there from 03-19 first. 3 stay held there.
	now = utc("2026-03-12T08:00:00Z")
	loaded.Grants[0] = amended
	voided := amended
	voided.Remaining, voided.ExpiresAt, voided.ExpiredAt = 0, now, now
	e := newDraft(EntryVoid, tAcc, "g1", now)
	e.wallet(BookAvailable, "g1", cr(-12))
	e.platform(BookIssued, cr(12))
	c = &Change{Grants: []Grant{voided}, Entries: []Entry{e.t}}
	c.addLiability(loaded, now)
	want = []LiabilityRow{
		{Day: "2026-03-12", Source: SourcePromo, Expires: "2026-03-12", Credits: cr(15 - 12)},
		{Day: "2026-03-12", Source: SourcePromo, Expires: "2026-03-19", Credits: cr(-15)},
	}
	if !slices.Equal(c.Liability, want) {
		t.Errorf("void\n got %+v\nwant %+v", c.Liability, want)
	}
}

// TestVerify_TamperedRollups: Verify notices a rollup row out of place.
func TestVerify_TamperedRollups(t *testing.T) {
	ctx := context.Background()
	now := utc("2026-03-10T12:00:00Z")
	l, st := pLedger(t, &now, AccountSpec{})
	if _, err := l.AddGrant(ctx, nil, tAcc, GrantSpec{Credits: cr(20), Source: SourcePromo}); err != nil {
		t.Fatal(err)
	}
	charge(t, l, 1)
	for _, tc := range []struct {
		name   string
		tamper func(*Snapshot)
		want   string
	}{
		{"liability on another day", func(s *Snapshot) { s.Liability[0].Day = "2026-03-09" }, "liability_rollup"},
		{"liability in another bucket", func(s *Snapshot) { s.Liability[0].Expires = "2026-04-01" }, "liability_rollup"},
		{"consumption paid by another source", func(s *Snapshot) { s.Consumption[0].Source = SourceTopup }, "consumption_rollup"},
		{"consumption of another model", func(s *Snapshot) { s.Consumption[0].Model = "ultra" }, "consumption_rollup"},
		{"a charge not counted", func(s *Snapshot) { s.Consumption[0].Charges = 0 }, "consumption_rollup"},
	} {
		snap := pSnapshot(st)
		if v := VerifySnapshot(snap); len(v) != 0 {
			t.Fatalf("verify: %v", v)
		}
		tc.tamper(snap)
		v := VerifySnapshot(snap)
		if len(v) == 0 || !slices.ContainsFunc(v, func(x Violation) bool { return x.Invariant == tc.want }) {
			t.Errorf("%s: %v; want a %s violation", tc.name, v, tc.want)
		}
	}
}

// TestLiabilityOf: the report's windows count whole UTC days from at's.
func TestLiabilityOf(t *testing.T) {
	rows := []LiabilityRow{
		{Source: SourcePromo, Expires: "2026-03-31", Credits: cr(1)},    // the day at starts: within 7
		{Source: SourcePromo, Expires: "2026-04-06", Credits: cr(2)},    // 31 + 6 = the 7th day: within 7
		{Source: SourcePromo, Expires: "2026-04-07", Credits: cr(4)},    // the 8th day: within 30
		{Source: SourceTopup, Expires: "2026-04-29", Credits: cr(8)},    // day 30 (index 29): within 30
		{Source: SourceTopup, Expires: "2026-04-30", Credits: cr(16)},   // day 31: within 90
		{Source: SourceTopup, Expires: "2026-06-29", Credits: cr(32)},   // 31 + 30 + 31 + 29 = day 91 (index 90): beyond
		{Source: SourceTopup, Credits: cr(64)},                          // never
		{Source: SourceFree, Expires: "2026-03-30", Credits: cr(128)},   // past expiry
		{Source: SourceOverdraft, Credits: cr(-5)},                      // owed to us
		{Source: SourceRollover, Expires: "2026-05-01", Credits: cr(0)}, // nothing: no row
	}
	r := LiabilityOf(utc("2026-03-31T00:00:00Z"), rows)
	want := SourceLiability{Outstanding: cr(1 + 2 + 4 + 8 + 16 + 32 + 64 + 128 - 5), Within7: cr(3), Within30: cr(3 + 4 + 8),
		Within90: cr(3 + 4 + 8 + 16), Never: cr(64 - 5), PastExpiry: cr(128)}
	if r.SourceLiability != want {
		t.Errorf("totals %+v; want %+v", r.SourceLiability, want)
	}
	var names []string
	for _, s := range r.Sources {
		names = append(names, string(s.Source))
	}
	if !slices.Equal(names, []string{"free", "overdraft", "promo", "topup"}) {
		t.Errorf("sources %v", names)
	}
	// Later the same day, the windows do not move: they are whole days.
	if r2 := LiabilityOf(utc("2026-03-31T23:59:59Z"), rows); r2.SourceLiability != want {
		t.Errorf("at 23:59:59 %+v; want %+v", r2.SourceLiability, want)
	}
}

func TestExpiryBucket(t *testing.T) {
	for _, tc := range []struct {
		at   string
		want string
	}{
		{"2026-03-12T00:00:00Z", "2026-03-11"}, // a midnight ends the day before
		{"2026-03-12T00:00:00.000001Z", "2026-03-12"},
		{"2026-03-29T02:30:00+02:00", "2026-03-29"}, // Berlin, after the DST change: 00:30 UTC
		{"2026-03-29T01:30:00+01:00", "2026-03-29"}, // Berlin, before it: 00:30 UTC
		{"2026-03-29T00:30:00+01:00", "2026-03-28"}, // 23:30 UTC the day before
	} {
		at, err := time.Parse(time.RFC3339Nano, tc.at)
		if err != nil {
			t.Fatal(err)
		}
		if got := ExpiryBucket(at); got != tc.want {
			t.Errorf("ExpiryBucket(%s) = %q; want %q", tc.at, got, tc.want)
		}
	}
	if ExpiryBucket(time.Time{}) != "" {
		t.Error("a grant that never expires has a bucket")
	}
}

func TestConsumptionOf(t *testing.T) {
	rows := []ConsumptionRow{
		{Day: "2026-03-01", Model: "a", Source: SourceFree, Charged: cr(3), Charges: 1},
		{Day: "2026-03-01", Model: "a", Source: SourcePromo, Charged: cr(7)},
		{Day: "2026-03-02", Model: "", Source: SourceTopup, Charged: cr(5), Charges: 1},
		{Day: "2026-03-02", Model: "a", Source: SourceFree, Charged: cr(-3)},
	}
	from, to := utc("2026-03-01T00:00:00Z"), utc("2026-03-03T00:00:00Z")
	r := ConsumptionOf(from, to, ReportByModel, rows)
	if r.Charged != cr(12) || r.Charges != 2 || r.BySource[SourceFree] != 0 || r.BySource[SourcePromo] != cr(7) || r.BySource[SourceTopup] != cr(5) {
		t.Errorf("totals %+v", r)
	}
	if len(r.Groups) != 2 || r.Groups[0].Key != "a" || r.Groups[0].Charged != cr(7) || r.Groups[0].Charges != 1 || r.Groups[1].Key != "other" || r.Groups[1].Charged != cr(5) {
		t.Errorf("by model %+v", r.Groups)
	}
	d := ConsumptionOf(from, to, ReportByDay, rows)
	if len(d.Groups) != 2 || d.Groups[0].Charged != cr(10) || d.Groups[1].Charged != cr(2) || d.Groups[1].BySource[SourceFree] != cr(-3) {
		t.Errorf("by day %+v", d.Groups)
	}
	s := ConsumptionOf(from, to, ReportBySource, rows)
	if len(s.Groups) != 3 || s.Groups[0].Key != "free" || s.Groups[0].Charged != 0 || s.Groups[0].Charges != 1 {
		t.Errorf("by source %+v", s.Groups)
	}
}

// TestDebit: credits are taken from the grants spent last first, never
// more than is available, and audited with the reason.
func TestDebit(t *testing.T) {
	ctx := context.Background()
	now := utc("2026-03-10T12:00:00Z")
	l, st := pLedger(t, &now, AccountSpec{})
	soon, _ := l.AddGrant(ctx, nil, tAcc, GrantSpec{Credits: cr(5), Source: SourcePromo, ExpiresAt: now.Add(time.Hour)})
	late, _ := l.AddGrant(ctx, nil, tAcc, GrantSpec{Credits: cr(8), Source: SourceAdjustment})
	hold(t, l, 2) // held from the soon-expiring grant: 3 of it left
	_, err := l.Debit(ctx, nil, tAcc, DebitSpec{Credits: cr(11.001)})
	if ErrorCode(err) != InsufficientCredits {
		t.Fatalf("debit of 11.001 with 11 available: %v", err)
	}
	e, err := l.Debit(WithReason(WithActor(ctx, "k1"), "granted twice, ticket 9"), nil, tAcc, DebitSpec{Credits: cr(10), Memo: "undo"})
	if err != nil {
		t.Fatal(err)
	}
	// 8 from the never-expiring grant (spent last), 2 of the 3 left of the other.
	want := []Posting{{tAcc, BookAvailable, late.ID, cr(-8)}, {tAcc, BookAvailable, soon.ID, cr(-2)}, {PlatformAccount, BookIssued, "", cr(10)}}
	if e.Kind != EntryDebit || !slices.Equal(e.Postings, want) || e.AvailableAfter != cr(1) || e.HeldAfter != cr(2) {
		t.Errorf("debit entry %+v; want postings %+v, 1 available after, 2 held", e, want)
	}
	last := st.changes[len(st.changes)-1]
	if len(last.Audit) != 1 || last.Audit[0].Action != AuditAccountDebit || last.Audit[0].Actor != "k1" ||
		string(last.Audit[0].Detail) != `{"reason":"granted twice, ticket 9","credits":10,"memo":"undo"}` {
		t.Errorf("audit %+v (%s)", last.Audit, last.Audit[0].Detail)
	}
	if v := VerifySnapshot(pSnapshot(st)); len(v) != 0 {
		t.Fatalf("verify: %v", v)
	}
}

// TestReasonAudits: a refund or a release is audited only when a person
// gives a reason; the reason leads the detail.
func TestReasonAudits(t *testing.T) {
	ctx := context.Background()
	now := utc("2026-03-10T12:00:00Z")
	l, st := pLedger(t, &now, AccountSpec{})
	if _, err := l.AddGrant(ctx, nil, tAcc, GrantSpec{Credits: cr(100), Source: SourcePromo}); err != nil {
		t.Fatal(err)
	}
	g := charge(t, l, 2) // 20
	mark := len(st.changes)
	if _, err := l.RefundGeneration(ctx, nil, g.ID, new(cr(1))); err != nil {
		t.Fatal(err)
	}
	if _, err := l.RefundGeneration(WithReason(ctx, "blurry"), nil, g.ID, new(cr(2.5))); err != nil {
		t.Fatal(err)
	}
	h := hold(t, l, 4)
	if _, err := l.ReleaseHold(WithReason(ctx, "stuck"), nil, h.ID); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, c := range st.changes[mark:] {
		for _, a := range c.Audit {
			got = append(got, a.Action+" "+string(a.Detail))
		}
	}
	want := []string{
		`generation.refund {"reason":"blurry","generation":"` + g.ID + `","refunded":2.5,"refunded_total":3.5,"charged":20}`,
		`hold.release {"reason":"stuck","hold":"` + h.ID + `","released":4}`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("audit\n got %q\nwant %q", got, want)
	}
	for _, bad := range []string{strings.Repeat("x", MaxReasonBytes+1), "two\nlines", "\xff"} {
		if ErrorCode(CheckReason(bad)) != Invalid {
			t.Errorf("CheckReason(%q) accepted", bad)
		}
	}
}

// TestRecordedRequest: a generation's recorded quote reads back as the
// request it was priced with, so another catalog can price it again.
func TestRecordedRequest(t *testing.T) {
	cat := pCatalog()
	for _, req := range []QuoteRequest{{Model: "std", Images: 3}, {Model: "ultra", Images: 1, AspectRatio: "1:1", Resolution: "1K"}} {
		q, err := cat.Quote(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(q)
		got, ok := recordedRequest(&Generation{Quote: b})
		if !ok {
			t.Fatalf("%s unreadable", b)
		}
		q2, err := cat.Quote(got)
		if err != nil || q2.TotalCredits != q.TotalCredits || got.Images != req.Images || got.Model != req.Model {
			t.Errorf("%+v read back as %+v: %v, %s vs %s", req, got, err, q2.TotalCredits, q.TotalCredits)
		}
	}
	// The API's form of the same quote (POST /v1/quotes).
	api := `{"model":"ultra","model_name":"ultra","kind":"image","operation":"create","resolution":"1K","aspect_ratio":"1:1","images":2,"prompt_enhancer":false,"input_width":0,"unit_credits":30,"total_credits":60}`
	if got, ok := recordedRequest(&Generation{Quote: []byte(api)}); !ok || got != (QuoteRequest{Model: "ultra", Operation: "create", Resolution: "1K", AspectRatio: "1:1", Images: 2}) {
		t.Errorf("the API's quote read back as %+v, %v", got, ok)
	}
	if _, ok := recordedRequest(&Generation{Quote: []byte("{")}); ok {
		t.Error("a broken quote was read")
	}
}
