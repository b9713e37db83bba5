package httpapi

import (
	"bytes"
	"io"
	"mime"
	"net/http"
	"unicode/utf8"

	"github.com/danielgtaylor/huma/v2"

	"github.com/tally-credits/tally/internal/credit"
)

// What the edge refuses before any handler or store sees it. PostgreSQL's
// text cannot hold a NUL or invalid UTF-8, SQLite keeps any bytes: so bytes
// outside what tally documents are refused here, the same way on both
// stores, with a stable code and nothing written:
//
//	a path id outside credit.CheckAccountID's alphabet   404 unknown_account, unknown_generation, unknown_hold
//	an id in a body (account, id)                          422 invalid_account_id (the ledger)
//	an Idempotency-Key not 1–255 visible ASCII characters  422 invalid_idempotency_key (the ledger)
//	a memo with control characters or over 1000 bytes      422 invalid_memo (the ledger)
//	a JSON body that is not UTF-8                          400 invalid_json
//	a bearer token that is not visible ASCII               401 unauthorized (auth.go)

// checkPathID is the huma middleware that answers a path id which cannot be
// an id with the 404 an unknown one gets, before any handler or store sees
// it: bytes outside the id alphabet (NUL, invalid UTF-8, spaces, control or
// invisible characters) name nothing, and PostgreSQL would refuse to even
// compare them. Every id tally makes (gen_…, hld_…) and every account id is
// within credit.CheckAccountID's alphabet. It runs after authenticate, so
// that a caller without a key learns nothing from the answer.
func (s *Server) checkPathID(ctx huma.Context, next func(huma.Context)) {
	if noun, ok := ctx.Operation().Metadata[pathNounKey].(string); ok {
		if id := ctx.Param("id"); credit.CheckAccountID(id) != nil {
			s.writeError(ctx, missing(noun, id))
			return
		}
	}
	next(ctx)
}

// utf8Bodies refuses an API request whose JSON body is not UTF-8 (RFC 8259
// §8.1) with 400 invalid_json. encoding/json would otherwise replace each
// bad byte with U+FFFD, so a memo or an id would be stored as something
// the client never sent. A body over MaxBodyBytes is passed on unread past
// the limit, for huma to refuse as body_too_large.
func utf8Bodies(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if r.Body == nil || r.Body == http.NoBody || !apiPath(r.URL.Path) || mt != "application/json" {
			next.ServeHTTP(w, r)
			return
		}
		b, err := io.ReadAll(io.LimitReader(r.Body, MaxBodyBytes+1))
		if err == nil && len(b) <= MaxBodyBytes && !utf8.Valid(b) {
			writeProblem(w, newProblem(http.StatusBadRequest, "invalid_json", "the request body is not valid JSON: it is not UTF-8", nil))
			return
		}
		// Hand the body on as it came: what was read, then the rest (and a
		// read error, which huma reports as it would have).
		r.Body = struct {
			io.Reader
			io.Closer
		}{io.MultiReader(bytes.NewReader(b), errReader{err}, r.Body), r.Body}
		next.ServeHTTP(w, r)
	})
}

// errReader returns err (io.EOF when nil) on every read.
type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	return 0, io.EOF
}
