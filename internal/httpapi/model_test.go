package httpapi_test

import (
	"net/http"
	"regexp"
	"slices"
	"testing"
)

func TestModels(t *testing.T) {
	_, ts := MustServer(t)
	body := wantOK(t, get(t, ts, "/v1/models"))
	if v, _ := body["catalog_version"].(string); v == "" {
		t.Errorf("catalog_version = %#v; want a non-empty version", body["catalog_version"])
	}
	models := objects(t, body["models"], "models")
	if len(models) != 29 {
		t.Fatalf("len(models) = %d; want 29 (23 + 3 + 1 + 2 rows of the page)", len(models))
	}
	byID := map[string]map[string]any{}
	for i, m := range models {
		id := str(t, m["id"], "id")
		byID[id] = m
		want := pageModels[i]
		if id != want.id || m["name"] != want.name || m["kind"] != want.kind {
			t.Errorf("models[%d] = %s %#v %#v; want %s %q %q (page order)", i, id, m["name"], m["kind"], want.id, want.name, want.kind)
		}
		if got := num(t, m["base_credits"], id+" base_credits"); got != want.base {
			t.Errorf("%s: base_credits = %s; want %s", id, got, want.base)
		}
		if got := num(t, m["max_images"], id+" max_images"); got != "4" {
			t.Errorf("%s: max_images = %s; want 4", id, got)
		}
	}

	t.Run("NanoBanana2", func(t *testing.T) {
		m := byID["nano-banana-2"]
		if m == nil {
			t.Fatal("no nano-banana-2")
		}
		checkNanoBanana2(t, m)
	})

	t.Run("NanoBananaPro", func(t *testing.T) {
		m := byID["nano-banana-pro"]
		if m == nil {
			t.Fatal("no nano-banana-pro")
		}
		if got := m["resolution_cap"]; got != "1K, 2K, 4K" {
			t.Errorf("resolution_cap = %#v; want %q", got, "1K, 2K, 4K")
		}
		checkResolutions(t, m, [][2]string{{"1K", "80"}, {"2K", "80"}, {"4K", "160"}})
	})

	t.Run("RecraftV4", func(t *testing.T) {
		m := byID["recraft-v4"]
		if m == nil {
			t.Fatal("no recraft-v4")
		}
		if got := m["resolution_cap"]; got != "Shown in Image mode tooltip" {
			t.Errorf("resolution_cap = %#v; want %q", got, "Shown in Image mode tooltip")
		}
		checkResolutions(t, m, [][2]string{{"1K", "24"}})
		if got, want := strs(t, m["aspect_ratios"], "aspect_ratios"), []string{"1:1", "4:3", "3:4", "16:9", "9:16"}; !slices.Equal(got, want) {
			t.Errorf("aspect_ratios = %v; want %v", got, want)
		}
	})

	t.Run("Topaz", func(t *testing.T) {
		m := byID["topaz"]
		if m == nil {
			t.Fatal("no topaz")
		}
		if got := m["rule"]; got != "per_megapixel" {
			t.Errorf("rule = %#v; want per_megapixel", got)
		}
		if got := num(t, m["megapixel_base"], "megapixel_base"); got != "20" {
			t.Errorf("megapixel_base = %s; want 20", got)
		}
		scales := objects(t, m["scales"], "scales")
		want := [][2]string{{"2", "1"}, {"3", "2"}, {"4", "3"}}
		if len(scales) != len(want) {
			t.Fatalf("scales = %v; want %v (scale, factor)", m["scales"], want)
		}
		for i, s := range scales {
			got := [2]string{num(t, s["scale"], "scale"), num(t, s["factor"], "factor")}
			if got != want[i] {
				t.Errorf("scales[%d] = %v; want %v (scale, factor)", i, got, want[i])
			}
		}
		if got := strs(t, m["operations"], "operations"); !slices.Equal(got, []string{"upscale"}) {
			t.Errorf("operations = %v; want [upscale]", got)
		}
	})

	t.Run("Magnific", func(t *testing.T) {
		m := byID["magnific-precision-v2"]
		if m == nil {
			t.Fatal("no magnific-precision-v2")
		}
		scales := objects(t, m["scales"], "scales")
		want := [][2]string{{"2", "65"}, {"4", "260"}, {"8", "520"}, {"16", "1040"}}
		if len(scales) != len(want) {
			t.Fatalf("scales = %v; want %v (scale, credits)", m["scales"], want)
		}
		for i, s := range scales {
			got := [2]string{num(t, s["scale"], "scale"), num(t, s["credits"], "credits")}
			if got != want[i] {
				t.Errorf("scales[%d] = %v; want %v (scale, credits)", i, got, want[i])
			}
		}
	})
}

