package httpapi_test

import (
	"fmt"
	"net/http"
	"slices"
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

// TestZeroImagesRefused: an absent "images" means one; an explicit 0 or a
// negative count is a mistake, not a request for the default, and every place
// that takes a generation's settings refuses it alike, saying which counts
// would do (the default catalog makes 1 to 4 images per generation).
func TestZeroImagesRefused(t *testing.T) {
	_, ts := MustServer(t)
	post := func(path, body string) response {
		return do(t, ts.Client(), http.MethodPost, ts.URL+path, "application/json", strings.NewReader(body))
	}
	upTo4 := []string{"1", "2", "3", "4"}
	for _, tc := range []struct {
		what    string
		r       func() response
		allowed []string
	}{
		{"POST /v1/quotes images 0", func() response { return postQuote(t, ts, `{"model":"flux-dev","images":0}`) }, upTo4},
		{"POST /v1/quotes images -1", func() response { return postQuote(t, ts, `{"model":"flux-dev","images":-1}`) }, upTo4},
		{"POST /v1/quotes upscaler images 0", func() response {
			return postQuote(t, ts, `{"model":"topaz","scale":2,"input_width":100,"input_height":100,"images":0}`)
		}, []string{"1"}},
		{"POST /v1/quotes/cheapest images 0", func() response { return post("/v1/quotes/cheapest", `{"images":0}`) }, upTo4},
		{"POST /v1/quotes/cheapest images -3", func() response { return post("/v1/quotes/cheapest", `{"kind":"image","images":-3}`) }, upTo4},
		{"GET /v1/models?images=0", func() response { return get(t, ts, "/v1/models?images=0") }, upTo4},
		{"GET /v1/models?images=-1&resolution=2K", func() response { return get(t, ts, "/v1/models?images=-1&resolution=2K") }, upTo4},
	} {
		p := wantProblem(t, tc.r(), http.StatusUnprocessableEntity, "invalid_image_count")
		var allowed []string
		if a, ok := p["allowed"].([]any); ok {
			for _, v := range a {
				allowed = append(allowed, fmt.Sprint(v))
			}
		}
		if !slices.Equal(allowed, tc.allowed) {
			t.Errorf("%s: allowed = %v; want %v", tc.what, p["allowed"], tc.allowed)
		}
	}

	// Absent: one image. From the page: Flux Dev is 5 an image; at 4K 9:16
	// Seedream V4 is the cheapest model, at 18 an image.
	if body := wantOK(t, postQuote(t, ts, `{"model":"flux-dev"}`)); num(t, body["total_credits"], "total") != "5" {
		t.Errorf("flux-dev with images absent: total %v; want 5 (one image, the page)", body["total_credits"])
	}
	body := wantOK(t, post("/v1/quotes/cheapest", `{"kind":"image","resolution":"4K","aspect_ratio":"9:16"}`))
	if qs := objects(t, body["quotes"], "quotes"); len(qs) == 0 || str(t, qs[0]["model"], "model") != "seedream-v4" || num(t, qs[0]["total_credits"], "total") != "18" {
		t.Errorf("cheapest 4K 9:16 with images absent = %v; want seedream-v4 first at 18 (one image)", body["quotes"])
	}
	body = wantOK(t, get(t, ts, "/v1/models?resolution=4K&aspect_ratio=21:9"))
	if ms := objects(t, body["models"], "models"); len(ms) == 0 || num(t, ms[0]["quote_total_credits"], "total") != "98" {
		t.Errorf("GET /v1/models?resolution=4K&aspect_ratio=21:9 = %v; want Nano Banana 2 first at 98 (one image)", body["models"])
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
