package catalog

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/tally-credits/tally/internal/credit"
)

// ChangeKind names what changed between two catalogs.
type ChangeKind string

// The kinds of change a diff reports.
const (
	ModelAdded        ChangeKind = "model_added"
	ModelRemoved      ChangeKind = "model_removed"
	PriceUp           ChangeKind = "price_up"
	PriceDown         ChangeKind = "price_down"
	PriceAdded        ChangeKind = "price_added"   // a tier or scale newly offered
	PriceRemoved      ChangeKind = "price_removed" // a tier or scale no longer offered
	AspectRatioAdded  ChangeKind = "aspect_ratio_added"
	AspectRatioRemove ChangeKind = "aspect_ratio_removed"
	SettingChanged    ChangeKind = "setting_changed" // name, kind, rule, cap, max images
)

// Change is one difference between two catalogs, about one model.
type Change struct {
	Kind  ChangeKind     `json:"kind"`
	Model string         `json:"model"`
	What  string         `json:"what,omitempty"` // the price point or setting: "2K", "4×", "max_images"
	Old   string         `json:"old,omitempty"`
	New   string         `json:"new,omitempty"`
	Delta credit.Credits `json:"delta,omitempty"` // new − old, for price changes
}

func (c Change) String() string {
	switch c.Kind {
	case ModelAdded, ModelRemoved:
		return fmt.Sprintf("%-22s %s", c.Kind, c.Model)
	case PriceUp, PriceDown:
		return fmt.Sprintf("%-22s %s %s: %s → %s (%+s)", c.Kind, c.Model, c.What, c.Old, c.New, signed(c.Delta))
	default:
		s := fmt.Sprintf("%-22s %s %s", c.Kind, c.Model, c.What)
		if c.Old != "" || c.New != "" {
			s += fmt.Sprintf(": %s → %s", orNone(c.Old), orNone(c.New))
		}
		return s
	}
}

func signed(c credit.Credits) string {
	if c > 0 {
		return "+" + c.String()
	}
	return c.String()
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// Diff lists what changed from old to new, model by model in new's order
// (removed models last): models added and removed, every price point up or
// down, tiers and scales added or removed, aspect ratios added or removed, and
// settings changed.
func Diff(old, new *credit.Catalog) []Change {
	var out []Change
	for _, nm := range new.Models {
		om, err := old.Model(nm.ID)
		if err != nil || om.ID != nm.ID {
			out = append(out, Change{Kind: ModelAdded, Model: nm.ID, New: nm.Name})
			continue
		}
		out = append(out, diffModel(om, nm)...)
	}
	for _, om := range old.Models {
		if nm, err := new.Model(om.ID); err != nil || nm.ID != om.ID {
			out = append(out, Change{Kind: ModelRemoved, Model: om.ID, Old: om.Name})
		}
	}
	return out
}

func diffModel(om, nm *credit.Model) []Change {
	var out []Change
	setting := func(what, o, n string) {
		if o != n {
			out = append(out, Change{Kind: SettingChanged, Model: nm.ID, What: what, Old: o, New: n})
		}
	}
	setting("name", om.Name, nm.Name)
	setting("kind", string(om.Kind), string(nm.Kind))
	setting("rule", string(om.Price.Kind), string(nm.Price.Kind))
	setting("resolution_cap", om.CapText(), nm.CapText())
	setting("max_images", strconv.Itoa(om.MaxImages), strconv.Itoa(nm.MaxImages))

	op, np := pricePoints(om), pricePoints(nm)
	for _, p := range np {
		o, ok := find(op, p.what)
		switch {
		case !ok:
			out = append(out, Change{Kind: PriceAdded, Model: nm.ID, What: p.what, New: p.price.String()})
		case p.price > o:
			out = append(out, Change{Kind: PriceUp, Model: nm.ID, What: p.what, Old: o.String(), New: p.price.String(), Delta: p.price - o})
		case p.price < o:
			out = append(out, Change{Kind: PriceDown, Model: nm.ID, What: p.what, Old: o.String(), New: p.price.String(), Delta: p.price - o})
		}
	}
	for _, p := range op {
		if _, ok := find(np, p.what); !ok {
			out = append(out, Change{Kind: PriceRemoved, Model: nm.ID, What: p.what, Old: p.price.String()})
		}
	}

	oa, na := om.AspectTexts(), nm.AspectTexts()
	for _, a := range na {
		if !slices.Contains(oa, a) {
			out = append(out, Change{Kind: AspectRatioAdded, Model: nm.ID, What: a})
		}
	}
	for _, a := range oa {
		if !slices.Contains(na, a) {
			out = append(out, Change{Kind: AspectRatioRemove, Model: nm.ID, What: a})
		}
	}
	return out
}

type pricePoint struct {
	what  string
	price credit.Credits
}

// pricePoints lists every number a model is priced by, each under a stable
// name, so that two versions compare point by point whatever their rules.
func pricePoints(m *credit.Model) []pricePoint {
	var ps []pricePoint
	for _, r := range m.Resolutions {
		p := m.Price.Credits
		if m.Price.Kind == credit.PerImageByResolution {
			p = m.Price.ByResolution[r]
		}
		ps = append(ps, pricePoint{r.String(), p})
	}
	if m.Price.Kind == credit.PerMegapixel {
		ps = append(ps, pricePoint{"megapixel base", m.Price.Base})
	}
	for _, s := range m.Price.Scales {
		what := strconv.Itoa(s.Times) + "×"
		if m.Price.Kind == credit.PerMegapixel {
			ps = append(ps, pricePoint{what + " factor", credit.Credits(s.Factor)})
		} else {
			ps = append(ps, pricePoint{what, s.Credits})
		}
	}
	for _, o := range m.AspectOverrides {
		if o.Credits > 0 {
			ps = append(ps, pricePoint{o.Ratio + " price", o.Credits})
		} else {
			ps = append(ps, pricePoint{o.Ratio + " multiplier", credit.Credits(o.Multiplier)})
		}
	}
	if m.Kind != credit.KindUpscale {
		ps = append(ps, pricePoint{"prompt enhancer", m.PromptEnhancer})
	}
	return ps
}

func find(ps []pricePoint, what string) (credit.Credits, bool) {
	for _, p := range ps {
		if p.what == what {
			return p.price, true
		}
	}
	return 0, false
}
