-- 0006: one statement applies a write's change (credit.Change).
--
-- The ledger decides a write in memory and hands the store every row it
-- changes (package credit, State and Change). Applying those rows one
-- statement each cost more than the decision itself: every statement crosses
-- database/sql and the driver. Instead the store inserts the whole change,
-- as one JSON document, into the view ledger_changes, and this trigger
-- writes the rows inside SQLite, in one statement from Go, whatever the
-- number of rows. The store inserts the document as JSONB (jsonb(?)), and
-- the trigger reads it with jsonb_each, whose rows are JSONB too: the text
-- is parsed once, not once per statement and again per row. The document's arrays (see apply.go) are rows as arrays,
-- in the tables' column order; an absent array is no rows.
--
-- Every UPDATE and DELETE finds its rows by primary key (WHERE id IN the
-- document's ids), and reads each row's values from the document by a
-- correlated subquery: the tables are never scanned.
--
-- The journal's ids are assigned here in order: the entries of $.e get the
-- next ids of transactions, and a posting names its entry by index in $.e.
-- last_insert_rowid() is, inside a trigger, the id of the trigger's last
-- insert: the last entry of $.e, whose ids are consecutive (one INSERT on one
-- writer). The first entry's id is an uncorrelated subquery, which SQLite
-- computes once per statement, not once per posting (json_array_length
-- walks the document).

CREATE VIEW ledger_changes (doc) AS SELECT NULL WHERE 0;

CREATE TRIGGER ledger_changes_apply INSTEAD OF INSERT ON ledger_changes
BEGIN
	INSERT INTO accounts (id, overdraft, available, held, created_at)
	SELECT v->>0, v->>1, v->>2, v->>3, v->>4
	FROM (SELECT value AS v FROM jsonb_each(NEW.doc, '$.na'));

	UPDATE accounts SET (available, held) =
		(SELECT v->>1, v->>2 FROM (SELECT value AS v FROM jsonb_each(NEW.doc, '$.a')) WHERE v->>0 = accounts.id)
	WHERE id IN (SELECT value->>0 FROM jsonb_each(NEW.doc, '$.a'));

	INSERT INTO grants (id, account, source, granted, remaining, held, priority, expires_at, expired_at, created_at, memo, paid_back)
	SELECT v->>0, v->>1, v->>2, v->>3, v->>4, v->>5, v->>6, v->>7, v->>8, v->>9, v->>10, v->>11
	FROM (SELECT value AS v FROM jsonb_each(NEW.doc, '$.ng'));

	UPDATE grants SET (remaining, held, paid_back, expired_at) =
		(SELECT v->>1, v->>2, v->>3, v->>4 FROM (SELECT value AS v FROM jsonb_each(NEW.doc, '$.g')) WHERE v->>0 = grants.id)
	WHERE id IN (SELECT value->>0 FROM jsonb_each(NEW.doc, '$.g'));

	INSERT INTO holds (id, account, generation, amount, captured, released, status, expires_at, created_at, resolved_at)
	SELECT v->>0, v->>1, v->>2, v->>3, v->>4, v->>5, v->>6, v->>7, v->>8, v->>9
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
		hold_credits, unit_credits, surcharge, charged, refunded, quote, expires_at, created_at, resolved_at)
	SELECT v->>0, v->>1, v->>2, v->>3, v->>4, v->>5, v->>6, v->>7, v->>8,
		v->>9, v->>10, v->>11, v->>12, v->>13, CAST(v->>14 AS BLOB), v->>15, v->>16, v->>17
	FROM (SELECT value AS v FROM jsonb_each(NEW.doc, '$.ngen'));

	UPDATE generations SET (status, images_delivered, charged, refunded, resolved_at) =
		(SELECT v->>1, v->>2, v->>3, v->>4, v->>5 FROM (SELECT value AS v FROM jsonb_each(NEW.doc, '$.gen')) WHERE v->>0 = generations.id)
	WHERE id IN (SELECT value->>0 FROM jsonb_each(NEW.doc, '$.gen'));

	INSERT INTO transactions (kind, account, time, ref, generation, model, model_kind, catalog_version,
		available_delta, held_delta, available_after, held_after, charged_delta, memo)
	SELECT v->>0, v->>1, v->>2, v->>3, v->>4, v->>5, v->>6, v->>7, v->>8, v->>9, v->>10, v->>11, v->>12, v->>13
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

-- The working set of an account's grants (credit.State): the grants a write
-- may read or change. Spent grants that never expire, nearly all of an old
-- account's, are not in it, so a write reads as many grants as are alive.
-- loadQuery repeats the condition word for word, which is how SQLite knows
-- it may use the index.
CREATE INDEX grants_working ON grants (account, priority, expires_at IS NULL, expires_at, created_at, id)
	WHERE (expired_at IS NULL AND (remaining <> 0 OR held <> 0 OR expires_at IS NOT NULL)) OR paid_back <> 0 OR source = 'overdraft';
