package credit_test

import (
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
)

// Expected numbers come from the studio page or a hand calculation written
// beside them; none is computed by the code under test.

// TestQuoteSpecExample is the JSON example of SPEC §2.
func TestQuoteSpecExample(t *testing.T) {
	cat := catalog.Default()
	r := credit.QuoteRequest{Model: "nano-banana-pro", Resolution: "4K", AspectRatio: "16:9", Images: 3}
	q := mustQuote(t, cat, r)
	if q.Model != "nano-banana-pro" || q.ModelName != "Nano Banana Pro" || q.Kind != credit.KindImage || q.Operation != credit.OpCreate {
		t.Errorf("Quote(%+v) = %q %q %q %q; want nano-banana-pro, Nano Banana Pro, image, create", r, q.Model, q.ModelName, q.Kind, q.Operation)
	}
	if q.UnitCredits != 160_000 || q.TotalCredits != 480_000 {
		t.Errorf("Quote(%+v) unit, total = %v, %v; want 160, 480", r, q.UnitCredits, q.TotalCredits)
	}
	// 4K 16:9: 256·4/3 = 341.33 → 341 → 5456; 256·3/4 = 192 → 3072.
	if q.Width != 5456 || q.Height != 3072 {
		t.Errorf("Quote(%+v) size = %d×%d; want 5456×3072", r, q.Width, q.Height)
	}
	if q.PromptEnhancer {
		t.Errorf("Quote(%+v) prompt enhancer = true; want false", r)
	}
	want := []credit.Line{{Label: "Nano Banana Pro · 4K", Quantity: 3, UnitCredits: 160_000, Credits: 480_000}}
	if got := q.Lines(); !slices.Equal(got, want) {
		t.Errorf("Quote(%+v) lines = %+v; want %+v", r, got, want)
	}
}

func TestQuoteImages(t *testing.T) {
	cat := catalog.Default()
	tests := []struct {
		images     int
		wantImages int
		want       credit.Credits
	}{
		{0, 1, 73_500}, // 0 means the default, one image
		{1, 1, 73_500},
		{2, 2, 147_000}, // 73.5 × 2
		{3, 3, 220_500}, // 73.5 × 3
		{4, 4, 294_000}, // 73.5 × 4
	}
	for _, tt := range tests {
		r := credit.QuoteRequest{Model: "nano-banana-2", Resolution: "2K", AspectRatio: "16:9", Images: tt.images}
		q := mustQuote(t, cat, r)
		if q.Images != tt.wantImages || q.TotalCredits != tt.want {
			t.Errorf("Quote(%+v) images, total = %d, %v; want %d, %v", r, q.Images, q.TotalCredits, tt.wantImages, tt.want)
		}
	}
	for _, images := range []int{5, -1, 100} {
		r := credit.QuoteRequest{Model: "nano-banana-2", Images: images}
		e := wantRefusal(t, cat, r, "invalid_image_count")
		if e != nil && !slices.Equal(e.Allowed, []string{"1", "2", "3", "4"}) {
			t.Errorf("Quote(%+v) allowed = %q; want [1 2 3 4]", r, e.Allowed)
		}
	}
	// Upscalers make one image per generation.
	for _, images := range []int{2, 4, -1} {
		r := credit.QuoteRequest{Model: "topaz", Scale: 2, InputWidth: 1920, InputHeight: 1080, Images: images}
		e := wantRefusal(t, cat, r, "invalid_image_count")
		if e != nil && !slices.Equal(e.Allowed, []string{"1"}) {
			t.Errorf("Quote(%+v) allowed = %q; want [1]", r, e.Allowed)
		}
	}
}

