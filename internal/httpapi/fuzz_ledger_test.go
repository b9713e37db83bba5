package httpapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/tally-credits/tally/internal/credit"
)

// ledgerFuzzRoutes are the ledger routes FuzzLedgerQuery aims at; {gen}
// and {hold} are a generation and a hold made before fuzzing.
var ledgerFuzzRoutes = []struct{ method, path string }{
	{http.MethodPost, "/v1/accounts"},
	{http.MethodPost, "/v1/accounts/acme/grants"},
	{http.MethodPost, "/v1/accounts/acme/holds"},
	{http.MethodPost, "/v1/generations"},
	{http.MethodPost, "/v1/generations/{gen}/complete"},
	{http.MethodPost, "/v1/generations/{gen}/fail"},
	{http.MethodPost, "/v1/generations/{gen}/refund"},
	{http.MethodPost, "/v1/holds/{hold}/capture"},
	{http.MethodPost, "/v1/holds/{hold}/release"},
	{http.MethodGet, "/v1/accounts/acme/entries"},
	{http.MethodGet, "/v1/accounts/acme/usage"},
	{http.MethodGet, "/v1/models"},
	{http.MethodGet, "/v1/audit"},
	{http.MethodGet, "/v1/catalog"},
}

// FuzzLedgerQuery sends arbitrary bodies and query strings to the ledger's
// routes through the real handlers, on a real SQLite file, with the admin
// key. Whatever the input: never a 5xx or a panic; every 4xx is a problem with
// a code; and a refused request writes nothing (the account's journal and the
// audit log keep their length). The journal verifies at the end.
func FuzzLedgerQuery(f *testing.F) {
	for _, seed := range []struct {
		route       uint8
		query, body string
	}{
		{0, "", `{"id":"fuzz-1"}`},
		{0, "", `{"id":"has space"}`},
		{1, "", `{"credits":12.5,"source":"promo","expires_at":"2030-01-01T00:00:00Z"}`},
		{1, "", `{"credits":1.2345,"source":"topup"}`},
		{1, "", `{"credits":-1,"source":"gift"}`},
		{2, "", `{"credits":3}`},
		{3, "", `{"account":"acme","model":"nano-banana-2","resolution":"2K","images":2}`},
		{3, "", `{"account":"acme","model":"topaz","scale":2,"input_width":1920,"input_height":1080}`},
		{3, "", `{"account":"nobody","model":"flux-dev"}`},
		{3, "", `{"account":"acme","model":"flux-dev","hold_ttl_seconds":-5}`},
		{4, "", `{"images_delivered":1}`},
		{4, "", `{"images_delivered":99}`},
		{5, "", ``},
		{6, "", `{}`},
		{7, "", `{"credits":1}`},
		{8, "", ``},
		{9, "limit=2", ``},
		{9, "cursor=bm9wZQ&limit=0", ``},
		{10, "group_by=day&from=2026-01-01T00:00:00Z", ``},
		{10, "group_by=weekday", ``},
		{11, "resolution=4K&aspect_ratio=21:9&images=3", ``},
		{11, "supports=everything", ``},
		{12, "limit=501", ``},
		{13, "", ``},
	} {
		f.Add(seed.route, seed.query, []byte(seed.body))
	}
	e := MustLedgerServer(f)
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

	f.Fuzz(func(t *testing.T, route uint8, query string, body []byte) {
		r := ledgerFuzzRoutes[int(route)%len(ledgerFuzzRoutes)]
		path := strings.NewReplacer("{gen}", gen, "{hold}", hold).Replace(r.path)
		if query != "" {
			// Parameters reach the handlers decoded; a request line that is
			// not valid HTTP is refused by net/http before any handler.
			q, err := url.ParseQuery(query)
			if err != nil {
				return
			}
			path += "?" + q.Encode()
		}
		j0, a0 := length(t)
		resp := e.With(t).Do(r.method, path, adminKey, string(body))
		switch {
		case resp.status >= 500:
			t.Fatalf("%s %s %q = %d; want no 5xx\n%s", r.method, path, body, resp.status, resp.body)
		case resp.status >= 400:
			var p struct {
				Code string `json:"code"`
			}
			if err := json.Unmarshal(resp.body, &p); err != nil || p.Code == "" {
				t.Errorf("%s %s %q = %d without a problem code: %s", r.method, path, body, resp.status, resp.body)
			}
			if j1, a1 := length(t); j1 != j0 || a1 != a0 {
				t.Errorf("%s %s %q = %d, yet the journal went %d → %d entries and the audit log %d → %d", r.method, path, body, resp.status, j0, j1, a0, a1)
			}
		}
	})
}
