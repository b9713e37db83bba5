package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// historySpan is how far back the seeded journal goes: a year, so that the
// API's default usage window (30 days) holds a twelfth of it.
const historySpan = 365 * 24 * time.Hour

// historyPage is the page size the history scenarios ask for: the API's
// default.
const historyPage = 50

// historyWalk is how many pages a client follows before starting again
// elsewhere.
const historyWalk = 20

// historyClients is the history rows' load: one client. Their goal is how
// fast one query answers (≤ 50 ms at a million entries), which many clients
// on a few cores would measure as time spent queueing for a CPU.
const historyClients = 1

// historyQuotes are the generations the seeded journal repeats.
var historyQuotes = []credit.QuoteRequest{
	cycleRequest,
	quoteRequest,
	{Model: "seedream-v4.5", Resolution: "1K", AspectRatio: "1:1", Images: 1},
	{Model: "topaz", Scale: 2, InputWidth: 1920, InputHeight: 1080},
}

// history seeds an account with cfg.Entries journal entries and measures
// pages of its history and its usage, the liability and consumption
// reports and a catalog's impact over the seeded year, in process (against
// a point read) and over HTTP (against GET /healthz); then verifies the
// whole ledger, the reports' rollups included.
func (s *suite) history(ctx context.Context) error {
	rows := []string{"history/entries", "history/usage", "history/entries/http", "history/usage/http", "reports/liability/http", "reports/consumption/http"}
	account := s.run + "-history"
	if _, err := s.ledger.CreateAccount(ctx, nil, account, 0); err != nil {
		return fmt.Errorf("bench: create the history account: %w", err)
	}
	var like []credit.Generation
	for _, req := range historyQuotes {
		q, err := s.cfg.Catalog.Quote(req)
		if err != nil {
			return fmt.Errorf("bench: the history scenario's quote: %w", err)
		}
		quote, _ := json.Marshal(q)
		like = append(like, credit.Generation{
			Model: q.Model, Kind: q.Kind, CatalogVersion: q.CatalogVersion, Images: q.Images, ImagesDelivered: q.Images,
			HoldCredits: q.TotalCredits, UnitCredits: q.UnitCredits, Surcharge: q.TotalCredits - q.UnitCredits*credit.Credits(q.Images),
			Charged: q.TotalCredits, Quote: quote,
		})
	}
	cycles := max(1, s.cfg.Entries/2) // 1 + 2·cycles ≥ Entries
	to := time.Now().Add(-time.Minute)
	from := to.Add(-historySpan)
	reports := s.newHistoryReports(ctx, account, from)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	s.say("seeding %s with %d entries", account, 1+2*cycles)
	t0 := time.Now()
	entries, err := credit.SeedHistory(ctx, s.cfg.Store, account, cycles, from, to, like)
	if err != nil {
		return fmt.Errorf("bench: seed the history: %w", err)
	}
	seeded := time.Since(t0)
	reports.seeded(cycles, like)
	s.say("seeded %d entries in %.1f s", entries, seeded.Seconds())
	var analyzed string
	if s.cfg.StoreKind == "postgres" {
		s.say("VACUUM (ANALYZE) after seeding")
		t0 = time.Now()
		if err := postgresVacuum(s.cfg.PostgresDSN)(ctx); err != nil {
			return fmt.Errorf("bench: after seeding the history: %w", err)
		}
		analyzed = fmt.Sprintf("after seeding, VACUUM (ANALYZE) (%.1f s) before the first measurement: autovacuum analyzes freshly loaded tables sooner or later, and until it has, the planner has no statistics of them (a page of history then misjudges its postings join and JIT-compiles it, about a second)", time.Since(t0).Seconds())
	}
	// No baseline round from before the seeding stands for the rows after it.
	s.last = nil

	// The seeded account keeps working: one live cycle through the ledger.
	v, err := s.ledger.Account(ctx, account)
	if err != nil {
		return fmt.Errorf("bench: the history account: %w", err)
	}
	g, err := s.ledger.CreateGeneration(ctx, nil, credit.GenerationSpec{Account: account, Request: cycleRequest})
	if err == nil {
		_, err = s.ledger.CompleteGeneration(ctx, nil, g.ID, cycleImages)
	}
	if err != nil {
		return fmt.Errorf("bench: a generation on the seeded account: %w", err)
	}
	after, err := s.ledger.Account(ctx, account)
	if err != nil {
		return fmt.Errorf("bench: the history account: %w", err)
	}
	live := "after seeding, a live generation cycle on the account charged " + (v.Available - after.Available).String() + " credits"
	var liveErr error
	if v.Available-after.Available != cyclePrice || after.Held != 0 {
		liveErr = fmt.Errorf("a live cycle on the seeded account left %s available, %s held; want %s, 0",
			after.Available, after.Held, v.Available-cyclePrice)
	}
	page, err := s.ledger.Entries(ctx, account, 0, 1)
	if err != nil || len(page) == 0 {
		return fmt.Errorf("bench: the seeded account's newest entry: %v", err)
	}
	newest := page[0].ID
	oldest := max(1, newest-int64(entries))

	var results []*Result
	r, err := s.ledgerEntries(ctx, account, oldest, newest)
	if err != nil {
		return err
	}
	r.Notes = append(r.Notes,
		fmt.Sprintf("%d entries seeded through the store's apply (credit.SeedHistory) in %.1f s (%d generation cycles over a year: holds, captures, their postings, holds and generations rows)", entries, seeded.Seconds(), cycles),
		live)
	if analyzed != "" {
		r.Notes = append(r.Notes, analyzed)
	}
	results = append(results, r)
	if r, err = s.ledgerUsage(ctx, account, entries); err != nil {
		return err
	}
	results = append(results, r)
	rs, err := s.ledgerReports(ctx, reports)
	if err != nil {
		return err
	}
	results = append(results, rs...)
	if !s.cfg.StoreIsServers {
		for _, name := range rows[2:] {
			s.skip(name, historyClients, "over --url it needs --db to be the server's store (the seeded account must be the server's)")
		}
	} else {
		if r, err = s.httpEntries(ctx, account); err != nil {
			return err
		}
		results = append(results, r)
		if r, err = s.httpUsage(ctx, account); err != nil {
			return err
		}
		results = append(results, r)
		if rs, err = s.httpReports(ctx, reports); err != nil {
			return err
		}
		results = append(results, rs...)
	}

	// The seeded rows are the ledger's: Verify accepts the whole store.
	s.say("verifying the ledger (%d entries and more)", entries)
	var vr Result
	t0 = time.Now()
	verr := s.verify(ctx, &vr)
	if ctx.Err() != nil {
		return ctx.Err()
	}
	note := fmt.Sprintf("verify after seeding: %.1f s, process peak RSS %s", time.Since(t0).Seconds(), formatBytes(peakRSS()))
	for _, r := range results {
		if !r.OK {
			continue
		}
		switch {
		case verr != nil:
			r.OK, r.Check = false, "failed: "+verr.Error()
		case liveErr != nil:
			r.OK, r.Check = false, "failed: "+liveErr.Error()
		default:
			r.Check = "ok"
		}
		r.Notes = append(r.Notes, note)
	}
	return nil
}

