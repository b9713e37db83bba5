package credit

import (
	"context"
	"encoding/json"
	"sort"
	"time"
)

// ImpactModel is what one model's generations of a window were charged,
// and what another catalog would have charged for the same images.
type ImpactModel struct {
	Model       string
	Generations int     // re-priced
	Then, Now   Credits // charged then (before refunds), and by the other catalog
	// Unpriced is how many generations the other catalog cannot price,
	// UnpricedThen what they were charged, and Reasons why not (the
	// quote's refusal: unknown_model, unsupported_aspect_ratio, …).
	Unpriced     int
	UnpricedThen Credits
	Reasons      map[string]int
}

// Impact is what a catalog would have charged for a window's generations.
type Impact struct {
	Version      string // the other catalog's
	From, To     time.Time
	Generations  int
	Then, Now    Credits
	Unpriced     int
	UnpricedThen Credits
	Models       []ImpactModel // by model id
}

// Impact re-prices, with cat, every generation completed with a charge
// whose ResolvedAt is in [from, to): each with its own recorded settings
// (the quote it was priced with) and images delivered, charged as a
// completion charges (images × per image, plus the per-generation
// surcharges when any image was delivered). The window is streamed from
// the store, and each distinct setting is priced once. Amounts are exact
// integers (thousandths); Then is what was charged, before refunds.
// Invalid invalid_range.
func (l *Ledger) Impact(ctx context.Context, cat *Catalog, from, to time.Time) (Impact, error) {
	if err := checkReportWindow(from, to); err != nil {
		return Impact{}, err
	}
	if cat == nil {
		return Impact{}, Errorf(Invalid, "no_catalog", "impact: no catalog to price with")
	}
	from, to = from.UTC(), to.UTC()
	r := Impact{Version: cat.Version, From: from, To: to}
	models := map[string]*ImpactModel{}
	type priced struct {
		unit, surcharge Credits
		reason          string
	}
	// Each distinct setting is priced once. A window repeats a few
	// settings thousands of times, and their recorded quotes repeat byte
	// for byte: looked up by those bytes, most generations need neither
	// decoding nor pricing.
	memo := map[QuoteRequest]priced{}
	byQuote := map[string]priced{}
	err := l.store.View(ctx, func(tx Tx) error {
		return tx.EachCharged(from, to, func(g *Generation) error {
			m := models[g.Model]
			if m == nil {
				m = &ImpactModel{Model: g.Model}
				models[g.Model] = m
			}
			p, seen := byQuote[string(g.Quote)]
			if !seen {
				req, ok := recordedRequest(g)
				p, seen = memo[req]
				if !ok {
					p = priced{reason: "unreadable_quote"}
				} else if !seen {
					if q, err := cat.Quote(req); err != nil {
						p.reason = "internal"
						if e, ok := err.(*Error); ok {
							p.reason = e.Reason
						}
					} else {
						p = priced{unit: q.UnitCredits, surcharge: q.TotalCredits - q.UnitCredits*Credits(q.Images)}
					}
					memo[req] = p
				}
				if len(byQuote) < maxImpactQuotes {
					byQuote[string(g.Quote)] = p
				}
			}
			if p.reason != "" {
				m.Unpriced++
				m.UnpricedThen += g.Charged
				if m.Reasons == nil {
					m.Reasons = map[string]int{}
				}
				m.Reasons[p.reason]++
				return nil
			}
			now := p.unit * Credits(g.ImagesDelivered)
			if g.ImagesDelivered > 0 {
				now += p.surcharge
			}
			m.Generations++
			m.Then += g.Charged
			m.Now += now
			return nil
		})
	})
	if err != nil {
		return Impact{}, err
	}
	for _, m := range models {
		r.Models = append(r.Models, *m)
		r.Generations += m.Generations
		r.Then += m.Then
		r.Now += m.Now
		r.Unpriced += m.Unpriced
		r.UnpricedThen += m.UnpricedThen
	}
	sort.Slice(r.Models, func(i, j int) bool { return r.Models[i].Model < r.Models[j].Model })
	return r, nil
}

// maxImpactQuotes bounds the distinct recorded quotes Impact remembers,
// so that a window of all-different quotes cannot grow it without end.
const maxImpactQuotes = 100_000

// recordedRequest is the request a generation was priced with, read back
// from the quote it recorded: the JSON of POST /v1/quotes (snake_case, the
// resolution as "2K") when it was made over HTTP, the engine's Quote
// otherwise (Go's field names, the resolution as a number). False when the
// quote cannot be read.
func recordedRequest(g *Generation) (QuoteRequest, bool) {
	var q struct {
		Model            string          `json:"model"`
		Operation        string          `json:"operation"`
		Resolution       json.RawMessage `json:"resolution"`
		AspectRatio      string          `json:"aspect_ratio"`
		AspectRatioGo    string          `json:"AspectRatio"`
		Images           int             `json:"images"`
		PromptEnhancer   bool            `json:"prompt_enhancer"`
		PromptEnhancerGo bool            `json:"PromptEnhancer"`
		Scale            int             `json:"scale"`
		InputWidth       int             `json:"input_width"`
		InputWidthGo     int             `json:"InputWidth"`
		InputHeight      int             `json:"input_height"`
		InputHeightGo    int             `json:"InputHeight"`
	}
	if err := json.Unmarshal(g.Quote, &q); err != nil || q.Model == "" {
		return QuoteRequest{}, false
	}
	r := QuoteRequest{Model: q.Model, Operation: q.Operation, AspectRatio: q.AspectRatio + q.AspectRatioGo, Images: q.Images,
		PromptEnhancer: q.PromptEnhancer || q.PromptEnhancerGo, Scale: q.Scale,
		InputWidth: q.InputWidth + q.InputWidthGo, InputHeight: q.InputHeight + q.InputHeightGo}
	if len(q.Resolution) > 0 && string(q.Resolution) != "null" {
		var tier Resolution
		if err := json.Unmarshal(q.Resolution, &tier); err == nil {
			if tier > 0 {
				r.Resolution = tier.String()
			}
		} else if err := json.Unmarshal(q.Resolution, &r.Resolution); err != nil {
			return QuoteRequest{}, false
		}
	}
	return r, true
}
