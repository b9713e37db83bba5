package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"
	"github.com/tally-credits/tally/internal/postgres"
	"github.com/tally-credits/tally/internal/postgres/pgtest"
)

const day = 24 * time.Hour

// load runs a Write on account with refs whose Decide keeps the State it
// is given and changes nothing.
func load(tb testing.TB, db *postgres.DB, account string, refs credit.Refs) *credit.State {
	tb.Helper()
	var got *credit.State
	if err := db.Write(context.Background(), []*credit.Batch{batch(account, refs, nil, func(s *credit.State) *credit.Change {
		got = s
		return &credit.Change{}
	})}); err != nil {
		tb.Fatalf("Write: %v", err)
	}
	return got
}

func topupIDs(ts []credit.Topup) string {
	var ids []string
	for _, t := range ts {
		ids = append(ids, t.ID)
	}
	return strings.Join(ids, " ")
}

// TestTopups: a Change inserts top-ups and updates their status, grant and
// resolution, and an account's alert and auto top-up, in its round trips;
// the load gives a write the account's pending top-ups and those of the
// last TopupWindow, and those Refs names of its own; Tx.Topup and
// Tx.Topups read them back.
func TestTopups(t *testing.T) {
	db := pgtest.Open(t)
	ctx := context.Background()
	newAccount(t, db, "acme", 0, 0)
	newAccount(t, db, "other", 0, 0)
	top := func(id, account string, status credit.TopupStatus, created time.Duration) credit.Topup {
		u := credit.Topup{ID: id, Account: account, Credits: credit.Whole(10), Status: status, CreatedAt: t0.Add(created)}
		if status != credit.TopupPending {
			u.ResolvedAt = u.CreatedAt.Add(time.Hour)
		}
		return u
	}
	tops := []credit.Topup{
		top("top_1", "acme", credit.TopupPending, -40*day),   // pending: whenever made
		top("top_2", "acme", credit.TopupConfirmed, -33*day), // resolved, before the window
		top("top_3", "acme", credit.TopupCanceled, -32*day),  // resolved, the window's first instant
		top("top_4", "acme", credit.TopupConfirmed, -day),    // resolved, in the window
	}
	trips := db.RoundTrips()
	if err := db.Write(ctx, []*credit.Batch{batch("acme", credit.Refs{Now: t0}, nil, func(s *credit.State) *credit.Change {
		a := *s.Account
		a.LowBalance = credit.Whole(5)
		a.AutoTopup = credit.AutoTopup{Threshold: credit.Whole(1), Amount: credit.Whole(10), MonthlyCap: credit.Whole(50)}
		return &credit.Change{Account: &a, NewTopups: tops}
	})}); err != nil {
		t.Fatal(err)
	}
	if n := db.RoundTrips() - trips; n > 2 {
		t.Errorf("a write of top-ups took %d round trips; want 2", n)
	}
	apply(t, db, "other", &credit.Change{NewTopups: []credit.Topup{top("top_5", "other", credit.TopupPending, 0)}})

	s := load(t, db, "acme", credit.Refs{Now: t0})
	if a := s.Account; a.LowBalance != credit.Whole(5) || a.AutoTopup != (credit.AutoTopup{Threshold: credit.Whole(1), Amount: credit.Whole(10), MonthlyCap: credit.Whole(50)}) {
		t.Errorf("State.Account = %+v; want LowBalance 5 and auto top-up 1/10/50", a)
	}
	if got := topupIDs(s.Topups); got != "top_1 top_3 top_4" {
		t.Errorf("State.Topups = %s; want top_1 top_3 top_4 (pending, and made in the window)", got)
	}
	for _, u := range s.Topups {
		if u.ID == "top_3" && (u != tops[2]) {
			t.Errorf("loaded %+v; want %+v", u, tops[2])
		}
	}
	s = load(t, db, "acme", credit.Refs{Now: t0, Topups: []string{"top_2", "top_5"}})
	if got := topupIDs(s.Topups); got != "top_1 top_2 top_3 top_4" {
		t.Errorf("State.Topups naming top_2 and other's top_5 = %s; want top_1 top_2 top_3 top_4", got)
	}

	// A confirmation: the grant it makes and the top-up naming it, in one
	// change.
	confirmed := tops[0]
	confirmed.Status, confirmed.Grant, confirmed.ResolvedAt = credit.TopupConfirmed, "grt_top1", t0
	apply(t, db, "acme", &credit.Change{
		NewGrants: []credit.Grant{{ID: "grt_top1", Account: "acme", Source: credit.SourceTopup, Granted: credit.Whole(10), Remaining: credit.Whole(10), CreatedAt: t0}},
		Topups:    []credit.Topup{confirmed},
	})
	if got := topupIDs(load(t, db, "acme", credit.Refs{Now: t0}).Topups); got != "top_3 top_4" {
		t.Errorf("State.Topups once top_1 is confirmed = %s; want top_3 top_4", got)
	}
	mustView(t, db, func(tx credit.Tx) error {
		if u, err := tx.Topup("top_1"); err != nil || u != confirmed {
			t.Errorf("Topup(top_1) = %+v, %v; want %+v", u, err, confirmed)
		}
		_, err := tx.Topup("top_9")
		wantError(t, "Topup(top_9)", err, credit.NotFound, "unknown_topup")
		for _, c := range []struct {
			before string
			limit  int
			want   string
		}{{"", 2, "top_4 top_3"}, {"top_3", 10, "top_2 top_1"}, {"", 0, "top_4 top_3 top_2 top_1"}, {"top_1", 10, ""}} {
			if us, err := tx.Topups("acme", c.before, c.limit); err != nil || topupIDs(us) != c.want {
				t.Errorf("Topups(acme, %q, %d) = %s, %v; want %s", c.before, c.limit, topupIDs(us), err, c.want)
			}
		}
		return nil
	})
	snap, err := credit.ReadSnapshot(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if got := topupIDs(snap.Topups); got != "top_1 top_2 top_3 top_4 top_5" {
		t.Errorf("Snapshot().Topups = %s; want top_1 top_2 top_3 top_4 top_5", got)
	}
	var acme credit.Account
	for _, a := range snap.Accounts {
		if a.ID == "acme" {
			acme = a
		}
	}
	if acme.LowBalance != credit.Whole(5) || acme.AutoTopup.MonthlyCap != credit.Whole(50) {
		t.Errorf("Snapshot's acme = %+v; want its alert and auto top-up", acme)
	}
}

// TestWarnings: Grant.WarnedAt and MemberPeriod.Reached are written by a
// Change and loaded, a member's period with its member and with a hold
// that counts in it.
func TestWarnings(t *testing.T) {
	db := pgtest.Open(t)
	newAccount(t, db, "acme", 0, 0)
	g := credit.Grant{ID: "grt_w", Account: "acme", Source: credit.SourcePromo, Granted: credit.Whole(3), Remaining: credit.Whole(3),
		ExpiresAt: t0.Add(day), CreatedAt: t0}
	start := t0.Add(-day)
	period := credit.MemberPeriod{Account: "acme", Member: "m1", Start: start, End: start.Add(30 * day), Used: credit.Whole(1), Reached: t0}
	apply(t, db, "acme", &credit.Change{
		NewGrants:     []credit.Grant{g},
		Members:       []credit.Member{{Account: "acme", ID: "m1", CreatedAt: start, UpdatedAt: start}},
		MemberPeriods: []credit.MemberPeriod{period},
		NewHolds: []credit.Hold{{ID: "hld_m", Account: "acme", Amount: 0, Status: credit.HoldOpen, ExpiresAt: t0.Add(time.Hour), CreatedAt: t0,
			Member: "m1", MemberPeriod: start}},
	})
	warned := g
	warned.WarnedAt = t0.Add(time.Minute)
	apply(t, db, "acme", &credit.Change{Grants: []credit.Grant{warned}})
	s := load(t, db, "acme", credit.Refs{Now: t0, Members: []string{"m1"}})
	for _, x := range s.Grants {
		if x.ID == g.ID && !x.WarnedAt.Equal(warned.WarnedAt) {
			t.Errorf("loaded grant's WarnedAt = %v; want %v", x.WarnedAt, warned.WarnedAt)
		}
	}
	if len(s.MemberPeriods) != 1 || !s.MemberPeriods[0].Reached.Equal(t0) {
		t.Errorf("State.MemberPeriods with the member = %+v; want Reached %v", s.MemberPeriods, t0)
	}
	s = load(t, db, "acme", credit.Refs{Now: t0, Holds: []string{"hld_m"}})
	if len(s.MemberPeriods) != 1 || !s.MemberPeriods[0].Reached.Equal(t0) {
		t.Errorf("State.MemberPeriods with the hold = %+v; want Reached %v", s.MemberPeriods, t0)
	}
	// Written whole: a Reached that is zero is written zero.
	period.Reached = time.Time{}
	apply(t, db, "acme", &credit.Change{MemberPeriods: []credit.MemberPeriod{period}})
	mustView(t, db, func(tx credit.Tx) error {
		ps, err := tx.MemberPeriods("acme", t0)
		if err != nil || len(ps) != 1 || !ps[0].Reached.IsZero() {
			t.Errorf("MemberPeriods = %+v, %v; want one, Reached zero", ps, err)
		}
		if x, err := tx.Grant(g.ID); err != nil || !x.WarnedAt.Equal(warned.WarnedAt) {
			t.Errorf("Grant = %+v, %v; want WarnedAt %v", x, err, warned.WarnedAt)
		}
		return nil
	})
}

// TestWarnGrants: the grants grant.expiring has yet to tell of, expiring
// by `before`, with something left, not a day's free credits, earliest
// expiry first, by the grants_warn index.
func TestWarnGrants(t *testing.T) {
	db := pgtest.Open(t)
	newAccount(t, db, "acme", 0, 0)
	newAccount(t, db, "other", 0, 0)
	grant := func(id, account string, source credit.Source, remaining credit.Credits, expires time.Duration) credit.Grant {
		g := credit.Grant{ID: id, Account: account, Source: source, Granted: credit.Whole(5), Remaining: remaining, CreatedAt: t0}
		if expires != 0 {
			g.ExpiresAt = t0.Add(expires)
		}
		return g
	}
	warned := grant("grt_warned", "acme", credit.SourcePromo, credit.Whole(5), time.Hour)
	warned.WarnedAt = t0
	expired := grant("grt_expired", "acme", credit.SourcePromo, 0, -time.Hour)
	expired.ExpiredAt = t0
	apply(t, db, "acme", &credit.Change{NewGrants: []credit.Grant{
		grant("grt_2h", "acme", credit.SourcePromo, credit.Whole(5), 2*time.Hour), // yes
		grant("grt_free", "acme", credit.SourceFree, credit.Whole(5), time.Hour),  // a day's free credits
		warned,
		grant("grt_spent", "acme", credit.SourcePromo, 0, time.Hour),                  // nothing left
		grant("grt_later", "acme", credit.SourcePromo, credit.Whole(5), 73*time.Hour), // after before
		grant("grt_never", "acme", credit.SourceTopup, credit.Whole(5), 0),            // never expires
		expired,
	}})
	apply(t, db, "other", &credit.Change{NewGrants: []credit.Grant{
		grant("grt_1h", "other", credit.SourceSubscription, credit.Whole(1), time.Hour), // yes
		grant("grt_72h", "other", credit.SourceTopup, credit.Whole(1), 72*time.Hour),    // yes: at before
	}})
	before := t0.Add(72 * time.Hour)
	mustView(t, db, func(tx credit.Tx) error {
		for _, c := range []struct {
			limit int
			want  string
		}{{10, "[grt_1h grt_2h grt_72h]"}, {2, "[grt_1h grt_2h]"}, {0, "[grt_1h grt_2h grt_72h]"}} {
			gs, err := tx.WarnGrants(before, c.limit)
			var ids []string
			for _, g := range gs {
				ids = append(ids, g.ID)
			}
			if err != nil || fmt.Sprint(ids) != c.want {
				t.Errorf("WarnGrants(t0+72h, %d) = %v, %v; want %s", c.limit, ids, err, c.want)
			}
		}
		return nil
	})
	// The index holds the sweeper's work ahead, no more: of 3000 grants
	// due, 1000 warned, 1000 a day's free credits, it holds 1000.
	if _, err := db.Pool().Exec(context.Background(), `INSERT INTO grants (id, account, source, granted, remaining, held, priority,
			expires_at, expired_at, created_at, memo, paid_back, warned_at)
		SELECT 'bulk' || i, 'other', CASE WHEN i % 3 = 0 THEN 'free' ELSE 'promo' END, 1, 1, 0, 0,
			now() + make_interval(secs => i), NULL, now(), '', 0, CASE WHEN i % 3 = 1 THEN now() END
		FROM generate_series(1, 3000) AS i;
		ANALYZE grants`); err != nil {
		t.Fatal(err)
	}
	if plan := explain(t, db, postgres.WarnGrantsQuery); !strings.Contains(plan, "grants_warn") {
		t.Errorf("WarnGrants does not read grants_warn:\n%s", plan)
	}
}
