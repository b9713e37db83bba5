package console

import (
	"strconv"
	"strings"

	"github.com/tally-credits/tally/internal/credit"
)

// modelView is one catalog entry as the console shows it: the list item
// with its base credits, the tooltip (credits per resolution or scale, cap,
// aspect ratios), the Pricing row, and the data the Image mode script needs
// to offer only the settings the model supports. Every figure is formatted
// from the catalog; nothing is priced here.
type modelView struct {
	ID, Name string
	Kind     credit.Kind
	// Base is the page's base cost; From says it is the lowest of several
	// prices (per tier or per scale), Unit what it is per.
	Base string
	From bool
	Unit string
	// UnitShort is what the list item says after "credits": "" for a
	// price per image (the list is of per-image prices), "/ MP".
	UnitShort string

	Tiers         []tierView // per resolution, for image models
	PriceLines    []string   // the Pricing cell: "80 (1K/2K)", "160 (4K)"
	Cap           string     // the page's resolution column
	Unpublished   bool       // the cap is "Shown in Image mode tooltip"
	Ratios        []string
	Scales        []scaleView
	MegapixelBase string // per_megapixel: the base cost
	MaxImages     int
	Enhancer      string // surcharge per generation; "" when free

	// Tags are the model's tags as badges show them ("Pro"); DeniedBy the
	// plans whose accounts may not use it.
	Tags     []string
	TagIDs   []string
	DeniedBy []string

	// Example is the page's worked example for a per-megapixel upscaler,
	// priced by the quote engine (1920×1080 at the smallest scale).
	Example *exampleView
}

type tierView struct{ Resolution, Credits string }

type scaleView struct {
	Times   int
	Label   string // "2×"
	Credits string // by_scale: the price
	Factor  string // per_megapixel: the megapixel factor
}

type exampleView struct {
	Width, Height int
	Scale         string
	Credits       string
}

// ExampleWidth and ExampleHeight are the page's upscale example input.
const (
	exampleWidth  = 1920
	exampleHeight = 1080
)

func newModelView(c *credit.Catalog, m *credit.Model) modelView {
	v := modelView{
		ID: m.ID, Name: m.Name, Kind: m.Kind, Base: m.BaseCredits().String(), Unit: "per image",
		Cap: m.CapText(), Unpublished: m.Cap == credit.CapUnpublished, Ratios: m.AspectTexts(), MaxImages: m.MaxImages,
	}
	for _, t := range m.Tags {
		v.TagIDs = append(v.TagIDs, t)
		v.Tags = append(v.Tags, tagLabel(t))
	}
	v.DeniedBy = deniedBy(c, m)
	if m.PromptEnhancer > 0 {
		v.Enhancer = m.PromptEnhancer.String()
	}
	distinct := map[credit.Credits]bool{}
	for _, r := range m.Resolutions {
		p := m.Price.Credits
		if m.Price.Kind == credit.PerImageByResolution {
			p = m.Price.ByResolution[r]
		}
		distinct[p] = true
		v.Tiers = append(v.Tiers, tierView{Resolution: r.String(), Credits: p.String()})
	}
	v.From = len(distinct) > 1
	v.PriceLines = m.PriceLines()
	for _, s := range m.Price.Scales {
		sv := scaleView{Times: s.Times, Label: strconv.Itoa(s.Times) + "×"}
		if m.Price.Kind == credit.PerMegapixel {
			sv.Factor = credit.Credits(s.Factor).String()
		} else {
			sv.Credits = s.Credits.String()
		}
		v.Scales = append(v.Scales, sv)
	}
	switch m.Price.Kind {
	case credit.PerMegapixel:
		v.Unit, v.UnitShort = "per megapixel", "/ MP"
		v.MegapixelBase = m.Price.Base.String()
		if len(m.Price.Scales) > 0 {
			s := m.Price.Scales[0]
			q, err := c.Quote(credit.QuoteRequest{Model: m.ID, Scale: s.Times, InputWidth: exampleWidth, InputHeight: exampleHeight})
			if err == nil {
				v.Example = &exampleView{Width: exampleWidth, Height: exampleHeight, Scale: strconv.Itoa(s.Times) + "×", Credits: q.TotalCredits.String()}
			}
		}
	case credit.ByScale:
		v.Unit = "per upscale"
		v.From = len(m.Price.Scales) > 1
	}
	return v
}

// ScalesText is the Pricing page's "Supported scales" cell: "2×, 3×, 4×".
func (v modelView) ScalesText() string {
	parts := make([]string, len(v.Scales))
	for i, s := range v.Scales {
		parts[i] = s.Label
	}
	return strings.Join(parts, ", ")
}

// RatiosText is the aspect ratios as the page lists them.
func (v modelView) RatiosText() string { return strings.Join(v.Ratios, ", ") }

// The data-* attributes the Image mode script reads: space-separated lists.

// DataResolutions lists the tiers offered.
func (v modelView) DataResolutions() string {
	parts := make([]string, len(v.Tiers))
	for i, t := range v.Tiers {
		parts[i] = t.Resolution
	}
	return strings.Join(parts, " ")
}

// DataRatios lists the aspect ratios.
func (v modelView) DataRatios() string { return strings.Join(v.Ratios, " ") }

// DataScales lists the upscale factors.
func (v modelView) DataScales() string {
	parts := make([]string, len(v.Scales))
	for i, s := range v.Scales {
		parts[i] = strconv.Itoa(s.Times)
	}
	return strings.Join(parts, " ")
}

// DataTags lists the model's tags.
func (v modelView) DataTags() string { return strings.Join(v.TagIDs, " ") }

// DataDenied lists the plans whose accounts may not use the model.
func (v modelView) DataDenied() string { return strings.Join(v.DeniedBy, " ") }

// NeedsInput says the price depends on the input image's size.
func (v modelView) NeedsInput() bool { return v.MegapixelBase != "" }

// Upscale says the model is an upscaler.
func (v modelView) Upscale() bool { return v.Kind == credit.KindUpscale }

// modelGroup is one section of the model list, as the page groups them.
type modelGroup struct {
	Kind   credit.Kind
	Title  string
	Models []modelView
}

// kindTitles names the page's sections, in its order.
var kindTitles = []struct {
	Kind  credit.Kind
	Title string
}{
	{credit.KindImage, "Create / Edit Image"},
	{credit.KindPersonalize, "Personalize"},
	{credit.KindStyleReference, "Style Reference"},
	{credit.KindUpscale, "Upscale"},
}

// groups returns the catalog's models by kind, in catalog order within each
// kind; kinds without models are left out.
func groups(c *credit.Catalog) []modelGroup {
	var out []modelGroup
	for _, k := range kindTitles {
		g := modelGroup{Kind: k.Kind, Title: k.Title}
		for _, m := range c.Models {
			if m.Kind == k.Kind {
				g.Models = append(g.Models, newModelView(c, m))
			}
		}
		if len(g.Models) > 0 {
			out = append(out, g)
		}
	}
	return out
}

// CapLabel is the resolution line of the tooltip: the page's cap, or what is
// offered when the page publishes none.
func (v modelView) CapLabel() string {
	switch {
	case v.Unpublished:
		return "1K only (cap not published)"
	case v.Cap != "":
		return v.Cap
	}
	return strings.ReplaceAll(v.DataResolutions(), " ", ", ")
}