func TestQuotePromptEnhancerSeed(t *testing.T) {
	// The page publishes no price for the prompt enhancer: 0 in the seed catalog,
	// so turning it on adds no line.
	cat := catalog.Default()
	r := credit.QuoteRequest{Model: "nano-banana-2", PromptEnhancer: true, Images: 2}
	q := mustQuote(t, cat, r)
	if !q.PromptEnhancer || q.TotalCredits != 98_000 || len(q.Lines()) != 1 {
		t.Errorf("Quote(%+v) enhancer, total, lines = %v, %v, %+v; want true, 98, one line", r, q.PromptEnhancer, q.TotalCredits, q.Lines())
	}
}

// TestQuoteBadInput walks SPEC §2's bad input: every refusal is an *Error with
// code invalid and a stable reason.
func TestQuoteBadInput(t *testing.T) {
	cat := catalog.Default()
	nb2Ratios := []string{"1:1", "4:3", "3:4", "3:2", "2:3", "5:4", "4:5", "9:16", "16:9", "21:9"}
	tests := []struct {
		name    string
		req     credit.QuoteRequest
		reason  string
		allowed []string // nil: not checked
	}{
		{"unknown model", credit.QuoteRequest{Model: "nano-banana-3"}, "unknown_model", nil},
		{"empty model", credit.QuoteRequest{}, "unknown_model", nil},

		{"5K", credit.QuoteRequest{Model: "nano-banana-2", Resolution: "5K"}, "unsupported_resolution", []string{"1K", "2K", "4K"}},
		{"0K", credit.QuoteRequest{Model: "nano-banana-2", Resolution: "0K"}, "unsupported_resolution", []string{"1K", "2K", "4K"}},
		{"3K on Nano Banana 2", credit.QuoteRequest{Model: "nano-banana-2", Resolution: "3K"}, "unsupported_resolution", []string{"1K", "2K", "4K"}},
		{"3K on Nano Banana Pro", credit.QuoteRequest{Model: "nano-banana-pro", Resolution: "3K"}, "unsupported_resolution", []string{"1K", "2K", "4K"}},
		{"4K on Seedream v5 Lite", credit.QuoteRequest{Model: "seedream-v5-lite", Resolution: "4K"}, "unsupported_resolution", []string{"1K", "2K", "3K"}},
		{"2k on ChatGPT", credit.QuoteRequest{Model: "chatgpt", Resolution: "2k"}, "unsupported_resolution", []string{"1K"}},
		{"2K on Recraft v4 (unpublished)", credit.QuoteRequest{Model: "recraft-v4", Resolution: "2K"}, "unsupported_resolution", []string{"1K"}},
		{"2K on Personalize Core", credit.QuoteRequest{Model: "personalize-core", Resolution: "2K"}, "unsupported_resolution", []string{"1K"}},
		{"2K on Style Reference", credit.QuoteRequest{Model: "style-reference", Resolution: "2K"}, "unsupported_resolution", []string{"1K"}},
		{"1080p", credit.QuoteRequest{Model: "nano-banana-2", Resolution: "1080p"}, "unsupported_resolution", nil},
		{"1K with a space", credit.QuoteRequest{Model: "nano-banana-2", Resolution: "1K "}, "unsupported_resolution", nil},
		{"1", credit.QuoteRequest{Model: "nano-banana-2", Resolution: "1"}, "unsupported_resolution", nil},

		{"16:10", credit.QuoteRequest{Model: "nano-banana-2", AspectRatio: "16:10"}, "unsupported_aspect_ratio", nb2Ratios},
		{"16/9", credit.QuoteRequest{Model: "nano-banana-2", AspectRatio: "16/9"}, "unsupported_aspect_ratio", nb2Ratios},
		{"32:18", credit.QuoteRequest{Model: "nano-banana-2", AspectRatio: "32:18"}, "unsupported_aspect_ratio", nb2Ratios},
		{"1:1 with a space", credit.QuoteRequest{Model: "nano-banana-2", AspectRatio: " 1:1"}, "unsupported_aspect_ratio", nb2Ratios},
		{"0:0", credit.QuoteRequest{Model: "nano-banana-2", AspectRatio: "0:0"}, "unsupported_aspect_ratio", nb2Ratios},
		{"4:3 on ChatGPT 1.5", credit.QuoteRequest{Model: "chatgpt-1.5", AspectRatio: "4:3"}, "unsupported_aspect_ratio", []string{"1:1", "2:3", "3:2"}},

		{"5 images", credit.QuoteRequest{Model: "nano-banana-2", Images: 5}, "invalid_image_count", []string{"1", "2", "3", "4"}},
		{"-1 images", credit.QuoteRequest{Model: "nano-banana-2", Images: -1}, "invalid_image_count", []string{"1", "2", "3", "4"}},

		{"scale on an image model", credit.QuoteRequest{Model: "nano-banana-2", Scale: 2}, "unsupported_scale", nil},
		{"no scale on Topaz", credit.QuoteRequest{Model: "topaz", InputWidth: 1920, InputHeight: 1080}, "unsupported_scale", []string{"2", "3", "4"}},
		{"8× on Topaz", credit.QuoteRequest{Model: "topaz", Scale: 8, InputWidth: 1920, InputHeight: 1080}, "unsupported_scale", []string{"2", "3", "4"}},
		{"3× on Magnific", credit.QuoteRequest{Model: "magnific-precision-v2", Scale: 3}, "unsupported_scale", []string{"2", "4", "8", "16"}},

		{"Topaz without input size", credit.QuoteRequest{Model: "topaz", Scale: 2}, "invalid_input_size", nil},
		{"input 0×100", credit.QuoteRequest{Model: "topaz", Scale: 2, InputWidth: 0, InputHeight: 100}, "invalid_input_size", nil},
		{"input 16385×10", credit.QuoteRequest{Model: "topaz", Scale: 2, InputWidth: 16385, InputHeight: 10}, "invalid_input_size", nil},
		{"input -5×5", credit.QuoteRequest{Model: "topaz", Scale: 2, InputWidth: -5, InputHeight: 5}, "invalid_input_size", nil},
		{"input size on an image model", credit.QuoteRequest{Model: "nano-banana-2", InputWidth: 1024, InputHeight: 1024}, "invalid_input_size", nil},

		{"edit on Topaz", credit.QuoteRequest{Model: "topaz", Operation: "edit", Scale: 2, InputWidth: 1920, InputHeight: 1080}, "unsupported_operation", []string{"upscale"}},
		{"create on Magnific", credit.QuoteRequest{Model: "magnific-precision-v2", Operation: "create", Scale: 2}, "unsupported_operation", []string{"upscale"}},
		{"upscale on Nano Banana 2", credit.QuoteRequest{Model: "nano-banana-2", Operation: "upscale"}, "unsupported_operation", []string{"create", "edit"}},
		{"paint", credit.QuoteRequest{Model: "nano-banana-2", Operation: "paint"}, "unsupported_operation", []string{"create", "edit"}},
		{"edit on Style Reference", credit.QuoteRequest{Model: "style-reference", Operation: "edit"}, "unsupported_operation", []string{"create"}},

		{"prompt enhancer on Topaz", credit.QuoteRequest{Model: "topaz", PromptEnhancer: true, Scale: 2, InputWidth: 1920, InputHeight: 1080}, "unsupported_option", nil},
		{"resolution on Topaz", credit.QuoteRequest{Model: "topaz", Resolution: "2K", Scale: 2, InputWidth: 1920, InputHeight: 1080}, "unsupported_resolution", nil},
		{"aspect ratio on Magnific", credit.QuoteRequest{Model: "magnific-precision-v2", AspectRatio: "1:1", Scale: 2}, "unsupported_aspect_ratio", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := wantRefusal(t, cat, tt.req, tt.reason)
			if e != nil && tt.allowed != nil && !slices.Equal(e.Allowed, tt.allowed) {
				t.Errorf("Quote(%+v) allowed = %q; want %q", tt.req, e.Allowed, tt.allowed)
			}
		})
	}

	// Accepted spellings: tiers are case-insensitive, and empty means the default 1K.
	for _, res := range []string{"", "1K", "1k"} {
		r := credit.QuoteRequest{Model: "nano-banana-2", Resolution: res}
		if q := mustQuote(t, cat, r); q.Resolution.String() != "1K" || q.TotalCredits != 49_000 {
			t.Errorf("Quote(%+v) = %v for %v; want 1K for 49", r, q.Resolution, q.TotalCredits)
		}
	}
	r := credit.QuoteRequest{Model: "nano-banana-2", Resolution: "4k"}
	if q := mustQuote(t, cat, r); q.Resolution.String() != "4K" || q.TotalCredits != 98_000 {
		t.Errorf("Quote(%+v) = %v for %v; want 4K for 98", r, q.Resolution, q.TotalCredits)
	}
}

