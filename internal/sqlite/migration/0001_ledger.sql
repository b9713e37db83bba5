-- 0001: the ledger.
--
-- Money is INTEGER thousandths of a credit (credit.Credits). Times are INTEGER
-- Unix microseconds UTC; NULL stands for the zero time ("never", "not yet").
-- Ids are TEXT chosen by the caller, except the journal's, which SQLite assigns.
-- Tables are STRICT: a value of the wrong type is an error, never coerced.
--
-- CHECK constraints state what is cheap to state per row; the invariants that
-- span rows (postings sum to zero, balances are folds of the journal) are
-- checked by credit.VerifySnapshot.

CREATE TABLE accounts (
	id         TEXT PRIMARY KEY,
	overdraft  INTEGER NOT NULL CHECK (overdraft >= 0),
	available  INTEGER NOT NULL, -- may be below zero, down to -overdraft (Tx.Reserve checks)
	held       INTEGER NOT NULL CHECK (held >= 0),
	created_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE grants (
	id         TEXT PRIMARY KEY,
	account    TEXT NOT NULL REFERENCES accounts (id),
	source     TEXT NOT NULL,
	granted    INTEGER NOT NULL CHECK (granted >= 0),
	remaining  INTEGER NOT NULL,
	held       INTEGER NOT NULL CHECK (held >= 0),
	priority   INTEGER NOT NULL,
	expires_at INTEGER,
	expired_at INTEGER,
	created_at INTEGER NOT NULL,
	memo       TEXT NOT NULL,
	-- Of granted, the part that paid back an overdraft (see credit.Grant).
	paid_back  INTEGER NOT NULL DEFAULT 0 CHECK (paid_back >= 0),
	-- Only the overdraft grant ever goes below zero.
	CHECK (remaining >= 0 OR source = 'overdraft'),
	-- An expired grant's remainder has left the balance.
	CHECK (expired_at IS NULL OR remaining = 0)
) STRICT;

-- Tx.Grants: an account's grants in consumption order.
CREATE INDEX grants_consumption ON grants (account, priority, expires_at IS NULL, expires_at, created_at, id);
-- Tx.DueGrants: live grants with something left, by expiry. A spent or expired
-- grant leaves this index, so it stays as small as the work it finds.
CREATE INDEX grants_due ON grants (expires_at, id)
	WHERE expires_at IS NOT NULL AND expired_at IS NULL;

-- generations and holds name each other; both references are checked at
-- commit, so either row may be inserted first.
CREATE TABLE holds (
	id          TEXT PRIMARY KEY,
	account     TEXT NOT NULL REFERENCES accounts (id),
	generation  TEXT REFERENCES generations (id) DEFERRABLE INITIALLY DEFERRED,
	amount      INTEGER NOT NULL CHECK (amount >= 0),
	captured    INTEGER NOT NULL CHECK (captured >= 0),
	released    INTEGER NOT NULL CHECK (released >= 0),
	status      TEXT NOT NULL CHECK (status IN ('open', 'captured', 'released', 'expired')),
	expires_at  INTEGER NOT NULL,
	created_at  INTEGER NOT NULL,
	resolved_at INTEGER,
	CHECK (captured + released <= amount)
) STRICT;

-- The child keys of the deferred foreign keys between holds and generations:
-- inserting either row makes SQLite look for the other side's children, which
-- without these indexes is a scan of every hold or generation ever made.
CREATE INDEX holds_generation ON holds (generation) WHERE generation IS NOT NULL;

-- Tx.DueHolds across accounts, and Tx.OpenHolds (and DueHolds) of one account.
-- Both are partial: resolved holds, nearly all of them, are in neither.
CREATE INDEX holds_due ON holds (expires_at, id) WHERE status = 'open';
CREATE INDEX holds_open ON holds (account, created_at, id) WHERE status = 'open';

-- A hold's allocations, in consumption order (seq).
CREATE TABLE hold_allocations (
	hold_id  TEXT NOT NULL REFERENCES holds (id),
	seq      INTEGER NOT NULL CHECK (seq >= 0),
	grant_id TEXT NOT NULL REFERENCES grants (id),
	amount   INTEGER NOT NULL CHECK (amount >= 0),
	captured INTEGER NOT NULL,
	refunded INTEGER NOT NULL,
	CHECK (captured BETWEEN 0 AND amount),
	CHECK (refunded BETWEEN 0 AND captured),
	PRIMARY KEY (hold_id, seq)
) STRICT, WITHOUT ROWID;

CREATE TABLE generations (
	id               TEXT PRIMARY KEY,
	account          TEXT NOT NULL REFERENCES accounts (id),
	status           TEXT NOT NULL CHECK (status IN ('held', 'completed', 'failed', 'expired')),
	hold_id          TEXT NOT NULL REFERENCES holds (id) DEFERRABLE INITIALLY DEFERRED,
	model            TEXT NOT NULL,
	kind             TEXT NOT NULL,
	catalog_version  TEXT NOT NULL,
	images           INTEGER NOT NULL CHECK (images >= 0),
	images_delivered INTEGER NOT NULL,
	hold_credits     INTEGER NOT NULL CHECK (hold_credits >= 0),
	unit_credits     INTEGER NOT NULL CHECK (unit_credits >= 0),
	surcharge        INTEGER NOT NULL CHECK (surcharge >= 0),
	charged          INTEGER NOT NULL CHECK (charged >= 0),
	refunded         INTEGER NOT NULL,
	quote            BLOB,
	expires_at       INTEGER NOT NULL,
	created_at       INTEGER NOT NULL,
	resolved_at      INTEGER,
	CHECK (images_delivered BETWEEN 0 AND images),
	CHECK (refunded BETWEEN 0 AND charged)
) STRICT;

CREATE INDEX generations_hold ON generations (hold_id);

-- The journal: append-only. Each row touches one user account and carries
-- that account's balances after it, so history needs no folding.
CREATE TABLE transactions (
	id              INTEGER PRIMARY KEY AUTOINCREMENT, -- never reused
	kind            TEXT NOT NULL,
	account         TEXT NOT NULL REFERENCES accounts (id),
	time            INTEGER NOT NULL,
	ref             TEXT NOT NULL,
	generation      TEXT NOT NULL,
	model           TEXT NOT NULL,
	model_kind      TEXT NOT NULL,
	catalog_version TEXT NOT NULL,
	available_delta INTEGER NOT NULL,
	held_delta      INTEGER NOT NULL,
	available_after INTEGER NOT NULL,
	held_after      INTEGER NOT NULL,
	charged_delta   INTEGER NOT NULL,
	memo            TEXT NOT NULL
) STRICT;

-- Tx.Entries (newest first, paged by id) and Tx.Usage (a time range).
CREATE INDEX transactions_account ON transactions (account, id);
CREATE INDEX transactions_account_time ON transactions (account, time);

CREATE TABLE postings (
	tx_id    INTEGER NOT NULL REFERENCES transactions (id),
	seq      INTEGER NOT NULL CHECK (seq >= 0),
	account  TEXT NOT NULL, -- a user account, or 'platform'
	book     TEXT NOT NULL,
	grant_id TEXT REFERENCES grants (id), -- NULL on the platform's books
	amount   INTEGER NOT NULL,
	PRIMARY KEY (tx_id, seq)
) STRICT, WITHOUT ROWID;

-- Corrections are new entries: the journal refuses every change.
CREATE TRIGGER transactions_no_update BEFORE UPDATE ON transactions
BEGIN
	SELECT RAISE(ABORT, 'the journal is append-only: transactions cannot be updated');
END;
CREATE TRIGGER transactions_no_delete BEFORE DELETE ON transactions
BEGIN
	SELECT RAISE(ABORT, 'the journal is append-only: transactions cannot be deleted');
END;
CREATE TRIGGER postings_no_update BEFORE UPDATE ON postings
BEGIN
	SELECT RAISE(ABORT, 'the journal is append-only: postings cannot be updated');
END;
CREATE TRIGGER postings_no_delete BEFORE DELETE ON postings
BEGIN
	SELECT RAISE(ABORT, 'the journal is append-only: postings cannot be deleted');
END;

-- Answers to idempotent requests, written in the transaction of their effect.
CREATE TABLE idempotency (
	scope      TEXT NOT NULL,
	key        TEXT NOT NULL,
	hash       TEXT NOT NULL,
	response   BLOB,
	created_at INTEGER NOT NULL,
	PRIMARY KEY (scope, key)
) STRICT;

-- API keys: the SHA-256 of the secret, never the secret.
CREATE TABLE api_keys (
	id         TEXT PRIMARY KEY,
	hash       BLOB NOT NULL,
	scope      TEXT NOT NULL CHECK (scope IN ('admin', 'service', 'account')),
	account    TEXT REFERENCES accounts (id),
	name       TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	expires_at INTEGER,
	revoked_at INTEGER,
	-- Account keys, and only they, name an account.
	CHECK ((scope = 'account') = (account IS NOT NULL))
) STRICT;
