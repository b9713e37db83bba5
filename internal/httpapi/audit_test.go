package httpapi_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/tally-credits/tally/internal/credit"
)

// TestAuditNamesTheKey: admin actions over HTTP are in GET /v1/audit with the
// id of the key that did them ("admin" for TALLY_ADMIN_KEY), newest first,
// paged; a refused grant is not there.
func TestAuditNamesTheKey(t *testing.T) {
	e := MustLedgerServer(t)
	e.Account("acme", "", "10") // by the environment's admin key
	stored := e.Key(credit.ScopeAdmin, "")
	storedID := strings.Split(stored, "_")[1]
	e.Want(e.Do(http.MethodPost, "/v1/accounts/acme/grants", stored, `{"credits":2.5,"source":"adjustment","memo":"refund of a failed batch"}`), http.StatusCreated, "grant by a stored admin key")
	r := e.Do(http.MethodPost, "/v1/accounts/nobody/grants", stored, `{"credits":1,"source":"promo"}`)
	if r.status != http.StatusNotFound {
		t.Fatalf("grant to nobody = %d; want 404", r.status)
	}

	page := e.Want(e.Do(http.MethodGet, "/v1/audit?limit=2", adminKey, ""), http.StatusOK, "audit page 1")
	entries := page["entries"].([]any)
	// Newest first: the stored key's grant, then the stored key's creation
	// (made in-process by the test, with no actor: "unknown").
	want := [][3]string{ // actor, action, target
		{storedID, "grant.create", "acme"},
		{"unknown", "key.create", storedID},
	}
	if len(entries) != 2 {
		t.Fatalf("audit page 1 has %d entries; want 2", len(entries))
	}
	for i, w := range want {
		got := entries[i].(map[string]any)
		if got["actor"] != w[0] || got["action"] != w[1] || got["target"] != w[2] {
			t.Errorf("audit entry %d = %v %v %v; want %v", i, got["actor"], got["action"], got["target"], w)
		}
	}
	if d := entries[0].(map[string]any)["detail"].(map[string]any); fmt.Sprint(d["credits"]) != "2.5" || d["memo"] != "refund of a failed batch" {
		t.Errorf("audit detail = %v; want credits 2.5 and the memo", d)
	}
	cursor, _ := page["next_cursor"].(string)
	if cursor == "" {
		t.Fatal("audit page 1 has no next_cursor; want one (four entries, pages of two)")
	}
	// Page 2: the environment admin key's topup, then its account.
	page2 := e.Want(e.Do(http.MethodGet, "/v1/audit?limit=2&cursor="+cursor, adminKey, ""), http.StatusOK, "audit page 2")
	var got []string
	for _, x := range page2["entries"].([]any) {
		m := x.(map[string]any)
		got = append(got, fmt.Sprint(m["actor"], " ", m["action"]))
	}
	if strings.Join(got, ",") != "admin grant.create,admin account.create" {
		t.Errorf("audit page 2 = %v; want the admin key's grant.create, then its account.create", got)
	}
	if _, more := page2["next_cursor"]; more {
		t.Errorf("audit page 2 has a next_cursor; want none (the refused grant left no entry)")
	}
	// Only admin keys read the log.
	if r := e.Do(http.MethodGet, "/v1/audit", e.Key(credit.ScopeService, ""), ""); r.status != http.StatusForbidden {
		t.Errorf("GET /v1/audit with a service key = %d; want 403", r.status)
	}
}
