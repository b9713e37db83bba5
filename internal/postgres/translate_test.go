package postgres_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/postgres/pgtest"
)

// TestBadTextIsInvalid: a text value PostgreSQL cannot hold (NUL, invalid
// UTF-8) that reaches a query past the edge's checks is the request's fault,
// Invalid invalid_text, not an Internal error logged as a bug; the same
// whether it is read or written.
func TestBadTextIsInvalid(t *testing.T) {
	db := pgtest.Open(t)
	ctx := context.Background()
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	for _, bad := range []string{"a\x00b", "\xff", "\xc3\x28"} {
		err := db.View(ctx, func(tx credit.Tx) error { _, err := tx.Account(bad); return err })
		if credit.ErrorCode(err) != credit.Invalid || credit.ErrorReason(err) != "invalid_text" {
			t.Errorf("View: Account(%+q) = %v (%s); want Invalid invalid_text", bad, err, credit.ErrorReason(err))
		}
		err = db.Write(ctx, []*credit.Batch{{Account: "acme", Refs: credit.Refs{Now: now, Idempotency: []credit.Idempotency{{Scope: "admin", Key: bad}}},
			Decide: func(*credit.State) (*credit.Change, error) { return &credit.Change{}, nil }}})
		if credit.ErrorCode(err) != credit.Invalid || credit.ErrorReason(err) != "invalid_text" {
			t.Errorf("Write: load the idempotency record of %+q = %v (%s); want Invalid invalid_text", bad, err, credit.ErrorReason(err))
		}
	}
	// An index row too large (program_limit_exceeded: random text does not
	// compress below the index row limit) is the value's fault.
	b := make([]byte, 8000)
	_, _ = rand.Read(b)
	id := hex.EncodeToString(b)
	err := db.Write(ctx, []*credit.Batch{{Account: id, Refs: credit.Refs{Now: now}, Decide: func(*credit.State) (*credit.Change, error) {
		return &credit.Change{NewAccount: &credit.Account{ID: id, CreatedAt: now},
			NewGrants: []credit.Grant{{ID: "ovd_" + id, Account: id, Source: credit.SourceOverdraft, Priority: 1 << 30, CreatedAt: now}}}, nil
	}}})
	if credit.ErrorCode(err) != credit.Invalid || credit.ErrorReason(err) != "value_too_large" {
		t.Errorf("Write(a new account of a 16000-byte id) = %v (%s); want Invalid value_too_large", err, credit.ErrorReason(err))
	}
}
