package httpapi

import (
	"strconv"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
)

// Model is one catalog entry as the API shows it: enough to draw the Image mode
// tooltip (credits per resolution, cap, aspect ratios) without pricing anything.
type Model struct {
	ID                    string            `json:"id" example:"nano-banana-2"`
	Name                  string            `json:"name" example:"Nano Banana 2"`
	Kind                  credit.Kind       `json:"kind" enum:"image,personalize,style_reference,upscale"`
	Operations            []string          `json:"operations"`
	Rule                  string            `json:"rule" enum:"per_image,per_image_by_resolution,per_megapixel,by_scale"`
	BaseCredits           credit.Credits    `json:"base_credits" doc:"The page's base cost: per image at the lowest tier, the megapixel base, or the smallest scale's price."`
	ResolutionCap         string            `json:"resolution_cap,omitempty" doc:"As the page prints it: Up to 4K; 1K, 2K, 4K; Shown in Image mode tooltip."`
	Resolutions           []ResolutionPrice `json:"resolutions,omitempty" doc:"The tiers that can be asked for, with their per-image credits."`
	AspectRatios          []string          `json:"aspect_ratios,omitempty"`
	AspectOverrides       []AspectOverride  `json:"aspect_overrides,omitempty"`
	Scales                []ScalePrice      `json:"scales,omitempty" doc:"Upscale factors offered."`
	MegapixelBase         credit.Credits    `json:"megapixel_base,omitempty" doc:"per_megapixel: credits per input megapixel at factor 1."`
	RoundTo               credit.Credits    `json:"round_to,omitempty" doc:"per_megapixel: the price is rounded half up to this step."`
	MaxImages             int               `json:"max_images"`
	PromptEnhancerCredits credit.Credits    `json:"prompt_enhancer_credits" doc:"Surcharge per generation with the prompt enhancer on."`
	QuoteTotalCredits     *credit.Credits   `json:"quote_total_credits,omitempty" doc:"Only in GET /v1/models with settings: the total for those settings."`
	Tags                  []string          `json:"tags" doc:"Labels plans and grants select models by (applies_to, a plan's models); the built-in catalog tags the models whose name says Pro with pro. Empty when none." example:"pro"`
}

// ResolutionPrice is one tier and its per-image price.
type ResolutionPrice struct {
	Resolution string         `json:"resolution" example:"2K"`
	Credits    credit.Credits `json:"credits" example:"73.5"`
}

// ScalePrice is one upscale factor: a fixed price (by_scale) or a megapixel
// factor (per_megapixel).
type ScalePrice struct {
	Scale   int            `json:"scale" example:"2"`
	Label   string         `json:"label" example:"2×"`
	Credits credit.Credits `json:"credits,omitempty"`
	Factor  credit.Credits `json:"factor,omitempty" doc:"Megapixel factor (decimal)."`
}

// AspectOverride is a price change for one aspect ratio.
type AspectOverride struct {
	AspectRatio string         `json:"aspect_ratio"`
	Multiplier  credit.Credits `json:"multiplier,omitempty" doc:"Per-image price multiplier (decimal)."`
	Credits     credit.Credits `json:"credits,omitempty" doc:"Replacement per-image price."`
}

// NewModel converts a catalog entry to its wire form.
func NewModel(m *credit.Model) Model {
	out := Model{
		ID: m.ID, Name: m.Name, Kind: m.Kind, Rule: string(m.Price.Kind), BaseCredits: m.BaseCredits(),
		ResolutionCap: m.CapText(), AspectRatios: m.AspectTexts(), MaxImages: m.MaxImages,
		PromptEnhancerCredits: m.PromptEnhancer, Tags: append([]string{}, m.Tags...),
	}
	for _, op := range m.Kind.Operations() {
		out.Operations = append(out.Operations, string(op))
	}
	for _, r := range m.Resolutions {
		price := m.Price.Credits
		if m.Price.Kind == credit.PerImageByResolution {
			price = m.Price.ByResolution[r]
		}
		out.Resolutions = append(out.Resolutions, ResolutionPrice{Resolution: r.String(), Credits: price})
	}
	for _, o := range m.AspectOverrides {
		out.AspectOverrides = append(out.AspectOverrides, AspectOverride{AspectRatio: o.Ratio, Multiplier: credit.Credits(o.Multiplier), Credits: o.Credits})
	}
	for _, s := range m.Price.Scales {
		out.Scales = append(out.Scales, ScalePrice{Scale: s.Times, Label: strconv.Itoa(s.Times) + "×", Credits: s.Credits, Factor: credit.Credits(s.Factor)})
	}
	if m.Price.Kind == credit.PerMegapixel {
		out.MegapixelBase, out.RoundTo = m.Price.Base, m.Price.RoundTo
	}
	return out
}

