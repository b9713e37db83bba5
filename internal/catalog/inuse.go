package catalog

import (
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// InUse chooses the catalog every node prices with at now: of records
// (oldest published first, as credit.CatalogStore.Catalogs lists them), the
// most recently published one whose effective time has come. A version
// published with a future effective_at therefore takes over when its time
// comes, and publishing an older effective time later still wins: the last
// word is the newest publish, not the newest date. ok is false when no
// record is in effect yet (the node then keeps its file or built-in catalog).
//
// It is pure: the caller passes the records that parse, and re-evaluates it
// as time passes.
func InUse(records []credit.CatalogRecord, now time.Time) (r credit.CatalogRecord, ok bool) {
	for i := len(records) - 1; i >= 0; i-- {
		if !records[i].EffectiveAt.After(now) {
			return records[i], true
		}
	}
	return credit.CatalogRecord{}, false
}

// Parsable returns the records whose YAML this build accepts: a version
// written by another build, or behind tally's back, is never priced with.
func Parsable(records []credit.CatalogRecord) []credit.CatalogRecord {
	var out []credit.CatalogRecord
	for _, r := range records {
		if _, err := Parse(r.YAML); err == nil {
			out = append(out, r)
		}
	}
	return out
}

// BuiltIn returns the built-in catalog as a version: the one every node
// prices with while the database has none in effect, and which charges made
// then record. Its PublishedAt is zero: it was never published.
func BuiltIn() credit.CatalogRecord {
	c := Default()
	return credit.CatalogRecord{Version: c.Version, EffectiveAt: c.EffectiveAt, YAML: DefaultYAML()}
}

// Versions returns every catalog version a ledger's charges can name: the
// built-in catalog first, then records (oldest published first), so that the
// built-in one stays listed, and comparable, after the first publish. A
// published record of the built-in's version stands for it.
func Versions(records []credit.CatalogRecord) []credit.CatalogRecord {
	b := BuiltIn()
	for _, r := range records {
		if r.Version == b.Version {
			return records
		}
	}
	return append([]credit.CatalogRecord{b}, records...)
}

// Current returns the catalog version in use at now: the published one
// InUse chooses, or the built-in catalog while none is in effect. records
// are the published versions that parse.
func Current(records []credit.CatalogRecord, now time.Time) credit.CatalogRecord {
	if r, ok := InUse(records, now); ok {
		return r
	}
	return BuiltIn()
}

// CheckPublish says whether c may be published over records (the published
// versions that parse) at now. It refuses (Conflict, "catalog_exists") a
// version already listed, the built-in one included. Unless force, it
// refuses (Invalid, "older_catalog") a catalog effective earlier than the
// one in use, or than one scheduled to take over later: the newest publish
// in effect wins, so publishing it would roll every price back at once, or
// cancel the scheduled version, without anyone having asked for that.
func CheckPublish(records []credit.CatalogRecord, c *credit.Catalog, now time.Time, force bool) error {
	for _, r := range Versions(records) {
		if r.Version == c.Version {
			what := "already published"
			if r.PublishedAt.IsZero() {
				what = "the built-in catalog's"
			}
			return credit.Errorf(credit.Conflict, "catalog_exists", "catalog version %q is %s: give the file a new version", c.Version, what)
		}
	}
	if force {
		return nil
	}
	cur := Current(records, now)
	if c.EffectiveAt.Before(cur.EffectiveAt) {
		return credit.Errorf(credit.Invalid, "older_catalog",
			"catalog %s is effective %s, before %s (in use, effective %s): publishing it would roll prices back to it now; --force publishes it anyway",
			c.Version, c.EffectiveAt.UTC().Format(time.RFC3339), cur.Version, cur.EffectiveAt.UTC().Format(time.RFC3339))
	}
	for _, r := range records {
		if r.EffectiveAt.After(now) && c.EffectiveAt.Before(r.EffectiveAt) {
			return credit.Errorf(credit.Invalid, "older_catalog",
				"catalog %s is effective %s, before %s (scheduled for %s): publishing it would cancel that version; --force publishes it anyway",
				c.Version, c.EffectiveAt.UTC().Format(time.RFC3339), r.Version, r.EffectiveAt.UTC().Format(time.RFC3339))
		}
	}
	return nil
}
