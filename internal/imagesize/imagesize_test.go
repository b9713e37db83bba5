package imagesize_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/gif"
	"image/jpeg"
	"image/png"
	"io"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/imagesize"
)

// encode returns an image of w×h pixels in format, made with the standard
// library's encoder.
func encode(tb testing.TB, format string, w, h int) []byte {
	tb.Helper()
	var buf bytes.Buffer
	var err error
	switch format {
	case "png":
		err = png.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h)))
	case "jpeg":
		err = jpeg.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h)), nil)
	case "gif":
		err = gif.Encode(&buf, image.NewPaletted(image.Rect(0, 0, w, h), color.Palette{color.Black, color.White}), nil)
	default:
		tb.Fatalf("unknown format %q", format)
	}
	if err != nil {
		tb.Fatalf("encode %s %d×%d: %v", format, w, h, err)
	}
	return buf.Bytes()
}

// riff wraps one WebP chunk in a RIFF container:
//
//	"RIFF" | file size − 8 (uint32 LE) | "WEBP" | chunk ID (4 bytes) | chunk size (uint32 LE) | chunk data | pad byte if the size is odd
func riff(id string, data []byte) []byte {
	chunk := append([]byte(id), binary.LittleEndian.AppendUint32(nil, uint32(len(data)))...)
	chunk = append(chunk, data...)
	if len(data)%2 == 1 {
		chunk = append(chunk, 0)
	}
	out := append([]byte("RIFF"), binary.LittleEndian.AppendUint32(nil, uint32(4+len(chunk)))...)
	out = append(out, "WEBP"...)
	return append(out, chunk...)
}

// webpVP8X is an extended-format header, which x/image/webp's DecodeConfig
// answers from alone. Its 10-byte chunk:
//
//	flags (1 byte: ICC, alpha, EXIF, XMP, animation bits; 0 here)
//	reserved (3 bytes, 0)
//	canvas width − 1 (24 bits LE)
//	canvas height − 1 (24 bits LE)
func webpVP8X(w, h int) []byte {
	data := []byte{0, 0, 0, 0,
		byte(w - 1), byte((w - 1) >> 8), byte((w - 1) >> 16),
		byte(h - 1), byte((h - 1) >> 8), byte((h - 1) >> 16)}
	return riff("VP8X", data)
}

// webpVP8L is a lossless header: the signature byte 0x2f, then 32 bits read
// least significant bit first:
//
//	bits 0–13   width − 1
//	bits 14–27  height − 1
//	bit 28      alpha hint
//	bits 29–31  version (must be 0)
//
// The decoder reads no further for the size; the 5-byte chunk gets a pad byte.
func webpVP8L(w, h int) []byte {
	v := uint32(w-1) | uint32(h-1)<<14
	return riff("VP8L", append([]byte{0x2f}, binary.LittleEndian.AppendUint32(nil, v)...))
}

// webpVP8 is a lossy header: a 10-byte key frame header.
//
//	frame tag (3 bytes, 24 bits LE): bit 0 = 0 key frame, bits 1–3 version,
//	    bit 4 show frame, bits 5–23 first partition size (0x10 0x00 0x00: shown key frame)
//	start code 9d 01 2a
//	width (16 bits LE: 14 bits of size, 2 bits of horizontal scale)
//	height (16 bits LE: 14 bits of size, 2 bits of vertical scale)
func webpVP8(w, h int) []byte {
	data := []byte{0x10, 0x00, 0x00, 0x9d, 0x01, 0x2a, byte(w), byte(w >> 8), byte(h), byte(h >> 8)}
	return riff("VP8 ", data)
}

// pngHeader is a PNG signature and an IHDR chunk declaring w×h (8-bit gray),
// with a correct CRC, and nothing after it.
func pngHeader(w, h uint32) []byte {
	out := []byte("\x89PNG\r\n\x1a\n")
	ihdr := []byte("IHDR")
	ihdr = binary.BigEndian.AppendUint32(ihdr, w)
	ihdr = binary.BigEndian.AppendUint32(ihdr, h)
	ihdr = append(ihdr, 8, 0, 0, 0, 0) // bit depth 8, gray, deflate, filter 0, no interlace
	out = binary.BigEndian.AppendUint32(out, 13)
	out = append(out, ihdr...)
	return binary.BigEndian.AppendUint32(out, crc32.ChecksumIEEE(ihdr))
}

