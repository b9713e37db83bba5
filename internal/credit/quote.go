package credit

import (
	"math/bits"
	"strconv"
)

// QuoteRequest is what a client asks a price for: the Image mode settings.
// Zero values mean the default: create (upscale for upscalers), the lowest
// resolution offered (1K), 1:1 (or the model's first listed ratio when it has
// no square), one image.
type QuoteRequest struct {
	Model          string
	Operation      string
	Resolution     string
	AspectRatio    string
	Images         int
	PromptEnhancer bool
	// Scale, InputWidth and InputHeight are for upscale models only.
	Scale       int
	InputWidth  int
	InputHeight int
}

// MaxInputSide bounds each side of an upscale input image in pixels. Larger
// inputs are refused as absurd rather than priced.
const MaxInputSide = 16384

// maxLines is the most lines a quote has: the model line and a surcharge.
const maxLines = 2

// Line is one row of a quote's breakdown: quantity × unit = credits.
type Line struct {
	Label       string
	Quantity    int
	UnitCredits Credits
	Credits     Credits
}

// Quote is the exact price of one generation, and everything it was priced
// from. It is a plain value so that pricing allocates nothing.
type Quote struct {
	Model          string
	ModelName      string
	Kind           Kind
	Operation      Operation
	Resolution     Resolution // 0 for upscale
	AspectRatio    string     // "" for upscale
	Images         int
	Width, Height  int // output size in pixels; 0 when an upscale input size was not given
	PromptEnhancer bool
	Scale          int // upscale only
	InputWidth     int // upscale only
	InputHeight    int // upscale only
	UnitCredits    Credits
	TotalCredits   Credits
	CatalogVersion string

	lines  [maxLines]Line
	nLines int
}

// Lines returns the breakdown; the credits of the lines sum to TotalCredits.
func (q *Quote) Lines() []Line { return q.lines[:q.nLines] }

func (q *Quote) addLine(l Line) {
	q.lines[q.nLines] = l
	q.nLines++
}

// Quote prices r against the catalog. It is a pure function of the catalog and
// the request, and allocates nothing on success. Every refusal is an *Error
// with code Invalid and a stable reason (unknown_model, unsupported_operation,
// unsupported_resolution, unsupported_aspect_ratio, invalid_image_count,
// unsupported_scale, invalid_input_size, unsupported_option).
func (c *Catalog) Quote(r QuoteRequest) (Quote, error) {
	m, err := c.Model(r.Model)
	if err != nil {
		e := err.(*Error)
		e.Code = Invalid
		return Quote{}, e
	}
	q := Quote{Model: m.ID, ModelName: m.Name, Kind: m.Kind, CatalogVersion: c.Version, PromptEnhancer: r.PromptEnhancer}
	if q.Operation, err = m.operation(r.Operation); err != nil {
		return Quote{}, err
	}
	if m.Kind == KindUpscale {
		err = m.quoteUpscale(&q, r)
	} else {
		err = m.quoteImage(&q, r)
	}
	if err != nil {
		return Quote{}, err
	}
	return q, nil
}

func (m *Model) operation(s string) (Operation, error) {
	ops := m.Kind.Operations()
	if s == "" {
		return ops[0], nil
	}
	for _, op := range ops {
		if string(op) == s {
			return op, nil
		}
	}
	allowed := make([]string, len(ops))
	for i, op := range ops {
		allowed[i] = string(op)
	}
	e := Errorf(Invalid, "unsupported_operation", "%s does not support operation %q", m.Name, s)
	e.Allowed = allowed
	return "", e
}

