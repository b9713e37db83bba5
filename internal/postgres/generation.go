package postgres

import (
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/tally-credits/tally/internal/credit"
)

const generationColumns = `id, account, status, hold_id, model, kind, catalog_version, images, images_delivered,
	hold_credits, unit_credits, surcharge, charged, refunded, quote, expires_at, created_at, resolved_at`

func scanGeneration(s scanner) (credit.Generation, error) {
	var g credit.Generation
	err := s.Scan(&g.ID, &g.Account, &g.Status, &g.Hold, &g.Model, &g.Kind, &g.CatalogVersion, &g.Images, &g.ImagesDelivered,
		&g.HoldCredits, &g.UnitCredits, &g.Surcharge, &g.Charged, &g.Refunded, &g.Quote,
		timeColumn{&g.ExpiresAt}, timeColumn{&g.CreatedAt}, timeColumn{&g.ResolvedAt})
	return g, err
}

func unknownGeneration(id string) *credit.Error {
	return credit.Errorf(credit.NotFound, "unknown_generation", "unknown generation %q", id)
}

// InsertGeneration stores a new generation. Its hold may be inserted before or
// after it in the same transaction; the reference is checked at commit.
// Conflict id_exists if the id is taken; NotFound unknown_account.
func (t *tx) InsertGeneration(g credit.Generation) error {
	if ok, err := t.lock(g.Account); err != nil {
		return err
	} else if !ok {
		return unknownAccount(g.Account)
	}
	_, err := t.exec(`INSERT INTO generations (`+generationColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`,
		g.ID, g.Account, g.Status, g.Hold, g.Model, g.Kind, g.CatalogVersion, g.Images, g.ImagesDelivered,
		g.HoldCredits, g.UnitCredits, g.Surcharge, g.Charged, g.Refunded, blob(g.Quote),
		tstz(g.ExpiresAt), tstz(g.CreatedAt), tstz(g.ResolvedAt))
	switch {
	case violates(err, uniqueViolation, "generations_pkey"):
		return t.expected(idExists("generation", g.ID))
	case violates(err, foreignKeyViolation, "generations_account_fkey"):
		return t.expected(unknownAccount(g.Account))
	case err != nil:
		return t.fail("insert generation", err)
	}
	t.owner[g.ID] = g.Account
	return nil
}

// Generation returns a generation. In Update it locks the generation's
// account first, so what it returns is as of every earlier transaction on
// the account. NotFound unknown_generation.
func (t *tx) Generation(id string) (credit.Generation, error) {
	for {
		g, err := scanGeneration(t.queryRow(`SELECT `+generationColumns+` FROM generations WHERE id = $1`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return credit.Generation{}, unknownGeneration(id)
		} else if err != nil {
			return credit.Generation{}, t.fail("read generation", err)
		}
		if t.seen(g.ID, g.Account) {
			return g, nil
		}
		if ok, err := t.lock(g.Account); err != nil {
			return credit.Generation{}, err
		} else if !ok {
			return credit.Generation{}, unknownAccount(g.Account)
		}
		// Locked: read it again, as the last holder of the lock left it.
	}
}

// UpdateGeneration stores a generation's status, counts, amounts and times
// (all but its creation time); what it is (account, hold, model, kind,
// catalog version, quote) never changes. NotFound unknown_generation.
func (t *tx) UpdateGeneration(g credit.Generation) error {
	if ok, err := t.lockOwner("generations", g.ID); err != nil {
		return err
	} else if !ok {
		return unknownGeneration(g.ID)
	}
	tag, err := t.exec(`UPDATE generations SET status = $1, images = $2, images_delivered = $3,
		hold_credits = $4, unit_credits = $5, surcharge = $6, charged = $7, refunded = $8, expires_at = $9, resolved_at = $10
		WHERE id = $11`,
		g.Status, g.Images, g.ImagesDelivered, g.HoldCredits, g.UnitCredits, g.Surcharge, g.Charged, g.Refunded,
		tstz(g.ExpiresAt), tstz(g.ResolvedAt), g.ID)
	return t.affected("update generation", tag, err, unknownGeneration(g.ID))
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
