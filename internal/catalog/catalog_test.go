package catalog_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
)

// head is the top of most test catalogs: three lines, so the first model
// starts on line 4.
const head = `version: v1
effective_at: "2026-01-01T00:00:00Z"
models:
`

// modelA is a valid image model on lines 4 to 8 when it follows head.
const modelA = `  - name: A
    kind: image
    price: {per_image: 10}
    resolution: up to 1K
    aspect_ratios: ["1:1"]
`

// minimal is the smallest valid catalog.
const minimal = head + modelA

// mustParse parses a catalog that must be valid.
func mustParse(tb testing.TB, text string) *credit.Catalog {
	tb.Helper()
	c, err := catalog.Parse([]byte(text))
	if err != nil {
		tb.Fatalf("Parse: %v\n%s", err, text)
	}
	return c
}

// issues parses a catalog that must be refused and returns its issues.
func issues(tb testing.TB, text string) []catalog.Issue {
	tb.Helper()
	c, err := catalog.Parse([]byte(text))
	if c != nil {
		tb.Errorf("Parse returned a catalog with error %v; want no catalog", err)
	}
	var ve *catalog.ValidationError
	if !errors.As(err, &ve) {
		tb.Fatalf("Parse error = %v (%T); want a *catalog.ValidationError\n%s", err, err, text)
	}
	if len(ve.Issues) == 0 {
		tb.Fatalf("Parse returned a ValidationError with no issues")
	}
	return ve.Issues
}

func issuesText(is []catalog.Issue) string {
	var b strings.Builder
	for _, i := range is {
		fmt.Fprintf(&b, "\n\t%s", i)
	}
	return b.String()
}

func TestDefault(t *testing.T) {
	c, err := catalog.Parse(catalog.DefaultYAML())
	if err != nil {
		t.Fatalf("Parse(DefaultYAML()) = %v", err)
	}
	d := catalog.Default()
	// The seed page: 23 Create/Edit models, 3 Personalize modes, Style
	// Reference and 2 upscalers.
	if got, want := len(c.Models), 23+3+1+2; got != want {
		t.Errorf("len(Models) = %d; want %d", got, want)
	}
	if len(d.Models) != len(c.Models) {
		t.Errorf("Default() has %d models; Parse(DefaultYAML()) has %d", len(d.Models), len(c.Models))
	}
	if c.Version == "" || c.Version != d.Version {
		t.Errorf("Version = %q (Default %q); want the same non-empty version", c.Version, d.Version)
	}
	if c.EffectiveAt.IsZero() {
		t.Errorf("EffectiveAt is zero")
	}
	if want := time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC); !c.EffectiveAt.Equal(want) {
		t.Errorf("EffectiveAt = %v; want %v", c.EffectiveAt, want)
	}

	kinds := map[credit.Kind]int{}
	ids := map[string]bool{}
	for _, m := range c.Models {
		if ids[m.ID] {
			t.Errorf("id %q appears twice", m.ID)
		}
		ids[m.ID] = true
		if m.ID != credit.Slug(m.Name) {
			t.Errorf("model %q has id %q; want the slug %q", m.Name, m.ID, credit.Slug(m.Name))
		}
		kinds[m.Kind]++
	}
	for kind, want := range map[credit.Kind]int{credit.KindImage: 23, credit.KindPersonalize: 3, credit.KindStyleReference: 1, credit.KindUpscale: 2} {
		if kinds[kind] != want {
			t.Errorf("%d models of kind %s; want %d", kinds[kind], kind, want)
		}
	}
	// Ids named by the spec.
	for _, id := range []string{"nano-banana-2", "imagineart-1.5-pro", "xai-grok-imagine", "imagen-4", "magnific-precision-v2", "topaz"} {
		if !ids[id] {
			t.Errorf("no model with id %q", id)
		}
	}
}

