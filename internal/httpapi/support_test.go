package httpapi_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// TestSupportFlow is a support agent's day over HTTP, on both stores, with a
// support key: find the account by the start of its id, list its
// generations by status and model, refund part of one, void a grant, take
// credits back, release a hold and a generation's hold, each with a reason;
// then the balance, the journal (the refund's charged_delta) and the
// account's audit trail (the support key, the action, the reason).
func TestSupportFlow(t *testing.T) {
	eachStore(t, func(t *testing.T, e *Env) {
		// Set up by the studio (the admin key): user_42 and two neighbours.
		for _, id := range []string{"user_41", "user_420", "user_5"} {
			e.Account(id, "", "")
		}
		e.Account("user_42", "", "1000")
		complete := func(gen string, images string) {
			e.Want(e.Do(http.MethodPost, "/v1/generations/"+gen+"/complete", adminKey, `{"images_delivered":`+images+`}`), http.StatusOK, "complete "+gen)
		}
		// Generations sort by id, which carries its creation to the
		// millisecond: the clock moves by one between them.
		generation := func(body string) string {
			e.Clock.Add(time.Millisecond)
			return e.Generation(body)
		}
		g1 := generation(`{"account":"user_42","model":"flux-dev","images":2}`) // 10 held
		complete(g1, "2")                                                       // 10 charged
		g2 := generation(`{"account":"user_42","model":"flux-dev"}`)
		complete(g2, "1") // 5 charged
		g3 := generation(`{"account":"user_42","model":"flux-dev"}`)
		e.Want(e.Do(http.MethodPost, "/v1/generations/"+g3+"/fail", adminKey, ""), http.StatusOK, "fail g3")
		g4 := generation(`{"account":"user_42","model":"Nano Banana 2"}`) // 1K: 49
		complete(g4, "1")
		g5 := generation(`{"account":"user_42","model":"flux-dev","images":3}`) // 15 held, left open
		h1 := str(t, e.Want(e.Do(http.MethodPost, "/v1/accounts/user_42/holds", adminKey, `{"credits":4}`), http.StatusCreated, "hold")["id"], "id")
		promo := str(t, e.Want(e.Do(http.MethodPost, "/v1/accounts/user_42/grants", adminKey, `{"credits":12.5,"source":"promo"}`), http.StatusCreated, "promo")["id"], "id")
		// 1000 − 10 − 5 − 49 − 15 held − 4 held + 12.5 = 929.5 available, 19 held.
		e.WantBalance("user_42", "929.5", "19")

		support := e.Key(credit.ScopeSupport, "")
		supportID := strings.Split(support, "_")[1]

		// Find the account: by id, user_42 before user_420; user_41 and
		// user_5 do not start with user_42.
		list := e.Want(e.Do(http.MethodGet, "/v1/accounts?prefix=user_42", support, ""), http.StatusOK, "find user_42")
		var ids []string
		for _, a := range objects(t, list["accounts"], "accounts") {
			ids = append(ids, str(t, a["id"], "id"))
		}
		if !slices.Equal(ids, []string{"user_42", "user_420"}) {
			t.Fatalf("accounts with prefix user_42 = %v; want [user_42 user_420]", ids)
		}
		first := objects(t, list["accounts"], "accounts")[0]
		if num(t, first["available_credits"], "available_credits") != "929.5" || num(t, first["held_credits"], "held_credits") != "19" || first["kind"] != "user" {
			t.Errorf("user_42 listed as %v; want a user with 929.5 available, 19 held", first)
		}

		// Its generations: completed Flux Dev ones newest first; the one held.
		gens := func(query string) []string {
			t.Helper()
			page := e.Want(e.Do(http.MethodGet, "/v1/accounts/user_42/generations?"+query, support, ""), http.StatusOK, "generations "+query)
			var out []string
			for _, g := range objects(t, page["generations"], "generations") {
				out = append(out, str(t, g["id"], "id"))
			}
			return out
		}
		for _, c := range []struct {
			query string
			want  []string
		}{
			{"status=completed&model=flux-dev", []string{g2, g1}},
			{"status=completed&model=Nano%20Banana%202", []string{g4}}, // a display name is the model's id
			{"status=held", []string{g5}},
			{"status=failed&model=flux-dev", []string{g3}},
			{"", []string{g5, g4, g3, g2, g1}},
			{"model=nano-banana-pro", nil},
		} {
			if got := gens(c.query); !slices.Equal(got, c.want) {
				t.Errorf("generations?%s = %v; want %v", c.query, got, c.want)
			}
		}

		// Refund 2.5 of g1's 10, with a reason: back to the topup grant.
		g := e.Want(e.Do(http.MethodPost, "/v1/generations/"+g1+"/refund", support, `{"credits":2.5,"reason":"two blurry images, ticket 4411"}`), http.StatusOK, "refund")
		if num(t, g["refunded_credits"], "refunded_credits") != "2.5" {
			t.Errorf("refunded_credits = %v; want 2.5", g["refunded_credits"])
		}
		// Void the promo: its 12.5 leave.
		v := e.Want(e.Do(http.MethodPost, "/v1/grants/"+promo+"/void", support, `{"memo":"granted by mistake","reason":"promo meant for user_420"}`), http.StatusOK, "void")
		if v["expired_at"] == nil {
			t.Errorf("voided grant = %v; want expired_at set", v)
		}
		// Take 7 back.
		d := e.Want(e.Do(http.MethodPost, "/v1/accounts/user_42/debits", support, `{"credits":7,"memo":"double grant","reason":"ticket 4412"}`), http.StatusCreated, "debit")
		entry := d["entry"].(map[string]any)
		if entry["kind"] != "debit" || num(t, entry["available_delta"], "available_delta") != "-7" || entry["memo"] != "double grant" {
			t.Errorf("debit entry = %v; want kind debit, available_delta -7, the memo", entry)
		}
		// 929.5 + 2.5 − 12.5 − 7 = 912.5.
		if acct := d["account"].(map[string]any); num(t, acct["available_credits"], "available_credits") != "912.5" {
			t.Errorf("account after the debit = %v; want 912.5 available", acct["available_credits"])
		}
		// Release the generic hold, and g5's by failing it.
		h := e.Want(e.Do(http.MethodPost, "/v1/holds/"+h1+"/release", support, `{"reason":"the export job was canceled"}`), http.StatusOK, "release")
		if h["status"] != "released" {
			t.Errorf("hold = %v; want released", h["status"])
		}
		g = e.Want(e.Do(http.MethodPost, "/v1/generations/"+g5+"/fail", support, `{"reason":"stuck in the queue for an hour"}`), http.StatusOK, "fail g5")
		if g["status"] != "failed" {
			t.Errorf("generation = %v; want failed", g["status"])
		}

		// The balance: 912.5 + 4 + 15 returned = 931.5, nothing held
		// (1000 − 10 − 5 − 49 + 2.5 − 7, the promo in and out).
		e.WantBalance("user_42", "931.5", "0")

		// The journal: the refund row says what it gave back of the charge.
		entries := e.Want(e.Do(http.MethodGet, "/v1/accounts/user_42/entries", support, ""), http.StatusOK, "entries")
		var refund, debit map[string]any
		for _, x := range objects(t, entries["entries"], "entries") {
			switch x["kind"] {
			case "refund":
				refund = x
			case "debit":
				debit = x
			}
		}
		if refund == nil || refund["generation"] != g1 || num(t, refund["charged_delta"], "charged_delta") != "-2.5" || num(t, refund["available_delta"], "available_delta") != "2.5" {
			t.Errorf("refund entry = %v; want g1's, charged_delta -2.5, available_delta 2.5", refund)
		}
		if debit == nil || num(t, debit["id"], "id") == "0" || num(t, debit["available_delta"], "available_delta") != "-7" {
			t.Errorf("debit entry = %v; want numbered, available_delta -7", debit)
		}

		// The audit trail, newest first: the support key's five actions, each
		// with its reason, then the studio's (no reason: g3's failure and the
		// hold and generations made by the admin key are not audited).
		audit := e.Want(e.Do(http.MethodGet, "/v1/accounts/user_42/audit", support, ""), http.StatusOK, "audit")
		type row struct{ actor, action, reason string }
		var got []row
		for _, a := range objects(t, audit["entries"], "entries") {
			if a["target"] != "user_42" {
				t.Errorf("audit entry %v: target %v; want user_42", a["id"], a["target"])
			}
			detail, _ := a["detail"].(map[string]any)
			reason, _ := detail["reason"].(string)
			got = append(got, row{str(t, a["actor"], "actor"), str(t, a["action"], "action"), reason})
		}
		want := []row{
			{supportID, "hold.release", "stuck in the queue for an hour"},
			{supportID, "hold.release", "the export job was canceled"},
			{supportID, "account.debit", "ticket 4412"},
			{supportID, "grant.void", "promo meant for user_420"},
			{supportID, "generation.refund", "two blurry images, ticket 4411"},
			{"admin", "grant.create", ""},
			{"admin", "grant.create", ""},
			{"admin", "account.create", ""},
		}
		if !slices.Equal(got, want) {
			t.Errorf("user_42's audit trail =\n%v\nwant\n%v", got, want)
		}
		// Paged: two at a time, the cursor goes on where the page ended.
		page := e.Want(e.Do(http.MethodGet, "/v1/accounts/user_42/audit?limit=2", support, ""), http.StatusOK, "audit page 1")
		cursor := str(t, page["next_cursor"], "next_cursor")
		page = e.Want(e.Do(http.MethodGet, "/v1/accounts/user_42/audit?limit=2&cursor="+cursor, support, ""), http.StatusOK, "audit page 2")
		if es := objects(t, page["entries"], "entries"); len(es) != 2 || es[0]["action"] != "account.debit" || es[1]["action"] != "grant.void" {
			t.Errorf("audit page 2 = %v; want the debit, then the void", es)
		}
	})
}

