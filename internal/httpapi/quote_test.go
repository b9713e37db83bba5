package httpapi_test

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/tally-credits/tally/internal/catalog"
)

func TestQuote(t *testing.T) {
	_, ts := MustServer(t)
	version := str(t, wantOK(t, get(t, ts, "/v1/catalog"))["version"], "catalog version")

	t.Run("NanoBanana2At2K", func(t *testing.T) {
		q := wantOK(t, postQuote(t, ts, `{"model":"nano-banana-2","resolution":"2K"}`))
		// Page: Nano Banana 2, 73.5 (2K).
		if got := num(t, q["total_credits"], "total_credits"); got != "73.5" {
			t.Errorf("total_credits = %s; want 73.5", got)
		}
		if got := num(t, q["unit_credits"], "unit_credits"); got != "73.5" {
			t.Errorf("unit_credits = %s; want 73.5", got)
		}
		if got := q["resolution"]; got != "2K" {
			t.Errorf("resolution = %#v; want 2K", got)
		}
		// Defaults (SPEC §1, credit.QuoteRequest): create, 1:1, one image.
		if got := q["aspect_ratio"]; got != "1:1" {
			t.Errorf("aspect_ratio = %#v; want 1:1 (the default)", got)
		}
		if got := num(t, q["images"], "images"); got != "1" {
			t.Errorf("images = %s; want 1 (the default)", got)
		}
		if got := q["operation"]; got != "create" {
			t.Errorf("operation = %#v; want create (the default)", got)
		}
		// 2K 1:1: (1024·2)² → 2048×2048.
		if w, h := num(t, q["width"], "width"), num(t, q["height"], "height"); w != "2048" || h != "2048" {
			t.Errorf("size = %s×%s; want 2048×2048", w, h)
		}
	})

	t.Run("NanoBananaPro4K16x9x3", func(t *testing.T) {
		q := wantOK(t, postQuote(t, ts, `{"model":"nano-banana-pro","resolution":"4K","aspect_ratio":"16:9","images":3}`))
		wantKeys := []string{"aspect_ratio", "catalog_version", "height", "images", "kind", "lines", "model", "model_name",
			"operation", "prompt_enhancer", "resolution", "total_credits", "unit_credits", "width"}
		if got := keys(q); !slices.Equal(got, wantKeys) {
			t.Errorf("keys = %v; want %v (SPEC §2)", got, wantKeys)
		}
		for k, want := range map[string]any{
			"model": "nano-banana-pro", "model_name": "Nano Banana Pro", "kind": "image", "operation": "create",
			"resolution": "4K", "aspect_ratio": "16:9", "prompt_enhancer": false, "catalog_version": version,
		} {
			if got := q[k]; got != want {
				t.Errorf("%s = %#v; want %#v", k, got, want)
			}
		}
		// Page: 160 (4K) per image; × 3. Size: n = round(256·√(16/9)) = 341 → 5456;
		// round(256·√(9/16)) = 192 → 3072.
		for k, want := range map[string]string{"images": "3", "width": "5456", "height": "3072", "unit_credits": "160", "total_credits": "480"} {
			if got := num(t, q[k], k); got != want {
				t.Errorf("%s = %s; want %s", k, got, want)
			}
		}
		lines := objects(t, q["lines"], "lines")
		if len(lines) != 1 {
			t.Fatalf("lines = %v; want 1 line", q["lines"])
		}
		l := lines[0]
		if got, want := keys(l), []string{"credits", "label", "quantity", "unit_credits"}; !slices.Equal(got, want) {
			t.Errorf("line keys = %v; want %v", got, want)
		}
		if got := l["label"]; got != "Nano Banana Pro · 4K" {
			t.Errorf("line label = %#v; want %q", got, "Nano Banana Pro · 4K")
		}
		for k, want := range map[string]string{"quantity": "3", "unit_credits": "160", "credits": "480"} {
			if got := num(t, l[k], "line "+k); got != want {
				t.Errorf("line %s = %s; want %s", k, got, want)
			}
		}
	})

	t.Run("DisplayName", func(t *testing.T) {
		for _, name := range []string{"nano banana 2", "Nano Banana 2", "NANO BANANA 2"} {
			q := wantOK(t, postQuote(t, ts, `{"model":"`+name+`"}`))
			if got := q["model"]; got != "nano-banana-2" {
				t.Errorf("model %q: model = %#v; want nano-banana-2", name, got)
			}
			if got := q["model_name"]; got != "Nano Banana 2" {
				t.Errorf("model %q: model_name = %#v; want Nano Banana 2", name, got)
			}
			// Page: 49 (1K); 1K is the default.
			if got := num(t, q["total_credits"], "total_credits"); got != "49" {
				t.Errorf("model %q: total_credits = %s; want 49", name, got)
			}
		}
	})

	t.Run("TopazBySize", func(t *testing.T) {
		q := wantOK(t, postQuote(t, ts, `{"model":"topaz","scale":2,"input_width":1920,"input_height":1080}`))
		// Page: "A 1920×1080 image at 2× costs approximately 41 credits with the Topaz model"
		// (20 × 2.0736 MP × 1 = 41.472, half up to 41).
		if got := num(t, q["total_credits"], "total_credits"); got != "41" {
			t.Errorf("total_credits = %s; want 41", got)
		}
		for k, want := range map[string]any{"model": "topaz", "kind": "upscale", "operation": "upscale"} {
			if got := q[k]; got != want {
				t.Errorf("%s = %#v; want %#v", k, got, want)
			}
		}
		for k, want := range map[string]string{"scale": "2", "images": "1", "width": "3840", "height": "2160"} {
			if got := num(t, q[k], k); got != want {
				t.Errorf("%s = %s; want %s", k, got, want)
			}
		}
		for _, k := range []string{"resolution", "aspect_ratio"} {
			if v, ok := q[k]; ok {
				t.Errorf("%s = %#v; want it absent from an upscale quote", k, v)
			}
		}
	})

	img := pngBase64(t, 1920, 1080)

	t.Run("TopazByImage", func(t *testing.T) {
		q := wantOK(t, postQuote(t, ts, `{"model":"topaz","scale":2,"input_image":"`+img+`"}`))
		if got := num(t, q["total_credits"], "total_credits"); got != "41" {
			t.Errorf("total_credits = %s; want 41", got)
		}
		for k, want := range map[string]string{"input_width": "1920", "input_height": "1080", "width": "3840", "height": "2160"} {
			if got := num(t, q[k], k); got != want {
				t.Errorf("%s = %s; want %s", k, got, want)
			}
		}
	})

	t.Run("TopazByImageAndAgreeingSize", func(t *testing.T) {
		q := wantOK(t, postQuote(t, ts, `{"model":"topaz","scale":2,"input_width":1920,"input_height":1080,"input_image":"`+img+`"}`))
		if got := num(t, q["total_credits"], "total_credits"); got != "41" {
			t.Errorf("total_credits = %s; want 41", got)
		}
	})

	t.Run("TopazByImageAndDisagreeingSize", func(t *testing.T) {
		r := postQuote(t, ts, `{"model":"topaz","scale":2,"input_width":1000,"input_height":1000,"input_image":"`+img+`"}`)
		wantProblem(t, r, http.StatusUnprocessableEntity, "invalid_input_size")
	})

	t.Run("TopazByWebPHeader4x", func(t *testing.T) {
		// RIFF/WEBP with a VP8L chunk declaring 1920×1080; only the header is read.
		webp := "UklGRhIAAABXRUJQVlA4TAUAAAAvf8cNAQA="
		q := wantOK(t, postQuote(t, ts, `{"model":"topaz","scale":4,"input_image":"`+webp+`"}`))
		// 20 × 2.0736 MP × 3 = 124.416, half up to 124.
		if got := num(t, q["total_credits"], "total_credits"); got != "124" {
			t.Errorf("total_credits = %s; want 124", got)
		}
		if w, h := num(t, q["input_width"], "input_width"), num(t, q["input_height"], "input_height"); w != "1920" || h != "1080" {
			t.Errorf("input size = %s×%s; want 1920×1080", w, h)
		}
	})

	t.Run("Magnific16x", func(t *testing.T) {
		q := wantOK(t, postQuote(t, ts, `{"model":"Magnific Precision v2","scale":16}`))
		// Page: 16×: 1040.
		if got := num(t, q["total_credits"], "total_credits"); got != "1040" {
			t.Errorf("total_credits = %s; want 1040", got)
		}
		if got := q["model"]; got != "magnific-precision-v2" {
			t.Errorf("model = %#v; want magnific-precision-v2", got)
		}
		lines := objects(t, q["lines"], "lines")
		if len(lines) != 1 || num(t, lines[0]["credits"], "line credits") != "1040" {
			t.Errorf("lines = %v; want one line of 1040", q["lines"])
		}
	})

	t.Run("EveryModelAtItsBaseCost", func(t *testing.T) {
		for _, m := range pageModels {
			body := `{"model":"` + m.id + `"}`
			switch m.id {
			case "topaz":
				// 1000×1000 is one megapixel: base × 1 × factor 1.
				body = `{"model":"topaz","scale":2,"input_width":1000,"input_height":1000}`
			case "magnific-precision-v2":
				body = `{"model":"magnific-precision-v2","scale":2}`
			}
			q := wantOK(t, postQuote(t, ts, body))
			if got := num(t, q["total_credits"], m.id+" total_credits"); got != m.base {
				t.Errorf("%s: total_credits = %s; want %s (the page's base cost)", m.id, got, m.base)
			}
			if got := q["kind"]; got != m.kind {
				t.Errorf("%s: kind = %#v; want %q", m.id, got, m.kind)
			}
		}
	})
}