// TestDefaultPrices checks a few rows against the seed page.
func TestDefaultPrices(t *testing.T) {
	c := catalog.Default()
	for _, tt := range []struct {
		req  credit.QuoteRequest
		want credit.Credits
	}{
		{credit.QuoteRequest{Model: "nano-banana-2", Resolution: "1K"}, 49 * credit.Milli},
		{credit.QuoteRequest{Model: "nano-banana-2", Resolution: "2K"}, 73500},
		{credit.QuoteRequest{Model: "nano-banana-2", Resolution: "4K"}, 98 * credit.Milli},
		{credit.QuoteRequest{Model: "nano-banana-pro", Resolution: "4K", Images: 3}, 480 * credit.Milli},
		{credit.QuoteRequest{Model: "Recraft v4 Pro"}, 150 * credit.Milli},
		// The page's example: 1920×1080 at 2× with Topaz ≈ 41 credits.
		{credit.QuoteRequest{Model: "topaz", Scale: 2, InputWidth: 1920, InputHeight: 1080}, 41 * credit.Milli},
		{credit.QuoteRequest{Model: "magnific-precision-v2", Scale: 16}, 1040 * credit.Milli},
	} {
		q, err := c.Quote(tt.req)
		if err != nil {
			t.Errorf("Quote(%+v) = %v", tt.req, err)
			continue
		}
		if q.TotalCredits != tt.want {
			t.Errorf("Quote(%+v) total = %v; want %v", tt.req, q.TotalCredits, tt.want)
		}
		if q.CatalogVersion != c.Version {
			t.Errorf("Quote(%+v) catalog version = %q; want %q", tt.req, q.CatalogVersion, c.Version)
		}
	}
}

func TestMinimal(t *testing.T) {
	c := mustParse(t, minimal)
	if c.Version != "v1" {
		t.Errorf("Version = %q; want v1", c.Version)
	}
	if len(c.Models) != 1 || c.Models[0].ID != "a" || c.Models[0].MaxImages != 4 {
		t.Fatalf("Models = %+v; want one model, id a, max 4 images", c.Models)
	}
	q, err := c.Quote(credit.QuoteRequest{Model: "a", Images: 2})
	if err != nil {
		t.Fatal(err)
	}
	if q.TotalCredits != 20*credit.Milli {
		t.Errorf("2 images of A = %v; want 20", q.TotalCredits)
	}
}

// TestThreeMistakes: a file with three mistakes gets three messages, each
// with its line.
func TestThreeMistakes(t *testing.T) {
	const text = `version: v1
effective_at: "2026-01-01T00:00:00Z"
max_images: 0
models:
  - name: A
    kind: image
    price: {per_img: 10}
    resolution: up to 1K
    aspect_ratios: ["1:1"]
  - name: B
    kind: image
    price: {per_image: 10}
    resolution: up to 1K
    aspect_ratios: ["1:1", "16x9"]
`
	_, err := catalog.Parse([]byte(text))
	var ve *catalog.ValidationError
	if !errors.As(err, &ve) {
		t.Fatalf("Parse error = %v (%T); want a *catalog.ValidationError", err, err)
	}
	want := []struct {
		line int
		text string
	}{
		{3, `max_images: "0" is not a whole number from 1 to 100`},
		{7, `unknown rule "per_img"`},
		{14, `"16x9" is not an aspect ratio`},
	}
	if len(ve.Issues) != len(want) {
		t.Fatalf("got %d issues; want %d:%s", len(ve.Issues), len(want), issuesText(ve.Issues))
	}
	for i, w := range want {
		is := ve.Issues[i]
		if is.Line != w.line || !strings.Contains(is.String(), w.text) {
			t.Errorf("issue %d = %q (line %d); want line %d and %q", i, is, is.Line, w.line, w.text)
		}
	}

	lines := strings.Split(err.Error(), "\n")
	if len(lines) != 3 {
		t.Fatalf("error has %d lines; want 3:\n%s", len(lines), err)
	}
	for i, l := range lines {
		prefix := fmt.Sprintf("catalog: line %d col %d: ", ve.Issues[i].Line, ve.Issues[i].Column)
		if !strings.HasPrefix(l, prefix) || ve.Issues[i].Column < 1 {
			t.Errorf("error line %d = %q; want it to start with %q", i, l, prefix)
		}
	}
	if got := credit.ErrorReason(err); got != "invalid_catalog" {
		t.Errorf("ErrorReason = %q; want invalid_catalog", got)
	}
	if got := credit.ErrorCode(err); got != credit.Invalid {
		t.Errorf("ErrorCode = %q; want %q", got, credit.Invalid)
	}
}

