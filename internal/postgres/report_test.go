package postgres_test

import (
	"cmp"
	"context"
	"fmt"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/postgres"
	"github.com/tally-credits/tally/internal/postgres/pgtest"
	"github.com/tally-credits/tally/internal/storetest"
)

// reportHistory writes a history of three accounts over four UTC days:
// grants of four sources, some expiring; generations completed, refunded
// in part and whole, failed; a generic hold on an overdraft paid back; a
// void, a debit, an amended expiry and a grant expired by the sweeper.
func reportHistory(t *testing.T, l *credit.Ledger, clk *storetest.Clock) {
	t.Helper()
	ctx := context.Background()
	clk.Set(time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC))
	must[credit.Account](t, "CreateAccount alice")(l.CreateAccount(ctx, nil, "alice", 0))
	must[credit.Grant](t, "AddGrant topup")(l.AddGrant(ctx, nil, "alice", credit.GrantSpec{Credits: credit.Whole(100), Source: credit.SourceTopup}))
	promo := must[credit.Grant](t, "AddGrant promo")(l.AddGrant(ctx, nil, "alice", credit.GrantSpec{Credits: credit.Whole(50),
		Source: credit.SourcePromo, ExpiresAt: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)}))
	adj := must[credit.Grant](t, "AddGrant adjustment")(l.AddGrant(ctx, nil, "alice", credit.GrantSpec{Credits: credit.Whole(20),
		Source: credit.SourceAdjustment, ExpiresAt: time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)}))
	generation := func(images, delivered int) credit.Generation {
		t.Helper()
		clk.Add(time.Minute) // ids sort by their millisecond, then at random
		g := must[credit.Generation](t, "CreateGeneration")(l.CreateGeneration(ctx, nil,
			credit.GenerationSpec{Account: "alice", Request: credit.QuoteRequest{Model: "flux-dev", Images: images}}))
		if delivered == 0 {
			return must[credit.Generation](t, "FailGeneration")(l.FailGeneration(ctx, nil, g.ID))
		}
		return must[credit.Generation](t, "CompleteGeneration")(l.CompleteGeneration(ctx, nil, g.ID, delivered))
	}
	generation(1, 1)
	g2 := generation(2, 2)
	generation(1, 0)
	part := credit.Credits(1500)
	must[credit.Generation](t, "RefundGeneration part")(l.RefundGeneration(ctx, nil, g2.ID, &part))

	clk.Add(24 * time.Hour) // 2026-03-02
	generation(3, 2)
	must[credit.Generation](t, "RefundGeneration rest")(l.RefundGeneration(ctx, nil, g2.ID, nil))
	must[credit.Grant](t, "VoidGrant")(l.VoidGrant(ctx, nil, promo.ID, "goodwill ended"))
	must[credit.Entry](t, "Debit")(l.Debit(ctx, nil, "alice", credit.DebitSpec{Credits: credit.Whole(5), Memo: "taken back"}))
	must[credit.Grant](t, "AmendGrantExpiry")(l.AmendGrantExpiry(ctx, nil, adj.ID, time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC), "later"))

	must[credit.Account](t, "CreateAccount bob")(l.CreateAccount(ctx, nil, "bob", credit.Whole(10)))
	must[credit.Grant](t, "AddGrant bob")(l.AddGrant(ctx, nil, "bob", credit.GrantSpec{Credits: credit.Whole(10), Source: credit.SourceTopup}))
	h := must[credit.Hold](t, "CreateHold")(l.CreateHold(ctx, nil, "bob", credit.HoldSpec{Credits: credit.Whole(15)}))
	twelve := credit.Whole(12)
	must[credit.Hold](t, "CaptureHold")(l.CaptureHold(ctx, nil, h.ID, &twelve))

	must[credit.Account](t, "CreateAccount carol")(l.CreateAccount(ctx, nil, "carol", 0))
	must[credit.Grant](t, "AddGrant carol")(l.AddGrant(ctx, nil, "carol", credit.GrantSpec{Credits: credit.Whole(7), Source: credit.SourcePromo,
		ExpiresAt: time.Date(2026, 3, 3, 0, 0, 0, 0, time.UTC)}))

	clk.Add(24 * time.Hour) // 2026-03-03: bob pays his overdraft back, carol's promo expires
	must[credit.Grant](t, "AddGrant bob again")(l.AddGrant(ctx, nil, "bob", credit.GrantSpec{Credits: credit.Whole(5), Source: credit.SourceTopup}))
	if n := must[int](t, "ExpireDue")(l.ExpireDue(ctx)); n != 1 {
		t.Errorf("ExpireDue settled %d accounts; want 1 (carol)", n)
	}
	clk.Add(24 * time.Hour) // 2026-03-04
}

