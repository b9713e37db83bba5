package bench

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"regexp"
	"runtime"
	"runtime/debug"
	"strings"
	"time"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
)

// The history scenario's reports: the liability and consumption reports and
// a catalog's impact, read over the seeded year. Their rows are measured
// like the history rows (one client, against a point read in process and
// GET /healthz over HTTP), and checked against what the seed wrote: each
// report is read before the seed and after it, and the difference must be
// the seeded journal's, worked out from the generations it repeats.

// reportWindowDays is the window of the consumption and impact rows: the
// console's default, a twelfth of the seeded year.
const reportWindowDays = 30

// halfYearDays is how far back the liability row's past midnight is.
const halfYearDays = 182

// impactModel is the model whose price the impact rows' catalog changes,
// impactPrice its price there (the built-in catalog's is 5 credits an
// image), and impactCycleDelta what that adds to one of the seed's Flux Dev
// generations: 2 images × (6 − 5) = 2 credits.
const (
	impactModel = "flux-dev"
	impactPrice = "6"
)

var impactCycleDelta = credit.Whole(2)

// seedLeftOver is what the seeded grant holds once every seeded cycle is
// charged: SeedHistory grants 1,000 of its first generation's price more
// than the cycles cost, and the first is cycleRequest's (10 credits).
var seedLeftOver = 1000 * cyclePrice

// historyReports is what the report rows read and check.
type historyReports struct {
	account string
	// year is the seeded year in whole UTC days: from the seed's first
	// day's midnight to tomorrow's (at most 367 days, within
	// credit.MaxReportSpan); half is the liability row's past midnight,
	// halfYearDays before today's.
	yearFrom, yearTo, half time.Time
	// other is the catalog the impact rows re-price with.
	other *credit.Catalog
	// before is the reports before the seed; err, why they could not be
	// read (the rows then fail with it, unmeasured).
	before reportTotals
	err    error
	// Set once seeded: the cycles and what they charged together.
	cycles  int
	charged credit.Credits
	// flux is how many of the cycles were impactModel's.
	flux int
}

// reportTotals are the figures the checks compare, read at one time.
type reportTotals struct {
	liabilityNow, liabilityHalf credit.Credits // Outstanding
	year                        credit.ConsumptionReport
	toHalf                      credit.Credits // charged from yearFrom to half
	impact                      credit.Impact  // over the year, with other
}

// newHistoryReports reads the reports before the seed (from: the seed's
// first instant).
func (s *suite) newHistoryReports(ctx context.Context, account string, from time.Time) *historyReports {
	today := s.ledger.Now().Truncate(24 * time.Hour)
	h := &historyReports{account: account, yearFrom: from.UTC().Truncate(24 * time.Hour), yearTo: today.AddDate(0, 0, 1),
		half: today.AddDate(0, 0, -halfYearDays)}
	h.other, h.err = impactCatalog(s.cfg.Catalog)
	var year credit.Impact
	if h.err == nil {
		year, h.err = s.ledger.Impact(ctx, h.other, h.yearFrom, h.yearTo)
	}
	if h.err == nil {
		h.before, h.err = s.reportTotals(ctx, h, &year)
	}
	if h.err != nil && ctx.Err() == nil {
		h.err = fmt.Errorf("the reports before the seed: %w", h.err)
	}
	return h
}

// seeded records what the seed wrote: cycles of like in turn.
func (h *historyReports) seeded(cycles int, like []credit.Generation) {
	h.cycles = cycles
	for i := range cycles {
		h.charged += like[i%len(like)].Charged
	}
	// Cycles 0, len(like), 2·len(like), … are like[0], cycleRequest's.
	h.flux = (cycles + len(like) - 1) / len(like)
}

