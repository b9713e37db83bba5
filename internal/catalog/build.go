package catalog

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/goccy/go-yaml/ast"

	"github.com/tally-credits/tally/internal/credit"
)

// builder turns the syntax tree into credit types, reporting every mistake.
type builder struct {
	*tree
	version     string
	effectiveAt time.Time
	maxImages   int
	enhancer    credit.Credits
	modelNodes  []ast.Node
	plansNode   ast.Node
	planNodes   []ast.Node
}

func (b *builder) versionText(n ast.Node, path string) string {
	s, ok := b.scalar(n, path)
	if !ok {
		return ""
	}
	if len(s) > maxVersionLength || !versionPattern.MatchString(s) {
		b.errorf(n, path, "version %q must be 1 to %d letters, digits or . _ : + -, starting with a letter or digit", s, maxVersionLength)
	}
	return s
}

func (b *builder) time(n ast.Node, path string) time.Time {
	s, ok := b.scalar(n, path)
	if !ok {
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		b.errorf(n, path, "%q is not an RFC 3339 time such as 2026-11-24T00:00:00Z", s)
	}
	return t.UTC()
}

func (b *builder) integer(n ast.Node, path string, min, max int) int {
	s, ok := b.scalar(n, path)
	if !ok {
		return 0
	}
	v, err := strconv.Atoi(s)
	if err != nil || v < min || v > max {
		b.errorf(n, path, "%q is not a whole number from %d to %d", s, min, max)
		return 0
	}
	return v
}

// credits reads a price. Prices are positive; a surcharge may be zero.
func (b *builder) credits(n ast.Node, path string, zeroOK bool) credit.Credits {
	s, ok := b.scalar(n, path)
	if !ok {
		return 0
	}
	c, err := credit.ParseCredits(s)
	switch {
	case err != nil:
		b.errorf(n, path, "%s", credit.ErrorMessage(err))
	case c < 0 || (c == 0 && !zeroOK):
		b.errorf(n, path, "%s credits: a price must be more than 0", s)
	}
	return c
}

// multiplier reads a decimal factor into thousandths (1.5 → 1500).
func (b *builder) multiplier(n ast.Node, path string, max int64) int64 {
	c := b.credits(n, path, false)
	if c > credit.Credits(max)*credit.Milli {
		b.errorf(n, path, "%s is more than the limit of %d", c, max)
	}
	return int64(c)
}

func (b *builder) models() []*credit.Model {
	var out []*credit.Model
	ids := map[string]int{}
	names := map[string]int{}
	for i, n := range b.modelNodes {
		path := fmt.Sprintf("models[%d]", i)
		m := b.model(n, path)
		if m == nil {
			continue
		}
		lower := strings.ToLower(m.Name)
		if j, dup := ids[m.ID]; dup {
			b.errorf(n, path, "id %q is already used by models[%d]", m.ID, j)
		} else if j, dup := names[m.ID]; dup && lower != m.ID {
			// Lookups accept an id or a name in any case: neither may name another model.
			b.errorf(n, path, "id %q is also the name of models[%d]; lookups by it would be ambiguous", m.ID, j)
		}
		if j, dup := names[lower]; dup {
			b.errorf(n, path, "name %q is already used by models[%d]", m.Name, j)
		} else if j, dup := ids[lower]; dup && lower != m.ID {
			b.errorf(n, path, "name %q is also the id %q of models[%d]; lookups by it would be ambiguous", m.Name, lower, j)
		}
		ids[m.ID], names[strings.ToLower(m.Name)] = i, i
		out = append(out, m)
	}
	return out
}