// downgradeTo8 takes the schema back to before 0009: no report rollups, no
// index of theirs, the checks of 0008.
func downgradeTo8(ctx context.Context, db *postgres.DB) error {
	_, err := db.Pool().Exec(ctx, `DROP TABLE liability_daily;
		DROP TABLE consumption_daily;
		DROP INDEX generations_account;
		DROP INDEX generations_charged;
		DROP INDEX audit_log_target;
		ALTER TABLE api_keys DROP CONSTRAINT api_keys_scope_check;
		ALTER TABLE api_keys ADD CONSTRAINT api_keys_scope_check CHECK (scope IN ('admin', 'service', 'account')) NOT VALID;
		ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
		ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check CHECK (action IN ('account.create', 'grant.create', 'key.create', 'key.revoke', 'catalog.publish',
			'account.plan', 'subscription.create', 'subscription.cancel', 'subscription.change', 'grant.void', 'grant.amend',
			'member.set', 'member.remove',
			'account.alerts', 'account.auto_topup', 'topup.confirm', 'topup.cancel', 'webhook.create', 'webhook.delete', 'webhook.retry')) NOT VALID;
		DELETE FROM schema_migrations WHERE version = 9;`)
	return err
}

// storedRollups returns the report rollups as stored, sorted by key.
func storedRollups(tb testing.TB, db *postgres.DB) ([]credit.LiabilityRow, []credit.ConsumptionRow) {
	tb.Helper()
	s, err := credit.ReadSnapshot(context.Background(), db)
	if err != nil {
		tb.Fatal(err)
	}
	return sortRollups(s.Liability, s.Consumption)
}

// computedRollups returns what credit.ComputeRollups says the rollups must
// hold, sorted by key.
func computedRollups(tb testing.TB, db *postgres.DB) ([]credit.LiabilityRow, []credit.ConsumptionRow) {
	tb.Helper()
	var liab []credit.LiabilityRow
	var cons []credit.ConsumptionRow
	mustView(tb, db, func(tx credit.Tx) error {
		sc, err := credit.Scan(tx)
		if err != nil {
			return err
		}
		liab, cons, err = credit.ComputeRollups(sc)
		return err
	})
	return sortRollups(liab, cons)
}

func sortRollups(liab []credit.LiabilityRow, cons []credit.ConsumptionRow) ([]credit.LiabilityRow, []credit.ConsumptionRow) {
	slices.SortFunc(liab, func(a, b credit.LiabilityRow) int {
		return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.Source, b.Source), cmp.Compare(a.Expires, b.Expires))
	})
	slices.SortFunc(cons, func(a, b credit.ConsumptionRow) int {
		return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.Model, b.Model), cmp.Compare(a.Source, b.Source))
	})
	return liab, cons
}

// wantRollups checks that the stored rollups are what ComputeRollups says.
func wantRollups(tb testing.TB, what string, db *postgres.DB) {
	tb.Helper()
	gotL, gotC := storedRollups(tb, db)
	wantL, wantC := computedRollups(tb, db)
	if len(wantL) == 0 || len(wantC) == 0 {
		tb.Fatalf("%s: ComputeRollups = %d liability rows, %d consumption rows; want a history", what, len(wantL), len(wantC))
	}
	if !reflect.DeepEqual(gotL, wantL) {
		tb.Errorf("%s: the liability rollup =\n%+v\nwant (ComputeRollups)\n%+v", what, gotL, wantL)
	}
	if !reflect.DeepEqual(gotC, wantC) {
		tb.Errorf("%s: the consumption rollup =\n%+v\nwant (ComputeRollups)\n%+v", what, gotC, wantC)
	}
}

