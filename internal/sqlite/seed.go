package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

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
// runs in one write transaction and returns the entries written,
// 1 + 2·cycles.
//
// Invalid if the account has a journal, grants or holds already, or if the
// grant would exceed credit.MaxCredits; NotFound unknown_account.
func (db *DB) SeedHistory(ctx context.Context, account string, cycles int, from, to time.Time, like []credit.Generation) (int, error) {
	plan, err := planSeed(cycles, from, to, like)
	if err != nil {
		return 0, err
	}
	p := db.acquire(true)
	defer p.release()
	stx, err := p.writer.BeginTx(ctx, nil) // BEGIN IMMEDIATE: the write lock first
	if err != nil {
		return 0, p.writeError(ctx, "seed: begin", err)
	}
	defer stx.Rollback()
	fail := func(err error) (int, error) { return 0, p.writeError(ctx, "seed", err) }

	var available, held int64
	err = stx.QueryRowContext(ctx, `SELECT available, held FROM accounts WHERE id = ?`, account).Scan(&available, &held)
	if err == sql.ErrNoRows {
		return 0, unknownAccount(account)
	} else if err != nil {
		return fail(err)
	}
	var entries, grants, holds int
	err = stx.QueryRowContext(ctx, `SELECT
		(SELECT count(*) FROM transactions WHERE account = ?1),
		(SELECT count(*) FROM grants WHERE account = ?1 AND source != 'overdraft'),
		(SELECT count(*) FROM holds WHERE account = ?1)`, account).Scan(&entries, &grants, &holds)
	if err != nil {
		return fail(err)
	}
	if entries+grants+holds > 0 || available != 0 || held != 0 {
		return 0, credit.Errorf(credit.Invalid, "account_not_empty", "sqlite: seed: account %q already has a journal, grants or holds", account)
	}

	// The journal's ids are given, not drawn: the next ones AUTOINCREMENT
	// would give, in order, so that postings can name them. The write lock
	// is held, so no one else appends meanwhile.
	var last int64
	err = stx.QueryRowContext(ctx, `SELECT max(
		coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'transactions'), 0),
		coalesce((SELECT max(id) FROM transactions), 0))`).Scan(&last)
	if err != nil {
		return fail(err)
	}
	grantTx := last + 1

	exec := func(query string, args ...any) error {
		_, err := stx.ExecContext(ctx, query, args...)
		return err
	}
	grantAt := plan.GrantAt.UnixMicro()
	if err := exec(`INSERT INTO grants (id, account, source, granted, remaining, held, priority, expires_at, expired_at, created_at, memo, paid_back)
		VALUES (?, ?, 'topup', ?, ?, 0, 0, NULL, NULL, ?, ?, 0)`,
		plan.Grant, account, plan.Granted, plan.Granted-plan.Total, grantAt, plan.Memo); err != nil {
		return fail(err)
	}
	if err := exec(`INSERT INTO transactions (id, kind, account, time, ref, generation, model, model_kind, catalog_version,
			available_delta, held_delta, available_after, held_after, charged_delta, memo)
		VALUES (?, 'grant', ?, ?, ?, '', '', '', '', ?, 0, ?, 0, 0, ?)`,
		grantTx, account, grantAt, plan.Grant, plan.Granted, plan.Granted, plan.Memo); err != nil {
		return fail(err)
	}
	if err := exec(`INSERT INTO postings (tx_id, seq, account, book, grant_id, amount) VALUES
		(?1, 0, 'platform', 'issued', NULL, -?2), (?1, 1, ?3, 'available', ?4, ?2)`,
		grantTx, plan.Granted, account, plan.Grant); err != nil {
		return fail(err)
	}

	// The cycles: t is the templates, c counts cycles, j the cycles'
	// entries (2 per cycle: the hold, then the capture), p their postings (2
	// per entry). Cycle i uses template i % m; the account's available
	// balance after it is granted − (i / m)·round − before_k − amount_k,
	// where round is what one pass over the templates costs and before_k
	// what the templates before k cost.
	var values []string
	args := []any{
		sql.Named("account", account), sql.Named("cycles", plan.Cycles), sql.Named("from", plan.From.UnixMicro()),
		sql.Named("step", plan.Step.Microseconds()), sql.Named("ttl", plan.TTL.Microseconds()), sql.Named("m", len(plan.Like)),
		sql.Named("gen", plan.GenerationPrefix), sql.Named("hld", plan.HoldPrefix), sql.Named("grant", plan.Grant),
		sql.Named("granted", plan.Granted), sql.Named("round", plan.Round), sql.Named("tx0", grantTx+1),
	}
	for k, g := range plan.Like {
		n := func(name string) string { return fmt.Sprintf(":%s%d", name, k) }
		values = append(values, fmt.Sprintf("(%d, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
			k, n("model"), n("kind"), n("version"), n("images"), n("unit"), n("surcharge"), n("amount"), n("prior"), n("quote")))
		args = append(args,
			sql.Named(n("model")[1:], g.Model), sql.Named(n("kind")[1:], string(g.Kind)), sql.Named(n("version")[1:], g.CatalogVersion),
			sql.Named(n("images")[1:], g.Images), sql.Named(n("unit")[1:], int64(g.UnitCredits)), sql.Named(n("surcharge")[1:], int64(g.Surcharge)),
			sql.Named(n("amount")[1:], int64(g.HoldCredits)), sql.Named(n("prior")[1:], int64(plan.Before[k])), sql.Named(n("quote")[1:], blob(g.Quote)))
	}
	with := `WITH RECURSIVE t (k, model, kind, version, images, unit, surcharge, amount, prior, quote) AS (VALUES ` + strings.Join(values, ", ") + `),
		c (i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i + 1 < :cycles)`
	// Every row of a cycle derives from i: its time, its ids, its amounts.
	const at = `:from + i * :step`
	const half = `:from + i * :step + :step / 2`
	id := func(prefix string) string { return prefix + ` || printf('%09d', i)` }
	if err := exec(with+`
		INSERT INTO generations (id, account, status, hold_id, model, kind, catalog_version, images, images_delivered,
			hold_credits, unit_credits, surcharge, charged, refunded, quote, expires_at, created_at, resolved_at)
		SELECT `+id(":gen")+`, :account, 'completed', `+id(":hld")+`, t.model, t.kind, t.version, t.images, t.images,
			t.amount, t.unit, t.surcharge, t.amount, 0, t.quote, `+at+` + :ttl, `+at+`, `+half+`
		FROM c CROSS JOIN t WHERE t.k = i % :m`, args...); err != nil {
		return fail(err)
	}
	if err := exec(with+`
		INSERT INTO holds (id, account, generation, amount, captured, released, status, expires_at, created_at, resolved_at)
		SELECT `+id(":hld")+`, :account, `+id(":gen")+`, t.amount, t.amount, 0, 'captured', `+at+` + :ttl, `+at+`, `+half+`
		FROM c CROSS JOIN t WHERE t.k = i % :m`, args...); err != nil {
		return fail(err)
	}
	if err := exec(with+`
		INSERT INTO hold_allocations (hold_id, seq, grant_id, amount, captured, refunded)
		SELECT `+id(":hld")+`, 0, :grant, t.amount, t.amount, 0
		FROM c CROSS JOIN t WHERE t.k = i % :m`, args...); err != nil {
		return fail(err)
	}
	// Entry j of the cycles is cycle j / 2: its hold (j even) or its capture.
	entriesOf := strings.Replace(with, `c (i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i + 1 < :cycles)`,
		`j (n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM j WHERE n + 1 < 2 * :cycles),
		c (n, i, capture) AS (SELECT n, n / 2, n % 2 FROM j)`, 1)
	if err := exec(entriesOf+`
		INSERT INTO transactions (id, kind, account, time, ref, generation, model, model_kind, catalog_version,
			available_delta, held_delta, available_after, held_after, charged_delta, memo)
		SELECT :tx0 + n, CASE capture WHEN 0 THEN 'hold' ELSE 'capture' END, :account,
			CASE capture WHEN 0 THEN `+at+` ELSE `+half+` END, `+id(":hld")+`, `+id(":gen")+`,
			CASE capture WHEN 0 THEN '' ELSE t.model END, CASE capture WHEN 0 THEN '' ELSE t.kind END,
			CASE capture WHEN 0 THEN '' ELSE t.version END,
			CASE capture WHEN 0 THEN -t.amount ELSE 0 END, CASE capture WHEN 0 THEN t.amount ELSE -t.amount END,
			:granted - (i / :m) * :round - t.prior - t.amount, CASE capture WHEN 0 THEN t.amount ELSE 0 END,
			CASE capture WHEN 0 THEN 0 ELSE t.amount END, ''
		FROM c CROSS JOIN t WHERE t.k = i % :m`, args...); err != nil {
		return fail(err)
	}
	// A hold posts −amount to the grant's available book and +amount to its
	// held book; a capture −amount to the held book and +amount to the
	// platform's revenue book. Posting q is entry q / 2's line q % 2.
	postingsOf := strings.Replace(with, `c (i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i + 1 < :cycles)`,
		`q (n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM q WHERE n + 1 < 4 * :cycles),
		c (n, i, capture, line) AS (SELECT n / 2, n / 4, (n / 2) % 2, n % 2 FROM q)`, 1)
	if err := exec(postingsOf+`
		INSERT INTO postings (tx_id, seq, account, book, grant_id, amount)
		SELECT :tx0 + n, line,
			CASE WHEN capture = 1 AND line = 1 THEN 'platform' ELSE :account END,
			CASE capture * 2 + line WHEN 0 THEN 'available' WHEN 1 THEN 'held' WHEN 2 THEN 'held' ELSE 'revenue' END,
			CASE WHEN capture = 1 AND line = 1 THEN NULL ELSE :grant END,
			CASE WHEN line = 0 THEN -t.amount ELSE t.amount END
		FROM c CROSS JOIN t WHERE t.k = i % :m`, args...); err != nil {
		return fail(err)
	}
	if err := exec(`UPDATE accounts SET available = ?, created_at = min(created_at, ?) WHERE id = ?`,
		plan.Granted-plan.Total, grantAt, account); err != nil {
		return fail(err)
	}
	if err := exec(`UPDATE grants SET created_at = min(created_at, ?) WHERE account = ? AND source = 'overdraft'`, grantAt, account); err != nil {
		return fail(err)
	}
	if err := stx.Commit(); err != nil {
		return 0, p.writeError(ctx, "seed: commit", err)
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
// same in package postgres.
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
