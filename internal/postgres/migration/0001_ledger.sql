-- 0001: the ledger, as internal/sqlite/migration/0001_ledger.sql keeps it,
-- in PostgreSQL's types.
--
-- Money is BIGINT thousandths of a credit (credit.Credits). Times are
-- TIMESTAMPTZ (microseconds, like credit.Ledger.Now); NULL stands for the zero
-- time ("never", "not yet"). Ids are TEXT chosen by the caller, except the
-- journal's, an identity column. Ids and the columns sorted on compare
-- bytewise (COLLATE "C"), as in SQLite, whatever the database's collation:
-- both stores list things in the same order.
--
-- CHECK constraints state what is cheap to state per row; the invariants that
-- span rows (postings sum to zero, balances are folds of the journal) are
-- checked by credit.VerifySnapshot. Constraint names are what the store
-- translates unique and foreign-key violations by (postgres.go).

CREATE TABLE accounts (
	id         TEXT COLLATE "C" NOT NULL,
	overdraft  BIGINT NOT NULL CHECK (overdraft >= 0),
	available  BIGINT NOT NULL, -- may be below zero, down to -overdraft (Tx.Reserve checks)
	held       BIGINT NOT NULL CHECK (held >= 0),
	created_at TIMESTAMPTZ NOT NULL,
	CONSTRAINT accounts_pkey PRIMARY KEY (id)
);

CREATE TABLE grants (
	id         TEXT COLLATE "C" NOT NULL,
	account    TEXT COLLATE "C" NOT NULL,
	source     TEXT NOT NULL,
	granted    BIGINT NOT NULL CHECK (granted >= 0),
	remaining  BIGINT NOT NULL,
	held       BIGINT NOT NULL CHECK (held >= 0),
	priority   BIGINT NOT NULL, -- Go int: the overdraft grant sits above MaxPriority
	expires_at TIMESTAMPTZ,
	expired_at TIMESTAMPTZ,
	created_at TIMESTAMPTZ NOT NULL,
	memo       TEXT NOT NULL,
	-- Of granted, the part that paid back an overdraft (see credit.Grant).
	paid_back  BIGINT NOT NULL DEFAULT 0 CHECK (paid_back >= 0),
	CONSTRAINT grants_pkey PRIMARY KEY (id),
	CONSTRAINT grants_account_fkey FOREIGN KEY (account) REFERENCES accounts (id),
	-- Only the overdraft grant ever goes below zero.
	CHECK (remaining >= 0 OR source = 'overdraft'),
	-- An expired grant's remainder has left the balance.
	CHECK (expired_at IS NULL OR remaining = 0)
);

-- Tx.Grants: an account's grants in consumption order.
CREATE INDEX grants_consumption ON grants (account, priority, (expires_at IS NULL), expires_at, created_at, id);
-- Tx.DueGrants: grants not yet expired, by expiry. An expired grant leaves
-- this index, so it stays as small as the work it finds.
CREATE INDEX grants_due ON grants (expires_at, id)
	WHERE expires_at IS NOT NULL AND expired_at IS NULL;
CREATE INDEX grants_due_account ON grants (account, expires_at, id)
	WHERE expires_at IS NOT NULL AND expired_at IS NULL;

-- generations and holds name each other; both references are checked at
-- commit (DEFERRABLE INITIALLY DEFERRED), so either row may be inserted first.
CREATE TABLE holds (
	id          TEXT COLLATE "C" NOT NULL,
	account     TEXT COLLATE "C" NOT NULL,
	generation  TEXT COLLATE "C",
	amount      BIGINT NOT NULL CHECK (amount >= 0),
	captured    BIGINT NOT NULL CHECK (captured >= 0),
	released    BIGINT NOT NULL CHECK (released >= 0),
	status      TEXT NOT NULL CHECK (status IN ('open', 'captured', 'released', 'expired')),
	expires_at  TIMESTAMPTZ NOT NULL,
	created_at  TIMESTAMPTZ NOT NULL,
	resolved_at TIMESTAMPTZ,
	CONSTRAINT holds_pkey PRIMARY KEY (id),
	CONSTRAINT holds_account_fkey FOREIGN KEY (account) REFERENCES accounts (id),
	CHECK (captured + released <= amount)
);