// reportTotals reads the figures the checks compare. impact is the year's
// impact already read; nil: none, and checkImpact finds none.
func (s *suite) reportTotals(ctx context.Context, h *historyReports, impact *credit.Impact) (reportTotals, error) {
	var t reportTotals
	l, err := s.ledger.Liability(ctx, time.Time{})
	if err != nil {
		return t, err
	}
	t.liabilityNow = l.Outstanding
	if l, err = s.ledger.Liability(ctx, h.half); err != nil {
		return t, err
	}
	t.liabilityHalf = l.Outstanding
	if t.year, err = s.ledger.Consumption(ctx, h.yearFrom, h.yearTo, credit.ReportByModel); err != nil {
		return t, err
	}
	c, err := s.ledger.Consumption(ctx, h.yearFrom, h.half, credit.ReportByModel)
	if err != nil {
		return t, err
	}
	t.toHalf = c.Charged
	if impact != nil {
		t.impact = *impact
	}
	return t, nil
}

// impactCatalog is the catalog the impact rows re-price with: the built-in
// one's text with impactModel at impactPrice an image, under a version of
// its own. The history's generations are priced with cat, which must price
// them as the built-in catalog does.
func impactCatalog(cat *credit.Catalog) (*credit.Catalog, error) {
	text := string(catalog.DefaultYAML())
	version := regexp.MustCompile(`(?m)^version: "([^"]+)"`)
	m := version.FindStringSubmatchIndex(text)
	if m == nil {
		return nil, errors.New("bench: the built-in catalog has no version line")
	}
	text = text[:m[3]] + ".bench-impact" + text[m[3]:]
	start := strings.Index(text, "\n  - name: Flux Dev\n")
	if start < 0 {
		return nil, errors.New("bench: the built-in catalog has no Flux Dev")
	}
	end := strings.Index(text[start+1:], "\n  - name: ")
	if end < 0 {
		end = len(text) - start - 1
	}
	block := text[start : start+1+end]
	const was = "price: {per_image: 5}"
	if strings.Count(block, was) != 1 {
		return nil, fmt.Errorf("bench: the built-in catalog's Flux Dev is not %q", was)
	}
	block = strings.Replace(block, was, "price: {per_image: "+impactPrice+"}", 1)
	other, err := catalog.Parse([]byte(text[:start] + block + text[start+1+end:]))
	if err != nil {
		return nil, fmt.Errorf("bench: the impact catalog: %w", err)
	}
	for _, req := range historyQuotes {
		q, err := cat.Quote(req)
		if err != nil {
			return nil, err
		}
		want := q.TotalCredits
		if req.Model == impactModel {
			want += impactCycleDelta
		}
		if o, err := other.Quote(req); err != nil || o.TotalCredits != want {
			return nil, fmt.Errorf("bench: the impact catalog prices %s at %s (%v); want %s", req.Model, o.TotalCredits, err, want)
		}
	}
	return other, nil
}

// reportWindow picks a window of reportWindowDays whole days within the
// seeded year, anywhere in it.
func (h *historyReports) reportWindow(rng *rand.Rand) (from, to time.Time) {
	days := int(h.yearTo.Sub(h.yearFrom).Hours()/24) - reportWindowDays
	from = h.yearFrom.AddDate(0, 0, rng.IntN(max(1, days+1)))
	return from, from.AddDate(0, 0, reportWindowDays)
}

// failUnmeasured records rows that cannot run because the reports could
// not be read before the seed.
func (s *suite) failUnmeasured(h *historyReports, names ...string) []*Result {
	var out []*Result
	for _, name := range names {
		r := &Result{Name: name, Clients: historyClients, Check: "failed: " + h.err.Error()}
		s.report.Results = append(s.report.Results, r)
		out = append(out, r)
	}
	return out
}