// Catalog is a whole catalog version.
type Catalog struct {
	Version     string    `json:"version"`
	EffectiveAt time.Time `json:"effective_at"`
	Models      []Model   `json:"models"`
	Plans       []Plan    `json:"plans" doc:"The studio's credit programs and paid plans, in the catalog file's order. Empty when the catalog has none."`
}

// NewCatalog converts a catalog to its wire form.
func NewCatalog(c *credit.Catalog) *Catalog {
	out := &Catalog{Version: c.Version, EffectiveAt: c.EffectiveAt, Models: make([]Model, len(c.Models)), Plans: make([]Plan, len(c.Plans))}
	for i, m := range c.Models {
		out.Models[i] = NewModel(m)
	}
	for i, p := range c.Plans {
		out.Plans[i] = NewPlan(p)
	}
	return out
}

// Plan is one of the catalog's plans: the free program an account is put
// on, or a plan an account subscribes to.
type Plan struct {
	ID         string              `json:"id" example:"free"`
	Name       string              `json:"name" example:"Free"`
	Program    bool                `json:"program" doc:"An account is put on it (PUT /v1/accounts/{id}/plan) rather than subscribed to; its rules apply only while the account has no active subscription."`
	Topups     bool                `json:"topups" doc:"Whether top-ups are on sale to an account on this plan."`
	Models     *credit.Eligibility `json:"models,omitempty" doc:"What an account on the plan may generate with; absent: every model."`
	Allowances []PlanAllowance     `json:"allowances" doc:"The credits the plan gives, each every day or month."`
	Unlimited  []PlanWindow        `json:"unlimited" doc:"Models that cost nothing for some days from the start of each billing period."`
}

// PlanAllowance is credits a plan gives every period.
type PlanAllowance struct {
	Credits   credit.Credits      `json:"credits" example:"100"`
	Every     credit.Period       `json:"every" enum:"day,month" doc:"day: each local calendar day of the account; month: from each renewal day (the subscription's start day of month) to the next."`
	Source    credit.Source       `json:"source" enum:"subscription,topup,promo,refund,adjustment,free,rollover" doc:"The source of the grants it makes."`
	Expires   string              `json:"expires" example:"period_end" doc:"When its grants expire: period_end (the end of the day or month given for), never, or a duration after they are given, such as 720h or 30d."`
	Rollover  *PlanRollover       `json:"rollover,omitempty" doc:"Absent: unspent credits do not roll over."`
	AppliesTo *credit.Eligibility `json:"applies_to,omitempty" doc:"Which models its grants pay for; absent: every model."`
}

// PlanRollover turns the unspent part of a period's allowance into a
// rollover grant when the period ends.
type PlanRollover struct {
	MaxCredits   credit.Credits `json:"max_credits" example:"2000" doc:"At most this many unspent credits roll over."`
	ExpiresAfter string         `json:"expires_after" example:"30d" doc:"How long the rollover grant lives: a duration such as 30d or 720h, or never."`
}

// PlanWindow is an unlimited window.
type PlanWindow struct {
	Models        []string         `json:"models" example:"nano-banana-2" doc:"Model ids that cost nothing inside the window."`
	Days          int              `json:"days" example:"7" doc:"Days from the start of each billing period."`
	MaxConcurrent int              `json:"max_concurrent" example:"1" doc:"Generations open at a time."`
	DailyFast     int              `json:"daily_fast" example:"50" doc:"Generations a local day in the fast lane."`
	AfterFast     credit.AfterFast `json:"after_fast" enum:"block,relaxed" doc:"Past daily_fast: block (refused until local midnight, 429 daily_limit_reached) or relaxed (the relaxed lane)."`
}

