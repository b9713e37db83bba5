package postgres_test

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Proxy is a TCP proxy in front of the test's PostgreSQL, to simulate an
// outage without touching the server, which other tests share: Cut closes
// every connection through it and refuses new ones (accepted and closed at
// once, as a server that went away looks to a client), Stall closes them and
// leaves new ones hanging unanswered (a server behind a black hole), Restore
// lets them through again.
type Proxy struct {
	tb     testing.TB
	ln     net.Listener
	target string

	mu      sync.Mutex
	cut     bool
	stalled map[net.Conn]struct{} // non-nil while stalling: connections held unanswered
	conns   map[net.Conn]struct{}
	wg      sync.WaitGroup

	// dropCommits is how many more COMMITs to let through to the server
	// while closing the client's connection before it hears the answer.
	dropCommits atomic.Int64
	dropped     atomic.Int64
}

// NewProxy starts a proxy on 127.0.0.1:0 forwarding to target (host:port),
// closed when the test ends.
func NewProxy(tb testing.TB, target string) *Proxy {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	p := &Proxy{tb: tb, ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	tb.Cleanup(p.Close)
	return p
}

// ProxyTo starts a proxy in front of the server of dsn and returns it with
// dsn rewritten to go through it.
func ProxyTo(tb testing.TB, dsn string) (*Proxy, string) {
	tb.Helper()
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		tb.Fatalf("TALLY_TEST_POSTGRES: %v", err)
	}
	if strings.HasPrefix(cfg.Host, "/") {
		tb.Skipf("TALLY_TEST_POSTGRES uses a Unix socket (%s): the outage tests need TCP", cfg.Host)
	}
	p := NewProxy(tb, net.JoinHostPort(cfg.Host, strconv.Itoa(int(cfg.Port))))
	return p, p.DSN(dsn)
}

// Addr returns the proxy's host:port.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// DSN returns dsn with its host and port replaced by the proxy's.
func (p *Proxy) DSN(dsn string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			p.tb.Fatalf("DSN: %v", err)
		}
		u.Host = p.Addr()
		return u.String()
	}
	host, port, _ := net.SplitHostPort(p.Addr())
	return dsn + " host=" + host + " port=" + port // key=value: the last one wins
}

// Cut closes every open connection and refuses new ones until Restore.
func (p *Proxy) Cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = true
	for c := range p.conns {
		c.Close()
	}
}

// Stall closes every open connection and accepts new ones without ever
// answering them, until Restore.
func (p *Proxy) Stall() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stalled = map[net.Conn]struct{}{}
	for c := range p.conns {
		c.Close()
	}
}

// Restore lets connections through again (closing those held by Stall, so
// their clients reconnect).
func (p *Proxy) Restore() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = false
	for c := range p.stalled {
		c.Close()
	}
	p.stalled = nil
}

// DropCommitAnswers makes the next n COMMITs reach the server, which
// commits, while the client's connection is closed before the answer comes
// back: the client cannot know whether its transaction committed, as when the
// server restarts right after a commit.
func (p *Proxy) DropCommitAnswers(n int) { p.dropCommits.Store(int64(n)) }

// DroppedCommits returns how many COMMIT answers the proxy has dropped.
func (p *Proxy) DroppedCommits() int { return int(p.dropped.Load()) }

// takeDrop reports whether the proxy should drop the answer to a COMMIT now.
func (p *Proxy) takeDrop() bool {
	for {
		n := p.dropCommits.Load()
		if n <= 0 {
			return false
		}
		if p.dropCommits.CompareAndSwap(n, n-1) {
			p.dropped.Add(1)
			return true
		}
	}
}

// commitMessage is pgx's COMMIT: a simple Query message ('Q', length 11,
// "commit\x00").
var commitMessage = []byte("Q\x00\x00\x00\x0bcommit\x00")

// Close stops the proxy and closes every connection.
func (p *Proxy) Close() {
	p.ln.Close()
	p.Restore()
	p.Cut()
	p.wg.Wait()
}

func (p *Proxy) accept() {
	defer p.wg.Done()
	for {
		client, err := p.ln.Accept()
		if errors.Is(err, net.ErrClosed) {
			return
		} else if err != nil {
			continue
		}
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.forward(client)
		}()
	}
}

// forward pipes client to the target until either side closes or Cut.
func (p *Proxy) forward(client net.Conn) {
	p.mu.Lock()
	if p.cut {
		p.mu.Unlock()
		client.Close()
		return
	}
	if p.stalled != nil {
		p.stalled[client] = struct{}{}
		p.mu.Unlock()
		_, _ = io.Copy(io.Discard, client) // until the client gives up or Restore
		client.Close()
		return
	}
	p.conns[client] = struct{}{}
	p.mu.Unlock()
	server, err := net.Dial("tcp", p.target)
	p.mu.Lock()
	if err != nil || p.cut {
		delete(p.conns, client)
		p.mu.Unlock()
		client.Close()
		if server != nil {
			server.Close()
		}
		return
	}
	p.conns[server] = struct{}{}
	p.mu.Unlock()
	done := make(chan struct{}, 2)
	var dropping atomic.Bool
	go func() { // client → server, watching for COMMITs whose answer to drop
		defer func() { done <- struct{}{} }()
		buf := make([]byte, 32<<10)
		for {
			n, err := client.Read(buf)
			if n > 0 {
				if _, werr := server.Write(buf[:n]); werr != nil {
					return
				}
				if bytes.Contains(buf[:n], commitMessage) && p.takeDrop() {
					dropping.Store(true)
					client.Close()
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	go func() { // server → client
		_, _ = io.Copy(client, server)
		done <- struct{}{}
	}()
	<-done
	if dropping.Load() {
		// The server's answer to the COMMIT, which it sends once it has
		// committed, fails to reach the closed client and ends the copy.
		select {
		case <-done:
			done <- struct{}{}
		case <-time.After(2 * time.Second):
		}
	}
	client.Close()
	server.Close()
	<-done
	p.mu.Lock()
	delete(p.conns, client)
	delete(p.conns, server)
	p.mu.Unlock()
}
