package console

import (
	"net/http"
	"slices"
	"time"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
)

// catalogView is the Catalog page: the published versions with their
// effective times, newest first, and a form to compare two of them (the
// script asks GET /v1/catalog/diff).
type catalogView struct {
	InUse       string
	EffectiveAt time.Time
	Versions    []versionView
	// Unpublished says the catalog in use is the built-in one or a
	// --catalog file's, not a published version.
	Unpublished bool
	Error       string
	CanDiff     bool
	From, To    string
	Options     []string // versions to compare, newest first
	// Names maps the model ids of the catalog in use to their names, for
	// the diff.
	Names []idName
}

type versionView struct {
	Version     string
	EffectiveAt time.Time
	PublishedAt time.Time
	InUse       bool
	Pending     bool // effective in the future
}

func (c *console) catalog(w http.ResponseWriter, r *http.Request) {
	cat := c.cfg.Catalog()
	if cat == nil {
		http.Error(w, "no catalog loaded", http.StatusServiceUnavailable)
		return
	}
	v := catalogView{InUse: cat.Version, EffectiveAt: cat.EffectiveAt.UTC(), Unpublished: true, Names: modelNames(cat)}
	var records []credit.CatalogRecord
	if c.cfg.Catalogs != nil {
		var err error
		records, err = c.cfg.Catalogs.Catalogs(r.Context())
		if err != nil {
			c.log.Warn("console: listing catalog versions", "err", err)
			v.Error = "The published versions cannot be listed right now: " + credit.ErrorMessage(err)
		}
		// The same list as GET /v1/catalog/versions: the built-in catalog
		// stays a version after the first publish.
		records = catalog.Versions(records)
	}
	now := time.Now()
	for i := len(records) - 1; i >= 0; i-- {
		rec := records[i]
		vv := versionView{Version: rec.Version, EffectiveAt: rec.EffectiveAt.UTC(), PublishedAt: rec.PublishedAt.UTC(),
			InUse: rec.Version == cat.Version, Pending: rec.EffectiveAt.After(now)}
		if vv.InUse {
			v.Unpublished = false
		}
		v.Versions = append(v.Versions, vv)
		v.Options = append(v.Options, rec.Version)
	}
	if v.Unpublished {
		v.Options = append([]string{cat.Version}, v.Options...)
	}
	v.CanDiff = c.cfg.Catalogs != nil && len(v.Options) > 1
	q := r.URL.Query()
	v.From, v.To = q.Get("from"), q.Get("to")
	if !slices.Contains(v.Options, v.From) || !slices.Contains(v.Options, v.To) {
		// Default: what the version in use changed from the one before it.
		v.From, v.To = "", cat.Version
		if i := slices.Index(v.Options, cat.Version); i >= 0 && i+1 < len(v.Options) {
			v.From = v.Options[i+1]
		} else if len(v.Options) > 1 {
			v.From = v.Options[1]
			v.To = v.Options[0]
		}
	}
	c.render(w, r, http.StatusOK, "catalog", layout{Title: "Catalog", Nav: "catalog", Scripts: []string{"catalog.js"}, CatalogVersion: cat.Version, Page: v})
}
