package httpapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
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
