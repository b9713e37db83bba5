package postgres

import (
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/tally-credits/tally/internal/credit"
)

// The apply of a batch (see Write): every row of its Change, in a statement
// per kind of row that takes all the rows of that kind as arrays (unnest),
// so that a write costs the same few statements however many grants, holds
// or entries it touches; a kind with no row is not sent. The statements run
// in the order of the foreign keys: the account, then grants, generations
// and holds (which name each other; those two keys are checked at commit),
// then allocations (which name holds and grants) and subscriptions (which
// name their account), then members (who name their team) and their periods
// (which name their member), then top-ups (which name the grant a
// confirmation made), then the journal (whose postings name grants), the
// idempotency records, the audit log and the events: the outbox, in the
// same transaction and the same round trip as what it tells of. The usage
// rollup is kept by the journal's trigger; the report rollups come last
// (queueRollups, report.go): their rows are shared by every account, so
// they are locked for as short a time as the round trip allows.

const (
	insertAccounts = `INSERT INTO accounts (` + accountColumns + `)
		SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::timestamptz[], $6::text[], $7::text[], $8::text[], $9::text[],
			$10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[])`
	updateAccounts = `UPDATE accounts AS a SET available = u.available, held = u.held, plan = u.plan, time_zone = u.time_zone, daily = u.daily,
			low_balance = u.low_balance, auto_topup_threshold = u.auto_topup_threshold, auto_topup_amount = u.auto_topup_amount,
			auto_topup_cap = u.auto_topup_cap
		FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::bigint[], $9::bigint[], $10::bigint[])
			AS u (id, available, held, plan, time_zone, daily, low_balance, auto_topup_threshold, auto_topup_amount, auto_topup_cap)
		WHERE a.id = u.id`

	insertGrants = `INSERT INTO grants (` + grantColumns + `)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[],
			$8::timestamptz[], $9::timestamptz[], $10::timestamptz[], $11::text[], $12::bigint[],
			$13::text[]::jsonb[], $14::text[], $15::text[], $16::timestamptz[])`
	updateGrants = `UPDATE grants AS g SET remaining = u.remaining, held = u.held, paid_back = u.paid_back,
			expires_at = u.expires_at, expired_at = u.expired_at, warned_at = u.warned_at
		FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::timestamptz[], $6::timestamptz[], $7::timestamptz[])
			AS u (id, remaining, held, paid_back, expires_at, expired_at, warned_at)
		WHERE g.id = u.id`

	insertGenerations = `INSERT INTO generations (` + generationColumns + `)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::int[], $9::int[],
			$10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[], $14::bigint[], $15::bytea[],
			$16::timestamptz[], $17::timestamptz[], $18::timestamptz[], $19::text[], $20::text[], $21::bigint[], $22::text[])`
	updateGenerations = `UPDATE generations AS g SET status = u.status, images_delivered = u.images_delivered,
			charged = u.charged, refunded = u.refunded, resolved_at = u.resolved_at, list_credits = u.list_credits
		FROM unnest($1::text[], $2::text[], $3::int[], $4::bigint[], $5::bigint[], $6::timestamptz[], $7::bigint[])
			AS u (id, status, images_delivered, charged, refunded, resolved_at, list_credits)
		WHERE g.id = u.id`

	insertHolds = `INSERT INTO holds (` + holdColumns + `)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], $7::text[],
			$8::timestamptz[], $9::timestamptz[], $10::timestamptz[], $11::text[], $12::timestamptz[])`
	updateHolds = `UPDATE holds AS h SET status = u.status, captured = u.captured, released = u.released, resolved_at = u.resolved_at
		FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bigint[], $5::timestamptz[])
			AS u (id, status, captured, released, resolved_at)
		WHERE h.id = u.id`

	insertSubscriptions = `INSERT INTO subscriptions (` + subscriptionColumns + `)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[],
			$8::text[], $9::timestamptz[], $10::int[], $11::timestamptz[], $12::text[]::jsonb[], $13::timestamptz[], $14::timestamptz[])`
	// updateSubscriptions writes every column but id, account and
	// created_at (credit.Change.Subscriptions).
	updateSubscriptions = `UPDATE subscriptions AS s SET plan = u.plan, billing = u.billing, time_zone = u.time_zone,
			starts_at = u.starts_at, ends_at = u.ends_at, next_plan = u.next_plan, next_at = u.next_at,
			period = u.period, renews_at = u.renews_at, usage = u.usage, canceled_at = u.canceled_at
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[], $6::timestamptz[],
			$7::text[], $8::timestamptz[], $9::int[], $10::timestamptz[], $11::text[]::jsonb[], $12::timestamptz[])
			AS u (id, plan, billing, time_zone, starts_at, ends_at, next_plan, next_at, period, renews_at, usage, canceled_at)
		WHERE s.id = u.id`

	// putMembers and putMemberPeriods insert, or write every column but
	// the key of a row that exists (credit.Change.Members and
	// MemberPeriods).
	putMembers = `INSERT INTO members (` + memberColumns + `)
		SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::timestamptz[], $5::timestamptz[], $6::timestamptz[])
		ON CONFLICT (account, member) DO UPDATE SET monthly_limit = excluded.monthly_limit,
			created_at = excluded.created_at, updated_at = excluded.updated_at, removed_at = excluded.removed_at`
	putMemberPeriods = `INSERT INTO member_periods (` + memberPeriodColumns + `)
		SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::timestamptz[], $5::bigint[], $6::bigint[], $7::timestamptz[])
		ON CONFLICT (account, member, period_start) DO UPDATE SET period_end = excluded.period_end,
			used = excluded.used, limit_credits = excluded.limit_credits, reached = excluded.reached`

	insertTopups = `INSERT INTO topups (` + topupColumns + `)
		SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::timestamptz[], $7::timestamptz[])`
	updateTopups = `UPDATE topups AS t SET status = u.status, grant_id = u.grant_id, resolved_at = u.resolved_at
		FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[]) AS u (id, status, grant_id, resolved_at)
		WHERE t.id = u.id`

	putAllocations = `INSERT INTO hold_allocations (hold_id, seq, grant_id, amount, captured, refunded)
		SELECT * FROM unnest($1::text[], $2::int[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[])
		ON CONFLICT (hold_id, seq) DO UPDATE SET grant_id = excluded.grant_id, amount = excluded.amount,
			captured = excluded.captured, refunded = excluded.refunded`
	trimAllocations = `DELETE FROM hold_allocations AS a USING unnest($1::text[], $2::int[]) AS t (hold_id, seq)
		WHERE a.hold_id = t.hold_id AND a.seq >= t.seq`

	// appendEntries inserts the entries in their order, so that the
	// identity column numbers them in that order, and then their postings:
	// entry n (from 1) is the one with the n-th smallest of the new ids.
	// It returns the ids, in order.
	appendEntries = `WITH x AS (
			INSERT INTO transactions (kind, account, time, ref, generation, model, model_kind, catalog_version,
				available_delta, held_delta, available_after, held_after, charged_delta, memo, list_credits, member)
			SELECT kind, account, time, ref, generation, model, model_kind, catalog_version,
				available_delta, held_delta, available_after, held_after, charged_delta, memo, list_credits, member
			FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
				$9::bigint[], $10::bigint[], $11::bigint[], $12::bigint[], $13::bigint[], $14::text[], $21::bigint[], $22::text[]) WITH ORDINALITY
				AS e (kind, account, time, ref, generation, model, model_kind, catalog_version,
					available_delta, held_delta, available_after, held_after, charged_delta, memo, list_credits, member, n)
			ORDER BY n
			RETURNING id
		), xn AS (
			SELECT id, row_number() OVER (ORDER BY id) AS n FROM x
		), p AS (
			INSERT INTO postings (tx_id, seq, account, book, grant_id, amount)
			SELECT xn.id, p.seq, p.account, p.book, p.grant_id, p.amount
			FROM unnest($15::int[], $16::int[], $17::text[], $18::text[], $19::text[], $20::bigint[])
				AS p (entry, seq, account, book, grant_id, amount)
			JOIN xn ON xn.n = p.entry
		)
		SELECT id FROM xn ORDER BY id`

	// appendEvents appends the events to the feed in their order: seq, and
	// tx (the transaction's id, by the column's default), place them.
	appendEvents = `INSERT INTO events (id, type, time, account, data)
		SELECT id, type, time, account, data
		FROM unnest($1::text[], $2::text[], $3::timestamptz[], $4::text[], $5::text[]) WITH ORDINALITY
			AS e (id, type, time, account, data, n)
		ORDER BY n`

	insertIdempotency = `INSERT INTO idempotency (scope, key, hash, response, created_at)
		SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::timestamptz[])`

	// appendAudit inserts the entries in their order and returns their ids,
	// in order.
	appendAudit = `WITH a AS (
			INSERT INTO audit_log (at, actor, action, target, detail)
			SELECT at, actor, action, target, detail
			FROM unnest($1::timestamptz[], $2::text[], $3::text[], $4::text[], $5::bytea[]) WITH ORDINALITY
				AS a (at, actor, action, target, detail, n)
			ORDER BY n
			RETURNING id
		)
		SELECT id FROM a ORDER BY id`
)