// NewPlan converts a plan to its wire form.
func NewPlan(p *credit.Plan) Plan {
	out := Plan{ID: p.ID, Name: p.Name, Program: p.Program, Topups: p.Topups, Models: eligibility(p.Models),
		Allowances: make([]PlanAllowance, len(p.Allowances)), Unlimited: make([]PlanWindow, len(p.Unlimited))}
	for i, a := range p.Allowances {
		out.Allowances[i] = PlanAllowance{Credits: a.Credits, Every: a.Every, Source: a.Source,
			Expires: catalog.ExpiryText(a.Expires), AppliesTo: eligibility(a.AppliesTo)}
		if r := a.Rollover; r != nil {
			after := "never"
			if r.ExpiresAfter > 0 {
				after = catalog.DurationText(r.ExpiresAfter)
			}
			out.Allowances[i].Rollover = &PlanRollover{MaxCredits: r.MaxCredits, ExpiresAfter: after}
		}
	}
	for i, w := range p.Unlimited {
		out.Unlimited[i] = PlanWindow{Models: append([]string{}, w.Models...), Days: w.Days, MaxConcurrent: w.MaxConcurrent, DailyFast: w.DailyFast, AfterFast: w.AfterFast}
	}
	return out
}

// eligibility is e on the wire: nil (absent) when it allows every model.
func eligibility(e credit.Eligibility) *credit.Eligibility {
	if e.IsZero() {
		return nil
	}
	return &e
}

// ModelFilter is the query of GET /v1/models: settings a model must accept.
type ModelFilter struct {
	Kind           credit.Kind `query:"kind" enum:"image,personalize,style_reference,upscale" doc:"Only models of this kind."`
	Operation      string      `query:"operation" doc:"create, edit or upscale."`
	Resolution     string      `query:"resolution" doc:"1K, 2K, 3K or 4K." example:"2K"`
	AspectRatio    string      `query:"aspect_ratio" example:"16:9"`
	Images         int         `query:"images" doc:"Images per generation, at least 1; default 1 when absent."`
	PromptEnhancer bool        `query:"prompt_enhancer"`
	Scale          int         `query:"scale" doc:"Upscale factor."`
	InputWidth     int         `query:"input_width" doc:"Upscale input width in pixels."`
	InputHeight    int         `query:"input_height" doc:"Upscale input height in pixels."`

	given       bool // any of the above was in the query, even at its zero value
	imagesGiven bool // images was in the query: images=0 is refused, not read as absent
}

// modelFilterParams are the query parameters of a ModelFilter.
var modelFilterParams = []string{"kind", "operation", "resolution", "aspect_ratio", "images", "prompt_enhancer", "scale", "input_width", "input_height"}

// Resolve notes whether any setting was given (huma.Resolver): prompt_enhancer=false
// is a filter too.
func (f *ModelFilter) Resolve(ctx huma.Context) []error {
	u := ctx.URL()
	q := u.Query()
	for _, p := range modelFilterParams {
		if q.Has(p) {
			f.given = true
		}
	}
	f.imagesGiven = q.Has("images")
	return nil
}

// request returns the filter's settings, checked as every request's settings
// are (images=0 is refused, not read as one image).
func (f *ModelFilter) request(c *credit.Catalog) (credit.QuoteRequest, error) {
	var n *int
	if f.imagesGiven {
		n = &f.Images
	}
	images, err := imageCount(c, "", n)
	return credit.QuoteRequest{
		Operation: f.Operation, Resolution: f.Resolution, AspectRatio: f.AspectRatio, Images: images,
		PromptEnhancer: f.PromptEnhancer, Scale: f.Scale, InputWidth: f.InputWidth, InputHeight: f.InputHeight,
	}, err
}
