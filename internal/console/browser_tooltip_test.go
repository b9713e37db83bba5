package console_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/chromedp"
)

// Tooltips show and never take the pointer: the card under one gets the
// next move and click.

// pointAt is the middle of sel on screen, without scrolling it into view
// (a scroll closes tooltips).
func (p *tab) pointAt(sel string) (x, y float64) {
	p.t.Helper()
	xy, ok := p.eval(fmt.Sprintf(`(() => { const r = document.querySelector(%q).getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()`, sel)).([]any)
	if !ok || len(xy) != 2 {
		p.t.Fatalf("%s: no box for %s", p.name, sel)
	}
	x, _ = xy[0].(float64)
	y, _ = xy[1].(float64)
	return x, y
}

// openTips lists the ids of the tooltips shown.
func (p *tab) openTips() string {
	p.t.Helper()
	s, _ := p.eval(`Array.from(document.querySelectorAll('[role="tooltip"]'), e => e).filter(e => getComputedStyle(e).display !== "none").map(e => e.id).join(" ")`).(string)
	return s
}

func TestBrowserTooltipBlocksNothing(t *testing.T) {
	exe := chromium(t)
	s := startStudio(t)
	b := newBrowser(t, exe)
	p := b.tab("tooltip", 1280, 900)
	p.base = s.URL
	p.t = t
	p.open("/")
	// At 1280 px the grid has four columns: ChatGPT 1.5 is right below
	// Nano Banana 2, and Nano Banana 2's tooltip opens over it.
	ax, ay := p.pointAt(`label[for="m-nano-banana-2"]`)
	bx, by := p.pointAt(`label[for="m-chatgpt-1.5"]`)
	if ax != bx || by <= ay {
		t.Fatalf("ChatGPT 1.5 (%v, %v) is not below Nano Banana 2 (%v, %v)", bx, by, ax, ay)
	}
	p.hover(`label[for="m-nano-banana-2"]`)
	p.do(chromedp.WaitVisible(chromedp.CSS("#tip-nano-banana-2")))
	bx, by = p.pointAt(`label[for="m-chatgpt-1.5"]`)
	if hit := p.eval(fmt.Sprintf(`document.elementFromPoint(%v, %v).closest('[role="tooltip"]')?.id || ""`, bx, by)); hit != "" {
		t.Errorf("the middle of ChatGPT 1.5's card is under tooltip %v", hit)
	}
	// The pointer goes down to the next card as a hand would, and clicks.
	_, ay = p.pointAt(`label[for="m-nano-banana-2"]`)
	for i := 1; i <= 6; i++ {
		y := ay + (by-ay)*float64(i)/6
		p.do(chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, bx, y))
		time.Sleep(30 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond) // past the 120 ms a tooltip waits before closing
	if tips := p.openTips(); strings.Contains(tips, "tip-nano-banana-2") {
		t.Errorf("Nano Banana 2's tooltip is still open over the card below (open: %s)", tips)
	}
	p.do(chromedp.MouseClickXY(bx, by))
	p.waitEqual("#chosen-name", "ChatGPT 1.5")
	if got := p.eval(`document.querySelector('input[name="model"]:checked').value`); got != "chatgpt-1.5" {
		t.Errorf("chosen model = %v; want chatgpt-1.5", got)
	}
	// The page: ChatGPT 1.5, 35 credits per image, up to 1K; one image.
	p.waitEqual("#create", "Create · 35 credits")
	p.shotView("next-card")

	// Chosen with a click, ChatGPT 1.5 has the focus; its tooltip still
	// closes when the pointer goes on to xAI Grok Imagine, below it.
	ax, ay = bx, by
	bx, by = p.pointAt(`label[for="m-xai-grok-imagine"]`)
	if bx != ax || by <= ay {
		t.Fatalf("xAI Grok Imagine (%v, %v) is not below ChatGPT 1.5 (%v, %v)", bx, by, ax, ay)
	}
	for i := 1; i <= 6; i++ {
		p.do(chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, bx, ay+(by-ay)*float64(i)/6))
		time.Sleep(30 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	if tips := p.openTips(); tips != "tip-xai-grok-imagine" {
		t.Errorf("pointer over xAI Grok Imagine: open tooltips %q; want its own only", tips)
	}
	p.do(chromedp.MouseClickXY(bx, by))
	p.waitEqual("#chosen-name", "xAI Grok Imagine")
	// The page: xAI Grok Imagine, 12 credits per image.
	p.waitEqual("#create", "Create · 12 credits")
	// The keyboard's focus keeps a tooltip open until Escape or blur.
	p.do(chromedp.KeyEvent("\t"), chromedp.KeyEvent("\t", chromedp.KeyModifiers(chromedp.ModifierShift)))
	p.do(chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, 1, 1))
	time.Sleep(300 * time.Millisecond)
	if tips := p.openTips(); tips != "tip-xai-grok-imagine" {
		t.Errorf("keyboard focus on xAI Grok Imagine, pointer away: open tooltips %q; want its own", tips)
	}
}
