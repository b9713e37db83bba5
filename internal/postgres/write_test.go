package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/postgres"
	"github.com/tally-credits/tally/internal/postgres/pgtest"
	"github.com/tally-credits/tally/internal/storetest"
)

// newLedger returns a ledger on store with the built-in catalog; now nil is
// the wall clock.
func newLedger(store credit.Store, now func() time.Time) *credit.Ledger {
	cat := catalog.Default()
	return credit.NewLedger(store, credit.LedgerConfig{Now: now, Catalog: func() *credit.Catalog { return cat }})
}

// must fails the test on err.
func must[T any](tb testing.TB, what string) func(T, error) T {
	return func(v T, err error) T {
		tb.Helper()
		if err != nil {
			tb.Fatalf("%s: %v", what, err)
		}
		return v
	}
}

// verify fails the test if the ledger breaks an invariant.
func verify(tb testing.TB, l *credit.Ledger) {
	tb.Helper()
	vs, err := l.Verify(context.Background())
	if err != nil {
		tb.Fatalf("Verify: %v", err)
	}
	for _, v := range vs {
		tb.Errorf("Verify: %s", v)
	}
}

func idem(key string) *credit.Idempotency {
	return &credit.Idempotency{Scope: "test", Key: key, Hash: "h-" + key}
}

// TestWrite_Ledger runs the ledger's writes through Write — accounts,
// grants, generations and their completion, failure and refunds, generic
// holds, an overdraft paid back under open holds, expiry by the sweeper —
// and checks the answers and, at the end, every invariant.
func TestWrite_Ledger(t *testing.T) {
	db := pgtest.Open(t)
	ctx := context.Background()
	clk := &storetest.Clock{}
	clk.Set(t0)
	l := newLedger(db, clk.Now)

	must[credit.Account](t, "CreateAccount")(l.CreateAccount(ctx, idem("acct"), "acme", 0))
	if _, err := l.CreateAccount(ctx, nil, "acme", 0); credit.ErrorReason(err) != "account_exists" {
		t.Errorf("CreateAccount again = %v; want account_exists", err)
	}
	// Replayed: the first answer, no error.
	must[credit.Account](t, "CreateAccount replayed")(l.CreateAccount(ctx, idem("acct"), "acme", 0))
	must[credit.Grant](t, "AddGrant")(l.AddGrant(ctx, nil, "acme", credit.GrantSpec{Credits: credit.Whole(100), Source: credit.SourceTopup}))
	must[credit.Grant](t, "AddGrant promo")(l.AddGrant(ctx, nil, "acme", credit.GrantSpec{Credits: credit.Whole(50), Source: credit.SourcePromo,
		ExpiresAt: t0.Add(time.Hour)}))

	req := credit.QuoteRequest{Model: "flux-dev", Images: 2}
	g := must[credit.Generation](t, "CreateGeneration")(l.CreateGeneration(ctx, idem("g1"), credit.GenerationSpec{Account: "acme", Request: req}))
	again := must[credit.Generation](t, "CreateGeneration replayed")(l.CreateGeneration(ctx, idem("g1"), credit.GenerationSpec{Account: "acme", Request: req}))
	if again.ID != g.ID {
		t.Errorf("replayed CreateGeneration = %s; want the first answer %s", again.ID, g.ID)
	}
	other := &credit.Idempotency{Scope: "test", Key: "g1", Hash: "another request"}
	if _, err := l.CreateGeneration(ctx, other, credit.GenerationSpec{Account: "acme", Request: req}); credit.ErrorReason(err) != "idempotency_conflict" {
		t.Errorf("CreateGeneration with a used key = %v; want idempotency_conflict", err)
	}
	done := must[credit.Generation](t, "CompleteGeneration")(l.CompleteGeneration(ctx, idem("c1"), g.ID, 1))
	if done.Status != credit.GenerationCompleted || done.Charged == 0 || done.Charged >= g.HoldCredits {
		t.Errorf("CompleteGeneration(1 of 2) = %+v", done)
	}
	if _, err := l.CompleteGeneration(ctx, nil, g.ID, 1); credit.ErrorReason(err) != "already_resolved" {
		t.Errorf("CompleteGeneration again = %v; want already_resolved", err)
	}
	part := credit.Credits(1)
	must[credit.Generation](t, "RefundGeneration part")(l.RefundGeneration(ctx, nil, g.ID, &part))
	ref := must[credit.Generation](t, "RefundGeneration rest")(l.RefundGeneration(ctx, nil, g.ID, nil))
	if ref.Refunded != ref.Charged {
		t.Errorf("refunded %s of %s; want all", ref.Refunded, ref.Charged)
	}
	g2 := must[credit.Generation](t, "CreateGeneration 2")(l.CreateGeneration(ctx, nil, credit.GenerationSpec{Account: "acme", Request: req}))
	if f := must[credit.Generation](t, "FailGeneration")(l.FailGeneration(ctx, nil, g2.ID)); f.Status != credit.GenerationFailed {
		t.Errorf("FailGeneration = %s", f.Status)
	}

	h := must[credit.Hold](t, "CreateHold")(l.CreateHold(ctx, nil, "acme", credit.HoldSpec{Credits: credit.Whole(10)}))
	four := credit.Whole(4)
	if c := must[credit.Hold](t, "CaptureHold")(l.CaptureHold(ctx, nil, h.ID, &four)); c.Captured != four || c.Released != credit.Whole(6) {
		t.Errorf("CaptureHold(4 of 10) = %+v", c)
	}
	h2 := must[credit.Hold](t, "CreateHold 2")(l.CreateHold(ctx, nil, "acme", credit.HoldSpec{Credits: credit.Whole(5)}))
	must[credit.Hold](t, "ReleaseHold")(l.ReleaseHold(ctx, nil, h2.ID))
	if _, err := l.CreateHold(ctx, nil, "acme", credit.HoldSpec{Credits: credit.Whole(1000)}); credit.ErrorCode(err) != credit.InsufficientCredits {
		t.Errorf("CreateHold(more than the balance) = %v; want InsufficientCredits", err)
	}

	// An overdraft: holds on the overdraft grant, then a grant that pays it
	// back moves them onto itself (allocations rewritten and trimmed).
	must[credit.Account](t, "CreateAccount ovd")(l.CreateAccount(ctx, nil, "ovd", credit.Whole(100)))
	o1 := must[credit.Hold](t, "CreateHold on overdraft")(l.CreateHold(ctx, nil, "ovd", credit.HoldSpec{Credits: credit.Whole(30)}))
	o2 := must[credit.Hold](t, "CreateHold on overdraft 2")(l.CreateHold(ctx, nil, "ovd", credit.HoldSpec{Credits: credit.Whole(20), TTL: time.Minute}))
	ten := credit.Whole(10)
	must[credit.Hold](t, "CaptureHold on overdraft")(l.CaptureHold(ctx, nil, o1.ID, &ten))
	must[credit.Grant](t, "AddGrant paying back")(l.AddGrant(ctx, nil, "ovd", credit.GrantSpec{Credits: credit.Whole(15), Source: credit.SourceTopup}))
	if h := must[credit.Hold](t, "Hold")(l.Hold(ctx, o2.ID)); len(h.Allocations) != 2 {
		t.Errorf("the open hold on the overdraft after a payback has allocations %+v; want 2 (moved in part)", h.Allocations)
	}

	// Time passes: the promo grant and the one-minute hold expire, settled
	// by the sweeper (Refs.TryLock).
	clk.Add(2 * time.Hour)
	if n := must[int](t, "ExpireDue")(l.ExpireDue(ctx)); n != 2 {
		t.Errorf("ExpireDue settled %d accounts; want 2", n)
	}
	if n := must[int](t, "ExpireDue again")(l.ExpireDue(ctx)); n != 0 {
		t.Errorf("ExpireDue again settled %d accounts; want 0", n)
	}
	v := must[credit.AccountView](t, "Account")(l.Account(ctx, "ovd"))
	if len(v.OpenHolds) != 0 || v.Held != 0 {
		t.Errorf("ovd after expiry = %+v; want no open hold", v)
	}
	es := must[[]credit.Entry](t, "Entries")(l.Entries(ctx, "acme", 0, 100))
	for i := 1; i < len(es); i++ {
		if es[i].ID >= es[i-1].ID {
			t.Errorf("entries newest first: %d after %d", es[i].ID, es[i-1].ID)
		}
	}
	verify(t, l)
}

