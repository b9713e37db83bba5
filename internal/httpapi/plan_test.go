package httpapi_test

import (
	"context"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/httpapi"
)

// The plans below are examples/plans.yaml's, and the built-in catalog's free
// program (100 credits a day, not for models tagged pro). Prices are the
// seed page's: Nano Banana 2 at 1K 49, Nano Banana Pro at 1K 80. Every
// expected number is worked out by hand from those.

// mustPlansCatalog loads examples/plans.yaml: the built-in models, and a paid
// plan of each shape (basic 1000 a month; pro 5000 with rollover; unlimited
// 2000 and two unlimited windows).
func mustPlansCatalog(tb testing.TB) *credit.Catalog {
	tb.Helper()
	c, err := catalog.LoadFile("../../examples/plans.yaml")
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// eachStoreWith is eachStore with catalog c.
func eachStoreWith(t *testing.T, c *credit.Catalog, f func(t *testing.T, e *Env)) {
	for _, s := range stores {
		t.Run(s.name, func(t *testing.T) {
			f(t, mustLedgerServerOn(t, s.open(t), httpapi.Config{Catalog: c}))
		})
	}
}

// unchanged fails if fn writes anything: the store's contents and the audit
// log are the same after it.
func unchanged(t *testing.T, e *Env, what string, fn func()) {
	t.Helper()
	before := contents(t, e)
	fn()
	if after := contents(t, e); !reflect.DeepEqual(after, before) {
		t.Errorf("%s wrote to the store:\nbefore %+v\nafter  %+v", what, before, after)
	}
}

// wantNum fails unless m[key] is the JSON number want.
func wantNum(t *testing.T, m map[string]any, key, want string) {
	t.Helper()
	if got := num(t, m[key], key); got != want {
		t.Errorf("%s = %s; want %s", key, got, want)
	}
}

// wantStr fails unless m[key] is the JSON string want ("" also when absent).
func wantStr(t *testing.T, m map[string]any, key, want string) {
	t.Helper()
	got, _ := m[key].(string)
	if got != want {
		t.Errorf("%s = %#v; want %q", key, m[key], want)
	}
}

// balances returns an account's balances object, and the account.
func balances(t *testing.T, e *Env, id string) (map[string]string, map[string]any) {
	t.Helper()
	a := e.Want(e.Do(http.MethodGet, "/v1/accounts/"+id, adminKey, ""), http.StatusOK, "get "+id)
	b := at(t, a, "balances")
	out := map[string]string{"available": num(t, a["available_credits"], "available_credits")}
	for _, k := range []string{"free_credits", "subscription_credits", "topup_credits", "other_credits"} {
		out[k] = num(t, b[k], k)
	}
	return out, a
}

func wantBalances(t *testing.T, e *Env, id string, want map[string]string) map[string]any {
	t.Helper()
	got, a := balances(t, e, id)
	if !reflect.DeepEqual(got, want) {
		t.Errorf("account %s balances = %v; want %v", id, got, want)
	}
	return a
}

func auditCount(t *testing.T, e *Env, action string) int {
	t.Helper()
	log, err := e.Ledger.Audit(context.Background(), 0, credit.MaxAuditPage)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, a := range log {
		if a.Action == action {
			n++
		}
	}
	return n
}

// TestFreeProgram: an account on the built-in free program has 100 credits a
// day without a write, cannot use Pro models, buys no top-ups, and its free
// credits pay only for models not tagged pro.
func TestFreeProgram(t *testing.T) {
	eachStore(t, func(t *testing.T, e *Env) {
		a := e.Want(e.Do(http.MethodPost, "/v1/accounts", adminKey, `{"id":"fay","plan":"free","time_zone":"Europe/Berlin"}`), http.StatusCreated, "create")
		wantStr(t, a, "program", "free")
		wantStr(t, a, "plan", "free")
		wantStr(t, a, "time_zone", "Europe/Berlin")
		wantNum(t, a, "available_credits", "100")

		t.Run("ReadWritesNothing", func(t *testing.T) {
			unchanged(t, e, "GET /v1/accounts/fay", func() {
				a := wantBalances(t, e, "fay", map[string]string{"available": "100", "free_credits": "100", "subscription_credits": "0", "topup_credits": "0", "other_credits": "0"})
				wantStr(t, a, "subscription", "")
				grants := objects(t, a["grants"], "grants")
				if len(grants) != 1 {
					t.Fatalf("grants = %v; want today's free credits", grants)
				}
				wantStr(t, grants[0], "source", "free")
				wantNum(t, grants[0], "remaining_credits", "100")
				// 2026-12-01 10:00 UTC is 11:00 in Berlin: the day ends at
				// Berlin's midnight, 23:00 UTC.
				wantStr(t, grants[0], "expires_at", "2026-12-01T23:00:00Z")
				body := e.Want(e.Do(http.MethodGet, "/v1/accounts/fay/entries", adminKey, ""), http.StatusOK, "entries")
				if got := objects(t, body["entries"], "entries"); len(got) != 0 {
					t.Errorf("entries = %v; want none: the free credits are not written until spent", got)
				}
			})
		})

		t.Run("ProModel", func(t *testing.T) {
			unchanged(t, e, "a Pro generation on the free program", func() {
				p := wantProblem(t, e.Do(http.MethodPost, "/v1/generations", adminKey, `{"account":"fay","model":"nano-banana-pro"}`), http.StatusForbidden, "plan_required")
				if _, ok := p["available_credits"]; ok {
					t.Errorf("plan_required carries available_credits: %v", p)
				}
				q := e.Want(e.Do(http.MethodPost, "/v1/quotes", adminKey, `{"account":"fay","model":"nano-banana-pro"}`), http.StatusOK, "quote")
				aff := at(t, q, "affordable")
				if aff["plan_required"] != true || len(objects(t, aff["paid_by"], "paid_by")) != 0 {
					t.Errorf("affordable = %v; want plan_required and no paid_by", aff)
				}
			})
		})

		t.Run("Topup", func(t *testing.T) {
			unchanged(t, e, "a top-up on the free program", func() {
				wantProblem(t, e.Do(http.MethodPost, "/v1/accounts/fay/grants", adminKey, `{"credits":10,"source":"topup"}`), http.StatusForbidden, "subscription_required")
			})
		})

		t.Run("Spend", func(t *testing.T) {
			q := e.Want(e.Do(http.MethodPost, "/v1/quotes", adminKey, `{"account":"fay","model":"nano-banana-2"}`), http.StatusOK, "quote")
			aff := at(t, q, "affordable")
			wantNum(t, aff, "available_credits", "100")
			wantNum(t, aff, "eligible_available_credits", "100")
			wantNum(t, aff, "images", "2") // 100 / 49
			if aff["unlimited"] != false || aff["plan_required"] != false {
				t.Errorf("affordable = %v; want neither unlimited nor plan_required", aff)
			}
			paid := objects(t, aff["paid_by"], "paid_by")
			if len(paid) != 1 {
				t.Fatalf("paid_by = %v; want the free grant", paid)
			}
			wantStr(t, paid[0], "source", "free")
			wantNum(t, paid[0], "credits", "49")
			free := str(t, paid[0]["grant"], "grant")

			g := e.Generation(`{"account":"fay","model":"nano-banana-2"}`)
			e.Want(e.Do(http.MethodPost, "/v1/generations/"+g+"/complete", adminKey, `{"images_delivered":1}`), http.StatusOK, "complete")
			// 100 − 49 = 51, all of it free credits.
			a := wantBalances(t, e, "fay", map[string]string{"available": "51", "free_credits": "51", "subscription_credits": "0", "topup_credits": "0", "other_credits": "0"})
			if got := str(t, objects(t, a["grants"], "grants")[0]["id"], "grant"); got != free {
				t.Errorf("the free grant is %s; the quote said %s would pay", got, free)
			}
			e.Generation(`{"account":"fay","model":"nano-banana-2"}`) // 51 − 49 = 2 left
			p := wantProblem(t, e.Do(http.MethodPost, "/v1/generations", adminKey, `{"account":"fay","model":"nano-banana-2"}`), http.StatusPaymentRequired, "insufficient_credits")
			wantNum(t, p, "available_credits", "2")
			wantNum(t, p, "eligible_available_credits", "2")
			wantNum(t, p, "required_credits", "49")
		})

		t.Run("AppliesTo", func(t *testing.T) {
			g := e.Want(e.Do(http.MethodPost, "/v1/accounts/fay/grants", adminKey, `{"credits":80,"source":"promo","applies_to":{"models":["Nano Banana 2"],"exclude_tags":["pro"]}}`), http.StatusCreated, "grant")
			if got, want := g["applies_to"], map[string]any{"models": []any{"nano-banana-2"}, "exclude_tags": []any{"pro"}}; !reflect.DeepEqual(got, want) {
				t.Errorf("applies_to = %v; want %v (the name read as its id)", got, want)
			}
			// 2 free + 80 promo available; held 49. Flux Dev (5) may not
			// use the promo: 2 of 82 may pay, 5 are needed.
			p := wantProblem(t, e.Do(http.MethodPost, "/v1/generations", adminKey, `{"account":"fay","model":"flux-dev"}`), http.StatusPaymentRequired, "insufficient_credits")
			wantNum(t, p, "available_credits", "82")
			wantNum(t, p, "eligible_available_credits", "2")
			wantNum(t, p, "required_credits", "5")
			// Nano Banana 2 may: 2 free first (they expire first), then 47 promo.
			q := e.Want(e.Do(http.MethodPost, "/v1/quotes", adminKey, `{"account":"fay","model":"nano-banana-2"}`), http.StatusOK, "quote")
			var got [][2]string
			for _, s := range objects(t, at(t, q, "affordable")["paid_by"], "paid_by") {
				got = append(got, [2]string{str(t, s["source"], "source"), num(t, s["credits"], "credits")})
			}
			if want := [][2]string{{"free", "2"}, {"promo", "47"}}; !reflect.DeepEqual(got, want) {
				t.Errorf("paid_by = %v; want %v", got, want)
			}
			unchanged(t, e, "refused applies_to", func() {
				p := wantProblem(t, e.Do(http.MethodPost, "/v1/accounts/fay/grants", adminKey, `{"credits":1,"source":"promo","applies_to":{"models":["nano-banana-9"]}}`), http.StatusUnprocessableEntity, "unknown_model")
				if allowed := strs(t, p["allowed"], "allowed"); len(allowed) != len(pageModels) || allowed[0] != "nano-banana-2" {
					t.Errorf("allowed = %v; want every model id", allowed)
				}
				p = wantProblem(t, e.Do(http.MethodPost, "/v1/accounts/fay/grants", adminKey, `{"credits":1,"source":"promo","applies_to":{"exclude_tags":["vip"]}}`), http.StatusUnprocessableEntity, "unknown_tag")
				if got := strs(t, p["allowed"], "allowed"); !reflect.DeepEqual(got, []string{"pro"}) {
					t.Errorf("allowed = %v; want [pro]", got)
				}
			})
		})

		t.Run("NextDay", func(t *testing.T) {
			// Berlin's next day. The open hold of 49 expired after its 15
			// minutes and returned to yesterday's free credits (2 + 49),
			// which left at Berlin's midnight; the day's 100 are there,
			// with the 80 of the promotion.
			e.Clock.Add(24 * time.Hour)
			wantBalances(t, e, "fay", map[string]string{"available": "180", "free_credits": "100", "subscription_credits": "0", "topup_credits": "0", "other_credits": "80"})
		})
	})
}

// TestSubscriptionFlow: subscribing replaces the free credits with the
// plan's monthly allowance, which pays for Pro models; canceling at the
// period's end twice changes it once; the account falls back to its program.
func TestSubscriptionFlow(t *testing.T) {
	eachStoreWith(t, mustPlansCatalog(t), func(t *testing.T, e *Env) {
		e.Want(e.Do(http.MethodPost, "/v1/accounts", adminKey, `{"id":"sam","plan":"free"}`), http.StatusCreated, "create")
		wantBalances(t, e, "sam", map[string]string{"available": "100", "free_credits": "100", "subscription_credits": "0", "topup_credits": "0", "other_credits": "0"})

		t.Run("BadInput", func(t *testing.T) {
			unchanged(t, e, "refused subscriptions", func() {
				p := wantProblem(t, e.Do(http.MethodPost, "/v1/accounts/sam/subscriptions", adminKey, `{"plan":"gold"}`), http.StatusUnprocessableEntity, "unknown_plan")
				if got, want := strs(t, p["allowed"], "allowed"), []string{"basic", "standard-yearly", "pro", "unlimited"}; !reflect.DeepEqual(got, want) {
					t.Errorf("allowed = %v; want the paid plans %v", got, want)
				}
				wantProblem(t, e.Do(http.MethodPost, "/v1/accounts/sam/subscriptions", adminKey, `{"plan":"free"}`), http.StatusUnprocessableEntity, "unknown_plan")
				p = wantProblem(t, e.Do(http.MethodPost, "/v1/accounts/sam/subscriptions", adminKey, `{"plan":"basic","billing":"week"}`), http.StatusUnprocessableEntity, "invalid_billing")
				if got := strs(t, p["allowed"], "allowed"); !reflect.DeepEqual(got, []string{"month", "quarter", "year"}) {
					t.Errorf("allowed = %v; want month, quarter, year", got)
				}
				wantProblem(t, e.Do(http.MethodPost, "/v1/accounts/sam/subscriptions", adminKey, `{"plan":"basic","time_zone":"Mars/Olympus"}`), http.StatusUnprocessableEntity, "invalid_time_zone")
				wantProblem(t, e.Do(http.MethodPost, "/v1/accounts/sam/subscriptions", adminKey, `{"plan":"basic","starts_at":"tomorrow"}`), http.StatusUnprocessableEntity, "invalid_time")
				wantProblem(t, e.Do(http.MethodPost, "/v1/accounts/sam/subscriptions", adminKey, `{"plan":"basic","starts_at":"2026-11-30"}`), http.StatusUnprocessableEntity, "invalid_start")
				wantProblem(t, e.Do(http.MethodPost, "/v1/accounts/sam/subscriptions", adminKey, `{"plan":"basic","starts_at":"2028-01-01"}`), http.StatusUnprocessableEntity, "invalid_start")
				wantProblem(t, e.Do(http.MethodPost, "/v1/accounts/nobody/subscriptions", adminKey, `{"plan":"basic"}`), http.StatusNotFound, "unknown_account")
				p = wantProblem(t, e.Do(http.MethodPut, "/v1/accounts/sam/plan", adminKey, `{"plan":"basic"}`), http.StatusUnprocessableEntity, "unknown_plan")
				if got := strs(t, p["allowed"], "allowed"); !reflect.DeepEqual(got, []string{"free"}) {
					t.Errorf("allowed = %v; want the programs [free]", got)
				}
				wantProblem(t, e.Do(http.MethodPut, "/v1/accounts/sam/plan", adminKey, `{"plan":"free","time_zone":"Local"}`), http.StatusUnprocessableEntity, "invalid_time_zone")
				wantProblem(t, e.Do(http.MethodPost, "/v1/accounts", adminKey, `{"id":"sid","plan":"pro"}`), http.StatusUnprocessableEntity, "unknown_plan")
				wantProblem(t, e.Do(http.MethodGet, "/v1/subscriptions/sub_nothing", adminKey, ""), http.StatusNotFound, "unknown_subscription")
				wantProblem(t, e.Do(http.MethodPost, "/v1/subscriptions/sub_nothing/cancel", adminKey, ""), http.StatusNotFound, "unknown_subscription")
			})
		})

		var sub string
		t.Run("Subscribe", func(t *testing.T) {
			s := e.Want(e.Do(http.MethodPost, "/v1/accounts/sam/subscriptions", adminKey, `{"plan":"basic"}`), http.StatusCreated, "subscribe")
			sub = str(t, s["id"], "id")
			for k, want := range map[string]string{"account": "sam", "plan": "basic", "billing": "month", "status": "active", "time_zone": "UTC",
				"starts_at": "2026-12-01T10:00:00Z", "renews_at": "2027-01-01T00:00:00Z", "created_at": "2026-12-01T10:00:00Z"} {
				wantStr(t, s, k, want)
			}
			for _, k := range []string{"ends_at", "canceled_at", "next_plan", "next_at"} {
				if _, ok := s[k]; ok {
					t.Errorf("%s = %v; want it absent", k, s[k])
				}
			}
			// No free credits while subscribed: the month's 1000.
			a := wantBalances(t, e, "sam", map[string]string{"available": "1000", "free_credits": "0", "subscription_credits": "1000", "topup_credits": "0", "other_credits": "0"})
			wantStr(t, a, "plan", "basic")
			wantStr(t, a, "program", "free")
			wantStr(t, a, "subscription", sub)
			if subs := objects(t, a["subscriptions"], "subscriptions"); len(subs) != 1 || subs[0]["id"] != sub {
				t.Errorf("account subscriptions = %v; want %s", subs, sub)
			}
			list := e.Want(e.Do(http.MethodGet, "/v1/accounts/sam/subscriptions", adminKey, ""), http.StatusOK, "list")
			if subs := objects(t, list["subscriptions"], "subscriptions"); len(subs) != 1 || !reflect.DeepEqual(subs[0], s) {
				t.Errorf("GET subscriptions = %v; want [%v]", subs, s)
			}
			if got := e.Want(e.Do(http.MethodGet, "/v1/subscriptions/"+sub, adminKey, ""), http.StatusOK, "get"); !reflect.DeepEqual(got, s) {
				t.Errorf("GET /v1/subscriptions/%s = %v; want %v", sub, got, s)
			}
			unchanged(t, e, "a second subscription", func() {
				wantProblem(t, e.Do(http.MethodPost, "/v1/accounts/sam/subscriptions", adminKey, `{"plan":"pro"}`), http.StatusConflict, "subscription_exists")
			})
		})

		t.Run("Pro", func(t *testing.T) {
			e.Want(e.Do(http.MethodPost, "/v1/accounts/sam/grants", adminKey, `{"credits":50,"source":"topup"}`), http.StatusCreated, "top-up")
			q := e.Want(e.Do(http.MethodPost, "/v1/quotes", adminKey, `{"account":"sam","model":"nano-banana-pro"}`), http.StatusOK, "quote")
			aff := at(t, q, "affordable")
			paid := objects(t, aff["paid_by"], "paid_by")
			// The subscription credits expire first (2027-01-01), the top-up never.
			if len(paid) != 1 || paid[0]["source"] != "subscription" || num(t, paid[0]["credits"], "credits") != "80" || aff["plan_required"] != false {
				t.Errorf("affordable = %v; want 80 paid by the subscription grant", aff)
			}
			g := e.Generation(`{"account":"sam","model":"nano-banana-pro"}`)
			e.Want(e.Do(http.MethodPost, "/v1/generations/"+g+"/complete", adminKey, `{"images_delivered":1}`), http.StatusOK, "complete")
			// 1000 − 80 = 920 subscription credits, 50 top-up.
			wantBalances(t, e, "sam", map[string]string{"available": "970", "free_credits": "0", "subscription_credits": "920", "topup_credits": "50", "other_credits": "0"})
		})

		t.Run("Cancel", func(t *testing.T) {
			unchanged(t, e, "a cancel at a bad time", func() {
				p := wantProblem(t, e.Do(http.MethodPost, "/v1/subscriptions/"+sub+"/cancel", adminKey, `{"at":"tomorrow"}`), http.StatusUnprocessableEntity, "invalid_at")
				if got := strs(t, p["allowed"], "allowed"); !reflect.DeepEqual(got, []string{"now", "period_end"}) {
					t.Errorf("allowed = %v; want now, period_end", got)
				}
			})
			first := e.Want(e.Do(http.MethodPost, "/v1/subscriptions/"+sub+"/cancel", adminKey, `{"at":"period_end"}`), http.StatusOK, "cancel")
			wantStr(t, first, "status", "canceled")
			wantStr(t, first, "ends_at", "2027-01-01T00:00:00Z")
			wantStr(t, first, "canceled_at", "2026-12-01T10:00:00Z")
			if _, ok := first["renews_at"]; ok {
				t.Errorf("renews_at = %v; want none after a cancel at the period's end", first["renews_at"])
			}
			e.Clock.Add(time.Minute)
			unchanged(t, e, "a second cancel", func() {
				again := e.Want(e.Do(http.MethodPost, "/v1/subscriptions/"+sub+"/cancel", adminKey, ""), http.StatusOK, "cancel again")
				if !reflect.DeepEqual(again, first) {
					t.Errorf("second cancel = %v; want the first answer %v", again, first)
				}
			})
			if n := auditCount(t, e, credit.AuditSubCancel); n != 1 {
				t.Errorf("audit has %d subscription.cancel entries; want 1", n)
			}
		})

		t.Run("Ended", func(t *testing.T) {
			// 2027-01-01T00:00:00Z: the subscription ends, its credits
			// expire, the account is back on the free program.
			e.Clock.Add(time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC).Sub(e.Clock.Now()))
			a := wantBalances(t, e, "sam", map[string]string{"available": "150", "free_credits": "100", "subscription_credits": "0", "topup_credits": "50", "other_credits": "0"})
			wantStr(t, a, "plan", "free")
			wantStr(t, a, "subscription", "")
			s := e.Want(e.Do(http.MethodGet, "/v1/subscriptions/"+sub, adminKey, ""), http.StatusOK, "get")
			wantStr(t, s, "status", "ended")
			wantProblem(t, e.Do(http.MethodPost, "/v1/subscriptions/"+sub+"/cancel", adminKey, `{"at":"now"}`), http.StatusConflict, "subscription_ended")
			// Top-ups stay spendable on what the program allows: not Pro.
			wantProblem(t, e.Do(http.MethodPost, "/v1/generations", adminKey, `{"account":"sam","model":"nano-banana-pro"}`), http.StatusForbidden, "plan_required")
		})
	})
}