// queueApply queues on r the statements that write the changes of a
// transaction: one statement per kind of row, whatever the number of rows
// and of accounts. It refuses (Internal) an entry whose postings do not sum
// to zero before anything is sent (credit.Change.Check). Changes of one
// account more than once (which the ledger never sends) are applied one
// after the other, so that a row's later values win.
func queueApply(r *round, cs []*credit.Change) error {
	seen := map[string]bool{}
	for _, c := range cs {
		if err := c.Check(); err != nil {
			return err
		}
		a := c.NewAccount
		if a == nil {
			a = c.Account
		}
		if a == nil {
			continue
		}
		if seen[a.ID] {
			for _, c := range cs {
				queueChange(r, []*credit.Change{c})
			}
			queueRollups(r, cs)
			return nil
		}
		seen[a.ID] = true
	}
	queueChange(r, cs)
	queueRollups(r, cs)
	return nil
}

// queueChange queues the statements of queueApply for changes of distinct
// accounts.
func queueChange(r *round, cs []*credit.Change) {
	c := &credit.Change{}
	var newAccounts, accounts []credit.Account
	for _, x := range cs {
		if x.NewAccount != nil {
			newAccounts = append(newAccounts, *x.NewAccount)
		}
		if x.Account != nil {
			accounts = append(accounts, *x.Account)
		}
		c.NewGrants = append(c.NewGrants, x.NewGrants...)
		c.Grants = append(c.Grants, x.Grants...)
		c.NewHolds = append(c.NewHolds, x.NewHolds...)
		c.Holds = append(c.Holds, x.Holds...)
		c.Allocations = append(c.Allocations, x.Allocations...)
		c.TrimAllocations = append(c.TrimAllocations, x.TrimAllocations...)
		c.NewGenerations = append(c.NewGenerations, x.NewGenerations...)
		c.Generations = append(c.Generations, x.Generations...)
		c.NewSubscriptions = append(c.NewSubscriptions, x.NewSubscriptions...)
		c.Subscriptions = append(c.Subscriptions, x.Subscriptions...)
		c.Members = append(c.Members, x.Members...)
		c.MemberPeriods = append(c.MemberPeriods, x.MemberPeriods...)
		c.NewTopups = append(c.NewTopups, x.NewTopups...)
		c.Topups = append(c.Topups, x.Topups...)
		c.Events = append(c.Events, x.Events...)
		c.Entries = append(c.Entries, x.Entries...)
		c.Idempotency = append(c.Idempotency, x.Idempotency...)
		c.Audit = append(c.Audit, x.Audit...)
	}
	if n := len(newAccounts); n > 0 {
		ids, overdraft, available, held, created := make([]string, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]pgtype.Timestamptz, n)
		plans, zones, daily, kinds := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		var alerts alertArrays
		for i, a := range newAccounts {
			ids[i], overdraft[i], available[i], held[i], created[i] = a.ID, int64(a.Overdraft), int64(a.Available), int64(a.Held), timestamp(a.CreatedAt)
			plans[i], zones[i], daily[i], kinds[i] = a.Plan, a.TimeZone, a.Daily, string(a.Kind)
			alerts.add(a)
		}
		r.exec("insert accounts", insertAccounts, nil, ids, overdraft, available, held, created, plans, zones, daily, kinds,
			alerts.lowBalance, alerts.threshold, alerts.amount, alerts.cap)
	}
	if n := len(accounts); n > 0 {
		ids, available, held, plans, zones, daily := make([]string, n), make([]int64, n), make([]int64, n), make([]string, n), make([]string, n), make([]string, n)
		var alerts alertArrays
		for i, a := range accounts {
			ids[i], available[i], held[i], plans[i], zones[i], daily[i] = a.ID, int64(a.Available), int64(a.Held), a.Plan, a.TimeZone, a.Daily
			alerts.add(a)
		}
		r.exec("update accounts", updateAccounts, rowsChanged(n), ids, available, held, plans, zones, daily,
			alerts.lowBalance, alerts.threshold, alerts.amount, alerts.cap)
	}
	if gs := c.NewGrants; len(gs) > 0 {
		var a grantArrays
		for _, g := range gs {
			a.add(g)
		}
		r.exec("insert grants", insertGrants, nil, a.id, a.account, a.source, a.granted, a.remaining, a.held, a.priority,
			a.expiresAt, a.expiredAt, a.createdAt, a.memo, a.paidBack, a.appliesTo, a.subscription, a.period, a.warnedAt)
	}
	if gs := c.Grants; len(gs) > 0 {
		var a grantArrays
		for _, g := range gs {
			a.add(g)
		}
		r.exec("update grants", updateGrants, rowsChanged(len(gs)), a.id, a.remaining, a.held, a.paidBack, a.expiresAt, a.expiredAt, a.warnedAt)
	}
	if gs := c.NewGenerations; len(gs) > 0 {
		var a genArrays
		for _, g := range gs {
			a.add(g)
		}
		r.exec("insert generations", insertGenerations, nil, a.id, a.account, a.status, a.hold, a.model, a.kind, a.version,
			a.images, a.delivered, a.holdCredits, a.unitCredits, a.surcharge, a.charged, a.refunded, a.quote,
			a.expiresAt, a.createdAt, a.resolvedAt, a.window, a.lane, a.listCredits, a.member)
	}
	if gs := c.Generations; len(gs) > 0 {
		var a genArrays
		for _, g := range gs {
			a.add(g)
		}
		r.exec("update generations", updateGenerations, rowsChanged(len(gs)), a.id, a.status, a.delivered, a.charged, a.refunded, a.resolvedAt, a.listCredits)
	}
	var allocs allocationArrays
	if hs := c.NewHolds; len(hs) > 0 {
		var a holdArrays
		for _, h := range hs {
			a.add(h)
			for seq, x := range h.Allocations {
				allocs.add(credit.AllocationRow{Hold: h.ID, Seq: seq, Allocation: x})
			}
		}
		r.exec("insert holds", insertHolds, nil, a.id, a.account, a.generation, a.amount, a.captured, a.released, a.status,
			a.expiresAt, a.createdAt, a.resolvedAt, a.member, a.memberPeriod)
	}
	if hs := c.Holds; len(hs) > 0 {
		var a holdArrays
		for _, h := range hs {
			a.add(h)
		}
		r.exec("update holds", updateHolds, rowsChanged(len(hs)), a.id, a.status, a.captured, a.released, a.resolvedAt)
	}
	for _, x := range c.Allocations {
		allocs.add(x)
	}
	if len(allocs.hold) > 0 {
		r.exec("write allocations", putAllocations, nil, allocs.hold, allocs.seq, allocs.grant, allocs.amount, allocs.captured, allocs.refunded)
	}
	if ts := c.TrimAllocations; len(ts) > 0 {
		holds, seqs := make([]string, len(ts)), make([]int32, len(ts))
		for i, t := range ts {
			holds[i], seqs[i] = t.Hold, int32(t.Seq)
		}
		r.exec("trim allocations", trimAllocations, nil, holds, seqs)
	}
	if ss := c.NewSubscriptions; len(ss) > 0 {
		var a subscriptionArrays
		for _, s := range ss {
			a.add(s)
		}
		r.exec("insert subscriptions", insertSubscriptions, nil, a.id, a.account, a.plan, a.billing, a.timeZone,
			a.startsAt, a.endsAt, a.nextPlan, a.nextAt, a.period, a.renewsAt, a.usage, a.createdAt, a.canceledAt)
	}
	if ss := c.Subscriptions; len(ss) > 0 {
		var a subscriptionArrays
		for _, s := range ss {
			a.add(s)
		}
		r.exec("update subscriptions", updateSubscriptions, rowsChanged(len(ss)), a.id, a.plan, a.billing, a.timeZone,
			a.startsAt, a.endsAt, a.nextPlan, a.nextAt, a.period, a.renewsAt, a.usage, a.canceledAt)
	}
	if ms := c.Members; len(ms) > 0 {
		var a memberArrays
		for _, m := range ms {
			a.add(m)
		}
		r.exec("write members", putMembers, nil, a.account, a.id, a.monthlyLimit, a.createdAt, a.updatedAt, a.removedAt)
	}
	if ps := c.MemberPeriods; len(ps) > 0 {
		var a memberPeriodArrays
		for _, p := range ps {
			a.add(p)
		}
		r.exec("write member periods", putMemberPeriods, nil, a.account, a.member, a.start, a.end, a.used, a.limit, a.reached)
	}
	// After the grants: a confirmed top-up names the grant it made.
	if ts := c.NewTopups; len(ts) > 0 {
		var a topupArrays
		for _, t := range ts {
			a.add(t)
		}
		r.exec("insert top-ups", insertTopups, nil, a.id, a.account, a.credits, a.status, a.grant, a.createdAt, a.resolvedAt)
	}
	if ts := c.Topups; len(ts) > 0 {
		var a topupArrays
		for _, t := range ts {
			a.add(t)
		}
		r.exec("update top-ups", updateTopups, rowsChanged(len(ts)), a.id, a.status, a.grant, a.resolvedAt)
	}
	if xs := c.Entries; len(xs) > 0 {
		var e entryArrays
		for i, x := range xs {
			e.add(i+1, x)
		}
		r.query("append transactions", appendEntries, ids(entryRefs(cs), func(x **credit.Entry, id int64) { (*x).ID = id }),
			e.kind, e.account, e.time, e.ref, e.generation, e.model, e.modelKind, e.version,
			e.availableDelta, e.heldDelta, e.availableAfter, e.heldAfter, e.chargedDelta, e.memo,
			e.pEntry, e.pSeq, e.pAccount, e.pBook, e.pGrant, e.pAmount, e.listCredits, e.member)
	}
	if rs := c.Idempotency; len(rs) > 0 {
		n := len(rs)
		scopes, keys, hashes, responses, created := make([]string, n), make([]string, n), make([]string, n), make([][]byte, n), make([]pgtype.Timestamptz, n)
		for i, x := range rs {
			scopes[i], keys[i], hashes[i], responses[i], created[i] = x.Scope, x.Key, x.Hash, x.Response, timestamp(x.CreatedAt)
		}
		r.exec("write idempotency records", insertIdempotency, nil, scopes, keys, hashes, responses, created)
	}
	if es := c.Audit; len(es) > 0 {
		n := len(es)
		at, actors, actions, targets, details := make([]pgtype.Timestamptz, n), make([]string, n), make([]string, n), make([]string, n), make([][]byte, n)
		for i, e := range es {
			at[i], actors[i], actions[i], targets[i] = timestamp(e.At), e.Actor, e.Action, e.Target
			details[i] = append([]byte{}, e.Detail...) // NOT NULL
		}
		r.query("append audit entries", appendAudit, ids(auditRefs(cs), func(e **credit.AuditEntry, id int64) { (*e).ID = id }),
			at, actors, actions, targets, details)
	}
	if es := c.Events; len(es) > 0 {
		var a eventArrays
		for _, e := range es {
			a.add(e)
		}
		r.exec("append events", appendEvents, nil, a.id, a.typ, a.time, a.account, a.data)
	}
}

