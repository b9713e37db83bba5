package httpapi

import (
	"context"
	"slices"
	"strings"

	"github.com/tally-credits/tally/internal/credit"
)

// reasoned returns ctx carrying reason for the ledger's audit entry (see
// credit.WithReason). A support key must give one: a person correcting an
// account says why (Invalid reason_required); the other keys may. Invalid
// invalid_reason for one over 500 bytes or with control characters.
func (s *Server) reasoned(ctx context.Context, reason string) (context.Context, error) {
	if err := credit.CheckReason(reason); err != nil {
		return nil, err
	}
	c, err := s.callerOf(ctx, requestOf(ctx))
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(reason) == "" {
		if c.Scope == credit.ScopeSupport {
			return nil, credit.Errorf(credit.Invalid, "reason_required", "a support key gives a reason for every change it makes: say why in reason")
		}
		return ctx, nil
	}
	return credit.WithReason(ctx, reason), nil
}

// supportSources are the grant sources a support key may grant from: a
// promotion, or an adjustment of a mistake. The others are money the studio
// was paid or a plan's (a top-up, a subscription's allowance): not the help
// desk's to make.
var supportSources = []credit.Source{credit.SourcePromo, credit.SourceAdjustment}

// supportMayGrant refuses a support key a grant of any source but promo
// and adjustment (Forbidden support_source); any other key may.
func (s *Server) supportMayGrant(ctx context.Context, source credit.Source) error {
	c, err := s.callerOf(ctx, requestOf(ctx))
	if err != nil {
		return err
	}
	if c.Scope != credit.ScopeSupport || slices.Contains(supportSources, source) {
		return nil
	}
	e := credit.Errorf(credit.Forbidden, "support_source", "a support key grants only promo or adjustment credits, not %q", source)
	e.Allowed = []string{string(credit.SourcePromo), string(credit.SourceAdjustment)}
	return e
}
