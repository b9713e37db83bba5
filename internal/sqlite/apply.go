package sqlite

import (
	"fmt"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/tally-credits/tally/internal/credit"
)

// applyChanges writes changes in one statement: the document goes into the
// view ledger_changes, whose trigger (migration 0010, after 0006 to 0009)
// writes its rows and adds to the report rollups.
func (t *tx) applyChanges(changes []*credit.Change) error {
	doc := changeDoc(changes)
	if doc == nil {
		return nil
	}
	if _, err := t.exec(`INSERT INTO ledger_changes (doc) VALUES (jsonb(?))`, doc); err != nil {
		// The ledger decided on rows loaded under the write lock, so no row
		// it inserts can exist: a violation here is a bug, and nothing of
		// the transaction may commit.
		return t.halfDone(t.fail("apply change", err))
	}
	return nil
}

// changeDoc renders changes as the document the trigger reads: an object of
// arrays, one per kind of row, each row an array in the trigger's column
// order (see 0006_apply.sql, and 0010_reports.sql, which replaced it after
// 0007_plans.sql, 0008_teams.sql and 0009_events.sql).
// Entries of all the changes are numbered in one sequence ($.e), which
// their postings name. nil if nothing changes.
func changeDoc(changes []*credit.Change) []byte {
	var d doc
	d.b = append(d.b, '{')
	d.rows("na", changes, func(c *credit.Change, row func(...any)) {
		if a := c.NewAccount; a != nil {
			row(a.ID, a.Overdraft, a.Available, a.Held, a.CreatedAt, a.Plan, a.TimeZone, a.Daily, string(a.Kind),
				a.LowBalance, a.AutoTopup.Threshold, a.AutoTopup.Amount, a.AutoTopup.MonthlyCap)
		}
	})
	d.rows("a", changes, func(c *credit.Change, row func(...any)) {
		if a := c.Account; a != nil {
			row(a.ID, a.Available, a.Held, a.Plan, a.TimeZone, a.Daily,
				a.LowBalance, a.AutoTopup.Threshold, a.AutoTopup.Amount, a.AutoTopup.MonthlyCap)
		}
	})
	d.rows("m", changes, func(c *credit.Change, row func(...any)) {
		for _, m := range c.Members {
			row(m.Account, m.ID, m.MonthlyLimit, m.CreatedAt, m.UpdatedAt, m.RemovedAt)
		}
	})
	d.rows("mp", changes, func(c *credit.Change, row func(...any)) {
		for _, p := range c.MemberPeriods {
			row(p.Account, p.Member, p.Start, p.End, p.Used, p.Limit, p.Reached)
		}
	})
	d.rows("ns", changes, func(c *credit.Change, row func(...any)) {
		for _, s := range c.NewSubscriptions {
			row(s.ID, s.Account, s.Plan, string(s.Billing), s.TimeZone, s.StartsAt, s.EndsAt, s.NextPlan, s.NextAt, s.Period, s.RenewsAt,
				windowUsageJSON(s.Usage), s.CreatedAt, s.CanceledAt)
		}
	})
	d.rows("s", changes, func(c *credit.Change, row func(...any)) {
		for _, s := range c.Subscriptions {
			row(s.ID, s.Plan, string(s.Billing), s.TimeZone, s.StartsAt, s.EndsAt, s.NextPlan, s.NextAt, s.Period, s.RenewsAt,
				windowUsageJSON(s.Usage), s.CanceledAt)
		}
	})
	d.rows("ng", changes, func(c *credit.Change, row func(...any)) {
		for _, g := range c.NewGrants {
			row(g.ID, g.Account, string(g.Source), g.Granted, g.Remaining, g.Held, g.Priority, g.ExpiresAt, g.ExpiredAt, g.CreatedAt, g.Memo, g.PaidBack,
				eligibilityJSON(g.AppliesTo), g.Subscription, g.Period, g.WarnedAt)
		}
	})
	d.rows("g", changes, func(c *credit.Change, row func(...any)) {
		for _, g := range c.Grants {
			row(g.ID, g.Remaining, g.Held, g.PaidBack, g.ExpiresAt, g.ExpiredAt, g.WarnedAt)
		}
	})
	d.rows("nt", changes, func(c *credit.Change, row func(...any)) {
		for _, u := range c.NewTopups {
			row(u.ID, u.Account, u.Credits, string(u.Status), nullString(u.Grant), u.CreatedAt, u.ResolvedAt)
		}
	})
	d.rows("t", changes, func(c *credit.Change, row func(...any)) {
		for _, u := range c.Topups {
			row(u.ID, string(u.Status), nullString(u.Grant), u.ResolvedAt)
		}
	})
	d.rows("nh", changes, func(c *credit.Change, row func(...any)) {
		for _, h := range c.NewHolds {
			row(h.ID, h.Account, nullString(h.Generation), h.Amount, h.Captured, h.Released, string(h.Status), h.ExpiresAt, h.CreatedAt, h.ResolvedAt,
				h.Member, h.MemberPeriod)
		}
	})
	d.rows("h", changes, func(c *credit.Change, row func(...any)) {
		for _, h := range c.Holds {
			row(h.ID, string(h.Status), h.Captured, h.Released, h.ResolvedAt)
		}
	})
	d.rows("al", changes, func(c *credit.Change, row func(...any)) {
		for _, h := range c.NewHolds {
			for i, a := range h.Allocations {
				row(h.ID, i, a.Grant, a.Amount, a.Captured, a.Refunded)
			}
		}
		for _, a := range c.Allocations {
			row(a.Hold, a.Seq, a.Grant, a.Amount, a.Captured, a.Refunded)
		}
	})
	d.rows("tr", changes, func(c *credit.Change, row func(...any)) {
		for _, a := range c.TrimAllocations {
			row(a.Hold, a.Seq)
		}
	})
	d.rows("ngen", changes, func(c *credit.Change, row func(...any)) {
		for _, g := range c.NewGenerations {
			row(g.ID, g.Account, string(g.Status), g.Hold, g.Model, string(g.Kind), g.CatalogVersion, g.Images, g.ImagesDelivered,
				g.HoldCredits, g.UnitCredits, g.Surcharge, g.Charged, g.Refunded, nullBytes(g.Quote), g.ExpiresAt, g.CreatedAt, g.ResolvedAt,
				g.Window, string(g.Lane), g.ListCredits, g.Member)
		}
	})
	d.rows("gen", changes, func(c *credit.Change, row func(...any)) {
		for _, g := range c.Generations {
			row(g.ID, string(g.Status), g.ImagesDelivered, g.Charged, g.Refunded, g.ResolvedAt, g.ListCredits)
		}
	})
	d.rows("e", changes, func(c *credit.Change, row func(...any)) {
		for _, e := range c.Entries {
			row(string(e.Kind), e.Account, e.Time, e.Ref, e.Generation, e.Model, string(e.ModelKind), e.CatalogVersion,
				e.AvailableDelta, e.HeldDelta, e.AvailableAfter, e.HeldAfter, e.ChargedDelta, e.Memo, e.ListCredits, e.Member)
		}
	})
	entry := 0
	d.rows("p", changes, func(c *credit.Change, row func(...any)) {
		for _, e := range c.Entries {
			for seq, p := range e.Postings {
				row(entry, seq, p.Account, p.Book, nullString(p.Grant), p.Amount)
			}
			entry++
		}
	})
	d.rows("i", changes, func(c *credit.Change, row func(...any)) {
		for _, r := range c.Idempotency {
			row(r.Scope, r.Key, r.Hash, nullBytes(r.Response), r.CreatedAt)
		}
	})
	d.rows("au", changes, func(c *credit.Change, row func(...any)) {
		for _, a := range c.Audit {
			row(a.At, a.Actor, a.Action, a.Target, string(a.Detail))
		}
	})
	d.rows("ev", changes, func(c *credit.Change, row func(...any)) {
		for _, e := range c.Events {
			// data goes in as a JSON string, which the trigger reads back
			// (->>) as the very bytes written.
			row(e.ID, e.Type, e.Time, e.Account, string(e.Data))
		}
	})
	// The rollups' rows are deltas: the trigger adds each to the row of
	// its key (a key twice in one document adds twice).
	d.rows("li", changes, func(c *credit.Change, row func(...any)) {
		for _, r := range c.Liability {
			row(r.Day, string(r.Source), r.Expires, r.Credits)
		}
	})
	d.rows("co", changes, func(c *credit.Change, row func(...any)) {
		for _, r := range c.Consumption {
			row(r.Day, r.Model, string(r.Source), r.Charged, r.Charges)
		}
	})
	if !d.any {
		return nil
	}
	d.b = append(d.b, '}')
	return d.b
}

