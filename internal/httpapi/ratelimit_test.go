package httpapi_test

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/httpapi"
)

// TestRateLimit: at 1 request a second (bursts of 2) per key and per address,
// the third request in a row is refused with 429 rate_limited and a
// Retry-After, another key is not affected, and refused keys are charged to
// the address, so guessing keys is bounded too. (No time is asserted: the
// buckets refill at 1 a second, far slower than the test sends.)
func TestRateLimit(t *testing.T) {
	e := mustLedgerServer(t, httpapi.Config{Catalog: catalog.Default(), RateLimit: httpapi.RateLimit{PerKey: 1, PerIP: 1}})
	a, b := e.Key(credit.ScopeService, ""), e.Key(credit.ScopeService, "")
	wantLimited := func(r response, what string) {
		t.Helper()
		if r.status != http.StatusTooManyRequests {
			t.Fatalf("%s = %d; want 429", what, r.status)
		}
		if code, _ := object(t, r.body)["code"].(string); code != "rate_limited" {
			t.Errorf("%s: code %q; want rate_limited", what, code)
		}
		if s, err := strconv.Atoi(r.header.Get("Retry-After")); err != nil || s < 1 {
			t.Errorf("%s: Retry-After %q; want whole seconds ≥ 1", what, r.header.Get("Retry-After"))
		}
	}
	get := func(key string) response { return e.Do(http.MethodGet, "/v1/audit", key, "") }

	// Key a: two in a burst, then 429 (a service key gets 403 on the audit
	// log, which still counts: the key was verified and used).
	for i := range 2 {
		if r := get(a); r.status != http.StatusForbidden {
			t.Fatalf("request %d with key a = %d; want 403 (counted, not limited)", i+1, r.status)
		}
	}
	wantLimited(get(a), "third request with key a")
	// Key b has its own bucket.
	if r := get(b); r.status != http.StatusForbidden {
		t.Errorf("first request with key b = %d; want 403, not limited by key a", r.status)
	}

	// The address: public quotes, two then 429.
	quote := func() response {
		return e.Do(http.MethodPost, "/v1/quotes", "", `{"model":"flux-dev"}`)
	}
	for i := range 2 {
		if r := quote(); r.status != http.StatusOK {
			t.Fatalf("quote %d = %d; want 200", i+1, r.status)
		}
	}
	wantLimited(quote(), "third quote from one address")
	// A wrong key is charged to the address too: it is already spent.
	wantLimited(get("tally_guess_c2VjcmV0"), "a guessed key from a limited address")
}
