package sqlite

import (
	"cmp"
	"encoding/json"
	"math"
	"slices"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// loadQuery reads an account's State (see credit.State for what it holds) in
// one statement, as one JSON document: what a statement costs is mostly the
// crossing of database/sql and the driver, not SQLite's work, so one that
// returns everything costs about what the first of five would.
//
// It loads every open hold of the account, not only those due or on the
// overdraft (see credit.State): the state goes on into the writer's cache
// (states), where it must answer any later write. Parameters: ?1 the
// account, ?2 and ?3 JSON arrays of the holds and generations the batch
// names, ?4 a JSON array of [scope, key] (the preamble reads the records of
// a transaction's writes; ?4 is for callers outside it), ?5 a JSON array of
// the members the batch names and ?6 Refs.Now (Unix microseconds): those
// members' periods not ended at ?6 are loaded, and the period of every
// loaded hold that has a member; ?7 is Refs.Now less credit.TopupWindow
// (the top-ups made since are loaded, and the pending ones) and ?8 a JSON
// array of the top-ups the batch names.
//
// Each part reads by an index: the account's open holds by holds_open,
// named rows by primary key, the working set of grants by grants_working
// (migration 0006), whose condition the query repeats word for word so
// that SQLite can use it; every subscription of the account by
// subscriptions_account (0007); members and member periods by primary key
// (0008); top-ups by topups_pending, topups_recent and primary key (0009).
const loadQuery = `
WITH h (id) AS (
	SELECT id FROM holds WHERE account = ?1 AND status = 'open'
	UNION SELECT id FROM holds WHERE id IN (SELECT value FROM json_each(?2)) AND account = ?1
	UNION SELECT hold_id FROM generations WHERE id IN (SELECT value FROM json_each(?3)) AND account = ?1
)
SELECT json_object(
	'a', json((SELECT json_object('o', overdraft, 'v', available, 'h', held, 'c', created_at, 'pl', plan, 'tz', time_zone, 'dl', daily,
			'k', kind, 'lb', low_balance, 'att', auto_topup_threshold, 'ata', auto_topup_amount, 'atc', auto_topup_cap)
		FROM accounts WHERE id = ?1)),
	'g', json((SELECT json_group_array(json_object('id', id, 's', source, 'n', granted, 'r', remaining, 'h', held, 'p', priority,
			'x', expires_at, 'xd', expired_at, 'c', created_at, 'm', memo, 'pb', paid_back,
			'ap', json(applies_to), 'sub', subscription, 'per', period, 'w', warned_at))
		FROM (SELECT * FROM grants WHERE account = ?1 AND
				((expired_at IS NULL AND (remaining <> 0 OR held <> 0 OR expires_at IS NOT NULL)) OR paid_back <> 0 OR source = 'overdraft')
			UNION SELECT * FROM grants WHERE id IN (SELECT grant_id FROM hold_allocations WHERE hold_id IN (SELECT id FROM h))))),
	'h', json((SELECT json_group_array(json_object('id', id, 'gen', generation, 'n', amount, 'cap', captured, 'rel', released,
			's', status, 'x', expires_at, 'c', created_at, 'rs', resolved_at, 'mb', member, 'mp', member_period))
		FROM holds WHERE id IN (SELECT id FROM h))),
	'al', json((SELECT json_group_array(json_object('h', hold_id, 'seq', seq, 'g', grant_id, 'n', amount, 'cap', captured, 'ref', refunded))
		FROM hold_allocations WHERE hold_id IN (SELECT id FROM h))),
	'gen', json((SELECT json_group_array(json_object('id', id, 's', status, 'h', hold_id, 'm', model, 'k', kind, 'cv', catalog_version,
			'i', images, 'id2', images_delivered, 'hc', hold_credits, 'uc', unit_credits, 'sc', surcharge, 'ch', charged,
			'rf', refunded, 'q', CAST(quote AS TEXT), 'x', expires_at, 'c', created_at, 'rs', resolved_at,
			'w', "window", 'ln', lane, 'lc', list_credits, 'mb', member))
		FROM generations WHERE account = ?1 AND id IN (SELECT value FROM json_each(?3) UNION SELECT generation FROM holds WHERE id IN (SELECT id FROM h)))),
	'i', json((SELECT json_group_array(json_object('s', scope, 'k', key, 'h', hash, 'r', CAST(response AS TEXT), 'c', created_at))
		FROM idempotency WHERE (scope, key) IN (SELECT value->>0, value->>1 FROM json_each(?4)))),
	'sub', json((SELECT json_group_array(json_object('id', id, 'pl', plan, 'b', billing, 'tz', time_zone, 'st', starts_at, 'en', ends_at,
			'np', next_plan, 'na', next_at, 'p', period, 'r', renews_at, 'u', json(usage), 'c', created_at, 'cx', canceled_at))
		FROM subscriptions WHERE account = ?1)),
	'm', json((SELECT json_group_array(json_object('id', member, 'l', monthly_limit, 'c', created_at, 'u', updated_at, 'rm', removed_at))
		FROM members WHERE account = ?1 AND member IN (SELECT value FROM json_each(?5)))),
	'mp', json((SELECT json_group_array(json_object('m', member, 'st', period_start, 'en', period_end, 'u', used, 'l', limit_credits,
			'rc', reached))
		FROM (SELECT * FROM member_periods WHERE account = ?1 AND member IN (SELECT value FROM json_each(?5)) AND period_end > ?6
			UNION SELECT * FROM member_periods WHERE account = ?1 AND (member, period_start) IN
				(SELECT member, member_period FROM holds WHERE id IN (SELECT id FROM h) AND member <> '')))),
	't', json((SELECT json_group_array(json_object('id', id, 'n', credits, 's', status, 'g', grant_id, 'c', created_at, 'rs', resolved_at))
		FROM (SELECT * FROM topups INDEXED BY topups_pending WHERE account = ?1 AND status = 'pending'
			UNION SELECT * FROM topups WHERE account = ?1 AND created_at >= ?7
			UNION SELECT * FROM topups WHERE id IN (SELECT value FROM json_each(?8)) AND account = ?1)))
)`

// milli is an amount in the document: thousandths of a credit, as stored.
// (credit.Credits reads JSON as decimal credits, the API's form.)
type milli int64

func (m milli) c() credit.Credits { return credit.Credits(m) }

// credits is an amount that may be NULL (nil: no limit).
func (m *milli) credits() *credit.Credits {
	if m == nil {
		return nil
	}
	c := credit.Credits(*m)
	return &c
}

// stateDoc is loadQuery's document.
type stateDoc struct {
	A *struct {
		O, V, H milli
		C       int64
		Plan    string `json:"pl"`
		TZ      string `json:"tz"`
		Daily   string `json:"dl"`
		Kind    string `json:"k"`
		LB      milli  `json:"lb"`
		ATT     milli  `json:"att"`
		ATA     milli  `json:"ata"`
		ATC     milli  `json:"atc"`
	} `json:"a"`
	G []struct {
		ID        string              `json:"id"`
		S         credit.Source       `json:"s"`
		Granted   milli               `json:"n"`
		Remaining milli               `json:"r"`
		Held      milli               `json:"h"`
		P         int                 `json:"p"`
		X         *int64              `json:"x"`
		Expired   *int64              `json:"xd"`
		C         int64               `json:"c"`
		M         string              `json:"m"`
		PB        milli               `json:"pb"`
		AppliesTo *credit.Eligibility `json:"ap"`
		Sub       string              `json:"sub"`
		Period    string              `json:"per"`
		Warned    *int64              `json:"w"`
	} `json:"g"`
	H []struct {
		ID       string            `json:"id"`
		Gen      *string           `json:"gen"`
		N        milli             `json:"n"`
		Cap      milli             `json:"cap"`
		Rel      milli             `json:"rel"`
		S        credit.HoldStatus `json:"s"`
		X        int64             `json:"x"`
		C        int64             `json:"c"`
		Resolved *int64            `json:"rs"`
		Member   string            `json:"mb"`
		Period   *int64            `json:"mp"`
	} `json:"h"`
	Al  []allocationDoc `json:"al"`
	Gen []struct {
		ID        string                  `json:"id"`
		S         credit.GenerationStatus `json:"s"`
		H         string                  `json:"h"`
		M         string                  `json:"m"`
		K         credit.Kind             `json:"k"`
		CV        string                  `json:"cv"`
		I         int                     `json:"i"`
		Delivered int                     `json:"id2"`
		HC        milli                   `json:"hc"`
		UC        milli                   `json:"uc"`
		SC        milli                   `json:"sc"`
		Ch        milli                   `json:"ch"`
		Rf        milli                   `json:"rf"`
		Q         *string                 `json:"q"`
		X         int64                   `json:"x"`
		C         int64                   `json:"c"`
		Resolved  *int64                  `json:"rs"`
		Window    string                  `json:"w"`
		Lane      credit.Lane             `json:"ln"`
		List      milli                   `json:"lc"`
		Member    string                  `json:"mb"`
	} `json:"gen"`
	I []struct {
		S string  `json:"s"`
		K string  `json:"k"`
		H string  `json:"h"`
		R *string `json:"r"`
		C int64   `json:"c"`
	} `json:"i"`
	Sub []struct {
		ID       string               `json:"id"`
		Plan     string               `json:"pl"`
		Billing  credit.Billing       `json:"b"`
		TZ       string               `json:"tz"`
		Starts   int64                `json:"st"`
		Ends     *int64               `json:"en"`
		NextPlan string               `json:"np"`
		NextAt   *int64               `json:"na"`
		Period   int                  `json:"p"`
		Renews   *int64               `json:"r"`
		Usage    []credit.WindowUsage `json:"u"`
		C        int64                `json:"c"`
		Canceled *int64               `json:"cx"`
	} `json:"sub"`
	M []struct {
		ID      string `json:"id"`
		Limit   *milli `json:"l"`
		C       int64  `json:"c"`
		U       int64  `json:"u"`
		Removed *int64 `json:"rm"`
	} `json:"m"`
	MP []struct {
		M       string `json:"m"`
		Start   int64  `json:"st"`
		End     int64  `json:"en"`
		Used    milli  `json:"u"`
		Limit   *milli `json:"l"`
		Reached *int64 `json:"rc"`
	} `json:"mp"`
	T []struct {
		ID       string             `json:"id"`
		N        milli              `json:"n"`
		S        credit.TopupStatus `json:"s"`
		G        *string            `json:"g"`
		C        int64              `json:"c"`
		Resolved *int64             `json:"rs"`
	} `json:"t"`
}

type allocationDoc struct {
	H   string `json:"h"`
	Seq int    `json:"seq"`
	G   string `json:"g"`
	N   milli  `json:"n"`
	Cap milli  `json:"cap"`
	Ref milli  `json:"ref"`
}

// load reads the State of a batch's account.
func (t *tx) load(b *credit.Batch) (*credit.State, error) {
	var d doc
	ids := func(xs []string) []byte {
		d.b = d.b[:0]
		d.b = append(d.b, '[')
		for i, x := range xs {
			if i > 0 {
				d.b = append(d.b, ',')
			}
			d.str(x)
		}
		return append(d.b, ']')
	}
	holds := string(ids(b.Refs.Holds))
	gens := string(ids(b.Refs.Generations))
	d.b = append(d.b[:0], '[')
	for i, k := range b.Refs.Idempotency {
		if i > 0 {
			d.b = append(d.b, ',')
		}
		d.b = append(d.b, '[')
		d.str(k.Scope)
		d.b = append(d.b, ',')
		d.str(k.Key)
		d.b = append(d.b, ']')
	}
	keys := string(append(d.b, ']'))
	members := string(ids(b.Refs.Members))
	now := int64(math.MinInt64) // no Now: every period of the members
	if !b.Refs.Now.IsZero() {
		now = b.Refs.Now.UnixMicro()
	}
	since := int64(math.MinInt64) // no Now: every top-up
	if !b.Refs.Now.IsZero() {
		since = b.Refs.Now.Add(-credit.TopupWindow).UnixMicro()
	}
	topups := string(ids(b.Refs.Topups))
	var raw []byte
	if err := t.queryRow(loadQuery, b.Account, holds, gens, keys, members, now, since, topups).Scan(&raw); err != nil {
		return nil, t.fail("load account", err)
	}
	var sd stateDoc
	if err := json.Unmarshal(raw, &sd); err != nil {
		return nil, t.fail("load account", err)
	}
	return sd.state(b.Account), nil
}

func microsTime(v int64) time.Time { return time.UnixMicro(v).UTC() }

func optMicros(v *int64) time.Time {
	if v == nil {
		return time.Time{}
	}
	return microsTime(*v)
}

func (sd *stateDoc) state(account string) *credit.State {
	s := &credit.State{}
	if a := sd.A; a != nil {
		s.Account = &credit.Account{ID: account, Overdraft: a.O.c(), Available: a.V.c(), Held: a.H.c(), CreatedAt: microsTime(a.C),
			Plan: a.Plan, TimeZone: a.TZ, Daily: a.Daily, Kind: credit.AccountKind(a.Kind), LowBalance: a.LB.c(),
			AutoTopup: credit.AutoTopup{Threshold: a.ATT.c(), Amount: a.ATA.c(), MonthlyCap: a.ATC.c()}}
	}
	for _, g := range sd.G {
		grant := credit.Grant{ID: g.ID, Account: account, Source: g.S, Granted: g.Granted.c(), Remaining: g.Remaining.c(),
			Held: g.Held.c(), Priority: g.P, ExpiresAt: optMicros(g.X), ExpiredAt: optMicros(g.Expired), CreatedAt: microsTime(g.C),
			Memo: g.M, PaidBack: g.PB.c(), Subscription: g.Sub, Period: g.Period, WarnedAt: optMicros(g.Warned)}
		if g.AppliesTo != nil {
			grant.AppliesTo = *g.AppliesTo
		}
		s.Grants = append(s.Grants, grant)
	}
	credit.SortGrants(s.Grants)
	slices.SortFunc(sd.Al, func(a, b allocationDoc) int { return cmp.Or(cmp.Compare(a.H, b.H), cmp.Compare(a.Seq, b.Seq)) })
	for _, h := range sd.H {
		hold := credit.Hold{ID: h.ID, Account: account, Amount: h.N.c(), Captured: h.Cap.c(), Released: h.Rel.c(), Status: h.S,
			ExpiresAt: microsTime(h.X), CreatedAt: microsTime(h.C), ResolvedAt: optMicros(h.Resolved),
			Member: h.Member, MemberPeriod: optMicros(h.Period)}
		if h.Gen != nil {
			hold.Generation = *h.Gen
		}
		for _, a := range sd.Al {
			if a.H == h.ID {
				hold.Allocations = append(hold.Allocations, credit.Allocation{Grant: a.G, Amount: a.N.c(), Captured: a.Cap.c(), Refunded: a.Ref.c()})
			}
		}
		s.Holds = append(s.Holds, hold)
	}
	for _, g := range sd.Gen {
		gen := credit.Generation{ID: g.ID, Account: account, Status: g.S, Hold: g.H, Model: g.M, Kind: g.K, CatalogVersion: g.CV,
			Images: g.I, ImagesDelivered: g.Delivered, HoldCredits: g.HC.c(), UnitCredits: g.UC.c(), Surcharge: g.SC.c(), Charged: g.Ch.c(),
			Refunded: g.Rf.c(), Window: g.Window, Lane: g.Lane, ListCredits: g.List.c(), Member: g.Member,
			ExpiresAt: microsTime(g.X), CreatedAt: microsTime(g.C), ResolvedAt: optMicros(g.Resolved)}
		if g.Q != nil {
			gen.Quote = []byte(*g.Q)
		}
		s.Generations = append(s.Generations, gen)
	}
	for _, r := range sd.I {
		rec := credit.IdempotencyRecord{Idempotency: credit.Idempotency{Scope: r.S, Key: r.K, Hash: r.H}, CreatedAt: microsTime(r.C)}
		if r.R != nil {
			rec.Response = []byte(*r.R)
		}
		s.Idempotency = append(s.Idempotency, rec)
	}
	for _, u := range sd.Sub {
		s.Subscriptions = append(s.Subscriptions, credit.Subscription{ID: u.ID, Account: account, Plan: u.Plan, Billing: u.Billing,
			TimeZone: u.TZ, StartsAt: microsTime(u.Starts), EndsAt: optMicros(u.Ends), NextPlan: u.NextPlan, NextAt: optMicros(u.NextAt),
			Period: u.Period, RenewsAt: optMicros(u.Renews), Usage: u.Usage, CreatedAt: microsTime(u.C), CanceledAt: optMicros(u.Canceled)})
	}
	slices.SortFunc(s.Subscriptions, func(a, b credit.Subscription) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	for _, m := range sd.M {
		s.Members = append(s.Members, credit.Member{Account: account, ID: m.ID, MonthlyLimit: m.Limit.credits(),
			CreatedAt: microsTime(m.C), UpdatedAt: microsTime(m.U), RemovedAt: optMicros(m.Removed)})
	}
	slices.SortFunc(s.Members, func(a, b credit.Member) int { return cmp.Compare(a.ID, b.ID) })
	for _, p := range sd.MP {
		s.MemberPeriods = append(s.MemberPeriods, credit.MemberPeriod{Account: account, Member: p.M, Start: microsTime(p.Start),
			End: microsTime(p.End), Used: p.Used.c(), Limit: p.Limit.credits(), Reached: optMicros(p.Reached)})
	}
	slices.SortFunc(s.MemberPeriods, func(a, b credit.MemberPeriod) int {
		return cmp.Or(cmp.Compare(a.Member, b.Member), a.Start.Compare(b.Start))
	})
	for _, u := range sd.T {
		top := credit.Topup{ID: u.ID, Account: account, Credits: u.N.c(), Status: u.S, CreatedAt: microsTime(u.C), ResolvedAt: optMicros(u.Resolved)}
		if u.G != nil {
			top.Grant = *u.G
		}
		s.Topups = append(s.Topups, top)
	}
	slices.SortFunc(s.Topups, func(a, b credit.Topup) int { return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID)) })
	return s
}
