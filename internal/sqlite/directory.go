package sqlite

import (
	"github.com/tally-credits/tally/internal/credit"
)

// The support desk's directory (credit/directory.go): accounts by the start
// of their id, an account's generations and its audit trail. Each reads a
// range of an index, so a page costs the same on a ledger of any size.

// Accounts returns up to limit accounts with ID > after whose ID starts
// with prefix, by ID (see credit.Tx). Ids compare as bytes (SQLite's BINARY
// collation), and the prefix is a range of the primary key, [prefix,
// successor(prefix)): LIKE would read '%' and '_' in an id as wildcards
// and could not use the key.
func (t *tx) Accounts(prefix, after string, limit int) ([]credit.Account, error) {
	q, args := accountsQuery(prefix, after)
	var out []credit.Account
	err := t.each("list accounts", func(r scanner) error {
		a, err := scanAccount(r)
		out = append(out, a)
		return err
	}, q, append(args, limit)...)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// accountsQuery returns the query of Accounts and its arguments but the
// limit (the last). It starts at after (excluded) or prefix (included),
// whichever comes later, and stops before the successor of prefix, if it
// has one: a range SQLite reads in the primary key, from its start.
func accountsQuery(prefix, after string) (string, []any) {
	q, args := `SELECT `+accountColumns+` FROM accounts WHERE id >= ?`, []any{prefix}
	if after != "" && after >= prefix {
		q, args = `SELECT `+accountColumns+` FROM accounts WHERE id > ?`, []any{after}
	}
	if end, ok := successor(prefix); ok {
		q += ` AND id < ?`
		args = append(args, end)
	}
	return q + ` ORDER BY id LIMIT ?`, args
}

// successor returns the least string greater than every string that starts
// with prefix: prefix with its last byte below 0xff incremented and what
// follows it cut off. ok is false when there is none ("" or only 0xff
// bytes): every string from prefix on starts with it.
func successor(prefix string) (end string, ok bool) {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}

// Generations returns an account's generations that match f, by ID
// descending, at most f.Limit (see credit.Tx). It reads generations_account
// (migration 0010) backwards from f.Before, or from the account's newest,
// and filters as it goes. Only the conditions f sets are in the query, so
// that the plan of each is the range of the index.
func (t *tx) Generations(account string, f credit.GenerationFilter) ([]credit.Generation, error) {
	q, args := generationsQuery(account, f)
	var out []credit.Generation
	err := t.each("list generations", func(r scanner) error {
		g, err := scanGeneration(r)
		out = append(out, g)
		return err
	}, q, args...)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// generationsQuery returns the query of Generations and its arguments.
func generationsQuery(account string, f credit.GenerationFilter) (string, []any) {
	q, args := `SELECT `+generationColumns+` FROM generations WHERE account = ?`, []any{account}
	for _, c := range []struct {
		cond, value string
	}{{` AND id < ?`, f.Before}, {` AND status = ?`, string(f.Status)}, {` AND model = ?`, f.Model}, {` AND member = ?`, f.Member}} {
		if c.value != "" {
			q += c.cond
			args = append(args, c.value)
		}
	}
	return q + ` ORDER BY id DESC LIMIT ?`, append(args, f.Limit)
}

// accountAuditQuery reads audit_log_target (migration 0010) backwards from
// its second argument.
const accountAuditQuery = `SELECT ` + auditColumns + ` FROM audit_log WHERE target = ? AND id < ? ORDER BY id DESC LIMIT ?`

// AccountAudit returns up to limit audit entries whose Target is account,
// with ID < before (0: from the newest), newest first.
func (t *tx) AccountAudit(account string, before int64, limit int) ([]credit.AuditEntry, error) {
	if before <= 0 {
		before = 1<<63 - 1
	}
	return t.auditEntries("read account audit", accountAuditQuery, account, before, limit)
}
