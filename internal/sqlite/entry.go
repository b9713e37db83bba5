package sqlite

import (
	"math"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

const transactionColumns = `id, kind, account, time, ref, generation, model, model_kind, catalog_version,
	available_delta, held_delta, available_after, held_after, charged_delta, memo, list_credits, member`

func scanTransaction(s scanner) (credit.Entry, error) {
	var x credit.Entry
	err := s.Scan(&x.ID, &x.Kind, &x.Account, timeColumn{&x.Time}, &x.Ref, &x.Generation, &x.Model, &x.ModelKind, &x.CatalogVersion,
		&x.AvailableDelta, &x.HeldDelta, &x.AvailableAfter, &x.HeldAfter, &x.ChargedDelta, &x.Memo, &x.ListCredits, &x.Member)
	return x, err
}

// Entries returns an account's transactions with ID < before (0: from the
// newest), newest first, at most limit (≤ 0: all), each with its postings.
// With a member, only the member's and the pool's own (no member): each
// read by transactions_member up to the limit, so that a page costs the
// same however much the team's other members did.
func (t *tx) Entries(account, member string, before int64, limit int) ([]credit.Entry, error) {
	if before <= 0 {
		before = math.MaxInt64
	}
	if member == "" {
		const which = `FROM transactions WHERE account = ? AND id < ? ORDER BY id DESC LIMIT ?`
		return t.transactions("read entries", `SELECT `+transactionColumns+` `+which,
			`WHERE tx_id IN (SELECT id `+which+`)`, account, before, sqlLimit(limit))
	}
	const which = `FROM (
			SELECT * FROM (SELECT * FROM transactions WHERE account = ?1 AND member = ?2 AND id < ?3 ORDER BY id DESC LIMIT ?4)
			UNION ALL
			SELECT * FROM (SELECT * FROM transactions WHERE account = ?1 AND member = '' AND id < ?3 ORDER BY id DESC LIMIT ?4)
		) ORDER BY id DESC LIMIT ?4`
	return t.transactions("read entries", `SELECT `+transactionColumns+` `+which,
		`WHERE tx_id IN (SELECT id `+which+`)`, account, member, before, sqlLimit(limit))
}

// transactions returns the transactions a query selects, in its order, with
// their postings; postingsWhere selects the same transactions' postings with
// the same args.
func (t *tx) transactions(op, query, postingsWhere string, args ...any) ([]credit.Entry, error) {
	var out []credit.Entry
	index := map[int64]int{}
	err := t.each(op, func(s scanner) error {
		x, err := scanTransaction(s)
		index[x.ID] = len(out)
		out = append(out, x)
		return err
	}, query, args...)
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, nil
	}
	err = t.each(op, func(s scanner) error {
		var id int64
		var p credit.Posting
		if err := s.Scan(&id, &p.Account, &p.Book, textColumn{&p.Grant}, &p.Amount); err != nil {
			return err
		}
		if i, ok := index[id]; ok {
			out[i].Postings = append(out[i].Postings, p)
		}
		return nil
	}, `SELECT tx_id, account, book, grant_id, amount FROM postings `+postingsWhere+` ORDER BY tx_id, seq`, args...)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Usage sums ChargedDelta and ListCredits of an account's transactions in
// [from, to), and counts the charges among them (ChargedDelta > 0), by UTC
// day, model, kind and team member; rows are sorted so. Transactions
// with neither (grants, holds, releases, expiries) are in no row; a capture
// in an unlimited window, which charges 0 at a list price, is. Whole
// days come from the usage_daily rollup, the partial days at the ends from
// the journal (credit.WholeDays).
func (t *tx) Usage(account string, from, to time.Time) ([]credit.UsageRow, error) {
	dayFrom, dayTo := credit.WholeDays(from, to)
	var out []credit.UsageRow
	err := t.each("read usage", func(s scanner) error {
		var r credit.UsageRow
		if err := s.Scan(&r.Day, &r.Model, &r.Kind, &r.Member, &r.Charged, &r.Count, &r.List); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	}, `SELECT strftime('%Y-%m-%d', day * 86400, 'unixepoch'), model, model_kind, member, sum(charged), sum(charges), sum(list)
		FROM (
			SELECT time / 86400000000 AS day, model, model_kind, member, charged_delta AS charged, charged_delta > 0 AS charges,
				list_credits AS list
			FROM transactions WHERE account = ?1 AND time >= ?2 AND time < ?3 AND (charged_delta != 0 OR list_credits != 0)
			UNION ALL
			SELECT time / 86400000000, model, model_kind, member, charged_delta, charged_delta > 0, list_credits
			FROM transactions WHERE account = ?1 AND time >= ?4 AND time < ?5 AND (charged_delta != 0 OR list_credits != 0)
			UNION ALL
			SELECT day, model, model_kind, member, charged, charges, list_credits
			FROM usage_daily WHERE account = ?1 AND day >= ?6 AND day < ?7
		)
		GROUP BY day, model, model_kind, member
		ORDER BY day, model, model_kind, member`,
		account, from.UnixMicro(), dayFrom.UnixMicro(), dayTo.UnixMicro(), to.UnixMicro(),
		dayFrom.Unix()/86400, dayTo.Unix()/86400)
	if err != nil {
		return nil, err
	}
	return out, nil
}
