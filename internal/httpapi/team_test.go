package httpapi_test

import (
	"context"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/httpapi"
)

// The numbers below are the seed page's prices, worked out by hand: Nano
// Banana 2 is 49 an image at 1K and 73.5 at 2K; flux-dev is 5. The test
// clock starts on 2026-12-01 10:00 UTC, so a team in UTC without a
// subscription has its members' period from 2026-12-01 to 2027-01-01.
const (
	periodStart = "2026-12-01T00:00:00Z"
	periodEnd   = "2027-01-01T00:00:00Z"
)

// MemberKey makes an account key of team for one of its members and returns
// its token.
func (e *Env) MemberKey(team, member string) string {
	e.tb.Helper()
	_, token, err := e.Ledger.CreateKey(context.Background(), credit.KeySpec{Scope: credit.ScopeAccount, Account: team, Member: member, Name: "test"})
	if err != nil {
		e.tb.Fatal(err)
	}
	return token
}

// wantMember checks a member as the API answers it; limit and remaining
// "null" for no limit.
func wantMember(t *testing.T, m map[string]any, member, limit, used, remaining string) {
	t.Helper()
	wantStr(t, m, "member", member)
	for key, want := range map[string]string{"monthly_limit_credits": limit, "used_credits": used, "remaining_credits": remaining} {
		v, ok := m[key]
		switch {
		case !ok:
			t.Errorf("member %s: no %s; want %s", member, key, want)
		case want == "null" && v != nil:
			t.Errorf("member %s: %s = %v; want null", member, key, v)
		case want != "null" && num(t, v, key) != want:
			t.Errorf("member %s: %s = %v; want %s", member, key, v, want)
		}
	}
	wantStr(t, m, "period_start", periodStart)
	wantStr(t, m, "period_end", periodEnd)
}

// members returns GET /v1/accounts/{team}/members as key sees it, by member.
func members(t *testing.T, e *Env, team, key string) map[string]map[string]any {
	t.Helper()
	out := map[string]map[string]any{}
	body := e.Want(e.Do(http.MethodGet, "/v1/accounts/"+team+"/members", key, ""), http.StatusOK, "members of "+team)
	for _, m := range objects(t, body["members"], "members") {
		out[str(t, m["member"], "member")] = m
	}
	return out
}

