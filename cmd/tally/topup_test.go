package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestAlertAndTopupCommands runs account alerts, account auto-topup and
// topup list|confirm|cancel on a SQLite file: an auto top-up set below its
// threshold asks at once; confirming grants its credits once, however often
// it is run; refusals name their flag or argument and write nothing.
func TestAlertAndTopupCommands(t *testing.T) {
	db := filepath.Join(t.TempDir(), "tally.db")
	cliOK(t, "migrate", "--db", db)
	cliOK(t, "account", "create", "lee", "--db", db)
	cliOK(t, "account", "grant", "lee", "100", "--db", db)

	if out := cliOK(t, "account", "alerts", "lee", "--low-balance", "50", "--db", db); out != "account lee: balance.low when available credits fall below 50 (now 100)\n" {
		t.Errorf("account alerts --low-balance 50 = %q", out)
	}
	var acct struct {
		Low       float64 `json:"low_balance_credits"`
		AutoTopup *struct {
			Threshold float64 `json:"threshold_credits"`
			Amount    float64 `json:"amount_credits"`
			Cap       float64 `json:"monthly_cap_credits"`
		} `json:"auto_topup"`
		Available float64 `json:"available_credits"`
	}
	cliJSON(t, &acct, "account", "alerts", "lee", "--low-balance", "50", "--db", db)
	if acct.Low != 50 || acct.AutoTopup != nil {
		t.Errorf("account alerts --json = %+v; want low_balance_credits 50, auto_topup null", acct)
	}

	cliRefused(t, []string{"--threshold, --amount and --monthly-cap", "give all three"}, "account", "auto-topup", "lee", "--db", db, "--threshold", "200")
	cliRefused(t, []string{"--off", "alone"}, "account", "auto-topup", "lee", "--db", db, "--off", "--amount", "5")
	cliRefused(t, []string{"--threshold", "allowed: 0 or more credits"}, "account", "auto-topup", "lee", "--db", db, "--threshold", "lots", "--amount", "1", "--monthly-cap", "1")
	cliRefused(t, []string{"--monthly-cap", "must be at least", "--amount"}, "account", "auto-topup", "lee", "--db", db, "--threshold", "200", "--amount", "100", "--monthly-cap", "50")
	cliRefused(t, []string{"--low-balance", "allowed: 0 or more credits"}, "account", "alerts", "lee", "--db", db, "--low-balance", "-1")
	cliRefused(t, []string{"--low-balance", "give the threshold"}, "account", "alerts", "lee", "--db", db)
	cliRefused(t, []string{`unknown account "nobody"`}, "account", "alerts", "nobody", "--db", db, "--low-balance", "5")
	var tops struct {
		Account string `json:"account"`
		Topups  []struct {
			ID      string  `json:"id"`
			Credits float64 `json:"credits"`
			Status  string  `json:"status"`
			Grant   string  `json:"grant"`
		} `json:"topups"`
	}
	cliJSON(t, &tops, "topup", "list", "lee", "--db", db)
	if tops.Account != "lee" || len(tops.Topups) != 0 {
		t.Fatalf("topup list after the refusals = %+v; want none", tops)
	}

	// Below the threshold already (100 < 200): it asks at once.
	out := cliOK(t, "account", "auto-topup", "lee", "--threshold", "200", "--amount", "100", "--monthly-cap", "300", "--db", db)
	if out != "account lee: asks for 100 credits when available credits fall below 200, at most 300 a month (now 100)\n" {
		t.Errorf("account auto-topup = %q", out)
	}
	cliJSON(t, &tops, "topup", "list", "lee", "--db", db)
	if len(tops.Topups) != 1 || tops.Topups[0].Status != "pending" || tops.Topups[0].Credits != 100 {
		t.Fatalf("topup list = %+v; want one pending request of 100", tops)
	}
	id := tops.Topups[0].ID
	if table := cliOK(t, "topup", "list", "lee", "--db", db); !strings.Contains(table, id) || !strings.Contains(table, "pending") || !strings.Contains(table, "STATUS") {
		t.Errorf("topup list:\n%s", table)
	}

	out = cliOK(t, "topup", "confirm", id, "--db", db)
	if !strings.HasPrefix(out, "top-up "+id+" of account lee confirmed: 100 credits granted (grant grt_") {
		t.Errorf("topup confirm = %q", out)
	}
	cliOK(t, "topup", "confirm", id, "--db", db) // again: as it is
	cliJSON(t, &acct, "account", "show", "lee", "--db", db)
	if acct.Available != 200 {
		t.Errorf("lee's balance after confirming twice = %v; want 200 (100 + the top-up's 100, once)", acct.Available)
	}
	if acct.AutoTopup == nil || acct.AutoTopup.Threshold != 200 || acct.AutoTopup.Amount != 100 || acct.AutoTopup.Cap != 300 {
		t.Errorf("account show --json auto_topup = %+v", acct.AutoTopup)
	}
	cliRefused(t, []string{"already confirmed"}, "topup", "cancel", id, "--db", db)
	cliRefused(t, []string{"ID", "allowed: a top-up id"}, "topup", "confirm", "top_nope", "--db", db)
	cliRefused(t, []string{"--limit", "1 to 500"}, "topup", "list", "lee", "--db", db, "--limit", "0")

	if out := cliOK(t, "account", "auto-topup", "lee", "--off", "--db", db); out != "account lee: auto top-up off\n" {
		t.Errorf("account auto-topup --off = %q", out)
	}
	if out := cliOK(t, "account", "alerts", "lee", "--low-balance", "0", "--db", db); out != "account lee: no low-balance alert\n" {
		t.Errorf("account alerts --low-balance 0 = %q", out)
	}
}
