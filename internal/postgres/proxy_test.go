package postgres_test

import (
	"bytes"
	"encoding/binary"
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

// commits follows what a client sends, message by message, to tell the
// COMMITs in it: pgx's Tx.Commit sends a simple Query "commit"; Write sends
// COMMIT as the last statement of a pipeline, the Bind of a statement
// prepared (Parse) as COMMIT, on the connection's first use of it or
// before.
type commits struct {
	buf     []byte
	started bool              // past the untyped startup messages
	stmts   map[string]string // prepared statement name → SQL
	lost    bool              // the stream could not be followed (TLS): find nothing
}

// feed follows b, the next bytes from the client, and reports whether they
// complete a message that commits.
func (c *commits) feed(b []byte) (commit bool) {
	if c.lost {
		return false
	}
	c.buf = append(c.buf, b...)
	for {
		if !c.started {
			if len(c.buf) < 8 {
				return commit
			}
			n := int(binary.BigEndian.Uint32(c.buf))
			if n < 8 || n > 1<<20 {
				c.lost = true
				return commit
			}
			if len(c.buf) < n {
				return commit
			}
			code := binary.BigEndian.Uint32(c.buf[4:8])
			c.buf = c.buf[n:]
			const sslRequest, gssRequest = 80877103, 80877104
			if code == sslRequest || code == gssRequest {
				// Refused by the server (sslmode=disable does not ask):
				// the startup message follows; accepted, TLS does, which
				// cannot be followed.
				continue
			}
			c.started = true
			continue
		}
		if len(c.buf) < 5 {
			return commit
		}
		n := int(binary.BigEndian.Uint32(c.buf[1:5]))
		if n < 4 || n > 1<<28 {
			c.lost = true
			return commit
		}
		if len(c.buf) < 1+n {
			return commit
		}
		typ, body := c.buf[0], c.buf[5:1+n]
		switch typ {
		case 'Q':
			commit = commit || isCommit(cstring(body))
		case 'P': // Parse: statement name, SQL, …
			name := cstring(body)
			if c.stmts == nil {
				c.stmts = map[string]string{}
			}
			c.stmts[name] = cstring(body[len(name)+1:])
		case 'B': // Bind: portal, statement name, …
			portal := cstring(body)
			commit = commit || isCommit(c.stmts[cstring(body[len(portal)+1:])])
		}
		c.buf = c.buf[1+n:]
	}
}

// cstring returns the NUL-terminated string b starts with.
func cstring(b []byte) string {
	if i := bytes.IndexByte(b, 0); i >= 0 {
		return string(b[:i])
	}
	return string(b)
}

func isCommit(sql string) bool { return strings.EqualFold(strings.TrimSpace(sql), "commit") }

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
		var sent commits
		for {
			n, err := client.Read(buf)
			if n > 0 {
				if _, werr := server.Write(buf[:n]); werr != nil {
					return
				}
				if sent.feed(buf[:n]) && p.takeDrop() {
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
