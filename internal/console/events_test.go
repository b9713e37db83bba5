package console_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/tally-credits/tally/internal/catalog"
)

// The Events page's frame: the type filter offers every event type tally
// has (the README's table, typed here), grouped, and keeps the filters the
// address gives.
func TestEventsPage(t *testing.T) {
	h := newConsole(catalog.Default())
	p := get(t, h, http.MethodGet, "/events?type=balance.low&account=user_42")
	if p.status != http.StatusOK {
		t.Fatalf("GET /events = %d; want 200", p.status)
	}
	sel := between(t, p.body, "events-type", "</select>")
	var got []string
	for _, m := range regexp.MustCompile(`<option value="([^"]*)"`).FindAllStringSubmatch(sel, -1) {
		got = append(got, m[1])
	}
	want := []string{"", "grant.created", "grant.expiring", "grant.expired", "grant.voided",
		"generation.created", "generation.completed", "generation.failed", "generation.expired", "generation.refunded",
		"balance.low", "balance.depleted", "balance.recovered", "member.limit_reached",
		"subscription.created", "subscription.renewed", "subscription.changed", "subscription.canceled",
		"topup.requested", "topup.confirmed", "topup.canceled", "catalog.published"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("the type filter offers %q; want %q", got, want)
	}
	for _, label := range []string{"Grants", "Generations", "Balance", "Members", "Subscriptions", "Top-ups", "Catalog"} {
		if !strings.Contains(sel, `<optgroup label="`+label+`">`) {
			t.Errorf("the type filter has no group %q", label)
		}
	}
	if !strings.Contains(sel, `<option value="balance.low" selected>`) {
		t.Error("the type filter does not keep ?type=balance.low")
	}
	if !strings.Contains(between(t, p.body, "events-account", ">"), `value="user_42"`) {
		t.Error("the account filter does not keep ?account=user_42")
	}
	if !strings.Contains(p.body, `<a href="/events" aria-current="page">Events</a>`) {
		t.Error("the nav does not mark Events as the page")
	}
	// A type tally does not have selects nothing.
	p = get(t, h, http.MethodGet, "/events?type=no.such")
	if strings.Contains(p.body, " selected>") {
		t.Error("?type=no.such selected a type")
	}
}
