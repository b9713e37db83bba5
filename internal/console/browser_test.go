package console_test

import (
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/input"
	cdplog "github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/console"
	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/httpapi"
	"github.com/tally-credits/tally/internal/sqlite"
)

// The browser tests drive the console in a real headless Chromium against a
// real server: the API and the console on one handler, a ledger on a SQLite
// file. Every expected figure is typed from the studio page or calculated
// from it by hand.

const browserAdminKey = "browser-test-admin-key-0123456789"

// chromium returns the path of the browser, or skips the test with a message
// saying why; with TALLY_REQUIRE_BROWSER=1 (CI) a missing browser fails it.
func chromium(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("TALLY_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome-stable", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "no Chromium found (looked for chromium, chromium-browser, google-chrome on PATH; set TALLY_CHROMIUM, " +
		"or apt-get install chromium): the console's browser tests did not run"
	if os.Getenv("TALLY_REQUIRE_BROWSER") == "1" {
		t.Fatal(msg + ", and TALLY_REQUIRE_BROWSER=1 requires them")
	}
	t.Skip(msg)
	return ""
}

// studio is a running tally: API, console and ledger.
type studio struct {
	URL        string
	Ledger     *credit.Ledger
	AccountKey string // reads studio_b only
}

// The catalog in use prices the prompt enhancer (the page does not publish
// its price; the seed catalog has 0): 2.5 credits per generation.
const enhancer = "2.5"

func startStudio(t *testing.T) *studio {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "tally.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })

	// Two published versions, for the Catalog page: an older one (Nano
	// Banana 2 at 90 for 4K, Flux Dev at 6, no Topaz) and the one in use.
	seed := string(catalog.DefaultYAML())
	inUse := strings.NewReplacer(`version: "2026-11-24.seed"`, `version: "2026-11-24.test"`,
		"prompt_enhancer_credits: 0", "prompt_enhancer_credits: "+enhancer).Replace(seed)
	topaz := seed[strings.Index(seed, "  - name: Topaz\n"):strings.Index(seed, "  - name: Magnific Precision v2\n")]
	older := strings.NewReplacer(`version: "2026-11-24.seed"`, `version: "2026-11-01.old"`,
		`effective_at: "2026-11-24T00:00:00Z"`, `effective_at: "2026-11-01T00:00:00Z"`,
		"prompt_enhancer_credits: 0", "prompt_enhancer_credits: "+enhancer,
		"{1K: 49, 2K: 73.5, 4K: 98}", "{1K: 49, 2K: 73.5, 4K: 90}",
		"  - name: Flux Dev\n    kind: image\n    price: {per_image: 5}", "  - name: Flux Dev\n    kind: image\n    price: {per_image: 6}",
		topaz, "").Replace(seed)
	var cat *credit.Catalog
	for _, y := range []string{older, inUse} {
		c, err := catalog.Parse([]byte(y))
		if err != nil {
			t.Fatal(err)
		}
		if err := db.PublishCatalog(ctx, credit.CatalogRecord{Version: c.Version, EffectiveAt: c.EffectiveAt, PublishedAt: time.Now().UTC(), YAML: []byte(y)}); err != nil {
			t.Fatal(err)
		}
		cat = c
	}

	var srv *httpapi.Server
	ui := console.New(console.Config{Catalog: func() *credit.Catalog { return srv.Catalog() }, Catalogs: db, Version: "test"})
	srv = httpapi.NewServer(httpapi.Config{Catalog: cat, Catalogs: db, AdminKey: browserAdminKey, Version: "test", Console: ui})
	ledger := credit.NewLedger(db, credit.LedgerConfig{Catalog: srv.Catalog})
	srv.SetLedger(ledger)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)

	for _, a := range []struct {
		id      string
		credits int64
	}{{"studio_a", 1000}, {"studio_b", 50}} {
		if _, err := ledger.CreateAccount(ctx, nil, a.id, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := ledger.AddGrant(ctx, nil, a.id, credit.GrantSpec{Credits: credit.Whole(a.credits), Source: credit.SourceSubscription, Memo: "monthly plan"}); err != nil {
			t.Fatal(err)
		}
	}
	// studio_b gets 24 more grants of 1 credit, so that its history (25
	// entries) takes two pages of 20.
	for i := range 24 {
		if _, err := ledger.AddGrant(ctx, nil, "studio_b", credit.GrantSpec{Credits: credit.Whole(1), Source: credit.SourcePromo, Memo: fmt.Sprintf("promo %d", i+1)}); err != nil {
			t.Fatal(err)
		}
	}
	_, key, err := ledger.CreateKey(ctx, credit.KeySpec{Scope: credit.ScopeAccount, Account: "studio_b", Name: "browser test"})
	if err != nil {
		t.Fatal(err)
	}
	return &studio{URL: ts.URL, Ledger: ledger, AccountKey: key}
}

// browserSession is one headless Chromium for a test, with what its pages
// wrote to the console.
type browserSession struct {
	t        *testing.T
	root     context.Context
	shots    string
	mu       sync.Mutex
	problems []string
	requests []string
}

func newBrowser(t *testing.T, exe string) *browserSession {
	t.Helper()
	alloc, cancel := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	)
	t.Cleanup(cancel)
	root, cancelRoot := chromedp.NewContext(alloc)
	t.Cleanup(cancelRoot)
	if err := chromedp.Do(root); err != nil { // starts the browser
		t.Fatalf("starting %s: %v", exe, err)
	}
	// TALLY_SCREENSHOTS keeps the screenshots in a folder of your choice.
	shots := os.Getenv("TALLY_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	} else if err := os.MkdirAll(shots, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshots in %s", shots)
	b := &browserSession{t: t, root: root, shots: shots}
	t.Cleanup(func() {
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, p := range b.problems {
			t.Errorf("browser console: %s", p)
		}
	})
	return b
}

