-- 0004: the daily usage rollup (credit.DailyUsage). Tx.Usage answers the whole
-- UTC days of its window from here — a row per account, day, model and kind —
-- and only the partial days at its ends from the journal, so a usage query on
-- a busy account reads a few hundred rows, not every entry of the month.
--
-- A trigger keeps it in the transaction that appends each charge or refund:
-- it cannot drift from the journal by a code path that forgets it, and
-- Verify checks it against the journal (usage_rollup). The row is the
-- account's own, written while the account's row lock is held, so it is no
-- hot row: the platform's books stay postings only.

CREATE TABLE usage_daily (
	account    TEXT COLLATE "C" NOT NULL,
	day        DATE NOT NULL, -- UTC
	model      TEXT COLLATE "C" NOT NULL,
	model_kind TEXT COLLATE "C" NOT NULL,
	charged    BIGINT NOT NULL, -- captures minus refunds, thousandths of a credit
	charges    BIGINT NOT NULL, -- entries with charged_delta > 0
	CONSTRAINT usage_daily_pkey PRIMARY KEY (account, day, model, model_kind),
	CONSTRAINT usage_daily_account_fkey FOREIGN KEY (account) REFERENCES accounts (id)
);

INSERT INTO usage_daily (account, day, model, model_kind, charged, charges)
SELECT account, (time AT TIME ZONE 'UTC')::date, model, model_kind,
	sum(charged_delta), count(*) FILTER (WHERE charged_delta > 0)
FROM transactions WHERE charged_delta <> 0
GROUP BY 1, 2, 3, 4;

CREATE FUNCTION usage_daily_add() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO usage_daily AS u (account, day, model, model_kind, charged, charges)
	VALUES (NEW.account, (NEW.time AT TIME ZONE 'UTC')::date, NEW.model, NEW.model_kind,
		NEW.charged_delta, CASE WHEN NEW.charged_delta > 0 THEN 1 ELSE 0 END)
	ON CONFLICT (account, day, model, model_kind) DO UPDATE
	SET charged = u.charged + EXCLUDED.charged, charges = u.charges + EXCLUDED.charges;
	RETURN NULL;
END
$$;
CREATE TRIGGER transactions_usage_daily AFTER INSERT ON transactions
	FOR EACH ROW WHEN (NEW.charged_delta <> 0) EXECUTE FUNCTION usage_daily_add();
