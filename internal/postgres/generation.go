package postgres

import (
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tally-credits/tally/internal/credit"
)

const generationColumns = `id, account, status, hold_id, model, kind, catalog_version, images, images_delivered,
	hold_credits, unit_credits, surcharge, charged, refunded, quote, expires_at, created_at, resolved_at,
	"window", lane, list_credits, member`

func scanGeneration(s scanner) (credit.Generation, error) {
	var g credit.Generation
	err := s.Scan(&g.ID, &g.Account, &g.Status, &g.Hold, &g.Model, &g.Kind, &g.CatalogVersion, &g.Images, &g.ImagesDelivered,
		&g.HoldCredits, &g.UnitCredits, &g.Surcharge, &g.Charged, &g.Refunded, &g.Quote,
		timeColumn{&g.ExpiresAt}, timeColumn{&g.CreatedAt}, timeColumn{&g.ResolvedAt},
		&g.Window, &g.Lane, &g.ListCredits, &g.Member)
	return g, err
}

func unknownGeneration(id string) *credit.Error {
	return credit.Errorf(credit.NotFound, "unknown_generation", "unknown generation %q", id)
}

// Generation returns a generation. NotFound unknown_generation.
func (t *tx) Generation(id string) (credit.Generation, error) {
	g, err := scanGeneration(t.queryRow(`SELECT `+generationColumns+` FROM generations WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return credit.Generation{}, unknownGeneration(id)
	} else if err != nil {
		return credit.Generation{}, t.fail("read generation", err)
	}
	return g, nil
}

// affected finishes an UPDATE of one row by id: notFound if there was none.
func (t *tx) affected(op string, tag pgconn.CommandTag, err error, notFound *credit.Error) error {
	if err != nil {
		return t.fail(op, err)
	}
	if tag.RowsAffected() == 0 {
		return notFound
	}
	return nil
}

// Generations returns an account's generations that match f, by ID
// descending, at most f.Limit (see credit.Tx): an ordered read of
// generations_account, backward from f.Before, whose filters (status,
// model, member) stop it once f.Limit rows matched.
func (t *tx) Generations(account string, f credit.GenerationFilter) ([]credit.Generation, error) {
	query, args := generationsQuery(account, f)
	var out []credit.Generation
	err := t.each("list generations", func(s scanner) error {
		g, err := scanGeneration(s)
		out = append(out, g)
		return err
	}, query, args...)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// generationsQuery is the statement of Tx.Generations and its arguments:
// a condition for each field of f that is set, so that the planner sees
// f.Before as a bound of the index rather than a filter.
func generationsQuery(account string, f credit.GenerationFilter) (string, []any) {
	where := `account = $1`
	args := []any{account, sqlLimit(f.Limit)}
	and := func(cond string, v any) {
		args = append(args, v)
		where += fmt.Sprintf(` AND `+cond, len(args))
	}
	if f.Status != "" {
		and(`status = $%d`, string(f.Status))
	}
	if f.Model != "" {
		and(`model = $%d`, f.Model)
	}
	if f.Member != "" {
		and(`member = $%d`, f.Member)
	}
	if f.Before != "" {
		and(`id < $%d`, f.Before)
	}
	return `SELECT ` + generationColumns + ` FROM generations WHERE ` + where + ` ORDER BY id DESC LIMIT $2`, args
}

// EachCharged streams the generations completed with a charge whose
// ResolvedAt is in [from, to), in no particular order (see credit.Tx),
// found by the partial index generations_charged, whose predicate
// chargedQuery repeats; pgx reads the rows from the connection as they are
// scanned.
func (t *tx) EachCharged(from, to time.Time, fn func(*credit.Generation) error) error {
	if err := t.stream("read charged generations"); err != nil {
		return err
	}
	return t.each("read charged generations", func(s scanner) error {
		g, err := scanGeneration(s)
		if err != nil {
			return err
		}
		return fn(&g)
	}, chargedQuery, from.UTC(), to.UTC())
}

const chargedQuery = `SELECT ` + generationColumns + ` FROM generations
	WHERE status = 'completed' AND charged > 0 AND resolved_at >= $1 AND resolved_at < $2`