// overridesYAML is a catalog that uses what the seed catalog does not: a prompt
// enhancer price, per-aspect-ratio overrides (a multiplier and a replacement
// price), a model-level enhancer and image limit, and models with no 1K or no square.
const overridesYAML = `
version: "test-overrides.1"
effective_at: "2026-01-01T00:00:00Z"
max_images: 4
prompt_enhancer_credits: 2.5
models:
  - name: Wide Model
    kind: image
    resolution: up to 2K
    price: {per_image: 24}
    aspect_ratios: ["1:1", "16:9", "21:9", "3:2"]
    aspect_overrides:
      "16:9": {multiplier: 1.25}
      "21:9": {credits: 60}
      "3:2": {multiplier: 1.1}
  - name: Tiered Model
    kind: image
    resolution: [2K, 4K]
    price: {per_image_by_resolution: {2K: 15, 4K: 30}}
    aspect_ratios: ["16:9", "9:16"]
    aspect_overrides:
      "16:9": {multiplier: 1.5}
  - name: Tiny Model
    kind: personalize
    price: {per_image: 0.003}
    aspect_ratios: ["1:1", "16:9", "3:2"]
    aspect_overrides:
      "16:9": {multiplier: 1.5}
      "3:2": {multiplier: 1.1}
  - name: Batch Model
    kind: style_reference
    max_images: 8
    prompt_enhancer_credits: 1
    price: {per_image: 5}
    aspect_ratios: ["1:1"]
`

