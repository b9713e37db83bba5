package credit

import (
	"crypto/sha256"
	"encoding/base32"
	"strings"
	"sync"
	"time"
)

// Days and months are calendar days and months in a time zone: a day starts
// at local midnight, whatever the DST change of that day (a day can be 23 or
// 25 hours long), and a month runs from a renewal day to the next. Every
// boundary is computed with time.Date from the calendar, never by adding
// hours, so DST never moves one.

var zones sync.Map // IANA name → *time.Location

// zone returns the location of an IANA name ("" is UTC). Invalid
// invalid_time_zone when the name is unknown.
func zone(name string) (*time.Location, error) {
	if name == "" || name == "UTC" {
		return time.UTC, nil
	}
	if l, ok := zones.Load(name); ok {
		return l.(*time.Location), nil
	}
	// LoadLocation accepts paths and "Local"; an account's zone is an IANA
	// name only.
	if name == "Local" || strings.ContainsAny(name, "\\.") || strings.HasPrefix(name, "/") || len(name) > 64 {
		return nil, badZone(name)
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		return nil, badZone(name)
	}
	zones.Store(name, l)
	return l, nil
}

func badZone(name string) *Error {
	return Errorf(Invalid, "invalid_time_zone", "time_zone must be an IANA time zone name such as Europe/Berlin, not %q", shown(name))
}

// CheckTimeZone refuses (Invalid invalid_time_zone) a name that is not an
// IANA time zone.
func CheckTimeZone(name string) error {
	_, err := zone(name)
	return err
}

// mustZone is zone for a name a write already checked; an unknown one
// (a zone database without it) falls back to UTC rather than fail a write.
func mustZone(name string) *time.Location {
	l, err := zone(name)
	if err != nil {
		return time.UTC
	}
	return l
}

// dayStart returns the local midnight that starts t's day in loc.
func dayStart(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d, 0, 0, 0, 0, loc).UTC()
}

// nextMidnight returns the local midnight that ends t's day in loc.
func nextMidnight(t time.Time, loc *time.Location) time.Time {
	y, m, d := t.In(loc).Date()
	return time.Date(y, m, d+1, 0, 0, 0, 0, loc).UTC()
}

// dayKey names t's local day in loc: "2026-12-05".
func dayKey(t time.Time, loc *time.Location) string { return t.In(loc).Format(time.DateOnly) }

// monthStart returns when month k of a subscription starts: k = 0 at its
// start; later months at local midnight of the renewal day — the start's day
// of month, or the month's last day when the month is shorter (a
// subscription started on the 31st renews on 30 April and 28 or 29
// February, and on 31 May again).
func (s *Subscription) monthStart(k int) time.Time {
	if k <= 0 {
		return s.StartsAt
	}
	loc := mustZone(s.TimeZone)
	y, m, d := s.StartsAt.In(loc).Date()
	last := time.Date(y, m+time.Month(k)+1, 0, 0, 0, 0, 0, loc).Day() // day 0 of the next month
	return time.Date(y, m+time.Month(k), min(d, last), 0, 0, 0, 0, loc).UTC()
}

// monthAt returns the month of s that t falls in (0 before the second).
func (s *Subscription) monthAt(t time.Time) int {
	loc := mustZone(s.TimeZone)
	sy, sm, _ := s.StartsAt.In(loc).Date()
	ty, tm, _ := t.In(loc).Date()
	k := max(0, (ty-sy)*12+int(tm-sm)-1)
	for k > 0 && s.monthStart(k).After(t) {
		k--
	}
	for !s.monthStart(k + 1).After(t) {
		k++
	}
	return k
}

// billingPeriod returns the billing period of s that t falls in: [from, to).
func (s *Subscription) billingPeriod(t time.Time) (from, to time.Time) {
	n := s.Billing.Months()
	j := s.monthAt(t) / n
	return s.monthStart(j * n), s.monthStart((j + 1) * n)
}

// PeriodGrantID is the ID of the grant a plan gives account for period (see
// Grant.Period): made from both, so that a second grant of the same period
// is the same row and a store refuses it.
func PeriodGrantID(account, period string) string {
	sum := sha256.Sum256([]byte(account + "\x00" + period))
	return "grt_p" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:15]))
}
