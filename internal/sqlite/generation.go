package sqlite

import (
	"database/sql"
	"errors"

	"github.com/tally-credits/tally/internal/credit"
)

const generationColumns = `id, account, status, hold_id, model, kind, catalog_version, images, images_delivered,
	hold_credits, unit_credits, surcharge, charged, refunded, quote, expires_at, created_at, resolved_at, "window", lane, list_credits, member`

func scanGeneration(s scanner) (credit.Generation, error) {
	var g credit.Generation
	err := s.Scan(&g.ID, &g.Account, &g.Status, &g.Hold, &g.Model, &g.Kind, &g.CatalogVersion, &g.Images, &g.ImagesDelivered,
		&g.HoldCredits, &g.UnitCredits, &g.Surcharge, &g.Charged, &g.Refunded, &g.Quote,
		timeColumn{&g.ExpiresAt}, timeColumn{&g.CreatedAt}, timeColumn{&g.ResolvedAt}, &g.Window, &g.Lane, &g.ListCredits, &g.Member)
	return g, err
}

func unknownGeneration(id string) *credit.Error {
	return credit.Errorf(credit.NotFound, "unknown_generation", "unknown generation %q", id)
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