// entryWalker is one client's place in the journal.
type entryWalker struct {
	rng    *rand.Rand
	before int64 // 0: the newest
	pages  int
}

// ledgerEntries measures pages of Ledger.Entries: each client walks
// historyWalk pages from the newest entry or from a uniformly random depth,
// then starts again.
func (s *suite) ledgerEntries(ctx context.Context, account string, oldest, newest int64) (*Result, error) {
	y := s.pointReadBaseline(account)
	walkers := make([]entryWalker, historyClients)
	for c := range walkers {
		walkers[c].rng = rand.New(rand.NewPCG(uint64(c), 0xe7))
	}
	span := max(1, newest-oldest-historyPage)
	sc := Scenario{Name: "history/entries", Op: func(ctx context.Context, c int) (int, error) {
		w := &walkers[c]
		if w.pages == 0 {
			w.before = 0
			if w.rng.IntN(2) == 1 {
				w.before = oldest + historyPage + w.rng.Int64N(span)
			}
		}
		page, err := s.ledger.Entries(ctx, account, w.before, historyPage)
		if err != nil {
			return 0, err
		}
		if len(page) == 0 {
			w.pages = 0
			return 0, nil
		}
		w.before = page[len(page)-1].ID
		if w.pages++; w.pages == historyWalk {
			w.pages = 0
		}
		return 0, nil
	}}
	r, err := s.measure(ctx, sc, s.optionsFor(historyClients), y, nil)
	if err != nil {
		return nil, err
	}
	r.Notes = append(r.Notes, fmt.Sprintf("op = one page of %d entries with their postings (Ledger.Entries); walks of %d pages from the newest or a random depth", historyPage, historyWalk))
	return r, nil
}

// usageGroups are the groupings the usage scenarios rotate through.
var usageGroups = []credit.GroupBy{credit.ByModel, credit.ByKind, credit.ByDay}