// entryRefs and auditRefs point at the entries and audit entries of cs, in
// order, for the ids the store gives them.
func entryRefs(cs []*credit.Change) []*credit.Entry {
	var out []*credit.Entry
	for _, c := range cs {
		for i := range c.Entries {
			out = append(out, &c.Entries[i])
		}
	}
	return out
}

func auditRefs(cs []*credit.Change) []*credit.AuditEntry {
	var out []*credit.AuditEntry
	for _, c := range cs {
		for i := range c.Audit {
			out = append(out, &c.Audit[i])
		}
	}
	return out
}

// ids returns a row callback that sets the ids the statement returns, in
// order, on xs.
func ids[T any](xs []T, set func(*T, int64)) func(pgx.Rows) error {
	return func(rows pgx.Rows) error {
		i := 0
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				return err
			}
			if i < len(xs) {
				set(&xs[i], id)
			}
			i++
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if i != len(xs) {
			return credit.Errorf(credit.Internal, "store_error", "postgres: %d rows appended of %d", i, len(xs))
		}
		return nil
	}
}

// timestamp returns t as an element of a timestamptz[] parameter: NULL for
// the zero time.
func timestamp(t time.Time) pgtype.Timestamptz {
	if t.IsZero() {
		return pgtype.Timestamptz{}
	}
	return pgtype.Timestamptz{Time: t.UTC(), Valid: true}
}