// TestWrite_Concurrent writes one hot account and a few others from two
// nodes (two pools, two ledgers) at once: the row lock taken by the load
// serializes each account's batches across nodes, and nothing is lost.
func TestWrite_Concurrent(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	ctx := context.Background()
	nodes := []*credit.Ledger{newLedger(pgtest.OpenDSN(t, dsn), nil), newLedger(pgtest.OpenDSN(t, dsn), nil)}
	accounts := []string{"hot", "a1", "a2", "a3"}
	for _, a := range accounts {
		must[credit.Account](t, "CreateAccount")(nodes[0].CreateAccount(ctx, nil, a, 0))
		must[credit.Grant](t, "AddGrant")(nodes[1].AddGrant(ctx, nil, a, credit.GrantSpec{Credits: credit.Whole(1_000_000), Source: credit.SourceTopup}))
	}
	var wg sync.WaitGroup
	var charged [4]atomic.Int64
	for w := range 12 {
		wg.Go(func() {
			l := nodes[w%2]
			for i := range 15 {
				k := 0
				if i%2 == 1 {
					k = 1 + (w+i)%3
				}
				g, err := l.CreateGeneration(ctx, nil, credit.GenerationSpec{Account: accounts[k], Request: credit.QuoteRequest{Model: "flux-dev", Images: 2}})
				if err != nil {
					t.Error(err)
					return
				}
				// Completed on the other node.
				g, err = nodes[(w+1)%2].CompleteGeneration(ctx, idem(fmt.Sprint("c", w, "-", i)), g.ID, 1+i%2)
				if err != nil {
					t.Error(err)
					return
				}
				charged[k].Add(int64(g.Charged))
			}
		})
	}
	wg.Wait()
	for k, a := range accounts {
		v := must[credit.AccountView](t, "Account")(nodes[0].Account(ctx, a))
		if want := credit.Whole(1_000_000) - credit.Credits(charged[k].Load()); v.Available != want || v.Held != 0 {
			t.Errorf("%s: available %s, held %s; want %s, 0", a, v.Available, v.Held, want)
		}
	}
	verify(t, nodes[0])
}

