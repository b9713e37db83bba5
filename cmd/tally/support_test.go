package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/sqlite"
)

// supportLedger runs fn on a ledger of the SQLite file db, closed after:
// what the studio does over the API (Create, generic holds), which the
// command line has no command for.
func supportLedger(t *testing.T, db string, fn func(l *credit.Ledger)) {
	t.Helper()
	s, err := sqlite.OpenExisting(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	fn(credit.NewLedger(s, credit.LedgerConfig{Catalog: catalog.Default}))
}

// supportGeneration presses Create for account on the SQLite file db.
func supportGeneration(t *testing.T, db, account string, req credit.QuoteRequest) credit.Generation {
	t.Helper()
	var g credit.Generation
	supportLedger(t, db, func(l *credit.Ledger) {
		var err error
		if g, err = l.CreateGeneration(context.Background(), nil, credit.GenerationSpec{Account: account, Request: req}); err != nil {
			t.Fatalf("create generation %+v: %v", req, err)
		}
	})
	time.Sleep(2 * time.Millisecond) // ids sort by their millisecond
	return g
}

// generationJSON is the part of GET /v1/generations/{id} the tests read.
type generationJSON struct {
	ID              string         `json:"id"`
	Account         string         `json:"account"`
	Status          string         `json:"status"`
	Model           string         `json:"model"`
	Images          int            `json:"images"`
	ImagesDelivered int            `json:"images_delivered"`
	Hold            credit.Credits `json:"hold_credits"`
	Charged         credit.Credits `json:"charged_credits"`
	Refunded        credit.Credits `json:"refunded_credits"`
}

// TestSupportCommands runs support's and finance's commands on a real
// SQLite file, on a flow whose numbers are worked out by hand below: the
// generation commands, holds, debits, voids, the account directory, usage,
// audit with every reason, both reports (table, CSV, JSON) and a price
// change's impact from a file and from a published version. Every refusal
// names its flag, exits 2 and writes nothing.
func TestSupportCommands(t *testing.T) {
	db := filepath.Join(t.TempDir(), "tally.db")
	ok := func(args ...string) string { t.Helper(); return cliOK(t, append(args, "--db", db)...) }
	js := func(v any, args ...string) { t.Helper(); cliJSON(t, v, append(args, "--db", db)...) }
	refused := func(want []string, args ...string) { t.Helper(); cliRefused(t, want, append(args, "--db", db)...) }

	ok("migrate")
	for _, id := range []string{"alice", "alice2", "bob"} {
		ok("account", "create", id)
	}
	ok("account", "grant", "alice", "500", "--source", "promo")

	// A: Nano Banana 2 at 2K, 4 images: 4 × 73.5 = 294 held (the page's 2K
	// price); 3 delivered: 3 × 73.5 = 220.5 charged, 73.5 returned.
	a := supportGeneration(t, db, "alice", credit.QuoteRequest{Model: "nano-banana-2", Resolution: "2K", Images: 4})
	if out := ok("generation", "show", a.ID); !strings.Contains(out, "status    held") || !strings.Contains(out, "held      294 credits") {
		t.Errorf("generation show (held):\n%s", out)
	}
	want := "generation " + a.ID + " of alice completed: 3 of 4 images delivered, 220.5 credits charged, 73.5 returned\n"
	if out := ok("generation", "complete", a.ID, "--images", "3"); out != want {
		t.Errorf("generation complete = %q; want %q", out, want)
	}
	refused([]string{"--credits", "allowed: more than 0"}, "generation", "refund", a.ID, "--credits", "x")
	refused([]string{"--credits", "allowed: more than 0"}, "generation", "refund", a.ID, "--credits", "0")
	refused([]string{"--credits", "220.5"}, "generation", "refund", a.ID, "--credits", "300")
	refused([]string{"--reason", "500 bytes"}, "generation", "refund", a.ID, "--reason", strings.Repeat("x", 501))
	refused([]string{"--reason", "one line"}, "generation", "refund", a.ID, "--reason", "two\nlines")
	refused([]string{"ID", "unknown"}, "generation", "refund", "gen_nope", "--reason", "x")
	// Refund 73.5 of the 220.5: 73.5 refunded in all.
	var g generationJSON
	js(&g, "generation", "refund", a.ID, "--credits", "73.5", "--reason", "two images blurred")
	if g.ID != a.ID || g.Status != "completed" || g.Charged != cr("220.5") || g.Refunded != cr("73.5") {
		t.Errorf("generation refund --json = %+v; want completed, 220.5 charged, 73.5 refunded", g)
	}

	// C: ChatGPT 1.5 at 3:2, one image: 35 held and charged.
	c := supportGeneration(t, db, "alice", credit.QuoteRequest{Model: "chatgpt-1.5", AspectRatio: "3:2"})
	js(&g, "generation", "complete", c.ID, "--images", "1")
	if g.Charged != cr("35") || g.ImagesDelivered != 1 {
		t.Errorf("generation complete --json = %+v; want 35 charged for 1 image", g)
	}

	// B: Nano Banana 2 at 1K, one image: 49 held, then failed: all of it back.
	b := supportGeneration(t, db, "alice", credit.QuoteRequest{Model: "nano-banana-2"})
	refused([]string{"--images"}, "generation", "complete", b.ID)
	refused([]string{"--images", "0 to 1"}, "generation", "complete", b.ID, "--images", "9")
	refused([]string{"--images", "whole number"}, "generation", "complete", b.ID, "--images", "x")
	want = "generation " + b.ID + " of alice failed: nothing charged, 49 credits returned\n"
	if out := ok("generation", "fail", b.ID, "--reason", "stuck in the queue"); out != want {
		t.Errorf("generation fail = %q; want %q", out, want)
	}
	refused([]string{"already failed"}, "generation", "fail", b.ID)

	// H: a generic hold of 5, released whole.
	var h credit.Hold
	supportLedger(t, db, func(l *credit.Ledger) {
		var err error
		if h, err = l.CreateHold(context.Background(), nil, "alice", credit.HoldSpec{Credits: cr("5")}); err != nil {
			t.Fatal(err)
		}
	})
	refused([]string{"generation " + a.ID}, "hold", "release", a.Hold)
	var hj struct {
		ID       string         `json:"id"`
		Status   string         `json:"status"`
		Released credit.Credits `json:"released_credits"`
	}
	js(&hj, "hold", "release", h.ID, "--reason", "stale hold")
	if hj.ID != h.ID || hj.Status != "released" || hj.Released != cr("5") {
		t.Errorf("hold release --json = %+v; want released, 5 credits", hj)
	}

	// A grant of 20 made by mistake and voided; 50 top-up credits expiring in
	// 10 days.
	var gr struct {
		ID        string         `json:"id"`
		Remaining credit.Credits `json:"remaining_credits"`
		ExpiredAt *time.Time     `json:"expired_at"`
	}
	js(&gr, "account", "grant", "alice", "20", "--source", "promo", "--reason", "goodwill")
	js(&gr, "grant", "void", gr.ID, "--reason", "granted twice")
	if gr.Remaining != 0 || gr.ExpiredAt == nil {
		t.Errorf("grant void --json = %+v; want nothing remaining, expired", gr)
	}
	ok("account", "grant", "alice", "50", "--source", "topup", "--expires-in", "240h")

	// Debit 10, from the promo grant (the one spent last). Available:
	// 500 − 220.5 + 73.5 − 35 + 20 − 20 + 50 − 10 = 358.
	refused([]string{"--credits"}, "account", "debit", "alice")
	refused([]string{"--credits", "allowed: more than 0"}, "account", "debit", "alice", "--credits", "-5")
	refused([]string{"--credits", "at most what the account has"}, "account", "debit", "alice", "--credits", "1000")
	refused([]string{"--reason"}, "account", "debit", "alice", "--credits", "10", "--reason", "tab\there")
	var d struct {
		Entry struct {
			Kind           string         `json:"kind"`
			AvailableDelta credit.Credits `json:"available_delta"`
		} `json:"entry"`
		Account struct {
			ID        string         `json:"id"`
			Available credit.Credits `json:"available_credits"`
		} `json:"account"`
	}
	js(&d, "account", "debit", "alice", "--credits", "10", "--reason", "double grant", "--memo", "ticket 4411")
	if d.Entry.Kind != "debit" || d.Entry.AvailableDelta != cr("-10") || d.Account.ID != "alice" || d.Account.Available != cr("358") {
		t.Errorf("account debit --json = %+v; want a debit entry of -10, alice with 358 available", d)
	}

	t.Run("GenerationShow", func(t *testing.T) {
		out := ok("generation", "show", a.ID)
		for _, w := range []string{"status    completed", "model     nano-banana-2 (image), catalog 2026-11-24.seed", "images    3 of 4 delivered",
			"held      294 credits", "charged   220.5 credits", "refunded  73.5 credits"} {
			if !strings.Contains(out, w) {
				t.Errorf("generation show lacks %q:\n%s", w, out)
			}
		}
		var g generationJSON
		js(&g, "generation", "show", a.ID)
		if g.Status != "completed" || g.Hold != cr("294") || g.Charged != cr("220.5") || g.Refunded != cr("73.5") || g.Images != 4 || g.ImagesDelivered != 3 {
			t.Errorf("generation show --json = %+v", g)
		}
	})

	t.Run("AccountGenerations", func(t *testing.T) {
		var page struct {
			Account     string           `json:"account"`
			Generations []generationJSON `json:"generations"`
			NextCursor  string           `json:"next_cursor"`
		}
		ids := func() string {
			var s []string
			for _, g := range page.Generations {
				s = append(s, g.ID)
			}
			return strings.Join(s, " ")
		}
		check := func(what, want string) {
			t.Helper()
			if got := ids(); got != want {
				t.Errorf("account generations %s = %s; want %s", what, got, want)
			}
		}
		// Newest first: B, C, A.
		js(&page, "account", "generations", "alice")
		check("", b.ID+" "+c.ID+" "+a.ID)
		if page.Account != "alice" || page.NextCursor != "" {
			t.Errorf("account generations: account %q, next_cursor %q; want alice, none (one page)", page.Account, page.NextCursor)
		}
		page.Generations = nil
		js(&page, "account", "generations", "alice", "--status", "completed")
		check("--status completed", c.ID+" "+a.ID)
		page.Generations = nil
		js(&page, "account", "generations", "alice", "--model", "chatgpt-1.5")
		check("--model chatgpt-1.5", c.ID)
		page.Generations = nil
		js(&page, "account", "generations", "alice", "--model", "ChatGPT 1.5")
		check("--model 'ChatGPT 1.5'", c.ID)
		page.Generations = nil
		js(&page, "account", "generations", "alice", "--limit", "1")
		check("--limit 1", b.ID)
		next := page.NextCursor
		page.Generations = nil
		js(&page, "account", "generations", "alice", "--limit", "1", "--cursor", next)
		check("--cursor", c.ID)
		out := ok("account", "generations", "alice", "--limit", "2")
		if !strings.Contains(out, "more: --cursor ") || !strings.Contains(out, c.ID) || strings.Contains(out, a.ID) {
			t.Errorf("account generations --limit 2:\n%s", out)
		}
		refused([]string{"--status", "allowed: held, completed, failed, expired"}, "account", "generations", "alice", "--status", "done")
		refused([]string{"--limit", "1 to 1000"}, "account", "generations", "alice", "--limit", "0")
		refused([]string{"unknown account"}, "account", "generations", "carol")
	})

	t.Run("AccountList", func(t *testing.T) {
		var page struct {
			Accounts []struct {
				ID        string         `json:"id"`
				Kind      string         `json:"kind"`
				Available credit.Credits `json:"available_credits"`
				Held      credit.Credits `json:"held_credits"`
			} `json:"accounts"`
			NextCursor string `json:"next_cursor"`
		}
		js(&page, "account", "list", "--prefix", "alice")
		if len(page.Accounts) != 2 || page.Accounts[0].ID != "alice" || page.Accounts[1].ID != "alice2" || page.NextCursor != "" ||
			page.Accounts[0].Kind != "user" || page.Accounts[0].Available != cr("358") || page.Accounts[0].Held != 0 {
			t.Errorf("account list --prefix alice = %+v; want alice (358 available) and alice2", page)
		}
		page.Accounts = nil
		js(&page, "account", "list", "--limit", "1")
		if len(page.Accounts) != 1 || page.Accounts[0].ID != "alice" || page.NextCursor != "alice" {
			t.Errorf("account list --limit 1 = %+v; want alice and a next cursor", page)
		}
		page.Accounts = nil
		js(&page, "account", "list", "--limit", "5", "--cursor", "alice")
		if len(page.Accounts) != 2 || page.Accounts[0].ID != "alice2" || page.Accounts[1].ID != "bob" {
			t.Errorf("account list --cursor alice = %+v; want alice2, bob", page)
		}
		if out := ok("account", "list", "--prefix", "b"); !strings.Contains(out, "bob") || strings.Contains(out, "alice") {
			t.Errorf("account list --prefix b:\n%s", out)
		}
		refused([]string{"--limit", "1 to 500"}, "account", "list", "--limit", "0")
		refused([]string{"--limit", "1 to 500"}, "account", "list", "--limit", "501")
	})

	t.Run("AccountUsage", func(t *testing.T) {
		// By model, net of refunds: chatgpt-1.5 35; nano-banana-2
		// 220.5 − 73.5 = 147; 182 in all, in 2 charges.
		var u struct {
			Account string `json:"account"`
			GroupBy string `json:"group_by"`
			Groups  []struct {
				Key     string         `json:"key"`
				Charged credit.Credits `json:"charged_credits"`
				List    credit.Credits `json:"list_credits"`
				Count   int            `json:"count"`
			} `json:"groups"`
		}
		js(&u, "account", "usage", "alice")
		if u.Account != "alice" || u.GroupBy != "model" || len(u.Groups) != 2 ||
			u.Groups[0].Key != "chatgpt-1.5" || u.Groups[0].Charged != cr("35") || u.Groups[0].Count != 1 ||
			u.Groups[1].Key != "nano-banana-2" || u.Groups[1].Charged != cr("147") || u.Groups[1].List != cr("147") || u.Groups[1].Count != 1 {
			t.Errorf("account usage --json = %+v", u)
		}
		out := ok("account", "usage", "alice", "--group-by", "kind")
		if !strings.Contains(out, "image  182") || !strings.Contains(out, "total  182") {
			t.Errorf("account usage --group-by kind:\n%s", out)
		}
		refused([]string{"--group-by", "allowed: model, kind, day, member"}, "account", "usage", "alice", "--group-by", "source")
		refused([]string{"--from", "2027-01-01"}, "account", "usage", "alice", "--from", "yesterday")
		refused([]string{"--from", "before --to"}, "account", "usage", "alice", "--from", "2026-12-02", "--to", "2026-12-01")
	})

	t.Run("AccountAudit", func(t *testing.T) {
		var log struct {
			Entries []struct {
				Actor  string          `json:"actor"`
				Action string          `json:"action"`
				Target string          `json:"target"`
				Detail json.RawMessage `json:"detail"`
			} `json:"entries"`
		}
		js(&log, "account", "audit", "alice")
		reasons := map[string][]string{}
		for _, e := range log.Entries {
			var detail struct {
				Reason string `json:"reason"`
			}
			if err := json.Unmarshal(e.Detail, &detail); err != nil || e.Target != "alice" || !strings.HasPrefix(e.Actor, "cli") {
				t.Errorf("audit entry %+v (%v); want alice's, by cli:USER, with a JSON detail", e, err)
			}
			if detail.Reason != "" {
				reasons[e.Action] = append(reasons[e.Action], detail.Reason)
			}
		}
		// Newest first.
		for action, want := range map[string]string{
			"generation.refund": "two images blurred",
			"hold.release":      "stale hold,stuck in the queue",
			"grant.create":      "goodwill",
			"grant.void":        "granted twice",
			"account.debit":     "double grant",
		} {
			if got := strings.Join(reasons[action], ","); got != want {
				t.Errorf("audit %s reasons = %q; want %q", action, got, want)
			}
		}
		if len(reasons) != 5 {
			t.Errorf("audit reasons = %v; want only the five actions given one", reasons)
		}
		out := ok("account", "audit", "alice", "--limit", "2")
		if !strings.Contains(out, "account.debit") || !strings.Contains(out, `"reason":"double grant"`) || !strings.Contains(out, "more: --before ") {
			t.Errorf("account audit --limit 2:\n%s", out)
		}
		refused([]string{"--limit", "1 to 500"}, "account", "audit", "alice", "--limit", "0")
	})

	today := time.Now().UTC().Truncate(24 * time.Hour)
	// A window of whole days around today, safe across a midnight.
	from, to := today.AddDate(0, 0, -1).Format(time.DateOnly), today.AddDate(0, 0, 2).Format(time.DateOnly)

	t.Run("ReportLiability", func(t *testing.T) {
		// promo: 500 − 220.5 + 73.5 − 35 − 10 = 308, never expiring (the
		// voided 20 is gone); topup: 50 expiring in 10 days, so within 30
		// and 90 days, not 7. Nothing is held.
		const csv = "source,outstanding_credits,expiring_within_7_days_credits,expiring_within_30_days_credits,expiring_within_90_days_credits,never_expiring_credits,past_expiry_credits\r\n" +
			"promo,308,0,0,0,308,0\r\n" +
			"topup,50,0,50,50,0,0\r\n" +
			"total,358,0,50,50,308,0\r\n"
		if out := ok("report", "liability", "--csv"); out != csv {
			t.Errorf("report liability --csv =\n%q\nwant\n%q", out, csv)
		}
		type figures struct {
			Source      string         `json:"source"`
			Outstanding credit.Credits `json:"outstanding_credits"`
			Within7     credit.Credits `json:"expiring_within_7_days_credits"`
			Within30    credit.Credits `json:"expiring_within_30_days_credits"`
			Within90    credit.Credits `json:"expiring_within_90_days_credits"`
			Never       credit.Credits `json:"never_expiring_credits"`
			PastExpiry  credit.Credits `json:"past_expiry_credits"`
		}
		var r struct {
			At time.Time `json:"at"`
			figures
			BySource []figures `json:"by_source"`
		}
		js(&r, "report", "liability")
		wantTotal := figures{Outstanding: cr("358"), Within30: cr("50"), Within90: cr("50"), Never: cr("308")}
		if r.figures != wantTotal || len(r.BySource) != 2 || r.BySource[0] != (figures{Source: "promo", Outstanding: cr("308"), Never: cr("308")}) ||
			r.BySource[1] != (figures{Source: "topup", Outstanding: cr("50"), Within30: cr("50"), Within90: cr("50")}) || time.Since(r.At) > time.Minute {
			t.Errorf("report liability --json = %+v", r)
		}
		if out := ok("report", "liability"); !strings.Contains(out, "total") || !strings.Contains(out, "358") {
			t.Errorf("report liability:\n%s", out)
		}
		// At the start of today nothing had been granted yet.
		r.BySource = nil
		js(&r, "report", "liability", "--at", today.Format(time.DateOnly))
		if r.Outstanding != 0 || len(r.BySource) != 0 || !r.At.Equal(today) {
			t.Errorf("report liability --at today = %+v; want nothing outstanding", r)
		}
		refused([]string{"--at", "future"}, "report", "liability", "--at", today.AddDate(0, 0, 2).Format(time.DateOnly))
		refused([]string{"--at", "midnight"}, "report", "liability", "--at", today.Add(10*time.Hour).Format(time.RFC3339))
		refused([]string{"--at", "2027-01-01"}, "report", "liability", "--at", "last week")
		refused([]string{"--csv and --json"}, "report", "liability", "--csv", "--json")
	})

	t.Run("ReportConsumption", func(t *testing.T) {
		// As usage: chatgpt-1.5 35 and nano-banana-2 147, both paid by promo.
		const csv = "model,charged_credits,charges,subscription,topup,promo,refund,adjustment,free,rollover,overdraft\r\n" +
			"chatgpt-1.5,35,1,0,0,35,0,0,0,0,0\r\n" +
			"nano-banana-2,147,1,0,0,147,0,0,0,0,0\r\n"
		if out := ok("report", "consumption", "--from", from, "--to", to, "--csv"); out != csv {
			t.Errorf("report consumption --csv =\n%q\nwant\n%q", out, csv)
		}
		type group struct {
			Key      string                    `json:"key"`
			Charged  credit.Credits            `json:"charged_credits"`
			Charges  int                       `json:"charges"`
			BySource map[string]credit.Credits `json:"by_source"`
		}
		var r struct {
			From     time.Time                 `json:"from"`
			To       time.Time                 `json:"to"`
			GroupBy  string                    `json:"group_by"`
			Charged  credit.Credits            `json:"charged_credits"`
			Charges  int                       `json:"charges"`
			BySource map[string]credit.Credits `json:"by_source"`
			Groups   []group                   `json:"groups"`
		}
		js(&r, "report", "consumption", "--from", from, "--to", to, "--group-by", "source")
		if !r.From.Equal(today.AddDate(0, 0, -1)) || !r.To.Equal(today.AddDate(0, 0, 2)) || r.GroupBy != "source" || r.Charged != cr("182") || r.Charges != 2 ||
			len(r.BySource) != 1 || r.BySource["promo"] != cr("182") || len(r.Groups) != 1 || r.Groups[0].Key != "promo" || r.Groups[0].Charged != cr("182") || r.Groups[0].Charges != 2 {
			t.Errorf("report consumption --group-by source --json = %+v", r)
		}
		out := ok("report", "consumption", "--from", from, "--to", to)
		for _, w := range []string{"MODEL", "PROMO", "nano-banana-2  147", "total          182      2        182"} {
			if !strings.Contains(out, w) {
				t.Errorf("report consumption lacks %q:\n%s", w, out)
			}
		}
		refused([]string{"--from and --to"}, "report", "consumption", "--from", from)
		refused([]string{"--group-by", "allowed: model, source, day"}, "report", "consumption", "--from", from, "--to", to, "--group-by", "member")
		refused([]string{"--from", "before --to"}, "report", "consumption", "--from", to, "--to", from)
		refused([]string{"--from", "whole UTC days"}, "report", "consumption", "--from", today.Add(time.Hour).Format(time.RFC3339), "--to", to)
		refused([]string{"--to", "2027-01-01"}, "report", "consumption", "--from", from, "--to", "soon")
	})

	t.Run("CatalogImpact", func(t *testing.T) {
		// The other catalog: Nano Banana 2 at 2K for 80 rather than 73.5,
		// ChatGPT 1.5 without 3:2. A: then 220.5, now 3 × 80 = 240, +19.5;
		// C: charged 35 and unpriced (unsupported_aspect_ratio).
		yaml := string(catalog.DefaultYAML())
		chatgpt := "price: {per_image: 35}\n    resolution: up to 1K\n    aspect_ratios: "
		for old, repl := range map[string]string{
			`version: "2026-11-24.seed"`:           `version: "2027-01-01.impact"`,
			`effective_at: "2026-11-24T00:00:00Z"`: `effective_at: "2027-01-01T00:00:00Z"`,
			`{1K: 49, 2K: 73.5, 4K: 98}`:           `{1K: 49, 2K: 80, 4K: 98}`,
			chatgpt + `["1:1", "2:3", "3:2"]`:      chatgpt + `["1:1", "2:3"]`,
		} {
			if strings.Count(yaml, old) != 1 {
				t.Fatalf("the built-in catalog has %d of %q", strings.Count(yaml, old), old)
			}
			yaml = strings.Replace(yaml, old, repl, 1)
		}
		file := filepath.Join(t.TempDir(), "impact.yaml")
		writeFile(t, file, yaml)
		type model struct {
			Model        string         `json:"model"`
			Generations  int            `json:"generations"`
			Then         credit.Credits `json:"charged_then_credits"`
			Now          credit.Credits `json:"charged_now_credits"`
			Difference   credit.Credits `json:"difference_credits"`
			Unpriced     int            `json:"unpriced_generations"`
			UnpricedThen credit.Credits `json:"unpriced_then_credits"`
			Reasons      map[string]int `json:"unpriced_reasons"`
		}
		var r struct {
			Version      string         `json:"version"`
			Generations  int            `json:"generations"`
			Then         credit.Credits `json:"charged_then_credits"`
			Now          credit.Credits `json:"charged_now_credits"`
			Difference   credit.Credits `json:"difference_credits"`
			Unpriced     int            `json:"unpriced_generations"`
			UnpricedThen credit.Credits `json:"unpriced_then_credits"`
			Models       []model        `json:"models"`
		}
		check := func(what string) {
			t.Helper()
			if r.Version != "2027-01-01.impact" || r.Generations != 1 || r.Then != cr("220.5") || r.Now != cr("240") || r.Difference != cr("19.5") ||
				r.Unpriced != 1 || r.UnpricedThen != cr("35") || len(r.Models) != 2 ||
				r.Models[0].Model != "chatgpt-1.5" || r.Models[0].Generations != 0 || r.Models[0].Unpriced != 1 || r.Models[0].UnpricedThen != cr("35") ||
				r.Models[0].Reasons["unsupported_aspect_ratio"] != 1 ||
				r.Models[1].Model != "nano-banana-2" || r.Models[1].Generations != 1 || r.Models[1].Then != cr("220.5") || r.Models[1].Now != cr("240") ||
				r.Models[1].Difference != cr("19.5") || r.Models[1].Unpriced != 0 {
				t.Errorf("catalog impact %s --json = %+v", what, r)
			}
		}
		js(&r, "catalog", "impact", file, "--from", from, "--to", to)
		check("FILE")
		out := ok("catalog", "impact", file, "--from", from, "--to", to)
		if !strings.Contains(out, "+19.5") || !strings.Contains(out, "unsupported_aspect_ratio 1") {
			t.Errorf("catalog impact:\n%s", out)
		}
		// Published for next year, it is not in use: it is read back as a version.
		ok("catalog", "publish", file)
		r = struct {
			Version      string         `json:"version"`
			Generations  int            `json:"generations"`
			Then         credit.Credits `json:"charged_then_credits"`
			Now          credit.Credits `json:"charged_now_credits"`
			Difference   credit.Credits `json:"difference_credits"`
			Unpriced     int            `json:"unpriced_generations"`
			UnpricedThen credit.Credits `json:"unpriced_then_credits"`
			Models       []model        `json:"models"`
		}{}
		js(&r, "catalog", "impact", "2027-01-01.impact", "--from", from, "--to", to)
		check("VERSION")
		refused([]string{"FILE|VERSION", "tally catalog history"}, "catalog", "impact", "2027-02-01.nope", "--from", from, "--to", to)
		refused([]string{"--from and --to"}, "catalog", "impact", file, "--to", to)
		bad := filepath.Join(t.TempDir(), "bad.yaml")
		writeFile(t, bad, "version: x\nmodels: 3\n")
		if code, out, _ := run(t, "catalog", "impact", bad, "--from", from, "--to", to, "--db", db); code != exitInvalid || out != "" {
			t.Errorf("catalog impact with an invalid file: exit %d, stdout %q; want exit 2, nothing printed", code, out)
		}
	})

	// The refusals wrote nothing: alice still has 358 available, and the
	// ledger's invariants (the report rollups among them) hold.
	var acc struct {
		Available credit.Credits `json:"available_credits"`
	}
	js(&acc, "account", "show", "alice")
	if acc.Available != cr("358") {
		t.Errorf("alice's available after the refusals = %s; want 358", acc.Available)
	}
	if out := ok("verify"); !strings.Contains(out, "every invariant holds") {
		t.Errorf("verify: %s", out)
	}
}
