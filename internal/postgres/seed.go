package postgres

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tally-credits/tally/internal/credit"
)

// SeedHistory appends `cycles` completed generations to the journal of an
// account that has none yet, in bulk SQL, for `tally bench`'s history
// scenario: a long journal in seconds where the ledger would take hours.
//
// First one grant (source topup, dated just before from) pays for every
// cycle and leaves a thousand of the first template's over. Then cycle i,
// at from + i·(to−from)/cycles, is the generation like[i mod len(like)]:
// its generation, hold and allocation rows, its hold transaction and, half a
// step later, its capture of the whole hold, each with the postings the
// ledger writes. Every row is the one the ledger would have written, balances
// after each entry included, so Ledger.Verify accepts the store after it. It
// runs in one transaction, holding the account's row lock (see the package
// comment), without the statement timeout; then it analyzes the tables it
// filled, as autovacuum would have by the time a journal is this long. It
// returns the entries written, 1 + 2·cycles.
//
// Invalid if the account has a journal, grants or holds already, or if the
// grant would exceed credit.MaxCredits; NotFound unknown_account.
func (db *DB) SeedHistory(ctx context.Context, account string, cycles int, from, to time.Time, like []credit.Generation) (int, error) {
	plan, err := planSeed(cycles, from, to, like)
	if err != nil {
		return 0, err
	}
	ptx, err := db.pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return 0, storeError(ctx, "seed: begin", err)
	}
	defer func() { _ = ptx.Rollback(context.WithoutCancel(ctx)) }()
	fail := func(err error) (int, error) { return 0, storeError(ctx, "seed", err) }
	exec := func(query string, args ...any) error {
		_, err := ptx.Exec(ctx, query, args...)
		return err
	}
	if err := exec(`SET LOCAL statement_timeout = 0`); err != nil {
		return fail(err)
	}
	var available, held int64
	err = ptx.QueryRow(ctx, `SELECT available, held FROM accounts WHERE id = $1 FOR NO KEY UPDATE`, account).Scan(&available, &held)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, unknownAccount(account)
	} else if err != nil {
		return fail(err)
	}
	var busy bool
	err = ptx.QueryRow(ctx, `SELECT EXISTS (SELECT FROM transactions WHERE account = $1)
		OR EXISTS (SELECT FROM grants WHERE account = $1 AND source <> 'overdraft')
		OR EXISTS (SELECT FROM holds WHERE account = $1)`, account).Scan(&busy)
	if err != nil {
		return fail(err)
	}
	if busy || available != 0 || held != 0 {
		return 0, credit.Errorf(credit.Invalid, "account_not_empty", "postgres: seed: account %q already has a journal, grants or holds", account)
	}

	if err := exec(`INSERT INTO grants (id, account, source, granted, remaining, held, priority, expires_at, expired_at, created_at, memo, paid_back)
		VALUES ($1, $2, 'topup', $3, $4, 0, 0, NULL, NULL, $5, $6, 0)`,
		plan.Grant, account, int64(plan.Granted), int64(plan.Granted-plan.Total), plan.GrantAt, plan.Memo); err != nil {
		return fail(err)
	}
	var grantTx int64
	err = ptx.QueryRow(ctx, `INSERT INTO transactions (kind, account, time, ref, generation, model, model_kind, catalog_version,
			available_delta, held_delta, available_after, held_after, charged_delta, memo)
		VALUES ('grant', $1, $2, $3, '', '', '', '', $4, 0, $4, 0, 0, $5) RETURNING id`,
		account, plan.GrantAt, plan.Grant, int64(plan.Granted), plan.Memo).Scan(&grantTx)
	if err != nil {
		return fail(err)
	}
	if err := exec(`INSERT INTO postings (tx_id, seq, account, book, grant_id, amount) VALUES
		($1, 0, 'platform', 'issued', NULL, -$2::bigint), ($1, 1, $3, 'available', $4, $2::bigint)`,
		grantTx, int64(plan.Granted), account, plan.Grant); err != nil {
		return fail(err)
	}

	// The cycles: t is the templates; cycle i uses template i % m. The
	// account's available balance after cycle i's hold is granted − (i / m)·
	// round − before_k − amount_k, where round is what one pass over the
	// templates costs and before_k what the templates before k cost.
	m := len(plan.Like)
	ks, images := make([]int32, m), make([]int32, m)
	models, kinds, versions := make([]string, m), make([]string, m), make([]string, m)
	units, surcharges, amounts, befores := make([]int64, m), make([]int64, m), make([]int64, m), make([]int64, m)
	quotes := make([][]byte, m)
	for k, g := range plan.Like {
		ks[k], images[k] = int32(k), int32(g.Images)
		models[k], kinds[k], versions[k] = g.Model, string(g.Kind), g.CatalogVersion
		units[k], surcharges[k], amounts[k], befores[k] = int64(g.UnitCredits), int64(g.Surcharge), int64(g.HoldCredits), int64(plan.Before[k])
		quotes[k] = g.Quote
	}
	args := pgx.NamedArgs{
		"account": account, "cycles": plan.Cycles, "from": plan.From, "step": plan.Step.Microseconds(), "ttl": plan.TTL.Microseconds(),
		"m": m, "gen": plan.GenerationPrefix, "hld": plan.HoldPrefix, "grant": plan.Grant, "granted": int64(plan.Granted),
		"round": int64(plan.Round), "ks": ks, "models": models, "kinds": kinds, "versions": versions, "images": images,
		"units": units, "surcharges": surcharges, "amounts": amounts, "befores": befores, "quotes": quotes,
	}
	const with = `WITH t AS (
			SELECT * FROM unnest(@ks::int[], @models::text[], @kinds::text[], @versions::text[], @images::int[], @units::bigint[],
				@surcharges::bigint[], @amounts::bigint[], @befores::bigint[], @quotes::bytea[])
				AS t (k, model, kind, version, images, unit, surcharge, amount, prior, quote)
		), c AS (
			SELECT i, t.* FROM generate_series(0, @cycles::int - 1) AS i JOIN t ON t.k = i % @m::int
		)`
	// Every row of a cycle derives from i: its time, its ids, its amounts.
	const at = `(@from::timestamptz + (i * @step::bigint) * interval '1 microsecond')`
	const half = `(@from::timestamptz + (i * @step::bigint + @step::bigint / 2) * interval '1 microsecond')`
	const ttl = `(@ttl::bigint * interval '1 microsecond')`
	const gen = `(@gen::text || lpad(i::text, 9, '0'))`
	const hld = `(@hld::text || lpad(i::text, 9, '0'))`
	if err := exec(with+`
		INSERT INTO generations (id, account, status, hold_id, model, kind, catalog_version, images, images_delivered,
			hold_credits, unit_credits, surcharge, charged, refunded, quote, expires_at, created_at, resolved_at)
		SELECT `+gen+`, @account, 'completed', `+hld+`, model, kind, version, images, images,
			amount, unit, surcharge, amount, 0, quote, `+at+` + `+ttl+`, `+at+`, `+half+`
		FROM c`, args); err != nil {
		return fail(err)
	}
	if err := exec(with+`
		INSERT INTO holds (id, account, generation, amount, captured, released, status, expires_at, created_at, resolved_at)
		SELECT `+hld+`, @account, `+gen+`, amount, amount, 0, 'captured', `+at+` + `+ttl+`, `+at+`, `+half+`
		FROM c`, args); err != nil {
		return fail(err)
	}
	if err := exec(with+`
		INSERT INTO hold_allocations (hold_id, seq, grant_id, amount, captured, refunded)
		SELECT `+hld+`, 0, @grant, amount, amount, 0
		FROM c`, args); err != nil {
		return fail(err)
	}
	// Each cycle's hold, then its capture, in cycle order: the identity
	// column numbers them in the order of the ORDER BY.
	if err := exec(with+`
		INSERT INTO transactions (kind, account, time, ref, generation, model, model_kind, catalog_version,
			available_delta, held_delta, available_after, held_after, charged_delta, memo)
		SELECT CASE capture WHEN 0 THEN 'hold' ELSE 'capture' END, @account,
			CASE capture WHEN 0 THEN `+at+` ELSE `+half+` END, `+hld+`, `+gen+`,
			CASE capture WHEN 0 THEN '' ELSE model END, CASE capture WHEN 0 THEN '' ELSE kind END,
			CASE capture WHEN 0 THEN '' ELSE version END,
			CASE capture WHEN 0 THEN -amount ELSE 0 END, CASE capture WHEN 0 THEN amount ELSE -amount END,
			@granted::bigint - (i / @m::int) * @round::bigint - prior - amount, CASE capture WHEN 0 THEN amount ELSE 0 END,
			CASE capture WHEN 0 THEN 0 ELSE amount END, ''
		FROM c CROSS JOIN (VALUES (0), (1)) AS e (capture)
		ORDER BY i, capture`, args); err != nil {
		return fail(err)
	}
	// A hold posts −amount to the grant's available book and +amount to its
	// held book; a capture −amount to the held book and +amount to the
	// platform's revenue book: each line is read off its entry.
	if err := exec(`INSERT INTO postings (tx_id, seq, account, book, grant_id, amount)
		SELECT x.id, l.line,
			CASE WHEN x.kind = 'capture' AND l.line = 1 THEN 'platform' ELSE x.account END,
			CASE WHEN x.kind = 'hold' THEN (CASE l.line WHEN 0 THEN 'available' ELSE 'held' END)
				ELSE (CASE l.line WHEN 0 THEN 'held' ELSE 'revenue' END) END,
			CASE WHEN x.kind = 'capture' AND l.line = 1 THEN NULL ELSE $3 END,
			CASE WHEN x.kind = 'hold' THEN (CASE l.line WHEN 0 THEN x.available_delta ELSE x.held_delta END)
				ELSE (CASE l.line WHEN 0 THEN x.held_delta ELSE x.charged_delta END) END
		FROM transactions x CROSS JOIN (VALUES (0), (1)) AS l (line)
		WHERE x.account = $1 AND x.id > $2
		ORDER BY x.id, l.line`, account, grantTx, plan.Grant); err != nil {
		return fail(err)
	}
	if err := exec(`UPDATE accounts SET available = $2, created_at = least(created_at, $3) WHERE id = $1`,
		account, int64(plan.Granted-plan.Total), plan.GrantAt); err != nil {
		return fail(err)
	}
	if err := exec(`UPDATE grants SET created_at = least(created_at, $2) WHERE account = $1 AND source = 'overdraft'`, account, plan.GrantAt); err != nil {
		return fail(err)
	}
	if err := ptx.Commit(ctx); err != nil {
		return 0, storeError(ctx, "seed: commit", err)
	}
	if _, err := db.pool.Exec(ctx, `ANALYZE transactions, postings, generations, holds, hold_allocations`); err != nil {
		return 0, storeError(ctx, "seed: analyze", err)
	}
	return 1 + 2*plan.Cycles, nil
}

