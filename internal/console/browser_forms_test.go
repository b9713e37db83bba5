package console_test

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/tally-credits/tally/internal/credit"
)

// What a tab reads from a table's rows and types into forms and
// confirmations, and the downloads it saves.

// amount is a number of credits written as the console writes it.
func amount(t *testing.T, s string) credit.Credits {
	t.Helper()
	c, err := credit.ParseCredits(s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// rowCells is the text of the cells of the first row matching sel, by
// their data-label ("" for a cell without one), trimmed.
func (p *tab) rowCells(sel string) map[string]string {
	p.t.Helper()
	v, _ := p.eval(fmt.Sprintf(`(() => {
		const row = document.querySelector(%q);
		if (!row) return null;
		const out = {};
		for (const c of row.cells) out[c.dataset.label || ""] = c.innerText.trim();
		return out;
	})()`, sel)).(map[string]any)
	out := map[string]string{}
	for k, x := range v {
		out[k], _ = x.(string)
	}
	return out
}

// wantCells checks the cells of the first row matching sel.
func (p *tab) wantCells(t *testing.T, sel string, want map[string]string) {
	t.Helper()
	deadline := time.Now().Add(8 * time.Second)
	for {
		got := p.rowCells(sel)
		bad := ""
		for col, w := range want {
			if got[col] != w {
				bad += fmt.Sprintf("\n  %s = %q; want %q", col, got[col], w)
			}
		}
		if bad == "" {
			return
		}
		if time.Now().After(deadline) {
			p.shot("failed")
			t.Errorf("%s: row %s:%s\n  (row %q)", p.name, sel, bad, got)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// setValue types a value into an input as a person would: cleared, then
// key by key.
func (p *tab) setValue(sel, value string) {
	p.t.Helper()
	p.eval(fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.value = ""; e.dispatchEvent(new Event("input", {bubbles: true})); return true; })()`, sel))
	p.do(chromedp.SendKeys(chromedp.CSS(sel), value))
}

// setDate sets a date input (keyboard entry into one depends on the locale).
func (p *tab) setDate(sel, value string) {
	p.t.Helper()
	p.eval(fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.value = %q; e.dispatchEvent(new Event("input", {bubbles: true})); e.dispatchEvent(new Event("change", {bubbles: true})); return e.value; })()`, sel, value))
}

// confirmWith checks the open confirmation's effect, gives the reason and
// confirms; it answers the confirmation's Idempotency-Key.
func (p *tab) confirmWith(t *testing.T, effect, reason string) string {
	t.Helper()
	p.do(chromedp.WaitVisible(chromedp.CSS("#confirm")))
	p.waitEqual("#confirm-effect", effect)
	key, _ := p.eval(`document.getElementById("confirm").dataset.idempotencyKey || ""`).(string)
	if !regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`).MatchString(key) {
		t.Errorf("the confirmation's Idempotency-Key is %q; want a random UUID made when it opened", key)
	}
	p.setValue("#confirm-reason", reason)
	p.click("#confirm-ok")
	return key
}

// dropProblems forgets the browser-console lines matching re: failures the
// test caused on purpose.
func (b *browserSession) dropProblems(re *regexp.Regexp) {
	b.mu.Lock()
	defer b.mu.Unlock()
	kept := b.problems[:0:0]
	for _, pr := range b.problems {
		if !re.MatchString(pr) {
			kept = append(kept, pr)
		}
	}
	b.problems = kept
}

// readDownload waits for a file the browser saves, and answers its text.
func readDownload(t *testing.T, path string) string {
	t.Helper()
	for deadline := time.Now().Add(8 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return strings.ReplaceAll(string(b), "\r\n", "\n")
		}
		if time.Now().After(deadline) {
			t.Fatalf("no download at %s", path)
		}
	}
}
