package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
)

// run runs the CLI in-process and returns its exit code and output.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = Main{Stdout: &out, Stderr: &errOut}.Run(context.Background(), args)
	return code, out.String(), errOut.String()
}

func TestQuoteHuman(t *testing.T) {
	code, out, errOut := run(t, "quote", "--model", "Nano Banana 2", "--resolution", "2K", "--images", "2")
	if code != 0 {
		t.Fatalf("exit %d; stderr %s", code, errOut)
	}
	// 2 × 73.5 (the page's 2K price) = 147.
	for _, want := range []string{"Nano Banana 2 · 2K", "2 × 73.5 = 147", "147 credits", "2048×2048"} {
		if !strings.Contains(out, want) {
			t.Errorf("quote output lacks %q:\n%s", want, out)
		}
	}
}

func TestQuoteJSONPageExamples(t *testing.T) {
	tests := []struct {
		args  []string
		total string
	}{
		{[]string{"--model", "topaz", "--scale", "2", "--input", "1920x1080"}, "41"},           // the page's example
		{[]string{"--model", "nano-banana-2", "--resolution", "2K"}, "73.5"},                   // the page's 2K price
		{[]string{"--model", "Magnific Precision v2", "--scale", "16"}, "1040"},                // 16×: 1040
		{[]string{"--model", "nano-banana-pro", "--resolution", "4K", "--images", "3"}, "480"}, // 3 × 160
	}
	for _, tt := range tests {
		code, out, errOut := run(t, append([]string{"quote", "--json"}, tt.args...)...)
		if code != 0 {
			t.Fatalf("quote %v: exit %d; stderr %s", tt.args, code, errOut)
		}
		var q struct {
			Total credit.Credits `json:"total_credits"`
		}
		if err := json.Unmarshal([]byte(out), &q); err != nil {
			t.Fatalf("quote %v: %v\n%s", tt.args, err, out)
		}
		if q.Total != cr(tt.total) {
			t.Errorf("quote %v total = %v; want %v", tt.args, q.Total, tt.total)
		}
	}
}

func TestQuoteInputFile(t *testing.T) {
	// A real PNG header for 1920×1080 (IHDR only is enough: the size is read
	// from the header). Topaz 2×: 20 × 2.0736 × 1 = 41.472 → 41.
	path := filepath.Join(t.TempDir(), "in.png")
	writePNGHeader(t, path, 1920, 1080)
	code, out, errOut := run(t, "quote", "--model", "topaz", "--scale", "2", "--input-file", path, "--json")
	if code != 0 {
		t.Fatalf("exit %d; stderr %s", code, errOut)
	}
	if !strings.Contains(out, `"total_credits": 41,`) || !strings.Contains(out, `"input_width": 1920`) {
		t.Errorf("quote from file = %s; want 41 credits for 1920×1080", out)
	}
	code, _, errOut = run(t, "quote", "--model", "topaz", "--scale", "2", "--input-file", path, "--input", "100x100")
	if code != exitInvalid || !strings.Contains(errOut, "disagree") {
		t.Errorf("file and disagreeing --input: exit %d, stderr %q; want %d and a disagreement", code, errOut, exitInvalid)
	}
}