// openWire opens the store with one connection (so that the statements a
// warm-up prepares are prepared for what follows), counting round trips.
func openWire(t *testing.T) (*postgres.DB, func() int64) {
	t.Helper()
	dsn := pgtest.NewDatabase(t)
	if strings.Contains(dsn, "://") {
		if strings.Contains(dsn, "?") {
			dsn += "&pool_max_conns=1"
		} else {
			dsn += "?pool_max_conns=1"
		}
	} else {
		dsn += " pool_max_conns=1"
	}
	db, wire, err := postgres.OpenWire(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, wire
}

// TestWrite_RoundTrips: a generation's create and its completion, each with
// an Idempotency-Key as the studio sends them, take two round trips each
// once warm (the statements prepared): BEGIN, the lock and the load; the
// Change and COMMIT. So does a completion that touches three grants. Both
// counters agree: RoundTrips (pgx's tracer: statements, a batch once) and
// the wire (writes after reads).
func TestWrite_RoundTrips(t *testing.T) {
	db, wire := openWire(t)
	ctx := context.Background()
	l := newLedger(db, nil)
	req := credit.QuoteRequest{Model: "flux-dev", Images: 1}
	q, err := catalog.Default().Quote(req)
	if err != nil {
		t.Fatal(err)
	}
	must[credit.Account](t, "CreateAccount")(l.CreateAccount(ctx, nil, "solo", 0))
	must[credit.Grant](t, "AddGrant")(l.AddGrant(ctx, nil, "solo", credit.GrantSpec{Credits: credit.Whole(1_000_000), Source: credit.SourceTopup}))
	// Three grants, in this order (priority), that one hold spans.
	must[credit.Account](t, "CreateAccount")(l.CreateAccount(ctx, nil, "three", 0))
	third := q.TotalCredits / 3
	for i, c := range []credit.Credits{third, third, credit.Whole(1_000_000)} {
		must[credit.Grant](t, "AddGrant")(l.AddGrant(ctx, nil, "three", credit.GrantSpec{Credits: c, Source: credit.SourceTopup, Priority: i}))
	}

	// measure checks that fn takes at most 2 round trips, the write's, and
	// read more: those of the ledger's View before it.
	measure := func(what string, fn func(), read ...int64) {
		t.Helper()
		want := int64(2)
		for _, n := range read {
			want += n
		}
		trips, onWire := db.RoundTrips(), wire()
		fn()
		trips, onWire = db.RoundTrips()-trips, wire()-onWire
		t.Logf("%s: %d round trips (RoundTrips), %d on the wire", what, trips, onWire)
		if trips > want || onWire > want {
			t.Errorf("%s took %d round trips (RoundTrips), %d on the wire; want ≤ %d", what, trips, onWire, want)
		}
	}
	for n := range 3 { // the first cycle prepares the statements
		var g credit.Generation
		create := func() {
			g = must[credit.Generation](t, "CreateGeneration")(l.CreateGeneration(ctx, idem(fmt.Sprint("create", n)),
				credit.GenerationSpec{Account: "solo", Request: req}))
		}
		complete := func() {
			must[credit.Generation](t, "CompleteGeneration")(l.CompleteGeneration(ctx, idem(fmt.Sprint("complete", n)), g.ID, 1))
		}
		if n == 0 {
			create()
			complete()
			continue
		}
		measure("create", create)
		measure("complete", complete)
	}
	g := must[credit.Generation](t, "CreateGeneration")(l.CreateGeneration(ctx, idem("create3"), credit.GenerationSpec{Account: "three", Request: req}))
	if h := must[credit.Hold](t, "Hold")(l.Hold(ctx, g.Hold)); len(h.Allocations) != 3 {
		t.Fatalf("the hold has allocations %+v; want 3", h.Allocations)
	}
	measure("complete on three grants", func() {
		must[credit.Generation](t, "CompleteGeneration")(l.CompleteGeneration(ctx, idem("complete3"), g.ID, 1))
	})

	// The writes of the support desk add to both report rollups, or to the
	// liability one, in the same round trips. Each runs once first, to
	// prepare its statements.
	solo := must[credit.GenerationPage](t, "Generations")(l.Generations(ctx, "solo", credit.GenerationFilter{Limit: 10}))
	if len(solo.Generations) != 3 {
		t.Fatalf("solo has %d generations; want 3", len(solo.Generations))
	}
	for i, what := range []string{"warm", "refund"} {
		refund := func() {
			must[credit.Generation](t, "RefundGeneration")(l.RefundGeneration(ctx, idem(fmt.Sprint("refund", i)), solo.Generations[i].ID, nil))
		}
		if i == 0 {
			refund()
			continue
		}
		measure(what, refund)
	}
	var promos []credit.Grant
	for i := range 3 {
		grant := func() {
			promos = append(promos, must[credit.Grant](t, "AddGrant")(l.AddGrant(ctx, idem(fmt.Sprint("grant", i)), "solo",
				credit.GrantSpec{Credits: credit.Whole(10), Source: credit.SourcePromo, ExpiresAt: time.Now().Add(30 * 24 * time.Hour)})))
		}
		debit := func() {
			must[credit.Entry](t, "Debit")(l.Debit(ctx, idem(fmt.Sprint("debit", i)), "solo", credit.DebitSpec{Credits: credit.Whole(1)}))
		}
		void := func() {
			must[credit.Grant](t, "VoidGrant")(l.VoidGrant(ctx, idem(fmt.Sprint("void", i)), promos[i].ID, "test"))
		}
		if i == 0 {
			grant()
			debit()
			void()
			continue
		}
		measure("grant", grant)
		measure("debit", debit)
		// VoidGrant reads the grant's account first, in a View of its
		// own: BEGIN, SELECT, ROLLBACK.
		measure("void", void, 3)
	}
	verify(t, l)
	// flux-dev was charged q.TotalCredits four times (solo's three
	// completions, three's one), two of them refunded whole: 4 − 2 = 2 of
	// them, in 4 charges (a refund is no charge), all paid by top-ups.
	var charged credit.Credits
	var charges int
	for _, r := range must[*credit.Snapshot](t, "ReadSnapshot")(credit.ReadSnapshot(ctx, db)).Consumption {
		if r.Model != "flux-dev" || r.Source != credit.SourceTopup {
			t.Errorf("consumption row %+v; want flux-dev paid by top-ups only", r)
		}
		charged += r.Charged
		charges += r.Charges
	}
	if charged != 2*q.TotalCredits || charges != 4 {
		t.Errorf("the consumption rollup holds %s in %d charges; want 2 × %s = %s in 4", charged, charges, q.TotalCredits, 2*q.TotalCredits)
	}
}

// TestWrite_Rollups: Write adds the report rollups' rows of a Change to the
// stored rows of the same key, inserting those that are not there; the
// rows of the batches of one Write (of several accounts, or of one account
// twice) are summed by key first; a row that comes to zero stays. A Write
// of several batches that add to the rollups is still two round trips.
func TestWrite_Rollups(t *testing.T) {
	db, wire := openWire(t)
	ctx := context.Background()
	l := newLedger(db, nil)
	for _, a := range []string{"a", "b"} {
		must[credit.Account](t, "CreateAccount")(l.CreateAccount(ctx, nil, a, 0))
	}
	add := func(account string, liab []credit.LiabilityRow, cons []credit.ConsumptionRow) *credit.Batch {
		return batch(account, credit.Refs{}, nil, func(s *credit.State) *credit.Change {
			return &credit.Change{Liability: liab, Consumption: cons}
		})
	}
	l1 := func(day string, c credit.Credits) credit.LiabilityRow {
		return credit.LiabilityRow{Day: day, Source: credit.SourceTopup, Expires: "2026-12-31", Credits: c}
	}
	c1 := func(day string, c credit.Credits, n int) credit.ConsumptionRow {
		return credit.ConsumptionRow{Day: day, Model: "flux-dev", Source: credit.SourceTopup, Charged: c, Charges: n}
	}
	write := func(bs ...*credit.Batch) {
		t.Helper()
		if err := db.Write(ctx, bs); err != nil {
			t.Fatal(err)
		}
	}
	// 5 + 7 = 12 and 2 + 3 = 5 on the 1st (two accounts), 4 on the 2nd.
	write(add("a", []credit.LiabilityRow{l1("2026-11-01", 5)}, []credit.ConsumptionRow{c1("2026-11-01", 2, 1)}),
		add("b", []credit.LiabilityRow{l1("2026-11-01", 7), l1("2026-11-02", 4)}, []credit.ConsumptionRow{c1("2026-11-01", 3, 1)}))
	// −12 + 0 = 0 on the 1st (one account twice), 4 + 1 = 5 on the 2nd;
	// charged 5 − 1 = 4 in 2 + 0 = 2 charges.
	write(add("a", []credit.LiabilityRow{l1("2026-11-01", -12)}, []credit.ConsumptionRow{c1("2026-11-01", -1, 0)}),
		add("a", []credit.LiabilityRow{l1("2026-11-02", 1)}, nil))
	gotL, gotC := storedRollups(t, db)
	wantL := []credit.LiabilityRow{l1("2026-11-01", 0), l1("2026-11-02", 5)}
	wantC := []credit.ConsumptionRow{c1("2026-11-01", 4, 2)}
	if !reflect.DeepEqual(gotL, wantL) || !reflect.DeepEqual(gotC, wantC) {
		t.Errorf("the rollups = %+v, %+v; want %+v, %+v", gotL, gotC, wantL, wantC)
	}
	trips, onWire := db.RoundTrips(), wire()
	write(add("a", []credit.LiabilityRow{l1("2026-11-03", 1)}, []credit.ConsumptionRow{c1("2026-11-03", 1, 1)}),
		add("b", []credit.LiabilityRow{l1("2026-11-03", 1)}, []credit.ConsumptionRow{c1("2026-11-03", 1, 1)}))
	if trips, onWire = db.RoundTrips()-trips, wire()-onWire; trips > 2 || onWire > 2 {
		t.Errorf("a Write of two batches with rollups took %d round trips (RoundTrips), %d on the wire; want ≤ 2", trips, onWire)
	}

	// The reads: before the 2nd, the 1st's 0 is left out; over every day,
	// 0 + 5 + 2 = 7. The consumption of [1st, 3rd) is the 1st's row.
	mustView(t, db, func(tx credit.Tx) error {
		for before, want := range map[string][]credit.LiabilityRow{
			"2026-11-02": nil,
			"2026-11-03": {{Source: credit.SourceTopup, Expires: "2026-12-31", Credits: 5}},
			"":           {{Source: credit.SourceTopup, Expires: "2026-12-31", Credits: 7}},
		} {
			if got, err := tx.Liability(before); err != nil || !reflect.DeepEqual(got, want) {
				t.Errorf("Liability(%q) = %+v, %v; want %+v", before, got, err, want)
			}
		}
		if got, err := tx.Consumption("2026-11-01", "2026-11-03"); err != nil || !reflect.DeepEqual(got, wantC) {
			t.Errorf("Consumption(1st, 3rd) = %+v, %v; want %+v", got, err, wantC)
		}
		return nil
	})
}

// batch returns a Batch on account whose Decide returns change (and counts
// its calls).
func batch(account string, refs credit.Refs, calls *int, change func(*credit.State) *credit.Change) *credit.Batch {
	if refs.Now.IsZero() {
		refs.Now = time.Now().UTC().Truncate(time.Microsecond)
	}
	return &credit.Batch{Account: account, Refs: refs, Decide: func(s *credit.State) (*credit.Change, error) {
		if calls != nil {
			*calls++
		}
		return change(s), nil
	}}
}

// TestWrite_Refused: a unique key taken when the Change is applied is a
// Conflict, and nothing of the batch commits.
func TestWrite_Refused(t *testing.T) {
	db := pgtest.Open(t)
	ctx := context.Background()
	l := newLedger(db, nil)
	must[credit.Account](t, "CreateAccount")(l.CreateAccount(ctx, nil, "acme", 0))
	must[credit.Grant](t, "AddGrant")(l.AddGrant(ctx, idem("grant"), "acme", credit.GrantSpec{Credits: credit.Whole(10), Source: credit.SourceTopup}))

	// As if another node had created the account after the load.
	err := db.Write(ctx, []*credit.Batch{batch("acme", credit.Refs{}, nil, func(*credit.State) *credit.Change {
		return &credit.Change{NewAccount: &credit.Account{ID: "acme", CreatedAt: t0}}
	})})
	wantError(t, "Write(an account that exists)", err, credit.Conflict, "account_exists")

	// As if another request had used the key meanwhile: the balance change
	// of the same batch is not committed either.
	err = db.Write(ctx, []*credit.Batch{batch("acme", credit.Refs{}, nil, func(s *credit.State) *credit.Change {
		a := *s.Account
		a.Available += 5
		return &credit.Change{Account: &a, Idempotency: []credit.IdempotencyRecord{{Idempotency: *idem("grant"), CreatedAt: t0}}}
	})})
	wantError(t, "Write(a used Idempotency-Key)", err, credit.Conflict, "idempotency_conflict")
	if v := must[credit.AccountView](t, "Account")(l.Account(ctx, "acme")); v.Available != credit.Whole(10) {
		t.Errorf("available after the refused batch = %s; want 10", v.Available)
	}
	verify(t, l)
}

// TestWrite_RaceForAKey: a retry of a request whose first attempt is still
// running for an account that does not exist yet (so no row lock orders
// them) replays the first answer once that commits: the unique key it
// meets makes Write load again.
func TestWrite_RaceForAKey(t *testing.T) {
	db := pgtest.Open(t)
	ctx := context.Background()
	l := newLedger(db, func() time.Time { return t0 })
	first, err := db.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Rollback(ctx)
	answer := credit.Account{ID: "acme", Overdraft: credit.Whole(5), CreatedAt: t0}
	response, _ := json.Marshal(answer)
	for _, q := range []struct {
		sql  string
		args []any
	}{
		{`INSERT INTO accounts (id, overdraft, available, held, created_at) VALUES ('acme', $1, 0, 0, $2)`, []any{int64(answer.Overdraft), t0}},
		{`INSERT INTO grants (id, account, source, granted, remaining, held, priority, expires_at, expired_at, created_at, memo, paid_back)
			VALUES ('ovd_acme', 'acme', 'overdraft', 0, 0, 0, 2147483647, NULL, NULL, $1, '', 0)`, []any{t0}},
		{`INSERT INTO idempotency (scope, key, hash, response, created_at) VALUES ('test', 'acct', 'h-acct', $1, $2)`, []any{response, t0}},
	} {
		if _, err := first.Exec(ctx, q.sql, q.args...); err != nil {
			t.Fatal(err)
		}
	}
	type result struct {
		a   credit.Account
		err error
	}
	done := make(chan result, 1)
	go func() {
		a, err := l.CreateAccount(ctx, idem("acct"), "acme", credit.Whole(5))
		done <- result{a, err}
	}()
	time.Sleep(200 * time.Millisecond) // the retry waits on the unique index
	if err := first.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	r := <-done
	if r.err != nil || r.a != answer {
		t.Errorf("CreateAccount retried while the first ran = %+v, %v; want the first answer %+v", r.a, r.err, answer)
	}
	// Without the key, the second creation is refused.
	if _, err := l.CreateAccount(ctx, nil, "acme", 0); credit.ErrorReason(err) != "account_exists" {
		t.Errorf("CreateAccount again = %v; want account_exists", err)
	}
}

// TestWrite_State: the load gives Decide the account's working set and what
// Refs names of the account's own, nothing of another account's.
func TestWrite_State(t *testing.T) {
	db := pgtest.Open(t)
	ctx := context.Background()
	l := newLedger(db, nil)
	for _, a := range []string{"acme", "other"} {
		must[credit.Account](t, "CreateAccount")(l.CreateAccount(ctx, nil, a, 0))
	}
	req := credit.QuoteRequest{Model: "flux-dev", Images: 1}
	q := must[credit.Quote](t, "Quote")(catalog.Default().Quote(req))
	spent := must[credit.Grant](t, "AddGrant")(l.AddGrant(ctx, nil, "acme", credit.GrantSpec{Credits: q.TotalCredits, Source: credit.SourceTopup}))
	live := must[credit.Grant](t, "AddGrant")(l.AddGrant(ctx, nil, "acme", credit.GrantSpec{Credits: credit.Whole(1000), Source: credit.SourceTopup, Priority: 1}))
	g := must[credit.Generation](t, "CreateGeneration")(l.CreateGeneration(ctx, nil, credit.GenerationSpec{Account: "acme", Request: req}))
	must[credit.Generation](t, "CompleteGeneration")(l.CompleteGeneration(ctx, nil, g.ID, 1))
	must[credit.Grant](t, "AddGrant")(l.AddGrant(ctx, nil, "other", credit.GrantSpec{Credits: credit.Whole(1000), Source: credit.SourceTopup}))
	og := must[credit.Generation](t, "CreateGeneration")(l.CreateGeneration(ctx, nil, credit.GenerationSpec{Account: "other", Request: req}))

	load := func(refs credit.Refs) *credit.State {
		t.Helper()
		var got *credit.State
		if err := db.Write(ctx, []*credit.Batch{batch("acme", refs, nil, func(s *credit.State) *credit.Change {
			got = s
			return &credit.Change{}
		})}); err != nil {
			t.Fatal(err)
		}
		return got
	}
	grantIDs := func(s *credit.State) []string {
		var ids []string
		for _, g := range s.Grants {
			ids = append(ids, g.ID)
		}
		return ids
	}
	s := load(credit.Refs{})
	if s.Account == nil || s.Account.ID != "acme" {
		t.Fatalf("State.Account = %+v", s.Account)
	}
	if ids := fmt.Sprint(grantIDs(s)); ids != fmt.Sprint([]string{live.ID, "ovd_acme"}) {
		t.Errorf("working set = %s; want the live grant and the overdraft grant, not the spent one (%s)", ids, spent.ID)
	}
	if len(s.Holds)+len(s.Generations) != 0 {
		t.Errorf("State with no Refs has holds %v and generations %v; want none", s.Holds, s.Generations)
	}
	// Named: the generation, its hold, and the spent grant its allocation
	// names; the other account's generation and hold are not loaded.
	s = load(credit.Refs{Generations: []string{g.ID, og.ID}, Holds: []string{og.Hold}})
	if len(s.Generations) != 1 || s.Generations[0].ID != g.ID || len(s.Holds) != 1 || s.Holds[0].ID != g.Hold {
		t.Errorf("State naming a generation of its own and another's = %+v, %+v; want its own and its hold", s.Generations, s.Holds)
	} else if len(s.Holds[0].Allocations) != 1 || s.Holds[0].Allocations[0].Grant != spent.ID {
		t.Errorf("loaded hold's allocations = %+v; want one on %s", s.Holds[0].Allocations, spent.ID)
	}
	if ids := fmt.Sprint(grantIDs(s)); ids != fmt.Sprint([]string{spent.ID, live.ID, "ovd_acme"}) {
		t.Errorf("working set with a named generation = %s; want the spent grant its hold names too", ids)
	}
	// Idempotency records of the pairs named that exist.
	must[credit.Hold](t, "CreateHold")(l.CreateHold(ctx, idem("k"), "acme", credit.HoldSpec{Credits: 1}))
	s = load(credit.Refs{Idempotency: []credit.Idempotency{{Scope: "test", Key: "k"}, {Scope: "test", Key: "none"}}})
	if len(s.Idempotency) != 1 || s.Idempotency[0].Key != "k" || s.Idempotency[0].Hash != "h-k" || len(s.Idempotency[0].Response) == 0 {
		t.Errorf("State.Idempotency = %+v; want the record of k", s.Idempotency)
	}
	// A record without a response (NULL) goes and comes back as nil.
	if err := db.Write(ctx, []*credit.Batch{batch("acme", credit.Refs{}, nil, func(*credit.State) *credit.Change {
		return &credit.Change{Idempotency: []credit.IdempotencyRecord{{Idempotency: credit.Idempotency{Scope: "test", Key: "nil", Hash: "h"}, CreatedAt: t0}}}
	})}); err != nil {
		t.Fatal(err)
	}
	s = load(credit.Refs{Idempotency: []credit.Idempotency{{Scope: "test", Key: "nil"}}})
	if len(s.Idempotency) != 1 || s.Idempotency[0].Response != nil || !s.Idempotency[0].CreatedAt.Equal(t0) {
		t.Errorf("State.Idempotency = %+v; want the record of nil, without a response", s.Idempotency)
	}
	// An open hold due at Refs.Now is loaded without being named.
	s = load(credit.Refs{Now: time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)})
	if len(s.Holds) != 1 || s.Holds[0].Status != credit.HoldOpen {
		t.Errorf("State an hour later has holds %+v; want the open hold, due", s.Holds)
	}
}

