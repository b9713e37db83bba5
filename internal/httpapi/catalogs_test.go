package httpapi_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/httpapi"
	"github.com/tally-credits/tally/internal/sqlite"
)

// mustCatalogServer serves the built-in catalog with a real SQLite store's
// published catalogs, where v2 (Flux Dev 5 → 6) and v3 (Flux Dev removed)
// are published.
func mustCatalogServer(t *testing.T) *httptest.Server {
	t.Helper()
	return mustCatalogServerOn(t, "")
}

// mustCatalogServerOn is mustCatalogServer pricing with the published
// version inUse, as a node does once its follower has switched ("" for the
// built-in catalog).
func mustCatalogServerOn(t *testing.T, inUse string) *httptest.Server {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "tally.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	seed := string(catalog.DefaultYAML())
	flux := "  - name: Flux Dev\n    kind: image\n    price: {per_image: 5}\n"
	if !strings.Contains(seed, flux) {
		t.Fatal("the built-in catalog changed shape")
	}
	v2 := strings.Replace(strings.Replace(seed, flux, strings.Replace(flux, "5}", "6}", 1), 1), `version: "2026-11-24.seed"`, `version: "v2"`, 1)
	fluxEntry := flux + "    resolution: up to 1K\n    aspect_ratios: [\"1:1\", \"3:4\", \"2:3\", \"3:2\", \"5:4\", \"9:16\", \"16:9\"]\n"
	if !strings.Contains(seed, fluxEntry) {
		t.Fatal("the built-in catalog's Flux Dev changed shape")
	}
	v3 := strings.Replace(strings.Replace(seed, fluxEntry, "", 1), `version: "2026-11-24.seed"`, `version: "v3"`, 1)
	published := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	running := catalog.Default()
	for i, text := range []string{v2, v3} {
		c, err := catalog.Parse([]byte(text))
		if err != nil {
			t.Fatal(err)
		}
		if c.Version == inUse {
			running = c
		}
		r := credit.CatalogRecord{Version: c.Version, EffectiveAt: c.EffectiveAt, PublishedAt: published.Add(time.Duration(i) * time.Hour), YAML: []byte(text)}
		if err := db.PublishCatalog(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	srv := httpapi.NewServer(httpapi.Config{Catalog: running, Catalogs: db, Version: "test"})
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return ts
}

func TestCatalogVersions(t *testing.T) {
	ts := mustCatalogServer(t)
	r := get(t, ts, "/v1/catalog/versions")
	if r.status != http.StatusOK {
		t.Fatalf("GET /v1/catalog/versions = %d\n%s", r.status, r.body)
	}
	got := object(t, r.body)
	// This server prices with the built-in catalog (no follower switches it).
	if got["in_use"] != "2026-11-24.seed" {
		t.Errorf("in_use = %v; want 2026-11-24.seed", got["in_use"])
	}
	checkVersionList(t, got)
}

// checkVersionList requires the built-in catalog first (never published),
// then v2 and v3 as published.
func checkVersionList(t *testing.T, got map[string]any) {
	t.Helper()
	vs, _ := got["versions"].([]any)
	if len(vs) != 3 {
		t.Fatalf("versions = %v; want the built-in 2026-11-24.seed, v2 and v3", got["versions"])
	}
	want := []struct {
		version, effective string
		published          any // nil: absent
		builtIn            any
	}{
		{"2026-11-24.seed", "2026-11-24T00:00:00Z", nil, true},
		{"v2", "2026-11-24T00:00:00Z", "2026-12-01T09:00:00Z", nil},
		{"v3", "2026-11-24T00:00:00Z", "2026-12-01T10:00:00Z", nil},
	}
	for i, w := range want {
		v := vs[i].(map[string]any)
		if v["version"] != w.version || v["effective_at"] != w.effective || v["published_at"] != w.published || v["built_in"] != w.builtIn {
			t.Errorf("versions[%d] = %v; want %s effective %s published %v built_in %v", i, v, w.version, w.effective, w.published, w.builtIn)
		}
	}
}

// TestCatalogVersionsKeepBuiltIn: once a published version is in use, the
// built-in catalog is still listed, and still a version the diff accepts, since
// the charges made before the publish name it.
func TestCatalogVersionsKeepBuiltIn(t *testing.T) {
	ts := mustCatalogServerOn(t, "v3")
	r := get(t, ts, "/v1/catalog/versions")
	got := object(t, r.body)
	if r.status != http.StatusOK || got["in_use"] != "v3" {
		t.Fatalf("GET /v1/catalog/versions = %d %s; want 200, in_use v3", r.status, r.body)
	}
	checkVersionList(t, got)
	r = get(t, ts, "/v1/catalog/diff?from=2026-11-24.seed&to=v3")
	changes, _ := object(t, r.body)["changes"].([]any)
	// v3 is the seed without Flux Dev: one change, the model removed.
	if r.status != http.StatusOK || len(changes) != 1 || changes[0].(map[string]any)["kind"] != "model_removed" {
		t.Errorf("diff seed → v3 while v3 is in use = %d %s; want 200, one model_removed", r.status, r.body)
	}
}

func TestCatalogDiff(t *testing.T) {
	ts := mustCatalogServer(t)
	t.Run("PriceUp", func(t *testing.T) {
		r := get(t, ts, "/v1/catalog/diff?from=2026-11-24.seed&to=v2")
		if r.status != http.StatusOK {
			t.Fatalf("status = %d\n%s", r.status, r.body)
		}
		got := object(t, r.body)
		changes, _ := got["changes"].([]any)
		if got["from"] != "2026-11-24.seed" || got["to"] != "v2" || len(changes) != 1 {
			t.Fatalf("diff seed → v2 = %s; want one change", r.body)
		}
		ch := changes[0].(map[string]any)
		// Flux Dev 5 → 6: +1.
		if ch["kind"] != "price_up" || ch["model"] != "flux-dev" || ch["old"] != "5" || ch["new"] != "6" || ch["delta"].(interface{ String() string }).String() != "1" {
			t.Errorf("change = %v; want price_up flux-dev 5 → 6, delta 1", ch)
		}
	})
	t.Run("ModelRemoved", func(t *testing.T) {
		r := get(t, ts, "/v1/catalog/diff?from=v2&to=v3")
		got := object(t, r.body)
		changes, _ := got["changes"].([]any)
		if r.status != http.StatusOK || len(changes) != 1 || changes[0].(map[string]any)["kind"] != "model_removed" {
			t.Errorf("diff v2 → v3 = %d %s; want one model_removed", r.status, r.body)
		}
	})
	t.Run("Same", func(t *testing.T) {
		r := get(t, ts, "/v1/catalog/diff?from=v2&to=v2")
		if r.status != http.StatusOK || !strings.Contains(string(r.body), `"changes":[]`) {
			t.Errorf("diff v2 → v2 = %d %s; want no changes", r.status, r.body)
		}
	})
	t.Run("UnknownVersion", func(t *testing.T) {
		r := get(t, ts, "/v1/catalog/diff?from=v2&to=nope")
		got := object(t, r.body)
		if r.status != http.StatusNotFound || got["code"] != "unknown_catalog_version" {
			t.Errorf("diff v2 → nope = %d %s; want 404 unknown_catalog_version", r.status, r.body)
		}
	})
	t.Run("MissingParameter", func(t *testing.T) {
		if r := get(t, ts, "/v1/catalog/diff?from=v2"); r.status != http.StatusUnprocessableEntity {
			t.Errorf("diff without to = %d %s; want 422", r.status, r.body)
		}
	})
}

// TestCatalogRoutesNeedStore: without a CatalogStore the history routes are
// not registered.
func TestCatalogRoutesNeedStore(t *testing.T) {
	ts := httptest.NewServer(httpapi.NewServer(httpapi.Config{Catalog: catalog.Default(), Version: "test"}))
	defer ts.Close()
	if r := get(t, ts, "/v1/catalog/versions"); r.status != http.StatusNotFound {
		t.Errorf("GET /v1/catalog/versions without a store = %d; want 404", r.status)
	}
}
