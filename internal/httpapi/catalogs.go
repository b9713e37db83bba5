package httpapi

import (
	"context"
	"net/http"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
)

// CatalogVersions is the published catalog history: GET
// /v1/catalog/versions and `tally catalog history --json`.
type CatalogVersions struct {
	InUse    string           `json:"in_use" doc:"The version this node prices with now. It may be a --catalog file's, absent from versions, while the database has no version in effect."`
	Versions []CatalogVersion `json:"versions" doc:"The built-in catalog first (charges priced before the first publish name it), then every published version, oldest published first."`
}

// CatalogVersion is one catalog version: the built-in one or a published one.
type CatalogVersion struct {
	Version     string     `json:"version"`
	EffectiveAt time.Time  `json:"effective_at" doc:"When it takes over, if it is the newest published by then."`
	PublishedAt *time.Time `json:"published_at,omitempty" doc:"Absent for the built-in catalog, which is never published."`
	BuiltIn     bool       `json:"built_in,omitempty" doc:"The catalog built into tally: in use while no published version is in effect (and no --catalog file replaces it)."`
}

// NewCatalogVersions returns the history of records, the built-in catalog
// listed first, with inUse as the version in use.
func NewCatalogVersions(inUse string, records []credit.CatalogRecord) *CatalogVersions {
	all := catalog.Versions(records)
	out := &CatalogVersions{InUse: inUse, Versions: make([]CatalogVersion, 0, len(all))}
	for _, r := range all {
		v := CatalogVersion{Version: r.Version, EffectiveAt: r.EffectiveAt.UTC(), BuiltIn: r.PublishedAt.IsZero()}
		if !v.BuiltIn {
			at := r.PublishedAt.UTC()
			v.PublishedAt = &at
		}
		out.Versions = append(out.Versions, v)
	}
	return out
}

// CatalogDiff is what changed between two catalog versions.
type CatalogDiff struct {
	From    string           `json:"from"`
	To      string           `json:"to"`
	Changes []catalog.Change `json:"changes" doc:"Models added and removed, prices up and down, tiers, scales and aspect ratios added or removed, settings changed, model by model; then plans, their allowances and unlimited windows added, removed or changed, plan by plan."`
}

// catalogRoutes registers the catalog history routes, served from the store's
// published catalogs. Like GET /v1/catalog, they are public.
func (s *Server) catalogRoutes() {
	huma.Register(s.api, huma.Operation{
		OperationID: "list-catalog-versions",
		Method:      http.MethodGet,
		Path:        "/v1/catalog/versions",
		Summary:     "List the published catalog versions and the one in use",
		Tags:        []string{"Pricing"},
		Errors:      []int{503},
	}, func(ctx context.Context, _ *struct{}) (*struct{ Body *CatalogVersions }, error) {
		records, err := s.catalogs.Catalogs(ctx)
		if err != nil {
			return nil, s.fail(err)
		}
		return &struct{ Body *CatalogVersions }{NewCatalogVersions(s.Catalog().Version, records)}, nil
	})

	huma.Register(s.api, huma.Operation{
		OperationID: "diff-catalog-versions",
		Method:      http.MethodGet,
		Path:        "/v1/catalog/diff",
		Summary:     "What changed between two catalog versions",
		Description: "from and to are versions listed by GET /v1/catalog/versions (the built-in catalog's included), or the version this node prices with (which may be its --catalog file's). 404 unknown_catalog_version for any other.",
		Tags:        []string{"Pricing"},
		Errors:      []int{404, 422, 503},
	}, func(ctx context.Context, in *struct {
		From string `query:"from" required:"true" doc:"The older version."`
		To   string `query:"to" required:"true" doc:"The newer version."`
	}) (*struct{ Body *CatalogDiff }, error) {
		records, err := s.catalogs.Catalogs(ctx)
		if err != nil {
			return nil, s.fail(err)
		}
		from, err := s.catalogVersion(records, in.From)
		if err != nil {
			return nil, s.fail(err)
		}
		to, err := s.catalogVersion(records, in.To)
		if err != nil {
			return nil, s.fail(err)
		}
		changes := catalog.Diff(from, to)
		if changes == nil {
			changes = []catalog.Change{}
		}
		return &struct{ Body *CatalogDiff }{&CatalogDiff{From: from.Version, To: to.Version, Changes: changes}}, nil
	})
}

// catalogVersion finds a version among the built-in and published ones, or
// as the catalog in use.
func (s *Server) catalogVersion(records []credit.CatalogRecord, version string) (*credit.Catalog, error) {
	for _, r := range catalog.Versions(records) {
		if r.Version != version {
			continue
		}
		c, err := catalog.Parse(r.YAML)
		if err != nil {
			// Published by another build, and refused by this one: every
			// node skips it; say so rather than hide it.
			return nil, credit.Errorf(credit.Invalid, "invalid_catalog", "catalog version %q is published but does not validate on this node", version)
		}
		return c, nil
	}
	if c := s.Catalog(); c != nil && c.Version == version {
		return c, nil
	}
	return nil, credit.Errorf(credit.NotFound, "unknown_catalog_version", "unknown catalog version %q", version)
}
