package catalog_test

import (
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
)

// tagged is minimal followed by a model tagged pro, "Pro Model" (id
// pro-model), on lines 9 to 14; plans: starts on line 15, so a plan's first
// key is on line 16.
const tagged = minimal + `  - name: Pro Model
    kind: image
    tags: [pro]
    price: {per_image: 20}
    resolution: up to 1K
    aspect_ratios: ["1:1"]
plans:
`

// TestDefaultPlans: the built-in catalog tags the four models whose name says
// "Pro", and holds the free program as the studio documents it, and nothing else.
func TestDefaultPlans(t *testing.T) {
	c := catalog.Default()
	pro := []string{"imagineart-1.5-pro", "nano-banana-pro", "recraft-v4-pro", "flux-2-pro"}
	for _, m := range c.Models {
		var want []string
		if slices.Contains(pro, m.ID) {
			want = []string{"pro"}
		}
		if !slices.Equal(m.Tags, want) {
			t.Errorf("model %s tags = %v; want %v", m.ID, m.Tags, want)
		}
	}
	want := []*credit.Plan{{
		ID: "free", Name: "Free", Program: true, Topups: false,
		Models: credit.Eligibility{ExcludeTags: []string{"pro"}},
		Allowances: []credit.Allowance{{
			Credits: 100_000, Every: credit.EveryDay, Source: credit.SourceFree,
			Expires:   credit.Expiry{Kind: credit.ExpiresPeriodEnd},
			AppliesTo: credit.Eligibility{ExcludeTags: []string{"pro"}},
		}},
	}}
	if !reflect.DeepEqual(c.Plans, want) {
		t.Errorf("Plans = %s; want %s", plansText(c.Plans), plansText(want))
	}
	if p := c.Plan("free"); p == nil || p.Name != "Free" {
		t.Errorf(`Plan("free") = %+v; want the free program`, p)
	}
}

// TestExamplePlans loads examples/plans.yaml and checks it against its text.
func TestExamplePlans(t *testing.T) {
	c, err := catalog.LoadFile("../../examples/plans.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if c.Version != "2026-12-01.plans-example" {
		t.Errorf("Version = %q; want 2026-12-01.plans-example", c.Version)
	}
	// The same models and prices as the built-in catalog.
	d := catalog.Default()
	if len(c.Models) != 29 {
		t.Errorf("%d models; want the built-in catalog's 29", len(c.Models))
	}
	if changes := catalog.Diff(d, c); len(changes) != 4 {
		t.Errorf("Diff(built-in, example) = %v; want only the four plans added", changes)
	}
	if m, err := c.Model("Nano Banana Pro"); err != nil || !slices.Equal(m.Tags, []string{"pro"}) {
		t.Errorf("Nano Banana Pro = %v, %v; want tagged pro", m, err)
	}

	period := credit.Expiry{Kind: credit.ExpiresPeriodEnd}
	monthly := func(credits credit.Credits) credit.Allowance {
		return credit.Allowance{Credits: credits, Every: credit.EveryMonth, Source: credit.SourceSubscription, Expires: period}
	}
	pro := monthly(5_000_000)
	pro.Rollover = &credit.Rollover{MaxCredits: 2_000_000, ExpiresAfter: 30 * 24 * time.Hour}
	want := []*credit.Plan{
		{ID: "free", Name: "Free", Program: true, Topups: false,
			Models: credit.Eligibility{ExcludeTags: []string{"pro"}},
			Allowances: []credit.Allowance{{Credits: 100_000, Every: credit.EveryDay, Source: credit.SourceFree, Expires: period,
				AppliesTo: credit.Eligibility{ExcludeTags: []string{"pro"}}}}},
		{ID: "basic", Name: "Basic", Topups: true, Allowances: []credit.Allowance{monthly(1_000_000)}},
		{ID: "standard-yearly", Name: "Standard (yearly)", Topups: true, Allowances: []credit.Allowance{monthly(3_000_000)}},
		{ID: "pro", Name: "Pro", Topups: true, Allowances: []credit.Allowance{pro}},
		{ID: "unlimited", Name: "Unlimited", Topups: true, Allowances: []credit.Allowance{monthly(2_000_000)},
			Unlimited: []credit.Window{
				{Models: []string{"nano-banana-2"}, Days: 7, MaxConcurrent: 1, DailyFast: 50, AfterFast: credit.AfterFastRelaxed},
				{Models: []string{"nano-banana-pro"}, Days: 7, MaxConcurrent: 2, DailyFast: 10, AfterFast: credit.AfterFastBlock},
			}},
	}
	if got := c.PlanIDs(); !slices.Equal(got, []string{"free", "basic", "standard-yearly", "pro", "unlimited"}) {
		t.Errorf("PlanIDs = %v", got)
	}
	if !reflect.DeepEqual(c.Plans, want) {
		t.Errorf("Plans = %s;\nwant %s", plansText(c.Plans), plansText(want))
	}
}

