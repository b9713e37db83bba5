package console_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Where the console goes after sign-in: only to a path on its own origin,
// judged as the browser reads it.

// hostileNext are values of /login?next= that must not lead off the
// console's origin. Browsers drop tab, CR and LF anywhere in a URL and read
// a backslash as a slash, so "/\t/host" is "//host", another origin.
var hostileNext = []string{
	"/\t/other.invalid/x",
	"/\n/other.invalid/x",
	"/\r/other.invalid/x",
	"/\t\t/other.invalid/x",
	"//other.invalid/x",
	"///other.invalid/x",
	"/\\other.invalid/x",
	"\\/other.invalid/x",
	"\\\\other.invalid/x",
	" //other.invalid/x",
	"\t//other.invalid/x",
	"https://other.invalid/x",
	"https:other.invalid/x",
	"HTTPS:/\\other.invalid/x",
	"javascript:alert(1)",
	"data:text/html,<p>x</p>",
	"/%2F%2Fother.invalid/x",
	"/%2f/other.invalid/x",
	"/%5Cother.invalid/x",
	"/%09/other.invalid/x",
	"/.//other.invalid/x",
	"/%2e//other.invalid/x",
	"/x/..//other.invalid/x",
}

func TestBrowserLoginNext(t *testing.T) {
	exe := chromium(t)
	s := startStudio(t)
	b := newBrowser(t, exe)
	origin := s.URL
	p := b.tab("login-next", 1280, 900)
	p.base = s.URL

	// signIn types the admin key at /login?next=… and answers where the
	// tab ends once it has left the sign-in page.
	signIn := func(t *testing.T, next string) string {
		t.Helper()
		p.t = t
		p.open("/login?next=" + url.QueryEscape(next))
		p.do(chromedp.WaitVisible(chromedp.CSS("#key")))
		p.do(chromedp.SendKeys(chromedp.CSS("#key"), browserAdminKey))
		p.click("#login-submit")
		deadline := time.Now().Add(8 * time.Second)
		for {
			href, _ := p.eval(`location.href`).(string)
			ready, _ := p.eval(`document.readyState`).(string)
			if !strings.HasPrefix(href, origin+"/login") && ready == "complete" {
				return href
			}
			if time.Now().After(deadline) {
				t.Fatalf("next=%q: still at %s after signing in", next, href)
			}
			time.Sleep(40 * time.Millisecond)
		}
	}

	// Image mode, at /, writes its settings into the query: the path is
	// what tells where the tab went.
	for _, next := range hostileNext {
		t.Run(fmt.Sprintf("%q", next), func(t *testing.T) {
			got := signIn(t, next)
			if u, err := url.Parse(got); err != nil || u.Scheme+"://"+u.Host != origin || u.Path != "/" {
				t.Errorf("signed in with next=%q: the tab is at %s; want %s/", next, got, origin)
			}
		})
	}
	t.Run("SameOrigin", func(t *testing.T) {
		for next, want := range map[string]string{
			"/accounts/studio_a?x=1": "/accounts/studio_a?x=1",
			"/pricing#nano-banana-2": "/pricing#nano-banana-2",
		} {
			if got := signIn(t, next); got != origin+want {
				t.Errorf("signed in with next=%q: the tab is at %s; want %s%s", next, got, origin, want)
			}
		}
		// The account page it came to works.
		p.open("/accounts/studio_a?x=1")
		p.waitEqual("#a-available", "1,000")
	})

	// The page script decides again, whatever the server put in the page:
	// a console page never navigates to a value it has not parsed against
	// its own origin.
	t.Run("Script", func(t *testing.T) {
		p.t = t
		p.open("/pricing")
		for _, next := range hostileNext {
			arg, _ := json.Marshal(next)
			if got := p.eval(`tally.localPath(` + string(arg) + `)`); got != "/" {
				t.Errorf("tally.localPath(%q) = %v; want /", next, got)
			}
		}
		for next, want := range map[string]string{
			"/accounts/alice?x=1":   "/accounts/alice?x=1",
			"/accounts/a%2Fb":       "/accounts/a%2Fb",
			"/catalog?from=a&to=b":  "/catalog?from=a&to=b",
			origin + "/pricing#top": "/pricing#top",
		} {
			arg, _ := json.Marshal(next)
			if got := p.eval(`tally.localPath(` + string(arg) + `)`); got != want {
				t.Errorf("tally.localPath(%q) = %v; want %s", next, got, want)
			}
		}
	})
}