// TestOneMistake: each catalog has exactly one mistake, which gets exactly
// one issue, on the line counted by hand (0: the issue is about the whole
// file and has no position).
func TestOneMistake(t *testing.T) {
	// upscale is a valid upscale model on lines 4 to 6 after head.
	const upscale = "  - name: U\n    kind: upscale\n"
	for _, tt := range []struct {
		name string
		text string
		line int
		want string // a part of the issue's text (path and message)
	}{
		{"unknown top-level key", minimal + "colour: red\n", 9, `unknown key "colour"`},
		{"unknown model key", minimal + "    colour: red\n", 9, `unknown key "colour"`},
		{"missing version", `effective_at: "2026-01-01T00:00:00Z"
models:
` + modelA, 1, "version: missing"},
		{"missing effective_at", `version: v1
models:
` + modelA, 1, "effective_at: missing"},
		{"bad time", `version: v1
effective_at: "2026-13-01"
models:
` + modelA, 2, `"2026-13-01" is not an RFC 3339 time`},
		{"bad version", `version: "has space"
effective_at: "2026-01-01T00:00:00Z"
models:
` + modelA, 1, `version "has space" must be`},
		{"missing models", `version: v1
effective_at: "2026-01-01T00:00:00Z"
`, 1, "models: missing"},
		{"empty models", `version: v1
effective_at: "2026-01-01T00:00:00Z"
models: []
`, 3, "the catalog has no models"},
		{"max_images above the limit", `version: v1
effective_at: "2026-01-01T00:00:00Z"
max_images: 101
models:
` + modelA, 3, `"101" is not a whole number from 1 to 100`},
		{"duplicate id", minimal + `  - name: B
    id: a
    kind: image
    price: {per_image: 10}
    resolution: up to 1K
    aspect_ratios: ["1:1"]
`, 9, `id "a" is already used by models[0]`},
		{"duplicate name, other case", minimal + `  - name: a
    id: other
    kind: image
    price: {per_image: 10}
    resolution: up to 1K
    aspect_ratios: ["1:1"]
`, 9, `name "a" is already used by models[0]`},
		{"name with a line break", head + `  - name: "A\nB"
    kind: image
    price: {per_image: 10}
    resolution: up to 1K
    aspect_ratios: ["1:1"]
`, 4, "name"},
		{"bad id", head + `  - name: A
    id: Bad Id
    kind: image
    price: {per_image: 10}
    resolution: up to 1K
    aspect_ratios: ["1:1"]
`, 5, `id "Bad Id" must be lower-case`},
		{"missing kind", head + `  - name: A
    price: {per_image: 10}
    resolution: up to 1K
    aspect_ratios: ["1:1"]
`, 4, "kind: missing"},
		{"bad kind", head + `  - name: A
    kind: video
    price: {per_image: 10}
    resolution: up to 1K
    aspect_ratios: ["1:1"]
`, 5, `unknown kind "video"`},
		{"missing price", head + `  - name: A
    kind: image
    resolution: up to 1K
    aspect_ratios: ["1:1"]
`, 4, "price: missing"},
		{"two rules", head + `  - name: A
    kind: image
    price:
      per_image: 10
      per_image_by_resolution: {1K: 10}
    resolution: up to 1K
    aspect_ratios: ["1:1"]
`, 7, "want exactly one rule"},
		{"unknown rule", head + `  - name: A
    kind: image
    price: {per_img: 10}
    resolution: up to 1K
    aspect_ratios: ["1:1"]
`, 6, `unknown rule "per_img"`},
		{"per_megapixel on an image model", head + `  - name: A
    kind: image
    price: {per_megapixel: {base: 20, factors: {2: 1}}}
    resolution: up to 1K
    aspect_ratios: ["1:1"]
`, 6, "image models are priced per_image or per_image_by_resolution"},
		{"by_scale on a personalize model", head + `  - name: P
    kind: personalize
    price: {by_scale: {2: 10}}
    aspect_ratios: ["1:1"]
`, 6, "personalize models are priced per_image or per_image_by_resolution"},
		{"per_image on upscale", head + upscale + "    price: {per_image: 10}\n", 6, "upscale models are priced per_megapixel or by_scale"},
		{"price 0", head + `  - name: A
    kind: image
    price: {per_image: 0}
    resolution: up to 1K
    aspect_ratios: ["1:1"]
`, 6, "a price must be more than 0"},
		{"price -1", head + `  - name: A
    kind: image
    price: {per_image: -1}
    resolution: up to 1K
    aspect_ratios: ["1:1"]
`, 6, "a price must be more than 0"},
		{"price with 4 decimals", head + `  - name: A
    kind: image
    price: {per_image: 0.0001}
    resolution: up to 1K
    aspect_ratios: ["1:1"]
`, 6, "more than three decimals"},
		{"price not a number", head + `  - name: A
    kind: image
    price: {per_image: ten}
    resolution: up to 1K
    aspect_ratios: ["1:1"]
`, 6, `"ten" is not an amount of credits`},
		{"negative prompt enhancer", `version: v1
effective_at: "2026-01-01T00:00:00Z"
prompt_enhancer_credits: -1
models:
` + modelA, 3, "prompt_enhancer_credits: -1 credits"},
		{"resolution up to 5K", head + `  - name: A
    kind: image
    price: {per_image: 10}
    resolution: up to 5K
    aspect_ratios: ["1:1"]
`, 7, `unknown resolution "5K"`},
		{"resolution sometimes", head + `  - name: A
    kind: image
    price: {per_image: 10}
    resolution: sometimes
    aspect_ratios: ["1:1"]
`, 7, `"sometimes" is not a resolution cap`},
		{"missing resolution", head + `  - name: A
    kind: image
    price: {per_image: 10}
    aspect_ratios: ["1:1"]
`, 4, "resolution: missing"},
		{"resolutions not ascending", head + `  - name: A
    kind: image
    price: {per_image: 10}
    resolution: [2K, 1K]
    aspect_ratios: ["1:1"]
`, 7, "in ascending order"},
		{"resolution listed without a price", head + `  - name: A
    kind: image
    price: {per_image_by_resolution: {1K: 10, 4K: 20}}
    resolution: [1K, 2K, 4K]
    aspect_ratios: ["1:1"]
`, 7, "resolution 2K is listed but has no price"},
		{"price above the cap", head + `  - name: A
    kind: image
    price: {per_image_by_resolution: {1K: 10, 2K: 20, 4K: 40}}
    resolution: up to 2K
    aspect_ratios: ["1:1"]
`, 7, "resolution 4K has a price but is not offered"},
		{"cap without a price", head + `  - name: A
    kind: image
    price: {per_image_by_resolution: {1K: 10}}
    resolution: up to 2K
    aspect_ratios: ["1:1"]
`, 7, "the cap 2K has no price"},
		{"unknown tier in a price", head + `  - name: A
    kind: image
    price: {per_image_by_resolution: {1K: 10, 8K: 20}}
    resolution: up to 1K
    aspect_ratios: ["1:1"]
`, 6, `unknown resolution "8K"`},
		{"unpublished without a 1K price", head + `  - name: A
    kind: image
    price: {per_image_by_resolution: {}}
    resolution: unpublished
    aspect_ratios: ["1:1"]
`, 7, "1K has no price"},
		{"missing aspect_ratios", head + `  - name: A
    kind: image
    price: {per_image: 10}
    resolution: up to 1K
`, 4, "aspect_ratios: missing"},
		{"aspect_ratios empty", head + `  - name: A
    kind: image
    price: {per_image: 10}
    resolution: up to 1K
    aspect_ratios: []
`, 8, "the list of aspect ratios is empty"},
		{"aspect 0:1", head + `  - name: A
    kind: image
    price: {per_image: 10}
    resolution: up to 1K
    aspect_ratios: ["1:1", "0:1"]
`, 8, `"0:1" is not an aspect ratio`},
		{"duplicate aspect", head + `  - name: A
    kind: image
    price: {per_image: 10}
    resolution: up to 1K
    aspect_ratios:
      - "1:1"
      - "16:9"
      - "1:1"
`, 11, "aspect ratio 1:1 is listed twice"},
		{"override for an unlisted ratio", minimal + `    aspect_overrides:
      "16:9": {multiplier: 1.5}
`, 10, `aspect ratio "16:9" is not in this model's aspect_ratios`},
		{"override with multiplier and credits", minimal + `    aspect_overrides:
      "1:1": {multiplier: 1.5, credits: 20}
`, 10, "give exactly one of multiplier or credits"},
		{"override multiplier above the limit", minimal + `    aspect_overrides:
      "1:1": {multiplier: 101}
`, 10, "more than the limit of 100"},
		{"upscale with aspect_ratios", head + upscale + `    price: {by_scale: {2: 10}}
    aspect_ratios: ["1:1"]
`, 7, "upscale models take no aspect_ratios"},
		{"upscale with resolution", head + upscale + `    price: {by_scale: {2: 10}}
    resolution: up to 2K
`, 7, "upscale models take no resolution"},
		{"scale 1", head + upscale + `    price:
      by_scale:
        1: 5
        2: 10
`, 8, `scale "1" must be a whole number from 2 to 64`},
		{"duplicate scale key", head + upscale + `    price:
      by_scale:
        2: 10
        2x: 20
`, 9, "scale 2× appears twice"},
		{"per_megapixel missing base", head + upscale + `    price:
      per_megapixel:
        factors: {2: 1}
`, 8, "per_megapixel.base: missing"},
		{"per_megapixel factor above the limit", head + upscale + `    price:
      per_megapixel:
        base: 20
        factors: {2: 1001}
`, 9, "1001 is more than the limit of 1000"},
		{"upscale without a scale", head + upscale + `    price: {by_scale: {}}
`, 6, "an upscale model needs at least one scale"},
		{"merge key", minimal + `  - <<: {kind: image}
    name: B
    kind: image
    price: {per_image: 10}
    resolution: up to 1K
    aspect_ratios: ["1:1"]
`, 9, "merge keys (<<) are not supported"},
		{"alias to an unknown anchor", head + `  - name: A
    kind: image
    price: {per_image: 10}
    resolution: up to 1K
    aspect_ratios: *nowhere
`, 8, "an alias to an unknown anchor"},
		{"YAML syntax error", head + `  - name: A
    kind: image
    price: {per_image: 10}
    resolution: up to 1K
    aspect_ratios: ["1:1"
`, 8, "YAML syntax"},
		{"two YAML documents", minimal + "---\n" + minimal, 0, "want exactly one YAML document, found 2"},
		{"duplicate key", head + `  - name: A
    kind: image
    kind: image
    price: {per_image: 10}
    resolution: up to 1K
    aspect_ratios: ["1:1"]
`, 6, `"kind" already defined`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			is := issues(t, tt.text)
			if len(is) != 1 {
				t.Fatalf("got %d issues; want 1:%s", len(is), issuesText(is))
			}
			if is[0].Line != tt.line || !strings.Contains(is[0].String(), tt.want) {
				t.Errorf("issue = %q (line %d); want line %d and %q", is[0], is[0].Line, tt.line, tt.want)
			}
			if tt.line > 0 && is[0].Column < 1 {
				t.Errorf("issue %q has line %d but column %d", is[0], is[0].Line, is[0].Column)
			}
		})
	}
}