// model reads one entry. It returns nil when the entry is too broken to check further.
func (b *builder) model(n ast.Node, path string) *credit.Model {
	m := &credit.Model{MaxImages: b.maxImages, PromptEnhancer: b.enhancer}
	var resNode, priceNode, aspectNode, overrideNode, idNode, kindNode ast.Node
	var kindText string
	seen := b.mapping(n, path,
		field{"name", func(n ast.Node, p string) { m.Name, _ = b.scalar(n, p) }},
		field{"id", func(n ast.Node, p string) { idNode = n; m.ID, _ = b.scalar(n, p) }},
		field{"kind", func(n ast.Node, p string) { kindNode = n; kindText, _ = b.scalar(n, p) }},
		field{"resolution", func(n ast.Node, _ string) { resNode = n }},
		field{"price", func(n ast.Node, _ string) { priceNode = n }},
		field{"aspect_ratios", func(n ast.Node, _ string) { aspectNode = n }},
		field{"aspect_overrides", func(n ast.Node, _ string) { overrideNode = n }},
		field{"max_images", func(n ast.Node, p string) { m.MaxImages = b.integer(n, p, 1, MaxImagesLimit) }},
		field{"prompt_enhancer_credits", func(n ast.Node, p string) { m.PromptEnhancer = b.credits(n, p, true) }},
		field{"tags", func(n ast.Node, p string) { m.Tags = b.tags(n, p) }},
	)
	if strings.TrimSpace(m.Name) == "" {
		b.errorf(n, path+".name", "missing; every model needs a display name")
		return nil
	}
	if m.Name != strings.TrimSpace(m.Name) || len(m.Name) > 100 || strings.IndexFunc(m.Name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		b.errorf(n, path+".name", "name %q must be printable, with no surrounding spaces and at most 100 characters", m.Name)
		return nil
	}
	path = fmt.Sprintf("%s (%s)", path, m.Name)
	if m.ID == "" {
		m.ID = credit.Slug(m.Name)
	}
	if !idPattern.MatchString(m.ID) || len(m.ID) > 100 {
		b.errorf(orNode(idNode, n), path+".id", "id %q must be lower-case letters, digits and dots in runs joined by single dashes", m.ID)
	}

	switch k := credit.Kind(kindText); k {
	case credit.KindImage, credit.KindPersonalize, credit.KindStyleReference, credit.KindUpscale:
		m.Kind = k
	case "":
		b.errorf(n, path+".kind", "missing; want image, personalize, style_reference or upscale")
		return nil
	default:
		b.errorf(orNode(kindNode, n), path+".kind", "unknown kind %q (want image, personalize, style_reference or upscale)", kindText)
		return nil
	}
	if !seen["price"] {
		b.errorf(n, path+".price", "missing; every model needs a price rule")
		return nil
	}
	b.price(m, priceNode, path+".price")
	if m.Kind == credit.KindUpscale {
		for _, f := range []struct {
			name string
			node ast.Node
		}{{"resolution", resNode}, {"aspect_ratios", aspectNode}, {"aspect_overrides", overrideNode}} {
			if seen[f.name] {
				b.errorf(f.node, path+"."+f.name, "upscale models take no %s: the output is the input times the scale", f.name)
			}
		}
		m.Cap = credit.CapNone
		return m
	}
	b.resolutions(m, orNode(resNode, n), seen["resolution"], path+".resolution")
	if !seen["aspect_ratios"] {
		b.errorf(n, path+".aspect_ratios", "missing; list the aspect ratios the model supports")
	} else {
		b.aspects(m, aspectNode, path+".aspect_ratios")
	}
	if seen["aspect_overrides"] {
		b.overrides(m, overrideNode, path+".aspect_overrides")
	}
	return m
}

var ruleNames = "per_image, per_image_by_resolution, per_megapixel or by_scale"