// nullString and nullBytes are values the document renders as null.
type nullString string
type nullBytes []byte

// doc appends JSON. It knows the few types a change has, so it needs no
// reflection: a change is rendered on every write.
type doc struct {
	b   []byte
	any bool // a non-empty array was written
}

// rows writes "name":[row,…] of the rows each change gives, nothing if none.
func (d *doc) rows(name string, changes []*credit.Change, each func(*credit.Change, func(...any))) {
	start, n := len(d.b), 0
	row := func(vs ...any) {
		if n == 0 {
			if d.any {
				d.b = append(d.b, ',')
			}
			d.b = append(d.b, '"')
			d.b = append(d.b, name...)
			d.b = append(d.b, `":[`...)
		} else {
			d.b = append(d.b, ',')
		}
		n++
		d.b = append(d.b, '[')
		for i, v := range vs {
			if i > 0 {
				d.b = append(d.b, ',')
			}
			d.value(v)
		}
		d.b = append(d.b, ']')
	}
	for _, c := range changes {
		each(c, row)
	}
	if n == 0 {
		d.b = d.b[:start]
		return
	}
	d.b = append(d.b, ']')
	d.any = true
}

func (d *doc) value(v any) {
	switch v := v.(type) {
	case string:
		d.str(v)
	case nullString:
		if v == "" {
			d.b = append(d.b, "null"...)
		} else {
			d.str(string(v))
		}
	case nullBytes:
		if v == nil {
			d.b = append(d.b, "null"...)
		} else {
			d.str(string(v))
		}
	case credit.Credits:
		d.b = strconv.AppendInt(d.b, int64(v), 10)
	case *credit.Credits:
		if v == nil {
			d.b = append(d.b, "null"...)
		} else {
			d.b = strconv.AppendInt(d.b, int64(*v), 10)
		}
	case int:
		d.b = strconv.AppendInt(d.b, int64(v), 10)
	case time.Time:
		if v.IsZero() {
			d.b = append(d.b, "null"...)
		} else {
			d.b = strconv.AppendInt(d.b, v.UnixMicro(), 10)
		}
	default:
		panic(fmt.Sprintf("sqlite: a change has a value of type %T", v))
	}
}