-- The child keys of the foreign keys between holds and generations: without
-- them, deleting or re-keying a parent (and PostgreSQL's own checks) scan
-- every hold or generation ever made.
CREATE INDEX holds_generation ON holds (generation) WHERE generation IS NOT NULL;

-- Tx.DueHolds across accounts, and Tx.OpenHolds (and DueHolds) of one account.
-- Both are partial: resolved holds, nearly all of them, are in neither.
CREATE INDEX holds_due ON holds (expires_at, id) WHERE status = 'open';
CREATE INDEX holds_open ON holds (account, created_at, id) WHERE status = 'open';

-- A hold's allocations, in consumption order (seq).
CREATE TABLE hold_allocations (
	hold_id  TEXT COLLATE "C" NOT NULL,
	seq      INTEGER NOT NULL CHECK (seq >= 0),
	grant_id TEXT COLLATE "C" NOT NULL,
	amount   BIGINT NOT NULL CHECK (amount >= 0),
	captured BIGINT NOT NULL,
	refunded BIGINT NOT NULL,
	CHECK (captured BETWEEN 0 AND amount),
	CHECK (refunded BETWEEN 0 AND captured),
	CONSTRAINT hold_allocations_pkey PRIMARY KEY (hold_id, seq),
	CONSTRAINT hold_allocations_hold_id_fkey FOREIGN KEY (hold_id) REFERENCES holds (id),
	CONSTRAINT hold_allocations_grant_id_fkey FOREIGN KEY (grant_id) REFERENCES grants (id)
);

-- The child key of hold_allocations → grants.
CREATE INDEX hold_allocations_grant ON hold_allocations (grant_id);

CREATE TABLE generations (
	id               TEXT COLLATE "C" NOT NULL,
	account          TEXT COLLATE "C" NOT NULL,
	status           TEXT NOT NULL CHECK (status IN ('held', 'completed', 'failed', 'expired')),
	hold_id          TEXT COLLATE "C" NOT NULL,
	model            TEXT NOT NULL,
	kind             TEXT NOT NULL,
	catalog_version  TEXT NOT NULL,
	images           INTEGER NOT NULL CHECK (images >= 0),
	images_delivered INTEGER NOT NULL,
	hold_credits     BIGINT NOT NULL CHECK (hold_credits >= 0),
	unit_credits     BIGINT NOT NULL CHECK (unit_credits >= 0),
	surcharge        BIGINT NOT NULL CHECK (surcharge >= 0),
	charged          BIGINT NOT NULL CHECK (charged >= 0),
	refunded         BIGINT NOT NULL,
	quote            BYTEA,
	expires_at       TIMESTAMPTZ NOT NULL,
	created_at       TIMESTAMPTZ NOT NULL,
	resolved_at      TIMESTAMPTZ,
	CONSTRAINT generations_pkey PRIMARY KEY (id),
	CONSTRAINT generations_account_fkey FOREIGN KEY (account) REFERENCES accounts (id),
	CONSTRAINT generations_hold_id_fkey FOREIGN KEY (hold_id) REFERENCES holds (id) DEFERRABLE INITIALLY DEFERRED,
	CHECK (images_delivered BETWEEN 0 AND images),
	CHECK (refunded BETWEEN 0 AND charged)
);

ALTER TABLE holds ADD CONSTRAINT holds_generation_fkey
	FOREIGN KEY (generation) REFERENCES generations (id) DEFERRABLE INITIALLY DEFERRED;

CREATE INDEX generations_hold ON generations (hold_id);

-- The journal: append-only. Each row touches one user account and carries
-- that account's balances after it, so history needs no folding.
CREATE TABLE transactions (
	id              BIGINT GENERATED ALWAYS AS IDENTITY, -- never reused
	kind            TEXT NOT NULL,
	account         TEXT COLLATE "C" NOT NULL,
	time            TIMESTAMPTZ NOT NULL,
	ref             TEXT NOT NULL,
	generation      TEXT NOT NULL,
	model           TEXT COLLATE "C" NOT NULL,
	model_kind      TEXT COLLATE "C" NOT NULL,
	catalog_version TEXT NOT NULL,
	available_delta BIGINT NOT NULL,
	held_delta      BIGINT NOT NULL,
	available_after BIGINT NOT NULL,
	held_after      BIGINT NOT NULL,
	charged_delta   BIGINT NOT NULL,
	memo            TEXT NOT NULL,
	CONSTRAINT transactions_pkey PRIMARY KEY (id),
	CONSTRAINT transactions_account_fkey FOREIGN KEY (account) REFERENCES accounts (id)
);

-- Tx.Entries (newest first, paged by id) and Tx.Usage (a time range).
CREATE INDEX transactions_account ON transactions (account, id);
CREATE INDEX transactions_account_time ON transactions (account, time);

CREATE TABLE postings (
	tx_id    BIGINT NOT NULL,
	seq      INTEGER NOT NULL CHECK (seq >= 0),
	account  TEXT COLLATE "C" NOT NULL, -- a user account, or 'platform'
	book     TEXT NOT NULL,
	grant_id TEXT COLLATE "C", -- NULL on the platform's books
	amount   BIGINT NOT NULL,
	CONSTRAINT postings_pkey PRIMARY KEY (tx_id, seq),
	CONSTRAINT postings_tx_id_fkey FOREIGN KEY (tx_id) REFERENCES transactions (id),
	CONSTRAINT postings_grant_id_fkey FOREIGN KEY (grant_id) REFERENCES grants (id)
);

-- The child key of postings → grants.
CREATE INDEX postings_grant ON postings (grant_id) WHERE grant_id IS NOT NULL;

-- Corrections are new entries: the journal refuses every change. TRUNCATE
-- too, which row triggers do not see.
CREATE FUNCTION journal_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	RAISE EXCEPTION 'the journal is append-only: % cannot be %', TG_TABLE_NAME,
		CASE TG_OP WHEN 'UPDATE' THEN 'updated' WHEN 'DELETE' THEN 'deleted' ELSE 'truncated' END
		USING ERRCODE = 'restrict_violation';
END
$$;
CREATE TRIGGER transactions_no_update BEFORE UPDATE ON transactions
	FOR EACH ROW EXECUTE FUNCTION journal_append_only();
CREATE TRIGGER transactions_no_delete BEFORE DELETE ON transactions
	FOR EACH ROW EXECUTE FUNCTION journal_append_only();
CREATE TRIGGER transactions_no_truncate BEFORE TRUNCATE ON transactions
	FOR EACH STATEMENT EXECUTE FUNCTION journal_append_only();
CREATE TRIGGER postings_no_update BEFORE UPDATE ON postings
	FOR EACH ROW EXECUTE FUNCTION journal_append_only();
CREATE TRIGGER postings_no_delete BEFORE DELETE ON postings
	FOR EACH ROW EXECUTE FUNCTION journal_append_only();
CREATE TRIGGER postings_no_truncate BEFORE TRUNCATE ON postings
	FOR EACH STATEMENT EXECUTE FUNCTION journal_append_only();

-- Answers to idempotent requests, written in the transaction of their effect.
CREATE TABLE idempotency (
	scope      TEXT NOT NULL,
	key        TEXT NOT NULL,
	hash       TEXT NOT NULL,
	response   BYTEA,
	created_at TIMESTAMPTZ NOT NULL,
	CONSTRAINT idempotency_pkey PRIMARY KEY (scope, key)
);

-- API keys: the SHA-256 of the secret, never the secret.
CREATE TABLE api_keys (
	id         TEXT COLLATE "C" NOT NULL,
	hash       BYTEA NOT NULL,
	scope      TEXT NOT NULL CHECK (scope IN ('admin', 'service', 'account')),
	account    TEXT COLLATE "C",
	name       TEXT NOT NULL,
	created_at TIMESTAMPTZ NOT NULL,
	expires_at TIMESTAMPTZ,
	revoked_at TIMESTAMPTZ,
	CONSTRAINT api_keys_pkey PRIMARY KEY (id),
	CONSTRAINT api_keys_account_fkey FOREIGN KEY (account) REFERENCES accounts (id),
	-- Account keys, and only they, name an account.
	CHECK ((scope = 'account') = (account IS NOT NULL))
);
CREATE INDEX api_keys_account ON api_keys (account) WHERE account IS NOT NULL;
