package storetest

import (
	"testing"

	"github.com/tally-credits/tally/internal/credit"
)

// badIDs are ids no account, generation, hold or key can have: PostgreSQL's
// text cannot hold the first two, and the rest are outside the id alphabet.
var badIDs = []string{"a\x00b", "\xff", "\xc3\x28", "a b", "a\u200bb", "a\u202eb", ".", ".."}

// flowBadIDsAreUnknown: every ledger operation that names an existing thing
// answers an id that cannot be one with the NotFound an unknown id gets, on
// every store alike, and writes nothing (the command line reaches the
// stores through these same operations, with no HTTP edge in front).
func flowBadIDsAreUnknown(t *testing.T, e *env) {
	e.account("user_1", 0)
	e.grant("user_1", credit.GrantSpec{Credits: credit.Whole(100), Source: credit.SourceTopup})
	one := credit.Whole(1)
	e.unchanged("bad ids", func() {
		for _, id := range badIDs {
			_, err := e.ledger.Account(e.ctx, id)
			wantErr(t, "Account("+id+")", err, credit.NotFound, "unknown_account")
			_, err = e.ledger.Entries(e.ctx, id, 0, 10)
			wantErr(t, "Entries("+id+")", err, credit.NotFound, "unknown_account")
			_, err = e.ledger.Usage(e.ctx, id, t0.AddDate(0, 0, -1), t0, credit.ByModel)
			wantErr(t, "Usage("+id+")", err, credit.NotFound, "unknown_account")
			_, err = e.ledger.Generation(e.ctx, id)
			wantErr(t, "Generation("+id+")", err, credit.NotFound, "unknown_generation")
			_, err = e.ledger.CompleteGeneration(e.ctx, nil, id, 1)
			wantErr(t, "CompleteGeneration("+id+")", err, credit.NotFound, "unknown_generation")
			_, err = e.ledger.FailGeneration(e.ctx, nil, id)
			wantErr(t, "FailGeneration("+id+")", err, credit.NotFound, "unknown_generation")
			_, err = e.ledger.RefundGeneration(e.ctx, nil, id, &one)
			wantErr(t, "RefundGeneration("+id+")", err, credit.NotFound, "unknown_generation")
			_, err = e.ledger.Hold(e.ctx, id)
			wantErr(t, "Hold("+id+")", err, credit.NotFound, "unknown_hold")
			_, err = e.ledger.CaptureHold(e.ctx, nil, id, &one)
			wantErr(t, "CaptureHold("+id+")", err, credit.NotFound, "unknown_hold")
			_, err = e.ledger.ReleaseHold(e.ctx, nil, id)
			wantErr(t, "ReleaseHold("+id+")", err, credit.NotFound, "unknown_hold")
			_, _, err = e.ledger.CreateKey(e.ctx, credit.KeySpec{Scope: credit.ScopeAccount, Account: id})
			wantErr(t, "CreateKey(account "+id+")", err, credit.NotFound, "unknown_account")
			err = e.ledger.RevokeKey(e.ctx, id)
			wantErr(t, "RevokeKey("+id+")", err, credit.NotFound, "unknown_key")
			// Writes that create under an id refuse it as invalid instead.
			_, err = e.ledger.AddGrant(e.ctx, nil, id, credit.GrantSpec{Credits: one, Source: credit.SourceTopup})
			wantErr(t, "AddGrant("+id+")", err, credit.Invalid, "invalid_account_id")
			_, err = e.ledger.CreateHold(e.ctx, nil, id, credit.HoldSpec{Credits: one})
			wantErr(t, "CreateHold("+id+")", err, credit.Invalid, "invalid_account_id")
		}
	})
}
