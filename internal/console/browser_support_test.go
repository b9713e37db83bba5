package console_test

import (
	"context"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/fetch"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"github.com/tally-credits/tally/internal/credit"
)

// The support desk in a real Chromium, signed in with a support key. The
// ledger's clock stands at 10:00 UTC, yesterday (D−1) while the test writes
// the past, then today (D). Every figure is worked out by hand from the
// studio page's prices (Nano Banana 2 at 2K: 73.5 an image; Flux Dev: 5):
//
//	D−1  sup_ann   subscription grant 1000 (never expires)
//	     sup_ann   G1: Nano Banana 2, 2K, 4 images: 4 × 73.5 = 294 held;
//	               3 delivered: 3 × 73.5 = 220.5 charged      → 779.5
//	     sup_busy  top-up grant 200; 21 × Flux Dev, 1 image, a minute apart:
//	               21 × 5 = 105 charged                         → 95
//	D    sup_bob   top-up grant 200 (never); G2: Flux Dev, 1 image, held 5
//	               (from the top-up, its only grant); promo grant 50 expiring
//	               D+5 12:00; a generic hold of 4 (from the promo, which
//	               expires first)        → available 200 − 5 + 50 − 4 = 241, held 9
//	     sup_f01 … sup_f50, zed_other: accounts with nothing in them
//
// Then, in the browser, with the support key:
//
//	sup_ann  refund 73.5 of G1 (its answer lost once, retried)  779.5 + 73.5 = 853
//	         grant 10 promo, expiring D+60 (double-clicked)     853 + 10 = 863
//	         take back 5 (from the subscription grant, which the
//	         account would spend last)                           863 − 5 = 858
//	         void the promo grant: takes back 10                 858 − 10 = 848
//	sup_bob  release the generic hold: returns 4                 241 + 4 = 245, held 5
//	         release G2's hold: returns 5                        245 + 5 = 250, held 0
//
// The reports of that ledger:
//
//	liability now: subscription 848 (sup_ann), top-up 95 + 200 = 295, promo
//	  50 (sup_bob's, expiring D+5: within 7 days; sup_ann's promo is void):
//	  outstanding 848 + 295 + 50 = 1193, within 7/30/90 days 50, never
//	  848 + 295 = 1143
//	liability at D (00:00): 779.5 + 95 = 874.5, all never expiring
//	consumption D−29 to D+1: Nano Banana 2 220.5 − 73.5 = 147 (1 charge,
//	  subscription), Flux Dev 105 (21 charges, top-up): 252 in 22 charges;
//	  by day: D−1 220.5 + 105 = 325.5, D −73.5 (the refund)
//	impact of the next catalog (Nano Banana 2 at 2K: 80; no Flux Dev) over
//	  D−29 to D+1: G1 charged 220.5 then, 3 × 80 = 240 now, +19.5; the 21
//	  Flux Dev generations unpriced (unknown_model), charged 105

// paused is a request the test intercepted at its answer: the method, the
// URL and the Idempotency-Key it was sent with.
type paused struct{ method, url, key string }

