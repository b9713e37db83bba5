package httpapi_test

import (
	"bytes"
	"encoding/csv"
	"fmt"
	"net/http"
	"net/url"
	"reflect"
	"strconv"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

func TestEntriesPaging(t *testing.T) {
	e := MustLedgerServer(t)
	e.Account("pages", "", "")
	// Seven grants of 1..7 credits: seven entries.
	for i := 1; i <= 7; i++ {
		e.Want(e.Do(http.MethodPost, "/v1/accounts/pages/grants", adminKey, fmt.Sprintf(`{"credits":%d,"source":"topup","memo":"grant %d"}`, i, i)), http.StatusCreated, "grant")
	}
	reader := e.Key(credit.ScopeAccount, "pages")

	t.Run("JSON", func(t *testing.T) {
		var sizes []int
		var memos []string
		seen := map[string]bool{}
		cursor := ""
		for page := 0; ; page++ {
			if page > 5 {
				t.Fatal("more than 5 pages of 3 for 7 entries")
			}
			path := "/v1/accounts/pages/entries?limit=3"
			if cursor != "" {
				path += "&cursor=" + url.QueryEscape(cursor)
			}
			body := e.Want(e.Do(http.MethodGet, path, reader, ""), http.StatusOK, "entries")
			entries := objects(t, body["entries"], "entries")
			sizes = append(sizes, len(entries))
			for _, en := range entries {
				id := num(t, en["id"], "id")
				if seen[id] {
					t.Errorf("entry %s on two pages", id)
				}
				seen[id] = true
				memos = append(memos, str(t, en["memo"], "memo"))
				if got := en["kind"]; got != "grant" {
					t.Errorf("entry %s kind = %#v; want grant", id, got)
				}
				if ps := objects(t, en["postings"], "postings"); len(ps) != 2 {
					t.Errorf("entry %s has %d postings; want 2 (issued → available)", id, len(ps))
				}
			}
			next, ok := body["next_cursor"]
			if !ok {
				break
			}
			cursor = str(t, next, "next_cursor")
		}
		if want := []int{3, 3, 1}; !reflect.DeepEqual(sizes, want) {
			t.Errorf("page sizes = %v; want %v", sizes, want)
		}
		want := []string{"grant 7", "grant 6", "grant 5", "grant 4", "grant 3", "grant 2", "grant 1"}
		if !reflect.DeepEqual(memos, want) {
			t.Errorf("entries = %v; want newest first %v", memos, want)
		}
	})

	t.Run("Balances", func(t *testing.T) {
		body := e.Want(e.Do(http.MethodGet, "/v1/accounts/pages/entries", reader, ""), http.StatusOK, "entries")
		entries := objects(t, body["entries"], "entries")
		if len(entries) != 7 {
			t.Fatalf("default page has %d entries; want all 7", len(entries))
		}
		if _, ok := body["next_cursor"]; ok {
			t.Errorf("next_cursor on the only page: %v", body["next_cursor"])
		}
		// Newest first: the last grant (7) leaves 28 = 1+…+7.
		if got := []string{num(t, entries[0]["available_delta"], "delta"), num(t, entries[0]["available_after"], "after")}; !reflect.DeepEqual(got, []string{"7", "28"}) {
			t.Errorf("newest entry available delta, after = %v; want [7 28]", got)
		}
	})

	t.Run("CSV", func(t *testing.T) {
		var rows [][]string
		cursor := ""
		for page := 0; page < 5; page++ {
			path := "/v1/accounts/pages/entries?limit=3"
			if cursor != "" {
				path += "&cursor=" + url.QueryEscape(cursor)
			}
			r := e.Do(http.MethodGet, path, reader, "", "Accept", "text/csv")
			if r.status != http.StatusOK || mediaType(r.header) != "text/csv" {
				t.Fatalf("CSV entries: %d %s\n%s", r.status, r.header.Get("Content-Type"), r.body)
			}
			recs := parseCSV(t, r.body)
			if got, want := recs[0], []string{"id", "time", "kind", "ref", "generation", "model", "catalog_version", "available_delta", "held_delta", "available_after", "held_after", "charged_delta", "list_credits", "memo", "member"}; !reflect.DeepEqual(got, want) {
				t.Fatalf("CSV header = %v; want %v", got, want)
			}
			rows = append(rows, recs[1:]...)
			if cursor = r.header.Get("Next-Cursor"); cursor == "" {
				break
			}
		}
		if len(rows) != 7 {
			t.Fatalf("CSV pages hold %d rows; want 7", len(rows))
		}
		for i, row := range rows {
			want := 7 - i
			if row[2] != "grant" || row[7] != strconv.Itoa(want) || row[13] != fmt.Sprintf("grant %d", want) {
				t.Errorf("row %d = %v; want a grant of %d", i, row, want)
			}
			if _, err := time.Parse(time.RFC3339, row[1]); err != nil {
				t.Errorf("row %d time %q is not RFC 3339", i, row[1])
			}
		}
	})
}

// TestUsage charges one account on two days and sums it by model, kind and day.
func TestUsage(t *testing.T) {
	e := MustLedgerServer(t)
	e.Account("user", "", "1000")
	complete := func(body string, delivered int) string {
		id := e.Generation(body)
		e.Want(e.Do(http.MethodPost, "/v1/generations/"+id+"/complete", adminKey, fmt.Sprintf(`{"images_delivered":%d}`, delivered)), http.StatusOK, "complete")
		return id
	}
	// Day 1 (2026-12-01): Nano Banana 2 2K ×2 (147), Flux Dev ×1 (5), a
	// generic hold captured at 7.5.
	complete(`{"account":"user","model":"nano-banana-2","resolution":"2K","images":2}`, 2)
	complete(`{"account":"user","model":"flux-dev"}`, 1)
	h := e.Want(e.Do(http.MethodPost, "/v1/accounts/user/holds", adminKey, `{"credits":10}`), http.StatusCreated, "hold")
	e.Want(e.Do(http.MethodPost, "/v1/holds/"+str(t, h["id"], "id")+"/capture", adminKey, `{"credits":7.5}`), http.StatusOK, "capture")
	// Day 2: Flux Dev ×4 with 3 delivered (15); Personalize Core (24, page);
	// a failed generation charges nothing.
	e.Clock.Add(24 * time.Hour)
	complete(`{"account":"user","model":"flux-dev","images":4}`, 3)
	complete(`{"account":"user","model":"personalize-core"}`, 1)
	failed := e.Generation(`{"account":"user","model":"nano-banana-pro"}`)
	e.Want(e.Do(http.MethodPost, "/v1/generations/"+failed+"/fail", adminKey, ""), http.StatusOK, "fail")
	reader := e.Key(credit.ScopeAccount, "user")

	type group struct{ key, charged, count string }
	for _, c := range []struct {
		by   string
		want []group
	}{
		{"model", []group{{"flux-dev", "20", "2"}, {"nano-banana-2", "147", "1"}, {"other", "7.5", "1"}, {"personalize-core", "24", "1"}}},
		{"kind", []group{{"image", "167", "3"}, {"other", "7.5", "1"}, {"personalize", "24", "1"}}},
		{"day", []group{{"2026-12-01", "159.5", "3"}, {"2026-12-02", "39", "2"}}},
	} {
		t.Run(c.by, func(t *testing.T) {
			body := e.Want(e.Do(http.MethodGet, "/v1/accounts/user/usage?group_by="+c.by, reader, ""), http.StatusOK, "usage")
			var got []group
			for _, g := range objects(t, body["groups"], "groups") {
				got = append(got, group{str(t, g["key"], "key"), num(t, g["charged_credits"], "charged"), num(t, g["count"], "count")})
			}
			if !reflect.DeepEqual(got, c.want) {
				t.Errorf("usage by %s = %v; want %v", c.by, got, c.want)
			}
			r := e.Do(http.MethodGet, "/v1/accounts/user/usage?group_by="+c.by, reader, "", "Accept", "text/csv")
			if r.status != http.StatusOK || mediaType(r.header) != "text/csv" {
				t.Fatalf("CSV usage: %d %s\n%s", r.status, r.header.Get("Content-Type"), r.body)
			}
			recs := parseCSV(t, r.body)
			want := [][]string{{c.by, "charged_credits", "list_credits", "count"}}
			for _, g := range c.want {
				want = append(want, []string{g.key, g.charged, g.charged, g.count}) // charged at list price
			}
			if !reflect.DeepEqual(recs, want) {
				t.Errorf("CSV usage by %s = %v; want %v", c.by, recs, want)
			}
		})
	}

	t.Run("NetOfRefunds", func(t *testing.T) {
		// Refund 5 of day 2's Flux Dev charge of 15: usage is net.
		id := complete(`{"account":"user","model":"flux-dev","images":2}`, 2)
		e.Want(e.Do(http.MethodPost, "/v1/generations/"+id+"/refund", adminKey, `{"credits":10}`), http.StatusOK, "refund")
		body := e.Want(e.Do(http.MethodGet, "/v1/accounts/user/usage?group_by=model", reader, ""), http.StatusOK, "usage")
		for _, g := range objects(t, body["groups"], "groups") {
			if g["key"] == "flux-dev" {
				if got := num(t, g["charged_credits"], "charged_credits"); got != "20" {
					t.Errorf("flux-dev charged = %s; want 20 (5 + 15 + 10 − 10)", got)
				}
			}
		}
	})

	t.Run("Range", func(t *testing.T) {
		// Day 2 only, by its bounds; then the default window (the last 30
		// days) a month later no longer sees day 1.
		body := e.Want(e.Do(http.MethodGet, "/v1/accounts/user/usage?group_by=day&from=2026-12-02T00:00:00Z&to=2026-12-03T00:00:00Z", reader, ""), http.StatusOK, "usage")
		if groups := objects(t, body["groups"], "groups"); len(groups) != 1 || groups[0]["key"] != "2026-12-02" {
			t.Errorf("usage of 2026-12-02 = %v; want that day only", groups)
		}
		// Now 2027-01-01T09:00Z: the window is 2026-12-02T09:00:01Z to 2027-01-01T09:00:01Z.
		e.Clock.Add(30*24*time.Hour - time.Hour)
		body = e.Want(e.Do(http.MethodGet, "/v1/accounts/user/usage?group_by=day", reader, ""), http.StatusOK, "usage")
		if groups := objects(t, body["groups"], "groups"); len(groups) != 1 || groups[0]["key"] != "2026-12-02" {
			t.Errorf("usage of the last 30 days = %v; want 2026-12-02 only", groups)
		}
		if got := body["to"]; got != "2027-01-01T09:00:01Z" {
			t.Errorf("to = %#v; want now, included", got)
		}
	})
	e.Verify()
}

func parseCSV(tb testing.TB, b []byte) [][]string {
	tb.Helper()
	recs, err := csv.NewReader(bytes.NewReader(b)).ReadAll()
	if err != nil {
		tb.Fatalf("not CSV: %v\n%s", err, b)
	}
	if len(recs) == 0 {
		tb.Fatal("CSV without a header row")
	}
	return recs
}

// TestGenerationEntries checks that every journal entry of a generation, its
// hold included, names the generation, its model and the catalog version it
// was priced with, in JSON and CSV, on both stores; a generic hold names
// none.
func TestGenerationEntries(t *testing.T) {
	eachStore(t, func(t *testing.T, e *Env) {
		e.Account("ann", "", "200")
		// Nano Banana 2 at 2K: 73.5 (page); complete, then refund it.
		gen := e.Generation(`{"account":"ann","model":"nano-banana-2","resolution":"2K"}`)
		e.Want(e.Do(http.MethodPost, "/v1/generations/"+gen+"/complete", adminKey, `{"images_delivered":1}`), http.StatusOK, "complete")
		e.Want(e.Do(http.MethodPost, "/v1/generations/"+gen+"/refund", adminKey, ""), http.StatusOK, "refund")
		// A failed one: hold and release.
		failed := e.Generation(`{"account":"ann","model":"nano-banana-2"}`)
		e.Want(e.Do(http.MethodPost, "/v1/generations/"+failed+"/fail", adminKey, ""), http.StatusOK, "fail")
		e.Want(e.Do(http.MethodPost, "/v1/accounts/ann/holds", adminKey, `{"credits":3}`), http.StatusCreated, "generic hold")

		type row struct{ kind, generation, model, version, avail, held, charged, list string }
		const v = "2026-11-24.seed" // the built-in catalog's version
		want := []row{              // newest first; list credits follow the charge
			{"hold", "", "", "", "-3", "3", "0", "0"},
			{"release", failed, "nano-banana-2", v, "49", "-49", "0", "0"},
			{"hold", failed, "nano-banana-2", v, "-49", "49", "0", "0"},
			{"refund", gen, "nano-banana-2", v, "73.5", "0", "-73.5", "-73.5"},
			{"capture", gen, "nano-banana-2", v, "0", "-73.5", "73.5", "73.5"},
			{"hold", gen, "nano-banana-2", v, "-73.5", "73.5", "0", "0"},
			{"grant", "", "", "", "200", "0", "0", "0"},
		}

		body := e.Want(e.Do(http.MethodGet, "/v1/accounts/ann/entries", adminKey, ""), http.StatusOK, "entries")
		var got []row
		for _, en := range objects(t, body["entries"], "entries") {
			s := func(k string) string { v, _ := en[k].(string); return v }
			got = append(got, row{s("kind"), s("generation"), s("model"), s("catalog_version"),
				num(t, en["available_delta"], "available_delta"), num(t, en["held_delta"], "held_delta"), num(t, en["charged_delta"], "charged_delta"),
				num(t, en["list_credits"], "list_credits")})
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("JSON entries =\n%v\nwant\n%v", got, want)
		}

		r := e.Do(http.MethodGet, "/v1/accounts/ann/entries", adminKey, "", "Accept", "text/csv")
		recs := parseCSV(t, r.body)
		if wantHeader := []string{"id", "time", "kind", "ref", "generation", "model", "catalog_version", "available_delta", "held_delta", "available_after", "held_after", "charged_delta", "list_credits", "memo", "member"}; !reflect.DeepEqual(recs[0], wantHeader) {
			t.Fatalf("CSV header = %v; want %v", recs[0], wantHeader)
		}
		got = nil
		for _, c := range recs[1:] {
			got = append(got, row{c[2], c[4], c[5], c[6], c[7], c[8], c[11], c[12]})
		}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("CSV entries =\n%v\nwant\n%v", got, want)
		}
		e.Verify()
	})
}