// tab opens a tab of the given size; its console errors, exceptions and
// browser-log errors fail the test.
func (b *browserSession) tab(name string, width, height int64) *tab {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.root)
	b.t.Cleanup(cancel)
	err := chromedp.Listen(ctx, func(ev any) {
		var problem string
		switch ev := ev.(type) {
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError || ev.Type == runtime.ConsoleAPICalledTypeWarning || ev.Type == runtime.ConsoleAPICalledTypeAssert {
				var parts []string
				for _, a := range ev.Args {
					if len(a.Value) > 0 {
						parts = append(parts, string(a.Value))
					} else {
						parts = append(parts, a.Description)
					}
				}
				problem = fmt.Sprintf("console.%s: %s", ev.Type, strings.Join(parts, " "))
			}
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			problem = "uncaught exception: " + d.Text
			if d.Exception != nil {
				problem += " " + d.Exception.Description
			}
		case *cdplog.EventEntryAdded:
			if ev.Entry.Level == cdplog.EntryLevelError {
				problem = fmt.Sprintf("log %s: %s %s", ev.Entry.Source, ev.Entry.Text, ev.Entry.URL)
			}
		case *network.EventRequestWillBeSent:
			b.mu.Lock()
			b.requests = append(b.requests, name+" "+ev.Request.Method+" "+ev.Request.URL)
			b.mu.Unlock()
		}
		if problem != "" {
			b.mu.Lock()
			b.problems = append(b.problems, name+": "+problem)
			b.mu.Unlock()
		}
	})
	if err != nil {
		b.t.Fatal(err)
	}
	p := &tab{t: b.t, b: b, ctx: ctx, name: name, width: width}
	p.do(chromedp.EmulateViewport(width, height))
	return p
}

// tab is one browser tab and the test it reports to.
type tab struct {
	t     *testing.T
	b     *browserSession
	ctx   context.Context
	name  string
	width int64
	base  string
}

func (p *tab) do(actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 15*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.t.Fatalf("%s: %v", p.name, err)
	}
}

func (p *tab) eval(js string) any {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 15*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[any](js))
	if err != nil {
		p.t.Fatalf("%s: evaluating %s: %v", p.name, js, err)
	}
	return v
}

func (p *tab) open(path string) {
	p.t.Helper()
	p.do(chromedp.Navigate(p.base + path))
}

// text is the visible text of the first element matching sel, trimmed.
func (p *tab) text(sel string) string {
	p.t.Helper()
	v := p.eval(fmt.Sprintf(`(() => { const e = document.querySelector(%q); return e ? e.innerText.trim() : null; })()`, sel))
	s, _ := v.(string)
	return s
}

