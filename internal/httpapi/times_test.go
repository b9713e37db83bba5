package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestExplicitTimes checks that a time the client gives is always taken as
// that time, on both stores: 0001-01-01T00:00:00Z (Go's zero time) is a
// grant expiry in the past and a usage bound like any other, never "absent";
// a plain date is that day's UTC midnight; anything else is refused with the
// formats that are accepted. A zero TTL is likewise refused, not defaulted.
func TestExplicitTimes(t *testing.T) {
	eachStore(t, func(t *testing.T, e *Env) {
		e.Account("alice", "", "100")
		// Usage to read back: a Nano Banana 2 1K image (49, page) charged
		// on 2026-12-01.
		gen := e.Generation(`{"account":"alice","model":"nano-banana-2"}`)
		e.Want(e.Do(http.MethodPost, "/v1/generations/"+gen+"/complete", adminKey, `{"images_delivered":1}`), http.StatusOK, "complete")
		entries := func() string {
			return string(e.Do(http.MethodGet, "/v1/accounts/alice/entries?limit=1000", adminKey, "").body)
		}
		before := entries()

		refused := []struct {
			name, method, path, body string
			code                     string
		}{
			{"ZeroExpiry", "POST", "/v1/accounts/alice/grants", `{"credits":5,"source":"promo","expires_at":"0001-01-01T00:00:00Z"}`, "invalid_expiry"},
			{"ZeroExpiryPlusOne", "POST", "/v1/accounts/alice/grants", `{"credits":5,"source":"promo","expires_at":"0001-01-01T00:00:01Z"}`, "invalid_expiry"},
			{"ZeroExpiryAsDate", "POST", "/v1/accounts/alice/grants", `{"credits":5,"source":"promo","expires_at":"0001-01-01"}`, "invalid_expiry"},
			{"YearZeroExpiry", "POST", "/v1/accounts/alice/grants", `{"credits":5,"source":"promo","expires_at":"0000-12-31T23:00:00Z"}`, "invalid_expiry"},
			{"PastDateExpiry", "POST", "/v1/accounts/alice/grants", `{"credits":5,"source":"promo","expires_at":"2026-12-01"}`, "invalid_expiry"},
			{"WordExpiry", "POST", "/v1/accounts/alice/grants", `{"credits":5,"source":"promo","expires_at":"tomorrow"}`, "invalid_time"},
			{"NoZoneExpiry", "POST", "/v1/accounts/alice/grants", `{"credits":5,"source":"promo","expires_at":"2027-01-01T00:00:00"}`, "invalid_time"},
			{"EmptyExpiry", "POST", "/v1/accounts/alice/grants", `{"credits":5,"source":"promo","expires_at":""}`, "invalid_time"},
			{"NumberExpiry", "POST", "/v1/accounts/alice/grants", `{"credits":5,"source":"promo","expires_at":1893456000}`, "invalid_request"},
			{"ZeroHoldTTL", "POST", "/v1/accounts/alice/holds", `{"credits":1,"ttl_seconds":0}`, "invalid_ttl"},
			{"ZeroGenerationTTL", "POST", "/v1/generations", `{"account":"alice","model":"flux-dev","hold_ttl_seconds":0}`, "invalid_ttl"},
			// from is honoured: with the default to (now) the window spans
			// two thousand years, more than a usage query may.
			{"ZeroFrom", "GET", "/v1/accounts/alice/usage?from=0001-01-01T00:00:00Z", "", "invalid_range"},
			// to is honoured: 30 days before it is before year 1.
			{"ZeroTo", "GET", "/v1/accounts/alice/usage?to=0001-01-01T00:00:00Z", "", "invalid_range"},
			{"YearZeroFrom", "GET", "/v1/accounts/alice/usage?from=0000-12-31T00:00:00Z&to=0001-01-02T00:00:00Z", "", "invalid_range"},
			{"WordFrom", "GET", "/v1/accounts/alice/usage?from=yesterday", "", "invalid_time"},
			{"SlashDate", "GET", "/v1/accounts/alice/usage?from=2026/12/01", "", "invalid_time"},
			{"ShortDate", "GET", "/v1/accounts/alice/usage?from=2026-12-1", "", "invalid_time"},
			{"WordTo", "GET", "/v1/accounts/alice/usage?to=now", "", "invalid_time"},
		}
		for _, c := range refused {
			t.Run(c.name, func(t *testing.T) {
				e := e.With(t)
				p := wantProblem(t, e.Do(c.method, c.path, adminKey, c.body), http.StatusUnprocessableEntity, c.code)
				detail, _ := p["detail"].(string)
				if strings.Contains(detail, "2006") || strings.Contains(detail, "15:04") {
					t.Errorf("detail %q shows a Go layout", detail)
				}
				if c.code == "invalid_time" && (!strings.Contains(detail, "2026-12-01T00:00:00Z") || !strings.Contains(detail, `"2026-12-01"`)) {
					t.Errorf("detail %q does not show both accepted formats with an example", detail)
				}
			})
		}
		e.WantBalance("alice", "51", "0") // 100 − 49
		if after := entries(); after != before {
			t.Errorf("a refused request changed the journal:\nbefore %s\nafter  %s", before, after)
		}

		t.Run("ZeroWindow", func(t *testing.T) {
			e := e.With(t)
			// A window in year 1 is a window: empty, and answered as asked.
			body := e.Want(e.Do(http.MethodGet, "/v1/accounts/alice/usage?from=0001-01-01T00:00:00Z&to=0001-01-02T00:00:00Z", adminKey, ""), http.StatusOK, "usage in year 1")
			if body["from"] != "0001-01-01T00:00:00Z" || body["to"] != "0001-01-02T00:00:00Z" {
				t.Errorf("from, to = %v, %v; want 0001-01-01T00:00:00Z, 0001-01-02T00:00:00Z", body["from"], body["to"])
			}
			if groups := objects(t, body["groups"], "groups"); len(groups) != 0 {
				t.Errorf("groups in year 1 = %v; want none", groups)
			}
		})

		t.Run("DateWindow", func(t *testing.T) {
			e := e.With(t)
			// from=2026-12-01&to=2026-12-02: the whole of 1 December, UTC.
			body := e.Want(e.Do(http.MethodGet, "/v1/accounts/alice/usage?from=2026-12-01&to=2026-12-02", adminKey, ""), http.StatusOK, "usage of a date")
			if body["from"] != "2026-12-01T00:00:00Z" || body["to"] != "2026-12-02T00:00:00Z" {
				t.Errorf("from, to = %v, %v; want 2026-12-01T00:00:00Z, 2026-12-02T00:00:00Z", body["from"], body["to"])
			}
			groups := objects(t, body["groups"], "groups")
			if len(groups) != 1 || groups[0]["key"] != "nano-banana-2" || num(t, groups[0]["charged_credits"], "charged") != "49" {
				t.Errorf("usage of 2026-12-01 = %v; want nano-banana-2 charged 49", groups)
			}
			// The next day, exclusive of the first: nothing.
			body = e.Want(e.Do(http.MethodGet, "/v1/accounts/alice/usage?from=2026-12-02&to=2026-12-03", adminKey, ""), http.StatusOK, "usage of the next date")
			if groups := objects(t, body["groups"], "groups"); len(groups) != 0 {
				t.Errorf("usage of 2026-12-02 = %v; want none", groups)
			}
		})

		t.Run("LastSecondOfYear9999", func(t *testing.T) {
			e := e.With(t)
			body := e.Want(e.Do(http.MethodGet, "/v1/accounts/alice/usage?from=9999-12-01&to=9999-12-31T23:59:59.999999Z", adminKey, ""), http.StatusOK, "usage in year 9999")
			if body["to"] != "9999-12-31T23:59:59.999999Z" {
				t.Errorf("to = %v; want 9999-12-31T23:59:59.999999Z", body["to"])
			}
		})

		t.Run("DateExpiry", func(t *testing.T) {
			e := e.With(t)
			g := e.Want(e.Do(http.MethodPost, "/v1/accounts/alice/grants", adminKey, `{"credits":5,"source":"promo","expires_at":"2027-01-01"}`), http.StatusCreated, "grant expiring on a date")
			if g["expires_at"] != "2027-01-01T00:00:00Z" {
				t.Errorf("expires_at = %v; want 2027-01-01T00:00:00Z", g["expires_at"])
			}
			g = e.Want(e.Do(http.MethodPost, "/v1/accounts/alice/grants", adminKey, `{"credits":5,"source":"promo","expires_at":null}`), http.StatusCreated, "grant with a null expiry")
			if _, ok := g["expires_at"]; ok {
				t.Errorf("expires_at = %v for null; want none (never)", g["expires_at"])
			}
		})

		t.Run("DefaultTTL", func(t *testing.T) {
			e := e.With(t)
			// Absent, the TTL is the default: 15 minutes from now (10:00Z).
			h := e.Want(e.Do(http.MethodPost, "/v1/accounts/alice/holds", adminKey, `{"credits":1}`), http.StatusCreated, "hold")
			if h["expires_at"] != "2026-12-01T10:15:00Z" {
				t.Errorf("hold expires_at = %v; want 2026-12-01T10:15:00Z", h["expires_at"])
			}
		})
		e.Verify()
	})
}