// TestSubscriptionChange: an upgrade now gives this month's difference at
// once; a downgrade waits for the period's end; a scheduled subscription
// says so.
func TestSubscriptionChange(t *testing.T) {
	e := MustLedgerServerWith(t, mustPlansCatalog(t))
	e.Account("cat", "", "")
	sub := str(t, e.Want(e.Do(http.MethodPost, "/v1/accounts/cat/subscriptions", adminKey, `{"plan":"basic","billing":"quarter"}`), http.StatusCreated, "subscribe")["id"], "id")
	up := e.Want(e.Do(http.MethodPost, "/v1/subscriptions/"+sub+"/change", adminKey, `{"plan":"pro"}`), http.StatusOK, "upgrade")
	wantStr(t, up, "plan", "pro")
	// 1000 of basic, and 5000 − 1000 = 4000 more for this month of pro.
	wantBalances(t, e, "cat", map[string]string{"available": "5000", "free_credits": "0", "subscription_credits": "5000", "topup_credits": "0", "other_credits": "0"})
	down := e.Want(e.Do(http.MethodPost, "/v1/subscriptions/"+sub+"/change", adminKey, `{"plan":"basic","at":"now"}`), http.StatusOK, "downgrade")
	// A quarter from 2026-12-01: the downgrade waits for 2027-03-01.
	wantStr(t, down, "plan", "pro")
	wantStr(t, down, "next_plan", "basic")
	wantStr(t, down, "next_at", "2027-03-01T00:00:00Z")
	unchanged(t, e, "a change to the plan it is on", func() {
		wantProblem(t, e.Do(http.MethodPost, "/v1/subscriptions/"+sub+"/change", adminKey, `{"plan":"gold"}`), http.StatusUnprocessableEntity, "unknown_plan")
		wantProblem(t, e.Do(http.MethodPost, "/v1/subscriptions/"+sub+"/change", adminKey, `{"plan":"basic","at":"later"}`), http.StatusUnprocessableEntity, "invalid_at")
	})

	e.Account("dan", "", "")
	// Midnight of 15 December in New York (UTC−5): its renewal day is the 15th.
	s := e.Want(e.Do(http.MethodPost, "/v1/accounts/dan/subscriptions", adminKey, `{"plan":"basic","starts_at":"2026-12-15T05:00:00Z","time_zone":"America/New_York"}`), http.StatusCreated, "subscribe later")
	wantStr(t, s, "status", "scheduled")
	wantStr(t, s, "time_zone", "America/New_York")
	// Its first month's allowance is given at its start.
	wantStr(t, s, "renews_at", "2026-12-15T05:00:00Z")
	wantBalances(t, e, "dan", map[string]string{"available": "0", "free_credits": "0", "subscription_credits": "0", "topup_credits": "0", "other_credits": "0"})
	e.Clock.Add(15 * 24 * time.Hour) // 2026-12-16T10:00Z
	wantBalances(t, e, "dan", map[string]string{"available": "1000", "free_credits": "0", "subscription_credits": "1000", "topup_credits": "0", "other_credits": "0"})
	s = e.Want(e.Do(http.MethodGet, "/v1/subscriptions/"+str(t, s["id"], "id"), adminKey, ""), http.StatusOK, "get")
	wantStr(t, s, "status", "active")
	// The next renewal: 15 January, New York's midnight (UTC−5 in winter).
	wantStr(t, s, "renews_at", "2027-01-15T05:00:00Z")
}

