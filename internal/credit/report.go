package credit

import (
	"context"
	"sort"
	"time"
)

// Finance's two questions: how many credits do we owe, and when do they
// expire (Liability); and which balances paid for what was charged
// (Consumption). Both are answered from rollups the stores keep in each
// write's own transaction (rollup.go), a row per UTC day and key, so a
// report reads a few thousand rows whatever the length of the journal;
// Verify checks both rollups against the journal.

// LiabilityRow is one row of the liability rollup: on UTC day Day
// (YYYY-MM-DD), the outstanding credits (available and held) of the grants
// of Source whose expiry falls in bucket Expires (see ExpiryBucket; ""
// for grants that never expire) moved by Credits.
type LiabilityRow struct {
	Day     string
	Source  Source
	Expires string
	Credits Credits
}

// ConsumptionRow is one row of the consumption rollup: on UTC day Day, the
// charges for Model ("" for generic holds) paid by grants of Source, net of
// refunds (a refund counts against the source that paid the charge it
// gives back, even when the credits return as a new refund grant), and how
// many charges had Source as their first payer.
type ConsumptionRow struct {
	Day     string
	Model   string
	Source  Source
	Charged Credits
	Charges int
}

// ExpiryBucket is the liability rollup's expiry bucket of a grant expiring
// at expiresAt: the UTC date of its last live instant (expiresAt less one
// microsecond, the store's precision), so that credits expiring at a
// midnight belong to the day that midnight ends; "" when it never expires.
func ExpiryBucket(expiresAt time.Time) string {
	if expiresAt.IsZero() {
		return ""
	}
	return expiresAt.Add(-time.Microsecond).UTC().Format(time.DateOnly)
}

// SourceLiability is what is owed in grants of one source.
type SourceLiability struct {
	Source Source
	// Outstanding is everything owed: Within90 and the dated grants
	// beyond it, Never and PastExpiry.
	Outstanding Credits
	// Within7, Within30 and Within90 are what expires within that many
	// days (each includes the shorter windows).
	Within7, Within30, Within90 Credits
	// Never is in grants that never expire; PastExpiry in grants past
	// their expiry that the sweeper has not yet taken (normally 0).
	Never, PastExpiry Credits
}

// LiabilityReport is what the ledger owes at a time, by grant source.
type LiabilityReport struct {
	At time.Time
	// The totals over the sources.
	SourceLiability
	Sources []SourceLiability // by source name
}

// ReportWindows are the expiry windows of a liability report, in days.
var ReportWindows = [3]int{7, 30, 90}

// Liability reports the credits outstanding at `at` by grant source and
// how much of them expires within 7, 30 and 90 days. With a zero at, now:
// everything committed. Otherwise at must be a UTC midnight not after now
// (Invalid invalid_at): the report is the journal up to that instant.
//
// The windows count whole UTC days from at's: within N days is expiring in
// a bucket in [date(at), date(at)+N), which for a midnight is expiring in
// (at, at+N days]; for now, the window starts at today's midnight.
func (l *Ledger) Liability(ctx context.Context, at time.Time) (LiabilityReport, error) {
	now := l.Now()
	before := ""
	if at.IsZero() {
		at = now
	} else {
		at = at.UTC()
		if !midnight(at) {
			return LiabilityReport{}, Errorf(Invalid, "invalid_at", "at must be a UTC midnight (a date), not %s; leave it out for now", at.Format(time.RFC3339Nano))
		}
		if at.After(now) {
			return LiabilityReport{}, Errorf(Invalid, "invalid_at", "at %s is in the future: a liability report says what the journal holds", at.Format(time.DateOnly))
		}
		if at.Year() < 1 {
			return LiabilityReport{}, Errorf(Invalid, "invalid_at", "at must be 0001-01-01 or later")
		}
		before = at.Format(time.DateOnly)
	}
	rows, err := view(ctx, l, func(tx Tx, _ time.Time) ([]LiabilityRow, error) { return tx.Liability(before) })
	if err != nil {
		return LiabilityReport{}, err
	}
	return LiabilityOf(at, rows), nil
}

// LiabilityOf folds the liability rollup's rows summed by source and
// expiry bucket into the report at `at` (see Liability).
func LiabilityOf(at time.Time, rows []LiabilityRow) LiabilityReport {
	day := at.UTC().Truncate(24 * time.Hour)
	today := day.Format(time.DateOnly)
	var limits [len(ReportWindows)]string
	for i, n := range ReportWindows {
		limits[i] = day.AddDate(0, 0, n).Format(time.DateOnly)
	}
	by := map[Source]*SourceLiability{}
	r := LiabilityReport{At: at}
	for _, row := range rows {
		if row.Credits == 0 {
			continue
		}
		s := by[row.Source]
		if s == nil {
			s = &SourceLiability{Source: row.Source}
			by[row.Source] = s
		}
		for _, x := range []*SourceLiability{s, &r.SourceLiability} {
			x.Outstanding += row.Credits
			switch {
			case row.Expires == "":
				x.Never += row.Credits
			case row.Expires < today:
				x.PastExpiry += row.Credits
			default:
				w := []*Credits{&x.Within7, &x.Within30, &x.Within90}
				for i := range limits {
					if row.Expires < limits[i] {
						*w[i] += row.Credits
					}
				}
			}
		}
	}
	for _, s := range by {
		r.Sources = append(r.Sources, *s)
	}
	sort.Slice(r.Sources, func(i, j int) bool { return r.Sources[i].Source < r.Sources[j].Source })
	return r
}

