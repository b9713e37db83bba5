package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
)

// TestPlanCommands runs the plan, subscription and grant commands on a real
// SQLite file, with examples/plans.yaml's paid plans: what they print, in
// JSON as the API answers, and one line naming the flag for each refusal.
func TestPlanCommands(t *testing.T) {
	db := filepath.Join(t.TempDir(), "tally.db")
	const plans = "../../examples/plans.yaml"
	ok := func(args ...string) string {
		t.Helper()
		code, out, errOut := run(t, append(args, "--db", db, "--catalog", plans)...)
		if code != 0 {
			t.Fatalf("tally %s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		return out
	}
	jsonOf := func(args ...string) map[string]any {
		t.Helper()
		var m map[string]any
		out := ok(append(args, "--json")...)
		if err := json.Unmarshal([]byte(out), &m); err != nil {
			t.Fatalf("tally %s --json: %v\n%s", strings.Join(args, " "), err, out)
		}
		return m
	}
	refused := func(want []string, args ...string) {
		t.Helper()
		code, out, errOut := run(t, append(args, "--db", db, "--catalog", plans)...)
		good := code == exitInvalid && strings.Count(errOut, "\n") == 1 && strings.HasPrefix(errOut, "tally: ")
		rest := errOut
		for _, w := range want {
			i := strings.Index(rest, w)
			if i < 0 {
				good = false
				break
			}
			rest = rest[i+len(w):]
		}
		if !good {
			t.Errorf("tally %s: exit %d, stderr %q, stdout %q; want exit 2 and one line naming %q", strings.Join(args, " "), code, errOut, out, want)
		}
	}
	if code, _, errOut := run(t, "migrate", "--db", db); code != 0 {
		t.Fatal(errOut)
	}

	// The free program: 100 credits today, no Pro models, no top-ups.
	a := jsonOf("account", "create", "fay", "--plan", "free", "--time-zone", "Europe/Berlin")
	if a["program"] != "free" || a["time_zone"] != "Europe/Berlin" || a["available_credits"] != 100.0 {
		t.Errorf("account create --json = %v; want fay on free with 100 credits", a)
	}
	out := ok("account", "show", "fay")
	for _, w := range []string{"available 100 credits", "plan      free (program)", "time zone Europe/Berlin", "balances  free 100, subscription 0, top-up 0, other 0 credits"} {
		if !strings.Contains(out, w) {
			t.Errorf("account show fay: no %q in\n%s", w, out)
		}
	}
	refused([]string{"--time-zone", "allowed: an IANA time zone name"}, "account", "create", "tim", "--time-zone", "Mars/Olympus")
	refused([]string{"--plan", "allowed: free"}, "account", "create", "tim", "--plan", "gold")
	refused([]string{"PLAN", "allowed: free"}, "account", "plan", "fay", "gold")
	refused([]string{"top-ups", "subscription"}, "account", "grant", "fay", "10", "--source", "topup")

	// Subscriptions.
	refused([]string{"--plan", "allowed: basic, standard-yearly, pro, unlimited"}, "subscription", "create", "fay", "--plan", "gold")
	refused([]string{"--billing", "allowed: month, quarter, year"}, "subscription", "create", "fay", "--plan", "basic", "--billing", "week")
	refused([]string{"--starts-at", "RFC 3339"}, "subscription", "create", "fay", "--plan", "basic", "--starts-at", "tomorrow")
	refused([]string{"--starts-at", "within a year"}, "subscription", "create", "fay", "--plan", "basic", "--starts-at", "2020-01-01")
	s := jsonOf("subscription", "create", "fay", "--plan", "basic")
	sub, _ := s["id"].(string)
	if !strings.HasPrefix(sub, "sub_") || s["status"] != "active" || s["plan"] != "basic" || s["billing"] != "month" {
		t.Fatalf("subscription create --json = %v; want an active monthly basic subscription", s)
	}
	if got := jsonOf("subscription", "show", sub); got["id"] != sub {
		t.Errorf("subscription show %s = %v", sub, got)
	}
	if list := jsonOf("subscription", "show", "fay"); len(list["subscriptions"].([]any)) != 1 {
		t.Errorf("subscription show fay = %v; want one", list)
	}
	if out := ok("subscription", "show", "fay"); !strings.Contains(out, sub) || !strings.Contains(out, "active") {
		t.Errorf("subscription show fay:\n%s", out)
	}
	// No free credits while subscribed: basic's 1000.
	out = ok("account", "show", "fay")
	for _, w := range []string{"available 1000 credits", "plan      basic (subscription " + sub + ")", "program   free", "balances  free 0, subscription 1000, top-up 0, other 0 credits"} {
		if !strings.Contains(out, w) {
			t.Errorf("account show fay: no %q in\n%s", w, out)
		}
	}
	if s := jsonOf("subscription", "change", sub, "--plan", "pro"); s["plan"] != "pro" {
		t.Errorf("subscription change --plan pro = %v; want pro now (an upgrade)", s)
	}
	refused([]string{"--at", "allowed: now, period_end"}, "subscription", "cancel", sub, "--at", "later")
	if s := jsonOf("subscription", "cancel", sub); s["status"] != "canceled" || s["ends_at"] == nil {
		t.Errorf("subscription cancel = %v; want canceled with ends_at", s)
	}

	// Grants limited to some models, voided and moved.
	g := jsonOf("account", "grant", "fay", "10", "--source", "promo", "--applies-to-tags", "pro", "--exclude-models", "Recraft v4 Pro")
	applies, _ := g["applies_to"].(map[string]any)
	if applies == nil || applies["tags"].([]any)[0] != "pro" || applies["exclude_models"].([]any)[0] != "recraft-v4-pro" {
		t.Errorf("account grant --json = %v; want applies_to tags [pro], exclude_models [recraft-v4-pro]", g)
	}
	refused([]string{"--exclude-tags", "allowed: pro"}, "account", "grant", "fay", "1", "--exclude-tags", "vip")
	refused([]string{"--applies-to-models", "allowed: nano-banana-2, "}, "account", "grant", "fay", "1", "--applies-to-models", "nano-banana-9")
	id, _ := g["id"].(string)
	if out := ok("grant", "expiry", id, "--expires-at", "2030-01-01", "--memo", "goodwill"); !strings.Contains(out, "expires 2030-01-01T00:00:00Z") {
		t.Errorf("grant expiry: %s", out)
	}
	refused([]string{"--expires-at", "--never"}, "grant", "expiry", id)
	refused([]string{"--expires-at", "in the future"}, "grant", "expiry", id, "--expires-at", "2020-01-01")
	if g := jsonOf("grant", "expiry", id, "--never"); g["expires_at"] != nil {
		t.Errorf("grant expiry --never = %v; want no expires_at", g)
	}
	if out := ok("grant", "void", id, "--memo", "sent by mistake"); !strings.Contains(out, "voided") {
		t.Errorf("grant void: %s", out)
	}

	if out := ok("account", "plan", "fay", "none"); !strings.Contains(out, "on no program") {
		t.Errorf("account plan fay none: %s", out)
	}
	if code, out, errOut := run(t, "verify", "--db", db); code != 0 || !strings.Contains(out, "every invariant holds") {
		t.Errorf("verify: exit %d %s %s", code, out, errOut)
	}
}
