package httpapi

import (
	"strconv"

	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/imagesize"
)

// QuoteRequest is the body of POST /v1/quotes and the settings part of every
// request that prices a generation.
type QuoteRequest struct {
	Account        string `json:"account,omitempty" doc:"POST /v1/quotes: also say what this account can afford at these settings (needs an API key that may read it). POST /v1/generations: the account to hold on (required)." example:"user_42"`
	Model          string `json:"model" doc:"Model id (nano-banana-2) or display name (Nano Banana 2, any case)." example:"nano-banana-2"`
	Operation      string `json:"operation,omitempty" doc:"create or edit for image models (default create); upscale for upscalers."`
	Resolution     string `json:"resolution,omitempty" doc:"1K, 2K, 3K or 4K; default the model's lowest (1K). Not for upscalers." example:"2K"`
	AspectRatio    string `json:"aspect_ratio,omitempty" doc:"W:H from the model's list; default 1:1. Not for upscalers." example:"16:9"`
	Images         *int   `json:"images,omitempty" doc:"Images in this generation, 1 to the model's maximum (4); default 1 when absent."`
	PromptEnhancer bool   `json:"prompt_enhancer,omitempty" doc:"Whether the prompt enhancer is on (a per-generation surcharge)."`
	Scale          int    `json:"scale,omitempty" doc:"Upscale factor (2 for 2×); upscalers only."`
	InputWidth     int    `json:"input_width,omitempty" doc:"Upscale input width in pixels, when input_image is not sent."`
	InputHeight    int    `json:"input_height,omitempty" doc:"Upscale input height in pixels, when input_image is not sent."`
	InputImage     []byte `json:"input_image,omitempty" doc:"The upscale input image (PNG, JPEG, GIF or WebP), base64; only its header is read, so its first 64 KiB are enough. When sent, its size is used and input_width/input_height must be absent or agree."`
}

// Domain turns the wire request into the engine's, priced with catalog c,
// reading the input image's header when one is given: the file's own size is
// trusted, never the client's numbers.
func (r *QuoteRequest) Domain(c *credit.Catalog) (credit.QuoteRequest, error) {
	q := credit.QuoteRequest{
		Model: r.Model, Operation: r.Operation, Resolution: r.Resolution, AspectRatio: r.AspectRatio,
		PromptEnhancer: r.PromptEnhancer, Scale: r.Scale,
		InputWidth: r.InputWidth, InputHeight: r.InputHeight,
	}
	var err error
	if q.Images, err = imageCount(c, r.Model, r.Images); err != nil {
		return q, err
	}
	if r.InputImage == nil {
		return q, nil
	}
	size, err := imagesize.ReadBytes(r.InputImage)
	if err != nil {
		return q, err
	}
	if err := CheckInputAgrees(size, r.InputWidth, r.InputHeight); err != nil {
		return q, err
	}
	q.InputWidth, q.InputHeight = size.Width, size.Height
	return q, nil
}

// imageCount is the one reading of the image count of a request's settings,
// for every place that takes them (quotes, cheapest quotes, the model filter,
// generations, and the command line through them): absent (nil) means one,
// which the engine reads from 0; an explicit count below 1 is refused, with
// the counts the named model makes (or, naming none, any model of c) as
// allowed, rather than read as the default. Counts above a model's maximum
// are the engine's to refuse, for that model.
func imageCount(c *credit.Catalog, model string, n *int) (int, error) {
	if n == nil {
		return 0, nil
	}
	if *n >= 1 {
		return *n, nil
	}
	most := 1
	if m, err := c.Model(model); err == nil {
		if m.Kind != credit.KindUpscale {
			most = m.MaxImages
		}
	} else {
		for _, m := range c.Models {
			if m.Kind != credit.KindUpscale {
				most = max(most, m.MaxImages)
			}
		}
	}
	e := credit.Errorf(credit.Invalid, "invalid_image_count", "images must be at least 1, not %d (leave it out for one image)", *n)
	for i := 1; i <= most; i++ {
		e.Allowed = append(e.Allowed, strconv.Itoa(i))
	}
	return 0, e
}

