package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// The flows of the change feed (SPEC §9) on a real store: paging by
// cursor, the type and account filters, catalog.published, the events of a
// refused request (none), and two nodes writing while a reader follows
// the feed.
func feedFlows() []flow {
	return []flow{
		{name: "FeedPaging", fn: flowFeedPaging},
		{name: "FeedConcurrentWriters", fn: flowFeedConcurrentWriters},
	}
}

// eventIDs returns the ids of events, in order.
func eventIDs(es []credit.Event) []string {
	var out []string
	for _, x := range es {
		out = append(out, x.ID)
	}
	return out
}

// catalogStore returns the store's CatalogStore (the store under the
// suite's wrappers).
func catalogStore(t testing.TB, s credit.Store) credit.CatalogStore {
	t.Helper()
	cs, ok := unwrap(s).(credit.CatalogStore)
	if !ok {
		t.Fatalf("store %T is not a credit.CatalogStore", unwrap(s))
	}
	return cs
}

// unwrap returns the store under the suite's wrappers.
func unwrap(s credit.Store) credit.Store {
	for {
		switch w := s.(type) {
		case batchOfOne:
			s = w.Store
		case *gatedStore:
			s = w.Store
		default:
			return s
		}
	}
}

// flowFeedPaging: seven events of two accounts and a catalog, read whole,
// in pages of two (the same events in the same order), by type and by
// account; a bad cursor is refused; a refused request adds nothing; the
// head is where the next change's events start.
func flowFeedPaging(t *testing.T, e *env) {
	e.account("a", 0)
	ga := e.topup("a", 10) // grant.created, balance.recovered
	e.clock.Add(time.Second)
	gb := e.topup("a", 5) // grant.created
	e.account("b", 0)
	e.clock.Add(time.Second)
	gc := e.topup("b", 7) // grant.created, balance.recovered
	e.clock.Add(time.Second)
	rec := credit.CatalogRecord{Version: "2026-12-01", EffectiveAt: at("2026-12-01T00:00:00Z"), PublishedAt: e.clock.Now(),
		YAML: []byte("version: \"2026-12-01\"\n"), PublishedBy: "cli:publisher"}
	if err := catalogStore(t, e.store).PublishCatalog(e.ctx, rec); err != nil {
		t.Fatalf("PublishCatalog = %v", err)
	}
	e.clock.Add(time.Second)
	gd := e.topup("a", 1) // grant.created

	all := e.waitFeed(credit.EventQuery{}, 7)
	want := []mEvent{
		ev(credit.EventGrantCreated, "a", ga.ID, t0, "source", "topup", "credits", credit.Whole(10)),
		ev(credit.EventBalanceRecovered, "a", "", t0, "available", credit.Whole(10), "threshold", credit.Credits(0)),
		ev(credit.EventGrantCreated, "a", gb.ID, t0.Add(time.Second), "source", "topup", "credits", credit.Whole(5)),
		ev(credit.EventGrantCreated, "b", gc.ID, t0.Add(2*time.Second), "source", "topup", "credits", credit.Whole(7)),
		ev(credit.EventBalanceRecovered, "b", "", t0.Add(2*time.Second), "available", credit.Whole(7), "threshold", credit.Credits(0)),
		ev(credit.EventCatalogPublished, "", "", t0.Add(3*time.Second), "version", "2026-12-01", "effective_at", at("2026-12-01T00:00:00Z")),
		ev(credit.EventGrantCreated, "a", gd.ID, t0.Add(4*time.Second), "source", "topup", "credits", credit.Whole(1)),
	}
	if d := compareEvents(all, want); len(d) > 0 || len(all) != 7 {
		t.Fatalf("the feed: %d events, differing:\n  %v", len(all), d)
	}
	// Feed order is commit order: the writes were one after the other.
	var order []string
	for _, x := range all {
		if x.Type != credit.EventBalanceRecovered {
			order = append(order, x.Type+" "+x.Account)
		}
	}
	if want := []string{"grant.created a", "grant.created a", "grant.created b", "catalog.published ", "grant.created a"}; !slices.Equal(order, want) {
		t.Errorf("feed order %q; want %q", order, want)
	}
	seen := map[string]bool{}
	for _, x := range all {
		if seen[x.ID] || x.Cursor == "" {
			t.Errorf("event %s (%s): cursor %q, told before %v", x.ID, x.Type, x.Cursor, seen[x.ID])
		}
		seen[x.ID] = true
	}
	// Pages of two: 2, 2, 2, 1, then nothing after the last cursor.
	var paged []credit.Event
	var sizes []int
	q := credit.EventQuery{Limit: 2}
	for {
		page := e.readPage(q)
		sizes = append(sizes, len(page))
		paged = append(paged, page...)
		if len(page) == 0 {
			break
		}
		q.After = page[len(page)-1].Cursor
	}
	if !slices.Equal(eventIDs(paged), eventIDs(all)) || !slices.Equal(sizes, []int{2, 2, 2, 1, 0}) {
		t.Errorf("paged by 2: pages of %v, %v; want pages of [2 2 2 1 0], %v", sizes, eventIDs(paged), eventIDs(all))
	}
	for i := range all {
		if i < len(paged) && string(paged[i].Data) != string(all[i].Data) {
			t.Errorf("event %s paged: data %s; read whole %s", all[i].ID, paged[i].Data, all[i].Data)
		}
	}
	// From the middle: after the third event, the last four.
	if got := e.readFeed(credit.EventQuery{After: all[2].Cursor}); !slices.Equal(eventIDs(got), eventIDs(all[3:])) {
		t.Errorf("after the third event: %v; want %v", eventIDs(got), eventIDs(all[3:]))
	}
	// Filters.
	pick := func(keep func(credit.Event) bool) []string {
		var out []string
		for _, x := range all {
			if keep(x) {
				out = append(out, x.ID)
			}
		}
		return out
	}
	for _, c := range []struct {
		what string
		q    credit.EventQuery
		want []string
	}{
		{"grant.created", credit.EventQuery{Types: []string{credit.EventGrantCreated}}, pick(func(x credit.Event) bool { return x.Type == credit.EventGrantCreated })},
		{"recovered and published", credit.EventQuery{Types: []string{credit.EventBalanceRecovered, credit.EventCatalogPublished}},
			pick(func(x credit.Event) bool { return x.Type != credit.EventGrantCreated })},
		{"account b", credit.EventQuery{Account: "b"}, pick(func(x credit.Event) bool { return x.Account == "b" })},
		{"account a, grant.created, by 1", credit.EventQuery{Account: "a", Types: []string{credit.EventGrantCreated}, Limit: 1},
			[]string{ga.ID, gb.ID, gd.ID}},
		{"no such type", credit.EventQuery{Types: []string{credit.EventTopupCanceled}}, nil},
		{"account b after its first", credit.EventQuery{Account: "b", After: all[3].Cursor}, []string{all[4].ID}},
	} {
		got := e.readFeed(c.q)
		ids := eventIDs(got)
		if c.what == "account a, grant.created, by 1" {
			ids = nil
			for _, x := range got {
				se, _ := storeEvent(x)
				ids = append(ids, se.subject)
			}
		}
		if !slices.Equal(ids, c.want) {
			t.Errorf("Events(%s) = %v; want %v", c.what, ids, c.want)
		}
	}
	if x := all[5]; x.Account != "" || !x.Time.Equal(rec.PublishedAt) {
		t.Errorf("catalog.published: account %q, time %s; want none, %s", x.Account, timeText(x.Time), timeText(rec.PublishedAt))
	}
	// Cursors that are not the store's.
	for _, bad := range []string{"bogus", "-1", "1.5", "9999999999999999999999", "x-1", "a b"} {
		err := e.store.View(e.ctx, func(tx credit.Tx) error {
			r, err := credit.Events(tx)
			if err != nil {
				return err
			}
			_, err = r.Events(credit.EventQuery{After: bad, Limit: 10})
			return err
		})
		wantErr(t, fmt.Sprintf("Events(after %q)", bad), err, credit.Invalid, "invalid_cursor")
	}
	_, err := e.ledger.Events(e.ctx, credit.EventQuery{After: "bogus", Limit: 10})
	wantErr(t, "Ledger.Events(after bogus)", err, credit.Invalid, "invalid_cursor")
	// A refused request tells nothing.
	_, err = e.ledger.CreateHold(e.ctx, nil, "a", credit.HoldSpec{Credits: credit.Whole(1000)})
	wantErr(t, "a hold of 1000", err, credit.InsufficientCredits, "insufficient_credits")
	_, err = e.ledger.CreateGeneration(e.ctx, nil, credit.GenerationSpec{Account: "b", Request: images(banana2K, 4)})
	wantErr(t, "a generation of 294", err, credit.InsufficientCredits, "insufficient_credits")
	// The head: what commits from now on comes after it, nothing before.
	var head string
	err = e.store.View(e.ctx, func(tx credit.Tx) error {
		r, err := credit.Events(tx)
		if err != nil {
			return err
		}
		head, err = r.EventsHead()
		return err
	})
	if err != nil {
		t.Fatalf("EventsHead = %v", err)
	}
	e.clock.Add(time.Second)
	ge := e.topup("b", 2)
	// (A PostgreSQL head may come before events of transactions that
	// committed while older ones ran: those are told after it too. So the
	// events after it are a suffix of the feed, with the new one.)
	var fresh []credit.Event
	for _, x := range e.waitFeed(credit.EventQuery{After: head}, 1) {
		if !seen[x.ID] {
			fresh = append(fresh, x)
		}
	}
	if d := compareEvents(fresh, []mEvent{ev(credit.EventGrantCreated, "b", ge.ID, t0.Add(5*time.Second), "source", "topup", "credits", credit.Whole(2))}); len(d) > 0 {
		t.Errorf("after the head:\n  %v", d)
	}
	whole := e.readFeed(credit.EventQuery{})
	if len(whole) != 8 {
		t.Errorf("the feed has %d events; want 8 (the refused requests told nothing)", len(whole))
	}
	if afterHead := e.readFeed(credit.EventQuery{After: head}); len(afterHead) > len(whole) || !slices.Equal(eventIDs(afterHead), eventIDs(whole[len(whole)-len(afterHead):])) {
		t.Errorf("the events after the head %v are not the feed's last ones %v", eventIDs(afterHead), eventIDs(whole))
	}
	// The snapshot has them, in feed order.
	if got := eventIDs(e.snapshot().Events); !slices.Equal(got, eventIDs(e.readFeed(credit.EventQuery{}))) {
		t.Errorf("Snapshot().Events = %v; want the feed's", got)
	}
}

