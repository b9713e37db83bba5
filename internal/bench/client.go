package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
	"time"
)

// httpClient talks to the server under test: keep-alive connections, at
// least one per bench client, and the admin key on every ledger request.
type httpClient struct {
	base    string // http://host:port, no trailing slash
	key     string
	c       *http.Client
	retries atomic.Int64 // requests sent again after a transport error or a 5xx
}

func newHTTPClient(base, key string, clients int) *httpClient {
	tr := &http.Transport{
		// One idle connection per client, or the default of two per host
		// would open a TCP connection per request.
		MaxIdleConns:        4 * clients,
		MaxIdleConnsPerHost: 2 * clients,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
	}
	return &httpClient{base: strings.TrimRight(base, "/"), key: key, c: &http.Client{Transport: tr, Timeout: 60 * time.Second}}
}

func (h *httpClient) close() { h.c.CloseIdleConnections() }

// maxAttempts bounds the tries of one request.
const maxAttempts = 5

// do sends one request and returns the status and body. A request that may
// be repeated safely — a GET, or a POST with an Idempotency-Key — is sent
// again after a transport error or a 5xx (with the same key: the server
// answers a retry of a request it already did with the first answer), up to
// maxAttempts times; any other request is sent once.
func (h *httpClient) do(ctx context.Context, method, path string, body []byte, idemKey string) (int, []byte, error) {
	safe := method == http.MethodGet || idemKey != ""
	var lastErr error
	for attempt := 1; attempt <= maxAttempts; attempt++ {
		if attempt > 1 {
			h.retries.Add(1)
			select {
			case <-ctx.Done():
				return 0, nil, ctx.Err()
			case <-time.After(time.Duration(attempt*attempt) * 10 * time.Millisecond):
			}
		}
		status, b, err := h.once(ctx, method, path, body, idemKey)
		if status == http.StatusTooManyRequests {
			// Retrying would measure the limiter, not tally.
			return 0, nil, fmt.Errorf("%s %s: 429: the server rate-limits the bench; run it with --rate-key 0 --rate-ip 0", method, path)
		}
		switch {
		case err == nil && status < 500:
			return status, b, nil
		case err == nil:
			lastErr = fmt.Errorf("%s %s: %d %s", method, path, status, bytes.TrimSpace(b))
		case ctx.Err() != nil:
			return 0, nil, ctx.Err()
		default:
			lastErr = err
		}
		if !safe {
			break
		}
	}
	return 0, nil, lastErr
}

func (h *httpClient) once(ctx context.Context, method, path string, body []byte, idemKey string) (int, []byte, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(ctx, method, h.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if h.key != "" && strings.HasPrefix(path, "/v1/") {
		req.Header.Set("Authorization", "Bearer "+h.key)
	}
	if idemKey != "" {
		req.Header.Set("Idempotency-Key", idemKey)
	}
	resp, err := h.c.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err
	}
	return resp.StatusCode, b, nil
}

// call sends a request that must answer want, and decodes the answer into
// out (if not nil).
func (h *httpClient) call(ctx context.Context, method, path string, body []byte, idemKey string, want int, out any) error {
	status, b, err := h.do(ctx, method, path, body, idemKey)
	if err != nil {
		return err
	}
	if status != want {
		return fmt.Errorf("%s %s: %d, want %d: %s", method, path, status, want, bytes.TrimSpace(b))
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: decode the answer: %w", method, path, err)
		}
	}
	return nil
}
