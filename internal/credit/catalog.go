package credit

import (
	"strconv"
	"strings"
	"time"
)

// Kind is what a catalog entry does, which decides the settings it takes.
type Kind string

// The kinds of catalog entry, as the studio page groups them.
const (
	KindImage          Kind = "image"           // Create / Edit Image
	KindPersonalize    Kind = "personalize"     // Personalise Image
	KindStyleReference Kind = "style_reference" // Style Reference
	KindUpscale        Kind = "upscale"         // Upscale Image
)

// Operation is what a generation asks of a model.
type Operation string

// The operations. Image models create and edit at the same price; personalize
// and style reference create; upscale models upscale.
const (
	OpCreate  Operation = "create"
	OpEdit    Operation = "edit"
	OpUpscale Operation = "upscale"
)

// Operations returns the operations a kind of model accepts, the default first.
func (k Kind) Operations() []Operation {
	switch k {
	case KindImage:
		return []Operation{OpCreate, OpEdit}
	case KindUpscale:
		return []Operation{OpUpscale}
	default:
		return []Operation{OpCreate}
	}
}

// Resolution is an output resolution tier: 1K to 4K. The zero value is no
// resolution (upscale models keep the input's size times the scale).
type Resolution uint8

// MaxResolution is the largest tier.
const MaxResolution Resolution = 4

var resolutionNames = [...]string{"", "1K", "2K", "3K", "4K"}

// String returns "1K" … "4K".
func (r Resolution) String() string {
	if int(r) < len(resolutionNames) {
		return resolutionNames[r]
	}
	return "?"
}

// ParseResolution reads "1K" … "4K" (case-insensitive). It returns 0 when s
// names no tier.
func ParseResolution(s string) Resolution {
	if len(s) == 2 && (s[1] == 'K' || s[1] == 'k') && s[0] >= '1' && s[0] <= '4' {
		return Resolution(s[0] - '0')
	}
	return 0
}

// AspectRatio is a W:H shape such as 16:9, kept with its text so that quoting
// needs no formatting.
type AspectRatio struct {
	W, H int
	Text string
}

// MaxAspectPart bounds each side of an aspect ratio; it keeps the output-size
// arithmetic small and exact.
const MaxAspectPart = 64

// ParseAspectRatio reads "W:H" with 1 ≤ W, H ≤ MaxAspectPart.
func ParseAspectRatio(s string) (AspectRatio, bool) {
	ws, hs, ok := strings.Cut(s, ":")
	if !ok {
		return AspectRatio{}, false
	}
	w, err1 := strconv.Atoi(ws)
	h, err2 := strconv.Atoi(hs)
	if err1 != nil || err2 != nil || w < 1 || h < 1 || w > MaxAspectPart || h > MaxAspectPart ||
		ws[0] == '+' || hs[0] == '+' {
		return AspectRatio{}, false
	}
	return AspectRatio{W: w, H: h, Text: strconv.Itoa(w) + ":" + strconv.Itoa(h)}, true
}

// ResolutionCap says how the studio page states a model's resolutions.
type ResolutionCap string

// The forms of resolution cap.
const (
	CapUpTo        ResolutionCap = "up_to"       // "Up to 4K": every priced tier up to the cap
	CapExactly     ResolutionCap = "exactly"     // "1K, 2K, 4K": exactly these tiers
	CapUnpublished ResolutionCap = "unpublished" // "Shown in Image mode tooltip": 1K only
	CapNone        ResolutionCap = "none"        // upscale models: no tier at all
)

// RuleKind names a price rule.
type RuleKind string

// The price rules of SPEC §1.
const (
	PerImage             RuleKind = "per_image"               // one price per image
	PerImageByResolution RuleKind = "per_image_by_resolution" // a price per resolution tier
	PerMegapixel         RuleKind = "per_megapixel"           // base × input megapixels × factor per scale
	ByScale              RuleKind = "by_scale"                // a fixed price per scale
)

// Rule is how a model is priced. Which fields matter depends on Kind.
type Rule struct {
	Kind RuleKind

	// Credits is the per-image price (PerImage).
	Credits Credits
	// ByResolution holds the per-image price of each tier (PerImageByResolution);
	// a zero entry is an unpriced tier.
	ByResolution [MaxResolution + 1]Credits
	// Base is the price of one input megapixel at factor 1 (PerMegapixel).
	Base Credits
	// RoundTo is the step a PerMegapixel price is rounded to, half up (one credit
	// on the seed page: 1920×1080 at 2× with Topaz is 41.472, so 41).
	RoundTo Credits
	// Scales lists the offered scales, ascending, with their factor (PerMegapixel)
	// or price (ByScale).
	Scales []Scale
}

// Scale is one upscale factor a model offers.
type Scale struct {
	// Times is the scale: 2 for 2×.
	Times int
	// Factor multiplies the megapixel price, in thousandths (PerMegapixel).
	Factor int64
	// Credits is the fixed price at this scale (ByScale).
	Credits Credits
	// Label is the quote line label, "Topaz · 2×", made once at load time.
	Label string
}

// AspectOverride changes the per-image price of one aspect ratio: either a
// multiplier (in thousandths: 1500 is ×1.5) or a replacement price.
type AspectOverride struct {
	Ratio      string
	Multiplier int64
	Credits    Credits
}