// text returns s as an element of a text[] parameter: NULL for "".
func text(s string) pgtype.Text { return pgtype.Text{String: s, Valid: s != ""} }

// The columns of the rows of a kind, as the array parameters of its
// statements.

type grantArrays struct {
	id, account, source, memo, subscription, period []string
	granted, remaining, held, priority, paidBack    []int64
	expiresAt, expiredAt, createdAt, warnedAt       []pgtype.Timestamptz
	appliesTo                                       []pgtype.Text // JSON
}

func (a *grantArrays) add(g credit.Grant) {
	a.id, a.account, a.source, a.memo = append(a.id, g.ID), append(a.account, g.Account), append(a.source, string(g.Source)), append(a.memo, g.Memo)
	a.granted, a.remaining, a.held = append(a.granted, int64(g.Granted)), append(a.remaining, int64(g.Remaining)), append(a.held, int64(g.Held))
	a.priority, a.paidBack = append(a.priority, int64(g.Priority)), append(a.paidBack, int64(g.PaidBack))
	a.expiresAt, a.expiredAt, a.createdAt = append(a.expiresAt, timestamp(g.ExpiresAt)), append(a.expiredAt, timestamp(g.ExpiredAt)), append(a.createdAt, timestamp(g.CreatedAt))
	a.appliesTo = append(a.appliesTo, jsonText(g.AppliesTo, g.AppliesTo.IsZero()))
	a.subscription, a.period = append(a.subscription, g.Subscription), append(a.period, g.Period)
	a.warnedAt = append(a.warnedAt, timestamp(g.WarnedAt))
}

