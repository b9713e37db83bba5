package main

import (
	"strings"
	"testing"
)

// TestServeLogFormatRefused: a --log-format other than text or json is
// refused with a one-line reason naming the flag, before anything opens.
func TestServeLogFormatRefused(t *testing.T) {
	code, _, stderr := run(t, "serve", "--log-format", "xml", "--db", t.TempDir()+"/never.db")
	if code == 0 || !strings.Contains(stderr, "--log-format") || !strings.Contains(stderr, "text or json") {
		t.Errorf("serve --log-format xml: exit %d, stderr %q; want a refusal naming --log-format and text or json", code, stderr)
	}
}
