package credit

import (
	"context"
	"sort"
	"time"
)

// settle brings an account up to now before anything else touches it: open
// holds past their TTL are released and grants past their expiry lose their
// remainder to the platform's expired book, each at its own time and in time
// order. Doing this first in every write on the account makes every answer
// exact, whenever the background sweeper last ran. The store loaded
// everything due (see State).
func settle(b *Book, now time.Time) error {
	type due struct {
		at    time.Time
		hold  string
		grant string
	}
	var all []due
	for _, h := range b.dueHolds(now) {
		all = append(all, due{at: h.ExpiresAt, hold: h.ID})
	}
	for _, g := range b.dueGrants(now) {
		all = append(all, due{at: g.ExpiresAt, grant: g.ID})
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].at.Before(all[j].at) })
	for _, d := range all {
		if d.hold != "" {
			h, err := b.Hold(d.hold) // as the earlier steps left it
			if err != nil {
				return err
			}
			if err := resolveHold(b, &h, 0, HoldExpired, d.at); err != nil {
				return err
			}
			continue
		}
		if err := expireGrant(b, d.grant, d.at); err != nil {
			return err
		}
	}
	return nil
}

// expireGrant moves a grant's remainder to the platform's expired book at its
// expiry time. Its held part stays held; it follows its hold.
func expireGrant(b *Book, id string, at time.Time) error {
	g, err := b.Grant(id)
	if err != nil {
		return err
	}
	e := newDraft(EntryExpire, g.Account, g.ID, at)
	e.wallet(BookAvailable, g.ID, -g.Remaining)
	e.platform(BookExpired, g.Remaining)
	if len(e.t.Postings) > 0 {
		if _, err := e.commit(b, nil); err != nil {
			return err
		}
	}
	return b.expireGrant(g.ID, at)
}

// ExpireDue settles every account with something past its time: the background
// sweeper calls it every second or so. It returns how many accounts it settled.
// Accounts are settled one transaction each, so a long backlog never holds
// the store for long.
func (l *Ledger) ExpireDue(ctx context.Context) (int, error) {
	n := 0
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