// TestUnlimited: inside an unlimited window Nano Banana 2 costs nothing, one
// at a time, 50 fast generations a day then relaxed; Nano Banana Pro two at
// a time, 10 a day, then refused until midnight; after the window's 7 days
// both are charged.
func TestUnlimited(t *testing.T) {
	eachStoreWith(t, mustPlansCatalog(t), func(t *testing.T, e *Env) {
		e.Account("una", "", "")
		e.Want(e.Do(http.MethodPost, "/v1/accounts/una/subscriptions", adminKey, `{"plan":"unlimited"}`), http.StatusCreated, "subscribe")
		a := wantBalances(t, e, "una", map[string]string{"available": "2000", "free_credits": "0", "subscription_credits": "2000", "topup_credits": "0", "other_credits": "0"})
		windows := objects(t, a["unlimited"], "unlimited")
		if len(windows) != 2 {
			t.Fatalf("unlimited = %v; want two windows", windows)
		}
		want := map[string]any{"models": []any{"nano-banana-2"}, "until": "2026-12-08T10:00:00Z", "max_concurrent": "1", "open": "0",
			"daily_fast": "50", "fast_left": "50", "after_fast": "relaxed", "resets_at": "2026-12-02T00:00:00Z"}
		for k, v := range want {
			got := windows[0][k]
			if s, ok := v.(string); ok && k != "until" && k != "after_fast" && k != "resets_at" {
				got = num(t, got, k)
				v = s
			}
			if !reflect.DeepEqual(got, v) {
				t.Errorf("window %s = %#v; want %#v", k, got, v)
			}
		}

		q := e.Want(e.Do(http.MethodPost, "/v1/quotes", adminKey, `{"account":"una","model":"nano-banana-2"}`), http.StatusOK, "quote")
		if q["unlimited"] != true || num(t, q["total_credits"], "total_credits") != "49" || at(t, q, "affordable")["unlimited"] != true {
			t.Errorf("quote = %v; want unlimited with the list price 49", q)
		}

		gen := func(body string, lane string) string {
			t.Helper()
			g := e.Want(e.Do(http.MethodPost, "/v1/generations", adminKey, body), http.StatusCreated, "generation")
			if g["unlimited"] != true || g["lane"] != lane || num(t, g["hold_credits"], "hold_credits") != "0" {
				t.Fatalf("generation = %v; want unlimited in the %s lane, holding 0", g, lane)
			}
			return str(t, g["id"], "id")
		}
		complete := func(id string) map[string]any {
			t.Helper()
			return e.Want(e.Do(http.MethodPost, "/v1/generations/"+id+"/complete", adminKey, `{"images_delivered":1}`), http.StatusOK, "complete")
		}
		const nb2, nbp = `{"account":"una","model":"nano-banana-2"}`, `{"account":"una","model":"nano-banana-pro"}`

		t.Run("Concurrency", func(t *testing.T) {
			first := gen(nb2, "fast")
			unchanged(t, e, "a second generation at a time", func() {
				wantProblem(t, e.Do(http.MethodPost, "/v1/generations", adminKey, nb2), http.StatusTooManyRequests, "concurrency_limit")
			})
			g := complete(first)
			wantNum(t, g, "charged_credits", "0")
			wantNum(t, g, "list_credits", "49")
		})

		t.Run("DailyFast", func(t *testing.T) {
			for i := 2; i <= 50; i++ { // one was fast already
				complete(gen(nb2, "fast"))
			}
			a := e.Want(e.Do(http.MethodGet, "/v1/accounts/una", adminKey, ""), http.StatusOK, "get")
			wantNum(t, objects(t, a["unlimited"], "unlimited")[0], "fast_left", "0")
			complete(gen(nb2, "relaxed"))
			complete(gen(nb2, "relaxed"))
			wantNum(t, a, "available_credits", "2000")
		})

		t.Run("Block", func(t *testing.T) {
			p1, p2 := gen(nbp, "fast"), gen(nbp, "fast")
			wantProblem(t, e.Do(http.MethodPost, "/v1/generations", adminKey, nbp), http.StatusTooManyRequests, "concurrency_limit")
			complete(p1)
			complete(p2)
			for i := 3; i <= 10; i++ {
				complete(gen(nbp, "fast"))
			}
			var r response
			unchanged(t, e, "a generation past the daily limit", func() {
				r = e.Do(http.MethodPost, "/v1/generations", adminKey, nbp)
			})
			p := wantProblem(t, r, http.StatusTooManyRequests, "daily_limit_reached")
			wantStr(t, p, "resets_at", "2026-12-02T00:00:00Z")
			// 10:00 to midnight: 14 hours.
			if got := r.header.Get("Retry-After"); got != strconv.Itoa(14*3600) {
				t.Errorf("Retry-After = %q; want %d", got, 14*3600)
			}
			e.Clock.Add(14 * time.Hour) // midnight: the day's count resets
			complete(gen(nbp, "fast"))
		})

		t.Run("AfterWindow", func(t *testing.T) {
			// 2026-12-08T10:00Z: the windows' 7 days are over.
			e.Clock.Add(time.Date(2026, 12, 8, 10, 0, 0, 0, time.UTC).Sub(e.Clock.Now()))
			a := e.Want(e.Do(http.MethodGet, "/v1/accounts/una", adminKey, ""), http.StatusOK, "get")
			if w := objects(t, a["unlimited"], "unlimited"); len(w) != 0 {
				t.Errorf("unlimited = %v; want none after the window", w)
			}
			g := e.Want(e.Do(http.MethodPost, "/v1/generations", adminKey, nb2), http.StatusCreated, "charged generation")
			if g["unlimited"] != false || g["lane"] != nil || num(t, g["hold_credits"], "hold_credits") != "49" {
				t.Errorf("generation = %v; want a charged one holding 49", g)
			}
			g = complete(str(t, g["id"], "id"))
			wantNum(t, g, "charged_credits", "49")
			wantNum(t, g, "list_credits", "49")
			wantBalances(t, e, "una", map[string]string{"available": "1951", "free_credits": "0", "subscription_credits": "1951", "topup_credits": "0", "other_credits": "0"})
		})

		t.Run("Usage", func(t *testing.T) {
			// 52 Nano Banana 2 in the window (0 charged, 49 list each) and
			// one after (49, 49): charged 49, list 53 × 49 = 2597, one
			// charge. Nano Banana Pro: 11 in the window, 11 × 80 = 880
			// list, no charge.
			body := e.Want(e.Do(http.MethodGet, "/v1/accounts/una/usage?group_by=model", adminKey, ""), http.StatusOK, "usage")
			var got [][3]string
			for _, g := range objects(t, body["groups"], "groups") {
				got = append(got, [3]string{str(t, g["key"], "key"), num(t, g["charged_credits"], "charged"), num(t, g["list_credits"], "list")})
			}
			if want := [][3]string{{"nano-banana-2", "49", "2597"}, {"nano-banana-pro", "0", "880"}}; !reflect.DeepEqual(got, want) {
				t.Errorf("usage = %v; want %v", got, want)
			}
			r := e.Do(http.MethodGet, "/v1/accounts/una/usage?group_by=model", adminKey, "", "Accept", "text/csv")
			if got, want := parseCSV(t, r.body), [][]string{{"model", "charged_credits", "list_credits", "count"}, {"nano-banana-2", "49", "2597", "1"}, {"nano-banana-pro", "0", "880", "0"}}; !reflect.DeepEqual(got, want) {
				t.Errorf("CSV usage = %v; want %v", got, want)
			}
		})
	})
}

