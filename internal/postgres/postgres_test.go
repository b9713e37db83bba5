package postgres_test

import (
	"context"
	"testing"

	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/postgres"
	"github.com/tally-credits/tally/internal/postgres/pgtest"
	"github.com/tally-credits/tally/internal/storetest"
)

// mustView runs fn in a View and fails the test on an error.
func mustView(tb testing.TB, db *postgres.DB, fn func(credit.Tx) error) {
	tb.Helper()
	if err := db.View(context.Background(), fn); err != nil {
		tb.Fatalf("View: %v", err)
	}
}

// wantError checks an error's code and reason.
func wantError(tb testing.TB, what string, err error, code, reason string) {
	tb.Helper()
	if got := credit.ErrorCode(err); got != code {
		tb.Errorf("%s = %v (code %q); want code %q", what, err, got, code)
		return
	}
	if got := credit.ErrorReason(err); reason != "" && got != reason {
		tb.Errorf("%s reason = %q (%v); want %q", what, got, err, reason)
	}
}

// TestMigrateBackfillsUsageRollup: see storetest.RunUsageBackfill.
func TestMigrateBackfillsUsageRollup(t *testing.T) {
	db := pgtest.Open(t)
	storetest.RunUsageBackfill(t, db, func(ctx context.Context) error {
		// Back to schema 3: 0006 and 0007 change the rollup too, and 0008
		// builds on 0007's tables, so they go, and all four run again.
		_, err := db.Pool().Exec(ctx, `DROP TABLE deliveries;
			DROP TABLE webhooks;
			DROP TABLE topups;
			DROP TABLE events;
			ALTER TABLE accounts DROP COLUMN low_balance, DROP COLUMN auto_topup_threshold, DROP COLUMN auto_topup_amount,
				DROP COLUMN auto_topup_cap;
			ALTER TABLE grants DROP COLUMN warned_at;
			DROP TRIGGER transactions_usage_daily ON transactions;
			DROP FUNCTION usage_daily_add();
			DROP TABLE usage_daily;
			DROP TABLE member_periods;
			DROP TABLE members;
			ALTER TABLE accounts DROP COLUMN kind;
			ALTER TABLE holds DROP COLUMN member, DROP COLUMN member_period;
			ALTER TABLE generations DROP COLUMN member;
			ALTER TABLE transactions DROP COLUMN member;
			ALTER TABLE api_keys DROP COLUMN member;
			DROP TABLE subscriptions;
			ALTER TABLE accounts DROP COLUMN plan, DROP COLUMN time_zone, DROP COLUMN daily;
			ALTER TABLE grants DROP COLUMN applies_to, DROP COLUMN subscription, DROP COLUMN period;
			ALTER TABLE generations DROP COLUMN "window", DROP COLUMN lane, DROP COLUMN list_credits;
			ALTER TABLE transactions DROP COLUMN list_credits;
			DELETE FROM schema_migrations WHERE version IN (4, 6, 7, 8);`)
		return err
	}, db.Migrate)
}
