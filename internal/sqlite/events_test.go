package sqlite_test

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"
	tsqlite "github.com/tally-credits/tally/internal/sqlite"
	"github.com/tally-credits/tally/internal/storetest"
)

// event is an event as a change carries it (no Cursor).
func event(id, typ, account string, at time.Time, data string) credit.Event {
	return credit.Event{ID: id, Type: typ, Time: at, Account: account, Data: []byte(data)}
}

// readEvents answers q from the feed of a View.
func readEvents(tb testing.TB, db *tsqlite.DB, q credit.EventQuery) []credit.Event {
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

func eventIDs(es []credit.Event) []string {
	var ids []string
	for _, e := range es {
		ids = append(ids, e.ID)
	}
	return ids
}

func head(tb testing.TB, db *tsqlite.DB) string {
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

// TestEventsFeed: the events of changes and of a catalog publish come back
// in the order they were written, their data byte for byte, each with a
// cursor that pages the feed, filtered by type and account.
func TestEventsFeed(t *testing.T) {
	ctx := context.Background()
	db := MustOpenDB(t)
	// Data as no encoder writes it (spaces, escapes, key order, number
	// forms): the feed must give back these very bytes.
	e1 := event("evt_1", credit.EventGrantCreated, "acme", t0, `{"grant":"grt_1","source":"topup","credits":5}`)
	e2 := event("evt_2", credit.EventBalanceLow, "acme", t0.Add(time.Second), `{ "threshold" : 2,"available":1.500 }`)
	e3 := event("evt_3", credit.EventGrantCreated, "bolt", t0.Add(2*time.Second), `{"memo":"caf\u00e9 \"q\" \\ é 日本","n":[1,2.50,1e3]}`)
	e4 := event("evt_4", credit.EventBalanceDepleted, "acme", t0.Add(3*time.Second), `{"available":0}`)
	storetest.MustApply(t, db, "acme", &credit.Change{Events: []credit.Event{e1, e2}})
	// Two accounts in one transaction: the feed has them in batch order.
	err := db.Write(ctx, []*credit.Batch{
		{Account: "bolt", Writes: 1, Decide: func(*credit.State) (*credit.Change, error) { return &credit.Change{Events: []credit.Event{e3}}, nil }},
		{Account: "acme", Writes: 1, Decide: func(*credit.State) (*credit.Change, error) { return &credit.Change{Events: []credit.Event{e4}}, nil }},
	})
	if err != nil {
		t.Fatal(err)
	}
	// A publish tells of itself in its transaction.
	if err := db.PublishCatalog(ctx, credit.CatalogRecord{Version: "2025-03-14", EffectiveAt: t0, PublishedAt: t0.Add(5 * time.Second),
		YAML: []byte("version: 2025-03-14\n"), PublishedBy: "admin"}); err != nil {
		t.Fatal(err)
	}

	all := readEvents(t, db, credit.EventQuery{Limit: 100})
	if len(all) != 5 {
		t.Fatalf("Events() = %d events %v; want 5", len(all), eventIDs(all))
	}
	pub := all[4]
	if pub.Type != credit.EventCatalogPublished || pub.Account != "" || !pub.Time.Equal(t0.Add(5*time.Second)) ||
		string(pub.Data) != `{"version":"2025-03-14","effective_at":"2025-03-14T09:26:53.589793Z"}` || !strings.HasPrefix(pub.ID, "evt_") {
		t.Errorf("the publish's event = %+v (data %s); want catalog.published of 2025-03-14", pub, pub.Data)
	}
	want := []credit.Event{e1, e2, e3, e4}
	last := int64(0)
	for i, got := range all {
		seq, err := strconv.ParseInt(got.Cursor, 10, 64)
		if err != nil || seq <= last {
			t.Errorf("event %d's cursor = %q; want a decimal past %d", i, got.Cursor, last)
		}
		last = seq
		if i >= len(want) {
			continue
		}
		w := want[i]
		w.Cursor = got.Cursor
		if !reflect.DeepEqual(got, w) {
			t.Errorf("event %d = %+v (data %s); want %+v (data %s)", i, got, got.Data, w, w.Data)
		}
	}

	// Pages of 2 are the feed in order.
	var paged []credit.Event
	sizes := []int{}
	for after := ""; ; {
		page := readEvents(t, db, credit.EventQuery{After: after, Limit: 2})
		sizes = append(sizes, len(page))
		if len(page) == 0 {
			break
		}
		paged = append(paged, page...)
		after = page[len(page)-1].Cursor
	}
	if !reflect.DeepEqual(paged, all) || !reflect.DeepEqual(sizes, []int{2, 2, 1, 0}) {
		t.Errorf("pages of 2 = %v (sizes %v); want %v (2, 2, 1, 0)", eventIDs(paged), sizes, eventIDs(all))
	}

	for _, tc := range []struct {
		name string
		q    credit.EventQuery
		want []string
	}{
		{"grant.created", credit.EventQuery{Types: []string{credit.EventGrantCreated}, Limit: 100}, []string{"evt_1", "evt_3"}},
		{"grant.created or catalog.published", credit.EventQuery{Types: []string{credit.EventCatalogPublished, credit.EventGrantCreated}, Limit: 100},
			[]string{"evt_1", "evt_3", pub.ID}},
		{"*", credit.EventQuery{Types: []string{"*"}, Limit: 100}, []string{"evt_1", "evt_2", "evt_3", "evt_4", pub.ID}},
		{"acme", credit.EventQuery{Account: "acme", Limit: 100}, []string{"evt_1", "evt_2", "evt_4"}},
		{"acme, 1", credit.EventQuery{Account: "acme", Limit: 1}, []string{"evt_1"}},
		{"acme after evt_2", credit.EventQuery{Account: "acme", After: all[1].Cursor, Limit: 100}, []string{"evt_4"}},
		{"acme balance.low", credit.EventQuery{Account: "acme", Types: []string{credit.EventBalanceLow}, Limit: 100}, []string{"evt_2"}},
		{"bolt balance.low", credit.EventQuery{Account: "bolt", Types: []string{credit.EventBalanceLow}, Limit: 100}, nil},
		{"after evt_3", credit.EventQuery{After: all[2].Cursor, Limit: 100}, []string{"evt_4", pub.ID}},
		{"after the last", credit.EventQuery{After: pub.Cursor, Limit: 100}, nil},
		{"after a cursor not yet reached", credit.EventQuery{After: "1000", Limit: 100}, nil},
	} {
		if got := eventIDs(readEvents(t, db, tc.q)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Events(%s) = %v; want %v", tc.name, got, tc.want)
		}
	}

	for _, c := range []string{"x", "-1", "1.5", "01", " 1", "+1", "1-2", "99999999999999999999"} {
		mustView(t, db, func(tx credit.Tx) error {
			r, err := credit.Events(tx)
			if err != nil {
				return err
			}
			_, err = r.Events(credit.EventQuery{After: c, Limit: 10})
			wantError(t, "Events(after "+strconv.Quote(c)+")", err, credit.Invalid, "invalid_cursor")
			return nil
		})
	}

	// The writer's transactions read the same feed.
	err = db.Update(ctx, func(tx credit.Tx) error {
		r, err := credit.Events(tx)
		if err != nil {
			return err
		}
		got, err := r.Events(credit.EventQuery{Limit: 100})
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(got, all) {
			t.Errorf("Events() in Update = %v; want %v", eventIDs(got), eventIDs(all))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	snap, err := credit.ReadSnapshot(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(snap.Events, all) {
		t.Errorf("Snapshot().Events = %v; want the feed %v", eventIDs(snap.Events), eventIDs(all))
	}
}

// TestEventsHead: the head is the cursor of the last event ("0" before
// any), and the events after it are those written later.
func TestEventsHead(t *testing.T) {
	db := MustOpenDB(t)
	h0 := head(t, db)
	if h0 != "0" {
		t.Errorf("EventsHead() of an empty feed = %q; want \"0\"", h0)
	}
	if got := readEvents(t, db, credit.EventQuery{After: h0, Limit: 10}); len(got) != 0 {
		t.Errorf("Events(after the empty head) = %v; want none", eventIDs(got))
	}
	storetest.MustApply(t, db, "acme", &credit.Change{Events: []credit.Event{
		event("evt_1", credit.EventGrantCreated, "acme", t0, `{}`),
		event("evt_2", credit.EventGrantCreated, "acme", t0, `{}`),
	}})
	h1 := head(t, db)
	all := readEvents(t, db, credit.EventQuery{Limit: 10})
	if len(all) != 2 || h1 != all[1].Cursor {
		t.Fatalf("EventsHead() after 2 events = %q; want the cursor of the second of %+v", h1, all)
	}
	storetest.MustApply(t, db, "acme", &credit.Change{Events: []credit.Event{event("evt_3", credit.EventBalanceLow, "acme", t0, `{}`)}})
	if got := eventIDs(readEvents(t, db, credit.EventQuery{After: h1, Limit: 10})); !reflect.DeepEqual(got, []string{"evt_3"}) {
		t.Errorf("Events(after the head before evt_3) = %v; want [evt_3]", got)
	}
	if got := eventIDs(readEvents(t, db, credit.EventQuery{After: h0, Limit: 10})); !reflect.DeepEqual(got, []string{"evt_1", "evt_2", "evt_3"}) {
		t.Errorf("Events(after the first head) = %v; want all three", got)
	}
}

// TestEventsBackward: a read before a cursor answers the last events
// before it, oldest first, by the same filters; "end" is the newest ones.
// The feed is five events, seqs 1 to 5 (a new file's first):
//
//	1 evt_1 grant.created      acme
//	2 evt_2 balance.low        acme
//	3 evt_3 grant.created      bolt
//	4 evt_4 balance.depleted   acme
//	5 evt_5 grant.created      bolt
func TestEventsBackward(t *testing.T) {
	db := MustOpenDB(t)
	storetest.MustApply(t, db, "acme", &credit.Change{Events: []credit.Event{
		event("evt_1", credit.EventGrantCreated, "acme", t0, `{"n":1}`),
		event("evt_2", credit.EventBalanceLow, "acme", t0, `{"n":2}`),
	}})
	storetest.MustApply(t, db, "bolt", &credit.Change{Events: []credit.Event{event("evt_3", credit.EventGrantCreated, "bolt", t0, `{"n":3}`)}})
	storetest.MustApply(t, db, "acme", &credit.Change{Events: []credit.Event{event("evt_4", credit.EventBalanceDepleted, "acme", t0, `{"n":4}`)}})
	storetest.MustApply(t, db, "bolt", &credit.Change{Events: []credit.Event{event("evt_5", credit.EventGrantCreated, "bolt", t0, `{"n":5}`)}})
	all := readEvents(t, db, credit.EventQuery{Limit: 100})
	if got := eventIDs(all); !reflect.DeepEqual(got, []string{"evt_1", "evt_2", "evt_3", "evt_4", "evt_5"}) {
		t.Fatalf("the feed = %v; want evt_1 to evt_5", got)
	}
	for i, e := range all {
		if want := strconv.Itoa(i + 1); e.Cursor != want {
			t.Fatalf("event %s's cursor = %q; want %q", e.ID, e.Cursor, want)
		}
	}

	// Pages of 2 from the end, each put before the last, are the feed.
	var rebuilt []credit.Event
	var pages [][]string
	for before := credit.EventsEnd; ; {
		page := readEvents(t, db, credit.EventQuery{Before: before, Limit: 2})
		pages = append(pages, eventIDs(page))
		if len(page) == 0 || len(pages) > 10 {
			break
		}
		rebuilt = append(page, rebuilt...)
		before = page[0].Cursor
	}
	if !reflect.DeepEqual(pages, [][]string{{"evt_4", "evt_5"}, {"evt_2", "evt_3"}, {"evt_1"}, nil}) {
		t.Errorf("backward pages of 2 = %v; want [evt_4 evt_5] [evt_2 evt_3] [evt_1] []", pages)
	}
	if !reflect.DeepEqual(rebuilt, all) {
		t.Errorf("the backward pages put together = %v; want the feed %v, byte for byte", eventIDs(rebuilt), eventIDs(all))
	}

	acme, grants := "acme", []string{credit.EventGrantCreated}
	for _, tc := range []struct {
		name string
		q    credit.EventQuery
		want []string
	}{
		{"end", credit.EventQuery{Before: "end", Limit: 100}, []string{"evt_1", "evt_2", "evt_3", "evt_4", "evt_5"}},
		{"end, 1", credit.EventQuery{Before: "end", Limit: 1}, []string{"evt_5"}},
		// The head is the last event's cursor: the page before it ends at evt_4.
		{"the head", credit.EventQuery{Before: head(t, db), Limit: 2}, []string{"evt_3", "evt_4"}},
		{"4", credit.EventQuery{Before: "4", Limit: 100}, []string{"evt_1", "evt_2", "evt_3"}},
		{"1", credit.EventQuery{Before: "1", Limit: 100}, nil},
		{"0", credit.EventQuery{Before: "0", Limit: 100}, nil},
		{"a cursor not yet reached", credit.EventQuery{Before: "1000", Limit: 2}, []string{"evt_4", "evt_5"}},
		{"grant.created, end, 2", credit.EventQuery{Types: grants, Before: "end", Limit: 2}, []string{"evt_3", "evt_5"}},
		{"grant.created before 3", credit.EventQuery{Types: grants, Before: "3", Limit: 2}, []string{"evt_1"}},
		{"*, end, 2", credit.EventQuery{Types: []string{"*"}, Before: "end", Limit: 2}, []string{"evt_4", "evt_5"}},
		{"acme, end, 2", credit.EventQuery{Account: acme, Before: "end", Limit: 2}, []string{"evt_2", "evt_4"}},
		{"acme before 4", credit.EventQuery{Account: acme, Before: "4", Limit: 2}, []string{"evt_1", "evt_2"}},
		{"acme before 2", credit.EventQuery{Account: acme, Before: "2", Limit: 2}, []string{"evt_1"}},
		{"acme balance.low, end", credit.EventQuery{Account: acme, Types: []string{credit.EventBalanceLow}, Before: "end", Limit: 10}, []string{"evt_2"}},
		{"acme grant.created before 5", credit.EventQuery{Account: acme, Types: grants, Before: "5", Limit: 10}, []string{"evt_1"}},
		{"bolt before 3", credit.EventQuery{Account: "bolt", Before: "3", Limit: 10}, nil},
		{"nobody, end", credit.EventQuery{Account: "nobody", Before: "end", Limit: 10}, nil},
	} {
		if got := eventIDs(readEvents(t, db, tc.q)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Events(before %s) = %v; want %v", tc.name, got, tc.want)
		}
	}

	for _, q := range []credit.EventQuery{
		{Before: "x"}, {Before: "-1"}, {Before: "01"}, {Before: "END"}, {Before: "end "}, {Before: "99999999999999999999"},
		{After: "1", Before: "3"}, {After: "1", Before: "end"},
	} {
		mustView(t, db, func(tx credit.Tx) error {
			r, err := credit.Events(tx)
			if err != nil {
				return err
			}
			q.Limit = 10
			_, err = r.Events(q)
			wantError(t, fmt.Sprintf("Events(after %q, before %q)", q.After, q.Before), err, credit.Invalid, "invalid_cursor")
			return nil
		})
	}
}

// TestTopups: top-ups and the new columns of accounts, grants and member
// periods go in and come back through every read, and a write's State holds
// an account's pending and recent top-ups and those it names, from the file
// and from the writer's cache alike.
func TestTopups(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tally.db")
	db := MustOpenPath(t, path)
	now := t0.Add(40 * 24 * time.Hour)
	day := 24 * time.Hour
	acme := credit.Account{ID: "acme", Available: credit.Whole(7), CreatedAt: t0, LowBalance: credit.Whole(2),
		AutoTopup: credit.AutoTopup{Threshold: credit.Whole(1), Amount: credit.Whole(10), MonthlyCap: credit.Whole(50)}}
	grant := credit.Grant{ID: "grt_acme", Account: "acme", Source: credit.SourceTopup, Granted: credit.Whole(7), Remaining: credit.Whole(7),
		CreatedAt: t0, ExpiresAt: now.Add(day), WarnedAt: now.Add(-time.Hour)}
	storetest.MustApply(t, db, "acme", &credit.Change{NewAccount: &acme, NewGrants: []credit.Grant{grant}})
	newAccount(t, db, "bolt", 0, 0)

	// ids sort by creation, as credit.NewID's do.
	top1 := credit.Topup{ID: "top_01", Account: "acme", Credits: credit.Whole(10), Status: credit.TopupConfirmed, Grant: "grt_acme",
		CreatedAt: now.Add(-40 * day), ResolvedAt: now.Add(-40*day + time.Hour)} // old and resolved
	top2 := credit.Topup{ID: "top_02", Account: "acme", Credits: credit.Whole(10), Status: credit.TopupPending,
		CreatedAt: now.Add(-35 * day)} // old but pending
	top3 := credit.Topup{ID: "top_03", Account: "acme", Credits: credit.Whole(10), Status: credit.TopupCanceled,
		CreatedAt: now.Add(-credit.TopupWindow), ResolvedAt: now.Add(-30 * day)} // resolved, at the window's edge
	top4 := credit.Topup{ID: "top_04", Account: "acme", Credits: credit.Whole(10), Status: credit.TopupCanceled,
		CreatedAt: now.Add(-10 * day), ResolvedAt: now.Add(-9 * day)} // recent
	top5 := credit.Topup{ID: "top_05", Account: "bolt", Credits: credit.Whole(3), Status: credit.TopupPending, CreatedAt: now.Add(-day)}
	storetest.MustApply(t, db, "acme", &credit.Change{NewTopups: []credit.Topup{top1, top2, top3, top4}})
	storetest.MustApply(t, db, "bolt", &credit.Change{NewTopups: []credit.Topup{top5}})

	ids := func(us []credit.Topup) []string {
		var out []string
		for _, u := range us {
			out = append(out, u.ID)
		}
		return out
	}
	// A second handle on the file has no cache: its states come from the
	// load query. Each read opens one afresh.
	fresh := func() *tsqlite.DB {
		d, err := tsqlite.OpenExisting(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { d.Close() })
		return d
	}
	cold := fresh()
	st := storetest.Load(t, cold, "acme", credit.Refs{Now: now})
	if got := ids(st.Topups); !reflect.DeepEqual(got, []string{"top_02", "top_03", "top_04"}) {
		t.Errorf("loaded top-ups = %v; want the pending top_02 and the recent top_03, top_04", got)
	}
	if !reflect.DeepEqual(st.Topups[0], top2) || !reflect.DeepEqual(st.Topups[1], top3) {
		t.Errorf("loaded top-ups = %+v; want %+v, %+v first", st.Topups, top2, top3)
	}
	if !reflect.DeepEqual(*st.Account, acme) {
		t.Errorf("loaded account = %+v; want %+v", *st.Account, acme)
	}
	if i := slices.IndexFunc(st.Grants, func(g credit.Grant) bool { return g.ID == "grt_acme" }); i < 0 || !reflect.DeepEqual(st.Grants[i], grant) {
		t.Errorf("loaded grants = %+v; want %+v among them", st.Grants, grant)
	}
	// cold now caches acme's state, which lacks top_01: a write naming it
	// must load it (and not another account's top_05).
	st = storetest.Load(t, cold, "acme", credit.Refs{Now: now, Topups: []string{"top_01", "top_05"}})
	if got := ids(st.Topups); !reflect.DeepEqual(got, []string{"top_01", "top_02", "top_03", "top_04"}) {
		t.Errorf("loaded top-ups naming top_01 and bolt's top_05 = %v; want top_01 to top_04", got)
	}
	if !reflect.DeepEqual(st.Topups[0], top1) {
		t.Errorf("loaded top_01 = %+v; want %+v", st.Topups[0], top1)
	}

	// Updates: the top-up, the account's alert and auto top-up, the
	// grant's warning.
	top2.Status, top2.Grant, top2.ResolvedAt = credit.TopupConfirmed, "grt_acme", now.Add(-time.Hour)
	acme.Available, acme.LowBalance, acme.AutoTopup = credit.Whole(6), credit.Whole(3), credit.AutoTopup{}
	grant.WarnedAt = time.Time{}
	storetest.MustApply(t, db, "acme", &credit.Change{Account: &acme, Grants: []credit.Grant{grant}, Topups: []credit.Topup{top2}})
	for name, d := range map[string]*tsqlite.DB{"the writer's cache": db, "the file": fresh()} {
		st := storetest.Load(t, d, "acme", credit.Refs{Now: now})
		if !reflect.DeepEqual(*st.Account, acme) {
			t.Errorf("%s: account after the update = %+v; want %+v", name, *st.Account, acme)
		}
		i := slices.IndexFunc(st.Topups, func(u credit.Topup) bool { return u.ID == "top_02" })
		switch {
		case i >= 0 && !reflect.DeepEqual(st.Topups[i], top2):
			t.Errorf("%s: top_02 after the update = %+v; want %+v", name, st.Topups[i], top2)
		case i < 0 && d == db:
			t.Errorf("%s: top_02 is gone from the cached state; want it kept (Prune keeps top-ups)", name)
		case i >= 0 && d != db:
			t.Errorf("%s: top_02, old and confirmed, was loaded; want only pending and recent ones", name)
		}
		if g := st.Grants[slices.IndexFunc(st.Grants, func(g credit.Grant) bool { return g.ID == "grt_acme" })]; !reflect.DeepEqual(g, grant) {
			t.Errorf("%s: grant after the update = %+v; want %+v", name, g, grant)
		}
	}

	mustView(t, db, func(tx credit.Tx) error {
		if got, err := tx.Topup("top_02"); err != nil || !reflect.DeepEqual(got, top2) {
			t.Errorf("Topup(top_02) = %+v, %v; want %+v", got, err, top2)
		}
		_, err := tx.Topup("top_99")
		wantError(t, "Topup(top_99)", err, credit.NotFound, "unknown_topup")
		for _, tc := range []struct {
			account, before string
			limit           int
			want            []string
		}{
			{"acme", "", 2, []string{"top_04", "top_03"}},
			{"acme", "top_03", 10, []string{"top_02", "top_01"}},
			{"acme", "top_01", 10, nil},
			{"bolt", "", 10, []string{"top_05"}},
			{"nobody", "", 10, nil},
		} {
			got, err := tx.Topups(tc.account, tc.before, tc.limit)
			if err != nil || !reflect.DeepEqual(ids(got), tc.want) {
				t.Errorf("Topups(%s, %q, %d) = %v, %v; want %v", tc.account, tc.before, tc.limit, ids(got), err, tc.want)
			}
		}
		if got, err := tx.Account("acme"); err != nil || !reflect.DeepEqual(got, acme) {
			t.Errorf("Account(acme) = %+v, %v; want %+v", got, err, acme)
		}
		if got, err := tx.Grant("grt_acme"); err != nil || !reflect.DeepEqual(got, grant) {
			t.Errorf("Grant(grt_acme) = %+v, %v; want %+v", got, err, grant)
		}
		return nil
	})

	snap, err := credit.ReadSnapshot(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	if want := []credit.Topup{top1, top2, top3, top4, top5}; !reflect.DeepEqual(snap.Topups, want) {
		t.Errorf("Snapshot().Topups = %+v; want %+v", snap.Topups, want)
	}
}

// TestMemberPeriodReached: a member period's Reached goes in, is updated,
// and comes back from the load and from Tx.MemberPeriods.
func TestMemberPeriodReached(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tally.db")
	db := MustOpenPath(t, path)
	team := credit.Account{ID: "team", CreatedAt: t0, Kind: credit.AccountTeam}
	limit := credit.Whole(5)
	m := credit.Member{Account: "team", ID: "ana", MonthlyLimit: &limit, CreatedAt: t0, UpdatedAt: t0}
	p := credit.MemberPeriod{Account: "team", Member: "ana", Start: t0, End: t0.Add(30 * 24 * time.Hour), Used: credit.Whole(5), Limit: &limit,
		Reached: t0.Add(time.Hour)}
	storetest.MustApply(t, db, "team", &credit.Change{NewAccount: &team, Members: []credit.Member{m}, MemberPeriods: []credit.MemberPeriod{p}})
	check := func(when string, want credit.MemberPeriod) {
		t.Helper()
		mustView(t, db, func(tx credit.Tx) error {
			got, err := tx.MemberPeriods("team", t0)
			if err != nil || len(got) != 1 || !reflect.DeepEqual(got[0], want) {
				t.Errorf("%s: MemberPeriods = %+v, %v; want %+v", when, got, err, want)
			}
			return nil
		})
		cold, err := tsqlite.OpenExisting(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		defer cold.Close()
		st := storetest.Load(t, cold, "team", credit.Refs{Now: t0, Members: []string{"ana"}})
		if len(st.MemberPeriods) != 1 || !reflect.DeepEqual(st.MemberPeriods[0], want) {
			t.Errorf("%s: loaded periods = %+v; want %+v", when, st.MemberPeriods, want)
		}
	}
	check("inserted", p)
	p.Reached = time.Time{}
	storetest.MustApply(t, db, "team", &credit.Change{MemberPeriods: []credit.MemberPeriod{p}})
	check("cleared", p)
	p.Reached = t0.Add(2 * time.Hour)
	storetest.MustApply(t, db, "team", &credit.Change{MemberPeriods: []credit.MemberPeriod{p}})
	check("set again", p)
}

// TestWarnGrants: of grants written by hand, those grant.expiring has to
// tell of by `before`: not told, not expired, something left, an expiry at
// or before it, not free credits.
func TestWarnGrants(t *testing.T) {
	db := MustOpenDB(t)
	newAccount(t, db, "acme", 0, 0)
	before := t0.Add(72 * time.Hour)
	g := func(id string, source credit.Source, remaining credit.Credits, expires, expired, warned time.Time) credit.Grant {
		return credit.Grant{ID: id, Account: "acme", Source: source, Granted: credit.Whole(10), Remaining: remaining, CreatedAt: t0,
			ExpiresAt: expires, ExpiredAt: expired, WarnedAt: warned}
	}
	five := credit.Whole(5)
	grants := []credit.Grant{
		g("g_soon", credit.SourceTopup, five, t0.Add(time.Hour), time.Time{}, time.Time{}),                  // yes
		g("g_warned", credit.SourceTopup, five, t0.Add(time.Hour), time.Time{}, t0),                         // told already
		g("g_spent", credit.SourcePromo, 0, t0.Add(time.Hour), time.Time{}, time.Time{}),                    // nothing left
		g("g_free", credit.SourceFree, five, t0.Add(time.Hour), time.Time{}, time.Time{}),                   // free credits
		g("g_later", credit.SourceTopup, five, t0.Add(10*24*time.Hour), time.Time{}, time.Time{}),           // after before
		g("g_edge", credit.SourceSubscription, five, before, time.Time{}, time.Time{}),                      // yes: at before
		g("g_expired", credit.SourceTopup, 0, t0.Add(-time.Hour), t0, time.Time{}),                          // expired
		g("g_never", credit.SourceTopup, five, time.Time{}, time.Time{}, time.Time{}),                       // no expiry
		g("g_past", credit.SourceAdjustment, credit.Whole(3), t0.Add(-time.Hour), time.Time{}, time.Time{}), // yes: due, not swept yet
	}
	storetest.MustApply(t, db, "acme", &credit.Change{NewGrants: grants})
	mustView(t, db, func(tx credit.Tx) error {
		got, err := tx.WarnGrants(before, 100)
		if err != nil {
			return err
		}
		var ids []string
		for _, x := range got {
			ids = append(ids, x.ID)
		}
		slices.Sort(ids)
		if want := []string{"g_edge", "g_past", "g_soon"}; !reflect.DeepEqual(ids, want) {
			t.Errorf("WarnGrants(t0+72h) = %v; want %v", ids, want)
		}
		for _, x := range got {
			if x.ID == "g_past" && !reflect.DeepEqual(x, grants[8]) {
				t.Errorf("WarnGrants: g_past = %+v; want %+v", x, grants[8])
			}
		}
		if got, err := tx.WarnGrants(before, 2); err != nil || len(got) != 2 {
			t.Errorf("WarnGrants(t0+72h, 2) = %d grants, %v; want 2", len(got), err)
		}
		if got, err := tx.WarnGrants(t0.Add(-2*time.Hour), 100); err != nil || len(got) != 0 {
			t.Errorf("WarnGrants(t0-2h) = %+v, %v; want none", got, err)
		}
		return nil
	})
	// Told: it leaves the sweeper's work.
	told := grants[0]
	told.WarnedAt = t0
	storetest.MustApply(t, db, "acme", &credit.Change{Grants: []credit.Grant{told}})
	mustView(t, db, func(tx credit.Tx) error {
		got, err := tx.WarnGrants(before, 100)
		if err != nil || len(got) != 2 || slices.ContainsFunc(got, func(x credit.Grant) bool { return x.ID == "g_soon" }) {
			t.Errorf("WarnGrants after g_soon was told = %+v, %v; want g_edge and g_past", got, err)
		}
		return nil
	})
}

// TestMigrateFrom0008: a file at schema 8, written by hand with the
// migrations of the time, upgrades: its rows keep their values, the new
// columns read as nothing set, the audit log keeps its entries (and its
// ids, its append-only triggers and its CHECK, now with the new actions),
// and the upgraded file takes the new rows.
func TestMigrateFrom0008(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "tally.db")
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("migration/000*.sql")
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(files)
	if _, err := raw.Exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT`); err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		v, err := strconv.Atoi(filepath.Base(f)[:4])
		if err != nil {
			t.Fatal(err)
		}
		if v > 8 {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := raw.Exec(string(b)); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if _, err := raw.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)`, v); err != nil {
			t.Fatal(err)
		}
	}
	us := t0.UnixMicro()
	for _, q := range []string{
		`INSERT INTO accounts (id, overdraft, available, held, created_at, plan, time_zone, daily, kind)
			VALUES ('acme', 0, 7000, 0, ` + strconv.FormatInt(us, 10) + `, 'pro', 'Europe/Paris', 'free/2025-03-14', 'user'),
			('team', 0, 0, 0, ` + strconv.FormatInt(us, 10) + `, '', '', '', 'team')`,
		`INSERT INTO grants (id, account, source, granted, remaining, held, priority, expires_at, expired_at, created_at, memo, paid_back,
			applies_to, subscription, period)
			VALUES ('grt_1', 'acme', 'promo', 7000, 7000, 0, 1, ` + strconv.FormatInt(t0.Add(time.Hour).UnixMicro(), 10) + `, NULL, ` +
			strconv.FormatInt(us, 10) + `, 'spring', 0, NULL, '', '')`,
		`INSERT INTO members (account, member, monthly_limit, created_at, updated_at, removed_at)
			VALUES ('team', 'ana', 5000, ` + strconv.FormatInt(us, 10) + `, ` + strconv.FormatInt(us, 10) + `, NULL)`,
		`INSERT INTO member_periods (account, member, period_start, period_end, used, limit_credits)
			VALUES ('team', 'ana', ` + strconv.FormatInt(us, 10) + `, ` + strconv.FormatInt(t0.Add(time.Hour).UnixMicro(), 10) + `, 2000, 5000)`,
		`INSERT INTO audit_log (at, actor, action, target, detail) VALUES
			(` + strconv.FormatInt(us, 10) + `, 'admin', 'account.create', 'acme', CAST('{}' AS BLOB)),
			(` + strconv.FormatInt(us, 10) + `, 'admin', 'member.set', 'team', CAST('{"member":"ana"}' AS BLOB))`,
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}

	db := MustOpenPath(t, path)
	var version int
	if err := db.Reader().QueryRow(`SELECT max(version) FROM schema_migrations`).Scan(&version); err != nil || version != 10 {
		t.Fatalf("schema version after Open = %d, %v; want 10", version, err)
	}
	limit := credit.Whole(5)
	mustView(t, db, func(tx credit.Tx) error {
		want := credit.Account{ID: "acme", Available: credit.Whole(7), CreatedAt: t0, Plan: "pro", TimeZone: "Europe/Paris",
			Daily: "free/2025-03-14", Kind: credit.AccountUser}
		if got, err := tx.Account("acme"); err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("Account(acme) after the upgrade = %+v, %v; want %+v", got, err, want)
		}
		wantGrant := credit.Grant{ID: "grt_1", Account: "acme", Source: credit.SourcePromo, Granted: credit.Whole(7), Remaining: credit.Whole(7),
			Priority: 1, ExpiresAt: t0.Add(time.Hour), CreatedAt: t0, Memo: "spring"}
		if got, err := tx.Grant("grt_1"); err != nil || !reflect.DeepEqual(got, wantGrant) {
			t.Errorf("Grant(grt_1) after the upgrade = %+v, %v; want %+v", got, err, wantGrant)
		}
		if got, err := tx.WarnGrants(t0.Add(2*time.Hour), 10); err != nil || len(got) != 1 || got[0].ID != "grt_1" {
			t.Errorf("WarnGrants after the upgrade = %+v, %v; want grt_1, never told", got, err)
		}
		wantPeriod := credit.MemberPeriod{Account: "team", Member: "ana", Start: t0, End: t0.Add(time.Hour), Used: credit.Whole(2), Limit: &limit}
		if got, err := tx.MemberPeriods("team", t0); err != nil || len(got) != 1 || !reflect.DeepEqual(got[0], wantPeriod) {
			t.Errorf("MemberPeriods(team) after the upgrade = %+v, %v; want %+v", got, err, wantPeriod)
		}
		log, err := tx.AuditLog(0, 10)
		if err != nil {
			return err
		}
		if len(log) != 2 || log[0].ID != 2 || log[0].Action != "member.set" || string(log[0].Detail) != `{"member":"ana"}` ||
			log[1].ID != 1 || log[1].Action != "account.create" || log[1].Target != "acme" || !log[1].At.Equal(t0) {
			t.Errorf("AuditLog after the upgrade = %+v; want the two entries written at schema 8", log)
		}
		return nil
	})

	// The new actions are allowed, and only they: the CHECK is still there.
	err = db.Update(ctx, func(tx credit.Tx) error {
		for _, action := range []string{credit.AuditAccountAlerts, credit.AuditAutoTopup, credit.AuditTopupConfirm, credit.AuditTopupCancel,
			credit.AuditWebhookCreate, credit.AuditWebhookDelete, credit.AuditWebhookRetry} {
			e := credit.AuditEntry{At: t0, Actor: "admin", Action: action, Target: "x", Detail: []byte(`{}`)}
			if err := tx.AppendAudit(&e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("audit entries of the new actions: %v", err)
	}
	err = db.Update(ctx, func(tx credit.Tx) error {
		return tx.AppendAudit(&credit.AuditEntry{At: t0, Actor: "admin", Action: "webhook.bogus", Target: "x", Detail: []byte(`{}`)})
	})
	if err == nil {
		t.Error("an audit entry of an unknown action was appended; want the CHECK to refuse it")
	}
	if _, err := db.Writer().Exec(`UPDATE audit_log SET actor = 'mallory' WHERE id = 1`); err == nil {
		t.Error("an audit entry was updated after the upgrade; want the log append-only")
	}

	// The upgraded file takes the new rows through the apply trigger.
	acme := credit.Account{ID: "acme", Available: credit.Whole(7), CreatedAt: t0, Plan: "pro", TimeZone: "Europe/Paris",
		Daily: "free/2025-03-14", Kind: credit.AccountUser, LowBalance: credit.Whole(1), AutoTopup: credit.AutoTopup{Amount: credit.Whole(5)}}
	top := credit.Topup{ID: "top_1", Account: "acme", Credits: credit.Whole(5), Status: credit.TopupPending, CreatedAt: t0}
	storetest.MustApply(t, db, "acme", &credit.Change{Account: &acme, NewTopups: []credit.Topup{top},
		Events: []credit.Event{event("evt_1", credit.EventTopupRequested, "acme", t0, `{"topup":"top_1","credits":5}`)}})
	mustView(t, db, func(tx credit.Tx) error {
		if got, err := tx.Account("acme"); err != nil || !reflect.DeepEqual(got, acme) {
			t.Errorf("Account(acme) after a write = %+v, %v; want %+v", got, err, acme)
		}
		if got, err := tx.Topup("top_1"); err != nil || !reflect.DeepEqual(got, top) {
			t.Errorf("Topup(top_1) = %+v, %v; want %+v", got, err, top)
		}
		return nil
	})
	if got := eventIDs(readEvents(t, db, credit.EventQuery{Limit: 10})); !reflect.DeepEqual(got, []string{"evt_1"}) {
		t.Errorf("Events after the upgrade = %v; want [evt_1]", got)
	}
}