// TestWrite_Lock: a batch waits for the account's lock and then loads what
// its holder committed; with Refs.TryLock it does not wait, and is skipped.
func TestWrite_Lock(t *testing.T) {
	db := pgtest.Open(t)
	ctx := context.Background()
	l := newLedger(db, nil)
	must[credit.Account](t, "CreateAccount")(l.CreateAccount(ctx, nil, "acme", 0))

	holder, err := db.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback(ctx)
	if _, err := holder.Exec(ctx, `UPDATE accounts SET available = available + 7 WHERE id = 'acme'`); err != nil {
		t.Fatal(err)
	}

	calls := 0
	tryLock := batch("acme", credit.Refs{TryLock: true}, &calls, func(*credit.State) *credit.Change { return &credit.Change{} })
	if err := db.Write(ctx, []*credit.Batch{tryLock}); err != nil || !tryLock.Skipped || calls != 0 {
		t.Errorf("Write(TryLock, the lock taken) = %v, skipped %t, %d Decide calls; want nil, skipped, none", err, tryLock.Skipped, calls)
	}

	var seen credit.Credits
	done := make(chan error, 1)
	go func() {
		done <- db.Write(ctx, []*credit.Batch{batch("acme", credit.Refs{}, nil, func(s *credit.State) *credit.Change {
			seen = s.Account.Available
			return &credit.Change{}
		})})
	}()
	select {
	case err := <-done:
		t.Fatalf("Write returned (%v) while another transaction held the account's lock", err)
	case <-time.After(200 * time.Millisecond):
	}
	if err := holder.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if seen != 7 {
		t.Errorf("the waiting batch loaded available = %s; want what the lock's holder committed (0.007)", seen)
	}
	calls = 0
	if err := db.Write(ctx, []*credit.Batch{tryLock}); err != nil || tryLock.Skipped || calls != 1 {
		t.Errorf("Write(TryLock, the lock free) = %v, skipped %t, %d Decide calls; want nil, not skipped, 1", err, tryLock.Skipped, calls)
	}
}