// TestMigrateBackfillsReportRollups: a ledger with a history, taken back to
// schema 8 (no rollups), migrated again: the backfill fills the rollups
// with what ComputeRollups reads, Verify is clean, the liability report
// owes what the accounts hold, and the writes that follow add to the rows
// the backfill made. A fresh database has none.
func TestMigrateBackfillsReportRollups(t *testing.T) {
	db := pgtest.Open(t)
	ctx := context.Background()
	if l, c := storedRollups(t, db); len(l) != 0 || len(c) != 0 {
		t.Errorf("a fresh database has rollups %+v, %+v; want none", l, c)
	}
	clk := &storetest.Clock{}
	l := newLedger(db, clk.Now)
	reportHistory(t, l, clk)
	verify(t, l) // the writes kept the rollups
	if l, c := storedRollups(t, db); len(l) == 0 || len(c) == 0 {
		t.Fatalf("after the history the rollups are %+v, %+v; want rows the writes added", l, c)
	}

	if err := downgradeTo8(ctx, db); err != nil {
		t.Fatalf("back to schema 8: %v", err)
	}
	if err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	wantRollups(t, "after the backfill", db)
	verify(t, l)

	var owed credit.Credits // what the accounts hold, available and held
	for _, id := range []string{"alice", "bob", "carol"} {
		v := must[credit.AccountView](t, "Account")(l.Account(ctx, id))
		owed += v.Available + v.Held
	}
	r := must[credit.LiabilityReport](t, "Liability")(l.Liability(ctx, time.Time{}))
	if r.Outstanding != owed || owed == 0 {
		t.Errorf("Liability outstanding = %s; want %s, what the accounts hold", r.Outstanding, owed)
	}

	// A charge after the backfill adds to its rows.
	g := must[credit.Generation](t, "CreateGeneration")(l.CreateGeneration(ctx, nil,
		credit.GenerationSpec{Account: "alice", Request: credit.QuoteRequest{Model: "flux-dev", Images: 1}}))
	must[credit.Generation](t, "CompleteGeneration")(l.CompleteGeneration(ctx, nil, g.ID, 1))
	verify(t, l)
}

// TestMigrateBackfillsOnce: nodes that start together on a database of
// schema 8 fill the rollups once between them (the migration's lock).
func TestMigrateBackfillsOnce(t *testing.T) {
	dsn := pgtest.NewDatabase(t)
	db := pgtest.OpenDSN(t, dsn)
	ctx := context.Background()
	clk := &storetest.Clock{}
	l := newLedger(db, clk.Now)
	reportHistory(t, l, clk)
	if err := downgradeTo8(ctx, db); err != nil {
		t.Fatalf("back to schema 8: %v", err)
	}
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			node, err := postgres.Open(ctx, dsn)
			if err == nil {
				node.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("node %d: Open = %v", i, err)
		}
	}
	wantRollups(t, "after four nodes started", db)
	verify(t, l)
}

// TestSupportKey: an API key of the support desk's scope is stored and
// read back.
func TestSupportKey(t *testing.T) {
	db := pgtest.Open(t)
	ctx := context.Background()
	k := credit.Key{ID: "key_support", Hash: []byte("h"), Scope: credit.ScopeSupport, Name: "desk", CreatedAt: t0}
	if err := db.Update(ctx, func(tx credit.Tx) error { return tx.InsertKey(k) }); err != nil {
		t.Fatalf("InsertKey(support) = %v", err)
	}
	mustView(t, db, func(tx credit.Tx) error {
		got, err := tx.Key(k.ID)
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(got, k) {
			t.Errorf("Key = %+v; want %+v", got, k)
		}
		return nil
	})
}

// TestPrefixEnd: the end of a prefix's range is its last code point
// incremented; U+10FFFF, which nothing follows, is dropped and the one
// before incremented; the surrogates are skipped.
func TestPrefixEnd(t *testing.T) {
	for _, c := range []struct {
		prefix, end string
		ok          bool
	}{
		{"", "", false},
		{"a", "b", true},
		{"acme_", "acme`", true},         // '_' is 0x5F, '`' 0x60
		{"a%", "a&", true},               // '%' is 0x25
		{"caf\u00e9", "caf\u00ea", true}, // é U+00E9: C3 A9 → ê U+00EA: C3 AA
		{"a\u00ff", "a\u0100", true},     // C3 BF → C4 80: the increment carries across bytes
		{"a\u07ff", "a\u0800", true},     // two bytes → three
		{"a\ud7ff", "a\ue000", true},     // U+D800–U+DFFF are surrogates
		{"a\uffff", "a\U00010000", true},
		{"a\U0010FFFF", "b", true},
		{"a\U0010FFFF\U0010FFFF", "b", true},
		{"\U0010FFFF", "", false},
	} {
		end, ok := postgres.PrefixEnd(c.prefix)
		if end != c.end || ok != c.ok {
			t.Errorf("prefixEnd(%+q) = %+q, %v; want %+q, %v", c.prefix, end, ok, c.end, c.ok)
		}
	}
}

