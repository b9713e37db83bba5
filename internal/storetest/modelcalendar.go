package storetest

import (
	"fmt"
	"sync"
	"time"
)

// The reference model's calendars: days and months in a time zone, worked
// out with time.Date from the calendar (never by adding hours), so that a
// DST change never moves a boundary; a second opinion on the ledger's
// period.go.

var modelZones sync.Map // name → *time.Location

// location returns the zone of an IANA name ("" is UTC).
func location(name string) *time.Location {
	if name == "" {
		return time.UTC
	}
	if l, ok := modelZones.Load(name); ok {
		return l.(*time.Location)
	}
	l, err := time.LoadLocation(name)
	if err != nil {
		panic("storetest: time zone " + name + ": " + err.Error())
	}
	modelZones.Store(name, l)
	return l
}

// midnightAfter returns the local midnight that ends t's local day.
func midnightAfter(t time.Time, loc *time.Location) time.Time {
	y, mo, d := t.In(loc).Date()
	return time.Date(y, mo, d+1, 0, 0, 0, 0, loc).UTC()
}

// localDay names t's local day.
func localDay(t time.Time, loc *time.Location) string {
	y, mo, d := t.In(loc).Date()
	return fmt.Sprintf("%04d-%02d-%02d", y, int(mo), d)
}

// daysIn returns how many days month mo of year y has.
func daysIn(y int, mo time.Month) int {
	switch mo {
	case time.February:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
}

// monthStart returns when month k of s starts.
func (s *mSub) monthStart(k int) time.Time {
	if k == 0 {
		return s.startsAt
	}
	loc := location(s.tz)
	y, mo, d := s.startsAt.In(loc).Date()
	n := int(mo) - 1 + k
	ty, tm := y+n/12, time.Month(n%12+1)
	return time.Date(ty, tm, min(d, daysIn(ty, tm)), 0, 0, 0, 0, loc).UTC()
}

// monthAt returns the month of s that t is in (0 before the second).
func (s *mSub) monthAt(t time.Time) int {
	k := 0
	for !s.monthStart(k + 1).After(t) {
		k++
	}
	return k
}

// billingPeriod returns the billing period of s that t is in.
func (s *mSub) billingPeriod(t time.Time) (from, to time.Time) {
	n := s.billing.Months()
	j := s.monthAt(t) / n
	return s.monthStart(j * n), s.monthStart((j + 1) * n)
}

func (s *mSub) active(t time.Time) bool {
	return !t.Before(s.startsAt) && (s.endsAt.IsZero() || t.Before(s.endsAt))
}

// windowEnd is days local calendar days after from, at from's local time.
func windowEnd(from time.Time, days int, loc *time.Location) time.Time {
	l := from.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day()+days, l.Hour(), l.Minute(), l.Second(), l.Nanosecond(), loc).UTC()
}