// TestGrantVoidAndExpiry: a voided grant's remainder leaves the balance by a
// journal entry, audited; a grant's expiry moves, and null makes it never
// expire.
func TestGrantVoidAndExpiry(t *testing.T) {
	eachStore(t, func(t *testing.T, e *Env) {
		e.Account("vic", "", "100")
		promo := str(t, e.Want(e.Do(http.MethodPost, "/v1/accounts/vic/grants", adminKey, `{"credits":30,"source":"promo"}`), http.StatusCreated, "promo")["id"], "id")
		e.WantBalance("vic", "130", "0")

		g := e.Want(e.Do(http.MethodPost, "/v1/grants/"+promo+"/void", adminKey, `{"memo":"sent by mistake"}`, "Idempotency-Key", "void-1"), http.StatusOK, "void")
		wantNum(t, g, "remaining_credits", "0")
		wantStr(t, g, "expired_at", "2026-12-01T10:00:00Z")
		e.WantBalance("vic", "100", "0")
		en := objects(t, e.Want(e.Do(http.MethodGet, "/v1/accounts/vic/entries", adminKey, ""), http.StatusOK, "entries")["entries"], "entries")[0]
		wantStr(t, en, "kind", "void")
		wantStr(t, en, "memo", "sent by mistake")
		wantNum(t, en, "available_delta", "-30")
		unchanged(t, e, "a replayed void, and a second one", func() {
			again := e.Want(e.Do(http.MethodPost, "/v1/grants/"+promo+"/void", adminKey, `{"memo":"sent by mistake"}`, "Idempotency-Key", "void-1"), http.StatusOK, "replay")
			if !reflect.DeepEqual(again, g) {
				t.Errorf("replay = %v; want %v", again, g)
			}
			wantProblem(t, e.Do(http.MethodPost, "/v1/grants/"+promo+"/void", adminKey, ""), http.StatusConflict, "")
			wantProblem(t, e.Do(http.MethodPost, "/v1/grants/grt_nothing/void", adminKey, ""), http.StatusNotFound, "unknown_grant")
		})
		if n := auditCount(t, e, credit.AuditGrantVoid); n != 1 {
			t.Errorf("audit has %d grant.void entries; want 1", n)
		}

		var topup string
		for _, g := range objects(t, e.Want(e.Do(http.MethodGet, "/v1/accounts/vic", adminKey, ""), http.StatusOK, "get")["grants"], "grants") {
			if g["source"] == "topup" {
				topup = str(t, g["id"], "id")
			}
		}
		g = e.Want(e.Do(http.MethodPost, "/v1/grants/"+topup+"/expiry", adminKey, `{"expires_at":"2027-01-01","memo":"goodwill"}`), http.StatusOK, "amend")
		wantStr(t, g, "expires_at", "2027-01-01T00:00:00Z")
		g = e.Want(e.Do(http.MethodPost, "/v1/grants/"+topup+"/expiry", adminKey, `{"expires_at":null}`), http.StatusOK, "never")
		if _, ok := g["expires_at"]; ok {
			t.Errorf("expires_at = %v; want none (never)", g["expires_at"])
		}
		unchanged(t, e, "refused expiries", func() {
			wantProblem(t, e.Do(http.MethodPost, "/v1/grants/"+topup+"/expiry", adminKey, `{"expires_at":"2026-11-30"}`), http.StatusUnprocessableEntity, "invalid_expiry")
			wantProblem(t, e.Do(http.MethodPost, "/v1/grants/"+topup+"/expiry", adminKey, `{"expires_at":"0001-01-01T00:00:00Z"}`), http.StatusUnprocessableEntity, "invalid_expiry")
			wantProblem(t, e.Do(http.MethodPost, "/v1/grants/"+topup+"/expiry", adminKey, `{"expires_at":"soon"}`), http.StatusUnprocessableEntity, "invalid_time")
			wantProblem(t, e.Do(http.MethodPost, "/v1/grants/"+topup+"/expiry", adminKey, `{"memo":"no time"}`), http.StatusUnprocessableEntity, "")
		})
		if n := auditCount(t, e, credit.AuditGrantAmend); n != 2 {
			t.Errorf("audit has %d grant.amend entries; want 2", n)
		}

		// A day's free credits end at midnight: they are not voided.
		e.Want(e.Do(http.MethodPost, "/v1/accounts", adminKey, `{"id":"fri","plan":"free"}`), http.StatusCreated, "create")
		e.Generation(`{"account":"fri","model":"flux-dev"}`) // gives the day's credits
		free := str(t, objects(t, e.Want(e.Do(http.MethodGet, "/v1/accounts/fri", adminKey, ""), http.StatusOK, "get")["grants"], "grants")[0]["id"], "id")
		unchanged(t, e, "voiding free credits", func() {
			wantProblem(t, e.Do(http.MethodPost, "/v1/grants/"+free+"/void", adminKey, ""), http.StatusUnprocessableEntity, "daily_grant")
		})
	})
}

