package storetest

import (
	"fmt"
	"maps"
	"sync"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// The report rollups against the journal: what a store keeps, write by
// write, is what ComputeRollups makes of the ledger, whatever the writes
// and however they race.

// wantRollups checks the store's report rollups against ComputeRollups over
// the same store: the liability rollup summed by (day, source) and by
// (source, expiry bucket) — its rows themselves may differ, since a void
// or an amended expiry moves credits between buckets on its own day, which
// the journal does not record — and the consumption rollup row for row
// (rows that sum to nothing left out).
func (e *env) wantRollups() {
	e.t.Helper()
	snap := e.snapshot()
	var liab []credit.LiabilityRow
	var cons []credit.ConsumptionRow
	err := e.store.View(e.ctx, func(tx credit.Tx) error {
		sc, err := credit.Scan(tx)
		if err != nil {
			return err
		}
		liab, cons, err = credit.ComputeRollups(sc)
		return err
	})
	if err != nil {
		e.t.Errorf("ComputeRollups = %v", err)
		return
	}
	for _, by := range []struct {
		name string
		key  func(credit.LiabilityRow) string
	}{
		{"(day, source)", func(r credit.LiabilityRow) string { return r.Day + " " + string(r.Source) }},
		{"(source, expires)", func(r credit.LiabilityRow) string { return fmt.Sprintf("%s expires %q", r.Source, r.Expires) }},
	} {
		sum := func(rows []credit.LiabilityRow) map[string]credit.Credits {
			m := map[string]credit.Credits{}
			for _, r := range rows {
				m[by.key(r)] += r.Credits
			}
			maps.DeleteFunc(m, func(_ string, c credit.Credits) bool { return c == 0 })
			return m
		}
		if got, want := sum(snap.Liability), sum(liab); !maps.Equal(got, want) {
			e.t.Errorf("liability rollup by %s = %v; ComputeRollups %v", by.name, got, want)
		}
	}
	rows := func(rs []credit.ConsumptionRow) map[string]string {
		m := map[string]string{}
		for _, r := range rs {
			k := fmt.Sprintf("%s %q %s", r.Day, r.Model, r.Source)
			if _, dup := m[k]; dup {
				e.t.Errorf("consumption rollup has two rows %s", k)
			}
			if r.Charged != 0 || r.Charges != 0 {
				m[k] = fmt.Sprintf("%s in %d", r.Charged, r.Charges)
			}
		}
		return m
	}
	if got, want := rows(snap.Consumption), rows(cons); !maps.Equal(got, want) {
		e.t.Errorf("consumption rollup = %v; ComputeRollups %v", got, want)
	}
}

// flowRollups: after a varied flow — plans' daily credits, an overdraft
// paid back, expiries by the sweeper, a refund to an expired grant, voids,
// amended expiries, a debit, a team — the stored rollups are what
// ComputeRollups makes of the journal, and the overdraft grant is owed
// below zero.
func flowRollups(t *testing.T, e *env) {
	e.openAccount(credit.AccountSpec{ID: "free", Plan: "free", TimeZone: "America/New_York"})
	e.account("o", credit.Whole(20))
	e.team("crew", "Europe/Berlin")
	e.setMember("crew", "ann", limitOf(100))
	e.topup("crew", 200)

	// o has nothing: Flux Dev ×2 = 10 is charged to its overdraft.
	g := e.generation("o", images(fluxDev, 2))
	e.complete(g.ID, 2)
	// Owed −10 in the overdraft grant (never expiring).
	e.wantLiability("o overdrawn", time.Time{},
		owed("total", "190", "0", "0", "0", "190", "0"), // crew's 200 − 10
		owed(credit.SourceOverdraft, "-10", "0", "0", "0", "-10", "0"),
		owed(credit.SourceTopup, "200", "0", "0", "0", "200", "0"))
	// A promo of 4 expiring in an hour pays 4 back: the overdraft is at −6.
	e.grant("o", credit.GrantSpec{Credits: credit.Whole(4), Source: credit.SourcePromo, ExpiresAt: t0.Add(time.Hour)})
	e.wantLiability("o paid 4 back", time.Time{},
		owed("total", "194", "0", "0", "0", "194", "0"), // 200 − 6
		owed(credit.SourceOverdraft, "-6", "0", "0", "0", "-6", "0"),
		owed(credit.SourceTopup, "200", "0", "0", "0", "200", "0"))

	// free's day: a Flux Dev from its day's free credits (100 − 5).
	e.complete(e.generation("free", fluxDev).ID, 1)
	e.grant("free", credit.GrantSpec{Credits: credit.Whole(30), Source: credit.SourcePromo, ExpiresAt: t0.Add(48 * time.Hour)})
	e.memberGen("crew", "ann", banana2K)
	gen := e.memberGen("crew", "ann", images(fluxDev, 3))
	e.complete(gen.ID, 3)

	// Past the promo's expiry: the refund of o's generation goes to the
	// overdraft first (6 owed), then 4 to the expired payer: a refund grant.
	e.clock.Add(2 * time.Hour)
	if _, err := e.ledger.ExpireDue(e.ctx); err != nil {
		t.Fatalf("ExpireDue = %v", err)
	}
	if _, err := e.ledger.RefundGeneration(e.ctx, nil, g.ID, nil); err != nil {
		t.Fatalf("RefundGeneration(o) = %v", err)
	}
	promo := e.sourceGrants("free", credit.SourcePromo)[0]
	if _, err := e.ledger.AmendGrantExpiry(e.ctx, nil, promo.ID, time.Time{}, "keep them"); err != nil {
		t.Fatalf("AmendGrantExpiry(never) = %v", err)
	}
	e.clock.Add(26 * time.Hour) // past free's local midnight and the crew's hold's TTL
	if _, err := e.ledger.ExpireDue(e.ctx); err != nil {
		t.Fatalf("ExpireDue = %v", err)
	}
	if _, err := e.ledger.Debit(e.ctx, nil, "crew", credit.DebitSpec{Credits: credit.Whole(7)}); err != nil {
		t.Fatalf("Debit(crew, 7) = %v", err)
	}
	for _, gr := range e.sourceGrants("crew", credit.SourceTopup) {
		if _, err := e.ledger.VoidGrant(e.ctx, nil, gr.ID, "closing"); err != nil {
			t.Fatalf("VoidGrant(crew's top-up) = %v", err)
		}
	}
	e.complete(e.generation("free", fluxDev).ID, 1)
	e.wantRollups()
}

// flowRollupRace: writes of many accounts, and several of each account, at
// once, all adding to the same rollup rows (today's top-up credits that
// never expire, today's Flux Dev paid by top-ups): none is lost.
func flowRollupRace(t *testing.T, e *env) {
	const accounts, each = 6, 3
	for i := range accounts {
		e.account(fmt.Sprintf("r%d", i), 0)
		e.topup(fmt.Sprintf("r%d", i), 30)
	}
	var wg sync.WaitGroup
	errs := make(chan error, accounts*each)
	for i := range accounts * each {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("r%d", i%accounts)
			g, err := e.ledger.CreateGeneration(e.ctx, nil, credit.GenerationSpec{Account: id, Request: fluxDev})
			if err == nil {
				_, err = e.ledger.CompleteGeneration(e.ctx, nil, g.ID, 1)
			}
			if err == nil {
				one := credit.Whole(1)
				_, err = e.ledger.RefundGeneration(e.ctx, nil, g.ID, &one)
			}
			if err != nil {
				errs <- fmt.Errorf("%s: %w", id, err)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("a racing write = %v", err)
	}
	// Each account: 3 Flux Dev of 5, 1 of each refunded: 3 × 4 = 12
	// charged, 30 − 12 = 18 left. In all: 6 × 18 = 108 owed, 6 × 12 = 72
	// charged in 6 × 3 = 18 charges.
	e.wantLiability("after the race", time.Time{},
		owed("total", "108", "0", "0", "0", "108", "0"),
		owed(credit.SourceTopup, "108", "0", "0", "0", "108", "0"))
	e.wantConsumption("2026-11-24", "2026-11-25", credit.ReportByModel,
		charged("", "72", 18, "topup", "72"),
		charged("flux-dev", "72", 18, "topup", "72"))
	e.wantRollups()
}
