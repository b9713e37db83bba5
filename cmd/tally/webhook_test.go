package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/sqlite"
)

// TestWebhookCommands runs webhook create|list|deliveries|retry|delete on a
// SQLite file: the secret is printed once, on create; a loopback URL is
// refused without --allow-private; deliveries (made here as a tally serve
// node would) are listed and retried; refusals name their flag or argument
// and write nothing.
func TestWebhookCommands(t *testing.T) {
	db := filepath.Join(t.TempDir(), "tally.db")
	cliOK(t, "migrate", "--db", db)
	cliOK(t, "account", "create", "kim", "--db", db)

	cliRefused(t, []string{"--url", "loopback", "allowed: a public address, or --allow-private"},
		"webhook", "create", "--db", db, "--url", "http://127.0.0.1:9/hook", "--events", "*")
	cliRefused(t, []string{"--url", "absolute http or https URL"}, "webhook", "create", "--db", db, "--url", "ftp://93.184.216.34/", "--events", "*")
	cliRefused(t, []string{"--events", "allowed: *, grant.created"}, "webhook", "create", "--db", db, "--url", "https://93.184.216.34/hook", "--events", "grant.made")
	cliRefused(t, []string{"--events"}, "webhook", "create", "--db", db, "--url", "https://93.184.216.34/hook")
	cliRefused(t, []string{"--description", "allowed: at most 500 bytes"}, "webhook", "create", "--db", db, "--url", "https://93.184.216.34/hook", "--events", "*", "--description", strings.Repeat("d", 501))
	var none struct {
		Webhooks []map[string]any `json:"webhooks"`
	}
	cliJSON(t, &none, "webhook", "list", "--db", db)
	if len(none.Webhooks) != 0 {
		t.Fatalf("the refusals made endpoints: %v", none.Webhooks)
	}

	// A loopback endpoint with --allow-private: the secret alone on stdout.
	code, secret, errOut := run(t, "webhook", "create", "--db", db, "--url", "http://127.0.0.1:9/hook", "--events", "*", "--allow-private")
	if code != 0 || !strings.HasPrefix(secret, "whsec_") || strings.Count(secret, "\n") != 1 || !strings.Contains(errOut, "shown once") {
		t.Fatalf("webhook create --allow-private: exit %d, stdout %q, stderr %q; want the secret alone on stdout", code, secret, errOut)
	}
	local := strings.Fields(errOut)[1]
	var made struct {
		ID     string   `json:"id"`
		Events []string `json:"events"`
		Secret string   `json:"secret"`
		Status string   `json:"status"`
	}
	cliJSON(t, &made, "webhook", "create", "--db", db, "--url", "https://93.184.216.34/hook", "--events", "topup.requested, balance.low", "--description", "billing")
	if !strings.HasPrefix(made.ID, "wh_") || !strings.HasPrefix(made.Secret, "whsec_") || strings.Join(made.Events, ",") != "balance.low,topup.requested" || made.Status != "active" {
		t.Errorf("webhook create --json = %+v", made)
	}
	list := cliOK(t, "webhook", "list", "--db", db)
	for _, w := range []string{"ID", "URL", local, made.ID, "balance.low,topup.requested", "active", "billing"} {
		if !strings.Contains(list, w) {
			t.Errorf("webhook list: no %q in\n%s", w, list)
		}
	}
	if strings.Contains(list, "whsec_") || strings.Contains(cliOK(t, "webhook", "list", "--db", db, "--json"), "whsec_") {
		t.Error("webhook list shows a secret")
	}

	// A grant after the endpoints: deliveries for the * one, made as a
	// node's dispatcher makes them.
	cliOK(t, "account", "grant", "kim", "4", "--db", db)
	s, err := sqlite.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.ScheduleDeliveries(context.Background(), time.Now().UTC(), 100); err != nil {
		t.Fatal(err)
	}
	s.Close()
	var ds struct {
		Webhook    string `json:"webhook"`
		Deliveries []struct {
			ID        string `json:"id"`
			EventType string `json:"event_type"`
			Status    string `json:"status"`
		} `json:"deliveries"`
	}
	cliJSON(t, &ds, "webhook", "deliveries", local, "--db", db)
	if ds.Webhook != local || len(ds.Deliveries) != 2 || ds.Deliveries[0].Status != "pending" {
		t.Fatalf("webhook deliveries %s --json = %+v; want kim's two events, pending", local, ds)
	}
	table := cliOK(t, "webhook", "deliveries", local, "--db", db)
	for _, w := range []string{"EVENT", "STATUS", "grant.created", "balance.recovered", "kim", "pending"} {
		if !strings.Contains(table, w) {
			t.Errorf("webhook deliveries: no %q in\n%s", w, table)
		}
	}
	d := ds.Deliveries[0].ID
	if out := cliOK(t, "webhook", "retry", local, d, "--db", db); !strings.Contains(out, "delivery "+d) || !strings.Contains(out, "due now") {
		t.Errorf("webhook retry = %q", out)
	}
	cliRefused(t, []string{"DELIVERY", "allowed: a delivery of the webhook"}, "webhook", "retry", made.ID, d, "--db", db)
	cliRefused(t, []string{"ID", "allowed: a webhook id"}, "webhook", "deliveries", "wh_nope", "--db", db)
	cliRefused(t, []string{"--limit", "1 to 500"}, "webhook", "deliveries", local, "--db", db, "--limit", "501")

	if out := cliOK(t, "webhook", "delete", made.ID, "--db", db); out != "webhook "+made.ID+" deleted\n" {
		t.Errorf("webhook delete = %q", out)
	}
	cliRefused(t, []string{"ID", "allowed: a webhook id"}, "webhook", "delete", made.ID, "--db", db)
	if list := cliOK(t, "webhook", "list", "--db", db); strings.Contains(list, made.ID) {
		t.Errorf("webhook list after delete still lists %s:\n%s", made.ID, list)
	}
}