// TestTeam runs a team through the API on both stores: members a (limit
// 100) and b (no limit) spend one pool; a's generations reserve against the
// limit and are refused past it with what remains; failures, releases and
// refunds give back; member keys see their own holds, entries and usage and
// nothing of the other's.
func TestTeam(t *testing.T) {
	eachStore(t, func(t *testing.T, e *Env) {
		team := e.Want(e.Do(http.MethodPost, "/v1/accounts", adminKey, `{"id":"crew","kind":"team"}`), http.StatusCreated, "create team")
		wantStr(t, team, "kind", "team")
		e.Want(e.Do(http.MethodPost, "/v1/accounts/crew/grants", adminKey, `{"credits":1000,"source":"topup"}`), http.StatusCreated, "grant")
		e.Account("solo", "", "100")
		wantStr(t, e.Want(e.Do(http.MethodGet, "/v1/accounts/solo", adminKey, ""), http.StatusOK, "solo"), "kind", "user")

		t.Run("SetMembers", func(t *testing.T) {
			a := e.Want(e.Do(http.MethodPut, "/v1/accounts/crew/members/a", adminKey, `{"monthly_limit_credits":100}`, "Idempotency-Key", "set-a"), http.StatusOK, "set a")
			wantMember(t, a, "a", "100", "0", "100")
			b := e.Want(e.Do(http.MethodPut, "/v1/accounts/crew/members/b", adminKey, `{"monthly_limit_credits":null}`), http.StatusOK, "set b")
			wantMember(t, b, "b", "null", "0", "null")
			// A retry gets the first answer and writes nothing.
			unchanged(t, e, "a retried PUT", func() {
				again := e.Want(e.Do(http.MethodPut, "/v1/accounts/crew/members/a", adminKey, `{"monthly_limit_credits":100}`, "Idempotency-Key", "set-a"), http.StatusOK, "set a again")
				if !reflect.DeepEqual(again, a) {
					t.Errorf("retried PUT = %v; want the first answer %v", again, a)
				}
			})
			if n := auditCount(t, e, credit.AuditMemberSet); n != 2 {
				t.Errorf("member.set audit entries = %d; want 2", n)
			}
		})

		t.Run("BadInput", func(t *testing.T) {
			unchanged(t, e, "refused requests", func() {
				for _, c := range []struct {
					method, path, body string
					status             int
					code               string
				}{
					// The limit must be given: null for none, never by omission.
					{"PUT", "/v1/accounts/crew/members/a", `{}`, 422, "invalid_request"},
					{"PUT", "/v1/accounts/crew/members/a", `{"monthly_limit":5}`, 422, "unknown_field"},
					{"PUT", "/v1/accounts/crew/members/a", `{"monthly_limit_credits":"100"}`, 422, "invalid_request"},
					{"PUT", "/v1/accounts/crew/members/a", `{"monthly_limit_credits":-1}`, 422, "invalid_amount"},
					{"PUT", "/v1/accounts/crew/members/a", `{"monthly_limit_credits":1.2345}`, 422, "invalid_amount"},
					{"PUT", "/v1/accounts/crew/members/a", ``, 400, "missing_body"},
					{"PUT", "/v1/accounts/solo/members/a", `{"monthly_limit_credits":1}`, 422, "not_a_team"},
					{"PUT", "/v1/accounts/nobody/members/a", `{"monthly_limit_credits":1}`, 404, "unknown_account"},
					{"PUT", "/v1/accounts/crew/members/a%20b", `{"monthly_limit_credits":1}`, 422, "invalid_member_id"},
					{"GET", "/v1/accounts/solo/members", ``, 422, "not_a_team"},
					{"DELETE", "/v1/accounts/crew/members/zed", ``, 404, "unknown_member"},
					{"DELETE", "/v1/accounts/solo/members/a", ``, 422, "not_a_team"},
					{"POST", "/v1/accounts", `{"id":"band","kind":"group"}`, 422, "invalid_account_kind"},
					{"POST", "/v1/generations", `{"account":"crew","model":"flux-dev"}`, 422, "member_required"},
					{"POST", "/v1/generations", `{"account":"crew","member":"zed","model":"flux-dev"}`, 404, "unknown_member"},
					{"POST", "/v1/generations", `{"account":"crew","member":"a b","model":"flux-dev"}`, 422, "invalid_member_id"},
					{"POST", "/v1/generations", `{"account":"crew","member":"a\u0000","model":"flux-dev"}`, 422, "invalid_member_id"},
					{"POST", "/v1/generations", `{"account":"solo","member":"a","model":"flux-dev"}`, 422, "not_a_team"},
					{"POST", "/v1/accounts/crew/holds", `{"credits":1}`, 422, "member_required"},
					{"POST", "/v1/accounts/crew/holds", `{"credits":1,"member":"zed"}`, 404, "unknown_member"},
					{"POST", "/v1/accounts/solo/holds", `{"credits":1,"member":"a"}`, 422, "not_a_team"},
					{"GET", "/v1/accounts/crew/usage?group_by=team", ``, 422, "invalid_group_by"},
				} {
					p := wantProblem(t, e.Do(c.method, c.path, adminKey, c.body), c.status, c.code)
					if c.code == "invalid_account_kind" {
						if got := strs(t, p["allowed"], "allowed"); !reflect.DeepEqual(got, []string{"user", "team"}) {
							t.Errorf("invalid_account_kind allowed = %v; want [user team]", got)
						}
					}
				}
			})
		})

		a := e.MemberKey("crew", "a")
		b := e.MemberKey("crew", "b")
		var gen1, gen2, gen3, gen4, holdB string
		t.Run("LimitReserves", func(t *testing.T) {
			gen := func(body string) string {
				t.Helper()
				g := e.Want(e.Do(http.MethodPost, "/v1/generations", adminKey, body), http.StatusCreated, "create "+body)
				return str(t, g["id"], "id")
			}
			// a: two of 49 use 98 of 100.
			gen1 = gen(`{"account":"crew","member":"a","model":"nano-banana-2"}`)
			g2 := e.Want(e.Do(http.MethodPost, "/v1/generations", adminKey, `{"account":"crew","member":"a","model":"nano-banana-2"}`), http.StatusCreated, "gen2")
			wantStr(t, g2, "member", "a")
			gen2 = str(t, g2["id"], "id")
			wantMember(t, members(t, e, "crew", adminKey)["a"], "a", "100", "98", "2")
			e.WantBalance("crew", "902", "98")

			// A third is over the limit: 402 with what remains of it, and
			// nothing held; the pool has plenty. The period's first refusal
			// tells member.limit_reached, once; it writes nothing else.
			refuse := func() {
				t.Helper()
				r := e.Do(http.MethodPost, "/v1/generations", adminKey, `{"account":"crew","member":"a","model":"nano-banana-2"}`)
				p := wantProblem(t, r, http.StatusPaymentRequired, "member_limit_exceeded")
				wantNum(t, p, "remaining_credits", "2")
				wantNum(t, p, "required_credits", "49")
				wantStr(t, p, "resets_at", periodEnd)
				for _, k := range []string{"available_credits", "eligible_available_credits"} {
					if v, ok := p[k]; ok {
						t.Errorf("member_limit_exceeded has %s = %v; want none (the pool is not what is short)", k, v)
					}
				}
				if got := r.header.Get("Retry-After"); got != "" {
					t.Errorf("member_limit_exceeded Retry-After = %q; want none", got)
				}
			}
			refuse()
			e.WantBalance("crew", "902", "98")
			caughtUp(t, e)
			reached := readFeed(t, e, adminKey, "types=member.limit_reached&account=crew").Events
			if len(reached) != 1 {
				t.Fatalf("member.limit_reached events = %d; want 1", len(reached))
			}
			wantData(t, reached[0], map[string]string{"member": "a", "limit": "100", "used": "98", "period_start": periodStart, "period_end": periodEnd})
			unchanged(t, e, "refused again", func() {
				refuse()
				p := wantProblem(t, e.Do(http.MethodPost, "/v1/accounts/crew/holds", adminKey, `{"credits":3,"member":"a"}`), http.StatusPaymentRequired, "member_limit_exceeded")
				wantNum(t, p, "remaining_credits", "2")
				wantNum(t, p, "required_credits", "3")
			})

			// A hold of the 2 left uses all of it; its release gives it back.
			h := e.Want(e.Do(http.MethodPost, "/v1/accounts/crew/holds", adminKey, `{"credits":2,"member":"a"}`), http.StatusCreated, "hold a")
			wantStr(t, h, "member", "a")
			wantMember(t, members(t, e, "crew", adminKey)["a"], "a", "100", "100", "0")
			e.Want(e.Do(http.MethodPost, "/v1/holds/"+str(t, h["id"], "id")+"/release", adminKey, ""), http.StatusOK, "release")
			wantMember(t, members(t, e, "crew", adminKey)["a"], "a", "100", "98", "2")

			// A failure gives its 49 back: the third fits now.
			e.Want(e.Do(http.MethodPost, "/v1/generations/"+gen2+"/fail", adminKey, ""), http.StatusOK, "fail gen2")
			wantMember(t, members(t, e, "crew", adminKey)["a"], "a", "100", "49", "51")
			gen3 = gen(`{"account":"crew","member":"a","model":"nano-banana-2"}`)
			wantMember(t, members(t, e, "crew", adminKey)["a"], "a", "100", "98", "2")

			// Completing charges what was held: used is unchanged. A
			// refund of 9 gives 9 back.
			e.Want(e.Do(http.MethodPost, "/v1/generations/"+gen1+"/complete", adminKey, `{"images_delivered":1}`), http.StatusOK, "complete gen1")
			wantMember(t, members(t, e, "crew", adminKey)["a"], "a", "100", "98", "2")
			e.Want(e.Do(http.MethodPost, "/v1/generations/"+gen1+"/refund", adminKey, `{"credits":9}`), http.StatusOK, "refund gen1")
			wantMember(t, members(t, e, "crew", adminKey)["a"], "a", "100", "89", "11")

			// b has no limit: two images at 2K are 147.
			gen4 = gen(`{"account":"crew","member":"b","model":"nano-banana-2","resolution":"2K","images":2}`)
			e.Want(e.Do(http.MethodPost, "/v1/generations/"+gen4+"/complete", adminKey, `{"images_delivered":2}`), http.StatusOK, "complete gen4")
			holdB = str(t, e.Want(e.Do(http.MethodPost, "/v1/accounts/crew/holds", adminKey, `{"credits":10,"member":"b"}`), http.StatusCreated, "hold b")["id"], "id")
			ms := members(t, e, "crew", adminKey)
			wantMember(t, ms["b"], "b", "null", "157", "null")
			wantMember(t, ms["a"], "a", "100", "89", "11")
			// The pool: 1000 − (49 − 9) − 147 charged − 49 (gen3) − 10 (b's hold) held.
			e.WantBalance("crew", "754", "59")

			// A limit lowered below what was used leaves nothing, and refuses.
			wantMember(t, e.Want(e.Do(http.MethodPut, "/v1/accounts/crew/members/a", adminKey, `{"monthly_limit_credits":50}`), http.StatusOK, "lower a"), "a", "50", "89", "0")
			p := wantProblem(t, e.Do(http.MethodPost, "/v1/generations", adminKey, `{"account":"crew","member":"a","model":"flux-dev"}`), http.StatusPaymentRequired, "member_limit_exceeded")
			wantNum(t, p, "remaining_credits", "0")
			wantMember(t, e.Want(e.Do(http.MethodPut, "/v1/accounts/crew/members/a", adminKey, `{"monthly_limit_credits":100}`), http.StatusOK, "restore a"), "a", "100", "89", "11")
		})

		t.Run("MemberKeys", func(t *testing.T) {
			w := e.Want(e.Do(http.MethodGet, "/v1/whoami", a, ""), http.StatusOK, "whoami a")
			wantStr(t, w, "scope", "account")
			wantStr(t, w, "account", "crew")
			wantStr(t, w, "member", "a")
			if w := e.Want(e.Do(http.MethodGet, "/v1/whoami", adminKey, ""), http.StatusOK, "whoami admin"); w["member"] != nil {
				t.Errorf("admin whoami member = %v; want none", w["member"])
			}

			// The pool's balance, and of the open holds only one's own.
			openHolds := func(key string) []string {
				t.Helper()
				acct := e.Want(e.Do(http.MethodGet, "/v1/accounts/crew", key, ""), http.StatusOK, "get crew")
				wantNum(t, acct, "available_credits", "754")
				wantNum(t, acct, "held_credits", "59")
				var out []string
				for _, h := range objects(t, acct["open_holds"], "open_holds") {
					out = append(out, str(t, h["member"], "member"))
				}
				return out
			}
			if got := openHolds(a); !reflect.DeepEqual(got, []string{"a"}) {
				t.Errorf("a's open holds are of members %v; want [a] (gen3)", got)
			}
			if got := openHolds(b); !reflect.DeepEqual(got, []string{"b"}) {
				t.Errorf("b's open holds are of members %v; want [b]", got)
			}
			if got := openHolds(adminKey); len(got) != 2 {
				t.Errorf("the admin's open holds are of members %v; want both", got)
			}

			// Members: one's own row only.
			if got := members(t, e, "crew", a); len(got) != 1 || got["a"] == nil {
				t.Errorf("a's members = %v; want only a", got)
			}
			wantMember(t, members(t, e, "crew", b)["b"], "b", "null", "157", "null")

			// Another member's generation or hold is the 404 of a missing one.
			for _, c := range []struct{ prefix, other, own, missing string }{
				{"/v1/generations/", gen4, gen3, "gen_00000000000000000000000000"},
				{"/v1/holds/", holdB, holdOf(t, e, gen3), "hld_00000000000000000000000000"},
			} {
				wantStr(t, e.Want(e.Do(http.MethodGet, c.prefix+c.own, a, ""), http.StatusOK, "own"), "member", "a")
				hidden := e.Do(http.MethodGet, c.prefix+c.other, a, "")
				missing := e.Do(http.MethodGet, c.prefix+c.missing, a, "")
				if hidden.status != http.StatusNotFound || withoutRequestID(hidden.body) != strings.ReplaceAll(withoutRequestID(missing.body), c.missing, c.other) {
					t.Errorf("GET %s%s with a's key = %d %s; want the answer for a missing one %d %s", c.prefix, c.other, hidden.status, hidden.body, missing.status, missing.body)
				}
			}
			wantStr(t, e.Want(e.Do(http.MethodGet, "/v1/generations/"+gen4, b, ""), http.StatusOK, "b's own"), "member", "b")

			// Writes are not a member key's, nor another account's reads.
			wantProblem(t, e.Do(http.MethodPost, "/v1/generations", a, `{"account":"crew","member":"a","model":"flux-dev"}`), http.StatusForbidden, "forbidden")
			wantProblem(t, e.Do(http.MethodPut, "/v1/accounts/crew/members/a", a, `{"monthly_limit_credits":1000}`), http.StatusForbidden, "forbidden")
			wantProblem(t, e.Do(http.MethodGet, "/v1/accounts/solo", a, ""), http.StatusNotFound, "unknown_account")
		})

		t.Run("Entries", func(t *testing.T) {
			entryMembers := func(key string) map[string]int {
				t.Helper()
				body := e.Want(e.Do(http.MethodGet, "/v1/accounts/crew/entries?limit=1000", key, ""), http.StatusOK, "entries")
				out := map[string]int{}
				for _, en := range objects(t, body["entries"], "entries") {
					m, _ := en["member"].(string)
					out[m]++
				}
				return out
			}
			// The grant (the pool's own); a: gen1 hold, capture, refund;
			// gen2 hold, release; the hold and its release; gen3 hold. b:
			// gen4 hold, capture; a hold.
			want := map[string]int{"": 1, "a": 8, "b": 3}
			if got := entryMembers(adminKey); !reflect.DeepEqual(got, want) {
				t.Errorf("entries by member (admin) = %v; want %v", got, want)
			}
			if got, want := entryMembers(a), map[string]int{"": 1, "a": 8}; !reflect.DeepEqual(got, want) {
				t.Errorf("entries by member (a's key) = %v; want %v", got, want)
			}
			if got, want := entryMembers(b), map[string]int{"": 1, "b": 3}; !reflect.DeepEqual(got, want) {
				t.Errorf("entries by member (b's key) = %v; want %v", got, want)
			}
			// CSV: the member column, and b's key sees no row of a's.
			recs := parseCSV(t, e.Do(http.MethodGet, "/v1/accounts/crew/entries?limit=1000", b, "", "Accept", "text/csv").body)
			col := len(recs[0]) - 1
			if recs[0][col] != "member" {
				t.Fatalf("CSV header = %v; want member last", recs[0])
			}
			got := map[string]int{}
			for _, r := range recs[1:] {
				got[r[col]]++
			}
			if want := map[string]int{"": 1, "b": 3}; !reflect.DeepEqual(got, want) {
				t.Errorf("CSV entries by member (b's key) = %v; want %v", got, want)
			}
		})

		t.Run("Usage", func(t *testing.T) {
			type group struct{ key, charged, list, count string }
			usage := func(key, query string) []group {
				t.Helper()
				body := e.Want(e.Do(http.MethodGet, "/v1/accounts/crew/usage?"+query, key, ""), http.StatusOK, "usage "+query)
				var out []group
				for _, g := range objects(t, body["groups"], "groups") {
					out = append(out, group{str(t, g["key"], "key"), num(t, g["charged_credits"], "charged_credits"), num(t, g["list_credits"], "list_credits"), num(t, g["count"], "count")})
				}
				return out
			}
			// a: gen1's 49 less its refund of 9, one charge; b: gen4's 147.
			// Holds and failures charge nothing.
			if got, want := usage(adminKey, "group_by=member"), []group{{"a", "40", "40", "1"}, {"b", "147", "147", "1"}}; !reflect.DeepEqual(got, want) {
				t.Errorf("usage by member = %v; want %v", got, want)
			}
			if got, want := usage(a, "group_by=member"), []group{{"a", "40", "40", "1"}}; !reflect.DeepEqual(got, want) {
				t.Errorf("a's usage by member = %v; want %v", got, want)
			}
			if got, want := usage(b, "group_by=model"), []group{{"nano-banana-2", "147", "147", "1"}}; !reflect.DeepEqual(got, want) {
				t.Errorf("b's usage by model = %v; want %v", got, want)
			}
			r := e.Do(http.MethodGet, "/v1/accounts/crew/usage?group_by=member", adminKey, "", "Accept", "text/csv")
			if got, want := parseCSV(t, r.body), [][]string{{"member", "charged_credits", "list_credits", "count"}, {"a", "40", "40", "1"}, {"b", "147", "147", "1"}}; !reflect.DeepEqual(got, want) {
				t.Errorf("CSV usage by member = %v; want %v", got, want)
			}
			r = e.Do(http.MethodGet, "/v1/accounts/crew/usage?group_by=member", a, "", "Accept", "text/csv")
			if got, want := parseCSV(t, r.body), [][]string{{"member", "charged_credits", "list_credits", "count"}, {"a", "40", "40", "1"}}; !reflect.DeepEqual(got, want) {
				t.Errorf("a's CSV usage by member = %v; want %v", got, want)
			}
			// Outside a team, every charge is under other.
			g := e.Generation(`{"account":"solo","model":"flux-dev"}`)
			e.Want(e.Do(http.MethodPost, "/v1/generations/"+g+"/complete", adminKey, `{"images_delivered":1}`), http.StatusOK, "complete solo")
			body := e.Want(e.Do(http.MethodGet, "/v1/accounts/solo/usage?group_by=member", adminKey, ""), http.StatusOK, "solo usage")
			gs := objects(t, body["groups"], "groups")
			if len(gs) != 1 || gs[0]["key"] != "other" || num(t, gs[0]["charged_credits"], "charged_credits") != "5" {
				t.Errorf("solo's usage by member = %v; want other: 5", gs)
			}
		})

		t.Run("Remove", func(t *testing.T) {
			removed := e.Want(e.Do(http.MethodDelete, "/v1/accounts/crew/members/a", adminKey, "", "Idempotency-Key", "rm-a"), http.StatusOK, "remove a")
			wantMember(t, removed, "a", "100", "89", "11")
			// A retry gets the same answer, not unknown_member.
			again := e.Want(e.Do(http.MethodDelete, "/v1/accounts/crew/members/a", adminKey, "", "Idempotency-Key", "rm-a"), http.StatusOK, "remove a again")
			if !reflect.DeepEqual(again, removed) {
				t.Errorf("retried DELETE = %v; want the first answer %v", again, removed)
			}
			wantProblem(t, e.Do(http.MethodDelete, "/v1/accounts/crew/members/a", adminKey, ""), http.StatusNotFound, "unknown_member")
			if got := members(t, e, "crew", adminKey); len(got) != 1 || got["b"] == nil {
				t.Errorf("members after removing a = %v; want only b", got)
			}
			if got := members(t, e, "crew", a); len(got) != 0 {
				t.Errorf("a's members after removing a = %v; want none", got)
			}
			wantProblem(t, e.Do(http.MethodPost, "/v1/generations", adminKey, `{"account":"crew","member":"a","model":"flux-dev"}`), http.StatusNotFound, "unknown_member")
			// What a had under way resolves as any.
			e.Want(e.Do(http.MethodPost, "/v1/generations/"+gen3+"/fail", adminKey, ""), http.StatusOK, "fail gen3")
			// Set again, a keeps the period's usage: 89 less gen3's 49.
			wantMember(t, e.Want(e.Do(http.MethodPut, "/v1/accounts/crew/members/a", adminKey, `{"monthly_limit_credits":100}`), http.StatusOK, "set a again"), "a", "100", "40", "60")
			if n := auditCount(t, e, credit.AuditMemberRemove); n != 1 {
				t.Errorf("member.remove audit entries = %d; want 1", n)
			}
		})
	})
}

