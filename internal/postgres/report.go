package postgres

import (
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// Placeholders until the store's report queries land.

func (t *tx) Accounts(prefix, after string, limit int) ([]credit.Account, error) {
	return nil, credit.Errorf(credit.Internal, "todo", "not yet")
}

func (t *tx) Generations(account string, f credit.GenerationFilter) ([]credit.Generation, error) {
	return nil, credit.Errorf(credit.Internal, "todo", "not yet")
}

func (t *tx) AccountAudit(account string, before int64, limit int) ([]credit.AuditEntry, error) {
	return nil, credit.Errorf(credit.Internal, "todo", "not yet")
}

func (t *tx) Liability(before string) ([]credit.LiabilityRow, error) {
	return nil, credit.Errorf(credit.Internal, "todo", "not yet")
}

func (t *tx) Consumption(from, to string) ([]credit.ConsumptionRow, error) {
	return nil, credit.Errorf(credit.Internal, "todo", "not yet")
}

func (t *tx) EachCharged(from, to time.Time, fn func(*credit.Generation) error) error {
	return credit.Errorf(credit.Internal, "todo", "not yet")
}
