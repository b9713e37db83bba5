package postgres_test

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/postgres"
	"github.com/tally-credits/tally/internal/postgres/pgtest"
)

// apply writes c on account in one Write.
func apply(tb testing.TB, db *postgres.DB, account string, c *credit.Change) {
	tb.Helper()
	if err := db.Write(context.Background(), []*credit.Batch{batch(account, credit.Refs{}, nil, func(*credit.State) *credit.Change { return c })}); err != nil {
		tb.Fatalf("Write: %v", err)
	}
}

// event returns an event of the test's with its data.
func event(id, typ, account string, at time.Time, data string) credit.Event {
	return credit.Event{ID: id, Type: typ, Time: at, Account: account, Data: json.RawMessage(data)}
}

// readEvents reads the feed in a View.
func readEvents(tb testing.TB, db *postgres.DB, q credit.EventQuery) []credit.Event {
	tb.Helper()
	var out []credit.Event
	mustView(tb, db, func(tx credit.Tx) error {
		r, err := credit.Events(tx)
		if err != nil {
			return err
		}
		out, err = r.Events(q)
		return err
	})
	return out
}

// head reads the feed's head in a View.
func head(tb testing.TB, db *postgres.DB) string {
	tb.Helper()
	var h string
	mustView(tb, db, func(tx credit.Tx) error {
		r, err := credit.Events(tx)
		if err != nil {
			return err
		}
		h, err = r.EventsHead()
		return err
	})
	return h
}

// ids returns the events' ids, in order.
func eventIDs(evs []credit.Event) []string {
	out := []string{}
	for _, e := range evs {
		out = append(out, e.ID)
	}
	return out
}

// wantIDs checks the ids of an answer, in order.
func wantIDs(tb testing.TB, what string, evs []credit.Event, want ...string) {
	tb.Helper()
	if want == nil {
		want = []string{}
	}
	if got := eventIDs(evs); fmt.Sprint(got) != fmt.Sprint(want) {
		tb.Errorf("%s = %v; want %v", what, got, want)
	}
}

// wantFeed checks the ids of the events q answers, in order, and returns
// them. An event of a transaction that has ended waits, before it is
// answered, for every older transaction on the server to end too, in
// every database (other tests' included): wantFeed reads again until the
// answer is the one wanted, for up to 10 s.
func wantFeed(tb testing.TB, db *postgres.DB, what string, q credit.EventQuery, want ...string) []credit.Event {
	tb.Helper()
	if want == nil {
		want = []string{}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		evs := readEvents(tb, db, q)
		got := eventIDs(evs)
		if fmt.Sprint(got) == fmt.Sprint(want) {
			return evs
		}
		if time.Now().After(deadline) {
			tb.Errorf("%s = %v; want %v", what, got, want)
			return evs
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// insertOpen inserts an event in ptx, a transaction the test keeps open.
func insertOpen(tb testing.TB, ptx pgx.Tx, id string) {
	tb.Helper()
	if _, err := ptx.Exec(context.Background(), `INSERT INTO events (id, type, time, account, data) VALUES ($1, 'balance.low', $2, 'acme', '{}')`, id, t0); err != nil {
		tb.Fatal(err)
	}
}

// TestEvents_NeverSkips: the feed never skips an event that commits after
// a reader was answered. A transaction (A) inserts an event and stays open;
// another (B), which began earlier, inserts an event after it (a greater
// seq) and commits. A reader is answered B's event while A is open, and
// still gets A's once A commits: in seq order A's event (seq 1) would come
// before B's (seq 2), behind the reader's cursor, and be lost. And an
// event of a transaction that began after A (C) is not answered while A
// is open, so that A's cannot land behind it either.
func TestEvents_NeverSkips(t *testing.T) {
	db := pgtest.Open(t)
	ctx := context.Background()
	begin := func() pgx.Tx {
		t.Helper()
		ptx, err := db.Pool().Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = ptx.Rollback(ctx) })
		return ptx
	}
	b := begin()
	if _, err := b.Exec(ctx, `SELECT pg_current_xact_id()`); err != nil { // B's id, before A's
		t.Fatal(err)
	}
	a := begin()
	insertOpen(t, a, "evt_a") // seq 1
	insertOpen(t, b, "evt_b") // seq 2
	if err := b.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	first := wantFeed(t, db, "Events() with A open", credit.EventQuery{Limit: 10}, "evt_b")
	if len(first) != 1 || !strings.HasSuffix(first[0].Cursor, "-2") {
		t.Fatalf("B's event = %+v; want cursor <tx>-2", first)
	}
	cursor := first[0].Cursor

	c := begin()
	insertOpen(t, c, "evt_c") // seq 3, a later transaction than A
	if err := c.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "Events(after B's) with A open and C committed", readEvents(t, db, credit.EventQuery{After: cursor, Limit: 10}))

	if err := a.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	wantFeed(t, db, "Events(after B's) once A committed", credit.EventQuery{After: cursor, Limit: 10}, "evt_a", "evt_c")
	wantFeed(t, db, "Events() once all committed", credit.EventQuery{Limit: 10}, "evt_b", "evt_a", "evt_c")
}

