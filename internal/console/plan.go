package console

import (
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/tally-credits/tally/internal/credit"
)

// planView is one of the catalog's plans as the Pricing page shows it:
// each allowance, unlimited window and rule in a line of words, formatted
// from the catalog (nothing is priced here).
type planView struct {
	ID, Name string
	// Program marks the plan accounts are put on (the free program) rather
	// than subscribe to.
	Program    bool
	Allowances []string // "100 credits a day · free credits · not for Pro models"
	Unlimited  []string // "Nano Banana 2 unlimited for the first 7 days of each billing period · …"
	Models     string   // "Every model except Pro models"
	Topups     bool
}

// tagView is a model tag: what the console calls the models that carry it,
// and their names.
type tagView struct {
	ID     string // "pro"
	Label  string // "Pro models"
	Models []string
}

func newPlanViews(c *credit.Catalog) []planView {
	out := make([]planView, len(c.Plans))
	for i, p := range c.Plans {
		v := planView{ID: p.ID, Name: p.Name, Program: p.Program, Topups: p.Topups, Models: modelsText(c, p.Models)}
		for _, a := range p.Allowances {
			v.Allowances = append(v.Allowances, allowanceText(c, a, p.Program))
		}
		for _, w := range p.Unlimited {
			v.Unlimited = append(v.Unlimited, windowText(c, w))
		}
		out[i] = v
	}
	return out
}

// planNames names the catalog's plans.
func planNames(c *credit.Catalog) []idName {
	if c == nil {
		return nil
	}
	out := make([]idName, len(c.Plans))
	for i, p := range c.Plans {
		out[i] = idName{p.ID, p.Name}
	}
	return out
}

// planTags lists the tags the catalog's models carry, in catalog order,
// with the models that carry each: what "Pro models" means.
func planTags(c *credit.Catalog) []tagView {
	if c == nil {
		return nil
	}
	var out []tagView
	index := map[string]int{}
	for _, m := range c.Models {
		for _, t := range m.Tags {
			i, ok := index[t]
			if !ok {
				i = len(out)
				index[t] = i
				out = append(out, tagView{ID: t, Label: tagModels(t)})
			}
			out[i].Models = append(out[i].Models, m.Name)
		}
	}
	return out
}

// allowanceText says what an allowance gives: "5,000 credits a month ·
// rollover up to 2,000 for 30 days". The source is said unless it goes
// without saying (a paid plan's subscription credits).
func allowanceText(c *credit.Catalog, a credit.Allowance, program bool) string {
	parts := []string{groupCredits(a.Credits) + " credits " + everyText(a.Every)}
	if a.Source != credit.SourceSubscription || program {
		parts = append(parts, sourceText(a.Source))
	}
	switch a.Expires.Kind {
	case credit.ExpiresNever:
		parts = append(parts, "never expire")
	case credit.ExpiresAfter:
		parts = append(parts, "expire after "+durationText(a.Expires.After))
	}
	if r := a.Rollover; r != nil {
		s := "rollover up to " + groupCredits(r.MaxCredits)
		if r.ExpiresAfter > 0 {
			s += " for " + durationText(r.ExpiresAfter)
		} else {
			s += ", never expiring"
		}
		parts = append(parts, s)
	}
	if e := eligibilityText(c, a.AppliesTo); e != "" {
		parts = append(parts, e)
	}
	return strings.Join(parts, " · ")
}