// TestTeamOpenAPI: the document describes the member routes as they answer:
// the limit is required and may be null, the answers carry every field of
// Member, and the account, generation, hold and entry carry kind or member.
func TestTeamOpenAPI(t *testing.T) {
	e := MustLedgerServer(t)
	doc := openAPI(t, e.Do(http.MethodGet, "/openapi.json", "", ""))
	put := at(t, doc, "paths", "/v1/accounts/{id}/members/{member}", "put")
	req := resolve(t, doc, at(t, put, "requestBody", "content", "application/json", "schema"))
	if got := strs(t, req["required"], "required"); !reflect.DeepEqual(got, []string{"monthly_limit_credits"}) {
		t.Errorf("member request required = %v; want [monthly_limit_credits]", got)
	}
	if got := at(t, req, "properties", "monthly_limit_credits")["type"]; !reflect.DeepEqual(got, []any{"number", "null"}) {
		t.Errorf("monthly_limit_credits type = %v; want [number null]", got)
	}
	if got := put["x-tally-scopes"]; !reflect.DeepEqual(got, []any{"admin"}) {
		t.Errorf("PUT member x-tally-scopes = %v; want [admin]", got)
	}
	member := resolve(t, doc, at(t, put, "responses", "200", "content", "application/json", "schema"))
	if got, want := keys(at(t, member, "properties")), jsonNames(reflect.TypeFor[httpapi.Member]()); !reflect.DeepEqual(got, want) {
		t.Errorf("member properties = %v; want %v", got, want)
	}
	for _, f := range []string{"monthly_limit_credits", "remaining_credits"} {
		if got := at(t, member, "properties", f)["type"]; !reflect.DeepEqual(got, []any{"number", "null"}) {
			t.Errorf("member %s type = %v; want [number null]", f, got)
		}
	}
	del := at(t, doc, "paths", "/v1/accounts/{id}/members/{member}", "delete")
	if !slices.ContainsFunc(del["parameters"].([]any), func(p any) bool { return p.(map[string]any)["name"] == "Idempotency-Key" }) {
		t.Errorf("DELETE member takes no Idempotency-Key")
	}
	at(t, doc, "paths", "/v1/accounts/{id}/members", "get", "responses", "200")
	if got := at(t, doc, "components", "schemas", "Account", "properties", "kind")["enum"]; !reflect.DeepEqual(got, []any{"user", "team"}) {
		t.Errorf("Account kind enum = %v; want [user team]", got)
	}
	for _, s := range []string{"Generation", "Hold", "Entry", "WhoAmI"} {
		at(t, doc, "components", "schemas", s, "properties", "member")
	}
	at(t, doc, "components", "schemas", "Problem", "properties", "remaining_credits")
	if got := at(t, doc, "components", "schemas", "Usage", "properties", "group_by")["enum"]; !slices.Contains(got.([]any), any("member")) {
		t.Errorf("Usage group_by enum = %v; want member among them", got)
	}
}
