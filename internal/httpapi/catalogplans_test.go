package httpapi_test

import (
	"encoding/json"
	"net/http/httptest"
	"reflect"
	"slices"
	"testing"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/httpapi"
)

// TestCatalogPlans: GET /v1/catalog shows every model's tags and the
// catalog's plans, as examples/plans.yaml writes them.
func TestCatalogPlans(t *testing.T) {
	c, err := catalog.LoadFile("../../examples/plans.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(httpapi.New(c, "test", nil))
	t.Cleanup(ts.Close)
	got := wantOK(t, get(t, ts, "/v1/catalog"))

	for _, m := range objects(t, got["models"], "models") {
		want := []string{}
		if slices.Contains([]string{"imagineart-1.5-pro", "nano-banana-pro", "recraft-v4-pro", "flux-2-pro"}, m["id"].(string)) {
			want = []string{"pro"}
		}
		if tags := strs(t, m["tags"], "tags"); !slices.Equal(tags, want) {
			t.Errorf("model %v tags = %v; want %v", m["id"], tags, want)
		}
	}

	const want = `[
	 {"id": "free", "name": "Free", "program": true, "topups": false, "models": {"exclude_tags": ["pro"]},
	  "allowances": [{"credits": 100, "every": "day", "source": "free", "expires": "period_end", "applies_to": {"exclude_tags": ["pro"]}}],
	  "unlimited": []},
	 {"id": "basic", "name": "Basic", "program": false, "topups": true,
	  "allowances": [{"credits": 1000, "every": "month", "source": "subscription", "expires": "period_end"}], "unlimited": []},
	 {"id": "standard-yearly", "name": "Standard (yearly)", "program": false, "topups": true,
	  "allowances": [{"credits": 3000, "every": "month", "source": "subscription", "expires": "period_end"}], "unlimited": []},
	 {"id": "pro", "name": "Pro", "program": false, "topups": true,
	  "allowances": [{"credits": 5000, "every": "month", "source": "subscription", "expires": "period_end",
	                  "rollover": {"max_credits": 2000, "expires_after": "30d"}}], "unlimited": []},
	 {"id": "unlimited", "name": "Unlimited", "program": false, "topups": true,
	  "allowances": [{"credits": 2000, "every": "month", "source": "subscription", "expires": "period_end"}],
	  "unlimited": [
	   {"models": ["nano-banana-2"], "days": 7, "max_concurrent": 1, "daily_fast": 50, "after_fast": "relaxed"},
	   {"models": ["nano-banana-pro"], "days": 7, "max_concurrent": 2, "daily_fast": 10, "after_fast": "block"}]}
	]`
	var wantPlans any
	if err := json.Unmarshal([]byte(want), &wantPlans); err != nil {
		t.Fatal(err)
	}
	// object keeps numbers as json.Number; compare through plain JSON.
	b, _ := json.Marshal(got["plans"])
	var gotPlans any
	if err := json.Unmarshal(b, &gotPlans); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotPlans, wantPlans) {
		t.Errorf("plans = %s;\nwant %s", b, want)
	}

	// The document describes what is served: every key served is a
	// property of its schema, and every required property is served.
	doc := openAPI(t, get(t, ts, "/openapi.json"))
	conforms := func(what, schema string, v map[string]any) {
		t.Helper()
		s := at(t, doc, "components", "schemas", schema)
		props := at(t, s, "properties")
		for k := range v {
			if _, ok := props[k]; !ok {
				t.Errorf("%s has %q, which schema %s does not document", what, k, schema)
			}
		}
		req, _ := s["required"].([]any)
		for _, k := range req {
			if _, ok := v[k.(string)]; !ok {
				t.Errorf("%s lacks %q, which schema %s requires", what, k, schema)
			}
		}
	}
	conforms("catalog", "Catalog", got)
	conforms("model", "Model", objects(t, got["models"], "models")[0])
	for _, p := range objects(t, got["plans"], "plans") {
		conforms("plan", "Plan", p)
		if e, ok := p["models"].(map[string]any); ok {
			conforms("plan models", "Eligibility", e)
		}
		for _, a := range objects(t, p["allowances"], "allowances") {
			conforms("allowance", "PlanAllowance", a)
			if r, ok := a["rollover"].(map[string]any); ok {
				conforms("rollover", "PlanRollover", r)
			}
		}
		for _, w := range objects(t, p["unlimited"], "unlimited") {
			conforms("window", "PlanWindow", w)
		}
	}

	// The built-in catalog: the free program only.
	_, ts = MustServer(t)
	plans := objects(t, wantOK(t, get(t, ts, "/v1/catalog"))["plans"], "plans")
	if len(plans) != 1 || plans[0]["id"] != "free" || plans[0]["program"] != true {
		t.Errorf("built-in plans = %v; want the free program only", plans)
	}
}
