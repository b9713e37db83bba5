-- 0007: teams (credit.Member): an account's kind, the members of a team
-- with their monthly limits, what each used of the pool in each period, and
-- the member a hold, a generation, a journal entry, a day of usage and an
-- API key are for.
--
-- Every new column of an existing table has a constant default that is
-- what a row written before it means: a user's account, and no member
-- (the journal is append-only: entries written before this migration keep
-- member '', and so does the rollup of their days). Such a column is
-- added without rewriting or reading the table. So are the new CHECK
-- constraints of existing tables, which are added NOT VALID: the rows
-- already there satisfy them (they hold the defaults, or an action the old
-- check allowed), PostgreSQL checks every row inserted or updated from now
-- on, and validating them would read the whole table under this
-- migration's lock for nothing. The one step that reads a table whole is
-- the rollup's new primary key, over usage_daily: a row per account, day
-- and model, not the journal.

-- credit.AccountKind, set when the account is opened. It comes back as it
-- was written: '' is a user's too (credit.AccountSpec.Kind), and the
-- accounts already here are users'.
ALTER TABLE accounts
	ADD COLUMN kind TEXT NOT NULL DEFAULT 'user',
	ADD CONSTRAINT accounts_kind_check CHECK (kind IN ('user', 'team', '')) NOT VALID;

-- The member a hold is for, and the start of the member's period it counts
-- in (credit.Hold.MemberPeriod; NULL without a member). Both are set when
-- the hold is made and never change.
ALTER TABLE holds
	ADD COLUMN member        TEXT COLLATE "C" NOT NULL DEFAULT '',
	ADD COLUMN member_period TIMESTAMPTZ;

ALTER TABLE generations ADD COLUMN member TEXT COLLATE "C" NOT NULL DEFAULT '';

-- The member whose generation or hold an entry concerns; '' for the pool's
-- own (grants, expiries, voids) and outside teams.
ALTER TABLE transactions ADD COLUMN member TEXT COLLATE "C" NOT NULL DEFAULT '';

-- An account key of a team's member sees the pool and the member's own
-- usage only. Only an account key may be a member's.
ALTER TABLE api_keys
	ADD COLUMN member TEXT COLLATE "C" NOT NULL DEFAULT '',
	ADD CONSTRAINT api_keys_member_check CHECK (member = '' OR scope = 'account') NOT VALID;

-- A team's members, removed ones too (removed_at): one row per team and
-- member, never deleted, so that a member set again keeps their periods.
-- Written under the team's row lock (credit.Store.Write).
CREATE TABLE members (
	account       TEXT COLLATE "C" NOT NULL,
	member        TEXT COLLATE "C" NOT NULL,
	monthly_limit BIGINT CHECK (monthly_limit >= 0), -- NULL: no limit
	created_at    TIMESTAMPTZ NOT NULL,
	updated_at    TIMESTAMPTZ NOT NULL,
	removed_at    TIMESTAMPTZ, -- NULL while a member
	CONSTRAINT members_pkey PRIMARY KEY (account, member),
	CONSTRAINT members_account_fkey FOREIGN KEY (account) REFERENCES accounts (id)
);

-- What a member used of the pool in one period [period_start, period_end):
-- held + captured − returned of the holds made in it (credit.MemberPeriod).
-- The primary key finds a member's periods (the load of a write) and the
-- period a hold counts in; it is the child key of the foreign key too.
CREATE TABLE member_periods (
	account       TEXT COLLATE "C" NOT NULL,
	member        TEXT COLLATE "C" NOT NULL,
	period_start  TIMESTAMPTZ NOT NULL,
	period_end    TIMESTAMPTZ NOT NULL,
	used          BIGINT NOT NULL CHECK (used >= 0),
	limit_credits BIGINT CHECK (limit_credits >= 0), -- the limit the last reservation was checked against; NULL: none
	CHECK (period_start < period_end),
	CONSTRAINT member_periods_pkey PRIMARY KEY (account, member, period_start),
	CONSTRAINT member_periods_member_fkey FOREIGN KEY (account, member) REFERENCES members (account, member)
);

-- Tx.MemberPeriods: a team's periods not yet ended, without reading every
-- period its members ever had. A period's end never changes: the updates
-- of its used credits leave this index alone (HOT).
CREATE INDEX member_periods_end ON member_periods (account, period_end);

-- Tx.Entries of one member: the member's entries and the pool's (member
-- ''), each read newest first by this index up to the page's limit, rather
-- than every entry of the team's other members skipped on the way. It is
-- one more index entry per journal row, for every account: a member's
-- history must not cost what the whole team's does.
CREATE INDEX transactions_member ON transactions (account, member, id);

-- The rollup gains the member: a team's usage by member reads the rollup
-- as its usage by day does. Rows before this migration are member ''.
ALTER TABLE usage_daily
	ADD COLUMN member TEXT COLLATE "C" NOT NULL DEFAULT '',
	DROP CONSTRAINT usage_daily_pkey,
	ADD CONSTRAINT usage_daily_pkey PRIMARY KEY (account, day, model, model_kind, member);

CREATE OR REPLACE FUNCTION usage_daily_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO usage_daily AS u (account, day, model, model_kind, member, charged, charges, list_credits)
	VALUES (NEW.account, (NEW.time AT TIME ZONE 'UTC')::date, NEW.model, NEW.model_kind, NEW.member,
		NEW.charged_delta, CASE WHEN NEW.charged_delta > 0 THEN 1 ELSE 0 END, NEW.list_credits)
	ON CONFLICT (account, day, model, model_kind, member) DO UPDATE
	SET charged = u.charged + EXCLUDED.charged, charges = u.charges + EXCLUDED.charges,
		list_credits = u.list_credits + EXCLUDED.list_credits;
	RETURN NULL;
END
$$;

-- The audit log learns the members' actions.
ALTER TABLE audit_log DROP CONSTRAINT audit_log_action_check;
ALTER TABLE audit_log ADD CONSTRAINT audit_log_action_check CHECK (action IN ('account.create', 'grant.create', 'key.create', 'key.revoke', 'catalog.publish',
	'account.plan', 'subscription.create', 'subscription.cancel', 'subscription.change', 'grant.void', 'grant.amend',
	'member.set', 'member.remove')) NOT VALID;
