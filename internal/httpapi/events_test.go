package httpapi_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/httpapi"
)

// eachStoreLedger is eachStore with more of the ledger's configuration set
// by ledger.
func eachStoreLedger(t *testing.T, ledger func(*credit.LedgerConfig), f func(t *testing.T, e *Env)) {
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			f(t, mustEnv(t, s.open(t), httpapi.Config{Catalog: catalog.Default()}, &Clock{now: start}, ledger))
		})
	}
}

// feedEvent is an event as GET /v1/events answers it.
type feedEvent struct {
	ID      string         `json:"id"`
	Type    string         `json:"type"`
	Time    time.Time      `json:"time"`
	Account string         `json:"account"`
	Data    map[string]any `json:"data"`
}

// feedPage is GET /v1/events's answer.
type feedPage struct {
	Events     []feedEvent `json:"events"`
	NextCursor string      `json:"next_cursor"`
	PrevCursor *string     `json:"prev_cursor"` // nil: absent
}

// readFeed reads GET /v1/events?query with key, which must answer 200.
func readFeed(t *testing.T, e *Env, key, query string) feedPage {
	t.Helper()
	r := e.Do(http.MethodGet, "/v1/events?"+query, key, "")
	if r.status != http.StatusOK {
		t.Fatalf("GET /v1/events?%s: %d %s", query, r.status, truncate(r.body))
	}
	return decodeFeed(t, r.body)
}

func decodeFeed(t *testing.T, body []byte) feedPage {
	t.Helper()
	var p feedPage
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.UseNumber()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("GET /v1/events: %v\n%s", err, body)
	}
	return p
}

// caughtUp waits until the feed answers every event committed so far.
// SQLite answers them at once; PostgreSQL answers an event only once every
// transaction older than its own has ended, in any database of the server,
// so under load (other tests' migrations) it lags a little.
func caughtUp(t *testing.T, e *Env) {
	t.Helper()
	snap, err := credit.ReadSnapshot(t.Context(), e.Ledger.Store())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	seen, after := 0, ""
	for seen < len(snap.Events) {
		if time.Now().After(deadline) {
			t.Fatalf("the feed answered %d of the %d events committed within a minute", seen, len(snap.Events))
		}
		p := readFeed(t, e, adminKey, "limit=1000&wait=2s&after="+url.QueryEscape(after))
		seen, after = seen+len(p.Events), p.NextCursor
	}
}