func TestQuoteOverridesAndEnhancer(t *testing.T) {
	cat, err := catalog.Parse([]byte(overridesYAML))
	if err != nil {
		t.Fatalf("catalog.Parse(overridesYAML) error = %v", err)
	}
	enhancer := credit.Line{Label: "Prompt enhancer", Quantity: 1, UnitCredits: 2_500, Credits: 2_500}
	tests := []struct {
		name      string
		req       credit.QuoteRequest
		unit      credit.Credits
		total     credit.Credits
		lines     []credit.Line
		wantRes   string
		wantRatio string
	}{
		{"no override", credit.QuoteRequest{Model: "wide-model", AspectRatio: "1:1"},
			24_000, 24_000, []credit.Line{line("Wide Model · 1K", 1, 24_000, 24_000)}, "1K", "1:1"},
		// 24 × 1.25 = 30 per image.
		{"multiplier", credit.QuoteRequest{Model: "wide-model", AspectRatio: "16:9"},
			30_000, 30_000, []credit.Line{line("Wide Model · 1K", 1, 30_000, 30_000)}, "1K", "16:9"},
		// 3 × 30 = 90, + 2.5 once per generation = 92.5.
		{"multiplier, 3 images, enhancer", credit.QuoteRequest{Model: "wide-model", AspectRatio: "16:9", Images: 3, PromptEnhancer: true},
			30_000, 92_500, []credit.Line{line("Wide Model · 1K", 3, 30_000, 90_000), enhancer}, "1K", "16:9"},
		{"multiplier, 3 images, enhancer off", credit.QuoteRequest{Model: "wide-model", AspectRatio: "16:9", Images: 3},
			30_000, 90_000, []credit.Line{line("Wide Model · 1K", 3, 30_000, 90_000)}, "1K", "16:9"},
		// per_image: 2K costs what 1K costs, override included.
		{"multiplier at 2K", credit.QuoteRequest{Model: "wide-model", AspectRatio: "16:9", Resolution: "2K"},
			30_000, 30_000, []credit.Line{line("Wide Model · 2K", 1, 30_000, 30_000)}, "2K", "16:9"},
		// 21:9 replaces the price: 60; 2 × 60 = 120, + 2.5 = 122.5.
		{"replacement price", credit.QuoteRequest{Model: "wide-model", AspectRatio: "21:9", Images: 2},
			60_000, 120_000, []credit.Line{line("Wide Model · 1K", 2, 60_000, 120_000)}, "1K", "21:9"},
		{"replacement price, enhancer", credit.QuoteRequest{Model: "wide-model", AspectRatio: "21:9", Images: 2, PromptEnhancer: true},
			60_000, 122_500, []credit.Line{line("Wide Model · 1K", 2, 60_000, 120_000), enhancer}, "1K", "21:9"},
		// 24 × 1.1 = 26.4.
		{"decimal multiplier", credit.QuoteRequest{Model: "wide-model", AspectRatio: "3:2", Images: 4},
			26_400, 105_600, []credit.Line{line("Wide Model · 1K", 4, 26_400, 105_600)}, "1K", "3:2"},
		// Defaults: the lowest tier offered (2K) and, with no square, the first ratio (16:9):
		// 15 × 1.5 = 22.5.
		{"defaults without 1K or 1:1", credit.QuoteRequest{Model: "Tiered Model"},
			22_500, 22_500, []credit.Line{line("Tiered Model · 2K", 1, 22_500, 22_500)}, "2K", "16:9"},
		// 4K 16:9: 30 × 1.5 = 45; 4 × 45 = 180.
		{"multiplier on a tier price", credit.QuoteRequest{Model: "tiered-model", Resolution: "4K", AspectRatio: "16:9", Images: 4},
			45_000, 180_000, []credit.Line{line("Tiered Model · 4K", 4, 45_000, 180_000)}, "4K", "16:9"},
		{"tier price without override", credit.QuoteRequest{Model: "tiered-model", Resolution: "4K", AspectRatio: "9:16"},
			30_000, 30_000, []credit.Line{line("Tiered Model · 4K", 1, 30_000, 30_000)}, "4K", "9:16"},
		// 0.003 × 1.5 = 0.0045: half up to 0.005.
		{"multiplier rounds half up", credit.QuoteRequest{Model: "tiny-model", AspectRatio: "16:9"},
			5, 5, []credit.Line{line("Tiny Model · 1K", 1, 5, 5)}, "1K", "16:9"},
		// 0.003 × 1.1 = 0.0033: down to 0.003. With the enhancer: 2 × 0.003 + 2.5 = 2.506.
		{"multiplier rounds down", credit.QuoteRequest{Model: "tiny-model", AspectRatio: "3:2", Images: 2, PromptEnhancer: true},
			3, 2_506, []credit.Line{line("Tiny Model · 1K", 2, 3, 6), enhancer}, "1K", "3:2"},
		// The model's own enhancer price (1) and image limit (8): 8 × 5 + 1 = 41.
		{"model-level enhancer and limit", credit.QuoteRequest{Model: "batch-model", Images: 8, PromptEnhancer: true},
			5_000, 41_000, []credit.Line{line("Batch Model · 1K", 8, 5_000, 40_000), line("Prompt enhancer", 1, 1_000, 1_000)}, "1K", "1:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := mustQuote(t, cat, tt.req)
			if q.UnitCredits != tt.unit {
				t.Errorf("Quote(%+v) unit = %v; want %v", tt.req, q.UnitCredits, tt.unit)
			}
			if q.TotalCredits != tt.total {
				t.Errorf("Quote(%+v) total = %v; want %v", tt.req, q.TotalCredits, tt.total)
			}
			if got := q.Lines(); !slices.Equal(got, tt.lines) {
				t.Errorf("Quote(%+v) lines = %+v; want %+v", tt.req, got, tt.lines)
			}
			if q.Resolution.String() != tt.wantRes || q.AspectRatio != tt.wantRatio {
				t.Errorf("Quote(%+v) resolution, ratio = %v, %q; want %v, %q", tt.req, q.Resolution, q.AspectRatio, tt.wantRes, tt.wantRatio)
			}
			if q.CatalogVersion != "test-overrides.1" {
				t.Errorf("Quote(%+v) catalog version = %q; want test-overrides.1", tt.req, q.CatalogVersion)
			}
		})
	}

	r := credit.QuoteRequest{Model: "batch-model", Images: 9}
	e := wantRefusal(t, cat, r, "invalid_image_count")
	if want := []string{"1", "2", "3", "4", "5", "6", "7", "8"}; e != nil && !slices.Equal(e.Allowed, want) {
		t.Errorf("Quote(%+v) allowed = %q; want %q", r, e.Allowed, want)
	}
	r = credit.QuoteRequest{Model: "tiered-model", Resolution: "1K"}
	if e := wantRefusal(t, cat, r, "unsupported_resolution"); e != nil && !slices.Equal(e.Allowed, []string{"2K", "4K"}) {
		t.Errorf("Quote(%+v) allowed = %q; want [2K 4K]", r, e.Allowed)
	}
	r = credit.QuoteRequest{Model: "tiered-model", AspectRatio: "1:1"}
	if e := wantRefusal(t, cat, r, "unsupported_aspect_ratio"); e != nil && !slices.Equal(e.Allowed, []string{"16:9", "9:16"}) {
		t.Errorf("Quote(%+v) allowed = %q; want [16:9 9:16]", r, e.Allowed)
	}
}