func TestQuoteBadInput(t *testing.T) {
	tests := []struct {
		name string
		args []string
		code string
	}{
		{"UnknownModel", []string{"--model", "nano-banana-9"}, "unknown_model"},
		{"MissingModel", []string{}, "missing_model"},
		{"AspectRatio", []string{"--model", "chatgpt", "--aspect", "16:9"}, "unsupported_aspect_ratio"},
		{"Resolution", []string{"--model", "nano-banana-2", "--resolution", "3K"}, "unsupported_resolution"},
		{"UnpublishedCap", []string{"--model", "recraft-v4", "--resolution", "2K"}, "unsupported_resolution"},
		{"Images", []string{"--model", "flux-dev", "--images", "5"}, "invalid_image_count"},
		{"ZeroImages", []string{"--model", "flux-dev", "--images", "0"}, "invalid_image_count"},
		{"Scale", []string{"--model", "topaz", "--scale", "8", "--input", "10x10"}, "unsupported_scale"},
		{"NoInput", []string{"--model", "topaz", "--scale", "2"}, "invalid_input_size"},
		{"AbsurdInput", []string{"--model", "topaz", "--scale", "2", "--input", "99999x99999"}, "invalid_input_size"},
		{"BadInputSyntax", []string{"--model", "topaz", "--scale", "2", "--input", "big"}, "invalid_input_size"},
		{"Operation", []string{"--model", "topaz", "--op", "edit", "--scale", "2", "--input", "10x10"}, "unsupported_operation"},
		{"MissingFile", []string{"--model", "topaz", "--scale", "2", "--input-file", "/nonexistent.png"}, "invalid_input_image"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := run(t, append([]string{"quote"}, tt.args...)...)
			if code != exitInvalid {
				t.Errorf("exit = %d; want %d", code, exitInvalid)
			}
			if lines := strings.Count(strings.TrimSpace(errOut), "\n") + 1; lines != 1 || !strings.HasPrefix(errOut, "tally: ") {
				t.Errorf("stderr = %q; want one line starting \"tally: \"", errOut)
			}
			if out != "" {
				t.Errorf("stdout = %q; want nothing", out)
			}
			code, out, _ = run(t, append([]string{"quote", "--json"}, tt.args...)...)
			var p struct {
				Status int    `json:"status"`
				Code   string `json:"code"`
			}
			if err := json.Unmarshal([]byte(out), &p); err != nil {
				t.Fatalf("--json stdout is not a problem: %v\n%s", err, out)
			}
			if code != exitInvalid || p.Code != tt.code || p.Status < 400 || p.Status > 499 {
				t.Errorf("--json: exit %d, problem %+v; want exit %d, code %s, a 4xx status", code, p, exitInvalid, tt.code)
			}
		})
	}
	if code, _, errOut := run(t, "quote", "--bogus-flag"); code != exitInvalid || !strings.Contains(errOut, "bogus-flag") {
		t.Errorf("unknown flag: exit %d stderr %q; want %d naming the flag", code, errOut, exitInvalid)
	}
	if code, _, _ := run(t, "no-such-command"); code != exitInvalid {
		t.Errorf("unknown command: exit %d; want %d", code, exitInvalid)
	}
}

func TestCatalogValidate(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	if err := os.WriteFile(good, catalog.DefaultYAML(), 0o600); err != nil {
		t.Fatal(err)
	}
	if code, out, errOut := run(t, "catalog", "validate", good); code != 0 || !strings.Contains(out, "29 models") {
		t.Errorf("validate default: exit %d, stdout %q, stderr %q; want 0 and 29 models", code, out, errOut)
	}
	bad := filepath.Join(dir, "bad.yaml")
	// Three mistakes: max_images 0, an unknown rule, an aspect ratio written 16x9.
	writeFile(t, bad, `version: "v1"
effective_at: "2026-01-01T00:00:00Z"
max_images: 0
models:
  - name: A
    kind: image
    resolution: up to 1K
    price: {per_img: 5}
    aspect_ratios: ["1:1"]
  - name: B
    kind: image
    resolution: up to 1K
    price: {per_image: 5}
    aspect_ratios: ["16x9"]
`)
	code, _, errOut := run(t, "catalog", "validate", bad)
	if code != exitInvalid {
		t.Errorf("validate bad: exit %d; want %d", code, exitInvalid)
	}
	lines := strings.Split(strings.TrimSpace(errOut), "\n")
	if len(lines) != 3 {
		t.Fatalf("validate bad printed %d lines; want 3:\n%s", len(lines), errOut)
	}
	for i, want := range []string{"line 3 ", "line 8 ", "line 14 "} {
		if !strings.Contains(lines[i], want) {
			t.Errorf("line %d = %q; want it to name %q", i, lines[i], want)
		}
	}
	if code, _, _ := run(t, "catalog", "validate", filepath.Join(dir, "missing.yaml")); code != exitInvalid {
		t.Errorf("validate missing file: exit %d; want %d", code, exitInvalid)
	}
}

