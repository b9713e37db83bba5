package httpapi

import (
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/validation"

	"github.com/tally-credits/tally/internal/credit"
)

// Problem is an RFC 9457 problem document, tally's only error body. Code is the
// stable reason clients program against ("unsupported_aspect_ratio"); Allowed
// says what would have been accepted, where that helps.
type Problem struct {
	Type     string       `json:"type" doc:"Always about:blank; code says what happened."`
	Title    string       `json:"title" doc:"The HTTP status text."`
	Status   int          `json:"status"`
	Detail   string       `json:"detail" doc:"One sentence, safe to show to a user."`
	Instance string       `json:"instance,omitempty"`
	Code     string       `json:"code" doc:"Stable machine-readable reason, e.g. unsupported_aspect_ratio."`
	Allowed  []string     `json:"allowed,omitempty" doc:"The values that would have been accepted."`
	Errors   []FieldError `json:"errors,omitempty" doc:"Per-field details of a malformed request."`
	// RequestID is the request's X-Request-Id, so that a report of a
	// refusal can be found in the access log.
	RequestID string `json:"request_id,omitempty" doc:"The request's id, as its X-Request-Id header and the access log carry it."`
	// AvailableCredits and RequiredCredits explain insufficient_credits;
	// EligibleAvailableCredits is the part of AvailableCredits that may pay
	// for the request's model (grants limited by applies_to to other models
	// do not).
	AvailableCredits         *credit.Credits `json:"available_credits,omitempty"`
	RequiredCredits          *credit.Credits `json:"required_credits,omitempty"`
	EligibleAvailableCredits *credit.Credits `json:"eligible_available_credits,omitempty" doc:"insufficient_credits: the part of available_credits that may pay for this model (grants limited to other models by applies_to do not)."`
	// RemainingCredits is what is left of a team member's monthly limit
	// (member_limit_exceeded): the member's, not the pool's, so it is not
	// available_credits.
	RemainingCredits *credit.Credits `json:"remaining_credits,omitempty" doc:"member_limit_exceeded: what is left of the member's monthly limit in the period under way."`
	// ResetsAt is when a limit resets: a plan's daily limit
	// (daily_limit_reached), a team member's monthly one
	// (member_limit_exceeded).
	ResetsAt *time.Time `json:"resets_at,omitempty" doc:"daily_limit_reached: the account's next local midnight, when the day's fast generations reset; member_limit_exceeded: the end of the member's period, when their limit is whole again."`
}

// FieldError locates one problem in a request ("body.images").
type FieldError struct {
	Location string `json:"location,omitempty"`
	Message  string `json:"message"`
}

// Error returns the detail.
func (p *Problem) Error() string { return p.Detail }

// GetStatus returns the HTTP status (huma.StatusError).
func (p *Problem) GetStatus() int { return p.Status }

// ContentType makes huma send problems as application/problem+json.
func (p *Problem) ContentType(string) string { return "application/problem+json" }

// statusOf is the one map from domain error codes to HTTP statuses.
var statusOf = map[string]int{
	credit.Invalid:             http.StatusUnprocessableEntity,
	credit.NotFound:            http.StatusNotFound,
	credit.Conflict:            http.StatusConflict,
	credit.InsufficientCredits: http.StatusPaymentRequired,
	credit.Unauthorized:        http.StatusUnauthorized,
	credit.Forbidden:           http.StatusForbidden,
	credit.Limited:             http.StatusTooManyRequests,
	credit.Unavailable:         http.StatusServiceUnavailable,
	credit.Internal:            http.StatusInternalServerError,
}

