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
