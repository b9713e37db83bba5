package httpapi_test

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// notAnswered are reasons in the scanned code that no HTTP request can get:
// key creation is the command line's alone, seeding is tally bench's, and a
// busy account only turns the expiry sweeper away.
var notAnswered = map[string]string{
	"invalid_key":       "tally keys create",
	"invalid_scope":     "tally keys create",
	"invalid_seed":      "tally bench (credit.SeedHistory)",
	"account_not_empty": "tally bench (credit.SeedHistory)",
	"account_busy":      "the expiry sweeper (Refs.TryLock)",
	"no_catalog":        "credit.Ledger.Impact without a catalog (the API always names one)",
}

// codePatterns find the stable codes the server answers with, in the code of
// the packages it serves from. The first group is the domain error code when
// there is one (an internal error is shown as "internal"), the last the
// reason.
var codePatterns = []*regexp.Regexp{
	regexp.MustCompile(`Errorf\((?:credit\.)?(\w+), "([a-z_]+)"`),
	regexp.MustCompile(`Code: (?:credit\.)?(\w+), Reason: +"([a-z_]+)"`),
	regexp.MustCompile(`newProblem\([^,]+(), "([a-z_]+)"`),
	regexp.MustCompile(`\bcode(?:, msg)? = ()"([a-z_]+)"`),
}

// TestREADMEErrorCodes fails when a code the server can answer is missing
// from README's table of error codes: the code is scanned when the test runs,
// so a new code fails it until the table names it.
func TestREADMEErrorCodes(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(readme), "\n### Errors\n")
	if !ok {
		t.Fatal("README.md has no ### Errors section")
	}
	section, _, _ = strings.Cut(section, "\n#")
	documented := map[string]bool{}
	for line := range strings.SplitSeq(section, "\n") {
		if cells := strings.Split(line, "|"); len(cells) > 2 {
			for _, m := range regexp.MustCompile("`([a-z_]+)`").FindAllStringSubmatch(cells[1], -1) {
				documented[m[1]] = true
			}
		}
	}
	if len(documented) < 30 {
		t.Fatalf("README's error table names %d codes; want the table of every code", len(documented))
	}

	used := map[string]string{} // code → where
	for _, dir := range []string{".", "../credit", "../catalog", "../imagesize", "../webhook"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if strings.HasSuffix(f, "_test.go") {
				continue
			}
			src, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			for _, re := range codePatterns {
				for _, m := range re.FindAllStringSubmatch(string(src), -1) {
					code, reason := m[1], m[2]
					if strings.HasSuffix(reason, "_") {
						continue // a prefix completed at run time ("unknown_"+what)
					}
					if code == "Internal" {
						reason = "internal"
					}
					used[reason] = f
				}
			}
		}
	}
	// Built at run time, so no pattern sees them: the canonical 404s, and
	// the conflicts of a top-up answered already ("topup_"+status).
	for _, r := range []string{"unknown_account", "unknown_generation", "unknown_hold", "unknown_subscription", "unknown_grant",
		"unknown_topup", "unknown_webhook", "unknown_delivery", "topup_canceled", "topup_confirmed"} {
		used[r] = "ledger.go (missing)"
	}
	for _, want := range []string{"invalid_amount", "rate_limited", "invalid_json", "not_found", "internal"} {
		if used[want] == "" {
			t.Errorf("the scan found no %s: the patterns no longer match the code", want)
		}
	}
	var missing []string
	for reason, where := range used {
		if !documented[reason] && notAnswered[reason] == "" {
			missing = append(missing, reason+" ("+where+")")
		}
	}
	slices.Sort(missing)
	for _, m := range missing {
		t.Errorf("README's error table does not name %s", m)
	}
}
