package credit

import (
	"context"
	"time"
)

// DebitSpec is a negative adjustment: credits to take back from an account.
type DebitSpec struct {
	Credits Credits // more than 0: the amount taken back
	Memo    string
}

// Debit takes credits back from an account: a negative adjustment, for a
// grant made by mistake and already partly spent, or credits given twice.
// They come from the account's live grants with something left, the ones
// it would spend last first (the reverse of consumption order: newest
// never-expiring credits before a day's free ones), never from the
// overdraft grant, and go back to the platform's issued book in one journal
// entry of kind debit, audited (with the reason in ctx, see WithReason).
// Only what is available can be taken: held credits stay with their holds,
// and a debit never takes the balance below zero (InsufficientCredits
// insufficient_credits). NotFound unknown_account; Invalid invalid_amount,
// invalid_memo.
func (l *Ledger) Debit(ctx context.Context, idem *Idempotency, account string, s DebitSpec) (Entry, error) {
	if err := named(account, "account"); err != nil {
		return Entry{}, err
	}
	if err := checkAmount(s.Credits, "a debit"); err != nil {
		return Entry{}, err
	}
	if err := checkMemo(s.Memo); err != nil {
		return Entry{}, err
	}
	return update(ctx, l, idem, account, Refs{}, func(b *Book, now time.Time) (Entry, error) {
		if err := settle(b, now); err != nil {
			return Entry{}, err
		}
		a, err := b.Account()
		if err != nil {
			return Entry{}, err
		}
		grants := b.Grants()
		var takeable Credits
		for _, g := range grants {
			if g.Source != SourceOverdraft && g.Live(now) && g.Remaining > 0 {
				takeable += g.Remaining
			}
		}
		takeable = min(takeable, max(0, a.Available))
		if s.Credits > takeable {
			return Entry{}, &Error{Code: InsufficientCredits, Reason: "insufficient_credits",
				Message:   "account " + account + " has " + takeable.String() + " credits that can be taken back; " + s.Credits.String() + " were asked",
				Available: a.Available, Eligible: takeable, Required: s.Credits}
		}
		e := newDraft(EntryDebit, account, account, now)
		e.t.Memo = s.Memo
		rest := s.Credits
		for i := len(grants) - 1; i >= 0 && rest > 0; i-- {
			g := grants[i]
			if g.Source == SourceOverdraft || !g.Live(now) || g.Remaining <= 0 {
				continue
			}
			take := min(rest, g.Remaining)
			e.wallet(BookAvailable, g.ID, -take)
			rest -= take
		}
		e.platform(BookIssued, s.Credits)
		t, err := e.commit(b, nil)
		if err != nil {
			return Entry{}, err
		}
		detail := struct {
			Credits Credits `json:"credits"`
			Memo    string  `json:"memo,omitempty"`
		}{s.Credits, s.Memo}
		if err := audit(ctx, b, now, AuditAccountDebit, account, detail); err != nil {
			return Entry{}, err
		}
		return *t, nil
	})
}