// str appends s as a JSON string. Invalid UTF-8 (which the ledger refuses
// at its edge) is written as U+FFFD rather than producing invalid JSON.
func (d *doc) str(s string) {
	const hex = "0123456789abcdef"
	d.b = append(d.b, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				d.b = append(d.b, '\\', c)
			case c < 0x20:
				d.b = append(d.b, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				d.b = append(d.b, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			d.b = append(d.b, `\ufffd`...)
		} else {
			d.b = append(d.b, s[i:i+size]...)
		}
		i += size
	}
	d.b = append(d.b, '"')
}

// eligibilityJSON renders e as the applies_to column holds it, the JSON of
// credit.Eligibility; "" (NULL) when e allows every model.
func eligibilityJSON(e credit.Eligibility) nullString {
	if e.IsZero() {
		return ""
	}
	var d doc
	d.b = append(d.b, '{')
	n := 0
	for _, l := range []struct {
		name string
		xs   []string
	}{{"models", e.Models}, {"tags", e.Tags}, {"exclude_models", e.ExcludeModels}, {"exclude_tags", e.ExcludeTags}} {
		if len(l.xs) == 0 {
			continue
		}
		if n > 0 {
			d.b = append(d.b, ',')
		}
		n++
		d.str(l.name)
		d.b = append(d.b, ':', '[')
		for i, x := range l.xs {
			if i > 0 {
				d.b = append(d.b, ',')
			}
			d.str(x)
		}
		d.b = append(d.b, ']')
	}
	return nullString(append(d.b, '}'))
}

// windowUsageJSON renders a subscription's usage as its column holds it, a
// JSON array of credit.WindowUsage; "" (NULL) when there is none.
func windowUsageJSON(us []credit.WindowUsage) nullString {
	if len(us) == 0 {
		return ""
	}
	var d doc
	d.b = append(d.b, '[')
	for i, u := range us {
		if i > 0 {
			d.b = append(d.b, ',')
		}
		d.b = append(d.b, `{"open":`...)
		d.b = strconv.AppendInt(d.b, int64(u.Open), 10)
		if u.Day != "" {
			d.b = append(d.b, `,"day":`...)
			d.str(u.Day)
		}
		d.b = append(d.b, `,"fast":`...)
		d.b = strconv.AppendInt(d.b, int64(u.Fast), 10)
		d.b = append(d.b, '}')
	}
	return nullString(append(d.b, ']'))
}