// TestEmptyFile: an empty file (or one with only comments) is refused with a
// message that says so.
func TestEmptyFile(t *testing.T) {
	for _, text := range []string{"", "\n", "# nothing here\n"} {
		is := issues(t, text)
		if len(is) != 1 || !strings.Contains(is[0].Message, "empty") {
			t.Errorf("Parse(%q) issues:%s\nwant one issue saying the file is empty", text, issuesText(is))
		}
	}
}

// TestNameMatchesAnotherID: lookups accept an id or a display name, so a
// display name that equals another model's id (case-insensitively) makes a
// name lead to the wrong model. The loader must refuse it.
func TestNameMatchesAnotherID(t *testing.T) {
	const text = head + `  - name: Alpha
    id: beta
    kind: image
    price: {per_image: 10}
    resolution: up to 1K
    aspect_ratios: ["1:1"]
  - name: Beta
    id: gamma
    kind: image
    price: {per_image: 99}
    resolution: up to 1K
    aspect_ratios: ["1:1"]
`
	c, err := catalog.Parse([]byte(text))
	if err == nil {
		m, _ := c.Model("Beta")
		t.Fatalf(`Parse accepted a catalog where model "Beta" has the name of models[0]'s id "beta"; Model("Beta") = %q`, m.Name)
	}
	is := issues(t, text)
	if len(is) != 1 || is[0].Line != 10 || !strings.Contains(is[0].Message, "beta") {
		t.Errorf("issues:%s\nwant one, on line 10, naming beta", issuesText(is))
	}
}

