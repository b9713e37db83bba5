package credit_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
)

// Every expected number in this file is typed from the studio page
// (../shared/seeds/000_269dcb4ae9c79468.txt) or worked out by hand in a comment;
// none is computed by the code under test. Credits are thousandths: 73.5 is 73_500.

// allRatios is the union of every aspect ratio the seed page lists.
var allRatios = []string{"1:1", "4:3", "3:4", "3:2", "2:3", "5:4", "4:5", "9:16", "16:9", "21:9", "1:3", "3:1"}

// allTiers are the resolution tiers of SPEC §1.
var allTiers = []string{"1K", "2K", "3K", "4K"}

// tierPrice is one resolution a model offers and the page's credits per image at it.
type tierPrice struct {
	tier    string
	credits credit.Credits
}

// seedRow is one row of the page's Create / Edit Image, Personalise Image or
// Style Reference tables.
type seedRow struct {
	name   string
	id     string // the slug of SPEC §1, typed by hand
	kind   credit.Kind
	tiers  []tierPrice // every tier offered, ascending
	ratios string      // the page's "Supported aspect ratios" cell, in its order
}

// flat lists tiers that all cost the page's single per-image figure.
func flat(credits credit.Credits, tiers ...string) []tierPrice {
	out := make([]tierPrice, len(tiers))
	for i, t := range tiers {
		out[i] = tierPrice{t, credits}
	}
	return out
}

