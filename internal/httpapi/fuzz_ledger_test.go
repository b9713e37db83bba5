package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/httpapi"
)

// ledgerFuzzRoutes are the ledger routes FuzzLedgerQuery aims at; {id} is
// the fuzzed path id, or when that is empty the account, generation or hold
// made before fuzzing.
var ledgerFuzzRoutes = []struct{ method, path, id string }{
	{http.MethodPost, "/v1/accounts", ""},
	{http.MethodPost, "/v1/accounts/{id}/grants", "acme"},
	{http.MethodPost, "/v1/accounts/{id}/holds", "acme"},
	{http.MethodPost, "/v1/generations", ""},
	{http.MethodPost, "/v1/generations/{id}/complete", "{gen}"},
	{http.MethodPost, "/v1/generations/{id}/fail", "{gen}"},
	{http.MethodPost, "/v1/generations/{id}/refund", "{gen}"},
	{http.MethodPost, "/v1/holds/{id}/capture", "{hold}"},
	{http.MethodPost, "/v1/holds/{id}/release", "{hold}"},
	{http.MethodGet, "/v1/accounts/{id}/entries", "acme"},
	{http.MethodGet, "/v1/accounts/{id}/usage", "acme"},
	{http.MethodGet, "/v1/models", ""},
	{http.MethodGet, "/v1/audit", ""},
	{http.MethodGet, "/v1/catalog", ""},
	{http.MethodGet, "/v1/accounts/{id}", "acme"},
	{http.MethodGet, "/v1/generations/{id}", "{gen}"},
	{http.MethodGet, "/v1/holds/{id}", "{hold}"},
	{http.MethodPost, "/v1/quotes", ""},
	{http.MethodPost, "/v1/quotes/cheapest", ""},
	{http.MethodPut, "/v1/accounts/{id}/plan", "acme"},
	{http.MethodPost, "/v1/accounts/{id}/subscriptions", "acme"},
	{http.MethodGet, "/v1/accounts/{id}/subscriptions", "acme"},
	{http.MethodGet, "/v1/subscriptions/{id}", "sub_none"},
	{http.MethodPost, "/v1/subscriptions/{id}/cancel", "sub_none"},
	{http.MethodPost, "/v1/grants/{id}/void", "grt_none"},
	{http.MethodPost, "/v1/grants/{id}/expiry", "grt_none"},
	{http.MethodGet, "/v1/accounts", ""},
	{http.MethodGet, "/v1/accounts/{id}/generations", "acme"},
	{http.MethodGet, "/v1/accounts/{id}/audit", "acme"},
	{http.MethodPost, "/v1/accounts/{id}/debits", "acme"},
	{http.MethodGet, "/v1/reports/liability", ""},
	{http.MethodGet, "/v1/reports/consumption", ""},
	{http.MethodGet, "/v1/catalog/impact", ""},
}

// FuzzLedgerQuery sends arbitrary path ids, query strings, bodies,
// Idempotency-Keys and bearer tokens to the ledger's routes through the real
// handlers, on a real SQLite file (FuzzLedgerQueryPostgres: on PostgreSQL).
// An empty id, key or token is the default: the thing made before fuzzing, no
// key, the admin key. Whatever the input: never a 5xx or a panic; every 4xx
// is a problem with a code; and a refused request writes nothing (the
// account's journal and the audit log keep their length). The journal
// verifies at the end.
func FuzzLedgerQuery(f *testing.F) { fuzzLedgerQuery(f, mustOpenSQLite) }

// FuzzLedgerQueryPostgres is FuzzLedgerQuery on a PostgreSQL database
// (TALLY_TEST_POSTGRES), whose text type refuses bytes SQLite keeps.
func FuzzLedgerQueryPostgres(f *testing.F) { fuzzLedgerQuery(f, mustOpenPostgres) }