func TestAnchorsAndAliases(t *testing.T) {
	const text = head + `  - name: A
    kind: image
    price: {per_image: 10}
    resolution: up to 1K
    aspect_ratios: &wide ["1:1", "16:9", "21:9"]
  - name: B
    kind: image
    price: &twelve {per_image: 12}
    resolution: up to 1K
    aspect_ratios: *wide
  - name: C
    kind: personalize
    price: *twelve
    aspect_ratios: *wide
`
	c := mustParse(t, text)
	for _, id := range []string{"a", "b", "c"} {
		m, err := c.Model(id)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := strings.Join(m.AspectTexts(), " "), "1:1 16:9 21:9"; got != want {
			t.Errorf("%s aspect ratios = %q; want %q", id, got, want)
		}
	}
	q, err := c.Quote(credit.QuoteRequest{Model: "c", AspectRatio: "21:9"})
	if err != nil {
		t.Fatal(err)
	}
	if q.TotalCredits != 12*credit.Milli {
		t.Errorf("C at 21:9 = %v; want 12", q.TotalCredits)
	}
}

// TestPricesAreExact: amounts are read from the text, never through a float.
func TestPricesAreExact(t *testing.T) {
	const text = `version: v1
effective_at: "2026-01-01T00:00:00Z"
prompt_enhancer_credits: 0.5
max_images: 10
models:
  - name: A
    kind: image
    price: {per_image_by_resolution: {1K: 0.1, 2K: 73.5, 3K: 1e3}}
    resolution: up to 3K
    aspect_ratios: ["1:1", "16:9"]
    aspect_overrides:
      "16:9": {multiplier: 1.5}
`
	c := mustParse(t, text)
	for _, tt := range []struct {
		req  credit.QuoteRequest
		want credit.Credits
	}{
		{credit.QuoteRequest{Model: "a", Images: 10}, 1000},                                           // 10 × 0.1
		{credit.QuoteRequest{Model: "a", Resolution: "2K", Images: 3}, 220500},                        // 3 × 73.5
		{credit.QuoteRequest{Model: "a", Resolution: "3K"}, 1000 * credit.Milli},                      // 1e3
		{credit.QuoteRequest{Model: "a", Resolution: "2K", AspectRatio: "16:9"}, 110250},              // 73.5 × 1.5
		{credit.QuoteRequest{Model: "a", PromptEnhancer: true, Images: 2}, 700},                       // 2 × 0.1 + 0.5
		{credit.QuoteRequest{Model: "a", Resolution: "2K", PromptEnhancer: true}, 73500 + 500},        // 73.5 + 0.5
		{credit.QuoteRequest{Model: "a", Resolution: "3K", AspectRatio: "16:9"}, 1500 * credit.Milli}, // 1000 × 1.5
	} {
		q, err := c.Quote(tt.req)
		if err != nil {
			t.Errorf("Quote(%+v) = %v", tt.req, err)
			continue
		}
		if q.TotalCredits != tt.want {
			t.Errorf("Quote(%+v) total = %v; want %v", tt.req, q.TotalCredits, tt.want)
		}
	}
}

