package httpapi

import (
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RateLimit configures the per-caller request rates. A zero rate turns that
// limit off.
type RateLimit struct {
	// PerKey is the requests per second each API key may make (its burst is
	// twice that). Counted after the key is verified, so nobody can spend
	// another key's allowance by naming it.
	PerKey float64
	// PerIP is the requests per second each client address may make without
	// a valid key: public routes (quotes, the catalog) and failed sign-ins,
	// which also bounds guessing keys.
	PerIP float64
}

// DefaultRateLimit is what `tally serve` uses unless told otherwise: far above
// what one studio backend needs per key, low enough that one runaway client
// cannot take the ledger from everyone else.
var DefaultRateLimit = RateLimit{PerKey: 2000, PerIP: 500}

// limiters holds one token bucket per caller. Buckets idle for longer than
// limiterIdle are dropped, so the map is bounded by the callers of the last
// few minutes, not by every address ever seen.
type limiters struct {
	limit rate.Limit
	burst int

	mu    sync.Mutex
	m     map[string]*bucket
	swept time.Time
}

type bucket struct {
	l    *rate.Limiter
	seen time.Time
}

const limiterIdle = 5 * time.Minute

func newLimiters(perSecond float64) *limiters {
	if perSecond <= 0 {
		return nil
	}
	return &limiters{limit: rate.Limit(perSecond), burst: max(1, int(math.Ceil(2*perSecond))), m: map[string]*bucket{}}
}

// allow takes a token for who, or says how long until one is free.
func (ls *limiters) allow(who string, now time.Time) (ok bool, retryAfter time.Duration) {
	if ls == nil {
		return true, 0
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if now.Sub(ls.swept) > time.Minute {
		for k, b := range ls.m {
			if now.Sub(b.seen) > limiterIdle {
				delete(ls.m, k)
			}
		}
		ls.swept = now
	}
	b := ls.m[who]
	if b == nil {
		b = &bucket{l: rate.NewLimiter(ls.limit, ls.burst)}
		ls.m[who] = b
	}
	b.seen = now
	r := b.l.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return false, d
	}
	return true, 0
}

// clientIP is the address of the connection's peer. tally sits behind the
// studio's gateway, which should set its own limits per end user; a
// forwarded-for header is not trusted, since any client can send one.
func clientIP(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return remoteAddr
	}
	return host
}

// tooMany is the 429 problem with its Retry-After, in whole seconds.
func tooMany(retryAfter time.Duration) *rateProblem {
	secs := max(1, int(math.Ceil(retryAfter.Seconds())))
	return &rateProblem{
		Problem:    newProblem(http.StatusTooManyRequests, "rate_limited", "too many requests: retry after "+strconv.Itoa(secs)+" s", nil),
		retryAfter: strconv.Itoa(secs),
	}
}

// rateProblem is a 429 problem with its Retry-After header.
type rateProblem struct {
	*Problem
	retryAfter string
}

// GetHeaders returns Retry-After (huma.HeadersError).
func (p *rateProblem) GetHeaders() http.Header { return http.Header{"Retry-After": {p.retryAfter}} }

// Unwrap lets ProblemFor find the problem.
func (p *rateProblem) Unwrap() error { return p.Problem }
