package console_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/console"
	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/httpapi"
	"github.com/tally-credits/tally/internal/sqlite"
)

// The change feed and the webhook deliveries in a real Chromium. The
// ledger is written in this order, and the events each write makes are
// worked out by hand from the event rules (the first matching the README's
// table; Nano Banana 2 at 2K is 73.5 an image, the studio page):
//
//	publish the catalog                      1 catalog.published
//	register a webhook for "*"               (its deliveries start after 1)
//	open ev_a; alert below 100               none (0 → 0 crosses nothing)
//	grant ev_a 200 (topup)                   2 grant.created, 3 balance.recovered (0 < 100 ≤ 200)
//	Nano Banana 2, 2K, 1 image               4 generation.created (73.5 held; 200 → 126.5)
//	… delivered                              5 generation.completed (charged 73.5)
//	Nano Banana 2, 2K, 1 image               6 generation.created, 7 balance.low (126.5 ≥ 100 > 53)
//	auto top-up 500 below 60, cap 1000       8 topup.requested (53 < 60, the setting changed)
//	open ev_b; grant ev_b 50 (promo)         9 grant.created, 10 balance.recovered (no threshold: 0 → 50)
//
// The deliveries are made and attempted through the store, as the
// dispatcher would: events 2 to 10 (9 deliveries); ev_a's
// generation.completed answered 500 (pending, tried again later), its
// balance.low never answered (failed), every other one answered 200.

// eventsStudio is a running tally with the feed above.
type eventsStudio struct {
	studio
	Webhook credit.Webhook
	Store   credit.WebhookStore
}

// feed is the hand-worked feed: type and account of events 1 to 10.
var feed = []struct{ typ, account string }{
	{"catalog.published", ""},
	{"grant.created", "ev_a"},
	{"balance.recovered", "ev_a"},
	{"generation.created", "ev_a"},
	{"generation.completed", "ev_a"},
	{"generation.created", "ev_a"},
	{"balance.low", "ev_a"},
	{"topup.requested", "ev_a"},
	{"grant.created", "ev_b"},
	{"balance.recovered", "ev_b"},
}

const hookURL = "http://127.0.0.1:9/tally-hook"