// TestPlanOfAccount: PUT /v1/accounts/{id}/plan puts an account on the free
// program and takes it off; the time zone moves its days.
func TestPlanOfAccount(t *testing.T) {
	e := MustLedgerServer(t)
	e.Account("pat", "", "")
	wantBalances(t, e, "pat", map[string]string{"available": "0", "free_credits": "0", "subscription_credits": "0", "topup_credits": "0", "other_credits": "0"})
	a := e.Want(e.Do(http.MethodPut, "/v1/accounts/pat/plan", adminKey, `{"plan":"free","time_zone":"Asia/Tokyo"}`), http.StatusOK, "put")
	wantStr(t, a, "program", "free")
	wantStr(t, a, "time_zone", "Asia/Tokyo")
	wantNum(t, a, "available_credits", "100")
	// 10:00 UTC is 19:00 in Tokyo: the day ends at 15:00 UTC.
	wantStr(t, objects(t, a["grants"], "grants")[0], "expires_at", "2026-12-01T15:00:00Z")
	unchanged(t, e, "the same plan again", func() {
		e.Want(e.Do(http.MethodPut, "/v1/accounts/pat/plan", adminKey, `{"plan":"free"}`), http.StatusOK, "put again")
	})
	a = e.Want(e.Do(http.MethodPut, "/v1/accounts/pat/plan", adminKey, `{"plan":null}`), http.StatusOK, "off")
	wantStr(t, a, "program", "")
	wantStr(t, a, "plan", "")
	wantNum(t, a, "available_credits", "0")
	if n := auditCount(t, e, credit.AuditAccountPlan); n != 2 {
		t.Errorf("audit has %d account.plan entries; want 2", n)
	}
	wantProblem(t, e.Do(http.MethodPut, "/v1/accounts/nobody/plan", adminKey, `{"plan":"free"}`), http.StatusNotFound, "unknown_account")
}