// TestSupportRules: a support key gives a reason for every change (422
// reason_required, and nothing written), grants only promo and adjustment
// credits (403 support_source), and a reason is one line of at most 500
// bytes (422 invalid_reason) whoever gives it. An admin or service key may
// leave the reason out: its refund and release are then not audited.
func TestSupportRules(t *testing.T) {
	eachStore(t, func(t *testing.T, e *Env) {
		e.Account("alice", "", "100")
		support := e.Key(credit.ScopeSupport, "")
		service := e.Key(credit.ScopeService, "")
		done := e.Generation(`{"account":"alice","model":"flux-dev","images":2}`)
		e.Want(e.Do(http.MethodPost, "/v1/generations/"+done+"/complete", adminKey, `{"images_delivered":2}`), http.StatusOK, "complete")
		held := e.Generation(`{"account":"alice","model":"flux-dev"}`)
		hold := str(t, e.Want(e.Do(http.MethodPost, "/v1/accounts/alice/holds", adminKey, `{"credits":3}`), http.StatusCreated, "hold")["id"], "id")
		grant := str(t, e.Want(e.Do(http.MethodPost, "/v1/accounts/alice/grants", adminKey, `{"credits":2,"source":"promo"}`), http.StatusCreated, "promo")["id"], "id")
		// 100 − 10 charged − 5 − 3 held + 2 = 84 available, 8 held.
		e.WantBalance("alice", "84", "8")
		audited := len(objects(t, e.Want(e.Do(http.MethodGet, "/v1/accounts/alice/audit", adminKey, ""), http.StatusOK, "audit")["entries"], "entries"))

		long := strings.Repeat("é", 251) // 502 bytes
		for _, c := range []struct {
			name, method, path, key, body string
			status                        int
			code                          string
		}{
			{"GrantNoReason", "POST", "/v1/accounts/alice/grants", support, `{"credits":5,"source":"promo"}`, 422, "reason_required"},
			{"GrantBlankReason", "POST", "/v1/accounts/alice/grants", support, `{"credits":5,"source":"adjustment","reason":"  "}`, 422, "reason_required"},
			{"GrantTopup", "POST", "/v1/accounts/alice/grants", support, `{"credits":5,"source":"topup","reason":"asked nicely"}`, 403, "support_source"},
			{"GrantSubscription", "POST", "/v1/accounts/alice/grants", support, `{"credits":5,"source":"subscription","reason":"asked nicely"}`, 403, "support_source"},
			{"GrantRefund", "POST", "/v1/accounts/alice/grants", support, `{"credits":5,"source":"refund"}`, 403, "support_source"},
			{"DebitNoReason", "POST", "/v1/accounts/alice/debits", support, `{"credits":1}`, 422, "reason_required"},
			{"VoidNoBody", "POST", "/v1/grants/" + grant + "/void", support, ``, 422, "reason_required"},
			{"VoidNoReason", "POST", "/v1/grants/" + grant + "/void", support, `{"memo":"oops"}`, 422, "reason_required"},
			{"RefundNoBody", "POST", "/v1/generations/" + done + "/refund", support, ``, 422, "reason_required"},
			{"RefundNoReason", "POST", "/v1/generations/" + done + "/refund", support, `{"credits":1}`, 422, "reason_required"},
			{"FailNoReason", "POST", "/v1/generations/" + held + "/fail", support, ``, 422, "reason_required"},
			{"ReleaseNoReason", "POST", "/v1/holds/" + hold + "/release", support, `{}`, 422, "reason_required"},
			{"LongReason", "POST", "/v1/generations/" + done + "/refund", support, `{"reason":"` + long + `"}`, 422, "invalid_reason"},
			{"ControlReason", "POST", "/v1/holds/" + hold + "/release", support, `{"reason":"line one\nline two"}`, 422, "invalid_reason"},
			{"AdminLongReason", "POST", "/v1/accounts/alice/debits", adminKey, `{"credits":1,"reason":"` + long + `"}`, 422, "invalid_reason"},
			{"ServiceNulReason", "POST", "/v1/holds/" + hold + "/release", service, `{"reason":"a\u0000b"}`, 422, "invalid_reason"},
			{"SupportCaptures", "POST", "/v1/holds/" + hold + "/capture", support, ``, 403, "forbidden"},
			{"SupportCompletes", "POST", "/v1/generations/" + held + "/complete", support, `{"images_delivered":1}`, 403, "forbidden"},
			{"SupportMovesExpiry", "POST", "/v1/grants/" + grant + "/expiry", support, `{"expires_at":null,"reason":"x"}`, 403, "forbidden"},
			{"SupportWholeAudit", "GET", "/v1/audit", support, ``, 403, "forbidden"},
			{"ServiceDebits", "POST", "/v1/accounts/alice/debits", service, `{"credits":1,"reason":"x"}`, 403, "forbidden"},
			{"DebitTooMuch", "POST", "/v1/accounts/alice/debits", support, `{"credits":84.001,"reason":"x"}`, 402, "insufficient_credits"},
			{"DebitZero", "POST", "/v1/accounts/alice/debits", support, `{"credits":0,"reason":"x"}`, 422, "invalid_amount"},
			{"DebitUnknownAccount", "POST", "/v1/accounts/nobody/debits", support, `{"credits":1,"reason":"x"}`, 404, "unknown_account"},
		} {
			t.Run(c.name, func(t *testing.T) {
				wantProblem(t, e.Do(c.method, c.path, c.key, c.body), c.status, c.code)
			})
		}
		e.WantBalance("alice", "84", "8")
		if n := len(objects(t, e.Want(e.Do(http.MethodGet, "/v1/accounts/alice/audit", adminKey, ""), http.StatusOK, "audit")["entries"], "entries")); n != audited {
			t.Errorf("refused requests made the audit trail %d → %d entries", audited, n)
		}

		// Support grants a promo and an adjustment with a reason.
		for _, src := range []string{"promo", "adjustment"} {
			e.Want(e.Do(http.MethodPost, "/v1/accounts/alice/grants", support, `{"credits":1,"source":"`+src+`","reason":"goodwill"}`), http.StatusCreated, "support grants "+src)
		}
		// The service's refund and release without a reason: not audited;
		// the admin's debit without one: audited, without a reason.
		e.Want(e.Do(http.MethodPost, "/v1/generations/"+done+"/refund", service, `{"credits":1}`), http.StatusOK, "service refund")
		e.Want(e.Do(http.MethodPost, "/v1/holds/"+hold+"/release", service, ``), http.StatusOK, "service release")
		e.Want(e.Do(http.MethodPost, "/v1/accounts/alice/debits", adminKey, `{"credits":1}`), http.StatusCreated, "admin debit")
		// The service's failure with a reason: audited with it.
		e.Want(e.Do(http.MethodPost, "/v1/generations/"+held+"/fail", service, `{"reason":"the worker crashed"}`), http.StatusOK, "service fail")
		log := objects(t, e.Want(e.Do(http.MethodGet, "/v1/accounts/alice/audit?limit=4", adminKey, ""), http.StatusOK, "audit")["entries"], "entries")
		var got []string
		for _, a := range log {
			d, _ := a["detail"].(map[string]any)
			r, _ := d["reason"].(string)
			got = append(got, str(t, a["action"], "action")+":"+r)
		}
		if want := []string{"hold.release:the worker crashed", "account.debit:", "grant.create:goodwill", "grant.create:goodwill"}; !slices.Equal(got, want) {
			t.Errorf("the newest audit entries = %v; want %v", got, want)
		}
		// 84 + 1 + 1 + 1 refunded + 3 released − 1 debited + 5 released = 94.
		e.WantBalance("alice", "94", "0")
	})
}

