package sqlite

import (
	"database/sql"
	"errors"

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
	_, err := t.exec(`INSERT INTO generations (`+generationColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		g.ID, g.Account, g.Status, g.Hold, g.Model, g.Kind, g.CatalogVersion, g.Images, g.ImagesDelivered,
		g.HoldCredits, g.UnitCredits, g.Surcharge, g.Charged, g.Refunded, blob(g.Quote),
		micros(g.ExpiresAt), micros(g.CreatedAt), micros(g.ResolvedAt))
	switch {
	case isDuplicate(err):
		return idExists("generation", g.ID)
	case isMissingParent(err):
		return unknownAccount(g.Account)
	case err != nil:
		return t.fail("insert generation", err)
	}
	return nil
}

// Generation returns a generation. NotFound unknown_generation.
func (t *tx) Generation(id string) (credit.Generation, error) {
	g, err := scanGeneration(t.queryRow(`SELECT `+generationColumns+` FROM generations WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return credit.Generation{}, unknownGeneration(id)
	} else if err != nil {
		return credit.Generation{}, t.fail("read generation", err)
	}
	return g, nil
}

// UpdateGeneration stores a generation's status, counts, amounts and times
// (all but its creation time); what it is (account, hold, model, kind,
// catalog version, quote) never changes. NotFound unknown_generation.
func (t *tx) UpdateGeneration(g credit.Generation) error {
	res, err := t.exec(`UPDATE generations SET status = ?, images = ?, images_delivered = ?,
		hold_credits = ?, unit_credits = ?, surcharge = ?, charged = ?, refunded = ?, expires_at = ?, resolved_at = ?
		WHERE id = ?`,
		g.Status, g.Images, g.ImagesDelivered, g.HoldCredits, g.UnitCredits, g.Surcharge, g.Charged, g.Refunded,
		micros(g.ExpiresAt), micros(g.ResolvedAt), g.ID)
	return t.affected("update generation", res, err, unknownGeneration(g.ID))
}