// alertArrays are an account's alert and auto top-up columns.
type alertArrays struct{ lowBalance, threshold, amount, cap []int64 }

func (a *alertArrays) add(x credit.Account) {
	a.lowBalance, a.threshold = append(a.lowBalance, int64(x.LowBalance)), append(a.threshold, int64(x.AutoTopup.Threshold))
	a.amount, a.cap = append(a.amount, int64(x.AutoTopup.Amount)), append(a.cap, int64(x.AutoTopup.MonthlyCap))
}

type topupArrays struct {
	id, account, status   []string
	grant                 []pgtype.Text
	credits               []int64
	createdAt, resolvedAt []pgtype.Timestamptz
}

func (a *topupArrays) add(t credit.Topup) {
	a.id, a.account, a.status, a.grant = append(a.id, t.ID), append(a.account, t.Account), append(a.status, string(t.Status)), append(a.grant, text(t.Grant))
	a.credits, a.createdAt, a.resolvedAt = append(a.credits, int64(t.Credits)), append(a.createdAt, timestamp(t.CreatedAt)), append(a.resolvedAt, timestamp(t.ResolvedAt))
}

type eventArrays struct {
	id, typ, account, data []string
	time                   []pgtype.Timestamptz
}

func (a *eventArrays) add(e credit.Event) {
	a.id, a.typ, a.account = append(a.id, e.ID), append(a.typ, e.Type), append(a.account, e.Account)
	a.time, a.data = append(a.time, timestamp(e.Time)), append(a.data, string(e.Data))
}

