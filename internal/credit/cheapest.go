package credit

import "sort"

// Cheapest prices r with every model that accepts its settings and returns the
// quotes cheapest first (ties in catalog order). r.Model is ignored. With
// kind empty every kind is considered; set it to compare only, say, image
// models. Models that refuse the settings are left out, not reported: the
// question is "which models can do this, and for how much".
func (c *Catalog) Cheapest(r QuoteRequest, kind Kind) []Quote {
	var out []Quote
	for _, m := range c.Models {
		if kind != "" && m.Kind != kind {
			continue
		}
		r.Model = m.ID
		if q, err := c.Quote(r); err == nil {
			out = append(out, q)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].TotalCredits < out[j].TotalCredits })
	return out
}
