package catalog

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/goccy/go-yaml/ast"

	"github.com/tally-credits/tally/internal/credit"
)

// This file reads a catalog's plans (plans:) and model tags, and prints them
// for people: `tally catalog show`, `catalog diff`, GET /v1/catalog.

// Limits of a catalog's plans. A studio has a handful of plans; the bounds
// catch a runaway generator, not a real catalog.
const (
	maxPlans         = 100
	maxAllowances    = 20 // per plan
	maxWindows       = 20 // per plan
	maxTags          = 32 // per model
	maxSlugLength    = 64
	maxWindowDays    = 366
	maxConcurrentCap = 1000
	maxDailyFast     = 1_000_000
	// maxExpiry bounds a duration (expires, expires_after): a hundred years
	// is "never" in all but name, and keeps time arithmetic far from overflow.
	maxExpiry = 100 * 366 * 24 * time.Hour
)

// slugPattern is a tag or a plan id: lower-case letters and digits in runs
// joined by single dashes. No dots, unlike a model id, and no "/": a grant's
// period names its plan ("free/2026-12-05").
var slugPattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// tags reads a model's tags.
func (b *builder) tags(n ast.Node, path string) []string {
	items := b.sequence(n, path)
	if len(items) > maxTags {
		b.errorf(n, path, "%d tags is more than the limit of %d", len(items), maxTags)
		return nil
	}
	var out []string
	for _, item := range items {
		s, ok := b.scalar(item, path)
		switch {
		case !ok:
		case !slugPattern.MatchString(s) || len(s) > maxSlugLength:
			b.errorf(item, path, "tag %q must be lower-case letters and digits in runs joined by single dashes, at most %d characters", s, maxSlugLength)
		case slices.Contains(out, s):
			b.errorf(item, path, "tag %q is listed twice", s)
		default:
			out = append(out, s)
		}
	}
	return out
}

// refs resolves the model ids and tags a plan names, against the models read.
type refs struct {
	models []*credit.Model
	tags   map[string]bool
	// complete is false when a model entry was too broken to read: a name
	// that is not found may then be that model's, and is not reported, so
	// that one mistake gives one message.
	complete bool
}

func newRefs(models []*credit.Model, complete bool) *refs {
	r := &refs{models: models, tags: map[string]bool{}, complete: complete}
	for _, m := range models {
		for _, t := range m.Tags {
			r.tags[t] = true
		}
	}
	return r
}

// model finds a model by id, or by display name or id in any case, as
// credit.Catalog.Model does.
func (r *refs) model(name string) *credit.Model {
	for _, m := range r.models {
		if m.ID == name {
			return m
		}
	}
	for _, m := range r.models {
		if strings.EqualFold(m.Name, name) || strings.EqualFold(m.ID, name) {
			return m
		}
	}
	return nil
}

// plans reads the plans: list.
func (b *builder) plans(r *refs) []*credit.Plan {
	if len(b.planNodes) > maxPlans {
		b.errorf(b.plansNode, "plans", "%d plans is more than the limit of %d", len(b.planNodes), maxPlans)
		return nil
	}
	var out []*credit.Plan
	ids := map[string]int{}
	for i, n := range b.planNodes {
		path := fmt.Sprintf("plans[%d]", i)
		p := b.plan(n, path, r)
		if p == nil {
			continue
		}
		if j, dup := ids[p.ID]; dup {
			b.errorf(n, path, "id %q is already used by plans[%d]", p.ID, j)
			continue
		}
		ids[p.ID] = i
		out = append(out, p)
	}
	return out
}

