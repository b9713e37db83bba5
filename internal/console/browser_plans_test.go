package console_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tally-credits/tally/internal/console"
	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/httpapi"
	"github.com/tally-credits/tally/internal/sqlite"
)

// The studio's plans in a real Chromium: examples/plans.yaml is the
// catalog, and the ledger's clock stands at 31 December 2026, 10:00 UTC, so
// that every date the console shows can be worked out by hand.

// plansNow is the ledger's clock: a subscription started now renews on the
// 31st of each month.
var plansNow = time.Date(2026, 12, 31, 10, 0, 0, 0, time.UTC)

// startPlansStudio runs the API and the console on examples/plans.yaml,
// with one account on the free program: free_user, in UTC.
func startPlansStudio(t *testing.T) *studio {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "tally.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cat := plansCatalog(t)
	var srv *httpapi.Server
	ui := console.New(console.Config{Catalog: func() *credit.Catalog { return srv.Catalog() }, Version: "test"})
	srv = httpapi.NewServer(httpapi.Config{Catalog: cat, AdminKey: browserAdminKey, Version: "test", Console: ui})
	ledger := credit.NewLedger(db, credit.LedgerConfig{Catalog: srv.Catalog, Now: func() time.Time { return plansNow }})
	srv.SetLedger(ledger)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	if _, err := ledger.OpenAccount(ctx, nil, credit.AccountSpec{ID: "free_user", Plan: "free"}); err != nil {
		t.Fatal(err)
	}
	return &studio{URL: ts.URL, Ledger: ledger}
}

// entries is how many journal entries the account has: a write of its
// free credits would be one.
func entries(t *testing.T, l *credit.Ledger, account string) int {
	t.Helper()
	es, err := l.Entries(context.Background(), account, 0, 100)
	if err != nil {
		t.Fatal(err)
	}
	return len(es)
}

