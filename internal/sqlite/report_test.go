package sqlite_test

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
	tsqlite "github.com/tally-credits/tally/internal/sqlite"
	"github.com/tally-credits/tally/internal/storetest"
)

// TestMigrateFrom0009: a ledger with a history at schema 9 (grants, charges
// on two days, a refund, a failure, a void, API keys and an audit log)
// upgrades to 10: its report rollups are filled from its journal in the
// migration's transaction, so that Verify is clean at once and the rollups
// are what credit.ComputeRollups reads from the journal; keys and audit
// entries keep their rows, the support scope and the support desk's
// actions are allowed, and the writes after it keep the rollups.
func TestMigrateFrom0009(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tally.db")
	db, err := tsqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	cat := catalog.Default()
	config := credit.LedgerConfig{Now: func() time.Time { return now }, Catalog: func() *credit.Catalog { return cat }}
	l := credit.NewLedger(db, config)
	admin := credit.WithActor(ctx, "key:admin")

	if _, err := l.CreateAccount(admin, nil, "acme", 0); err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.CreateKey(admin, credit.KeySpec{Scope: credit.ScopeAdmin, Name: "ops"}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.CreateKey(admin, credit.KeySpec{Scope: credit.ScopeAccount, Account: "acme", Name: "app"}); err != nil {
		t.Fatal(err)
	}
	if _, err := l.AddGrant(admin, nil, "acme", credit.GrantSpec{Credits: credit.Whole(100), Source: credit.SourceTopup}); err != nil {
		t.Fatal(err)
	}
	promo, err := l.AddGrant(admin, nil, "acme", credit.GrantSpec{Credits: credit.Whole(20), Source: credit.SourcePromo,
		ExpiresAt: time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)})
	if err != nil {
		t.Fatal(err)
	}
	generate := func(images, delivered int) credit.Generation {
		t.Helper()
		g, err := l.CreateGeneration(ctx, nil, credit.GenerationSpec{Account: "acme", Request: credit.QuoteRequest{Model: "flux-dev", Images: images}})
		if err != nil {
			t.Fatal(err)
		}
		if delivered < 0 {
			g, err = l.FailGeneration(ctx, nil, g.ID)
		} else {
			g, err = l.CompleteGeneration(ctx, nil, g.ID, delivered)
		}
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	// Flux Dev is 5 credits an image on the seed page; the promo grant,
	// expiring, is spent before the top-up, which never expires.
	if g := generate(1, 1); g.Charged != credit.Whole(5) {
		t.Fatalf("a Flux Dev image charged %v; want 5", g.Charged)
	}
	now = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)
	g2 := generate(2, 2)
	four := credit.Whole(4)
	if _, err := l.RefundGeneration(ctx, nil, g2.ID, &four); err != nil {
		t.Fatal(err)
	}
	generate(1, -1)
	if _, err := l.VoidGrant(admin, nil, promo.ID, "spring is over"); err != nil {
		t.Fatal(err)
	}
	keys, audit := keysAndAudit(t, db)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	// Back to schema 9, as 0001 to 0009 make it; a file made by them
	// alone has the same tables, columns, indexes and triggers.
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	downgradeTo0009(t, raw)
	if got, want := schemaShape(t, raw), schemaShape(t, schema0009(t)); !reflect.DeepEqual(got, want) {
		t.Fatalf("the file taken back to schema 9 is not schema 9:\n%s", diffLines(got, want))
	}
	_, err = raw.Exec(`INSERT INTO api_keys (id, hash, scope, name, created_at) VALUES ('k', x'00', 'support', 'desk', 0)`)
	if err == nil {
		t.Fatal("schema 9 took a support key; want its CHECK to refuse it")
	}
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}

	db = MustOpenPath(t, path)
	var version int
	if err := db.Reader().QueryRow(`SELECT max(version) FROM schema_migrations`).Scan(&version); err != nil || version != 10 {
		t.Fatalf("schema version after Open = %d, %v; want 10", version, err)
	}
	// Every object as a new file has it, word for word: every column,
	// constraint and index of the tables 0010 rebuilds is kept.
	if got, want := sqlSchema(t, db.Reader()), sqlSchema(t, MustOpenDB(t).Reader()); !reflect.DeepEqual(got, want) {
		t.Errorf("the upgraded file's schema is not a new file's:\n%s", diffLines(got, want))
	}
	l = credit.NewLedger(db, config)
	if vs, err := l.Verify(ctx); err != nil || len(vs) != 0 {
		t.Fatalf("Verify after the upgrade = %v, %v; want clean", vs, err)
	}
	var snap *credit.Snapshot
	var wantLiability []credit.LiabilityRow
	var wantConsumption []credit.ConsumptionRow
	mustView(t, db, func(tx credit.Tx) error {
		sc, err := credit.Scan(tx)
		if err != nil {
			return err
		}
		if snap, err = sc.Snapshot(); err != nil {
			return err
		}
		wantLiability, wantConsumption, err = credit.ComputeRollups(sc)
		return err
	})
	if len(wantLiability) == 0 || len(wantConsumption) == 0 {
		t.Fatalf("ComputeRollups = %v, %v; want rows of the history", wantLiability, wantConsumption)
	}
	if got := sortedLiability(snap.Liability); !reflect.DeepEqual(got, sortedLiability(wantLiability)) {
		t.Errorf("liability rollup after the upgrade = %+v; want %+v", got, sortedLiability(wantLiability))
	}
	if got := sortedConsumption(snap.Consumption); !reflect.DeepEqual(got, sortedConsumption(wantConsumption)) {
		t.Errorf("consumption rollup after the upgrade = %+v; want %+v", got, sortedConsumption(wantConsumption))
	}
	// Charged: 5 on the 24th, 10 − 4 refunded on the 25th, all from the
	// promo grant: 11 in 2 charges. Owed: the top-up's 100, never
	// expiring; the promo grant's 20 − 5 − 10 + 4 = 9 went with the void.
	day := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)
	cons, err := l.Consumption(ctx, day, day.AddDate(0, 0, 2), credit.ReportByDay)
	if err != nil {
		t.Fatal(err)
	}
	if cons.Charged != credit.Whole(11) || cons.Charges != 2 || cons.BySource[credit.SourcePromo] != credit.Whole(11) || len(cons.Groups) != 2 ||
		cons.Groups[0].Charged != credit.Whole(5) || cons.Groups[1].Charged != credit.Whole(6) {
		t.Errorf("Consumption by day after the upgrade = %+v; want 11 in 2 charges, all promo: 5 on the 24th, 6 on the 25th", cons)
	}
	liab, err := l.Liability(ctx, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if liab.Outstanding != credit.Whole(100) || liab.Never != credit.Whole(100) || liab.Within90 != 0 {
		t.Errorf("Liability after the upgrade = %+v; want 100 outstanding, never expiring", liab)
	}

	// Keys and the audit log keep their rows (and ids).
	if gotKeys, gotAudit := keysAndAudit(t, db); !reflect.DeepEqual(gotKeys, keys) || !reflect.DeepEqual(gotAudit, audit) {
		t.Errorf("keys and audit log after the upgrade = %+v, %+v; want %+v, %+v", gotKeys, gotAudit, keys, audit)
	}
	// A support key is stored; the support desk's actions are audited.
	desk, _, err := l.CreateKey(admin, credit.KeySpec{Scope: credit.ScopeSupport, Name: "desk"})
	if err != nil {
		t.Fatalf("CreateKey(support) after the upgrade = %v", err)
	}
	mustView(t, db, func(tx credit.Tx) error {
		if k, err := tx.Key(desk.ID); err != nil || k.Scope != credit.ScopeSupport {
			t.Errorf("Key(%s) = %+v, %v; want a support key", desk.ID, k, err)
		}
		return nil
	})
	support := credit.WithReason(credit.WithActor(ctx, "key:"+desk.ID), "goodwill")
	if _, err := l.Debit(support, nil, "acme", credit.DebitSpec{Credits: credit.Whole(3), Memo: "duplicate top-up"}); err != nil {
		t.Fatalf("Debit after the upgrade = %v", err)
	}
	err = db.Update(ctx, func(tx credit.Tx) error {
		for _, action := range []string{credit.AuditGenerationRefund, credit.AuditHoldRelease} {
			if err := tx.AppendAudit(&credit.AuditEntry{At: now, Actor: "key:" + desk.ID, Action: action, Target: "acme", Detail: []byte(`{}`)}); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("audit entries of the support desk's actions: %v", err)
	}
	mustView(t, db, func(tx credit.Tx) error {
		es, err := tx.AccountAudit("acme", 0, 3)
		if err != nil {
			return err
		}
		var got []string
		for _, e := range es {
			got = append(got, e.Action)
		}
		if want := []string{credit.AuditHoldRelease, credit.AuditGenerationRefund, credit.AuditAccountDebit}; !reflect.DeepEqual(got, want) {
			t.Errorf("AccountAudit(acme) after the upgrade = %v; want %v", got, want)
		}
		return nil
	})
	// The debit's 3 came from the top-up (the only grant left).
	if vs, err := l.Verify(ctx); err != nil || len(vs) != 0 {
		t.Errorf("Verify after a debit on the upgraded file = %v, %v; want clean", vs, err)
	}
	if liab, err := l.Liability(ctx, time.Time{}); err != nil || liab.Outstanding != credit.Whole(97) {
		t.Errorf("Liability after the debit = %+v, %v; want 100 − 3 = 97 outstanding", liab, err)
	}
}

// keysAndAudit reads the keys and the whole audit log.
func keysAndAudit(t *testing.T, db *tsqlite.DB) ([]credit.Key, []credit.AuditEntry) {
	t.Helper()
	var keys []credit.Key
	var audit []credit.AuditEntry
	mustView(t, db, func(tx credit.Tx) (err error) {
		if keys, err = tx.Keys(); err != nil {
			return err
		}
		audit, err = tx.AuditLog(0, 1000)
		return err
	})
	if len(keys) == 0 || len(audit) == 0 {
		t.Fatalf("keys %v and audit log %v; want some of each", keys, audit)
	}
	return keys, audit
}

// migrationSQL returns the text of a migration file.
func migrationSQL(t *testing.T, version int) string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("migration", strconv.Itoa(10000 + version)[1:]+"_*.sql"))
	if err != nil || len(files) != 1 {
		t.Fatalf("migration %d: %v, %v", version, files, err)
	}
	b, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// downgradeTo0009 undoes migration 0010 on the file of raw: the rollups
// and the indexes go, and API keys, the audit log and the apply trigger
// are rebuilt as 0009 left them (the last two by 0009's own text).
func downgradeTo0009(t *testing.T, raw *sql.DB) {
	t.Helper()
	m9 := migrationSQL(t, 9)
	audit := m9[strings.Index(m9, "CREATE TABLE audit_log_events"):] // the audit log's rebuild and the apply trigger
	for _, q := range []string{
		`DROP TRIGGER ledger_changes_apply`,
		`DROP TABLE liability_daily`,
		`DROP TABLE consumption_daily`,
		`DROP INDEX generations_account`,
		`DROP INDEX generations_charged`,
		// api_keys as 0001 made it and 0008 added to it.
		`CREATE TABLE api_keys_0009 (
			id         TEXT PRIMARY KEY,
			hash       BLOB NOT NULL,
			scope      TEXT NOT NULL CHECK (scope IN ('admin', 'service', 'account')),
			account    TEXT REFERENCES accounts (id),
			name       TEXT NOT NULL,
			created_at INTEGER NOT NULL,
			expires_at INTEGER,
			revoked_at INTEGER,
			CHECK ((scope = 'account') = (account IS NOT NULL))
		) STRICT`,
		`ALTER TABLE api_keys_0009 ADD COLUMN member TEXT NOT NULL DEFAULT '' CHECK (member = '' OR scope = 'account')`,
		`INSERT INTO api_keys_0009 SELECT id, hash, scope, account, name, created_at, expires_at, revoked_at, member FROM api_keys`,
		`DROP TABLE api_keys`,
		`ALTER TABLE api_keys_0009 RENAME TO api_keys`,
		audit,
		`DELETE FROM schema_migrations WHERE version = 10`,
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%.60s…: %v", q, err)
		}
	}
}

