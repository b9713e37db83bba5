package httpapi_test

import (
	"net/http"
	"net/url"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/httpapi"
)

// eachStoreCatalogs is eachStore with the store's published catalogs
// served too (the impact route needs them).
func eachStoreCatalogs(t *testing.T, f func(t *testing.T, e *Env, cs credit.CatalogStore)) {
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			db := s.open(t)
			cs := db.(credit.CatalogStore)
			f(t, mustLedgerServerOn(t, db, httpapi.Config{Catalog: catalog.Default(), Catalogs: cs}), cs)
		})
	}
}

// financeLedger builds, over two days of the test clock, the small ledger
// the report tests compute by hand. Grants (the day-1 clock is
// 2026-12-01T10:00Z; an expiry's bucket is its last live day):
//
//	fin_a  A1 topup 100, never          A2 promo 40, expires 12-05 (bucket 12-04)
//	       A3 subscription 50, expires 2027-01-15 (bucket 2027-01-14)
//	fin_b  B1 promo 10, expires 2027-06-01 (bucket 2027-05-31)
//	       B2 adjustment 5, never       B3 promo 8, expires 12-20 (bucket 12-19)
//	fin_c  C1 promo 4, expires 12-08 (bucket 12-07)
//
// Spent soonest-expiring first. Day 1: g1, Flux Dev ×2 on fin_a, charged 10
// from A2 (30 left); g2, Nano Banana 2 1K on fin_a, charged 49: A2's 30 and
// 19 of A3; 20 of g2 refunded, the last-consumed first: 19 to A3, 1 to A2.
// Day 2 (the clock at 2026-12-02T10:00Z): g3, Flux Dev ×1 on fin_b, charged
// 5 from B3 (3 left); a generic hold of 3 on fin_a, captured: 1 from A2, 2
// from A3 (48 left).
func financeLedger(t *testing.T, e *Env) (g1, g2, g3 string) {
	t.Helper()
	for _, id := range []string{"fin_a", "fin_b", "fin_c"} {
		e.Want(e.Do(http.MethodPost, "/v1/accounts", adminKey, `{"id":"`+id+`"}`), http.StatusCreated, "open "+id)
	}
	grant := func(account, body string) {
		t.Helper()
		e.Want(e.Do(http.MethodPost, "/v1/accounts/"+account+"/grants", adminKey, body), http.StatusCreated, "grant "+body)
	}
	grant("fin_a", `{"credits":100,"source":"topup"}`)
	grant("fin_a", `{"credits":40,"source":"promo","expires_at":"2026-12-05"}`)
	grant("fin_a", `{"credits":50,"source":"subscription","expires_at":"2027-01-15T00:00:00Z"}`)
	grant("fin_b", `{"credits":10,"source":"promo","expires_at":"2027-06-01"}`)
	grant("fin_b", `{"credits":5,"source":"adjustment"}`)
	grant("fin_b", `{"credits":8,"source":"promo","expires_at":"2026-12-20"}`)
	grant("fin_c", `{"credits":4,"source":"promo","expires_at":"2026-12-08"}`)
	complete := func(gen, images string) {
		t.Helper()
		e.Want(e.Do(http.MethodPost, "/v1/generations/"+gen+"/complete", adminKey, `{"images_delivered":`+images+`}`), http.StatusOK, "complete "+gen)
	}
	g1 = e.Generation(`{"account":"fin_a","model":"flux-dev","images":2}`)
	complete(g1, "2")
	g2 = e.Generation(`{"account":"fin_a","model":"nano-banana-2"}`)
	complete(g2, "1")
	e.Want(e.Do(http.MethodPost, "/v1/generations/"+g2+"/refund", adminKey, `{"credits":20}`), http.StatusOK, "refund g2")

	e.Clock.Add(24 * time.Hour)
	g3 = e.Generation(`{"account":"fin_b","model":"flux-dev"}`)
	complete(g3, "1")
	h := e.Want(e.Do(http.MethodPost, "/v1/accounts/fin_a/holds", adminKey, `{"credits":3}`), http.StatusCreated, "hold")
	e.Want(e.Do(http.MethodPost, "/v1/holds/"+str(t, h["id"], "id")+"/capture", adminKey, ""), http.StatusOK, "capture")
	// fin_a: 100 + 40 + 50 − 10 − 49 + 20 − 3 = 148.
	e.WantBalance("fin_a", "148", "0")
	return g1, g2, g3
}

