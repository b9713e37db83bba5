-- 0008: events, alerts, auto top-up and webhooks (credit.Event,
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
-- Every new column of an existing table has a constant default, or none
-- (NULL), which is what a row written before it means: no alert, no auto
-- top-up, never told. Such a column is added without rewriting or reading
-- the table. The audit log's new CHECK is added NOT VALID, as in 0007. The
-- one step that reads a big table is grants_warn's build, which reads
-- grants (not the journal) under this migration's lock.

-- credit.Account.LowBalance and credit.Account.AutoTopup, in thousandths
-- of a credit; an amount of 0 is off.
ALTER TABLE accounts
	ADD COLUMN low_balance          BIGINT NOT NULL DEFAULT 0,
	ADD COLUMN auto_topup_threshold BIGINT NOT NULL DEFAULT 0,
	ADD COLUMN auto_topup_amount    BIGINT NOT NULL DEFAULT 0,
	ADD COLUMN auto_topup_cap       BIGINT NOT NULL DEFAULT 0;

ALTER TABLE grants ADD COLUMN warned_at TIMESTAMPTZ; -- credit.Grant.WarnedAt; NULL: not yet

ALTER TABLE member_periods ADD COLUMN reached TIMESTAMPTZ; -- credit.MemberPeriod.Reached; NULL: not yet

-- Tx.WarnGrants: the grants grant.expiring has yet to tell of, by expiry.
-- One leaves the index once told or expired, so it is as small as the
-- sweeper's work ahead; a day's free credits, which are never told of and
-- of which every active account has one, are never in it. Its columns and
-- predicate change once in a grant's life at most (spending a grant, which
-- changes remaining and held, stays a HOT update). Tx.WarnGrants repeats the
-- predicate word for word, so that the planner matches it.
CREATE INDEX grants_warn ON grants (expires_at, id)
	WHERE warned_at IS NULL AND expired_at IS NULL AND expires_at IS NOT NULL AND source <> 'free';

-- The feed. PostgreSQL's transactions commit in an order of their own,
-- which neither seq (handed out at insert) nor the time follows: a
-- transaction that inserted seq 7 may commit after the one that inserted
-- seq 8. So the feed is ordered by (tx, seq), tx being the inserting
-- transaction's id, and a reader is answered only the events of
-- transactions older than every transaction still running
-- (pg_snapshot_xmin of its snapshot): none of those can commit later, so
-- nothing ever appears before a cursor a reader was given (see
-- credit.EventReader). A cursor is "<tx>-<seq>" in decimal. data is the
-- event's JSON as the ledger wrote it, byte for byte (TEXT, not JSONB,
-- which would rewrite it). account is '' for an event of no account
-- (catalog.published).
CREATE TABLE events (
	seq     BIGINT GENERATED ALWAYS AS IDENTITY,
	tx      XID8 NOT NULL DEFAULT pg_current_xact_id(),
	id      TEXT COLLATE "C" NOT NULL,
	type    TEXT COLLATE "C" NOT NULL,
	time    TIMESTAMPTZ NOT NULL,
	account TEXT COLLATE "C" NOT NULL,
	data    TEXT NOT NULL,
	CONSTRAINT events_pkey PRIMARY KEY (id)
);

-- The feed in its order, and one account's (EventQuery.Account).
CREATE INDEX events_feed ON events (tx, seq);
CREATE INDEX events_account ON events (account, tx, seq);

-- Auto top-up requests. grant_id is the grant a confirmation made (NULL
-- before). Written under the account's row lock (credit.Store.Write).
CREATE TABLE topups (
	id          TEXT COLLATE "C" NOT NULL,
	account     TEXT COLLATE "C" NOT NULL,
	credits     BIGINT NOT NULL CHECK (credits >= 0),
	status      TEXT NOT NULL CHECK (status IN ('pending', 'confirmed', 'canceled')),
	grant_id    TEXT COLLATE "C",
	created_at  TIMESTAMPTZ NOT NULL,
	resolved_at TIMESTAMPTZ,
	CONSTRAINT topups_pkey PRIMARY KEY (id),
	CONSTRAINT topups_account_fkey FOREIGN KEY (account) REFERENCES accounts (id),
	CONSTRAINT topups_grant_id_fkey FOREIGN KEY (grant_id) REFERENCES grants (id)
);

