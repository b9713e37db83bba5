package credit

import "time"

// draft builds one journal entry. Postings to the same book and grant are
// merged, so an entry has one posting per grant touched. The account's
// grants and balances are then changed from the postings alone, which is why a
// balance always equals the fold of its journal.
type draft struct {
	t Entry
}

func newDraft(kind EntryKind, account, ref string, at time.Time) *draft {
	return &draft{t: Entry{Kind: kind, Account: account, Ref: ref, Time: at}}
}

// generation records on the entry the generation it concerns and what that
// was priced with (model, kind, catalog version): every entry of a
// generation — its hold, charge, release, expiry and refunds — says so, so
// that history and CSV read alike for all of them.
func (e *draft) generation(g Generation) {
	e.t.Generation, e.t.Model, e.t.ModelKind, e.t.CatalogVersion = g.ID, g.Model, g.Kind, g.CatalogVersion
	e.t.Member = g.Member
}

// post adds amount to a book. Zero amounts are dropped.
func (e *draft) post(account, book, grant string, amount Credits) {
	if amount == 0 {
		return
	}
	for i := range e.t.Postings {
		p := &e.t.Postings[i]
		if p.Account == account && p.Book == book && p.Grant == grant {
			p.Amount += amount
			return
		}
	}
	e.t.Postings = append(e.t.Postings, Posting{Account: account, Book: book, Grant: grant, Amount: amount})
}

// wallet posts to the entry's account.
func (e *draft) wallet(book, grant string, amount Credits) { e.post(e.t.Account, book, grant, amount) }

// platform posts to one of the platform's books.
func (e *draft) platform(book string, amount Credits) { e.post(PlatformAccount, book, "", amount) }

// commit applies the postings to the grants and the account and appends the
// entry to the batch's journal. reserved is the account as Book.reserve left
// it, when the held amount was already moved by that check; otherwise the
// balances are added here.
func (e *draft) commit(b *Book, reserved *Account) (*Entry, error) {
	var sum, dAvail, dHeld Credits
	kept := e.t.Postings[:0]
	for _, p := range e.t.Postings {
		if p.Amount == 0 {
			continue
		}
		kept = append(kept, p)
		sum += p.Amount
		if p.Account != e.t.Account {
			continue
		}
		switch p.Book {
		case BookAvailable:
			dAvail += p.Amount
			if err := b.updateGrant(p.Grant, p.Amount, 0); err != nil {
				return nil, err
			}
		case BookHeld:
			dHeld += p.Amount
			if err := b.updateGrant(p.Grant, 0, p.Amount); err != nil {
				return nil, err
			}
		}
	}
	e.t.Postings = kept
	if len(kept) == 0 {
		return nil, Errorf(Internal, "empty_transaction", "ledger: a %s transaction with no postings", e.t.Kind)
	}
	if sum != 0 {
		return nil, Errorf(Internal, "unbalanced", "ledger: %s transaction postings sum to %s, not 0", e.t.Kind, sum)
	}
	var acct Account
	var err error
	if reserved != nil {
		acct = *reserved
	} else if acct, err = b.addBalances(dAvail, dHeld); err != nil {
		return nil, err
	}
	e.t.AvailableDelta, e.t.HeldDelta = dAvail, dHeld
	e.t.AvailableAfter, e.t.HeldAfter = acct.Available, acct.Held
	b.appendEntry(e.t)
	return &e.t, nil
}