// CheckInputAgrees refuses numbers that contradict the image they came with.
func CheckInputAgrees(size imagesize.Size, w, h int) error {
	if (w != 0 || h != 0) && (w != size.Width || h != size.Height) {
		return credit.Errorf(credit.Invalid, "invalid_input_size",
			"input_width×input_height %d×%d disagree with the input image, which is %d×%d; send one or the other", w, h, size.Width, size.Height)
	}
	return nil
}

// Quote is the priced answer, the same JSON from POST /v1/quotes and from
// `tally quote --json` (SPEC §2).
type Quote struct {
	Model          string         `json:"model"`
	ModelName      string         `json:"model_name"`
	Kind           credit.Kind    `json:"kind" enum:"image,personalize,style_reference,upscale"`
	Operation      string         `json:"operation" enum:"create,edit,upscale"`
	Resolution     string         `json:"resolution,omitempty"`
	AspectRatio    string         `json:"aspect_ratio,omitempty"`
	Images         int            `json:"images"`
	Width          int            `json:"width,omitempty" doc:"Output width in pixels: about (1024·K)² pixels in all, both sides multiples of 16; for upscales the input times the scale."`
	Height         int            `json:"height,omitempty"`
	PromptEnhancer bool           `json:"prompt_enhancer"`
	Scale          int            `json:"scale,omitempty"`
	InputWidth     int            `json:"input_width,omitempty"`
	InputHeight    int            `json:"input_height,omitempty"`
	UnitCredits    credit.Credits `json:"unit_credits" doc:"Credits per image (decimal, at most 3 decimals)."`
	TotalCredits   credit.Credits `json:"total_credits"`
	Lines          []QuoteLine    `json:"lines"`
	CatalogVersion string         `json:"catalog_version"`
	Unlimited      bool           `json:"unlimited,omitempty" doc:"Only when the request named an account: an unlimited window of its plan makes this generation free for it now. total_credits is still the list price."`
	Affordable     *Affordable    `json:"affordable,omitempty" doc:"Only when the request named an account: what its balance buys at these settings."`
}

// Affordable says what an account's balance buys at a quote's settings, as
// its plan and its grants' applies_to decide.
type Affordable struct {
	Account                  string         `json:"account"`
	AvailableCredits         credit.Credits `json:"available_credits"`
	EligibleAvailableCredits credit.Credits `json:"eligible_available_credits" doc:"The part of available_credits that may pay for this model: grants limited to other models by applies_to do not (the free credits never pay for Pro models)."`
	Images                   int64          `json:"images" doc:"Images at this per-image price (surcharges paid once) the eligible balance, with the overdraft, covers."`
	Generations              int64          `json:"generations" doc:"Whole generations like this one the eligible balance, with the overdraft, covers."`
	PaidBy                   []PaidShare    `json:"paid_by" doc:"The grants that would pay for one generation like this, in consumption order; empty when the balance cannot, or it is free (unlimited) or refused (plan_required)."`
	Unlimited                bool           `json:"unlimited" doc:"An unlimited window of the account's plan makes this generation free now."`
	PlanRequired             bool           `json:"plan_required" doc:"The account's plan does not let it use this model (a Pro model without a subscription): a generation would be refused with 403 plan_required."`
}

// PaidShare is the part of a charge one grant would pay.
type PaidShare struct {
	Grant   string         `json:"grant"`
	Source  credit.Source  `json:"source" enum:"subscription,topup,promo,refund,adjustment,free,rollover,overdraft"`
	Credits credit.Credits `json:"credits"`
}

