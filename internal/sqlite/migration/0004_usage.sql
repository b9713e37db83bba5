-- 0004: the daily usage rollup (credit.DailyUsage). Tx.Usage answers the whole
-- UTC days of its window from here — a row per account, day, model and kind —
-- and only the partial days at its ends from the journal, so a usage query on
-- a busy account reads a few hundred rows, not every entry of the month.
--
-- A trigger keeps it in the transaction that appends each charge or refund:
-- it cannot drift from the journal by a code path that forgets it, and
-- Verify checks it against the journal (usage_rollup). The row is the
-- account's own, written under the account's write, so it is no hot row.

CREATE TABLE usage_daily (
	account    TEXT NOT NULL REFERENCES accounts (id),
	day        INTEGER NOT NULL, -- days since 1970-01-01, UTC
	model      TEXT NOT NULL,
	model_kind TEXT NOT NULL,
	charged    INTEGER NOT NULL, -- captures minus refunds, thousandths of a credit
	charges    INTEGER NOT NULL, -- entries with charged_delta > 0
	PRIMARY KEY (account, day, model, model_kind)
) STRICT, WITHOUT ROWID;

INSERT INTO usage_daily (account, day, model, model_kind, charged, charges)
SELECT account, time / 86400000000, model, model_kind, sum(charged_delta), sum(charged_delta > 0)
FROM transactions WHERE charged_delta != 0
GROUP BY account, time / 86400000000, model, model_kind;

CREATE TRIGGER transactions_usage_daily AFTER INSERT ON transactions
WHEN NEW.charged_delta != 0
BEGIN
	INSERT INTO usage_daily (account, day, model, model_kind, charged, charges)
	VALUES (NEW.account, NEW.time / 86400000000, NEW.model, NEW.model_kind, NEW.charged_delta, NEW.charged_delta > 0)
	ON CONFLICT (account, day, model, model_kind) DO UPDATE
	SET charged = charged + excluded.charged, charges = charges + excluded.charges;
END;
