package credit

import (
	"strconv"
)

// Credits is an amount of credits in thousandths: 73.5 credits is Credits(73500).
// Every amount in tally is a Credits; no floating point ever touches money, so a
// sum of charges always equals the charge of the sum.
type Credits int64

// Milli is the number of Credits in one whole credit.
const Milli Credits = 1000

// MaxCredits bounds every amount a catalog or a request may name (one billion
// credits). It keeps all price arithmetic far from int64 overflow.
const MaxCredits Credits = 1_000_000_000 * Milli

// Whole returns n whole credits.
func Whole(n int64) Credits { return Credits(n) * Milli }

// String formats c as a decimal with at most three decimals and no trailing
// zeros: 73500 is "73.5", 41000 is "41", -250 is "-0.25".
func (c Credits) String() string {
	var buf [24]byte
	return string(c.AppendText(buf[:0]))
}

// AppendText appends the decimal form of c to b (see String).
func (c Credits) AppendText(b []byte) []byte {
	v := int64(c)
	if v < 0 {
		b = append(b, '-')
		if v == -v { // math.MinInt64 has no positive twin; it is never a valid amount.
			return append(b, "9223372036854775.808"...)
		}
		v = -v
	}
	b = strconv.AppendInt(b, v/1000, 10)
	frac := v % 1000
	if frac == 0 {
		return b
	}
	digits := [3]byte{byte('0' + frac/100), byte('0' + frac/10%10), byte('0' + frac%10)}
	n := 3
	for digits[n-1] == '0' {
		n--
	}
	b = append(b, '.')
	return append(b, digits[:n]...)
}

// MarshalJSON writes c as a JSON number with at most three decimals (73.5).
func (c Credits) MarshalJSON() ([]byte, error) {
	return c.AppendText(make([]byte, 0, 16)), nil
}

// UnmarshalJSON reads a JSON number (or a string holding one) exactly, without
// passing through float64: 0.1 is 100 thousandths, never 99.
func (c *Credits) UnmarshalJSON(b []byte) error {
	s := string(b)
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		s = s[1 : len(s)-1]
	}
	v, err := ParseCredits(s)
	if err != nil {
		return err
	}
	*c = v
	return nil
}

// ParseCredits reads a decimal amount of credits such as "73.5", "0.001" or
// "1e3". It refuses more than three decimals (a fraction of a thousandth has no
// meaning in tally), signs other than a leading minus, and amounts beyond
// MaxCredits.
func ParseCredits(s string) (Credits, error) {
	orig := s
	bad := func(why string) (Credits, error) {
		return 0, Errorf(Invalid, "invalid_amount", "%q is not an amount of credits: %s", orig, why)
	}
	if s == "" {
		return bad("empty")
	}
	neg := false
	if s[0] == '-' {
		neg = true
		s = s[1:]
	}
	mant, exp := s, 0
	for i := 0; i < len(s); i++ {
		if s[i] == 'e' || s[i] == 'E' {
			mant = s[:i]
			e, err := strconv.Atoi(s[i+1:])
			if err != nil || e < -30 || e > 30 {
				return bad("bad exponent")
			}
			exp = e
			break
		}
	}
	intPart, fracPart := mant, ""
	for i := 0; i < len(mant); i++ {
		if mant[i] == '.' {
			intPart, fracPart = mant[:i], mant[i+1:]
			break
		}
	}
	if intPart == "" && fracPart == "" {
		return bad("no digits")
	}
	digits := intPart + fracPart
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return bad("not a number")
		}
	}
	// value = digits × 10^(exp - len(fracPart)); in thousandths: × 10^(exp - len(fracPart) + 3).
	shift := exp - len(fracPart) + 3
	// Drop leading zeros so long zero-padded inputs do not look like overflow.
	for len(digits) > 1 && digits[0] == '0' {
		digits = digits[1:]
	}
	if digits == "0" {
		return 0, nil // zero at any exponent
	}
	for shift < 0 {
		if digits[len(digits)-1] != '0' {
			return bad("more than three decimals")
		}
		digits = digits[:len(digits)-1]
		shift++
		if digits == "" {
			digits = "0"
		}
	}
	if len(digits)+shift > 16 {
		return bad("too large")
	}
	var v int64
	for i := 0; i < len(digits); i++ {
		v = v*10 + int64(digits[i]-'0')
	}
	for ; shift > 0; shift-- {
		v *= 10
	}
	if Credits(v) > MaxCredits {
		return bad("too large")
	}
	if neg {
		v = -v
	}
	return Credits(v), nil
}