// TestDebitIdempotent: a debit retried with its Idempotency-Key takes the
// credits once and answers the first entry; the same key with another
// reason is another request (409 idempotency_conflict), on both stores.
func TestDebitIdempotent(t *testing.T) {
	eachStore(t, func(t *testing.T, e *Env) {
		e.Account("alice", "", "10")
		support := e.Key(credit.ScopeSupport, "")
		body := `{"credits":2.5,"reason":"ticket 7"}`
		first := e.Do(http.MethodPost, "/v1/accounts/alice/debits", support, body, "Idempotency-Key", "debit-7")
		e.Want(first, http.StatusCreated, "debit")
		again := e.Do(http.MethodPost, "/v1/accounts/alice/debits", support, body, "Idempotency-Key", "debit-7")
		e.Want(again, http.StatusCreated, "debit again")
		f, a := object(t, first.body)["entry"].(map[string]any), object(t, again.body)["entry"].(map[string]any)
		if num(t, f["available_after"], "available_after") != "7.5" || num(t, a["available_after"], "available_after") != "7.5" || f["time"] != a["time"] {
			t.Errorf("debit entries = %v, %v; want the same entry, 10 − 2.5 = 7.5 after", f, a)
		}
		wantProblem(t, e.Do(http.MethodPost, "/v1/accounts/alice/debits", support, `{"credits":2.5,"reason":"ticket 8"}`, "Idempotency-Key", "debit-7"), http.StatusConflict, "idempotency_conflict")
		e.WantBalance("alice", "7.5", "0")
	})
}