// TestPerMegapixelRoundTo: a large rounding step is either refused or priced
// exactly. By hand: 1 000 000 credits × 16384·16384/10⁶ megapixels × 3 =
// 805 306 368 credits; half up to a step of 1 000 000 that is 805 000 000, to a
// step of 100 000 000 it is 800 000 000. (The product of the step and 10⁹
// overflows 64 bits past a step of about 18 million credits.)
func TestPerMegapixelRoundTo(t *testing.T) {
	for _, tt := range []struct {
		roundTo  string
		want     credit.Credits
		refuseOK bool
	}{
		{"1", 805_306_368 * credit.Milli, false},
		{"1000000", 805_000_000 * credit.Milli, false},
		{"100000000", 800_000_000 * credit.Milli, true},
	} {
		text := head + `  - name: U
    kind: upscale
    price:
      per_megapixel: {base: 1000000, factors: {4: 3}, round_to: ` + tt.roundTo + `}
`
		c, err := catalog.Parse([]byte(text))
		if err != nil {
			if !tt.refuseOK {
				t.Errorf("round_to %s: Parse = %v", tt.roundTo, err)
			}
			continue
		}
		req := credit.QuoteRequest{Model: "u", Scale: 4, InputWidth: 16384, InputHeight: 16384}
		q, err := c.Quote(req)
		if err != nil {
			if !tt.refuseOK {
				t.Errorf("round_to %s: Quote(%+v) = %v", tt.roundTo, req, err)
			}
			continue
		}
		if q.TotalCredits != tt.want {
			t.Errorf("round_to %s: Quote(%+v) total = %v; want %v", tt.roundTo, req, q.TotalCredits, tt.want)
		}
	}
}

