package storetest

import (
	"encoding/json"
	"testing"

	"github.com/tally-credits/tally/internal/credit"
)

// flowAudit: every admin action leaves one audit entry naming the key that
// did it, in the action's own transaction, so that a replayed request leaves
// none and a refused one none; the log pages newest first.
func flowAudit(t *testing.T, e *env) {
	ctx := credit.WithActor(e.ctx, "key_ops")
	if _, err := e.ledger.CreateAccount(ctx, nil, "acme", credit.Whole(5)); err != nil {
		t.Fatal(err)
	}
	spec := credit.GrantSpec{Credits: credit.Whole(100), Source: credit.SourceAdjustment, Memo: "goodwill"}
	g, err := e.ledger.AddGrant(ctx, idem("g1", "h1"), "acme", spec)
	if err != nil {
		t.Fatal(err)
	}
	// The same request again (a retry) replays the answer: no second entry.
	if _, err := e.ledger.AddGrant(ctx, idem("g1", "h1"), "acme", spec); err != nil {
		t.Fatal(err)
	}
	// Refused: nothing happened, so nothing is recorded.
	_, err = e.ledger.AddGrant(ctx, nil, "nobody", spec)
	wantErr(t, "AddGrant(nobody)", err, credit.NotFound, "unknown_account")
	k, _, err := e.ledger.CreateKey(credit.WithActor(e.ctx, "cli:ops"), credit.KeySpec{Scope: credit.ScopeAccount, Account: "acme", Name: "acme app"})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.ledger.RevokeKey(credit.WithActor(e.ctx, "cli:ops"), k.ID); err != nil {
		t.Fatal(err)
	}

	log, err := e.ledger.Audit(e.ctx, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	want := []struct{ actor, action, target string }{
		{"cli:ops", credit.AuditKeyRevoke, k.ID},
		{"cli:ops", credit.AuditKeyCreate, k.ID},
		{"key_ops", credit.AuditGrantCreate, "acme"},
		{"key_ops", credit.AuditAccountCreate, "acme"},
	}
	if len(log) != len(want) {
		t.Fatalf("audit log has %d entries; want %d (one per action, none for the replay or the refusal): %+v", len(log), len(want), log)
	}
	for i, w := range want {
		got := log[i]
		if got.Actor != w.actor || got.Action != w.action || got.Target != w.target || !got.At.Equal(t0) {
			t.Errorf("audit entry %d = %s %s %s at %v; want %s %s %s at %v", i, got.Actor, got.Action, got.Target, got.At, w.actor, w.action, w.target, t0)
		}
		if i > 0 && got.ID >= log[i-1].ID {
			t.Errorf("audit entry %d has id %d after %d; want newest first", i, got.ID, log[i-1].ID)
		}
	}
	var detail struct {
		Grant   string         `json:"grant"`
		Credits credit.Credits `json:"credits"`
		Source  string         `json:"source"`
		Memo    string         `json:"memo"`
	}
	if err := json.Unmarshal(log[2].Detail, &detail); err != nil || detail.Grant != g.ID || detail.Credits != credit.Whole(100) || detail.Source != "adjustment" || detail.Memo != "goodwill" {
		t.Errorf("grant audit detail = %s (%v); want grant %s, 100 credits, adjustment, goodwill", log[2].Detail, err, g.ID)
	}
	// Paging: the two oldest, after the two newest.
	older, err := e.ledger.Audit(e.ctx, log[1].ID, 10)
	if err != nil || len(older) != 2 || older[0].ID != log[2].ID || older[1].ID != log[3].ID {
		t.Errorf("Audit(before %d) = %+v, %v; want the two oldest entries", log[1].ID, older, err)
	}
	_, err = e.ledger.Audit(e.ctx, 0, 0)
	wantErr(t, "Audit(limit 0)", err, credit.Invalid, "invalid_limit")
}
