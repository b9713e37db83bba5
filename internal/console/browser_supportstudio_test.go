package console_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/console"
	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/httpapi"
	"github.com/tally-credits/tally/internal/sqlite"
)

// The ledger of the support desk's browser test, written as the story at
// the top of browser_support_test.go tells it.

// supportClock is the ledger's clock: it stands where the test sets it.
type supportClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *supportClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *supportClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// supportStudio is that running tally, with the ids the test acts on.
type supportStudio struct {
	URL        string
	Ledger     *credit.Ledger
	Key        string // the support key's secret
	KeyID      string // its id: the audit log's actor
	Day        time.Time
	Next       string // the second published catalog's version
	G1, G2     string
	Hold       string // sup_bob's generic hold
	G2Hold     string
	BobPromo   string
	BusyGenIDs []string
}

func startSupportStudio(t *testing.T) *supportStudio {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "tally.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })

	day := time.Now().UTC().Truncate(24 * time.Hour)
	clock := &supportClock{t: day.Add(-24 * time.Hour).Add(10 * time.Hour)}

	// The catalog in use is the seed; the next one, published to take
	// effect in 30 days, prices Nano Banana 2 at 2K at 80 and drops Flux Dev.
	seed := string(catalog.DefaultYAML())
	next := fmt.Sprintf("%s.next", day.AddDate(0, 0, 30).Format(time.DateOnly))
	flux := seed[strings.Index(seed, "  - name: Flux Dev\n"):strings.Index(seed, "  - name: Qwen Image\n")]
	nextYAML := strings.NewReplacer(`version: "2026-11-24.seed"`, `version: "`+next+`"`,
		`effective_at: "2026-11-24T00:00:00Z"`, `effective_at: "`+day.AddDate(0, 0, 30).Format(time.RFC3339)+`"`,
		"{1K: 49, 2K: 73.5, 4K: 98}", "{1K: 49, 2K: 80, 4K: 98}", flux, "").Replace(seed)
	var inUse *credit.Catalog
	for i, y := range []string{seed, nextYAML} {
		c, err := catalog.Parse([]byte(y))
		if err != nil {
			t.Fatal(err)
		}
		if err := db.PublishCatalog(ctx, credit.CatalogRecord{Version: c.Version, EffectiveAt: c.EffectiveAt, PublishedAt: clock.Now(), YAML: []byte(y)}); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			inUse = c
		}
	}
	if !strings.Contains(nextYAML, "2K: 80") || strings.Contains(nextYAML, "Flux Dev") {
		t.Fatal("the next catalog was not made from the seed")
	}

	var srv *httpapi.Server
	ui := console.New(console.Config{Catalog: func() *credit.Catalog { return srv.Catalog() }, Catalogs: db, Version: "test"})
	srv = httpapi.NewServer(httpapi.Config{Catalog: inUse, Catalogs: db, AdminKey: browserAdminKey, Version: "test", Console: ui})
	ledger := credit.NewLedger(db, credit.LedgerConfig{Catalog: srv.Catalog, Now: clock.Now})
	srv.SetLedger(ledger)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)

	s := &supportStudio{URL: ts.URL, Ledger: ledger, Day: day, Next: next}
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	grant := func(account string, credits int64, source credit.Source, expires time.Time) credit.Grant {
		t.Helper()
		g, err := ledger.AddGrant(ctx, nil, account, credit.GrantSpec{Credits: credit.Whole(credits), Source: source, ExpiresAt: expires, Memo: string(source)})
		if err != nil {
			t.Fatal(err)
		}
		return g
	}
	generation := func(account, model, resolution string, images int) credit.Generation {
		t.Helper()
		g, err := ledger.CreateGeneration(ctx, nil, credit.GenerationSpec{Account: account, TTL: 24 * time.Hour,
			Request: credit.QuoteRequest{Model: model, Resolution: resolution, AspectRatio: "1:1", Images: images}})
		if err != nil {
			t.Fatal(err)
		}
		return g
	}

	// D−1.
	must(ledger.CreateAccount(ctx, nil, "sup_ann", 0))
	grant("sup_ann", 1000, credit.SourceSubscription, time.Time{})
	g1 := generation("sup_ann", "nano-banana-2", "2K", 4)
	must(ledger.CompleteGeneration(ctx, nil, g1.ID, 3))
	s.G1 = g1.ID
	must(ledger.CreateAccount(ctx, nil, "sup_busy", 0))
	grant("sup_busy", 200, credit.SourceTopup, time.Time{})
	for range 21 {
		// A minute apart: ids sort by the time they were made.
		clock.Set(clock.Now().Add(time.Minute))
		g := generation("sup_busy", "flux-dev", "1K", 1)
		must(ledger.CompleteGeneration(ctx, nil, g.ID, 1))
		s.BusyGenIDs = append(s.BusyGenIDs, g.ID)
	}

	// D.
	clock.Set(day.Add(10 * time.Hour))
	must(ledger.CreateAccount(ctx, nil, "sup_bob", 0))
	grant("sup_bob", 200, credit.SourceTopup, time.Time{})
	g2 := generation("sup_bob", "flux-dev", "1K", 1)
	s.G2, s.G2Hold = g2.ID, g2.Hold
	s.BobPromo = grant("sup_bob", 50, credit.SourcePromo, day.AddDate(0, 0, 5).Add(12*time.Hour)).ID
	h, err := ledger.CreateHold(ctx, nil, "sup_bob", credit.HoldSpec{Credits: credit.Whole(4), TTL: 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	s.Hold = h.ID
	for i := 1; i <= 50; i++ {
		must(ledger.CreateAccount(ctx, nil, fmt.Sprintf("sup_f%02d", i), 0))
	}
	must(ledger.CreateAccount(ctx, nil, "zed_other", 0))

	k, secret, err := ledger.CreateKey(ctx, credit.KeySpec{Scope: credit.ScopeSupport, Name: "support desk"})
	if err != nil {
		t.Fatal(err)
	}
	s.Key, s.KeyID = secret, k.ID
	return s
}