// schema0009 returns a file made by migrations 0001 to 0009.
func schema0009(t *testing.T) *sql.DB {
	t.Helper()
	raw, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "0009.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	for v := 1; v <= 9; v++ {
		if _, err := raw.Exec(migrationSQL(t, v)); err != nil {
			t.Fatalf("migration %d: %v", v, err)
		}
	}
	return raw
}

// schemaShape lists a file's schema: each table's and view's columns
// (name, type, NOT NULL, default, key), each index's and trigger's SQL.
// Tables compare by their columns: a table rebuilt and renamed keeps them
// but not its CREATE's text.
func schemaShape(t *testing.T, db *sql.DB) []string {
	t.Helper()
	var out []string
	for _, o := range sqlSchema(t, db) {
		typ, name, _ := strings.Cut(o, " ")
		name, _, _ = strings.Cut(name, ":")
		if typ != "table" && typ != "view" {
			out = append(out, o)
			continue
		}
		rows, err := db.Query(`SELECT name, type, "notnull", coalesce(dflt_value, 'NULL'), pk FROM pragma_table_xinfo(?) ORDER BY cid`, name)
		if err != nil {
			t.Fatal(err)
		}
		for rows.Next() {
			var col, ctype, dflt string
			var notNull, pk int
			if err := rows.Scan(&col, &ctype, &notNull, &dflt, &pk); err != nil {
				t.Fatal(err)
			}
			out = append(out, typ+" "+name+": "+strings.Join([]string{col, ctype, strconv.Itoa(notNull), dflt, strconv.Itoa(pk)}, " "))
		}
		rows.Close()
	}
	return out
}

