// Package imagesize reads an image's width and height from its header, for
// pricing upscales by the input's megapixels.
//
// It never decodes pixels: only the header is parsed (PNG IHDR, GIF logical
// screen, JPEG SOFn, WebP VP8/VP8L/VP8X), and at most MaxHeaderBytes are read,
// so a truncated file, a lying header or a decompression bomb costs nothing.
package imagesize

import (
	"bufio"
	"bytes"
	"errors"
	"image"
	_ "image/gif" // registers GIF headers with image.DecodeConfig
	_ "image/jpeg"
	_ "image/png"
	"io"

	_ "golang.org/x/image/webp"

	"github.com/tally-credits/tally/internal/credit"
)

// MaxHeaderBytes is the most bytes read to find a header. JPEG headers may sit
// behind EXIF and ICC segments (each at most 64 KiB), so the cap is generous,
// but bounded.
const MaxHeaderBytes = 1 << 20

// Size is an image's format and pixel size.
type Size struct {
	Format string // "png", "jpeg", "gif" or "webp"
	Width  int
	Height int
}

// Read returns the size declared by the image header at the start of r. An
// unknown format or a broken header is an Invalid *credit.Error with reason
// invalid_input_image.
func Read(r io.Reader) (Size, error) {
	cfg, format, err := image.DecodeConfig(bufio.NewReader(io.LimitReader(r, MaxHeaderBytes)))
	if err != nil {
		why := "the header is truncated or corrupt"
		if errors.Is(err, image.ErrFormat) {
			why = "it is not a PNG, JPEG, GIF or WebP image"
		}
		return Size{}, credit.Errorf(credit.Invalid, "invalid_input_image", "cannot read the input image's size: %s", why)
	}
	if cfg.Width < 1 || cfg.Height < 1 {
		return Size{}, credit.Errorf(credit.Invalid, "invalid_input_image", "cannot read the input image's size: the header declares %d×%d", cfg.Width, cfg.Height)
	}
	return Size{Format: format, Width: cfg.Width, Height: cfg.Height}, nil
}

// ReadBytes is Read on an in-memory file.
func ReadBytes(b []byte) (Size, error) { return Read(bytes.NewReader(b)) }