func TestOutputSize(t *testing.T) {
	// The rule (credit.OutputSize): n = round(64·K·√(W/H)), width = 16·n; the
	// height likewise with √(H/W). Worked by hand:
	tests := []struct {
		res          credit.Resolution
		w, h         int
		wantW, wantH int
	}{
		// 64·1·1 = 64 → 1024, both sides.
		{1, 1, 1, 1024, 1024},
		// 64·2 = 128 → 2048.
		{2, 1, 1, 2048, 2048},
		// 64·3 = 192 → 3072.
		{3, 1, 1, 3072, 3072},
		// 64·4 = 256 → 4096.
		{4, 1, 1, 4096, 4096},
		// √(16/9) = 4/3: 64·4/3 = 85.33 → 85 → 1360; √(9/16) = 3/4: 64·3/4 = 48 → 768.
		{1, 16, 9, 1360, 768},
		{1, 9, 16, 768, 1360},
		// 128·4/3 = 170.67 → 171 → 2736; 128·3/4 = 96 → 1536.
		{2, 16, 9, 2736, 1536},
		// 256·4/3 = 341.33 → 341 → 5456; 256·3/4 = 192 → 3072 (SPEC §2's example).
		{4, 16, 9, 5456, 3072},
		// √(1/3) = 0.5773503: 64 × 0.5773503 = 36.950 → 37 → 592;
		// √3 = 1.7320508: 64 × 1.7320508 = 110.851 → 111 → 1776.
		{1, 1, 3, 592, 1776},
		{1, 3, 1, 1776, 592},
		// √(21/9) = 1.5275252: 64 × 1.5275252 = 97.762 → 98 → 1568;
		// √(9/21) = 0.6546537: 64 × 0.6546537 = 41.898 → 42 → 672.
		{1, 21, 9, 1568, 672},
		// 256 × 1.5275252 = 391.046 → 391 → 6256; 256 × 0.6546537 = 167.591 → 168 → 2688.
		{4, 21, 9, 6256, 2688},
		// √(4/3) = 1.1547005: 192 × 1.1547005 = 221.703 → 222 → 3552;
		// √(3/4) = 0.8660254: 192 × 0.8660254 = 166.277 → 166 → 2656.
		{3, 4, 3, 3552, 2656},
		// 64 × 1.1547005 = 73.901 → 74 → 1184; 64 × 0.8660254 = 55.426 → 55 → 880.
		{1, 4, 3, 1184, 880},
		// √(3/2) = 1.2247449: 64 × 1.2247449 = 78.384 → 78 → 1248;
		// √(2/3) = 0.8164966: 64 × 0.8164966 = 52.256 → 52 → 832.
		{1, 3, 2, 1248, 832},
		// 192 × 0.8164966 = 156.767 → 157 → 2512; 192 × 1.2247449 = 235.151 → 235 → 3760.
		{3, 2, 3, 2512, 3760},
		// √(5/4) = 1.1180340: 128 × 1.1180340 = 143.108 → 143 → 2288;
		// √(4/5) = 0.8944272: 128 × 0.8944272 = 114.487 → 114 → 1824.
		{2, 5, 4, 2288, 1824},
		// 64 × 0.8944272 = 57.243 → 57 → 912; 64 × 1.1180340 = 71.554 → 72 → 1152.
		{1, 4, 5, 912, 1152},
	}
	for _, tt := range tests {
		gotW, gotH := credit.OutputSize(tt.res, tt.w, tt.h)
		if gotW != tt.wantW || gotH != tt.wantH {
			t.Errorf("OutputSize(%v, %d, %d) = %d×%d; want %d×%d", tt.res, tt.w, tt.h, gotW, gotH, tt.wantW, tt.wantH)
		}
	}

	// And the quote shows it.
	cat := catalog.Default()
	for _, tt := range []struct {
		req          credit.QuoteRequest
		wantW, wantH int
	}{
		{credit.QuoteRequest{Model: "nano-banana-2"}, 1024, 1024},
		{credit.QuoteRequest{Model: "nano-banana-2", AspectRatio: "16:9"}, 1360, 768},
		{credit.QuoteRequest{Model: "nano-banana-2", Resolution: "2K", AspectRatio: "16:9"}, 2736, 1536},
		{credit.QuoteRequest{Model: "nano-banana-2", Resolution: "4K", AspectRatio: "21:9"}, 6256, 2688},
		{credit.QuoteRequest{Model: "imagineart-1.5", AspectRatio: "1:3"}, 592, 1776},
		{credit.QuoteRequest{Model: "seedream-v5-lite", Resolution: "3K", AspectRatio: "4:3"}, 3552, 2656},
	} {
		q := mustQuote(t, cat, tt.req)
		if q.Width != tt.wantW || q.Height != tt.wantH {
			t.Errorf("Quote(%+v) size = %d×%d; want %d×%d", tt.req, q.Width, q.Height, tt.wantW, tt.wantH)
		}
	}
}