func plansText(ps []*credit.Plan) string {
	var b strings.Builder
	for _, p := range ps {
		b.WriteString("\n\t")
		b.WriteString(fmtPlan(p))
	}
	return b.String()
}

func fmtPlan(p *credit.Plan) string {
	var b strings.Builder
	b.WriteString(p.ID + " " + p.Name)
	if p.Program {
		b.WriteString(" program")
	}
	if p.Topups {
		b.WriteString(" topups")
	}
	b.WriteString(" models{" + catalog.EligibilityText(p.Models) + "}")
	for _, a := range p.Allowances {
		b.WriteString(" [" + catalog.AllowanceText(a) + " expires " + catalog.ExpiryText(a.Expires) + "]")
	}
	for _, w := range p.Unlimited {
		b.WriteString(" [" + catalog.WindowText(w) + "]")
	}
	return b.String()
}

// TestPlanValues: amounts, names and durations are read as written.
func TestPlanValues(t *testing.T) {
	c := mustParse(t, tagged+`  - id: a-plan
    name: A plan
    models: {models: [A, Pro Model]}
    allowances:
      - credits: 73.5
        every: month
        source: promo
        expires: 720h
        applies_to: {tags: [pro], exclude_models: [a]}
      - credits: 0.001
        every: day
        source: topup
        expires: never
      - credits: 10
        every: month
        source: subscription
        rollover: {max_credits: 5}
    unlimited:
      - models: [Pro Model]
        days: 366
        daily_fast: 0
        after_fast: relaxed
`)
	p := c.Plan("a-plan")
	if p == nil {
		t.Fatal(`no plan "a-plan"`)
	}
	want := &credit.Plan{
		ID: "a-plan", Name: "A plan", Topups: true,
		Models: credit.Eligibility{Models: []string{"a", "pro-model"}},
		Allowances: []credit.Allowance{
			{Credits: 73_500, Every: credit.EveryMonth, Source: credit.SourcePromo,
				Expires:   credit.Expiry{Kind: credit.ExpiresAfter, After: 720 * time.Hour},
				AppliesTo: credit.Eligibility{Tags: []string{"pro"}, ExcludeModels: []string{"a"}}},
			{Credits: 1, Every: credit.EveryDay, Source: credit.SourceTopup, Expires: credit.Expiry{Kind: credit.ExpiresNever}},
			// expires defaults to period_end; a rollover without
			// expires_after never expires.
			{Credits: 10_000, Every: credit.EveryMonth, Source: credit.SourceSubscription,
				Expires: credit.Expiry{Kind: credit.ExpiresPeriodEnd}, Rollover: &credit.Rollover{MaxCredits: 5_000}},
		},
		// max_concurrent defaults to 1.
		Unlimited: []credit.Window{{Models: []string{"pro-model"}, Days: 366, MaxConcurrent: 1, DailyFast: 0, AfterFast: credit.AfterFastRelaxed}},
	}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("plan = %s;\nwant %s", fmtPlan(p), fmtPlan(want))
		t.Errorf("got %+v\nwant %+v", *p, *want)
	}
	for _, tt := range []struct {
		text string
		want time.Duration
	}{{"30d", 30 * 24 * time.Hour}, {"36h", 36 * time.Hour}, {"90m", 90 * time.Minute}, {"1h30m", 90 * time.Minute}} {
		c := mustParse(t, tagged+"  - id: x\n    name: X\n    allowances:\n      - {credits: 1, every: month, source: promo, expires: "+tt.text+"}\n")
		if got := c.Plans[0].Allowances[0].Expires; got != (credit.Expiry{Kind: credit.ExpiresAfter, After: tt.want}) {
			t.Errorf("expires: %s = %+v; want after %v", tt.text, got, tt.want)
		}
	}
}

