package sqlite

import (
	"github.com/tally-credits/tally/internal/credit"
)

// AppendAudit appends e to the audit log and sets e.ID.
func (t *tx) AppendAudit(e *credit.AuditEntry) error {
	err := t.queryRow(`INSERT INTO audit_log (at, actor, action, target, detail) VALUES (?, ?, ?, ?, ?) RETURNING id`,
		micros(e.At), e.Actor, e.Action, e.Target, append([]byte{}, e.Detail...)).Scan(&e.ID)
	if err != nil {
		return t.halfDone(t.fail("append audit entry", err))
	}
	return nil
}

// AuditLog returns up to limit entries with ID < before (0: from the
// newest), newest first.
func (t *tx) AuditLog(before int64, limit int) ([]credit.AuditEntry, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	return t.auditEntries("read audit log", `SELECT `+auditColumns+` FROM audit_log WHERE id < ? ORDER BY id DESC LIMIT ?`, before, limit)
}

const auditColumns = `id, at, actor, action, target, detail`

// auditEntries runs a query of auditColumns and returns its entries.
func (t *tx) auditEntries(op, query string, args ...any) ([]credit.AuditEntry, error) {
	var out []credit.AuditEntry
	err := t.each(op, func(s scanner) error {
		var e credit.AuditEntry
		if err := s.Scan(&e.ID, timeColumn{&e.At}, &e.Actor, &e.Action, &e.Target, &e.Detail); err != nil {
			return err
		}
		out = append(out, e)
		return nil
	}, query, args...)
	return out, err
}