func (b *builder) price(m *credit.Model, n ast.Node, path string) {
	entries := b.entries(n, path)
	if len(entries) != 1 {
		if entries != nil {
			b.errorf(n, path, "want exactly one rule (%s), found %d", ruleNames, len(entries))
		}
		return
	}
	e := entries[0]
	rule := credit.RuleKind(e.Key.GetToken().Value)
	p := path + "." + string(rule)
	upscale := m.Kind == credit.KindUpscale
	switch rule {
	case credit.PerImage, credit.PerImageByResolution:
		if upscale {
			b.errorf(e.Key, p, "upscale models are priced per_megapixel or by_scale")
			return
		}
	case credit.PerMegapixel, credit.ByScale:
		if !upscale {
			b.errorf(e.Key, p, "%s models are priced per_image or per_image_by_resolution; %s needs an input image and a scale", m.Kind, rule)
			return
		}
	default:
		b.errorf(e.Key, path, "unknown rule %q (want %s)", rule, ruleNames)
		return
	}
	m.Price.Kind = rule
	switch rule {
	case credit.PerImage:
		m.Price.Credits = b.credits(e.Value, p, false)
	case credit.PerImageByResolution:
		for _, kv := range b.entries(e.Value, p) {
			tier := kv.Key.GetToken().Value
			r := credit.ParseResolution(tier)
			if r == 0 || r.String() != tier {
				b.errorf(kv.Key, p, "unknown resolution %q (want 1K, 2K, 3K or 4K)", tier)
				continue
			}
			if m.Price.ByResolution[r] != 0 {
				b.errorf(kv.Key, p, "resolution %s is priced twice", tier)
			}
			m.Price.ByResolution[r] = b.credits(kv.Value, p+"."+tier, false)
		}
	case credit.ByScale:
		for _, kv := range b.entries(e.Value, p) {
			if times := b.scale(m, kv, p); times > 0 {
				m.Price.Scales = append(m.Price.Scales, credit.Scale{Times: times, Credits: b.credits(kv.Value, fmt.Sprintf("%s.%d", p, times), false)})
			}
		}
	case credit.PerMegapixel:
		m.Price.RoundTo = credit.Milli
		seen := b.mapping(e.Value, p,
			field{"base", func(n ast.Node, q string) { m.Price.Base = b.credits(n, q, false) }},
			field{"round_to", func(n ast.Node, q string) {
				m.Price.RoundTo = b.credits(n, q, false)
				if m.Price.RoundTo > MaxRoundTo*credit.Milli {
					b.errorf(n, q, "round_to %s is more than the limit of %d credits", m.Price.RoundTo, MaxRoundTo)
				}
			}},
			field{"factors", func(n ast.Node, q string) {
				for _, kv := range b.entries(n, q) {
					if times := b.scale(m, kv, q); times > 0 {
						m.Price.Scales = append(m.Price.Scales, credit.Scale{Times: times, Factor: b.multiplier(kv.Value, fmt.Sprintf("%s.%d", q, times), MaxFactor)})
					}
				}
			}},
		)
		for _, k := range []string{"base", "factors"} {
			if !seen[k] {
				b.errorf(e.Value, p+"."+k, "missing; per_megapixel needs base and factors")
			}
		}
	}
	if upscale && len(m.Price.Scales) == 0 {
		b.errorf(e.Value, p, "an upscale model needs at least one scale")
	}
	sort.Slice(m.Price.Scales, func(i, j int) bool { return m.Price.Scales[i].Times < m.Price.Scales[j].Times })
}

// scale reads a scale key ("2" or "2x"), refusing repeats.
func (b *builder) scale(m *credit.Model, kv *ast.MappingValueNode, path string) int {
	text := strings.TrimRight(kv.Key.GetToken().Value, "x×")
	times, err := strconv.Atoi(text)
	if err != nil || times < 2 || times > MaxScale {
		b.errorf(kv.Key, path, "scale %q must be a whole number from 2 to %d", kv.Key.GetToken().Value, MaxScale)
		return 0
	}
	for _, s := range m.Price.Scales {
		if s.Times == times {
			b.errorf(kv.Key, path, "scale %d× appears twice", times)
			return 0
		}
	}
	return times
}