func checkResolutions(tb testing.TB, m map[string]any, want [][2]string) {
	tb.Helper()
	rs := objects(tb, m["resolutions"], "resolutions")
	if len(rs) != len(want) {
		tb.Fatalf("resolutions = %v; want %v", m["resolutions"], want)
	}
	for i, r := range rs {
		got := [2]string{str(tb, r["resolution"], "resolution"), num(tb, r["credits"], "credits")}
		if got != want[i] {
			tb.Errorf("resolutions[%d] = %v; want %v", i, got, want[i])
		}
	}
}

func checkNanoBanana2(tb testing.TB, m map[string]any) {
	tb.Helper()
	if got := m["id"]; got != "nano-banana-2" {
		tb.Errorf("id = %#v; want nano-banana-2", got)
	}
	if got := m["resolution_cap"]; got != "Up to 4K" {
		tb.Errorf("resolution_cap = %#v; want %q", got, "Up to 4K")
	}
	// Page: 49 (1K), 73.5 (2K), 98 (4K).
	checkResolutions(tb, m, [][2]string{{"1K", "49"}, {"2K", "73.5"}, {"4K", "98"}})
	if got := strs(tb, m["aspect_ratios"], "aspect_ratios"); !slices.Equal(got, nanoBanana2Ratios) {
		tb.Errorf("aspect_ratios = %v; want %v", got, nanoBanana2Ratios)
	}
	if got := strs(tb, m["operations"], "operations"); !slices.Equal(got, []string{"create", "edit"}) {
		tb.Errorf("operations = %v; want [create edit]", got)
	}
}

func TestModel(t *testing.T) {
	_, ts := MustServer(t)
	t.Run("ByID", func(t *testing.T) {
		checkNanoBanana2(t, wantOK(t, get(t, ts, "/v1/models/nano-banana-2")))
	})
	t.Run("ByDisplayName", func(t *testing.T) {
		m := wantOK(t, get(t, ts, "/v1/models/Nano%20Banana%20Pro"))
		if got := m["id"]; got != "nano-banana-pro" {
			t.Errorf("id = %#v; want nano-banana-pro", got)
		}
		checkResolutions(t, m, [][2]string{{"1K", "80"}, {"2K", "80"}, {"4K", "160"}})
	})
	t.Run("ByDisplayNameAnyCase", func(t *testing.T) {
		m := wantOK(t, get(t, ts, "/v1/models/xai%20GROK%20imagine"))
		if got := m["id"]; got != "xai-grok-imagine" {
			t.Errorf("id = %#v; want xai-grok-imagine", got)
		}
	})
	t.Run("Unknown", func(t *testing.T) {
		wantProblem(t, get(t, ts, "/v1/models/nano-banana-3"), http.StatusNotFound, "unknown_model")
	})
}

func TestCatalog(t *testing.T) {
	_, ts := MustServer(t)
	c := wantOK(t, get(t, ts, "/v1/catalog"))
	if v, _ := c["version"].(string); v == "" {
		t.Errorf("version = %#v; want non-empty", c["version"])
	}
	if e, _ := c["effective_at"].(string); !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d`).MatchString(e) {
		t.Errorf("effective_at = %#v; want an RFC 3339 time", c["effective_at"])
	}
	if got := len(objects(t, c["models"], "models")); got != 29 {
		t.Errorf("len(models) = %d; want 29", got)
	}
	list := wantOK(t, get(t, ts, "/v1/models"))
	if list["catalog_version"] != c["version"] {
		t.Errorf("/v1/models catalog_version = %#v; want /v1/catalog version %#v", list["catalog_version"], c["version"])
	}
}