func (m *Model) quoteImage(q *Quote, r QuoteRequest) error {
	if r.Scale != 0 {
		return Errorf(Invalid, "unsupported_scale", "%s is not an upscale model; scale applies to upscale models only", m.Name)
	}
	if r.InputWidth != 0 || r.InputHeight != 0 {
		return Errorf(Invalid, "invalid_input_size", "%s is not an upscale model; its price does not depend on an input size, so leave it out", m.Name)
	}

	res := m.Resolutions[0] // the lowest tier offered: 1K on every seed model
	if r.Resolution != "" {
		res = ParseResolution(r.Resolution)
		if res == 0 || !m.Supports(res) {
			return m.unsupportedResolution(r.Resolution)
		}
	}

	var aspect *AspectRatio
	if r.AspectRatio == "" {
		aspect = &m.AspectRatios[0]
		for i := range m.AspectRatios {
			if m.AspectRatios[i].W == m.AspectRatios[i].H {
				aspect = &m.AspectRatios[i]
				break
			}
		}
	} else {
		for i := range m.AspectRatios {
			if m.AspectRatios[i].Text == r.AspectRatio {
				aspect = &m.AspectRatios[i]
				break
			}
		}
		if aspect == nil {
			e := Errorf(Invalid, "unsupported_aspect_ratio", "%s does not support aspect ratio %q", m.Name, r.AspectRatio)
			e.Allowed = m.AspectTexts()
			return e
		}
	}

	images := r.Images
	if images == 0 {
		images = 1
	}
	if images < 1 || images > m.MaxImages {
		e := Errorf(Invalid, "invalid_image_count", "%s makes 1 to %d images per generation, not %d", m.Name, m.MaxImages, r.Images)
		e.Allowed = make([]string, m.MaxImages)
		for i := range e.Allowed {
			e.Allowed[i] = strconv.Itoa(i + 1)
		}
		return e
	}

	unit := m.Price.Credits
	if m.Price.Kind == PerImageByResolution {
		unit = m.Price.ByResolution[res]
	}
	for _, o := range m.AspectOverrides {
		if o.Ratio != aspect.Text {
			continue
		}
		if o.Credits > 0 {
			unit = o.Credits
		} else {
			unit = Credits(mulDivRound(uint64(unit), uint64(o.Multiplier), 1000, 1))
		}
	}

	q.Resolution = res
	q.AspectRatio = aspect.Text
	q.Images = images
	q.Width, q.Height = OutputSize(res, aspect.W, aspect.H)
	q.UnitCredits = unit
	q.addLine(Line{Label: m.labels[res], Quantity: images, UnitCredits: unit, Credits: unit * Credits(images)})
	q.TotalCredits = unit * Credits(images)
	if r.PromptEnhancer && m.PromptEnhancer > 0 {
		q.addLine(Line{Label: "Prompt enhancer", Quantity: 1, UnitCredits: m.PromptEnhancer, Credits: m.PromptEnhancer})
		q.TotalCredits += m.PromptEnhancer
	}
	return nil
}

func (m *Model) unsupportedResolution(asked string) error {
	var e *Error
	if m.Cap == CapUnpublished && ParseResolution(asked) > 1 {
		e = Errorf(Invalid, "unsupported_resolution",
			"%s's resolution cap is not published (the studio shows it in the Image mode tooltip), so only the default 1K can be priced", m.Name)
	} else {
		e = Errorf(Invalid, "unsupported_resolution", "%s does not offer resolution %q", m.Name, asked)
	}
	e.Allowed = make([]string, len(m.Resolutions))
	for i, r := range m.Resolutions {
		e.Allowed[i] = r.String()
	}
	return e
}

