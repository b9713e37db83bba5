package console_test

import (
	"context"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/console"
	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/sqlite"
)

// Expected figures below are typed from the studio page
// (shared/seeds/000_269dcb4ae9c79468.txt) or calculated by hand from it.

// page is one answer, its body read whole.
type page struct {
	status int
	header http.Header
	body   string
}

func get(t *testing.T, h http.Handler, method, target string) page {
	t.Helper()
	req := httptest.NewRequest(method, target, nil)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	b, err := io.ReadAll(rec.Result().Body)
	if err != nil {
		t.Fatal(err)
	}
	return page{status: rec.Code, header: rec.Result().Header, body: string(b)}
}

// mustCatalog parses the built-in catalog's text with replacements applied
// (old, new pairs), failing the test if the text did not contain them.
func mustCatalog(t *testing.T, replace ...string) *credit.Catalog {
	t.Helper()
	text := string(catalog.DefaultYAML())
	for i := 0; i+1 < len(replace); i += 2 {
		if !strings.Contains(text, replace[i]) {
			t.Fatalf("the built-in catalog has no %q", replace[i])
		}
		text = strings.Replace(text, replace[i], replace[i+1], 1)
	}
	c, err := catalog.Parse([]byte(text))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newConsole(c *credit.Catalog) http.Handler {
	return console.New(console.Config{Catalog: func() *credit.Catalog { return c }, Version: "test"})
}

// text is the visible text of an HTML fragment: tags dropped, entities
// decoded, white space collapsed.
func text(fragment string) string {
	s := regexp.MustCompile(`<[^>]*>`).ReplaceAllString(fragment, " ")
	return strings.Join(strings.Fields(html.UnescapeString(s)), " ")
}

// between returns the HTML from the start of the element with id to the
// next occurrence of end after it (exclusive), or fails.
func between(t *testing.T, body, id, end string) string {
	t.Helper()
	i := strings.Index(body, `id="`+id+`"`)
	if i < 0 {
		t.Fatalf("no element with id %q", id)
	}
	i = strings.LastIndex(body[:i], "<") // the element's tag
	rest := body[i:]
	if j := strings.Index(rest[1:], end); j >= 0 {
		rest = rest[:j+1]
	}
	return rest
}

func TestPagesHeaders(t *testing.T) {
	h := newConsole(catalog.Default())
	for _, path := range []string{"/", "/pricing", "/catalog", "/login", "/accounts", "/accounts/user_42", "/?model=topaz", "/events", "/events?type=balance.low&account=user_42", "/reports", "/accounts?prefix=user_"} {
		t.Run(path, func(t *testing.T) {
			p := get(t, h, http.MethodGet, path)
			if p.status != http.StatusOK {
				t.Fatalf("GET %s status = %d; want 200", path, p.status)
			}
			if got := p.header.Get("Content-Type"); got != "text/html; charset=utf-8" {
				t.Errorf("Content-Type = %q; want text/html; charset=utf-8", got)
			}
			for name, want := range map[string]string{
				"Content-Security-Policy": console.ContentSecurityPolicy,
				"X-Content-Type-Options":  "nosniff",
				"Referrer-Policy":         "no-referrer",
				"X-Frame-Options":         "DENY",
			} {
				if got := p.header.Get(name); got != want {
					t.Errorf("%s = %q; want %q", name, got, want)
				}
			}
			if !strings.HasPrefix(p.header.Get("Content-Security-Policy"), "default-src 'self';") {
				t.Errorf("CSP %q does not start with default-src 'self'", p.header.Get("Content-Security-Policy"))
			}
			// The CSP allows no inline script or style: none may be in the page.
			for _, re := range []string{`<script(\s[^>]*)?>[^<]`, `<script(?:(?!src=)[^>])*>`, `\son[a-z]+\s*=`, `\sstyle\s*=`, `<style`, `javascript:`} {
				if re == `<script(?:(?!src=)[^>])*>` {
					// Go's regexp has no lookahead: check every script tag has a src.
					for _, tag := range regexp.MustCompile(`<script[^>]*>`).FindAllString(p.body, -1) {
						if !strings.Contains(tag, ` src="/assets/`) {
							t.Errorf("script without an asset src: %s", tag)
						}
					}
					continue
				}
				if m := regexp.MustCompile(re).FindString(p.body); m != "" {
					t.Errorf("page has inline code or style %q (the CSP would block it)", m)
				}
			}
			if strings.Contains(p.body, "http://") || strings.Contains(p.body, "https://") {
				t.Errorf("page names an external URL (no CDN): %s", regexp.MustCompile(`https?://\S+`).FindString(p.body))
			}
		})
	}
}

func TestNotFoundAndMethods(t *testing.T) {
	h := newConsole(catalog.Default())
	p := get(t, h, http.MethodGet, "/no/such/page")
	if p.status != http.StatusNotFound || !strings.Contains(p.body, "Not found") {
		t.Errorf("GET /no/such/page = %d; want the 404 page", p.status)
	}
	if p.header.Get("Content-Security-Policy") == "" {
		t.Error("404 page lacks the CSP header")
	}
	p = get(t, h, http.MethodPost, "/pricing")
	if p.status != http.StatusMethodNotAllowed {
		t.Errorf("POST /pricing = %d; want 405", p.status)
	}
	p = get(t, h, http.MethodHead, "/pricing")
	if p.status != http.StatusOK || p.body != "" {
		t.Errorf("HEAD /pricing = %d with %d bytes; want 200 without a body", p.status, len(p.body))
	}
}

func TestModelTooltip(t *testing.T) {
	p := get(t, newConsole(catalog.Default()), http.MethodGet, "/")
	// The model list shows each model's base credits.
	for id, want := range map[string]string{
		"nano-banana-2":         "Nano Banana 2 from 49 credits",
		"imagineart-1.5":        "ImagineArt 1.5 15 credits",
		"nano-banana-pro":       "Nano Banana Pro from 80 credits",
		"chatgpt-1.5":           "ChatGPT 1.5 35 credits",
		"personalize-core":      "Personalize Core 24 credits",
		"style-reference":       "Style Reference 24 credits",
		"topaz":                 "Topaz 20 credits / MP",
		"magnific-precision-v2": "Magnific Precision v2 from 65 credits",
	} {
		item := between(t, p.body, "m-"+id, `role="tooltip"`)
		if got := text(item); !strings.Contains(got, want) {
			t.Errorf("model list item %s = %q; want it to show %q", id, got, want)
		}
		if !strings.Contains(item, `aria-describedby="tip-`+id+`"`) {
			t.Errorf("model %s is not described by its tooltip", id)
		}
	}
	tests := []struct {
		id   string
		want []string
	}{
		// Nano Banana 2: 49 (1K), 73.5 (2K), 98 (4K); Up to 4K; ten ratios.
		{"nano-banana-2", []string{"1K 49 credits", "2K 73.5 credits", "4K 98 credits", "Resolution Up to 4K",
			"Aspect ratios 1:1, 4:3, 3:4, 3:2, 2:3, 5:4, 4:5, 9:16, 16:9, 21:9"}},
		// Nano Banana Pro: 80 (1K/2K), 160 (4K); 1K, 2K, 4K.
		{"nano-banana-pro", []string{"1K 80 credits", "2K 80 credits", "4K 160 credits", "Resolution 1K, 2K, 4K"}},
		// Recraft v4: 24; cap shown in the tooltip, i.e. unpublished.
		{"recraft-v4", []string{"1K 24 credits", "1K only (cap not published)", "1:1, 4:3, 3:4, 16:9, 9:16"}},
		// Topaz: base 20 × MP × 1/2/3; 1920×1080 at 2× ≈ 41.
		{"topaz", []string{"20 credits × input megapixels × factor", "2× × 1", "3× × 2", "4× × 3", "1920×1080 at 2×: 41 credits"}},
		// Magnific Precision v2: 2× 65, 4× 260, 8× 520, 16× 1040.
		{"magnific-precision-v2", []string{"2× 65 credits", "4× 260 credits", "8× 520 credits", "16× 1040 credits"}},
	}
	for _, tt := range tests {
		tip := between(t, p.body, "tip-"+tt.id, `class="model tipwrap"`)
		if !strings.Contains(tip, `role="tooltip"`) {
			t.Errorf("tip-%s has no role=tooltip", tt.id)
		}
		got := text(tip)
		for _, w := range tt.want {
			if !strings.Contains(got, w) {
				t.Errorf("tooltip of %s = %q; want it to contain %q", tt.id, got, w)
			}
		}
	}
}

// createLabel is the Create button's text.
func createLabel(t *testing.T, body string) string {
	t.Helper()
	return text(between(t, body, "create", `<div role="tooltip"`))
}

func TestImageModeTotals(t *testing.T) {
	seed := newConsole(catalog.Default())
	// The prompt enhancer's price is not published (0 in the seed catalog);
	// test with one of 2.5 credits per generation.
	enhanced := newConsole(mustCatalog(t, "prompt_enhancer_credits: 0", "prompt_enhancer_credits: 2.5"))
	tests := []struct {
		h      http.Handler
		query  string
		total  string
		breaks []string
	}{
		// Defaults: Nano Banana 2 at 1K, one image: 49.
		{seed, "/", "Create · 49 credits", []string{"Nano Banana 2 · 1K 1 × 49 49", "Total 49 credits", "1024×1024 px", "catalog 2026-11-24.seed"}},
		// 3 × 160 (Nano Banana Pro 4K) = 480.
		{seed, "/?model=nano-banana-pro&resolution=4K&aspect_ratio=16:9&images=3", "Create · 480 credits", []string{"3 × 160 480", "5456×3072 px"}},
		// 3 × 73.5 (Nano Banana 2 2K) + 2.5 enhancer = 223.
		{enhanced, "/?model=nano-banana-2&resolution=2K&images=3&prompt_enhancer=on", "Create · 223 credits",
			[]string{"Nano Banana 2 · 2K 3 × 73.5 220.5", "Prompt enhancer 1 × 2.5 2.5", "Total 223 credits"}},
		// Topaz 2× on 1920×1080: 20 × 2.0736 × 1 = 41.472 → 41.
		{seed, "/?model=topaz&scale=2&input_width=1920&input_height=1080", "Create · 41 credits", []string{"Topaz · 2× 1 × 41 41", "3840×2160 px"}},
		// Magnific 16×: 1040, whatever the size.
		{seed, "/?model=Magnific+Precision+v2&scale=16", "Create · 1040 credits", []string{"1 × 1040 1040"}},
		// A setting the model does not offer falls back to its default:
		// ChatGPT is up to 1K and has no 16:9.
		{seed, "/?model=chatgpt&resolution=4K&aspect_ratio=16:9&images=9", "Create · 45 credits", []string{"ChatGPT · 1K 1 × 45 45"}},
	}
	for _, tt := range tests {
		p := get(t, tt.h, http.MethodGet, tt.query)
		if got := createLabel(t, p.body); got != tt.total {
			t.Errorf("GET %s: Create = %q; want %q", tt.query, got, tt.total)
		}
		tip := text(between(t, p.body, "create-tip", `id="create-msg"`))
		for _, w := range tt.breaks {
			if !strings.Contains(tip, w) {
				t.Errorf("GET %s: breakdown %q lacks %q", tt.query, tip, w)
			}
		}
	}

	// Topaz without an input size cannot be priced yet: the page says what is missing.
	p := get(t, seed, http.MethodGet, "/?model=topaz")
	if got := createLabel(t, p.body); got != "Create" {
		t.Errorf("Topaz without input: Create = %q; want no total", got)
	}
	if !strings.Contains(p.body, "Choose an input image or enter its size") {
		t.Error("Topaz without input: the breakdown does not ask for the input")
	}
}

func TestImageModeSettingsOffered(t *testing.T) {
	h := newConsole(catalog.Default())
	options := func(body, id string) []string {
		sel := between(t, body, id, "</select>")
		var out []string
		for _, m := range regexp.MustCompile(`<option value="([^"]*)"`).FindAllStringSubmatch(sel, -1) {
			out = append(out, m[1])
		}
		return out
	}
	p := get(t, h, http.MethodGet, "/?model=nano-banana-2")
	for id, want := range map[string]string{
		"resolution":   "1K 2K 4K", // no 3K price on the page
		"aspect_ratio": "1:1 4:3 3:4 3:2 2:3 5:4 4:5 9:16 16:9 21:9",
		"images":       "1 2 3 4",
	} {
		if got := strings.Join(options(p.body, id), " "); got != want {
			t.Errorf("Nano Banana 2 %s options = %q; want %q", id, got, want)
		}
	}
	for _, label := range []string{`<label for="aspect_ratio">Aspect ratio</label>`, `<label for="resolution">Resolution</label>`,
		`<label for="images">Images</label>`, `<label for="prompt_enhancer">Prompt enhancer</label>`} {
		if !strings.Contains(p.body, label) {
			t.Errorf("Image mode lacks %s", label)
		}
	}
	p = get(t, h, http.MethodGet, "/?model=xai-grok-imagine")
	if got := strings.Join(options(p.body, "resolution"), " "); got != "1K" {
		t.Errorf("xAI Grok Imagine (cap unpublished) resolutions = %q; want 1K", got)
	}
	p = get(t, h, http.MethodGet, "/?model=magnific-precision-v2")
	if got := strings.Join(options(p.body, "scale"), " "); got != "2 4 8 16" {
		t.Errorf("Magnific scales = %q; want 2 4 8 16", got)
	}
	if !strings.Contains(p.body, `<div id="image-settings" class="fields" hidden>`) {
		t.Error("an upscaler still shows the image settings")
	}
}

func TestPricingPage(t *testing.T) {
	p := get(t, newConsole(catalog.Default()), http.MethodGet, "/pricing")
	row := func(id string) string { return text(between(t, p.body, "price-"+id, "<tr")) }
	for id, want := range map[string]string{
		"nano-banana-2":         "Nano Banana 2 49 (1K) 73.5 (2K) 98 (4K) Up to 4K 1:1, 4:3, 3:4, 3:2, 2:3, 5:4, 4:5, 9:16, 16:9, 21:9",
		"nano-banana-pro":       "Nano Banana Pro 80 (1K/2K) 160 (4K) 1K, 2K, 4K",
		"seedream-v5-lite":      "Seedream v5 Lite 20 Up to 3K",
		"recraft-v4-pro":        "Recraft v4 Pro 150 Shown in Image mode tooltip",
		"personalize-ultra":     "Personalize Ultra 24 1:1, 3:4, 4:3, 9:16, 16:9",
		"style-reference":       "Style Reference 24 1:1, 4:3, 3:4, 9:16, 16:9",
		"topaz":                 "Topaz 20 2×, 3×, 4× 2× = base cost × megapixels × 1 3× = base cost × megapixels × 2 4× = base cost × megapixels × 3",
		"magnific-precision-v2": "Magnific Precision v2 65 2×, 4×, 8×, 16× 2×: 65 4×: 260 8×: 520 16×: 1040",
	} {
		if got := row(id); !strings.Contains(got, want) {
			t.Errorf("pricing row %s = %q; want %q", id, got, want)
		}
	}
	body := text(p.body)
	for _, want := range []string{"Create / Edit Image", "Personalize Image", "Style Reference", "Upscale Image",
		"Example: a 1920×1080 image at 2× costs 41 credits with Topaz", "catalog 2026-11-24.seed"} {
		if !strings.Contains(body, want) {
			t.Errorf("pricing page lacks %q", want)
		}
	}
	if n := strings.Count(p.body, `<tr id="price-`); n != 29 {
		t.Errorf("pricing page has %d model rows; want the page's 29 (23 + 3 + 1 + 2)", n)
	}
}

// A catalog change shows on the next request, with no code change: the
// console asks for the catalog on every request.
func TestPricingFollowsCatalog(t *testing.T) {
	var current atomic.Pointer[credit.Catalog]
	current.Store(catalog.Default())
	h := console.New(console.Config{Catalog: current.Load})
	if got := text(between(t, get(t, h, http.MethodGet, "/pricing").body, "price-nano-banana-2", "<tr")); !strings.Contains(got, "73.5 (2K)") {
		t.Fatalf("seed pricing row = %q", got)
	}
	current.Store(mustCatalog(t,
		`version: "2026-11-24.seed"`, `version: "2026-12-01.test"`,
		"{1K: 49, 2K: 73.5, 4K: 98}", "{1K: 49, 2K: 75, 4K: 98}",
		"  - name: Seedream v4\n", "  - name: Banana Turbo\n    kind: image\n    price: {per_image: 7.25}\n    resolution: up to 1K\n    aspect_ratios: [\"1:1\"]\n  - name: Seedream v4\n"))
	p := get(t, h, http.MethodGet, "/pricing")
	if got := text(between(t, p.body, "price-nano-banana-2", "<tr")); !strings.Contains(got, "49 (1K) 75 (2K) 98 (4K)") {
		t.Errorf("after the catalog change, Nano Banana 2 row = %q; want 75 (2K)", got)
	}
	if got := text(between(t, p.body, "price-banana-turbo", "<tr")); !strings.Contains(got, "Banana Turbo 7.25 Up to 1K 1:1") {
		t.Errorf("new model row = %q", got)
	}
	if !strings.Contains(p.body, "2026-12-01.test") {
		t.Error("pricing page does not name the new catalog version")
	}
	img := get(t, h, http.MethodGet, "/?model=nano-banana-2&resolution=2K&images=2")
	if got := createLabel(t, img.body); got != "Create · 150 credits" { // 2 × 75
		t.Errorf("Create after the change = %q; want Create · 150 credits", got)
	}
}

func TestCatalogPage(t *testing.T) {
	t.Run("NoStore", func(t *testing.T) {
		p := get(t, newConsole(catalog.Default()), http.MethodGet, "/catalog")
		body := text(p.body)
		for _, want := range []string{"2026-11-24.seed 2026-11-24 00:00 UTC not published", "in use", "Only one version is known"} {
			if !strings.Contains(body, want) {
				t.Errorf("catalog page lacks %q:\n%s", want, body)
			}
		}
		if strings.Contains(p.body, `id="diff-form"`) {
			t.Error("catalog page offers a diff with a single version")
		}
	})
	t.Run("Published", func(t *testing.T) {
		ctx := context.Background()
		db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "tally.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		v1 := catalog.DefaultYAML()
		v2 := []byte(strings.NewReplacer(`version: "2026-11-24.seed"`, `version: "2026-12-01.b"`,
			`effective_at: "2026-11-24T00:00:00Z"`, `effective_at: "2026-12-01T09:30:00Z"`).Replace(string(v1)))
		for _, y := range [][]byte{v1, v2} {
			c, err := catalog.Parse(y)
			if err != nil {
				t.Fatal(err)
			}
			if err := db.PublishCatalog(ctx, credit.CatalogRecord{Version: c.Version, EffectiveAt: c.EffectiveAt, PublishedAt: time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC), YAML: y}); err != nil {
				t.Fatal(err)
			}
		}
		inUse, err := catalog.Parse(v2)
		if err != nil {
			t.Fatal(err)
		}
		h := console.New(console.Config{Catalog: func() *credit.Catalog { return inUse }, Catalogs: db})
		p := get(t, h, http.MethodGet, "/catalog")
		body := text(p.body)
		for _, want := range []string{
			"2026-12-01.b 2026-12-01 09:30 UTC 2026-11-30 08:00 UTC in use",
			"2026-11-24.seed 2026-11-24 00:00 UTC 2026-11-30 08:00 UTC superseded",
		} {
			if !strings.Contains(body, want) {
				t.Errorf("catalog page lacks %q:\n%s", want, body)
			}
		}
		if i, j := strings.Index(body, "2026-12-01.b 2026"), strings.Index(body, "2026-11-24.seed 2026"); i > j {
			t.Error("versions are not listed newest first")
		}
		// The diff form defaults to what the version in use changed.
		from := between(t, p.body, "from", "</select>")
		to := between(t, p.body, "to", "</select>")
		if !strings.Contains(from, `<option value="2026-11-24.seed" selected>`) || !strings.Contains(to, `<option value="2026-12-01.b" selected>`) {
			t.Errorf("diff form defaults: from %s to %s", from, to)
		}
	})
	t.Run("BuiltInAfterPublish", func(t *testing.T) {
		// Only 2026-12-01.b is published and in use: the built-in catalog,
		// which the charges before it name, is still listed and comparable.
		ctx := context.Background()
		db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "tally.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		v2 := []byte(strings.NewReplacer(`version: "2026-11-24.seed"`, `version: "2026-12-01.b"`,
			`effective_at: "2026-11-24T00:00:00Z"`, `effective_at: "2026-12-01T09:30:00Z"`).Replace(string(catalog.DefaultYAML())))
		inUse, err := catalog.Parse(v2)
		if err != nil {
			t.Fatal(err)
		}
		if err := db.PublishCatalog(ctx, credit.CatalogRecord{Version: inUse.Version, EffectiveAt: inUse.EffectiveAt, PublishedAt: time.Date(2026, 11, 30, 8, 0, 0, 0, time.UTC), YAML: v2}); err != nil {
			t.Fatal(err)
		}
		h := console.New(console.Config{Catalog: func() *credit.Catalog { return inUse }, Catalogs: db})
		p := get(t, h, http.MethodGet, "/catalog")
		body := text(p.body)
		for _, want := range []string{
			"2026-12-01.b 2026-12-01 09:30 UTC 2026-11-30 08:00 UTC in use",
			"2026-11-24.seed 2026-11-24 00:00 UTC built in superseded",
		} {
			if !strings.Contains(body, want) {
				t.Errorf("catalog page lacks %q:\n%s", want, body)
			}
		}
		if from := between(t, p.body, "from", "</select>"); !strings.Contains(from, `<option value="2026-11-24.seed" selected>`) {
			t.Errorf("diff form from = %s; want the built-in version selected", from)
		}
	})
}