// ReportGroup names how a consumption report is grouped.
type ReportGroup string

// The consumption groupings.
const (
	ReportByModel  ReportGroup = "model"
	ReportBySource ReportGroup = "source"
	ReportByDay    ReportGroup = "day"
)

// MaxReportSpan bounds a report's window (about 13 months).
const MaxReportSpan = MaxUsageSpan

// ConsumptionGroup is what was charged in one group, and which balances
// paid it.
type ConsumptionGroup struct {
	Key      string // the model id ("other" for generic holds), the source or the day
	Charged  Credits
	Charges  int
	BySource map[Source]Credits
}

// ConsumptionReport is what was charged in a window, net of refunds.
type ConsumptionReport struct {
	From, To time.Time
	By       ReportGroup
	Charged  Credits
	Charges  int
	BySource map[Source]Credits
	Groups   []ConsumptionGroup // by key
}

// Consumption reports the credits charged in [from, to), net of refunds,
// grouped by model, source or day, each group with the kinds of balance
// that paid (free, subscription, topup, promo, rollover, …). from and to
// are UTC midnights, from before to and at most MaxReportSpan apart
// (Invalid invalid_range); Invalid invalid_group_by.
func (l *Ledger) Consumption(ctx context.Context, from, to time.Time, by ReportGroup) (ConsumptionReport, error) {
	switch by {
	case ReportByModel, ReportBySource, ReportByDay:
	default:
		return ConsumptionReport{}, &Error{Code: Invalid, Reason: "invalid_group_by", Message: "group_by must be model, source or day", Allowed: []string{"model", "source", "day"}}
	}
	if err := checkReportWindow(from, to); err != nil {
		return ConsumptionReport{}, err
	}
	from, to = from.UTC(), to.UTC()
	if !midnight(from) || !midnight(to) {
		return ConsumptionReport{}, Errorf(Invalid, "invalid_range", "a consumption report covers whole UTC days: from and to must be midnights (dates)")
	}
	rows, err := view(ctx, l, func(tx Tx, _ time.Time) ([]ConsumptionRow, error) {
		return tx.Consumption(from.Format(time.DateOnly), to.Format(time.DateOnly))
	})
	if err != nil {
		return ConsumptionReport{}, err
	}
	return ConsumptionOf(from, to, by, rows), nil
}

// ConsumptionOf folds the consumption rollup's rows of [from, to) into the
// report grouped by `by` (see Consumption).
func ConsumptionOf(from, to time.Time, by ReportGroup, rows []ConsumptionRow) ConsumptionReport {
	r := ConsumptionReport{From: from, To: to, By: by, BySource: map[Source]Credits{}}
	groups := map[string]*ConsumptionGroup{}
	for _, row := range rows {
		if row.Charged == 0 && row.Charges == 0 {
			continue
		}
		key := row.Day
		switch by {
		case ReportByModel:
			key = row.Model
			if key == "" {
				key = "other"
			}
		case ReportBySource:
			key = string(row.Source)
		}
		g := groups[key]
		if g == nil {
			g = &ConsumptionGroup{Key: key, BySource: map[Source]Credits{}}
			groups[key] = g
		}
		g.Charged += row.Charged
		g.Charges += row.Charges
		g.BySource[row.Source] += row.Charged
		r.Charged += row.Charged
		r.Charges += row.Charges
		r.BySource[row.Source] += row.Charged
	}
	for _, g := range groups {
		r.Groups = append(r.Groups, *g)
	}
	sort.Slice(r.Groups, func(i, j int) bool { return r.Groups[i].Key < r.Groups[j].Key })
	return r
}

// checkReportWindow refuses a window that is empty, reversed, longer than
// MaxReportSpan or before year 1.
func checkReportWindow(from, to time.Time) error {
	if !from.Before(to) || to.Sub(from) > MaxReportSpan {
		return Errorf(Invalid, "invalid_range", "from must be before to, at most %d days apart", int(MaxReportSpan.Hours()/24))
	}
	if from.UTC().Year() < 1 {
		return Errorf(Invalid, "invalid_range", "a report window starts at 0001-01-01 or later")
	}
	return nil
}

// midnight reports whether t is a UTC midnight.
func midnight(t time.Time) bool {
	return t.UTC().Equal(t.UTC().Truncate(24 * time.Hour))
}