// accountIDs are ids whose byte order differs from a linguistic one: case,
// punctuation that LIKE reads as wildcards, code points of one to four
// bytes, the last code point, and the code points around the surrogates.
var accountIDs = []string{
	"a", "A", "B", "b", "z", "Z", "%", "_", "a%", "a%b", "a_", "a_b", "ab", "aB", "a.b", "a-b", "a~",
	"ae", "a\u00e9", "a\u00e9z", "a\u00e9\u00e9", "a\u00ff", "a\u0100", "a\ud7ff", "a\ue000", "a\ufffd",
	"a\U0001F600", "a\U0001F600x", "a\U0010FFFF", "a\U0010FFFFb", "a\U0010FFFF\U0010FFFF", "\u00e9", "\U0010FFFF", "\U0010FFFFx",
}

// TestAccounts_ByteOrder: Tx.Accounts lists the accounts of a prefix by id
// bytewise, page after page, as Go's string order sorts them, on a
// database whose collation is bytewise and on one whose collation is
// English's (ICU), which sorts 'a' before 'B'.
func TestAccounts_ByteOrder(t *testing.T) {
	t.Run("default", func(t *testing.T) { checkAccountOrder(t, pgtest.Open(t)) })
	t.Run("icu", func(t *testing.T) {
		db := pgtest.OpenDSN(t, icuDatabase(t))
		var linguistic bool
		if err := db.Pool().QueryRow(context.Background(), `SELECT 'a' < 'B'`).Scan(&linguistic); err != nil {
			t.Fatal(err)
		}
		if !linguistic {
			t.Fatal("the ICU database sorts 'B' before 'a'; want a linguistic collation")
		}
		checkAccountOrder(t, db)
	})
}

// icuDatabase creates a database whose default collation is ICU's en-US,
// dropped when the test ends, and returns its URL; the test is skipped if
// the server cannot make one.
func icuDatabase(t *testing.T) string {
	t.Helper()
	dsn := pgtest.URL(t)
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("TALLY_TEST_POSTGRES is set but PostgreSQL is unreachable: %v", err)
	}
	defer admin.Close(ctx)
	name := fmt.Sprintf("tally_test_icu_%d", time.Now().UnixNano())
	if _, err := admin.Exec(ctx, `CREATE DATABASE `+name+` TEMPLATE template0 ENCODING 'UTF8'
		LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'`); err != nil {
		t.Skipf("this server cannot make a database of ICU's en-US collation (%v): the byte order is checked on the default one only", err)
	}
	t.Cleanup(func() {
		c, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
			t.Errorf("DROP DATABASE %s: %v", name, err)
		}
	})
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

func checkAccountOrder(t *testing.T, db *postgres.DB) {
	ctx := context.Background()
	if _, err := db.Pool().Exec(ctx, `INSERT INTO accounts (id, overdraft, available, held, created_at)
		SELECT id, 0, 0, 0, now() FROM unnest($1::text[]) AS id`, accountIDs); err != nil {
		t.Fatal(err)
	}
	sorted := slices.Clone(accountIDs)
	slices.Sort(sorted) // Go compares strings bytewise
	list := func(prefix, after string, limit int) []string {
		t.Helper()
		var ids []string
		mustView(t, db, func(tx credit.Tx) error {
			as, err := tx.Accounts(prefix, after, limit)
			for _, a := range as {
				ids = append(ids, a.ID)
			}
			return err
		})
		return ids
	}
	for _, prefix := range []string{"", "a", "A", "a%", "a_", "%", "_", "a\u00e9", "a\ud7ff", "a\U0001F600", "a\U0010FFFF", "\U0010FFFF", "q"} {
		var want []string
		for _, id := range sorted {
			if strings.HasPrefix(id, prefix) {
				want = append(want, id)
			}
		}
		for _, limit := range []int{1, 2, 3, 7, 100} {
			var got []string
			after := ""
			for page := 0; ; page++ {
				if page > len(accountIDs) {
					t.Fatalf("Accounts(%+q) by %d does not end", prefix, limit)
				}
				ids := list(prefix, after, limit)
				if from := len(got); !slices.Equal(ids, want[from:min(from+limit, len(want))]) {
					t.Errorf("Accounts(%+q, after %+q, %d) = %+q; want %+q", prefix, after, limit, ids, want[from:min(from+limit, len(want))])
					break
				}
				got = append(got, ids...)
				if len(ids) < limit {
					break
				}
				after = ids[len(ids)-1]
			}
		}
		// A cursor that is no id.
		for _, after := range []string{"a$", "a\u00e0", "a\U0010FFFE", "a}"} {
			var want2 []string
			for _, id := range want {
				if id > after {
					want2 = append(want2, id)
				}
			}
			if got := list(prefix, after, 100); !slices.Equal(got, want2) {
				t.Errorf("Accounts(%+q, after %+q) = %+q; want %+q", prefix, after, got, want2)
			}
		}
	}
	mustView(t, db, func(tx credit.Tx) error {
		_, err := tx.Accounts("a\xc3", "", 10)
		wantError(t, "Accounts(a prefix that is not UTF-8)", err, credit.Invalid, "invalid_text")
		return nil
	})
}

