package storetest

import (
	"fmt"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// The simulation's requests: each is made on the store, then on a copy of the
// model (sim.apply); keyed ones are kept for retries.

func grantText(g credit.Grant) string {
	return fmt.Sprintf("grant %s %s %s", g.ID, g.Granted, g.Remaining)
}

func genText(g credit.Generation) string {
	return fmt.Sprintf("generation %s %s hold %s %s charged %s refunded %s", g.ID, g.Status, g.Hold, g.HoldCredits, g.Charged, g.Refunded)
}

func holdText(h credit.Hold) string {
	return fmt.Sprintf("hold %s %s %s captured %s released %s", h.ID, h.Status, h.Amount, h.Captured, h.Released)
}

func (s *sim) grant() {
	acct := s.account()
	spec := credit.GrantSpec{Credits: s.amount(80), Source: credit.Sources[s.rng.IntN(len(credit.Sources))], Priority: s.rng.IntN(4)}
	switch s.rng.IntN(4) {
	case 0: // soon: within the TTL of holds made on it
		spec.ExpiresAt = s.now().Add(time.Duration(60+s.rng.IntN(3*3600)) * time.Second)
	case 1:
		spec.ExpiresAt = s.now().Add(time.Duration(60+s.rng.IntN(48*3600)) * time.Second)
	}
	s.note("grant %s %s (%s, priority %d, expires %v)", acct, spec.Credits, spec.Source, spec.Priority, spec.ExpiresAt)
	key := s.key()
	call := func(k *credit.Idempotency) (string, error) {
		g, err := s.e.ledger.AddGrant(s.e.ctx, k, acct, spec)
		return grantText(g), err
	}
	g, err := s.e.ledger.AddGrant(s.e.ctx, key, acct, spec)
	now := s.now()
	if s.apply(err, func(m *model) error {
		m.grant(g.ID, acct, spec.Credits, spec.ExpiresAt, spec.Priority, now)
		return nil
	}) {
		s.remember(key, call, grantText(g))
	}
}

func (s *sim) createGeneration() {
	acct := s.account()
	pr := prices[s.rng.IntN(len(prices))]
	p := price{req: credit.QuoteRequest{Model: pr.model, Resolution: pr.resolution, Images: 1 + s.rng.IntN(4)}, unit: pr.unit}
	p.images = p.req.Images
	if s.rng.IntN(3) == 0 {
		p.req.PromptEnhancer = true
		p.surcharge = credit.Whole(2) // the enhancer catalog's prompt enhancer
	}
	ttl := s.ttl()
	spec := credit.GenerationSpec{Account: acct, Request: p.req, TTL: ttl}
	s.note("generation %s %s %s ×%d enhancer=%v = %s (ttl %v)", acct, pr.model, pr.resolution, p.images, p.req.PromptEnhancer, p.total(), ttl)
	key := s.key()
	call := func(k *credit.Idempotency) (string, error) {
		g, err := s.e.ledger.CreateGeneration(s.e.ctx, k, spec)
		return genText(g), err
	}
	g, err := s.e.ledger.CreateGeneration(s.e.ctx, key, spec)
	if err == nil && (g.HoldCredits != p.total() || g.UnitCredits != p.unit || g.Surcharge != p.surcharge) {
		s.fail("generation priced %s (unit %s, surcharge %s); the page says %s (unit %s, surcharge %s)", g.HoldCredits, g.UnitCredits, g.Surcharge, p.total(), p.unit, p.surcharge)
	}
	now := s.now()
	if s.apply(err, func(m *model) error {
		return m.createGeneration(g.ID, g.Hold, acct, p, ttlOrDefault(ttl), now)
	}) {
		s.gens = append(s.gens, g.ID)
		s.remember(key, call, genText(g))
	}
}

// pickGeneration picks a generation, mostly one still held.
func (s *sim) pickGeneration(want func(*mGen) bool) string {
	if len(s.gens) == 0 {
		return ""
	}
	if s.rng.IntN(5) > 0 {
		var ok []string
		for _, id := range s.gens {
			if want(s.m.gens[id]) {
				ok = append(ok, id)
			}
		}
		if len(ok) > 0 {
			return ok[s.rng.IntN(len(ok))]
		}
	}
	return s.gens[s.rng.IntN(len(s.gens))]
}

func isHeld(g *mGen) bool { return g.status == credit.GenerationHeld }

func (s *sim) completeGeneration() {
	id := s.pickGeneration(isHeld)
	if id == "" {
		s.createGeneration()
		return
	}
	g := s.m.gens[id]
	n := s.rng.IntN(g.images + 1)
	if s.rng.IntN(20) == 0 {
		n = g.images + 1
	}
	s.note("complete %s (%s) %d of %d", id, g.status, n, g.images)
	key := s.key()
	call := func(k *credit.Idempotency) (string, error) {
		r, err := s.e.ledger.CompleteGeneration(s.e.ctx, k, id, n)
		return genText(r), err
	}
	r, err := s.e.ledger.CompleteGeneration(s.e.ctx, key, id, n)
	now := s.now()
	if s.apply(err, func(m *model) error { return m.finishGeneration(id, n, false, now) }) {
		s.remember(key, call, genText(r))
	}
}

func (s *sim) failGeneration() {
	id := s.pickGeneration(isHeld)
	if id == "" {
		s.createGeneration()
		return
	}
	s.note("fail %s (%s)", id, s.m.gens[id].status)
	key := s.key()
	call := func(k *credit.Idempotency) (string, error) {
		r, err := s.e.ledger.FailGeneration(s.e.ctx, k, id)
		return genText(r), err
	}
	r, err := s.e.ledger.FailGeneration(s.e.ctx, key, id)
	now := s.now()
	if s.apply(err, func(m *model) error { return m.finishGeneration(id, 0, true, now) }) {
		s.remember(key, call, genText(r))
	}
}

func (s *sim) createHold() {
	acct := s.account()
	amount := s.amount(90)
	ttl := s.ttl()
	s.note("hold %s %s (ttl %v)", acct, amount, ttl)
	key := s.key()
	spec := credit.HoldSpec{Credits: amount, TTL: ttl}
	call := func(k *credit.Idempotency) (string, error) {
		h, err := s.e.ledger.CreateHold(s.e.ctx, k, acct, spec)
		return holdText(h), err
	}
	h, err := s.e.ledger.CreateHold(s.e.ctx, key, acct, spec)
	now := s.now()
	if s.apply(err, func(m *model) error { return m.createHold(h.ID, acct, amount, ttlOrDefault(ttl), now) }) {
		s.holds = append(s.holds, h.ID)
		s.remember(key, call, holdText(h))
	}
}

// pickHold picks a generic hold, mostly an open one; now and then a
// generation's hold, which must be refused.
func (s *sim) pickHold() string {
	if len(s.gens) > 0 && s.rng.IntN(25) == 0 {
		return s.m.gens[s.gens[s.rng.IntN(len(s.gens))]].hold
	}
	if len(s.holds) == 0 {
		return ""
	}
	if s.rng.IntN(5) > 0 {
		var open []string
		for _, id := range s.holds {
			if s.m.holds[id].status == credit.HoldOpen {
				open = append(open, id)
			}
		}
		if len(open) > 0 {
			return open[s.rng.IntN(len(open))]
		}
	}
	return s.holds[s.rng.IntN(len(s.holds))]
}

func (s *sim) captureHold() {
	id := s.pickHold()
	if id == "" {
		s.createHold()
		return
	}
	h := s.m.holds[id]
	var amount *credit.Credits
	switch r := s.rng.IntN(10); {
	case r < 4: // all
	case r == 4: // more than held
		a := h.amount + credit.Credits(1+s.rng.IntN(2000))
		amount = &a
	default:
		a := credit.Credits(s.rng.Int64N(int64(h.amount) + 1))
		amount = &a
	}
	what := "all"
	if amount != nil {
		what = amount.String()
	}
	s.note("capture %s (%s %s) %s", id, h.status, h.amount, what)
	key := s.key()
	call := func(k *credit.Idempotency) (string, error) {
		r, err := s.e.ledger.CaptureHold(s.e.ctx, k, id, amount)
		return holdText(r), err
	}
	r, err := s.e.ledger.CaptureHold(s.e.ctx, key, id, amount)
	now := s.now()
	if s.apply(err, func(m *model) error {
		if amount == nil {
			return m.finishHold(id, 0, true, now)
		}
		return m.finishHold(id, *amount, false, now)
	}) {
		s.remember(key, call, holdText(r))
	}
}

func (s *sim) releaseHold() {
	id := s.pickHold()
	if id == "" {
		s.createHold()
		return
	}
	s.note("release %s (%s)", id, s.m.holds[id].status)
	key := s.key()
	call := func(k *credit.Idempotency) (string, error) {
		r, err := s.e.ledger.ReleaseHold(s.e.ctx, k, id)
		return holdText(r), err
	}
	r, err := s.e.ledger.ReleaseHold(s.e.ctx, key, id)
	now := s.now()
	if s.apply(err, func(m *model) error { return m.finishHold(id, 0, false, now) }) {
		s.remember(key, call, holdText(r))
	}
}

func (s *sim) refund() {
	id := s.pickGeneration(func(g *mGen) bool { return g.status == credit.GenerationCompleted && g.charged > g.refunded })
	if id == "" {
		s.createGeneration()
		return
	}
	g := s.m.gens[id]
	left := g.charged - g.refunded
	var amount *credit.Credits
	switch r := s.rng.IntN(10); {
	case r < 4:
		// All that is left (refused when nothing is).
	case r == 4:
		a := left + credit.Credits(1+s.rng.IntN(1000))
		amount = &a
	default:
		a := credit.Credits(1 + s.rng.Int64N(max(1, int64(left))))
		amount = &a
	}
	what := "all"
	if amount != nil {
		what = amount.String()
	}
	s.note("refund %s (%s, %s of %s left) %s", id, g.status, left, g.charged, what)
	key := s.key()
	call := func(k *credit.Idempotency) (string, error) {
		r, err := s.e.ledger.RefundGeneration(s.e.ctx, k, id, amount)
		return genText(r), err
	}
	before := map[string]bool{}
	for gid := range s.m.grants {
		before[gid] = true
	}
	r, err := s.e.ledger.RefundGeneration(s.e.ctx, key, id, amount)
	now := s.now()
	var toNew credit.Credits
	ok := s.apply(err, func(m *model) error {
		var err error
		if amount == nil {
			toNew, err = m.refund(id, 0, true, now)
		} else {
			toNew, err = m.refund(id, *amount, false, now)
		}
		return err
	})
	if !ok {
		return
	}
	if toNew > 0 {
		// The refund went partly to a new grant: learn its id from the store.
		var fresh []credit.Grant
		for _, gr := range s.e.snapshot().Grants {
			if !before[gr.ID] {
				fresh = append(fresh, gr)
			}
		}
		if len(fresh) != 1 || fresh[0].Source != credit.SourceRefund || fresh[0].Granted != toNew || !fresh[0].ExpiresAt.IsZero() || fresh[0].Account != g.account {
			s.fail("refund of %s: new grants %+v; the model wants one never-expiring refund grant of %s on %s", id, fresh, toNew, g.account)
		}
		s.m.addRefundGrant(fresh[0].ID, g.account, toNew, now)
	}
	s.remember(key, call, genText(r))
}

// retry repeats a keyed call: the first answer again, and nothing changes.
func (s *sim) retry() {
	if len(s.keyed) == 0 {
		s.grant()
		return
	}
	k := s.keyed[s.rng.IntN(len(s.keyed))]
	s.note("retry %s (%s)", k.key.Key, k.desc)
	got, err := k.call(&k.key)
	if err != nil || got != k.answer {
		s.fail("retry of %q = %q, %v; want the first answer %q", k.desc, got, err, k.answer)
	}
}

// conflict reuses a key for another request: refused, nothing changes.
func (s *sim) conflict() {
	if len(s.keyed) == 0 {
		s.grant()
		return
	}
	k := s.keyed[s.rng.IntN(len(s.keyed))]
	s.note("reuse key %s with another request (%s)", k.key.Key, k.desc)
	other := k.key
	other.Hash += "-other"
	_, err := k.call(&other)
	if credit.ErrorReason(err) != "idempotency_conflict" {
		s.fail("key %s reused with another hash = %v; want idempotency_conflict", k.key.Key, err)
	}
}
