package httpapi_test

import (
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// countEvents counts the feed's events of type typ of account.
func countEvents(t *testing.T, e *Env, typ, account string) int {
	t.Helper()
	caughtUp(t, e)
	return len(readFeed(t, e, adminKey, "limit=1000&types="+typ+"&account="+account).Events)
}

// TestAlertsAndAutoTopup runs an account's alerts and auto top-up through
// the API on both stores. The prices are the seed page's: flux-dev is 5 an
// image, so 4 images hold 20. carol starts with 100 and a low-balance
// threshold of 50: the crossing from 60 to 40 tells balance.low once. An
// auto top-up (below 30, ask 100, at most 250 a month) asks at once when
// set below its threshold, never twice while one is pending; confirming
// grants 100 exactly once, retries and all; a canceled request does not
// count against the cap, and the cap stops the fourth request.
func TestAlertsAndAutoTopup(t *testing.T) {
	eachStore(t, func(t *testing.T, e *Env) {
		e.Account("carol", "", "100")
		four := `{"account":"carol","model":"flux-dev","images":4}`

		a := e.Want(e.Do(http.MethodPut, "/v1/accounts/carol/alerts", adminKey, `{"low_balance_credits":50}`), http.StatusOK, "alerts")
		wantNum(t, a, "low_balance_credits", "50")
		if v, ok := a["auto_topup"]; !ok || v != nil {
			t.Errorf("auto_topup = %v (present %v); want null", v, ok)
		}
		if n := auditCount(t, e, credit.AuditAccountAlerts); n != 1 {
			t.Errorf("account.alerts audit entries = %d; want 1", n)
		}

		e.Generation(four) // 80 available, 20 held
		e.Generation(four) // 60
		if n := countEvents(t, e, "balance.low", "carol"); n != 0 {
			t.Fatalf("balance.low at 60 with a threshold of 50: %d events", n)
		}
		e.Generation(four) // 40: crossed
		e.Generation(four) // 20: below already
		caughtUp(t, e)
		low := readFeed(t, e, adminKey, "types=balance.low&account=carol").Events
		if len(low) != 1 {
			t.Fatalf("balance.low events = %d; want 1, for the crossing", len(low))
		}
		wantData(t, low[0], map[string]string{"available": "40", "threshold": "50"})

		t.Run("AutoTopup", func(t *testing.T) {
			body := `{"threshold_credits":30,"amount_credits":100,"monthly_cap_credits":250}`
			a := e.Want(e.Do(http.MethodPut, "/v1/accounts/carol/auto-topup", adminKey, body, "Idempotency-Key", "at-1"), http.StatusOK, "auto-topup")
			at, _ := a["auto_topup"].(map[string]any)
			if at == nil {
				t.Fatalf("auto_topup = %v; want it set", a["auto_topup"])
			}
			wantNum(t, at, "threshold_credits", "30")
			wantNum(t, at, "amount_credits", "100")
			wantNum(t, at, "monthly_cap_credits", "250")
			// Set while below the threshold: it asks at once.
			if n := countEvents(t, e, "topup.requested", "carol"); n != 1 {
				t.Fatalf("topup.requested after setting auto top-up at 20 < 30: %d; want 1", n)
			}
			// A retry answers the same and asks nothing more.
			again := e.Want(e.Do(http.MethodPut, "/v1/accounts/carol/auto-topup", adminKey, body, "Idempotency-Key", "at-1"), http.StatusOK, "auto-topup again")
			if !reflect.DeepEqual(again, a) {
				t.Errorf("retried PUT = %v; want the first answer %v", again, a)
			}
			e.Generation(`{"account":"carol","model":"flux-dev"}`) // 15 (85 held): lower, but one is pending
			if n := countEvents(t, e, "topup.requested", "carol"); n != 1 {
				t.Errorf("topup.requested while one is pending: %d; want 1", n)
			}

			list := e.Want(e.Do(http.MethodGet, "/v1/accounts/carol/topups", adminKey, ""), http.StatusOK, "topups")
			tops := objects(t, list["topups"], "topups")
			if len(tops) != 1 {
				t.Fatalf("topups = %v; want one", tops)
			}
			top := tops[0]
			wantStr(t, top, "status", "pending")
			wantNum(t, top, "credits", "100")
			id := str(t, top["id"], "id")
			got := e.Want(e.Do(http.MethodGet, "/v1/topups/"+id, e.Key(credit.ScopeAccount, "carol"), ""), http.StatusOK, "get topup with carol's key")
			if !reflect.DeepEqual(got, top) {
				t.Errorf("GET /v1/topups/%s = %v; want %v", id, got, top)
			}

			// Confirm: 100 granted once, whatever the retries.
			c := e.Want(e.Do(http.MethodPost, "/v1/topups/"+id+"/confirm", adminKey, "", "Idempotency-Key", "conf-1"), http.StatusOK, "confirm")
			wantStr(t, c, "status", "confirmed")
			grant := str(t, c["grant"], "grant")
			e.WantBalance("carol", "115", "85")
			service := e.Key(credit.ScopeService, "")
			unchanged(t, e, "confirming again", func() {
				again := e.Want(e.Do(http.MethodPost, "/v1/topups/"+id+"/confirm", adminKey, "", "Idempotency-Key", "conf-1"), http.StatusOK, "confirm retried")
				if !reflect.DeepEqual(again, c) {
					t.Errorf("retried confirm = %v; want %v", again, c)
				}
				again = e.Want(e.Do(http.MethodPost, "/v1/topups/"+id+"/confirm", service, ""), http.StatusOK, "confirm again, no key")
				if again["grant"] != grant || again["status"] != "confirmed" {
					t.Errorf("confirm again = %v; want it as it is", again)
				}
				wantProblem(t, e.Do(http.MethodPost, "/v1/topups/"+id+"/cancel", adminKey, ""), http.StatusConflict, "topup_confirmed")
			})
			e.WantBalance("carol", "115", "85")
			caughtUp(t, e)
			confirmed := readFeed(t, e, adminKey, "types=topup.confirmed&account=carol").Events
			if len(confirmed) != 1 {
				t.Fatalf("topup.confirmed events = %d; want 1", len(confirmed))
			}
			wantData(t, confirmed[0], map[string]string{"topup": id, "credits": "100", "grant": grant})
			acct := e.Want(e.Do(http.MethodGet, "/v1/accounts/carol", adminKey, ""), http.StatusOK, "carol")
			n := 0
			for _, g := range objects(t, acct["grants"], "grants") {
				if memo, _ := g["memo"].(string); g["source"] == "topup" && strings.Contains(memo, id) {
					n++
					if g["id"] != grant {
						t.Errorf("the top-up's grant is %v; the confirmation said %s", g["id"], grant)
					}
				}
			}
			if n != 1 {
				t.Errorf("grants for top-up %s = %d; want 1", id, n)
			}

			// Below the threshold again: a second request; canceled, it
			// grants nothing and does not count against the cap.
			// (A minute later each time: top-up ids sort by the clock.)
			e.Clock.Add(time.Minute)
			hold := str(t, e.Want(e.Do(http.MethodPost, "/v1/accounts/carol/holds", adminKey, `{"credits":90}`), http.StatusCreated, "hold")["id"], "id") // 25
			second := pendingTopup(t, e, "carol")
			cc := e.Want(e.Do(http.MethodPost, "/v1/topups/"+second+"/cancel", adminKey, "", "Idempotency-Key", "cancel-1"), http.StatusOK, "cancel")
			wantStr(t, cc, "status", "canceled")
			if _, ok := cc["grant"]; ok {
				t.Errorf("a canceled top-up names a grant: %v", cc)
			}
			unchanged(t, e, "canceling again", func() {
				e.Want(e.Do(http.MethodPost, "/v1/topups/"+second+"/cancel", adminKey, ""), http.StatusOK, "cancel again")
				wantProblem(t, e.Do(http.MethodPost, "/v1/topups/"+second+"/confirm", adminKey, ""), http.StatusConflict, "topup_canceled")
			})
			e.WantBalance("carol", "25", "175")
			// A third: confirmed, 200 asked this month.
			e.Want(e.Do(http.MethodPost, "/v1/holds/"+hold+"/release", adminKey, ""), http.StatusOK, "release") // 115
			e.Clock.Add(time.Minute)
			e.Want(e.Do(http.MethodPost, "/v1/accounts/carol/holds", adminKey, `{"credits":90}`), http.StatusCreated, "hold again")
			third := pendingTopup(t, e, "carol")
			e.Want(e.Do(http.MethodPost, "/v1/topups/"+third+"/confirm", adminKey, ""), http.StatusOK, "confirm the third") // 125
			// A fourth would pass the cap: 200 + 100 > 250.
			e.Want(e.Do(http.MethodPost, "/v1/accounts/carol/holds", adminKey, `{"credits":100}`), http.StatusCreated, "hold past the cap") // 25
			if n := countEvents(t, e, "topup.requested", "carol"); n != 3 {
				t.Errorf("topup.requested = %d; want 3 (the fourth passes the monthly cap)", n)
			}

			// Paged, newest first.
			p1 := e.Want(e.Do(http.MethodGet, "/v1/accounts/carol/topups?limit=2", adminKey, ""), http.StatusOK, "page 1")
			page1 := objects(t, p1["topups"], "topups")
			next := str(t, p1["next_before"], "next_before")
			p2 := e.Want(e.Do(http.MethodGet, "/v1/accounts/carol/topups?limit=2&before="+next, adminKey, ""), http.StatusOK, "page 2")
			page2 := objects(t, p2["topups"], "topups")
			if _, ok := p2["next_before"]; ok || len(page1) != 2 || len(page2) != 1 {
				t.Errorf("pages of 2 = %d (next %s), %d (next %v); want 2, 1 and no third", len(page1), next, len(page2), p2["next_before"])
			}
			if page1[0]["id"] != third || page1[1]["id"] != second || page2[0]["id"] != id {
				t.Errorf("top-ups newest first = %v, %v, %v; want %s, %s, %s", page1[0]["id"], page1[1]["id"], page2[0]["id"], third, second, id)
			}

			off := e.Want(e.Do(http.MethodDelete, "/v1/accounts/carol/auto-topup", adminKey, ""), http.StatusOK, "auto-topup off")
			if off["auto_topup"] != nil {
				t.Errorf("auto_topup after DELETE = %v; want null", off["auto_topup"])
			}
			if n := auditCount(t, e, credit.AuditAutoTopup); n != 2 {
				t.Errorf("account.auto_topup audit entries = %d; want 2 (on, off)", n)
			}
		})

		t.Run("BadInput", func(t *testing.T) {
			unchanged(t, e, "refused requests", func() {
				for _, c := range []struct {
					method, path, body string
					status             int
					code               string
				}{
					{"PUT", "/v1/accounts/carol/alerts", `{"low_balance_credits":-1}`, 422, "invalid_threshold"},
					{"PUT", "/v1/accounts/carol/alerts", `{"low_balance_credits":1.2345}`, 422, "invalid_amount"},
					{"PUT", "/v1/accounts/carol/alerts", `{"low_balance_credits":"5"}`, 422, "invalid_request"},
					{"PUT", "/v1/accounts/carol/alerts", `{}`, 422, "invalid_request"},
					{"PUT", "/v1/accounts/carol/alerts", `{"low":5}`, 422, "unknown_field"},
					{"PUT", "/v1/accounts/nobody/alerts", `{"low_balance_credits":5}`, 404, "unknown_account"},
					{"PUT", "/v1/accounts/carol/auto-topup", `{"threshold_credits":10,"amount_credits":0,"monthly_cap_credits":0}`, 422, "invalid_auto_topup"},
					{"PUT", "/v1/accounts/carol/auto-topup", `{"threshold_credits":0,"amount_credits":20,"monthly_cap_credits":100}`, 422, "invalid_auto_topup"},
					{"PUT", "/v1/accounts/carol/auto-topup", `{"threshold_credits":10,"amount_credits":20,"monthly_cap_credits":10}`, 422, "invalid_auto_topup"},
					{"PUT", "/v1/accounts/carol/auto-topup", `{"threshold_credits":10,"amount_credits":-20,"monthly_cap_credits":100}`, 422, "invalid_auto_topup"},
					{"PUT", "/v1/accounts/carol/auto-topup", `{"threshold_credits":10,"amount_credits":20}`, 422, "invalid_request"},
					{"PUT", "/v1/accounts/carol/auto-topup", `{"threshold_credits":10,"amount_credits":1.0001,"monthly_cap_credits":100}`, 422, "invalid_amount"},
					{"PUT", "/v1/accounts/nobody/auto-topup", `{"threshold_credits":10,"amount_credits":20,"monthly_cap_credits":100}`, 404, "unknown_account"},
					{"DELETE", "/v1/accounts/nobody/auto-topup", ``, 404, "unknown_account"},
					{"GET", "/v1/topups/top_nope", ``, 404, "unknown_topup"},
					{"POST", "/v1/topups/top_nope/confirm", ``, 404, "unknown_topup"},
					{"POST", "/v1/topups/top_nope/cancel", ``, 404, "unknown_topup"},
					{"POST", "/v1/topups/a%00b/confirm", ``, 404, "unknown_topup"},
					{"GET", "/v1/accounts/nobody/topups", ``, 404, "unknown_account"},
					{"GET", "/v1/accounts/carol/topups?limit=0", ``, 422, "invalid_request"},
					{"GET", "/v1/accounts/carol/topups?limit=501", ``, 422, "invalid_request"},
					{"GET", "/v1/accounts/carol/topups?before=a%00b", ``, 422, "invalid_cursor"},
				} {
					wantProblem(t, e.Do(c.method, c.path, adminKey, c.body), c.status, c.code)
				}
			})
		})

		t.Run("Scopes", func(t *testing.T) {
			e.Account("dave", "", "")
			dave := e.Key(credit.ScopeAccount, "dave")
			// Another account's top-ups are as missing as a missing one's.
			wantProblem(t, e.Do(http.MethodGet, "/v1/accounts/carol/topups", dave, ""), http.StatusNotFound, "unknown_account")
			tops := objects(t, e.Want(e.Do(http.MethodGet, "/v1/accounts/carol/topups", adminKey, ""), http.StatusOK, "topups")["topups"], "topups")
			wantProblem(t, e.Do(http.MethodGet, "/v1/topups/"+str(t, tops[0]["id"], "id"), dave, ""), http.StatusNotFound, "unknown_topup")
			wantProblem(t, e.Do(http.MethodPost, "/v1/topups/"+str(t, tops[0]["id"], "id")+"/cancel", dave, ""), http.StatusForbidden, "forbidden")
			wantProblem(t, e.Do(http.MethodPut, "/v1/accounts/carol/alerts", e.Key(credit.ScopeService, ""), `{"low_balance_credits":5}`), http.StatusForbidden, "forbidden")
		})
	})
}

// pendingTopup returns the id of the account's pending top-up, failing
// unless there is exactly one.
func pendingTopup(t *testing.T, e *Env, account string) string {
	t.Helper()
	var ids []string
	for _, top := range objects(t, e.Want(e.Do(http.MethodGet, "/v1/accounts/"+account+"/topups", adminKey, ""), http.StatusOK, "topups")["topups"], "topups") {
		if top["status"] == "pending" {
			ids = append(ids, str(t, top["id"], "id"))
		}
	}
	if len(ids) != 1 {
		t.Fatalf("pending top-ups of %s = %v; want one", account, ids)
	}
	return ids[0]
}