// plan reads one plan. It returns nil when the entry is too broken to check further.
func (b *builder) plan(n ast.Node, path string, r *refs) *credit.Plan {
	p := &credit.Plan{Topups: true}
	var idNode, nameNode, allowancesNode, unlimitedNode ast.Node
	idOK, nameOK := false, false // a scalar: otherwise the mistake is reported already
	seen := b.mapping(n, path,
		field{"id", func(n ast.Node, q string) { idNode = n; p.ID, idOK = b.scalar(n, q) }},
		field{"name", func(n ast.Node, q string) { nameNode = n; p.Name, nameOK = b.scalar(n, q) }},
		field{"program", func(n ast.Node, q string) { p.Program = b.boolean(n, q) }},
		field{"topups", func(n ast.Node, q string) { p.Topups = b.boolean(n, q) }},
		// models is read now, the rest after: windows are checked against
		// it and allowances against program, whatever the keys' order.
		field{"models", func(n ast.Node, q string) { p.Models = b.eligibility(n, q, r) }},
		field{"allowances", func(n ast.Node, _ string) { allowancesNode = n }},
		field{"unlimited", func(n ast.Node, _ string) { unlimitedNode = n }},
	)
	if !seen["id"] {
		b.errorf(n, path+".id", "missing; every plan needs an id such as free or pro-monthly")
		return nil
	}
	if !idOK {
		return nil
	}
	if !slugPattern.MatchString(p.ID) || len(p.ID) > maxSlugLength {
		b.errorf(idNode, path+".id", "id %q must be lower-case letters and digits in runs joined by single dashes, at most %d characters", p.ID, maxSlugLength)
		return nil
	}
	path = fmt.Sprintf("%s (%s)", path, p.ID)
	switch {
	case seen["name"] && !nameOK:
	case !seen["name"] || strings.TrimSpace(p.Name) == "":
		b.errorf(orNode(nameNode, n), path+".name", "missing; every plan needs a display name")
	case p.Name != strings.TrimSpace(p.Name) || len(p.Name) > 100 || strings.IndexFunc(p.Name, func(r rune) bool { return !unicode.IsPrint(r) }) >= 0:
		b.errorf(nameNode, path+".name", "name %q must be printable, with no surrounding spaces and at most 100 characters", p.Name)
	}

	if seen["allowances"] {
		q := path + ".allowances"
		items := b.sequence(allowancesNode, q)
		if len(items) > maxAllowances {
			b.errorf(allowancesNode, q, "%d allowances is more than the limit of %d", len(items), maxAllowances)
			items = nil
		}
		for i, item := range items {
			if a, ok := b.allowance(item, fmt.Sprintf("%s[%d]", q, i), p.Program, r); ok {
				p.Allowances = append(p.Allowances, a)
			}
		}
	}
	if seen["unlimited"] {
		q := path + ".unlimited"
		items := b.sequence(unlimitedNode, q)
		switch {
		case p.Program && len(items) > 0:
			b.errorf(unlimitedNode, q, "a program has no unlimited windows: a window starts with a billing period, which only a subscription has")
			items = nil
		case len(items) > maxWindows:
			b.errorf(unlimitedNode, q, "%d windows is more than the limit of %d", len(items), maxWindows)
			items = nil
		}
		covered := map[string]int{}
		for i, item := range items {
			wq := fmt.Sprintf("%s[%d]", q, i)
			w, ok := b.window(item, wq, p, r)
			if !ok {
				continue
			}
			for _, id := range w.Models {
				if j, dup := covered[id]; dup {
					b.errorf(item, wq+".models", "model %q is already in unlimited[%d]; a model has at most one window per plan", id, j)
				}
				covered[id] = i
			}
			p.Unlimited = append(p.Unlimited, w)
		}
	}
	return p
}