// readPage reads one page of the feed.
func (e *env) readPage(q credit.EventQuery) []credit.Event {
	e.t.Helper()
	var page []credit.Event
	err := e.store.View(e.ctx, func(tx credit.Tx) error {
		r, err := credit.Events(tx)
		if err != nil {
			return err
		}
		page, err = r.Events(q)
		return err
	})
	if err != nil {
		e.t.Fatalf("Events(%+v) = %v", q, err)
	}
	return page
}

// flowFeedConcurrentWriters: two nodes grant 10 times on each of four
// accounts at once while a reader follows the feed in pages of 7: it reads
// every event exactly once — each grant's grant.created, and each
// account's first balance.recovered — and never one again.
func flowFeedConcurrentWriters(t *testing.T, e *env) {
	accounts := []string{"w0", "w1", "w2", "w3"}
	for _, a := range accounts {
		e.account(a, 0)
	}
	node2 := credit.NewLedger(e.store, credit.LedgerConfig{Now: e.clock.Now, Catalog: func() *credit.Catalog { return seedCatalog() }})
	nodes := []*credit.Ledger{e.ledger, node2}
	const perNode = 10
	want := len(accounts) * (2*perNode + 1)

	var mu sync.Mutex
	granted := map[string]bool{}
	read := map[string]int{}
	var order []credit.Event
	readerDone := make(chan struct{})
	start := make(chan struct{})
	go func() {
		defer close(readerDone)
		<-start
		cursor := ""
		deadline := time.Now().Add(60 * time.Second)
		for len(order) < want && time.Now().Before(deadline) {
			var page []credit.Event
			err := e.store.View(e.ctx, func(tx credit.Tx) error {
				r, err := credit.Events(tx)
				if err != nil {
					return err
				}
				page, err = r.Events(credit.EventQuery{After: cursor, Limit: 7})
				return err
			})
			if err != nil {
				t.Errorf("Events(after %q) = %v", cursor, err)
				return
			}
			for _, x := range page {
				read[x.ID]++
				order = append(order, x)
			}
			if len(page) > 0 {
				cursor = page[len(page)-1].Cursor
			} else {
				time.Sleep(time.Millisecond)
			}
		}
	}()
	var wg sync.WaitGroup
	for n, l := range nodes {
		for _, a := range accounts {
			wg.Go(func() {
				<-start
				for i := range perNode {
					g, err := l.AddGrant(e.ctx, nil, a, credit.GrantSpec{Credits: credit.Whole(int64(1 + i)), Source: credit.SourcePromo, Memo: fmt.Sprintf("node %d", n)})
					if err != nil {
						t.Errorf("AddGrant(%s) = %v", a, err)
						return
					}
					mu.Lock()
					granted[g.ID] = true
					mu.Unlock()
				}
			})
		}
	}
	close(start)
	wg.Wait()
	<-readerDone
	if len(order) != want {
		t.Fatalf("the reader read %d events; want %d (%d grants, one recovery an account)", len(order), want, len(granted))
	}
	recovered := map[string]int{}
	for _, x := range order {
		if read[x.ID] != 1 {
			t.Errorf("event %s (%s of %s) read %d times", x.ID, x.Type, x.Account, read[x.ID])
		}
		se, err := storeEvent(x)
		if err != nil {
			t.Fatal(err)
		}
		switch x.Type {
		case credit.EventGrantCreated:
			if !granted[se.subject] {
				t.Errorf("grant.created of %s: not a grant of the race", se.subject)
			}
			delete(granted, se.subject)
		case credit.EventBalanceRecovered:
			recovered[x.Account]++
		default:
			t.Errorf("event %s: %s; want grant.created or balance.recovered", x.ID, x.Type)
		}
	}
	if len(granted) > 0 {
		t.Errorf("grants never told: %v", granted)
	}
	for _, a := range accounts {
		if recovered[a] != 1 {
			t.Errorf("%s recovered %d times; want once (its first grant)", a, recovered[a])
		}
	}
	// Read again whole: the same events in the same order.
	if again := e.readFeed(credit.EventQuery{}); !slices.Equal(eventIDs(again), eventIDs(order)) {
		t.Errorf("the feed read again: %d events %v; the reader's %d %v", len(again), eventIDs(again), len(order), eventIDs(order))
	}
}