// seedPage is the page, row for row, in its order. "Up to NK" is every tier up
// to N; "Shown in Image mode tooltip" and the Personalise / Style Reference rows
// (no resolution column) offer 1K only.
var seedPage = []seedRow{
	// Create / Edit Image
	{"Nano Banana 2", "nano-banana-2", credit.KindImage,
		[]tierPrice{{"1K", 49_000}, {"2K", 73_500}, {"4K", 98_000}}, // 49 (1K), 73.5 (2K), 98 (4K); no 3K price
		"1:1, 4:3, 3:4, 3:2, 2:3, 5:4, 4:5, 9:16, 16:9, 21:9"},
	{"ImagineArt 1.5", "imagineart-1.5", credit.KindImage,
		flat(15_000, "1K", "2K"), // Up to 2K
		"1:1, 4:3, 3:4, 1:3, 3:1, 2:3, 3:2, 9:16, 16:9"},
	{"ImagineArt 1.5 Pro", "imagineart-1.5-pro", credit.KindImage,
		flat(25_000, "1K", "2K", "3K", "4K"), // Up to 4K
		"1:1, 4:3, 3:4, 1:3, 3:1, 2:3, 3:2, 9:16, 16:9"},
	{"Nano Banana Pro", "nano-banana-pro", credit.KindImage,
		[]tierPrice{{"1K", 80_000}, {"2K", 80_000}, {"4K", 160_000}}, // 80 (1K/2K), 160 (4K); "1K, 2K, 4K"
		"1:1, 4:3, 3:4, 3:2, 2:3, 5:4, 4:5, 9:16, 16:9, 21:9"},
	{"ChatGPT 1.5", "chatgpt-1.5", credit.KindImage,
		flat(35_000, "1K"), // Up to 1K
		"1:1, 2:3, 3:2"},
	{"Seedream v5 Lite", "seedream-v5-lite", credit.KindImage,
		flat(20_000, "1K", "2K", "3K"), // Up to 3K
		"1:1, 4:3, 3:4, 2:3, 3:2, 9:16, 16:9"},
	{"Recraft v4", "recraft-v4", credit.KindImage,
		flat(24_000, "1K"), // Shown in Image mode tooltip
		"1:1, 4:3, 3:4, 16:9, 9:16"},
	{"Recraft v4 Pro", "recraft-v4-pro", credit.KindImage,
		flat(150_000, "1K"), // Shown in Image mode tooltip
		"1:1, 3:4, 4:3, 9:16, 16:9"},
	{"xAI Grok Imagine", "xai-grok-imagine", credit.KindImage,
		flat(12_000, "1K"), // Shown in Image mode tooltip
		"1:1, 3:4, 4:3, 2:3, 3:2, 9:16, 16:9"},
	{"Flux 2 Max", "flux-2-max", credit.KindImage,
		flat(50_000, "1K"), // Shown in Image mode tooltip
		"1:1, 3:4, 4:3, 9:16, 16:9"},
	{"Flux 2 Pro", "flux-2-pro", credit.KindImage,
		flat(28_000, "1K", "2K"), // Up to 2K
		"1:1, 3:2, 2:3, 5:4, 4:5, 9:16, 16:9"},
	{"Z Image Turbo", "z-image-turbo", credit.KindImage,
		flat(5_000, "1K"), // Shown in Image mode tooltip
		"1:1, 4:3, 3:4, 1:3, 3:1, 2:3, 3:2, 9:16, 16:9"},
	{"Seedream v4.5", "seedream-v4.5", credit.KindImage,
		flat(24_000, "1K", "2K", "3K", "4K"), // Up to 4K
		"1:1, 4:3, 3:4, 2:3, 3:2, 9:16, 16:9"},
	{"Flux 1.1 Ultra", "flux-1.1-ultra", credit.KindImage,
		flat(36_000, "1K", "2K"), // Up to 2K
		"1:1, 4:3, 3:4, 3:2, 2:3, 9:16, 16:9"},
	{"ChatGPT", "chatgpt", credit.KindImage,
		flat(45_000, "1K"), // Up to 1K
		"1:1, 2:3, 3:2"},
	{"Nano Banana", "nano-banana", credit.KindImage,
		flat(24_000, "1K"), // Up to 1K
		"1:1, 4:3, 3:4, 3:2, 2:3, 5:4, 4:5, 9:16, 16:9"},
	{"Imagen-4", "imagen-4", credit.KindImage,
		flat(24_000, "1K"), // Up to 1K
		"1:1, 4:3, 3:4, 9:16, 16:9"},
	{"Dreamina 3.1", "dreamina-3.1", credit.KindImage,
		flat(18_000, "1K", "2K"), // Up to 2K
		"1:1, 4:3, 3:4, 9:16, 16:9"},
	{"Ideogram v3", "ideogram-v3", credit.KindImage,
		flat(25_000, "1K"), // Up to 1K
		"1:1, 4:3, 3:4, 9:16, 16:9"},
	{"Flux Dev", "flux-dev", credit.KindImage,
		flat(5_000, "1K"), // Up to 1K
		"1:1, 3:4, 2:3, 3:2, 5:4, 9:16, 16:9"},
	{"Qwen Image", "qwen-image", credit.KindImage,
		flat(24_000, "1K"), // Up to 1K
		"1:1, 4:3, 3:4, 9:16, 16:9"},
	{"Minimax Image", "minimax-image", credit.KindImage,
		flat(6_000, "1K"), // Up to 1K
		"1:1, 4:3, 3:4, 3:2, 2:3, 9:16, 16:9"},
	{"Seedream v4", "seedream-v4", credit.KindImage,
		flat(18_000, "1K", "2K", "3K", "4K"), // Up to 4K
		"1:1, 4:3, 3:4, 2:3, 3:2, 9:16, 16:9"},

	// Personalise Image
	{"Personalize Core", "personalize-core", credit.KindPersonalize,
		flat(24_000, "1K"),
		"1:1, 4:3, 3:4, 3:2, 2:3, 5:4, 4:5, 16:9, 9:16"},
	{"Personalize Max", "personalize-max", credit.KindPersonalize,
		flat(24_000, "1K"),
		"1:1, 4:3, 3:4, 3:2, 2:3, 5:4, 4:5, 16:9, 9:16"},
	{"Personalize Ultra", "personalize-ultra", credit.KindPersonalize,
		flat(24_000, "1K"),
		"1:1, 3:4, 4:3, 9:16, 16:9"},

	// Style Reference
	{"Style Reference", "style-reference", credit.KindStyleReference,
		flat(24_000, "1K"),
		"1:1, 4:3, 3:4, 9:16, 16:9"},
}

// seedUpscalers are the page's Upscale Image rows.
var seedUpscalers = []struct{ name, id string }{
	{"Topaz", "topaz"},
	{"Magnific Precision v2", "magnific-precision-v2"},
}

