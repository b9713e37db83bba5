-- 0008: teams (credit.Member, credit.MemberPeriod).
--
-- A team is an account whose credits its members spend, each within a
-- monthly limit its admin sets: accounts say what they are (kind), a hold,
-- a generation and a journal entry say which member they are for (member,
-- '' outside teams and for the pool's own entries), and a hold which of the
-- member's periods it counts in (member_period, NULL without a member). API
-- keys may be a member's. The members and what each used of the pool in a
-- period get tables of their own, and the usage rollup gains the member in
-- its key, so that a team's usage splits by member as it splits by day.
--
-- Times are INTEGER Unix microseconds UTC, NULL for the zero time, as in
-- 0001. Every new column of an existing table has a default, which the rows
-- already there take: a user's account, and nothing of a member's.

-- An account's kind comes back as it was written: '' is a user's too
-- (credit.AccountSpec.Kind), and the accounts already here are users'.
ALTER TABLE accounts ADD COLUMN kind TEXT NOT NULL DEFAULT 'user' CHECK (kind IN ('user', 'team', ''));

ALTER TABLE holds ADD COLUMN member TEXT NOT NULL DEFAULT '';
ALTER TABLE holds ADD COLUMN member_period INTEGER; -- credit.Hold.MemberPeriod: a member_periods.period_start

ALTER TABLE generations ADD COLUMN member TEXT NOT NULL DEFAULT '';

ALTER TABLE transactions ADD COLUMN member TEXT NOT NULL DEFAULT '';

-- Only an account key may be a member's.
ALTER TABLE api_keys ADD COLUMN member TEXT NOT NULL DEFAULT '' CHECK (member = '' OR scope = 'account');

-- A team's members, removed ones too (removed_at): leaving and coming back
-- keeps the row, and so the member's periods. monthly_limit NULL: none.
CREATE TABLE members (
	account       TEXT NOT NULL REFERENCES accounts (id),
	member        TEXT NOT NULL,
	monthly_limit INTEGER CHECK (monthly_limit >= 0),
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL,
	removed_at    INTEGER,
	PRIMARY KEY (account, member)
) STRICT, WITHOUT ROWID;

-- What a member used of the pool in one period [period_start, period_end):
-- captured + held − returned of the holds made in it. limit_credits is the
-- limit its last reservation was checked against (NULL: none). A member has
-- a row a month: the load of a write reads a member's periods by the
-- primary key, and Tx.MemberPeriods a team's, with no index of their own
-- for every reservation to keep.
CREATE TABLE member_periods (
	account       TEXT NOT NULL,
	member        TEXT NOT NULL,
	period_start  INTEGER NOT NULL,
	period_end    INTEGER NOT NULL,
	used          INTEGER NOT NULL CHECK (used >= 0),
	limit_credits INTEGER,
	CHECK (period_start < period_end),
	PRIMARY KEY (account, member, period_start),
	FOREIGN KEY (account, member) REFERENCES members (account, member)
) STRICT, WITHOUT ROWID;

-- Tx.Entries of one member: the member's entries and the pool's (member
-- ''), each read newest first by this index up to the page's limit, rather
-- than every entry of the team's other members skipped on the way.
CREATE INDEX transactions_member ON transactions (account, member, id);

-- The rollup gains the member in its key. SQLite cannot change a primary
-- key in place: the table is rebuilt, its rows (all of them outside teams,
-- member '') kept. Its trigger names it, so it goes first and comes back
-- with the member.
DROP TRIGGER transactions_usage_daily;
CREATE TABLE usage_daily_members (
	account      TEXT NOT NULL REFERENCES accounts (id),
	day          INTEGER NOT NULL, -- days since 1970-01-01, UTC
	model        TEXT NOT NULL,
	model_kind   TEXT NOT NULL,
	member       TEXT NOT NULL,
	charged      INTEGER NOT NULL, -- captures minus refunds, thousandths of a credit
	charges      INTEGER NOT NULL, -- entries with charged_delta > 0
	list_credits INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (account, day, model, model_kind, member)
) STRICT, WITHOUT ROWID;
INSERT INTO usage_daily_members (account, day, model, model_kind, member, charged, charges, list_credits)
SELECT account, day, model, model_kind, '', charged, charges, list_credits FROM usage_daily;
DROP TABLE usage_daily;
ALTER TABLE usage_daily_members RENAME TO usage_daily;

CREATE TRIGGER transactions_usage_daily AFTER INSERT ON transactions
WHEN NEW.charged_delta != 0 OR NEW.list_credits != 0
BEGIN
	INSERT INTO usage_daily (account, day, model, model_kind, member, charged, charges, list_credits)
	VALUES (NEW.account, NEW.time / 86400000000, NEW.model, NEW.model_kind, NEW.member, NEW.charged_delta, NEW.charged_delta > 0, NEW.list_credits)
	ON CONFLICT (account, day, model, model_kind, member) DO UPDATE
	SET charged = charged + excluded.charged, charges = charges + excluded.charges, list_credits = list_credits + excluded.list_credits;
END;

-- The apply trigger of 0007, with the new columns and the members (see
-- 0006 for how it reads the document, and apply.go for the document): an
-- account's insert writes its kind (which never changes after), a hold's its
-- member and period, a generation's and an entry's their member; members
-- ($.m) and member periods ($.mp) are upserts, inserted or updated whole
-- but for their key. Members go in before their periods, which name them.
DROP TRIGGER ledger_changes_apply;

-- The audit log learns the members' actions, rebuilt as in 0007 while no
-- trigger names it.
CREATE TABLE audit_log_teams (
	id     INTEGER PRIMARY KEY AUTOINCREMENT,
	at     INTEGER NOT NULL, -- Unix microseconds UTC
	actor  TEXT NOT NULL CHECK (actor <> ''),
	action TEXT NOT NULL CHECK (action IN ('account.create', 'grant.create', 'key.create', 'key.revoke', 'catalog.publish',
		'account.plan', 'subscription.create', 'subscription.cancel', 'subscription.change', 'grant.void', 'grant.amend',
		'member.set', 'member.remove')),
	target TEXT NOT NULL,
	detail BLOB NOT NULL
) STRICT;
INSERT INTO audit_log_teams (id, at, actor, action, target, detail) SELECT id, at, actor, action, target, detail FROM audit_log;
DROP TABLE audit_log;
ALTER TABLE audit_log_teams RENAME TO audit_log;
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
	INSERT INTO accounts (id, overdraft, available, held, created_at, plan, time_zone, daily, kind)
	SELECT v->>0, v->>1, v->>2, v->>3, v->>4, v->>5, v->>6, v->>7, v->>8
	FROM (SELECT value AS v FROM jsonb_each(NEW.doc, '$.na'));

	UPDATE accounts SET (available, held, plan, time_zone, daily) =
		(SELECT v->>1, v->>2, v->>3, v->>4, v->>5 FROM (SELECT value AS v FROM jsonb_each(NEW.doc, '$.a')) WHERE v->>0 = accounts.id)
	WHERE id IN (SELECT value->>0 FROM jsonb_each(NEW.doc, '$.a'));

	INSERT INTO members (account, member, monthly_limit, created_at, updated_at, removed_at)
	SELECT v->>0, v->>1, v->>2, v->>3, v->>4, v->>5
	FROM (SELECT value AS v FROM jsonb_each(NEW.doc, '$.m')) WHERE true
	ON CONFLICT (account, member) DO UPDATE
	SET monthly_limit = excluded.monthly_limit, created_at = excluded.created_at, updated_at = excluded.updated_at,
		removed_at = excluded.removed_at;

	INSERT INTO member_periods (account, member, period_start, period_end, used, limit_credits)
	SELECT v->>0, v->>1, v->>2, v->>3, v->>4, v->>5
	FROM (SELECT value AS v FROM jsonb_each(NEW.doc, '$.mp')) WHERE true
	ON CONFLICT (account, member, period_start) DO UPDATE
	SET period_end = excluded.period_end, used = excluded.used, limit_credits = excluded.limit_credits;

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
END;
