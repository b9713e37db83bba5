package httpapi

import "testing"

// TestCSVText checks each character OWASP lists as starting a formula, and
// that other cells, numbers written as text included, are left alone.
func TestCSVText(t *testing.T) {
	for in, want := range map[string]string{
		"=1+1": "'=1+1", "+1": "'+1", "-1": "'-1", "@SUM(A1)": "'@SUM(A1)", "\tx": "'\tx", "\rx": "'\rx",
		"": "", "a=1": "a=1", "49": "49", "'=1": "'=1", " =1": " =1", "nano-banana-2": "nano-banana-2",
	} {
		if got := csvText(in); got != want {
			t.Errorf("csvText(%q) = %q; want %q", in, got, want)
		}
	}
}
