package credit_test

import (
	"strings"
	"testing"

	"github.com/tally-credits/tally/internal/credit"
)

// TestCheckAccountID pins the account id alphabet: visible characters only,
// counted as characters, and never a path segment a URL normalises away.
func TestCheckAccountID(t *testing.T) {
	for _, tc := range []struct {
		id string
		ok bool
	}{
		{"user_42", true},
		{"team-ACME.prod@eu", true},
		{"ünïcødé", true},
		{"用户42", true},
		{"q\u0301", true}, // q and a combining acute accent: a mark (no composed q́ exists)
		{"a.", true},
		{"...", true},
		{strings.Repeat("é", 100), true}, // 200 bytes, 100 characters
		{strings.Repeat("é", 128), true},
		{strings.Repeat("x", 128), true},

		{"", false},
		{strings.Repeat("é", 129), false},
		{strings.Repeat("x", 129), false},
		{".", false},
		{"..", false},
		{"a b", false},
		{"tab\tin", false},
		{"a\x00b", false},
		{"\xff", false},
		{"\xc3\x28", false},     // a broken two-byte sequence
		{"\xed\xa0\x80", false}, // a UTF-16 surrogate, encoded
		{"alice\u0085", false},  // NEXT LINE (Cc)
		{"alice\u009b", false},  // CONTROL SEQUENCE INTRODUCER (Cc)
		{"ali\u00a0ce", false},  // NO-BREAK SPACE (Zs)
		{"alice\u200b", false},  // ZERO WIDTH SPACE (Cf)
		{"alice\u2028", false},  // LINE SEPARATOR (Zl)
		{"\u202ealice", false},  // RIGHT-TO-LEFT OVERRIDE (Cf)
		{"\ufeffalice", false},  // BYTE ORDER MARK (Cf)
		{"ali\u3000ce", false},  // IDEOGRAPHIC SPACE (Zs)
		{"alice\u00ad", false},  // SOFT HYPHEN (Cf)
		{"\ue000", false},       // private use (Co)
		{"\U000e0041", false},   // TAG LATIN CAPITAL LETTER A (Cf)
		{"\U0010fffe", false},   // a noncharacter, unassigned
		{"caf\u00e9", true},     // é, one character (NFC)
		{"cafe\u0301", false},   // e and COMBINING ACUTE ACCENT (NFD): the same name, another form
		{"\u1100\u1161", false}, // Hangul jamo that compose into one syllable
		{"\uac00", true},        // that syllable, composed
	} {
		err := credit.CheckAccountID(tc.id)
		switch {
		case tc.ok && err != nil:
			t.Errorf("CheckAccountID(%+q) = %v; want nil", tc.id, err)
		case !tc.ok && credit.ErrorReason(err) != "invalid_account_id":
			t.Errorf("CheckAccountID(%+q) = %v; want invalid_account_id", tc.id, err)
		case !tc.ok && credit.ErrorCode(err) != credit.Invalid:
			t.Errorf("CheckAccountID(%+q) code = %s; want %s", tc.id, credit.ErrorCode(err), credit.Invalid)
		}
	}
}

// TestCheckIdempotencyKey pins what an Idempotency-Key may be: 1 to 255
// visible ASCII characters.
func TestCheckIdempotencyKey(t *testing.T) {
	for _, tc := range []struct {
		key string
		ok  bool
	}{
		{"k", true},
		{"0f8e2c5a-6b1d-4c1e-9a9b-3c2d1e0f4a5b", true},
		{"!~", true},
		{strings.Repeat("k", 255), true},

		{"", false},
		{strings.Repeat("k", 256), false},
		{"a b", false},
		{"a\x00b", false},
		{"\xff", false},
		{"\x7f", false},
		{"clé", false},
		{"key\u202e", false},
	} {
		err := credit.CheckIdempotencyKey(tc.key)
		switch {
		case tc.ok && err != nil:
			t.Errorf("CheckIdempotencyKey(%+q) = %v; want nil", tc.key, err)
		case !tc.ok && credit.ErrorReason(err) != "invalid_idempotency_key":
			t.Errorf("CheckIdempotencyKey(%+q) = %v; want invalid_idempotency_key", tc.key, err)
		}
	}
}
