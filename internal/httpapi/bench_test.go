package httpapi_test

import (
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tally-credits/tally/internal/credit"
)

// BenchmarkServe measures requests over loopback HTTP against the real server
// with a ledger on SQLite, as tally serve runs: /healthz is the baseline (HTTP
// itself), /v1/quotes the pricing path, and Generation the Create button as
// the studio's backend sends it (a service key, an Idempotency-Key):
// POST /v1/generations, then POST /v1/generations/{id}/complete for its
// images, one op per cycle. Their ratios to /healthz, measured in the same
// run, are what BENCHMARKS.md reports.
func BenchmarkServe(b *testing.B) {
	e := MustLedgerServer(b)
	const accounts = 64
	for i := range accounts {
		e.Account(fmt.Sprintf("acct%02d", i), "", "1000000000")
	}
	key := e.Key(credit.ScopeService, "")
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	client := &http.Client{Transport: tr}
	b.Cleanup(tr.CloseIdleConnections)
	send := func(b *testing.B, method, path, key, idem, body string, status int) []byte {
		req, _ := http.NewRequest(method, e.TS.URL+path, strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		if idem != "" {
			req.Header.Set("Idempotency-Key", idem)
		}
		resp, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != status {
			b.Fatalf("%s %s = %d; want %d\n%s", method, path, resp.StatusCode, status, out)
		}
		return out
	}
	var n atomic.Int64
	cases := []struct {
		name string
		op   func(b *testing.B)
	}{
		{"Healthz", func(b *testing.B) { send(b, http.MethodGet, "/healthz", "", "", "", http.StatusOK) }},
		{"Quote", func(b *testing.B) {
			send(b, http.MethodPost, "/v1/quotes", "", "", `{"model":"nano-banana-2","resolution":"2K","aspect_ratio":"16:9","images":4}`, http.StatusOK)
		}},
		{"Generation", func(b *testing.B) {
			i := n.Add(1)
			body := fmt.Sprintf(`{"account":"acct%02d","model":"flux-dev","images":2}`, i%accounts)
			g := send(b, http.MethodPost, "/v1/generations", key, fmt.Sprintf("create-%d", i), body, http.StatusCreated)
			id, _, _ := strings.Cut(string(g[strings.Index(string(g), `"id":"`)+6:]), `"`)
			send(b, http.MethodPost, "/v1/generations/"+id+"/complete", key, fmt.Sprintf("complete-%d", i), `{"images_delivered":2}`, http.StatusOK)
		}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					c.op(b)
				}
			})
		})
	}
}