// liabilityFigures are a liability's six amounts, in the order of its CSV:
// outstanding, within 7, 30 and 90 days, never, past expiry.
var liabilityFields = []string{"outstanding_credits", "expiring_within_7_days_credits", "expiring_within_30_days_credits",
	"expiring_within_90_days_credits", "never_expiring_credits", "past_expiry_credits"}

// figures reads a liability object's six amounts.
func figures(t *testing.T, m map[string]any) [6]string {
	t.Helper()
	var out [6]string
	for i, f := range liabilityFields {
		out[i] = num(t, m[f], f)
	}
	return out
}

// wantLiability checks a liability report: at, the totals, and each source's
// figures in order.
func wantLiability(t *testing.T, got map[string]any, at string, total [6]string, bySource map[string][6]string) {
	t.Helper()
	if got["at"] != at {
		t.Errorf("at = %v; want %s", got["at"], at)
	}
	if f := figures(t, got); f != total {
		t.Errorf("totals = %v; want %v", f, total)
	}
	var sources []string
	for _, s := range objects(t, got["by_source"], "by_source") {
		src := str(t, s["source"], "source")
		sources = append(sources, src)
		if f := figures(t, s); f != bySource[src] {
			t.Errorf("%s = %v; want %v", src, f, bySource[src])
		}
	}
	var want []string
	for s := range bySource {
		want = append(want, s)
	}
	slices.Sort(want)
	if !slices.Equal(sources, want) {
		t.Errorf("by_source lists %v; want %v", sources, want)
	}
}

// TestLiabilityReport checks the liability report against the hand
// computation of financeLedger's grants, now, at a past midnight and once a
// grant is past its expiry, in JSON and CSV, on both stores.
func TestLiabilityReport(t *testing.T) {
	eachStore(t, func(t *testing.T, e *Env) {
		financeLedger(t, e)
		support := e.Key(credit.ScopeSupport, "")

		// Now (2026-12-02T10:00Z): the windows count from today, 12-02:
		// within 7 is a bucket before 12-09, 30 before 2027-01-01, 90 before
		// 2027-03-02. Outstanding:
		//   topup        A1 100 never
		//   subscription A3 48 (50 − 19 + 19 − 2), bucket 2027-01-14: within 90
		//   adjustment   B2 5 never
		//   promo        A2 0 (40 − 10 − 30 + 1 − 1); B1 10, beyond 90 days;
		//                B3 3 (8 − 5), bucket 12-19: within 30; C1 4, bucket 12-07: within 7
		// promo 10 + 3 + 4 = 17, within 7: 4, 30: 3 + 4 = 7, 90: 7.
		// Totals 100 + 48 + 5 + 17 = 170; within 7: 4; 30: 7; 90: 7 + 48 = 55;
		// never 100 + 5 = 105 (and 55 + B1's 10 + 105 = 170).
		nowBySource := map[string][6]string{
			"adjustment":   {"5", "0", "0", "0", "5", "0"},
			"promo":        {"17", "4", "7", "7", "0", "0"},
			"subscription": {"48", "0", "0", "48", "0", "0"},
			"topup":        {"100", "0", "0", "0", "100", "0"},
		}
		got := e.Want(e.Do(http.MethodGet, "/v1/reports/liability", support, ""), http.StatusOK, "liability now")
		wantLiability(t, got, "2026-12-02T10:00:00Z", [6]string{"170", "4", "7", "55", "105", "0"}, nowBySource)

		// At 2026-12-02 (midnight): day 1's journal only. A2 then held 1
		// (40 − 10 − 30 + 1), A3 50 (− 19 + 19), B3 all its 8. Same windows.
		// promo 1 + 10 + 8 + 4 = 23, within 7: A2 1 (12-04) + C1 4 = 5,
		// 30: 5 + B3 8 = 13, 90: 13. Totals 100 + 50 + 5 + 23 = 178;
		// within 90: 13 + 50 = 63; never 105.
		for _, at := range []string{"2026-12-02", "2026-12-02T00:00:00Z", "2026-12-02T01:00:00%2B01:00"} {
			got = e.Want(e.Do(http.MethodGet, "/v1/reports/liability?at="+at, adminKey, ""), http.StatusOK, "liability at "+at)
			wantLiability(t, got, "2026-12-02T00:00:00Z", [6]string{"178", "5", "13", "63", "105", "0"}, map[string][6]string{
				"adjustment":   {"5", "0", "0", "0", "5", "0"},
				"promo":        {"23", "5", "13", "13", "0", "0"},
				"subscription": {"50", "0", "0", "50", "0", "0"},
				"topup":        {"100", "0", "0", "0", "100", "0"},
			})
		}
		// At 2026-12-01, before anything was written: nothing owed.
		got = e.Want(e.Do(http.MethodGet, "/v1/reports/liability?at=2026-12-01", adminKey, ""), http.StatusOK, "liability at 12-01")
		wantLiability(t, got, "2026-12-01T00:00:00Z", [6]string{"0", "0", "0", "0", "0", "0"}, map[string][6]string{})

		// CSV: a row per source, then the total.
		r := e.Do(http.MethodGet, "/v1/reports/liability", support, "", "Accept", "text/csv")
		if r.status != http.StatusOK || mediaType(r.header) != "text/csv" {
			t.Fatalf("liability CSV = %d %s\n%s", r.status, r.header.Get("Content-Type"), r.body)
		}
		wantCSV(t, r.body, [][]string{
			{"source", "outstanding_credits", "expiring_within_7_days_credits", "expiring_within_30_days_credits", "expiring_within_90_days_credits", "never_expiring_credits", "past_expiry_credits"},
			{"adjustment", "5", "0", "0", "0", "5", "0"},
			{"promo", "17", "4", "7", "7", "0", "0"},
			{"subscription", "48", "0", "0", "48", "0", "0"},
			{"topup", "100", "0", "0", "0", "100", "0"},
			{"total", "170", "4", "7", "55", "105", "0"},
		})

		// A week on (2026-12-09T10:00Z), nothing written: C1 expired at
		// 12-08 and no sweep took it, so its 4 are past expiry. The windows
		// count from 12-09: within 7 before 12-16, 30 before 2027-01-08, 90
		// before 2027-03-09. B3 3 (12-19): within 30; A3 48 (2027-01-14):
		// within 90 only. Totals: 170; 0; 3; 3 + 48 = 51; 105; 4.
		e.Clock.Add(7 * 24 * time.Hour)
		got = e.Want(e.Do(http.MethodGet, "/v1/reports/liability", support, ""), http.StatusOK, "liability a week on")
		wantLiability(t, got, "2026-12-09T10:00:00Z", [6]string{"170", "0", "3", "51", "105", "4"}, map[string][6]string{
			"adjustment":   {"5", "0", "0", "0", "5", "0"},
			"promo":        {"17", "0", "3", "3", "0", "4"},
			"subscription": {"48", "0", "0", "48", "0", "0"},
			"topup":        {"100", "0", "0", "0", "100", "0"},
		})
	})
}

