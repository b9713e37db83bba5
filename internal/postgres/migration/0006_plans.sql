-- 0006: plans and subscriptions (credit.Plan, credit.Subscription): an
-- account's program and time zone, the eligibility and the allowance period
-- of a grant, the unlimited window and lane of a generation, the list price
-- of what a capture delivered, and the subscriptions.
--
-- Every new column of an existing table has a default that is what a row
-- written before it means: no plan, UTC, any model, charged normally, and
-- no list price recorded (the journal is append-only: entries written
-- before this migration keep list_credits 0, and so does the rollup of
-- their days).

ALTER TABLE accounts
	ADD COLUMN plan      TEXT NOT NULL DEFAULT '', -- the program ("free"), '' for a plain wallet
	ADD COLUMN time_zone TEXT NOT NULL DEFAULT '', -- IANA name, '' for UTC
	-- The last local day whose daily allowances were given ('free/2026-12-05'):
	-- credit.Account.Daily.
	ADD COLUMN daily TEXT NOT NULL DEFAULT '';

ALTER TABLE grants
	ADD COLUMN applies_to   JSONB, -- credit.Eligibility; NULL: any model
	ADD COLUMN subscription TEXT COLLATE "C" NOT NULL DEFAULT '',
	ADD COLUMN period       TEXT COLLATE "C" NOT NULL DEFAULT '';

-- WINDOW is a reserved word: the column is always quoted.
ALTER TABLE generations
	ADD COLUMN "window"     TEXT COLLATE "C" NOT NULL DEFAULT '', -- 'sub_…/0': the unlimited window it ran in
	ADD COLUMN lane         TEXT NOT NULL DEFAULT '' CHECK (lane IN ('', 'fast', 'relaxed')),
	ADD COLUMN list_credits BIGINT NOT NULL DEFAULT 0 CHECK (list_credits >= 0);

-- + for a capture, − for a refund: ChargedDelta for a charged generation,
-- the price it would have had for one in an unlimited window.
ALTER TABLE transactions ADD COLUMN list_credits BIGINT NOT NULL DEFAULT 0;

-- The rollup sums list_credits as it sums charged, and keeps a row for the
-- captures and refunds of unlimited generations too, which charge nothing
-- but have a list price. Rows before this migration have list_credits 0,
-- as their entries have.
ALTER TABLE usage_daily ADD COLUMN list_credits BIGINT NOT NULL DEFAULT 0;

CREATE OR REPLACE FUNCTION usage_daily_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO usage_daily AS u (account, day, model, model_kind, charged, charges, list_credits)
	VALUES (NEW.account, (NEW.time AT TIME ZONE 'UTC')::date, NEW.model, NEW.model_kind,
		NEW.charged_delta, CASE WHEN NEW.charged_delta > 0 THEN 1 ELSE 0 END, NEW.list_credits)
	ON CONFLICT (account, day, model, model_kind) DO UPDATE
	SET charged = u.charged + EXCLUDED.charged, charges = u.charges + EXCLUDED.charges,
		list_credits = u.list_credits + EXCLUDED.list_credits;
	RETURN NULL;
END
$$;
DROP TRIGGER transactions_usage_daily ON transactions;
CREATE TRIGGER transactions_usage_daily AFTER INSERT ON transactions
	FOR EACH ROW WHEN (NEW.charged_delta <> 0 OR NEW.list_credits <> 0) EXECUTE FUNCTION usage_daily_add();

-- An account's subscriptions to paid plans. Every write of a subscription
-- holds its account's row lock (credit.Store.Write), so the allowance of a
-- month is given, and Period moved on, in one step.
CREATE TABLE subscriptions (
	id          TEXT COLLATE "C" NOT NULL,
	account     TEXT COLLATE "C" NOT NULL,
	plan        TEXT NOT NULL,
	billing     TEXT NOT NULL,
	time_zone   TEXT NOT NULL, -- IANA name, '' for UTC
	starts_at   TIMESTAMPTZ NOT NULL,
	ends_at     TIMESTAMPTZ, -- NULL while it renews
	next_plan   TEXT NOT NULL,
	next_at     TIMESTAMPTZ,
	period      INTEGER NOT NULL CHECK (period >= 0), -- the next month whose allowances are still to give
	renews_at   TIMESTAMPTZ, -- that month's start; NULL once no month is left to give
	usage       JSONB, -- []credit.WindowUsage; NULL for none
	created_at  TIMESTAMPTZ NOT NULL,
	canceled_at TIMESTAMPTZ,
	CONSTRAINT subscriptions_pkey PRIMARY KEY (id),
	CONSTRAINT subscriptions_account_fkey FOREIGN KEY (account) REFERENCES accounts (id)
);

-- Tx.Subscriptions and the load of a write: an account's, oldest first.
CREATE INDEX subscriptions_account ON subscriptions (account, created_at, id);
-- Tx.DueSubscriptions: the months still to give, by their start. A
-- subscription with none left leaves the index.
CREATE INDEX subscriptions_due ON subscriptions (renews_at, id) WHERE renews_at IS NOT NULL;

-- The audit log learns the plans' actions.
ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check CHECK (action IN ('account.create', 'grant.create', 'key.create', 'key.revoke', 'catalog.publish',
	'account.plan', 'subscription.create', 'subscription.cancel', 'subscription.change', 'grant.void', 'grant.amend'));
