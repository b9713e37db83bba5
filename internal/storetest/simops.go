package storetest

import (
	"fmt"
	"slices"
	"strings"
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

// overdrawn is the simulation's account that lives on its overdraft: it is
// given credits only by paybacks (and refunds), never by the grant step.
const overdrawn = "u3"

func (s *sim) grant() {
	acct := s.account()
	for acct == overdrawn {
		acct = s.account()
	}
	spec := credit.GrantSpec{Credits: s.amount(80), Source: credit.Sources[s.rng.IntN(len(credit.Sources))], Priority: s.rng.IntN(4)}
	switch s.rng.IntN(4) {
	case 0: // soon: within the TTL of holds made on it
		spec.ExpiresAt = s.now().Add(time.Duration(60+s.rng.IntN(3*3600)) * time.Second)
	case 1:
		spec.ExpiresAt = s.now().Add(time.Duration(60+s.rng.IntN(48*3600)) * time.Second)
	}
	if s.rng.IntN(4) == 0 {
		spec.AppliesTo = eligibilities[s.rng.IntN(len(eligibilities))]
	}
	s.note("grant %s %s (%s, priority %d, expires %v, applies to %s)", acct, spec.Credits, spec.Source, spec.Priority, spec.ExpiresAt, eligibilityText(spec.AppliesTo))
	key := s.key()
	call := func(k *credit.Idempotency) (string, error) {
		g, err := s.e.ledger.AddGrant(s.e.ctx, k, acct, spec)
		return grantText(g), err
	}
	g, err := s.e.ledger.AddGrant(s.e.ctx, key, acct, spec)
	now := s.now()
	if s.apply(err, func(m *model) error { return m.grant(g.ID, acct, spec, now) }) {
		s.remember(key, call, grantText(g))
	}
}

// payback pays back an account's overdraft with a grant that expires within
// ten minutes, so that the clock soon passes its expiry, with credits or
// holds on the overdraft still to come back: the orders of overdraft,
// payback, expiry and refund the simulation must reach.
func (s *sim) payback() {
	var owing []string
	for _, a := range s.accounts {
		ovd := s.m.grants[s.m.accounts[a].ovd]
		if ovd.remaining < 0 {
			owing = append(owing, a)
		}
	}
	if len(owing) == 0 {
		s.grant()
		return
	}
	s.paybackOn(owing[s.rng.IntN(len(owing))])
}

// paybackOn grants acct less than, all of, or more than what its overdraft
// owes, expiring within ten minutes, and returns that expiry.
func (s *sim) paybackOn(acct string) time.Time {
	owed := max(0, -s.m.grants[s.m.accounts[acct].ovd].remaining)
	var amount credit.Credits
	switch s.rng.IntN(3) {
	case 0:
		amount = max(1, credit.Credits(s.rng.Int64N(int64(owed)+1)))
	case 1:
		amount = max(1, owed)
	default:
		amount = owed + s.amount(60)
	}
	spec := credit.GrantSpec{Credits: amount, Source: credit.SourcePromo, ExpiresAt: s.now().Add(time.Duration(1+s.rng.IntN(600)) * time.Second)}
	s.note("payback %s %s of %s owed (expires %v)", acct, amount, owed, spec.ExpiresAt)
	key := s.key()
	call := func(k *credit.Idempotency) (string, error) {
		g, err := s.e.ledger.AddGrant(s.e.ctx, k, acct, spec)
		return grantText(g), err
	}
	g, err := s.e.ledger.AddGrant(s.e.ctx, key, acct, spec)
	now := s.now()
	if s.apply(err, func(m *model) error { return m.grant(g.ID, acct, spec, now) }) {
		s.remember(key, call, grantText(g))
	}
	return spec.ExpiresAt
}

// overdraftStory plans the life of one generation charged to the overdraft:
// its completion, a payback by a grant that expires within ten minutes, the
// clock past that expiry, and a refund, in one of the six orders where the
// expiry follows the payback and the refund the completion. The run takes
// the planned steps one by one, with random steps between them (sim.run).
// These orders are where a refund was once lost to expiry.
func (s *sim) overdraftStory() {
	if len(s.plan) > 0 { // one story at a time, so that each runs in its order
		s.payback()
		return
	}
	acct := overdrawn
	if s.rng.IntN(4) == 0 {
		acct = s.accounts[1+s.rng.IntN(len(s.accounts)-1)] // any with an overdraft
	}
	events := []string{"complete", "payback", "expire", "refund"}
	for {
		s.rng.Shuffle(len(events), func(i, j int) { events[i], events[j] = events[j], events[i] })
		if slices.Index(events, "expire") > slices.Index(events, "payback") && slices.Index(events, "refund") > slices.Index(events, "complete") &&
			// Mostly a charge, not a hold, is what the payback pays.
			(events[0] == "complete" || s.rng.IntN(4) == 0) {
			break
		}
	}
	if s.rng.IntN(2) == 0 {
		events = append(events, "refund") // the rest of a partial one, or refused
	}
	s.note("plan on %s: generation, %s", acct, strings.Join(events, ", "))
	var gen string
	var expires time.Time
	s.plan = append(s.plan, func() {
		// What fits in what is left of the overdraft, one or two images.
		room := s.m.available(acct) + s.m.accounts[acct].overdraft
		var fit []price
		for _, pr := range prices {
			for n := 1; n <= 2; n++ {
				if p := (price{req: credit.QuoteRequest{Model: pr.model, Resolution: pr.resolution, Images: n}, images: n, unit: pr.unit}); p.total() <= room {
					fit = append(fit, p)
				}
			}
		}
		p := price{req: credit.QuoteRequest{Model: "flux-dev"}, images: 1, unit: credit.Whole(5)} // Flux Dev: 5
		if len(fit) > 0 {
			p = fit[s.rng.IntN(len(fit))]
		}
		gen = s.createGenerationOn(acct, p, time.Hour)
	})
	for _, ev := range events {
		s.plan = append(s.plan, func() {
			switch {
			case ev == "payback":
				expires = s.paybackOn(acct)
			case ev == "expire":
				d := 2 * time.Minute
				if expires.After(s.now()) {
					d = expires.Sub(s.now()) + time.Duration(s.rng.IntN(1000))*time.Millisecond
				}
				s.note("clock +%v (past the payback's expiry)", d)
				s.advance(d)
			case gen == "":
				s.createGeneration() // the story's generation was refused
			case ev == "complete":
				n := s.m.gens[gen].images
				if s.rng.IntN(4) == 0 {
					n = s.rng.IntN(n + 1)
				}
				s.completeWith(gen, n)
			default:
				s.refundOf(gen)
			}
		})
	}
}

func (s *sim) createGeneration() {
	pr := prices[s.rng.IntN(len(prices))]
	p := price{req: credit.QuoteRequest{Model: pr.model, Resolution: pr.resolution, Images: 1 + s.rng.IntN(4)}, unit: pr.unit}
	p.images = p.req.Images
	if s.rng.IntN(3) == 0 {
		p.req.PromptEnhancer = true
		p.surcharge = credit.Whole(2) // the enhancer catalog's prompt enhancer
	}
	s.createGenerationOn(s.account(), p, s.ttl())
}

// createGenerationOn creates a generation of price p on acct (by one of its
// members, on a team) and returns its id ("" when it was refused).
func (s *sim) createGenerationOn(acct string, p price, ttl time.Duration) string {
	return s.createGenerationBy(acct, s.memberFor(acct), p, ttl)
}

// createGenerationBy creates a generation of price p on acct by member.
func (s *sim) createGenerationBy(acct, member string, p price, ttl time.Duration) string {
	pr := p.req
	spec := credit.GenerationSpec{Account: acct, Request: p.req, TTL: ttl, Member: member}
	s.note("generation %s%s %s %s ×%d enhancer=%v = %s (ttl %v)", acct, memberNote(member), pr.Model, pr.Resolution, p.images, p.req.PromptEnhancer, p.total(), ttl)
	key := s.key()
	call := func(k *credit.Idempotency) (string, error) {
		g, err := s.e.ledger.CreateGeneration(s.e.ctx, k, spec)
		return genText(g), err
	}
	g, err := s.e.ledger.CreateGeneration(s.e.ctx, key, spec)
	hold := p.total()
	if g.Window != "" {
		hold = 0 // an unlimited window's: compare checks it is the model's
	}
	if err == nil && (g.HoldCredits != hold || g.UnitCredits != p.unit || g.Surcharge != p.surcharge) {
		s.fail("generation priced %s (unit %s, surcharge %s); the page says %s (unit %s, surcharge %s)", g.HoldCredits, g.UnitCredits, g.Surcharge, hold, p.unit, p.surcharge)
	}
	now := s.now()
	if s.apply(err, func(m *model) error {
		return m.createGeneration(g.ID, g.Hold, acct, member, p, ttlOrDefault(ttl), now)
	}) {
		s.gens = append(s.gens, g.ID)
		s.remember(key, call, genText(g))
		return g.ID
	}
	return ""
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
	s.completeWith(id, n)
}

// completeWith completes generation id with n images delivered.
func (s *sim) completeWith(id string, n int) {
	g := s.m.gens[id]
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
	s.failOf(id)
}

// failOf fails generation id.
func (s *sim) failOf(id string) {
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
	s.createHoldBy(acct, s.memberFor(acct), s.amount(90), s.ttl())
}

// createHoldBy creates a generic hold of amount on acct by member and
// returns its id ("" when it was refused).
func (s *sim) createHoldBy(acct, member string, amount credit.Credits, ttl time.Duration) string {
	s.note("hold %s%s %s (ttl %v)", acct, memberNote(member), amount, ttl)
	key := s.key()
	spec := credit.HoldSpec{Credits: amount, TTL: ttl, Member: member}
	call := func(k *credit.Idempotency) (string, error) {
		h, err := s.e.ledger.CreateHold(s.e.ctx, k, acct, spec)
		return holdText(h), err
	}
	h, err := s.e.ledger.CreateHold(s.e.ctx, key, acct, spec)
	now := s.now()
	if s.apply(err, func(m *model) error { return m.createHold(h.ID, acct, member, amount, ttlOrDefault(ttl), now) }) {
		s.holds = append(s.holds, h.ID)
		s.remember(key, call, holdText(h))
		return h.ID
	}
	return ""
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
		switch {
		case amount == nil:
			return m.finishHold(id, 0, true, now)
		case *amount <= 0: // capturing nothing is a release, not a capture of 0
			return refuse(credit.Invalid, "invalid_amount")
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
	s.refundOf(id)
}

// refundOf refunds all that is left, more than that, or a part of
// generation id's charge.
func (s *sim) refundOf(id string) {
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
	r, err := s.e.ledger.RefundGeneration(s.e.ctx, key, id, amount)
	now := s.now()
	var stored []credit.Grant
	if err == nil {
		stored = s.e.snapshot().Grants
	}
	ok := s.apply(err, func(m *model) error {
		var shares []refundShare
		var err error
		if amount == nil {
			shares, err = m.refund(id, 0, true, now)
		} else {
			shares, err = m.refund(id, *amount, false, now)
		}
		if err != nil || stored == nil {
			return err
		}
		// What went to new refund grants: learn their ids from the store,
		// one grant a share, matched by what it may pay for (before the
		// write is told of: their grant.created is its news).
		var fresh []credit.Grant
		for _, gr := range stored {
			if m.grants[gr.ID] == nil { // not a grant the model knows, nor one the refund's settling gave
				fresh = append(fresh, gr)
			}
		}
		if len(fresh) != len(shares) {
			s.fail("refund of %s: new grants %+v; the model wants %d never-expiring refund grants %+v", id, fresh, len(shares), shares)
		}
		for _, sh := range shares {
			i := slices.IndexFunc(fresh, func(gr credit.Grant) bool {
				return eligibilityText(gr.AppliesTo) == eligibilityText(sh.appliesTo)
			})
			if i < 0 || fresh[i].Source != credit.SourceRefund || fresh[i].Granted != sh.amount || !fresh[i].ExpiresAt.IsZero() || fresh[i].Account != g.account {
				s.fail("refund of %s: new grants %+v; the model wants a never-expiring refund grant of %s on %s that applies to %s", id, fresh, sh.amount, g.account, eligibilityText(sh.appliesTo))
			}
			m.addRefundGrant(fresh[i].ID, g.account, sh, now)
		}
		return nil
	})
	if !ok {
		return
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
	// Answered from its record: a write of its account that settles
	// nothing and changes nothing, but is told of (rule 3).
	before := s.m.clone()
	s.m.mark(k.account)
	warned := len(s.m.events)
	s.m.told(before, s.now())
	if len(s.m.events) > warned {
		s.m.reached[eventReplayWarning]++
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

// debit takes credits back from an account: mostly what it has, now and
// then more (refused), with a person's reason or without.
func (s *sim) debit() {
	acct := s.account()
	avail := s.m.available(acct)
	amount := s.amount(20)
	if avail > 0 && s.rng.IntN(4) > 0 {
		amount = credit.Credits(1 + s.rng.Int64N(int64(avail)))
	}
	ctx := s.e.ctx
	if s.rng.IntN(2) == 0 {
		ctx = credit.WithReason(ctx, "simulation")
	}
	s.note("debit %s %s (%s available)", acct, amount, avail)
	key := s.key()
	spec := credit.DebitSpec{Credits: amount}
	call := func(k *credit.Idempotency) (string, error) {
		t, err := s.e.ledger.Debit(ctx, k, acct, spec)
		return fmt.Sprintf("debit %d %s", t.ID, t.AvailableDelta), err
	}
	answer, err := call(key)
	now := s.now()
	if s.apply(err, func(m *model) error { return m.debit(acct, amount, now) }) {
		s.remember(key, call, answer)
	}
}
