package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestSlowClients: a client that never finishes its headers is cut off by the
// read-header timeout, an idle keep-alive connection by the idle timeout, and
// oversized headers get 431 — none holds a connection for good. The timeouts
// are shortened for the test; the connection is waited on for far longer
// than them, so the test asserts that the server hangs up, not when.
func TestSlowClients(t *testing.T) {
	saved := serveLimits
	serveLimits.readHeader, serveLimits.idle = 200*time.Millisecond, 200*time.Millisecond
	defer func() { serveLimits = saved }()
	s := startServe(t)
	defer s.stop()
	addr := strings.TrimPrefix(s.base, "http://")

	hungUp := func(what string, c net.Conn) {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, err := io.ReadAll(c) // returns when the server closes the connection
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			t.Errorf("%s: the server still held the connection after 10 s", what)
		}
	}

	// Slowloris: half a request line and one header, then silence.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n"); err != nil {
		t.Fatal(err)
	}
	hungUp("a client that never ends its headers", c)

	// Idle keep-alive: one whole request, answered, then nothing.
	c2, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if _, err := io.WriteString(c2, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(c2), nil)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /healthz on the idle connection = %v, %v", resp, err)
	}
	resp.Body.Close()
	hungUp("an idle keep-alive connection", c2)

	// Headers past the cap.
	req, _ := http.NewRequest(http.MethodGet, s.base+"/healthz", nil)
	req.Header.Set("X-Padding", strings.Repeat("a", 128<<10))
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("128 KiB of headers = %d; want 431", r.StatusCode)
	}
}
