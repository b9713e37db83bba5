package console_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/console"
	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/httpapi"
	"github.com/tally-credits/tally/internal/sqlite"
)

// A team on the Account page, in a real Chromium: the team team_t has 1000
// credits in its pool and two members, user_ada with a limit of 100 a
// month and user_bea with none. Every generation is Seedream v5 Lite at 20
// credits an image (the studio page): user_ada's 2 images delivered are 40
// charged; user_bea's are 1 image delivered (20) and 1 under way (20
// held). The pool: 1000 − 40 − 20 − 20 held = 920 available.

// teamStudio is a running tally with a team, its members, and a user
// account beside it.
type teamStudio struct {
	studio
	MemberKey string // user_ada's key on team_t
}

func startTeamStudio(t *testing.T) *teamStudio {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "tally.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	cat, err := catalog.Parse(catalog.DefaultYAML())
	if err != nil {
		t.Fatal(err)
	}
	var srv *httpapi.Server
	ui := console.New(console.Config{Catalog: func() *credit.Catalog { return srv.Catalog() }, Version: "test"})
	srv = httpapi.NewServer(httpapi.Config{Catalog: cat, AdminKey: browserAdminKey, Version: "test", Console: ui})
	ledger := credit.NewLedger(db, credit.LedgerConfig{Catalog: srv.Catalog})
	srv.SetLedger(ledger)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)

	if _, err := ledger.OpenAccount(ctx, nil, credit.AccountSpec{ID: "team_t", Kind: credit.AccountTeam}); err != nil {
		t.Fatal(err)
	}
	if _, err := ledger.AddGrant(ctx, nil, "team_t", credit.GrantSpec{Credits: credit.Whole(1000), Source: credit.SourceTopup}); err != nil {
		t.Fatal(err)
	}
	limit := credit.Whole(100)
	if _, err := ledger.SetMember(ctx, nil, "team_t", "user_ada", &limit); err != nil {
		t.Fatal(err)
	}
	if _, err := ledger.SetMember(ctx, nil, "team_t", "user_bea", nil); err != nil {
		t.Fatal(err)
	}
	generate := func(member string, images, delivered int) {
		t.Helper()
		g, err := ledger.CreateGeneration(ctx, nil, credit.GenerationSpec{Account: "team_t", Member: member,
			Request: credit.QuoteRequest{Model: "seedream-v5-lite", AspectRatio: "1:1", Images: images}})
		if err != nil {
			t.Fatal(err)
		}
		if delivered > 0 {
			if _, err := ledger.CompleteGeneration(ctx, nil, g.ID, delivered); err != nil {
				t.Fatal(err)
			}
		}
	}
	generate("user_ada", 2, 2) // 40 charged
	generate("user_bea", 1, 1) // 20 charged
	generate("user_bea", 1, 0) // 20 held

	if _, err := ledger.CreateAccount(ctx, nil, "solo", 0); err != nil {
		t.Fatal(err)
	}
	return &teamStudio{studio: studio{URL: ts.URL, Ledger: ledger}, MemberKey: memberKey(t, ledger, "team_t", "user_ada")}
}

// memberKey stores an account key of team for one of its members and
// returns its token, in the form the ledger's own keys take
// (tally_<id>_<secret>).
func memberKey(t *testing.T, l *credit.Ledger, team, member string) string {
	t.Helper()
	id := "mk" + strings.ReplaceAll(team+member, "_", "")
	token := "tally_" + id + "_bWVtYmVyLWtleS1zZWNyZXQtMDEyMw"
	sum := sha256.Sum256([]byte(token))
	k := credit.Key{ID: id, Hash: sum[:], Scope: credit.ScopeAccount, Account: team, Member: member, Name: member + " on " + team, CreatedAt: l.Now()}
	if err := l.Store().Update(context.Background(), func(tx credit.Tx) error { return tx.InsertKey(k) }); err != nil {
		t.Fatal(err)
	}
	return token
}

// memberRow is the text of the Members table's row of member, by cell
// label, with the bar's width as the page drew it: "percent" is the fill's
// style, "drawn" the fill's width over the track's, in percent.
func (p *tab) memberRow(member string) map[string]string {
	p.t.Helper()
	arg, _ := json.Marshal(member)
	v, _ := p.eval(`(() => {
		const row = Array.from(document.querySelectorAll("#members tbody tr")).find(r => r.dataset.member === ` + string(arg) + `);
		if (!row) return null;
		const out = {};
		for (const c of row.cells) if (c.dataset.label) out[c.dataset.label] = c.innerText.trim();
		const meter = row.querySelector("[role=meter]");
		if (meter) {
			const fill = meter.querySelector(".meter-fill");
			out.percent = fill.style.width;
			out.drawn = String(Math.round(100 * fill.getBoundingClientRect().width / meter.clientWidth));
			out.valuetext = meter.getAttribute("aria-valuetext");
		}
		return out;
	})()`).(map[string]any)
	out := map[string]string{}
	for k, x := range v {
		out[k], _ = x.(string)
	}
	return out
}

