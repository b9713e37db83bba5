package httpapi_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// BenchmarkServe measures requests over loopback HTTP against the real server:
// /healthz is the baseline (HTTP itself), /v1/quotes the pricing path. Their
// ratio is what BENCHMARKS.md reports.
func BenchmarkServe(b *testing.B) {
	_, ts := MustServer(b)
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	client := &http.Client{Transport: tr}
	b.Cleanup(tr.CloseIdleConnections)
	cases := []struct {
		name, method, path, body string
	}{
		{"Healthz", http.MethodGet, "/healthz", ""},
		{"Quote", http.MethodPost, "/v1/quotes", `{"model":"nano-banana-2","resolution":"2K","aspect_ratio":"16:9","images":4}`},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					req, _ := http.NewRequest(c.method, ts.URL+c.path, strings.NewReader(c.body))
					if c.body != "" {
						req.Header.Set("Content-Type", "application/json")
					}
					resp, err := client.Do(req)
					if err != nil {
						b.Fatal(err)
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						b.Fatalf("%s %s = %d", c.method, c.path, resp.StatusCode)
					}
				}
			})
		})
	}
}