// TestDeepNesting: a small file of deeply nested brackets must be refused
// cheaply; a catalog is never nested more than a few levels.
func TestDeepNesting(t *testing.T) {
	const depth = 10000 // 20 KB
	text := "version: v1\nmodels: " + strings.Repeat("[", depth) + strings.Repeat("]", depth) + "\n"
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	c, err := catalog.Parse([]byte(text))
	runtime.ReadMemStats(&after)
	if c != nil || err == nil {
		t.Fatalf("Parse(%d nested lists) = %v, %v; want an error", depth, c, err)
	}
	const limit = 32 << 20
	if got := after.TotalAlloc - before.TotalAlloc; got > limit {
		t.Errorf("Parse of a %d-byte file %d levels deep allocated %d MiB; want at most %d MiB", len(text), depth, got>>20, limit>>20)
	}
}

func TestLoadFile(t *testing.T) {
	dir := t.TempDir()
	c, err := catalog.LoadFile(filepath.Join(dir, "missing.yaml"))
	if c != nil || err == nil {
		t.Fatalf("LoadFile(missing) = %v, %v; want an error", c, err)
	}
	if got := credit.ErrorReason(err); got != "invalid_catalog" {
		t.Errorf("LoadFile(missing) reason = %q; want invalid_catalog (%v)", got, err)
	}
	if !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("LoadFile(missing) = %q; want it to name the file", err)
	}
}