// ledgerUsage measures Ledger.Usage over the API's default window (the last
// 30 days), grouped by model, kind and day in turn; and, once, over the
// longest window (400 days: the whole journal).
func (s *suite) ledgerUsage(ctx context.Context, account string, entries int) (*Result, error) {
	y := s.pointReadBaseline(account)
	n := make([]int, historyClients)
	sc := Scenario{Name: "history/usage", Op: func(ctx context.Context, c int) (int, error) {
		n[c]++
		to := s.ledger.Now()
		groups, err := s.ledger.Usage(ctx, account, to.Add(-30*24*time.Hour), to, usageGroups[n[c]%len(usageGroups)])
		if err == nil && len(groups) == 0 {
			err = fmt.Errorf("usage of %s over the last 30 days is empty", account)
		}
		return 0, err
	}}
	r, err := s.measure(ctx, sc, s.optionsFor(historyClients), y, nil)
	if err != nil {
		return nil, err
	}
	r.Notes = append(r.Notes, fmt.Sprintf("op = Ledger.Usage over the last 30 days (about %d of the %d entries), by model, kind or day in turn", entries*30/365, entries))
	var times []time.Duration
	for range 3 {
		to := s.ledger.Now()
		t0 := time.Now()
		if _, err := s.ledger.Usage(ctx, account, to.Add(-credit.MaxUsageSpan), to, credit.ByModel); err != nil {
			return nil, err
		}
		times = append(times, time.Since(t0))
	}
	slices.Sort(times)
	r.Notes = append(r.Notes, fmt.Sprintf("usage over the longest window (400 days: all %d entries), one client: median of 3 %s", entries, formatDuration(times[1])))
	return r, nil
}

// httpEntries measures GET /v1/accounts/{id}/entries: each client follows
// next_cursor for historyWalk pages from the newest, then starts again.
func (s *suite) httpEntries(ctx context.Context, account string) (*Result, error) {
	y := s.healthzBaseline()
	cursors := make([]string, historyClients)
	pages := make([]int, historyClients)
	base := "/v1/accounts/" + url.PathEscape(account) + fmt.Sprintf("/entries?limit=%d", historyPage)
	tag := []byte(`"next_cursor":"`)
	sc := Scenario{Name: "history/entries/http", Op: func(ctx context.Context, c int) (int, error) {
		path := base
		if cursors[c] != "" {
			path += "&cursor=" + url.QueryEscape(cursors[c])
		}
		status, b, err := s.http.do(ctx, http.MethodGet, path, nil, "")
		if err != nil {
			return 0, err
		}
		if status != http.StatusOK {
			return 0, fmt.Errorf("GET %s: %d %s", path, status, bytes.TrimSpace(b))
		}
		cursors[c] = ""
		if i := bytes.Index(b, tag); i >= 0 {
			rest := b[i+len(tag):]
			if j := bytes.IndexByte(rest, '"'); j >= 0 {
				cursors[c] = string(rest[:j])
			}
		}
		if pages[c]++; pages[c] == historyWalk {
			pages[c], cursors[c] = 0, ""
		}
		return 0, nil
	}}
	r, err := s.measure(ctx, sc, s.optionsFor(historyClients), y, nil)
	if err != nil {
		return nil, err
	}
	r.Notes = append(r.Notes, fmt.Sprintf("op = GET …/entries?limit=%d, JSON with postings; walks of %d pages by next_cursor from the newest", historyPage, historyWalk))
	s.noteHTTP(r)
	return r, nil
}

// httpUsage measures GET /v1/accounts/{id}/usage over its default window
// (the last 30 days), grouped by model, kind and day in turn.
func (s *suite) httpUsage(ctx context.Context, account string) (*Result, error) {
	y := s.healthzBaseline()
	n := make([]int, historyClients)
	base := "/v1/accounts/" + url.PathEscape(account) + "/usage?group_by="
	sc := Scenario{Name: "history/usage/http", Op: func(ctx context.Context, c int) (int, error) {
		n[c]++
		return 0, s.http.call(ctx, http.MethodGet, base+string(usageGroups[n[c]%len(usageGroups)]), nil, "", http.StatusOK, nil)
	}}
	r, err := s.measure(ctx, sc, s.optionsFor(historyClients), y, nil)
	if err != nil {
		return nil, err
	}
	r.Notes = append(r.Notes, "op = GET …/usage (default window: the last 30 days), by model, kind or day in turn")
	s.noteHTTP(r)
	return r, nil
}
