package credit

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// NewID returns a new id such as "gen_01jz3…": a prefix, then 48 bits of
// milliseconds and 80 random bits in Crockford's base32, so that ids sort by
// creation time and never collide in practice.
func NewID(prefix string, now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	_, _ = rand.Read(b[6:])
	var sb strings.Builder
	sb.WriteString(prefix)
	sb.WriteByte('_')
	sb.WriteString(idEncoding.EncodeToString(b[:]))
	return sb.String()
}

// MaxAccountIDLength is the most characters (runes, not bytes) an account id
// may have: 100 accented letters are as good an id as 100 ASCII ones.
const MaxAccountIDLength = 128

// CheckAccountID is the one definition of an account id, applied wherever an
// id enters tally (the ledger's account creation and every operation naming
// an account, the API's paths and bodies, the command line through the
// ledger). An account id is valid UTF-8 of 1 to MaxAccountIDLength
// characters, each a letter, mark, number, punctuation or symbol (Unicode
// categories L, M, N, P, S): no spaces or separators (Z*), and no control,
// format, private-use, surrogate or unassigned characters (C*). So two ids
// that look the same are the same (no "alice" beside "alice" with a
// zero-width space or a right-to-left override), and every id can be stored
// by both stores and shown in a terminal. An id is in Unicode's composed
// form (NFC), so "é" written as one character and as "e" with a combining
// accent cannot be two accounts either. "." and ".." are refused too:
// every client that normalises a URL path (the console, browsers, curl)
// turns /v1/accounts/.. into another route, so such an account could
// never be reached. Invalid invalid_account_id otherwise.
func CheckAccountID(id string) error {
	bad := func(why string) error {
		return Errorf(Invalid, "invalid_account_id", "an account id is 1 to %d letters, digits, punctuation or symbols%s", MaxAccountIDLength, why)
	}
	switch {
	case id == "":
		return bad(", not empty")
	case !utf8.ValidString(id):
		return bad(": this one is not valid UTF-8")
	case id == "." || id == "..":
		return bad(`, and not "." or ".." (a URL path cannot name them)`)
	case utf8.RuneCountInString(id) > MaxAccountIDLength:
		return bad(fmt.Sprintf(": this one has %d characters", utf8.RuneCountInString(id)))
	}
	for _, r := range id {
		if !visible(r) {
			return bad(fmt.Sprintf(", without spaces, control or invisible characters: this one has %U", r))
		}
	}
	if !norm.NFC.IsNormalString(id) {
		return bad(", in Unicode's composed form (NFC): this one has characters written apart that compose into one")
	}
	return nil
}

// named answers an id that cannot name anything (outside CheckAccountID's
// alphabet: NUL, invalid UTF-8, spaces, control or invisible characters)
// with the NotFound (unknown_<noun>) an unknown id gets, before any store is
// asked: PostgreSQL's text cannot even compare such bytes, SQLite can, and
// both must answer alike. Every id tally makes (gen_…, hld_…, key ids) is
// within the alphabet.
func named(id, noun string) error {
	if CheckAccountID(id) != nil {
		return Errorf(NotFound, "unknown_"+noun, "there is no %s %q", noun, id)
	}
	return nil
}

// visible reports whether r is a letter, mark, number, punctuation or symbol:
// a character that shows as itself.
func visible(r rune) bool {
	return unicode.In(r, unicode.L, unicode.M, unicode.N, unicode.P, unicode.S)
}