type genArrays struct {
	id, account, status, hold, model, kind, version, window, lane       []string
	member                                                              []string
	images, delivered                                                   []int32
	holdCredits, unitCredits, surcharge, charged, refunded, listCredits []int64
	quote                                                               [][]byte
	expiresAt, createdAt, resolvedAt                                    []pgtype.Timestamptz
}

func (a *genArrays) add(g credit.Generation) {
	a.id, a.account, a.status, a.hold = append(a.id, g.ID), append(a.account, g.Account), append(a.status, string(g.Status)), append(a.hold, g.Hold)
	a.model, a.kind, a.version = append(a.model, g.Model), append(a.kind, string(g.Kind)), append(a.version, g.CatalogVersion)
	a.images, a.delivered = append(a.images, int32(g.Images)), append(a.delivered, int32(g.ImagesDelivered))
	a.holdCredits, a.unitCredits, a.surcharge = append(a.holdCredits, int64(g.HoldCredits)), append(a.unitCredits, int64(g.UnitCredits)), append(a.surcharge, int64(g.Surcharge))
	a.charged, a.refunded = append(a.charged, int64(g.Charged)), append(a.refunded, int64(g.Refunded))
	a.quote = append(a.quote, g.Quote) // nil: NULL
	a.expiresAt, a.createdAt, a.resolvedAt = append(a.expiresAt, timestamp(g.ExpiresAt)), append(a.createdAt, timestamp(g.CreatedAt)), append(a.resolvedAt, timestamp(g.ResolvedAt))
	a.window, a.lane, a.listCredits = append(a.window, g.Window), append(a.lane, string(g.Lane)), append(a.listCredits, int64(g.ListCredits))
	a.member = append(a.member, g.Member)
}

