package postgres

import (
	"slices"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tally-credits/tally/internal/credit"
)

// The load of a batch (see Write): the account's row lock, then its State
// (see credit.State for what it holds), in a few statements of fixed text,
// which pgx prepares once per connection and then only binds. Every
// statement reads the account's own rows only, each by an index that starts
// with the account or the row's id: a load costs what the account's working
// set holds, not what its history or the ledger holds (TestLoadUsesIndexes).

// lockAccounts takes the row locks of the accounts $1 until the
// transaction ends, one after the other in the order of their ids, and reads
// each as the last holder of its lock left it; tryLockAccounts does not wait
// for a lock another transaction holds (Refs.TryLock). No row: no account,
// or (try) its lock is taken. One global order for every transaction on
// every node: two of them wait for each other, never in a cycle.
const (
	lockAccounts    = `SELECT ` + accountColumns + ` FROM accounts WHERE id = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE`
	tryLockAccounts = `SELECT ` + accountColumns + ` FROM accounts WHERE id = ANY($1::text[]) ORDER BY id FOR NO KEY UPDATE SKIP LOCKED`
)

// queueLocks queues on r the statements that lock the batches' accounts
// (one for those that wait, one for those that do not), which fill lds.
func queueLocks(r *round, batches []*credit.Batch, lds []load) {
	index := make(map[string][]int, len(batches))
	var wait, try []string
	for i, b := range batches {
		if len(index[b.Account]) == 0 {
			if b.Refs.TryLock {
				try = append(try, b.Account)
			} else {
				wait = append(wait, b.Account)
			}
		}
		index[b.Account] = append(index[b.Account], i)
	}
	fill := func(rows pgx.Rows) error {
		for rows.Next() {
			a, err := scanAccount(rows)
			if err != nil {
				return err
			}
			for _, i := range index[a.ID] {
				acct := a
				lds[i].state.Account, lds[i].locked = &acct, true
			}
		}
		return rows.Err()
	}
	if len(wait) > 0 {
		r.query("lock accounts", lockAccounts, fill, wait)
	}
	if len(try) > 0 {
		r.query("lock accounts", tryLockAccounts, fill, try)
	}
}

// loadHolds is the WITH clause of the holds a transaction loads, with
// their parameters: $1 the accounts, $2 Refs.Now, $3 the holds and $4 the
// generations the batches name. The holds, grants and generations
// statements each start with it, so that each can be one statement of its
// own, for every account of the transaction.
//
//   - The accounts' open holds (the partial index holds_open) due at $2 or
//     with an allocation on their overdraft grant: a hold's allocations are
//     read by the primary key of hold_allocations, which starts with the
//     hold (ARRAY: a subquery the planner runs per hold, never by the grant's
//     index, which holds every allocation the overdraft grant ever had).
//   - The holds named, by id, if they are one of the accounts'.
//   - The holds of the generations named, by id, likewise.
//
// A row of another account of the transaction than the batch that named it
// goes to that account's State: every row is its own account's.
const loadHolds = `WITH load_holds AS (
		SELECT o.id FROM holds AS o
		WHERE o.account = ANY($1::text[]) AND o.status = 'open' AND (o.expires_at <= $2::timestamptz
			OR 'ovd_' || o.account = ANY (ARRAY(SELECT a.grant_id FROM hold_allocations AS a WHERE a.hold_id = o.id AND a.amount > 0)))
		UNION
		SELECT n.id FROM holds AS n WHERE n.id = ANY($3::text[]) AND n.account = ANY($1::text[])
		UNION
		SELECT g.hold_id FROM generations AS g WHERE g.id = ANY($4::text[]) AND g.account = ANY($1::text[])
	)`

// loadHoldsQuery reads the holds of loadHolds with their allocations,
// oldest first, each with the member period it counts in (NULLs without a
// member), found by the member_periods_pkey index: a write that returns
// credits of a member's hold to its period (a capture, a release, an
// expiry, a refund) loads the period with the hold.
var loadHoldsQuery = holdJoinQuery(loadHolds, `, p.period_end, p.used, p.limit_credits, p.reached`, `
		LEFT JOIN member_periods AS p ON p.account = h.account AND p.member = h.member AND p.period_start = h.member_period`,
	`id IN (SELECT id FROM load_holds) AND account = ANY($1::text[])`, `created_at, id`, ``)

// loadGrantsQuery reads the accounts' working sets of grants in
// consumption order: the grants not yet expired with something left or
// held or an expiry still to reach, those that paid back an overdraft, the
// overdraft grant (which every write that pays it back or draws on it
// needs, at zero too), and the grants the loaded holds' allocations name.
// It finds an account's grants by the grants_consumption index and filters
// out the spent, never-expiring ones, which it still reads: an index of the
// working set alone would spare that, but its predicate (remaining, held)
// would make every update of a grant a non-HOT one.
const loadGrantsQuery = loadHolds + `
	SELECT ` + grantColumns + ` FROM grants
	WHERE account = ANY($1::text[]) AND (
		(expired_at IS NULL AND (remaining <> 0 OR held <> 0 OR expires_at IS NOT NULL))
		OR paid_back <> 0
		OR source = 'overdraft'
		OR id IN (SELECT a.grant_id FROM hold_allocations AS a WHERE a.hold_id IN (SELECT id FROM load_holds)))
	ORDER BY account, ` + consumptionOrder

