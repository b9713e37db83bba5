// Package console is tally's web console: Image mode (the model list, its
// tooltips, the live total on Create, and what the account's plan does with
// each model), Pricing (with the catalog's plans), Accounts (found by the
// start of their id), Account (balances by kind, plan, subscription and
// unlimited windows; a team's members and what each used of their monthly
// limit; alerts, auto top-up and webhook deliveries; its generations, its
// audit log, and the support desk's actions, each confirmed with its exact
// effect and a reason), Catalog (versions, their diff, and what a new
// version would have charged), Events (the change feed, live) and Reports
// (liability and consumption).
//
// Every page is rendered on the server from the catalog in use at the time of
// the request, so prices show without JavaScript and a newly published catalog
// shows on the next page load. The dynamic parts (balances, generations,
// history, usage, catalog diffs) are small scripts that call the JSON API with
// the key typed at login, kept in sessionStorage: the console sets no cookie,
// so it has nothing to forge a request with. Every total comes from the quote
// engine (credit.Catalog.Quote here, POST /v1/quotes from the scripts); the
// scripts only display numbers.
//
// Templates and assets are embedded. The pages load no inline script or
// style, so the Content-Security-Policy is default-src 'self'.
package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"html/template"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"

	"github.com/tally-credits/tally/internal/credit"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed assets
var assetFS embed.FS

// Config configures the console.
type Config struct {
	// Catalog returns the catalog in use; it is asked on every request.
	Catalog func() *credit.Catalog
	// Catalogs, if set, lists the published catalog versions on the Catalog
	// page, and the page offers their diff (GET /v1/catalog/diff). Without
	// it the page shows the catalog in use only.
	Catalogs credit.CatalogStore
	// Version is the build's version, shown in the footer.
	Version string
	// Log receives template and store errors; nil discards them.
	Log *slog.Logger
}

// ContentSecurityPolicy is sent with every console response. Images from
// blob: are the upscale input's preview, made in the browser from the file.
const ContentSecurityPolicy = "default-src 'self'; img-src 'self' blob:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

type console struct {
	cfg    Config
	log    *slog.Logger
	pages  map[string]*template.Template
	assets map[string]asset
	mux    *http.ServeMux
}

// asset is one embedded static file, with the hash its URLs carry.
type asset struct {
	body        []byte
	contentType string
	hash        string
}

// New returns the console's handler. It serves GET and HEAD on /, /pricing,
// /accounts, /accounts/{id}, /catalog, /events, /reports, /login and
// /assets/…; anything else is a 404 page.
func New(cfg Config) http.Handler {
	if cfg.Catalog == nil {
		panic("console: Config.Catalog is nil")
	}
	c := &console{cfg: cfg, log: cfg.Log, assets: map[string]asset{}, pages: map[string]*template.Template{}}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	err := fs.WalkDir(assetFS, "assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := assetFS.ReadFile(p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		ct := mime.TypeByExtension(path.Ext(p))
		if ct == "" {
			ct = "application/octet-stream"
		}
		c.assets[strings.TrimPrefix(p, "assets/")] = asset{body: b, contentType: ct, hash: hex.EncodeToString(sum[:6])}
		return nil
	})
	if err != nil {
		panic("console: reading embedded assets: " + err.Error())
	}
	funcs := template.FuncMap{"asset": c.assetURL}
	for _, name := range []string{"image", "pricing", "account", "accounts", "catalog", "events", "reports", "login", "notfound"} {
		c.pages[name] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html"))
	}

	c.mux = http.NewServeMux()
	c.mux.HandleFunc("GET /{$}", c.image)
	c.mux.HandleFunc("GET /pricing", c.pricing)
	c.mux.HandleFunc("GET /accounts", c.accounts)
	c.mux.HandleFunc("GET /accounts/{id}", c.account)
	c.mux.HandleFunc("GET /catalog", c.catalog)
	c.mux.HandleFunc("GET /events", c.events)
	c.mux.HandleFunc("GET /reports", c.reports)
	c.mux.HandleFunc("GET /login", c.login)
	c.mux.HandleFunc("GET /assets/{name}", c.asset)
	c.mux.HandleFunc("GET /", c.notFound)
	return c
}

// ServeHTTP serves a console request with the security headers every
// response carries.
func (c *console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Frame-Options", "DENY")
	c.mux.ServeHTTP(w, r)
}

// assetURL is the URL of an embedded asset, carrying its content hash so
// that it can be cached for good and still change with the build.
func (c *console) assetURL(name string) string {
	a, ok := c.assets[name]
	if !ok {
		panic("console: no asset " + name)
	}
	return "/assets/" + name + "?v=" + a.hash
}

