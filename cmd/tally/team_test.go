package main

import (
	"encoding/json"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// TestTeamCommands runs account create --kind team, team member
// set|list|remove and keys create --member on a real SQLite file: what they print, in JSON as the API
// answers, and one line naming the flag or argument for each refusal, which
// writes nothing. The clock is the machine's, so the period is not checked
// here (the API's tests move a clock).
func TestTeamCommands(t *testing.T) {
	db := filepath.Join(t.TempDir(), "tally.db")
	ok := func(args ...string) string {
		t.Helper()
		code, out, errOut := run(t, append(args, "--db", db)...)
		if code != 0 {
			t.Fatalf("tally %s: exit %d: %s", strings.Join(args, " "), code, errOut)
		}
		return out
	}
	jsonOf := func(v any, args ...string) {
		t.Helper()
		out := ok(append(args, "--json")...)
		if err := json.Unmarshal([]byte(out), v); err != nil {
			t.Fatalf("tally %s --json: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	refused := func(want []string, args ...string) {
		t.Helper()
		code, out, errOut := run(t, append(args, "--db", db)...)
		good := code == exitInvalid && strings.Count(errOut, "\n") == 1 && strings.HasPrefix(errOut, "tally: ") && out == ""
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
	ok("migrate")

	var team map[string]any
	jsonOf(&team, "account", "create", "crew", "--kind", "team")
	if team["kind"] != "team" {
		t.Errorf("account create --kind team --json = %v; want kind team", team)
	}
	if out := ok("account", "create", "solo"); !strings.HasPrefix(out, "account solo created") {
		t.Errorf("account create solo = %q", out)
	}
	if out := ok("account", "show", "crew"); !strings.Contains(out, "kind      team") {
		t.Errorf("account show crew does not say it is a team:\n%s", out)
	}
	ok("account", "grant", "crew", "1000")

	type member struct {
		Member    string   `json:"member"`
		Limit     *float64 `json:"monthly_limit_credits"`
		Used      float64  `json:"used_credits"`
		Remaining *float64 `json:"remaining_credits"`
		Start     string   `json:"period_start"`
		End       string   `json:"period_end"`
	}
	limit := func(v float64) *float64 { return &v }

	out := ok("team", "member", "set", "crew", "a", "--limit", "100")
	if !strings.HasPrefix(out, "member a of team crew: 100 credits a month, 0 used, 100 left until ") {
		t.Errorf("team member set crew a --limit 100 = %q", out)
	}
	var b member
	jsonOf(&b, "team", "member", "set", "crew", "b", "--unlimited")
	if b.Member != "b" || b.Limit != nil || b.Remaining != nil || b.Used != 0 || b.Start == "" || b.End == "" {
		t.Errorf("team member set crew b --unlimited --json = %+v; want b, no limit, none used, with the period", b)
	}
	if out := ok("team", "member", "set", "crew", "b", "--unlimited"); !strings.HasPrefix(out, "member b of team crew: no limit, 0 credits used this period (until ") {
		t.Errorf("team member set crew b --unlimited = %q", out)
	}

	list := func() []member {
		t.Helper()
		var ms struct {
			Account string   `json:"account"`
			Members []member `json:"members"`
		}
		jsonOf(&ms, "team", "member", "list", "crew")
		if ms.Account != "crew" {
			t.Errorf("team member list --json account = %q; want crew", ms.Account)
		}
		for i := range ms.Members {
			ms.Members[i].Start, ms.Members[i].End = "", ""
		}
		return ms.Members
	}
	want := []member{{Member: "a", Limit: limit(100), Remaining: limit(100)}, {Member: "b"}}
	if got := list(); !reflect.DeepEqual(got, want) {
		t.Errorf("team member list crew --json = %+v; want %+v", got, want)
	}
	table := ok("team", "member", "list", "crew")
	for _, w := range []string{"MEMBER", "LIMIT", "USED", "REMAINING", "PERIOD", "\na ", "100", "\nb ", "none"} {
		if !strings.Contains(table, w) {
			t.Errorf("team member list crew: no %q in\n%s", w, table)
		}
	}

	refused([]string{"--limit or --unlimited", "give one"}, "team", "member", "set", "crew", "a")
	refused([]string{"--limit or --unlimited", "not both"}, "team", "member", "set", "crew", "a", "--limit", "5", "--unlimited")
	refused([]string{"--limit", "allowed: 0 or more credits"}, "team", "member", "set", "crew", "a", "--limit", "lots")
	refused([]string{"--limit", "below 0", "allowed: 0 or more credits"}, "team", "member", "set", "crew", "a", "--limit", "-5")
	refused([]string{"--limit", "allowed: 0 or more credits"}, "team", "member", "set", "crew", "a", "--limit", "1.2345")
	refused([]string{"--unlimited", "true or false"}, "team", "member", "set", "crew", "a", "--unlimited=maybe")
	refused([]string{"TEAM", "not a team", "allowed: a team account"}, "team", "member", "set", "solo", "a", "--limit", "1")
	refused([]string{"TEAM", "not a team"}, "team", "member", "list", "solo")
	refused([]string{"MEMBER", "allowed: the studio's user id"}, "team", "member", "set", "crew", "a b", "--limit", "1")
	refused([]string{"MEMBER", "not a member", "allowed: a member of the team"}, "team", "member", "remove", "crew", "zed")
	refused([]string{"--kind", "allowed: user, team"}, "account", "create", "band", "--kind", "group")
	refused([]string{`unknown account "nobody"`}, "team", "member", "list", "nobody")
	// Nothing was written by the refusals.
	if got := list(); !reflect.DeepEqual(got, want) {
		t.Errorf("team member list crew after the refusals = %+v; want %+v", got, want)
	}
	if code, _, _ := run(t, "account", "show", "band", "--db", db); code == 0 {
		t.Errorf("account band exists after its refusal")
	}

	// A member key: an account key of the team for one of its members.
	code, token, errOut := run(t, "keys", "create", "--db", db, "--scope", "account", "--account", "crew", "--member", "a")
	if code != 0 || !strings.HasPrefix(token, "tally_") || !strings.Contains(errOut, "(member a of team crew)") {
		t.Errorf("keys create --member a: exit %d, stdout %q, stderr %q; want a token for member a of team crew", code, token, errOut)
	}
	refused([]string{"--member", "--scope account", "not --scope service"}, "keys", "create", "--scope", "service", "--member", "a")
	refused([]string{"--account", "not a team", "allowed: a team's account id"}, "keys", "create", "--scope", "account", "--account", "solo", "--member", "a")
	refused([]string{"--member", "allowed: the studio's user id"}, "keys", "create", "--scope", "account", "--account", "crew", "--member", "a b")
	var keys []struct {
		Scope   string `json:"scope"`
		Account string `json:"account"`
		Member  string `json:"member"`
	}
	jsonOf(&keys, "keys", "list")
	if len(keys) != 1 || keys[0].Scope != "account" || keys[0].Account != "crew" || keys[0].Member != "a" {
		t.Errorf("keys list --json = %+v; want one key, of crew's member a", keys)
	}
	if out := ok("keys", "list"); !strings.Contains(out, "MEMBER") || !strings.Contains(out, " crew ") {
		t.Errorf("keys list:\n%s\nwant a MEMBER column and crew's key", out)
	}

	if out := ok("team", "member", "remove", "crew", "a"); out != "member a removed from team crew (0 credits used this period)\n" {
		t.Errorf("team member remove crew a = %q", out)
	}
	var removed member
	jsonOf(&removed, "team", "member", "remove", "crew", "b")
	if removed.Member != "b" || removed.Limit != nil {
		t.Errorf("team member remove crew b --json = %+v; want b", removed)
	}
	if got := list(); len(got) != 0 {
		t.Errorf("team member list crew after removing both = %+v; want none", got)
	}
}
