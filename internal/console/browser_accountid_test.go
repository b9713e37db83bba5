package console_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/tally-credits/tally/internal/credit"
)

// Account ids in addresses: escaped everywhere, and one the API refuses
// (or a path cannot carry) is said, not turned into an address that leads
// elsewhere.

// apiRefusal is how the API refuses to show account id to the admin: its
// problem's code and detail. A URL path cannot carry "." or "..", so they
// are asked in a quote's body.
func apiRefusal(t *testing.T, s *studio, id string) (code, detail string) {
	t.Helper()
	var req *http.Request
	if id == "." || id == ".." {
		body, _ := json.Marshal(map[string]string{"model": "nano-banana-2", "account": id})
		req, _ = http.NewRequest(http.MethodPost, s.URL+"/v1/quotes", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
	} else {
		req, _ = http.NewRequest(http.MethodGet, s.URL+"/v1/accounts/"+url.PathEscape(id), nil)
	}
	req.Header.Set("Authorization", "Bearer "+browserAdminKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var problem struct{ Code, Detail string }
	if err := json.NewDecoder(resp.Body).Decode(&problem); err != nil || resp.StatusCode < 400 {
		t.Fatalf("the API answers %d for account %q; want a refusal", resp.StatusCode, id)
	}
	return problem.Code, problem.Detail
}

// consoleSays is what the console shows for the API's refusal of id: an
// unknown account in its own words, anything else the API's detail.
func consoleSays(t *testing.T, s *studio, id string) string {
	t.Helper()
	code, detail := apiRefusal(t, s, id)
	if code == "unknown_account" {
		return "There is no account \u201c" + id + "\u201d."
	}
	return detail
}

func TestBrowserAccountIDs(t *testing.T) {
	exe := chromium(t)
	s := startStudio(t)
	// An id every part of a URL must escape: it reaches its own page.
	const odd = "a/b?c#d%2e&e"
	ctx := context.Background()
	if _, err := s.Ledger.CreateAccount(ctx, nil, odd, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Ledger.AddGrant(ctx, nil, odd, credit.GrantSpec{Credits: credit.Whole(12), Source: credit.SourcePromo}); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t, exe)
	// The API's refusals are the point here: Chromium logs each as a
	// failed load, which is no fault of the page.
	t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		refusal := regexp.MustCompile(`^ids: log network: Failed to load resource: the server responded with a status of (404|422) \(.*\) http://[^/]+/v1/(quotes|accounts/has%20space)$`)
		kept := b.problems[:0]
		for _, pr := range b.problems {
			if !refusal.MatchString(pr) {
				kept = append(kept, pr)
			}
		}
		b.problems = kept
	})
	p := b.tab("ids", 1280, 900)
	p.base = s.URL
	p.t = t
	p.login(browserAdminKey, "/accounts")

	refused := []string{"..", ".", "has space"}
	t.Run("Chooser", func(t *testing.T) {
		for _, id := range refused {
			p.t = t
			p.open("/accounts")
			p.do(chromedp.WaitVisible(chromedp.CSS("#account-id")))
			p.eval(`document.getElementById("account-id").value = ""`)
			p.do(chromedp.SendKeys(chromedp.CSS("#account-id"), id))
			p.click(`#account-form button[type="submit"]`)
			want := consoleSays(t, s, id)
			p.waitEqual("#account-msg", want)
			if got := p.eval(`location.pathname`); got != "/accounts" {
				t.Errorf("account %q: the chooser went to %v; want it to stay at /accounts", id, got)
			}
		}
		p.open("/accounts")
		p.eval(`document.getElementById("account-id").value = ""`)
		p.do(chromedp.SendKeys(chromedp.CSS("#account-id"), odd))
		p.click(`#account-form button[type="submit"]`)
		p.waitEqual("#account-h", odd)
		p.waitEqual("#a-available", "12")
		if got := p.eval(`decodeURIComponent(location.pathname)`); got != "/accounts/"+odd {
			t.Errorf("account %q opened at %v", odd, got)
		}
	})

	// The form without its script, and links to ids a path cannot carry,
	// come to the chooser, which says why.
	t.Run("Query", func(t *testing.T) {
		for _, id := range []string{"..", "."} {
			p.t = t
			p.open("/accounts?id=" + url.QueryEscape(id))
			p.waitEqual("#account-msg", consoleSays(t, s, id))
			if got := p.eval(`location.pathname + location.search`); got != "/accounts?id="+url.QueryEscape(id) {
				t.Errorf("/accounts?id=%s went to %v", id, got)
			}
		}
	})

	t.Run("Wallet", func(t *testing.T) {
		for _, id := range refused {
			p.t = t
			p.open("/?model=flux-dev")
			p.do(chromedp.WaitVisible(chromedp.CSS("#account")))
			p.eval(`document.getElementById("account").value = ""`)
			before := p.eval(`document.getElementById("nav-account").href`)
			p.do(chromedp.SendKeys(chromedp.CSS("#account"), id))
			p.click("#account-use")
			p.waitEqual("#wallet-msg", consoleSays(t, s, id))
			// The refused id is not taken: Account leads where it did.
			if after := p.eval(`document.getElementById("nav-account").href`); after != before {
				t.Errorf("account %q: the Account link went from %v to %v", id, before, after)
			}
		}
		p.open("/?model=flux-dev")
		p.eval(`document.getElementById("account").value = ""`)
		p.do(chromedp.SendKeys(chromedp.CSS("#account"), odd))
		p.click("#account-use")
		p.waitEqual("#bal-available", "12")
		p.click("#wallet-msg a")
		p.waitEqual("#account-h", odd)
		p.waitEqual("#a-available", "12")
		p.open("/")
		p.click("#nav-account")
		p.waitEqual("#account-h", odd)
	})
}
