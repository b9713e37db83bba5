package storetest

import (
	"runtime"

	"github.com/tally-credits/tally/internal/credit"
)

// burst is a step of several writes on one account that land in one batch:
// one lock, one load, each write decided on what the previous ones left,
// one apply. A write of the account is held at the store (gatedStore) while
// the burst's writes queue behind it, in an order the step chooses, then all
// run; the model takes them in that order. They mix writes that succeed and
// writes that fail (a hold the balance no longer covers, a hold released
// twice, a generation completed after it failed). Before the batch, a second
// ledger on the same store — another node — writes to the account, and its
// writes commit first.
func (s *sim) burst() {
	acct := s.account()
	now := s.now()
	s.note("burst on %s", acct)

	// The other node's writes, one transaction each, before the batch.
	for i := s.rng.IntN(3); i > 0 && acct != overdrawn; i-- {
		amount := s.amount(20)
		s.note("node B: grant %s %s", acct, amount)
		spec := credit.GrantSpec{Credits: amount, Source: credit.SourceTopup}
		g, err := s.node2.AddGrant(s.e.ctx, nil, acct, spec)
		s.apply(err, func(m *model) error { return m.grant(g.ID, acct, spec, now) })
	}

	type item struct {
		note  string
		call  func() (any, error)
		model func(res any, m *model) error
		after func(res any)
		res   any
		err   error
		done  chan struct{}
	}
	var items []*item
	add := func(note string, call func() (any, error), model func(any, *model) error, after func(any)) {
		items = append(items, &item{note: note, call: call, model: model, after: after, done: make(chan struct{})})
	}
	openHolds := func() []string {
		var out []string
		for _, id := range s.holds {
			if h := s.m.holds[id]; h.account == acct && h.status == credit.HoldOpen {
				out = append(out, id)
			}
		}
		return out
	}
	heldGens := func() []string {
		var out []string
		for _, id := range s.gens {
			if g := s.m.gens[id]; g.account == acct && g.status == credit.GenerationHeld {
				out = append(out, id)
			}
		}
		return out
	}
	for range 2 + s.rng.IntN(5) {
		switch r := s.rng.IntN(10); {
		case r < 3:
			amount, ttl, member := s.amount(60), s.ttl(), s.memberFor(acct)
			add("hold "+acct+memberNote(member)+" "+amount.String(), func() (any, error) {
				return s.e.ledger.CreateHold(s.e.ctx, nil, acct, credit.HoldSpec{Credits: amount, TTL: ttl, Member: member})
			}, func(res any, m *model) error {
				return m.createHold(res.(credit.Hold).ID, acct, member, amount, ttlOrDefault(ttl), now)
			}, func(res any) { s.holds = append(s.holds, res.(credit.Hold).ID) })
		case r < 5:
			pr := prices[s.rng.IntN(len(prices))]
			p := price{req: credit.QuoteRequest{Model: pr.model, Resolution: pr.resolution, Images: 1 + s.rng.IntN(4)}, unit: pr.unit}
			p.images = p.req.Images
			member := s.memberFor(acct)
			add("generation "+acct+memberNote(member)+" "+pr.model+" = "+p.total().String(), func() (any, error) {
				return s.e.ledger.CreateGeneration(s.e.ctx, nil, credit.GenerationSpec{Account: acct, Request: p.req, Member: member})
			}, func(res any, m *model) error {
				g := res.(credit.Generation)
				return m.createGeneration(g.ID, g.Hold, acct, member, p, credit.DefaultHoldTTL, now)
			}, func(res any) { s.gens = append(s.gens, res.(credit.Generation).ID) })
		case r < 6 && acct != overdrawn:
			spec := credit.GrantSpec{Credits: s.amount(30), Source: credit.SourcePromo}
			add("grant "+acct+" "+spec.Credits.String(), func() (any, error) {
				return s.e.ledger.AddGrant(s.e.ctx, nil, acct, spec)
			}, func(res any, m *model) error {
				return m.grant(res.(credit.Grant).ID, acct, spec, now)
			}, nil)
		case r < 8:
			if hs := openHolds(); len(hs) > 0 {
				id := hs[s.rng.IntN(len(hs))]
				add("release "+id, func() (any, error) { return s.e.ledger.ReleaseHold(s.e.ctx, nil, id) },
					func(_ any, m *model) error { return m.finishHold(id, 0, false, now) }, nil)
			}
		default:
			if gs := heldGens(); len(gs) > 0 {
				id := gs[s.rng.IntN(len(gs))]
				if s.rng.IntN(2) == 0 {
					add("fail "+id, func() (any, error) { return s.e.ledger.FailGeneration(s.e.ctx, nil, id) },
						func(_ any, m *model) error { return m.finishGeneration(id, 0, true, now) }, nil)
				} else {
					n := s.m.gens[id].images
					add("complete "+id, func() (any, error) { return s.e.ledger.CompleteGeneration(s.e.ctx, nil, id, n) },
						func(_ any, m *model) error { return m.finishGeneration(id, n, false, now) }, nil)
				}
			}
		}
	}

	// Hold the account at the store with a write the model ignores (a hold
	// no balance covers, refused; on a team, a hold of no member), and
	// queue the items behind it in order.
	entered, release := s.gate.arm()
	blocked := make(chan error, 1)
	go func() {
		_, err := s.e.ledger.CreateHold(s.e.ctx, nil, acct, credit.HoldSpec{Credits: credit.MaxCredits})
		blocked <- err
	}()
	<-entered
	queued := s.e.ledger.QueuedWrites()
	for _, it := range items {
		go func() {
			it.res, it.err = it.call()
			close(it.done)
		}()
		queued++
	wait:
		for s.e.ledger.QueuedWrites() < queued {
			select {
			case <-it.done: // refused before it was queued
				queued--
				break wait
			default:
				runtime.Gosched()
			}
		}
	}
	close(release)
	if err := <-blocked; credit.ErrorCode(err) != credit.InsufficientCredits && credit.ErrorReason(err) != "member_required" {
		s.fail("the burst's blocking hold of %s: %v; want insufficient_credits (member_required on a team)", credit.MaxCredits, err)
	}
	for _, it := range items {
		<-it.done
		s.note("burst: %s", it.note)
		if s.apply(it.err, func(m *model) error { return it.model(it.res, m) }) && it.after != nil {
			it.after(it.res)
		}
	}
}
