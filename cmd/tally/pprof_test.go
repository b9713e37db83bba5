package main

import (
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestServePprof: --pprof serves Go's profiles on its own loopback listener,
// and never on the API's.
func TestServePprof(t *testing.T) {
	s := startServe(t, "--pprof", "127.0.0.1:0")
	defer s.stop()
	m := regexp.MustCompile(`pprof serving" url=(http://127\.0\.0\.1:\d+/debug/pprof/)`).FindStringSubmatch(s.log.String())
	if m == nil {
		t.Fatalf("serve did not log the pprof address:\n%s", s.log.String())
	}
	resp, err := http.Get(m[1] + "goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("GET %sgoroutine = %d; want 200", m[1], resp.StatusCode)
	}
	resp, err = http.Get(s.base + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		t.Errorf("GET /debug/pprof/ on the API's listener = 200; want profiles only on the --pprof listener")
	}
}

// TestServePprofLoopbackOnly: an address another machine could reach is
// refused before anything listens.
func TestServePprofLoopbackOnly(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:6060", ":6060", "192.0.2.1:6060", "nonsense"} {
		db := filepath.Join(t.TempDir(), "tally.db")
		code, _, errOut := run(t, "serve", "--addr", "127.0.0.1:0", "--db", db, "--pprof", addr)
		if code != 2 || !strings.Contains(errOut, "loopback") {
			t.Errorf("serve --pprof %s: exit %d, stderr %q; want 2 and a message about loopback", addr, code, errOut)
		}
	}
}
