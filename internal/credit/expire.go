package credit

import (
	"context"
	"sort"
	"time"
)

// settle brings an account up to now before anything else touches it: open
// holds past their TTL are released and grants past their expiry lose their
// remainder to the platform's expired book, each at its own time and in time
// order. Doing this first in every transaction on the account makes every
// answer exact, whenever the background sweeper last ran.
func (l *Ledger) settle(tx Tx, account string, now time.Time) error {
	for {
		holds, err := tx.DueHolds(account, now, 100)
		if err != nil {
			return err
		}
		grants, err := tx.DueGrants(account, now, 100)
		if err != nil {
			return err
		}
		if len(holds) == 0 && len(grants) == 0 {
			return nil
		}
		type due struct {
			at    time.Time
			hold  *Hold
			grant *Grant
		}
		var all []due
		for i := range holds {
			all = append(all, due{at: holds[i].ExpiresAt, hold: &holds[i]})
		}
		for i := range grants {
			all = append(all, due{at: grants[i].ExpiresAt, grant: &grants[i]})
		}
		sort.SliceStable(all, func(i, j int) bool { return all[i].at.Before(all[j].at) })
		for _, d := range all {
			if d.hold != nil {
				h, err := tx.Hold(d.hold.ID) // reread: an earlier step may have changed it
				if err != nil {
					return err
				}
				if err := l.resolveHold(tx, &h, 0, HoldExpired, d.at); err != nil {
					return err
				}
				continue
			}
			if err := expireGrant(tx, d.grant.ID, d.at); err != nil {
				return err
			}
		}
	}
}

// expireGrant moves a grant's remainder to the platform's expired book at its
// expiry time. Its held part stays held; it follows its hold.
func expireGrant(tx Tx, id string, at time.Time) error {
	g, err := tx.Grant(id)
	if err != nil {
		return err
	}
	e := newDraft(EntryExpire, g.Account, g.ID, at)
	e.wallet(BookAvailable, g.ID, -g.Remaining)
	e.platform(BookExpired, g.Remaining)
	if len(e.t.Postings) > 0 {
		if _, err := e.commit(tx, nil); err != nil {
			return err
		}
	}
	return tx.ExpireGrant(g.ID, at)
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
			done, err := update(ctx, l, nil, func(tx Tx, now time.Time) (bool, error) {
				// Another node settling this account now: leave it to them.
				if ok, err := tx.TryLockAccount(a); err != nil || !ok {
					return false, err
				}
				return true, l.settle(tx, a, now)
			})
			if err != nil {
				return n, err
			}
			if done {
				settled++
			}
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
