package console_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
)

// plansCatalog is examples/plans.yaml: the built-in models with the Pro
// ones tagged pro, the free program and four paid plans.
func plansCatalog(t testing.TB) *credit.Catalog {
	t.Helper()
	c, err := catalog.LoadFile("../../examples/plans.yaml")
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPricingPlans(t *testing.T) {
	p := get(t, newConsole(plansCatalog(t)), http.MethodGet, "/pricing")
	if p.status != http.StatusOK {
		t.Fatalf("GET /pricing = %d", p.status)
	}
	plan := func(id string) string { return text(between(t, p.body, "plan-"+id, "</article>")) }
	// Every figure is the catalog file's, written out by hand.
	for id, want := range map[string][]string{
		"free": {"Free", "For accounts without a subscription",
			"100 credits a day · free credits · not for Pro models", "Every model except Pro models · no top-ups"},
		"basic":           {"Basic", "1,000 credits a month", "Every model · top-ups on sale"},
		"standard-yearly": {"Standard (yearly)", "3,000 credits a month"},
		"pro":             {"Pro", "5,000 credits a month · rollover up to 2,000 for 30 days"},
		"unlimited": {"Unlimited", "2,000 credits a month",
			"Nano Banana 2 unlimited for the first 7 days of each billing period · 1 at a time · 50 fast generations a day, then the relaxed queue",
			"Nano Banana Pro unlimited for the first 7 days of each billing period · 2 at a time · 10 fast generations a day, then wait until midnight"},
	} {
		got := plan(id)
		for _, w := range want {
			if !strings.Contains(got, w) {
				t.Errorf("plan %s = %q; want it to contain %q", id, got, w)
			}
		}
	}
	// A paid plan's subscription credits go without saying; no allowance
	// of these plans expires other than at its period's end.
	if got := plan("basic"); strings.Contains(got, "subscription credits ·") || strings.Contains(got, "expire") {
		t.Errorf("plan basic = %q; want only its credits a month", got)
	}
	if got := plan("basic"); strings.Contains(got, "unlimited") {
		t.Errorf("plan basic = %q; it has no unlimited window", got)
	}
	body := text(p.body)
	if want := "Pro models: ImagineArt 1.5 Pro, Nano Banana Pro, Recraft v4 Pro, Flux 2 Pro."; !strings.Contains(body, want) {
		t.Errorf("pricing page lacks %q", want)
	}
	if i, j := strings.Index(p.body, `id="plan-free"`), strings.Index(p.body, `id="plan-unlimited"`); i < 0 || j < i {
		t.Error("plans are not in the catalog file's order")
	}

	// The built-in catalog holds the free program only; a catalog without
	// plans has no Plans section at all.
	p = get(t, newConsole(catalog.Default()), http.MethodGet, "/pricing")
	if n := strings.Count(p.body, `class="plan-card"`); n != 1 || !strings.Contains(p.body, `id="plan-free"`) {
		t.Errorf("built-in catalog: %d plans on the page; want the free program alone", n)
	}
	bare := *catalog.Default()
	bare.Plans = nil
	if p := get(t, newConsole(&bare), http.MethodGet, "/pricing"); strings.Contains(p.body, `id="plans"`) {
		t.Error("a catalog without plans shows a Plans section")
	}
}

func TestImageModePlanLabels(t *testing.T) {
	p := get(t, newConsole(plansCatalog(t)), http.MethodGet, "/")
	for id, want := range map[string]struct{ labels, denied string }{
		// Tagged pro: the neutral badge, and the free program does not allow it.
		"nano-banana-pro":    {"Pro", "free"},
		"imagineart-1.5-pro": {"Pro", "free"},
		"nano-banana-2":      {"", ""},
		"topaz":              {"", ""},
	} {
		item := between(t, p.body, "m-"+id, `role="tooltip"`)
		if got := text(between(t, item, "labels-"+id, "\n")); got != want.labels {
			t.Errorf("model %s labels = %q; want %q", id, got, want.labels)
		}
		if !strings.Contains(item, `data-denied="`+want.denied+`"`) {
			t.Errorf("model %s: want data-denied=%q in %s", id, want.denied, item)
		}
	}
	// The model list still reads as before: the badge follows the price.
	if got := text(between(t, p.body, "m-nano-banana-pro", `role="tooltip"`)); !strings.Contains(got, "Nano Banana Pro from 80 credits Pro") {
		t.Errorf("Nano Banana Pro list item = %q", got)
	}
	if !strings.Contains(p.body, `<option value="unlimited">Unlimited</option>`) {
		t.Error("Image mode does not name the plans for the wallet")
	}
}

func TestAccountPageNames(t *testing.T) {
	p := get(t, newConsole(plansCatalog(t)), http.MethodGet, "/accounts/user_42")
	for _, want := range []string{
		`<option value="free">Free</option>`, `<option value="standard-yearly">Standard (yearly)</option>`,
		`<option value="pro">Pro models</option>`, // the tag, in tag-names
		`id="a-free"`, `id="a-subscription"`, `id="a-topup"`, `id="a-plan"`,
	} {
		if !strings.Contains(p.body, want) {
			t.Errorf("account page lacks %s", want)
		}
	}
}