type subscriptionArrays struct {
	id, account, plan, billing, timeZone, nextPlan            []string
	period                                                    []int32
	startsAt, endsAt, nextAt, renewsAt, createdAt, canceledAt []pgtype.Timestamptz
	usage                                                     []pgtype.Text // JSON
}

func (a *subscriptionArrays) add(s credit.Subscription) {
	a.id, a.account, a.plan, a.billing = append(a.id, s.ID), append(a.account, s.Account), append(a.plan, s.Plan), append(a.billing, string(s.Billing))
	a.timeZone, a.nextPlan, a.period = append(a.timeZone, s.TimeZone), append(a.nextPlan, s.NextPlan), append(a.period, int32(s.Period))
	a.startsAt, a.endsAt, a.nextAt = append(a.startsAt, timestamp(s.StartsAt)), append(a.endsAt, timestamp(s.EndsAt)), append(a.nextAt, timestamp(s.NextAt))
	a.renewsAt, a.createdAt, a.canceledAt = append(a.renewsAt, timestamp(s.RenewsAt)), append(a.createdAt, timestamp(s.CreatedAt)), append(a.canceledAt, timestamp(s.CanceledAt))
	a.usage = append(a.usage, jsonText(s.Usage, len(s.Usage) == 0))
}

type holdArrays struct {
	id, account, status, member                    []string
	generation                                     []pgtype.Text
	amount, captured, released                     []int64
	expiresAt, createdAt, resolvedAt, memberPeriod []pgtype.Timestamptz
}

func (a *holdArrays) add(h credit.Hold) {
	a.id, a.account, a.status, a.generation = append(a.id, h.ID), append(a.account, h.Account), append(a.status, string(h.Status)), append(a.generation, text(h.Generation))
	a.amount, a.captured, a.released = append(a.amount, int64(h.Amount)), append(a.captured, int64(h.Captured)), append(a.released, int64(h.Released))
	a.expiresAt, a.createdAt, a.resolvedAt = append(a.expiresAt, timestamp(h.ExpiresAt)), append(a.createdAt, timestamp(h.CreatedAt)), append(a.resolvedAt, timestamp(h.ResolvedAt))
	a.member, a.memberPeriod = append(a.member, h.Member), append(a.memberPeriod, timestamp(h.MemberPeriod))
}