// resolutions reads the cap: "up to 4K", a list of tiers, or "unpublished".
func (b *builder) resolutions(m *credit.Model, n ast.Node, given bool, path string) {
	byRes := m.Price.Kind == credit.PerImageByResolution
	priced := func(r credit.Resolution) bool { return !byRes || m.Price.ByResolution[r] > 0 }
	switch {
	case !given && m.Kind == credit.KindImage:
		b.errorf(n, path, `missing; want "up to 2K", a list such as [1K, 2K, 4K], or "unpublished"`)
		return
	case !given:
		m.Cap = credit.CapUnpublished
	default:
		if seq, ok := b.resolve(n).(*ast.SequenceNode); ok {
			m.Cap = credit.CapExactly
			for _, item := range seq.Values {
				s, ok := b.scalar(item, path)
				r := credit.ParseResolution(s)
				if !ok || r == 0 || r.String() != s {
					b.errorf(item, path, "unknown resolution %q (want 1K, 2K, 3K or 4K)", s)
					continue
				}
				if len(m.Resolutions) > 0 && r <= m.Resolutions[len(m.Resolutions)-1] {
					b.errorf(item, path, "list resolutions once each, in ascending order")
					continue
				}
				if !priced(r) {
					b.errorf(item, path, "resolution %s is listed but has no price", s)
				}
				m.Resolutions = append(m.Resolutions, r)
			}
			if len(seq.Values) == 0 {
				b.errorf(n, path, "the list of resolutions is empty")
			}
			b.checkPricedWithin(m, n, path)
			return
		}
		s, ok := b.scalar(n, path)
		if !ok {
			return
		}
		lower := strings.ToLower(strings.TrimSpace(s))
		switch {
		case lower == "unpublished":
			m.Cap = credit.CapUnpublished
		case strings.HasPrefix(lower, "up to "):
			tier := strings.ToUpper(strings.TrimSpace(lower[len("up to "):]))
			m.CapTier = credit.ParseResolution(tier)
			if m.CapTier == 0 {
				b.errorf(n, path, "unknown resolution %q in %q (want 1K, 2K, 3K or 4K)", tier, s)
				return
			}
			m.Cap = credit.CapUpTo
			for r := credit.Resolution(1); r <= m.CapTier; r++ {
				if priced(r) {
					m.Resolutions = append(m.Resolutions, r)
				}
			}
			if !priced(m.CapTier) {
				b.errorf(n, path, "the cap %s has no price", m.CapTier)
			}
			b.checkPricedWithin(m, n, path)
			return
		default:
			b.errorf(n, path, `%q is not a resolution cap (want "up to 2K", a list such as [1K, 2K, 4K], or "unpublished")`, s)
			return
		}
	}
	// Unpublished: the page does not say, so only the default 1K is offered.
	m.Resolutions = []credit.Resolution{1}
	if !priced(1) {
		b.errorf(n, path, "the resolution cap is unpublished, so 1K is the only tier offered, but 1K has no price")
	}
	b.checkPricedWithin(m, n, path)
}

// checkPricedWithin refuses prices for tiers the model does not offer: such a
// price is a typo or a misplaced cap, and silently ignoring it would be a guess.
func (b *builder) checkPricedWithin(m *credit.Model, n ast.Node, path string) {
	if m.Price.Kind != credit.PerImageByResolution {
		return
	}
	for r := credit.Resolution(1); r <= credit.MaxResolution; r++ {
		if m.Price.ByResolution[r] > 0 && !m.Supports(r) {
			b.errorf(n, path, "resolution %s has a price but is not offered by this cap", r)
		}
	}
}

func (b *builder) aspects(m *credit.Model, n ast.Node, path string) {
	items := b.sequence(n, path)
	if items != nil && len(items) == 0 {
		b.errorf(n, path, "the list of aspect ratios is empty")
	}
	seen := map[string]bool{}
	for _, item := range items {
		s, ok := b.scalar(item, path)
		if !ok {
			continue
		}
		a, ok := credit.ParseAspectRatio(s)
		if !ok || a.Text != s {
			b.errorf(item, path, "%q is not an aspect ratio W:H with whole numbers 1 to %d (quote it: \"16:9\")", s, credit.MaxAspectPart)
			continue
		}
		if seen[s] {
			b.errorf(item, path, "aspect ratio %s is listed twice", s)
			continue
		}
		seen[s] = true
		m.AspectRatios = append(m.AspectRatios, a)
	}
}

func (b *builder) overrides(m *credit.Model, n ast.Node, path string) {
	for _, kv := range b.entries(n, path) {
		ratio := kv.Key.GetToken().Value
		p := path + "." + ratio
		listed := false
		for _, a := range m.AspectRatios {
			listed = listed || a.Text == ratio
		}
		if !listed {
			b.errorf(kv.Key, p, "aspect ratio %q is not in this model's aspect_ratios", ratio)
		}
		o := credit.AspectOverride{Ratio: ratio}
		seen := b.mapping(kv.Value, p,
			field{"multiplier", func(n ast.Node, q string) { o.Multiplier = b.multiplier(n, q, MaxMultiplier) }},
			field{"credits", func(n ast.Node, q string) { o.Credits = b.credits(n, q, false) }},
		)
		if seen["multiplier"] == seen["credits"] {
			b.errorf(kv.Value, p, "give exactly one of multiplier or credits")
		}
		m.AspectOverrides = append(m.AspectOverrides, o)
	}
}

// orNode is n, or fallback when n is absent, so every issue has a position.
func orNode(n, fallback ast.Node) ast.Node {
	if n == nil {
		return fallback
	}
	return n
}
