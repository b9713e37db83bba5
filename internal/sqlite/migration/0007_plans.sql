-- 0007: plans and subscriptions (credit.Plan, credit.Subscription).
--
-- Accounts name the program they are on and their time zone; grants say
-- which models they pay for (applies_to: credit.Eligibility as JSON, NULL
-- when it allows every model), which subscription gave them and for which
-- allowance period; generations say the unlimited window and lane they ran
-- in and their list price; journal entries carry the list price of what a
-- capture delivered (list_credits), which the usage rollup sums beside what
-- was charged. Subscriptions get a table of their own.
--
-- Times are INTEGER Unix microseconds UTC, NULL for the zero time, as in
-- 0001. Every new column of an existing table has a default, which the rows
-- already there take: no plan, UTC, any model, charged normally, list 0.

ALTER TABLE accounts ADD COLUMN plan TEXT NOT NULL DEFAULT '';
ALTER TABLE accounts ADD COLUMN time_zone TEXT NOT NULL DEFAULT '';
-- The last local day whose daily allowances were given ('free/2026-12-05'):
-- credit.Account.Daily.
ALTER TABLE accounts ADD COLUMN daily TEXT NOT NULL DEFAULT '';

ALTER TABLE grants ADD COLUMN applies_to TEXT; -- JSON (credit.Eligibility); NULL: any model
ALTER TABLE grants ADD COLUMN subscription TEXT NOT NULL DEFAULT '';
ALTER TABLE grants ADD COLUMN period TEXT NOT NULL DEFAULT '';

ALTER TABLE generations ADD COLUMN "window" TEXT NOT NULL DEFAULT '';
ALTER TABLE generations ADD COLUMN lane TEXT NOT NULL DEFAULT '';
ALTER TABLE generations ADD COLUMN list_credits INTEGER NOT NULL DEFAULT 0;

ALTER TABLE transactions ADD COLUMN list_credits INTEGER NOT NULL DEFAULT 0;

-- The journal's list_credits summed as charged is. The journal before this
-- migration has none, so the rows there are right with 0.
ALTER TABLE usage_daily ADD COLUMN list_credits INTEGER NOT NULL DEFAULT 0;

-- An account's subscriptions to paid plans. Usage is the unlimited windows'
-- counts (credit.WindowUsage), a JSON array, NULL when there are none.
CREATE TABLE subscriptions (
	id          TEXT PRIMARY KEY,
	account     TEXT NOT NULL REFERENCES accounts (id),
	plan        TEXT NOT NULL,
	billing     TEXT NOT NULL,
	time_zone   TEXT NOT NULL,
	starts_at   INTEGER NOT NULL,
	ends_at     INTEGER,
	next_plan   TEXT NOT NULL,
	next_at     INTEGER,
	period      INTEGER NOT NULL CHECK (period >= 0),
	renews_at   INTEGER,
	usage       TEXT,
	created_at  INTEGER NOT NULL,
	canceled_at INTEGER
) STRICT;

-- Tx.Subscriptions and the load of a write: an account's subscriptions,
-- oldest first.
CREATE INDEX subscriptions_account ON subscriptions (account, created_at, id);
-- Tx.DueSubscriptions: the subscriptions with a month still to give, by
-- when it starts. One that gave its last leaves the index.
CREATE INDEX subscriptions_due ON subscriptions (renews_at, id) WHERE renews_at IS NOT NULL;

-- The rollup counts a capture in an unlimited window, which charges 0 at a
-- list price, as it counts a charge.
DROP TRIGGER transactions_usage_daily;
CREATE TRIGGER transactions_usage_daily AFTER INSERT ON transactions
WHEN NEW.charged_delta != 0 OR NEW.list_credits != 0
BEGIN
	INSERT INTO usage_daily (account, day, model, model_kind, charged, charges, list_credits)
	VALUES (NEW.account, NEW.time / 86400000000, NEW.model, NEW.model_kind, NEW.charged_delta, NEW.charged_delta > 0, NEW.list_credits)
	ON CONFLICT (account, day, model, model_kind) DO UPDATE
	SET charged = charged + excluded.charged, charges = charges + excluded.charges, list_credits = list_credits + excluded.list_credits;