// FuzzParse: any input gives either a catalog or a ValidationError with at
// least one issue, never a panic, and every model of a catalog quotes its
// default request without panicking.
func FuzzParse(f *testing.F) {
	f.Add(catalog.DefaultYAML())
	f.Add([]byte(minimal))
	if example, err := os.ReadFile("../../examples/plans.yaml"); err == nil {
		f.Add(example)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := catalog.Parse(data)
		if err != nil {
			var ve *catalog.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Parse error %v is a %T; want a *catalog.ValidationError", err, err)
			}
			if c != nil {
				t.Fatalf("Parse returned a catalog and the error %v", err)
			}
			if len(ve.Issues) == 0 {
				t.Fatalf("Parse returned a ValidationError with no issues")
			}
			// One line per issue, each with a message.
			for _, is := range ve.Issues {
				if is.Message == "" || strings.ContainsAny(is.String(), "\r\n") {
					t.Fatalf("issue %q is empty or spans lines", is)
				}
			}
			if got := credit.ErrorReason(err); got != "invalid_catalog" {
				t.Fatalf("ErrorReason = %q; want invalid_catalog", got)
			}
			return
		}
		if c == nil {
			t.Fatalf("Parse returned neither a catalog nor an error")
		}
		checkPlans(t, c)
		for _, m := range c.Models {
			req := credit.QuoteRequest{Model: m.ID}
			if m.Kind == credit.KindUpscale {
				if len(m.Price.Scales) == 0 {
					t.Fatalf("upscale model %q has no scale", m.ID)
				}
				req.Scale = m.Price.Scales[0].Times
				req.InputWidth, req.InputHeight = 100, 100
			}
			q, err := c.Quote(req)
			if err != nil {
				var ce *credit.Error
				if !errors.As(err, &ce) {
					t.Fatalf("Quote(%+v) error %v is a %T; want a *credit.Error", req, err, err)
				}
				continue
			}
			if q.TotalCredits < 0 {
				t.Fatalf("Quote(%+v) total = %v; want ≥ 0", req, q.TotalCredits)
			}
		}
	})
}

// checkPlans fails unless every plan of a valid catalog keeps the rules the
// loader promises: model ids that exist, tags that some model carries,
// positive allowances, programs with daily allowances and no windows.
func checkPlans(t *testing.T, c *credit.Catalog) {
	t.Helper()
	tags := map[string]bool{}
	for _, m := range c.Models {
		for _, tag := range m.Tags {
			tags[tag] = true
		}
	}
	eligibility := func(what string, e credit.Eligibility) {
		for _, id := range append(append([]string{}, e.Models...), e.ExcludeModels...) {
			if m, err := c.Model(id); err != nil || m.ID != id {
				t.Fatalf("%s names %q, which is not a model id", what, id)
			}
		}
		for _, tag := range append(append([]string{}, e.Tags...), e.ExcludeTags...) {
			if !tags[tag] {
				t.Fatalf("%s names tag %q, which no model carries", what, tag)
			}
		}
	}
	for _, p := range c.Plans {
		if c.Plan(p.ID) != p {
			t.Fatalf("plan id %q is not unique", p.ID)
		}
		eligibility("plan "+p.ID, p.Models)
		for _, a := range p.Allowances {
			if a.Credits <= 0 || (a.Every != credit.EveryDay && a.Every != credit.EveryMonth) || a.Source == "" || a.Source == credit.SourceOverdraft {
				t.Fatalf("plan %s allowance %+v", p.ID, a)
			}
			if p.Program && a.Every != credit.EveryDay {
				t.Fatalf("program %s gives credits every %s", p.ID, a.Every)
			}
			if a.Rollover != nil && (a.Every != credit.EveryMonth || a.Rollover.MaxCredits <= 0) {
				t.Fatalf("plan %s rollover %+v on %+v", p.ID, *a.Rollover, a)
			}
			eligibility("plan "+p.ID+" applies_to", a.AppliesTo)
		}
		if p.Program && len(p.Unlimited) > 0 {
			t.Fatalf("program %s has unlimited windows", p.ID)
		}
		for _, w := range p.Unlimited {
			if len(w.Models) == 0 || w.Days < 1 || w.MaxConcurrent < 1 || w.DailyFast < 0 || (w.AfterFast != credit.AfterFastBlock && w.AfterFast != credit.AfterFastRelaxed) {
				t.Fatalf("plan %s window %+v", p.ID, w)
			}
			eligibility("plan "+p.ID+" window", credit.Eligibility{Models: w.Models})
		}
	}
}