// TestPlanOpenAPI: the document describes the new shapes as the server
// encodes them, and the refusals of plans.
func TestPlanOpenAPI(t *testing.T) {
	e := MustLedgerServer(t)
	doc := openAPI(t, e.Do(http.MethodGet, "/openapi.json", "", ""))
	for name, typ := range map[string]reflect.Type{
		"Account": reflect.TypeFor[httpapi.Account](), "Subscription": reflect.TypeFor[httpapi.Subscription](),
		"Generation": reflect.TypeFor[httpapi.Generation](), "Affordable": reflect.TypeFor[httpapi.Affordable](),
		"Problem": reflect.TypeFor[httpapi.Problem](), "Grant": reflect.TypeFor[httpapi.Grant](),
		"Window": reflect.TypeFor[httpapi.Window](), "Balances": reflect.TypeFor[httpapi.Balances](),
		"UsageGroup": reflect.TypeFor[httpapi.UsageGroup](), "Entry": reflect.TypeFor[httpapi.Entry](),
	} {
		if got, want := keys(at(t, doc, "components", "schemas", name, "properties")), jsonNames(typ); !reflect.DeepEqual(got, want) {
			t.Errorf("schema %s properties = %v; want %v", name, got, want)
		}
	}
	for _, op := range []struct{ method, path string }{
		{"put", "/v1/accounts/{id}/plan"}, {"post", "/v1/accounts/{id}/subscriptions"}, {"get", "/v1/accounts/{id}/subscriptions"},
		{"get", "/v1/subscriptions/{id}"}, {"post", "/v1/subscriptions/{id}/cancel"}, {"post", "/v1/subscriptions/{id}/change"},
		{"post", "/v1/grants/{id}/void"}, {"post", "/v1/grants/{id}/expiry"},
	} {
		o := at(t, doc, "paths", op.path, op.method)
		for _, status := range []string{"401", "403", "404", "422"} {
			if _, ok := at(t, o, "responses")[status]; !ok {
				t.Errorf("%s %s does not declare %s", op.method, op.path, status)
			}
		}
		if op.method != "get" {
			if _, ok := at(t, o, "responses")["409"]; !ok {
				t.Errorf("%s %s does not declare 409 (idempotency_conflict)", op.method, op.path)
			}
		}
	}
	r429 := at(t, doc, "paths", "/v1/generations", "post", "responses", "429")
	if d, _ := r429["description"].(string); !strings.Contains(d, "concurrency_limit") || !strings.Contains(d, "daily_limit_reached") {
		t.Errorf("POST /v1/generations 429 = %q; want concurrency_limit and daily_limit_reached", d)
	}
	at(t, r429, "headers", "Retry-After")
	if _, ok := at(t, doc, "paths", "/v1/generations", "post", "responses")["403"]; !ok {
		t.Error("POST /v1/generations does not declare 403 (plan_required)")
	}
}