func TestSeedPage(t *testing.T) {
	cat := catalog.Default()

	// The catalog holds the page's rows and nothing else, in the page's order.
	var wantIDs []string
	for _, row := range seedPage {
		wantIDs = append(wantIDs, row.id)
	}
	for _, u := range seedUpscalers {
		wantIDs = append(wantIDs, u.id)
	}
	if got := cat.IDs(); !slices.Equal(got, wantIDs) {
		t.Errorf("Default().IDs() = %q; want %q", got, wantIDs)
	}

	for _, row := range seedPage {
		t.Run(row.name, func(t *testing.T) {
			ratios := strings.Split(row.ratios, ", ")
			var offered []string
			for _, tp := range row.tiers {
				offered = append(offered, tp.tier)
			}

			// Every listed ratio at every offered tier, 1 to 4 images.
			for _, tp := range row.tiers {
				for _, ratio := range ratios {
					if !slices.Contains(allRatios, ratio) {
						t.Fatalf("test table: %s lists %q, which is not in allRatios", row.name, ratio)
					}
					for images := 1; images <= 4; images++ {
						r := credit.QuoteRequest{Model: row.id, Resolution: tp.tier, AspectRatio: ratio, Images: images}
						q := mustQuote(t, cat, r)
						wantTotal := tp.credits * credit.Credits(images)
						if q.UnitCredits != tp.credits {
							t.Errorf("Quote(%+v) unit = %v; want %v", r, q.UnitCredits, tp.credits)
						}
						if q.TotalCredits != wantTotal {
							t.Errorf("Quote(%+v) total = %v; want %v", r, q.TotalCredits, wantTotal)
						}
						if q.Model != row.id || q.ModelName != row.name || q.Kind != row.kind || q.Operation != credit.OpCreate {
							t.Errorf("Quote(%+v) model, name, kind, op = %q, %q, %q, %q; want %q, %q, %q, %q",
								r, q.Model, q.ModelName, q.Kind, q.Operation, row.id, row.name, row.kind, credit.OpCreate)
						}
						if q.Resolution.String() != tp.tier || q.AspectRatio != ratio || q.Images != images {
							t.Errorf("Quote(%+v) resolution, ratio, images = %v, %q, %d; want %v, %q, %d",
								r, q.Resolution, q.AspectRatio, q.Images, tp.tier, ratio, images)
						}
						if q.CatalogVersion == "" || q.CatalogVersion != cat.Version {
							t.Errorf("Quote(%+v) catalog version = %q; want %q", r, q.CatalogVersion, cat.Version)
						}
						wantLines := []credit.Line{{Label: row.name + " · " + tp.tier, Quantity: images, UnitCredits: tp.credits, Credits: wantTotal}}
						if got := q.Lines(); !slices.Equal(got, wantLines) {
							t.Errorf("Quote(%+v) lines = %+v; want %+v", r, got, wantLines)
						}
						checkOutputShape(t, r, q)
					}
				}
			}

			// Defaults: model alone (here by display name) is 1K, 1:1, one image.
			r := credit.QuoteRequest{Model: row.name}
			q := mustQuote(t, cat, r)
			if q.Resolution.String() != "1K" || q.AspectRatio != "1:1" || q.Images != 1 || q.TotalCredits != row.tiers[0].credits {
				t.Errorf("Quote(%+v) = %v %s ×%d for %v; want 1K 1:1 ×1 for %v",
					r, q.Resolution, q.AspectRatio, q.Images, q.TotalCredits, row.tiers[0].credits)
			}
			// Tiers are case-insensitive.
			r = credit.QuoteRequest{Model: row.id, Resolution: strings.ToLower(row.tiers[len(row.tiers)-1].tier)}
			if q := mustQuote(t, cat, r); q.UnitCredits != row.tiers[len(row.tiers)-1].credits {
				t.Errorf("Quote(%+v) unit = %v; want %v", r, q.UnitCredits, row.tiers[len(row.tiers)-1].credits)
			}

			// Create / Edit models edit at the create price; the others only create.
			r = credit.QuoteRequest{Model: row.id, Operation: "edit"}
			if row.kind == credit.KindImage {
				q := mustQuote(t, cat, r)
				if q.Operation != credit.OpEdit || q.TotalCredits != row.tiers[0].credits {
					t.Errorf("Quote(%+v) = %s for %v; want edit for %v", r, q.Operation, q.TotalCredits, row.tiers[0].credits)
				}
			} else {
				e := wantRefusal(t, cat, r, "unsupported_operation")
				if e != nil && !slices.Equal(e.Allowed, []string{"create"}) {
					t.Errorf("Quote(%+v) allowed = %q; want [create]", r, e.Allowed)
				}
			}

			// Tiers not offered, and a tier that does not exist.
			for _, tier := range append(slices.Clone(allTiers), "5K") {
				if slices.Contains(offered, tier) {
					continue
				}
				r := credit.QuoteRequest{Model: row.id, Resolution: tier}
				e := wantRefusal(t, cat, r, "unsupported_resolution")
				if e != nil && !slices.Equal(e.Allowed, offered) {
					t.Errorf("Quote(%+v) allowed = %q; want %q", r, e.Allowed, offered)
				}
			}

			// Ratios of the page not in this row.
			for _, ratio := range allRatios {
				if slices.Contains(ratios, ratio) {
					continue
				}
				for _, tp := range row.tiers {
					r := credit.QuoteRequest{Model: row.id, Resolution: tp.tier, AspectRatio: ratio}
					e := wantRefusal(t, cat, r, "unsupported_aspect_ratio")
					if e != nil && !slices.Equal(e.Allowed, ratios) {
						t.Errorf("Quote(%+v) allowed = %q; want %q", r, e.Allowed, ratios)
					}
				}
			}
		})
	}

	t.Run("Topaz", func(t *testing.T) {
		// Page: 2× = base × MP × 1, 3× = base × MP × 2, 4× = base × MP × 3, base 20;
		// MP = w·h / 1,000,000; rounded to a whole credit, half up (SPEC §1).
		tests := []struct {
			scale, w, h   int
			want          credit.Credits
			outW, outH    int
			handWorkNotes string
		}{
			{2, 1920, 1080, 41_000, 3840, 2160, "page example: 20 × 2.0736 × 1 = 41.472 → 41"},
			{3, 1920, 1080, 83_000, 5760, 3240, "20 × 2.0736 × 2 = 82.944 → 83"},
			{4, 1920, 1080, 124_000, 7680, 4320, "20 × 2.0736 × 3 = 124.416 → 124"},
			{2, 1080, 1920, 41_000, 2160, 3840, "portrait: same megapixels as the page example"},
			{2, 1000, 1025, 21_000, 2000, 2050, "20 × 1.025 × 1 = 20.5 → half up 21"},
			{3, 1000, 1025, 41_000, 3000, 3075, "20 × 1.025 × 2 = 41 exactly"},
			{4, 1000, 1025, 62_000, 4000, 4100, "20 × 1.025 × 3 = 61.5 → half up 62"},
			{2, 1000, 1024, 20_000, 2000, 2048, "20 × 1.024 = 20.48 → 20"},
			{2, 1024, 1024, 21_000, 2048, 2048, "20 × 1.048576 = 20.97152 → 21"},
			{2, 1000, 1000, 20_000, 2000, 2000, "20 × 1 = 20"},
			{2, 5000, 5000, 500_000, 10000, 10000, "20 × 25 = 500"},
			{4, 16384, 16384, 16_106_000, 65536, 65536, "largest input: 60 × 268.435456 = 16106.12736 → 16106"},
		}
		for _, tt := range tests {
			r := credit.QuoteRequest{Model: "topaz", Scale: tt.scale, InputWidth: tt.w, InputHeight: tt.h}
			q := mustQuote(t, cat, r)
			if q.TotalCredits != tt.want || q.UnitCredits != tt.want {
				t.Errorf("Quote(%+v) unit, total = %v, %v; want %v (%s)", r, q.UnitCredits, q.TotalCredits, tt.want, tt.handWorkNotes)
			}
			if q.Width != tt.outW || q.Height != tt.outH {
				t.Errorf("Quote(%+v) size = %d×%d; want %d×%d", r, q.Width, q.Height, tt.outW, tt.outH)
			}
			if q.Scale != tt.scale || q.InputWidth != tt.w || q.InputHeight != tt.h || q.Images != 1 {
				t.Errorf("Quote(%+v) scale, input, images = %d, %d×%d, %d; want %d, %d×%d, 1",
					r, q.Scale, q.InputWidth, q.InputHeight, q.Images, tt.scale, tt.w, tt.h)
			}
			if q.Kind != credit.KindUpscale || q.Operation != credit.OpUpscale || q.Resolution != 0 || q.AspectRatio != "" {
				t.Errorf("Quote(%+v) kind, op, resolution, ratio = %q, %q, %d, %q; want upscale, upscale, 0, \"\"",
					r, q.Kind, q.Operation, q.Resolution, q.AspectRatio)
			}
			wantLines := []credit.Line{{Label: fmt.Sprintf("Topaz · %d×", tt.scale), Quantity: 1, UnitCredits: tt.want, Credits: tt.want}}
			if got := q.Lines(); !slices.Equal(got, wantLines) {
				t.Errorf("Quote(%+v) lines = %+v; want %+v", r, got, wantLines)
			}
		}

		// Explicit operation and one image are the defaults spelt out.
		r := credit.QuoteRequest{Model: "Topaz", Operation: "upscale", Images: 1, Scale: 2, InputWidth: 1920, InputHeight: 1080}
		if q := mustQuote(t, cat, r); q.TotalCredits != 41_000 {
			t.Errorf("Quote(%+v) total = %v; want 41", r, q.TotalCredits)
		}

		for _, scale := range []int{0, 1, 5, 8, -2} {
			r := credit.QuoteRequest{Model: "topaz", Scale: scale, InputWidth: 1920, InputHeight: 1080}
			e := wantRefusal(t, cat, r, "unsupported_scale")
			if e != nil && !slices.Equal(e.Allowed, []string{"2", "3", "4"}) {
				t.Errorf("Quote(%+v) allowed = %q; want [2 3 4]", r, e.Allowed)
			}
		}
		for _, size := range [][2]int{{0, 0}, {0, 100}, {100, 0}, {1920, 0}, {16385, 10}, {10, 16385}, {-5, 5}, {5, -5}} {
			r := credit.QuoteRequest{Model: "topaz", Scale: 2, InputWidth: size[0], InputHeight: size[1]}
			wantRefusal(t, cat, r, "invalid_input_size")
		}
	})

	t.Run("Magnific Precision v2", func(t *testing.T) {
		// Page: 2×: 65, 4×: 260, 8×: 520, 16×: 1040, whatever the input size.
		tests := []struct {
			scale, w, h int
			want        credit.Credits
			outW, outH  int
		}{
			{2, 0, 0, 65_000, 0, 0},
			{4, 0, 0, 260_000, 0, 0},
			{8, 0, 0, 520_000, 0, 0},
			{16, 0, 0, 1_040_000, 0, 0},
			{2, 16384, 16384, 65_000, 32768, 32768},
			{16, 1000, 500, 1_040_000, 16000, 8000},
			{8, 1920, 1080, 520_000, 15360, 8640},
		}
		for _, tt := range tests {
			r := credit.QuoteRequest{Model: "magnific-precision-v2", Scale: tt.scale, InputWidth: tt.w, InputHeight: tt.h}
			q := mustQuote(t, cat, r)
			if q.TotalCredits != tt.want || q.UnitCredits != tt.want {
				t.Errorf("Quote(%+v) unit, total = %v, %v; want %v", r, q.UnitCredits, q.TotalCredits, tt.want)
			}
			if q.Width != tt.outW || q.Height != tt.outH {
				t.Errorf("Quote(%+v) size = %d×%d; want %d×%d", r, q.Width, q.Height, tt.outW, tt.outH)
			}
			wantLines := []credit.Line{{Label: fmt.Sprintf("Magnific Precision v2 · %d×", tt.scale), Quantity: 1, UnitCredits: tt.want, Credits: tt.want}}
			if got := q.Lines(); !slices.Equal(got, wantLines) {
				t.Errorf("Quote(%+v) lines = %+v; want %+v", r, got, wantLines)
			}
		}
		for _, scale := range []int{0, 3, 32} {
			r := credit.QuoteRequest{Model: "magnific-precision-v2", Scale: scale}
			e := wantRefusal(t, cat, r, "unsupported_scale")
			if e != nil && !slices.Equal(e.Allowed, []string{"2", "4", "8", "16"}) {
				t.Errorf("Quote(%+v) allowed = %q; want [2 4 8 16]", r, e.Allowed)
			}
		}
		// A size given is checked even though it does not change the price.
		for _, size := range [][2]int{{0, 100}, {16385, 10}, {-5, 5}} {
			r := credit.QuoteRequest{Model: "magnific-precision-v2", Scale: 2, InputWidth: size[0], InputHeight: size[1]}
			wantRefusal(t, cat, r, "invalid_input_size")
		}
	})
}