// TestConsumptionReport checks the consumption report against the hand
// computation of financeLedger's charges, by model, source and day, in JSON
// and CSV, on both stores. The charges:
//
//	12-01 g1 flux-dev       10: promo 10                      (first paid by promo)
//	12-01 g2 nano-banana-2  49: promo 30, subscription 19     (first paid by promo)
//	12-01 g2's refund      −20: subscription −19, promo −1    (who paid the credits it returns)
//	12-02 g3 flux-dev        5: promo 5                       (first paid by promo)
//	12-02 the generic hold   3: promo 1, subscription 2       (first paid by promo)
//
// Net: 10 + 49 − 20 + 5 + 3 = 47 in 4 charges; promo 10 + 30 − 1 + 5 + 1 =
// 45, subscription 19 − 19 + 2 = 2.
func TestConsumptionReport(t *testing.T) {
	eachStore(t, func(t *testing.T, e *Env) {
		financeLedger(t, e)
		support := e.Key(credit.ScopeSupport, "")
		type group struct {
			key, charged, charges string
			bySource              map[string]string
		}
		check := func(query string, total group, groups []group) {
			t.Helper()
			got := e.Want(e.Do(http.MethodGet, "/v1/reports/consumption?"+query, support, ""), http.StatusOK, "consumption?"+query)
			read := func(m map[string]any) group {
				g := group{charged: num(t, m["charged_credits"], "charged_credits"), charges: num(t, m["charges"], "charges"), bySource: map[string]string{}}
				g.key, _ = m["key"].(string)
				for s, c := range m["by_source"].(map[string]any) {
					g.bySource[s] = num(t, c, "by_source."+s)
				}
				return g
			}
			if g := read(got); g.charged != total.charged || g.charges != total.charges || !equalMaps(g.bySource, total.bySource) {
				t.Errorf("consumption?%s totals = %+v; want %+v", query, g, total)
			}
			gs := objects(t, got["groups"], "groups")
			if len(gs) != len(groups) {
				t.Fatalf("consumption?%s has %d groups; want %d\n%s", query, len(gs), len(groups), got["groups"])
			}
			for i, m := range gs {
				if g := read(m); g.key != groups[i].key || g.charged != groups[i].charged || g.charges != groups[i].charges || !equalMaps(g.bySource, groups[i].bySource) {
					t.Errorf("consumption?%s group %d = %+v; want %+v", query, i, g, groups[i])
				}
			}
		}
		total := group{charged: "47", charges: "4", bySource: map[string]string{"promo": "45", "subscription": "2"}}
		// By model: flux-dev 10 + 5 = 15 in 2; nano-banana-2 49 − 20 = 29 in 1,
		// all promo (30 − 1; subscription 19 − 19 = 0); other (the generic
		// hold) 3 in 1.
		check("from=2026-12-01&to=2026-12-03", total, []group{
			{"flux-dev", "15", "2", map[string]string{"promo": "15"}},
			{"nano-banana-2", "29", "1", map[string]string{"promo": "29"}},
			{"other", "3", "1", map[string]string{"promo": "1", "subscription": "2"}},
		})
		// By source: promo 45 in the 4 charges it paid first; subscription 2
		// in none.
		check("from=2026-12-01T00:00:00Z&to=2026-12-03&group_by=source", total, []group{
			{"promo", "45", "4", map[string]string{"promo": "45"}},
			{"subscription", "2", "0", map[string]string{"subscription": "2"}},
		})
		// By day: 12-01 10 + 29 = 39 in 2, promo; 12-02 5 + 3 = 8 in 2, promo
		// 5 + 1 = 6, subscription 2.
		check("from=2026-12-01&to=2026-12-03&group_by=day", total, []group{
			{"2026-12-01", "39", "2", map[string]string{"promo": "39"}},
			{"2026-12-02", "8", "2", map[string]string{"promo": "6", "subscription": "2"}},
		})
		// Day 2 alone.
		check("from=2026-12-02&to=2026-12-03", group{charged: "8", charges: "2", bySource: map[string]string{"promo": "6", "subscription": "2"}}, []group{
			{"flux-dev", "5", "1", map[string]string{"promo": "5"}},
			{"other", "3", "1", map[string]string{"promo": "1", "subscription": "2"}},
		})
		// Before anything: nothing.
		check("from=2026-11-01&to=2026-12-01", group{charged: "0", charges: "0", bySource: map[string]string{}}, nil)

		// CSV: a column per source, in the order grants name them, the
		// overdraft last.
		header := []string{"subscription", "topup", "promo", "refund", "adjustment", "free", "rollover", "overdraft"}
		r := e.Do(http.MethodGet, "/v1/reports/consumption?from=2026-12-01&to=2026-12-03", support, "", "Accept", "text/csv")
		if r.status != http.StatusOK || mediaType(r.header) != "text/csv" {
			t.Fatalf("consumption CSV = %d %s\n%s", r.status, r.header.Get("Content-Type"), r.body)
		}
		wantCSV(t, r.body, [][]string{
			append([]string{"model", "charged_credits", "charges"}, header...),
			{"flux-dev", "15", "2", "0", "0", "15", "0", "0", "0", "0", "0"},
			{"nano-banana-2", "29", "1", "0", "0", "29", "0", "0", "0", "0", "0"},
			{"other", "3", "1", "2", "0", "1", "0", "0", "0", "0", "0"},
		})
		r = e.Do(http.MethodGet, "/v1/reports/consumption?from=2026-12-01&to=2026-12-03&group_by=day", adminKey, "", "Accept", "text/csv")
		wantCSV(t, r.body, [][]string{
			append([]string{"day", "charged_credits", "charges"}, header...),
			{"2026-12-01", "39", "2", "0", "0", "39", "0", "0", "0", "0", "0"},
			{"2026-12-02", "8", "2", "2", "0", "6", "0", "0", "0", "0", "0"},
		})
	})
}