// gifHeader is a GIF89a header and logical screen descriptor declaring w×h.
func gifHeader(w, h uint16) []byte {
	out := []byte("GIF89a")
	out = binary.LittleEndian.AppendUint16(out, w)
	out = binary.LittleEndian.AppendUint16(out, h)
	return append(out, 0, 0, 0) // no global color table, background, aspect
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// zeros is an endless stream of zero bytes.
type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

func TestRead(t *testing.T) {
	for _, tt := range []struct {
		format string
		w, h   int
	}{
		{"png", 1920, 1080},
		{"png", 1, 1},
		{"png", 3000, 17},
		{"jpeg", 1920, 1080},
		{"jpeg", 1, 1},
		{"jpeg", 3000, 17},
		{"gif", 1920, 1080},
		{"gif", 1, 1},
		{"gif", 3000, 17},
	} {
		data := encode(t, tt.format, tt.w, tt.h)
		want := imagesize.Size{Format: tt.format, Width: tt.w, Height: tt.h}
		got, err := imagesize.Read(bytes.NewReader(data))
		if err != nil || got != want {
			t.Errorf("Read(%s %d×%d) = %+v, %v; want %+v", tt.format, tt.w, tt.h, got, err, want)
		}
		got, err = imagesize.ReadBytes(data)
		if err != nil || got != want {
			t.Errorf("ReadBytes(%s %d×%d) = %+v, %v; want %+v", tt.format, tt.w, tt.h, got, err, want)
		}
	}
}

func TestReadWebP(t *testing.T) {
	for _, tt := range []struct {
		name string
		data []byte
		w, h int
	}{
		{"VP8X 1920×1080", webpVP8X(1920, 1080), 1920, 1080},
		{"VP8X 1×1", webpVP8X(1, 1), 1, 1},
		{"VP8X 3000×17", webpVP8X(3000, 17), 3000, 17},
		{"VP8X 16777216×1", webpVP8X(1<<24, 1), 1 << 24, 1}, // the largest 24-bit width
		{"VP8L 1920×1080", webpVP8L(1920, 1080), 1920, 1080},
		{"VP8L 1×1", webpVP8L(1, 1), 1, 1},
		{"VP8L 16384×16384", webpVP8L(16384, 16384), 16384, 16384}, // the largest 14-bit size
		{"VP8 1920×1080", webpVP8(1920, 1080), 1920, 1080},
		{"VP8 1×1", webpVP8(1, 1), 1, 1},
		{"VP8 3000×17", webpVP8(3000, 17), 3000, 17},
	} {
		want := imagesize.Size{Format: "webp", Width: tt.w, Height: tt.h}
		got, err := imagesize.ReadBytes(tt.data)
		if err != nil || got != want {
			t.Errorf("ReadBytes(%s % x) = %+v, %v; want %+v", tt.name, tt.data, got, err, want)
		}
	}
}

func TestReadRefused(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	random := make([]byte, 4096)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	badCRC := pngHeader(640, 480)
	badCRC[len(badCRC)-1] ^= 0xff
	vp8Inter := webpVP8(640, 480)
	vp8Inter[20] |= 1 // frame tag bit 0: an inter frame has no size
	for _, tt := range []struct {
		name string
		data []byte
	}{
		{"empty", nil},
		{"random bytes", random},
		{"PNG truncated after 20 bytes", encode(t, "png", 64, 64)[:20]},
		{"PNG signature only", []byte("\x89PNG\r\n\x1a\n")},
		{"PNG with a wrong IHDR CRC", badCRC},
		{"PNG 0×480", pngHeader(0, 480)},
		{"GIF 0×480", gifHeader(0, 480)},
		{"GIF 640×0", gifHeader(640, 0)},
		{"JPEG SOI only", []byte{0xff, 0xd8}},
		{"WebP without a chunk", riff("VP8X", nil)[:12]},
		{"WebP VP8 inter frame", vp8Inter},
		{"WebP VP8X 2^24×2^24", webpVP8X(1<<24, 1<<24)},
		{"text", []byte("width: 1920\nheight: 1080\n")},
		{"SVG", []byte(`<svg xmlns="http://www.w3.org/2000/svg" width="1920" height="1080"></svg>`)},
	} {
		got, err := imagesize.ReadBytes(tt.data)
		if err == nil {
			t.Errorf("ReadBytes(%s) = %+v; want an error", tt.name, got)
			continue
		}
		var ce *credit.Error
		if !errors.As(err, &ce) {
			t.Errorf("ReadBytes(%s) error %v is a %T; want a *credit.Error", tt.name, err, err)
		}
		if got := credit.ErrorReason(err); got != "invalid_input_image" {
			t.Errorf("ReadBytes(%s) reason = %q; want invalid_input_image", tt.name, got)
		}
		if got := credit.ErrorCode(err); got != credit.Invalid {
			t.Errorf("ReadBytes(%s) code = %q; want %q", tt.name, got, credit.Invalid)
		}
	}
}

// TestReadHugeHeader: a PNG declaring 100000×100000 (10 gigapixels) is read
// from its header alone; refusing it is the quote engine's job.
func TestReadHugeHeader(t *testing.T) {
	r := &countingReader{r: io.MultiReader(bytes.NewReader(pngHeader(100000, 100000)), zeros{})}
	got, err := imagesize.Read(r)
	want := imagesize.Size{Format: "png", Width: 100000, Height: 100000}
	if err != nil || got != want {
		t.Fatalf("Read = %+v, %v; want %+v", got, err, want)
	}
	if r.n > imagesize.MaxHeaderBytes {
		t.Errorf("Read consumed %d bytes; want at most %d", r.n, imagesize.MaxHeaderBytes)
	}
}

// TestReadEndless: a JPEG start marker followed by zeros forever is refused
// after at most MaxHeaderBytes, not read until memory or patience runs out.
func TestReadEndless(t *testing.T) {
	r := &countingReader{r: io.MultiReader(bytes.NewReader([]byte{0xff, 0xd8}), zeros{})}
	type result struct {
		size imagesize.Size
		err  error
	}
	done := make(chan result, 1)
	go func() {
		s, err := imagesize.Read(r)
		done <- result{s, err}
	}()
	select {
	case res := <-done:
		if res.err == nil {
			t.Fatalf("Read = %+v; want an error", res.size)
		}
		if got := credit.ErrorReason(res.err); got != "invalid_input_image" {
			t.Errorf("Read reason = %q; want invalid_input_image (%v)", got, res.err)
		}
		const slack = 64 << 10
		if r.n > imagesize.MaxHeaderBytes+slack {
			t.Errorf("Read consumed %d bytes; want at most %d", r.n, imagesize.MaxHeaderBytes+slack)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Read of an endless JPEG has not returned after 30s")
	}
}

// FuzzRead: no input panics, and a size read is at least 1×1 in a known format.
func FuzzRead(f *testing.F) {
	f.Add(encode(f, "png", 3, 2))
	f.Add(encode(f, "gif", 3, 2))
	f.Add(encode(f, "jpeg", 3, 2))
	f.Add(webpVP8X(3, 2))
	f.Add(webpVP8L(3, 2))
	f.Add(webpVP8(3, 2))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := imagesize.ReadBytes(data)
		if err != nil {
			if got := credit.ErrorReason(err); got != "invalid_input_image" {
				t.Fatalf("ReadBytes error %v has reason %q; want invalid_input_image", err, got)
			}
			return
		}
		if s.Width < 1 || s.Height < 1 {
			t.Fatalf("ReadBytes = %+v; want a size of at least 1×1", s)
		}
		switch s.Format {
		case "png", "jpeg", "gif", "webp":
		default:
			t.Fatalf("ReadBytes format = %q; want png, jpeg, gif or webp", s.Format)
		}
	})
}