// TestEvents_Write: a Change's events are appended in its transaction, in
// its order, in the same round trips as the rest of the write, and come
// back byte for byte; an event id already in the feed is a Conflict and
// the write commits nothing.
func TestEvents_Write(t *testing.T) {
	db := pgtest.Open(t)
	newAccount(t, db, "acme", 0, 0)
	// Spacing, key order, escapes and a trailing zero that a JSONB column
	// would each rewrite.
	data := []string{`{"b": 1,  "a":"\u00e9é", "n":1.50}`, `{"available":-1000}`, `{}`}
	evs := []credit.Event{
		event("evt_1", credit.EventGrantCreated, "acme", t0, data[0]),
		event("evt_2", credit.EventBalanceDepleted, "acme", t0.Add(time.Microsecond), data[1]),
		event("evt_3", credit.EventCatalogPublished, "", t0.Add(time.Second), data[2]),
	}
	trips := db.RoundTrips()
	apply(t, db, "acme", &credit.Change{Events: evs})
	if n := db.RoundTrips() - trips; n > 2 {
		t.Errorf("a write of events took %d round trips; want 2", n)
	}
	got := wantFeed(t, db, "Events()", credit.EventQuery{Limit: 10}, "evt_1", "evt_2", "evt_3")
	if len(got) != 3 {
		t.Fatalf("Events() = %+v; want the 3 written", got)
	}
	for i, e := range got {
		w := evs[i]
		if e.ID != w.ID || e.Type != w.Type || !e.Time.Equal(w.Time) || e.Time.Location() != time.UTC || e.Account != w.Account || string(e.Data) != data[i] || e.Cursor == "" {
			t.Errorf("event %d = %+v (data %s); want %+v (data %s) with a cursor", i, e, e.Data, w, data[i])
		}
	}
	snap, err := credit.ReadSnapshot(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "Snapshot().Events", snap.Events, "evt_1", "evt_2", "evt_3")

	err = db.Write(context.Background(), []*credit.Batch{batch("acme", credit.Refs{}, nil, func(s *credit.State) *credit.Change {
		a := *s.Account
		a.LowBalance = 5
		return &credit.Change{Account: &a, Events: []credit.Event{event("evt_4", credit.EventBalanceLow, "acme", t0, `{}`), evs[1]}}
	})})
	wantError(t, "Write(an event id taken)", err, credit.Conflict, "id_exists")
	wantFeed(t, db, "Events() after the refused write", credit.EventQuery{Limit: 10}, "evt_1", "evt_2", "evt_3")
	mustView(t, db, func(tx credit.Tx) error {
		if a, err := tx.Account("acme"); err != nil || a.LowBalance != 0 {
			t.Errorf("Account after the refused write = %+v, %v; want LowBalance 0", a, err)
		}
		return nil
	})
}