func TestCatalogShow(t *testing.T) {
	code, out, _ := run(t, "catalog", "show")
	if code != 0 {
		t.Fatalf("exit %d", code)
	}
	// Cells typed from the page.
	for _, want := range []string{
		"49 (1K), 73.5 (2K), 98 (4K)", "80 (1K/2K), 160 (4K)", "Shown in Image mode tooltip",
		"Personalize Ultra", "Style Reference", "2× = base cost × megapixels × 1", "16×: 1040",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("catalog show lacks %q", want)
		}
	}
	code, out, _ = run(t, "catalog", "show", "--json")
	var c struct {
		Models []json.RawMessage `json:"models"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &c) != nil || len(c.Models) != 29 {
		t.Errorf("catalog show --json: exit %d, %d models; want 0 and 29", code, len(c.Models))
	}
}

func TestCatalogDiff(t *testing.T) {
	dir := t.TempDir()
	old, new := filepath.Join(dir, "old.yaml"), filepath.Join(dir, "new.yaml")
	if err := os.WriteFile(old, catalog.DefaultYAML(), 0o600); err != nil {
		t.Fatal(err)
	}
	text := string(catalog.DefaultYAML())
	text = strings.Replace(text, `version: "2026-11-24.seed"`, `version: "2026-12-01"`, 1)
	text = strings.Replace(text, "{1K: 49, 2K: 73.5, 4K: 98}", "{1K: 49, 2K: 80, 4K: 98}", 1)
	text = strings.Replace(text, "  - name: Flux Dev\n    kind: image\n    price: {per_image: 5}\n    resolution: up to 1K\n    aspect_ratios: [\"1:1\", \"3:4\", \"2:3\", \"3:2\", \"5:4\", \"9:16\", \"16:9\"]\n", "", 1)
	text = strings.Replace(text, "price: {per_image: 150}", "price: {per_image: 120}", 1)
	writeFile(t, new, text)
	code, out, errOut := run(t, "catalog", "diff", old, new, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var d struct {
		Changes []catalog.Change `json:"changes"`
	}
	if err := json.Unmarshal([]byte(out), &d); err != nil {
		t.Fatal(err)
	}
	want := []catalog.Change{
		{Kind: catalog.PriceUp, Model: "nano-banana-2", What: "2K", Old: "73.5", New: "80", Delta: 6500},
		{Kind: catalog.PriceDown, Model: "recraft-v4-pro", What: "1K", Old: "150", New: "120", Delta: -30000},
		{Kind: catalog.ModelRemoved, Model: "flux-dev", Old: "Flux Dev"},
	}
	if !reflect.DeepEqual(d.Changes, want) {
		t.Errorf("diff = %+v;\nwant %+v", d.Changes, want)
	}
}

// server is a `tally serve` running in-process on a free port.
type server struct {
	base string
	log  *syncBuffer
	stop func() int // cancels the context, as SIGTERM does, and returns the exit code
}

// startServe runs `tally serve --addr 127.0.0.1:0 args…` and waits for its address.
func startServe(t *testing.T, args ...string) *server {
	t.Helper()
	pr, pw := io.Pipe()
	db := filepath.Join(t.TempDir(), "tally.db")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		done <- Main{Stdout: io.Discard, Stderr: pw}.Run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0", "--db", db}, args...))
		pw.Close()
	}()
	s := &server{log: &syncBuffer{}}
	addrRE := regexp.MustCompile(`addr=(http://127\.0\.0\.1:\d+)`)
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		s.log.Write([]byte(sc.Text() + "\n"))
		if m := addrRE.FindStringSubmatch(sc.Text()); m != nil {
			s.base = m[1]
			break
		}
	}
	go io.Copy(s.log, pr)
	if s.base == "" {
		cancel()
		t.Fatalf("serve never logged its address:\n%s", s.log.String())
	}
	s.stop = func() int {
		cancel()
		select {
		case code := <-done:
			return code
		case <-time.After(20 * time.Second):
			t.Fatal("serve did not shut down")
			return -1
		}
	}
	return s
}

