package httpapi

import (
	"encoding/json"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tally-credits/tally/internal/credit"
)

// timeFormats says, in the words of every refusal and every field's
// documentation, which times the API reads.
const timeFormats = `RFC 3339, like "2026-12-01T00:00:00Z", or a date, like "2026-12-01" (that day's midnight, UTC)`

// Time is a point in time in a request body: RFC 3339 or a plain date (that
// day's UTC midnight). Like Amount it is kept as written and read by the
// handler, so that a malformed time is refused as invalid_time naming the
// formats the API reads, never with a Go layout; and a *Time tells a time that
// was given, even 0001-01-01T00:00:00Z (Go's zero time), from one that was
// not (JSON null or absent).
type Time struct{ text string }

// UnmarshalJSON keeps the string's text. Anything but a JSON string is left
// to the schema, which refuses it.
func (t *Time) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return err
	}
	t.text = s
	return nil
}

// MarshalJSON writes the time as it was given.
func (t Time) MarshalJSON() ([]byte, error) { return json.Marshal(t.text) }

// Schema describes a Time as a string (huma.SchemaProvider). It names no
// format: date-time would refuse a plain date before the handler reads it.
func (Time) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{Type: "string", Description: "A time: " + timeFormats + ".", Examples: []any{"2027-01-01T00:00:00Z"}}
}

// Time reads the time, field naming it in a refusal.
func (t Time) Time(field string) (time.Time, error) { return parseTime(field, t.text) }

// parseTime reads a time the client gave as field: RFC 3339, or a plain date
// as that day's UTC midnight. Anything else is Invalid invalid_time with the
// formats and an example.
func parseTime(field, s string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	return time.Time{}, credit.Errorf(credit.Invalid, "invalid_time", "%s %q is not a time: give %s", field, s, timeFormats)
}

// optTimeParam reads an optional time query parameter: "" is absent (nil),
// anything else is read by parseTime and taken as given, even Go's zero time.
func optTimeParam(field, s string) (*time.Time, error) {
	if s == "" {
		return nil, nil
	}
	t, err := parseTime(field, s)
	if err != nil {
		return nil, err
	}
	return &t, nil
}
