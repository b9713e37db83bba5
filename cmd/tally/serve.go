package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/console"
	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/httpapi"
	"github.com/tally-credits/tally/internal/metrics"
	"github.com/tally-credits/tally/internal/webhook"
)

func (m Main) serveCmd() *cobra.Command {
	var addr, catalogFile, pprofAddr string
	logFormat := "text"
	limits := httpapi.DefaultRateLimit
	idemRetention := credit.DefaultIdempotencyRetention
	notice := credit.DefaultExpiringNotice
	var allowPrivate bool
	runWebhooks := true
	var sf storeFlags
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the HTTP API (POST /v1/quotes, GET /v1/models, /openapi.json, …) and the web console at /",
		Args:  cobra.ExactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			// Flags first: a refused command line opens (and creates) nothing.
			if limits.PerKey < 0 || limits.PerIP < 0 {
				return credit.Errorf(credit.Invalid, "invalid_rate", "--rate-key and --rate-ip are requests per second: 0 (no limit) or more")
			}
			if idemRetention < 0 {
				return credit.Errorf(credit.Invalid, "invalid_flags", "--idempotency-retention is a duration: 0 (keep forever) or more")
			}
			if notice <= 0 {
				return credit.Errorf(credit.Invalid, "invalid_flags", "--grant-expiring-notice %s: allowed: a duration more than 0, e.g. 72h", notice)
			}
			var log *slog.Logger
			switch logFormat {
			case "text":
				log = slog.New(slog.NewTextHandler(m.Stderr, nil))
			case "json":
				log = slog.New(slog.NewJSONHandler(m.Stderr, nil))
			default:
				return credit.Errorf(credit.Invalid, "invalid_flags", "--log-format is text or json, not %q", logFormat)
			}
			c, err := loadCatalog(catalogFile)
			if err != nil {
				return err
			}
			store, err := sf.create(ctx)
			if err != nil {
				return err
			}
			defer store.Close()
			adminKey := os.Getenv("TALLY_ADMIN_KEY")
			// Both stores keep the published catalogs: every node on one
			// database prices with the version in use there, and falls back
			// to --catalog or the built-in one while none is in effect.
			catalogs, _ := store.(credit.CatalogStore)
			// The console prices with the server's catalog, asked per request,
			// so a reload or a publish shows on the next page.
			gauges, _ := store.(credit.Gauges)
			mx := metrics.New(metrics.Config{Version: version, Gauges: gauges, Log: log})
			var h *httpapi.Server
			ui := console.New(console.Config{Catalog: func() *credit.Catalog { return h.Catalog() }, Catalogs: catalogs, Version: version, Log: log})
			h = httpapi.NewServer(httpapi.Config{Catalog: c, Catalogs: catalogs, AdminKey: adminKey, Version: version, Log: log, Console: ui, RateLimit: limits, Metrics: mx, AccessLog: log})
			// The follower keeps h on the catalog in use in the database, and
			// on --catalog FILE, reloaded on SIGHUP, while none is in effect.
			hup := make(chan os.Signal, 1)
			if catalogFile != "" {
				signal.Notify(hup, syscall.SIGHUP)
				defer signal.Stop(hup)
			}
			follower := catalog.NewFollower(catalog.FollowerConfig{Store: catalogs, Server: h, File: catalogFile, Reload: hup, Log: log})
			if err := follower.Sync(ctx); err != nil {
				return err
			}
			followCtx, stopFollowing := context.WithCancel(context.WithoutCancel(ctx))
			followed := make(chan struct{})
			go func() { follower.Run(followCtx); close(followed) }()
			defer func() { stopFollowing(); <-followed }()
			l := credit.NewLedger(store, credit.LedgerConfig{Catalog: h.Catalog, IdempotencyRetention: idemRetention, Observer: mx,
				ExpiringNotice: notice, WebhookGuard: webhookGuard(allowPrivate)})
			h.SetLedger(l)
			if adminKey == "" {
				if err := m.bootstrapAdminKey(ctx, l); err != nil {
					return err
				}
			}
			// The sweeper outlives ctx (SIGTERM) until the server has shut down.
			sweeper := credit.NewSweeper(l, credit.SweepConfig{Log: log})
			sweepCtx, stopSweeping := context.WithCancel(context.Background())
			swept := make(chan struct{})
			go func() { sweeper.Run(sweepCtx); close(swept) }()
			defer func() { stopSweeping(); <-swept }()
			// So does the webhook dispatcher: the deliveries in flight at
			// shutdown are recorded before the store closes.
			if ws, ok := store.(credit.WebhookStore); ok && runWebhooks {
				d := webhook.NewDispatcher(webhook.Config{Store: ws, AllowPrivate: allowPrivate, Log: log, Observer: mx})
				dispatchCtx, stopDispatching := context.WithCancel(context.Background())
				dispatched := make(chan struct{})
				go func() { d.Run(dispatchCtx); close(dispatched) }()
				defer func() { stopDispatching(); <-dispatched }()
			}
			log.Info("tally ledger", "db", sf.name())
			if pprofAddr != "" {
				if err := servePprof(ctx, pprofAddr, log); err != nil {
					return err
				}
			}
			return serve(ctx, addr, h, log)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on (host:port; port 0 picks a free one)")
	cmd.Flags().Float64Var(&limits.PerKey, "rate-key", limits.PerKey, "requests per second each API key may make, in bursts of twice that (0: no limit); beyond it 429 with Retry-After")
	cmd.Flags().Float64Var(&limits.PerIP, "rate-ip", limits.PerIP, "requests per second each client address may make without a valid key (public quotes, refused keys; 0: no limit)")
	cmd.Flags().DurationVar(&idemRetention, "idempotency-retention", idemRetention, "how long an Idempotency-Key is remembered (its answer kept, a retry answered from it); older records are deleted and the key is new again (0: forever)")
	cmd.Flags().StringVar(&pprofAddr, "pprof", "", "serve Go's profiles at http://ADDR/debug/pprof/ (a loopback host:port only, e.g. 127.0.0.1:6060)")
	cmd.Flags().StringVar(&logFormat, "log-format", logFormat, "text or json: the log's lines, one per request among them (method, route, status, duration, key, request_id)")
	cmd.Flags().StringVar(&catalogFile, "catalog", "", "price catalog YAML file (default: the built-in catalog); SIGHUP reloads it")
	cmd.Flags().DurationVar(&notice, "grant-expiring-notice", notice, "how long before a grant expires the grant.expiring event tells of it (more than 0)")
	cmd.Flags().BoolVar(&runWebhooks, "webhooks", runWebhooks, "deliver webhooks from this node (false leaves them to the other nodes on the database)")
	cmd.Flags().BoolVar(&allowPrivate, "webhooks-allow-private", false, "let webhook URLs reach loopback and private addresses (tests, a studio's own network); refused by default")
	sf.register(cmd.Flags())
	return cmd
}