// quoteTotal asks the server for a quote and returns its total.
func (s *server) quoteTotal(t *testing.T, body string) credit.Credits {
	t.Helper()
	resp, err := http.Post(s.base+"/v1/quotes", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var q struct {
		Total credit.Credits `json:"total_credits"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&q); err != nil || resp.StatusCode != 200 {
		t.Fatalf("POST /v1/quotes %s = %d, %v", body, resp.StatusCode, err)
	}
	return q.Total
}

// TestServe starts `tally serve`, asks it for a quote, and stops it the way
// SIGTERM does.
func TestServe(t *testing.T) {
	s := startServe(t)
	if got := s.quoteTotal(t, `{"model":"Nano Banana 2","resolution":"4K"}`); got != cr("98") {
		t.Errorf("Nano Banana 2 4K total = %v; want 98 (the page's 4K price)", got)
	}
	if code := s.stop(); code != 0 {
		t.Errorf("serve exited %d after shutdown; want 0", code)
	}
	if !strings.Contains(s.log.String(), "tally stopped") {
		t.Errorf("serve did not log a clean stop:\n%s", s.log.String())
	}
}

// TestServeReloadsCatalogOnHangup changes the catalog file and sends SIGHUP:
// the new prices apply; a broken file is refused and the old prices stay.
func TestServeReloadsCatalogOnHangup(t *testing.T) {
	path := filepath.Join(t.TempDir(), "catalog.yaml")
	writeFile(t, path, string(catalog.DefaultYAML()))
	s := startServe(t, "--catalog", path)
	defer s.stop()
	const fluxDev = `{"model":"flux-dev"}`
	if got := s.quoteTotal(t, fluxDev); got != cr("5") {
		t.Fatalf("Flux Dev = %v; want 5 (the page)", got)
	}
	changed := strings.Replace(string(catalog.DefaultYAML()), "  - name: Flux Dev\n    kind: image\n    price: {per_image: 5}", "  - name: Flux Dev\n    kind: image\n    price: {per_image: 6}", 1)
	writeFile(t, path, strings.Replace(changed, `version: "2026-11-24.seed"`, `version: "v2"`, 1))
	hangup(t)
	waitFor(t, func() bool { return s.quoteTotal(t, fluxDev) == cr("6") }, "the reloaded price 6")

	writeFile(t, path, "version: [broken\n")
	hangup(t)
	waitFor(t, func() bool { return strings.Contains(s.log.String(), "catalog reload refused") }, "the refusal in the log")
	if got := s.quoteTotal(t, fluxDev); got != cr("6") {
		t.Errorf("after a broken reload Flux Dev = %v; want 6 (the running catalog stays)", got)
	}
}

func hangup(t *testing.T) {
	t.Helper()
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// syncBuffer is a bytes.Buffer safe for one writer and concurrent readers.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestQuoteCheapest(t *testing.T) {
	code, out, errOut := run(t, "quote", "--cheapest", "--resolution", "2K", "--aspect", "16:9", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	var qs struct {
		Quotes []struct {
			Model string         `json:"model"`
			Total credit.Credits `json:"total_credits"`
		} `json:"quotes"`
	}
	if err := json.Unmarshal([]byte(out), &qs); err != nil {
		t.Fatal(err)
	}
	// From the page: the models offering 2K and 16:9, by their per-image price.
	want := []string{"imagineart-1.5", "dreamina-3.1", "seedream-v4", "seedream-v5-lite", "seedream-v4.5",
		"imagineart-1.5-pro", "flux-2-pro", "flux-1.1-ultra", "nano-banana-2", "nano-banana-pro"}
	wantTotals := []string{"15", "18", "18", "20", "24", "25", "28", "36", "73.5", "80"}
	if len(qs.Quotes) != len(want) {
		t.Fatalf("cheapest 2K 16:9 gave %d models; want %d: %s", len(qs.Quotes), len(want), out)
	}
	for i, q := range qs.Quotes {
		if q.Model != want[i] || q.Total != cr(wantTotals[i]) {
			t.Errorf("cheapest[%d] = %s %v; want %s %v", i, q.Model, q.Total, want[i], wantTotals[i])
		}
	}
	if code, _, _ := run(t, "quote", "--cheapest", "--kind", "video"); code != exitInvalid {
		t.Errorf("--kind video: exit %d; want %d", code, exitInvalid)
	}
}

// cr reads an amount typed from the page ("73.5").
func cr(s string) credit.Credits {
	c, err := credit.ParseCredits(s)
	if err != nil {
		panic(err)
	}
	return c
}

// TestServeRefusesBadFlags: a refused serve command line exits with the
// invalid-input code and one line, and opens nothing: no database file.
func TestServeRefusesBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"--rate-key", "-1"},
		{"--rate-ip", "-5"},
		{"--idempotency-retention", "-1h"},
	} {
		db := filepath.Join(t.TempDir(), "tally.db")
		code, _, stderr := run(t, append([]string{"serve", "--addr", "127.0.0.1:0", "--db", db}, args...)...)
		if code != exitInvalid || !strings.HasPrefix(stderr, "tally: ") || strings.Count(strings.TrimSpace(stderr), "\n") != 0 {
			t.Errorf("tally serve %s: exit %d, stderr %q; want exit %d and one line", strings.Join(args, " "), code, stderr, exitInvalid)
		}
		if _, err := os.Stat(db); !os.IsNotExist(err) {
			t.Errorf("tally serve %s left %s behind (%v); want nothing opened", strings.Join(args, " "), db, err)
		}
	}
}
