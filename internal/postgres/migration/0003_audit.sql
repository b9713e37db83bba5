-- 0003: the audit log (credit.AuditEntry): every admin action (accounts,
-- grants and adjustments, API keys, catalog publishes) with the key that did
-- it, written in the transaction of the action. Append-only, like the journal.

CREATE TABLE audit_log (
	id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	at     TIMESTAMPTZ NOT NULL,
	actor  TEXT COLLATE "C" NOT NULL CHECK (actor <> ''),
	action TEXT COLLATE "C" NOT NULL CHECK (action IN ('account.create', 'grant.create', 'key.create', 'key.revoke', 'catalog.publish')),
	target TEXT COLLATE "C" NOT NULL,
	detail BYTEA NOT NULL
);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
	FOR EACH ROW EXECUTE FUNCTION journal_append_only();
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
	FOR EACH ROW EXECUTE FUNCTION journal_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
	FOR EACH STATEMENT EXECUTE FUNCTION journal_append_only();