// windowText says what an unlimited window gives: "Nano Banana 2
// unlimited for the first 7 days of each billing period · 1 at a time ·
// 50 fast generations a day, then the relaxed queue".
func windowText(c *credit.Catalog, w credit.Window) string {
	days := "the first " + plural(w.Days, "day", "days")
	parts := []string{orList(modelNamesOf(c, w.Models), "and") + " unlimited for " + days + " of each billing period"}
	if w.MaxConcurrent > 0 {
		parts = append(parts, strconv.Itoa(w.MaxConcurrent)+" at a time")
	}
	if w.DailyFast > 0 {
		s := plural(w.DailyFast, "fast generation", "fast generations") + " a day"
		if w.AfterFast == credit.AfterFastRelaxed {
			s += ", then the relaxed queue"
		} else {
			s += ", then wait until midnight"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " · ")
}

// modelsText says which models an account on a plan may use.
func modelsText(c *credit.Catalog, e credit.Eligibility) string {
	in := append(modelNamesOf(c, e.Models), tagsText(e.Tags)...)
	out := append(modelNamesOf(c, e.ExcludeModels), tagsText(e.ExcludeTags)...)
	s := "Every model"
	if len(in) > 0 {
		s = "Only " + orList(in, "and")
	}
	if len(out) > 0 {
		s += " except " + orList(out, "and")
	}
	return s
}

// eligibilityText says which models a grant or allowance may pay for, or
// "" when it pays for every model: "not for Pro models", "only for Nano
// Banana 2". account.js says the same of a grant's applies_to.
func eligibilityText(c *credit.Catalog, e credit.Eligibility) string {
	var parts []string
	if in := append(modelNamesOf(c, e.Models), tagsText(e.Tags)...); len(in) > 0 {
		parts = append(parts, "only for "+orList(in, "and"))
	}
	if out := append(modelNamesOf(c, e.ExcludeModels), tagsText(e.ExcludeTags)...); len(out) > 0 {
		parts = append(parts, "not for "+orList(out, "or"))
	}
	return strings.Join(parts, ", ")
}

// modelNamesOf names model ids as the page does; an id the catalog does
// not know is kept as it is.
func modelNamesOf(c *credit.Catalog, ids []string) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = id
		if m, err := c.Model(id); err == nil {
			out[i] = m.Name
		}
	}
	return out
}

func tagsText(tags []string) []string {
	out := make([]string, len(tags))
	for i, t := range tags {
		out[i] = tagModels(t)
	}
	return out
}

// tagModels names the models carrying tag: "Pro models".
func tagModels(tag string) string { return tagLabel(tag) + " models" }

// tagLabel is a tag as a badge shows it: "pro" is "Pro".
func tagLabel(tag string) string {
	r, n := utf8.DecodeRuneInString(tag)
	if n == 0 {
		return tag
	}
	return string(unicode.ToUpper(r)) + tag[n:]
}

// orList joins words as a sentence does: "A", "A and B", "A, B and C".
func orList(words []string, conj string) string {
	switch len(words) {
	case 0:
		return ""
	case 1:
		return words[0]
	}
	return strings.Join(words[:len(words)-1], ", ") + " " + conj + " " + words[len(words)-1]
}

func everyText(p credit.Period) string {
	switch p {
	case credit.EveryDay:
		return "a day"
	case credit.EveryMonth:
		return "a month"
	}
	return "every " + string(p)
}

// sourceText names the kind of credits a source gives, as the studio does.
func sourceText(s credit.Source) string {
	switch s {
	case credit.SourceFree:
		return "free credits"
	case credit.SourceSubscription:
		return "subscription credits"
	case credit.SourceTopup:
		return "top-up credits"
	case credit.SourceRollover:
		return "rollover credits"
	case credit.SourcePromo:
		return "promotional credits"
	}
	return string(s) + " credits"
}

// durationText says a duration in days when it is whole days ("30 days"),
// else in hours and minutes.
func durationText(d time.Duration) string {
	const day = 24 * time.Hour
	if d >= day && d%day == 0 {
		return plural(int(d/day), "day", "days")
	}
	if d >= time.Hour && d%time.Hour == 0 {
		return plural(int(d/time.Hour), "hour", "hours")
	}
	return d.String()
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

// groupCredits formats an amount with thousands separators, as the
// console's scripts do: "5,000", "73.5".
func groupCredits(c credit.Credits) string {
	s := c.String()
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	whole, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if hasFrac {
		return sign + b.String() + "." + frac
	}
	return sign + b.String()
}

// deniedBy lists the plans whose accounts may not use m: Image mode labels
// the model "needs a subscription" for an account on one of them.
func deniedBy(c *credit.Catalog, m *credit.Model) []string {
	var out []string
	for _, p := range c.Plans {
		if !p.Models.Allows(m.ID, m.Tags) {
			out = append(out, p.ID)
		}
	}
	return slices.Clip(out)
}
