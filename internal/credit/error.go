package credit

import (
	"errors"
	"fmt"
	"time"
)

// The small set of error codes every layer understands. The HTTP edge maps each
// to one status; the CLI maps each to one exit code.
const (
	Invalid             = "invalid"              // the request can never succeed as written
	NotFound            = "not_found"            // the thing named does not exist
	Conflict            = "conflict"             // the request clashes with the current state
	InsufficientCredits = "insufficient_credits" // the balance cannot cover the request
	Unauthorized        = "unauthorized"         // no valid credentials
	Forbidden           = "forbidden"            // credentials valid, action not allowed
	Limited             = "limited"              // a plan's limit (concurrency, daily fast generations) is reached; retry later
	Unavailable         = "unavailable"          // the store cannot serve now (disk full, read-only, busy); retry later
	Internal            = "internal"             // a bug; details are logged, never shown
)

// Error is tally's one error type. Code is one of the small set above; Reason is
// the stable, specific code API clients program against (it is the problem
// JSON's "code": "unsupported_aspect_ratio", "unknown_model", …); Message is safe
// to show to a user; Allowed lists the values that would have been accepted,
// where that helps the caller fix the request.
type Error struct {
	Code    string
	Reason  string
	Message string
	Allowed []string
	// Available and Required explain an InsufficientCredits error;
	// Eligible is the part of Available the grants that may pay for the
	// request's model hold (Available when every grant may).
	Available, Required, Eligible Credits
	// ResetsAt is when a Limited error's limit resets (the account's next
	// local midnight for daily_limit_reached); zero when unknown.
	ResetsAt time.Time
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// Errorf returns an *Error with the given code, reason and formatted message.
func Errorf(code, reason, format string, args ...any) *Error {
	return &Error{Code: code, Reason: reason, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of err's *Error, Internal for any other non-nil
// error, and "" for nil.
func ErrorCode(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	default:
		return Internal
	}
}

// ErrorReason returns the specific reason of err's *Error, falling back to its
// code; it returns "internal" for any other non-nil error.
func ErrorReason(err error) string {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e) && e.Reason != "":
		return e.Reason
	case errors.As(err, &e):
		return e.Code
	default:
		return Internal
	}
}

// ErrorMessage returns err's message if it is an *Error, and "internal error"
// otherwise: messages of other errors may hold details that must not leak.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}