// allowance reads one allowance. ok is false when a required key is missing.
func (b *builder) allowance(n ast.Node, path string, program bool, r *refs) (a credit.Allowance, ok bool) {
	a.Expires = credit.Expiry{Kind: credit.ExpiresPeriodEnd}
	var everyNode, rolloverNode ast.Node
	seen := b.mapping(n, path,
		field{"credits", func(n ast.Node, q string) { a.Credits = b.amount(n, q, "an allowance") }},
		field{"every", func(n ast.Node, q string) {
			everyNode = n
			s, ok := b.scalar(n, q)
			switch credit.Period(s) {
			case credit.EveryDay, credit.EveryMonth:
				a.Every = credit.Period(s)
			default:
				if ok {
					b.errorf(n, q, "unknown period %q (want day or month)", s)
				}
			}
		}},
		field{"source", func(n ast.Node, q string) {
			s, ok := b.scalar(n, q)
			if !ok {
				return
			}
			if !slices.Contains(credit.Sources, credit.Source(s)) {
				b.errorf(n, q, "unknown source %q (want %s)", s, sourceNames())
				return
			}
			a.Source = credit.Source(s)
		}},
		field{"expires", func(n ast.Node, q string) { a.Expires = b.expiry(n, q) }},
		field{"rollover", func(n ast.Node, _ string) { rolloverNode = n }},
		field{"applies_to", func(n ast.Node, q string) { a.AppliesTo = b.eligibility(n, q, r) }},
	)
	ok = true
	for _, k := range []string{"credits", "every", "source"} {
		if !seen[k] {
			b.errorf(n, path+"."+k, "missing; every allowance needs credits, every (day or month) and source")
			ok = false
		}
	}
	if program && a.Every == credit.EveryMonth {
		b.errorf(everyNode, path+".every", "a program gives credits every day; a monthly allowance needs a subscription's renewal day, so it belongs to a plan accounts subscribe to")
	}
	if seen["rollover"] {
		q := path + ".rollover"
		switch {
		case a.Every == credit.EveryDay:
			b.errorf(rolloverNode, q, "a daily allowance does not roll over (the studio's free credits never accumulate); rollover is for monthly allowances")
		case a.Expires.Kind != credit.ExpiresPeriodEnd:
			b.errorf(rolloverNode, q, "rollover carries over what expires at the period's end, so it needs expires: period_end")
		default:
			a.Rollover = b.rollover(rolloverNode, q)
		}
	}
	return a, ok
}

func (b *builder) rollover(n ast.Node, path string) *credit.Rollover {
	ro := &credit.Rollover{}
	seen := b.mapping(n, path,
		field{"max_credits", func(n ast.Node, q string) { ro.MaxCredits = b.amount(n, q, "a rollover's max_credits") }},
		field{"expires_after", func(n ast.Node, q string) {
			s, ok := b.scalar(n, q)
			if !ok || s == "never" {
				return
			}
			d, err := parseDuration(s)
			if err != "" {
				b.errorf(n, q, "%q is not never or a duration such as 720h or 30d: %s", s, err)
			}
			ro.ExpiresAfter = d
		}},
	)
	if !seen["max_credits"] {
		b.errorf(n, path+".max_credits", "missing; say how many unspent credits at most roll over")
	}
	return ro
}

// window reads one unlimited window of plan p.
func (b *builder) window(n ast.Node, path string, p *credit.Plan, r *refs) (w credit.Window, ok bool) {
	w.MaxConcurrent = 1 // the studio: one generation at a time
	var modelsNode, afterNode ast.Node
	seen := b.mapping(n, path,
		field{"models", func(n ast.Node, q string) {
			modelsNode = n
			if s, ok := b.resolve(n).(*ast.SequenceNode); ok && len(s.Values) == 0 {
				b.errorf(n, q, "the list of models is empty")
			}
			w.Models = b.modelList(n, q, r)
		}},
		field{"days", func(n ast.Node, q string) { w.Days = b.integer(n, q, 1, maxWindowDays) }},
		field{"max_concurrent", func(n ast.Node, q string) { w.MaxConcurrent = b.integer(n, q, 1, maxConcurrentCap) }},
		field{"daily_fast", func(n ast.Node, q string) { w.DailyFast = b.integer(n, q, 0, maxDailyFast) }},
		field{"after_fast", func(n ast.Node, q string) {
			afterNode = n
			s, ok := b.scalar(n, q)
			switch credit.AfterFast(s) {
			case credit.AfterFastBlock, credit.AfterFastRelaxed:
				w.AfterFast = credit.AfterFast(s)
			default:
				if ok {
					b.errorf(n, q, "unknown choice %q (want block or relaxed)", s)
				}
			}
		}},
	)
	ok = true
	for _, k := range []string{"models", "days", "daily_fast", "after_fast"} {
		if !seen[k] {
			b.errorf(n, path+"."+k, "missing; every unlimited window needs models, days, daily_fast and after_fast (block or relaxed)")
			ok = false
		}
	}
	if seen["daily_fast"] && w.DailyFast == 0 && w.AfterFast == credit.AfterFastBlock {
		b.errorf(afterNode, path+".after_fast", "daily_fast 0 with after_fast: block lets no generation through; use relaxed, or a daily_fast above 0")
	}
	for _, id := range w.Models {
		if m := r.model(id); m != nil && !p.Models.Allows(m.ID, m.Tags) {
			b.errorf(modelsNode, path+".models", "model %q is not allowed by the plan's models, so it cannot be unlimited", id)
		}
	}
	return w, ok
}

