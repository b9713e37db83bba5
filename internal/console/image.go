package console

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"

	"github.com/tally-credits/tally/internal/credit"
)

// imageView is Image mode: the model list and the settings of the chosen
// model, priced by the quote engine. The query string carries the settings
// (?model=…&resolution=2K&aspect_ratio=16:9&images=3&prompt_enhancer=on), so
// the page works as a plain form without JavaScript; the script then keeps the
// same URL up to date and asks POST /v1/quotes on every change.
type imageView struct {
	Groups   []modelGroup
	Model    modelView
	Settings settings

	Resolutions []option
	Ratios      []option
	Images      []option
	Scales      []option

	Quote      *quoteView
	QuoteError string

	// Plans names the catalog's plans, for the wallet's plan line.
	Plans []idName
}

type settings struct {
	Resolution, AspectRatio string
	Images                  int
	PromptEnhancer          bool
	Scale                   int
	InputWidth, InputHeight int
}

type option struct {
	Value, Label string
	Selected     bool
}

// quoteView is a priced quote: the total on Create and the breakdown in its
// tooltip.
type quoteView struct {
	Total          string
	Lines          []lineView
	Width, Height  int
	CatalogVersion string
}

type lineView struct {
	Label       string
	Quantity    int
	UnitCredits string
	Credits     string
}

func newQuoteView(q credit.Quote) *quoteView {
	v := &quoteView{Total: q.TotalCredits.String(), Width: q.Width, Height: q.Height, CatalogVersion: q.CatalogVersion}
	for _, l := range q.Lines() {
		v.Lines = append(v.Lines, lineView{Label: l.Label, Quantity: l.Quantity, UnitCredits: l.UnitCredits.String(), Credits: l.Credits.String()})
	}
	return v
}

func (c *console) image(w http.ResponseWriter, r *http.Request) {
	cat := c.cfg.Catalog()
	if cat == nil || len(cat.Models) == 0 {
		http.Error(w, "no catalog loaded", http.StatusServiceUnavailable)
		return
	}
	q := r.URL.Query()
	m := cat.Models[0]
	if name := q.Get("model"); name != "" {
		if found, err := cat.Model(name); err == nil {
			m = found
		}
	}
	v := imageView{Groups: groups(cat), Model: newModelView(cat, m), Plans: planNames(cat)}
	v.Settings = chooseSettings(m, q)
	s := v.Settings

	for _, t := range v.Model.Tiers {
		v.Resolutions = append(v.Resolutions, option{Value: t.Resolution, Label: t.Resolution, Selected: t.Resolution == s.Resolution})
	}
	for _, a := range v.Model.Ratios {
		v.Ratios = append(v.Ratios, option{Value: a, Label: a, Selected: a == s.AspectRatio})
	}
	for n := 1; n <= max(m.MaxImages, 1); n++ {
		v.Images = append(v.Images, option{Value: strconv.Itoa(n), Label: strconv.Itoa(n), Selected: n == s.Images})
	}
	for _, sc := range v.Model.Scales {
		v.Scales = append(v.Scales, option{Value: strconv.Itoa(sc.Times), Label: sc.Label, Selected: sc.Times == s.Scale})
	}

	req := credit.QuoteRequest{Model: m.ID}
	if m.Kind == credit.KindUpscale {
		req.Scale, req.InputWidth, req.InputHeight = s.Scale, s.InputWidth, s.InputHeight
	} else {
		req.Resolution, req.AspectRatio, req.Images, req.PromptEnhancer = s.Resolution, s.AspectRatio, s.Images, s.PromptEnhancer
	}
	if quote, err := cat.Quote(req); err == nil {
		v.Quote = newQuoteView(quote)
	} else if v.Model.NeedsInput() && s.InputWidth == 0 {
		v.QuoteError = "Choose an input image or enter its size to see the price."
	} else {
		v.QuoteError = credit.ErrorMessage(err)
	}
	c.render(w, r, http.StatusOK, "image", layout{Title: "Image mode", Nav: "image", Scripts: []string{"image.js"}, CatalogVersion: cat.Version, Page: v})
}

// chooseSettings reads the settings from the query, keeping only what m
// supports: anything else falls back to the model's default, as the script
// does when the model changes.
func chooseSettings(m *credit.Model, q url.Values) settings {
	s := settings{Images: 1}
	if len(m.Resolutions) > 0 {
		s.Resolution = m.Resolutions[0].String()
		if r := credit.ParseResolution(q.Get("resolution")); r != 0 && m.Supports(r) {
			s.Resolution = r.String()
		}
	}
	ratios := m.AspectTexts()
	if len(ratios) > 0 {
		s.AspectRatio = ratios[0]
		if slices.Contains(ratios, "1:1") {
			s.AspectRatio = "1:1"
		}
		if a := q.Get("aspect_ratio"); slices.Contains(ratios, a) {
			s.AspectRatio = a
		}
	}
	if n, err := strconv.Atoi(q.Get("images")); err == nil && n >= 1 && n <= m.MaxImages {
		s.Images = n
	}
	switch q.Get("prompt_enhancer") {
	case "on", "true", "1":
		s.PromptEnhancer = true
	}
	if len(m.Price.Scales) > 0 {
		s.Scale = m.Price.Scales[0].Times
		if n, err := strconv.Atoi(q.Get("scale")); err == nil {
			for _, sc := range m.Price.Scales {
				if sc.Times == n {
					s.Scale = n
				}
			}
		}
	}
	if w, err := strconv.Atoi(q.Get("input_width")); err == nil && w > 0 && w <= credit.MaxInputSide {
		if h, err := strconv.Atoi(q.Get("input_height")); err == nil && h > 0 && h <= credit.MaxInputSide {
			s.InputWidth, s.InputHeight = w, h
		}
	}
	return s
}