// pageResolution is the Create / Edit Image table's Resolution column.
var pageResolution = map[string]string{
	"Nano Banana 2":      "Up to 4K",
	"ImagineArt 1.5":     "Up to 2K",
	"ImagineArt 1.5 Pro": "Up to 4K",
	"Nano Banana Pro":    "1K, 2K, 4K",
	"ChatGPT 1.5":        "Up to 1K",
	"Seedream v5 Lite":   "Up to 3K",
	"Recraft v4":         "Shown in Image mode tooltip",
	"Recraft v4 Pro":     "Shown in Image mode tooltip",
	"xAI Grok Imagine":   "Shown in Image mode tooltip",
	"Flux 2 Max":         "Shown in Image mode tooltip",
	"Flux 2 Pro":         "Up to 2K",
	"Z Image Turbo":      "Shown in Image mode tooltip",
	"Seedream v4.5":      "Up to 4K",
	"Flux 1.1 Ultra":     "Up to 2K",
	"ChatGPT":            "Up to 1K",
	"Nano Banana":        "Up to 1K",
	"Imagen-4":           "Up to 1K",
	"Dreamina 3.1":       "Up to 2K",
	"Ideogram v3":        "Up to 1K",
	"Flux Dev":           "Up to 1K",
	"Qwen Image":         "Up to 1K",
	"Minimax Image":      "Up to 1K",
	"Seedream v4":        "Up to 4K",
}