// TestReportsBadInput: every bad value of the reports' and the impact's
// parameters is a 422 with a stable code, on both stores, and writes nothing.
func TestReportsBadInput(t *testing.T) {
	eachStoreCatalogs(t, func(t *testing.T, e *Env, _ credit.CatalogStore) {
		financeLedger(t, e) // the clock: 2026-12-02T10:00Z
		before := contents(t, e)
		seed := url.QueryEscape(catalog.Default().Version)
		for _, c := range []struct {
			name, path, code string
		}{
			{"AtNotMidnight", "/v1/reports/liability?at=2026-12-01T12:00:00Z", "invalid_at"},
			{"AtOffsetNotMidnight", "/v1/reports/liability?at=2026-12-01T00:00:00%2B01:00", "invalid_at"},
			{"AtFuture", "/v1/reports/liability?at=2026-12-03", "invalid_at"},
			{"AtYearOne", "/v1/reports/liability?at=0001-01-01", "invalid_at"},
			{"AtZeroTime", "/v1/reports/liability?at=0001-01-01T00:00:00Z", "invalid_at"},
			{"AtWords", "/v1/reports/liability?at=yesterday", "invalid_time"},
			{"AtNul", "/v1/reports/liability?at=2026%00", "invalid_time"},
			{"LiabilityUnknownParameter", "/v1/reports/liability?when=now", "invalid_request"},
			{"FromNotMidnight", "/v1/reports/consumption?from=2026-12-01T10:00:00Z&to=2026-12-02", "invalid_range"},
			{"ToNotMidnight", "/v1/reports/consumption?from=2026-12-01&to=2026-12-02T00:00:01Z", "invalid_range"},
			{"Backwards", "/v1/reports/consumption?from=2026-12-02&to=2026-12-01", "invalid_range"},
			{"Empty", "/v1/reports/consumption?from=2026-12-01&to=2026-12-01", "invalid_range"},
			{"TooLong", "/v1/reports/consumption?from=2025-01-01&to=2026-12-01", "invalid_range"},
			{"FromWords", "/v1/reports/consumption?from=last%20week&to=2026-12-01", "invalid_time"},
			{"ToInvalidUTF8", "/v1/reports/consumption?from=2026-12-01&to=%ff", "invalid_time"},
			{"NoFrom", "/v1/reports/consumption?to=2026-12-01", "invalid_request"},
			{"NoTo", "/v1/reports/consumption?from=2026-12-01", "invalid_request"},
			{"GroupByWeek", "/v1/reports/consumption?from=2026-12-01&to=2026-12-02&group_by=week", "invalid_group_by"},
			{"GroupByMember", "/v1/reports/consumption?from=2026-12-01&to=2026-12-02&group_by=member", "invalid_group_by"},
			{"ImpactNoVersion", "/v1/catalog/impact?from=2026-12-01&to=2026-12-02", "invalid_request"},
			{"ImpactNoFrom", "/v1/catalog/impact?version=" + seed + "&to=2026-12-02", "invalid_request"},
			{"ImpactBackwards", "/v1/catalog/impact?version=" + seed + "&from=2026-12-02&to=2026-12-01", "invalid_range"},
			{"ImpactTooLong", "/v1/catalog/impact?version=" + seed + "&from=2025-01-01&to=2026-12-01", "invalid_range"},
			{"ImpactBadTime", "/v1/catalog/impact?version=" + seed + "&from=soon&to=2026-12-01", "invalid_time"},
			{"ImpactUnknownVersion", "/v1/catalog/impact?version=nope&from=2026-12-01&to=2026-12-02", "unknown_catalog_version"},
			{"ImpactNulVersion", "/v1/catalog/impact?version=v%00&from=2026-12-01&to=2026-12-02", "unknown_catalog_version"},
		} {
			t.Run(c.name, func(t *testing.T) {
				status := http.StatusUnprocessableEntity
				if c.code == "unknown_catalog_version" {
					status = http.StatusNotFound
				}
				wantProblem(t, e.Do(http.MethodGet, c.path, adminKey, ""), status, c.code)
				wantProblem(t, e.Do(http.MethodGet, c.path, adminKey, "", "Accept", "text/csv"), status, c.code)
			})
		}
		if after := contents(t, e); !reflect.DeepEqual(after, before) {
			t.Errorf("a refused report changed the store")
		}
	})
}

// wantCSV fails unless body is the CSV rows.
func wantCSV(t *testing.T, body []byte, want [][]string) {
	t.Helper()
	got := parseCSV(t, body)
	if len(got) != len(want) {
		t.Fatalf("CSV has %d rows; want %d\n%s", len(got), len(want), body)
	}
	for i := range want {
		if !slices.Equal(got[i], want[i]) {
			t.Errorf("CSV row %d = %v; want %v", i, got[i], want[i])
		}
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
