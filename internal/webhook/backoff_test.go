package webhook_test

import (
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/webhook"
)

// TestBackoff checks the retry schedule against delays worked out by hand:
// 5s·4^(n−1) — 5s, 20s, 80s, 320s, 1280s, 5120s — then capped at 4h
// (4^6·5s = 20480s > 14400s), each ±10%.
func TestBackoff(t *testing.T) {
	created := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		attempts int
		since    time.Duration // from created to the failed attempt
		delay    time.Duration // before jitter
		giveUp   bool
	}{
		{1, 0, 5 * time.Second, false},
		{2, 5 * time.Second, 20 * time.Second, false},
		{3, 25 * time.Second, 80 * time.Second, false},
		{4, 105 * time.Second, 320 * time.Second, false},
		{5, 425 * time.Second, 1280 * time.Second, false},
		{6, 1705 * time.Second, 5120 * time.Second, false},
		{7, 6825 * time.Second, 4 * time.Hour, false},
		{8, 6825*time.Second + 4*time.Hour, 4 * time.Hour, false},
		{40, 10 * time.Hour, 4 * time.Hour, false}, // no overflow however many
		// The next attempt would be at least 19h + 0.9·4h = 22h36m, at most
		// 19h + 1.1·4h = 23h24m after creation: still within the day.
		{9, 19 * time.Hour, 4 * time.Hour, false},
		// At least 20h31m + 3h36m = 24h07m: past the day, so give up.
		{10, 20*time.Hour + 31*time.Minute, 4 * time.Hour, true},
		// 23h59m + at least 4.5s: past the day even for a first failure
		// (a delivery retried by hand a day on gets one attempt).
		{1, 23*time.Hour + 59*time.Minute + 56*time.Second, 5 * time.Second, true},
	} {
		now := created.Add(tc.since)
		lo, hi := now.Add(tc.delay*9/10), now.Add(tc.delay*11/10)
		seen := map[time.Time]bool{}
		for range 50 {
			next, giveUp := webhook.Backoff(tc.attempts, created, now)
			if giveUp != tc.giveUp {
				t.Fatalf("Backoff(%d, created, +%s) giveUp = %v; want %v", tc.attempts, tc.since, giveUp, tc.giveUp)
			}
			if giveUp {
				break
			}
			if next.Before(lo) || next.After(hi) {
				t.Fatalf("Backoff(%d, created, +%s) = +%s; want %s ±10%%", tc.attempts, tc.since, next.Sub(now), tc.delay)
			}
			seen[next] = true
		}
		if !tc.giveUp && len(seen) < 2 {
			t.Errorf("Backoff(%d, …) gave one time in 50 calls; want jitter", tc.attempts)
		}
	}
}
