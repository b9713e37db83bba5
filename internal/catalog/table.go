package catalog

import (
	"strconv"
	"strings"

	"github.com/tally-credits/tally/internal/credit"
)

// This file prints prices the way the studio page does, for `tally catalog
// show` and the console's Pricing page.

// PriceText is the page's "Credits (per image)" cell: "15", or per tier with
// equal prices grouped, "80 (1K/2K), 160 (4K)"; for upscalers the base cost.
func PriceText(m *credit.Model) string { return strings.Join(m.PriceLines(), ", ") }

// ScalesText is the page's "Supported scales" cell: "2×, 3×, 4×".
func ScalesText(m *credit.Model) string {
	parts := make([]string, len(m.Price.Scales))
	for i, s := range m.Price.Scales {
		parts[i] = strconv.Itoa(s.Times) + "×"
	}
	return strings.Join(parts, ", ")
}

// ScaleCredits is the page's upscale "Credits" cell, one entry per scale:
// "2× = base cost × megapixels × 1" or "2×: 65".
func ScaleCredits(m *credit.Model) []string {
	out := make([]string, len(m.Price.Scales))
	for i, s := range m.Price.Scales {
		if m.Price.Kind == credit.PerMegapixel {
			out[i] = strconv.Itoa(s.Times) + "× = base cost × megapixels × " + credit.Credits(s.Factor).String()
		} else {
			out[i] = strconv.Itoa(s.Times) + "×: " + s.Credits.String()
		}
	}
	return out
}
