package console_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/tally-credits/tally/internal/credit"
)

// What a history row says about a charge: the credits charged, the model
// and the catalog version, typed from the studio page and added by hand.

// historyRow is the text of a history row's cells by their label.
func (p *tab) historyRow(kind string) map[string]string {
	p.t.Helper()
	arg, _ := json.Marshal(kind)
	v, _ := p.eval(`(() => {
		const row = Array.from(document.querySelectorAll("#entries tbody tr")).find(r => r.querySelector(".badge")?.textContent === ` + string(arg) + `);
		if (!row) return null;
		const out = {};
		for (const c of row.cells) out[c.dataset.label] = c.innerText.trim();
		return out;
	})()`).(map[string]any)
	out := map[string]string{}
	for k, x := range v {
		out[k], _ = x.(string)
	}
	return out
}

func TestBrowserHistoryCharged(t *testing.T) {
	exe := chromium(t)
	s := startStudio(t)
	ctx := context.Background()
	if _, err := s.Ledger.CreateAccount(ctx, nil, "studio_c", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Ledger.AddGrant(ctx, nil, "studio_c", credit.GrantSpec{Credits: credit.Whole(1000), Source: credit.SourceSubscription}); err != nil {
		t.Fatal(err)
	}
	// Nano Banana 2 at 2K, 4 images: 4 × 73.5 = 294 held; 3 delivered:
	// 3 × 73.5 = 220.5 charged, 73.5 back; then 73.5 refunded.
	g, err := s.Ledger.CreateGeneration(ctx, nil, credit.GenerationSpec{Account: "studio_c",
		Request: credit.QuoteRequest{Model: "nano-banana-2", Resolution: "2K", AspectRatio: "1:1", Images: 4}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Ledger.CompleteGeneration(ctx, nil, g.ID, 3); err != nil {
		t.Fatal(err)
	}
	refund, _ := credit.ParseCredits("73.5")
	if _, err := s.Ledger.RefundGeneration(ctx, nil, g.ID, &refund); err != nil {
		t.Fatal(err)
	}

	b := newBrowser(t, exe)
	p := b.tab("history", 1280, 900)
	p.base = s.URL
	p.t = t
	p.login(browserAdminKey, "/accounts/studio_c")
	p.waitContains("#entries tbody", "Refund", "Charge", "Hold", "Grant")
	// 1000 − 220.5 + 73.5 = 853.
	p.waitEqual("#a-available", "853")
	p.shot("history")

	t.Run("Charge", func(t *testing.T) {
		p.t = t
		row := p.historyRow("Charge")
		for col, want := range map[string]string{
			"Charged": "220.5", "Available": "+73.5", "Held": "-294", "Model": "Nano Banana 2", "Catalog": "2026-11-24.test",
			"Balance after": "779.5", // 1000 − 220.5
		} {
			if row[col] != want {
				t.Errorf("charge row %s = %q; want %q (row %q)", col, row[col], want, row)
			}
		}
	})
	t.Run("Refund", func(t *testing.T) {
		p.t = t
		row := p.historyRow("Refund")
		for col, want := range map[string]string{
			"Charged": "-73.5", "Available": "+73.5", "Held": "0", "Model": "Nano Banana 2", "Catalog": "2026-11-24.test", "Balance after": "853",
		} {
			if row[col] != want {
				t.Errorf("refund row %s = %q; want %q (row %q)", col, row[col], want, row)
			}
		}
	})
	t.Run("GrantChargesNothing", func(t *testing.T) {
		p.t = t
		row := p.historyRow("Grant")
		for col, want := range map[string]string{"Charged": "–", "Available": "+1,000", "Model": "", "Catalog": ""} {
			if row[col] != want {
				t.Errorf("grant row %s = %q; want %q (row %q)", col, row[col], want, row)
			}
		}
	})
	// The hold of a generation names its model and catalog version: the
	// page shows them for every entry that carries them, and the ledger
	// records them on a generation's hold entry.
	t.Run("Hold", func(t *testing.T) {
		p.t = t
		row := p.historyRow("Hold")
		for col, want := range map[string]string{
			"Charged": "–", "Available": "-294", "Held": "+294", "Model": "Nano Banana 2", "Catalog": "2026-11-24.test",
		} {
			if row[col] != want {
				t.Errorf("hold row %s = %q; want %q (row %q)", col, row[col], want, row)
			}
		}
	})
}