// TestEvents_Filters: a page of one account's, of some types, of both,
// and pages that follow each other by cursor.
func TestEvents_Filters(t *testing.T) {
	db := pgtest.Open(t)
	apply(t, db, "acme", &credit.Change{Events: []credit.Event{
		event("evt_1", credit.EventGrantCreated, "acme", t0, `{}`),
		event("evt_2", credit.EventBalanceLow, "other", t0, `{}`),
		event("evt_3", credit.EventBalanceLow, "acme", t0, `{}`),
		event("evt_4", credit.EventCatalogPublished, "", t0, `{}`),
	}})
	apply(t, db, "acme", &credit.Change{Events: []credit.Event{
		event("evt_5", credit.EventGrantCreated, "other", t0, `{}`),
		event("evt_6", credit.EventGrantCreated, "acme", t0, `{}`),
	}})
	q := func(types []string, account string) credit.EventQuery {
		return credit.EventQuery{Types: types, Account: account, Limit: 10}
	}
	wantFeed(t, db, "Events(acme)", q(nil, "acme"), "evt_1", "evt_3", "evt_6")
	wantFeed(t, db, "Events(grant.created)", q([]string{credit.EventGrantCreated}, ""), "evt_1", "evt_5", "evt_6")
	wantFeed(t, db, "Events(balance.low, catalog.published)", q([]string{credit.EventBalanceLow, credit.EventCatalogPublished}, ""), "evt_2", "evt_3", "evt_4")
	wantFeed(t, db, "Events(grant.created of other)", q([]string{credit.EventGrantCreated}, "other"), "evt_5")
	wantIDs(t, "Events(of nobody)", readEvents(t, db, q(nil, "nobody")))

	// Pages of 2: every event once, in order, with and without a filter.
	for _, f := range []struct {
		account string
		want    []string
	}{{"", []string{"evt_1", "evt_2", "evt_3", "evt_4", "evt_5", "evt_6"}}, {"acme", []string{"evt_1", "evt_3", "evt_6"}}} {
		var all []string
		after := ""
		for range 10 {
			page := readEvents(t, db, credit.EventQuery{After: after, Account: f.account, Limit: 2})
			if len(page) == 0 {
				break
			}
			if len(page) > 2 {
				t.Errorf("a page of limit 2 has %d events", len(page))
			}
			all = append(all, eventIDs(page)...)
			after = page[len(page)-1].Cursor
		}
		if fmt.Sprint(all) != fmt.Sprint(f.want) {
			t.Errorf("pages of 2 of account %q = %v; want %v", f.account, all, f.want)
		}
	}
}