// TestTextOfPlans: the summaries `tally catalog show` and the diff print.
func TestTextOfPlans(t *testing.T) {
	for _, tt := range []struct{ got, want string }{
		{catalog.DurationText(30 * 24 * time.Hour), "30d"},
		{catalog.DurationText(36 * time.Hour), "36h"},
		{catalog.DurationText(90 * time.Minute), "1h30m"},
		{catalog.DurationText(45 * time.Second), "45s"},
		{catalog.ExpiryText(credit.Expiry{Kind: credit.ExpiresPeriodEnd}), "period_end"},
		{catalog.ExpiryText(credit.Expiry{Kind: credit.ExpiresNever}), "never"},
		{catalog.ExpiryText(credit.Expiry{Kind: credit.ExpiresAfter, After: 720 * time.Hour}), "30d"},
		{catalog.EligibilityText(credit.Eligibility{}), ""},
		{catalog.EligibilityText(credit.Eligibility{ExcludeTags: []string{"pro"}}), "not pro"},
		{catalog.EligibilityText(credit.Eligibility{Models: []string{"a"}, Tags: []string{"pro"}, ExcludeModels: []string{"b"}}), "only a, pro; not b"},
		{catalog.AllowanceText(credit.Allowance{Credits: 100_000, Every: credit.EveryDay, Source: credit.SourceFree,
			Expires: credit.Expiry{Kind: credit.ExpiresPeriodEnd}, AppliesTo: credit.Eligibility{ExcludeTags: []string{"pro"}}}), "100/day free, not pro"},
		{catalog.AllowanceText(credit.Allowance{Credits: 5_000_000, Every: credit.EveryMonth, Source: credit.SourceSubscription,
			Expires: credit.Expiry{Kind: credit.ExpiresPeriodEnd}, Rollover: &credit.Rollover{MaxCredits: 2_000_000, ExpiresAfter: 720 * time.Hour}}),
			"5000/month subscription, rollover up to 2000, for 30d"},
		{catalog.AllowanceText(credit.Allowance{Credits: 73_500, Every: credit.EveryMonth, Source: credit.SourcePromo,
			Expires: credit.Expiry{Kind: credit.ExpiresNever}}), "73.5/month promo, never expire"},
		{catalog.WindowText(credit.Window{Models: []string{"nano-banana-2"}, Days: 7, MaxConcurrent: 1, DailyFast: 50, AfterFast: credit.AfterFastRelaxed}),
			"nano-banana-2 unlimited 7 days, 1 at a time, 50 fast a day then relaxed"},
		{catalog.WindowText(credit.Window{Models: []string{"a", "b"}, Days: 3, MaxConcurrent: 2, DailyFast: 10, AfterFast: credit.AfterFastBlock}),
			"a, b unlimited 3 days, 2 at a time, 10 fast a day then blocked"},
	} {
		if tt.got != tt.want {
			t.Errorf("text = %q; want %q", tt.got, tt.want)
		}
	}
}