// ProblemFor turns any error into the problem clients see. Internal errors are
// logged with their details and shown only as "internal error".
func ProblemFor(err error, log *slog.Logger) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	var e *credit.Error
	if !errors.As(err, &e) || e.Code == credit.Internal {
		// An internal error's text may hold SQL or paths: log it, never show it.
		if log != nil {
			log.Error("internal error", "err", err)
		}
		e = &credit.Error{Code: credit.Internal, Reason: credit.Internal, Message: "internal error"}
	}
	if e.Code == credit.Unavailable && log != nil {
		log.Warn("store unavailable", "err", err)
	}
	status, ok := statusOf[e.Code]
	if !ok {
		status = http.StatusInternalServerError
	}
	p = newProblem(status, credit.ErrorReason(e), e.Message, e.Allowed)
	switch e.Code {
	case credit.InsufficientCredits:
		available, required, eligible := e.Available, e.Required, e.Eligible
		if p.Code == "member_limit_exceeded" {
			// What is short is the member's budget, not the pool.
			p.RemainingCredits, p.RequiredCredits, p.ResetsAt = &available, &required, optTime(e.ResetsAt)
			break
		}
		p.AvailableCredits, p.RequiredCredits, p.EligibleAvailableCredits = &available, &required, &eligible
	case credit.Limited:
		p.ResetsAt = optTime(e.ResetsAt)
	}
	return p
}

func newProblem(status int, code, detail string, allowed []string) *Problem {
	return &Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Detail: detail, Code: code, Allowed: allowed}
}

// humaError replaces huma's error constructor so that the errors huma raises
// itself (unreadable JSON, unknown fields, a body too large) are tally problems
// with stable codes too. huma calls it with its own status and message.
func humaError(status int, msg string, errs ...error) huma.StatusError {
	var fields []FieldError
	unknownField := false
	for _, err := range errs {
		var d *huma.ErrorDetail
		if status == http.StatusUnprocessableEntity && errors.As(err, &d) && d.Location == "body" &&
			strings.HasPrefix(d.Message, huma.ErrUnknownContentType.Error()) {
			// A body read once (jsonBody) skips huma's validation, which
			// answered a media type it cannot read with 415; huma now reports
			// it as the body's decoding error, with its default 422.
			status = http.StatusUnsupportedMediaType
		}
	}
	for _, err := range errs {
		if err == nil {
			continue
		}
		var d *huma.ErrorDetail
		if errors.As(err, &d) {
			msg := d.Message
			if strings.HasPrefix(msg, "json: ") {
				// encoding/json names Go types; say what matters to the client.
				msg = "a value has the wrong type or is out of range"
			}
			fields = append(fields, FieldError{Location: d.Location, Message: msg})
			unknownField = unknownField || d.Message == validation.MsgUnexpectedProperty
			continue
		}
		if p, ok := err.(*Problem); ok {
			return p
		}
		// Anything else is an internal detail: never echo it to the client.
	}
	code := credit.Internal
	switch {
	case status == http.StatusBadRequest:
		code, msg = "invalid_json", "the request body is not valid JSON"
		if len(fields) == 0 {
			msg = "the request body is missing"
			code = "missing_body"
		}
	case status == http.StatusRequestEntityTooLarge:
		code, msg = "body_too_large", "the request body is larger than 1 MiB"
	case status == http.StatusUnsupportedMediaType:
		code, msg = "unsupported_media_type", "send the request body as application/json"
	case status == http.StatusUnprocessableEntity && unknownField:
		code, msg = "unknown_field", "the request has a field this API does not know"
	case status == http.StatusUnprocessableEntity:
		code, msg = "invalid_request", "the request does not match the schema"
	case status == http.StatusRequestTimeout:
		code, msg = "request_timeout", "the request body was not received in time"
	case status == http.StatusNotFound:
		code = "not_found"
	case status < 500:
		code = "invalid_request"
	default:
		msg = "internal error"
	}
	p := newProblem(status, code, msg, nil)
	p.Errors = fields
	return p
}

func init() {
	huma.NewError = humaError
	// JSON Schema property names are case-sensitive, and so is the OpenAPI
	// document: {"Model": …} is an unknown field, not the model.
	huma.ValidateStrictCasing = true
}

// writeProblem writes p outside huma (for the plain handlers).
func writeProblem(w http.ResponseWriter, p *Problem) {
	if id := w.Header().Get(RequestIDHeader); id != "" && p.RequestID == "" {
		c := *p
		c.RequestID = id
		p = &c
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(p.Status)
	_ = jsonEncode(w, p)
}
