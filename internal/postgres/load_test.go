package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/postgres"
	"github.com/tally-credits/tally/internal/postgres/pgtest"
)

// TestLoadUsesIndexes: on tables of many rows (a thousand accounts with 30
// resolved generations, whose holds drew on the overdraft too, and 3 open
// holds on the overdraft each, and 3 subscriptions, and 30 team members with
// 12 monthly periods each, which the resolved holds count in, and 30
// top-ups, one every 10 days, the newest pending, and an old account with 3000
// spent grants),
// every statement of a batch's load finds its rows by an index, never by
// scanning a table, and reads none of another account's rows.
func TestLoadUsesIndexes(t *testing.T) {
	db := pgtest.Open(t)
	ctx := context.Background()
	if _, err := db.Pool().Exec(ctx, `
		INSERT INTO accounts (id, overdraft, available, held, created_at)
			SELECT 'acct' || i, 0, 0, 0, now() FROM generate_series(0, 999) AS i;
		INSERT INTO grants (id, account, source, granted, remaining, held, priority, expires_at, expired_at, created_at, memo, paid_back)
			SELECT 'ovd_acct' || i, 'acct' || i, 'overdraft', 0, 0, 0, 2147483647, NULL, NULL, now(), '', 0 FROM generate_series(0, 999) AS i;
		INSERT INTO grants (id, account, source, granted, remaining, held, priority, expires_at, expired_at, created_at, memo, paid_back)
			SELECT 'grt' || i, 'acct' || (i % 1000), 'topup', 10, 0, 0, 0, NULL, NULL, now(), '', 0 FROM generate_series(0, 29999) AS i;
		INSERT INTO grants (id, account, source, granted, remaining, held, priority, expires_at, expired_at, created_at, memo, paid_back)
			SELECT 'old' || i, 'acct7', 'topup', 10, 0, 0, 0, NULL, NULL, now(), '', 0 FROM generate_series(0, 2999) AS i;
		INSERT INTO generations (id, account, status, hold_id, model, kind, catalog_version, images, images_delivered,
				hold_credits, unit_credits, surcharge, charged, refunded, quote, expires_at, created_at, resolved_at)
			SELECT 'gen' || i, 'acct' || (i % 1000), 'completed', 'hld' || i, 'flux-dev', 'image', 'v1', 1, 1,
				10, 10, 0, 10, 0, NULL, now(), now(), now() FROM generate_series(0, 29999) AS i;
		INSERT INTO holds (id, account, generation, amount, captured, released, status, expires_at, created_at, resolved_at)
			SELECT 'hld' || i, 'acct' || (i % 1000), 'gen' || i, 10, 10, 0, 'captured', now(), now(), now() FROM generate_series(0, 29999) AS i;
		INSERT INTO hold_allocations (hold_id, seq, grant_id, amount, captured, refunded)
			SELECT 'hld' || i, 0, 'grt' || i, 10, 10, 0 FROM generate_series(0, 29999) AS i;
		INSERT INTO hold_allocations (hold_id, seq, grant_id, amount, captured, refunded)
			SELECT 'hld' || i, 1, 'ovd_acct' || (i % 1000), 0, 0, 0 FROM generate_series(0, 29999) AS i;
		INSERT INTO holds (id, account, generation, amount, captured, released, status, expires_at, created_at, resolved_at)
			SELECT 'open' || i, 'acct' || (i % 1000), NULL, 10, 0, 0, 'open', now() + interval '10 minutes', now(), NULL
			FROM generate_series(0, 2999) AS i;
		INSERT INTO hold_allocations (hold_id, seq, grant_id, amount, captured, refunded)
			SELECT 'open' || i, 0, 'ovd_acct' || (i % 1000), 10, 0, 0 FROM generate_series(0, 2999) AS i;
		INSERT INTO idempotency (scope, key, hash, response, created_at)
			SELECT 'svc', 'key' || i, 'h', NULL, now() FROM generate_series(0, 29999) AS i;
		INSERT INTO subscriptions (id, account, plan, billing, time_zone, starts_at, ends_at, next_plan, next_at,
				period, renews_at, usage, created_at, canceled_at)
			SELECT 'sub' || i, 'acct' || (i % 1000), 'pro', 'month', '', now(), NULL, '', NULL,
				0, now() + interval '1 month', '[{"open": 0, "fast": 0}]', now(), NULL FROM generate_series(0, 2999) AS i;
		UPDATE accounts SET kind = 'team';
		INSERT INTO members (account, member, monthly_limit, created_at, updated_at, removed_at)
			SELECT 'acct' || (i % 1000), 'mem' || (i / 1000), 1000, now(), now(), NULL FROM generate_series(0, 29999) AS i;
		INSERT INTO member_periods (account, member, period_start, period_end, used, limit_credits)
			SELECT 'acct' || (i % 1000), 'mem' || (i / 1000), date_trunc('month', now()) - make_interval(months => p),
				date_trunc('month', now()) - make_interval(months => p - 1), 10, 1000
			FROM generate_series(0, 29999) AS i, generate_series(0, 11) AS p;
		UPDATE holds SET member = 'mem' || (substr(id, 4)::int / 1000), member_period = date_trunc('month', now())
			WHERE id LIKE 'hld%';
		INSERT INTO topups (id, account, credits, status, grant_id, created_at, resolved_at)
			SELECT 'top' || i, 'acct' || (i % 1000), 1000, CASE WHEN i < 1000 THEN 'pending' ELSE 'confirmed' END, NULL,
				now() - make_interval(days => (i / 1000) * 10), CASE WHEN i < 1000 THEN NULL ELSE now() END
			FROM generate_series(0, 29999) AS i;
		ANALYZE;`); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	load := []any{[]string{"acct7"}, now, []string{"hld7", "hld8"}, []string{"gen1007", "gen8"}}
	conn, err := db.Pool().Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Release()
	for name, args := range map[string][]any{
		"lock":          {[]string{"acct7"}},
		"grants":        load,
		"holds":         load,
		"generations":   load,
		"idempotency":   {[]string{"svc", "svc"}, []string{"key7", "nokey"}},
		"subscriptions": {[]string{"acct7"}},
		"members":       {[]string{"acct7", "acct7"}, []string{"mem0", "mem3"}, now},
		"topups":        {[]string{"acct7"}, now.Add(-32 * 24 * time.Hour), []string{"top7", "top8"}},
	} {
		// The plan for these values, and the generic plan PostgreSQL
		// switches a prepared statement to after five runs if it costs no
		// more.
		if _, err := conn.Exec(ctx, `PREPARE load_`+name+` AS `+postgres.LoadQueries[name]); err != nil {
			t.Fatalf("PREPARE %s: %v", name, err)
		}
		// EXECUTE takes values, not parameters: the test's own, quoted.
		params := make([]string, len(args))
		for i, a := range args {
			switch a := a.(type) {
			case string:
				params[i] = "'" + a + "'"
			case time.Time:
				params[i] = "'" + a.Format(time.RFC3339Nano) + "'"
			case []string:
				params[i] = "ARRAY['" + strings.Join(a, "', '") + "']"
			}
		}
		for _, mode := range []string{"force_custom_plan", "force_generic_plan"} {
			// As in every write transaction (Write: SET LOCAL).
			if _, err := conn.Exec(ctx, `SET enable_seqscan = off`); err != nil {
				t.Fatal(err)
			}
			if _, err := conn.Exec(ctx, `SET plan_cache_mode = `+mode); err != nil {
				t.Fatal(err)
			}
			rows, err := conn.Query(ctx, `EXPLAIN EXECUTE load_`+name+`(`+strings.Join(params, ", ")+`)`)
			if err != nil {
				t.Fatalf("EXPLAIN %s: %v", name, err)
			}
			var plan []string
			for rows.Next() {
				var line string
				if err := rows.Scan(&line); err != nil {
					t.Fatal(err)
				}
				plan = append(plan, line)
			}
			if err := rows.Err(); err != nil {
				t.Fatalf("EXPLAIN %s: %v", name, err)
			}
			text := strings.Join(plan, "\n")
			switch {
			case strings.Contains(text, "Seq Scan"):
				t.Errorf("the load's %s statement scans a table (%s):\n%s", name, mode, text)
			case strings.Contains(text, "hold_allocations_grant"):
				t.Errorf("the load's %s statement reads the overdraft grant's every allocation (%s):\n%s", name, mode, text)
			default:
				t.Logf("%s (%s):\n%s", name, mode, text)
			}
		}
	}
}