type memberArrays struct {
	account, id                     []string
	monthlyLimit                    []pgtype.Int8
	createdAt, updatedAt, removedAt []pgtype.Timestamptz
}

func (a *memberArrays) add(m credit.Member) {
	a.account, a.id, a.monthlyLimit = append(a.account, m.Account), append(a.id, m.ID), append(a.monthlyLimit, optional(m.MonthlyLimit))
	a.createdAt, a.updatedAt, a.removedAt = append(a.createdAt, timestamp(m.CreatedAt)), append(a.updatedAt, timestamp(m.UpdatedAt)), append(a.removedAt, timestamp(m.RemovedAt))
}

type memberPeriodArrays struct {
	account, member []string
	start, end      []pgtype.Timestamptz
	used            []int64
	limit           []pgtype.Int8
	reached         []pgtype.Timestamptz
}

func (a *memberPeriodArrays) add(p credit.MemberPeriod) {
	a.account, a.member, a.start, a.end = append(a.account, p.Account), append(a.member, p.Member), append(a.start, timestamp(p.Start)), append(a.end, timestamp(p.End))
	a.used, a.limit, a.reached = append(a.used, int64(p.Used)), append(a.limit, optional(p.Limit)), append(a.reached, timestamp(p.Reached))
}

// optional returns c as an element of a bigint[] parameter: NULL for nil.
func optional(c *credit.Credits) pgtype.Int8 {
	if c == nil {
		return pgtype.Int8{}
	}
	return pgtype.Int8{Int64: int64(*c), Valid: true}
}

type allocationArrays struct {
	hold, grant                []string
	seq                        []int32
	amount, captured, refunded []int64
}

func (a *allocationArrays) add(x credit.AllocationRow) {
	a.hold, a.seq, a.grant = append(a.hold, x.Hold), append(a.seq, int32(x.Seq)), append(a.grant, x.Grant)
	a.amount, a.captured, a.refunded = append(a.amount, int64(x.Amount)), append(a.captured, int64(x.Captured)), append(a.refunded, int64(x.Refunded))
}

type entryArrays struct {
	kind, account, ref, generation, model, modelKind, version, memo    []string
	member                                                             []string
	time                                                               []pgtype.Timestamptz
	availableDelta, heldDelta, availableAfter, heldAfter, chargedDelta []int64
	listCredits                                                        []int64
	pEntry, pSeq                                                       []int32
	pAccount, pBook                                                    []string
	pGrant                                                             []pgtype.Text
	pAmount                                                            []int64
}

// add adds x, the n-th entry (from 1), and its postings.
func (a *entryArrays) add(n int, x credit.Entry) {
	a.kind, a.account, a.ref, a.generation = append(a.kind, string(x.Kind)), append(a.account, x.Account), append(a.ref, x.Ref), append(a.generation, x.Generation)
	a.model, a.modelKind, a.version, a.memo = append(a.model, x.Model), append(a.modelKind, string(x.ModelKind)), append(a.version, x.CatalogVersion), append(a.memo, x.Memo)
	a.time = append(a.time, timestamp(x.Time))
	a.availableDelta, a.heldDelta = append(a.availableDelta, int64(x.AvailableDelta)), append(a.heldDelta, int64(x.HeldDelta))
	a.availableAfter, a.heldAfter = append(a.availableAfter, int64(x.AvailableAfter)), append(a.heldAfter, int64(x.HeldAfter))
	a.chargedDelta, a.listCredits = append(a.chargedDelta, int64(x.ChargedDelta)), append(a.listCredits, int64(x.ListCredits))
	a.member = append(a.member, x.Member)
	for seq, p := range x.Postings {
		a.pEntry, a.pSeq = append(a.pEntry, int32(n)), append(a.pSeq, int32(seq))
		a.pAccount, a.pBook, a.pGrant, a.pAmount = append(a.pAccount, p.Account), append(a.pBook, p.Book), append(a.pGrant, text(p.Grant)), append(a.pAmount, int64(p.Amount))
	}
}