// TestQuoteLargeRoundTo prices a per_megapixel model whose round_to is large
// but inside what the catalog accepts (any amount up to MaxCredits). Either the
// catalog refuses it, or the quote is right.
func TestQuoteLargeRoundTo(t *testing.T) {
	const y = `
version: "round-to.1"
effective_at: "2026-01-01T00:00:00Z"
models:
  - name: Coarse Upscaler
    kind: upscale
    price:
      per_megapixel: {base: 100, factors: {2: 1000}, round_to: 40000000}
`
	cat, err := catalog.Parse([]byte(y))
	if err != nil {
		return // refusing so coarse a step is a fine answer too
	}
	// 16384 × 16384 = 268,435,456 px = 268.435456 MP; × 100 × 1000 = 26,843,545.6
	// credits; to the nearest 40,000,000 half up: 0.67 steps → 1 step = 40,000,000.
	r := credit.QuoteRequest{Model: "coarse-upscaler", Scale: 2, InputWidth: 16384, InputHeight: 16384}
	q := mustQuote(t, cat, r)
	if want := credit.Whole(40_000_000); q.TotalCredits != want {
		t.Errorf("Quote(%+v) total = %v; want %v", r, q.TotalCredits, want)
	}
}

// mustQuote quotes r, failing the test on error, and checks what every
// successful quote must satisfy: the lines sum to the total.
func mustQuote(t *testing.T, cat *credit.Catalog, r credit.QuoteRequest) credit.Quote {
	t.Helper()
	q, err := cat.Quote(r)
	if err != nil {
		t.Fatalf("Quote(%+v) error = %v; want nil", r, err)
	}
	var sum credit.Credits
	for _, l := range q.Lines() {
		sum += l.Credits
		if l.Credits != l.UnitCredits*credit.Credits(l.Quantity) {
			t.Errorf("Quote(%+v) line %+v: credits ≠ quantity × unit", r, l)
		}
	}
	if len(q.Lines()) == 0 || sum != q.TotalCredits {
		t.Errorf("Quote(%+v) lines %+v sum to %v; want total %v", r, q.Lines(), sum, q.TotalCredits)
	}
	return q
}