// TestWrite_Retry: a deadlock or a serialization failure runs the batch
// again from its load, Decide included, up to MaxAttempts times.
func TestWrite_Retry(t *testing.T) {
	db := pgtest.Open(t)
	ctx := context.Background()
	// Audit entries fail as PostgreSQL's deadlock detector fails a
	// transaction: the first one (a sequence is not rolled back), or all
	// of them for a serialization failure.
	if _, err := db.Pool().Exec(ctx, `CREATE SEQUENCE fail_seq;
		CREATE FUNCTION fail_audit() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF NEW.target = 'always' THEN
				RAISE EXCEPTION 'injected' USING ERRCODE = '40001';
			END IF;
			IF nextval('fail_seq') = 1 THEN
				RAISE EXCEPTION 'injected' USING ERRCODE = '40P01';
			END IF;
			RETURN NEW;
		END $$;
		CREATE TRIGGER fail_audit BEFORE INSERT ON audit_log FOR EACH ROW EXECUTE FUNCTION fail_audit();`); err != nil {
		t.Fatal(err)
	}
	entry := func(target string) *credit.Change {
		return &credit.Change{Audit: []credit.AuditEntry{{At: t0, Actor: "test", Action: credit.AuditAccountCreate, Target: target, Detail: []byte("{}")}}}
	}
	calls := 0
	if err := db.Write(ctx, []*credit.Batch{batch("acme", credit.Refs{}, &calls, func(*credit.State) *credit.Change { return entry("once") })}); err != nil || calls != 2 {
		t.Errorf("Write(a deadlock, then none) = %v after %d Decide calls; want nil after 2", err, calls)
	}
	calls = 0
	err := db.Write(ctx, []*credit.Batch{batch("acme", credit.Refs{}, &calls, func(*credit.State) *credit.Change { return entry("always") })})
	wantError(t, "Write(serialization failures)", err, credit.Unavailable, "store_unavailable")
	if calls != postgres.MaxAttempts {
		t.Errorf("Decide ran %d times; want MaxAttempts (%d)", calls, postgres.MaxAttempts)
	}
	var n int
	if err := db.Pool().QueryRow(ctx, `SELECT count(*) FROM audit_log`).Scan(&n); err != nil || n != 1 {
		t.Errorf("audit entries = %d, %v; want 1", n, err)
	}
}