// sqlSchema lists a file's schema objects as "type name: SQL".
func sqlSchema(t *testing.T, db *sql.DB) []string {
	t.Helper()
	rows, err := db.Query(`SELECT type, name, coalesce(sql, '') FROM sqlite_schema
		WHERE name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations' ORDER BY type, name`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var typ, name, text string
		if err := rows.Scan(&typ, &name, &text); err != nil {
			t.Fatal(err)
		}
		out = append(out, typ+" "+name+": "+text)
	}
	return out
}

// diffLines shows the lines of got and want that the other lacks.
func diffLines(got, want []string) string {
	var b strings.Builder
	for _, g := range got {
		if !slices.Contains(want, g) {
			b.WriteString("  got:  " + g + "\n")
		}
	}
	for _, w := range want {
		if !slices.Contains(got, w) {
			b.WriteString("  want: " + w + "\n")
		}
	}
	return b.String()
}

func sortedLiability(rs []credit.LiabilityRow) []credit.LiabilityRow {
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b credit.LiabilityRow) int {
		return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.Source, b.Source), cmp.Compare(a.Expires, b.Expires))
	})
	return rs
}

func sortedConsumption(rs []credit.ConsumptionRow) []credit.ConsumptionRow {
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b credit.ConsumptionRow) int {
		return cmp.Or(cmp.Compare(a.Day, b.Day), cmp.Compare(a.Model, b.Model), cmp.Compare(a.Source, b.Source))
	})
	return rs
}

