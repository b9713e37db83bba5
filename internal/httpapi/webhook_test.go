package httpapi_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/webhook"
)

// guard is tally serve's webhook URL guard, without --webhooks-allow-private.
func guard(lc *credit.LedgerConfig) {
	lc.WebhookGuard = func(ctx context.Context, url string) error { return webhook.CheckURL(ctx, url, false) }
}

// TestWebhooks manages endpoints through the API on both stores, with the
// private-address guard tally serve applies: the secret is in the answer
// that made the endpoint and in no other; loopback and private URLs are
// refused, as are bad URLs, event types and descriptions, writing nothing;
// deliveries are listed by endpoint and by account, and retried; a deleted
// endpoint is gone.
func TestWebhooks(t *testing.T) {
	eachStoreLedger(t, guard, func(t *testing.T, e *Env) {
		e.Account("erin", "", "")
		const public = "https://93.184.216.34/hooks/tally" // an address, so no resolver is asked

		t.Run("Refused", func(t *testing.T) {
			unchanged(t, e, "refused endpoints", func() {
				for _, c := range []struct {
					body string
					code string
				}{
					{`{"url":"http://127.0.0.1:8080/hook","events":["*"]}`, "webhook_url_private"},
					{`{"url":"http://10.1.2.3/hook","events":["*"]}`, "webhook_url_private"},
					{`{"url":"http://[::1]/hook","events":["*"]}`, "webhook_url_private"},
					{`{"url":"http://169.254.169.254/latest/meta-data","events":["*"]}`, "webhook_url_private"},
					{`{"url":"ftp://93.184.216.34/hook","events":["*"]}`, "invalid_webhook_url"},
					{`{"url":"/hook","events":["*"]}`, "invalid_webhook_url"},
					{`{"url":"","events":["*"]}`, "invalid_webhook_url"},
					{`{"url":"https://user:pw@93.184.216.34/","events":["*"]}`, "invalid_webhook_url"},
					{`{"url":"https://93.184.216.34/` + strings.Repeat("a", 2100) + `","events":["*"]}`, "invalid_webhook_url"},
					{`{"url":"` + public + `","events":[]}`, "invalid_event_type"},
					{`{"url":"` + public + `","events":["balance.lo"]}`, "invalid_event_type"},
					{`{"url":"` + public + `","events":["*"],"description":"` + strings.Repeat("d", 501) + `"}`, "invalid_description"},
					{`{"url":"` + public + `","events":["*"],"description":"a\u0007b"}`, "invalid_description"},
					{`{"url":"` + public + `"}`, "invalid_request"},
					{`{"events":["*"]}`, "invalid_request"},
					{`{"url":"` + public + `","events":["*"],"secret":"mine"}`, "unknown_field"},
				} {
					p := wantProblem(t, e.Do(http.MethodPost, "/v1/webhooks", adminKey, c.body), http.StatusUnprocessableEntity, c.code)
					if c.body == `{"url":"`+public+`","events":["balance.lo"]}` {
						if allowed := p["allowed"]; !reflect.DeepEqual(allowed, toAny(append([]string{"*"}, credit.EventTypes...))) {
							t.Errorf("allowed = %v; want * and every event type", allowed)
						}
					}
				}
			})
			if ws := e.Want(e.Do(http.MethodGet, "/v1/webhooks", adminKey, ""), http.StatusOK, "list"); len(objects(t, ws["webhooks"], "webhooks")) != 0 {
				t.Errorf("the refusals made endpoints: %v", ws)
			}
		})

		made := e.Want(e.Do(http.MethodPost, "/v1/webhooks", adminKey, `{"url":"`+public+`","events":["topup.requested","balance.low","balance.low"],"description":"billing"}`), http.StatusCreated, "create")
		id := str(t, made["id"], "id")
		secret := str(t, made["secret"], "secret")
		if !strings.HasPrefix(id, "wh_") || !strings.HasPrefix(secret, "whsec_") {
			t.Errorf("made %s with secret %s; want wh_… and whsec_…", id, secret)
		}
		if key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_")); err != nil || len(key) != 32 {
			t.Errorf("the secret's key is %d bytes (%v); want 32", len(key), err)
		}
		wantStr(t, made, "status", "active")
		wantStr(t, made, "url", public)
		wantStr(t, made, "description", "billing")
		if got := strs(t, made["events"], "events"); !reflect.DeepEqual(got, []string{"balance.low", "topup.requested"}) {
			t.Errorf("events = %v; want them sorted, once each", got)
		}
		if n := auditCount(t, e, credit.AuditWebhookCreate); n != 1 {
			t.Errorf("webhook.create audit entries = %d; want 1", n)
		}
		got := e.Want(e.Do(http.MethodGet, "/v1/webhooks/"+id, adminKey, ""), http.StatusOK, "get")
		list := objects(t, e.Want(e.Do(http.MethodGet, "/v1/webhooks", adminKey, ""), http.StatusOK, "list")["webhooks"], "webhooks")
		for what, w := range map[string]map[string]any{"GET /v1/webhooks/{id}": got, "GET /v1/webhooks": list[0]} {
			if _, ok := w["secret"]; ok {
				t.Errorf("%s shows the secret", what)
			}
			delete(made, "secret")
			if !reflect.DeepEqual(w, made) {
				t.Errorf("%s = %v; want %v without its secret", what, w, made)
			}
		}
		if len(list) != 1 {
			t.Errorf("the list holds %d endpoints; want 1", len(list))
		}
		star := str(t, e.Want(e.Do(http.MethodPost, "/v1/webhooks", adminKey, `{"url":"`+public+`/all","events":["*"]}`), http.StatusCreated, "create *")["id"], "id")

		t.Run("Deliveries", func(t *testing.T) {
			// Deliveries start with the changes after the endpoint: erin's
			// grant (grant.created, balance.recovered) for * only.
			e.Want(e.Do(http.MethodPost, "/v1/accounts/erin/grants", adminKey, `{"credits":10,"source":"promo"}`), http.StatusCreated, "grant")
			caughtUp(t, e) // deliveries are made of the events the feed answers
			ws := e.Ledger.Store().(credit.WebhookStore)
			if _, err := ws.ScheduleDeliveries(t.Context(), e.Clock.Now(), 100); err != nil {
				t.Fatal(err)
			}
			none := e.Want(e.Do(http.MethodGet, "/v1/webhooks/"+id+"/deliveries", adminKey, ""), http.StatusOK, "deliveries")
			if ds := objects(t, none["deliveries"], "deliveries"); len(ds) != 0 {
				t.Errorf("%s wants balance.low and topup.requested only, and has deliveries %v", id, ds)
			}
			all := e.Want(e.Do(http.MethodGet, "/v1/webhooks/"+star+"/deliveries", adminKey, ""), http.StatusOK, "deliveries")
			wantStr(t, all, "webhook", star)
			ds := objects(t, all["deliveries"], "deliveries")
			feed := readFeed(t, e, adminKey, "account=erin").Events
			if len(ds) != 2 || len(feed) != 2 {
				t.Fatalf("deliveries %v of the feed's %v; want one for each of erin's two events", ds, types(feed))
			}
			// (Deliveries made at one clock reading come in no set order.)
			byEvent := map[string]map[string]any{}
			for _, d := range ds {
				byEvent[str(t, d["event"], "event")] = d
			}
			for _, ev := range feed {
				d := byEvent[ev.ID]
				if d == nil {
					t.Errorf("no delivery of %s %s", ev.Type, ev.ID)
					continue
				}
				wantStr(t, d, "event_type", ev.Type)
				wantStr(t, d, "account", "erin")
				wantStr(t, d, "status", "pending")
				wantNum(t, d, "attempts", "0")
				wantStr(t, d, "webhook", star)
			}
			byAccount := e.Want(e.Do(http.MethodGet, "/v1/accounts/erin/deliveries", adminKey, ""), http.StatusOK, "account deliveries")
			wantStr(t, byAccount, "account", "erin")
			if got := objects(t, byAccount["deliveries"], "deliveries"); !reflect.DeepEqual(got, ds) {
				t.Errorf("erin's deliveries = %v; want the endpoint's %v", got, ds)
			}
			page := e.Want(e.Do(http.MethodGet, "/v1/webhooks/"+star+"/deliveries?limit=1", adminKey, ""), http.StatusOK, "page")
			next := str(t, page["next_before"], "next_before")
			rest := e.Want(e.Do(http.MethodGet, "/v1/webhooks/"+star+"/deliveries?limit=1&before="+next, adminKey, ""), http.StatusOK, "page 2")
			if p := objects(t, rest["deliveries"], "deliveries"); len(p) != 1 || p[0]["id"] != ds[1]["id"] {
				t.Errorf("the second page = %v; want %v", p, ds[1]["id"])
			}

			d := str(t, ds[0]["id"], "id")
			r := e.Want(e.Do(http.MethodPost, "/v1/webhooks/"+star+"/deliveries/"+d+"/retry", adminKey, ""), http.StatusOK, "retry")
			wantStr(t, r, "status", "pending")
			wantStr(t, r, "id", d)
			if n := auditCount(t, e, credit.AuditWebhookRetry); n != 1 {
				t.Errorf("webhook.retry audit entries = %d; want 1", n)
			}
			unchanged(t, e, "refused retries", func() {
				wantProblem(t, e.Do(http.MethodPost, "/v1/webhooks/"+id+"/deliveries/"+d+"/retry", adminKey, ""), http.StatusNotFound, "unknown_delivery")
				wantProblem(t, e.Do(http.MethodPost, "/v1/webhooks/"+star+"/deliveries/whd_nope/retry", adminKey, ""), http.StatusNotFound, "unknown_delivery")
				wantProblem(t, e.Do(http.MethodPost, "/v1/webhooks/"+star+"/deliveries/a%00b/retry", adminKey, ""), http.StatusNotFound, "unknown_delivery")
				wantProblem(t, e.Do(http.MethodPost, "/v1/webhooks/wh_nope/deliveries/"+d+"/retry", adminKey, ""), http.StatusNotFound, "unknown_webhook")
				wantProblem(t, e.Do(http.MethodGet, "/v1/webhooks/wh_nope/deliveries", adminKey, ""), http.StatusNotFound, "unknown_webhook")
				wantProblem(t, e.Do(http.MethodGet, "/v1/webhooks/"+star+"/deliveries?before=a%00b", adminKey, ""), http.StatusUnprocessableEntity, "invalid_cursor")
				wantProblem(t, e.Do(http.MethodGet, "/v1/webhooks/"+star+"/deliveries?limit=501", adminKey, ""), http.StatusUnprocessableEntity, "invalid_request")
			})
		})

		t.Run("Scopes", func(t *testing.T) {
			service := e.Key(credit.ScopeService, "")
			for _, r := range []struct{ method, path, body string }{
				{"POST", "/v1/webhooks", `{"url":"` + public + `","events":["*"]}`},
				{"GET", "/v1/webhooks", ""},
				{"GET", "/v1/webhooks/" + id, ""},
				{"DELETE", "/v1/webhooks/" + id, ""},
				{"GET", "/v1/webhooks/" + id + "/deliveries", ""},
				{"GET", "/v1/accounts/erin/deliveries", ""},
			} {
				wantProblem(t, e.Do(r.method, r.path, service, r.body), http.StatusForbidden, "forbidden")
			}
		})

		t.Run("Delete", func(t *testing.T) {
			r := e.Do(http.MethodDelete, "/v1/webhooks/"+id, adminKey, "")
			if r.status != http.StatusNoContent || len(r.body) != 0 {
				t.Errorf("DELETE = %d %q; want 204 and no body", r.status, r.body)
			}
			wantProblem(t, e.Do(http.MethodGet, "/v1/webhooks/"+id, adminKey, ""), http.StatusNotFound, "unknown_webhook")
			wantProblem(t, e.Do(http.MethodDelete, "/v1/webhooks/"+id, adminKey, ""), http.StatusNotFound, "unknown_webhook")
			wantProblem(t, e.Do(http.MethodDelete, "/v1/webhooks/wh_nope", adminKey, ""), http.StatusNotFound, "unknown_webhook")
			list := objects(t, e.Want(e.Do(http.MethodGet, "/v1/webhooks", adminKey, ""), http.StatusOK, "list")["webhooks"], "webhooks")
			if len(list) != 1 || list[0]["id"] != star {
				t.Errorf("the list after a delete = %v; want %s alone", list, star)
			}
			if n := auditCount(t, e, credit.AuditWebhookDelete); n != 1 {
				t.Errorf("webhook.delete audit entries = %d; want 1", n)
			}
		})
	})
}

