package httpapi_test

import (
	"net/http"
	"strings"
	"testing"
)

func TestCheapest(t *testing.T) {
	_, ts := MustServer(t)
	r := do(t, ts.Client(), http.MethodPost, ts.URL+"/v1/quotes/cheapest", "application/json",
		strings.NewReader(`{"kind":"image","resolution":"4K","aspect_ratio":"9:16","images":2}`))
	body := wantOK(t, r)
	// From the page: the image models offering 4K and 9:16, per image ×2.
	want := []struct {
		model string
		total string
	}{
		{"seedream-v4", "36"}, {"seedream-v4.5", "48"}, {"imagineart-1.5-pro", "50"},
		{"nano-banana-2", "196"}, {"nano-banana-pro", "320"},
	}
	quotes := objects(t, body["quotes"], "quotes")
	if len(quotes) != len(want) {
		t.Fatalf("cheapest 4K 9:16 gave %d quotes; want %d", len(quotes), len(want))
	}
	for i, q := range quotes {
		if got, total := str(t, q["model"], "model"), num(t, q["total_credits"], "total"); got != want[i].model || total != want[i].total {
			t.Errorf("cheapest[%d] = %s %s; want %s %s", i, got, total, want[i].model, want[i].total)
		}
	}
	r = do(t, ts.Client(), http.MethodPost, ts.URL+"/v1/quotes/cheapest", "application/json", strings.NewReader(`{"kind":"video"}`))
	wantProblem(t, r, http.StatusUnprocessableEntity, "invalid_request")
}

func TestMethodNotAllowed(t *testing.T) {
	_, ts := MustServer(t)
	r := get(t, ts, "/v1/quotes")
	p := wantProblem(t, r, http.StatusMethodNotAllowed, "method_not_allowed")
	if allow := r.header.Get("Allow"); allow != "POST" {
		t.Errorf("GET /v1/quotes Allow = %q; want POST (problem %v)", allow, p)
	}
}

// TestZeroImagesRefused: an absent "images" means one; an explicit 0 is a
// mistake, not a request for the default.
func TestZeroImagesRefused(t *testing.T) {
	_, ts := MustServer(t)
	wantProblem(t, postQuote(t, ts, `{"model":"flux-dev","images":0}`), http.StatusUnprocessableEntity, "invalid_image_count")
	if body := wantOK(t, postQuote(t, ts, `{"model":"flux-dev"}`)); num(t, body["total_credits"], "total") != "5" {
		t.Errorf("flux-dev with images absent: total %v; want 5 (one image, the page)", body["total_credits"])
	}
}

// TestUnknownQueryParameter: a misspelt filter is refused, never ignored.
func TestUnknownQueryParameter(t *testing.T) {
	_, ts := MustServer(t)
	r := get(t, ts, "/v1/models?supports=2K")
	if r.status < 400 || r.status > 499 {
		t.Errorf("GET /v1/models?supports=2K = %d; want a 4xx problem", r.status)
	}
	body := wantOK(t, get(t, ts, "/v1/models?resolution=4K&aspect_ratio=21:9"))
	// From the page: only Nano Banana 2 (98) and Nano Banana Pro (160) offer 4K and 21:9.
	models := objects(t, body["models"], "models")
	if len(models) != 2 || str(t, models[0]["id"], "id") != "nano-banana-2" || str(t, models[1]["id"], "id") != "nano-banana-pro" {
		t.Errorf("GET /v1/models?resolution=4K&aspect_ratio=21:9 = %v; want nano-banana-2, nano-banana-pro", body["models"])
	}
}