// TestWrite_SeveralBatches: several batches run in one transaction, in
// order, and commit together or not at all.
func TestWrite_SeveralBatches(t *testing.T) {
	db := pgtest.Open(t)
	ctx := context.Background()
	l := newLedger(db, nil)
	for _, a := range []string{"a", "b"} {
		must[credit.Account](t, "CreateAccount")(l.CreateAccount(ctx, nil, a, 0))
	}
	add := func(account string, d credit.Credits) *credit.Batch {
		return batch(account, credit.Refs{}, nil, func(s *credit.State) *credit.Change {
			a := *s.Account
			a.Available += d
			return &credit.Change{Account: &a}
		})
	}
	if err := db.Write(ctx, []*credit.Batch{add("a", 1), add("b", 2)}); err != nil {
		t.Fatal(err)
	}
	bad := batch("b", credit.Refs{}, nil, func(*credit.State) *credit.Change {
		return &credit.Change{NewAccount: &credit.Account{ID: "b", CreatedAt: t0}}
	})
	err := db.Write(ctx, []*credit.Batch{add("a", 10), bad})
	wantError(t, "Write(a good batch, a refused one)", err, credit.Conflict, "account_exists")
	var a, b int64
	if err := db.Pool().QueryRow(ctx, `SELECT (SELECT available FROM accounts WHERE id = 'a'), (SELECT available FROM accounts WHERE id = 'b')`).Scan(&a, &b); err != nil {
		t.Fatal(err)
	}
	if a != 1 || b != 2 {
		t.Errorf("available = %d, %d; want 1, 2 (the second Write wholly refused)", a, b)
	}
}

