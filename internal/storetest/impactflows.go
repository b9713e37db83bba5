package storetest

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
)

// impactCatalog is the enhancer catalog (the ledger's in flowImpact) as a
// next version might change it, published nowhere: Flux Dev 5 → 6 an
// image, the prompt enhancer 2 → 3, Minimax Image gone, and Nano Banana 2
// no longer offering 16:9.
var impactCatalog = sync.OnceValue(func() *credit.Catalog {
	text := string(catalog.DefaultYAML())
	for _, r := range [][2]string{
		{`version: "2026-11-24.seed"`, `version: "2026-12-01.next"`},
		{"prompt_enhancer_credits: 0", "prompt_enhancer_credits: 3"},
		{"  - name: Flux Dev\n    kind: image\n    price: {per_image: 5}\n", "  - name: Flux Dev\n    kind: image\n    price: {per_image: 6}\n"},
		{"  - name: Minimax Image\n    kind: image\n    price: {per_image: 6}\n    resolution: up to 1K\n" +
			`    aspect_ratios: ["1:1", "4:3", "3:4", "3:2", "2:3", "9:16", "16:9"]` + "\n", ""},
		{"price: {per_image_by_resolution: {1K: 49, 2K: 73.5, 4K: 98}}\n    resolution: up to 4K\n" +
			`    aspect_ratios: ["1:1", "4:3", "3:4", "3:2", "2:3", "5:4", "4:5", "9:16", "16:9", "21:9"]`,
			"price: {per_image_by_resolution: {1K: 49, 2K: 73.5, 4K: 98}}\n    resolution: up to 4K\n" +
				`    aspect_ratios: ["1:1", "4:3", "3:4", "3:2", "2:3", "5:4", "4:5", "9:16", "21:9"]`},
	} {
		if strings.Count(text, r[0]) != 1 {
			panic(fmt.Sprintf("storetest: the default catalog has %d of %q", strings.Count(text, r[0]), r[0]))
		}
		text = strings.Replace(text, r[0], r[1], 1)
	}
	c, err := catalog.Parse([]byte(text))
	if err != nil {
		panic("storetest: impact catalog: " + err.Error())
	}
	return c
})

// impactText renders an impact report.
func impactText(r credit.Impact) string {
	lines := []string{fmt.Sprintf("version %s from %s to %s: %d generations %s → %s, %d unpriced %s",
		r.Version, timeText(r.From), timeText(r.To), r.Generations, r.Then, r.Now, r.Unpriced, r.UnpricedThen)}
	for _, m := range r.Models {
		var reasons []string
		for _, k := range slices.Sorted(maps.Keys(m.Reasons)) {
			reasons = append(reasons, fmt.Sprintf("%s %d", k, m.Reasons[k]))
		}
		lines = append(lines, fmt.Sprintf("%s: %d generations %s → %s, %d unpriced %s {%s}", m.Model, m.Generations, m.Then, m.Now,
			m.Unpriced, m.UnpricedThen, strings.Join(reasons, ", ")))
	}
	return strings.Join(lines, "\n    ")
}