func TestBrowserPlans(t *testing.T) {
	exe := chromium(t)
	s := startPlansStudio(t)
	b := newBrowser(t, exe)
	p := b.tab("plans", 1280, 900)
	p.base = s.URL
	p.t = t
	p.login(browserAdminKey, "/accounts/free_user")

	t.Run("FreeProgram", func(t *testing.T) {
		p.t = t
		if n := entries(t, s.Ledger, "free_user"); n != 0 {
			t.Fatalf("free_user has %d journal entries before the page; want none", n)
		}
		p.open("/accounts/free_user")
		// The free program: 100 credits a day, and nothing else.
		p.waitEqual("#a-free", "100")
		p.waitEqual("#a-available", "100")
		p.waitEqual("#a-subscription", "0")
		p.waitEqual("#a-topup", "0")
		if hidden := p.eval(`document.getElementById("a-other-card").hidden`); hidden != true {
			t.Error("the Other credits card shows with no other credits")
		}
		p.waitEqual("#a-plan", "Free")
		p.waitEqual("#a-sub", "No subscription.")
		p.waitContains("#grants tbody", "free", "100", "not for Pro models")
		p.shot("free-account")
		// Reading the account wrote nothing: today's free credits are
		// counted, not granted.
		if n := entries(t, s.Ledger, "free_user"); n != 0 {
			t.Errorf("free_user has %d journal entries after the page; want none (no write)", n)
		}

		// Image mode, on the account the Account page chose.
		p.open("/?model=nano-banana-2")
		p.waitEqual("#bal-plan", "Free")
		p.waitEqual("#labels-nano-banana-pro", "needs a subscription")
		p.waitEqual(`[id="labels-imagineart-1.5-pro"]`, "needs a subscription")
		if got := p.text("#labels-nano-banana-2"); got != "" {
			t.Errorf("Nano Banana 2 labels = %q; want none on the free program", got)
		}
		p.waitEqual("#bal-buys", "2 generations") // 100 / 49 at 1K
		p.click(`label[for="m-nano-banana-pro"]`)
		p.waitContains("#bal-plan-note", "Nano Banana Pro needs a subscription")
		if hidden := p.eval(`document.getElementById("bal-buys-line").hidden`); hidden != true {
			t.Error("the wallet says what the balance buys of a model the plan refuses")
		}
		p.shot("free-image")
	})

	var sub credit.Subscription
	t.Run("Subscribed", func(t *testing.T) {
		p.t = t
		var err error
		if sub, err = s.Ledger.Subscribe(context.Background(), nil, "free_user", credit.SubscriptionSpec{Plan: "unlimited"}); err != nil {
			t.Fatal(err)
		}
		p.open("/accounts/free_user")
		// Unlimited gives 2000 a month; while the subscription is active
		// the free program gives nothing.
		p.waitEqual("#a-subscription", "2,000")
		p.waitEqual("#a-free", "0")
		p.waitEqual("#a-available", "2,000")
		p.waitEqual("#a-plan", "Unlimited")
		// Started on 31 December: it renews on the 31st, next on 31 January.
		p.waitContains("#a-sub", "Subscription to Unlimited, billed monthly",
			"renews on the 31st of each month (the last day of shorter months)", "next renewal Jan 31, 2027")
		// Both windows run 7 days from 31 December, 10:00: until 7 January.
		p.waitContains("#a-unlimited",
			"Nano Banana 2 unlimited until Jan 7 · 50 of 50 fast generations left today · 0 of 1 running",
			"Nano Banana Pro unlimited until Jan 7 · 10 of 10 fast generations left today · 0 of 2 running")
		p.waitContains("#grants tbody", "subscription", "2,000")
		p.shot("unlimited-account")

		p.open("/?model=nano-banana-2")
		p.waitEqual("#bal-plan", "Unlimited")
		p.waitEqual("#labels-nano-banana-2", "free with your plan")
		// Nano Banana Pro: still labelled Pro, and free in its window too.
		p.waitContains("#labels-nano-banana-pro", "Pro", "free with your plan")
		if got := p.text(`[id="labels-imagineart-1.5-pro"]`); got != "Pro" {
			t.Errorf("ImagineArt 1.5 Pro labels = %q; want the neutral Pro badge", got)
		}
		p.waitEqual("#create", "Create · free with your plan")
		p.waitContains("#bal-plan-note", "Free with your plan")
		p.shot("unlimited-image")

		// A generation in the window holds nothing and takes one of the
		// day's 50 fast generations and the one that may run at a time.
		p.click("#create")
		p.waitContains("#gen-list .gen", "held", "Free with your plan, fast: nothing held")
		p.waitContains("#create-msg", "Free with your plan: nothing held.")
		p.open("/accounts/free_user")
		p.waitContains("#a-unlimited", "Nano Banana 2 unlimited until Jan 7 · 49 of 50 fast generations left today · 1 of 1 running")
		p.waitEqual("#a-available", "2,000")
		p.waitEqual("#a-held", "0")

		// Delivered, it is charged 0; the journal keeps its list price,
		// 49 (Nano Banana 2, one image at 1K).
		p.open("/?model=nano-banana-2")
		p.click(`#gen-list .gen [data-action="complete"]`)
		p.waitContains("#gen-list .gen", "delivered", "Free with your plan, fast (list price 49 credits)")
		p.open("/accounts/free_user")
		p.waitContains("#a-unlimited", "Nano Banana 2 unlimited until Jan 7 · 49 of 50 fast generations left today · 0 of 1 running")
		p.waitContains("#entries tbody", "Charge", "Nano Banana 2", "0 (list price 49)")
		p.waitEqual("#a-available", "2,000")

		// A promotion for one model: other credits, limited.
		if _, err := s.Ledger.AddGrant(context.Background(), nil, "free_user", credit.GrantSpec{Credits: credit.Whole(10), Source: credit.SourcePromo,
			AppliesTo: credit.Eligibility{Models: []string{"nano-banana-2"}}}); err != nil {
			t.Fatal(err)
		}
		p.open("/accounts/free_user")
		p.waitEqual("#a-other", "10")
		p.waitEqual("#a-available", "2,010")
		p.waitContains("#grants tbody", "promo", "10", "only for Nano Banana 2")
		if hidden := p.eval(`document.getElementById("a-other-card").hidden`); hidden != false {
			t.Error("the Other credits card is hidden with 10 other credits")
		}
	})

	// A change and a cancel at the period's end: both on 31 January.
	t.Run("Scheduled", func(t *testing.T) {
		p.t = t
		if sub.ID == "" {
			t.Skip("no subscription")
		}
		ctx := context.Background()
		if _, err := s.Ledger.ChangeSubscription(ctx, nil, sub.ID, "basic", credit.AtPeriodEnd); err != nil {
			t.Fatal(err)
		}
		p.open("/accounts/free_user")
		p.waitContains("#a-sub", "Subscription to Unlimited", "changes to Basic on Jan 31, 2027")
		if _, err := s.Ledger.CancelSubscription(ctx, nil, sub.ID, credit.AtPeriodEnd); err != nil {
			t.Fatal(err)
		}
		p.open("/accounts/free_user")
		p.waitContains("#a-sub", "Subscription to Unlimited", "ends on Jan 31, 2027")
		p.waitEqual("#a-plan", "Unlimited")
	})

	t.Run("Pricing", func(t *testing.T) {
		p.t = t
		p.open("/pricing")
		p.waitContains("#plan-free", "Free", "100 credits a day · free credits · not for Pro models", "no top-ups")
		p.waitContains("#plan-basic", "Basic", "1,000 credits a month", "top-ups on sale")
		p.waitContains("#plan-standard-yearly", "Standard (yearly)", "3,000 credits a month")
		p.waitContains("#plan-pro", "5,000 credits a month · rollover up to 2,000 for 30 days")
		p.waitContains("#plan-unlimited", "2,000 credits a month",
			"Nano Banana 2 unlimited for the first 7 days of each billing period · 1 at a time · 50 fast generations a day, then the relaxed queue",
			"Nano Banana Pro unlimited for the first 7 days of each billing period · 2 at a time · 10 fast generations a day, then wait until midnight")
		p.waitContains("#plans", "Pro models: ImagineArt 1.5 Pro, Nano Banana Pro, Recraft v4 Pro, Flux 2 Pro.")
		p.shot("plans")
	})

	t.Run("Narrow", func(t *testing.T) {
		n := b.tab("plans-mobile", 375, 800)
		n.t = t
		n.base = s.URL
		n.login(browserAdminKey, "/accounts/free_user")
		for _, path := range []string{"/pricing", "/accounts/free_user", "/"} {
			n.open(path)
			if path == "/accounts/free_user" {
				n.waitContains("#a-unlimited", "Nano Banana 2 unlimited")
			}
			if path == "/" {
				n.waitEqual("#labels-nano-banana-2", "free with your plan")
			}
			if w, _ := n.eval(`document.documentElement.scrollWidth`).(float64); w > 375 {
				t.Errorf("%s at 375 px: scrollWidth = %v; want no horizontal scroll", path, w)
			}
			n.shot(strings.Trim(strings.ReplaceAll(path, "/", "-"), "-") + "-plans")
		}
		n.do(chromedp.WaitVisible(chromedp.CSS("#labels-nano-banana-2")))
	})
}
