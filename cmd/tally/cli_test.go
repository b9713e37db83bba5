package main

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestRefusalsNameFlagAndAllowed: every refusal of bad input exits 2 with
// one line naming the flag to change and what it accepts (the allowed values
// the API's problem lists), and writes nothing.
func TestRefusalsNameFlagAndAllowed(t *testing.T) {
	db := filepath.Join(t.TempDir(), "tally.db")
	for _, args := range [][]string{{"migrate"}, {"account", "create", "alice"}} {
		if code, _, errOut := run(t, append(args, "--db", db)...); code != 0 {
			t.Fatalf("%v: %s", args, errOut)
		}
	}
	tests := []struct {
		args []string
		want []string // in the line: the flag, then what is allowed
	}{
		{[]string{"quote", "--model", "topaz"}, []string{"--scale", "allowed: 2, 3, 4"}},
		{[]string{"quote", "--model", "topaz", "--json"}, []string{"--scale", "allowed: 2, 3, 4"}},
		{[]string{"quote", "--model", "nano-banana-2", "--resolution", "3K"}, []string{"--resolution", "allowed: 1K, 2K, 4K"}},
		{[]string{"quote", "--model", "chatgpt", "--aspect", "16:9"}, []string{"--aspect", "allowed: 1:1, 2:3, 3:2"}},
		{[]string{"quote", "--model", "flux-dev", "--images", "9"}, []string{"--images", "allowed: 1, 2, 3, 4"}},
		{[]string{"quote", "--model", "flux-dev", "--images", "x"}, []string{"--images", "whole number"}},
		{[]string{"quote", "--model", "nope"}, []string{"--model", "allowed: nano-banana-2, "}},
		{[]string{"quote"}, []string{"--model", "allowed: a model id or display name"}},
		{[]string{"quote", "--model", "topaz", "--scale", "2"}, []string{"--input", "allowed: WxH"}},
		{[]string{"quote", "--model", "topaz", "--scale", "2", "--input", "big"}, []string{"--input", "1920x1080"}},
		{[]string{"quote", "--model", "topaz", "--op", "edit"}, []string{"--op", "allowed: upscale"}},
		{[]string{"quote", "--model", "topaz", "--scale", "2", "--input", "10x10", "--enhance"}, []string{"--enhance", "allowed: image models only"}},
		{[]string{"quote", "--cheapest", "--kind", "foo"}, []string{"--kind", "allowed: image, personalize, style_reference, upscale"}},
		{[]string{"account", "grant", "alice", "10", "--db", db, "--source", "gift"}, []string{"--source", "allowed: subscription, topup, promo, refund, adjustment"}},
		{[]string{"account", "grant", "alice", "10", "--db", db, "--expires", "tomorrow"}, []string{"--expires", "RFC 3339", "e.g. 2027-01-31T00:00:00Z"}},
		{[]string{"account", "grant", "alice", "10", "--db", db, "--expires-in", "5"}, []string{"--expires-in", "720h"}},
		{[]string{"account", "grant", "alice", "1.2345", "--db", db}, []string{"CREDITS", "three decimals"}},
		{[]string{"account", "grant", "alice", "10", "--db", db, "--priority", "x"}, []string{"--priority", "whole number"}},
		{[]string{"account", "create", "bob", "--db", db, "--overdraft", "x"}, []string{"--overdraft", "0 or more credits"}},
		{[]string{"keys", "create", "--db", db, "--scope", "root"}, []string{"--scope", "allowed: admin, service, support, account"}},
		{[]string{"keys", "create", "--db", db, "--scope", "account"}, []string{"--account"}},
		{[]string{"account", "history", "alice", "--db", db, "--limit", "0"}, []string{"--limit", "1 to 1000"}},
		{[]string{"account", "history", "alice", "--db", db, "--before", "-1"}, []string{"--before", "entry id"}},
	}
	for _, tt := range tests {
		code, _, errOut := run(t, tt.args...)
		ok := code == exitInvalid && strings.Count(errOut, "\n") == 1 && strings.HasPrefix(errOut, "tally: ")
		rest := errOut
		for _, w := range tt.want {
			i := strings.Index(rest, w)
			if i < 0 {
				ok = false
				break
			}
			rest = rest[i+len(w):]
		}
		if !ok {
			t.Errorf("tally %s: exit %d, stderr %q; want exit 2 and one line naming %q", strings.Join(tt.args, " "), code, errOut, tt.want)
		}
	}
	// Nothing was written by the refusals: alice has no grant, bob no account.
	code, out, _ := run(t, "account", "history", "alice", "--db", db, "--json")
	if code != 0 || strings.Contains(out, `"kind": "grant"`) {
		t.Errorf("alice's history after the refusals = %s; want no grant", out)
	}
}

