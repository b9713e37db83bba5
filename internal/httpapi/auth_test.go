package httpapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/httpapi"
)

// ledgerRoutes is every ledger route with the key scopes that may call it
// (auth.go's table, as x-tally-scopes lists them): "account" means an
// account key reads its own account (and a member key its team's, narrowed
// to its member). Paths and bodies name fixtures: {account} (alice), {gen}
// (a held generation), {done} (a completed one), {hold} (an open hold),
// {new} (an unused account id), {fresh} (an account without a
// subscription), {sub} (alice's active subscription), {grant} (a live grant
// of alice's); {team} (the team crew), {member} (a member of crew), {tgen}
// and {thold} (a held generation and an open hold of crew's member m0);
// {topup} (a pending top-up of alice's), {webhook} (an endpoint made for the
// fixture) and {delivery} (one of its deliveries); {version} (the catalog
// in use). hidden is the 404 code another account's key gets. A route
// naming crew is the team's: its own key is crew's account key, and m0's
// member key reads it too. The bodies of the corrections carry a reason,
// which a support key must give.
var ledgerRoutes = []struct {
	method, path, body string
	scopes             string
	ok                 int
	hidden             string
}{
	{"POST", "/v1/accounts", `{"id":"{new}"}`, "admin", 201, ""},
	{"GET", "/v1/accounts?prefix=al&limit=5", "", "admin,support", 200, ""},
	{"GET", "/v1/accounts/{account}", "", "admin,service,support,account", 200, "unknown_account"},
	{"POST", "/v1/accounts/{account}/grants", `{"credits":1,"source":"promo","reason":"auth"}`, "admin,support", 201, ""},
	{"POST", "/v1/accounts/{account}/debits", `{"credits":1,"memo":"auth","reason":"auth"}`, "admin,support", 201, ""},
	{"PUT", "/v1/accounts/{account}/plan", `{"plan":"free","time_zone":"Europe/Berlin"}`, "admin", 200, ""},
	{"POST", "/v1/grants/{grant}/void", `{"memo":"auth","reason":"auth"}`, "admin,support", 200, ""},
	{"POST", "/v1/grants/{grant}/expiry", `{"expires_at":"2030-01-01","memo":"auth"}`, "admin", 200, ""},
	{"POST", "/v1/accounts/{fresh}/subscriptions", `{"plan":"basic"}`, "admin", 201, ""},
	{"GET", "/v1/accounts/{account}/subscriptions", "", "admin,service,support,account", 200, "unknown_account"},
	{"GET", "/v1/subscriptions/{sub}", "", "admin,service,support,account", 200, "unknown_subscription"},
	{"POST", "/v1/subscriptions/{sub}/cancel", `{"at":"period_end"}`, "admin", 200, ""},
	{"POST", "/v1/subscriptions/{sub}/change", `{"plan":"pro"}`, "admin", 200, ""},
	{"POST", "/v1/accounts/{account}/holds", `{"credits":1}`, "admin,service", 201, ""},
	{"GET", "/v1/accounts/{account}/entries", "", "admin,service,support,account", 200, "unknown_account"},
	{"GET", "/v1/accounts/{account}/usage", "", "admin,service,support,account", 200, "unknown_account"},
	{"GET", "/v1/accounts/{account}/generations?status=held&model=flux-dev", "", "admin,service,support,account", 200, "unknown_account"},
	{"GET", "/v1/accounts/{account}/audit", "", "admin,support", 200, ""},
	{"POST", "/v1/generations", `{"account":"{account}","model":"flux-dev"}`, "admin,service", 201, ""},
	{"POST", "/v1/generations/{gen}/complete", `{"images_delivered":1}`, "admin,service", 200, ""},
	{"POST", "/v1/generations/{gen}/fail", `{"reason":"auth"}`, "admin,service,support", 200, ""},
	{"POST", "/v1/generations/{done}/refund", `{"reason":"auth"}`, "admin,service,support", 200, ""},
	{"GET", "/v1/generations/{gen}", "", "admin,service,support,account", 200, "unknown_generation"},
	{"POST", "/v1/holds/{hold}/capture", "", "admin,service", 200, ""},
	{"POST", "/v1/holds/{hold}/release", `{"reason":"auth"}`, "admin,service,support", 200, ""},
	{"GET", "/v1/holds/{hold}", "", "admin,service,support,account", 200, "unknown_hold"},
	{"GET", "/v1/audit", "", "admin", 200, ""},
	{"GET", "/v1/reports/liability", "", "admin,support", 200, ""},
	{"GET", "/v1/reports/consumption?from=2026-11-01&to=2026-12-02&group_by=source", "", "admin,support", 200, ""},
	{"GET", "/v1/catalog/impact?version={version}&from=2026-11-01&to=2026-12-02", "", "admin,support", 200, ""},
	{"PUT", "/v1/accounts/{team}/members/{member}", `{"monthly_limit_credits":5}`, "admin", 200, ""},
	{"DELETE", "/v1/accounts/{team}/members/{member}", "", "admin", 200, ""},
	{"GET", "/v1/accounts/{team}/members", "", "admin,service,support,account", 200, "unknown_account"},
	{"GET", "/v1/accounts/{team}", "", "admin,service,support,account", 200, "unknown_account"},
	{"GET", "/v1/accounts/{team}/entries", "", "admin,service,support,account", 200, "unknown_account"},
	{"GET", "/v1/accounts/{team}/usage", "", "admin,service,support,account", 200, "unknown_account"},
	{"GET", "/v1/accounts/{team}/generations", "", "admin,service,support,account", 200, "unknown_account"},
	{"GET", "/v1/accounts/{team}/audit", "", "admin,support", 200, ""},
	{"GET", "/v1/generations/{tgen}", "", "admin,service,support,account", 200, "unknown_generation"},
	{"GET", "/v1/holds/{thold}", "", "admin,service,support,account", 200, "unknown_hold"},
	{"POST", "/v1/generations", `{"account":"{team}","member":"m0","model":"flux-dev"}`, "admin,service", 201, ""},
	{"POST", "/v1/accounts/{team}/holds", `{"credits":1,"member":"m0"}`, "admin,service", 201, ""},
	{"PUT", "/v1/accounts/{account}/alerts", `{"low_balance_credits":5}`, "admin", 200, ""},
	{"PUT", "/v1/accounts/{account}/auto-topup", authAutoTopup, "admin", 200, ""},
	{"DELETE", "/v1/accounts/{account}/auto-topup", "", "admin", 200, ""},
	{"GET", "/v1/accounts/{account}/topups", "", "admin,service,support,account", 200, "unknown_account"},
	{"GET", "/v1/accounts/{team}/topups", "", "admin,service,support,account", 200, "unknown_account"},
	{"GET", "/v1/topups/{topup}", "", "admin,service,support,account", 200, "unknown_topup"},
	{"POST", "/v1/topups/{topup}/confirm", "", "admin,service", 200, ""},
	{"POST", "/v1/topups/{topup}/cancel", "", "admin,service", 200, ""},
	{"GET", "/v1/events", "", "admin,service", 200, ""},
	{"POST", "/v1/webhooks", `{"url":"https://93.184.216.34/auth","events":["*"]}`, "admin", 201, ""},
	{"GET", "/v1/webhooks", "", "admin", 200, ""},
	{"GET", "/v1/webhooks/{webhook}", "", "admin", 200, ""},
	{"DELETE", "/v1/webhooks/{webhook}", "", "admin", 204, ""},
	{"GET", "/v1/webhooks/{webhook}/deliveries", "", "admin", 200, ""},
	{"POST", "/v1/webhooks/{webhook}/deliveries/{delivery}/retry", "", "admin", 200, ""},
	{"GET", "/v1/accounts/{account}/deliveries", "", "admin", 200, ""},
}