func startEventsStudio(t *testing.T) *eventsStudio {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "tally.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cat, err := catalog.Parse(catalog.DefaultYAML())
	if err != nil {
		t.Fatal(err)
	}
	if err := db.PublishCatalog(ctx, credit.CatalogRecord{Version: cat.Version, EffectiveAt: cat.EffectiveAt, PublishedAt: time.Now().UTC(), YAML: catalog.DefaultYAML()}); err != nil {
		t.Fatal(err)
	}
	var srv *httpapi.Server
	ui := console.New(console.Config{Catalog: func() *credit.Catalog { return srv.Catalog() }, Version: "test"})
	srv = httpapi.NewServer(httpapi.Config{Catalog: cat, AdminKey: browserAdminKey, Version: "test", Console: ui})
	ledger := credit.NewLedger(db, credit.LedgerConfig{Catalog: srv.Catalog})
	srv.SetLedger(ledger)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)

	hook, err := ledger.CreateWebhook(ctx, credit.WebhookSpec{URL: hookURL, Events: []string{"*"}, Description: "browser test"})
	if err != nil {
		t.Fatal(err)
	}
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(ledger.CreateAccount(ctx, nil, "ev_a", 0))
	must(ledger.SetAlerts(ctx, nil, "ev_a", credit.Whole(100)))
	must(ledger.AddGrant(ctx, nil, "ev_a", credit.GrantSpec{Credits: credit.Whole(200), Source: credit.SourceTopup}))
	nano := credit.GenerationSpec{Account: "ev_a", Request: credit.QuoteRequest{Model: "nano-banana-2", Resolution: "2K", AspectRatio: "1:1", Images: 1}}
	g, err := ledger.CreateGeneration(ctx, nil, nano)
	if err != nil {
		t.Fatal(err)
	}
	must(ledger.CompleteGeneration(ctx, nil, g.ID, 1))
	must(ledger.CreateGeneration(ctx, nil, nano))
	must(ledger.SetAutoTopup(ctx, nil, "ev_a", credit.AutoTopup{Threshold: credit.Whole(60), Amount: credit.Whole(500), MonthlyCap: credit.Whole(1000)}))
	must(ledger.CreateAccount(ctx, nil, "ev_b", 0))
	must(ledger.AddGrant(ctx, nil, "ev_b", credit.GrantSpec{Credits: credit.Whole(50), Source: credit.SourcePromo}))

	// The deliveries, made and attempted as the dispatcher would.
	var ws credit.WebhookStore = db
	now := time.Now().UTC()
	made, err := ws.ScheduleDeliveries(ctx, now, 100)
	if err != nil {
		t.Fatal(err)
	}
	if made != 9 {
		t.Fatalf("ScheduleDeliveries made %d deliveries; want 9 (events 2 to 10)", made)
	}
	claims, err := ws.ClaimDeliveries(ctx, now, now.Add(time.Minute), 100)
	if err != nil {
		t.Fatal(err)
	}
	if len(claims) != 9 {
		t.Fatalf("ClaimDeliveries claimed %d deliveries; want 9", len(claims))
	}
	at := now.Add(time.Second)
	for _, c := range claims {
		a := credit.Attempt{Delivery: c.Delivery.ID, Webhook: c.Delivery.Webhook, At: at, Status: 200, Outcome: credit.DeliveryDelivered}
		switch {
		case c.Event.Account == "ev_a" && c.Event.Type == credit.EventGenerationCompleted:
			a.Status, a.Outcome, a.NextAt = 500, credit.DeliveryPending, at.Add(30*time.Second)
		case c.Event.Account == "ev_a" && c.Event.Type == credit.EventBalanceLow:
			a.Status, a.Error, a.Outcome = 0, "connection refused", credit.DeliveryFailed
		}
		if err := ws.FinishAttempt(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	_, key, err := ledger.CreateKey(ctx, credit.KeySpec{Scope: credit.ScopeAccount, Account: "ev_a", Name: "browser test"})
	if err != nil {
		t.Fatal(err)
	}
	return &eventsStudio{studio: studio{URL: ts.URL, Ledger: ledger, AccountKey: key}, Webhook: hook, Store: ws}
}

// eventRow is one row of the Events table as the page shows it.
type eventRow struct{ Type, Account, Summary, Href string }

func (p *tab) eventRows() []eventRow {
	p.t.Helper()
	v, _ := p.eval(`Array.from(document.querySelectorAll("#events tbody tr[data-event]"), r => {
		const a = r.querySelector('td[data-label="Account"] a');
		return [r.querySelector('th[data-label="Type"]').innerText.trim(), a ? a.innerText.trim() : "",
			r.querySelector(".summary").innerText.trim(), a ? a.getAttribute("href") : ""];
	})`).([]any)
	out := make([]eventRow, len(v))
	for i, x := range v {
		f, _ := x.([]any)
		s := make([]string, 4)
		for j := range s {
			if j < len(f) {
				s[j], _ = f[j].(string)
			}
		}
		out[i] = eventRow{s[0], s[1], s[2], s[3]}
	}
	return out
}

// waitFeed waits until the table shows the events of feed numbered want
// (1-based), in that order.
func (p *tab) waitFeed(what string, want ...int) []eventRow {
	p.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := p.eventRows()
		ok := len(got) == len(want)
		for i := 0; ok && i < len(want); i++ {
			e := feed[want[i]-1]
			ok = got[i].Type == e.typ && got[i].Account == e.account
		}
		if ok {
			return got
		}
		if time.Now().After(deadline) {
			p.shot("failed-" + strings.ReplaceAll(what, " ", "-"))
			var w []string
			for _, n := range want {
				w = append(w, fmt.Sprintf("%d %s %s", n, feed[n-1].typ, feed[n-1].account))
			}
			p.t.Fatalf("%s: %s: the table shows %q; want events %q", p.name, what, got, w)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// deliveryRow is the Webhook deliveries row of the delivery of ev_a's only
// event of type typ, by cell label.
func (p *tab) deliveryRow(typ string) map[string]string {
	p.t.Helper()
	v, _ := p.eval(`(() => {
		const rows = Array.from(document.querySelectorAll("#deliveries tbody tr[data-delivery]")).filter(r => r.querySelector(".badge").textContent === ` + fmt.Sprintf("%q", typ) + `);
		if (rows.length !== 1) return {rows: String(rows.length)};
		const out = {};
		for (const c of rows[0].cells) out[c.dataset.label] = c.innerText.trim();
		return out;
	})()`).(map[string]any)
	out := map[string]string{}
	for k, x := range v {
		out[k], _ = x.(string)
	}
	return out
}

// feedRequests returns the tab's requests of GET /v1/events made since
// the nth request of the browser, and how many requests it has made.
func (b *browserSession) feedRequests(tab string, since int) ([]string, int) {
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []string
	for _, r := range b.requests[min(since, len(b.requests)):] {
		if strings.HasPrefix(r, tab+" ") && strings.Contains(r, "/v1/events?") {
			out = append(out, r)
		}
	}
	return out, len(b.requests)
}

func TestBrowserEvents(t *testing.T) {
	exe := chromium(t)
	s := startEventsStudio(t)
	b := newBrowser(t, exe)
	p := b.tab("events", 1280, 900)
	p.base = s.URL
	p.t = t
	p.login(browserAdminKey, "/events")

	t.Run("Feed", func(t *testing.T) {
		p.t = t
		p.open("/events")
		if got := p.text(`.nav a[aria-current="page"]`); got != "Events" {
			t.Errorf("the current nav link is %q; want Events", got)
		}
		rows := p.waitFeed("the whole feed", 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
		// What each row says of its data, worked out from the writes above.
		for i, want := range map[int][]string{
			0: {"version 2026-", " · effective "},
			1: {"grant grt_", " · topup · 200 credits"},
			2: {"available 200 · alert threshold 100"},
			3: {"generation gen_", " · Nano Banana 2 · 1 image · 73.5 held"},
			4: {"generation gen_", " · Nano Banana 2 · 1 image delivered · charged 73.5"},
			5: {" · Nano Banana 2 · 1 image · 73.5 held"},
			6: {"available 53 · alert threshold 100"},
			7: {"top-up top_", " · 500 credits"},
			8: {"grant grt_", " · promo · 50 credits"},
		} {
			for _, w := range want {
				if !strings.Contains(rows[i].Summary, w) {
					t.Errorf("event %d (%s) says %q; want %q in it", i+1, rows[i].Type, rows[i].Summary, w)
				}
			}
		}
		if got := rows[9].Summary; got != "available 50" {
			t.Errorf("event 10 (balance.recovered of ev_b, no threshold) says %q; want \"available 50\"", got)
		}
		if rows[1].Href != "/accounts/ev_a" || rows[8].Href != "/accounts/ev_b" {
			t.Errorf("account links are %q and %q; want /accounts/ev_a and /accounts/ev_b", rows[1].Href, rows[8].Href)
		}
		if got := p.text(`#events tbody tr:first-child td[data-label="Account"]`); got != "none" {
			t.Errorf("catalog.published's account shows %q; want none", got)
		}
		// The four generation events are ev_a's: the raw JSON has its data.
		raw := p.eval(`document.querySelector('#events tbody tr[data-type="generation.completed"] details pre').textContent`)
		if s, _ := raw.(string); !strings.Contains(s, `"charged_credits": 73.5`) || !strings.Contains(s, `"images_delivered": 1`) {
			t.Errorf("generation.completed's JSON = %v; want charged_credits 73.5 and images_delivered 1", raw)
		}
		p.waitEqual("#events-status", "10 events · back to the first")
		if d := p.eval(`document.getElementById("events-older").disabled`); d != true {
			t.Error("Load older is offered with the whole feed, back to the first event, shown")
		}
		p.shot("events")
	})

	t.Run("FilterByType", func(t *testing.T) {
		p.t = t
		p.open("/events")
		p.waitFeed("the whole feed", 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
		p.choose("#events-type", "balance.recovered")
		p.waitFeed("balance.recovered", 3, 10)
		if got := p.eval(`location.search`); got != "?type=balance.recovered" {
			t.Errorf("the address keeps the filter as %v; want ?type=balance.recovered", got)
		}
		p.choose("#events-type", "generation.created")
		p.waitFeed("generation.created", 4, 6)
		p.choose("#events-type", "member.limit_reached")
		p.waitContains("#events tbody", "No events of type member.limit_reached yet.")
		p.waitCount("#events tbody tr[data-event]", 0)
	})

	t.Run("FilterByAccount", func(t *testing.T) {
		p.t = t
		p.open("/events?account=ev_b")
		if got := p.eval(`document.getElementById("events-account").value`); got != "ev_b" {
			t.Errorf("the account filter shows %v; want ev_b from the address", got)
		}
		p.waitFeed("ev_b", 9, 10)
		p.do(chromedp.SetValue(chromedp.CSS("#events-account"), "ev_a"))
		p.click(`#events-filter button[type="submit"]`)
		p.waitFeed("ev_a", 2, 3, 4, 5, 6, 7, 8)
		// Both filters: ev_a's balance.low only.
		p.choose("#events-type", "balance.low")
		p.waitFeed("ev_a and balance.low", 7)
		if got := p.eval(`location.search`); got != "?account=ev_a&type=balance.low" {
			t.Errorf("the address keeps the filters as %v", got)
		}
		// ev_b has no top-up.
		p.do(chromedp.SetValue(chromedp.CSS("#events-account"), "ev_b"))
		p.choose("#events-type", "topup.requested")
		p.waitContains("#events tbody", "No events of type topup.requested of account ev_b yet.")
		p.click("#events-clear")
		p.waitFeed("cleared", 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
	})

	t.Run("LoadOlder", func(t *testing.T) {
		p.t = t
		_, mark := b.feedRequests("events", 0)
		p.open("/events?limit=4")
		// It opens on the newest page, asked for as before=end.
		p.waitFeed("the newest page", 7, 8, 9, 10)
		p.waitEqual("#events-status", "4 events")
		if reqs, _ := b.feedRequests("events", mark); len(reqs) != 1 || !strings.Contains(reqs[0], "before=end") || strings.Contains(reqs[0], "after=") {
			t.Errorf("the page opened with the requests %q; want one, before=end", reqs)
		}
		p.click("#events-older")
		p.waitFeed("pages 2 and 1", 3, 4, 5, 6, 7, 8, 9, 10)
		p.waitEqual("#events-status", "8 events")
		p.click("#events-older")
		// A short page (2 of 4) is the first: the oldest is reached.
		p.waitFeed("pages 3 to 1", 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
		p.waitEqual("#events-status", "10 events · back to the first")
		if d := p.eval(`document.getElementById("events-older").disabled`); d != true {
			t.Error("Load older is offered once the first event shows")
		}
		// The pages were read back from the end, each before the last.
		reqs, _ := b.feedRequests("events", mark)
		if len(reqs) != 3 || !strings.Contains(reqs[1], "before=") || strings.Contains(reqs[1], "before=end") || !strings.Contains(reqs[2], "before=") {
			t.Errorf("the pages were read with %q; want before=end, then before= the oldest row's cursor twice", reqs)
		}

		// A page of 5 on the feed of 10: the second is full, so Load older
		// is offered again, and the empty third page ends it.
		p.open("/events?limit=5")
		p.waitFeed("the newest 5", 6, 7, 8, 9, 10)
		p.click("#events-older")
		p.waitFeed("both pages of 5", 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
		p.waitEqual("#events-status", "10 events")
		p.click("#events-older")
		p.waitEqual("#events-status", "10 events · back to the first")
		p.waitFeed("both pages of 5 and an empty one", 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)

		// A filter pages back too: ev_a's 7 events are 4, then 3.
		p.open("/events?limit=4")
		p.waitFeed("the newest page", 7, 8, 9, 10)
		p.do(chromedp.SetValue(chromedp.CSS("#events-account"), "ev_a"))
		p.click(`#events-filter button[type="submit"]`)
		p.waitFeed("ev_a's newest page", 5, 6, 7, 8)
		p.click("#events-older")
		p.waitFeed("ev_a's pages 2 and 1", 2, 3, 4, 5, 6, 7, 8)
		p.waitEqual("#events-status", "7 events · back to the first")
	})

	t.Run("Live", func(t *testing.T) {
		p.t = t
		p.open("/events?limit=4")
		p.waitFeed("the newest page", 7, 8, 9, 10)
		p.eval(`window.sameDocument = true`)
		polls := func() []string {
			b.mu.Lock()
			defer b.mu.Unlock()
			var out []string
			for _, r := range b.requests {
				if strings.HasPrefix(r, "events ") && strings.Contains(r, "/v1/events?") && strings.Contains(r, "wait=25s") {
					out = append(out, r)
				}
			}
			return out
		}
		before := len(polls())
		p.click("#events-live")
		p.waitContains("#events-status", "live")
		// Write once the page is waiting on the feed: the long poll
		// answers it, the page appends it.
		for deadline := time.Now().Add(5 * time.Second); len(polls()) == before; time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("Live sent no long poll (wait=25s)")
			}
		}
		// Live reads after the newest row, the page's next_cursor: the
		// SQLite feed's 10th event is seq 10.
		if first := polls()[before]; !strings.Contains(first, "after=10&") || strings.Contains(first, "before=") {
			t.Errorf("Live's first poll is %s; want after=10 (the newest row's cursor)", first)
		}
		// Load older works while Live waits, above the rows.
		if d := p.eval(`document.getElementById("events-older").disabled`); d != false {
			t.Error("Load older is not offered while Live reads the feed")
		}
		p.click("#events-older")
		p.waitFeed("pages 2 and 1 while live", 3, 4, 5, 6, 7, 8, 9, 10)
		time.Sleep(100 * time.Millisecond)
		written := time.Now()
		if _, err := s.Ledger.AddGrant(context.Background(), nil, "ev_b", credit.GrantSpec{Credits: credit.Whole(25), Source: credit.SourcePromo}); err != nil {
			t.Fatal(err)
		}
		p.waitCount("#events tbody tr[data-event]", 9)
		if took := time.Since(written); took > 5*time.Second {
			t.Errorf("the event took %v to show; want it at once, not at the poll's end", took)
		}
		rows := p.eventRows()
		last := rows[len(rows)-1]
		// 50 + 25: ev_b had credits, so no balance.recovered.
		if last.Type != "grant.created" || last.Account != "ev_b" || !strings.Contains(last.Summary, " · promo · 25 credits") {
			t.Errorf("the event written after the page opened shows as %q; want grant.created of ev_b, promo, 25 credits, at the bottom", last)
		}
		if rows[0].Type != feed[2].typ || rows[0].Account != feed[2].account {
			t.Errorf("the first row is %q; want event 3 still at the top", rows[0])
		}
		p.waitContains("#events-status", "9 events")
		if same := p.eval(`window.sameDocument === true`); same != true {
			t.Error("the page reloaded to show the new event")
		}
		p.shot("events-live")
		// Off: the long poll is dropped; Load older reaches the first.
		p.click("#events-live")
		p.waitEqual("#events-status", "9 events")
		p.click("#events-older")
		p.waitCount("#events tbody tr[data-event]", 11)
		p.waitEqual("#events-status", "11 events · back to the first")
		// Opened again: the newest page has the event written.
		p.open("/events")
		p.waitCount("#events tbody tr[data-event]", 11)
		if rows := p.eventRows(); rows[10].Type != "grant.created" || rows[10].Account != "ev_b" {
			t.Errorf("the newest row on opening again is %q; want the grant.created of ev_b written under Live", rows[10])
		}
	})

	t.Run("AccountPage", func(t *testing.T) {
		p.t = t
		p.open("/accounts/ev_a")
		// 200 − 73.5 charged − 73.5 held.
		p.waitEqual("#a-available", "53")
		p.waitContains("#a-low", "Below 100 credits")
		p.waitContains("#a-auto", "500 credits when the balance falls below 60", "at most 1,000 credits a month")
		p.waitContains("#a-pending", "500 credits, requested", "top_", "awaiting confirmation")
		p.waitCount("#topups tbody tr", 1)
		p.waitContains("#topups tbody", "500", "pending")

		p.waitEqual("#deliveries-h", "Webhook deliveries")
		p.waitCount("#deliveries tbody tr[data-delivery]", 7) // events 2 to 8
		var types []string
		for _, x := range p.eval(`Array.from(document.querySelectorAll("#deliveries tbody tr th .badge"), e => e.textContent)`).([]any) {
			types = append(types, x.(string))
		}
		slices.Sort(types)
		want := []string{"balance.low", "balance.recovered", "generation.completed", "generation.created", "generation.created", "grant.created", "topup.requested"}
		if !slices.Equal(types, want) {
			t.Errorf("the deliveries are of %q; want %q", types, want)
		}
		for typ, cells := range map[string]map[string]string{
			"grant.created":        {"Status": "delivered", "Attempts": "1", "Last attempt": "HTTP 200"},
			"generation.completed": {"Status": "pending", "Attempts": "1", "Last attempt": "HTTP 500"},
			"balance.low":          {"Status": "failed", "Attempts": "1", "Last attempt": "no answer: connection refused"},
			"topup.requested":      {"Status": "delivered", "Attempts": "1", "Last attempt": "HTTP 200"},
		} {
			row := p.deliveryRow(typ)
			for col, w := range cells {
				if !strings.HasPrefix(row[col], w) {
					t.Errorf("the delivery of %s: %s = %q; want it to start with %q (row %q)", typ, col, row[col], w, row)
				}
			}
			if !strings.Contains(row["Endpoint"], hookURL) || !strings.Contains(row["Endpoint"], s.Webhook.ID) {
				t.Errorf("the delivery of %s: Endpoint = %q; want %s (%s)", typ, row["Endpoint"], hookURL, s.Webhook.ID)
			}
		}
		if row := p.deliveryRow("generation.completed"); !strings.Contains(row["Status"], "next attempt") {
			t.Errorf("the pending delivery does not say when it is tried again: %q", row["Status"])
		}
		if d := p.eval(`document.getElementById("deliveries-older").disabled`); d != true {
			t.Error("Older is offered on the only page of 7 deliveries")
		}
		p.shot("account-events")

		// ev_b: no alert, no auto top-up, 2 deliveries (events 9, 10).
		p.open("/accounts/ev_b")
		p.waitEqual("#a-available", "75") // 50 + 25 (Live)
		p.waitContains("#a-low", "Off")
		p.waitEqual("#a-auto", "Off")
		p.waitCount("#deliveries tbody tr[data-delivery]", 2)
		if hidden := p.eval(`document.getElementById("a-pending-box").hidden && document.getElementById("topups-block").hidden`); hidden != true {
			t.Error("ev_b, which never asked for a top-up, shows one")
		}
	})

	t.Run("AccountKey", func(t *testing.T) {
		q := b.tab("events-account-key", 1280, 900)
		q.t = t
		q.base = s.URL
		q.login(s.AccountKey, "/events")
		q.open("/events")
		q.waitContains("#events-msg", "read with an admin key", "This key reads account ev_a only")
		if hidden := q.eval(`document.getElementById("events-body").hidden`); hidden != true {
			t.Error("the Events table shows to an account key")
		}
		q.waitCount("#events tbody tr", 0)
		// Its own account page: the settings and the top-up it asked for,
		// but not the deliveries.
		q.open("/accounts/ev_a")
		q.waitEqual("#a-available", "53")
		q.waitContains("#a-auto", "500 credits when the balance falls below 60")
		q.waitContains("#a-pending", "500 credits, requested")
		q.waitContains("#entries tbody", "Grant")
		if hidden := q.eval(`document.getElementById("deliveries-block").hidden`); hidden != true {
			t.Error("the webhook deliveries show to an account key")
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, r := range b.requests {
			if strings.HasPrefix(r, "events-account-key ") && (strings.Contains(r, "/v1/events") || strings.Contains(r, "/deliveries") ||
				strings.Contains(r, "/v1/webhooks")) {
				t.Errorf("the console asked the API with an account key: %s", r)
			}
		}
	})

	t.Run("Narrow", func(t *testing.T) {
		m := b.tab("events-mobile", 375, 800)
		m.t = t
		m.base = s.URL
		m.login(browserAdminKey, "/events")
		m.open("/events")
		m.waitContains("#events-status", "back to the first")
		if n, _ := m.eval(`document.querySelectorAll("#events tbody tr[data-event]").length`).(float64); n < 10 {
			t.Errorf("/events at 375 px shows %v events; want the 10 of the feed (11 after Live)", n)
		}
		if w, _ := m.eval(`document.documentElement.scrollWidth`).(float64); w > 375 {
			t.Errorf("/events at 375 px: scrollWidth = %v; want no horizontal scroll", w)
		}
		m.shot("events")
		m.open("/accounts/ev_a")
		m.waitCount("#deliveries tbody tr[data-delivery]", 7)
		m.waitContains("#a-pending", "500 credits")
		if w, _ := m.eval(`document.documentElement.scrollWidth`).(float64); w > 375 {
			t.Errorf("/accounts/ev_a at 375 px: scrollWidth = %v; want no horizontal scroll", w)
		}
		m.shot("account-events")
	})
}
