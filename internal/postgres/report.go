package postgres

import (
	"cmp"
	"context"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/tally-credits/tally/internal/credit"
)

// The report rollups (credit.LiabilityRow, credit.ConsumptionRow):
// liability_daily and consumption_daily (migration 0009). Every Change
// carries what it adds to them; Write adds it in the Change's own round
// trip, by an upsert per table (queueRollups). A database migrated to them
// with a history is filled once, by the migration (backfillRollups).

const (
	// putLiability and putConsumption add their rows to the rows of the
	// same key, inserting those that are not there, in the order of the
	// arrays (WITH ORDINALITY): the order of the keys, which every writer
	// follows, so that two writes that add to the same rows lock them in
	// one order and never deadlock.
	putLiability = `INSERT INTO liability_daily AS l (day, source, expires, shard, credits)
		SELECT day::date, source, expires, shard, credits
		FROM unnest($1::text[], $2::text[], $3::text[], $4::smallint[], $5::bigint[]) WITH ORDINALITY AS r (day, source, expires, shard, credits, n)
		ORDER BY n
		ON CONFLICT (day, source, expires, shard) DO UPDATE SET credits = l.credits + excluded.credits`
	putConsumption = `INSERT INTO consumption_daily AS c (day, model, source, shard, charged, charges)
		SELECT day::date, model, source, shard, charged, charges
		FROM unnest($1::text[], $2::text[], $3::text[], $4::smallint[], $5::bigint[], $6::bigint[]) WITH ORDINALITY AS r (day, model, source, shard, charged, charges, n)
		ORDER BY n
		ON CONFLICT (day, model, source, shard) DO UPDATE SET charged = c.charged + excluded.charged, charges = c.charges + excluded.charges`
)

// rollupShards is how many rows each rollup key is split into on
// PostgreSQL. A write adds to the rows of its account's shard only, so
// that writes on different accounts rarely wait for each other's row
// locks, which each holds until its commit is flushed; the reads sum them.
// (SQLite, with one writer, needs no shards.)
const rollupShards = 16

// rollupShard is the shard the writes of account add to: FNV-1a of its id.
func rollupShard(account string) int16 {
	h := uint32(2166136261)
	for i := 0; i < len(account); i++ {
		h ^= uint32(account[i])
		h *= 16777619
	}
	return int16(h % rollupShards)
}

// changeAccount is the account a change is of ("" when it names none).
func changeAccount(c *credit.Change) string {
	switch {
	case c.NewAccount != nil:
		return c.NewAccount.ID
	case c.Account != nil:
		return c.Account.ID
	case len(c.Entries) > 0:
		return c.Entries[0].Account
	}
	return ""
}

const ()

