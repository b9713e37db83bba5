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
	"github.com/tally-credits/tally/internal/httpapi"
)

func (m Main) serveCmd() *cobra.Command {
	var addr, catalogFile string
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the HTTP API (POST /v1/quotes, GET /v1/models, /openapi.json, …)",
		Args:  cobra.ExactArgs(0),
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := loadCatalog(catalogFile)
			if err != nil {
				return err
			}
			log := slog.New(slog.NewTextHandler(m.Stderr, nil))
			h := httpapi.New(c, version, log)
			if catalogFile != "" {
				stop := reloadOnHangup(catalogFile, h, log)
				defer stop()
			}
			return serve(cmd.Context(), addr, h, log)
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "127.0.0.1:8080", "address to listen on (host:port; port 0 picks a free one)")
	cmd.Flags().StringVar(&catalogFile, "catalog", "", "price catalog YAML file (default: the built-in catalog); SIGHUP reloads it")
	return cmd
}

// reloadOnHangup reloads the catalog file on SIGHUP. A file that does not
// validate is refused whole, with every mistake logged, and the running catalog
// stays. It returns a function that stops listening.
func reloadOnHangup(path string, h *httpapi.Server, log *slog.Logger) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-done:
				return
			case <-hup:
			}
			c, err := catalog.LoadFile(path)
			if err != nil {
				log.Error("catalog reload refused; the running catalog stays", "file", path, "running", h.Catalog().Version, "err", err.Error())
				continue
			}
			old := h.Catalog().Version
			h.SetCatalog(c)
			log.Info("catalog reloaded", "file", path, "from", old, "to", c.Version)
		}
	}()
	return func() { signal.Stop(hup); close(done) }
}

// shutdownGrace is how long in-flight requests get to finish after SIGINT/SIGTERM.
const shutdownGrace = 15 * time.Second

// serve runs h on addr until ctx ends, then shuts down gracefully: the listener
// closes at once, in-flight requests finish (up to shutdownGrace).
func serve(ctx context.Context, addr string, h *httpapi.Server, log *slog.Logger) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", addr, err)
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
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