func TestBrowserTeam(t *testing.T) {
	exe := chromium(t)
	s := startTeamStudio(t)
	b := newBrowser(t, exe)

	// The members' period: the team has no subscription, so it is the
	// calendar month in its time zone, UTC.
	now := time.Now().UTC()
	start := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	end := start.AddDate(0, 1, 0)
	period := "This period: " + start.Format("Jan 2, 2006") + " – " + end.AddDate(0, 0, -1).Format("Jan 2, 2006")
	resets := end.Format("Jan 2, 2006")

	t.Run("Admin", func(t *testing.T) {
		p := b.tab("team-admin", 1280, 900)
		p.t = t
		p.base = s.URL
		p.login(browserAdminKey, "/accounts/team_t")
		p.open("/accounts/team_t")
		p.waitEqual("#account-kind", "TEAM") // an eyebrow: in capitals
		p.waitEqual("#a-available", "920")   // the pool: 1000 − 40 − 20 − 20 held
		p.waitEqual("#a-held", "20")
		p.waitEqual("#members-h", "Members")
		p.waitCount("#members tbody tr", 2)
		p.waitEqual("#members-period", period)

		ada := p.memberRow("user_ada")
		for col, want := range map[string]string{
			"Member": "user_ada", "Used / limit": "40 / 100", "Remaining": "60", "Resets": resets,
			"percent": "40%", "valuetext": "40 of 100 credits used",
		} {
			if ada[col] != want {
				t.Errorf("user_ada's %s = %q; want %q (row %q)", col, ada[col], want, ada)
			}
		}
		// The bar as drawn: the CSP let the script set its width.
		if ada["drawn"] != "40" {
			t.Errorf("user_ada's bar is drawn at %s%% of its track; want 40%%", ada["drawn"])
		}
		bea := p.memberRow("user_bea")
		for col, want := range map[string]string{
			"Member": "user_bea", "Used / limit": "40 / No limit", "Remaining": "No limit", "Resets": resets,
		} {
			if bea[col] != want {
				t.Errorf("user_bea's %s = %q; want %q (row %q)", col, bea[col], want, bea)
			}
		}
		if _, ok := bea["percent"]; ok {
			t.Errorf("user_bea, with no limit, has a bar (row %q)", bea)
		}

		// Usage by member over the last 30 days: what was charged, the
		// hold under way not yet.
		p.waitContains(`#usage-members tbody tr[data-member="user_ada"]`, "user_ada", "1", "40")
		p.waitContains(`#usage-members tbody tr[data-member="user_bea"]`, "user_bea", "1", "20")
		p.shot("team")
	})

	t.Run("NotATeam", func(t *testing.T) {
		p := b.tab("team-solo", 1280, 900)
		p.t = t
		p.base = s.URL
		p.login(browserAdminKey, "/accounts/solo")
		p.open("/accounts/solo")
		p.waitEqual("#a-available", "0")
		p.waitContains("#entries tbody", "No entries yet.")
		p.waitEqual("#account-kind", "ACCOUNT")
		for _, id := range []string{"members-block", "usage-members-block"} {
			if hidden := p.eval(`document.getElementById("` + id + `").hidden`); hidden != true {
				t.Errorf("#%s shows on a user's account", id)
			}
		}
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, r := range b.requests {
			if strings.HasPrefix(r, "team-solo ") && (strings.Contains(r, "/members") || strings.Contains(r, "group_by=member")) {
				t.Errorf("the console asked a user's account about members: %s", r)
			}
		}
	})

	t.Run("MemberKey", func(t *testing.T) {
		p := b.tab("team-member", 1280, 900)
		p.t = t
		p.base = s.URL
		p.login(s.MemberKey, "/accounts")
		p.waitEqual("#who", "Member key · user_ada of team_t")
		p.waitEqual("#account-h", "team_t")
		p.waitEqual("#a-available", "920") // the pool's balance, as the admin sees it
		p.waitEqual("#members-h", "Your limit this period")
		// The pool holds 20 for user_bea; none of the holds is user_ada's.
		p.waitEqual("#a-held", "20")
		p.waitEqual("#a-holds-count", "0 open holds of yours")
		p.waitEqual("#usage-h", "Your usage by model and day")
		p.waitCount("#members tbody tr", 1)
		ada := p.memberRow("user_ada")
		for col, want := range map[string]string{"Used / limit": "40 / 100", "Remaining": "60", "Resets": resets, "percent": "40%"} {
			if ada[col] != want {
				t.Errorf("user_ada's %s = %q; want %q (row %q)", col, ada[col], want, ada)
			}
		}
		if hidden := p.eval(`document.getElementById("usage-members-block").hidden`); hidden != true {
			t.Error("a member's key is offered the usage of every member")
		}
		// Everything the page asks for has arrived: the history and the
		// usage (user_ada's charge).
		p.waitContains("#entries tbody", "Charge")
		p.waitContains("#usage-table tbody", "Seedream v5 Lite", "40")
		p.shot("team-member")
		if html, _ := p.eval(`document.documentElement.outerHTML`).(string); strings.Contains(html, "user_bea") {
			i := strings.Index(html, "user_bea")
			t.Errorf("user_bea shows on user_ada's page: …%s…", html[max(0, i-200):min(len(html), i+100)])
		}
	})

	t.Run("Narrow", func(t *testing.T) {
		p := b.tab("team-mobile", 375, 800)
		p.t = t
		p.base = s.URL
		p.login(browserAdminKey, "/accounts/team_t")
		p.open("/accounts/team_t")
		p.waitCount("#members tbody tr", 2)
		p.waitContains(`#members tbody tr[data-member="user_ada"]`, "40 / 100")
		if w, _ := p.eval(`document.documentElement.scrollWidth`).(float64); w > 375 {
			t.Errorf("the team's page at 375 px: scrollWidth = %v; want no horizontal scroll", w)
		}
		if pct := p.memberRow("user_ada")["drawn"]; pct != "40" {
			t.Errorf("user_ada's bar at 375 px is drawn at %s%%; want 40%%", pct)
		}
		p.shot("team")
	})
}
