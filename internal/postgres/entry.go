package postgres

import (
	"math"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

const transactionColumns = `id, kind, account, time, ref, generation, model, model_kind, catalog_version,
	available_delta, held_delta, available_after, held_after, charged_delta, memo, list_credits, member`

// Entries returns an account's transactions with ID < before (0: from the
// newest), newest first, at most limit (≤ 0: all), each with its postings.
// With a member, only the member's and the pool's own (Entry.Member ""):
// each read newest first by transactions_member up to the page's limit, so
// that a page costs the same however much the team's other members did.
func (t *tx) Entries(account, member string, before int64, limit int) ([]credit.Entry, error) {
	if before <= 0 {
		before = math.MaxInt64
	}
	if member == "" {
		return t.transactions("read entries", `account = $1 AND id < $2`, `DESC LIMIT $3`, account, before, sqlLimit(limit))
	}
	return t.transactions("read entries", `id IN (
			SELECT id FROM (SELECT id FROM transactions WHERE account = $1 AND member = $4 AND id < $2 ORDER BY id DESC LIMIT $3) AS own
			UNION ALL
			SELECT id FROM (SELECT id FROM transactions WHERE account = $1 AND member = '' AND id < $2 ORDER BY id DESC LIMIT $3) AS pool)`,
		`DESC LIMIT $3`, account, before, sqlLimit(limit), member)
}

// transactions returns the transactions that where selects, in id order (or
// as order, appended to ORDER BY id, says), with their postings, in one query.
func (t *tx) transactions(op, where, order string, args ...any) ([]credit.Entry, error) {
	var out []credit.Entry
	err := t.eachEntry(op, where, order, func(x *credit.Entry) error {
		out = append(out, *x)
		return nil
	}, args...)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// EachEntry streams the journal in ID order with its postings (see
// credit.Tx); pgx reads the rows from the connection as they are scanned.
func (t *tx) EachEntry(fn func(*credit.Entry) error) error {
	if err := t.stream("read journal"); err != nil {
		return err
	}
	return t.eachEntry("read journal", `true`, ``, fn)
}

// eachEntry calls fn with each entry a where and order select,
// with its postings, in that order.
func (t *tx) eachEntry(op, where, order string, fn func(*credit.Entry) error, args ...any) error {
	return t.each(op, func(s scanner) error {
		var x credit.Entry
		var accounts, books []string
		var grants []*string
		var amounts []int64
		if err := s.Scan(&x.ID, &x.Kind, &x.Account, timeColumn{&x.Time}, &x.Ref, &x.Generation, &x.Model, &x.ModelKind, &x.CatalogVersion,
			&x.AvailableDelta, &x.HeldDelta, &x.AvailableAfter, &x.HeldAfter, &x.ChargedDelta, &x.Memo, &x.ListCredits, &x.Member,
			&accounts, &books, &grants, &amounts); err != nil {
			return err
		}
		for i := range accounts {
			p := credit.Posting{Account: accounts[i], Book: books[i], Amount: credit.Credits(amounts[i])}
			if grants[i] != nil {
				p.Grant = *grants[i]
			}
			x.Postings = append(x.Postings, p)
		}
		return fn(&x)
	}, `SELECT x.*, coalesce(p.accounts, '{}'), coalesce(p.books, '{}'), coalesce(p.grants, '{}'), coalesce(p.amounts, '{}')
		FROM (SELECT `+transactionColumns+` FROM transactions WHERE `+where+` ORDER BY id `+order+`) AS x
		LEFT JOIN LATERAL (
			SELECT array_agg(account ORDER BY seq) AS accounts, array_agg(book ORDER BY seq) AS books,
				array_agg(grant_id ORDER BY seq) AS grants, array_agg(amount ORDER BY seq) AS amounts
			FROM postings WHERE tx_id = x.id
		) AS p ON true
		ORDER BY x.id `+firstWord(order), args...)
}

// firstWord returns the direction of an order suffix ("DESC LIMIT $3" →
// "DESC").
func firstWord(s string) string {
	for i, r := range s {
		if r == ' ' {
			return s[:i]
		}
	}
	return s
}

// Usage sums ChargedDelta and ListCredits of an account's transactions in
// [from, to), and counts those with a positive ChargedDelta (charges), by
// UTC day, model, kind and team member; rows are sorted by day, model,
// kind, member. Transactions that moved neither (grants, holds, releases,
// expiries) are in no row; the captures and refunds of unlimited
// generations, which charge nothing, are in theirs by their list credits
// (and count as no charge). Whole days come from the usage_daily rollup, the
// partial days at the ends from the journal (credit.WholeDays), which the
// rollup's trigger sums alike.
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
	}, `SELECT to_char(day, 'YYYY-MM-DD'), model, model_kind, member, sum(charged)::bigint, sum(charges)::bigint, sum(list_credits)::bigint
		FROM (
			SELECT (time AT TIME ZONE 'UTC')::date AS day, model, model_kind, member, charged_delta AS charged,
				CASE WHEN charged_delta > 0 THEN 1 ELSE 0 END AS charges, list_credits
			FROM transactions WHERE account = $1 AND time >= $2 AND time < $3 AND (charged_delta <> 0 OR list_credits <> 0)
			UNION ALL
			SELECT (time AT TIME ZONE 'UTC')::date, model, model_kind, member, charged_delta,
				CASE WHEN charged_delta > 0 THEN 1 ELSE 0 END, list_credits
			FROM transactions WHERE account = $1 AND time >= $4 AND time < $5 AND (charged_delta <> 0 OR list_credits <> 0)
			UNION ALL
			SELECT day, model, model_kind, member, charged, charges, list_credits
			FROM usage_daily WHERE account = $1 AND day >= $6::date AND day < $7::date
		) u
		GROUP BY day, model, model_kind, member
		ORDER BY day, model, model_kind, member`,
		account, from.UTC(), dayFrom, dayTo, to.UTC(),
		dayFrom.Format(time.DateOnly), dayTo.Format(time.DateOnly))
	if err != nil {
		return nil, err
	}
	return out, nil
}