// TestEvents_Backward: a read before a cursor answers the last events
// before it in feed order (tx, seq), oldest first, by the same filters and
// below the same horizon; "end" is the newest ones. Two transactions:
//
//	tx 1: evt_1 grant.created acme, evt_2 balance.low other,
//	      evt_3 balance.low acme, evt_4 catalog.published
//	tx 2: evt_5 grant.created other, evt_6 grant.created acme
func TestEvents_Backward(t *testing.T) {
	db := pgtest.Open(t)
	ctx := context.Background()
	apply(t, db, "acme", &credit.Change{Events: []credit.Event{
		event("evt_1", credit.EventGrantCreated, "acme", t0, `{"n": 1}`),
		event("evt_2", credit.EventBalanceLow, "other", t0, `{"n": 2}`),
		event("evt_3", credit.EventBalanceLow, "acme", t0, `{"n": 3}`),
		event("evt_4", credit.EventCatalogPublished, "", t0, `{"n": 4}`),
	}})
	apply(t, db, "acme", &credit.Change{Events: []credit.Event{
		event("evt_5", credit.EventGrantCreated, "other", t0, `{"n": 5}`),
		event("evt_6", credit.EventGrantCreated, "acme", t0, `{"n": 6}`),
	}})
	all := wantFeed(t, db, "Events()", credit.EventQuery{Limit: 10}, "evt_1", "evt_2", "evt_3", "evt_4", "evt_5", "evt_6")
	wantFeed(t, db, "Events(before end)", credit.EventQuery{Before: credit.EventsEnd, Limit: 10}, "evt_1", "evt_2", "evt_3", "evt_4", "evt_5", "evt_6")

	// Pages of 2 from the end, each put before the last, are the feed:
	// a page ends within tx 1 (evt_3) as well as between the two.
	for _, f := range []struct {
		account string
		types   []string
		pages   string
	}{
		{"", nil, "[[evt_5 evt_6] [evt_3 evt_4] [evt_1 evt_2] []]"},
		{"acme", nil, "[[evt_3 evt_6] [evt_1] []]"},
		{"", []string{credit.EventGrantCreated}, "[[evt_5 evt_6] [evt_1] []]"},
		{"other", []string{credit.EventBalanceLow, credit.EventGrantCreated}, "[[evt_2 evt_5] []]"},
		{"acme", []string{credit.EventBalanceLow}, "[[evt_3] []]"},
		{"nobody", nil, "[[]]"},
	} {
		var rebuilt []credit.Event
		var pages [][]string
		for before := credit.EventsEnd; len(pages) < 10; {
			page := readEvents(t, db, credit.EventQuery{Before: before, Account: f.account, Types: f.types, Limit: 2})
			pages = append(pages, eventIDs(page))
			if len(page) == 0 {
				break
			}
			rebuilt = append(page, rebuilt...)
			before = page[0].Cursor
		}
		if fmt.Sprint(pages) != f.pages {
			t.Errorf("backward pages of 2 of account %q, types %v = %v; want %s", f.account, f.types, pages, f.pages)
		}
		var want []credit.Event
		for _, e := range all {
			if (f.account == "" || e.Account == f.account) && (f.types == nil || slices.Contains(f.types, e.Type)) {
				want = append(want, e)
			}
		}
		if !reflect.DeepEqual(rebuilt, want) {
			t.Errorf("the backward pages of account %q, types %v put together = %v; want %v, byte for byte", f.account, f.types, eventIDs(rebuilt), eventIDs(want))
		}
	}

	c := func(i int) string { return all[i-1].Cursor }
	for _, tc := range []struct {
		what string
		q    credit.EventQuery
		want []string
	}{
		{"end, 1", credit.EventQuery{Before: credit.EventsEnd, Limit: 1}, []string{"evt_6"}},
		{"evt_5", credit.EventQuery{Before: c(5), Limit: 10}, []string{"evt_1", "evt_2", "evt_3", "evt_4"}},
		{"evt_4, 1", credit.EventQuery{Before: c(4), Limit: 1}, []string{"evt_3"}},
		{"evt_1", credit.EventQuery{Before: c(1), Limit: 10}, nil},
		{"the feed's start", credit.EventQuery{Before: "0-0", Limit: 10}, nil},
		{"acme before evt_6", credit.EventQuery{Account: "acme", Before: c(6), Limit: 10}, []string{"evt_1", "evt_3"}},
		{"grant.created before evt_5", credit.EventQuery{Types: []string{credit.EventGrantCreated}, Before: c(5), Limit: 10}, []string{"evt_1"}},
		{"the largest cursor", credit.EventQuery{Before: "18446744073709551615-9223372036854775807", Limit: 2}, []string{"evt_5", "evt_6"}},
	} {
		wantIDs(t, "Events(before "+tc.what+")", readEvents(t, db, tc.q), tc.want...)
	}

	// The head is before every transaction still running: read before it,
	// the newest page is the end's.
	wantIDs(t, "Events(before the head)", readEvents(t, db, credit.EventQuery{Before: head(t, db), Limit: 2}), "evt_5", "evt_6")

	// Below the horizon only: an open transaction's event, and that of one
	// which began after it and committed, are not at the end until the
	// open one ends.
	open, err := db.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Rollback(ctx)
	insertOpen(t, open, "evt_a")
	later, err := db.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer later.Rollback(ctx)
	insertOpen(t, later, "evt_c")
	if err := later.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	wantIDs(t, "Events(before end) with evt_a open", readEvents(t, db, credit.EventQuery{Before: credit.EventsEnd, Limit: 2}), "evt_5", "evt_6")
	if err := open.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	wantFeed(t, db, "Events(before end) once evt_a committed", credit.EventQuery{Before: credit.EventsEnd, Limit: 3}, "evt_6", "evt_a", "evt_c")

	for _, q := range []credit.EventQuery{
		{Before: "x"}, {Before: "7"}, {Before: "7-"}, {Before: "-7"}, {Before: "1-2-3"}, {Before: "END"}, {Before: " end"},
		{Before: "18446744073709551616-0"}, {After: c(1), Before: c(3)}, {After: c(1), Before: credit.EventsEnd},
	} {
		err := db.View(ctx, func(tx credit.Tx) error {
			r, err := credit.Events(tx)
			if err != nil {
				return err
			}
			q.Limit = 1
			_, err = r.Events(q)
			return err
		})
		wantError(t, fmt.Sprintf("Events(after %q, before %q)", q.After, q.Before), err, credit.Invalid, "invalid_cursor")
	}
}

