package credit

import (
	"context"
	"time"
)

// Observer is told what the ledger's writes do, for metrics: a ledger write
// (one operation on one account) with how it ended, and a store write (one
// transaction, which group commit may give many ledger writes) with how
// many writes and accounts it carried and how long it took. Its methods
// run on the write path: they must be quick and safe for concurrent use.
type Observer interface {
	// LedgerWrite reports one ledger write: its operation (see
	// WithOperation) and its outcome ("ok", or the error's stable reason).
	LedgerWrite(operation, outcome string)
	// StoreWrite reports one Store.Write: the writes and accounts it
	// carried, how long it took, and its error (nil: committed).
	StoreWrite(writes, accounts int, d time.Duration, err error)
}

type operationKey struct{}

// WithOperation returns ctx naming the operation its ledger writes do
// ("create-generation", "sweep"), for Observer.LedgerWrite. The HTTP
// edge names each route's; a write without one is "other".
func WithOperation(ctx context.Context, op string) context.Context {
	return context.WithValue(ctx, operationKey{}, op)
}

func operationOf(ctx context.Context) string {
	if op, ok := ctx.Value(operationKey{}).(string); ok && op != "" {
		return op
	}
	return "other"
}

// outcomeOf is an Observer's outcome of err: "ok", or its stable reason.
func outcomeOf(err error) string {
	if err == nil {
		return "ok"
	}
	return ErrorReason(err)
}
