package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/httpapi"
)

// FuzzQuoteRequest sends arbitrary bodies to POST /v1/quotes through the real
// handler. Whatever the body, the answer is a quote whose lines add up, or a
// 4xx problem with a code: never a 5xx, never a panic.
func FuzzQuoteRequest(f *testing.F) {
	for _, body := range []string{
		`{"model":"nano-banana-2","resolution":"2K"}`,
		`{"model":"nano-banana-pro","resolution":"4K","aspect_ratio":"16:9","images":3}`,
		`{"model":"nano banana 2","prompt_enhancer":true,"images":4}`,
		`{"model":"topaz","scale":2,"input_width":1920,"input_height":1080}`,
		`{"model":"topaz","scale":4,"input_width":16384,"input_height":16384}`,
		`{"model":"magnific-precision-v2","scale":16}`,
		`{"model":"personalize-core","operation":"create","aspect_ratio":"5:4"}`,
		// The signature and IHDR of a 1920×1080 PNG: the header is all that is read.
		`{"model":"topaz","scale":2,"input_image":"iVBORw0KGgoAAAANSUhEUgAAB4AAAAQ4CAAAAADNuJ6f"}`,
		// A whole 8×6 JPEG, and a GIF's header and color table (640×480).
		`{"model":"magnific-precision-v2","scale":4,"input_image":"/9j/2wCEAP////////////////////////////////////////////////////////////////////////////////////8B///////////////////////////////////////////////////////////////////////////////////////AAAsIAAYACAEBEQD/xADSAAABBQEBAQEBAQAAAAAAAAAAAQIDBAUGBwgJCgsQAAIBAwMCBAMFBQQEAAABfQECAwAEEQUSITFBBhNRYQcicRQygZGhCCNCscEVUtHwJDNicoIJChYXGBkaJSYnKCkqNDU2Nzg5OkNERUZHSElKU1RVVldYWVpjZGVmZ2hpanN0dXZ3eHl6g4SFhoeIiYqSk5SVlpeYmZqio6Slpqeoqaqys7S1tre4ubrCw8TFxsfIycrS09TV1tfY2drh4uPk5ebn6Onq8fLz9PX29/j5+v/aAAgBAQAAPwCOv//Z"}`,
		`{"model":"topaz","scale":3,"input_image":"R0lGODlhgALgAYAAAAAAAP///w=="}`,
		`{"model":"recraft-v4","resolution":"2K"}`,
		`{"model":"flux-dev","images":-1}`,
		`{"model":"flux-dev","images":0}`,
		`{"model":"flux-dev\u0000"}`,
		"{\"model\":\"\xff\"}",
		`{"model":"flux-dev","account":"a\u0000b"}`,
		`{"model":"\u202eflux-dev"}`,
		`{"model":"flux-dev","colour":"red"}`,
		`{"model":"nano-banana-2","resolu`,
		`[{"model":"flux-dev"}]`,
		`{"model":"flux-dev","images":"four"}`,
		`{"model":"topaz","scale":2,"input_width":0,"input_height":5}`,
		``,
		`null`,
	} {
		f.Add([]byte(body))
	}
	s := httpapi.New(catalog.Default(), "test", nil)
	f.Fuzz(func(t *testing.T, body []byte) {
		req := httptest.NewRequest(http.MethodPost, "/v1/quotes", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)

		switch {
		case rec.Code == http.StatusOK:
			var q httpapi.Quote
			if err := json.Unmarshal(rec.Body.Bytes(), &q); err != nil {
				t.Fatalf("POST /v1/quotes %q: 200 body does not decode into Quote: %v\n%s", body, err, rec.Body)
			}
			if q.TotalCredits < 0 {
				t.Errorf("POST /v1/quotes %q: total_credits = %v; want ≥ 0", body, q.TotalCredits)
			}
			var sum credit.Credits
			for _, l := range q.Lines {
				sum += l.Credits
			}
			if sum != q.TotalCredits {
				t.Errorf("POST /v1/quotes %q: lines sum to %v; want total_credits %v", body, sum, q.TotalCredits)
			}
			if q.Model == "" || q.CatalogVersion == "" || len(q.Lines) == 0 {
				t.Errorf("POST /v1/quotes %q: quote lacks model, catalog_version or lines: %s", body, rec.Body)
			}
		case rec.Code >= 400 && rec.Code < 500:
			if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
				t.Errorf("POST /v1/quotes %q: status %d Content-Type = %q; want application/problem+json", body, rec.Code, ct)
			}
			var p struct {
				Code   string `json:"code"`
				Status int    `json:"status"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
				t.Fatalf("POST /v1/quotes %q: status %d body is not a problem: %v\n%s", body, rec.Code, err, rec.Body)
			}
			if p.Code == "" {
				t.Errorf("POST /v1/quotes %q: status %d problem has no code: %s", body, rec.Code, rec.Body)
			}
			if p.Status != rec.Code {
				t.Errorf("POST /v1/quotes %q: problem status = %d; want the HTTP status %d", body, p.Status, rec.Code)
			}
		default:
			t.Errorf("POST /v1/quotes %q: status = %d; want 200 or 4xx\n%s", body, rec.Code, rec.Body)
		}
	})
}

// FuzzLedgerRequest sends arbitrary bodies to the ledger's mutating routes
// through the real handler and a real SQLite store (FuzzLedgerRequestPostgres:
// PostgreSQL). Whatever the body, the answer is a 200/201 or a 4xx problem
// with a code, never a 5xx nor a panic, and the ledger's invariants hold.
func FuzzLedgerRequest(f *testing.F) { fuzzLedgerRequest(f, mustOpenSQLite) }

// FuzzLedgerRequestPostgres is FuzzLedgerRequest on a PostgreSQL database
// (TALLY_TEST_POSTGRES), whose text type refuses bytes SQLite keeps.
func FuzzLedgerRequestPostgres(f *testing.F) { fuzzLedgerRequest(f, mustOpenPostgres) }

func fuzzLedgerRequest(f *testing.F, open func(testing.TB) credit.Store) {
	root := mustLedgerServerOn(f, open(f), httpapi.Config{Catalog: catalog.Default()})
	root.Account("fuzz", "10", "1000000")
	routes := []string{"/v1/accounts", "/v1/accounts/fuzz/grants", "/v1/accounts/fuzz/holds", "/v1/generations", "/v1/holds/{hold}/capture", "/v1/generations/{gen}/complete", "/v1/generations/{done}/refund"}
	for _, c := range []struct {
		route uint8
		body  string
	}{
		{0, `{"id":"someone","overdraft_credits":5}`},
		{0, `{"id":"a b"}`},
		{1, `{"credits":73.5,"source":"promo","expires_at":"2030-01-01T00:00:00Z","priority":3,"memo":"x"}`},
		{1, `{"credits":1.2345,"source":"topup"}`},
		{1, `{"credits":-0,"source":"topup"}`},
		{1, `{"credits":1e-3,"source":"refund"}`},
		{2, `{"credits":0.001,"ttl_seconds":1}`},
		{2, `{"credits":99999999999999999999}`},
		{3, `{"account":"fuzz","model":"nano-banana-2","resolution":"2K","images":4,"hold_ttl_seconds":30}`},
		{3, `{"account":"fuzz","model":"topaz","scale":2,"input_width":1920,"input_height":1080}`},
		{4, `{"credits":0.5}`},
		{4, ``},
		{5, `{"images_delivered":1}`},
		{6, `{"credits":0.001}`},
		{6, `null`},
		// Bytes no store can hold, characters no id may have, zero amounts.
		{0, `{"id":"a\u0000b"}`},
		{0, "{\"id\":\"\xff\"}"},
		{0, `{"id":"fuzz\u200b"}`},
		{0, `{"id":"\u202efuzz"}`},
		{0, `{"id":"."}`},
		{1, `{"credits":5,"source":"topup","memo":"a\u0000b"}`},
		{1, "{\"credits\":5,\"source\":\"topup\",\"memo\":\"\xc3\x28\"}"},
		{2, `{"credits":0}`},
		{3, `{"account":"a\u0000b","model":"flux-dev"}`},
		{3, `{"account":"fuzz","model":"flux-dev","images":0}`},
		{4, `{"credits":0}`},
		{6, `{"credits":0}`},
	} {
		f.Add(c.route, []byte(c.body))
	}
	n := 0
	f.Fuzz(func(t *testing.T, route uint8, body []byte) {
		e := root.With(t)
		gen := e.Generation(`{"account":"fuzz","model":"flux-dev","images":2}`)
		done := e.Generation(`{"account":"fuzz","model":"flux-dev","images":2}`)
		e.Want(e.Do(http.MethodPost, "/v1/generations/"+done+"/complete", adminKey, `{"images_delivered":2}`), http.StatusOK, "complete")
		h := e.Want(e.Do(http.MethodPost, "/v1/accounts/fuzz/holds", adminKey, `{"credits":1}`), http.StatusCreated, "hold")
		path := strings.NewReplacer("{gen}", gen, "{done}", done, "{hold}", h["id"].(string)).Replace(routes[int(route)%len(routes)])

		req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+adminKey)
		rec := httptest.NewRecorder()
		e.Server.ServeHTTP(rec, req)
		switch {
		case rec.Code == http.StatusOK || rec.Code == http.StatusCreated:
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("POST %s %q: status %d Content-Type = %q; want application/json", path, body, rec.Code, ct)
			}
		case rec.Code >= 400 && rec.Code < 500:
			var p struct {
				Code   string `json:"code"`
				Status int    `json:"status"`
			}
			if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || p.Code == "" || p.Status != rec.Code {
				t.Errorf("POST %s %q: status %d body is not a problem with a code: %v\n%s", path, body, rec.Code, err, rec.Body)
			}
		default:
			t.Errorf("POST %s %q: status = %d; want 200, 201 or 4xx\n%s", path, body, rec.Code, rec.Body)
		}
		if n++; n%50 == 1 {
			e.Verify()
		}
	})
}
