package main

import (
	"context"

	"github.com/spf13/pflag"

	"github.com/tally-credits/tally/internal/credit"
)

// reasonFlag is --reason, the why of a person's action (a support agent's
// "duplicate charge, ticket 4411"): it goes to the audit log with the
// action, where tally account audit shows it. A refund, a failure or a
// release is audited only when one is given: without it, it is the
// studio's own call, as over the API.
type reasonFlag struct{ reason string }

func (r *reasonFlag) register(fs *pflag.FlagSet) {
	fs.StringVar(&r.reason, "reason", "", "why, kept in the account's audit log (one line, at most 500 bytes)")
}

// context returns ctx carrying the reason, after checking it: Invalid
// invalid_reason before anything is opened or written.
func (r *reasonFlag) context(ctx context.Context) (context.Context, error) {
	if r.reason == "" {
		return ctx, nil
	}
	if err := credit.CheckReason(r.reason); err != nil {
		return nil, err
	}
	return credit.WithReason(ctx, r.reason), nil
}