// wantRefusal checks that r is refused with an *Error of code invalid and the
// given reason, and returns the error (nil if it was not one).
func wantRefusal(t *testing.T, cat *credit.Catalog, r credit.QuoteRequest, reason string) *credit.Error {
	t.Helper()
	q, err := cat.Quote(r)
	var e *credit.Error
	if !errors.As(err, &e) {
		t.Errorf("Quote(%+v) = %v total, error %v; want *credit.Error %s", r, q.TotalCredits, err, reason)
		return nil
	}
	if e.Code != credit.Invalid || credit.ErrorCode(err) != credit.Invalid {
		t.Errorf("Quote(%+v) error code = %q; want %q", r, e.Code, credit.Invalid)
	}
	if got := credit.ErrorReason(err); got != reason {
		t.Errorf("Quote(%+v) error reason = %q (%v); want %q", r, got, err, reason)
	}
	if e.Message == "" {
		t.Errorf("Quote(%+v) error has no message", r)
	}
	if q.TotalCredits != 0 || len(q.Lines()) != 0 {
		t.Errorf("Quote(%+v) refused but returned a price: %v", r, q.TotalCredits)
	}
	return e
}

// checkOutputShape checks the documented properties of an image quote's size:
// both sides multiples of 16, about (1024·K)² pixels, about the asked shape.
func checkOutputShape(t *testing.T, r credit.QuoteRequest, q credit.Quote) {
	t.Helper()
	if q.Width <= 0 || q.Height <= 0 || q.Width%16 != 0 || q.Height%16 != 0 {
		t.Errorf("Quote(%+v) size = %d×%d; want positive multiples of 16", r, q.Width, q.Height)
		return
	}
	var w, h int
	if _, err := fmt.Sscanf(q.AspectRatio, "%d:%d", &w, &h); err != nil {
		t.Fatalf("aspect ratio %q: %v", q.AspectRatio, err)
	}
	// Each side is within 8 px of exact, so on the smallest side (1K 1:3, 592 px)
	// area and shape stay within 3%.
	side := 1024 * int64(q.Resolution)
	area := int64(q.Width) * int64(q.Height)
	if d := area - side*side; d*100 > 3*side*side || -d*100 > 3*side*side {
		t.Errorf("Quote(%+v) size = %d×%d (%d px); want about %d²", r, q.Width, q.Height, area, side)
	}
	lhs, rhs := int64(q.Width)*int64(h), int64(q.Height)*int64(w)
	if d := lhs - rhs; d*100 > 3*rhs || -d*100 > 3*rhs {
		t.Errorf("Quote(%+v) size = %d×%d; want the shape %s", r, q.Width, q.Height, q.AspectRatio)
	}
}

// line is a breakdown row: quantity × unit = credits, all typed by the caller.
func line(label string, quantity int, unit, credits credit.Credits) credit.Line {
	return credit.Line{Label: label, Quantity: quantity, UnitCredits: unit, Credits: credits}
}