// TestExpiryFlagsAreTimes: an explicit expiry is always that time, never
// "never": the zero time 0001-01-01T00:00:00Z is in the past, and
// --expires-in 0 or less is now or earlier; all are refused.
func TestExpiryFlagsAreTimes(t *testing.T) {
	db := filepath.Join(t.TempDir(), "tally.db")
	for _, args := range [][]string{{"migrate"}, {"account", "create", "alice"}} {
		if code, _, errOut := run(t, append(args, "--db", db)...); code != 0 {
			t.Fatalf("%v: %s", args, errOut)
		}
	}
	for _, args := range [][]string{
		{"account", "grant", "alice", "10", "--expires", "0001-01-01T00:00:00Z"},
		{"account", "grant", "alice", "10", "--expires", "2020-01-01T00:00:00Z"},
		{"account", "grant", "alice", "10", "--expires-in", "0s"},
		{"account", "grant", "alice", "10", "--expires-in", "-1h"},
		{"keys", "create", "--expires-in", "0s"},
		{"keys", "create", "--expires-in", "-5m"},
	} {
		flag := args[len(args)-2]
		code, _, errOut := run(t, append(args, "--db", db)...)
		if code != exitInvalid || !strings.HasPrefix(errOut, "tally: "+flag+" ") || strings.Count(errOut, "\n") != 1 {
			t.Errorf("tally %s: exit %d, stderr %q; want exit 2, one line starting with %s", strings.Join(args, " "), code, errOut, flag)
		}
	}
	_, out, _ := run(t, "account", "show", "alice", "--db", db, "--json")
	_, keys, _ := run(t, "keys", "list", "--db", db, "--json")
	if !strings.Contains(out, `"grants": []`) || strings.TrimSpace(keys) != "[]" {
		t.Errorf("after the refusals: account %s, keys %s; want no grant and no key", out, keys)
	}
}

