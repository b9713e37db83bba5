package storetest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// The support desk's writes: a debit (a negative adjustment) and the audit
// of a person's reasons for a debit, refund, release, grant or void.

// support is a support agent's context: their key, and why they act.
func (e *env) support(reason string) context.Context {
	return credit.WithReason(credit.WithActor(e.ctx, "key_support"), reason)
}

// debit takes c back from account, or fails the test.
func (e *env) debit(ctx context.Context, account string, c credit.Credits, memo string) credit.Entry {
	e.t.Helper()
	t, err := e.ledger.Debit(ctx, nil, account, credit.DebitSpec{Credits: c, Memo: memo})
	if err != nil {
		e.t.Fatalf("Debit(%s, %s) = %v", account, c, err)
	}
	return t
}

// postingsText renders an entry's postings, labelling grants by labels.
func postingsText(t credit.Entry, labels map[string]string) string {
	var parts []string
	for _, p := range t.Postings {
		g := labels[p.Grant]
		if g == "" {
			g = p.Grant
		}
		parts = append(parts, fmt.Sprintf("%s/%s/%s %s", p.Account, p.Book, g, p.Amount))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

// flowDebit: a debit takes credits back from the grants the account would
// spend last, never more than is available, in one audited journal entry.
func flowDebit(t *testing.T, e *env) {
	e.account("d", 0)
	// In consumption order: b promo 20 (3 days), a subscription 40 (30
	// days), c top-up 30 (never, made first), d2 adjustment 10 (never,
	// made a second later).
	a := e.grant("d", credit.GrantSpec{Credits: credit.Whole(40), Source: credit.SourceSubscription, ExpiresAt: t0.Add(30 * 24 * time.Hour)})
	b := e.grant("d", credit.GrantSpec{Credits: credit.Whole(20), Source: credit.SourcePromo, ExpiresAt: t0.Add(3 * 24 * time.Hour)})
	c := e.topup("d", 30)
	e.clock.Add(time.Second)
	d2 := e.grant("d", credit.GrantSpec{Credits: credit.Whole(10), Source: credit.SourceAdjustment})
	labels := map[string]string{a.ID: "a", b.ID: "b", c.ID: "c", d2.ID: "d2"}
	// A hold of 15 takes b first: 5 left, 15 held. Available 40 + 5 + 30 +
	// 10 = 85.
	e.hold("d", credit.Whole(15), 0)
	e.balances("d", credit.Whole(85), credit.Whole(15))

	// Debit 35, last to be spent first: d2 10, then c 25.
	reason := "duplicate grant, ticket 4411"
	t35 := e.debit(e.support(reason), "d", credit.Whole(35), "given twice")
	if t35.Kind != credit.EntryDebit || t35.Account != "d" || t35.AvailableDelta != credit.Whole(-35) || t35.HeldDelta != 0 || t35.Memo != "given twice" {
		t.Errorf("Debit(35) = %s of %s, available %s, held %s, memo %q; want debit of d, -35, 0, \"given twice\"", t35.Kind, t35.Account, t35.AvailableDelta, t35.HeldDelta, t35.Memo)
	}
	if got, want := postingsText(t35, labels), "d/available/c -25, d/available/d2 -10, platform/issued/ 35"; got != want {
		t.Errorf("Debit(35) postings = %s; want %s", got, want)
	}
	for _, w := range []struct {
		label           string
		id              string
		remaining, held credit.Credits
	}{{"a", a.ID, credit.Whole(40), 0}, {"b", b.ID, credit.Whole(5), credit.Whole(15)}, {"c", c.ID, credit.Whole(5), 0}, {"d2", d2.ID, 0, 0}} {
		e.wantGrant(w.label, w.id, w.remaining, w.held)
	}
	e.balances("d", credit.Whole(50), credit.Whole(15)) // 85 − 35

	// More than is available (40 + 5 + 5 = 50; the held 15 stay with their
	// hold): refused, nothing written.
	e.unchanged("a debit of more than available", func() {
		_, err := e.ledger.Debit(e.support(reason), nil, "d", credit.DebitSpec{Credits: credit.Whole(60)})
		wantErr(t, "Debit(60 of 50)", err, credit.InsufficientCredits, "insufficient_credits")
		if x := asError(err); x != nil && (x.Available != credit.Whole(50) || x.Eligible != credit.Whole(50) || x.Required != credit.Whole(60)) {
			t.Errorf("Debit(60 of 50) refusal: available %s, eligible %s, required %s; want 50, 50, 60", x.Available, x.Eligible, x.Required)
		}
		_, err = e.ledger.Debit(e.ctx, nil, "d", credit.DebitSpec{Credits: 0})
		wantErr(t, "Debit(0)", err, credit.Invalid, "invalid_amount")
		_, err = e.ledger.Debit(e.ctx, nil, "d", credit.DebitSpec{Credits: -1})
		wantErr(t, "Debit(-0.001)", err, credit.Invalid, "invalid_amount")
		_, err = e.ledger.Debit(e.ctx, nil, "nobody", credit.DebitSpec{Credits: 1})
		wantErr(t, "Debit(nobody)", err, credit.NotFound, "unknown_account")
		_, err = e.ledger.Debit(e.ctx, nil, "no body", credit.DebitSpec{Credits: 1})
		wantErr(t, "Debit(no body)", err, credit.NotFound, "unknown_account")
	})

	// 8 without a reason: c's last 5, then a 3 (40 → 37).
	t8 := e.debit(e.ctx, "d", credit.Whole(8), "")
	if got, want := postingsText(t8, labels), "d/available/a -3, d/available/c -5, platform/issued/ 8"; got != want {
		t.Errorf("Debit(8) postings = %s; want %s", got, want)
	}
	// 2 with a key, from a (37 → 35); its retry answers the same entry and
	// writes nothing.
	key := idem("debit-1", "h1")
	t2, err := e.ledger.Debit(e.ctx, key, "d", credit.DebitSpec{Credits: credit.Whole(2)})
	if err != nil {
		t.Fatalf("Debit(2) = %v", err)
	}
	e.unchanged("a retried debit", func() {
		again, err := e.ledger.Debit(e.ctx, key, "d", credit.DebitSpec{Credits: credit.Whole(2)})
		if err != nil || again.ID != t2.ID {
			t.Errorf("retried Debit(2) = entry %d, %v; want the first answer, entry %d", again.ID, err, t2.ID)
		}
	})
	e.wantGrant("a", a.ID, credit.Whole(35), 0)
	e.balances("d", credit.Whole(40), credit.Whole(15)) // 50 − 8 − 2
	// The platform's issued book: −100 granted, +35 +8 +2 taken back.
	if got := platformBook(e.snapshot(), credit.BookIssued); got != credit.Whole(-55) {
		t.Errorf("platform issued book = %s; want -55 (-100 + 45)", got)
	}

	// What is owed now (today 2026-11-24): a subscription 35 (bucket
	// 12-24: t0 + 30 days is within 30 × 24 hours of now, but the windows
	// count whole days from today's midnight, [11-24, 12-24), so within 90
	// only); b promo 5 + 15 held (bucket 11-27: within 7); c and d2 are
	// spent (their rows sum to nothing: not listed).
	e.wantLiability("d after debits", time.Time{},
		owed("total", "55", "20", "20", "55", "0", "0"),
		owed(credit.SourcePromo, "20", "20", "20", "20", "0", "0"),
		owed(credit.SourceSubscription, "35", "0", "0", "35", "0", "0"))

	// Every debit is audited, newest first; the reason only when given.
	log, err := e.ledger.AccountAudit(e.ctx, "d", 0, 50)
	if err != nil {
		t.Fatalf("AccountAudit(d) = %v", err)
	}
	want := []string{"account.debit 2", "account.debit 8", "account.debit 35 reason " + reason,
		"grant.create", "grant.create", "grant.create", "grant.create", "account.create"}
	if got := auditText(t, log); !slices.Equal(got, want) {
		t.Errorf("AccountAudit(d) =\n    %s\nwant\n    %s", strings.Join(got, "\n    "), strings.Join(want, "\n    "))
	}
	if len(log) > 2 && (log[2].Actor != "key_support" || log[2].Target != "d") {
		t.Errorf("the audit of Debit(35) is by %q on %q; want key_support on d", log[2].Actor, log[2].Target)
	}
	e.wantRollups()
}

// auditText renders audit entries as "action [credits|refunded|released
// N] [reason R]", checking each detail is a JSON object.
func auditText(t *testing.T, log []credit.AuditEntry) []string {
	t.Helper()
	var out []string
	for _, a := range log {
		d := map[string]any{}
		dec := json.NewDecoder(bytes.NewReader(a.Detail))
		dec.UseNumber()
		if err := dec.Decode(&d); err != nil {
			t.Errorf("audit entry %d (%s) detail %s: %v", a.ID, a.Action, a.Detail, err)
		}
		s := a.Action
		switch a.Action {
		case credit.AuditAccountDebit:
			s += fmt.Sprintf(" %v", d["credits"])
		case credit.AuditGenerationRefund:
			s += fmt.Sprintf(" %v of %v (%v in all)", d["refunded"], d["charged"], d["refunded_total"])
		case credit.AuditHoldRelease:
			s += fmt.Sprintf(" %v", d["released"])
		}
		if r, ok := d["reason"]; ok {
			s += fmt.Sprintf(" reason %v", r)
		}
		out = append(out, s)
	}
	return out
}

// flowDebitOverdrawn: a debit never takes the balance below zero, never
// from the overdraft grant, and never credits past their expiry.
func flowDebitOverdrawn(t *testing.T, e *env) {
	e.account("o", credit.Whole(10))
	tp := e.topup("o", 5)
	// A hold of 12: 5 from the top-up, 7 from the overdraft: available −7.
	h := e.hold("o", credit.Whole(12), 0)
	e.balances("o", credit.Whole(-7), credit.Whole(12))
	e.unchanged("a debit of an overdrawn account", func() {
		_, err := e.ledger.Debit(e.ctx, nil, "o", credit.DebitSpec{Credits: 1})
		wantErr(t, "Debit(0.001) overdrawn", err, credit.InsufficientCredits, "insufficient_credits")
		if x := asError(err); x != nil && (x.Available != credit.Whole(-7) || x.Eligible != 0 || x.Required != 1) {
			t.Errorf("Debit(0.001) overdrawn refusal: available %s, eligible %s, required %s; want -7, 0, 0.001", x.Available, x.Eligible, x.Required)
		}
	})
	if _, err := e.ledger.ReleaseHold(e.ctx, nil, h.ID); err != nil {
		t.Fatalf("ReleaseHold = %v", err)
	}
	// 5 back on the top-up: all of it can be taken, and no more.
	e.debit(e.ctx, "o", credit.Whole(5), "")
	e.wantGrant("top-up", tp.ID, 0, 0)
	e.balances("o", 0, 0)
	// A promo of 3 expiring in an hour: past it, it is not there to take.
	e.grant("o", credit.GrantSpec{Credits: credit.Whole(3), Source: credit.SourcePromo, ExpiresAt: t0.Add(time.Hour)})
	e.clock.Add(2 * time.Hour)
	_, err := e.ledger.Debit(e.ctx, nil, "o", credit.DebitSpec{Credits: credit.Whole(3)})
	wantErr(t, "Debit(3) of an expired promo", err, credit.InsufficientCredits, "insufficient_credits")
	e.balances("o", 0, 0)
	// The overdraft grant owes nothing and was never taken from.
	for _, g := range e.snapshot().Grants {
		if g.Source == credit.SourceOverdraft && (g.Remaining != 0 || g.Held != 0) {
			t.Errorf("overdraft grant %s: remaining %s, held %s; want 0, 0", g.ID, g.Remaining, g.Held)
		}
	}
	e.wantRollups()
}

// flowReasonsAudited: a person's refund and release (one made with a
// reason) are audited with it, the studio's own are not; a grant and a
// void carry the reason when one is given.
func flowReasonsAudited(t *testing.T, e *env) {
	e.account("r", 0)
	e.topup("r", 100)
	g := e.generation("r", images(fluxDev, 2)) // 10
	e.complete(g.ID, 2)
	five := credit.Whole(5)
	if _, err := e.ledger.RefundGeneration(e.support("customer complaint"), nil, g.ID, &five); err != nil {
		t.Fatalf("RefundGeneration(5, with a reason) = %v", err)
	}
	if _, err := e.ledger.RefundGeneration(e.ctx, nil, g.ID, &five); err != nil {
		t.Fatalf("RefundGeneration(5) = %v", err)
	}
	h1 := e.hold("r", credit.Whole(20), 0)
	if _, err := e.ledger.ReleaseHold(e.support("stuck job"), nil, h1.ID); err != nil {
		t.Fatalf("ReleaseHold(with a reason) = %v", err)
	}
	h2 := e.hold("r", credit.Whole(20), 0)
	if _, err := e.ledger.ReleaseHold(e.ctx, nil, h2.ID); err != nil {
		t.Fatalf("ReleaseHold = %v", err)
	}
	g2 := e.generation("r", fluxDev) // 5
	if _, err := e.ledger.FailGeneration(e.support("never delivered"), nil, g2.ID); err != nil {
		t.Fatalf("FailGeneration(with a reason) = %v", err)
	}
	if _, err := e.ledger.FailGeneration(e.ctx, nil, e.generation("r", fluxDev).ID); err != nil {
		t.Fatalf("FailGeneration = %v", err)
	}
	// A capture is no release, reason or not.
	h3 := e.hold("r", credit.Whole(4), 0)
	if _, err := e.ledger.CaptureHold(e.support("manual capture"), nil, h3.ID, nil); err != nil {
		t.Fatalf("CaptureHold(with a reason) = %v", err)
	}
	gr, err := e.ledger.AddGrant(e.support("goodwill"), nil, "r", credit.GrantSpec{Credits: credit.Whole(10), Source: credit.SourcePromo})
	if err != nil {
		t.Fatalf("AddGrant(with a reason) = %v", err)
	}
	if _, err := e.ledger.VoidGrant(e.support("goodwill given twice"), nil, gr.ID, ""); err != nil {
		t.Fatalf("VoidGrant(with a reason) = %v", err)
	}
	log, err := e.ledger.AccountAudit(e.ctx, "r", 0, 50)
	if err != nil {
		t.Fatalf("AccountAudit(r) = %v", err)
	}
	want := []string{
		"grant.void reason goodwill given twice",
		"grant.create reason goodwill",
		"hold.release 5 reason never delivered",
		"hold.release 20 reason stuck job",
		"generation.refund 5 of 10 (5 in all) reason customer complaint",
		"grant.create",
		"account.create",
	}
	if got := auditText(t, log); !slices.Equal(got, want) {
		t.Errorf("AccountAudit(r) =\n    %s\nwant\n    %s", strings.Join(got, "\n    "), strings.Join(want, "\n    "))
	}
	for _, a := range log[:min(5, len(log))] {
		if a.Actor != "key_support" || a.Target != "r" {
			t.Errorf("audit entry %s is by %q on %q; want key_support on r", a.Action, a.Actor, a.Target)
		}
	}
	// The same entries lead the whole log.
	all, err := e.ledger.Audit(e.ctx, 0, 50)
	if err != nil || len(all) != len(log) || (len(all) > 0 && all[0].ID != log[0].ID) {
		t.Errorf("Audit() = %d entries (%v); want the account's %d", len(all), err, len(log))
	}
}