// authAutoTopup is alice's auto top-up in TestAuth: a threshold above her
// balance, so that each fixture's generation asks for a top-up (when none
// is pending), the {topup} of the routes.
const authAutoTopup = `{"threshold_credits":100000000,"amount_credits":1,"monthly_cap_credits":1000000}`

// onTeam reports whether a route of ledgerRoutes names the team's data.
func onTeam(path, body string) bool {
	return strings.Contains(path+body, "{team}") || strings.Contains(path, "{tgen}") || strings.Contains(path, "{thold}")
}

// TestAuth calls every route of ledgerRoutes with every kind of key, on
// both stores: a key in the route's scopes gets its answer, an account or
// member key another account's 404, any other key 403 forbidden, and no
// valid key 401.
func TestAuth(t *testing.T) {
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			db := st.open(t)
			// With paid plans to subscribe to, and the published catalogs
			// (none: the one in use is the impact's version).
			e := mustLedgerServerOn(t, db, httpapi.Config{Catalog: mustPlansCatalog(t), Catalogs: db.(credit.CatalogStore)})
			testAuth(t, e)
		})
	}
}

func testAuth(t *testing.T, e *Env) {
	e.Account("alice", "", "1000000")
	e.Account("bob", "", "10")
	e.Want(e.Do(http.MethodPost, "/v1/accounts", adminKey, `{"id":"crew","kind":"team"}`), http.StatusCreated, "team")
	e.Want(e.Do(http.MethodPost, "/v1/accounts/crew/grants", adminKey, `{"credits":1000000,"source":"topup"}`), http.StatusCreated, "team grant")
	e.Want(e.Do(http.MethodPut, "/v1/accounts/crew/members/m0", adminKey, `{"monthly_limit_credits":null}`), http.StatusOK, "member m0")
	keys := map[string]string{
		"team":    e.Key(credit.ScopeAccount, "crew"),
		"member":  e.MemberKey("crew", "m0"),
		"none":    "",
		"admin":   adminKey,
		"service": e.Key(credit.ScopeService, ""),
		"support": e.Key(credit.ScopeSupport, ""),
		"own":     e.Key(credit.ScopeAccount, "alice"),
		"other":   e.Key(credit.ScopeAccount, "bob"),
		"bad":     "tally_nosuchkey_c2VjcmV0",
		"revoked": e.Key(credit.ScopeService, ""),
	}
	revoked := strings.Split(keys["revoked"], "_")[1]
	if err := e.Ledger.RevokeKey(t.Context(), revoked); err != nil {
		t.Fatal(err)
	}
	// An admin key that expires in a second, read a second later.
	_, expired, err := e.Ledger.CreateKey(t.Context(), credit.KeySpec{Scope: credit.ScopeAdmin, Name: "short-lived", ExpiresAt: e.Clock.Now().Add(time.Second)})
	if err != nil {
		t.Fatal(err)
	}
	keys["expired"] = expired
	e.Clock.Add(time.Second)
	n := 0
	sub, tgen, thold, wh := "", "", "", ""
	fixture := func() *strings.Replacer {
		// A fresh endpoint, whose deliveries are of the events below; the
		// last one goes (unless the route deleted it).
		if wh != "" {
			e.Do(http.MethodDelete, "/v1/webhooks/"+wh, adminKey, "")
		}
		wh = str(t, e.Want(e.Do(http.MethodPost, "/v1/webhooks", adminKey, `{"url":"https://93.184.216.34/fixture","events":["*"]}`), http.StatusCreated, "webhook fixture")["id"], "id")
		// Auto top-up on (a route may have turned it off): the generation
		// asks for a top-up unless one is pending.
		e.Want(e.Do(http.MethodPut, "/v1/accounts/alice/auto-topup", adminKey, authAutoTopup), http.StatusOK, "auto-topup fixture")
		gen := e.Generation(`{"account":"alice","model":"flux-dev"}`)
		done := e.Generation(`{"account":"alice","model":"flux-dev"}`)
		e.Want(e.Do(http.MethodPost, "/v1/generations/"+done+"/complete", adminKey, `{"images_delivered":1}`), http.StatusOK, "complete fixture")
		h := e.Want(e.Do(http.MethodPost, "/v1/accounts/alice/holds", adminKey, `{"credits":2}`), http.StatusCreated, "hold fixture")
		grant := e.Want(e.Do(http.MethodPost, "/v1/accounts/alice/grants", adminKey, `{"credits":1,"source":"promo"}`), http.StatusCreated, "grant fixture")
		// A fresh subscription for alice: the last one ends now.
		if sub != "" {
			e.Want(e.Do(http.MethodPost, "/v1/subscriptions/"+sub+"/cancel", adminKey, `{"at":"now"}`), http.StatusOK, "cancel fixture")
		}
		sub = str(t, e.Want(e.Do(http.MethodPost, "/v1/accounts/alice/subscriptions", adminKey, `{"plan":"basic"}`), http.StatusCreated, "subscription fixture")["id"], "id")
		n++
		fresh := fmt.Sprintf("fresh-%d", n)
		e.Account(fresh, "", "")
		// The last fixture's team generation and hold end (unless the
		// route did): crew's open holds stay few.
		if tgen != "" {
			e.Do(http.MethodPost, "/v1/generations/"+tgen+"/fail", adminKey, "")
			e.Do(http.MethodPost, "/v1/holds/"+thold+"/release", adminKey, "")
		}
		member := fmt.Sprintf("m-%d", n)
		e.Want(e.Do(http.MethodPut, "/v1/accounts/crew/members/"+member, adminKey, `{"monthly_limit_credits":5}`), http.StatusOK, "member fixture")
		tgen = e.Generation(`{"account":"crew","member":"m0","model":"flux-dev"}`)
		thold = str(t, e.Want(e.Do(http.MethodPost, "/v1/accounts/crew/holds", adminKey, `{"credits":2,"member":"m0"}`), http.StatusCreated, "team hold fixture")["id"], "id")
		// PostgreSQL's feed answers an event once every older transaction
		// of the server has ended: under load the endpoint's first event
		// may take a moment to be scheduled.
		ws := e.Ledger.Store().(credit.WebhookStore)
		var ds []credit.Delivery
		for deadline := time.Now().Add(time.Minute); len(ds) == 0; time.Sleep(10 * time.Millisecond) {
			if _, err := ws.ScheduleDeliveries(t.Context(), e.Clock.Now(), 1000); err != nil {
				t.Fatal(err)
			}
			var err error
			if ds, err = e.Ledger.Deliveries(t.Context(), credit.DeliveryQuery{Webhook: wh, Limit: 1}); err != nil {
				t.Fatal(err)
			}
			if time.Now().After(deadline) {
				t.Fatal("the fixture's endpoint has no delivery a minute on")
			}
		}
		var topup string
		tops, err := e.Ledger.Topups(t.Context(), "alice", "", credit.MaxTopupPage)
		if err != nil {
			t.Fatal(err)
		}
		for _, tp := range tops {
			if tp.Status == credit.TopupPending {
				topup = tp.ID
			}
		}
		if topup == "" {
			t.Fatalf("alice has no pending top-up: %+v", tops)
		}
		return strings.NewReplacer("{topup}", topup, "{webhook}", wh, "{delivery}", ds[0].ID, "{account}", "alice", "{gen}", gen, "{done}", done, "{hold}", str(t, h["id"], "id"), "{new}", fmt.Sprintf("new-%d", n),
			"{fresh}", fresh, "{sub}", sub, "{grant}", str(t, grant["id"], "id"),
			"{team}", "crew", "{member}", member, "{tgen}", tgen, "{thold}", thold, "{version}", url.QueryEscape(e.Server.Catalog().Version))
	}
	// A fixture serves until a request changes the ledger: a refused one
	// changes nothing, and a read leaves every fixture as it was.
	var last *strings.Replacer
	for _, rt := range ledgerRoutes {
		team := onTeam(rt.path, rt.body)
		scopes := strings.Split(rt.scopes, ",")
		for _, who := range []string{"none", "bad", "revoked", "expired", "own", "other", "member", "service", "support", "admin"} {
			t.Run(rt.method+" "+rt.path+"/"+who, func(t *testing.T) {
				if last == nil {
					last = fixture()
				}
				f := last
				path, body := f.Replace(rt.path), f.Replace(rt.body)
				key := keys[who]
				if who == "own" && team {
					key = keys["team"]
				}
				r := e.Do(rt.method, path, key, body)
				if rt.method != http.MethodGet && r.status < 300 {
					last = nil
				}
				// A member key reads its team (m0's own data, here) as the
				// team's key does, and another account as another's key.
				reads := slices.Contains(scopes, "account")
				allowed := slices.Contains(scopes, who) || (who == "own" || who == "member" && team) && reads
				switch {
				case who == "none" || who == "bad" || who == "revoked" || who == "expired":
					wantProblem(t, r, http.StatusUnauthorized, "unauthorized")
					if got := r.header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
						t.Errorf("WWW-Authenticate = %q; want a Bearer challenge", got)
					}
				case allowed:
					if r.status != rt.ok {
						t.Errorf("status = %d; want %d\n%s", r.status, rt.ok, truncate(r.body))
					}
				case (who == "other" || who == "member") && reads:
					wantProblem(t, r, http.StatusNotFound, rt.hidden)
				default:
					wantProblem(t, r, http.StatusForbidden, "forbidden")
				}
			})
		}
	}
	e.Verify()
}

