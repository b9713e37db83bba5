// Package catalog reads tally's price catalogs: a YAML file, validated whole,
// turned into an immutable *credit.Catalog. It also embeds the default catalog
// (the studio page, row for row) and compares two catalogs.
//
// The format, by example:
//
//	version: "2026-11-24.1"                 # required, unique per published catalog
//	effective_at: "2026-11-24T00:00:00Z"    # required, RFC 3339
//	max_images: 4                           # images per generation, default 4
//	prompt_enhancer_credits: 0              # surcharge per generation, default 0
//	models:
//	  - name: Nano Banana 2                 # id defaults to the slug: nano-banana-2
//	    kind: image                         # image | personalize | style_reference | upscale
//	    resolution: up to 4K                # "up to NK" | [1K, 2K, 4K] | unpublished
//	    price:
//	      per_image_by_resolution: {1K: 49, 2K: 73.5, 4K: 98}
//	    aspect_ratios: ["1:1", "16:9"]
//	    aspect_overrides:                   # optional: {multiplier: 1.5} or {credits: 60}
//	      "16:9": {multiplier: 1.25}
//	  - name: Topaz
//	    kind: upscale
//	    price:
//	      per_megapixel: {base: 20, factors: {2: 1, 3: 2, 4: 3}, round_to: 1}
//	  - name: Magnific Precision v2
//	    kind: upscale
//	    price:
//	      by_scale: {2: 65, 4: 260, 8: 520, 16: 1040}
//	  - name: Nano Banana Pro
//	    tags: [pro]                         # optional: labels plans and grants select by
//	    ...
//	plans:                                  # optional: how the studio gives credits
//	  - id: free                            # lower-case letters, digits, dashes
//	    name: Free
//	    program: true                       # accounts are put on it, not subscribed; default false
//	    topups: false                       # top-ups on sale on this plan; default true
//	    models: {exclude_tags: [pro]}       # what accounts on it may use; default every model
//	    allowances:
//	      - credits: 100
//	        every: day                      # day | month (a program: day only)
//	        source: free                    # a grant source: subscription, topup, promo, free, ...
//	        expires: period_end             # period_end (default) | never | a duration: 720h, 30d
//	        applies_to: {exclude_tags: [pro]}  # models, tags, exclude_models, exclude_tags
//	        rollover: {max_credits: 500, expires_after: 30d}  # monthly, period_end only
//	    unlimited:                          # not in a program
//	      - models: [nano-banana-2]         # ids or display names
//	        days: 7                         # 1 to 366, from the start of each billing period
//	        max_concurrent: 1               # default 1
//	        daily_fast: 50                  # fast generations a local day
//	        after_fast: relaxed             # block | relaxed
//
// Image, personalize and style reference entries are priced per_image or
// per_image_by_resolution; upscale entries per_megapixel or by_scale. Amounts
// are decimals with at most three decimals, read from the text, never via float.
// A tag named in a plan must be carried by some model.
package catalog

import (
	_ "embed"
	"os"
	"regexp"
	"strings"

	"github.com/goccy/go-yaml/ast"

	"github.com/tally-credits/tally/internal/credit"
)

//go:embed default.yaml
var defaultYAML []byte

// DefaultYAML returns the text of the built-in catalog.
func DefaultYAML() []byte { return defaultYAML }

// Default returns the built-in catalog. It is tested to load cleanly, so a
// failure here is a build mistake and panics.
func Default() *credit.Catalog {
	c, err := Parse(defaultYAML)
	if err != nil {
		panic("catalog: the built-in catalog is invalid: " + err.Error())
	}
	return c
}

// Limits of a catalog, so that prices stay far from overflow and a typo such as
// an extra zero in max_images is caught.
const (
	MaxImagesLimit = 100
	MaxScale       = 64
	MaxFactor      = 1000      // per_megapixel factor
	MaxMultiplier  = 100       // aspect override multiplier
	MaxRoundTo     = 1_000_000 // per_megapixel rounding step, in credits
	maxModels      = 10000
	// MaxFileBytes bounds a catalog file (the built-in one is 6 KB).
	MaxFileBytes     = 4 << 20
	maxVersionLength = 64
)

var (
	versionPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:+-]*$`)
	idPattern      = regexp.MustCompile(`^[a-z0-9.]+(-[a-z0-9.]+)*$`)
)

// ValidationError lists every mistake found in a catalog file. It unwraps to a
// credit.Error with reason invalid_catalog, so every layer can classify it.
type ValidationError struct {
	Issues []Issue
}

func (e *ValidationError) Error() string {
	lines := make([]string, len(e.Issues))
	for i, is := range e.Issues {
		lines[i] = "catalog: " + is.String()
	}
	return strings.Join(lines, "\n")
}

// Unwrap classifies the error as Invalid.
func (e *ValidationError) Unwrap() error {
	return credit.Errorf(credit.Invalid, "invalid_catalog", "catalog has %d error(s); first: %s", len(e.Issues), e.Issues[0])
}

// LoadFile reads and validates a catalog file. The error of an invalid file is a
// *ValidationError whose issues name the file.
func LoadFile(path string) (*credit.Catalog, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, credit.Errorf(credit.Invalid, "invalid_catalog", "catalog: cannot read %s: %v", path, unwrapPathError(err))
	}
	return Parse(data)
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// Parse validates a whole catalog and builds it. On any mistake it returns a
// *ValidationError listing every one, and no catalog.
func Parse(data []byte) (*credit.Catalog, error) {
	t := &tree{}
	if len(data) > MaxFileBytes {
		t.errorf(nil, "", "the file is %d bytes; a catalog is at most %d", len(data), MaxFileBytes)
		return nil, &ValidationError{Issues: t.issues}
	}
	root := t.parse(data)
	if root == nil {
		return nil, &ValidationError{Issues: t.issues}
	}
	b := builder{tree: t, maxImages: 4}
	var modelsNode ast.Node
	seen := t.mapping(root, "",
		field{"version", func(n ast.Node, p string) { b.version = b.versionText(n, p) }},
		field{"effective_at", func(n ast.Node, p string) { b.effectiveAt = b.time(n, p) }},
		field{"max_images", func(n ast.Node, p string) { b.maxImages = b.integer(n, p, 1, MaxImagesLimit) }},
		field{"prompt_enhancer_credits", func(n ast.Node, p string) { b.enhancer = b.credits(n, p, true) }},
		field{"models", func(n ast.Node, p string) { modelsNode = n; b.modelNodes = t.sequence(n, p) }},
		field{"plans", func(n ast.Node, p string) { b.plansNode = n; b.planNodes = t.sequence(n, p) }},
	)
	for _, k := range []string{"version", "effective_at", "models"} {
		if !seen[k] {
			t.errorf(root, k, "missing; every catalog needs one")
		}
	}
	_, isList := t.resolve(modelsNode).(*ast.SequenceNode)
	if isList && len(b.modelNodes) == 0 {
		t.errorf(modelsNode, "models", "the catalog has no models")
	}
	if len(b.modelNodes) > maxModels {
		t.errorf(root, "models", "%d models is more than the limit of %d", len(b.modelNodes), maxModels)
		b.modelNodes = nil
	}
	models := b.models()
	// A plan naming a model that could not be read is not reported for it:
	// the model's own mistake is.
	plans := b.plans(newRefs(models, isList && len(models) == len(b.modelNodes)))
	if len(t.issues) > 0 {
		return nil, &ValidationError{Issues: t.issues}
	}
	c := credit.NewCatalog(b.version, b.effectiveAt, models)
	c.Plans = plans
	return c, nil
}