// NewAffordable converts what an account can afford to its wire form.
func NewAffordable(account string, a credit.Affordable) *Affordable {
	out := &Affordable{Account: account, AvailableCredits: a.Available, EligibleAvailableCredits: a.Eligible,
		Images: a.Images, Generations: a.Generations, PaidBy: make([]PaidShare, len(a.PaidBy)),
		Unlimited: a.Unlimited, PlanRequired: a.PlanRequired}
	for i, p := range a.PaidBy {
		out.PaidBy[i] = PaidShare{Grant: p.Grant, Source: p.Source, Credits: p.Credits}
	}
	return out
}

// QuoteLine is one row of the breakdown shown when hovering Create.
type QuoteLine struct {
	Label       string         `json:"label"`
	Quantity    int            `json:"quantity"`
	UnitCredits credit.Credits `json:"unit_credits"`
	Credits     credit.Credits `json:"credits"`
}

// NewQuote converts an engine quote to its wire form.
func NewQuote(q credit.Quote) *Quote {
	out := &Quote{
		Model: q.Model, ModelName: q.ModelName, Kind: q.Kind, Operation: string(q.Operation),
		AspectRatio: q.AspectRatio, Images: q.Images, Width: q.Width, Height: q.Height,
		PromptEnhancer: q.PromptEnhancer, Scale: q.Scale, InputWidth: q.InputWidth, InputHeight: q.InputHeight,
		UnitCredits: q.UnitCredits, TotalCredits: q.TotalCredits, CatalogVersion: q.CatalogVersion,
	}
	if q.Resolution != 0 {
		out.Resolution = q.Resolution.String()
	}
	lines := q.Lines()
	out.Lines = make([]QuoteLine, len(lines))
	for i, l := range lines {
		out.Lines[i] = QuoteLine{Label: l.Label, Quantity: l.Quantity, UnitCredits: l.UnitCredits, Credits: l.Credits}
	}
	return out
}

// CheapestRequest asks which models can make a generation with these settings,
// and at what price.
type CheapestRequest struct {
	Kind           credit.Kind `json:"kind,omitempty" enum:"image,personalize,style_reference,upscale" doc:"Only models of this kind; default all."`
	Operation      string      `json:"operation,omitempty"`
	Resolution     string      `json:"resolution,omitempty" example:"2K"`
	AspectRatio    string      `json:"aspect_ratio,omitempty" example:"16:9"`
	Images         *int        `json:"images,omitempty" doc:"Images in this generation, at least 1; default 1 when absent."`
	PromptEnhancer bool        `json:"prompt_enhancer,omitempty"`
	Scale          int         `json:"scale,omitempty"`
	InputWidth     int         `json:"input_width,omitempty"`
	InputHeight    int         `json:"input_height,omitempty"`
	Limit          int         `json:"limit,omitempty" minimum:"0" maximum:"1000" doc:"At most this many quotes; default all."`
}

// Quotes is a list of quotes, cheapest first.
type Quotes struct {
	CatalogVersion string  `json:"catalog_version"`
	Quotes         []Quote `json:"quotes"`
}

// Cheapest answers a CheapestRequest from catalog c. Settings no model could
// accept (images: 0) are refused, as POST /v1/quotes refuses them, rather
// than answered with an empty or a defaulted list.
func Cheapest(c *credit.Catalog, r CheapestRequest) (*Quotes, error) {
	images, err := imageCount(c, "", r.Images)
	if err != nil {
		return nil, err
	}
	qs := c.Cheapest(credit.QuoteRequest{
		Operation: r.Operation, Resolution: r.Resolution, AspectRatio: r.AspectRatio, Images: images,
		PromptEnhancer: r.PromptEnhancer, Scale: r.Scale, InputWidth: r.InputWidth, InputHeight: r.InputHeight,
	}, r.Kind)
	if r.Limit > 0 && len(qs) > r.Limit {
		qs = qs[:r.Limit]
	}
	out := &Quotes{CatalogVersion: c.Version, Quotes: make([]Quote, len(qs))}
	for i, q := range qs {
		out.Quotes[i] = *NewQuote(q)
	}
	return out, nil
}