// TestHiddenIsMissing checks that an account key asking for another account
// gets exactly the answer it would get if that account did not exist.
func TestHiddenIsMissing(t *testing.T) {
	e := MustLedgerServer(t)
	e.Account("bob", "", "")
	bob := e.Key(credit.ScopeAccount, "bob")
	for _, path := range []string{"/v1/accounts/carol", "/v1/accounts/carol/entries", "/v1/accounts/carol/usage", "/v1/accounts/carol/subscriptions"} {
		before := e.Do(http.MethodGet, path, bob, "")
		wantProblem(t, before, http.StatusNotFound, "unknown_account")
		if path == "/v1/accounts/carol" {
			e.Account("carol", "", "50")
		}
		after := e.Do(http.MethodGet, path, bob, "")
		if after.status != before.status || withoutRequestID(after.body) != withoutRequestID(before.body) {
			t.Errorf("GET %s with another account's key = %d %s; want the answer for a missing account %d %s", path, after.status, after.body, before.status, before.body)
		}
	}
	// Generations and holds: the answer for carol's equals the one for a
	// missing id, but for the id.
	gen := e.Generation(`{"account":"carol","model":"flux-dev"}`)
	h := e.Want(e.Do(http.MethodPost, "/v1/accounts/carol/holds", adminKey, `{"credits":1}`), http.StatusCreated, "hold")
	for _, c := range []struct{ prefix, id, missing string }{
		{"/v1/generations/", gen, "gen_00000000000000000000000000"},
		{"/v1/holds/", str(t, h["id"], "id"), "hld_00000000000000000000000000"},
	} {
		hidden := e.Do(http.MethodGet, c.prefix+c.id, bob, "")
		missing := e.Do(http.MethodGet, c.prefix+c.missing, bob, "")
		if hidden.status != http.StatusNotFound || hidden.status != missing.status ||
			withoutRequestID(hidden.body) != strings.ReplaceAll(withoutRequestID(missing.body), c.missing, c.id) {
			t.Errorf("GET %s%s with another account's key = %d %s; want the answer for a missing one %d %s", c.prefix, c.id, hidden.status, hidden.body, missing.status, missing.body)
		}
	}
}

