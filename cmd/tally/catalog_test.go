package main

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/tally-credits/tally/internal/catalog"
)

// TestCatalogShowPlans: `catalog show` marks tagged models and prints the
// plans after the price tables; --json carries them; `catalog diff` names
// the plans added. Expected text is typed from examples/plans.yaml.
func TestCatalogShowPlans(t *testing.T) {
	const example = "../../examples/plans.yaml"
	t.Setenv("TALLY_DB", "")
	code, out, errOut := run(t, "catalog", "show", "--catalog", example)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	plans := strings.Index(out, "\nPlans\n")
	if plans < 0 || plans < strings.Index(out, "Magnific Precision v2") {
		t.Fatalf("catalog show has no Plans table after the price tables:\n%s", out)
	}
	for _, want := range []string{
		"Nano Banana Pro [pro]", "Flux 2 Pro [pro]",
		"free             Free               program       not pro  no       100/day free, not pro ",
		"pro              Pro                subscription  all      yes      5000/month subscription, rollover up to 2000, for 30d  -",
		"nano-banana-2 unlimited 7 days, 1 at a time, 50 fast a day then relaxed; nano-banana-pro unlimited 7 days, 2 at a time, 10 fast a day then blocked",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("catalog show lacks %q:\n%s", want, out[plans:])
		}
	}
	if strings.Contains(out, "Nano Banana 2 [") {
		t.Errorf("catalog show marks Nano Banana 2, which has no tags")
	}

	code, out, _ = run(t, "catalog", "show", "--catalog", example, "--json")
	var c struct {
		Plans []struct {
			ID         string `json:"id"`
			Allowances []struct {
				Credits json.Number `json:"credits"`
			} `json:"allowances"`
		} `json:"plans"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &c) != nil || len(c.Plans) != 5 || c.Plans[3].ID != "pro" || c.Plans[3].Allowances[0].Credits != "5000" {
		t.Errorf("catalog show --json: exit %d, plans %+v; want 5 plans, the fourth pro with 5000 credits a month", code, c.Plans)
	}

	builtIn := t.TempDir() + "/built-in.yaml"
	writeFile(t, builtIn, string(catalog.DefaultYAML()))
	code, out, errOut = run(t, "catalog", "diff", builtIn, example)
	if code != 0 {
		t.Fatalf("catalog diff: exit %d: %s", code, errOut)
	}
	want := "catalog 2026-11-24.seed → 2026-12-01.plans-example: 4 change(s)\n" +
		"  plan_added             basic\n" +
		"  plan_added             standard-yearly\n" +
		"  plan_added             pro\n" +
		"  plan_added             unlimited\n"
	if out != want {
		t.Errorf("catalog diff =\n%s\nwant\n%s", out, want)
	}
}
