package storetest

import (
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// Flows of ledger bugs in teams, kept as regressions: each failed before
// its fix.

func teamBugFlows() []flow {
	return []flow{
		{name: "TeamBugMembersAfterExpiry", fn: flowTeamBugMembersAfterExpiry},
	}
}

// flowTeamBugMembersAfterExpiry: a hold whose TTL has passed is released
// by the service itself (SPEC §3), and a release gives the member's limit
// back (SPEC §8), so a read of the team's members after the TTL shows the
// limit given back, as a read of the account shows the pool's credits
// back (Ledger.Account settles what is due). Ledger.Members settled
// nothing: it showed the expired hold's 100 as used and 0 remaining, while
// the member's next generation of 100 was held.
func flowTeamBugMembersAfterExpiry(t *testing.T, e *env) {
	e.clock.Set(at("2026-06-10T12:00:00Z"))
	june, july := at("2026-06-01T00:00:00Z"), at("2026-07-01T00:00:00Z")
	e.team("crew", "")
	e.topup("crew", 500)
	e.setMember("crew", "a", limitOf(100))
	e.memberHold("crew", "a", credit.Whole(100), time.Minute)
	e.clock.Add(2 * time.Minute) // past the hold's TTL; nothing written since
	e.wantMember("crew", "a", 0, limitOf(100), june, july)
	e.balances("crew", credit.Whole(500), 0)
	e.wantMember("crew", "a", 0, limitOf(100), june, july)
	e.memberHold("crew", "a", credit.Whole(100), 0)
}
