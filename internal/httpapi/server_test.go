package httpapi_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/httpapi"
)

// Expected values below are typed from the seed page
// (../shared/seeds/000_269dcb4ae9c79468.txt) or worked out by hand, never taken
// from the code under test.

// pageModels lists every row of the seed page in page order: the id (SPEC §1
// slug rule), the kind, and the base cost the page prints.
var pageModels = []struct {
	id, name, kind, base string
}{
	{"nano-banana-2", "Nano Banana 2", "image", "49"},
	{"imagineart-1.5", "ImagineArt 1.5", "image", "15"},
	{"imagineart-1.5-pro", "ImagineArt 1.5 Pro", "image", "25"},
	{"nano-banana-pro", "Nano Banana Pro", "image", "80"},
	{"chatgpt-1.5", "ChatGPT 1.5", "image", "35"},
	{"seedream-v5-lite", "Seedream v5 Lite", "image", "20"},
	{"recraft-v4", "Recraft v4", "image", "24"},
	{"recraft-v4-pro", "Recraft v4 Pro", "image", "150"},
	{"xai-grok-imagine", "xAI Grok Imagine", "image", "12"},
	{"flux-2-max", "Flux 2 Max", "image", "50"},
	{"flux-2-pro", "Flux 2 Pro", "image", "28"},
	{"z-image-turbo", "Z Image Turbo", "image", "5"},
	{"seedream-v4.5", "Seedream v4.5", "image", "24"},
	{"flux-1.1-ultra", "Flux 1.1 Ultra", "image", "36"},
	{"chatgpt", "ChatGPT", "image", "45"},
	{"nano-banana", "Nano Banana", "image", "24"},
	{"imagen-4", "Imagen-4", "image", "24"},
	{"dreamina-3.1", "Dreamina 3.1", "image", "18"},
	{"ideogram-v3", "Ideogram v3", "image", "25"},
	{"flux-dev", "Flux Dev", "image", "5"},
	{"qwen-image", "Qwen Image", "image", "24"},
	{"minimax-image", "Minimax Image", "image", "6"},
	{"seedream-v4", "Seedream v4", "image", "18"},
	{"personalize-core", "Personalize Core", "personalize", "24"},
	{"personalize-max", "Personalize Max", "personalize", "24"},
	{"personalize-ultra", "Personalize Ultra", "personalize", "24"},
	{"style-reference", "Style Reference", "style_reference", "24"},
	{"topaz", "Topaz", "upscale", "20"},
	{"magnific-precision-v2", "Magnific Precision v2", "upscale", "65"},
}

func pageIDs() []string {
	ids := make([]string, len(pageModels))
	for i, m := range pageModels {
		ids[i] = m.id
	}
	return ids
}

// Aspect ratio lists as the page prints them, in page order.
var (
	nanoBanana2Ratios = []string{"1:1", "4:3", "3:4", "3:2", "2:3", "5:4", "4:5", "9:16", "16:9", "21:9"}
	fluxDevRatios     = []string{"1:1", "3:4", "2:3", "3:2", "5:4", "9:16", "16:9"}
	chatGPTRatios     = []string{"1:1", "2:3", "3:2"}
	personalizeUltra  = []string{"1:1", "3:4", "4:3", "9:16", "16:9"}
)

// MustServer starts the API with the built-in catalog on a real loopback listener.
func MustServer(tb testing.TB) (*httpapi.Server, *httptest.Server) {
	tb.Helper()
	s := httpapi.New(catalog.Default(), "test", nil)
	ts := httptest.NewServer(s)
	tb.Cleanup(ts.Close)
	return s, ts
}

// response is one HTTP answer, its body read whole.
type response struct {
	status int
	header http.Header
	body   []byte
}

