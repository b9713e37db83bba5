package main

import (
	"bytes"
	"image"
	"image/png"
	"os"
	"testing"
)

// writePNGHeader writes a real PNG of w×h pixels (all zero, so it compresses to
// almost nothing).
func writePNGHeader(t *testing.T, path string, w, h int) {
	t.Helper()
	var buf bytes.Buffer
	if err := png.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h))); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}
