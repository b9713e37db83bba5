package catalog_test

import (
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
)

func TestInUse(t *testing.T) {
	noon := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	rec := func(version string, effective time.Time) credit.CatalogRecord {
		return credit.CatalogRecord{Version: version, EffectiveAt: effective}
	}
	tests := []struct {
		name    string
		records []credit.CatalogRecord // oldest published first
		now     time.Time
		want    string // "" for none
	}{
		{"none published", nil, noon, ""},
		{"one in effect", []credit.CatalogRecord{rec("v1", noon.Add(-time.Hour))}, noon, "v1"},
		{"effective exactly now", []credit.CatalogRecord{rec("v1", noon)}, noon, "v1"},
		{"only one in the future", []credit.CatalogRecord{rec("v1", noon.Add(time.Second))}, noon, ""},
		{"the newest publish wins", []credit.CatalogRecord{rec("v1", noon.Add(-2*time.Hour)), rec("v2", noon.Add(-time.Hour))}, noon, "v2"},
		{"a future version waits", []credit.CatalogRecord{rec("v1", noon.Add(-time.Hour)), rec("v2", noon.Add(time.Minute))}, noon, "v1"},
		{"a future version takes over when its time comes", []credit.CatalogRecord{rec("v1", noon.Add(-time.Hour)), rec("v2", noon.Add(time.Minute))}, noon.Add(time.Minute), "v2"},
		// Published last with an earlier effective time (a correction): the
		// newest publish is the operator's last word.
		{"a later publish with an earlier date wins", []credit.CatalogRecord{rec("v2", noon.Add(-time.Hour)), rec("v1-fix", noon.Add(-48*time.Hour))}, noon, "v1-fix"},
		{"a later future publish leaves the earlier one in use", []credit.CatalogRecord{rec("v1", noon.Add(-time.Hour)), rec("v2", noon.Add(-time.Minute)), rec("v3", noon.Add(time.Hour))}, noon, "v2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := catalog.InUse(tt.records, tt.now)
			if !ok {
				got.Version = ""
			}
			if got.Version != tt.want || ok != (tt.want != "") {
				t.Errorf("InUse(…, %v) = %q, %v; want %q", tt.now.Format(time.TimeOnly), got.Version, ok, tt.want)
			}
		})
	}
}

func TestVersionsListBuiltIn(t *testing.T) {
	pub := time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)
	v2 := credit.CatalogRecord{Version: "v2", EffectiveAt: pub, PublishedAt: pub}
	got := catalog.Versions([]credit.CatalogRecord{v2})
	// The built-in catalog's version and effective time, from default.yaml.
	if len(got) != 2 || got[0].Version != "2026-11-24.seed" || !got[0].EffectiveAt.Equal(time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)) ||
		!got[0].PublishedAt.IsZero() || got[1].Version != "v2" {
		t.Errorf("Versions([v2]) = %+v; want the built-in 2026-11-24.seed (never published), then v2", got)
	}
	// A published copy of the built-in version stands for it: listed once.
	seed := credit.CatalogRecord{Version: "2026-11-24.seed", EffectiveAt: pub, PublishedAt: pub}
	if got := catalog.Versions([]credit.CatalogRecord{seed, v2}); len(got) != 2 || got[0].PublishedAt.IsZero() {
		t.Errorf("Versions([seed, v2]) = %+v; want the published seed and v2 only", got)
	}
}

func TestCheckPublish(t *testing.T) {
	noon := time.Date(2026, 12, 10, 12, 0, 0, 0, time.UTC)
	rec := func(version string, effective time.Time) credit.CatalogRecord {
		return credit.CatalogRecord{Version: version, EffectiveAt: effective, PublishedAt: noon.Add(-time.Hour)}
	}
	cat := func(version string, effective time.Time) *credit.Catalog {
		return credit.NewCatalog(version, effective, nil)
	}
	dec5, dec8, dec20 := noon.AddDate(0, 0, -5), noon.AddDate(0, 0, -2), noon.AddDate(0, 0, 10)
	tests := []struct {
		name    string
		records []credit.CatalogRecord
		c       *credit.Catalog
		force   bool
		want    string // the reason, "" to accept
	}{
		{"newer than the one in use", []credit.CatalogRecord{rec("a", dec5)}, cat("b", dec8), false, ""},
		{"as old as the one in use", []credit.CatalogRecord{rec("a", dec5)}, cat("b", dec5), false, ""},
		{"older than the one in use", []credit.CatalogRecord{rec("a", dec8)}, cat("b", dec5), false, "older_catalog"},
		{"older, forced", []credit.CatalogRecord{rec("a", dec8)}, cat("b", dec5), true, ""},
		// Nothing published: the built-in catalog (effective 2026-11-24) is in use.
		{"older than the built-in", nil, cat("b", time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)), false, "older_catalog"},
		{"before a scheduled version", []credit.CatalogRecord{rec("a", dec5), rec("later", dec20)}, cat("b", dec8), false, "older_catalog"},
		{"after a scheduled version", []credit.CatalogRecord{rec("a", dec5), rec("later", dec20)}, cat("b", dec20.Add(time.Hour)), false, ""},
		{"already published", []credit.CatalogRecord{rec("a", dec5)}, cat("a", dec8), true, "catalog_exists"},
		{"the built-in version", nil, cat("2026-11-24.seed", dec8), true, "catalog_exists"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := catalog.CheckPublish(tt.records, tt.c, noon, tt.force)
			if got := credit.ErrorReason(err); got != tt.want {
				t.Errorf("CheckPublish = %v (%q); want %q", err, got, tt.want)
			}
		})
	}
}
