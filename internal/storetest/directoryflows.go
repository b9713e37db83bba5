package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// The support desk's directory: accounts found by the start of their id,
// an account's generations and its audit trail, each a page at a time.

// directoryIDs are account ids a store's LIKE, collation or case folding
// would get wrong, in byte order.
var directoryIDs = []string{".x", "A", "a", "a%", "a%b", "a*", `a\b`, "a_", "a_b", "ab", "abc", "b", "é", "éa", "中文"}

// flowAccountDirectory: Accounts lists the ids that start with a prefix,
// byte for byte, in byte order, a page at a time; pages of 1 and of 2
// together list every match once.
func flowAccountDirectory(t *testing.T, e *env) {
	// Made in another order than they sort in.
	for _, i := range []int{9, 6, 14, 10, 8, 4, 1, 13, 2, 7, 3, 5, 11, 12, 0} {
		e.account(directoryIDs[i], 0)
		e.clock.Add(time.Second)
	}
	e.topup("ab", 7)
	match := func(prefix string) []string {
		var out []string
		for _, id := range directoryIDs {
			if strings.HasPrefix(id, prefix) {
				out = append(out, id)
			}
		}
		return out
	}
	for _, tc := range []struct {
		prefix string
		want   []string
	}{
		{"", directoryIDs},
		{"a", []string{"a", "a%", "a%b", "a*", `a\b`, "a_", "a_b", "ab", "abc"}}, // not "A"
		{"A", []string{"A"}},
		{"a%", []string{"a%", "a%b"}}, // % is no wildcard
		{"a_", []string{"a_", "a_b"}}, // nor is _
		{"a*", []string{"a*"}},        // nor * (GLOB)
		{`a\`, []string{`a\b`}},       // nor a LIKE's escape
		{"%", nil},
		{"_", nil},
		{"ab", []string{"ab", "abc"}},   // a prefix that is an id
		{"a%b", []string{"a%b"}},        // an id with no longer one
		{"abd", nil},                    // not an id, nothing after it
		{"x", nil},                      // not an id, nothing starts with it
		{"é", []string{"é", "éa"}},      // two bytes
		{"中", []string{"中文"}},           // the first character of three bytes
		{".", []string{".x"}},           // "." is no id, but ".x" starts with it
		{"\xc3", nil},                   // half a character: no id starts with it
		{"a\x00", nil},                  // a NUL: no id holds one
		{"e\u0301", nil},                // é decomposed: ids are NFC
		{strings.Repeat("a", 400), nil}, // longer than any id
	} {
		if tc.want != nil && !slices.Equal(tc.want, match(tc.prefix)) {
			t.Fatalf("prefix %q: the flow's want %v is not the ids that start with it, %v", tc.prefix, tc.want, match(tc.prefix))
		}
		for _, limit := range []int{1, 2, credit.MaxAccountPage} {
			var got []string
			cursor := ""
			for page := 0; ; page++ {
				p, err := e.ledger.Accounts(e.ctx, tc.prefix, cursor, limit)
				if err != nil {
					t.Fatalf("Accounts(%q, %q, %d) = %v", tc.prefix, cursor, limit, err)
				}
				if len(p.Accounts) > limit || (p.Next != "" && len(p.Accounts) != limit) || page > len(directoryIDs) {
					t.Fatalf("Accounts(%q, %q, %d) = %d accounts, next %q", tc.prefix, cursor, limit, len(p.Accounts), p.Next)
				}
				for _, a := range p.Accounts {
					got = append(got, a.ID)
				}
				if p.Next == "" {
					break
				}
				if p.Next != p.Accounts[len(p.Accounts)-1].ID {
					t.Errorf("Accounts(%q, %q, %d).Next = %q; want the page's last id %q", tc.prefix, cursor, limit, p.Next, p.Accounts[len(p.Accounts)-1].ID)
				}
				cursor = p.Next
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Accounts(%q) in pages of %d = %q; want %q", tc.prefix, limit, got, tc.want)
			}
		}
	}
	// A cursor need not be an id: "aa" is after "a_b" and before "ab".
	p, err := e.ledger.Accounts(e.ctx, "a", "aa", 10)
	if err != nil || p.Next != "" || len(p.Accounts) != 2 || p.Accounts[0].ID != "ab" || p.Accounts[1].ID != "abc" {
		t.Errorf("Accounts(a, after aa) = %+v, %v; want ab, abc and no next page", p, err)
	}
	// The accounts are as stored: ab has its 7.
	if len(p.Accounts) > 0 && (p.Accounts[0].Available != credit.Whole(7) || p.Accounts[0].Held != 0 || p.Accounts[0].Kind != credit.AccountUser) {
		t.Errorf("Accounts(a, after aa)[0] = %+v; want ab with 7 available", p.Accounts[0])
	}
	// After the last one, nothing.
	if p, err := e.ledger.Accounts(e.ctx, "", "中文", 10); err != nil || len(p.Accounts) != 0 || p.Next != "" {
		t.Errorf("Accounts(after the last) = %+v, %v; want nothing", p, err)
	}
	for _, limit := range []int{0, -1, credit.MaxAccountPage + 1} {
		_, err := e.ledger.Accounts(e.ctx, "", "", limit)
		wantErr(t, fmt.Sprintf("Accounts(limit %d)", limit), err, credit.Invalid, "invalid_limit")
	}
}

// genIDs lists generations' ids, labelled.
func genIDs(gs []credit.Generation, labels map[string]string) []string {
	var out []string
	for _, g := range gs {
		l := labels[g.ID]
		if l == "" {
			l = g.ID
		}
		out = append(out, l)
	}
	return out
}

// flowGenerationDirectory: Generations lists an account's generations
// newest first, filtered by status, model and member, a page at a time.
func flowGenerationDirectory(t *testing.T, e *env) {
	e.account("studio", 0)
	e.topup("studio", 500)
	e.account("other", 0)
	e.topup("other", 50)
	labels := map[string]string{}
	mk := func(label, account string, r credit.QuoteRequest, ttl time.Duration) credit.Generation {
		t.Helper()
		g, err := e.ledger.CreateGeneration(e.ctx, nil, credit.GenerationSpec{Account: account, Request: r, TTL: ttl})
		if err != nil {
			t.Fatalf("CreateGeneration(%s) = %v", label, err)
		}
		labels[g.ID] = label
		e.clock.Add(time.Second) // ids begin with their millisecond: newer is larger
		return g
	}
	g1 := mk("g1", "studio", fluxDev, 0)
	e.complete(g1.ID, 1)
	g2 := mk("g2", "studio", banana2K, 0)
	if _, err := e.ledger.FailGeneration(e.ctx, nil, g2.ID); err != nil {
		t.Fatalf("FailGeneration(g2) = %v", err)
	}
	mk("g3", "studio", fluxDev, time.Minute) // expires
	mk("x1", "other", fluxDev, 0)
	g4 := mk("g4", "studio", banana2K, 0)
	e.complete(g4.ID, 1)
	e.clock.Add(2 * time.Minute)
	if _, err := e.ledger.ExpireDue(e.ctx); err != nil {
		t.Fatalf("ExpireDue = %v", err)
	}
	mk("g5", "studio", fluxDev, 0) // held
	for _, tc := range []struct {
		f    credit.GenerationFilter
		want []string
	}{
		{credit.GenerationFilter{}, []string{"g5", "g4", "g3", "g2", "g1"}},
		{credit.GenerationFilter{Status: credit.GenerationHeld}, []string{"g5"}},
		{credit.GenerationFilter{Status: credit.GenerationCompleted}, []string{"g4", "g1"}},
		{credit.GenerationFilter{Status: credit.GenerationFailed}, []string{"g2"}},
		{credit.GenerationFilter{Status: credit.GenerationExpired}, []string{"g3"}},
		{credit.GenerationFilter{Model: "flux-dev"}, []string{"g5", "g3", "g1"}},
		{credit.GenerationFilter{Model: "nano-banana-2"}, []string{"g4", "g2"}},
		{credit.GenerationFilter{Model: "flux-dev", Status: credit.GenerationCompleted}, []string{"g1"}},
		{credit.GenerationFilter{Model: "nano-banana"}, nil}, // a model id is no prefix
		{credit.GenerationFilter{Model: "flux%"}, nil},
		{credit.GenerationFilter{Model: "bad\x00model"}, nil},
		{credit.GenerationFilter{Member: "ann"}, nil}, // a user's account has no members
	} {
		for _, limit := range []int{1, 2, credit.MaxPageSize} {
			f := tc.f
			f.Limit = limit
			var got []string
			for page := 0; ; page++ {
				p, err := e.ledger.Generations(e.ctx, "studio", f)
				if err != nil {
					t.Fatalf("Generations(studio, %+v) = %v", f, err)
				}
				if len(p.Generations) > limit || (p.Next != "" && len(p.Generations) != limit) || page > 5 {
					t.Fatalf("Generations(studio, %+v) = %d, next %q", f, len(p.Generations), p.Next)
				}
				got = append(got, genIDs(p.Generations, labels)...)
				if p.Next == "" {
					break
				}
				if p.Next != p.Generations[len(p.Generations)-1].ID {
					t.Errorf("Generations(studio, %+v).Next = %q; want the page's last id", f, p.Next)
				}
				f.Before = p.Next
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Generations(studio, %+v) in pages of %d = %v; want %v", tc.f, limit, got, tc.want)
			}
		}
	}
	// The generations are as stored.
	p, err := e.ledger.Generations(e.ctx, "studio", credit.GenerationFilter{Status: credit.GenerationCompleted, Limit: 1})
	if err != nil || len(p.Generations) != 1 || p.Generations[0].ID != g4.ID || p.Generations[0].Charged != cr("73.5") || p.Generations[0].Account != "studio" {
		t.Errorf("Generations(studio, completed, 1) = %+v, %v; want g4, charged 73.5", p, err)
	}

	// A team's, by member.
	e.team("crew", "")
	e.topup("crew", 100)
	e.setMember("crew", "ann", nil)
	e.setMember("crew", "bob", nil)
	for _, m := range []struct{ label, member string }{{"a1", "ann"}, {"b1", "bob"}, {"a2", "ann"}} {
		labels[e.memberGen("crew", m.member, fluxDev).ID] = m.label
		e.clock.Add(time.Second)
	}
	for member, want := range map[string][]string{"ann": {"a2", "a1"}, "bob": {"b1"}, "zed": nil, "": {"a2", "b1", "a1"}} {
		p, err := e.ledger.Generations(e.ctx, "crew", credit.GenerationFilter{Member: member, Limit: 10})
		if got := genIDs(p.Generations, labels); err != nil || !slices.Equal(got, want) {
			t.Errorf("Generations(crew, member %q) = %v, %v; want %v", member, got, err, want)
		}
	}

	_, err = e.ledger.Generations(e.ctx, "studio", credit.GenerationFilter{Status: "done", Limit: 1})
	wantErr(t, "Generations(status done)", err, credit.Invalid, "invalid_status")
	if x := asError(err); x != nil && !slices.Equal(x.Allowed, []string{"held", "completed", "failed", "expired"}) {
		t.Errorf("Generations(status done) allowed = %v; want held, completed, failed, expired", x.Allowed)
	}
	for _, limit := range []int{0, credit.MaxPageSize + 1} {
		_, err = e.ledger.Generations(e.ctx, "studio", credit.GenerationFilter{Limit: limit})
		wantErr(t, fmt.Sprintf("Generations(limit %d)", limit), err, credit.Invalid, "invalid_limit")
	}
	_, err = e.ledger.Generations(e.ctx, "studio", credit.GenerationFilter{Before: "not a cursor", Limit: 1})
	wantErr(t, "Generations(before a bad cursor)", err, credit.Invalid, "invalid_cursor")
	_, err = e.ledger.Generations(e.ctx, "nobody", credit.GenerationFilter{Limit: 1})
	wantErr(t, "Generations(nobody)", err, credit.NotFound, "unknown_account")
}

// flowAccountAuditPages: AccountAudit lists the audit entries of actions on
// one account, newest first, a page at a time.
func flowAccountAuditPages(t *testing.T, e *env) {
	e.account("acme", 0)
	e.account("other", 0)
	g := e.topup("acme", 10)
	e.topup("other", 10)
	if _, err := e.ledger.AmendGrantExpiry(e.ctx, nil, g.ID, t0.Add(24*time.Hour), "a day"); err != nil {
		t.Fatalf("AmendGrantExpiry = %v", err)
	}
	if _, _, err := e.ledger.CreateKey(e.ctx, credit.KeySpec{Scope: credit.ScopeAccount, Account: "acme", Name: "acme app"}); err != nil {
		t.Fatalf("CreateKey = %v", err) // audited on the key, not the account
	}
	e.debit(e.support("test"), "acme", credit.Whole(1), "")
	if _, err := e.ledger.VoidGrant(e.ctx, nil, g.ID, ""); err != nil {
		t.Fatalf("VoidGrant = %v", err)
	}
	want := []string{credit.AuditGrantVoid, credit.AuditAccountDebit, credit.AuditGrantAmend, credit.AuditGrantCreate, credit.AuditAccountCreate}
	for _, limit := range []int{1, 2, 5, credit.MaxAuditPage} {
		var got []string
		var before int64
		for page := 0; page <= len(want); page++ {
			log, err := e.ledger.AccountAudit(e.ctx, "acme", before, limit)
			if err != nil {
				t.Fatalf("AccountAudit(acme, %d, %d) = %v", before, limit, err)
			}
			if len(log) > limit {
				t.Fatalf("AccountAudit(acme, %d, %d) = %d entries", before, limit, len(log))
			}
			for i, a := range log {
				if a.Target != "acme" || (i > 0 && a.ID >= log[i-1].ID) || (before != 0 && a.ID >= before) {
					t.Errorf("AccountAudit(acme, %d, %d)[%d] = %d %s on %s; want acme's, newest first, before %d", before, limit, i, a.ID, a.Action, a.Target, before)
				}
				got = append(got, a.Action)
			}
			if len(log) < limit {
				break
			}
			before = log[len(log)-1].ID
		}
		if !slices.Equal(got, want) {
			t.Errorf("AccountAudit(acme) in pages of %d = %v; want %v", limit, got, want)
		}
	}
	for _, limit := range []int{0, credit.MaxAuditPage + 1} {
		_, err := e.ledger.AccountAudit(e.ctx, "acme", 0, limit)
		wantErr(t, fmt.Sprintf("AccountAudit(limit %d)", limit), err, credit.Invalid, "invalid_limit")
	}
	_, err := e.ledger.AccountAudit(e.ctx, "acme", -1, 1)
	wantErr(t, "AccountAudit(before -1)", err, credit.Invalid, "invalid_cursor")
	_, err = e.ledger.AccountAudit(e.ctx, "nobody", 0, 1)
	wantErr(t, "AccountAudit(nobody)", err, credit.NotFound, "unknown_account")
}