func TestBrowserSupport(t *testing.T) {
	exe := chromium(t)
	s := startSupportStudio(t)
	b := newBrowser(t, exe)
	p := b.tab("support", 1280, 900)
	p.base = s.URL
	p.t = t
	ctx := context.Background()
	day := func(n int) string { return s.Day.AddDate(0, 0, n).Format(time.DateOnly) }

	// Every write the console sends is seen at its answer: the first
	// refund's answer is lost on its way back (the connection reset), as
	// a flaky network would, after the server did the refund.
	var (
		mu     sync.Mutex
		writes []paused
		lose   = 1 // refund answers still to lose
	)
	pausedEvents := chromedp.Events(p.ctx, fetch.RequestPaused)
	go func() {
		for ev, err := range pausedEvents {
			if err != nil {
				return
			}
			key, _ := ev.Request.Headers["Idempotency-Key"].(string)
			mu.Lock()
			drop := false
			if ev.Request.Method == "POST" {
				writes = append(writes, paused{ev.Request.Method, ev.Request.URL, key})
				if strings.HasSuffix(ev.Request.URL, "/refund") && lose > 0 {
					lose--
					drop = true
				}
			}
			mu.Unlock()
			if drop {
				_, _ = chromedp.Call(p.ctx, fetch.FailRequest, fetch.FailRequestParams{RequestID: ev.RequestID, ErrorReason: network.ErrorReasonConnectionReset})
			} else {
				_, _ = chromedp.Call(p.ctx, fetch.ContinueRequest, fetch.ContinueRequestParams{RequestID: ev.RequestID})
			}
		}
	}()
	var patterns []*fetch.RequestPattern
	for _, w := range []string{"/refund", "/grants", "/debits", "/void", "/release", "/fail"} {
		patterns = append(patterns, &fetch.RequestPattern{URLPattern: "*/v1/*" + w, RequestStage: fetch.RequestStageResponse})
	}
	if _, err := chromedp.Call(p.ctx, fetch.Enable, fetch.EnableParams{Patterns: patterns}); err != nil {
		t.Fatal(err)
	}
	writesTo := func(suffix string) []paused {
		mu.Lock()
		defer mu.Unlock()
		var out []paused
		for _, w := range writes {
			if strings.HasSuffix(w.url, suffix) {
				out = append(out, w)
			}
		}
		return out
	}

	p.login(s.Key, "/accounts")
	p.waitEqual("#who", "Support key")

	t.Run("FindAccount", func(t *testing.T) {
		p.t = t
		// Every account, by id: the first page of 50 of 54.
		p.waitCount("#account-list tbody tr", 50)
		p.setValue("#search-prefix", "sup_")
		p.click(`#search-form button[type="submit"]`)
		// 53 accounts start with sup_: sup_ann, sup_bob, sup_busy and
		// sup_f01 … sup_f50; 50 a page.
		p.waitContains("#search-count", "50 accounts whose id starts with \u201csup_\u201d so far")
		p.waitCount("#account-list tbody tr", 50)
		p.click("#search-more")
		p.waitCount("#account-list tbody tr", 53)
		p.waitEqual("#search-count", "53 accounts whose id starts with \u201csup_\u201d")
		if hidden := p.eval(`document.getElementById("search-more").hidden`); hidden != true {
			t.Error("Load more is offered after the last page")
		}
		if got := p.eval(`Array.from(document.querySelectorAll("#account-list tbody tr"), r => r.dataset.account).slice(-4).join(" ")`); got != "sup_f47 sup_f48 sup_f49 sup_f50" {
			t.Errorf("the last rows are %v; want sup_f47 to sup_f50, by id", got)
		}
		p.setValue("#search-prefix", "sup_b")
		p.click(`#search-form button[type="submit"]`)
		p.waitCount("#account-list tbody tr", 2)
		// sup_bob: 241 available, 9 held (4 + 5).
		p.wantCells(t, `#account-list tr[data-account="sup_bob"]`, map[string]string{
			"Account": "sup_bob", "Kind": "User", "Plan": "none", "Available": "241", "Held": "9",
		})
		p.setValue("#search-prefix", "sup_a")
		p.click(`#search-form button[type="submit"]`)
		p.waitCount("#account-list tbody tr", 1)
		p.wantCells(t, `#account-list tr[data-account="sup_ann"]`, map[string]string{"Available": "779.5", "Held": "0"})
		p.shot("accounts")
		p.click(`#account-list tr[data-account="sup_ann"] a`)
		p.waitEqual("#account-h", "sup_ann")
		p.waitEqual("#a-available", "779.5")
	})

	// auditRow is the newest audit row of an action.
	auditSel := func(action string) string { return `#audit tbody tr[data-action="` + action + `"]` }

	t.Run("RefundRetried", func(t *testing.T) {
		p.t = t
		// G1: 4 held at 73.5 = 294; 3 delivered, 220.5 charged.
		gen := `#generations tr[data-generation="` + s.G1 + `"]`
		p.wantCells(t, gen, map[string]string{
			"Model": "Nano Banana 2", "Status": "completed", "Images": "3 of 4", "Held": "294", "Charged": "220.5", "Refunded": "–",
		})
		p.click(gen + ` button[data-act="refund"]`)
		p.do(chromedp.WaitVisible(chromedp.CSS("#confirm")))
		// The whole charge is offered first: 220.5 of 220.5.
		p.waitEqual("#confirm-effect", "Refund 220.5 of 220.5 credits to sup_ann")
		// More than was charged, or more than three decimals, is not sent.
		p.setValue("#confirm-amount", "220.6")
		p.waitEqual("#confirm-msg", "At most 220.5 credits can be refunded.")
		p.setValue("#confirm-amount", "1.2345")
		p.waitContains("#confirm-msg", "at most three decimals")
		p.setValue("#confirm-amount", "73.5")
		p.waitEqual("#confirm-msg", "")
		p.shotView("refund-dialog")
		key := p.confirmWith(t, "Refund 73.5 of 220.5 credits to sup_ann", "Ticket 4411: one image came out blank")
		// The answer was lost: the page says so and keeps the confirmation.
		p.waitContains("#confirm-msg", "cannot be reached", "same idempotency key")
		g, err := s.Ledger.Generation(ctx, s.G1)
		if err != nil {
			t.Fatal(err)
		}
		if g.Refunded != amount(t, "73.5") {
			t.Fatalf("after the lost answer, G1 refunded %v; want 73.5 (the server did it)", g.Refunded)
		}
		p.click("#confirm-ok") // the retry
		p.do(chromedp.WaitNotVisible(chromedp.CSS("#confirm")))
		// 779.5 + 73.5 = 853.
		p.waitEqual("#account-msg", "Refunded 73.5 credits to sup_ann. Available now: 853 credits.")
		p.waitEqual("#a-available", "853")
		b.dropProblems(regexp.MustCompile(`net::ERR_CONNECTION_RESET .*/v1/generations/[^/]+/refund$`))

		sent := writesTo("/v1/generations/" + s.G1 + "/refund")
		if len(sent) != 2 || sent[0].key != key || sent[1].key != key {
			t.Errorf("the refund was sent as %+v; want twice, both with the confirmation's key %s", sent, key)
		}
		if g, err = s.Ledger.Generation(ctx, s.G1); err != nil {
			t.Fatal(err)
		} else if g.Refunded != amount(t, "73.5") {
			t.Errorf("G1 refunded %v after the retry; want 73.5, once", g.Refunded)
		}
		es, err := s.Ledger.Entries(ctx, "sup_ann", 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		refunds := 0
		for _, e := range es {
			if e.Kind == credit.EntryRefund {
				refunds++
			}
		}
		if refunds != 1 {
			t.Errorf("sup_ann's journal has %d refund entries; want 1", refunds)
		}
		p.waitContains("#entries tbody", "Refund")
		if row := p.historyRow("Refund"); row["Charged"] != "-73.5" || row["Available"] != "+73.5" || row["Balance after"] != "853" {
			t.Errorf("refund row = %q; want Charged -73.5, Available +73.5, Balance after 853", row)
		}
		// 220.5 − 73.5 = 147 is left to refund: the button stays.
		p.wantCells(t, gen, map[string]string{"Charged": "220.5", "Refunded": "73.5"})
		p.wantCells(t, auditSel("generation.refund"), map[string]string{
			"Who": s.KeyID + " (you)", "Action": "Refund\ngeneration.refund", "Reason": "Ticket 4411: one image came out blank",
		})
		p.waitContains(auditSel("generation.refund")+` td[data-label="Details"]`, "refunded 73.5")
	})

	var promo string
	t.Run("GrantDoubleClicked", func(t *testing.T) {
		p.t = t
		p.choose("#grant-source", "promo")
		p.setValue("#grant-credits", "10")
		p.setDate("#grant-expiry", day(60))
		p.setValue("#grant-memo", "sorry for the blank image")
		p.click("#grant-go")
		p.do(chromedp.WaitVisible(chromedp.CSS("#confirm")))
		p.waitEqual("#confirm-effect", "Grant 10 promo credits to sup_ann, expiring at "+day(60)+" 00:00 UTC")
		p.setValue("#confirm-reason", "Goodwill for ticket 4411")
		// A double click on Grant: two clicks as fast as a hand makes them.
		xy, _ := p.eval(`(() => { const r = document.getElementById("confirm-ok").getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()`).([]any)
		x, _ := xy[0].(float64)
		y, _ := xy[1].(float64)
		p.do(chromedp.MouseClickXY(x, y), chromedp.MouseClickXY(x, y, chromedp.ClickCount(2)))
		p.do(chromedp.WaitNotVisible(chromedp.CSS("#confirm")))
		// 853 + 10 = 863.
		p.waitEqual("#account-msg", "Granted 10 promo credits to sup_ann. Available now: 863 credits.")
		p.waitEqual("#a-available", "863")
		if n := len(writesTo("/v1/accounts/sup_ann/grants")); n != 1 {
			t.Errorf("the double click sent %d grants; want 1", n)
		}
		a, err := s.Ledger.Account(ctx, "sup_ann")
		if err != nil {
			t.Fatal(err)
		}
		var promos []credit.Grant
		for _, g := range a.Grants {
			if g.Source == credit.SourcePromo {
				promos = append(promos, g)
			}
		}
		if a.Available != credit.Whole(863) || len(promos) != 1 || promos[0].Granted != credit.Whole(10) {
			t.Fatalf("ledger: sup_ann has %v available and promo grants %+v; want 863 and one of 10", a.Available, promos)
		}
		promo = promos[0].ID
		if want := s.Day.AddDate(0, 0, 60); !promos[0].ExpiresAt.Equal(want) {
			t.Errorf("the promo grant expires at %v; want %v", promos[0].ExpiresAt, want)
		}
		p.wantCells(t, `#grants tr[data-grant="`+promo+`"]`, map[string]string{"Source": "promo", "Granted": "10", "Remaining": "10", "Memo": "sorry for the blank image"})
		if row := p.historyRow("Grant"); row["Charged"] != "–" || row["Available"] != "+10" || row["Balance after"] != "863" {
			t.Errorf("grant row = %q; want Charged –, Available +10, Balance after 863", row)
		}
		p.wantCells(t, auditSel("grant.create"), map[string]string{"Who": s.KeyID + " (you)", "Reason": "Goodwill for ticket 4411"})
		p.waitContains(auditSel("grant.create")+` td[data-label="Details"]`, "credits 10", "source promo")
	})

	t.Run("TakeBack", func(t *testing.T) {
		p.t = t
		// More than is available: the API refuses, and the confirmation
		// says why in its words (863 can be taken back).
		p.setValue("#debit-credits", "1000")
		p.click("#debit-go")
		p.confirmWith(t, "Take back 1,000 credits from sup_ann", "Testing the limit")
		p.waitContains("#confirm-msg", "863 credits that can be taken back")
		b.dropProblems(regexp.MustCompile(`status of 4\d\d .*/v1/accounts/sup_ann/debits$`))
		p.click("#confirm-cancel")
		p.do(chromedp.WaitNotVisible(chromedp.CSS("#confirm")))
		p.waitEqual("#a-available", "863")
		p.setValue("#debit-credits", "5")
		p.click("#debit-go")
		p.confirmWith(t, "Take back 5 credits from sup_ann", "Duplicate goodwill credit")
		p.do(chromedp.WaitNotVisible(chromedp.CSS("#confirm")))
		// 863 − 5 = 858.
		p.waitEqual("#account-msg", "Took back 5 credits from sup_ann. Available now: 858 credits.")
		p.waitEqual("#a-available", "858")
		p.waitContains("#entries tbody", "Debit")
		if row := p.historyRow("Debit"); row["Charged"] != "–" || row["Available"] != "-5" || row["Balance after"] != "858" {
			t.Errorf("debit row = %q; want Charged –, Available -5, Balance after 858", row)
		}
		// From the subscription grant, which the account would spend last
		// (it never expires; the promo does): 1000 − 220.5 + 73.5 − 5 = 848.
		p.waitContains("#grants tbody", "848")
		p.wantCells(t, `#grants tr[data-grant="`+promo+`"]`, map[string]string{"Remaining": "10"})
		p.wantCells(t, auditSel("account.debit"), map[string]string{"Who": s.KeyID + " (you)", "Action": "Take back\naccount.debit", "Reason": "Duplicate goodwill credit"})
	})

	t.Run("VoidGrant", func(t *testing.T) {
		p.t = t
		p.click(`#grants tr[data-grant="` + promo + `"] button[data-act="void"]`)
		// No reason, nothing sent.
		p.do(chromedp.WaitVisible(chromedp.CSS("#confirm")))
		p.click("#confirm-ok")
		p.waitEqual("#confirm-msg", "Say why: the reason goes to the audit log.")
		if n := len(writesTo("/void")); n != 0 {
			t.Errorf("a void without a reason was sent %d times", n)
		}
		p.confirmWith(t, "Void grant "+promo+" of sup_ann: takes back 10 credits", "Promo given in error")
		p.do(chromedp.WaitNotVisible(chromedp.CSS("#confirm")))
		// 858 − 10 = 848.
		p.waitEqual("#account-msg", "Voided grant "+promo+": took back 10 credits. Available now: 848 credits.")
		p.waitEqual("#a-available", "848")
		p.waitContains("#entries tbody", "Void")
		if row := p.historyRow("Void"); row["Charged"] != "–" || row["Available"] != "-10" || row["Balance after"] != "848" {
			t.Errorf("void row = %q; want Charged –, Available -10, Balance after 848", row)
		}
		if n := p.eval(`document.querySelectorAll('#grants button[data-act="void"][data-id="` + promo + `"]').length`); n != float64(0) {
			t.Errorf("the voided grant still offers Void (%v buttons)", n)
		}
		p.wantCells(t, auditSel("grant.void"), map[string]string{"Who": s.KeyID + " (you)", "Reason": "Promo given in error"})
		p.waitContains(auditSel("grant.void")+` td[data-label="Details"]`, "took back 10")
		p.shot("account-after")
	})

	t.Run("ReleaseHolds", func(t *testing.T) {
		p.t = t
		p.open("/accounts/sup_bob")
		p.waitEqual("#a-available", "241")
		p.waitEqual("#a-held", "9")
		p.click(`#holds tr[data-hold="` + s.Hold + `"] button[data-act="release"]`)
		p.confirmWith(t, "Release hold "+s.Hold+" of sup_bob: returns 4 credits", "The export job was canceled")
		p.do(chromedp.WaitNotVisible(chromedp.CSS("#confirm")))
		// 241 + 4 = 245; 9 − 4 = 5 held.
		p.waitEqual("#account-msg", "Released hold "+s.Hold+": 4 credits returned. Available now: 245 credits.")
		p.waitEqual("#a-available", "245")
		p.waitEqual("#a-held", "5")
		p.wantCells(t, auditSel("hold.release"), map[string]string{"Who": s.KeyID + " (you)", "Reason": "The export job was canceled"})

		// G2's open hold: released by failing the generation.
		p.click(`#holds tr[data-hold="` + s.G2Hold + `"] button[data-act="release"]`)
		p.waitContains("#confirm-note", s.G2)
		p.confirmWith(t, "Release hold "+s.G2Hold+" of sup_bob: returns 5 credits", "Stuck in the queue for an hour")
		p.do(chromedp.WaitNotVisible(chromedp.CSS("#confirm")))
		// 245 + 5 = 250; nothing held.
		p.waitEqual("#account-msg", "Released hold "+s.G2Hold+": 5 credits returned. Available now: 250 credits.")
		p.waitEqual("#a-available", "250")
		p.waitEqual("#a-held", "0")
		p.waitContains("#holds tbody", "No open holds")
		if n := len(writesTo("/v1/generations/" + s.G2 + "/fail")); n != 1 {
			t.Errorf("G2's hold was released by %d POSTs to its fail; want 1", n)
		}
		p.wantCells(t, `#generations tr[data-generation="`+s.G2+`"]`, map[string]string{"Status": "failed", "Charged": "–"})
		if row := p.historyRow("Release"); row["Charged"] != "–" || row["Held"] != "-5" || row["Available"] != "+5" || row["Balance after"] != "250" {
			t.Errorf("release row = %q; want Charged –, Held -5, Available +5, Balance after 250", row)
		}
		p.wantCells(t, auditSel("hold.release"), map[string]string{"Reason": "Stuck in the queue for an hour"})
		if got := p.eval(`document.querySelectorAll('#audit tr[data-action="hold.release"]').length`); got != float64(2) {
			t.Errorf("sup_bob's audit log has %v hold.release entries; want 2", got)
		}
	})

	t.Run("Generations", func(t *testing.T) {
		p.t = t
		p.open("/accounts/sup_busy")
		p.waitEqual("#a-available", "95") // 200 − 21 × 5
		p.waitCount("#generations tbody tr", 20)
		p.waitEqual("#gen-count", "20 generations so far")
		// Newest first: the last one made is first.
		if got := p.eval(`document.querySelector("#generations tbody tr").dataset.generation`); got != s.BusyGenIDs[20] {
			t.Errorf("the first generation listed is %v; want the newest, %s", got, s.BusyGenIDs[20])
		}
		p.click("#gen-more")
		p.waitCount("#generations tbody tr", 21)
		p.waitEqual("#gen-count", "21 generations")
		p.choose("#gen-status", "failed")
		p.waitContains("#generations tbody", "No generations match.")
		p.choose("#gen-status", "completed")
		p.choose("#gen-model", "flux-dev")
		p.waitCount("#generations tbody tr", 20)
		p.wantCells(t, "#generations tbody tr", map[string]string{"Model": "Flux Dev", "Status": "completed", "Images": "1 of 1", "Charged": "5"})
		p.choose("#gen-model", "nano-banana-2")
		p.waitContains("#generations tbody", "No generations match.")
	})

	t.Run("Reports", func(t *testing.T) {
		p.t = t
		downloads := t.TempDir()
		if _, err := chromedp.CallBrowser(p.ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads,
		}); err != nil {
			t.Fatal(err)
		}
		p.open("/")
		p.click("#nav-reports")
		p.waitEqual("h1", "Reports")
		// Liability now (see the top of the file).
		p.waitEqual("#l-outstanding", "1,193")
		p.waitEqual("#l-within7", "50")
		p.waitEqual("#l-within30", "50")
		p.waitEqual("#l-within90", "50")
		p.waitEqual("#l-never", "1,143")
		for src, want := range map[string]map[string]string{
			"promo":        {"Source": "Promo", "Outstanding": "50", "Within 7 days": "50", "Within 30 days": "50", "Within 90 days": "50", "Never expiring": "0"},
			"subscription": {"Source": "Subscription", "Outstanding": "848", "Within 7 days": "0", "Never expiring": "848"},
			"topup":        {"Source": "Top-up", "Outstanding": "295", "Within 90 days": "0", "Never expiring": "295"},
			"total":        {"Source": "Total", "Outstanding": "1,193", "Within 7 days": "50", "Never expiring": "1,143", "Past expiry": "0"},
		} {
			p.wantCells(t, `#liability-table tr[data-source="`+src+`"]`, want)
		}
		// The chart: a bar per source, labelled with its name and amount.
		for src, want := range map[string]string{"promo": "Promo 50", "subscription": "Subscription 848", "topup": "Top-up 295"} {
			got := p.eval(`Array.from(document.querySelectorAll('#liability-chart g[data-source="` + src + `"] text'), e => e.textContent).join(" ")`)
			if got != want {
				t.Errorf("liability bar of %s reads %v; want %q", src, got, want)
			}
		}
		// The longest bar is the largest amount.
		widths := p.eval(`Object.fromEntries(Array.from(document.querySelectorAll("#liability-chart g[data-source]"), g => [g.dataset.source, g.querySelector("rect").getBBox().width]))`).(map[string]any)
		if widths["subscription"].(float64) <= widths["topup"].(float64) || widths["topup"].(float64) <= widths["promo"].(float64) {
			t.Errorf("liability bar widths %v; want subscription > top-up > promo", widths)
		}
		// At the start of today: 779.5 + 95.
		p.setDate("#liability-at", day(0))
		p.click(`#liability-form button[type="submit"]`)
		p.waitEqual("#l-outstanding", "874.5")
		p.waitEqual("#l-never", "874.5")
		p.waitEqual("#l-within7", "0")
		p.waitContains("#liability-when", "At "+day(0)+" 00:00 UTC")
		p.click("#liability-csv")
		csv := readDownload(t, filepath.Join(downloads, "tally-liability-"+day(0)+".csv"))
		if !strings.HasPrefix(csv, "source,outstanding_credits,expiring_within_7_days_credits,") || !strings.Contains(csv, "\ntotal,874.5,0,0,0,874.5,0") {
			t.Errorf("liability CSV:\n%s\nwant the header and total,874.5,0,0,0,874.5,0", csv)
		}

		// Consumption over the last 30 days, by model.
		if from, to := p.eval(`document.getElementById("consumption-from").value`), p.eval(`document.getElementById("consumption-to").value`); from != day(-29) || to != day(1) {
			t.Errorf("consumption window %v to %v; want the last 30 days, %s to %s", from, to, day(-29), day(1))
		}
		p.waitContains("#consumption-total", "Charged 252 credits in 22 charges")
		p.wantCells(t, `#consumption-table tr[data-key="nano-banana-2"]`, map[string]string{"Model": "Nano Banana 2", "Charged": "147", "Charges": "1", "Subscription": "147", "Top-up": "0"})
		p.wantCells(t, `#consumption-table tr[data-key="flux-dev"]`, map[string]string{"Model": "Flux Dev", "Charged": "105", "Charges": "21", "Subscription": "0", "Top-up": "105"})
		p.wantCells(t, `#consumption-table tr[data-key="total"]`, map[string]string{"Charged": "252", "Charges": "22", "Subscription": "147", "Top-up": "105"})
		for sel, want := range map[string]string{
			`#consumption-chart g[data-key="nano-banana-2"] rect[data-source="subscription"]`: "147",
			`#consumption-chart g[data-key="flux-dev"] rect[data-source="topup"]`:             "105",
		} {
			if got := p.eval(`(document.querySelector('` + sel + `') || {}).dataset?.credits || ""`); got != want {
				t.Errorf("%s: %v credits; want %s", sel, got, want)
			}
		}
		if got := p.eval(`Array.from(document.querySelectorAll("#consumption-chart .bar-total"), e => e.textContent).join(" ")`); got != "105 147" {
			t.Errorf("consumption bar totals %v; want 105 147 (flux-dev, nano-banana-2, by key)", got)
		}
		if got := p.text("#consumption-legend"); got != "Subscription\nTop-up" && got != "Subscription Top-up" {
			t.Errorf("consumption legend %q; want Subscription and Top-up", got)
		}
		groupedBy := func(want string) {
			t.Helper()
			p.waitText("#consumption-table thead th", "the first column "+want, func(s string) bool { return strings.EqualFold(s, want) })
		}
		p.choose("#consumption-by", "source")
		groupedBy("Source")
		p.wantCells(t, `#consumption-table tr[data-key="subscription"]`, map[string]string{"Source": "Subscription", "Charged": "147", "Charges": "1"})
		p.wantCells(t, `#consumption-table tr[data-key="topup"]`, map[string]string{"Source": "Top-up", "Charged": "105", "Charges": "21"})
		p.choose("#consumption-by", "day")
		groupedBy("Day")
		p.wantCells(t, `#consumption-table tr[data-key="`+day(-1)+`"]`, map[string]string{"Charged": "325.5", "Charges": "22", "Subscription": "220.5", "Top-up": "105"})
		p.wantCells(t, `#consumption-table tr[data-key="`+day(0)+`"]`, map[string]string{"Charged": "-73.5", "Charges": "0", "Subscription": "-73.5"})
		p.shot("reports")
		p.click("#consumption-csv")
		csv = readDownload(t, filepath.Join(downloads, "tally-consumption-"+day(-29)+"-"+day(1)+"-by-day.csv"))
		if !strings.HasPrefix(csv, "day,charged_credits,charges,") || !strings.Contains(csv, "\n"+day(-1)+",325.5,22,") {
			t.Errorf("consumption CSV:\n%s\nwant the header and %s,325.5,22,…", csv, day(-1))
		}
	})

	t.Run("CatalogImpact", func(t *testing.T) {
		p.t = t
		p.open("/catalog")
		p.waitContains("#versions", s.Next, "scheduled", "2026-11-24.seed", "in use")
		// The diff: the seed to the next catalog.
		p.waitContains("#diff-table", "Price up", "73.5 → 80", "Model removed", "flux-dev")
		if v := p.eval(`document.getElementById("impact-version").value`); v != s.Next {
			t.Errorf("impact version %v; want the newer of the two compared, %s", v, s.Next)
		}
		p.waitContains("#impact-summary", s.Next, "1 generation charged 220.5 then would be charged 240 (+19.5)", "cannot price 21 generations (charged 105)")
		p.wantCells(t, `#impact-table tr[data-model="nano-banana-2"]`, map[string]string{
			"Generations": "1", "Charged then": "220.5", "Charged now": "240", "Difference": "+19.5", "Unpriced": "0",
		})
		p.wantCells(t, `#impact-table tr[data-model="flux-dev"]`, map[string]string{
			"Generations": "0", "Charged then": "0", "Charged now": "0", "Difference": "0", "Unpriced": "21 (charged 105)\nunknown_model × 21",
		})
		p.wantCells(t, `#impact-table tr[data-model="total"]`, map[string]string{
			"Model": "Total", "Generations": "1", "Charged then": "220.5", "Charged now": "240", "Difference": "+19.5", "Unpriced": "21 (charged 105)",
		})
		// A window with nothing in it: from D+1.
		p.setDate("#impact-from", day(1))
		p.setDate("#impact-to", day(2))
		p.click(`#impact-form button[type="submit"]`)
		p.waitEqual("#impact-summary", "No generation was charged from "+day(1)+" to "+day(2)+" (not included).")
		p.shot("catalog-impact")
	})

	t.Run("Narrow", func(t *testing.T) {
		m := b.tab("support-mobile", 375, 800)
		m.base = s.URL
		m.t = t
		m.login(s.Key, "/accounts")
		for _, path := range []string{"/accounts", "/accounts/sup_ann", "/reports", "/catalog"} {
			m.open(path)
			switch path {
			case "/accounts":
				m.waitCount("#account-list tbody tr", 50)
			case "/accounts/sup_ann":
				m.waitEqual("#a-available", "848")
				m.waitContains("#audit tbody", "generation.refund")
			case "/reports":
				m.waitEqual("#l-outstanding", "1,193")
				m.waitContains("#consumption-table", "Flux Dev")
			case "/catalog":
				m.waitContains("#impact-table", "Nano Banana 2")
			}
			if w, _ := m.eval(`document.documentElement.scrollWidth`).(float64); w > 375 {
				t.Errorf("%s at 375 px: scrollWidth = %v; want no horizontal scroll", path, w)
			}
			m.shot(strings.Trim(strings.ReplaceAll(path, "/", "-"), "-"))
		}
		// The confirmation fits the narrow screen; Cancel sends nothing.
		m.open("/accounts/sup_ann")
		m.click(`#generations tr[data-generation="` + s.G1 + `"] button[data-act="refund"]`)
		m.waitEqual("#confirm-effect", "Refund 147 of 147 credits to sup_ann") // 220.5 − 73.5 left
		box, _ := m.eval(`(() => { const r = document.getElementById("confirm").getBoundingClientRect(); return [r.left, r.right]; })()`).([]any)
		if len(box) != 2 || box[0].(float64) < 0 || box[1].(float64) > 375 {
			t.Errorf("the confirmation at 375 px spans %v; want it inside the viewport", box)
		}
		m.shotView("confirm")
		m.click("#confirm-cancel")
		m.do(chromedp.WaitNotVisible(chromedp.CSS("#confirm")))
		time.Sleep(100 * time.Millisecond)
		b.mu.Lock()
		for _, r := range b.requests {
			if strings.HasPrefix(r, "support-mobile POST ") && strings.HasSuffix(r, "/refund") {
				t.Errorf("Cancel sent a refund: %s", r)
			}
		}
		b.mu.Unlock()
	})
}
