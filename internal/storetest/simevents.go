package storetest

import (
	"fmt"
	"strings"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// The simulation's alerts, auto top-ups and feed: accounts with a
// balance.low threshold and an auto top-up (set at the start and changed
// by steps), top-ups confirmed and canceled, and after every step the
// feed, read from where the run left it, told exactly the events the model
// expects (compareEvents).

// setupAlerts gives some accounts a low-balance threshold and others an
// auto top-up, so that a run crosses them often.
func (s *sim) setupAlerts() {
	s.setAlertsTo("u0", credit.Whole(30))
	s.setAlertsTo("u2", credit.Whole(100))
	// Caps of two requests and of one a month: the runs reach them.
	s.setAutoTopupTo("u1", credit.AutoTopup{Threshold: credit.Whole(60), Amount: credit.Whole(25), MonthlyCap: credit.Whole(50)})
	s.setAutoTopupTo(s.teams[0], credit.AutoTopup{Threshold: credit.Whole(200), Amount: credit.Whole(40), MonthlyCap: credit.Whole(120)})
	s.setAutoTopupTo(s.planAccounts[s.rng.IntN(4)], credit.AutoTopup{Threshold: credit.Whole(20), Amount: credit.Whole(30), MonthlyCap: credit.Whole(30)})
	s.setAutoTopupTo(s.teams[1], credit.AutoTopup{Threshold: credit.Whole(1_000_000), Amount: credit.Whole(10), MonthlyCap: credit.Whole(10)}) // always below: asked at once
	// Soon, the studio confirms that request and a member spends: the
	// month's cap holds the next request back.
	team := s.teams[1]
	s.plan = append(s.plan, func() {
		for _, t := range s.m.accountTopups(team) {
			if t.status == credit.TopupPending {
				s.answerTopup(t.id, credit.TopupConfirmed)
				return
			}
		}
		s.createHoldBy(team, s.memberFor(team), s.amount(5), 0)
	}, func() {
		s.createHoldBy(team, s.memberFor(team), s.amount(5), 0)
	})
}

// alertAccount picks an account for an alert or an auto top-up: not the
// one that lives on its overdraft (its credits are the overdraft story's).
func (s *sim) alertAccount() string {
	acct := s.account()
	for acct == overdrawn {
		acct = s.account()
	}
	return acct
}

// setAlerts sets an account's low-balance threshold: off, or up to 150
// credits; now and then a negative one (refused).
func (s *sim) setAlerts() {
	var low credit.Credits
	switch r := s.rng.IntN(10); {
	case r < 2: // off
	case r == 2:
		low = -credit.Whole(1)
	default:
		low = s.amount(150)
	}
	s.setAlertsTo(s.alertAccount(), low)
}

func (s *sim) setAlertsTo(acct string, low credit.Credits) {
	s.note("alerts %s low balance %s", acct, low)
	key := s.key()
	call := func(k *credit.Idempotency) (string, error) {
		v, err := s.e.ledger.SetAlerts(s.e.ctx, k, acct, low)
		return fmt.Sprintf("account %s low balance %s", v.ID, v.LowBalance), err
	}
	answer, err := call(key)
	now := s.now()
	if s.apply(err, func(m *model) error { return m.setAlerts(acct, low, now) }) {
		if want := fmt.Sprintf("account %s low balance %s", acct, low); answer != want {
			s.fail("SetAlerts = %s; want %s", answer, want)
		}
		s.remember(key, call, answer)
	}
}

// setAutoTopup sets an account's auto top-up: off, or a threshold, amount
// and a cap of one to four amounts; now and then a negative amount
// (refused).
func (s *sim) setAutoTopup() {
	var at credit.AutoTopup
	switch r := s.rng.IntN(10); {
	case r < 2: // off
	case r == 2:
		at = credit.AutoTopup{Threshold: credit.Whole(10), Amount: -credit.Whole(5), MonthlyCap: credit.Whole(10)}
	default:
		at.Threshold = credit.Whole(int64(1 + s.rng.IntN(150)))
		at.Amount = s.amount(60)
		at.MonthlyCap = at.Amount * credit.Credits(1+s.rng.IntN(4))
	}
	s.setAutoTopupTo(s.alertAccount(), at)
}

func (s *sim) setAutoTopupTo(acct string, at credit.AutoTopup) {
	s.note("auto top-up %s %+v", acct, at)
	key := s.key()
	call := func(k *credit.Idempotency) (string, error) {
		v, err := s.e.ledger.SetAutoTopup(s.e.ctx, k, acct, at)
		return fmt.Sprintf("account %s auto top-up %+v", v.ID, v.AutoTopup), err
	}
	answer, err := call(key)
	now := s.now()
	if s.apply(err, func(m *model) error { return m.setAutoTopup(acct, at, now) }) {
		if want := fmt.Sprintf("account %s auto top-up %+v", acct, at); answer != want {
			s.fail("SetAutoTopup = %s; want %s", answer, want)
		}
		s.remember(key, call, answer)
	}
}

// pickTopup picks a top-up the model knows: mostly a pending one.
func (s *sim) pickTopup() string {
	var pending, all []string
	for _, a := range s.accounts {
		for _, t := range s.m.accountTopups(a) {
			all = append(all, t.id)
			if t.status == credit.TopupPending {
				pending = append(pending, t.id)
			}
		}
	}
	if len(pending) > 0 && s.rng.IntN(6) > 0 {
		return pending[s.rng.IntN(len(pending))]
	}
	if len(all) == 0 {
		return ""
	}
	return all[s.rng.IntN(len(all))]
}

// confirmTopup confirms a top-up (the studio was paid): once granted, and
// answered as it is when confirmed again; a canceled one is refused.
func (s *sim) confirmTopup() {
	id := s.pickTopup()
	if id == "" {
		s.createHold()
		return
	}
	s.answerTopup(id, credit.TopupConfirmed)
}

// cancelTopup cancels a top-up.
func (s *sim) cancelTopup() {
	id := s.pickTopup()
	if id == "" {
		s.setAutoTopup()
		return
	}
	s.answerTopup(id, credit.TopupCanceled)
}

func (s *sim) answerTopup(id string, to credit.TopupStatus) {
	t := s.m.topups[id]
	verb := map[credit.TopupStatus]string{credit.TopupConfirmed: "confirm", credit.TopupCanceled: "cancel"}[to]
	s.note("%s top-up %s (%s)", verb, id, t.text())
	key := s.key()
	call := func(k *credit.Idempotency) (credit.Topup, error) {
		if to == credit.TopupConfirmed {
			return s.e.ledger.ConfirmTopup(s.e.ctx, k, id)
		}
		return s.e.ledger.CancelTopup(s.e.ctx, k, id)
	}
	got, err := call(key)
	now := s.now()
	if !s.apply(err, func(m *model) error { return m.answerTopup(id, to, got.Grant, now) }) {
		return
	}
	if want := s.m.topups[id].text(); topupText(got) != want {
		s.fail("%s top-up %s = %s; model %s", verb, id, topupText(got), want)
	}
	s.remember(key, func(k *credit.Idempotency) (string, error) { r, err := call(k); return topupText(r), err }, topupText(got))
	if read, err := s.e.ledger.Topup(s.e.ctx, id); err != nil || topupText(read) != topupText(got) {
		s.fail("Topup(%s) = %s, %v; want %s", id, topupText(read), err, topupText(got))
	}
}

// checkFeed reads the feed from where the run left it and compares it
// with the events the model told since: the feed's events are new (never
// told before, ids unique), and per account and subject the model's. A
// PostgreSQL feed answers a transaction's events once every older
// transaction has ended, so it reads again, a while, until it has as many
// as the model.
func (s *sim) checkFeed(what string) {
	s.t.Helper()
	want := s.m.events
	s.m.events = nil
	var got []credit.Event
	deadline := time.Now().Add(10 * time.Second)
	for {
		page := s.readFeed()
		got = append(got, page...)
		if len(got) >= len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.stats["events told"] += len(got)
	if d := compareEvents(got, want); len(d) > 0 {
		s.fail("after %s the feed differs from the model's events:\n  %s", what, strings.Join(d, "\n  "))
	}
}

// readFeed reads the feed after s.cursor to its end and moves the cursor.
func (s *sim) readFeed() []credit.Event {
	s.t.Helper()
	var out []credit.Event
	for {
		var page []credit.Event
		err := s.e.store.View(s.e.ctx, func(tx credit.Tx) error {
			r, err := credit.Events(tx)
			if err != nil {
				return err
			}
			page, err = r.Events(credit.EventQuery{After: s.cursor, Limit: credit.MaxEvents})
			return err
		})
		if err != nil {
			s.fail("Events(after %q) = %v", s.cursor, err)
		}
		for _, e := range page {
			if s.seen[e.ID] {
				s.fail("the feed told event %s (%s of %s) again, after cursor %q", e.ID, e.Type, e.Account, s.cursor)
			}
			if e.Cursor == "" || !strings.HasPrefix(e.ID, "evt_") {
				s.fail("the feed told event %q (%s) with cursor %q", e.ID, e.Type, e.Cursor)
			}
			s.seen[e.ID] = true
		}
		out = append(out, page...)
		if len(page) > 0 {
			s.cursor = page[len(page)-1].Cursor
		}
		if len(page) < credit.MaxEvents {
			return out
		}
	}
}