// TestRollupsAdd: a change's rollup rows are added to the rows of their key
// (a key twice in one write adds twice), and Liability and Consumption read
// them back by the days asked.
func TestRollupsAdd(t *testing.T) {
	db := MustOpenDB(t)
	newAccount(t, db, "acme", 0, 0)
	storetest.MustApply(t, db, "acme", &credit.Change{
		Liability: []credit.LiabilityRow{
			{Day: "2026-11-24", Source: credit.SourceTopup, Credits: credit.Whole(100)},
			{Day: "2026-11-24", Source: credit.SourcePromo, Expires: "2026-12-30", Credits: credit.Whole(20)},
		},
		Consumption: []credit.ConsumptionRow{
			{Day: "2026-11-24", Model: "flux-dev", Source: credit.SourcePromo, Charged: credit.Whole(5), Charges: 1},
		},
	})
	storetest.MustApply(t, db, "acme", &credit.Change{
		Liability: []credit.LiabilityRow{
			{Day: "2026-11-24", Source: credit.SourcePromo, Expires: "2026-12-30", Credits: -credit.Whole(5)},
			{Day: "2026-11-25", Source: credit.SourcePromo, Expires: "2026-12-30", Credits: -credit.Whole(10)},
			{Day: "2026-11-25", Source: credit.SourcePromo, Expires: "2026-12-30", Credits: credit.Whole(4)},
			{Day: "2026-11-25", Source: credit.SourceTopup, Credits: -credit.Whole(100)},
		},
		Consumption: []credit.ConsumptionRow{
			{Day: "2026-11-24", Model: "flux-dev", Source: credit.SourcePromo, Charged: credit.Whole(10), Charges: 1},
			{Day: "2026-11-25", Model: "", Source: credit.SourceTopup, Charged: credit.Whole(3), Charges: 1},
			{Day: "2026-11-25", Model: "", Source: credit.SourceTopup, Charged: -credit.Whole(1)},
		},
	})
	var snap *credit.Snapshot
	mustView(t, db, func(tx credit.Tx) error {
		sc, err := credit.Scan(tx)
		if err != nil {
			return err
		}
		snap, err = sc.SnapshotState()
		return err
	})
	// Promo on the 24th: 20 − 5 = 15; on the 25th: −10 + 4 = −6. Top-up:
	// 100 on the 24th, −100 on the 25th (a row that sums to nothing
	// after, stays).
	wantLiability := []credit.LiabilityRow{
		{Day: "2026-11-24", Source: credit.SourcePromo, Expires: "2026-12-30", Credits: credit.Whole(15)},
		{Day: "2026-11-24", Source: credit.SourceTopup, Credits: credit.Whole(100)},
		{Day: "2026-11-25", Source: credit.SourcePromo, Expires: "2026-12-30", Credits: -credit.Whole(6)},
		{Day: "2026-11-25", Source: credit.SourceTopup, Credits: -credit.Whole(100)},
	}
	if got := sortedLiability(snap.Liability); !reflect.DeepEqual(got, wantLiability) {
		t.Errorf("liability rollup = %+v; want %+v", got, wantLiability)
	}
	// flux-dev on the 24th: 5 + 10 in 2; generic on the 25th: 3 − 1 in 1.
	wantConsumption := []credit.ConsumptionRow{
		{Day: "2026-11-24", Model: "flux-dev", Source: credit.SourcePromo, Charged: credit.Whole(15), Charges: 2},
		{Day: "2026-11-25", Model: "", Source: credit.SourceTopup, Charged: credit.Whole(2), Charges: 1},
	}
	if got := sortedConsumption(snap.Consumption); !reflect.DeepEqual(got, wantConsumption) {
		t.Errorf("consumption rollup = %+v; want %+v", got, wantConsumption)
	}
	mustView(t, db, func(tx credit.Tx) error {
		for _, tc := range []struct {
			before string
			want   []credit.LiabilityRow
		}{
			// Every day: promo 15 − 6 = 9; the top-up's 100 − 100 is left out.
			{"", []credit.LiabilityRow{{Source: credit.SourcePromo, Expires: "2026-12-30", Credits: credit.Whole(9)}}},
			// Before the 25th: the 24th alone.
			{"2026-11-25", []credit.LiabilityRow{{Source: credit.SourcePromo, Expires: "2026-12-30", Credits: credit.Whole(15)},
				{Source: credit.SourceTopup, Credits: credit.Whole(100)}}},
			{"2026-11-24", nil},
		} {
			got, err := tx.Liability(tc.before)
			if err != nil {
				return err
			}
			if got := sortedLiability(got); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Liability(%q) = %+v; want %+v", tc.before, got, tc.want)
			}
		}
		for _, tc := range []struct {
			from, to string
			want     []credit.ConsumptionRow
		}{
			{"2026-11-24", "2026-11-26", wantConsumption},
			{"2026-11-25", "2026-11-26", wantConsumption[1:]},
			{"2026-11-24", "2026-11-25", wantConsumption[:1]},
			{"2026-11-26", "2026-12-01", nil},
		} {
			got, err := tx.Consumption(tc.from, tc.to)
			if err != nil {
				return err
			}
			if got := sortedConsumption(got); !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Consumption(%s, %s) = %+v; want %+v", tc.from, tc.to, got, tc.want)
			}
		}
		return nil
	})
}

