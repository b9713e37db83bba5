package catalog_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/tally-credits/tally/internal/catalog"
)

// diffBase is the catalog each TestDiffPlans case edits: two models, one
// tagged pro, and two plans.
const diffBase = `version: v1
effective_at: "2026-01-01T00:00:00Z"
models:
  - name: A
    kind: image
    price: {per_image: 10}
    resolution: up to 1K
    aspect_ratios: ["1:1"]
  - name: B
    kind: image
    tags: [pro]
    price: {per_image: 20}
    resolution: up to 1K
    aspect_ratios: ["1:1"]
plans:
  - id: free
    name: Free
    program: true
    topups: false
    models: {exclude_tags: [pro]}
    allowances:
      - {credits: 100, every: day, source: free, applies_to: {exclude_tags: [pro]}}
  - id: pro
    name: Pro
    allowances:
      - {credits: 5000, every: month, source: subscription, rollover: {max_credits: 2000, expires_after: 30d}}
    unlimited:
      - {models: [a], days: 7, max_concurrent: 1, daily_fast: 50, after_fast: relaxed}
`

func TestDiffPlans(t *testing.T) {
	old := mustParse(t, diffBase)
	for _, tt := range []struct {
		name    string
		replace []string // old, new pairs applied to diffBase
		want    []catalog.Change
	}{
		{"same", nil, nil},
		{"model tags", []string{"    tags: [pro]\n", "    tags: [pro, new]\n", "  - name: A\n    kind: image\n", "  - name: A\n    kind: image\n    tags: [new]\n"},
			[]catalog.Change{
				{Kind: catalog.SettingChanged, Model: "a", What: "tags", Old: "", New: "new"},
				{Kind: catalog.SettingChanged, Model: "b", What: "tags", Old: "pro", New: "new, pro"},
			}},
		{"tags in another order", []string{"    tags: [pro]\n", "    tags: [pro, new]\n", "    models: {exclude_tags: [pro]}", "    models: {exclude_tags: [pro, new]}"},
			[]catalog.Change{
				{Kind: catalog.SettingChanged, Model: "b", What: "tags", Old: "pro", New: "new, pro"},
				{Kind: catalog.PlanChanged, Plan: "free", What: "models", Old: "not pro", New: "not new, pro"},
			}},
		{"plan added", []string{"  - id: pro\n", "  - id: basic\n    name: Basic\n  - id: pro\n"},
			[]catalog.Change{{Kind: catalog.PlanAdded, Plan: "basic", New: "Basic"}}},
		{"plan removed", []string{"  - id: free\n    name: Free\n    program: true\n    topups: false\n    models: {exclude_tags: [pro]}\n    allowances:\n      - {credits: 100, every: day, source: free, applies_to: {exclude_tags: [pro]}}\n", ""},
			[]catalog.Change{{Kind: catalog.PlanRemoved, Plan: "free", Old: "Free"}}},
		{"plan settings", []string{"    name: Free\n    program: true\n    topups: false\n    models: {exclude_tags: [pro]}\n", "    name: Free forever\n    models: {models: [a]}\n"},
			[]catalog.Change{
				{Kind: catalog.PlanChanged, Plan: "free", What: "name", Old: "Free", New: "Free forever"},
				{Kind: catalog.PlanChanged, Plan: "free", What: "program", Old: "true", New: "false"},
				{Kind: catalog.PlanChanged, Plan: "free", What: "topups", Old: "false", New: "true"},
				{Kind: catalog.PlanChanged, Plan: "free", What: "models", Old: "not pro", New: "only a"},
			}},
		{"allowance credits up", []string{"credits: 100,", "credits: 150.5,"},
			[]catalog.Change{{Kind: catalog.AllowanceChanged, Plan: "free", What: "allowances[0].credits", Old: "100", New: "150.5", Delta: 50_500}}},
		{"allowance credits down", []string{"credits: 5000,", "credits: 4000,"},
			[]catalog.Change{{Kind: catalog.AllowanceChanged, Plan: "pro", What: "allowances[0].credits", Old: "5000", New: "4000", Delta: -1_000_000}}},
		{"allowance every, source, expires, applies_to", []string{"every: day, source: free, applies_to: {exclude_tags: [pro]}", "every: day, source: promo, expires: 36h"},
			[]catalog.Change{
				{Kind: catalog.AllowanceChanged, Plan: "free", What: "allowances[0].source", Old: "free", New: "promo"},
				{Kind: catalog.AllowanceChanged, Plan: "free", What: "allowances[0].expires", Old: "period_end", New: "36h"},
				{Kind: catalog.AllowanceChanged, Plan: "free", What: "allowances[0].applies_to", Old: "not pro", New: "all models"},
			}},
		{"allowance every", []string{"{credits: 100, every: day, source: free,", "{credits: 100, every: month, source: free,", "    program: true\n", ""},
			[]catalog.Change{
				{Kind: catalog.PlanChanged, Plan: "free", What: "program", Old: "true", New: "false"},
				{Kind: catalog.AllowanceChanged, Plan: "free", What: "allowances[0].every", Old: "day", New: "month"},
			}},
		{"rollover changed", []string{"rollover: {max_credits: 2000, expires_after: 30d}", "rollover: {max_credits: 1000}"},
			[]catalog.Change{{Kind: catalog.AllowanceChanged, Plan: "pro", What: "allowances[0].rollover", Old: "up to 2000, for 30d", New: "up to 1000"}}},
		{"rollover removed", []string{", rollover: {max_credits: 2000, expires_after: 30d}", ""},
			[]catalog.Change{{Kind: catalog.AllowanceChanged, Plan: "pro", What: "allowances[0].rollover", Old: "up to 2000, for 30d", New: ""}}},
		{"allowance added", []string{"    unlimited:\n", "      - {credits: 10, every: day, source: promo, expires: never}\n    unlimited:\n"},
			[]catalog.Change{{Kind: catalog.AllowanceAdded, Plan: "pro", What: "allowances[1]", New: "10/day promo, never expire"}}},
		{"allowance removed", []string{"    allowances:\n      - {credits: 100, every: day, source: free, applies_to: {exclude_tags: [pro]}}\n", ""},
			[]catalog.Change{{Kind: catalog.AllowanceRemoved, Plan: "free", What: "allowances[0]", Old: "100/day free, not pro"}}},
		{"window changed", []string{"{models: [a], days: 7, max_concurrent: 1, daily_fast: 50, after_fast: relaxed}", "{models: [B], days: 3, max_concurrent: 2, daily_fast: 60, after_fast: block}"},
			[]catalog.Change{
				{Kind: catalog.WindowChanged, Plan: "pro", What: "unlimited[0].models", Old: "a", New: "b"},
				{Kind: catalog.WindowChanged, Plan: "pro", What: "unlimited[0].days", Old: "7", New: "3"},
				{Kind: catalog.WindowChanged, Plan: "pro", What: "unlimited[0].max_concurrent", Old: "1", New: "2"},
				{Kind: catalog.WindowChanged, Plan: "pro", What: "unlimited[0].daily_fast", Old: "50", New: "60"},
				{Kind: catalog.WindowChanged, Plan: "pro", What: "unlimited[0].after_fast", Old: "relaxed", New: "block"},
			}},
		{"window added", []string{"after_fast: relaxed}\n", "after_fast: relaxed}\n      - {models: [b], days: 7, max_concurrent: 2, daily_fast: 10, after_fast: block}\n"},
			[]catalog.Change{{Kind: catalog.WindowAdded, Plan: "pro", What: "unlimited[1]", New: "b unlimited 7 days, 2 at a time, 10 fast a day then blocked"}}},
		{"window removed", []string{"    unlimited:\n      - {models: [a], days: 7, max_concurrent: 1, daily_fast: 50, after_fast: relaxed}\n", ""},
			[]catalog.Change{{Kind: catalog.WindowRemoved, Plan: "pro", What: "unlimited[0]", Old: "a unlimited 7 days, 1 at a time, 50 fast a day then relaxed"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			text := diffBase
			for i := 0; i+1 < len(tt.replace); i += 2 {
				if !strings.Contains(text, tt.replace[i]) {
					t.Fatalf("the base catalog has no %q", tt.replace[i])
				}
				text = strings.Replace(text, tt.replace[i], tt.replace[i+1], 1)
			}
			got := catalog.Diff(old, mustParse(t, text))
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Diff =%s\nwant%s", changesText(got), changesText(tt.want))
			}
		})
	}
}