// TestWebhookDelivered sends a delivery to a real endpoint (a loopback
// server, so without the guard) and checks it as the README says to: the
// Standard Webhooks headers, the body as the feed shows the event, and the
// signature computed here by hand; the log then shows it delivered.
func TestWebhookDelivered(t *testing.T) {
	eachStore(t, func(t *testing.T, e *Env) {
		type received struct {
			header http.Header
			body   []byte
		}
		var mu sync.Mutex
		var got []received
		hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			b, _ := io.ReadAll(r.Body)
			mu.Lock()
			got = append(got, received{r.Header.Clone(), b})
			mu.Unlock()
		}))
		defer hook.Close()
		made := e.Want(e.Do(http.MethodPost, "/v1/webhooks", adminKey, `{"url":"`+hook.URL+`/in","events":["grant.created"]}`), http.StatusCreated, "create")
		id, secret := str(t, made["id"], "id"), str(t, made["secret"], "secret")
		e.Account("fay", "", "3")
		caughtUp(t, e) // deliveries are made of the events the feed answers

		d := webhook.NewDispatcher(webhook.Config{Store: e.Ledger.Store().(credit.WebhookStore), Now: e.Clock.Now, AllowPrivate: true})
		if n, err := d.RunOnce(t.Context()); err != nil || n != 1 {
			t.Fatalf("RunOnce = %d, %v; want the one delivery", n, err)
		}
		mu.Lock()
		defer mu.Unlock()
		if len(got) != 1 {
			t.Fatalf("the endpoint got %d requests; want 1", len(got))
		}
		feed := readFeed(t, e, adminKey, "types=grant.created&account=fay")
		ev := feed.Events[0]
		h := got[0].header
		if h.Get("webhook-id") != ev.ID {
			t.Errorf("webhook-id = %q; want the event's id %s", h.Get("webhook-id"), ev.ID)
		}
		ts := h.Get("webhook-timestamp")
		if n, err := strconv.ParseInt(ts, 10, 64); err != nil || n != e.Clock.Now().Unix() {
			t.Errorf("webhook-timestamp = %q; want the attempt's Unix seconds %d", ts, e.Clock.Now().Unix())
		}
		key, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, "whsec_"))
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(ev.ID + "." + ts + "."))
		mac.Write(got[0].body)
		if want := "v1," + base64.StdEncoding.EncodeToString(mac.Sum(nil)); h.Get("webhook-signature") != want {
			t.Errorf("webhook-signature = %q; want %q", h.Get("webhook-signature"), want)
		}
		var body feedPage
		body.Events = []feedEvent{decodeFeed(t, []byte(`{"events":[`+string(got[0].body)+`]}`)).Events[0]}
		if !reflect.DeepEqual(body.Events[0], ev) {
			t.Errorf("the body = %+v; want the event as the feed shows it, %+v", body.Events[0], ev)
		}
		ds := objects(t, e.Want(e.Do(http.MethodGet, "/v1/webhooks/"+id+"/deliveries", adminKey, ""), http.StatusOK, "deliveries")["deliveries"], "deliveries")
		if len(ds) != 1 {
			t.Fatalf("deliveries = %v; want one", ds)
		}
		wantStr(t, ds[0], "status", "delivered")
		wantNum(t, ds[0], "attempts", "1")
		wantNum(t, ds[0], "last_status", "200")
		if _, ok := ds[0]["next_at"]; ok {
			t.Errorf("a delivered delivery shows next_at: %v", ds[0])
		}
	})
}
