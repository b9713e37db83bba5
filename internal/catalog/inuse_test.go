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
