package webhook_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/webhook"
)

// TestCheckURL runs the guard on URLs whose hosts are IP literals or
// "localhost" (resolved from /etc/hosts by the system's resolver): no
// query leaves the machine.
func TestCheckURL(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		url    string
		reason string // "": allowed
		// private marks the refusals that allowPrivate lifts.
		private bool
	}{
		{"https://93.184.216.34/", "", false},
		{"http://93.184.216.34:8080/hooks?x=1", "", false},
		{"https://[2606:2800:220:1:248:1893:25c8:1946]/hook", "", false},
		{"http://127.0.0.1/", "webhook_url_private", true},
		{"http://127.1.2.3:9000/x", "webhook_url_private", true},
		{"http://10.0.0.1/", "webhook_url_private", true},
		{"http://172.16.5.4/", "webhook_url_private", true},
		{"http://192.168.1.1/", "webhook_url_private", true},
		{"http://[::1]/", "webhook_url_private", true},
		{"http://169.254.169.254/latest/meta-data/", "webhook_url_private", true},
		{"http://[fe80::1]/", "webhook_url_private", true},
		{"http://[fd00::1]/", "webhook_url_private", true},
		{"http://0.0.0.0/", "webhook_url_private", true},
		{"http://0.1.2.3/", "webhook_url_private", true},
		{"http://100.64.0.1/", "webhook_url_private", true},
		{"http://224.0.0.1/", "webhook_url_private", true},
		{"http://255.255.255.255/", "webhook_url_private", true},
		{"http://[::ffff:127.0.0.1]/", "webhook_url_private", true},
		{"http://[::ffff:10.1.1.1]/", "webhook_url_private", true},
		{"http://[64:ff9b::a9fe:a9fe]/", "webhook_url_private", true}, // NAT64 of 169.254.169.254
		{"http://[2002:7f00:1::]/", "webhook_url_private", true},      // 6to4 of 127.0.0.1
		{"http://localhost/", "webhook_url_private", true},
		{"http://localhost:8080/hook", "webhook_url_private", true},
		{"ftp://93.184.216.34/", "invalid_webhook_url", false},
		{"file:///etc/passwd", "invalid_webhook_url", false},
		{"/hooks", "invalid_webhook_url", false},
		{"93.184.216.34/hooks", "invalid_webhook_url", false},
		{"https:93.184.216.34", "invalid_webhook_url", false},
		{"https://", "invalid_webhook_url", false},
		{"https://:443/", "invalid_webhook_url", false},
		{"https://user:pass@93.184.216.34/", "invalid_webhook_url", false},
		{"https://user@93.184.216.34/", "invalid_webhook_url", false},
		{"https://93.184.216.34:0/", "invalid_webhook_url", false},
		{"https://93.184.216.34:70000/", "invalid_webhook_url", false},
		{"https://93.184.216.34/%zz", "invalid_webhook_url", false},
		{"https://93.184.216.34/" + strings.Repeat("a", 2048-len("https://93.184.216.34/")), "", false},
		{"https://93.184.216.34/" + strings.Repeat("a", 2049-len("https://93.184.216.34/")), "invalid_webhook_url", false},
	} {
		err := webhook.CheckURL(ctx, tc.url, false)
		if got := credit.ErrorReason(err); got != tc.reason {
			t.Errorf("CheckURL(%.60q, false) = %v (%s); want %q", tc.url, err, got, tc.reason)
			continue
		}
		if err != nil && credit.ErrorCode(err) != credit.Invalid {
			t.Errorf("CheckURL(%.60q, false) code = %s; want %s", tc.url, credit.ErrorCode(err), credit.Invalid)
		}
		want := tc.reason
		if tc.private {
			want = ""
		}
		if got := credit.ErrorReason(webhook.CheckURL(ctx, tc.url, true)); got != want {
			t.Errorf("CheckURL(%.60q, true) = %s; want %q", tc.url, got, want)
		}
	}
}

func TestPrivate(t *testing.T) {
	for _, tc := range []struct {
		addr    string
		private bool
	}{
		{"8.8.8.8", false},
		{"93.184.216.34", false},
		{"100.63.255.255", false},
		{"100.128.0.0", false},
		{"172.32.0.1", false},
		{"2606:4700::1111", false},
		{"::ffff:8.8.8.8", false},
		{"64:ff9b::808:808", false}, // NAT64 of 8.8.8.8
		{"127.0.0.1", true},
		{"10.255.255.255", true},
		{"172.31.0.1", true},
		{"192.168.0.1", true},
		{"169.254.0.1", true},
		{"100.64.0.0", true},
		{"100.127.255.255", true},
		{"0.0.0.0", true},
		{"0.255.255.255", true},
		{"239.1.1.1", true},
		{"240.0.0.1", true},
		{"::", true},
		{"::1", true},
		{"fc00::1", true},
		{"fdff::1", true},
		{"fe80::1%eth0", true},
		{"ff02::1", true},
		{"::ffff:192.168.0.1", true},
		{"::ffff:169.254.169.254", true},
	} {
		if got := webhook.Private(netip.MustParseAddr(tc.addr)); got != tc.private {
			t.Errorf("Private(%s) = %v; want %v", tc.addr, got, tc.private)
		}
	}
}

// TestClientRefusesPrivate: the guard's second half, at connect time. A
// client without allowPrivate never reaches a server on 127.0.0.1 however
// the URL names it (here, an address the URL check never saw), and no
// client follows a redirect.
func TestClientRefusesPrivate(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/moved" {
			http.Redirect(w, r, "/elsewhere", http.StatusFound)
		}
	}))
	defer srv.Close()

	resp, err := webhook.NewClient(false).Post(srv.URL, "application/json", strings.NewReader("{}"))
	if err == nil {
		resp.Body.Close()
		t.Fatalf("NewClient(false).Post(%s) = %s; want a refusal", srv.URL, resp.Status)
	}
	if !strings.Contains(err.Error(), "127.0.0.1") || !strings.Contains(err.Error(), "public addresses only") {
		t.Errorf("NewClient(false).Post(%s) = %v; want it to name the address and why", srv.URL, err)
	}
	if n := hits.Load(); n != 0 {
		t.Errorf("server hit %d times; want 0", n)
	}

	resp, err = webhook.NewClient(true).Post(srv.URL+"/moved", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatalf("NewClient(true).Post(/moved) = %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || hits.Load() != 1 {
		t.Errorf("NewClient(true).Post(/moved) = %s after %d requests; want 302 Found after 1 (no redirect followed)", resp.Status, hits.Load())
	}
}