// Liability sums the liability rollup over the UTC days before `before`
// (YYYY-MM-DD; "" every day) by source and expiry bucket, leaving out the
// sums of zero (see credit.Tx). Day is "" in the rows.
func (t *tx) Liability(before string) ([]credit.LiabilityRow, error) {
	var out []credit.LiabilityRow
	err := t.each("read liability", func(s scanner) error {
		var r credit.LiabilityRow
		if err := s.Scan(&r.Source, &r.Expires, &r.Credits); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	}, `SELECT source, expires, sum(credits)::bigint FROM liability_daily
		WHERE $1::text IS NULL OR day < $1::text::date
		GROUP BY source, expires HAVING sum(credits) <> 0`, nullable(before))
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Consumption returns the consumption rollup's rows with from ≤ Day < to
// (YYYY-MM-DD), in no particular order (see credit.Tx).
func (t *tx) Consumption(from, to string) ([]credit.ConsumptionRow, error) {
	return t.consumption("read consumption", `WHERE day >= $1::text::date AND day < $2::text::date`, from, to)
}

// liability and consumption read the rollups' rows, one per key, their
// shards summed (Snapshot).
func (t *tx) liability(op string) ([]credit.LiabilityRow, error) {
	var out []credit.LiabilityRow
	err := t.each(op, func(s scanner) error {
		var r credit.LiabilityRow
		if err := s.Scan(&r.Day, &r.Source, &r.Expires, &r.Credits); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	}, `SELECT to_char(day, 'YYYY-MM-DD'), source, expires, sum(credits)::bigint FROM liability_daily GROUP BY day, source, expires`)
	if err != nil {
		return nil, err
	}
	return out, nil
}

func (t *tx) consumption(op, where string, args ...any) ([]credit.ConsumptionRow, error) {
	var out []credit.ConsumptionRow
	err := t.each(op, func(s scanner) error {
		var r credit.ConsumptionRow
		if err := s.Scan(&r.Day, &r.Model, &r.Source, &r.Charged, &r.Charges); err != nil {
			return err
		}
		out = append(out, r)
		return nil
	}, `SELECT to_char(day, 'YYYY-MM-DD'), model, source, sum(charged)::bigint, sum(charges)::bigint FROM consumption_daily `+where+
		` GROUP BY day, model, source`, args...)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// queueRollups queues on r what the changes add to the rollups: one upsert
// a table, of the rows of every change summed by key and sorted by it, so
// that every writer locks the rows it adds to in one order. They go last
// before COMMIT: the rows of a day are shared by every account, and are
// locked from their upsert to the commit.
func queueRollups(r *round, cs []*credit.Change) {
	type liabilityKey struct {
		day     string
		source  credit.Source
		expires string
		shard   int16
	}
	liab := map[liabilityKey]credit.Credits{}
	type consumptionKey struct {
		day, model string
		source     credit.Source
		shard      int16
	}
	type consumed struct {
		charged credit.Credits
		charges int
	}
	cons := map[consumptionKey]consumed{}
	for _, c := range cs {
		shard := rollupShard(changeAccount(c))
		for _, x := range c.Liability {
			liab[liabilityKey{x.Day, x.Source, x.Expires, shard}] += x.Credits
		}
		for _, x := range c.Consumption {
			k := consumptionKey{x.Day, x.Model, x.Source, shard}
			s := cons[k]
			s.charged += x.Charged
			s.charges += x.Charges
			cons[k] = s
		}
	}
	var ls []shardRow[credit.LiabilityRow]
	for k, x := range liab {
		if x != 0 {
			ls = append(ls, shardRow[credit.LiabilityRow]{credit.LiabilityRow{Day: k.day, Source: k.source, Expires: k.expires, Credits: x}, k.shard})
		}
	}
	var rs []shardRow[credit.ConsumptionRow]
	for k, s := range cons {
		if s.charged != 0 || s.charges != 0 {
			rs = append(rs, shardRow[credit.ConsumptionRow]{credit.ConsumptionRow{Day: k.day, Model: k.model, Source: k.source, Charged: s.charged, Charges: s.charges}, k.shard})
		}
	}
	if len(ls) > 0 {
		r.exec("add to the liability rollup", putLiability, nil, liabilityArgs(ls)...)
	}
	if len(rs) > 0 {
		r.exec("add to the consumption rollup", putConsumption, nil, consumptionArgs(rs)...)
	}
}

// shardRow is a rollup row and the shard it adds to.
type shardRow[R any] struct {
	row   R
	shard int16
}

// liabilityArgs and consumptionArgs sort rows by key, bytewise, then shard,
// and return them as the arrays putLiability and putConsumption take.
func liabilityArgs(rows []shardRow[credit.LiabilityRow]) []any {
	slices.SortFunc(rows, func(a, b shardRow[credit.LiabilityRow]) int {
		return cmp.Or(cmp.Compare(a.row.Day, b.row.Day), cmp.Compare(a.row.Source, b.row.Source), cmp.Compare(a.row.Expires, b.row.Expires), cmp.Compare(a.shard, b.shard))
	})
	n := len(rows)
	days, sources, expires, shards, credits := make([]string, n), make([]string, n), make([]string, n), make([]int16, n), make([]int64, n)
	for i, x := range rows {
		days[i], sources[i], expires[i], shards[i], credits[i] = x.row.Day, string(x.row.Source), x.row.Expires, x.shard, int64(x.row.Credits)
	}
	return []any{days, sources, expires, shards, credits}
}

func consumptionArgs(rows []shardRow[credit.ConsumptionRow]) []any {
	slices.SortFunc(rows, func(a, b shardRow[credit.ConsumptionRow]) int {
		return cmp.Or(cmp.Compare(a.row.Day, b.row.Day), cmp.Compare(a.row.Model, b.row.Model), cmp.Compare(a.row.Source, b.row.Source), cmp.Compare(a.shard, b.shard))
	})
	n := len(rows)
	days, models, sources, shards, charged, charges := make([]string, n), make([]string, n), make([]string, n), make([]int16, n), make([]int64, n), make([]int64, n)
	for i, x := range rows {
		days[i], models[i], sources[i], shards[i], charged[i], charges[i] = x.row.Day, x.row.Model, string(x.row.Source), x.shard, int64(x.row.Charged), int64(x.row.Charges)
	}
	return []any{days, models, sources, shards, charged, charges}
}

// backfillRollups fills the report rollups of a ledger that had a history
// before migration 0009 made them, from what credit.ComputeRollups reads of
// it, in ptx: the migration's transaction, under its lock, once every
// migration's SQL has run (the schema is the one this build reads). The
// migration locked the tables it reads against writes, so its statements
// read one ledger. A fresh database has no row to add.
func backfillRollups(ctx context.Context, ptx pgx.Tx) error {
	t := &tx{ctx: ctx, ptx: ptx}
	liab, cons, err := credit.ComputeRollups(t)
	if err != nil {
		return err
	}
	if len(liab) > 0 {
		rows := make([]shardRow[credit.LiabilityRow], len(liab))
		for i, x := range liab {
			rows[i].row = x // shard 0: the backfill is one writer
		}
		if _, err := ptx.Exec(ctx, putLiability, liabilityArgs(rows)...); err != nil {
			return storeError(ctx, "backfill the liability rollup", err)
		}
	}
	if len(cons) > 0 {
		rows := make([]shardRow[credit.ConsumptionRow], len(cons))
		for i, x := range cons {
			rows[i].row = x
		}
		if _, err := ptx.Exec(ctx, putConsumption, consumptionArgs(rows)...); err != nil {
			return storeError(ctx, "backfill the consumption rollup", err)
		}
	}
	return nil
}