// Model is one priced entry of the catalog: a Create/Edit model, a Personalize
// mode, Style Reference, or an upscaler.
type Model struct {
	ID   string
	Name string
	Kind Kind

	// Cap is how the page states the resolutions; Resolutions are the tiers that
	// may be asked for, ascending (empty for upscale models).
	Cap         ResolutionCap
	CapTier     Resolution
	Resolutions []Resolution

	// AspectRatios are listed in the page's order; the first is not special.
	AspectRatios []AspectRatio

	Price           Rule
	AspectOverrides []AspectOverride

	// MaxImages is the largest number of images one generation may ask for.
	MaxImages int
	// PromptEnhancer is the surcharge per generation when the prompt enhancer is on.
	PromptEnhancer Credits
	// Tags label the model for plans and grants (applies_to, a plan's
	// Models): the built-in catalog tags the models whose name says "Pro"
	// with "pro".
	Tags []string

	// labels[r] is "Name · rK", made once so that quoting allocates nothing.
	labels [MaxResolution + 1]string
}

// Prepare fills the fields derived from the others (labels). A loader calls it
// once after building a model.
func (m *Model) Prepare() {
	for r := Resolution(1); r <= MaxResolution; r++ {
		m.labels[r] = m.Name + " · " + r.String()
	}
	for i := range m.Price.Scales {
		m.Price.Scales[i].Label = m.Name + " · " + strconv.Itoa(m.Price.Scales[i].Times) + "×"
	}
}

// Supports reports whether m offers resolution r.
func (m *Model) Supports(r Resolution) bool {
	for _, have := range m.Resolutions {
		if have == r {
			return true
		}
	}
	return false
}

// BaseCredits is the figure the page prints as a model's base cost: the
// per-image price, the 1K price, the megapixel base, or the smallest scale's price.
func (m *Model) BaseCredits() Credits {
	switch m.Price.Kind {
	case PerImage:
		return m.Price.Credits
	case PerImageByResolution:
		for _, r := range m.Resolutions {
			return m.Price.ByResolution[r]
		}
	case PerMegapixel:
		return m.Price.Base
	case ByScale:
		if len(m.Price.Scales) > 0 {
			return m.Price.Scales[0].Credits
		}
	}
	return 0
}

// PriceLines is the page's "Credits (per image)" cell, one line per price:
// "15"; per tier with equal prices grouped, "80 (1K/2K)" then "160 (4K)"; for
// upscalers the base cost.
func (m *Model) PriceLines() []string {
	if m.Price.Kind != PerImageByResolution {
		return []string{m.BaseCredits().String()}
	}
	var out []string
	for i := 0; i < len(m.Resolutions); {
		p := m.Price.ByResolution[m.Resolutions[i]]
		tiers := []string{m.Resolutions[i].String()}
		j := i + 1
		for ; j < len(m.Resolutions) && m.Price.ByResolution[m.Resolutions[j]] == p; j++ {
			tiers = append(tiers, m.Resolutions[j].String())
		}
		out = append(out, p.String()+" ("+strings.Join(tiers, "/")+")")
		i = j
	}
	return out
}

// CapText is the resolution column as the page prints it.
func (m *Model) CapText() string {
	switch m.Cap {
	case CapUpTo:
		return "Up to " + m.CapTier.String()
	case CapExactly:
		parts := make([]string, len(m.Resolutions))
		for i, r := range m.Resolutions {
			parts[i] = r.String()
		}
		return strings.Join(parts, ", ")
	case CapUnpublished:
		return "Shown in Image mode tooltip"
	}
	return ""
}

// AspectTexts returns the aspect ratios as text, in catalog order.
func (m *Model) AspectTexts() []string {
	out := make([]string, len(m.AspectRatios))
	for i, a := range m.AspectRatios {
		out[i] = a.Text
	}
	return out
}

// Catalog is one version of the price list. It is immutable once built: quotes
// read it from many goroutines without locks.
type Catalog struct {
	Version     string
	EffectiveAt time.Time
	Models      []*Model
	// Plans are the studio's credit programs and paid plans, in file order.
	// The loader sets them once, before the catalog is shared.
	Plans []*Plan

	byID map[string]*Model
}

// NewCatalog indexes models by id. The loader has already validated them.
func NewCatalog(version string, effectiveAt time.Time, models []*Model) *Catalog {
	c := &Catalog{Version: version, EffectiveAt: effectiveAt, Models: models, byID: make(map[string]*Model, len(models))}
	for _, m := range models {
		m.Prepare()
		c.byID[m.ID] = m
	}
	return c
}

// Model finds a model by id, or by display name or id case-insensitively
// ("Nano Banana 2", "nano-banana-2", "NANO BANANA 2"). It returns a NotFound
// error with reason unknown_model.
func (c *Catalog) Model(name string) (*Model, error) {
	if m, ok := c.byID[name]; ok {
		return m, nil
	}
	for _, m := range c.Models {
		if strings.EqualFold(m.Name, name) || strings.EqualFold(m.ID, name) {
			return m, nil
		}
	}
	e := Errorf(NotFound, "unknown_model", "unknown model %q", name)
	e.Allowed = c.IDs()
	return nil, e
}

// IDs returns every model id in catalog order.
func (c *Catalog) IDs() []string {
	ids := make([]string, len(c.Models))
	for i, m := range c.Models {
		ids[i] = m.ID
	}
	return ids
}

// Slug turns a display name into a model id: lower case, every run of
// characters other than a-z, 0-9 and '.' becomes '-', trimmed of '-'
// ("ImagineArt 1.5 Pro" → "imagineart-1.5-pro").
func Slug(name string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(name) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') || r == '.' {
			if dash && b.Len() > 0 {
				b.WriteByte('-')
			}
			dash = false
			b.WriteRune(r)
			continue
		}
		dash = true
	}
	return b.String()
}