// waitText waits until the text of sel satisfies ok, and returns it.
func (p *tab) waitText(sel, what string, ok func(string) bool) string {
	p.t.Helper()
	deadline := time.Now().Add(8 * time.Second)
	var got string
	for {
		got = p.text(sel)
		if ok(got) {
			return got
		}
		if time.Now().After(deadline) {
			p.shot("failed")
			p.t.Fatalf("%s: %s = %q; want %s", p.name, sel, got, what)
		}
		time.Sleep(40 * time.Millisecond)
	}
}

func (p *tab) waitEqual(sel, want string) string {
	p.t.Helper()
	return p.waitText(sel, strconv.Quote(want), func(s string) bool { return s == want })
}

func (p *tab) waitContains(sel string, want ...string) string {
	p.t.Helper()
	return p.waitText(sel, fmt.Sprintf("to contain %q", want), func(s string) bool {
		for _, w := range want {
			if !strings.Contains(s, w) {
				return false
			}
		}
		return true
	})
}

// waitCount waits until sel matches n elements: rows arrive from the API
// after the page's own labels change.
func (p *tab) waitCount(sel string, n int) {
	p.t.Helper()
	js := fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := p.eval(js)
		if got == float64(n) {
			return
		}
		if time.Now().After(deadline) {
			p.t.Errorf("%s: %s matches %v elements; want %d", p.name, sel, got, n)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// click clicks sel once it is visible. The page may render sel again
// between the wait and the click (a wallet message rewritten when the
// balance arrives): the scroll then finds no element and is skipped, and
// Click waits for the new one.
func (p *tab) click(sel string) {
	p.t.Helper()
	p.do(chromedp.WaitVisible(chromedp.CSS(sel)))
	p.eval(fmt.Sprintf(`(() => { const e = document.querySelector(%q); if (e) e.scrollIntoView({block: "center"}); return true; })()`, sel))
	p.do(chromedp.Click(chromedp.CSS(sel)))
}

// hover moves the mouse over the middle of sel, as a person would.
func (p *tab) hover(sel string) {
	p.t.Helper()
	p.eval(fmt.Sprintf(`document.querySelector(%q).scrollIntoView({block: "center"})`, sel))
	time.Sleep(150 * time.Millisecond) // let the scroll settle: scrolling closes tooltips
	xy, ok := p.eval(fmt.Sprintf(`(() => { const r = document.querySelector(%q).getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()`, sel)).([]any)
	if !ok || len(xy) != 2 {
		p.t.Fatalf("%s: no box for %s", p.name, sel)
	}
	x, _ := xy[0].(float64)
	y, _ := xy[1].(float64)
	p.do(chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, 1, 1), chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, x, y))
}

// choose picks an option of a select, as the keyboard or mouse would: the
// value changes and the change event fires.
func (p *tab) choose(sel, value string) {
	p.t.Helper()
	got := p.eval(fmt.Sprintf(`(() => { const e = document.querySelector(%q); e.focus(); e.value = %q; e.dispatchEvent(new Event("input", {bubbles: true})); e.dispatchEvent(new Event("change", {bubbles: true})); return e.value; })()`, sel, value))
	if got != value {
		p.t.Fatalf("%s: %s offers no %q", p.name, sel, value)
	}
}

// shot saves a screenshot of the whole page.
func (p *tab) shot(name string) {
	p.t.Helper()
	p.eval(`window.scrollTo(0, 0)`)
	p.screenshot(name, chromedp.FullScreenshot(100))
}

// shotView saves a screenshot of the viewport as it is: a full-page one
// resizes the viewport, which closes open tooltips.
func (p *tab) shotView(name string) {
	p.t.Helper()
	p.screenshot(name, chromedp.CaptureScreenshot())
}

func (p *tab) screenshot(name string, capture chromedp.Action[[]byte]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, 15*time.Second)
	defer cancel()
	buf, err := chromedp.Run(ctx, capture)
	if err != nil {
		p.t.Logf("%s: screenshot %s: %v", p.name, name, err)
		return
	}
	path := filepath.Join(p.b.shots, fmt.Sprintf("%s-%s-%dpx.png", p.name, name, p.width))
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

func (p *tab) login(key, next string) {
	p.t.Helper()
	p.open("/login?next=" + next)
	p.do(chromedp.SendKeys(chromedp.CSS("#key"), key))
	p.click("#login-submit")
	p.waitText("#who", "the signed-in key", func(s string) bool { return s != "" })
}