// webhookGuard is the check a webhook URL passes before it is stored: its
// host must not be, or resolve to, a loopback, private or otherwise
// internal address unless allowPrivate.
func webhookGuard(allowPrivate bool) func(context.Context, string) error {
	return func(ctx context.Context, url string) error { return webhook.CheckURL(ctx, url, allowPrivate) }
}

// bootstrapAdminKey makes the first admin key when TALLY_ADMIN_KEY is unset and
// the store has no live one, and prints its secret once. The ledger looks and
// makes the key in one step, so of nodes started together on a fresh
// database exactly one makes (and prints) it.
func (m Main) bootstrapAdminKey(ctx context.Context, l *credit.Ledger) error {
	k, token, err := l.BootstrapAdminKey(ctx)
	if err != nil || token == "" {
		return err
	}
	fmt.Fprintf(m.Stderr, "\ntally: no TALLY_ADMIN_KEY and no valid admin key, so one was made (id %s).\n"+
		"tally: it is shown this once; keep it safe:\n\n    %s\n\n", k.ID, token)
	return nil
}

// shutdownGrace is how long in-flight requests get to finish after SIGINT/SIGTERM.
const shutdownGrace = 15 * time.Second

// serve runs h on addr until ctx ends, then shuts down gracefully: the listener
// closes at once, in-flight requests finish (up to shutdownGrace).
// connLimits bound what one client connection may take from the server: a
// client that sends its headers slowly, trickles its body, reads its answer
// slowly or keeps an idle connection open is cut off, and headers are capped
// (bodies are capped at httpapi.MaxBodyBytes per route).
type connLimits struct {
	readHeader, read, write, idle time.Duration
	headerBytes                   int
}

// serveLimits are tally serve's connection limits (tests shorten them).
var serveLimits = connLimits{readHeader: 5 * time.Second, read: 30 * time.Second, write: 30 * time.Second, idle: 120 * time.Second, headerBytes: 64 << 10}

func serve(ctx context.Context, addr string, h *httpapi.Server, log *slog.Logger) error {
	limits := serveLimits
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: limits.readHeader,
		ReadTimeout:       limits.read,
		WriteTimeout:      limits.write,
		IdleTimeout:       limits.idle,
		MaxHeaderBytes:    limits.headerBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	// A long poll of the feed (GET /v1/events?wait=) may outlast the write
	// timeout: its route moves its own deadlines. Shutdown answers it at once.
	srv.RegisterOnShutdown(h.EndLongPolls)
	log.Info("tally serving", "addr", "http://"+ln.Addr().String(), "catalog", h.Catalog().Version, "version", version)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	log.Info("tally shutting down", "grace", shutdownGrace)
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("tally stopped")
	return nil
}