// TestPlanMistakes: each catalog has exactly one mistake in its plans or
// tags, which gets exactly one issue on the line counted by hand.
func TestPlanMistakes(t *testing.T) {
	// plan is a valid plan's first lines (16 and 17).
	const plan = tagged + "  - id: x\n    name: X\n"
	// allowance is plan with one allowance, on lines 18 to 22.
	const allowance = plan + "    allowances:\n      - credits: 10\n        every: month\n        source: subscription\n"
	// window is plan with one window, on lines 18 to 22.
	const window = plan + "    unlimited:\n      - models: [a]\n        days: 7\n        daily_fast: 5\n        after_fast: relaxed\n"
	for _, tt := range []struct {
		name string
		text string
		line int
		want string
	}{
		{"tag in capitals", minimal + "    tags: [Pro]\n", 9, `tag "Pro" must be lower-case`},
		{"tag twice", minimal + "    tags: [pro, pro]\n", 9, `tag "pro" is listed twice`},
		{"tags not a list", minimal + "    tags: pro\n", 9, "want a list"},
		{"plans not a list", tagged[:len(tagged)-len("plans:\n")] + "plans: {id: x}\n", 15, "want a list"},
		{"unknown plan key", plan + "    colour: red\n", 18, `unknown key "colour"`},
		{"missing plan id", tagged + "  - name: X\n", 16, "id: missing"},
		{"bad plan id", tagged + "  - id: Free Plan\n    name: X\n", 16, `id "Free Plan" must be lower-case`},
		{"plan id with a dot", tagged + "  - id: pro.1\n    name: X\n", 16, `id "pro.1" must be lower-case`},
		{"missing plan name", tagged + "  - id: x\n", 16, "name: missing"},
		{"plan id a list", tagged + "  - id: [x]\n    name: X\n", 16, "want a single value"},
		{"plan name a list", tagged + "  - id: x\n    name: [X]\n", 17, "want a single value"},
		{"duplicate plan id", plan + "  - id: x\n    name: Y\n", 18, `id "x" is already used by plans[0]`},
		{"program not a boolean", plan + "    program: 1\n", 18, `"1" is not true or false`},
		{"topups not a boolean", plan + "    topups: sometimes\n", 18, `"sometimes" is not true or false`},
		{"unknown model in models", plan + "    models: {models: [b]}\n", 18, `unknown model "b"`},
		{"unknown tag in models", plan + "    models: {exclude_tags: [prp]}\n", 18, `no model carries the tag "prp"`},
		{"unknown eligibility key", plan + "    models: {exclude: [a]}\n", 18, `unknown key "exclude"`},
		{"model in and out", plan + "    models: {models: [a], exclude_models: [A]}\n", 18, `model "a" is in both models and exclude_models`},
		{"tag in and out", plan + "    models: {tags: [pro], exclude_tags: [pro]}\n", 18, `tag "pro" is in both tags and exclude_tags`},
		{"model twice in a list", plan + "    models: {models: [a, A]}\n", 18, `model "a" is listed twice`},
		{"allowances not a list", plan + "    allowances: {credits: 10}\n", 18, "want a list"},
		{"unknown allowance key", allowance + "        colour: red\n", 22, `unknown key "colour"`},
		{"missing credits", plan + "    allowances:\n      - every: month\n        source: subscription\n", 19, "credits: missing"},
		{"credits 0", plan + "    allowances:\n      - credits: 0\n        every: month\n        source: subscription\n", 19, "an allowance must be more than 0"},
		{"credits -5", plan + "    allowances:\n      - credits: -5\n        every: month\n        source: subscription\n", 19, "an allowance must be more than 0"},
		{"credits with 4 decimals", plan + "    allowances:\n      - credits: 0.0001\n        every: month\n        source: subscription\n", 19, "more than three decimals"},
		{"every week", plan + "    allowances:\n      - credits: 10\n        every: week\n        source: subscription\n", 20, `unknown period "week"`},
		{"source overdraft", plan + "    allowances:\n      - credits: 10\n        every: month\n        source: overdraft\n", 21, `unknown source "overdraft"`},
		{"expires soon", allowance + "        expires: soon\n", 22, `"soon" is not period_end, never or a duration`},
		{"expires 0d", allowance + "        expires: 0d\n", 22, `"0d" is not period_end, never or a duration`},
		{"expires -1h", allowance + "        expires: -1h\n", 22, `"-1h" is not period_end, never or a duration`},
		{"expires 1.5d", allowance + "        expires: 1.5d\n", 22, `"1.5d" is not period_end, never or a duration`},
		{"unknown model in applies_to", allowance + "        applies_to: {exclude_models: [nope]}\n", 22, `unknown model "nope"`},
		{"unknown tag in applies_to", allowance + "        applies_to: {tags: [turbo]}\n", 22, `no model carries the tag "turbo"`},
		{"monthly allowance in a program", plan + "    program: true\n    allowances:\n      - credits: 10\n        every: month\n        source: free\n", 21, "a program gives credits every day"},
		{"window in a program", plan + "    program: true\n    unlimited:\n      - models: [a]\n        days: 7\n        daily_fast: 5\n        after_fast: relaxed\n", 20, "a program has no unlimited windows"},
		{"daily rollover", plan + "    allowances:\n      - credits: 10\n        every: day\n        source: promo\n        rollover: {max_credits: 5}\n", 22, "a daily allowance does not roll over"},
		{"rollover of credits that never expire", allowance + "        expires: never\n        rollover: {max_credits: 5}\n", 23, "needs expires: period_end"},
		{"rollover without max_credits", allowance + "        rollover: {expires_after: 30d}\n", 22, "max_credits: missing"},
		{"rollover max_credits 0", allowance + "        rollover: {max_credits: 0}\n", 22, "max_credits must be more than 0"},
		{"rollover expires_after bad", allowance + "        rollover: {max_credits: 5, expires_after: a month}\n", 22, `"a month" is not never or a duration`},
		{"unknown window key", window + "        colour: red\n", 23, `unknown key "colour"`},
		{"window without days", plan + "    unlimited:\n      - models: [a]\n        daily_fast: 5\n        after_fast: relaxed\n", 19, "days: missing"},
		{"window with no models", plan + "    unlimited:\n      - models: []\n        days: 7\n        daily_fast: 5\n        after_fast: relaxed\n", 19, "the list of models is empty"},
		{"unknown model in a window", plan + "    unlimited:\n      - models: [nano]\n        days: 7\n        daily_fast: 5\n        after_fast: relaxed\n", 19, `unknown model "nano"`},
		{"days 0", plan + "    unlimited:\n      - models: [a]\n        days: 0\n        daily_fast: 5\n        after_fast: relaxed\n", 20, `"0" is not a whole number from 1 to 366`},
		{"days 367", plan + "    unlimited:\n      - models: [a]\n        days: 367\n        daily_fast: 5\n        after_fast: relaxed\n", 20, `"367" is not a whole number from 1 to 366`},
		{"max_concurrent 0", window + "        max_concurrent: 0\n", 23, `"0" is not a whole number from 1 to 1000`},
		{"daily_fast -1", plan + "    unlimited:\n      - models: [a]\n        days: 7\n        daily_fast: -1\n        after_fast: relaxed\n", 21, `"-1" is not a whole number from 0 to 1000000`},
		{"after_fast wait", plan + "    unlimited:\n      - models: [a]\n        days: 7\n        daily_fast: 5\n        after_fast: wait\n", 22, `unknown choice "wait"`},
		{"daily_fast 0 and block", plan + "    unlimited:\n      - models: [a]\n        days: 7\n        daily_fast: 0\n        after_fast: block\n", 22, "lets no generation through"},
		{"window on a model the plan excludes", plan + "    models: {exclude_tags: [pro]}\n    unlimited:\n      - models: [pro-model]\n        days: 7\n        daily_fast: 5\n        after_fast: relaxed\n", 20, `model "pro-model" is not allowed by the plan's models`},
		{"model in two windows", window + "      - models: [A]\n        days: 3\n        daily_fast: 5\n        after_fast: block\n", 23, `model "a" is already in unlimited[0]`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			is := issues(t, tt.text)
			if len(is) != 1 {
				t.Fatalf("got %d issues; want 1:%s", len(is), issuesText(is))
			}
			if is[0].Line != tt.line || !strings.Contains(is[0].String(), tt.want) {
				t.Errorf("issue = %q (line %d); want line %d and %q", is[0], is[0].Line, tt.line, tt.want)
			}
			if is[0].Column < 1 {
				t.Errorf("issue %q has no column", is[0])
			}
		})
	}
}

