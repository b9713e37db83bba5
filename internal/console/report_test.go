package console_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/tally-credits/tally/internal/catalog"
)

// The Reports page's frame, and the Reports link: shown by app.js to admin
// and support keys only, so hidden in the page as served, except on the
// Reports page itself.
func TestReportsPage(t *testing.T) {
	h := newConsole(catalog.Default())
	p := get(t, h, http.MethodGet, "/reports")
	if p.status != http.StatusOK {
		t.Fatalf("GET /reports = %d; want 200", p.status)
	}
	link := regexp.MustCompile(`<a href="/reports"[^>]*>`).FindString(p.body)
	if !strings.Contains(link, `aria-current="page"`) || strings.Contains(link, "hidden") {
		t.Errorf("Reports link on /reports = %s; want it current and shown", link)
	}
	if !strings.Contains(p.body, `/assets/reports.js?v=`) {
		t.Error("/reports does not load reports.js")
	}
	// The consumption chart stacks the sources in this order.
	var got []string
	for _, m := range regexp.MustCompile(`<option value="([a-z]+)">([^<]+)</option>`).FindAllStringSubmatch(between(t, p.body, "source-names", "</datalist>"), -1) {
		got = append(got, m[1]+"="+m[2])
	}
	want := "free=Free subscription=Subscription topup=Top-up promo=Promo rollover=Rollover refund=Refund adjustment=Adjustment overdraft=Overdraft"
	if strings.Join(got, " ") != want {
		t.Errorf("source order %q; want %q", strings.Join(got, " "), want)
	}
	for _, path := range []string{"/", "/accounts", "/catalog"} {
		p := get(t, h, http.MethodGet, path)
		if link := regexp.MustCompile(`<a href="/reports"[^>]*>`).FindString(p.body); !strings.Contains(link, " hidden") {
			t.Errorf("Reports link on %s = %s; want it hidden until a key that may read reports signs in", path, link)
		}
	}
}

// The account search keeps what was asked, escaped, for its script (and a
// reload) to list.
func TestAccountsSearchForm(t *testing.T) {
	p := get(t, newConsole(catalog.Default()), http.MethodGet, `/accounts?prefix=%22%3E%3Cb%3Eu`)
	if p.status != http.StatusOK {
		t.Fatalf("GET /accounts?prefix=… = %d; want 200", p.status)
	}
	input := regexp.MustCompile(`<input id="search-prefix"[^>]*>`).FindString(p.body)
	if !strings.Contains(input, `value="&#34;&gt;&lt;b&gt;u"`) {
		t.Errorf("search input = %s; want the prefix escaped as its value", input)
	}
	for _, id := range []string{"search-form", "account-list", "search-more", "account-form", "account-id"} {
		if !strings.Contains(p.body, `id="`+id+`"`) {
			t.Errorf("/accounts has no #%s", id)
		}
	}
}
