-- 0009: events, alerts, auto top-up and webhooks (credit.Event,
-- credit.Topup, credit.Webhook, credit.Delivery).
--
-- Every change may tell of what it did as events, which go into the feed
-- (events) in the change's transaction: an outbox, so an event exists if
-- and only if its change committed. Accounts gain the threshold of their
-- low-balance alert and their auto top-up, grants when grant.expiring told
-- of them, member periods when member.limit_reached did. Auto top-up
-- requests (topups), webhook endpoints (webhooks) and their deliveries get
-- tables of their own.
--
-- Times are INTEGER Unix microseconds UTC, NULL for the zero time; amounts
-- INTEGER thousandths of a credit, as in 0001. Every new column of an
-- existing table has a default, which the rows already there take: no
-- alert, no auto top-up, never told.

ALTER TABLE accounts ADD COLUMN low_balance INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN auto_topup_threshold INTEGER NOT NULL DEFAULT 0;
ALTER TABLE accounts ADD COLUMN auto_topup_amount INTEGER NOT NULL DEFAULT 0; -- 0: off
ALTER TABLE accounts ADD COLUMN auto_topup_cap INTEGER NOT NULL DEFAULT 0;

ALTER TABLE grants ADD COLUMN warned_at INTEGER; -- credit.Grant.WarnedAt

ALTER TABLE member_periods ADD COLUMN reached INTEGER; -- credit.MemberPeriod.Reached

-- Tx.WarnGrants: the grants grant.expiring has yet to tell of, by expiry.
-- One leaves the index once told (or expired), so it is as small as the
-- sweeper's work ahead; Tx.WarnGrants repeats the condition word for word.
CREATE INDEX grants_warn ON grants (expires_at, id)
	WHERE warned_at IS NULL AND expired_at IS NULL AND expires_at IS NOT NULL;

-- The feed. seq is its order: SQLite commits one transaction at a time, so
-- the order of the inserts is the order of the commits, and AUTOINCREMENT
-- never gives a number twice. A cursor is a seq in decimal. data is the
-- event's JSON as the ledger wrote it, byte for byte. account is '' for an
-- event of no account (catalog.published).
CREATE TABLE events (
	seq     INTEGER PRIMARY KEY AUTOINCREMENT,
	id      TEXT NOT NULL UNIQUE,
	type    TEXT NOT NULL,
	time    INTEGER NOT NULL,
	account TEXT NOT NULL,
	data    TEXT NOT NULL
) STRICT;

-- The feed of one account (EventQuery.Account).
CREATE INDEX events_account ON events (account, seq);

-- Auto top-up requests. grant_id is the grant a confirmation made (NULL
-- before).
CREATE TABLE topups (
	id          TEXT PRIMARY KEY,
	account     TEXT NOT NULL REFERENCES accounts (id),
	credits     INTEGER NOT NULL CHECK (credits >= 0),
	status      TEXT NOT NULL CHECK (status IN ('pending', 'confirmed', 'canceled')),
	grant_id    TEXT REFERENCES grants (id),
	created_at  INTEGER NOT NULL,
	resolved_at INTEGER
) STRICT;

-- Tx.Topups: an account's, newest first (ids sort by creation).
CREATE INDEX topups_account ON topups (account, id);
-- The load of a write: an account's top-ups made in the last TopupWindow,
-- and its pending ones, whenever made.
CREATE INDEX topups_recent ON topups (account, created_at);
CREATE INDEX topups_pending ON topups (account) WHERE status = 'pending';

-- Webhook endpoints. events is a JSON array of event types (["*"]: all).
-- cursor is the seq of the last event scheduled (ScheduleDeliveries): the
-- endpoint's place in the feed. A deleted endpoint keeps its row (and its
-- deliveries' log), deleted_at set.
CREATE TABLE webhooks (
	id              TEXT PRIMARY KEY,
	url             TEXT NOT NULL,
	events          TEXT NOT NULL,
	description     TEXT NOT NULL,
	secret          TEXT NOT NULL,
	created_at      INTEGER NOT NULL,
	disabled_at     INTEGER,
	disabled_reason TEXT NOT NULL DEFAULT '',
	deleted_at      INTEGER,
	cursor          INTEGER NOT NULL CHECK (cursor >= 0)
) STRICT;

-- One event sent to one endpoint: at most one a pair. lease_until is when
-- the claim of the node attempting it ends (NULL: unclaimed).
CREATE TABLE deliveries (
	id              TEXT PRIMARY KEY,
	webhook         TEXT NOT NULL REFERENCES webhooks (id),
	event           TEXT NOT NULL REFERENCES events (id),
	event_type      TEXT NOT NULL,
	account         TEXT NOT NULL,
	status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
	attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
	next_at         INTEGER,
	lease_until     INTEGER,
	last_attempt_at INTEGER,
	last_status     INTEGER NOT NULL DEFAULT 0,
	last_error      TEXT NOT NULL DEFAULT '',
	created_at      INTEGER NOT NULL,
	delivered_at    INTEGER,
	UNIQUE (webhook, event)
) STRICT;

-- ClaimDeliveries (and OutboxLag): the pending ones, by when they are due.
-- A delivered or failed delivery leaves it.
CREATE INDEX deliveries_due ON deliveries (next_at, id) WHERE status = 'pending';
-- Deliveries: an endpoint's log and an account's, newest first.
CREATE INDEX deliveries_webhook ON deliveries (webhook, id);
CREATE INDEX deliveries_account ON deliveries (account, id);

-- The apply trigger of 0008, with the new columns, the top-ups and the
-- events (see 0006 for how it reads the document, and apply.go for the
-- document): an account's update writes its alert and auto top-up too, a
-- grant's its warning, a member period's when its limit was reached; top-ups
-- are inserted ($.nt) and updated ($.t: status, grant, resolution), after
-- the grants a confirmation makes; events ($.ev) are appended last, in order.
DROP TRIGGER ledger_changes_apply;

-- The audit log learns the actions of alerts, top-ups and webhooks, rebuilt
-- as in 0007 and 0008 while no trigger names it.
CREATE TABLE audit_log_events (
	id     INTEGER PRIMARY KEY AUTOINCREMENT,
	at     INTEGER NOT NULL, -- Unix microseconds UTC
	actor  TEXT NOT NULL CHECK (actor <> ''),
	action TEXT NOT NULL CHECK (action IN ('account.create', 'grant.create', 'key.create', 'key.revoke', 'catalog.publish',
		'account.plan', 'subscription.create', 'subscription.cancel', 'subscription.change', 'grant.void', 'grant.amend',
		'member.set', 'member.remove',
		'account.alerts', 'account.auto_topup', 'topup.confirm', 'topup.cancel', 'webhook.create', 'webhook.delete', 'webhook.retry')),
	target TEXT NOT NULL,
	detail BLOB NOT NULL
) STRICT;
INSERT INTO audit_log_events (id, at, actor, action, target, detail) SELECT id, at, actor, action, target, detail FROM audit_log;
DROP TABLE audit_log;
ALTER TABLE audit_log_events RENAME TO audit_log;
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
END;