// TestPlanMistakesAtOnce: every mistake in the plans is listed, with those
// of the models; a plan naming a model too broken to read is not reported
// twice for it.
func TestPlanMistakesAtOnce(t *testing.T) {
	const text = `version: v1
effective_at: "2026-01-01T00:00:00Z"
models:
  - name: A
    kind: video
    price: {per_image: 10}
    resolution: up to 1K
    aspect_ratios: ["1:1"]
plans:
  - id: x
    name: X
    unlimited:
      - models: [a]
        days: 0
        daily_fast: 5
        after_fast: later
  - id: x
    name: Y
    allowances:
      - credits: 0
        every: year
        source: free
`
	is := issues(t, text)
	want := []struct {
		line int
		text string
	}{
		{5, `unknown kind "video"`},
		{14, `"0" is not a whole number from 1 to 366`},
		{16, `unknown choice "later"`},
		{20, "an allowance must be more than 0"},
		{21, `unknown period "year"`},
		{17, `id "x" is already used by plans[0]`},
	}
	if len(is) != len(want) {
		t.Fatalf("got %d issues; want %d:%s", len(is), len(want), issuesText(is))
	}
	for i, w := range want {
		if is[i].Line != w.line || !strings.Contains(is[i].String(), w.text) {
			t.Errorf("issue %d = %q (line %d); want line %d and %q", i, is[i], is[i].Line, w.line, w.text)
		}
	}
}

// TestTooManyPlans: a runaway list of plans is refused with one message.
func TestTooManyPlans(t *testing.T) {
	var b strings.Builder
	b.WriteString(tagged)
	for i := range 101 {
		fmt.Fprintf(&b, "  - {id: p%d, name: P}\n", i)
	}
	is := issues(t, b.String())
	if len(is) != 1 || !strings.Contains(is[0].Message, "101 plans is more than the limit of 100") {
		t.Errorf("issues:%s\nwant one saying 101 plans is more than 100", issuesText(is))
	}
}
