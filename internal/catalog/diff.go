package catalog

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

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
	SettingChanged    ChangeKind = "setting_changed" // name, kind, rule, cap, max images, tags

	// Changes to plans. An allowance or a window is known by its place in
	// its plan (allowances[0], unlimited[1]), as the grants and windows of
	// subscriptions are, so one inserted before others changes those after it.
	PlanAdded        ChangeKind = "plan_added"
	PlanRemoved      ChangeKind = "plan_removed"
	PlanChanged      ChangeKind = "plan_changed" // name, program, topups, models
	AllowanceAdded   ChangeKind = "allowance_added"
	AllowanceRemoved ChangeKind = "allowance_removed"
	AllowanceChanged ChangeKind = "allowance_changed" // credits, every, source, expires, rollover, applies_to
	WindowAdded      ChangeKind = "window_added"
	WindowRemoved    ChangeKind = "window_removed"
	WindowChanged    ChangeKind = "window_changed" // models, days, max_concurrent, daily_fast, after_fast
)

// Change is one difference between two catalogs, about one model or one plan.
type Change struct {
	Kind  ChangeKind     `json:"kind"`
	Model string         `json:"model,omitempty" doc:"The model changed; absent for a change to a plan."`
	Plan  string         `json:"plan,omitempty" doc:"The plan changed; absent for a change to a model."`
	What  string         `json:"what,omitempty"` // the price point or setting: "2K", "4×", "max_images", "allowances[0].credits"
	Old   string         `json:"old,omitempty"`
	New   string         `json:"new,omitempty"`
	Delta credit.Credits `json:"delta,omitempty"` // new − old, for price and allowance credits changes
}

func (c Change) String() string {
	subject := c.Model
	if c.Plan != "" {
		subject = c.Plan
	}
	switch c.Kind {
	case ModelAdded, ModelRemoved, PlanAdded, PlanRemoved:
		return fmt.Sprintf("%-22s %s", c.Kind, subject)
	case PriceUp, PriceDown:
		return fmt.Sprintf("%-22s %s %s: %s → %s (%+s)", c.Kind, subject, c.What, c.Old, c.New, signed(c.Delta))
	default:
		s := fmt.Sprintf("%-22s %s %s", c.Kind, subject, c.What)
		if c.Old != "" || c.New != "" {
			s += fmt.Sprintf(": %s → %s", orNone(c.Old), orNone(c.New))
		}
		if c.Delta != 0 {
			s += fmt.Sprintf(" (%s)", signed(c.Delta))
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
// settings changed; then plan by plan, the same way: plans added and removed,
// their settings, allowances and unlimited windows.
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
	for _, np := range new.Plans {
		if op := old.Plan(np.ID); op != nil {
			out = append(out, diffPlan(op, np)...)
		} else {
			out = append(out, Change{Kind: PlanAdded, Plan: np.ID, New: np.Name})
		}
	}
	for _, op := range old.Plans {
		if new.Plan(op.ID) == nil {
			out = append(out, Change{Kind: PlanRemoved, Plan: op.ID, Old: op.Name})
		}
	}
	return out
}

func diffPlan(op, np *credit.Plan) []Change {
	var out []Change
	change := func(kind ChangeKind, what, o, n string, delta credit.Credits) {
		if o != n {
			out = append(out, Change{Kind: kind, Plan: np.ID, What: what, Old: o, New: n, Delta: delta})
		}
	}
	change(PlanChanged, "name", op.Name, np.Name, 0)
	change(PlanChanged, "program", strconv.FormatBool(op.Program), strconv.FormatBool(np.Program), 0)
	change(PlanChanged, "topups", strconv.FormatBool(op.Topups), strconv.FormatBool(np.Topups), 0)
	change(PlanChanged, "models", eligibilityKey(op.Models), eligibilityKey(np.Models), 0)

	for i := range max(len(op.Allowances), len(np.Allowances)) {
		what := fmt.Sprintf("allowances[%d]", i)
		switch {
		case i >= len(op.Allowances):
			out = append(out, Change{Kind: AllowanceAdded, Plan: np.ID, What: what, New: AllowanceText(np.Allowances[i])})
		case i >= len(np.Allowances):
			out = append(out, Change{Kind: AllowanceRemoved, Plan: np.ID, What: what, Old: AllowanceText(op.Allowances[i])})
		default:
			o, n := op.Allowances[i], np.Allowances[i]
			change(AllowanceChanged, what+".credits", o.Credits.String(), n.Credits.String(), n.Credits-o.Credits)
			change(AllowanceChanged, what+".every", string(o.Every), string(n.Every), 0)
			change(AllowanceChanged, what+".source", string(o.Source), string(n.Source), 0)
			change(AllowanceChanged, what+".expires", ExpiryText(o.Expires), ExpiryText(n.Expires), 0)
			change(AllowanceChanged, what+".rollover", RolloverText(o.Rollover), RolloverText(n.Rollover), 0)
			change(AllowanceChanged, what+".applies_to", eligibilityKey(o.AppliesTo), eligibilityKey(n.AppliesTo), 0)
		}
	}
	for i := range max(len(op.Unlimited), len(np.Unlimited)) {
		what := fmt.Sprintf("unlimited[%d]", i)
		switch {
		case i >= len(op.Unlimited):
			out = append(out, Change{Kind: WindowAdded, Plan: np.ID, What: what, New: WindowText(np.Unlimited[i])})
		case i >= len(np.Unlimited):
			out = append(out, Change{Kind: WindowRemoved, Plan: np.ID, What: what, Old: WindowText(op.Unlimited[i])})
		default:
			o, n := op.Unlimited[i], np.Unlimited[i]
			change(WindowChanged, what+".models", sortedText(o.Models), sortedText(n.Models), 0)
			change(WindowChanged, what+".days", strconv.Itoa(o.Days), strconv.Itoa(n.Days), 0)
			change(WindowChanged, what+".max_concurrent", strconv.Itoa(o.MaxConcurrent), strconv.Itoa(n.MaxConcurrent), 0)
			change(WindowChanged, what+".daily_fast", strconv.Itoa(o.DailyFast), strconv.Itoa(n.DailyFast), 0)
			change(WindowChanged, what+".after_fast", string(o.AfterFast), string(n.AfterFast), 0)
		}
	}
	return out
}

// eligibilityKey is e's text with its lists sorted, so that listing the
// same models in another order is no change; "all models" for the zero value.
func eligibilityKey(e credit.Eligibility) string {
	sorted := func(s []string) []string { return slices.Sorted(slices.Values(s)) }
	t := EligibilityText(credit.Eligibility{Models: sorted(e.Models), Tags: sorted(e.Tags), ExcludeModels: sorted(e.ExcludeModels), ExcludeTags: sorted(e.ExcludeTags)})
	if t == "" {
		return "all models"
	}
	return t
}

// sortedText is a set of names as one text, whatever their order.
func sortedText(s []string) string { return strings.Join(slices.Sorted(slices.Values(s)), ", ") }

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
	setting("tags", sortedText(om.Tags), sortedText(nm.Tags))

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