// ledgerReports measures the in-process report rows — reports/liability,
// reports/consumption, catalog/impact — and then the impact over the whole
// year once, and checks the reports after the seed against the ones before.
func (s *suite) ledgerReports(ctx context.Context, h *historyReports) ([]*Result, error) {
	if h.err != nil {
		return s.failUnmeasured(h, "reports/liability", "reports/consumption", "catalog/impact"), nil
	}
	y := s.pointReadBaseline(h.account)
	var out []*Result

	// Liability now and at a past midnight, in turn.
	n := make([]int, historyClients)
	sc := Scenario{Name: "reports/liability", Kinds: []string{"now", "past midnight"}, Op: func(ctx context.Context, c int) (int, error) {
		n[c]++
		kind := n[c] % 2
		at := time.Time{}
		if kind == 1 {
			at = h.half
		}
		_, err := s.ledger.Liability(ctx, at)
		return kind, err
	}}
	r, err := s.measure(ctx, sc, s.optionsFor(historyClients), y, nil)
	if err != nil {
		return nil, err
	}
	r.Notes = append(r.Notes, fmt.Sprintf("op = Ledger.Liability now, or at %s (%d days back), in turn", h.half.Format(time.DateOnly), halfYearDays))
	noteParts(r)
	out = append(out, r)

	// Consumption over 30 days anywhere in the year, by model or by day.
	n = make([]int, historyClients)
	rngs := clientRands(0xc0)
	groups := []credit.ReportGroup{credit.ReportByModel, credit.ReportByDay}
	sc = Scenario{Name: "reports/consumption", Kinds: []string{"by model", "by day"}, Op: func(ctx context.Context, c int) (int, error) {
		n[c]++
		kind := n[c] % 2
		from, to := h.reportWindow(rngs[c])
		_, err := s.ledger.Consumption(ctx, from, to, groups[kind])
		return kind, err
	}}
	if r, err = s.measure(ctx, sc, s.optionsFor(historyClients), y, nil); err != nil {
		return nil, err
	}
	r.Notes = append(r.Notes, fmt.Sprintf("op = Ledger.Consumption over %d whole days at a random place in the seeded year, by model or by day in turn", reportWindowDays))
	noteParts(r)
	out = append(out, r)

	// The impact of another catalog over 30 days anywhere in the year.
	rngs = clientRands(0x1a)
	calls, gens := make([]int, historyClients), make([]int, historyClients)
	sc = Scenario{Name: "catalog/impact", Op: func(ctx context.Context, c int) (int, error) {
		from, to := h.reportWindow(rngs[c])
		im, err := s.ledger.Impact(ctx, h.other, from, to)
		calls[c]++
		gens[c] += im.Generations + im.Unpriced
		return 0, err
	}}
	if r, err = s.measure(ctx, sc, s.optionsFor(historyClients), y, nil); err != nil {
		return nil, err
	}
	var called, streamed int
	for c := range calls {
		called += calls[c]
		streamed += gens[c]
	}
	r.Notes = append(r.Notes, fmt.Sprintf("op = Ledger.Impact of catalog %s (%s at %s credits an image instead of 5) over %d whole days at a random place in the seeded year: %d generations re-priced per op on average (warm-up included; %d cycles a year)",
		h.other.Version, impactModel, impactPrice, reportWindowDays, streamed/max(1, called), h.cycles))
	out = append(out, r)
	var year *credit.Impact
	if r.OK {
		if year, err = s.impactYear(ctx, h, y, r); err != nil {
			return nil, err
		}
	}

	// The checks: the reports now against the reports before the seed.
	now, err := s.reportTotals(ctx, h, year)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		for _, r := range out {
			if r.OK {
				r.OK, r.Check = false, "failed: the reports after the seed: "+err.Error()
			}
		}
		return out, nil
	}
	checks := []func(reportTotals) error{h.checkLiability, h.checkConsumption, h.checkImpact}
	for i, r := range out {
		if !r.OK {
			continue
		}
		if err := checks[i](now); err != nil {
			r.OK, r.Check = false, "failed: "+err.Error()
		}
	}
	return out, nil
}