END;

-- The apply trigger of 0006, with the new columns and the subscriptions
-- (see 0006 for how it reads the document, and apply.go for the document):
-- an account's update writes its plan and time zone too, a grant's its
-- expiry (amended), and subscriptions are inserted ($.ns) and updated
-- whole ($.s) but for their id, account and creation.
DROP TRIGGER ledger_changes_apply;

-- The audit log learns the plans' actions. SQLite cannot change a CHECK in
-- place: the table is rebuilt, rows and ids kept, while no trigger names it
-- (the apply trigger was dropped just above and is created again below).
CREATE TABLE audit_log_plans (
	id     INTEGER PRIMARY KEY AUTOINCREMENT,
	at     INTEGER NOT NULL, -- Unix microseconds UTC
	actor  TEXT NOT NULL CHECK (actor <> ''),
	action TEXT NOT NULL CHECK (action IN ('account.create', 'grant.create', 'key.create', 'key.revoke', 'catalog.publish',
		'account.plan', 'subscription.create', 'subscription.cancel', 'subscription.change', 'grant.void', 'grant.amend')),
	target TEXT NOT NULL,
	detail BLOB NOT NULL
) STRICT;
INSERT INTO audit_log_plans (id, at, actor, action, target, detail) SELECT id, at, actor, action, target, detail FROM audit_log;
DROP TABLE audit_log;
ALTER TABLE audit_log_plans RENAME TO audit_log;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
	SELECT RAISE(ABORT, 'the audit log is append-only: entries cannot be updated');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
	SELECT RAISE(ABORT, 'the audit log is append-only: entries cannot be deleted');
END;