// flowImpact: what another catalog would have charged for a window's
// generations, each re-priced with its own settings and images delivered;
// what it cannot price is counted apart, by reason. The ledger prices with
// the enhancer catalog (Flux Dev 5, prompt enhancer 2, Nano Banana 2 49 at
// 1K and 73.5 at 2K, Minimax Image 6); impactCatalog is the other.
func flowImpact(t *testing.T, e *env) {
	e.account("i", 0)
	e.topup("i", 1000)
	e.account("j", 0)
	e.topup("j", 100)
	gen := func(account string, r credit.QuoteRequest, created, resolved string, delivered int) credit.Generation {
		t.Helper()
		e.clock.Set(at(created))
		g := e.generation(account, r)
		e.clock.Set(at(resolved))
		if delivered < 0 {
			if _, err := e.ledger.FailGeneration(e.ctx, nil, g.ID); err != nil {
				t.Fatalf("FailGeneration = %v", err)
			}
			return g
		}
		return e.complete(g.ID, delivered)
	}
	enhanced := func(r credit.QuoteRequest) credit.QuoteRequest { r.PromptEnhancer = true; return r }
	minimax := credit.QuoteRequest{Model: "minimax-image"}
	// Before the window: resolved a microsecond before it.
	gen("i", fluxDev, "2026-11-24T23:59:00Z", "2026-11-24T23:59:59.999999Z", 1)
	// G1 made before the window, resolved at its start: in. 5; now 6.
	gen("i", fluxDev, "2026-11-24T23:59:30Z", "2026-11-25T00:00:00Z", 1)
	// G2 Flux Dev ×3 with the enhancer, 2 delivered: 2 × 5 + 2 = 12;
	// now 2 × 6 + 3 = 15.
	if g := gen("i", enhanced(images(fluxDev, 3)), "2026-11-25T10:00:00Z", "2026-11-25T10:01:00Z", 2); g.Charged != credit.Whole(12) {
		t.Errorf("G2 charged %s; want 12 (2 × 5 + 2)", g.Charged)
	}
	// Nothing delivered (charged 0) and a failure: not re-priced.
	gen("i", enhanced(fluxDev), "2026-11-25T10:02:00Z", "2026-11-25T10:03:00Z", 0)
	gen("i", minimax, "2026-11-25T10:04:00Z", "2026-11-25T10:05:00Z", -1)
	// G4 Nano Banana 2 at 2K, 16:9: 73.5, which the other catalog cannot
	// price (unsupported_aspect_ratio).
	gen("i", credit.QuoteRequest{Model: "nano-banana-2", Resolution: "2K", AspectRatio: "16:9"}, "2026-11-25T11:00:00Z", "2026-11-25T11:01:00Z", 1)
	// G5 Nano Banana 2 at 2K ×2 (1:1): 147, the same now.
	gen("i", images(banana2K, 2), "2026-11-25T12:00:00Z", "2026-11-25T12:01:00Z", 2)
	// G6 Minimax Image ×2: 12, a model the other catalog has not
	// (unknown_model).
	gen("i", images(minimax, 2), "2026-11-25T13:00:00Z", "2026-11-25T13:01:00Z", 2)
	// G8 Flux Dev, refunded whole: charged 5 all the same; now 6.
	g8 := gen("i", fluxDev, "2026-11-25T14:00:00Z", "2026-11-25T14:01:00Z", 1)
	if _, err := e.ledger.RefundGeneration(e.ctx, nil, g8.ID, nil); err != nil {
		t.Fatalf("RefundGeneration(G8) = %v", err)
	}
	// A generic hold captured is no generation.
	h := e.hold("i", credit.Whole(10), 0)
	if _, err := e.ledger.CaptureHold(e.ctx, nil, h.ID, nil); err != nil {
		t.Fatalf("CaptureHold = %v", err)
	}
	// Another account's Flux Dev: 5; now 6.
	gen("j", fluxDev, "2026-11-26T12:00:00Z", "2026-11-26T12:01:00Z", 1)
	// G9 Nano Banana 2 at 1K: 49, resolved a second before the window ends.
	gen("i", credit.QuoteRequest{Model: "nano-banana-2"}, "2026-11-26T23:59:50Z", "2026-11-26T23:59:59Z", 1)
	// Resolved at the window's end: out.
	gen("i", fluxDev, "2026-11-26T23:59:55Z", "2026-11-27T00:00:00Z", 1)

	from, to := at("2026-11-25T00:00:00Z"), at("2026-11-27T00:00:00Z")
	want := func(version string, from, to time.Time, models ...credit.ImpactModel) credit.Impact {
		r := credit.Impact{Version: version, From: from, To: to, Models: models}
		for _, m := range models {
			r.Generations += m.Generations
			r.Then += m.Then
			r.Now += m.Now
			r.Unpriced += m.Unpriced
			r.UnpricedThen += m.UnpricedThen
		}
		return r
	}
	check := func(what string, cat *credit.Catalog, from, to time.Time, w credit.Impact) {
		t.Helper()
		got, err := e.ledger.Impact(e.ctx, cat, from, to)
		if err != nil {
			t.Errorf("Impact(%s) = %v", what, err)
			return
		}
		if g, w := impactText(got), impactText(w); g != w {
			t.Errorf("Impact(%s) =\n    %s\nwant\n    %s", what, g, w)
		}
	}
	// flux-dev: G1, G2, G8, j's: 5 + 12 + 5 + 5 = 27; now 6 + 15 + 6 + 6 = 33.
	// minimax-image: G6 unpriced, 12. nano-banana-2: G5, G9: 147 + 49 =
	// 196, the same now; G4 unpriced, 73.5. Totals: 6 generations, 223 →
	// 229; 2 unpriced, 85.5.
	check("the next catalog", impactCatalog(), from, to, want("2026-12-01.next", from, to,
		credit.ImpactModel{Model: "flux-dev", Generations: 4, Then: credit.Whole(27), Now: credit.Whole(33)},
		credit.ImpactModel{Model: "minimax-image", Unpriced: 1, UnpricedThen: credit.Whole(12), Reasons: map[string]int{"unknown_model": 1}},
		credit.ImpactModel{Model: "nano-banana-2", Generations: 2, Then: credit.Whole(196), Now: credit.Whole(196),
			Unpriced: 1, UnpricedThen: cr("73.5"), Reasons: map[string]int{"unsupported_aspect_ratio": 1}}))
	// The catalog they were priced with prices them all as they were:
	// flux-dev 27; minimax-image 12; nano-banana-2 73.5 + 196 = 269.5.
	check("the same catalog", enhancerCatalog(), from, to, want("2026-11-24.seed", from, to,
		credit.ImpactModel{Model: "flux-dev", Generations: 4, Then: credit.Whole(27), Now: credit.Whole(27)},
		credit.ImpactModel{Model: "minimax-image", Generations: 1, Then: credit.Whole(12), Now: credit.Whole(12)},
		credit.ImpactModel{Model: "nano-banana-2", Generations: 3, Then: cr("269.5"), Now: cr("269.5")}))
	// The day before: the generation resolved a microsecond before
	// midnight. 5; now 6.
	day := at("2026-11-24T00:00:00Z")
	check("the day before", impactCatalog(), day, from, want("2026-12-01.next", day, from,
		credit.ImpactModel{Model: "flux-dev", Generations: 1, Then: credit.Whole(5), Now: credit.Whole(6)}))
	// Nothing resolved after the window.
	check("after", impactCatalog(), to.Add(time.Microsecond), to.Add(24*time.Hour), want("2026-12-01.next", to.Add(time.Microsecond), to.Add(24*time.Hour)))

	_, err := e.ledger.Impact(e.ctx, impactCatalog(), from, from)
	wantErr(t, "Impact(an empty window)", err, credit.Invalid, "invalid_range")
	_, err = e.ledger.Impact(e.ctx, impactCatalog(), to, from)
	wantErr(t, "Impact(a reversed window)", err, credit.Invalid, "invalid_range")
	_, err = e.ledger.Impact(e.ctx, impactCatalog(), from, from.AddDate(0, 0, 401))
	wantErr(t, "Impact(401 days)", err, credit.Invalid, "invalid_range")
	_, err = e.ledger.Impact(e.ctx, nil, from, to)
	wantErr(t, "Impact(no catalog)", err, credit.Invalid, "no_catalog")
}
