package credit

import (
	"strconv"
	"strings"
	"time"
)

// An unlimited window makes a plan's models free for the first Days days of
// each billing period: such a generation holds and charges 0 and records its
// list price (Generation.ListCredits, Entry.ListCredits). Its counters live
// on the subscription (WindowUsage), so that the limits are decided from the
// account's loaded state under its lock like the balance: at most
// MaxConcurrent open, at most DailyFast a local day in the fast lane.

// windowAt returns the unlimited window of subscription s that makes model
// free at now, with its index in the plan, or nil.
func windowAt(p *Plan, s *Subscription, model string, now time.Time) (*Window, int) {
	if p == nil || s == nil {
		return nil, -1
	}
	from, _ := s.billingPeriod(now)
	loc := mustZone(s.TimeZone)
	for i := range p.Unlimited {
		w := &p.Unlimited[i]
		if !w.Covers(model) {
			continue
		}
		// Days are calendar days in the subscription's zone: AddDate
		// keeps the local clock across a DST change.
		if now.Before(from.In(loc).AddDate(0, 0, w.Days)) {
			return w, i
		}
	}
	return nil, -1
}

// useWindow counts a new generation in window i of subscription s and
// returns its lane. Limited concurrency_limit when MaxConcurrent are open;
// Limited daily_limit_reached (ResetsAt: the next local midnight) past the
// day's fast generations when the window blocks then. DailyFast 0 puts no
// limit on fast generations.
func useWindow(b *Book, s *Subscription, w *Window, i int, now time.Time) (Lane, error) {
	p := b.subscriptionAt(s.ID)
	for len(p.Usage) <= i {
		p.Usage = append(p.Usage, WindowUsage{})
	}
	u := p.Usage[i]
	if u.Open >= w.MaxConcurrent {
		return "", Errorf(Limited, "concurrency_limit", "the unlimited window allows %d generation(s) at a time; %d open", w.MaxConcurrent, u.Open)
	}
	loc := mustZone(s.TimeZone)
	if today := dayKey(now, loc); u.Day != today {
		u.Day, u.Fast = today, 0
	}
	lane := LaneFast
	if w.DailyFast > 0 && u.Fast >= w.DailyFast {
		if w.AfterFast != AfterFastRelaxed {
			reset := nextMidnight(now, loc)
			e := Errorf(Limited, "daily_limit_reached", "the unlimited window's %d fast generations of today are used; it resets at %s",
				w.DailyFast, reset.In(loc).Format(time.RFC3339))
			e.ResetsAt = reset
			return "", e
		}
		lane = LaneRelaxed
	} else {
		u.Fast++
	}
	u.Open++
	p.Usage[i] = u
	return lane, nil
}

// windowRef names window i of subscription s on a generation: "sub_…/0".
func windowRef(s string, i int) string { return s + "/" + strconv.Itoa(i) }

// closeWindow counts a generation of a window as no longer open.
func closeWindow(b *Book, ref string) {
	sub, idx, ok := strings.Cut(ref, "/")
	i, err := strconv.Atoi(idx)
	p := b.subscriptionAt(sub)
	if !ok || err != nil || p == nil || i < 0 || i >= len(p.Usage) {
		return
	}
	p.Usage[i].Open = max(0, p.Usage[i].Open-1)
}
