-- 0009: the support desk and finance: the report rollups
-- (credit.LiabilityRow, credit.ConsumptionRow), the indexes of the account
-- directory (Tx.Accounts, Tx.Generations, Tx.AccountAudit) and of the
-- catalog's impact (Tx.EachCharged), the support scope of API keys and the
-- audit log's new actions.
--
-- The rollups are kept by the writes: each Change carries what it adds to
-- them, which Write adds in the same transaction and round trip as the rest
-- of the Change (apply.go). For a ledger that has a history, Migrate fills
-- them after this file, in the same transaction and under the same lock,
-- from what credit.ComputeRollups reads of the ledger (migrate.go); a fresh
-- database gets no row.
--
-- So that the backfill reads one ledger, which no write changes between its
-- statements (READ COMMITTED takes a snapshot per statement), the tables it
-- reads are locked against writes first, before any other lock of this
-- file, in the order a write changes them (apply.go): a writer that holds
-- one of them is never waiting for a lock this migration holds. Writers
-- wait until the migration commits; readers do not.
LOCK TABLE grants, generations, holds, hold_allocations, transactions, postings IN SHARE MODE;

-- The liability rollup: on UTC day `day`, the outstanding credits
-- (available and held) of the grants of `source` whose expiry falls in
-- bucket `expires` (credit.ExpiryBucket, a UTC date as YYYY-MM-DD; '' for
-- grants that never expire) moved by `credits`, thousandths of a credit.
-- Every write of the day adds to its rows: they are few (a row per source
-- and bucket a day), and are locked, in the order of their keys, from
-- their upsert to the write's COMMIT, the last statements of its last
-- round trip. So that writers on different accounts do not all queue on
-- the same few rows (each held until its commit is flushed), every key is
-- split into `shard`s, one chosen by the account's id (rollupShard); reads
-- sum the shards.
CREATE TABLE liability_daily (
	day     DATE NOT NULL,
	source  TEXT COLLATE "C" NOT NULL,
	expires TEXT COLLATE "C" NOT NULL DEFAULT '',
	shard   SMALLINT NOT NULL DEFAULT 0,
	credits BIGINT NOT NULL,
	CONSTRAINT liability_daily_pkey PRIMARY KEY (day, source, expires, shard)
);

-- The consumption rollup: on UTC day `day`, what was charged for `model`
-- ('' for generic holds) and paid by grants of `source`, net of refunds,
-- and how many charges had `source` as their first payer.
CREATE TABLE consumption_daily (
	day     DATE NOT NULL,
	model   TEXT COLLATE "C" NOT NULL,
	source  TEXT COLLATE "C" NOT NULL,
	shard   SMALLINT NOT NULL DEFAULT 0,
	charged BIGINT NOT NULL,
	charges BIGINT NOT NULL,
	CONSTRAINT consumption_daily_pkey PRIMARY KEY (day, model, source, shard)
);

-- Tx.Accounts pages through accounts by id, bytewise: the primary key
-- (accounts.id is COLLATE "C") is that index already.

-- Tx.Generations: an account's generations, newest first (by id), from a
-- cursor. account and id never change, so a generation's updates stay HOT.
CREATE INDEX generations_account ON generations (account, id);

-- Tx.EachCharged: the generations completed with a charge, by when they
-- completed. A generation enters it once, at its completion; the held,
-- failed and expired ones never do. Tx.EachCharged repeats the predicate
-- word for word, so that the planner matches it.
CREATE INDEX generations_charged ON generations (resolved_at)
	WHERE status = 'completed' AND charged > 0;

-- Tx.AccountAudit: the audit entries of one account, newest first.
CREATE INDEX audit_log_target ON audit_log (target, id);

-- API keys gain the support desk's scope. The check is added again NOT
-- VALID and then validated, which reads api_keys: a few rows, every one of
-- them admin, service or account.
ALTER TABLE api_keys DROP CONSTRAINT api_keys_scope_check;
ALTER TABLE api_keys ADD CONSTRAINT api_keys_scope_check
	CHECK (scope IN ('admin', 'service', 'account', 'support')) NOT VALID;
ALTER TABLE api_keys VALIDATE CONSTRAINT api_keys_scope_check;

-- The audit log learns a person's refunds, releases and debits.
ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check CHECK (action IN ('account.create', 'grant.create', 'key.create', 'key.revoke', 'catalog.publish',
	'account.plan', 'subscription.create', 'subscription.cancel', 'subscription.change', 'grant.void', 'grant.amend',
	'member.set', 'member.remove',
	'account.alerts', 'account.auto_topup', 'topup.confirm', 'topup.cancel', 'webhook.create', 'webhook.delete', 'webhook.retry',
	'generation.refund', 'hold.release', 'account.debit')) NOT VALID;