func TestQuoteBadInput(t *testing.T) {
	_, ts := MustServer(t)
	textFile := base64.StdEncoding.EncodeToString([]byte("This is a text file, not an image.\nIt has two lines.\n"))
	tests := []struct {
		name        string
		contentType string // default application/json
		body        string
		status      int
		code        string
		allowed     []string // checked when non-nil
	}{
		{name: "UnknownModel", body: `{"model":"nano-banana-3"}`, status: 422, code: "unknown_model", allowed: pageIDs()},
		{name: "NoModel", body: `{"resolution":"1K"}`, status: 422},
		{name: "AspectRatioNanoBanana2", body: `{"model":"nano-banana-2","aspect_ratio":"7:3"}`, status: 422, code: "unsupported_aspect_ratio", allowed: nanoBanana2Ratios},
		{name: "AspectRatioFluxDev", body: `{"model":"flux-dev","aspect_ratio":"4:3"}`, status: 422, code: "unsupported_aspect_ratio", allowed: fluxDevRatios},
		{name: "AspectRatioChatGPT", body: `{"model":"chatgpt","aspect_ratio":"16:9"}`, status: 422, code: "unsupported_aspect_ratio", allowed: chatGPTRatios},
		{name: "AspectRatioPersonalizeUltra", body: `{"model":"personalize-ultra","aspect_ratio":"2:3"}`, status: 422, code: "unsupported_aspect_ratio", allowed: personalizeUltra},
		{name: "AspectRatioNotARatio", body: `{"model":"nano-banana-2","aspect_ratio":"wide"}`, status: 422, code: "unsupported_aspect_ratio", allowed: nanoBanana2Ratios},
		{name: "AspectRatioOnUpscale", body: `{"model":"topaz","scale":2,"input_width":10,"input_height":10,"aspect_ratio":"1:1"}`, status: 422, code: "unsupported_aspect_ratio"},
		{name: "Resolution3KNanoBanana2", body: `{"model":"nano-banana-2","resolution":"3K"}`, status: 422, code: "unsupported_resolution", allowed: []string{"1K", "2K", "4K"}},
		{name: "Resolution3KNanoBananaPro", body: `{"model":"nano-banana-pro","resolution":"3K"}`, status: 422, code: "unsupported_resolution", allowed: []string{"1K", "2K", "4K"}},
		{name: "Resolution2KRecraftV4", body: `{"model":"recraft-v4","resolution":"2K"}`, status: 422, code: "unsupported_resolution", allowed: []string{"1K"}},
		{name: "Resolution2KChatGPT", body: `{"model":"chatgpt","resolution":"2K"}`, status: 422, code: "unsupported_resolution", allowed: []string{"1K"}},
		{name: "Resolution8K", body: `{"model":"nano-banana-2","resolution":"8K"}`, status: 422, code: "unsupported_resolution", allowed: []string{"1K", "2K", "4K"}},
		{name: "ResolutionOnUpscale", body: `{"model":"magnific-precision-v2","scale":2,"resolution":"1K"}`, status: 422, code: "unsupported_resolution"},
		{name: "Images5", body: `{"model":"flux-dev","images":5}`, status: 422, code: "invalid_image_count", allowed: []string{"1", "2", "3", "4"}},
		{name: "ImagesMinus1", body: `{"model":"flux-dev","images":-1}`, status: 422, code: "invalid_image_count", allowed: []string{"1", "2", "3", "4"}},
		{name: "ImagesHuge", body: `{"model":"flux-dev","images":9007199254740993}`, status: 422, code: "invalid_image_count", allowed: []string{"1", "2", "3", "4"}},
		{name: "Images2OnUpscale", body: `{"model":"magnific-precision-v2","scale":2,"images":2}`, status: 422, code: "invalid_image_count", allowed: []string{"1"}},
		{name: "ScaleTopaz8", body: `{"model":"topaz","scale":8,"input_width":100,"input_height":100}`, status: 422, code: "unsupported_scale", allowed: []string{"2", "3", "4"}},
		{name: "ScaleMagnific3", body: `{"model":"magnific-precision-v2","scale":3}`, status: 422, code: "unsupported_scale", allowed: []string{"2", "4", "8", "16"}},
		{name: "ScaleMissing", body: `{"model":"magnific-precision-v2"}`, status: 422, code: "unsupported_scale", allowed: []string{"2", "4", "8", "16"}},
		{name: "ScaleOnImageModel", body: `{"model":"flux-dev","scale":2}`, status: 422, code: "unsupported_scale"},
		{name: "InputSizeMissing", body: `{"model":"topaz","scale":2}`, status: 422, code: "invalid_input_size"},
		{name: "InputSize0x5", body: `{"model":"topaz","scale":2,"input_width":0,"input_height":5}`, status: 422, code: "invalid_input_size"},
		{name: "InputSizeNegative", body: `{"model":"topaz","scale":2,"input_width":-1920,"input_height":-1080}`, status: 422, code: "invalid_input_size"},
		{name: "InputSize20000x20000", body: `{"model":"topaz","scale":2,"input_width":20000,"input_height":20000}`, status: 422, code: "invalid_input_size"},
		{name: "InputSizeOnImageModel", body: `{"model":"flux-dev","input_width":1024,"input_height":1024}`, status: 422, code: "invalid_input_size"},
		{name: "OperationUpscaleOnImageModel", body: `{"model":"nano-banana-2","operation":"upscale"}`, status: 422, code: "unsupported_operation", allowed: []string{"create", "edit"}},
		{name: "OperationEditOnPersonalize", body: `{"model":"personalize-core","operation":"edit"}`, status: 422, code: "unsupported_operation", allowed: []string{"create"}},
		{name: "OperationCreateOnUpscale", body: `{"model":"topaz","operation":"create","scale":2,"input_width":10,"input_height":10}`, status: 422, code: "unsupported_operation", allowed: []string{"upscale"}},
		{name: "PromptEnhancerOnTopaz", body: `{"model":"topaz","scale":2,"input_width":1920,"input_height":1080,"prompt_enhancer":true}`, status: 422, code: "unsupported_option"},
		{name: "InputImageTextFile", body: `{"model":"topaz","scale":2,"input_image":"` + textFile + `"}`, status: 422, code: "invalid_input_image"},
		{name: "InputImageEmpty", body: `{"model":"topaz","scale":2,"input_image":""}`, status: 422},
		{name: "InputImageNotBase64", body: `{"model":"topaz","scale":2,"input_image":"%%% not base64 %%%"}`, status: 422},
		{name: "UnknownField", body: `{"model":"flux-dev","colour":"red"}`, status: 422, code: "unknown_field"},
		// JSON Schema property names are case-sensitive: the OpenAPI document
		// (additionalProperties: false) declares these bodies invalid, so the
		// server must refuse them too.
		{name: "UnknownFieldCase", body: `{"Model":"flux-dev"}`, status: 422, code: "unknown_field"},
		{name: "UnknownFieldCaseImages", body: `{"model":"flux-dev","IMAGES":4}`, status: 422, code: "unknown_field"},
		{name: "TruncatedJSON", body: `{"model":"nano-banana-2","resolu`, status: 400, code: "invalid_json"},
		{name: "NotJSON", body: `model=flux-dev`, status: 400, code: "invalid_json"},
		{name: "EmptyBody", body: ``, status: 400, code: "missing_body"},
		{name: "ImagesString", body: `{"model":"flux-dev","images":"four"}`, status: 422, code: "invalid_request"},
		{name: "ImagesFraction", body: `{"model":"flux-dev","images":1.5}`, status: 422, code: "invalid_request"},
		{name: "ModelNumber", body: `{"model":42}`, status: 422, code: "invalid_request"},
		{name: "ArrayBody", body: `[{"model":"flux-dev"}]`, status: 422, code: "invalid_request"},
		{name: "NullBody", body: `null`, status: 422},
		{name: "TextPlain", contentType: "text/plain", body: `{"model":"flux-dev"}`, status: 415, code: "unsupported_media_type"},
		{name: "TooLarge", body: `{"model":"flux-dev","aspect_ratio":"` + strings.Repeat("1", 1<<20+1<<10) + `"}`, status: 413, code: "body_too_large"},
		{name: "OneByteTooLarge", body: `{"model":"` + strings.Repeat("x", 1<<20-len(`{"model":""}`)+1) + `"}`, status: 413, code: "body_too_large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ct := tt.contentType
			if ct == "" {
				ct = "application/json"
			}
			r := do(t, ts.Client(), http.MethodPost, ts.URL+"/v1/quotes", ct, strings.NewReader(tt.body))
			p := wantProblem(t, r, tt.status, tt.code)
			if tt.allowed != nil {
				if got := strs(t, p["allowed"], "allowed"); !slices.Equal(got, tt.allowed) {
					t.Errorf("allowed = %v; want %v", got, tt.allowed)
				}
			}
		})
	}

	// A body up to 1 MiB is read and judged on its content: a long model name is
	// an unknown model, not a body too large.
	for _, size := range []int{1<<20 - 100, 1 << 20} {
		t.Run(fmt.Sprintf("Body%dBytes", size), func(t *testing.T) {
			body := `{"model":"` + strings.Repeat("x", size-len(`{"model":""}`)) + `"}`
			if len(body) != size {
				t.Fatalf("test body is %d bytes; want %d", len(body), size)
			}
			wantProblem(t, postQuote(t, ts, body), http.StatusUnprocessableEntity, "unknown_model")
		})
	}
}

