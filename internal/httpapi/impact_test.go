package httpapi_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
)

// publishImpactCatalog publishes v2: the built-in catalog with Flux Dev at 6
// credits an image (5 in the built-in one) and Nano Banana 2 removed.
func publishImpactCatalog(t *testing.T, cs credit.CatalogStore) {
	t.Helper()
	seed := string(catalog.DefaultYAML())
	flux := "  - name: Flux Dev\n    kind: image\n    price: {per_image: 5}\n"
	nano := "  - name: Nano Banana 2\n    kind: image\n    price: {per_image_by_resolution: {1K: 49, 2K: 73.5, 4K: 98}}\n"
	i := strings.Index(seed, nano)
	if !strings.Contains(seed, flux) || i < 0 {
		t.Fatal("the built-in catalog changed shape")
	}
	end := i + len(nano) + strings.Index(seed[i+len(nano):], "  - name:")
	v2 := seed[:i] + seed[end:]
	v2 = strings.Replace(v2, flux, strings.Replace(flux, "5}", "6}", 1), 1)
	v2 = strings.Replace(v2, `version: "2026-11-24.seed"`, `version: "v2"`, 1)
	c, err := catalog.Parse([]byte(v2))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Model("nano-banana-2"); err == nil {
		t.Fatal("v2 still has Nano Banana 2")
	}
	r := credit.CatalogRecord{Version: c.Version, EffectiveAt: c.EffectiveAt, PublishedAt: start.Add(-time.Hour), YAML: []byte(v2)}
	if err := cs.PublishCatalog(context.Background(), r); err != nil {
		t.Fatal(err)
	}
}

// TestCatalogImpact re-prices financeLedger's generations with a published
// version in which one price went up and one model is gone, on both stores:
//
//	g1 flux-dev ×2 (12-01)       then 10, v2 2 × 6 = 12
//	g3 flux-dev ×1 (12-02)       then 5,  v2 6
//	g2 nano-banana-2 1K (12-01)  then 49 (before its refund of 20); v2 has no such model: unpriced
//
// flux-dev: 2 generations, 15 then, 18 now, +3; nano-banana-2: 1 unpriced,
// 49 then, unknown_model. The generic hold is no generation: not there.
func TestCatalogImpact(t *testing.T) {
	eachStoreCatalogs(t, func(t *testing.T, e *Env, cs credit.CatalogStore) {
		financeLedger(t, e)
		publishImpactCatalog(t, cs)
		support := e.Key(credit.ScopeSupport, "")
		type model struct {
			model, generations, then, now, difference, unpriced, unpricedThen string
			reasons                                                           map[string]string
		}
		check := func(query string, total model, models []model) {
			t.Helper()
			got := e.Want(e.Do(http.MethodGet, "/v1/catalog/impact?"+query, support, ""), http.StatusOK, "impact?"+query)
			read := func(m map[string]any, unpriced string) model {
				x := model{generations: num(t, m["generations"], "generations"), then: num(t, m["charged_then_credits"], "charged_then_credits"),
					now: num(t, m["charged_now_credits"], "charged_now_credits"), difference: num(t, m["difference_credits"], "difference_credits"),
					unpriced: num(t, m["unpriced_generations"], "unpriced_generations"), unpricedThen: num(t, m["unpriced_then_credits"], "unpriced_then_credits")}
				x.model, _ = m["model"].(string)
				if r, ok := m["unpriced_reasons"].(map[string]any); ok {
					x.reasons = map[string]string{}
					for k, n := range r {
						x.reasons[k] = num(t, n, "unpriced_reasons."+k)
					}
				}
				return x
			}
			if x := read(got, ""); x.generations != total.generations || x.then != total.then || x.now != total.now ||
				x.difference != total.difference || x.unpriced != total.unpriced || x.unpricedThen != total.unpricedThen {
				t.Errorf("impact?%s totals = %+v; want %+v", query, x, total)
			}
			ms := objects(t, got["models"], "models")
			if len(ms) != len(models) {
				t.Fatalf("impact?%s has %d models; want %d\n%v", query, len(ms), len(models), got["models"])
			}
			for i, m := range ms {
				if x := read(m, ""); x.model != models[i].model || x.generations != models[i].generations || x.then != models[i].then ||
					x.now != models[i].now || x.difference != models[i].difference || x.unpriced != models[i].unpriced ||
					x.unpricedThen != models[i].unpricedThen || !equalMaps(x.reasons, models[i].reasons) {
					t.Errorf("impact?%s model %d = %+v; want %+v", query, i, x, models[i])
				}
			}
		}
		check("version=v2&from=2026-12-01&to=2026-12-03",
			model{generations: "2", then: "15", now: "18", difference: "3", unpriced: "1", unpricedThen: "49"},
			[]model{
				{"flux-dev", "2", "15", "18", "3", "0", "0", map[string]string{}},
				{"nano-banana-2", "0", "0", "0", "0", "1", "49", map[string]string{"unknown_model": "1"}},
			})
		// Day 2 alone, with the built-in version (the one in use): g3 at the
		// same price.
		check("version="+url.QueryEscape(catalog.Default().Version)+"&from=2026-12-02T00:00:00Z&to=2026-12-02T23:00:00Z",
			model{generations: "1", then: "5", now: "5", difference: "0", unpriced: "0", unpricedThen: "0"},
			[]model{{"flux-dev", "1", "5", "5", "0", "0", "0", map[string]string{}}})
		// A window without charges.
		check("version=v2&from=2026-11-01&to=2026-12-01",
			model{generations: "0", then: "0", now: "0", difference: "0", unpriced: "0", unpricedThen: "0"}, nil)
		got := e.Want(e.Do(http.MethodGet, "/v1/catalog/impact?version=v2&from=2026-12-01&to=2026-12-03", adminKey, ""), http.StatusOK, "impact")
		if got["version"] != "v2" || got["from"] != "2026-12-01T00:00:00Z" || got["to"] != "2026-12-03T00:00:00Z" {
			t.Errorf("impact version, from, to = %v, %v, %v; want v2 and the window", got["version"], got["from"], got["to"])
		}
	})
}