// TestJSONAndCharged: account show, account history and keys list print
// JSON (the API's shapes), and history shows what each entry charged, with
// its model and catalog version.
func TestJSONAndCharged(t *testing.T) {
	const admin = "test-admin-key-history"
	t.Setenv("TALLY_ADMIN_KEY", admin)
	db := filepath.Join(t.TempDir(), "tally.db")
	n := startServe(t, "--db", db)
	defer n.stop()
	if code, _, errOut := run(t, "keys", "create", "--db", db, "--scope", "service", "--name", "app"); code != 0 {
		t.Fatal(errOut)
	}
	for _, args := range [][]string{{"account", "create", "alice"}, {"account", "grant", "alice", "500"}} {
		if code, _, errOut := run(t, append(args, "--db", db)...); code != 0 {
			t.Fatalf("%v: %s", args, errOut)
		}
	}
	// Nano Banana 2 at 2K, 4 images: 4 × 73.5 = 294 held; 3 delivered:
	// 3 × 73.5 = 220.5 charged (the page's 2K price).
	var g struct {
		ID string `json:"id"`
	}
	n.postJSON(t, "/v1/generations", admin, `{"account":"alice","model":"nano-banana-2","resolution":"2K","images":4}`, 201, &g)
	n.postJSON(t, "/v1/generations/"+g.ID+"/complete", admin, `{"images_delivered":3}`, 200, &g)

	code, out, errOut := run(t, "account", "history", "alice", "--db", db)
	if code != 0 || !regexp.MustCompile(`capture .*\s220\.5\s.*nano-banana-2\s+2026-11-24\.seed`).MatchString(out) || !strings.Contains(out, "CHARGED") {
		t.Errorf("account history: exit %d %s\n%s\nwant a capture row charging 220.5 for nano-banana-2, catalog 2026-11-24.seed", code, errOut, out)
	}
	code, out, _ = run(t, "account", "history", "alice", "--db", db, "--json")
	var h struct {
		Account string `json:"account"`
		Entries []struct {
			Kind    string      `json:"kind"`
			Charged json.Number `json:"charged_delta"`
			Model   string      `json:"model"`
			Version string      `json:"catalog_version"`
		} `json:"entries"`
	}
	if err := json.Unmarshal([]byte(out), &h); code != 0 || err != nil || h.Account != "alice" || len(h.Entries) != 3 {
		t.Fatalf("history --json: %v\n%s", err, out)
	}
	if e := h.Entries[0]; e.Kind != "capture" || e.Charged != "220.5" || e.Model != "nano-banana-2" || e.Version != "2026-11-24.seed" {
		t.Errorf("history --json newest entry = %+v; want a capture charging 220.5 for nano-banana-2 at 2026-11-24.seed", e)
	}
	code, out, _ = run(t, "account", "show", "alice", "--db", db, "--json")
	// 500 − 220.5 = 279.5.
	if code != 0 || !strings.Contains(out, `"available_credits": 279.5`) || !strings.Contains(out, `"id": "alice"`) {
		t.Errorf("account show --json:\n%s\nwant alice with 279.5 available", out)
	}
	code, out, _ = run(t, "keys", "list", "--db", db, "--json")
	var keys []struct {
		ID, Scope, State string
	}
	if err := json.Unmarshal([]byte(out), &keys); code != 0 || err != nil || len(keys) == 0 || keys[0].State != "valid" {
		t.Errorf("keys list --json: %v\n%s", err, out)
	}
}

// TestVersion: tally version names the build from the module's build info,
// never a placeholder.
func TestVersion(t *testing.T) {
	code, out, _ := run(t, "version", "--json")
	var b struct {
		Version, Go string
	}
	if err := json.Unmarshal([]byte(out), &b); code != 0 || err != nil || b.Go != runtime.Version() || b.Version == "" || b.Version == "dev" {
		t.Errorf("version --json = %s (%v); want the build's version and %s", out, err, runtime.Version())
	}
	if code, out, _ := run(t, "version"); code != 0 || !strings.HasPrefix(out, "tally "+b.Version+"\n") || !strings.Contains(out, runtime.Version()) {
		t.Errorf("version = %q", out)
	}
}

func TestCompletion(t *testing.T) {
	for shell, want := range map[string]string{"bash": "complete -o default -F __start_tally tally", "zsh": "#compdef tally", "fish": "complete -c tally", "powershell": "Register-ArgumentCompleter"} {
		code, out, errOut := run(t, "completion", shell)
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("completion %s: exit %d, %s; want a script with %q", shell, code, errOut, want)
		}
	}
}

// TestHelpNamesNothingInternal walks every command's help: no issue
// numbers, no spec sections, no paths outside the repository.
func TestHelpNamesNothingInternal(t *testing.T) {
	leak := regexp.MustCompile(`(?i)\bissue\b|\bSPEC\b|§|/work/|/tmp/`)
	var walk func(c *cobra.Command)
	n := 0
	walk = func(c *cobra.Command) {
		path := strings.Fields(c.CommandPath())[1:]
		code, out, errOut := run(t, append(path, "--help")...)
		n++
		if code != 0 {
			t.Errorf("%s --help: exit %d %s", c.CommandPath(), code, errOut)
		}
		if m := leak.FindString(out); m != "" {
			t.Errorf("%s --help names %q:\n%s", c.CommandPath(), m, out)
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	root := Main{}.root()
	root.InitDefaultCompletionCmd()
	walk(root)
	if n < 25 {
		t.Errorf("walked %d commands; want every one", n)
	}
}
