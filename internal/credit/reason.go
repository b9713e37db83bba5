package credit

import (
	"context"
	"unicode"
	"unicode/utf8"
)

// MaxReasonBytes bounds the reason a person gives for an action.
const MaxReasonBytes = 500

type reasonKey struct{}

// WithReason returns ctx carrying why a person acts through it (a support
// agent's "duplicate charge, ticket 4411"). Like the actor, it is who and
// why, not what: the ledger records it in the detail of the action's audit
// entry ("reason"), and audits a refund or a hold's release only when one
// was given, since those are otherwise the studio's own automatic calls.
func WithReason(ctx context.Context, reason string) context.Context {
	return context.WithValue(ctx, reasonKey{}, reason)
}

// ReasonOf returns the reason WithReason put in ctx ("" when none).
func ReasonOf(ctx context.Context) string {
	r, _ := ctx.Value(reasonKey{}).(string)
	return r
}

// CheckReason refuses (Invalid invalid_reason) a reason longer than
// MaxReasonBytes, not UTF-8, or with control characters.
func CheckReason(reason string) error {
	if len(reason) > MaxReasonBytes {
		return Errorf(Invalid, "invalid_reason", "a reason is at most %d bytes, not %d", MaxReasonBytes, len(reason))
	}
	if !utf8.ValidString(reason) {
		return Errorf(Invalid, "invalid_reason", "a reason must be UTF-8 text")
	}
	for _, r := range reason {
		if unicode.IsControl(r) {
			return Errorf(Invalid, "invalid_reason", "a reason must be one line of text, without control characters")
		}
	}
	return nil
}