func (c *console) asset(w http.ResponseWriter, r *http.Request) {
	a, ok := c.assets[r.PathValue("name")]
	if !ok {
		c.notFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.contentType)
	h.Set("ETag", `"`+a.hash+`"`)
	if r.URL.Query().Get("v") == a.hash {
		h.Set("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		h.Set("Cache-Control", "no-cache")
	}
	if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, `"`+a.hash+`"`) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if r.Method != http.MethodHead {
		_, _ = w.Write(a.body)
	}
}

// layout is what every page's frame shows.
type layout struct {
	Title          string
	Nav            string   // the active section: image, pricing, account, catalog, events, reports
	Scripts        []string // the page's scripts, in order, after app.js
	Version        string
	CatalogVersion string
	Page           any
}

// render executes a page into a buffer first, so that a template error is
// a clean 500 rather than half a page.
func (c *console) render(w http.ResponseWriter, r *http.Request, status int, name string, l layout) {
	l.Version = c.cfg.Version
	if cat := c.cfg.Catalog(); cat != nil && l.CatalogVersion == "" {
		l.CatalogVersion = cat.Version
	}
	var buf bytes.Buffer
	if err := c.pages[name].Execute(&buf, l); err != nil {
		c.log.Error("console: rendering page", "page", name, "path", r.URL.Path, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	// Prices change when a catalog is published: always revalidate.
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(buf.Bytes())
	}
}

func (c *console) notFound(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, http.StatusNotFound, "notfound", layout{Title: "Not found", Page: r.URL.Path})
}

func (c *console) login(w http.ResponseWriter, r *http.Request) {
	c.render(w, r, http.StatusOK, "login", layout{Title: "Sign in", Scripts: []string{"login.js"}, Page: safeNext(r.URL.Query().Get("next"))})
}

// safeNext is a same-origin path to return to after login, or /. It is
// judged as a browser will read it, not as it looks: browsers drop tab, CR
// and LF anywhere in a URL, read a backslash as a slash and resolve dot
// segments, so /\t/host, /\\host and /.//host all lead to //host, another
// origin. A path is kept only when it starts with one slash, has no
// backslash, control character or dot segment, and its decoded form does
// not start with two slashes either. The page script checks it again.
func safeNext(next string) string {
	u, err := url.Parse(next)
	if err != nil || !strings.HasPrefix(next, "/") || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" {
		return "/"
	}
	unsafe := func(r rune) bool { return r < 0x20 || r == 0x7f || r == '\\' }
	for _, p := range []string{next, u.Path} {
		if !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.ContainsFunc(p, unsafe) {
			return "/"
		}
	}
	for seg := range strings.SplitSeq(u.Path, "/") {
		if seg == "." || seg == ".." {
			return "/"
		}
	}
	return next
}

func (c *console) accounts(w http.ResponseWriter, r *http.Request) {
	// The account form, submitted without JavaScript. A URL path cannot
	// carry the ids . and .. (browsers resolve them as dot segments, even
	// percent-encoded: /accounts/.. is /), so those stay on the form, whose
	// script asks the API about them and shows its answer.
	id := strings.TrimSpace(r.URL.Query().Get("id"))
	if id != "" && id != "." && id != ".." {
		http.Redirect(w, r, "/accounts/"+url.PathEscape(id), http.StatusSeeOther)
		return
	}
	v := accountsView{ID: id, Prefix: r.URL.Query().Get("prefix"), Plans: planNames(c.cfg.Catalog())}
	c.render(w, r, http.StatusOK, "accounts", layout{Title: "Accounts", Nav: "account", Scripts: []string{"accounts.js"}, Page: v})
}

// accountsView is the Accounts page: the account search (by the start of
// an id, for admin and support keys) and the form that opens one account.
// ID is an id given to the form that no page address can carry (. and ..),
// Prefix the search asked for; Plans names the catalog's plans.
type accountsView struct {
	ID, Prefix string
	Plans      []idName
}

// accountView is the Account page's frame; the script fills it from the
// API. Names maps the catalog's model ids to names for the usage chart.
type accountView struct {
	ID    string
	Names []idName
	// Plans names the catalog's plans; Tags says what each model tag
	// stands for ("pro": "Pro models"), for the grants' applies_to.
	Plans []idName
	Tags  []tagView
}

// idName is an id and the name the console shows for it: a model's, or a
// plan's.
type idName struct{ ID, Name string }

func modelNames(c *credit.Catalog) []idName {
	if c == nil {
		return nil
	}
	out := make([]idName, len(c.Models))
	for i, m := range c.Models {
		out[i] = idName{m.ID, m.Name}
	}
	return out
}

func (c *console) account(w http.ResponseWriter, r *http.Request) {
	cat := c.cfg.Catalog()
	v := accountView{ID: r.PathValue("id"), Names: modelNames(cat), Plans: planNames(cat), Tags: planTags(cat)}
	c.render(w, r, http.StatusOK, "account", layout{Title: "Account " + v.ID, Nav: "account", Scripts: []string{"account.js", "support.js"}, Page: v})
}
