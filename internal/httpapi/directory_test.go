package httpapi_test

import (
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// TestAccountList pages through the accounts by id, whole and by prefix, on
// both stores: next_cursor goes on where a page ended, and the last page has
// none.
func TestAccountList(t *testing.T) {
	eachStore(t, func(t *testing.T, e *Env) {
		// By id, byte order: "Zed" (Z is 0x5a) before the lower-case ones.
		for _, id := range []string{"b2", "a1", "Zed", "b10", "b1", "été"} {
			e.Account(id, "", "")
		}
		e.Want(e.Do(http.MethodPost, "/v1/accounts", adminKey, `{"id":"crew","kind":"team","plan":"free"}`), http.StatusCreated, "team")
		read := func(query string) []string {
			t.Helper()
			var ids []string
			for cursor, pages := "", 0; ; pages++ {
				if pages > 10 {
					t.Fatalf("accounts?%s: more than 10 pages", query)
				}
				q := query
				if cursor != "" {
					q += "&cursor=" + url.QueryEscape(cursor)
				}
				page := e.Want(e.Do(http.MethodGet, "/v1/accounts?"+q, adminKey, ""), http.StatusOK, "accounts?"+q)
				for _, a := range objects(t, page["accounts"], "accounts") {
					ids = append(ids, str(t, a["id"], "id"))
				}
				next, _ := page["next_cursor"].(string)
				if next == "" {
					return ids
				}
				cursor = next
			}
		}
		for _, c := range []struct {
			query string
			want  []string
		}{
			{"limit=2", []string{"Zed", "a1", "b1", "b10", "b2", "crew", "été"}},
			{"limit=500", []string{"Zed", "a1", "b1", "b10", "b2", "crew", "été"}},
			{"prefix=b&limit=2", []string{"b1", "b10", "b2"}},
			{"prefix=b1&limit=1", []string{"b1", "b10"}},
			{"prefix=B", nil},
			{"prefix=%C3%A9", []string{"été"}},
			{"prefix=nobody", nil},
			{"prefix=a%20", nil}, // no id has a space
		} {
			if got := read(c.query); !slices.Equal(got, c.want) {
				t.Errorf("accounts?%s = %v; want %v", c.query, got, c.want)
			}
		}
		// A row: the team on the free program; 100 free credits come with
		// its first read of the day, not in the list (as last written: 0,
		// or 100 once given).
		page := e.Want(e.Do(http.MethodGet, "/v1/accounts?prefix=crew", adminKey, ""), http.StatusOK, "crew")
		row := objects(t, page["accounts"], "accounts")[0]
		if row["kind"] != "team" || row["plan"] != "free" || row["created_at"] != start.Format(time.RFC3339) {
			t.Errorf("crew listed as %v; want a team on free, created at %s", row, start.Format(time.RFC3339))
		}
		if got := keys(row); !slices.Equal(got, []string{"available_credits", "created_at", "held_credits", "id", "kind", "plan"}) {
			t.Errorf("an account row has %v", got)
		}
	})
}

// TestAccountGenerations: an account's generations newest first, paged and
// filtered, on both stores; an account key reads its own only (another's is
// the 404 of a missing account), and a member key only its member's.
func TestAccountGenerations(t *testing.T) {
	eachStore(t, func(t *testing.T, e *Env) {
		e.Account("alice", "", "1000")
		e.Account("bob", "", "")
		e.Want(e.Do(http.MethodPost, "/v1/accounts", adminKey, `{"id":"crew","kind":"team"}`), http.StatusCreated, "team")
		e.Want(e.Do(http.MethodPost, "/v1/accounts/crew/grants", adminKey, `{"credits":1000,"source":"topup"}`), http.StatusCreated, "team grant")
		for _, m := range []string{"m0", "m1"} {
			e.Want(e.Do(http.MethodPut, "/v1/accounts/crew/members/"+m, adminKey, `{"monthly_limit_credits":null}`), http.StatusOK, "member "+m)
		}
		gen := func(body string) string {
			e.Clock.Add(time.Millisecond) // ids sort by the millisecond they were made in
			return e.Generation(body)
		}
		var alice []string // oldest first
		for range 5 {
			alice = append(alice, gen(`{"account":"alice","model":"flux-dev"}`))
		}
		t0 := gen(`{"account":"crew","member":"m0","model":"flux-dev"}`)
		t1 := gen(`{"account":"crew","member":"m1","model":"flux-dev"}`)
		t2 := gen(`{"account":"crew","member":"m0","model":"flux-dev"}`)

		list := func(account, key, query string) (ids []string, next string) {
			t.Helper()
			page := e.Want(e.Do(http.MethodGet, "/v1/accounts/"+account+"/generations?"+query, key, ""), http.StatusOK, account+" generations?"+query)
			for _, g := range objects(t, page["generations"], "generations") {
				ids = append(ids, str(t, g["id"], "id"))
			}
			next, _ = page["next_cursor"].(string)
			return ids, next
		}
		// Pages of two, newest first.
		var got []string
		for cursor := ""; ; {
			ids, next := list("alice", adminKey, "limit=2&cursor="+url.QueryEscape(cursor))
			got = append(got, ids...)
			if next == "" {
				break
			}
			cursor = next
		}
		if want := []string{alice[4], alice[3], alice[2], alice[1], alice[0]}; !slices.Equal(got, want) {
			t.Errorf("alice's generations paged = %v; want %v", got, want)
		}
		// The same JSON as GET /v1/generations/{id}.
		page := e.Want(e.Do(http.MethodGet, "/v1/accounts/alice/generations?limit=1", adminKey, ""), http.StatusOK, "one")
		one := e.Do(http.MethodGet, "/v1/generations/"+alice[4], adminKey, "")
		if g := objects(t, page["generations"], "generations")[0]; !slices.Equal(keys(g), keys(object(t, one.body))) || g["hold_credits"] == nil {
			t.Errorf("a listed generation has %v; GET /v1/generations/{id} %v", keys(g), keys(object(t, one.body)))
		}

		own := e.Key(credit.ScopeAccount, "alice")
		if ids, _ := list("alice", own, ""); len(ids) != 5 {
			t.Errorf("alice's own key lists %d generations; want 5", len(ids))
		}
		// Another account's key: the answer for an account that does not exist.
		bobs := e.Key(credit.ScopeAccount, "bob")
		hidden := e.Do(http.MethodGet, "/v1/accounts/alice/generations", bobs, "")
		missing := e.Do(http.MethodGet, "/v1/accounts/carol/generations", bobs, "")
		wantProblem(t, hidden, http.StatusNotFound, "unknown_account")
		if withoutRequestID(hidden.body) != strings.ReplaceAll(withoutRequestID(missing.body), "carol", "alice") {
			t.Errorf("bob's key on alice = %s; on a missing account %s", hidden.body, missing.body)
		}
		// The team: its key reads all three, m0's key its two.
		if ids, _ := list("crew", e.Key(credit.ScopeAccount, "crew"), ""); !slices.Equal(ids, []string{t2, t1, t0}) {
			t.Errorf("crew's key lists %v; want %v", ids, []string{t2, t1, t0})
		}
		if ids, _ := list("crew", e.MemberKey("crew", "m0"), ""); !slices.Equal(ids, []string{t2, t0}) {
			t.Errorf("m0's key lists %v; want m0's %v", ids, []string{t2, t0})
		}
		wantProblem(t, e.Do(http.MethodGet, "/v1/accounts/alice/generations", e.MemberKey("crew", "m1"), ""), http.StatusNotFound, "unknown_account")
	})
}

// TestDirectoryBadInput: every bad value of the account list's, the
// generations list's and the account audit's parameters is a 4xx problem
// with a stable code, on both stores, and writes nothing. A prefix or a
// model no id can have finds nothing (200, empty): it is a search.
func TestDirectoryBadInput(t *testing.T) {
	eachStore(t, func(t *testing.T, e *Env) {
		e.Account("alice", "", "100")
		e.Generation(`{"account":"alice","model":"flux-dev"}`)
		before := contents(t, e)
		for _, c := range []struct {
			name, path string
			status     int
			code       string
		}{
			{"AccountsZeroLimit", "/v1/accounts?limit=0", 422, "invalid_request"},
			{"AccountsHugeLimit", "/v1/accounts?limit=501", 422, "invalid_request"},
			{"AccountsWordLimit", "/v1/accounts?limit=ten", 422, "invalid_request"},
			{"AccountsUnknownParameter", "/v1/accounts?prefx=a", 422, "invalid_request"},
			{"GenerationsBadStatus", "/v1/accounts/alice/generations?status=done", 422, "invalid_status"},
			{"GenerationsNulStatus", "/v1/accounts/alice/generations?status=held%00", 422, "invalid_status"},
			{"GenerationsBadCursor", "/v1/accounts/alice/generations?cursor=a%20b", 422, "invalid_cursor"},
			{"GenerationsNulCursor", "/v1/accounts/alice/generations?cursor=gen_%00", 422, "invalid_cursor"},
			{"GenerationsInvalidUTF8Cursor", "/v1/accounts/alice/generations?cursor=%ff", 422, "invalid_cursor"},
			{"GenerationsZeroLimit", "/v1/accounts/alice/generations?limit=0", 422, "invalid_request"},
			{"GenerationsHugeLimit", "/v1/accounts/alice/generations?limit=1001", 422, "invalid_request"},
			{"GenerationsUnknownAccount", "/v1/accounts/nobody/generations", 404, "unknown_account"},
			{"GenerationsBadAccount", "/v1/accounts/a%00b/generations", 404, "unknown_account"},
			{"AuditBadCursor", "/v1/accounts/alice/audit?cursor=nonsense", 422, "invalid_cursor"},
			{"AuditForgedCursor", "/v1/accounts/alice/audit?cursor=ZTE6LTE", 422, "invalid_cursor"}, // "e1:-1"
			{"AuditHugeLimit", "/v1/accounts/alice/audit?limit=501", 422, "invalid_request"},
			{"AuditUnknownAccount", "/v1/accounts/nobody/audit", 404, "unknown_account"},
		} {
			t.Run(c.name, func(t *testing.T) {
				wantProblem(t, e.Do(http.MethodGet, c.path, adminKey, ""), c.status, c.code)
			})
		}
		for _, path := range []string{
			"/v1/accounts?prefix=%00", "/v1/accounts?prefix=%ff", "/v1/accounts?prefix=a%e2%80%8b", "/v1/accounts?cursor=%00",
			"/v1/accounts/alice/generations?model=%00", "/v1/accounts/alice/generations?model=dall-e-9",
		} {
			r := e.Do(http.MethodGet, path, adminKey, "")
			body := e.Want(r, http.StatusOK, path)
			list, ok := body["accounts"].([]any)
			if !ok {
				list, ok = body["generations"].([]any)
			}
			if !ok || len(list) != 0 {
				t.Errorf("GET %s = %s; want nothing found", path, r.body)
			}
		}
		if after := contents(t, e); !reflect.DeepEqual(after, before) {
			t.Error("a refused request changed the store")
		}
	})
}