func changesText(cs []catalog.Change) string {
	var b strings.Builder
	for _, c := range cs {
		b.WriteString("\n\t")
		b.WriteString(c.String())
	}
	return b.String()
}

// TestChangeString: how `tally catalog diff` prints plan changes.
func TestChangeString(t *testing.T) {
	for _, tt := range []struct {
		c    catalog.Change
		want string
	}{
		{catalog.Change{Kind: catalog.PlanAdded, Plan: "basic", New: "Basic"}, "plan_added             basic"},
		{catalog.Change{Kind: catalog.AllowanceChanged, Plan: "pro", What: "allowances[0].credits", Old: "5000", New: "4000", Delta: -1_000_000},
			"allowance_changed      pro allowances[0].credits: 5000 → 4000 (-1000)"},
		{catalog.Change{Kind: catalog.AllowanceChanged, Plan: "pro", What: "allowances[0].rollover", Old: "up to 2000", New: ""},
			"allowance_changed      pro allowances[0].rollover: up to 2000 → none"},
		{catalog.Change{Kind: catalog.SettingChanged, Model: "b", What: "tags", Old: "pro", New: ""},
			"setting_changed        b tags: pro → none"},
	} {
		if got := tt.c.String(); got != tt.want {
			t.Errorf("%+v.String() = %q; want %q", tt.c, got, tt.want)
		}
	}
}
