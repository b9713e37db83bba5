package webhook

import (
	"math/rand/v2"
	"time"
)

// The retry schedule: the delay after the first failed attempt, its growth
// by attempt, its cap, and how long after a delivery is made it gives up.
const (
	firstDelay = 5 * time.Second
	growth     = 4
	maxDelay   = 4 * time.Hour
	giveUpAge  = 24 * time.Hour
	jitter     = 0.10
)

// Backoff returns when to attempt a delivery again after its attempt
// number `attempts` (1 for the first) failed at now: 5s·4^(attempts−1),
// at most 4h, ±10% at random (so that the retries of many deliveries
// failed together spread out); or giveUp when that would be more than 24h
// after the delivery was created.
func Backoff(attempts int, created, now time.Time) (next time.Time, giveUp bool) {
	delay := firstDelay
	for i := 1; i < attempts && delay < maxDelay; i++ {
		delay *= growth
	}
	delay = min(delay, maxDelay)
	delay = time.Duration(float64(delay) * (1 - jitter + 2*jitter*rand.Float64()))
	next = now.Add(delay)
	if next.Sub(created) > giveUpAge {
		return time.Time{}, true
	}
	return next, false
}
