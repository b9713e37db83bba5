package credit_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/tally-credits/tally/internal/catalog"
	"github.com/tally-credits/tally/internal/credit"
)

func TestErrorReason(t *testing.T) {
	cat := catalog.Default()
	_, err := cat.Quote(credit.QuoteRequest{Model: "nano-banana-2", AspectRatio: "7:5"})
	wrapped := fmt.Errorf("pricing: %w", err)
	if got := credit.ErrorReason(wrapped); got != "unsupported_aspect_ratio" {
		t.Errorf("ErrorReason(%v) = %q; want unsupported_aspect_ratio", wrapped, got)
	}
	if got := credit.ErrorCode(wrapped); got != credit.Invalid {
		t.Errorf("ErrorCode(%v) = %q; want %q", wrapped, got, credit.Invalid)
	}
	if got := credit.ErrorReason(nil); got != "" {
		t.Errorf("ErrorReason(nil) = %q; want \"\"", got)
	}
	other := errors.New("disk on fire")
	if got := credit.ErrorReason(other); got != credit.Internal {
		t.Errorf("ErrorReason(%v) = %q; want %q", other, got, credit.Internal)
	}
	if got := credit.ErrorMessage(other); got != "internal error" {
		t.Errorf("ErrorMessage(%v) = %q; want \"internal error\"", other, got)
	}
	// Without a reason, the reason is the code.
	if got := credit.ErrorReason(&credit.Error{Code: credit.Conflict}); got != credit.Conflict {
		t.Errorf("ErrorReason(conflict without reason) = %q; want %q", got, credit.Conflict)
	}
}