// seedPlan is what SeedHistory writes, worked out in Go: the SQL derives every
// row of cycle i from it and i alone.
type seedPlan struct {
	Cycles                       int
	From                         time.Time
	Step, TTL                    time.Duration // between cycles; of each hold
	Like                         []credit.Generation
	Round                        credit.Credits   // one pass over Like
	Before                       []credit.Credits // Before[k]: Like[0..k) (len(Like)+1 of them)
	Total                        credit.Credits   // every cycle
	Granted                      credit.Credits   // the grant: Total and some over
	Grant                        string           // its id
	GrantAt                      time.Time
	Memo                         string
	GenerationPrefix, HoldPrefix string // + the cycle's number, 9 digits
}

// planSeed checks SeedHistory's arguments and works out its plan. It is the
// same in package sqlite.
func planSeed(cycles int, from, to time.Time, like []credit.Generation) (*seedPlan, error) {
	invalid := func(format string, args ...any) (*seedPlan, error) {
		return nil, credit.Errorf(credit.Invalid, "invalid_seed", "seed: "+format, args...)
	}
	if cycles < 1 || cycles > 999_999_999 {
		return invalid("cycles must be 1 to 999999999, not %d", cycles)
	}
	if len(like) == 0 {
		return invalid("no generation to repeat")
	}
	p := &seedPlan{Cycles: cycles, From: from.UTC().Truncate(time.Microsecond), TTL: credit.DefaultHoldTTL, Like: like,
		Before: make([]credit.Credits, len(like)+1), Memo: "tally bench: seeded history"}
	p.Step = to.Sub(p.From).Truncate(time.Microsecond) / time.Duration(cycles)
	p.Step = p.Step.Truncate(time.Microsecond)
	if p.Step < 2*time.Microsecond {
		return invalid("%d cycles do not fit between %s and %s (2 µs each at least)", cycles, from, to)
	}
	for k, g := range like {
		if g.Model == "" || g.CatalogVersion == "" || g.HoldCredits <= 0 || g.Charged != g.HoldCredits ||
			g.ImagesDelivered != g.Images || g.UnitCredits*credit.Credits(g.Images)+g.Surcharge != g.HoldCredits {
			return invalid("generation %d to repeat is not a priced generation delivered whole", k)
		}
		p.Before[k+1] = p.Before[k] + g.HoldCredits
	}
	p.Round = p.Before[len(like)]
	m := len(like)
	p.Total = credit.Credits(cycles/m)*p.Round + p.Before[cycles%m]
	p.Granted = p.Total + 1000*like[0].HoldCredits
	if p.Granted > credit.MaxCredits {
		return invalid("%d cycles cost %s credits, more than one grant may hold (%s)", cycles, p.Total, credit.MaxCredits)
	}
	now := time.Now()
	p.Grant = credit.NewID("grt", now)
	p.GrantAt = p.From.Add(-time.Second)
	gen := credit.NewID("gen", now)
	p.GenerationPrefix = gen + "_"
	p.HoldPrefix = "hld" + strings.TrimPrefix(gen, "gen") + "_"
	return p, nil
}