// loadGenerationsQuery reads the generations named and those of the loaded
// holds, by id, the accounts' only.
const loadGenerationsQuery = loadHolds + `
	SELECT ` + generationColumns + ` FROM generations
	WHERE account = ANY($1::text[]) AND id IN (
		SELECT unnest($4::text[])
		UNION
		SELECT h.generation FROM holds AS h WHERE h.id IN (SELECT id FROM load_holds) AND h.generation IS NOT NULL)
	ORDER BY created_at, id`

// loadSubscriptionsQuery reads every subscription of the accounts $1 (an
// account has few), each account's oldest first, by the
// subscriptions_account index.
const loadSubscriptionsQuery = `SELECT ` + subscriptionColumns + ` FROM subscriptions
	WHERE account = ANY($1::text[])
	ORDER BY account, ` + subscriptionOrder

// loadIdempotencyQuery reads the idempotency records of the (scope, key)
// pairs $1, $2 that exist.
const loadIdempotencyQuery = `SELECT scope, key, hash, response, created_at FROM idempotency
	WHERE (scope, key) IN (SELECT * FROM unnest($1::text[], $2::text[]))`

// loadMembersQuery reads the members the batches name, removed ones too
// (the (account, member) pairs $1, $2, by the members_pkey index), each
// with its periods that have not ended at $3 (the earliest Refs.Now of the
// batches: a later batch loads a period more than it needs) as arrays in
// start order, read by the member_periods_pkey index: one row per member.
const loadMembersQuery = `SELECT m.account, m.member, m.monthly_limit, m.created_at, m.updated_at, m.removed_at,
		coalesce(p.starts, '{}'), coalesce(p.ends, '{}'), coalesce(p.used, '{}'), coalesce(p.limits, '{}'), coalesce(p.reached, '{}')
	FROM members AS m
	LEFT JOIN LATERAL (
		SELECT array_agg(period_start ORDER BY period_start) AS starts, array_agg(period_end ORDER BY period_start) AS ends,
			array_agg(used ORDER BY period_start) AS used, array_agg(limit_credits ORDER BY period_start) AS limits,
			array_agg(reached ORDER BY period_start) AS reached
		FROM member_periods WHERE account = m.account AND member = m.member AND period_end > $3::timestamptz
	) AS p ON true
	WHERE (m.account, m.member) IN (SELECT * FROM unnest($1::text[], $2::text[]))
	ORDER BY m.account, m.member`

// loadTopupsQuery reads the accounts' top-ups that a write may decide on,
// each set by its own index, so that an account's older top-ups are not
// read: the pending ones (topups_pending), those made at or after $2 (the
// earliest Refs.Now of the batches less credit.TopupWindow: the calendar
// month under way, in any time zone; topups_recent), and those the batches
// name ($3, by id), the accounts' only.
const loadTopupsQuery = `SELECT ` + topupColumns + ` FROM topups WHERE account = ANY($1::text[]) AND status = 'pending'
	UNION
	SELECT ` + topupColumns + ` FROM topups WHERE account = ANY($1::text[]) AND created_at >= $2::timestamptz
	UNION
	SELECT ` + topupColumns + ` FROM topups WHERE id = ANY($3::text[]) AND account = ANY($1::text[])
	ORDER BY account, ` + topupOrder

// load is what the first round trip of a batch loads.
type load struct {
	state  credit.State
	locked bool // the lock statement returned the account's row
}

