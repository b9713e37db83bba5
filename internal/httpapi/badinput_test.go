package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestLedgerBadInput sends requests that can never succeed, or not now, and
// checks that each answers a 4xx problem with a stable code and writes
// nothing: balances, the journal and the ledger's invariants are unchanged.
func TestLedgerBadInput(t *testing.T) {
	e := MustLedgerServer(t)
	e.Account("alice", "", "100")
	held := e.Generation(`{"account":"alice","model":"flux-dev","images":2}`) // 10 held
	done := e.Generation(`{"account":"alice","model":"flux-dev"}`)
	e.Want(e.Do(http.MethodPost, "/v1/generations/"+done+"/complete", adminKey, `{"images_delivered":1}`), http.StatusOK, "complete")
	failed := e.Generation(`{"account":"alice","model":"flux-dev"}`)
	e.Want(e.Do(http.MethodPost, "/v1/generations/"+failed+"/fail", adminKey, ""), http.StatusOK, "fail")
	hold := func(body string) string {
		h := e.Want(e.Do(http.MethodPost, "/v1/accounts/alice/holds", adminKey, body), http.StatusCreated, "hold")
		return str(t, h["id"], "id")
	}
	open := hold(`{"credits":20}`)
	released := hold(`{"credits":3}`)
	e.Want(e.Do(http.MethodPost, "/v1/holds/"+released+"/release", adminKey, ""), http.StatusOK, "release")
	expired := hold(`{"credits":4,"ttl_seconds":1}`)
	expiredGen := e.Generation(`{"account":"alice","model":"flux-dev","hold_ttl_seconds":1}`)
	// Let the two short holds pass their TTL, but not the others. Reading the
	// account settles them: that write happens before the baseline.
	e.Clock.Add(2 * time.Second)
	e.WantBalance("alice", "65", "30") // 100 − 5 charged, 10 + 20 held
	entries := func() string {
		return string(e.Do(http.MethodGet, "/v1/accounts/alice/entries?limit=1000", adminKey, "").body)
	}
	before := entries()
	past := start.Add(-time.Hour).Format(time.RFC3339)

	cases := []struct {
		name, method, path, body string
		status                   int
		code                     string
	}{
		{"NegativeGrant", "POST", "/v1/accounts/alice/grants", `{"credits":-5,"source":"topup"}`, 422, "invalid_amount"},
		{"ZeroGrant", "POST", "/v1/accounts/alice/grants", `{"credits":0,"source":"topup"}`, 422, "invalid_amount"},
		{"FourDecimals", "POST", "/v1/accounts/alice/grants", `{"credits":1.2345,"source":"topup"}`, 422, "invalid_amount"},
		{"FourDecimalsExponent", "POST", "/v1/accounts/alice/grants", `{"credits":12345e-4,"source":"topup"}`, 422, "invalid_amount"},
		{"NonNumeric", "POST", "/v1/accounts/alice/grants", `{"credits":"abc","source":"topup"}`, 422, "invalid_request"},
		{"NumericString", "POST", "/v1/accounts/alice/grants", `{"credits":"5","source":"topup"}`, 422, "invalid_request"},
		{"HugeGrant", "POST", "/v1/accounts/alice/grants", `{"credits":1e30,"source":"topup"}`, 422, "invalid_amount"},
		{"UnknownSource", "POST", "/v1/accounts/alice/grants", `{"credits":5,"source":"gift"}`, 422, "unknown_source"},
		{"PastExpiry", "POST", "/v1/accounts/alice/grants", `{"credits":5,"source":"promo","expires_at":"` + past + `"}`, 422, "invalid_expiry"},
		{"BadExpiry", "POST", "/v1/accounts/alice/grants", `{"credits":5,"source":"promo","expires_at":"tomorrow"}`, 422, "invalid_time"},
		{"NegativePriority", "POST", "/v1/accounts/alice/grants", `{"credits":5,"source":"promo","priority":-1}`, 422, "invalid_priority"},
		{"GrantUnknownAccount", "POST", "/v1/accounts/nobody/grants", `{"credits":5,"source":"topup"}`, 404, "unknown_account"},
		{"UnknownField", "POST", "/v1/accounts/alice/grants", `{"credits":5,"source":"topup","colour":"red"}`, 422, "unknown_field"},
		{"MalformedJSON", "POST", "/v1/accounts/alice/grants", `{"credits":5,`, 400, "invalid_json"},
		{"MissingBody", "POST", "/v1/accounts/alice/grants", ``, 400, "missing_body"},

		{"AccountExists", "POST", "/v1/accounts", `{"id":"alice"}`, 409, "account_exists"},
		{"AccountIDSpace", "POST", "/v1/accounts", `{"id":"a b"}`, 422, "invalid_account_id"},
		{"AccountIDEmpty", "POST", "/v1/accounts", `{"id":""}`, 422, "invalid_account_id"},
		{"AccountIDPlatform", "POST", "/v1/accounts", `{"id":"platform"}`, 422, "reserved_account_id"},
		{"AccountIDDot", "POST", "/v1/accounts", `{"id":"."}`, 422, "invalid_account_id"},
		{"AccountIDDotDot", "POST", "/v1/accounts", `{"id":".."}`, 422, "invalid_account_id"},
		{"AccountIDZeroWidth", "POST", "/v1/accounts", `{"id":"alice\u200b"}`, 422, "invalid_account_id"},
		{"AccountIDBidi", "POST", "/v1/accounts", `{"id":"\u202ealice"}`, 422, "invalid_account_id"},
		{"AccountIDNoBreakSpace", "POST", "/v1/accounts", `{"id":"ali\u00a0ce"}`, 422, "invalid_account_id"},
		{"AccountID129", "POST", "/v1/accounts", `{"id":"` + strings.Repeat("é", 129) + `"}`, 422, "invalid_account_id"},
		{"NulMemo", "POST", "/v1/accounts/alice/grants", `{"credits":5,"source":"topup","memo":"a\u0000b"}`, 422, "invalid_memo"},
		{"LongMemo", "POST", "/v1/accounts/alice/grants", `{"credits":5,"source":"topup","memo":"` + strings.Repeat("x", 1001) + `"}`, 422, "invalid_memo"},
		{"NegativeOverdraft", "POST", "/v1/accounts", `{"id":"zed","overdraft_credits":-1}`, 422, "invalid_amount"},

		{"NegativeHold", "POST", "/v1/accounts/alice/holds", `{"credits":-1}`, 422, "invalid_amount"},
		{"ZeroHold", "POST", "/v1/accounts/alice/holds", `{"credits":0}`, 422, "invalid_amount"},
		{"HoldTooMuch", "POST", "/v1/accounts/alice/holds", `{"credits":65.001}`, 402, "insufficient_credits"},
		{"HoldUnknownAccount", "POST", "/v1/accounts/nobody/holds", `{"credits":1}`, 404, "unknown_account"},
		{"HoldLongTTL", "POST", "/v1/accounts/alice/holds", `{"credits":1,"ttl_seconds":86401}`, 422, "invalid_ttl"},
		{"HoldNegativeTTL", "POST", "/v1/accounts/alice/holds", `{"credits":1,"ttl_seconds":-5}`, 422, "invalid_ttl"},
		{"HoldHugeTTL", "POST", "/v1/accounts/alice/holds", `{"credits":1,"ttl_seconds":9223372036854775807}`, 422, "invalid_ttl"},

		{"OverCapture", "POST", "/v1/holds/" + open + "/capture", `{"credits":20.001}`, 422, "over_capture"},
		{"NegativeCapture", "POST", "/v1/holds/" + open + "/capture", `{"credits":-1}`, 422, "invalid_amount"},
		{"ZeroCapture", "POST", "/v1/holds/" + open + "/capture", `{"credits":0}`, 422, "invalid_amount"},
		{"ZeroCaptureDecimals", "POST", "/v1/holds/" + open + "/capture", `{"credits":0.000}`, 422, "invalid_amount"},
		{"CaptureReleased", "POST", "/v1/holds/" + released + "/capture", ``, 409, "already_resolved"},
		{"CaptureExpired", "POST", "/v1/holds/" + expired + "/capture", `{"credits":1}`, 409, "hold_expired"},
		{"ReleaseExpired", "POST", "/v1/holds/" + expired + "/release", ``, 409, "hold_expired"},
		{"CaptureGenerationHold", "POST", "/v1/holds/" + holdOf(t, e, held) + "/capture", ``, 409, "generation_hold"},
		{"CaptureUnknownHold", "POST", "/v1/holds/hld_nope/capture", ``, 404, "unknown_hold"},

		{"GenerationUnknownAccount", "POST", "/v1/generations", `{"account":"nobody","model":"flux-dev"}`, 404, "unknown_account"},
		{"GenerationNoAccount", "POST", "/v1/generations", `{"model":"flux-dev"}`, 422, "invalid_account_id"},
		{"GenerationUnknownModel", "POST", "/v1/generations", `{"account":"alice","model":"dall-e-9"}`, 422, "unknown_model"},
		{"GenerationTooManyImages", "POST", "/v1/generations", `{"account":"alice","model":"flux-dev","images":5}`, 422, "invalid_image_count"},
		{"GenerationZeroImages", "POST", "/v1/generations", `{"account":"alice","model":"flux-dev","images":0}`, 422, "invalid_image_count"},
		{"GenerationNegativeImages", "POST", "/v1/generations", `{"account":"alice","model":"flux-dev","images":-1}`, 422, "invalid_image_count"},
		{"GenerationBadResolution", "POST", "/v1/generations", `{"account":"alice","model":"flux-dev","resolution":"4K"}`, 422, "unsupported_resolution"},
		{"GenerationBadTTL", "POST", "/v1/generations", `{"account":"alice","model":"flux-dev","hold_ttl_seconds":-1}`, 422, "invalid_ttl"},
		{"GenerationTooExpensive", "POST", "/v1/generations", `{"account":"alice","model":"nano-banana-pro","resolution":"4K"}`, 402, "insufficient_credits"},

		{"DeliveredTooMany", "POST", "/v1/generations/" + held + "/complete", `{"images_delivered":3}`, 422, "invalid_image_count"},
		{"DeliveredNegative", "POST", "/v1/generations/" + held + "/complete", `{"images_delivered":-1}`, 422, "invalid_image_count"},
		{"CompleteMissingField", "POST", "/v1/generations/" + held + "/complete", `{}`, 422, "invalid_request"},
		{"CompleteCompleted", "POST", "/v1/generations/" + done + "/complete", `{"images_delivered":1}`, 409, "already_resolved"},
		{"CompleteFailed", "POST", "/v1/generations/" + failed + "/complete", `{"images_delivered":1}`, 409, "already_resolved"},
		{"CompleteExpired", "POST", "/v1/generations/" + expiredGen + "/complete", `{"images_delivered":1}`, 409, "hold_expired"},
		{"FailCompleted", "POST", "/v1/generations/" + done + "/fail", ``, 409, "already_resolved"},
		{"CompleteUnknown", "POST", "/v1/generations/gen_nope/complete", `{"images_delivered":1}`, 404, "unknown_generation"},
		{"RefundHeld", "POST", "/v1/generations/" + held + "/refund", ``, 409, "not_refundable"},
		{"RefundFailed", "POST", "/v1/generations/" + failed + "/refund", ``, 409, "not_refundable"},
		{"OverRefund", "POST", "/v1/generations/" + done + "/refund", `{"credits":5.001}`, 422, "over_refund"},
		{"NegativeRefund", "POST", "/v1/generations/" + done + "/refund", `{"credits":-1}`, 422, "invalid_amount"},
		{"ZeroRefund", "POST", "/v1/generations/" + done + "/refund", `{"credits":0}`, 422, "invalid_amount"},

		{"BadCursor", "GET", "/v1/accounts/alice/entries?cursor=nonsense", ``, 422, "invalid_cursor"},
		{"ForgedCursor", "GET", "/v1/accounts/alice/entries?cursor=ZTE6LTE", ``, 422, "invalid_cursor"}, // "e1:-1"
		{"ZeroLimit", "GET", "/v1/accounts/alice/entries?limit=0", ``, 422, "invalid_request"},
		{"HugeLimit", "GET", "/v1/accounts/alice/entries?limit=1001", ``, 422, "invalid_request"},
		{"UnknownGroupBy", "GET", "/v1/accounts/alice/usage?group_by=week", ``, 422, "invalid_group_by"},
		{"BackwardsRange", "GET", "/v1/accounts/alice/usage?from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z", ``, 422, "invalid_range"},
		{"BadTime", "GET", "/v1/accounts/alice/usage?from=yesterday", ``, 422, "invalid_time"},
		{"EntriesUnknownAccount", "GET", "/v1/accounts/nobody/entries", ``, 404, "unknown_account"},
		{"UsageUnknownAccount", "GET", "/v1/accounts/nobody/usage", ``, 404, "unknown_account"},
		{"GetUnknownAccount", "GET", "/v1/accounts/nobody", ``, 404, "unknown_account"},
		{"GetUnknownGeneration", "GET", "/v1/generations/gen_nope", ``, 404, "unknown_generation"},
		{"GetUnknownHold", "GET", "/v1/holds/hld_nope", ``, 404, "unknown_hold"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := e.Do(c.method, c.path, adminKey, c.body)
			wantProblem(t, r, c.status, c.code)
		})
	}
	// Wrong content type and a body at the size limit.
	t.Run("TextBody", func(t *testing.T) {
		r := e.Do(http.MethodPost, "/v1/accounts/alice/grants", adminKey, `{"credits":5,"source":"topup"}`, "Content-Type", "text/plain")
		wantProblem(t, r, http.StatusUnsupportedMediaType, "unsupported_media_type")
		r = e.Do(http.MethodPost, "/v1/accounts/alice/grants", adminKey, `{"credits":5,"source":"topup"}`, "Content-Type", "application/octet-stream")
		wantProblem(t, r, http.StatusUnsupportedMediaType, "unsupported_media_type")
	})
	t.Run("BodyTooLarge", func(t *testing.T) {
		body := `{"credits":5,"source":"topup","memo":"` + strings.Repeat("x", 1<<20) + `"}`
		wantProblem(t, e.Do(http.MethodPost, "/v1/accounts/alice/grants", adminKey, body), http.StatusRequestEntityTooLarge, "body_too_large")
	})

	e.WantBalance("alice", "65", "30")
	if after := entries(); after != before {
		t.Errorf("the journal changed:\nbefore %s\nafter  %s", before, after)
	}
	e.Verify()
}

// holdOf returns a generation's hold id.
func holdOf(tb testing.TB, e *Env, gen string) string {
	tb.Helper()
	g := e.Want(e.Do(http.MethodGet, "/v1/generations/"+gen, adminKey, ""), http.StatusOK, "get generation")
	return str(tb, g["hold"], "hold")
}