func (m *Model) quoteUpscale(q *Quote, r QuoteRequest) error {
	if r.Resolution != "" {
		return Errorf(Invalid, "unsupported_resolution", "%s is an upscale model: the output is the input size times the scale, so leave resolution out", m.Name)
	}
	if r.AspectRatio != "" {
		return Errorf(Invalid, "unsupported_aspect_ratio", "%s is an upscale model: the output keeps the input's shape, so leave aspect_ratio out", m.Name)
	}
	if r.PromptEnhancer {
		return Errorf(Invalid, "unsupported_option", "%s is an upscale model and takes no prompt, so the prompt enhancer does not apply", m.Name)
	}
	if r.Images != 0 && r.Images != 1 {
		e := Errorf(Invalid, "invalid_image_count", "%s upscales one image per generation, not %d", m.Name, r.Images)
		e.Allowed = []string{"1"}
		return e
	}
	var scale *Scale
	for i := range m.Price.Scales {
		if m.Price.Scales[i].Times == r.Scale {
			scale = &m.Price.Scales[i]
		}
	}
	if scale == nil {
		var e *Error
		if r.Scale == 0 {
			e = Errorf(Invalid, "unsupported_scale", "%s needs a scale", m.Name)
		} else {
			e = Errorf(Invalid, "unsupported_scale", "%s does not offer %d× upscaling", m.Name, r.Scale)
		}
		e.Allowed = make([]string, len(m.Price.Scales))
		for i, s := range m.Price.Scales {
			e.Allowed[i] = strconv.Itoa(s.Times)
		}
		return e
	}

	w, h := r.InputWidth, r.InputHeight
	given := w != 0 || h != 0
	if (given || m.Price.Kind == PerMegapixel) && (w < 1 || h < 1 || w > MaxInputSide || h > MaxInputSide) {
		if !given {
			return Errorf(Invalid, "invalid_input_size", "%s is priced by the input image's megapixels: give the input image or its width and height", m.Name)
		}
		return Errorf(Invalid, "invalid_input_size", "input size %d×%d is out of range: each side must be 1 to %d pixels", w, h, MaxInputSide)
	}

	var unit Credits
	switch m.Price.Kind {
	case ByScale:
		unit = scale.Credits
	case PerMegapixel:
		// base × (w·h / 10⁶) × factor/1000, rounded half up to RoundTo.
		// In thousandths: base·factor·w·h / 10⁹, exact in 128 bits.
		unit = Credits(mulDivRound(uint64(m.Price.Base)*uint64(scale.Factor), uint64(w)*uint64(h), 1_000_000_000, uint64(m.Price.RoundTo)))
	}

	q.Images = 1
	q.Scale = scale.Times
	if given {
		q.InputWidth, q.InputHeight = w, h
		q.Width, q.Height = w*scale.Times, h*scale.Times
	}
	q.UnitCredits = unit
	q.TotalCredits = unit
	q.addLine(Line{Label: scale.Label, Quantity: 1, UnitCredits: unit, Credits: unit})
	return nil
}

// mulDivRound returns a·b/d rounded half up to a multiple of step (all in
// thousandths). The product is taken in 128 bits; callers bound the inputs
// (catalog validation and MaxInputSide) so that the result fits an int64.
func mulDivRound(a, b, d, step uint64) int64 {
	hi, lo := bits.Mul64(a, b)
	den := d * step
	// q = floor((a·b + den/2) / den): half up.
	var carry uint64
	lo, carry = bits.Add64(lo, den/2, 0)
	hi += carry
	if hi >= den {
		return -1 // out of range; never reached with validated inputs
	}
	quo, _ := bits.Div64(hi, lo, den)
	return int64(quo * step)
}

// OutputSize returns the output size of tier res at aspect ratio w:h: about
// (1024·K)² pixels, both sides multiples of 16, each rounded to the nearest
// multiple. With n = round(64·K·√(w/h)), the width is 16·n; the height likewise
// with h/w. 1K 1:1 is 1024×1024; 4K 16:9 is 5456×3072.
func OutputSize(res Resolution, w, h int) (width, height int) {
	k := uint64(res)
	return 16 * roundSqrt(4096*k*k*uint64(w), uint64(h)), 16 * roundSqrt(4096*k*k*uint64(h), uint64(w))
}

// roundSqrt returns √(num/den) rounded to the nearest integer (half up), exactly.
func roundSqrt(num, den uint64) int {
	// n is the answer when (2n-1)²·den ≤ 4·num < (2n+1)²·den.
	n := uint64(0)
	for step := uint64(1) << 16; step > 0; step >>= 1 {
		c := n + step
		if (2*c-1)*(2*c-1)*den <= 4*num {
			n = c
		}
	}
	return int(n)
}