// TestReports_UseIndexes: on tables of many rows, a page of the account
// list, of an account's generations (with every filter) and of its audit
// log is an ordered read of an index from its cursor (no sort, no scan of
// a table), and EachCharged finds the charged generations of a window by
// their partial index.
func TestReports_UseIndexes(t *testing.T) {
	db := pgtest.Open(t)
	ctx := context.Background()
	if _, err := db.Pool().Exec(ctx, `
		INSERT INTO accounts (id, overdraft, available, held, created_at)
			SELECT 'acct' || i, 0, 0, 0, now() FROM generate_series(0, 19999) AS i;
		INSERT INTO generations (id, account, status, hold_id, model, kind, catalog_version, images, images_delivered,
				hold_credits, unit_credits, surcharge, charged, refunded, quote, expires_at, created_at, resolved_at)
			SELECT 'gen' || lpad(i::text, 6, '0'), 'acct' || (i % 100), CASE i % 4 WHEN 0 THEN 'failed' ELSE 'completed' END,
				'hld' || i, CASE i % 3 WHEN 0 THEN 'flux-dev' ELSE 'nano-banana' END, 'image', 'v1', 1, 1,
				10, 10, 0, CASE i % 4 WHEN 0 THEN 0 ELSE 10 END, 0, NULL, now(), now(), now() - make_interval(mins => i)
			FROM generate_series(0, 29999) AS i;
		INSERT INTO holds (id, account, generation, amount, captured, released, status, expires_at, created_at, resolved_at)
			SELECT 'hld' || i, 'acct' || (i % 100), 'gen' || lpad(i::text, 6, '0'), 10, 10, 0, 'captured', now(), now(), now()
			FROM generate_series(0, 29999) AS i;
		INSERT INTO audit_log (at, actor, action, target, detail)
			SELECT now(), 'key_admin', 'grant.create', 'acct' || (i % 100), '\x7b7d' FROM generate_series(0, 19999) AS i;
		ANALYZE;`); err != nil {
		t.Fatal(err)
	}
	ordered := func(name, index, text string) {
		t.Helper()
		if !strings.Contains(text, index) || strings.Contains(text, "Seq Scan") || strings.Contains(text, "Sort") {
			t.Errorf("%s is not an ordered read of %s:\n%s", name, index, text)
		} else {
			t.Logf("%s:\n%s", name, text)
		}
	}
	for _, bounded := range []bool{false, true} {
		name := fmt.Sprintf("a page of accounts (bounded %v)", bounded)
		text := explain(t, db, postgres.AccountsQuery(bounded), "'acct1'", "'acct10'", "100", "'acct2'")
		ordered(name, "accounts_pkey", text)
		// Both ends bound the read of the index: no row outside the
		// prefix's range is read and then filtered out.
		if strings.Contains(text, "Filter") || bounded != strings.Contains(text, "$4") {
			t.Errorf("%s does not read its range of the index only:\n%s", name, text)
		}
	}
	for _, f := range []credit.GenerationFilter{
		{Limit: 100},
		{Before: "gen020000", Limit: 100},
		{Status: credit.GenerationFailed, Model: "flux-dev", Member: "m", Before: "gen020000", Limit: 100},
	} {
		name := fmt.Sprintf("a page of generations %+v", f)
		text := explain(t, db, postgres.GenerationsQuery(f), "'acct7'")
		ordered(name, "generations_account", text)
		if !strings.Contains(text, "Backward") || (f.Before != "") != strings.Contains(text, "id <") {
			t.Errorf("%s is not read newest first from its cursor:\n%s", name, text)
		}
	}
	text := explain(t, db, postgres.AccountAuditQuery, "'acct7'", "100000", "100")
	ordered("a page of an account's audit", "audit_log_target", text)
	if !strings.Contains(text, "Backward") {
		t.Errorf("a page of an account's audit is not read newest first:\n%s", text)
	}
	text = explain(t, db, postgres.ChargedQuery, "now() - interval '1 day'", "now()")
	if !strings.Contains(text, "generations_charged") || strings.Contains(text, "Seq Scan") {
		t.Errorf("EachCharged does not find its generations by generations_charged:\n%s", text)
	} else {
		t.Logf("EachCharged:\n%s", text)
	}
}