// TestEachCharged: the generations completed with a charge and resolved in
// the window, and only they, one at a time; fn's error ends it as it is.
func TestEachCharged(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	cat := catalog.Default()
	l := credit.NewLedger(db, credit.LedgerConfig{Now: func() time.Time { return now }, Catalog: func() *credit.Catalog { return cat }})
	if _, err := l.CreateAccount(ctx, nil, "acme", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := l.AddGrant(ctx, nil, "acme", credit.GrantSpec{Credits: credit.Whole(1000), Source: credit.SourceTopup}); err != nil {
		t.Fatal(err)
	}
	gen := func(delivered int) string {
		t.Helper()
		g, err := l.CreateGeneration(ctx, nil, credit.GenerationSpec{Account: "acme", Request: credit.QuoteRequest{Model: "flux-dev", Images: 1}})
		if err != nil {
			t.Fatal(err)
		}
		switch delivered {
		case -1:
			_, err = l.FailGeneration(ctx, nil, g.ID)
		case -2: // left held
		default:
			_, err = l.CompleteGeneration(ctx, nil, g.ID, delivered)
		}
		if err != nil {
			t.Fatal(err)
		}
		return g.ID
	}
	gen(1) // resolved before the window
	now = now.Add(time.Hour)
	from := now // 11:00
	in1 := gen(1)
	gen(0)  // completed, nothing delivered: no charge
	gen(-1) // failed
	gen(-2) // held
	now = now.Add(30 * time.Minute)
	in2 := gen(1)
	now = now.Add(30 * time.Minute)
	to := now // 12:00: resolved at the end of the window, outside it
	gen(1)

	mustView(t, db, func(tx credit.Tx) error {
		var got []string
		err := tx.EachCharged(from, to, func(g *credit.Generation) error {
			if g.Status != credit.GenerationCompleted || g.Charged != credit.Whole(5) {
				t.Errorf("EachCharged gave %s %s charged %v; want completed, 5", g.ID, g.Status, g.Charged)
			}
			got = append(got, g.ID)
			return nil
		})
		if err != nil {
			return err
		}
		slices.Sort(got)
		if want := []string{in1, in2}; !reflect.DeepEqual(got, want) {
			t.Errorf("EachCharged(11:00, 12:00) = %v; want %v", got, want)
		}
		stop := errors.New("enough")
		n := 0
		err = tx.EachCharged(from, to, func(*credit.Generation) error { n++; return stop })
		if err != stop || n != 1 {
			t.Errorf("EachCharged with fn failing = %v after %d; want fn's error after 1", err, n)
		}
		return nil
	})
}