// eligibility reads an applies_to (or a plan's models): which models, by
// id or tag, are in or out.
func (b *builder) eligibility(n ast.Node, path string, r *refs) credit.Eligibility {
	var e credit.Eligibility
	b.mapping(n, path,
		field{"models", func(n ast.Node, q string) { e.Models = b.modelList(n, q, r) }},
		field{"tags", func(n ast.Node, q string) { e.Tags = b.tagList(n, q, r) }},
		field{"exclude_models", func(n ast.Node, q string) { e.ExcludeModels = b.modelList(n, q, r) }},
		field{"exclude_tags", func(n ast.Node, q string) { e.ExcludeTags = b.tagList(n, q, r) }},
	)
	for _, id := range e.Models {
		if slices.Contains(e.ExcludeModels, id) {
			b.errorf(n, path, "model %q is in both models and exclude_models", id)
		}
	}
	for _, t := range e.Tags {
		if slices.Contains(e.ExcludeTags, t) {
			b.errorf(n, path, "tag %q is in both tags and exclude_tags", t)
		}
	}
	return e
}

// modelList reads a list of models, each by id or display name, as ids.
func (b *builder) modelList(n ast.Node, path string, r *refs) []string {
	var out []string
	for _, item := range b.sequence(n, path) {
		s, ok := b.scalar(item, path)
		if !ok {
			continue
		}
		m := r.model(s)
		switch {
		case m == nil:
			if r.complete {
				b.errorf(item, path, "unknown model %q", s)
			}
		case slices.Contains(out, m.ID):
			b.errorf(item, path, "model %q is listed twice", m.ID)
		default:
			out = append(out, m.ID)
		}
	}
	return out
}

// tagList reads a list of tags, each carried by at least one model (a tag
// no model carries is a typo that would silently match nothing).
func (b *builder) tagList(n ast.Node, path string, r *refs) []string {
	var out []string
	for _, item := range b.sequence(n, path) {
		s, ok := b.scalar(item, path)
		switch {
		case !ok:
		case !r.tags[s]:
			if r.complete {
				b.errorf(item, path, "no model carries the tag %q", s)
			}
		case slices.Contains(out, s):
			b.errorf(item, path, "tag %q is listed twice", s)
		default:
			out = append(out, s)
		}
	}
	return out
}

// boolean reads true or false.
func (b *builder) boolean(n ast.Node, path string) bool {
	if v, ok := b.resolve(n).(*ast.BoolNode); ok {
		return v.Value
	}
	s, _ := b.scalar(n, path)
	b.errorf(n, path, "%q is not true or false", s)
	return false
}

// amount reads a positive amount of credits that is not a price.
func (b *builder) amount(n ast.Node, path, what string) credit.Credits {
	s, ok := b.scalar(n, path)
	if !ok {
		return 0
	}
	c, err := credit.ParseCredits(s)
	switch {
	case err != nil:
		b.errorf(n, path, "%s", credit.ErrorMessage(err))
	case c <= 0:
		b.errorf(n, path, "%s credits: %s must be more than 0", s, what)
	}
	return c
}