// TestDirectory reads reportHistory back through the directory's and the
// impact's reads: alice's four generations newest first (filtered by
// status, by model, from a cursor), her audit trail, and the generations
// completed with a charge on each day.
func TestDirectory(t *testing.T) {
	db := pgtest.Open(t)
	clk := &storetest.Clock{}
	reportHistory(t, newLedger(db, clk.Now), clk)
	mustView(t, db, func(tx credit.Tx) error {
		all, err := tx.Generations("alice", credit.GenerationFilter{Limit: 10})
		if err != nil {
			return err
		}
		// Made in this order: completed (1 image), completed (2, then
		// refunded whole), failed, completed (2 of 3); ids sort by creation.
		var statuses []credit.GenerationStatus
		for i, g := range all {
			statuses = append(statuses, g.Status)
			if i > 0 && g.ID >= all[i-1].ID {
				t.Errorf("Generations: %s after %s; want newest first", g.ID, all[i-1].ID)
			}
		}
		done, failed := credit.GenerationCompleted, credit.GenerationFailed
		if want := []credit.GenerationStatus{done, failed, done, done}; !slices.Equal(statuses, want) {
			t.Fatalf("Generations(alice) statuses = %v; want %v", statuses, want)
		}
		for _, c := range []struct {
			f    credit.GenerationFilter
			want []credit.Generation
		}{
			{credit.GenerationFilter{Status: failed, Limit: 10}, all[1:2]},
			{credit.GenerationFilter{Status: done, Model: "flux-dev", Limit: 2}, []credit.Generation{all[0], all[2]}},
			{credit.GenerationFilter{Before: all[1].ID, Limit: 10}, all[2:]},
			{credit.GenerationFilter{Model: "nano-banana", Limit: 10}, nil},
			{credit.GenerationFilter{Member: "m", Limit: 10}, nil},
		} {
			if got, err := tx.Generations("alice", c.f); err != nil || !reflect.DeepEqual(got, c.want) {
				t.Errorf("Generations(alice, %+v) = %d generations, %v; want %d", c.f, len(got), err, len(c.want))
			}
		}

		audit, err := tx.AccountAudit("alice", 0, 100)
		if err != nil {
			return err
		}
		var actions []string
		for _, e := range audit {
			actions = append(actions, e.Action)
		}
		// Newest first: the amended expiry, the debit, the void, the three
		// grants, the account.
		want := []string{credit.AuditGrantAmend, credit.AuditAccountDebit, credit.AuditGrantVoid,
			credit.AuditGrantCreate, credit.AuditGrantCreate, credit.AuditGrantCreate, credit.AuditAccountCreate}
		if !slices.Equal(actions, want) {
			t.Errorf("AccountAudit(alice) = %v; want %v", actions, want)
		}
		if page, err := tx.AccountAudit("alice", audit[2].ID, 2); err != nil || len(page) != 2 || page[0].ID != audit[3].ID || page[1].ID != audit[4].ID {
			t.Errorf("AccountAudit(alice, before the void, 2) = %+v, %v; want the two newest grants", page, err)
		}

		day := func(d int) time.Time { return time.Date(2026, 3, d, 0, 0, 0, 0, time.UTC) }
		for _, c := range []struct {
			from, to time.Time
			want     []string
		}{
			// 1st: the two completed ones (the refund leaves Charged); 2nd:
			// the one of 2 images of 3; nothing since.
			{day(1), day(2), []string{all[3].ID, all[2].ID}},
			{day(2), day(3), []string{all[0].ID}},
			{day(1), day(5), []string{all[3].ID, all[2].ID, all[0].ID}},
			{day(3), day(5), nil},
		} {
			var got []string
			if err := tx.EachCharged(c.from, c.to, func(g *credit.Generation) error {
				got = append(got, g.ID)
				return nil
			}); err != nil {
				return err
			}
			slices.Sort(got)
			if !slices.Equal(got, c.want) {
				t.Errorf("EachCharged(%s, %s) = %v; want %v", c.from.Format(time.DateOnly), c.to.Format(time.DateOnly), got, c.want)
			}
		}
		return nil
	})
}
