-- 0010: the support desk and finance's reports (credit.LiabilityRow,
-- credit.ConsumptionRow, credit.ScopeSupport).
--
-- Two rollups, a row per UTC day and key, which every write adds to in its
-- own transaction (the apply trigger, below): what the grants of a source
-- owe by expiry bucket (liability_daily), and what was charged for a model
-- by the source of the grants that paid (consumption_daily). A report reads
-- a few thousand of their rows, whatever the length of the journal. Days
-- and buckets are TEXT UTC dates (YYYY-MM-DD), so they sort as dates;
-- amounts INTEGER thousandths of a credit, as in 0001.
--
-- A ledger migrated here with a history gets its rollups filled from its
-- journal by the store, in the transaction that applies this file (see
-- Migrate in migrate.go): SQL alone cannot replay a refund against the
-- grants that paid.
--
-- API keys may be a support desk's, and the audit log learns the support
-- desk's actions: a person's refund and release, a debit.

-- The liability rollup: on day, the outstanding credits (available + held)
-- of the grants of source whose expiry falls in bucket expires
-- (credit.ExpiryBucket; '' never expires) moved by credits.
CREATE TABLE liability_daily (
	day     TEXT NOT NULL,
	source  TEXT NOT NULL,
	expires TEXT NOT NULL DEFAULT '',
	credits INTEGER NOT NULL,
	PRIMARY KEY (day, source, expires)
) STRICT, WITHOUT ROWID;

-- The consumption rollup: on day, what charges of model ('' generic holds)
-- took from grants of source, net of refunds (charged), and how many
-- charges had source as their first payer (charges).
CREATE TABLE consumption_daily (
	day     TEXT NOT NULL,
	model   TEXT NOT NULL,
	source  TEXT NOT NULL,
	charged INTEGER NOT NULL,
	charges INTEGER NOT NULL,
	PRIMARY KEY (day, model, source)
) STRICT, WITHOUT ROWID;

-- Tx.Generations: an account's generations, newest first (ids sort by
-- creation), paged by id.
CREATE INDEX generations_account ON generations (account, id);
-- Tx.EachCharged (the impact of a catalog): the generations completed with
-- a charge, by when they were resolved. Tx.EachCharged repeats the
-- condition word for word.
CREATE INDEX generations_charged ON generations (resolved_at) WHERE status = 'completed' AND charged > 0;