// impactYear re-prices the whole year once, between two rounds of the
// point read y, and notes on r its time, its ratio and the process's memory
// while it streams. A failure fails r, and returns no impact.
func (s *suite) impactYear(ctx context.Context, h *historyReports, y *yardstick, r *Result) (*credit.Impact, error) {
	before, err := s.roundBefore(ctx, y, historyClients)
	if err != nil {
		return nil, err
	}
	s.say("catalog impact over the whole year (%d generations and more)", h.cycles)
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	rssBefore, heapBefore, allocBefore := currentRSS(), ms.HeapInuse, ms.TotalAlloc
	scope := resetPeakRSS()
	t0 := time.Now()
	year, yearErr := s.ledger.Impact(ctx, h.other, h.yearFrom, h.yearTo)
	took := time.Since(t0)
	peak := peakRSS()
	runtime.ReadMemStats(&ms)
	rssAfter := currentRSS()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	after, err := s.roundAfter(ctx, y, historyClients)
	if err != nil {
		return nil, err
	}
	if yearErr != nil {
		r.OK, r.Check = false, "failed: the impact over the whole year: "+yearErr.Error()
		return nil, nil
	}
	mean, ratio, low, high := bracket(1/took.Seconds(), before.Throughput, after.Throughput)
	note := fmt.Sprintf("the whole year once (%s to %s, %d generations re-priced, %d unpriced): %s", h.yearFrom.Format(time.DateOnly),
		h.yearTo.Format(time.DateOnly), year.Generations, year.Unpriced, formatDuration(took))
	if mean > 0 {
		note += fmt.Sprintf(", %s the point read (%s; its rounds %s/s before, %s/s after)", formatRatio(ratio),
			formatRatioRange(low, high), formatRate(before.Throughput), formatRate(after.Throughput))
	}
	r.Notes = append(r.Notes, note, fmt.Sprintf("  memory: RSS %s before, peak %s during (%s; %s scope), %s after; Go heap in use %s before, %s after; %s allocated in all",
		formatBytes(rssBefore), formatBytes(peak), signedBytes(peak-rssBefore), scope, formatBytes(rssAfter),
		formatBytes(int64(heapBefore)), formatBytes(int64(ms.HeapInuse)), formatBytes(int64(ms.TotalAlloc-allocBefore))))
	return &year, nil
}

// The checks compare the reports after the seed and the live cycle with
// the ones before: the seed wrote one grant (source topup, never
// expiring) of every cycle's price plus seedLeftOver, then h.cycles
// generations charged h.charged in all; the live cycle after it, one more
// Flux Dev generation of cyclePrice. Nothing else writes meanwhile.

// checkLiability: now, the seed's grant holds seedLeftOver − cyclePrice
// (10,000 − 10 = 9,990 credits); at the past midnight, all it was granted
// less what the seeded cycles charged before that midnight, which the
// consumption report tells.
func (h *historyReports) checkLiability(now reportTotals) error {
	if got, want := now.liabilityNow-h.before.liabilityNow, seedLeftOver-cyclePrice; got != want {
		return fmt.Errorf("the liability now rose by %s credits with the seed; want %s (its grant's %s left over, less the live cycle's %s)", got, want, seedLeftOver, cyclePrice)
	}
	charged := now.toHalf - h.before.toHalf
	if got, want := now.liabilityHalf-h.before.liabilityHalf, h.charged+seedLeftOver-charged; got != want {
		return fmt.Errorf("the liability at %s rose by %s credits with the seed; want %s (granted %s, less %s consumed before)",
			h.half.Format(time.DateOnly), got, want, h.charged+seedLeftOver, charged)
	}
	return nil
}

// checkConsumption: over the year, the seeded charges and the live one.
func (h *historyReports) checkConsumption(now reportTotals) error {
	charges, charged := now.year.Charges-h.before.year.Charges, now.year.Charged-h.before.year.Charged
	if charges != h.cycles+1 || charged != h.charged+cyclePrice {
		return fmt.Errorf("the consumption of the year rose by %d charges, %s credits with the seed; want %d, %s (the seeded cycles and the live one)",
			charges, charged, h.cycles+1, h.charged+cyclePrice)
	}
	return nil
}

// checkImpact: over the year, every seeded and live generation re-priced
// at what it was charged, but impactModel's, each impactCycleDelta more.
func (h *historyReports) checkImpact(now reportTotals) error {
	a, b := now.impact, h.before.impact
	gens, then, diff := a.Generations-b.Generations, a.Then-b.Then, (a.Now-a.Then)-(b.Now-b.Then)
	flux := modelGenerations(a, impactModel) - modelGenerations(b, impactModel)
	switch {
	case a.Version != h.other.Version:
		return fmt.Errorf("the impact is of version %q; want %q", a.Version, h.other.Version)
	case a.Unpriced != b.Unpriced:
		return fmt.Errorf("the impact of the year has %d unpriced generations after the seed, %d before; want no more", a.Unpriced, b.Unpriced)
	case gens != h.cycles+1 || then != h.charged+cyclePrice:
		return fmt.Errorf("the impact of the year rose by %d generations charged %s credits with the seed; want %d, %s", gens, then, h.cycles+1, h.charged+cyclePrice)
	case flux != h.flux+1 || diff != credit.Credits(flux)*impactCycleDelta:
		return fmt.Errorf("the seed added %d %s generations re-priced %s credits more; want %d, %s (%s more each)",
			flux, impactModel, diff, h.flux+1, credit.Credits(h.flux+1)*impactCycleDelta, impactCycleDelta)
	}
	return nil
}