func TestAuthHeader(t *testing.T) {
	e := MustLedgerServer(t)
	e.Account("alice", "", "")
	for _, h := range []string{"Basic YWRtaW46eA==", "Bearer", "Bearer ", adminKey, "Bearer wrong-" + adminKey} {
		r := e.Do(http.MethodGet, "/v1/accounts/alice", "", "", "Authorization", h)
		wantProblem(t, r, http.StatusUnauthorized, "unauthorized")
	}
	// The scheme is case-insensitive (RFC 9110 §11.1).
	e.Want(e.Do(http.MethodGet, "/v1/accounts/alice", "", "", "Authorization", "bearer "+adminKey), http.StatusOK, "lower-case scheme")
	// 401 comes before the body is looked at.
	wantProblem(t, e.Do(http.MethodPost, "/v1/accounts", "", `{"nonsense`), http.StatusUnauthorized, "unauthorized")
}

func TestLedgerOpenAPI(t *testing.T) {
	db := mustOpenSQLite(t)
	e := mustLedgerServerOn(t, db, httpapi.Config{Catalog: catalog.Default(), Catalogs: db.(credit.CatalogStore)})
	r := e.Do(http.MethodGet, "/openapi.json", "", "")
	var doc map[string]any
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatalf("/openapi.json: %v", err)
	}
	scheme := at(t, doc, "components", "securitySchemes", "bearer")
	if scheme["type"] != "http" || scheme["scheme"] != "bearer" {
		t.Errorf("securitySchemes.bearer = %v; want type http, scheme bearer", scheme)
	}
	for _, rt := range ledgerRoutes {
		path, _, _ := strings.Cut(rt.path, "?")
		op := at(t, doc, "paths", strings.NewReplacer("{account}", "{id}", "{gen}", "{id}", "{done}", "{id}", "{hold}", "{id}",
			"{fresh}", "{id}", "{sub}", "{id}", "{grant}", "{id}", "{team}", "{id}", "{tgen}", "{id}", "{thold}", "{id}",
			"{topup}", "{id}", "{webhook}", "{id}").Replace(path), strings.ToLower(rt.method))
		if got, want := op["security"], []any{map[string]any{"bearer": []any{}}}; !reflect.DeepEqual(got, want) {
			t.Errorf("%s %s security = %v; want %v", rt.method, rt.path, got, want)
		}
		var want []any
		for _, s := range strings.Split(rt.scopes, ",") {
			want = append(want, s)
		}
		if got := op["x-tally-scopes"]; !reflect.DeepEqual(got, want) {
			t.Errorf("%s %s x-tally-scopes = %v; want %v", rt.method, rt.path, got, want)
		}
	}
	quote := at(t, doc, "paths", "/v1/quotes", "post")
	if got, want := quote["security"], []any{map[string]any{}, map[string]any{"bearer": []any{}}}; !reflect.DeepEqual(got, want) {
		t.Errorf("POST /v1/quotes security = %v; want %v (optional)", got, want)
	}
	if got, ok := at(t, doc, "paths", "/v1/models", "get")["security"]; ok {
		t.Errorf("GET /v1/models security = %v; want none (public)", got)
	}
	// The CSV variants are documented.
	for _, p := range []string{"/v1/accounts/{id}/entries", "/v1/accounts/{id}/usage"} {
		at(t, doc, "paths", p, "get", "responses", "200", "content", "text/csv")
		at(t, doc, "paths", p, "get", "responses", "200", "content", "application/json", "schema")
	}
	// A generation takes the quote's fields and the hold's TTL, and answers
	// with the quote as POST /v1/quotes does.
	post := at(t, doc, "paths", "/v1/generations", "post")
	req := resolve(t, doc, at(t, post, "requestBody", "content", "application/json", "schema"))
	want := append(jsonNames(reflect.TypeFor[httpapi.QuoteRequest]()), "hold_ttl_seconds", "member")
	sort.Strings(want)
	if got := keys(at(t, req, "properties")); !reflect.DeepEqual(got, want) {
		t.Errorf("generation request properties = %v; want %v", got, want)
	}
	gen := resolve(t, doc, at(t, post, "responses", "201", "content", "application/json", "schema"))
	if got, want := keys(at(t, gen, "properties")), jsonNames(reflect.TypeFor[httpapi.Generation]()); !reflect.DeepEqual(got, want) {
		t.Errorf("generation properties = %v; want %v", got, want)
	}
	if got := at(t, gen, "properties", "quote")["$ref"]; got != "#/components/schemas/Quote" {
		t.Errorf("generation quote schema = %v; want the Quote schema", got)
	}

	// Amounts in requests are JSON numbers, as in answers.
	grant := resolve(t, doc, at(t, doc, "paths", "/v1/accounts/{id}/grants", "post", "requestBody", "content", "application/json", "schema"))
	if got := at(t, grant, "properties", "credits")["type"]; got != "number" {
		t.Errorf("grant request credits type = %#v; want number", got)
	}

	// Request bodies are JSON only, and optional where the fields are.
	for _, c := range []struct {
		path     string
		required bool
	}{{"/v1/holds/{id}/capture", false}, {"/v1/generations/{id}/refund", false}, {"/v1/generations/{id}/complete", true}, {"/v1/generations", true},
		{"/v1/generations/{id}/fail", false}, {"/v1/holds/{id}/release", false}, {"/v1/grants/{id}/void", false}, {"/v1/accounts/{id}/debits", true}} {
		rb := at(t, doc, "paths", c.path, "post", "requestBody")
		if got := keys(at(t, rb, "content")); !reflect.DeepEqual(got, []string{"application/json"}) {
			t.Errorf("%s request content types = %v; want [application/json]", c.path, got)
		}
		if got, _ := rb["required"].(bool); got != c.required {
			t.Errorf("%s request body required = %v; want %v", c.path, got, c.required)
		}
	}
}

var requestIDField = regexp.MustCompile(`,"request_id":"req_[0-9a-z]+"`)

// withoutRequestID is a problem body without its request_id, the one part
// two answers to the same question never share.
func withoutRequestID(body []byte) string { return requestIDField.ReplaceAllString(string(body), "") }
