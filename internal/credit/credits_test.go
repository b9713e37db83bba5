package credit_test

import (
	"encoding/json"
	"errors"
	"math"
	"testing"

	"github.com/tally-credits/tally/internal/credit"
)

func TestParseCredits(t *testing.T) {
	tests := []struct {
		in   string
		want credit.Credits // thousandths
	}{
		{"73.5", 73_500},
		{"0.001", 1},
		{"1e3", 1_000_000},
		{"1E3", 1_000_000},
		{"1e+3", 1_000_000}, // JSON allows a sign on the exponent
		{"1e-3", 1},
		{"2.5e2", 250_000},
		{"0.0010", 1}, // a trailing zero past the third decimal is still exact
		{"10e-4", 1},
		{"100000e-5", 1_000},
		{"41", 41_000},
		{"98", 98_000},
		{"1040", 1_040_000},
		{"0.1", 100},
		{"0.25", 250},
		{"-0.25", -250},
		{"-73.5", -73_500},
		{"0", 0},
		{"-0", 0},
		{"0.000", 0},
		{"000073.500", 73_500},
		{"1000000000", 1_000_000_000_000}, // MaxCredits, one billion credits
		{"-1000000000", -1_000_000_000_000},
		{"1e9", 1_000_000_000_000},
		{"999999999.999", 999_999_999_999},
	}
	for _, tt := range tests {
		got, err := credit.ParseCredits(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseCredits(%q) = %d, %v; want %d, nil", tt.in, got, err, tt.want)
		}
	}
}

func TestParseCreditsRefused(t *testing.T) {
	for _, in := range []string{
		"1.5e-3",         // 0.0015: four decimals
		"0.0001",         // four decimals
		"73.5001",        // four decimals
		"15e-4",          // 0.0015
		"abc",            // not a number
		"",               // empty
		"1.2.3",          // two points
		"--1",            // two signs
		"-+1",            // two signs
		"-",              // a sign alone
		".",              // a point alone
		"1e99",           // exponent out of range
		"1e-31",          // exponent out of range
		"1e",             // exponent missing
		"e3",             // mantissa missing
		"1e3.5",          // fractional exponent
		"1,5",            // comma
		" 1",             // space
		"1 ",             // space
		"1-",             // trailing sign
		"0x10",           // hexadecimal
		"NaN",            // not a number
		"Inf",            // not a number
		"1000000000.001", // beyond MaxCredits
		"-1000000000.001",
		"1e10",
		"99999999999999999999999",
	} {
		got, err := credit.ParseCredits(in)
		var e *credit.Error
		if !errors.As(err, &e) {
			t.Errorf("ParseCredits(%q) = %d, %v; want an *credit.Error", in, got, err)
			continue
		}
		if e.Code != credit.Invalid || credit.ErrorReason(err) != "invalid_amount" {
			t.Errorf("ParseCredits(%q) error = %q %q; want invalid invalid_amount", in, e.Code, credit.ErrorReason(err))
		}
		if got != 0 {
			t.Errorf("ParseCredits(%q) = %d with an error; want 0", in, got)
		}
	}
}

// TestParseCreditsDocumented holds two cases where ParseCredits disagrees with
// its doc comment ("It refuses … signs other than a leading minus, and amounts
// beyond MaxCredits").
func TestParseCreditsDocumented(t *testing.T) {
	// A leading plus is a sign other than a leading minus.
	if got, err := credit.ParseCredits("+1"); err == nil {
		t.Errorf("ParseCredits(%q) = %d, nil; want an error (only a leading minus is allowed)", "+1", got)
	}
	// Zero is not beyond MaxCredits, whatever its exponent; "0e20" is a valid JSON number.
	for _, in := range []string{"0e20", "0.0e30"} {
		if got, err := credit.ParseCredits(in); err != nil || got != 0 {
			t.Errorf("ParseCredits(%q) = %d, %v; want 0, nil", in, got, err)
		}
	}
}