func modelGenerations(im credit.Impact, model string) int {
	for _, m := range im.Models {
		if m.Model == model {
			return m.Generations
		}
	}
	return 0
}

// httpReports measures reports/liability/http and reports/consumption/http:
// the same reads as the in-process rows, as JSON over HTTP.
func (s *suite) httpReports(ctx context.Context, h *historyReports) ([]*Result, error) {
	if h.err != nil {
		return s.failUnmeasured(h, "reports/liability/http", "reports/consumption/http"), nil
	}
	y := s.healthzBaseline()
	var out []*Result
	n := make([]int, historyClients)
	paths := []string{"/v1/reports/liability", "/v1/reports/liability?at=" + h.half.Format(time.DateOnly)}
	sc := Scenario{Name: "reports/liability/http", Kinds: []string{"now", "past midnight"}, Op: func(ctx context.Context, c int) (int, error) {
		n[c]++
		kind := n[c] % 2
		return kind, s.http.call(ctx, http.MethodGet, paths[kind], nil, "", http.StatusOK, nil)
	}}
	r, err := s.measure(ctx, sc, s.optionsFor(historyClients), y, nil)
	if err != nil {
		return nil, err
	}
	r.Notes = append(r.Notes, fmt.Sprintf("op = GET /v1/reports/liability, or ?at=%s, in turn (JSON)", h.half.Format(time.DateOnly)))
	noteParts(r)
	s.noteHTTP(r)
	out = append(out, r)

	n = make([]int, historyClients)
	rngs := clientRands(0xc1)
	groups := []credit.ReportGroup{credit.ReportByModel, credit.ReportByDay}
	sc = Scenario{Name: "reports/consumption/http", Kinds: []string{"by model", "by day"}, Op: func(ctx context.Context, c int) (int, error) {
		n[c]++
		kind := n[c] % 2
		from, to := h.reportWindow(rngs[c])
		path := fmt.Sprintf("/v1/reports/consumption?from=%s&to=%s&group_by=%s", from.Format(time.DateOnly), to.Format(time.DateOnly), groups[kind])
		return kind, s.http.call(ctx, http.MethodGet, path, nil, "", http.StatusOK, nil)
	}}
	if r, err = s.measure(ctx, sc, s.optionsFor(historyClients), y, nil); err != nil {
		return nil, err
	}
	r.Notes = append(r.Notes, fmt.Sprintf("op = GET /v1/reports/consumption over %d whole days at a random place in the seeded year, group_by=model or day in turn (JSON)", reportWindowDays))
	noteParts(r)
	s.noteHTTP(r)
	out = append(out, r)
	return out, nil
}

// clientRands gives each history client a generator of its own.
func clientRands(seed uint64) []*rand.Rand {
	out := make([]*rand.Rand, historyClients)
	for c := range out {
		out[c] = rand.New(rand.NewPCG(uint64(c), seed))
	}
	return out
}

// noteParts adds a note per kind of a row of several.
func noteParts(r *Result) {
	for _, p := range r.Parts {
		r.Notes = append(r.Notes, fmt.Sprintf("  %-13s %8d ops  p50 %s  p99 %s  p999 %s", p.Kind, p.Ops, formatDuration(p.P50), formatDuration(p.P99), formatDuration(p.P999)))
	}
}

// signedBytes writes a change of size with its sign.
func signedBytes(n int64) string {
	switch {
	case n == 0:
		return "±0"
	case n < 0:
		return "−" + formatBytes(-n)
	}
	return "+" + formatBytes(n)
}
