package httpapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tally-credits/tally/internal/credit"
)

// ledgerRoutes registers the routes served by the ledger (see auth.go for
// who may call each).
func (s *Server) ledgerRoutes() {
	s.accountRoutes()
	s.grantRoutes()
	s.subscriptionRoutes()
	s.memberRoutes()
	s.generationRoutes()
	s.holdRoutes()
	s.historyRoutes()
	s.auditRoutes()
	s.eventRoutes()
	s.webhookRoutes()
	s.topupRoutes()
	s.directoryRoutes()
	s.debitRoutes()
	s.reportRoutes()
	if s.catalogs != nil {
		s.impactRoutes()
	}
}

// register is huma.Register for a ledger route, secured for a. Inputs that
// carry RawBody (the bytes the idempotency hash is made of) would otherwise
// be documented as also taking application/octet-stream and would need a
// body even where the JSON body is optional: both are corrected here, on the
// request body huma fills in and serves from.
func register[I, O any](s *Server, op huma.Operation, a access, h func(context.Context, *I) (*O, error)) {
	op = secure(op, a)
	in := reflect.TypeFor[I]()
	_, hasRaw := in.FieldByName("RawBody")
	body, hasBody := in.FieldByName("Body")
	var rb *huma.RequestBody
	if hasRaw {
		rb = &huma.RequestBody{}
		op.RequestBody = rb
	}
	if op.MaxBodyBytes == 0 && (hasRaw || hasBody) {
		op.MaxBodyBytes = MaxBodyBytes + 1 // huma refuses a body that reaches the limit
	}
	op.Errors = append(op.Errors, http.StatusNotFound)
	if i := strings.Index(op.Path, "/{id}"); i >= 0 {
		// "/v1/accounts/{id}/grants" names an account: see checkPathID.
		op.Metadata[pathNounKey] = strings.TrimSuffix(op.Path[strings.LastIndex(op.Path[:i], "/")+1:i], "s")
	}
	if hasBody {
		op.Errors = append(op.Errors, http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType)
	}
	if op.Method == http.MethodPost && !slices.Contains(op.Errors, http.StatusConflict) {
		op.Errors = append(op.Errors, http.StatusConflict)
	}
	registerBody(s, op, h)
	if rb != nil {
		delete(rb.Content, "application/octet-stream")
		rb.Required = hasBody && body.Type.Kind() != reflect.Pointer
	}
}

// idempotency returns the ledger's idempotency record for a request carrying
// key ("" for none; every POST of the ledger takes the header, and struct
// tags cannot name a constant, so each input repeats its doc text): scoped to the API key that sent it, and fingerprinted
// by the SHA-256 of its method, path and body bytes.
func (s *Server) idempotency(ctx context.Context, key string, body []byte) (*credit.Idempotency, error) {
	if key == "" {
		return nil, nil
	}
	if err := credit.CheckIdempotencyKey(key); err != nil {
		return nil, err
	}
	req := requestOf(ctx)
	c, err := s.callerOf(ctx, req)
	if err != nil {
		return nil, err
	}
	h := sha256.New()
	h.Write([]byte(req.method + "\n" + req.path + "\n"))
	h.Write(body)
	return &credit.Idempotency{Scope: c.ID, Key: key, Hash: hex.EncodeToString(h.Sum(nil))}, nil
}

// Amount is an amount of credits in a request body: a JSON number with at
// most three decimals (73.5). It is kept as written and read with
// credit.ParseCredits by the handler, so that a malformed amount ("1.2345")
// is refused as invalid_amount, like a negative one, rather than as a
// generic schema error.
type Amount struct{ text string }

// UnmarshalJSON keeps the number's text.
func (a *Amount) UnmarshalJSON(b []byte) error {
	a.text = string(b)
	return nil
}

// MarshalJSON writes the number as it was given.
func (a Amount) MarshalJSON() ([]byte, error) {
	if a.text == "" {
		return []byte("null"), nil
	}
	return []byte(a.text), nil
}

// Schema describes an Amount as a JSON number (huma.SchemaProvider).
func (Amount) Schema(huma.Registry) *huma.Schema {
	return &huma.Schema{Type: "number", Description: "Credits: a decimal number, more than 0, with at most 3 decimals.", Examples: []any{73.5}}
}

// Credits parses the amount.
func (a Amount) Credits() (credit.Credits, error) { return credit.ParseCredits(a.text) }

// optCredits parses an optional amount (nil: not given).
func optCredits(a *Amount) (*credit.Credits, error) {
	if a == nil {
		return nil, nil
	}
	c, err := a.Credits()
	if err != nil {
		return nil, err
	}
	return &c, nil
}

// seconds turns an optional TTL in seconds into a duration: absent (nil) is
// the default (0 to the ledger); a given one, 0 included, must be 1 s to
// credit.MaxHoldTTL, checked here before it could overflow a time.Duration.
func seconds(n *int, field string) (time.Duration, error) {
	if n == nil {
		return 0, nil
	}
	if *n < 1 || *n > int(credit.MaxHoldTTL/time.Second) {
		return 0, credit.Errorf(credit.Invalid, "invalid_ttl", "%s must be 1 to %d seconds, not %d", field, int(credit.MaxHoldTTL/time.Second), *n)
	}
	return time.Duration(*n) * time.Second, nil
}

// pathNounKey is the huma.Operation.Metadata key of what a ledger route's
// {id} names: account, generation, hold, grant or subscription.
const pathNounKey = "tally.noun"

// missing is the one 404 for an account, generation, hold, grant or
// subscription: the same
// whether it does not exist or belongs to an account the key may not read.
func missing(what, id string) *Problem {
	return newProblem(http.StatusNotFound, "unknown_"+what, fmt.Sprintf("there is no %s %q", what, id), nil)
}

// failOn is fail for a request naming a thing: the store's not-found for it
// becomes the canonical 404, so that its text cannot tell a missing thing
// from a hidden one.
func (s *Server) failOn(err error, what, id string) error {
	if credit.ErrorCode(err) == credit.NotFound && credit.ErrorReason(err) == "unknown_"+what {
		return missing(what, id)
	}
	return s.fail(err)
}

// optTime is t, or nil when t is zero (absent in the JSON).
func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	u := t.UTC()
	return &u
}

// encodeJSON encodes v as huma does (no HTML escaping, one trailing newline).
func encodeJSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