// TestSeedPageColumns checks what the Pricing page prints from the catalog
// against the seed page's columns: base cost, resolution, aspect ratios.
func TestSeedPageColumns(t *testing.T) {
	cat := catalog.Default()
	for _, row := range seedPage {
		m, err := cat.Model(row.id)
		if err != nil {
			t.Errorf("Model(%q) error = %v", row.id, err)
			continue
		}
		if m.Name != row.name || m.Kind != row.kind {
			t.Errorf("Model(%q) name, kind = %q, %q; want %q, %q", row.id, m.Name, m.Kind, row.name, row.kind)
		}
		if got := m.BaseCredits(); got != row.tiers[0].credits {
			t.Errorf("Model(%q).BaseCredits() = %v; want %v", row.id, got, row.tiers[0].credits)
		}
		if want, ok := pageResolution[row.name]; ok {
			if got := m.CapText(); got != want {
				t.Errorf("Model(%q).CapText() = %q; want %q", row.id, got, want)
			}
		} else if row.kind == credit.KindImage {
			t.Errorf("test table: no Resolution cell for %s", row.name)
		}
		if got, want := m.AspectTexts(), strings.Split(row.ratios, ", "); !slices.Equal(got, want) {
			t.Errorf("Model(%q).AspectTexts() = %q; want %q", row.id, got, want)
		}
	}
	// The Upscale table's Base Cost column: Topaz 20; Magnific's smallest scale, 2×: 65.
	for id, want := range map[string]credit.Credits{"topaz": 20_000, "magnific-precision-v2": 65_000} {
		m, err := cat.Model(id)
		if err != nil {
			t.Errorf("Model(%q) error = %v", id, err)
			continue
		}
		if got := m.BaseCredits(); got != want {
			t.Errorf("Model(%q).BaseCredits() = %v; want %v", id, got, want)
		}
		if m.Kind != credit.KindUpscale {
			t.Errorf("Model(%q).Kind = %q; want upscale", id, m.Kind)
		}
	}
}