func do(tb testing.TB, client *http.Client, method, url, contentType string, body io.Reader) response {
	tb.Helper()
	req, err := http.NewRequest(method, url, body)
	if err != nil {
		tb.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := client.Do(req)
	if err != nil {
		tb.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		tb.Fatalf("%s %s: reading body: %v", method, url, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: b}
}

func postQuote(tb testing.TB, ts *httptest.Server, body string) response {
	tb.Helper()
	return do(tb, ts.Client(), http.MethodPost, ts.URL+"/v1/quotes", "application/json", strings.NewReader(body))
}

func get(tb testing.TB, ts *httptest.Server, path string) response {
	tb.Helper()
	return do(tb, ts.Client(), http.MethodGet, ts.URL+path, "", nil)
}

// object decodes a JSON object keeping numbers as their text, so that 73.5 is
// checked as the JSON the client sees.
func object(tb testing.TB, b []byte) map[string]any {
	tb.Helper()
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var m map[string]any
	if err := d.Decode(&m); err != nil {
		tb.Fatalf("body is not a JSON object: %v\n%s", err, truncate(b))
	}
	return m
}

func truncate(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "…"
	}
	return string(b)
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// num returns the text of a JSON number, failing if v is not one.
func num(tb testing.TB, v any, what string) string {
	tb.Helper()
	n, ok := v.(json.Number)
	if !ok {
		tb.Fatalf("%s = %#v (%T); want a JSON number", what, v, v)
	}
	return n.String()
}

func str(tb testing.TB, v any, what string) string {
	tb.Helper()
	s, ok := v.(string)
	if !ok {
		tb.Fatalf("%s = %#v (%T); want a JSON string", what, v, v)
	}
	return s
}

func strs(tb testing.TB, v any, what string) []string {
	tb.Helper()
	a, ok := v.([]any)
	if !ok {
		tb.Fatalf("%s = %#v (%T); want a JSON array", what, v, v)
	}
	out := make([]string, len(a))
	for i, e := range a {
		out[i] = str(tb, e, fmt.Sprintf("%s[%d]", what, i))
	}
	return out
}

func objects(tb testing.TB, v any, what string) []map[string]any {
	tb.Helper()
	a, ok := v.([]any)
	if !ok {
		tb.Fatalf("%s = %#v (%T); want a JSON array", what, v, v)
	}
	out := make([]map[string]any, len(a))
	for i, e := range a {
		m, ok := e.(map[string]any)
		if !ok {
			tb.Fatalf("%s[%d] = %#v (%T); want a JSON object", what, i, e, e)
		}
		out[i] = m
	}
	return out
}

func mediaType(h http.Header) string {
	mt, _, err := mime.ParseMediaType(h.Get("Content-Type"))
	if err != nil {
		return h.Get("Content-Type")
	}
	return mt
}

// wantOK fails unless r is a 200 with a JSON body, and returns the body.
func wantOK(tb testing.TB, r response) map[string]any {
	tb.Helper()
	if r.status != http.StatusOK {
		tb.Fatalf("status = %d; want 200\n%s", r.status, truncate(r.body))
	}
	if got := mediaType(r.header); got != "application/json" {
		tb.Errorf("Content-Type = %q; want application/json", got)
	}
	return object(tb, r.body)
}

// wantProblem fails unless r is an RFC 9457 problem with this status and code
// (any non-empty code when code is ""), and returns it.
func wantProblem(tb testing.TB, r response, status int, code string) map[string]any {
	tb.Helper()
	if r.status < 400 {
		tb.Fatalf("status = %d; want %d\n%s", r.status, status, truncate(r.body))
	}
	if r.status >= 500 {
		tb.Errorf("status = %d; want %d (bad input is never a 5xx)", r.status, status)
	}
	if r.status != status {
		tb.Errorf("status = %d; want %d\n%s", r.status, status, truncate(r.body))
	}
	if got := mediaType(r.header); got != "application/problem+json" {
		tb.Errorf("Content-Type = %q; want application/problem+json", got)
	}
	p := object(tb, r.body)
	if got, _ := p["code"].(string); code == "" && got == "" {
		tb.Errorf("code = %#v; want a non-empty code (detail %q)", p["code"], p["detail"])
	} else if code != "" && got != code {
		tb.Errorf("code = %#v; want %q (detail %q)", p["code"], code, p["detail"])
	}
	if got := p["type"]; got != "about:blank" {
		tb.Errorf("type = %#v; want %q", got, "about:blank")
	}
	if got, want := p["title"], http.StatusText(r.status); got != want {
		tb.Errorf("title = %#v; want %q", got, want)
	}
	if got, ok := p["status"].(json.Number); !ok || got.String() != fmt.Sprint(r.status) {
		tb.Errorf("problem status = %#v; want %d, the HTTP status", p["status"], r.status)
	}
	if d, _ := p["detail"].(string); strings.TrimSpace(d) == "" {
		tb.Errorf("detail = %#v; want a non-empty sentence", p["detail"])
	}
	if id := r.header.Get(httpapi.RequestIDHeader); id == "" || p["request_id"] != id {
		tb.Errorf("request_id = %#v; want the X-Request-Id header %q", p["request_id"], id)
	}
	return p
}

// pngBase64 returns a real PNG of w×h pixels, base64-encoded.
func pngBase64(tb testing.TB, w, h int) string {
	tb.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		tb.Fatal(err)
	}
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

func TestHealth(t *testing.T) {
	_, ts := MustServer(t)
	for _, path := range []string{"/healthz", "/readyz"} {
		t.Run(path, func(t *testing.T) {
			wantOK(t, get(t, ts, path))
		})
	}
	t.Run("NoSuchRoute", func(t *testing.T) {
		wantProblem(t, get(t, ts, "/no/such/route"), http.StatusNotFound, "not_found")
	})
}

// jsonNames returns the JSON names of a struct's fields, from their tags.
func jsonNames(typ reflect.Type) []string {
	var out []string
	for f := range typ.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// resolve follows a local $ref ("#/components/schemas/X") in the document.
func resolve(tb testing.TB, doc, schema map[string]any) map[string]any {
	tb.Helper()
	ref, ok := schema["$ref"].(string)
	if !ok {
		return schema
	}
	name, ok := strings.CutPrefix(ref, "#/components/schemas/")
	if !ok {
		tb.Fatalf("$ref = %q; want #/components/schemas/…", ref)
	}
	comps, _ := doc["components"].(map[string]any)
	schemas, _ := comps["schemas"].(map[string]any)
	s, ok := schemas[name].(map[string]any)
	if !ok {
		tb.Fatalf("$ref %q resolves to nothing", ref)
	}
	return s
}

// at walks a path of object keys.
func at(tb testing.TB, v any, path ...string) map[string]any {
	tb.Helper()
	for i, k := range path {
		m, ok := v.(map[string]any)
		if !ok {
			tb.Fatalf("%s is not an object", strings.Join(path[:i], "."))
		}
		v = m[k]
	}
	m, ok := v.(map[string]any)
	if !ok {
		tb.Fatalf("%s = %#v; want an object", strings.Join(path, "."), v)
	}
	return m
}

func TestOpenAPI(t *testing.T) {
	_, ts := MustServer(t)
	r := get(t, ts, "/openapi.json")
	if r.status != http.StatusOK {
		t.Fatalf("status = %d; want 200", r.status)
	}
	var doc map[string]any
	if err := json.Unmarshal(r.body, &doc); err != nil {
		t.Fatalf("/openapi.json is not JSON: %v", err)
	}
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.1") {
		t.Errorf("openapi = %#v; want 3.1.x", doc["openapi"])
	}
	for _, op := range [][2]string{
		{"/v1/quotes", "post"}, {"/v1/models", "get"}, {"/v1/models/{id}", "get"}, {"/v1/catalog", "get"},
	} {
		at(t, doc, "paths", op[0], op[1])
	}

	t.Run("QuoteRequestSchema", func(t *testing.T) {
		post := at(t, doc, "paths", "/v1/quotes", "post")
		s := resolve(t, doc, at(t, post, "requestBody", "content", "application/json", "schema"))
		props := at(t, s, "properties")
		if got, want := keys(props), jsonNames(reflect.TypeFor[httpapi.QuoteRequest]()); !slices.Equal(got, want) {
			t.Errorf("request schema properties = %v; want the json tags of httpapi.QuoteRequest %v", got, want)
		}
		if got := s["additionalProperties"]; got != false {
			t.Errorf("request schema additionalProperties = %#v; want false", got)
		}
	})

	t.Run("QuoteSchema", func(t *testing.T) {
		post := at(t, doc, "paths", "/v1/quotes", "post")
		s := resolve(t, doc, at(t, post, "responses", "200", "content", "application/json", "schema"))
		props := at(t, s, "properties")
		if got, want := keys(props), jsonNames(reflect.TypeFor[httpapi.Quote]()); !slices.Equal(got, want) {
			t.Errorf("response schema properties = %v; want the json tags of httpapi.Quote %v", got, want)
		}
	})
}