-- API keys may be the support desk's. SQLite cannot change a CHECK in
-- place: the table is rebuilt, every column, constraint and row kept (no
-- index, trigger or other table's key names it).
CREATE TABLE api_keys_support (
	id         TEXT PRIMARY KEY,
	hash       BLOB NOT NULL,
	scope      TEXT NOT NULL CHECK (scope IN ('admin', 'service', 'account', 'support')),
	account    TEXT REFERENCES accounts (id),
	name       TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER,
	revoked_at INTEGER,
	-- Only an account key may be a member's (0008).
	member     TEXT NOT NULL DEFAULT '' CHECK (member = '' OR scope = 'account'),
	-- Account keys, and only they, name an account.
	CHECK ((scope = 'account') = (account IS NOT NULL))
) STRICT;
INSERT INTO api_keys_support (id, hash, scope, account, name, created_at, expires_at, revoked_at, member)
SELECT id, hash, scope, account, name, created_at, expires_at, revoked_at, member FROM api_keys;
DROP TABLE api_keys;
ALTER TABLE api_keys_support RENAME TO api_keys;

-- The apply trigger of 0009, with the rollups (see 0006 for how it reads
-- the document, and apply.go for the document): the rows of $.li and $.co
-- are added to the rows of their key, or inserted, last.
DROP TRIGGER ledger_changes_apply;

-- The audit log learns the support desk's actions, rebuilt as in 0007,
-- 0008 and 0009 while no trigger names it; Tx.AccountAudit reads an
-- account's entries, newest first, by a new index.
CREATE TABLE audit_log_support (
	id     INTEGER PRIMARY KEY AUTOINCREMENT,
	at     INTEGER NOT NULL, -- Unix microseconds UTC
	actor  TEXT NOT NULL CHECK (actor <> ''),
	action TEXT NOT NULL CHECK (action IN ('account.create', 'grant.create', 'key.create', 'key.revoke', 'catalog.publish',
		'account.plan', 'subscription.create', 'subscription.cancel', 'subscription.change', 'grant.void', 'grant.amend',
		'member.set', 'member.remove',
		'account.alerts', 'account.auto_topup', 'topup.confirm', 'topup.cancel', 'webhook.create', 'webhook.delete', 'webhook.retry',
		'generation.refund', 'hold.release', 'account.debit')),
	target TEXT NOT NULL,
	detail BLOB NOT NULL
) STRICT;
INSERT INTO audit_log_support (id, at, actor, action, target, detail) SELECT id, at, actor, action, target, detail FROM audit_log;
DROP TABLE audit_log;
ALTER TABLE audit_log_support RENAME TO audit_log;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
	SELECT RAISE(ABORT, 'the audit log is append-only: entries cannot be updated');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
	SELECT RAISE(ABORT, 'the audit log is append-only: entries cannot be deleted');
END;
CREATE INDEX audit_log_target ON audit_log (target, id);

CREATE TRIGGER ledger_changes_apply INSTEAD OF INSERT ON ledger_changes
BEGIN
	INSERT INTO accounts (id, overdraft, available, held, created_at, plan, time_zone, daily, kind,
		low_balance, auto_topup_threshold, auto_topup_amount, auto_topup_cap)
	SELECT v->>0, v->>1, v->>2, v->>3, v->>4, v->>5, v->>6, v->>7, v->>8, v->>9, v->>10, v->>11, v->>12
	FROM (SELECT value AS v FROM jsonb_each(NEW.doc, '$.na'));

	UPDATE accounts SET (available, held, plan, time_zone, daily, low_balance, auto_topup_threshold, auto_topup_amount, auto_topup_cap) =
		(SELECT v->>1, v->>2, v->>3, v->>4, v->>5, v->>6, v->>7, v->>8, v->>9
			FROM (SELECT value AS v FROM jsonb_each(NEW.doc, '$.a')) WHERE v->>0 = accounts.id)
	WHERE id IN (SELECT value->>0 FROM jsonb_each(NEW.doc, '$.a'));

	INSERT INTO members (account, member, monthly_limit, created_at, updated_at, removed_at)
	SELECT v->>0, v->>1, v->>2, v->>3, v->>4, v->>5
	FROM (SELECT value AS v FROM jsonb_each(NEW.doc, '$.m')) WHERE true
	ON CONFLICT (account, member) DO UPDATE
	SET monthly_limit = excluded.monthly_limit, created_at = excluded.created_at, updated_at = excluded.updated_at,
		removed_at = excluded.removed_at;

	INSERT INTO member_periods (account, member, period_start, period_end, used, limit_credits, reached)
	SELECT v->>0, v->>1, v->>2, v->>3, v->>4, v->>5, v->>6
	FROM (SELECT value AS v FROM jsonb_each(NEW.doc, '$.mp')) WHERE true
	ON CONFLICT (account, member, period_start) DO UPDATE
	SET period_end = excluded.period_end, used = excluded.used, limit_credits = excluded.limit_credits, reached = excluded.reached;

	INSERT INTO subscriptions (id, account, plan, billing, time_zone, starts_at, ends_at, next_plan, next_at, period, renews_at, usage,
		created_at, canceled_at)
	SELECT v->>0, v->>1, v->>2, v->>3, v->>4, v->>5, v->>6, v->>7, v->>8, v->>9, v->>10, v->>11, v->>12, v->>13
	FROM (SELECT value AS v FROM jsonb_each(NEW.doc, '$.ns'));

	UPDATE subscriptions SET (plan, billing, time_zone, starts_at, ends_at, next_plan, next_at, period, renews_at, usage, canceled_at) =
		(SELECT v->>1, v->>2, v->>3, v->>4, v->>5, v->>6, v->>7, v->>8, v->>9, v->>10, v->>11
			FROM (SELECT value AS v FROM jsonb_each(NEW.doc, '$.s')) WHERE v->>0 = subscriptions.id)
	WHERE id IN (SELECT value->>0 FROM jsonb_each(NEW.doc, '$.s'));

	INSERT INTO grants (id, account, source, granted, remaining, held, priority, expires_at, expired_at, created_at, memo, paid_back,
		applies_to, subscription, period, warned_at)
	SELECT v->>0, v->>1, v->>2, v->>3, v->>4, v->>5, v->>6, v->>7, v->>8, v->>9, v->>10, v->>11, v->>12, v->>13, v->>14, v->>15
	FROM (SELECT value AS v FROM jsonb_each(NEW.doc, '$.ng'));

	UPDATE grants SET (remaining, held, paid_back, expires_at, expired_at, warned_at) =
		(SELECT v->>1, v->>2, v->>3, v->>4, v->>5, v->>6 FROM (SELECT value AS v FROM jsonb_each(NEW.doc, '$.g')) WHERE v->>0 = grants.id)
	WHERE id IN (SELECT value->>0 FROM jsonb_each(NEW.doc, '$.g'));

	INSERT INTO topups (id, account, credits, status, grant_id, created_at, resolved_at)
	SELECT v->>0, v->>1, v->>2, v->>3, v->>4, v->>5, v->>6
	FROM (SELECT value AS v FROM jsonb_each(NEW.doc, '$.nt'));

	UPDATE topups SET (status, grant_id, resolved_at) =
		(SELECT v->>1, v->>2, v->>3 FROM (SELECT value AS v FROM jsonb_each(NEW.doc, '$.t')) WHERE v->>0 = topups.id)
	WHERE id IN (SELECT value->>0 FROM jsonb_each(NEW.doc, '$.t'));

	INSERT INTO holds (id, account, generation, amount, captured, released, status, expires_at, created_at, resolved_at,
		member, member_period)
	SELECT v->>0, v->>1, v->>2, v->>3, v->>4, v->>5, v->>6, v->>7, v->>8, v->>9, v->>10, v->>11
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
		"window", lane, list_credits, member)
	SELECT v->>0, v->>1, v->>2, v->>3, v->>4, v->>5, v->>6, v->>7, v->>8,
		v->>9, v->>10, v->>11, v->>12, v->>13, CAST(v->>14 AS BLOB), v->>15, v->>16, v->>17,
		v->>18, v->>19, v->>20, v->>21
	FROM (SELECT value AS v FROM jsonb_each(NEW.doc, '$.ngen'));

	UPDATE generations SET (status, images_delivered, charged, refunded, resolved_at, list_credits) =
		(SELECT v->>1, v->>2, v->>3, v->>4, v->>5, v->>6 FROM (SELECT value AS v FROM jsonb_each(NEW.doc, '$.gen')) WHERE v->>0 = generations.id)
	WHERE id IN (SELECT value->>0 FROM jsonb_each(NEW.doc, '$.gen'));

	INSERT INTO transactions (kind, account, time, ref, generation, model, model_kind, catalog_version,
		available_delta, held_delta, available_after, held_after, charged_delta, memo, list_credits, member)
	SELECT v->>0, v->>1, v->>2, v->>3, v->>4, v->>5, v->>6, v->>7, v->>8, v->>9, v->>10, v->>11, v->>12, v->>13, v->>14, v->>15
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

	INSERT INTO events (id, type, time, account, data)
	SELECT v->>0, v->>1, v->>2, v->>3, v->>4
	FROM (SELECT key AS k, value AS v FROM jsonb_each(NEW.doc, '$.ev') ORDER BY key);

	INSERT INTO liability_daily (day, source, expires, credits)
	SELECT v->>0, v->>1, v->>2, v->>3
	FROM (SELECT value AS v FROM jsonb_each(NEW.doc, '$.li')) WHERE true
	ON CONFLICT (day, source, expires) DO UPDATE
	SET credits = credits + excluded.credits;

	INSERT INTO consumption_daily (day, model, source, charged, charges)
	SELECT v->>0, v->>1, v->>2, v->>3, v->>4
	FROM (SELECT value AS v FROM jsonb_each(NEW.doc, '$.co')) WHERE true
	ON CONFLICT (day, model, source) DO UPDATE
	SET charged = charged + excluded.charged, charges = charges + excluded.charges;
END;