// TestEvents_InvalidCursor: a cursor that is not "<tx>-<seq>" in decimal
// is Invalid invalid_cursor.
func TestEvents_InvalidCursor(t *testing.T) {
	db := pgtest.Open(t)
	for _, c := range []string{"x", "7", "7-", "-7", "7-x", "1-2-3", "+1-2", "1-+2", " 1-2", "1-2 ",
		"18446744073709551616-0", "1-9223372036854775808", "0x1-2"} {
		err := db.View(context.Background(), func(tx credit.Tx) error {
			r, err := credit.Events(tx)
			if err != nil {
				return err
			}
			_, err = r.Events(credit.EventQuery{After: c, Limit: 1})
			return err
		})
		wantError(t, fmt.Sprintf("Events(after %q)", c), err, credit.Invalid, "invalid_cursor")
	}
	// The largest of each is a cursor, after which there is nothing.
	wantIDs(t, "Events(after the largest cursor)", readEvents(t, db, credit.EventQuery{After: "18446744073709551615-9223372036854775807", Limit: 1}))
}

// TestEvents_Head: the head is after every event committed before it was
// read (of a transaction that had ended), and before every event of a
// transaction still running then, even one that inserted its event
// before: a webhook made at the head misses none of the changes that
// commit after it.
func TestEvents_Head(t *testing.T) {
	db := pgtest.Open(t)
	ctx := context.Background()
	h0 := head(t, db)
	if !strings.HasSuffix(h0, "-0") {
		t.Errorf("EventsHead() = %q; want <tx>-0", h0)
	}
	apply(t, db, "acme", &credit.Change{Events: []credit.Event{event("evt_1", credit.EventBalanceLow, "acme", t0, `{}`)}})
	wantFeed(t, db, "Events(after the head before evt_1)", credit.EventQuery{After: h0, Limit: 10}, "evt_1")

	open, err := db.Pool().Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer open.Rollback(ctx)
	insertOpen(t, open, "evt_2")
	h1 := head(t, db)
	wantIDs(t, "Events(after the head, evt_2 uncommitted)", readEvents(t, db, credit.EventQuery{After: h1, Limit: 10}))
	apply(t, db, "acme", &credit.Change{Events: []credit.Event{event("evt_3", credit.EventBalanceLow, "acme", t0, `{}`)}})
	if err := open.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	wantFeed(t, db, "Events(after the head read while evt_2 was uncommitted)", credit.EventQuery{After: h1, Limit: 10}, "evt_2", "evt_3")
	h2 := head(t, db)
	wantIDs(t, "Events(after the head once all committed)", readEvents(t, db, credit.EventQuery{After: h2, Limit: 10}))
}

// TestEvents_CatalogPublished: a publish appends its catalog.published
// event in its transaction; a refused publish appends none.
func TestEvents_CatalogPublished(t *testing.T) {
	db := pgtest.Open(t)
	ctx := context.Background()
	r := credit.CatalogRecord{Version: "v9", EffectiveAt: time.Date(2025, 4, 1, 0, 0, 0, 0, time.UTC), PublishedAt: t0, YAML: []byte("x"), PublishedBy: "admin"}
	if err := db.PublishCatalog(ctx, r); err != nil {
		t.Fatal(err)
	}
	wantError(t, "PublishCatalog(again)", db.PublishCatalog(ctx, r), credit.Conflict, "catalog_exists")
	var evs []credit.Event
	for deadline := time.Now().Add(10 * time.Second); len(evs) == 0 && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		evs = readEvents(t, db, credit.EventQuery{Limit: 10}) // see wantFeed
	}
	if len(evs) != 1 {
		t.Fatalf("events after a publish = %+v; want one", evs)
	}
	e := evs[0]
	if want := `{"version":"v9","effective_at":"2025-04-01T00:00:00Z"}`; e.Type != credit.EventCatalogPublished || e.Account != "" || !e.Time.Equal(t0) || string(e.Data) != want {
		t.Errorf("event = %+v (data %s); want catalog.published of no account at the publish, data %s", e, e.Data, want)
	}
}