// credits reads a number the console shows ("1,000", "777").
func credits(t *testing.T, s string) credit.Credits {
	t.Helper()
	c, err := credit.ParseCredits(strings.ReplaceAll(s, ",", ""))
	if err != nil {
		t.Fatalf("%q is not an amount: %v", s, err)
	}
	return c
}

func writePNG(t *testing.T, w, h int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "input.png")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := png.Encode(f, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestBrowser(t *testing.T) {
	exe := chromium(t)
	s := startStudio(t)
	b := newBrowser(t, exe)
	start := time.Now()
	defer func() { t.Logf("browser tests took %v", time.Since(start).Round(time.Millisecond)) }()

	// The watch on the console catches what it must: a console.error and
	// an uncaught exception, here made on purpose and then forgiven.
	t.Run("ConsoleWatch", func(t *testing.T) {
		p := b.tab("probe", 800, 600)
		p.t = t
		p.base = s.URL
		p.open("/pricing")
		p.eval(`console.error("probe error"); setTimeout(() => { throw new Error("probe exception"); }, 0); true`)
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			b.mu.Lock()
			var caught []string
			rest := b.problems[:0:0]
			for _, pr := range b.problems {
				if strings.HasPrefix(pr, "probe: ") {
					caught = append(caught, pr)
				} else {
					rest = append(rest, pr)
				}
			}
			if len(caught) == 2 {
				b.problems = rest
				b.mu.Unlock()
				break
			}
			b.mu.Unlock()
			if time.Now().After(deadline) {
				t.Fatalf("the console watch caught %q; want the probe's error and exception", caught)
			}
		}
	})

	admin := b.tab("admin", 1280, 900)
	admin.base = s.URL

	t.Run("ModelTooltip", func(t *testing.T) {
		p := *admin
		p.t = t
		p.open("/")
		p.hover(`label[for="m-nano-banana-2"]`)
		p.do(chromedp.WaitVisible(chromedp.CSS("#tip-nano-banana-2")))
		tip := p.text("#tip-nano-banana-2")
		// The page: Nano Banana 2, 49 (1K), 73.5 (2K), 98 (4K), up to 4K, ten ratios.
		for _, want := range []string{"Nano Banana 2", "49 credits", "73.5 credits", "98 credits", "Up to 4K", "21:9"} {
			if !strings.Contains(tip, want) {
				t.Errorf("tooltip of Nano Banana 2 = %q; want %q in it", tip, want)
			}
		}
		for _, tier := range []string{"1K", "2K", "4K"} {
			if !strings.Contains(tip, tier) {
				t.Errorf("tooltip of Nano Banana 2 lacks tier %s: %q", tier, tip)
			}
		}
		p.shotView("model-tooltip")
		// Escape closes it; keyboard focus opens another.
		p.do(chromedp.KeyEvent("\x1b"))
		p.do(chromedp.WaitNotVisible(chromedp.CSS("#tip-nano-banana-2")))
		p.do(chromedp.Focus(chromedp.CSS("#m-nano-banana-pro")))
		p.do(chromedp.WaitVisible(chromedp.CSS("#tip-nano-banana-pro")))
		if tip := p.text("#tip-nano-banana-pro"); !strings.Contains(tip, "80 credits") || !strings.Contains(tip, "160 credits") {
			t.Errorf("tooltip of Nano Banana Pro on focus = %q; want 80 and 160 credits", tip)
		}
		if got := p.eval(`document.getElementById("m-nano-banana-pro").getAttribute("aria-describedby")`); got != "tip-nano-banana-pro" {
			t.Errorf("aria-describedby = %v", got)
		}
	})

	// Signed in as admin, on account studio_a (1000 credits).
	admin.login(browserAdminKey, "/")
	const (
		granted = 1000
		// Nano Banana 2 at 2K is 73.5 an image (page); 3 images and the
		// enhancer: 3 × 73.5 + 2.5 = 223.
		total = 223
	)

	t.Run("CreateTotal", func(t *testing.T) {
		p := *admin
		p.t = t
		p.open("/")
		p.click(`label[for="m-nano-banana-2"]`)
		p.choose("#resolution", "2K")
		p.choose("#images", "3")
		p.click(`label[for="prompt_enhancer"]`)
		p.choose("#aspect_ratio", "16:9")
		p.waitEqual("#create", "Create · 223 credits")
		p.hover("#create")
		p.do(chromedp.WaitVisible(chromedp.CSS("#create-tip")))
		tip := p.waitContains("#create-tip", "Prompt enhancer")
		for _, want := range []string{"Nano Banana 2 · 2K", "3 × 73.5", "220.5", "Prompt enhancer", "1 × 2.5", "Total", "223 credits", "2736×1536 px", "catalog 2026-11-24.test"} {
			if !strings.Contains(tip, want) {
				t.Errorf("Create breakdown = %q; want %q in it", tip, want)
			}
		}
		p.shotView("create-tooltip")
		// The settings follow the model: ChatGPT is up to 1K, with 1:1, 2:3, 3:2.
		p.click(`label[for="m-chatgpt"]`)
		if got := p.eval(`Array.from(document.querySelectorAll("#resolution option"), o => o.value).join(" ")`); got != "1K" {
			t.Errorf("ChatGPT resolutions = %v; want 1K", got)
		}
		if got := p.eval(`Array.from(document.querySelectorAll("#aspect_ratio option"), o => o.value).join(" ")`); got != "1:1 2:3 3:2" {
			t.Errorf("ChatGPT aspect ratios = %v; want 1:1 2:3 3:2", got)
		}
		// 3 images kept, 1K: 3 × 45 + 2.5 = 137.5.
		p.waitEqual("#create", "Create · 137.5 credits")
	})

	t.Run("UpscaleFile", func(t *testing.T) {
		p := *admin
		p.t = t
		p.open("/?model=topaz")
		p.do(chromedp.WaitVisible(chromedp.CSS("#upscale-settings")))
		p.choose("#scale", "2")
		p.do(chromedp.SetUploadFiles(chromedp.CSS("#input_image"), []string{writePNG(t, 1920, 1080)}))
		// The page's example: 1920×1080 at 2× with Topaz ≈ 41 credits.
		p.waitEqual("#create", "Create · 41 credits")
		p.waitEqual("#input-size", "1920×1080 px, read from the file")
		p.choose("#scale", "4") // 20 × 2.0736 × 3 = 124.416 → 124
		p.waitEqual("#create", "Create · 124 credits")
		p.shot("upscale")
	})

	var before credit.Credits
	t.Run("GenerationDelivered", func(t *testing.T) {
		p := *admin
		p.t = t
		p.open("/?model=nano-banana-2&resolution=2K&images=3&prompt_enhancer=on")
		p.waitEqual("#create", "Create · 223 credits")
		p.do(chromedp.SendKeys(chromedp.CSS("#account"), "studio_a"))
		p.click("#account-use")
		before = credits(t, p.waitEqual("#bal-available", "1,000"))
		if got := credits(t, p.text("#bal-available")); got != credit.Whole(granted) {
			t.Errorf("balance = %v; want the grant, %v", got, granted)
		}
		p.waitEqual("#bal-held", "0")
		// 1000 / 223 = 4 whole generations (4 × 223 = 892).
		p.waitEqual("#bal-buys", "4 generations")
		p.click("#create")
		p.waitContains("#gen-list .gen", "held", "223 credits held")
		p.waitEqual("#bal-held", "223")
		p.waitEqual("#bal-available", "777")
		p.shot("held")
		p.click(`#gen-list .gen [data-action="complete"]`)
		p.waitContains("#gen-list .gen", "delivered", "Charged 223 of 223 held")
		p.waitEqual("#bal-held", "0")
		after := credits(t, p.waitEqual("#bal-available", "777"))
		if drop := before - after; drop != credit.Whole(total) {
			t.Errorf("balance dropped by %v; want exactly the total shown, %v", drop, total)
		}
		p.waitEqual("#bal-buys", "3 generations") // 777 / 223
		p.shot("delivered")
	})

	t.Run("GenerationFailed", func(t *testing.T) {
		p := *admin
		p.t = t
		p.waitEqual("#create", "Create · 223 credits")
		p.click("#create")
		p.waitContains("#gen-list .gen", "held")
		p.waitEqual("#bal-available", "554") // 777 − 223
		p.waitEqual("#bal-held", "223")
		p.click(`#gen-list .gen [data-action="fail"]`)
		p.waitContains("#gen-list .gen", "failed", "returned")
		p.waitEqual("#bal-held", "0")
		p.waitEqual("#bal-available", "777") // the hold came back whole
		// The ledger agrees with what the console shows.
		a, err := s.Ledger.Account(context.Background(), "studio_a")
		if err != nil {
			t.Fatal(err)
		}
		if a.Available != credit.Whole(777) || a.Held != 0 {
			t.Errorf("ledger: available %v, held %v; want 777, 0", a.Available, a.Held)
		}
	})

	t.Run("AccountPage", func(t *testing.T) {
		p := *admin
		p.t = t
		downloads := t.TempDir()
		if _, err := chromedp.CallBrowser(p.ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
			Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads,
		}); err != nil {
			t.Fatal(err)
		}
		p.open("/accounts/studio_a")
		p.waitEqual("#a-available", "777")
		p.waitEqual("#a-held", "0")
		p.waitContains("#grants tbody", "subscription", "1,000", "777", "never", "monthly plan")
		p.waitContains("#holds tbody", "No open holds")
		// Newest first: release, hold, capture, hold, grant.
		hist := p.waitContains("#entries tbody", "Release", "Charge", "Hold", "Grant", "Nano Banana 2", "-223", "+1,000")
		if i, j := strings.Index(hist, "Release"), strings.Index(hist, "Grant"); i > j {
			t.Errorf("history is not newest first:\n%s", hist)
		}
		// Usage: one charge of 223 on Nano Banana 2 today.
		p.waitContains("#usage-table tbody", "Nano Banana 2", "223")
		p.waitCount(`#usage-chart svg rect[data-model="nano-banana-2"]`, 1)
		today := time.Now().UTC().Format("2006-01-02")
		if got := p.eval(`(() => { const t = document.querySelector('#usage-chart svg rect[data-model="nano-banana-2"] title'); return t ? t.textContent : ""; })()`); got != today+" · Nano Banana 2: 223 credits (1 charge)" {
			t.Errorf("usage bar title = %v", got)
		}
		p.shot("account")

		p.click("#csv-entries")
		path := filepath.Join(downloads, "tally-studio_a-history.csv")
		var csv []byte
		for deadline := time.Now().Add(8 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
				csv = b
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no download at %s", path)
			}
		}
		lines := strings.Split(strings.TrimSpace(string(csv)), "\r\n")
		if len(lines) != 6 || !strings.HasPrefix(lines[0], "id,time,kind,") {
			t.Errorf("history CSV has %d lines; want a header and 5 entries:\n%s", len(lines), csv)
		}
		if !strings.Contains(string(csv), ",capture,") || !strings.Contains(string(csv), ",-223,") {
			t.Errorf("history CSV lacks the charge of 223:\n%s", csv)
		}
	})

	t.Run("CatalogDiff", func(t *testing.T) {
		p := *admin
		p.t = t
		p.open("/catalog")
		p.waitContains("#versions", "2026-11-24.test", "in use", "2026-11-01.old", "superseded")
		diff := p.waitContains("#diff-table", "Price up", "nano-banana-2", "4K", "90 → 98", "+8", "Price down", "flux-dev", "6 → 5", "-1", "Model added", "topaz")
		if strings.Contains(diff, "Model removed") {
			t.Errorf("diff reports a removed model:\n%s", diff)
		}
		p.waitContains("#diff-summary", "1 price up", "1 price down", "1 model added")
		// Reversed: the price goes down and Topaz is removed.
		p.choose("#from", "2026-11-24.test")
		p.choose("#to", "2026-11-01.old")
		p.click(`#diff-form button[type="submit"]`)
		p.waitContains("#diff-table", "Model removed", "topaz", "98 → 90")
		p.shot("catalog")
	})

	t.Run("AccountKeyIsolation", func(t *testing.T) {
		p := b.tab("account-key", 1280, 900)
		p.t = t
		p.base = s.URL
		p.login(s.AccountKey, "/accounts")
		// Signed in with studio_b's key, /accounts leads to studio_b:
		// 50 + 24 × 1 = 74 credits.
		p.waitEqual("#a-available", "74")
		// Its history pages by 20: 25 entries are 20, then 5.
		p.waitEqual("#page-label", "Page 1")
		p.waitCount("#entries tbody tr", 20)
		p.click("#page-older")
		p.waitEqual("#page-label", "Page 2")
		p.waitCount("#entries tbody tr", 5)
		p.waitContains("#entries tbody", "+50") // the oldest: the first grant
		if d := p.eval(`document.getElementById("page-older").disabled`); d != true {
			t.Error("Older is offered on the last page")
		}
		p.click("#page-newer")
		p.waitEqual("#page-label", "Page 1")
		p.waitContains("#entries tbody tr:first-child", "+1")
		p.open("/accounts/studio_a")
		p.waitContains("#account-msg", "This key reads account studio_b only")
		if hidden := p.eval(`document.getElementById("account-body").hidden`); hidden != true {
			t.Error("studio_a's account body is shown to studio_b's key")
		}
		if got := p.text("#a-available"); got != "–" {
			t.Errorf("studio_a's balance shows %q to studio_b's key", got)
		}
		p.open("/?model=flux-dev")
		p.waitEqual("#bal-available", "74")
		if ro := p.eval(`document.getElementById("account").readOnly && document.getElementById("account").value`); ro != "studio_b" {
			t.Errorf("account field = %v; want studio_b, read-only", ro)
		}
		if d := p.eval(`document.getElementById("create").getAttribute("aria-disabled")`); d != "true" {
			t.Errorf("Create is offered to a read-only key (aria-disabled %v)", d)
		}
		p.click("#create")
		p.waitContains("#create-msg", "reads only")
		// 74 / 5 (Flux Dev) = 14 whole generations.
		p.waitEqual("#bal-buys", "14 generations")
		b.mu.Lock()
		defer b.mu.Unlock()
		for _, r := range b.requests {
			if strings.HasPrefix(r, "account-key ") && strings.Contains(r, "studio_a") && strings.Contains(r, "/v1/") {
				t.Errorf("the console asked the API about studio_a with studio_b's key: %s", r)
			}
		}
	})

	t.Run("Narrow", func(t *testing.T) {
		p := b.tab("mobile", 375, 800)
		p.t = t
		p.base = s.URL
		p.login(browserAdminKey, "/accounts/studio_a")
		for _, path := range []string{"/", "/?model=topaz", "/pricing", "/catalog", "/accounts/studio_a", "/login"} {
			p.open(path)
			if path == "/accounts/studio_a" {
				p.waitEqual("#a-available", "777")
				p.waitContains("#usage-table tbody", "Nano Banana 2")
			}
			if path == "/catalog" {
				p.waitContains("#diff-table", "Price up")
			}
			w := p.eval(`document.documentElement.scrollWidth`)
			if w, _ := w.(float64); w > 375 {
				t.Errorf("%s at 375 px: scrollWidth = %v; want no horizontal scroll", path, w)
			}
			name := strings.Trim(strings.NewReplacer("/", "-", "?", "-", "=", "-").Replace(path), "-")
			if name == "" {
				name = "image"
			}
			p.shot(name)
		}
		// A tooltip opened by focus stays inside the narrow viewport.
		p.open("/")
		p.do(chromedp.Focus(chromedp.CSS(`[id="m-imagineart-1.5-pro"]`)))
		p.do(chromedp.WaitVisible(chromedp.CSS(`[id="tip-imagineart-1.5-pro"]`)))
		box, _ := p.eval(`(() => { const r = document.getElementById("tip-imagineart-1.5-pro").getBoundingClientRect(); return [r.left, r.right]; })()`).([]any)
		if len(box) != 2 || box[0].(float64) < 0 || box[1].(float64) > 375 {
			t.Errorf("tooltip at 375 px spans %v; want it inside the viewport", box)
		}
		p.shotView("tooltip")
	})

	t.Run("Desktop", func(t *testing.T) {
		p := *admin
		p.t = t
		for _, path := range []string{"/", "/pricing"} {
			p.open(path)
			if w, _ := p.eval(`document.documentElement.scrollWidth`).(float64); w > 1280 {
				t.Errorf("%s at 1280 px: scrollWidth = %v", path, w)
			}
			p.shot(strings.Trim(strings.ReplaceAll(path, "/", "-"), "-") + "page")
		}
	})

	b.mu.Lock()
	if raw, err := json.Marshal(len(b.requests)); err == nil {
		t.Logf("the browser made %s requests", raw)
	}
	b.mu.Unlock()
}