func TestAssets(t *testing.T) {
	h := newConsole(catalog.Default())
	p := get(t, h, http.MethodGet, "/")
	m := regexp.MustCompile(`src="(/assets/app\.js\?v=([0-9a-f]+))"`).FindStringSubmatch(p.body)
	if m == nil {
		t.Fatal("page does not load /assets/app.js with a version")
	}
	a := get(t, h, http.MethodGet, m[1])
	if a.status != http.StatusOK || !strings.HasPrefix(a.header.Get("Content-Type"), "text/javascript") {
		t.Errorf("GET %s = %d %q", m[1], a.status, a.header.Get("Content-Type"))
	}
	if got := a.header.Get("Cache-Control"); got != "public, max-age=31536000, immutable" {
		t.Errorf("versioned asset Cache-Control = %q", got)
	}
	if got := get(t, h, http.MethodGet, "/assets/app.js").header.Get("Cache-Control"); got != "no-cache" {
		t.Errorf("unversioned asset Cache-Control = %q; want no-cache", got)
	}
	req := httptest.NewRequest(http.MethodGet, "/assets/app.js", nil)
	req.Header.Set("If-None-Match", `"`+m[2]+`"`)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != http.StatusNotModified {
		t.Errorf("If-None-Match with the current ETag = %d; want 304", rec.Code)
	}
	css := get(t, h, http.MethodGet, "/assets/console.css")
	if !strings.HasPrefix(css.header.Get("Content-Type"), "text/css") {
		t.Errorf("console.css Content-Type = %q", css.header.Get("Content-Type"))
	}
	if get(t, h, http.MethodGet, "/assets/nope.js").status != http.StatusNotFound {
		t.Error("unknown asset is not a 404")
	}
}