func fuzzLedgerQuery(f *testing.F, open func(testing.TB) credit.Store) {
	for _, seed := range []struct {
		route                 uint8
		id, query, body       string
		idempotencyKey, token string
	}{
		{0, "", "", `{"id":"fuzz-1"}`, "", ""},
		{0, "", "", `{"id":"has space"}`, "", ""},
		{1, "", "", `{"credits":12.5,"source":"promo","expires_at":"2030-01-01T00:00:00Z"}`, "", ""},
		{1, "", "", `{"credits":1.2345,"source":"topup"}`, "", ""},
		{1, "", "", `{"credits":-1,"source":"gift"}`, "", ""},
		{2, "", "", `{"credits":3}`, "", ""},
		{3, "", "", `{"account":"acme","model":"nano-banana-2","resolution":"2K","images":2}`, "", ""},
		{3, "", "", `{"account":"acme","model":"topaz","scale":2,"input_width":1920,"input_height":1080}`, "", ""},
		{3, "", "", `{"account":"nobody","model":"flux-dev"}`, "", ""},
		{3, "", "", `{"account":"acme","model":"flux-dev","hold_ttl_seconds":-5}`, "", ""},
		{4, "", "", `{"images_delivered":1}`, "", ""},
		{4, "", "", `{"images_delivered":99}`, "", ""},
		{5, "", "", ``, "", ""},
		{6, "", "", `{}`, "", ""},
		{7, "", "", `{"credits":1}`, "", ""},
		{8, "", "", ``, "", ""},
		{9, "", "limit=2", ``, "", ""},
		{9, "", "cursor=bm9wZQ&limit=0", ``, "", ""},
		{10, "", "group_by=day&from=2026-01-01T00:00:00Z", ``, "", ""},
		{10, "", "group_by=weekday", ``, "", ""},
		{11, "", "resolution=4K&aspect_ratio=21:9&images=3", ``, "", ""},
		{11, "", "images=0", ``, "", ""},
		{11, "", "supports=everything", ``, "", ""},
		{12, "", "limit=501", ``, "", ""},
		{13, "", "", ``, "", ""},
		// Bytes no store can hold, and characters no id may have: in path
		// ids, bodies, Idempotency-Keys and bearer tokens.
		{14, "a\x00b", "", ``, "", ""},
		{14, "\xff", "", ``, "", ""},
		{15, "\xc3\x28", "", ``, "", ""},
		{16, "acme\u200b", "", ``, "", ""},
		{9, "\u202eacme", "", ``, "", ""},
		{14, ".", "", ``, "", ""},
		{1, "acme\u00a0", "", `{"credits":1,"source":"topup"}`, "", ""},
		{0, "", "", `{"id":"a\u0000b"}`, "", ""},
		{0, "", "", "{\"id\":\"\xff\"}", "", ""},
		{0, "", "", `{"id":".."}`, "", ""},
		{1, "", "", `{"credits":5,"source":"topup","memo":"a\u0000b"}`, "", ""},
		{1, "", "", "{\"credits\":5,\"source\":\"topup\",\"memo\":\"\xc3\x28\"}", "", ""},
		{3, "", "", `{"account":"\u202eacme","model":"flux-dev"}`, "", ""},
		{3, "", "", `{"account":"acme","model":"flux-dev","images":0}`, "", ""},
		{7, "", "", `{"credits":0}`, "", ""},
		{17, "", "", `{"model":"flux-dev","account":"a\u0000b"}`, "", ""},
		{18, "", "", `{"images":0}`, "", ""},
		{1, "", "", `{"credits":5,"source":"topup"}`, "\xff", ""},
		{2, "", "", `{"credits":1}`, "a\x00b", ""},
		{0, "", "", `{"id":"fuzz-2"}`, "k\u202e", ""},
		{9, "", "", ``, "", "tally_\xff_x"},
		{14, "", "", ``, "", "tally_a\x00b_x"},
		{7, "", "", `{"credits":1}`, "", "tally_\xc3\x28_x"},
		{19, "", "", `{"plan":"gold"}`, "", ""},
		{19, "", "", `{"plan":"free","time_zone":"Mars/Olympus"}`, "", ""},
		{20, "", "", `{"plan":"basic","billing":"week"}`, "", ""},
		{21, "", "", ``, "", ""},
		{22, "", "", ``, "", ""},
		{23, "", "", `{"at":"later"}`, "", ""},
		{24, "", "", `{"memo":"a\u0000b"}`, "", ""},
		{25, "", "", `{"expires_at":"soon"}`, "", ""},
		{25, "", "", `{"expires_at":null}`, "", ""},
		{26, "", "prefix=ac&limit=1", ``, "", ""},
		{26, "", "prefix=%00&cursor=%ff&limit=501", ``, "", ""},
		{27, "", "status=completed&model=flux-dev&limit=2", ``, "", ""},
		{27, "", "status=done&cursor=a%20b", ``, "", ""},
		{28, "", "limit=1&cursor=ZTE6MQ", ``, "", ""},
		{29, "", "", `{"credits":1,"memo":"fuzz","reason":"fuzz"}`, "", ""},
		{29, "", "", `{"credits":1,"reason":"a\u0000b"}`, "", ""},
		{5, "", "", `{"reason":"fuzz"}`, "", ""},
		{8, "", "", `{"reason":"` + strings.Repeat("x", 501) + `"}`, "", ""},
		{30, "", "at=2026-12-01", ``, "", ""},
		{30, "", "at=2026-12-01T12:00:00Z", ``, "", ""},
		{31, "", "from=2026-11-01&to=2026-12-02&group_by=source", ``, "", ""},
		{31, "", "from=2026-12-02&to=2025-01-01&group_by=week", ``, "", ""},
		{32, "", "version=2026-11-24.seed&from=2026-11-01&to=2026-12-02", ``, "", ""},
		{32, "", "version=nope&from=x&to=", ``, "", ""},
	} {
		f.Add(seed.route, seed.id, seed.query, []byte(seed.body), seed.idempotencyKey, seed.token)
	}
	db := open(f)
	e := mustLedgerServerOn(f, db, httpapi.Config{Catalog: catalog.Default(), Catalogs: db.(credit.CatalogStore)})
	e.Account("acme", "10", "1000")
	gen := e.Generation(`{"account":"acme","model":"flux-dev","images":2}`)
	hold := e.Want(e.Do(http.MethodPost, "/v1/accounts/acme/holds", adminKey, `{"credits":4}`), http.StatusCreated, "hold")["id"].(string)
	// length counts the account's journal and the audit log, page by page.
	length := func(tb testing.TB) (journal, audit int) {
		ctx := context.Background()
		for before := int64(0); ; {
			es, err := e.Ledger.Entries(ctx, "acme", before, 500)
			if err != nil {
				tb.Fatal(err)
			}
			journal += len(es)
			if len(es) < 500 {
				break
			}
			before = es[len(es)-1].ID
		}
		for before := int64(0); ; {
			log, err := e.Ledger.Audit(ctx, before, credit.MaxAuditPage)
			if err != nil {
				tb.Fatal(err)
			}
			audit += len(log)
			if len(log) < credit.MaxAuditPage {
				break
			}
			before = log[len(log)-1].ID
		}
		return journal, audit
	}
	f.Cleanup(func() { e.With(f).Verify() })

	f.Fuzz(func(t *testing.T, route uint8, id, query string, body []byte, idempotencyKey, token string) {
		r := ledgerFuzzRoutes[int(route)%len(ledgerFuzzRoutes)]
		if id == "" {
			id = strings.NewReplacer("{gen}", gen, "{hold}", hold).Replace(r.id)
		}
		// The id travels percent-encoded, as a client sends it; the router
		// decodes it.
		path := strings.ReplaceAll(r.path, "{id}", url.PathEscape(id))
		if query != "" {
			// Parameters reach the handlers decoded; a request line that is
			// not valid HTTP is refused by net/http before any handler.
			q, err := url.ParseQuery(query)
			if err != nil {
				return
			}
			path += "?" + q.Encode()
		}
		if token == "" {
			token = adminKey
		}
		req := httptest.NewRequest(r.method, path, bytes.NewReader(body))
		if len(body) > 0 {
			req.Header.Set("Content-Type", "application/json")
		}
		// Set as given: net/http's server refuses a NUL or a line break in a
		// header before any handler, but the handlers must not depend on it.
		req.Header["Authorization"] = []string{"Bearer " + token}
		if idempotencyKey != "" {
			req.Header["Idempotency-Key"] = []string{idempotencyKey}
		}
		j0, a0 := length(t)
		rec := httptest.NewRecorder()
		e.Server.ServeHTTP(rec, req)
		what := fmt.Sprintf("%s %s %q (Idempotency-Key %+q, token %+q)", r.method, path, body, idempotencyKey, token)
		switch {
		case rec.Code >= 500:
			t.Fatalf("%s = %d; want no 5xx\n%s", what, rec.Code, rec.Body)
		case rec.Code >= 400:
			var p struct {
				Code string `json:"code"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Code == "" {
				t.Errorf("%s = %d without a problem code: %s", what, rec.Code, rec.Body)
			}
			if j1, a1 := length(t); j1 != j0 || a1 != a0 {
				t.Errorf("%s = %d, yet the journal went %d → %d entries and the audit log %d → %d", what, rec.Code, j0, j1, a0, a1)
			}
		}
	})
}