// TestEvents_UsesIndexes: on a feed of many events, a page of the feed
// and a page of one account's read their index, from the cursor on.
func TestEvents_UsesIndexes(t *testing.T) {
	db := pgtest.Open(t)
	ctx := context.Background()
	if _, err := db.Pool().Exec(ctx, `INSERT INTO events (id, type, time, account, data)
			SELECT 'evt_' || i, 'balance.low', now(), 'acct' || (i % 100), '{}' FROM generate_series(1, 20000) AS i;
		ANALYZE events`); err != nil {
		t.Fatal(err)
	}
	for name, q := range map[string]string{
		"feed":             postgres.EventsQuery(credit.EventQuery{Limit: 100}),
		"account":          postgres.EventsQuery(credit.EventQuery{Account: "acct7", Limit: 100}),
		"feed backward":    postgres.EventsQuery(credit.EventQuery{Before: credit.EventsEnd, Limit: 100}),
		"account backward": postgres.EventsQuery(credit.EventQuery{Before: credit.EventsEnd, Account: "acct7", Limit: 100}),
	} {
		text := explain(t, db, q)
		want := "events_feed"
		if strings.HasPrefix(name, "account") {
			want = "events_account"
		}
		// A backward page reads the index from the cursor down (ORDER BY
		// tx DESC, seq DESC), with no sort of the rows before it.
		backward := strings.HasSuffix(name, "backward")
		if !strings.Contains(text, "Index") || !strings.Contains(text, want) || strings.Contains(text, "Seq Scan") || strings.Contains(text, "Sort") ||
			strings.Contains(text, "Backward") != backward {
			t.Errorf("the %s page is not an ordered read of %s (backward: %v):\n%s", name, want, backward, text)
		}
	}
}

// explain returns the generic plan of query, its parameters NULL but for
// args (EXPLAIN (GENERIC_PLAN) needs PostgreSQL 16; the test prepares the
// statement and forces the generic plan instead), sequential scans off.
func explain(tb testing.TB, db *postgres.DB, query string, args ...string) string {
	tb.Helper()
	ctx := context.Background()
	conn, err := db.Pool().Acquire(ctx)
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Release()
	// As the load test does: the index must answer the statement, whatever
	// the statistics of a test's small tables say.
	if _, err := conn.Exec(ctx, `SET plan_cache_mode = force_generic_plan; SET enable_seqscan = off`); err != nil {
		tb.Fatal(err)
	}
	defer conn.Exec(ctx, `RESET plan_cache_mode; RESET enable_seqscan`)
	if _, err := conn.Exec(ctx, `PREPARE q AS `+query); err != nil {
		tb.Fatalf("PREPARE %s: %v", query, err)
	}
	defer conn.Exec(ctx, `DEALLOCATE q`)
	var n int
	if err := conn.QueryRow(ctx, `SELECT cardinality(parameter_types) FROM pg_prepared_statements WHERE name = 'q'`).Scan(&n); err != nil {
		tb.Fatal(err)
	}
	params := make([]string, n)
	for i := range params {
		params[i] = "NULL"
		if i < len(args) {
			params[i] = args[i]
		}
	}
	rows, err := conn.Query(ctx, `EXPLAIN EXECUTE q`+map[bool]string{true: "(" + strings.Join(params, ", ") + ")"}[n > 0])
	if err != nil {
		tb.Fatalf("EXPLAIN %s: %v", query, err)
	}
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			tb.Fatal(err)
		}
		plan = append(plan, line)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return strings.Join(plan, "\n")
}