// TestWrite_Canceled: a Write whose context is done before it starts writes
// nothing.
func TestWrite_Canceled(t *testing.T) {
	db := pgtest.Open(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls := 0
	err := db.Write(ctx, []*credit.Batch{batch("acme", credit.Refs{}, &calls, func(*credit.State) *credit.Change { return &credit.Change{} })})
	wantError(t, "Write(canceled)", err, credit.Unavailable, "canceled")
	if calls != 0 {
		t.Errorf("Decide ran %d times; want none", calls)
	}
	if !errors.Is(ctx.Err(), context.Canceled) {
		t.Fatal("context not canceled")
	}
}

// TestWrite_SeedHistory: credit.SeedHistory writes a long history through
// Write, thousands of rows of each kind per Change (multi-row statements of
// large arrays), and the ledger verifies.
func TestWrite_SeedHistory(t *testing.T) {
	db := pgtest.Open(t)
	ctx := context.Background()
	l := newLedger(db, nil)
	must[credit.Account](t, "CreateAccount")(l.CreateAccount(ctx, nil, "old", 0))
	to := time.Now().UTC()
	like := []credit.Generation{
		{Model: "flux-dev", Kind: "image", CatalogVersion: "v1", Images: 1, ImagesDelivered: 1, HoldCredits: credit.Whole(5), UnitCredits: credit.Whole(5), Charged: credit.Whole(5)},
		{Model: "flux-dev", Kind: "image", CatalogVersion: "v1", Images: 2, ImagesDelivered: 2, HoldCredits: credit.Whole(10), UnitCredits: credit.Whole(5), Charged: credit.Whole(10)},
	}
	const cycles = 6001
	n, err := credit.SeedHistory(ctx, db, "old", cycles, to.Add(-24*time.Hour), to, like)
	if err != nil || n != 1+2*cycles {
		t.Fatalf("SeedHistory = %d, %v; want %d", n, err, 1+2*cycles)
	}
	es := must[[]credit.Entry](t, "Entries")(l.Entries(ctx, "old", 0, 3))
	if len(es) != 3 || es[0].Kind != credit.EntryCapture || es[1].Kind != credit.EntryHold || es[0].ID <= es[1].ID {
		t.Errorf("the newest entries = %+v; want a capture after its hold", es)
	}
	verify(t, l)
}
