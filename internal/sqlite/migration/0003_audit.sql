-- 0003: the audit log (credit.AuditEntry): every admin action (accounts,
-- grants and adjustments, API keys, catalog publishes) with the key that did
-- it, written in the transaction of the action. Append-only, like the journal.

CREATE TABLE audit_log (
	id     INTEGER PRIMARY KEY AUTOINCREMENT,
	at     INTEGER NOT NULL, -- Unix microseconds UTC
	actor  TEXT NOT NULL CHECK (actor <> ''),
	action TEXT NOT NULL CHECK (action IN ('account.create', 'grant.create', 'key.create', 'key.revoke', 'catalog.publish')),
	target TEXT NOT NULL,
	detail BLOB NOT NULL
) STRICT;

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN
	SELECT RAISE(ABORT, 'the audit log is append-only: entries cannot be updated');
END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN
	SELECT RAISE(ABORT, 'the audit log is append-only: entries cannot be deleted');
END;