// TestQuoteContentType checks that JSON is recognised by its media type, which
// RFC 9110 §8.3.1 makes case-insensitive, whatever its parameters.
func TestQuoteContentType(t *testing.T) {
	_, ts := MustServer(t)
	for _, tt := range []struct{ name, contentType string }{
		{"Plain", "application/json"},
		{"Charset", "application/json; charset=utf-8"},
		{"UpperSubtype", "application/JSON"},
		{"MixedCaseCharset", "Application/Json; charset=UTF-8"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, ts.Client(), http.MethodPost, ts.URL+"/v1/quotes", tt.contentType, strings.NewReader(`{"model":"flux-dev","images":2}`))
			q := wantOK(t, r)
			// Page: Flux Dev 5 per image; × 2.
			if got := num(t, q["total_credits"], "total_credits"); got != "10" {
				t.Errorf("total_credits = %s; want 10", got)
			}
		})
	}
}

// TestConcurrentQuotes prices from many clients while the catalog is swapped
// between two versions: every answer is whole, from one version or the other.
func TestConcurrentQuotes(t *testing.T) {
	s, ts := MustServer(t)
	v1 := catalog.Default()

	// The second catalog is the built-in one with a new version and Flux Dev at 6.
	yaml := string(catalog.DefaultYAML())
	versionLine := regexp.MustCompile(`(?m)^version:.*$`)
	fluxDev := regexp.MustCompile(`(- name: Flux Dev\n(?:[ \t]+[^\n]*\n)*?[ \t]+price: \{per_image: )5\}`)
	if !versionLine.MatchString(yaml) || !fluxDev.MatchString(yaml) {
		t.Fatal("the built-in catalog no longer has a version line or Flux Dev at {per_image: 5}; update this test")
	}
	yaml = versionLine.ReplaceAllString(yaml, `version: "concurrency-test.2"`)
	yaml = fluxDev.ReplaceAllString(yaml, "${1}6}")
	v2, err := catalog.Parse([]byte(yaml))
	if err != nil {
		t.Fatalf("catalog.Parse(second catalog): %v", err)
	}
	if v1.Version == v2.Version {
		t.Fatalf("both catalogs have version %q", v1.Version)
	}

	// Totals typed from the page; Flux Dev ×4 is 4 × 5 = 20, and 4 × 6 = 24 in v2.
	type want struct{ v1, v2 string }
	reqs := []struct {
		body string
		want want
	}{
		{`{"model":"nano-banana-2","resolution":"2K"}`, want{"73.5", "73.5"}},
		{`{"model":"nano-banana-pro","resolution":"4K","aspect_ratio":"16:9","images":3}`, want{"480", "480"}},
		{`{"model":"flux-dev","images":4}`, want{"20", "24"}},
		{`{"model":"topaz","scale":2,"input_width":1920,"input_height":1080}`, want{"41", "41"}},
		{`{"model":"magnific-precision-v2","scale":16}`, want{"1040", "1040"}},
	}

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer client.CloseIdleConnections()

	const workers, perWorker = 50, 20
	done := make(chan struct{})
	var swaps sync.WaitGroup
	swaps.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-done:
				s.SetCatalog(v1)
				return
			default:
			}
			if i%2 == 0 {
				s.SetCatalog(v2)
			} else {
				s.SetCatalog(v1)
			}
			runtime.Gosched()
		}
	})

	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		errs   []string
		counts = map[string]int{}
	)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				rq := reqs[(w+i)%len(reqs)]
				req, err := http.NewRequest(http.MethodPost, ts.URL+"/v1/quotes", strings.NewReader(rq.body))
				if err != nil {
					panic(err)
				}
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				if err != nil {
					mu.Lock()
					errs = append(errs, fmt.Sprintf("%s: %v", rq.body, err))
					mu.Unlock()
					continue
				}
				var q struct {
					TotalCredits   json.Number `json:"total_credits"`
					CatalogVersion string      `json:"catalog_version"`
				}
				err = json.NewDecoder(resp.Body).Decode(&q)
				resp.Body.Close()
				var problem string
				switch {
				case resp.StatusCode != http.StatusOK:
					problem = fmt.Sprintf("status %d", resp.StatusCode)
				case err != nil:
					problem = err.Error()
				case q.CatalogVersion == v1.Version && q.TotalCredits.String() != rq.want.v1,
					q.CatalogVersion == v2.Version && q.TotalCredits.String() != rq.want.v2:
					problem = fmt.Sprintf("total_credits = %s at catalog %s; want %v", q.TotalCredits, q.CatalogVersion, rq.want)
				case q.CatalogVersion != v1.Version && q.CatalogVersion != v2.Version:
					problem = fmt.Sprintf("catalog_version = %q; want %q or %q", q.CatalogVersion, v1.Version, v2.Version)
				}
				mu.Lock()
				if problem != "" {
					errs = append(errs, rq.body+": "+problem)
				}
				counts[q.CatalogVersion]++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	close(done)
	swaps.Wait()

	for i, e := range errs {
		if i == 10 {
			t.Errorf("… and %d more", len(errs)-10)
			break
		}
		t.Error(e)
	}
	if n := counts[v1.Version] + counts[v2.Version]; n != workers*perWorker {
		t.Errorf("%d answers from the two catalogs; want %d", n, workers*perWorker)
	}
	t.Logf("answers by catalog version: %v", counts)
}
