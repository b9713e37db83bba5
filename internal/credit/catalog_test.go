package credit_test

import (
	"errors"
	"testing"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
)

func TestParseResolution(t *testing.T) {
	tests := []struct {
		in   string
		want credit.Resolution
	}{
		{"1K", 1}, {"2K", 2}, {"3K", 3}, {"4K", 4}, {"1k", 1}, {"4k", 4},
		{"", 0}, {"5K", 0}, {"0K", 0}, {"1", 0}, {"K", 0}, {"1K ", 0}, {" 1K", 0}, {"10K", 0}, {"1M", 0},
	}
	for _, tt := range tests {
		if got := credit.ParseResolution(tt.in); got != tt.want {
			t.Errorf("ParseResolution(%q) = %d; want %d", tt.in, got, tt.want)
		}
	}
	for r, want := range []string{"", "1K", "2K", "3K", "4K"} {
		if got := credit.Resolution(r).String(); got != want {
			t.Errorf("Resolution(%d).String() = %q; want %q", r, got, want)
		}
	}
}

func TestParseAspectRatio(t *testing.T) {
	tests := []struct {
		in   string
		want credit.AspectRatio
		ok   bool
	}{
		{"16:9", credit.AspectRatio{W: 16, H: 9, Text: "16:9"}, true},
		{"1:1", credit.AspectRatio{W: 1, H: 1, Text: "1:1"}, true},
		{"21:9", credit.AspectRatio{W: 21, H: 9, Text: "21:9"}, true},
		{"64:1", credit.AspectRatio{W: 64, H: 1, Text: "64:1"}, true},
		{"65:1", credit.AspectRatio{}, false},
		{"0:1", credit.AspectRatio{}, false},
		{"1:0", credit.AspectRatio{}, false},
		{"-1:1", credit.AspectRatio{}, false},
		{"+1:1", credit.AspectRatio{}, false},
		{"1:+1", credit.AspectRatio{}, false},
		{"16/9", credit.AspectRatio{}, false},
		{"16:9:1", credit.AspectRatio{}, false},
		{":9", credit.AspectRatio{}, false},
		{"16:", credit.AspectRatio{}, false},
		{"", credit.AspectRatio{}, false},
		{"1.5:1", credit.AspectRatio{}, false},
	}
	for _, tt := range tests {
		got, ok := credit.ParseAspectRatio(tt.in)
		if ok != tt.ok || got != tt.want {
			t.Errorf("ParseAspectRatio(%q) = %+v, %v; want %+v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestModelLookup(t *testing.T) {
	cat := catalog.Default()
	tests := []struct{ in, want string }{
		{"nano-banana-2", "nano-banana-2"},
		{"Nano Banana 2", "nano-banana-2"},
		{"NANO BANANA 2", "nano-banana-2"},
		{"nano banana 2", "nano-banana-2"},
		{"NANO-BANANA-2", "nano-banana-2"},
		{"Nano Banana", "nano-banana"},
		{"imagineart-1.5-pro", "imagineart-1.5-pro"},
		{"ImagineArt 1.5 Pro", "imagineart-1.5-pro"},
		{"imagineart 1.5", "imagineart-1.5"},
		{"xai-grok-imagine", "xai-grok-imagine"},
		{"xAI Grok Imagine", "xai-grok-imagine"},
		{"imagen-4", "imagen-4"},
		{"IMAGEN-4", "imagen-4"},
		{"magnific-precision-v2", "magnific-precision-v2"},
		{"magnific precision V2", "magnific-precision-v2"},
		{"topaz", "topaz"},
		{"Style Reference", "style-reference"},
	}
	for _, tt := range tests {
		m, err := cat.Model(tt.in)
		if err != nil {
			t.Errorf("Model(%q) error = %v; want %q", tt.in, err, tt.want)
			continue
		}
		if m.ID != tt.want {
			t.Errorf("Model(%q) = %q; want %q", tt.in, m.ID, tt.want)
		}
		r := credit.QuoteRequest{Model: tt.in, Scale: 0}
		if m.Kind == credit.KindUpscale {
			r.Scale, r.InputWidth, r.InputHeight = 2, 1000, 1000
		}
		if q := mustQuote(t, cat, r); q.Model != tt.want {
			t.Errorf("Quote(%+v) model = %q; want %q", r, q.Model, tt.want)
		}
	}

	for _, in := range []string{"", "nano-banana-3", "Nano Banana 3", "nano_banana_2", "Topaz 2", "dall-e"} {
		// Catalog.Model says the model is not found; Quote says the request is invalid.
		_, err := cat.Model(in)
		var e *credit.Error
		if !errors.As(err, &e) || e.Code != credit.NotFound || credit.ErrorReason(err) != "unknown_model" {
			t.Errorf("Model(%q) error = %#v; want not_found unknown_model", in, err)
		} else if len(e.Allowed) != len(seedPage)+len(seedUpscalers) {
			t.Errorf("Model(%q) allowed = %q; want every model id", in, e.Allowed)
		}
		wantRefusal(t, cat, credit.QuoteRequest{Model: in}, "unknown_model")
	}
}

func TestSlug(t *testing.T) {
	tests := []struct{ in, want string }{
		// SPEC §1's examples.
		{"Nano Banana 2", "nano-banana-2"},
		{"ImagineArt 1.5 Pro", "imagineart-1.5-pro"},
		{"xAI Grok Imagine", "xai-grok-imagine"},
		{"Imagen-4", "imagen-4"},
		{"Magnific Precision v2", "magnific-precision-v2"},
		// Runs collapse, ends are trimmed, dots stay, other letters are not a-z.
		{"  Flux 1.1 Ultra  ", "flux-1.1-ultra"},
		{"a__b--c", "a-b-c"},
		{"--x--", "x"},
		{"Seedream v4.5", "seedream-v4.5"},
		{"Crème Brûlée", "cr-me-br-l-e"},
		{"", ""},
		{"!!!", ""},
	}
	for _, tt := range tests {
		if got := credit.Slug(tt.in); got != tt.want {
			t.Errorf("Slug(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
	// Every row's id, typed by hand above, is the slug of its name.
	for _, row := range seedPage {
		if got := credit.Slug(row.name); got != row.id {
			t.Errorf("Slug(%q) = %q; want %q", row.name, got, row.id)
		}
	}
	for _, u := range seedUpscalers {
		if got := credit.Slug(u.name); got != u.id {
			t.Errorf("Slug(%q) = %q; want %q", u.name, got, u.id)
		}
	}
}
