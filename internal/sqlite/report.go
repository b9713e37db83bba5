package sqlite

import (
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// The report rollups (migration 0010): liability_daily and
// consumption_daily, which every write adds to through the apply trigger
// (apply.go), and the stream of charged generations a catalog's impact
// re-prices.

// liabilityQuery sums the whole rollup; liabilityBeforeQuery the days
// before its argument, a range of the primary key.
const (
	liabilityQuery = `SELECT source, expires, sum(credits) FROM liability_daily
		GROUP BY source, expires HAVING sum(credits) <> 0`
	liabilityBeforeQuery = `SELECT source, expires, sum(credits) FROM liability_daily WHERE day < ?
		GROUP BY source, expires HAVING sum(credits) <> 0`
)

// Liability sums the liability rollup over the UTC days before `before`
// ("" every day) by source and expiry bucket (see credit.Tx), leaving out
// the sums that come to nothing.
func (t *tx) Liability(before string) ([]credit.LiabilityRow, error) {
	query, args := liabilityQuery, []any(nil)
	if before != "" {
		query, args = liabilityBeforeQuery, []any{before}
	}
	var out []credit.LiabilityRow
	err := t.each("read liability", func(s scanner) error {
		var r credit.LiabilityRow
		err := s.Scan(&r.Source, &r.Expires, &r.Credits)
		out = append(out, r)
		return err
	}, query, args...)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// consumptionQuery reads a range of days of the rollup's primary key.
const consumptionQuery = `SELECT ` + consumptionColumns + ` FROM consumption_daily WHERE day >= ? AND day < ?`

// Consumption returns the consumption rollup's rows with from ≤ Day < to.
func (t *tx) Consumption(from, to string) ([]credit.ConsumptionRow, error) {
	return t.consumption("read consumption", consumptionQuery, from, to)
}

const (
	liabilityColumns   = `day, source, expires, credits`
	consumptionColumns = `day, model, source, charged, charges`
)

func (t *tx) liability(op, query string, args ...any) ([]credit.LiabilityRow, error) {
	var out []credit.LiabilityRow
	err := t.each(op, func(s scanner) error {
		var r credit.LiabilityRow
		err := s.Scan(&r.Day, &r.Source, &r.Expires, &r.Credits)
		out = append(out, r)
		return err
	}, query, args...)
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (t *tx) consumption(op, query string, args ...any) ([]credit.ConsumptionRow, error) {
	var out []credit.ConsumptionRow
	err := t.each(op, func(s scanner) error {
		var r credit.ConsumptionRow
		err := s.Scan(&r.Day, &r.Model, &r.Source, &r.Charged, &r.Charges)
		out = append(out, r)
		return err
	}, query, args...)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// chargedQuery reads generations_charged (migration 0010), whose condition
// it repeats word for word so that SQLite can use it.
const chargedQuery = `SELECT ` + generationColumns + ` FROM generations
	WHERE status = 'completed' AND charged > 0 AND resolved_at >= ? AND resolved_at < ?`

// EachCharged calls fn for every generation completed with a charge whose
// ResolvedAt is in [from, to), in the order of generations_charged, one row
// at a time (see credit.Tx). An error from fn ends it and is returned as it
// is; the store's own are translated.
func (t *tx) EachCharged(from, to time.Time, fn func(*credit.Generation) error) error {
	rows, err := t.query(chargedQuery, from.UnixMicro(), to.UnixMicro())
	if err != nil {
		return t.fail("read charged generations", err)
	}
	defer rows.Close()
	for rows.Next() {
		g, err := scanGeneration(rows)
		if err != nil {
			return t.fail("read charged generations", err)
		}
		if err := fn(&g); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		return t.fail("read charged generations", err)
	}
	return nil
}

// backfillReports fills the report rollups of a ledger that had a history
// before migration 0010 made them: what credit.ComputeRollups reads from its
// journal, grants and holds, written by the apply trigger as a write's
// deltas are, into the empty tables. Migrate runs it once, in the
// transaction that applies 0010.
func (t *tx) backfillReports() error {
	liability, consumption, err := credit.ComputeRollups(t)
	if err != nil {
		return err
	}
	if err := t.applyChanges([]*credit.Change{{Liability: liability, Consumption: consumption}}); err != nil {
		return err
	}
	return t.broken
}
