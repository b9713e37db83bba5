package sqlite_test

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
	tsqlite "github.com/tally-credits/tally/internal/sqlite"
	"github.com/tally-credits/tally/internal/storetest"
)

func TestSuccessor(t *testing.T) {
	for _, tc := range []struct {
		prefix, end string
		ok          bool
	}{
		{"", "", false},
		{"a", "b", true},
		{"a%", "a&", true},
		{"a_", "a`", true},
		{"a\xff", "b", true},
		{"a\xff\xff", "b", true},
		{"\xff", "", false},
		{"\xff\xff", "", false},
		{"ÿ", "\xc3\xc0", true},                  // U+00FF is c3 bf
		{"\U0010FFFF", "\xf4\x8f\xbf\xc0", true}, // f4 8f bf bf
		{"a\x00", "a\x01", true},
	} {
		end, ok := tsqlite.Successor(tc.prefix)
		if end != tc.end || ok != tc.ok {
			t.Errorf("successor(%q) = %q, %v; want %q, %v", tc.prefix, end, ok, tc.end, tc.ok)
		}
	}
}

// TestAccounts_ByteOrder: the directory lists ids by their bytes, finds a
// prefix as bytes ('%' and '_' are characters, not wildcards; a prefix
// that ends in a character whose last byte is 0xbf, or in 0xff bytes, ends
// where it should), and pages through every one of them, once, at any
// page size.
func TestAccounts_ByteOrder(t *testing.T) {
	db := MustOpenDB(t)
	// In byte order (UTF-8 sorts as code points).
	ids := []string{
		"%", ".x", "A", "_", "a", "a%", "a%b", "a_", "a_b", "aa", "ab", "b",
		"z", "ä", "ÿ", "ÿÿ", "ÿĀ", "Ā", "€", "\uFFFD", "😀",
		"a€", // after "ab": 61 e2
	}
	slices.Sort(ids)
	for _, id := range ids {
		storetest.MustApply(t, db, id, &credit.Change{NewAccount: &credit.Account{ID: id, CreatedAt: t0}})
	}
	list := func(prefix, after string, limit int) []string {
		t.Helper()
		var out []string
		mustView(t, db, func(tx credit.Tx) error {
			as, err := tx.Accounts(prefix, after, limit)
			for _, a := range as {
				out = append(out, a.ID)
			}
			return err
		})
		return out
	}
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"", ids},
		{"a", []string{"a", "a%", "a%b", "a_", "a_b", "aa", "ab", "a€"}},
		{"a%", []string{"a%", "a%b"}}, // not "a" and all that follows, as LIKE 'a%' would
		{"a_", []string{"a_", "a_b"}}, // not "aa", as LIKE 'a_' would
		{"%", []string{"%"}},
		{".", []string{".x"}}, // "." is no id, but ".x" starts with it
		{"_", []string{"_"}},
		{"ÿ", []string{"ÿ", "ÿÿ", "ÿĀ"}}, // not "Ā" (c4 80), after c3 bf
		{"ä", []string{"ä"}},
		{"😀", []string{"😀"}},
		{"\uFFFD", []string{"\uFFFD"}},
		{"a\xff", nil},
		{"\xff", nil},
		{"c", nil},
		{"a%b%", nil},
	} {
		if got := list(tc.prefix, "", 1000); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Accounts(%q, \"\", 1000) = %q; want %q", tc.prefix, got, tc.want)
		}
		for _, limit := range []int{1, 2, 3} {
			var got []string
			after := ""
			for range len(ids) + 1 {
				page := list(tc.prefix, after, limit)
				if len(page) > limit {
					t.Fatalf("Accounts(%q, %q, %d) = %d ids", tc.prefix, after, limit, len(page))
				}
				got = append(got, page...)
				if len(page) < limit {
					break
				}
				after = page[len(page)-1]
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("Accounts(%q) by pages of %d = %q; want %q", tc.prefix, limit, got, tc.want)
			}
		}
	}
	// A cursor before the prefix's range starts it at the prefix; one
	// after it ends it.
	if got, want := list("ÿ", "a", 10), []string{"ÿ", "ÿÿ", "ÿĀ"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Accounts(ÿ, after a) = %q; want %q", got, want)
	}
	if got := list("a", "b", 10); got != nil {
		t.Errorf("Accounts(a, after b) = %q; want none", got)
	}
	if got, want := list("a", "a%b", 2), []string{"a_", "a_b"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Accounts(a, after a%%b, 2) = %q; want %q", got, want)
	}
}