func TestCreditsString(t *testing.T) {
	tests := []struct {
		in   credit.Credits
		want string
	}{
		{73_500, "73.5"},
		{41_000, "41"},
		{1, "0.001"},
		{10, "0.01"},
		{100, "0.1"},
		{-250, "-0.25"},
		{-1, "-0.001"},
		{0, "0"},
		{1_234_567, "1234.567"},
		{1_040_000, "1040"},
		{1_000_000_000_000, "1000000000"},
		{math.MaxInt64, "9223372036854775.807"},
		{math.MinInt64, "-9223372036854775.808"},
	}
	for _, tt := range tests {
		if got := tt.in.String(); got != tt.want {
			t.Errorf("Credits(%d).String() = %q; want %q", int64(tt.in), got, tt.want)
		}
		if got := string(tt.in.AppendText([]byte("x="))); got != "x="+tt.want {
			t.Errorf("Credits(%d).AppendText(\"x=\") = %q; want %q", int64(tt.in), got, "x="+tt.want)
		}
		b, err := tt.in.MarshalJSON()
		if err != nil || string(b) != tt.want {
			t.Errorf("Credits(%d).MarshalJSON() = %s, %v; want %s, nil", int64(tt.in), b, err, tt.want)
		}
	}
	if got := credit.Whole(41); got != 41_000 {
		t.Errorf("Whole(41) = %d; want 41000", got)
	}
}

// TestCreditsRoundTrip checks that String and ParseCredits are inverse over a
// range that covers every fraction of a credit, both signs.
func TestCreditsRoundTrip(t *testing.T) {
	for v := credit.Credits(-5_000); v <= 5_000; v++ {
		got, err := credit.ParseCredits(v.String())
		if err != nil || got != v {
			t.Fatalf("ParseCredits(%q) = %d, %v; want %d, nil", v.String(), got, err, int64(v))
		}
	}
}

func TestCreditsJSON(t *testing.T) {
	type amounts struct {
		Unit  credit.Credits `json:"unit"`
		Total credit.Credits `json:"total"`
		Tiny  credit.Credits `json:"tiny"`
		Neg   credit.Credits `json:"neg"`
		Zero  credit.Credits `json:"zero"`
	}
	in := amounts{Unit: 160_000, Total: 480_000, Tiny: 1, Neg: -250, Zero: 0}
	b, err := json.Marshal(in)
	const want = `{"unit":160,"total":480,"tiny":0.001,"neg":-0.25,"zero":0}`
	if err != nil || string(b) != want {
		t.Errorf("json.Marshal(%+v) = %s, %v; want %s", in, b, err, want)
	}
	var out amounts
	if err := json.Unmarshal(b, &out); err != nil || out != in {
		t.Errorf("json.Unmarshal(%s) = %+v, %v; want %+v", b, out, err, in)
	}

	decode := []struct {
		in   string
		want credit.Credits
	}{
		{`73.5`, 73_500},
		{`0.1`, 100}, // exactly, never 99 through float64
		{`0.001`, 1},
		{`1e3`, 1_000_000},
		{`"73.5"`, 73_500}, // a string holding a number
		{`"0.001"`, 1},
		{`-0.25`, -250},
		{`4.0E+1`, 40_000},
	}
	for _, tt := range decode {
		var v struct {
			C credit.Credits `json:"c"`
		}
		doc := `{"c":` + tt.in + `}`
		if err := json.Unmarshal([]byte(doc), &v); err != nil || v.C != tt.want {
			t.Errorf("json.Unmarshal(%s) = %d, %v; want %d, nil", doc, v.C, err, tt.want)
		}
		var c credit.Credits
		if err := c.UnmarshalJSON([]byte(tt.in)); err != nil || c != tt.want {
			t.Errorf("UnmarshalJSON(%s) = %d, %v; want %d, nil", tt.in, c, err, tt.want)
		}
	}

	for _, in := range []string{`0.0001`, `"abc"`, `""`, `true`, `[1]`, `{}`, `"1.5e-3"`, `1e99`} {
		var v struct {
			C credit.Credits `json:"c"`
		}
		doc := `{"c":` + in + `}`
		err := json.Unmarshal([]byte(doc), &v)
		if err == nil {
			t.Errorf("json.Unmarshal(%s) = %d, nil; want an error", doc, v.C)
			continue
		}
		if got := credit.ErrorReason(err); got != "invalid_amount" {
			t.Errorf("json.Unmarshal(%s) error reason = %q (%v); want invalid_amount", doc, got, err)
		}
	}
}
