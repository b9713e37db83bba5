package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tally-credits/tally/internal/credit"
)

// Impact is what a catalog version would have charged for the generations
// charged in a window: GET /v1/catalog/impact.
type Impact struct {
	Version             string         `json:"version" doc:"The catalog version the generations were priced again with."`
	From                time.Time      `json:"from"`
	To                  time.Time      `json:"to"`
	Generations         int            `json:"generations" doc:"Generations priced again: completed with a charge, resolved in [from, to), that the version can price."`
	ChargedThenCredits  credit.Credits `json:"charged_then_credits" doc:"What those generations were charged, before refunds."`
	ChargedNowCredits   credit.Credits `json:"charged_now_credits" doc:"What the version charges for the same settings and images delivered: images × its per-image price, plus its per-generation surcharges when any image was delivered."`
	DifferenceCredits   credit.Credits `json:"difference_credits" doc:"charged_now_credits − charged_then_credits: more than 0 when the version charges more."`
	UnpricedGenerations int            `json:"unpriced_generations" doc:"Generations of the window the version cannot price (a model it does not have, settings it does not offer): not in the figures above."`
	UnpricedThenCredits credit.Credits `json:"unpriced_then_credits" doc:"What those were charged, before refunds."`
	Models              []ImpactModel  `json:"models" doc:"By model id."`
}

// ImpactModel is one model's part of an impact.
type ImpactModel struct {
	Model               string         `json:"model"`
	Generations         int            `json:"generations"`
	ChargedThenCredits  credit.Credits `json:"charged_then_credits"`
	ChargedNowCredits   credit.Credits `json:"charged_now_credits"`
	DifferenceCredits   credit.Credits `json:"difference_credits"`
	UnpricedGenerations int            `json:"unpriced_generations"`
	UnpricedThenCredits credit.Credits `json:"unpriced_then_credits"`
	UnpricedReasons     map[string]int `json:"unpriced_reasons" doc:"Why the version cannot price them: the code a quote would answer (unknown_model, unsupported_resolution, …) and how many." example:"{\"unknown_model\":3}"`
}

// NewImpact converts an impact to its wire form.
func NewImpact(r credit.Impact) *Impact {
	out := &Impact{Version: r.Version, From: r.From.UTC(), To: r.To.UTC(), Generations: r.Generations, ChargedThenCredits: r.Then,
		ChargedNowCredits: r.Now, DifferenceCredits: r.Now - r.Then, UnpricedGenerations: r.Unpriced, UnpricedThenCredits: r.UnpricedThen,
		Models: make([]ImpactModel, len(r.Models))}
	for i, m := range r.Models {
		reasons := map[string]int{}
		for k, n := range m.Reasons {
			reasons[k] = n
		}
		out.Models[i] = ImpactModel{Model: m.Model, Generations: m.Generations, ChargedThenCredits: m.Then, ChargedNowCredits: m.Now,
			DifferenceCredits: m.Now - m.Then, UnpricedGenerations: m.Unpriced, UnpricedThenCredits: m.UnpricedThen, UnpricedReasons: reasons}
	}
	return out
}

// impactRoutes registers the price-change impact, which reads the published
// catalogs and the ledger: a server with both.
func (s *Server) impactRoutes() {
	register(s, huma.Operation{
		OperationID: "catalog-impact",
		Method:      http.MethodGet,
		Path:        "/v1/catalog/impact",
		Summary:     "What a catalog version would have charged for a window's generations",
		Description: "Prices again, with the catalog version, every generation completed with a charge in [from, to) (by when it was completed), with the settings it was priced with and the images delivered, and answers by model what was charged then and what the version charges, the difference, and the generations the version cannot price. version is one GET /v1/catalog/versions lists (the built-in one included) or the one in use: 404 unknown_catalog_version for any other, 422 invalid_catalog for a published one this node cannot read. from before to, at most 400 days apart (422 invalid_range). Writes nothing. Admin and support keys.",
		Tags:        []string{"Reports"},
		Errors:      []int{http.StatusUnprocessableEntity},
	}, allowAdmin|allowSupport, func(ctx context.Context, in *struct {
		Version string `query:"version" required:"true" doc:"The catalog version to price with." example:"2027-01-01.v2"`
		From    string `query:"from" required:"true" doc:"Start, inclusive: RFC 3339 (2026-12-01T00:00:00Z) or a date (2026-12-01, that day's midnight UTC)." example:"2026-11-01"`
		To      string `query:"to" required:"true" doc:"End, exclusive: RFC 3339 or a date; at most 400 days after from." example:"2026-12-01"`
	}) (*struct{ Body *Impact }, error) {
		from, err := parseTime("from", in.From)
		if err != nil {
			return nil, s.fail(err)
		}
		to, err := parseTime("to", in.To)
		if err != nil {
			return nil, s.fail(err)
		}
		records, err := s.catalogs.Catalogs(ctx)
		if err != nil {
			return nil, s.fail(err)
		}
		cat, err := s.catalogVersion(records, in.Version)
		if err != nil {
			return nil, s.fail(err)
		}
		r, err := s.ledger.Impact(ctx, cat, from, to)
		if err != nil {
			return nil, s.fail(err)
		}
		return &struct{ Body *Impact }{NewImpact(r)}, nil
	})
}