func TestLoginNext(t *testing.T) {
	h := newConsole(catalog.Default())
	want := map[string]string{
		"/accounts/a":           "/accounts/a",
		"/accounts/a?x=1#top":   "/accounts/a?x=1#top",
		"/accounts/a%2Fb":       "/accounts/a%2Fb",
		"/catalog?from=a&to=b":  "/catalog?from=a&amp;to=b",
		"":                      "/",
		"accounts":              "/",
		"/\u3000/other.invalid": "/\u3000/other.invalid", // not dropped by browsers: a path here
	}
	for _, next := range hostileNext { // browser_login_test.go
		want[next] = "/"
	}
	for next, want := range want {
		p := get(t, h, http.MethodGet, "/login?next="+url.QueryEscape(next))
		if !strings.Contains(p.body, `data-next="`+want+`"`) {
			i := strings.Index(p.body, "data-next=")
			t.Errorf("login next=%q: %s; want data-next %q", next, p.body[i:i+min(60, len(p.body)-i)], want)
		}
	}
	// The account form without JavaScript lands on the account's page.
	p := get(t, h, http.MethodGet, "/accounts?id=user+42")
	if p.status != http.StatusSeeOther || p.header.Get("Location") != "/accounts/user%2042" {
		t.Errorf("GET /accounts?id=user+42 = %d Location %q", p.status, p.header.Get("Location"))
	}
	// A path cannot carry . or .. (/accounts/.. is /): the form stays,
	// with the id, for its script to ask the API about it.
	for _, id := range []string{".", ".."} {
		p := get(t, h, http.MethodGet, "/accounts?id="+id)
		if p.status != http.StatusOK || !strings.Contains(p.body, `id="account-id"`) || !strings.Contains(p.body, `value="`+id+`"`) {
			t.Errorf("GET /accounts?id=%s = %d Location %q; want the account form with the id", id, p.status, p.header.Get("Location"))
		}
	}
}