// expiry reads period_end, never or a duration.
func (b *builder) expiry(n ast.Node, path string) credit.Expiry {
	s, ok := b.scalar(n, path)
	if !ok {
		return credit.Expiry{Kind: credit.ExpiresPeriodEnd}
	}
	switch credit.ExpiryKind(s) {
	case credit.ExpiresPeriodEnd, credit.ExpiresNever:
		return credit.Expiry{Kind: credit.ExpiryKind(s)}
	}
	d, err := parseDuration(s)
	if err != "" {
		b.errorf(n, path, "%q is not period_end, never or a duration such as 720h or 30d: %s", s, err)
		return credit.Expiry{Kind: credit.ExpiresPeriodEnd}
	}
	return credit.Expiry{Kind: credit.ExpiresAfter, After: d}
}

// parseDuration reads "30d" (whole days) or a Go duration such as "720h" or
// "90m". It returns why the text is refused, or "".
func parseDuration(s string) (time.Duration, string) {
	var d time.Duration
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 1 || n > int(maxExpiry/(24*time.Hour)) {
			return 0, fmt.Sprintf("days must be a whole number from 1 to %d", maxExpiry/(24*time.Hour))
		}
		d = time.Duration(n) * 24 * time.Hour
	} else {
		var err error
		if d, err = time.ParseDuration(s); err != nil {
			return 0, "units are d, h, m and s"
		}
	}
	if d < time.Second || d > maxExpiry {
		return 0, fmt.Sprintf("want from 1s to %dd", maxExpiry/(24*time.Hour))
	}
	return d, ""
}

func sourceNames() string {
	names := make([]string, len(credit.Sources))
	for i, s := range credit.Sources {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

// DurationText prints a duration as the catalog file writes it: whole days
// as "30d", others as "36h", "90m" or "1h30m".
func DurationText(d time.Duration) string {
	if d > 0 && d%(24*time.Hour) == 0 {
		return strconv.FormatInt(int64(d/(24*time.Hour)), 10) + "d"
	}
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// ExpiryText prints an allowance's expiry as the catalog file writes it:
// period_end, never, or a duration such as 30d.
func ExpiryText(e credit.Expiry) string {
	if e.Kind == credit.ExpiresAfter {
		return DurationText(e.After)
	}
	return string(e.Kind)
}

// EligibilityText summarises which models e allows: "" for every model,
// else "only nano-banana-2, pro" and "not pro" (model ids and tags alike).
func EligibilityText(e credit.Eligibility) string {
	var parts []string
	if in := append(slices.Clip(e.Models), e.Tags...); len(in) > 0 {
		parts = append(parts, "only "+strings.Join(in, ", "))
	}
	if out := append(slices.Clip(e.ExcludeModels), e.ExcludeTags...); len(out) > 0 {
		parts = append(parts, "not "+strings.Join(out, ", "))
	}
	return strings.Join(parts, "; ")
}

// RolloverText summarises a rollover: "up to 2000, for 30d" ("" for none).
func RolloverText(r *credit.Rollover) string {
	if r == nil {
		return ""
	}
	s := "up to " + r.MaxCredits.String()
	if r.ExpiresAfter > 0 {
		s += ", for " + DurationText(r.ExpiresAfter)
	}
	return s
}

// AllowanceText summarises an allowance for people: "100/day free, not pro",
// "5000/month subscription, rollover up to 2000, for 30d".
func AllowanceText(a credit.Allowance) string {
	s := fmt.Sprintf("%s/%s %s", a.Credits, a.Every, a.Source)
	switch a.Expires.Kind {
	case credit.ExpiresNever:
		s += ", never expire"
	case credit.ExpiresAfter:
		s += ", expire after " + DurationText(a.Expires.After)
	}
	if a.Rollover != nil {
		s += ", rollover " + RolloverText(a.Rollover)
	}
	if e := EligibilityText(a.AppliesTo); e != "" {
		s += ", " + e
	}
	return s
}

// WindowText summarises an unlimited window: "nano-banana-2 unlimited 7
// days, 1 at a time, 50 fast a day then relaxed" (or "then blocked").
func WindowText(w credit.Window) string {
	after := string(w.AfterFast)
	if w.AfterFast == credit.AfterFastBlock {
		after = "blocked"
	}
	return fmt.Sprintf("%s unlimited %d days, %d at a time, %d fast a day then %s",
		strings.Join(w.Models, ", "), w.Days, w.MaxConcurrent, w.DailyFast, after)
}