CREATE TRIGGER ledger_changes_apply INSTEAD OF INSERT ON ledger_changes
BEGIN
	INSERT INTO accounts (id, overdraft, available, held, created_at, plan, time_zone, daily)
	SELECT v->>0, v->>1, v->>2, v->>3, v->>4, v->>5, v->>6, v->>7
	FROM (SELECT value AS v FROM jsonb_each(NEW.doc, '$.na'));

	UPDATE accounts SET (available, held, plan, time_zone, daily) =
		(SELECT v->>1, v->>2, v->>3, v->>4, v->>5 FROM (SELECT value AS v FROM jsonb_each(NEW.doc, '$.a')) WHERE v->>0 = accounts.id)
	WHERE id IN (SELECT value->>0 FROM jsonb_each(NEW.doc, '$.a'));

	INSERT INTO subscriptions (id, account, plan, billing, time_zone, starts_at, ends_at, next_plan, next_at, period, renews_at, usage,
		created_at, canceled_at)
	SELECT v->>0, v->>1, v->>2, v->>3, v->>4, v->>5, v->>6, v->>7, v->>8, v->>9, v->>10, v->>11, v->>12, v->>13
	FROM (SELECT value AS v FROM jsonb_each(NEW.doc, '$.ns'));

	UPDATE subscriptions SET (plan, billing, time_zone, starts_at, ends_at, next_plan, next_at, period, renews_at, usage, canceled_at) =
		(SELECT v->>1, v->>2, v->>3, v->>4, v->>5, v->>6, v->>7, v->>8, v->>9, v->>10, v->>11
			FROM (SELECT value AS v FROM jsonb_each(NEW.doc, '$.s')) WHERE v->>0 = subscriptions.id)
	WHERE id IN (SELECT value->>0 FROM jsonb_each(NEW.doc, '$.s'));

	INSERT INTO grants (id, account, source, granted, remaining, held, priority, expires_at, expired_at, created_at, memo, paid_back,
		applies_to, subscription, period)
	SELECT v->>0, v->>1, v->>2, v->>3, v->>4, v->>5, v->>6, v->>7, v->>8, v->>9, v->>10, v->>11, v->>12, v->>13, v->>14
	FROM (SELECT value AS v FROM jsonb_each(NEW.doc, '$.ng'));

	UPDATE grants SET (remaining, held, paid_back, expires_at, expired_at) =
		(SELECT v->>1, v->>2, v->>3, v->>4, v->>5 FROM (SELECT value AS v FROM jsonb_each(NEW.doc, '$.g')) WHERE v->>0 = grants.id)
	WHERE id IN (SELECT value->>0 FROM jsonb_each(NEW.doc, '$.g'));

	INSERT INTO holds (id, account, generation, amount, captured, released, status, expires_at, created_at, resolved_at)
	SELECT v->>0, v->>1, v->>2, v->>3, v->>4, v->>5, v->>6, v->>7, v->>8, v->>9
	FROM (SELECT value AS v FROM jsonb_each(NEW.doc, '$.nh'));

	UPDATE holds SET (status, captured, released, resolved_at) =
		(SELECT v->>1, v->>2, v->>3, v->>4 FROM (SELECT value AS v FROM jsonb_each(NEW.doc, '$.h')) WHERE v->>0 = holds.id)
	WHERE id IN (SELECT value->>0 FROM jsonb_each(NEW.doc, '$.h'));

	INSERT INTO hold_allocations (hold_id, seq, grant_id, amount, captured, refunded)
	SELECT v->>0, v->>1, v->>2, v->>3, v->>4, v->>5
	FROM (SELECT value AS v FROM jsonb_each(NEW.doc, '$.al')) WHERE true
	ON CONFLICT (hold_id, seq) DO UPDATE
	SET grant_id = excluded.grant_id, amount = excluded.amount, captured = excluded.captured, refunded = excluded.refunded;

	DELETE FROM hold_allocations
	WHERE hold_id IN (SELECT value->>0 FROM jsonb_each(NEW.doc, '$.tr'))
		AND seq >= (SELECT value->>1 FROM jsonb_each(NEW.doc, '$.tr') WHERE value->>0 = hold_allocations.hold_id);

	INSERT INTO generations (id, account, status, hold_id, model, kind, catalog_version, images, images_delivered,
		hold_credits, unit_credits, surcharge, charged, refunded, quote, expires_at, created_at, resolved_at,
		"window", lane, list_credits)
	SELECT v->>0, v->>1, v->>2, v->>3, v->>4, v->>5, v->>6, v->>7, v->>8,
		v->>9, v->>10, v->>11, v->>12, v->>13, CAST(v->>14 AS BLOB), v->>15, v->>16, v->>17,
		v->>18, v->>19, v->>20
	FROM (SELECT value AS v FROM jsonb_each(NEW.doc, '$.ngen'));

	UPDATE generations SET (status, images_delivered, charged, refunded, resolved_at, list_credits) =
		(SELECT v->>1, v->>2, v->>3, v->>4, v->>5, v->>6 FROM (SELECT value AS v FROM jsonb_each(NEW.doc, '$.gen')) WHERE v->>0 = generations.id)
	WHERE id IN (SELECT value->>0 FROM jsonb_each(NEW.doc, '$.gen'));

	INSERT INTO transactions (kind, account, time, ref, generation, model, model_kind, catalog_version,
		available_delta, held_delta, available_after, held_after, charged_delta, memo, list_credits)
	SELECT v->>0, v->>1, v->>2, v->>3, v->>4, v->>5, v->>6, v->>7, v->>8, v->>9, v->>10, v->>11, v->>12, v->>13, v->>14
	FROM (SELECT key AS k, value AS v FROM jsonb_each(NEW.doc, '$.e') ORDER BY key);

	INSERT INTO postings (tx_id, seq, account, book, grant_id, amount)
	SELECT (SELECT last_insert_rowid() - json_array_length(NEW.doc, '$.e') + 1) + (v->>0), v->>1, v->>2, v->>3, v->>4, v->>5
	FROM (SELECT value AS v FROM jsonb_each(NEW.doc, '$.p'));

	INSERT INTO idempotency (scope, key, hash, response, created_at)
	SELECT v->>0, v->>1, v->>2, CAST(v->>3 AS BLOB), v->>4
	FROM (SELECT value AS v FROM jsonb_each(NEW.doc, '$.i'));

	INSERT INTO audit_log (at, actor, action, target, detail)
	SELECT v->>0, v->>1, v->>2, v->>3, CAST(v->>4 AS BLOB)
	FROM (SELECT key AS k, value AS v FROM jsonb_each(NEW.doc, '$.au') ORDER BY key);
END;