// queueLoads queues on r the reads of the batches' States, after the locks
// (queueLocks): one statement per kind of row for all of them, whose rows
// go to the State of their account (of every batch of it), as r's results
// are read.
func queueLoads(r *round, batches []*credit.Batch, lds []load) {
	index := make(map[string][]int, len(batches))
	var accounts, holds, gens []string
	var scopes, keys []string
	var teams, members []string // the (account, member) pairs the batches name
	var topups []string
	now, earliest := batches[0].Refs.Now, batches[0].Refs.Now
	for i, b := range batches {
		if len(index[b.Account]) == 0 {
			accounts = append(accounts, b.Account)
		}
		index[b.Account] = append(index[b.Account], i)
		holds = append(holds, b.Refs.Holds...)
		gens = append(gens, b.Refs.Generations...)
		for _, k := range b.Refs.Idempotency {
			scopes, keys = append(scopes, k.Scope), append(keys, k.Key)
		}
		for _, m := range b.Refs.Members {
			teams, members = append(teams, b.Account), append(members, m)
		}
		topups = append(topups, b.Refs.Topups...)
		if b.Refs.Now.After(now) {
			now = b.Refs.Now // the latest: the holds due by it are every batch's due ones
		}
		if b.Refs.Now.Before(earliest) {
			earliest = b.Refs.Now // the earliest: the periods not ended at it are every batch's
		}
	}
	each := func(account string, fn func(*credit.State)) {
		for _, i := range index[account] {
			fn(&lds[i].state)
		}
	}
	args := []any{accounts, now.UTC(), textArray(holds), textArray(gens)}
	r.query("load grants", loadGrantsQuery, func(rows pgx.Rows) error {
		for rows.Next() {
			g, err := scanGrant(rows)
			if err != nil {
				return err
			}
			each(g.Account, func(s *credit.State) { s.Grants = append(s.Grants, g) })
		}
		return rows.Err()
	}, args...)
	r.query("load holds", loadHoldsQuery, func(rows pgx.Rows) error {
		for rows.Next() {
			var end, reached time.Time
			var used pgtype.Int8
			var limit *credit.Credits
			h, err := scanHold(rows, timeColumn{&end}, &used, &limit, timeColumn{&reached})
			if err != nil {
				return err
			}
			each(h.Account, func(s *credit.State) {
				c := h
				c.Allocations = slices.Clone(h.Allocations)
				s.Holds = append(s.Holds, c)
				if used.Valid {
					addPeriod(s, credit.MemberPeriod{Account: h.Account, Member: h.Member, Start: h.MemberPeriod, End: end,
						Used: credit.Credits(used.Int64), Limit: cloneCredits(limit), Reached: reached})
				}
			})
		}
		return rows.Err()
	}, args...)
	r.query("load generations", loadGenerationsQuery, func(rows pgx.Rows) error {
		for rows.Next() {
			g, err := scanGeneration(rows)
			if err != nil {
				return err
			}
			each(g.Account, func(s *credit.State) { s.Generations = append(s.Generations, g) })
		}
		return rows.Err()
	}, args...)
	r.query("load subscriptions", loadSubscriptionsQuery, func(rows pgx.Rows) error {
		for rows.Next() {
			u, err := scanSubscription(rows)
			if err != nil {
				return err
			}
			each(u.Account, func(s *credit.State) {
				c := u
				c.Usage = slices.Clone(u.Usage)
				s.Subscriptions = append(s.Subscriptions, c)
			})
		}
		return rows.Err()
	}, accounts)
	// In the same round trip as the rest of the load, after the locks:
	// a statement of its own, which reads what the lock's previous holder
	// committed (the lock statement's snapshot predates its wait).
	r.query("load top-ups", loadTopupsQuery, func(rows pgx.Rows) error {
		for rows.Next() {
			t, err := scanTopup(rows)
			if err != nil {
				return err
			}
			each(t.Account, func(s *credit.State) { s.Topups = append(s.Topups, t) })
		}
		return rows.Err()
	}, accounts, earliest.Add(-credit.TopupWindow).UTC(), textArray(topups))
	if len(members) > 0 {
		r.query("load members", loadMembersQuery, func(rows pgx.Rows) error {
			for rows.Next() {
				var m credit.Member
				var starts, ends []time.Time
				var used []int64
				var limits []*int64
				var reached []pgtype.Timestamptz
				if err := rows.Scan(&m.Account, &m.ID, &m.MonthlyLimit, timeColumn{&m.CreatedAt}, timeColumn{&m.UpdatedAt}, timeColumn{&m.RemovedAt},
					&starts, &ends, &used, &limits, &reached); err != nil {
					return err
				}
				each(m.Account, func(s *credit.State) {
					c := m
					c.MonthlyLimit = cloneCredits(m.MonthlyLimit)
					s.Members = append(s.Members, c)
					for i := range starts {
						p := credit.MemberPeriod{Account: m.Account, Member: m.ID, Start: starts[i].UTC(), End: ends[i].UTC(), Used: credit.Credits(used[i])}
						if limits[i] != nil {
							l := credit.Credits(*limits[i])
							p.Limit = &l
						}
						if reached[i].Valid {
							p.Reached = reached[i].Time.UTC()
						}
						addPeriod(s, p)
					}
				})
			}
			return rows.Err()
		}, teams, members, earliest.UTC())
	}
	if len(scopes) == 0 {
		return
	}
	r.query("load idempotency records", loadIdempotencyQuery, func(rows pgx.Rows) error {
		for rows.Next() {
			var rec credit.IdempotencyRecord
			if err := rows.Scan(&rec.Scope, &rec.Key, &rec.Hash, &rec.Response, timeColumn{&rec.CreatedAt}); err != nil {
				return err
			}
			for i := range lds {
				lds[i].state.Idempotency = append(lds[i].state.Idempotency, rec)
			}
		}
		return rows.Err()
	}, scopes, keys)
}

// addPeriod adds p to s, unless s has it: a period comes with each of its
// holds, and with its member.
func addPeriod(s *credit.State, p credit.MemberPeriod) {
	for _, o := range s.MemberPeriods {
		if o.Member == p.Member && o.Start.Equal(p.Start) {
			return
		}
	}
	s.MemberPeriods = append(s.MemberPeriods, p)
}

// cloneCredits returns a copy of *c, nil for nil: each State of an
// account has its own.
func cloneCredits(c *credit.Credits) *credit.Credits {
	if c == nil {
		return nil
	}
	v := *c
	return &v
}

// textArray returns s as a text[] parameter: empty, not NULL, for none.
func textArray(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
