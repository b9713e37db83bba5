package credit

import (
	"context"
	"time"
)

// settle brings an account up to now before anything else touches it: open
// holds past their TTL are released, grants past their expiry lose their
// remainder to the platform's expired book (a month's allowance may roll
// over), and subscriptions whose next month has started are given its
// allowances — each at its own time, in time order, and at one instant a
// release before an expiry before a renewal: a renewal at the instant the
// last month's credits expire never counts both. Doing this first in every
// write on the account makes every answer exact, whenever the background
// sweeper last ran. The store loaded everything due (see State).
func settle(b *Book, now time.Time) error {
	for {
		var (
			at   time.Time
			kind int // 1 hold, 2 grant, 3 renewal
			id   string
		)
		consider := func(t time.Time, k int, x string) {
			if t.After(now) {
				return
			}
			if kind == 0 || t.Before(at) || (t.Equal(at) && k < kind) {
				at, kind, id = t, k, x
			}
		}
		for _, h := range b.dueHolds(now) {
			consider(h.ExpiresAt, 1, h.ID)
		}
		for _, g := range b.dueGrants(now) {
			consider(g.ExpiresAt, 2, g.ID)
		}
		if b.cat != nil {
			for _, s := range b.cur.Subscriptions {
				if !s.RenewsAt.IsZero() {
					consider(s.RenewsAt, 3, s.ID)
				}
			}
		}
		var err error
		switch kind {
		case 0:
			return nil
		case 1:
			var h Hold
			if h, err = b.Hold(id); err == nil { // as the earlier steps left it
				err = resolveHold(b, &h, 0, HoldExpired, at)
			}
		case 2:
			err = expireGrant(b, id, at)
		case 3:
			err = renew(b, id)
		}
		if err != nil {
			return err
		}
	}
}

// expireGrant moves a grant's remainder to the platform's expired book at its
// expiry time, but for the part a month's allowance rolls over into a new
// grant (see rollover). Its held part stays held; it follows its hold.
func expireGrant(b *Book, id string, at time.Time) error {
	g, err := b.Grant(id)
	if err != nil {
		return err
	}
	e := newDraft(EntryExpire, g.Account, g.ID, at)
	e.wallet(BookAvailable, g.ID, -g.Remaining)
	lost := g.Remaining
	if r := rollover(b, &g, at); r != nil {
		b.insertGrant(*r)
		e.wallet(BookAvailable, r.ID, r.Granted)
		lost -= r.Granted
	}
	e.platform(BookExpired, lost)
	b.noteLeft(g.ID, g.Remaining)
	if len(e.t.Postings) > 0 {
		if _, err := e.commit(b, nil); err != nil {
			return err
		}
	}
	return b.expireGrant(g.ID, at)
}

// ExpireDue settles every account with something past its time (a hold's
// TTL, a grant's expiry, a subscription's renewal, a grant.expiring to
// tell): the background sweeper calls it every second or so. It returns
// how many accounts it settled. Accounts are settled one transaction each,
// so a long backlog never holds the store for long.
func (l *Ledger) ExpireDue(ctx context.Context) (int, error) {
	n := 0
	// warned are the accounts written for a grant.expiring in this call:
	// the write tells of every such grant, so an account that still shows
	// one (a grant the store's WarnGrants finds and the ledger's rule does
	// not) is not written again and again.
	warned := map[string]bool{}
	for {
		accounts, err := view(ctx, l, func(tx Tx, now time.Time) ([]string, error) {
			seen := map[string]bool{}
			var out []string
			holds, err := tx.DueHolds("", now, 100)
			if err != nil {
				return nil, err
			}
			grants, err := tx.DueGrants("", now, 100)
			if err != nil {
				return nil, err
			}
			for _, h := range holds {
				if !seen[h.Account] {
					seen[h.Account] = true
					out = append(out, h.Account)
				}
			}
			for _, g := range grants {
				if !seen[g.Account] {
					seen[g.Account] = true
					out = append(out, g.Account)
				}
			}
			warn, err := tx.WarnGrants(now.Add(l.group.notice), 100)
			if err != nil {
				return nil, err
			}
			for _, g := range warn {
				if !seen[g.Account] && !warned[g.Account] {
					seen[g.Account] = true
					warned[g.Account] = true
					out = append(out, g.Account)
				}
			}
			subs, err := tx.DueSubscriptions(now, 100)
			if err != nil {
				return nil, err
			}
			for _, s := range subs {
				if !seen[s.Account] {
					seen[s.Account] = true
					out = append(out, s.Account)
				}
			}
			return out, nil
		})
		if err != nil || len(accounts) == 0 {
			return n, err
		}
		settled := 0
		for _, a := range accounts {
			// Another node settling this account now: leave it to them.
			_, err := update(ctx, l, nil, a, Refs{TryLock: true}, func(b *Book, now time.Time) (struct{}, error) {
				return struct{}{}, settle(b, now)
			})
			if err == errSkipped {
				continue
			}
			if err != nil {
				return n, err
			}
			settled++
		}
		n += settled
		if settled == 0 {
			return n, nil // everything due is being settled elsewhere
		}
		if err := ctx.Err(); err != nil {
			return n, err
		}
	}
}