// types lists the events' types.
func types(evs []feedEvent) []string {
	out := []string{}
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

// wantData fails unless ev's data has exactly these fields (JSON numbers as
// their text).
func wantData(t *testing.T, ev feedEvent, want map[string]string) {
	t.Helper()
	got := map[string]string{}
	for k, v := range ev.Data {
		switch v := v.(type) {
		case json.Number:
			got[k] = v.String()
		case string:
			got[k] = v
		default:
			got[k] = "?"
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s data = %v; want %v", ev.Type, got, want)
	}
}

// TestEvents reads the change feed on both stores: the events of a grant
// and a generation's life with their data, paged by cursor and filtered by
// type and account; a long poll that a write wakes; refusals that write
// nothing; and who may read it.
func TestEvents(t *testing.T) {
	eachStore(t, func(t *testing.T, e *Env) {
		e.Account("alice", "", "100")
		e.Account("bob", "", "")
		gen := e.Generation(`{"account":"alice","model":"flux-dev"}`) // 5 held
		e.Want(e.Do(http.MethodPost, "/v1/generations/"+gen+"/complete", adminKey, `{"images_delivered":1}`), http.StatusOK, "complete")
		e.Want(e.Do(http.MethodPost, "/v1/accounts/bob/grants", adminKey, `{"credits":7,"source":"promo"}`), http.StatusCreated, "grant bob")

		caughtUp(t, e)
		all := readFeed(t, e, adminKey, "")
		// Opening an account tells nothing; the first grant makes a
		// balance that was 0 positive (recovered, with no threshold).
		want := []string{"grant.created", "balance.recovered", "generation.created", "generation.completed", "grant.created", "balance.recovered"}
		if got := types(all.Events); !reflect.DeepEqual(got, want) {
			t.Fatalf("the feed = %v; want %v", got, want)
		}
		if all.NextCursor == "" {
			t.Error("next_cursor is empty after six events")
		}
		for i, ev := range all.Events {
			if !strings.HasPrefix(ev.ID, "evt_") || !ev.Time.Equal(start) {
				t.Errorf("event %d = %s at %s; want an evt_ id at the test clock %s", i, ev.ID, ev.Time, start)
			}
		}
		grant := all.Events[0].Data["grant"]
		wantData(t, all.Events[0], map[string]string{"grant": grant.(string), "source": "topup", "credits": "100"})
		wantData(t, all.Events[1], map[string]string{"available": "100"})
		wantData(t, all.Events[2], map[string]string{"generation": gen, "model": "flux-dev", "images": "1", "hold_credits": "5"})
		wantData(t, all.Events[3], map[string]string{"generation": gen, "model": "flux-dev", "images_delivered": "1", "charged_credits": "5"})
		if all.Events[2].Account != "alice" || all.Events[4].Account != "bob" {
			t.Errorf("accounts = %q, %q; want alice, bob", all.Events[2].Account, all.Events[4].Account)
		}

		t.Run("Paging", func(t *testing.T) {
			var got []feedEvent
			after := ""
			for range 10 {
				p := readFeed(t, e, adminKey, "limit=2&after="+url.QueryEscape(after))
				if len(p.Events) == 0 {
					if p.NextCursor != after {
						t.Errorf("an empty page's next_cursor = %q; want the after given, %q", p.NextCursor, after)
					}
					break
				}
				if len(p.Events) > 2 {
					t.Fatalf("limit=2 answered %d events", len(p.Events))
				}
				got = append(got, p.Events...)
				after = p.NextCursor
			}
			if !reflect.DeepEqual(got, all.Events) {
				t.Errorf("the feed read two at a time = %v; want %v", types(got), types(all.Events))
			}
			if after != all.NextCursor {
				t.Errorf("the last page's cursor = %q; want the whole read's %q", after, all.NextCursor)
			}
		})

		t.Run("Filters", func(t *testing.T) {
			p := readFeed(t, e, adminKey, "types=generation.created,generation.completed")
			if got := types(p.Events); !reflect.DeepEqual(got, []string{"generation.created", "generation.completed"}) {
				t.Errorf("types=generation.created,generation.completed: %v", got)
			}
			p = readFeed(t, e, adminKey, "account=bob")
			if got := types(p.Events); !reflect.DeepEqual(got, []string{"grant.created", "balance.recovered"}) {
				t.Errorf("account=bob: %v", got)
			}
			for _, ev := range p.Events {
				if ev.Account != "bob" {
					t.Errorf("account=bob answered %s of %q", ev.Type, ev.Account)
				}
			}
			p = readFeed(t, e, adminKey, "account=bob&types=balance.recovered")
			if len(p.Events) != 1 || p.Events[0].ID != all.Events[5].ID {
				t.Errorf("account=bob&types=balance.recovered: %v; want bob's one", types(p.Events))
			}
			if p := readFeed(t, e, adminKey, "account=nobody"); len(p.Events) != 0 {
				t.Errorf("account=nobody: %v; want none", types(p.Events))
			}
		})

		t.Run("WaitTimesOut", func(t *testing.T) {
			// Nothing after the end: a short wait answers an empty page and
			// the same cursor.
			p := readFeed(t, e, adminKey, "wait=1&after="+url.QueryEscape(all.NextCursor))
			if len(p.Events) != 0 || p.NextCursor != all.NextCursor {
				t.Errorf("wait=1 at the end = %v, %q; want none and the cursor given", types(p.Events), p.NextCursor)
			}
		})

		t.Run("LongPollWokenByWrite", func(t *testing.T) {
			type answer struct {
				status int
				body   []byte
				took   time.Duration
				err    error
			}
			done := make(chan answer, 1)
			begun := time.Now()
			go func() {
				req, _ := http.NewRequest(http.MethodGet, e.TS.URL+"/v1/events?wait=30s&types=grant.created&after="+url.QueryEscape(all.NextCursor), nil)
				req.Header.Set("Authorization", "Bearer "+adminKey)
				resp, err := e.TS.Client().Do(req)
				if err != nil {
					done <- answer{err: err}
					return
				}
				defer resp.Body.Close()
				b, err := io.ReadAll(resp.Body)
				done <- answer{status: resp.StatusCode, body: b, took: time.Since(begun), err: err}
			}()
			g := e.Want(e.Do(http.MethodPost, "/v1/accounts/bob/grants", adminKey, `{"credits":1,"source":"promo"}`), http.StatusCreated, "grant bob")
			a := <-done
			if a.err != nil || a.status != http.StatusOK {
				t.Fatalf("the long poll: %d %v %s", a.status, a.err, a.body)
			}
			p := decodeFeed(t, a.body)
			if len(p.Events) != 1 || p.Events[0].Type != "grant.created" || p.Events[0].Data["grant"] != g["id"] {
				t.Fatalf("the long poll answered %v; want the grant.created of %v", p.Events, g["id"])
			}
			if a.took > 15*time.Second {
				t.Errorf("the long poll took %s; want it woken by the write, well before its 30s", a.took)
			}
		})

		t.Run("BadInput", func(t *testing.T) {
			unchanged(t, e, "refused reads", func() {
				for _, c := range []struct {
					query  string
					status int
					code   string
				}{
					{"after=nonsense", 422, "invalid_cursor"},
					{"after=%00", 422, "invalid_cursor"},
					{"after=" + strings.Repeat("9", 200), 422, "invalid_cursor"},
					{"types=balance.low,bogus", 422, "invalid_event_type"},
					{"types=*", 422, "invalid_event_type"},
					{"wait=61s", 422, "invalid_wait"},
					{"wait=61", 422, "invalid_wait"},
					{"wait=-1s", 422, "invalid_wait"},
					{"wait=soon", 422, "invalid_wait"},
					{"wait=99999999999999999999h", 422, "invalid_wait"},
					{"limit=0", 422, "invalid_request"},
					{"limit=1001", 422, "invalid_request"},
					{"account=a%20b", 422, "invalid_account_id"},
					{"colour=red", 422, "invalid_request"},
				} {
					p := wantProblem(t, e.Do(http.MethodGet, "/v1/events?"+c.query, adminKey, ""), c.status, c.code)
					if c.code == "invalid_event_type" && !reflect.DeepEqual(p["allowed"], toAny(credit.EventTypes)) {
						t.Errorf("%s: allowed = %v; want every event type", c.query, p["allowed"])
					}
				}
			})
		})

		t.Run("Scopes", func(t *testing.T) {
			service := e.Key(credit.ScopeService, "")
			if p := readFeed(t, e, service, "limit=1"); len(p.Events) != 1 {
				t.Errorf("a service key read %d events; want 1", len(p.Events))
			}
			wantProblem(t, e.Do(http.MethodGet, "/v1/events", e.Key(credit.ScopeAccount, "alice"), ""), http.StatusForbidden, "forbidden")
			wantProblem(t, e.Do(http.MethodGet, "/v1/events", "", ""), http.StatusUnauthorized, "unauthorized")
		})
	})
}

// ids lists the events' ids.
func ids(evs []feedEvent) []string {
	out := []string{}
	for _, e := range evs {
		out = append(out, e.ID)
	}
	return out
}

// TestEventsBefore reads the feed backward on both stores: before=end is
// the newest page, prev_cursor pages back to the oldest, next_cursor
// continues forward (live, from an empty end too), filters apply, and
// before is refused with after or wait. The feed, worked out as TestEvents
// does:
//
//	1 grant.created alice      2 balance.recovered alice
//	3 grant.created bob        4 balance.recovered bob
//	5 generation.created alice
func TestEventsBefore(t *testing.T) {
	eachStore(t, func(t *testing.T, e *Env) {
		// An empty feed: no events, no prev_cursor, and a next_cursor
		// (the head) after which every later event comes.
		empty := readFeed(t, e, adminKey, "before=end")
		if len(empty.Events) != 0 || empty.PrevCursor != nil || empty.NextCursor == "" {
			t.Errorf("before=end on an empty feed = %+v; want no events, no prev_cursor and the head as next_cursor", empty)
		}

		e.Account("alice", "", "100")
		e.Account("bob", "", "7")
		e.Generation(`{"account":"alice","model":"flux-dev"}`)
		caughtUp(t, e)
		all := readFeed(t, e, adminKey, "limit=100")
		want := []string{"grant.created", "balance.recovered", "grant.created", "balance.recovered", "generation.created"}
		if got := types(all.Events); !reflect.DeepEqual(got, want) {
			t.Fatalf("the feed = %v; want %v", got, want)
		}
		if p := readFeed(t, e, adminKey, "limit=100&after="+url.QueryEscape(empty.NextCursor)); !reflect.DeepEqual(p.Events, all.Events) {
			t.Errorf("the feed after the empty end's next_cursor = %v; want all of it %v", ids(p.Events), ids(all.Events))
		}

		t.Run("Paging", func(t *testing.T) {
			// Pages of 2 from the end, each put before the last: the feed.
			var got []feedEvent
			var sizes []int
			before := "end"
			for range 10 {
				p := readFeed(t, e, adminKey, "limit=2&before="+url.QueryEscape(before))
				sizes = append(sizes, len(p.Events))
				if len(p.Events) == 0 {
					if p.PrevCursor != nil || p.NextCursor != "" {
						t.Errorf("the empty page before the first event: prev_cursor %v, next_cursor %q; want none and \"\"", p.PrevCursor, p.NextCursor)
					}
					break
				}
				if p.PrevCursor == nil {
					t.Fatalf("a page of %d events has no prev_cursor", len(p.Events))
				}
				got = append(p.Events, got...)
				before = *p.PrevCursor
			}
			if !reflect.DeepEqual(got, all.Events) || !reflect.DeepEqual(sizes, []int{2, 2, 1, 0}) {
				t.Errorf("the feed read two at a time backward = %v (pages %v); want %v (2, 2, 1, 0)", ids(got), sizes, ids(all.Events))
			}

			// The newest page: events 4 and 5; it ends where the feed read
			// forward ends, and starts where a forward page of 4 ends.
			newest := readFeed(t, e, adminKey, "limit=2&before=end")
			if !reflect.DeepEqual(newest.Events, all.Events[3:]) {
				t.Errorf("before=end&limit=2 = %v; want events 4 and 5, %v", ids(newest.Events), ids(all.Events[3:]))
			}
			if newest.NextCursor != all.NextCursor {
				t.Errorf("before=end's next_cursor = %q; want the last event's, %q", newest.NextCursor, all.NextCursor)
			}
			if four := readFeed(t, e, adminKey, "limit=4"); newest.PrevCursor == nil || *newest.PrevCursor != four.NextCursor {
				t.Errorf("before=end&limit=2's prev_cursor = %v; want event 4's cursor, %q", newest.PrevCursor, four.NextCursor)
			}
			if p := readFeed(t, e, adminKey, "after="+url.QueryEscape(newest.NextCursor)); len(p.Events) != 0 {
				t.Errorf("after the newest page's next_cursor = %v; want none", ids(p.Events))
			}
			// Forward pages tell their first event's cursor too.
			if p := readFeed(t, e, adminKey, "limit=2&after="+url.QueryEscape(*newest.PrevCursor)); p.PrevCursor == nil ||
				!reflect.DeepEqual(p.Events, all.Events[4:]) || *p.PrevCursor != p.NextCursor {
				t.Errorf("after event 4 = %v, prev_cursor %v; want event 5 and its cursor", ids(p.Events), p.PrevCursor)
			}
			if p := readFeed(t, e, adminKey, "before=end&wait=0&limit=1000"); !reflect.DeepEqual(p.Events, all.Events) {
				t.Errorf("before=end&wait=0&limit=1000 = %v; want the whole feed", ids(p.Events))
			}
		})

		t.Run("Filters", func(t *testing.T) {
			var got [][]string
			for before, n := "end", 0; n < 5; n++ {
				p := readFeed(t, e, adminKey, "account=bob&limit=1&before="+url.QueryEscape(before))
				got = append(got, types(p.Events))
				if p.PrevCursor == nil {
					break
				}
				before = *p.PrevCursor
			}
			if fmt.Sprint(got) != "[[balance.recovered] [grant.created] []]" {
				t.Errorf("bob's events one at a time backward = %v; want [balance.recovered] [grant.created] []", got)
			}
			p := readFeed(t, e, adminKey, "types=grant.created&before=end")
			if !reflect.DeepEqual(p.Events, []feedEvent{all.Events[0], all.Events[2]}) {
				t.Errorf("types=grant.created&before=end = %v; want events 1 and 3", ids(p.Events))
			}
			p = readFeed(t, e, adminKey, "types=balance.recovered,generation.created&account=alice&limit=1&before=end")
			if !reflect.DeepEqual(p.Events, all.Events[4:]) {
				t.Errorf("alice's balance.recovered and generation.created, 1 before end = %v; want event 5", ids(p.Events))
			}
			p = readFeed(t, e, adminKey, "types=balance.recovered,generation.created&account=alice&limit=1&before="+url.QueryEscape(*p.PrevCursor))
			if !reflect.DeepEqual(p.Events, all.Events[1:2]) {
				t.Errorf("the page before it = %v; want event 2", ids(p.Events))
			}
		})

		t.Run("EmptyEndFollows", func(t *testing.T) {
			// Nothing of carol's yet: an empty page whose next_cursor, read
			// after with wait, answers her events once they are written.
			p := readFeed(t, e, adminKey, "account=carol&before=end")
			if len(p.Events) != 0 || p.PrevCursor != nil || p.NextCursor == "" {
				t.Fatalf("account=carol&before=end = %+v; want an empty page with the head as next_cursor", p)
			}
			e.Account("carol", "", "3")
			caughtUp(t, e)
			got := readFeed(t, e, adminKey, "account=carol&wait=5s&after="+url.QueryEscape(p.NextCursor))
			if !reflect.DeepEqual(types(got.Events), []string{"grant.created", "balance.recovered"}) {
				t.Errorf("carol's events after the empty end = %v; want grant.created, balance.recovered", types(got.Events))
			}
		})

		t.Run("BadInput", func(t *testing.T) {
			unchanged(t, e, "refused reads", func() {
				for _, c := range []struct {
					query string
					code  string
				}{
					{"before=end&after=" + url.QueryEscape(all.NextCursor), "invalid_cursor"},
					{"before=" + url.QueryEscape(all.NextCursor) + "&after=" + url.QueryEscape(all.NextCursor), "invalid_cursor"},
					{"before=nonsense", "invalid_cursor"},
					{"before=END", "invalid_cursor"},
					{"before=%00", "invalid_cursor"},
					{"before=" + strings.Repeat("9", 200), "invalid_cursor"},
					{"before=end&wait=5s", "invalid_wait"},
					{"before=end&wait=1", "invalid_wait"},
					{"before=end&types=bogus", "invalid_event_type"},
					{"before=end&account=a%20b", "invalid_account_id"},
				} {
					p := wantProblem(t, e.Do(http.MethodGet, "/v1/events?"+c.query, adminKey, ""), http.StatusUnprocessableEntity, c.code)
					if c.code == "invalid_cursor" && strings.HasPrefix(c.query, "before=end&after") {
						if d, _ := p["detail"].(string); !strings.Contains(d, "after and before") {
							t.Errorf("%s: detail %q; want it to say after and before do not go together", c.query, d)
						}
					}
				}
			})
		})
	})
}

// toAny converts strings to what a decoded JSON array holds.
func toAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// TestLongPollEndsOnShutdown: a long poll in progress answers at once,
// with an empty page and the cursor it was given, when the server begins
// to shut down; so does one that starts afterwards.
func TestLongPollEndsOnShutdown(t *testing.T) {
	e := MustLedgerServer(t)
	done := make(chan response, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, e.TS.URL+"/v1/events?wait=60s", nil)
		req.Header.Set("Authorization", "Bearer "+adminKey)
		resp, err := e.TS.Client().Do(req)
		if err != nil {
			done <- response{status: -1, body: []byte(err.Error())}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		done <- response{status: resp.StatusCode, body: b}
	}()
	e.Server.EndLongPolls()
	r := <-done
	if r.status != http.StatusOK {
		t.Fatalf("the long poll at shutdown: %d %s", r.status, r.body)
	}
	if p := decodeFeed(t, r.body); len(p.Events) != 0 || p.NextCursor != "" {
		t.Errorf("the long poll at shutdown = %+v; want an empty page", p)
	}
	e.Server.EndLongPolls() // again: no panic
	if p := readFeed(t, e, adminKey, "wait=60s"); len(p.Events) != 0 {
		t.Errorf("a long poll after shutdown began = %+v; want an empty page at once", p)
	}
}