// TestGenerations_Filters: an account's generations newest first, narrowed
// by status, model and member, paged by id.
func TestGenerations_Filters(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	now := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	cat := catalog.Default()
	l := credit.NewLedger(db, credit.LedgerConfig{Now: func() time.Time { return now }, Catalog: func() *credit.Catalog { return cat }})
	for _, id := range []string{"acme", "other"} {
		if _, err := l.CreateAccount(ctx, nil, id, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := l.AddGrant(ctx, nil, id, credit.GrantSpec{Credits: credit.Whole(1000), Source: credit.SourceTopup}); err != nil {
			t.Fatal(err)
		}
	}
	type made struct {
		id, model string
		status    credit.GenerationStatus
	}
	var gens []made // oldest first
	gen := func(account, model string, status credit.GenerationStatus) {
		t.Helper()
		now = now.Add(time.Second)
		g, err := l.CreateGeneration(ctx, nil, credit.GenerationSpec{Account: account, Request: credit.QuoteRequest{Model: model, Images: 1}})
		if err != nil {
			t.Fatal(err)
		}
		switch status {
		case credit.GenerationCompleted:
			_, err = l.CompleteGeneration(ctx, nil, g.ID, 1)
		case credit.GenerationFailed:
			_, err = l.FailGeneration(ctx, nil, g.ID)
		}
		if err != nil {
			t.Fatal(err)
		}
		if account == "acme" {
			gens = append(gens, made{g.ID, model, status})
		}
	}
	gen("acme", "flux-dev", credit.GenerationCompleted)
	gen("other", "flux-dev", credit.GenerationCompleted)
	gen("acme", "nano-banana-2", credit.GenerationFailed)
	gen("acme", "flux-dev", credit.GenerationHeld)
	gen("acme", "nano-banana-2", credit.GenerationCompleted)
	gen("acme", "flux-dev", credit.GenerationCompleted)
	if !slices.IsSortedFunc(gens, func(a, b made) int { return strings.Compare(a.id, b.id) }) {
		t.Fatalf("generation ids do not sort by creation: %v", gens)
	}
	want := func(keep func(made) bool) []string {
		var out []string
		for i := len(gens) - 1; i >= 0; i-- {
			if keep(gens[i]) {
				out = append(out, gens[i].id)
			}
		}
		return out
	}
	for _, f := range []credit.GenerationFilter{
		{},
		{Status: credit.GenerationCompleted},
		{Status: credit.GenerationFailed},
		{Model: "flux-dev"},
		{Model: "nano-banana-2", Status: credit.GenerationCompleted},
		{Model: "recraft-v4"},
		{Member: "ana"},
	} {
		all := want(func(m made) bool {
			return (f.Status == "" || m.status == f.Status) && (f.Model == "" || m.model == f.Model) && f.Member == ""
		})
		for _, limit := range []int{1, 2, 10} {
			var got []string
			f := f
			f.Limit = limit
			for range len(gens) + 1 {
				var page []credit.Generation
				mustView(t, db, func(tx credit.Tx) (err error) {
					page, err = tx.Generations("acme", f)
					return err
				})
				for _, g := range page {
					got = append(got, g.ID)
				}
				if len(page) < limit {
					break
				}
				f.Before = page[len(page)-1].ID
			}
			if !reflect.DeepEqual(got, all) {
				t.Errorf("Generations(acme, %+v) by pages of %d = %v; want %v", f, limit, got, all)
			}
		}
	}
}

// TestReadQueriesUseIndexes: the directory's and the reports' reads find
// their rows by a range of an index, in the order they return them (no
// sort), so a page or a window costs the same on a ledger of any size.
func TestReadQueriesUseIndexes(t *testing.T) {
	db := MustOpenDB(t)
	type query struct {
		name, query string
		args        []any
		uses        string // the plan's line that reads the table
	}
	var qs []query
	for _, tc := range []struct{ prefix, after, uses string }{
		{"", "", "SEARCH accounts USING PRIMARY KEY (id>?)"},
		{"ab", "", "SEARCH accounts USING PRIMARY KEY (id>? AND id<?)"},
		{"ab", "abc", "SEARCH accounts USING PRIMARY KEY (id>? AND id<?)"},
		{"\xff", "\xff1", "SEARCH accounts USING PRIMARY KEY (id>?)"},
	} {
		q, args := tsqlite.AccountsQuery(tc.prefix, tc.after)
		qs = append(qs, query{"accounts " + tc.prefix + " after " + tc.after, q, append(args, 10), tc.uses})
	}
	for _, f := range []credit.GenerationFilter{
		{Limit: 10},
		{Before: "gen_x", Limit: 10},
		{Before: "gen_x", Status: credit.GenerationCompleted, Model: "m", Member: "ana", Limit: 10},
	} {
		q, args := tsqlite.GenerationsQuery("acme", f)
		uses := "SEARCH generations USING INDEX generations_account (account=?)"
		if f.Before != "" {
			uses = "SEARCH generations USING INDEX generations_account (account=? AND id<?)"
		}
		qs = append(qs, query{"generations " + f.Before, q, args, uses})
	}
	qs = append(qs,
		query{"account audit", tsqlite.AccountAuditQuery, []any{"acme", 100, 10},
			"SEARCH audit_log USING INDEX audit_log_target (target=? AND id<?)"},
		query{"charged", tsqlite.ChargedQuery, []any{1, 2}, "SEARCH generations USING INDEX generations_charged (resolved_at>? AND resolved_at<?)"},
		query{"liability", tsqlite.LiabilityBeforeQuery, []any{"2026-11-24"}, "SEARCH liability_daily USING PRIMARY KEY (day<?)"},
		query{"consumption", tsqlite.ConsumptionQuery, []any{"2026-11-01", "2026-12-01"}, "SEARCH consumption_daily USING PRIMARY KEY (day>? AND day<?)"},
	)
	for _, q := range qs {
		plan := queryPlan(t, db, q.query, q.args...)
		text := strings.Join(plan, "\n  ")
		if !slices.Contains(plan, q.uses) {
			t.Errorf("%s: the plan does not read %q:\n  %s", q.name, q.uses, text)
		}
		if strings.Contains(text, "SCAN ") || (q.name != "liability" && strings.Contains(text, "TEMP B-TREE")) {
			t.Errorf("%s: the plan scans or sorts:\n  %s", q.name, text)
		}
	}
}

// queryPlan returns the details of SQLite's plan of query, line by line.
func queryPlan(t *testing.T, db *tsqlite.DB, query string, args ...any) []string {
	t.Helper()
	rows, err := db.Reader().Query(`EXPLAIN QUERY PLAN `+query, args...)
	if err != nil {
		t.Fatalf("EXPLAIN QUERY PLAN %s: %v", query, err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return plan
}
