package postgres

import (
	"github.com/tally-credits/tally/internal/credit"
)

// AppendAudit appends e to the audit log and sets e.ID.
func (t *tx) AppendAudit(e *credit.AuditEntry) error {
	err := t.queryRow(`INSERT INTO audit_log (at, actor, action, target, detail) VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		tstz(e.At), e.Actor, e.Action, e.Target, append([]byte{}, e.Detail...)).Scan(&e.ID)
	if err != nil {
		return t.fail("append audit entry", err)
	}
	return nil
}

// AuditLog returns up to limit entries with ID < before (0: from the
// newest), newest first.
func (t *tx) AuditLog(before int64, limit int) ([]credit.AuditEntry, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	var out []credit.AuditEntry
	err := t.each("read audit log", func(s scanner) error {
		var e credit.AuditEntry
		if err := s.Scan(&e.ID, timeColumn{&e.At}, &e.Actor, &e.Action, &e.Target, &e.Detail); err != nil {
			return err
		}
		out = append(out, e)
		return nil
	}, `SELECT id, at, actor, action, target, detail FROM audit_log WHERE id < $1 ORDER BY id DESC LIMIT $2`, before, limit)
	return out, err
}

// AccountAudit returns up to limit audit entries whose Target is account,
// with ID < before (0: from the newest), newest first: an ordered read of
// audit_log_target, backward from before.
func (t *tx) AccountAudit(account string, before int64, limit int) ([]credit.AuditEntry, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	var out []credit.AuditEntry
	err := t.each("read account audit", func(s scanner) error {
		var e credit.AuditEntry
		if err := s.Scan(&e.ID, timeColumn{&e.At}, &e.Actor, &e.Action, &e.Target, &e.Detail); err != nil {
			return err
		}
		out = append(out, e)
		return nil
	}, accountAuditQuery, account, before, sqlLimit(limit))
	return out, err
}

const accountAuditQuery = `SELECT id, at, actor, action, target, detail FROM audit_log
	WHERE target = $1 AND id < $2 ORDER BY id DESC LIMIT $3`
