package console

import (
	"net/http"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// pricingView is the studio page's tables, generated from the catalog in use.
type pricingView struct {
	Version     string
	EffectiveAt time.Time
	Groups      []modelGroup
	// MaxImages is the most images per generation, when every image model
	// agrees on it (0 otherwise: the rows then say).
	MaxImages int
	// Enhancer is the prompt enhancer's surcharge, when every model agrees
	// on it ("" when it differs by model).
	Enhancer     string
	EnhancerFree bool
	// Plans are the catalog's plans, and Tags what the tags their rules
	// name mean ("Pro models: …").
	Plans []planView
	Tags  []tagView
}

func (c *console) pricing(w http.ResponseWriter, r *http.Request) {
	cat := c.cfg.Catalog()
	if cat == nil {
		http.Error(w, "no catalog loaded", http.StatusServiceUnavailable)
		return
	}
	v := pricingView{Version: cat.Version, EffectiveAt: cat.EffectiveAt.UTC(), Groups: groups(cat),
		Plans: newPlanViews(cat), Tags: planTags(cat)}
	maxImages, enhancer := map[int]bool{}, map[credit.Credits]bool{}
	for _, m := range cat.Models {
		if m.Kind == credit.KindUpscale {
			continue
		}
		maxImages[m.MaxImages] = true
		enhancer[m.PromptEnhancer] = true
	}
	if len(maxImages) == 1 {
		for n := range maxImages {
			v.MaxImages = n
		}
	}
	if len(enhancer) == 1 {
		for e := range enhancer {
			v.Enhancer, v.EnhancerFree = e.String(), e == 0
		}
	}
	c.render(w, r, http.StatusOK, "pricing", layout{Title: "Pricing", Nav: "pricing", CatalogVersion: cat.Version, Page: v})
}