-- Tx.Topups: an account's, newest first (ids sort by creation); it is the
-- child key of topups_account_fkey too.
CREATE INDEX topups_account ON topups (account, id);
-- The load of a write: an account's top-ups made in the last TopupWindow,
-- and its pending ones, whenever made.
CREATE INDEX topups_recent ON topups (account, created_at);
CREATE INDEX topups_pending ON topups (account) WHERE status = 'pending';
-- The child key of topups_grant_id_fkey.
CREATE INDEX topups_grant ON topups (grant_id) WHERE grant_id IS NOT NULL;

-- Webhook endpoints. events is a JSON array of event types (["*"]: all).
-- (cursor_tx, cursor_seq) is the endpoint's place in the feed: the last
-- event ScheduleDeliveries read for it, or the feed's head when it was
-- made. A deleted endpoint keeps its row (and its deliveries' log),
-- deleted_at set.
CREATE TABLE webhooks (
	id              TEXT COLLATE "C" NOT NULL,
	url             TEXT NOT NULL,
	events          TEXT NOT NULL,
	description     TEXT NOT NULL,
	secret          TEXT NOT NULL,
	created_at      TIMESTAMPTZ NOT NULL,
	disabled_at     TIMESTAMPTZ,
	disabled_reason TEXT NOT NULL DEFAULT '',
	deleted_at      TIMESTAMPTZ,
	cursor_tx       XID8 NOT NULL,
	cursor_seq      BIGINT NOT NULL,
	CONSTRAINT webhooks_pkey PRIMARY KEY (id)
);

-- One event sent to one endpoint: at most one a pair. lease_until is when
-- the claim of the node attempting it ends (NULL: unclaimed). event names
-- an event without a foreign key: events are never deleted, and the key's
-- check would lock the event's row (a write to its page) for every
-- delivery.
CREATE TABLE deliveries (
	id              TEXT COLLATE "C" NOT NULL,
	webhook         TEXT COLLATE "C" NOT NULL,
	event           TEXT COLLATE "C" NOT NULL,
	event_type      TEXT COLLATE "C" NOT NULL,
	account         TEXT COLLATE "C" NOT NULL,
	status          TEXT NOT NULL CHECK (status IN ('pending', 'delivered', 'failed')),
	attempts        INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
	next_at         TIMESTAMPTZ,
	lease_until     TIMESTAMPTZ,
	last_attempt_at TIMESTAMPTZ,
	last_status     INTEGER NOT NULL DEFAULT 0,
	last_error      TEXT NOT NULL DEFAULT '',
	created_at      TIMESTAMPTZ NOT NULL,
	delivered_at    TIMESTAMPTZ,
	CONSTRAINT deliveries_pkey PRIMARY KEY (id),
	CONSTRAINT deliveries_webhook_event_key UNIQUE (webhook, event),
	CONSTRAINT deliveries_webhook_fkey FOREIGN KEY (webhook) REFERENCES webhooks (id)
);

-- ClaimDeliveries (and OutboxLag): the pending ones, by when they are due.
-- A delivered or failed delivery leaves it.
CREATE INDEX deliveries_due ON deliveries (next_at, id) WHERE status = 'pending';
-- Deliveries: an endpoint's log and an account's, newest first.
CREATE INDEX deliveries_webhook ON deliveries (webhook, id);
CREATE INDEX deliveries_account ON deliveries (account, id);

-- The audit log learns the actions of alerts, top-ups and webhooks.
ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check CHECK (action IN ('account.create', 'grant.create', 'key.create', 'key.revoke', 'catalog.publish',
	'account.plan', 'subscription.create', 'subscription.cancel', 'subscription.change', 'grant.void', 'grant.amend',
	'member.set', 'member.remove',
	'account.alerts', 'account.auto_topup', 'topup.confirm', 'topup.cancel', 'webhook.create', 'webhook.delete', 'webhook.retry')) NOT VALID;
