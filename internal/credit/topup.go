package credit

import (
	"context"
	"slices"
	"time"
)

// AutoTopup is an account's auto top-up (SPEC §9): when a write leaves its
// available balance below Threshold, the ledger asks the studio for Amount
// more (a pending Topup and its topup.requested event), never a second
// while one is pending, and never more in a calendar month of the
// account's time zone than MonthlyCap (pending and confirmed requests
// count). Amount 0 is off.
type AutoTopup struct {
	Threshold  Credits
	Amount     Credits
	MonthlyCap Credits
}

// On reports whether auto top-up is set.
func (a AutoTopup) On() bool { return a.Amount > 0 }

// TopupStatus is where an auto top-up request is.
type TopupStatus string

// The top-up statuses: pending until the studio confirms it (it charged
// the card: the credits are granted) or cancels it.
const (
	TopupPending   TopupStatus = "pending"
	TopupConfirmed TopupStatus = "confirmed"
	TopupCanceled  TopupStatus = "canceled"
)

// Topup is one auto top-up request.
type Topup struct {
	ID      string // "top_…"
	Account string
	Credits Credits
	Status  TopupStatus
	// Grant is the grant a confirmation made ("" before).
	Grant      string
	CreatedAt  time.Time
	ResolvedAt time.Time
}

// MaxTopupPage bounds one page of an account's top-ups.
const MaxTopupPage = 500

// SetAlerts sets an account's balance.low threshold (0: no alert);
// audited. Setting it as it is writes nothing. NotFound unknown_account;
// Invalid invalid_threshold.
func (l *Ledger) SetAlerts(ctx context.Context, idem *Idempotency, account string, low Credits) (AccountView, error) {
	if err := checkAccountID(account); err != nil {
		return AccountView{}, err
	}
	if low < 0 {
		return AccountView{}, Errorf(Invalid, "invalid_threshold", "low_balance_credits must be 0 (no alert) or more, not %s", low)
	}
	return update(ctx, l, idem, account, Refs{}, func(b *Book, now time.Time) (AccountView, error) {
		a, err := b.Account()
		if err != nil {
			return AccountView{}, err
		}
		if err := settle(b, now); err != nil {
			return AccountView{}, err
		}
		if a.LowBalance == low {
			return bookView(b, now), nil
		}
		b.cur.Account.LowBalance = low
		detail := struct {
			LowBalance Credits `json:"low_balance_credits"`
			Was        Credits `json:"was"`
		}{low, a.LowBalance}
		if err := audit(ctx, b, now, AuditAccountAlerts, account, detail); err != nil {
			return AccountView{}, err
		}
		return bookView(b, now), nil
	})
}

// SetAutoTopup sets an account's auto top-up (Amount 0 turns it off);
// audited. If the account is already below the new threshold, the request
// is made at once. NotFound unknown_account; Invalid invalid_auto_topup.
func (l *Ledger) SetAutoTopup(ctx context.Context, idem *Idempotency, account string, at AutoTopup) (AccountView, error) {
	if err := checkAccountID(account); err != nil {
		return AccountView{}, err
	}
	bad := func(format string, args ...any) (AccountView, error) {
		return AccountView{}, Errorf(Invalid, "invalid_auto_topup", format, args...)
	}
	switch {
	case at.Amount == 0 && at != (AutoTopup{}):
		return bad("to turn auto top-up off, send amount_credits 0 with threshold_credits and monthly_cap_credits 0")
	case at.Amount < 0 || at.Threshold < 0 || at.MonthlyCap < 0:
		return bad("threshold_credits, amount_credits and monthly_cap_credits must not be negative")
	case at.On() && at.Threshold == 0:
		return bad("threshold_credits must be more than 0: auto top-up asks when the balance falls below it")
	case at.On() && at.MonthlyCap < at.Amount:
		return bad("monthly_cap_credits (%s) must be at least amount_credits (%s)", at.MonthlyCap, at.Amount)
	}
	return update(ctx, l, idem, account, Refs{}, func(b *Book, now time.Time) (AccountView, error) {
		a, err := b.Account()
		if err != nil {
			return AccountView{}, err
		}
		if err := settle(b, now); err != nil {
			return AccountView{}, err
		}
		if a.AutoTopup == at {
			return bookView(b, now), nil
		}
		b.cur.Account.AutoTopup = at
		detail := struct {
			Threshold  Credits `json:"threshold_credits"`
			Amount     Credits `json:"amount_credits"`
			MonthlyCap Credits `json:"monthly_cap_credits"`
		}{at.Threshold, at.Amount, at.MonthlyCap}
		if err := audit(ctx, b, now, AuditAutoTopup, account, detail); err != nil {
			return AccountView{}, err
		}
		return bookView(b, now), nil
	})
}

// Topup returns a top-up. NotFound unknown_topup.
func (l *Ledger) Topup(ctx context.Context, id string) (Topup, error) {
	if err := named(id, "topup"); err != nil {
		return Topup{}, err
	}
	return view(ctx, l, func(tx Tx, _ time.Time) (Topup, error) { return tx.Topup(id) })
}

// Topups returns a page of an account's top-ups, newest first, before the
// top-up id before ("": from the newest). NotFound unknown_account.
func (l *Ledger) Topups(ctx context.Context, account, before string, limit int) ([]Topup, error) {
	if err := named(account, "account"); err != nil {
		return nil, err
	}
	if limit <= 0 || limit > MaxTopupPage {
		return nil, Errorf(Invalid, "invalid_limit", "limit must be 1 to %d, not %d", MaxTopupPage, limit)
	}
	return view(ctx, l, func(tx Tx, _ time.Time) ([]Topup, error) {
		if _, err := tx.Account(account); err != nil {
			return nil, err
		}
		return tx.Topups(account, before, limit)
	})
}

// ConfirmTopup grants a pending top-up's credits (source topup) exactly
// once: the studio has been paid. Confirming it again answers it as it is
// and grants nothing. NotFound unknown_topup; Conflict topup_canceled.
func (l *Ledger) ConfirmTopup(ctx context.Context, idem *Idempotency, id string) (Topup, error) {
	return l.answerTopup(ctx, idem, id, TopupConfirmed, func(b *Book, t *Topup, now time.Time) error {
		g := Grant{ID: NewID("grt", now), Account: t.Account, Source: SourceTopup, Granted: t.Credits, CreatedAt: now, Memo: "auto top-up " + t.ID}
		if err := addGrant(b, g, now); err != nil {
			return err
		}
		t.Grant = g.ID
		return nil
	})
}

// CancelTopup drops a pending top-up: nothing is granted, and the next
// write that leaves the balance below the threshold may ask again.
// Canceling it again answers it as it is. NotFound unknown_topup; Conflict
// topup_confirmed.
func (l *Ledger) CancelTopup(ctx context.Context, idem *Idempotency, id string) (Topup, error) {
	return l.answerTopup(ctx, idem, id, TopupCanceled, func(*Book, *Topup, time.Time) error { return nil })
}

func (l *Ledger) answerTopup(ctx context.Context, idem *Idempotency, id string, to TopupStatus, fn func(*Book, *Topup, time.Time) error) (Topup, error) {
	if err := named(id, "topup"); err != nil {
		return Topup{}, err
	}
	account, err := l.topupAccount(ctx, id)
	if err != nil {
		return Topup{}, err
	}
	return update(ctx, l, idem, account, Refs{Topups: []string{id}}, func(b *Book, now time.Time) (Topup, error) {
		if err := settle(b, now); err != nil {
			return Topup{}, err
		}
		i := slices.IndexFunc(b.cur.Topups, func(t Topup) bool { return t.ID == id })
		if i < 0 {
			return Topup{}, unknown("topup", id)
		}
		t := b.cur.Topups[i]
		switch t.Status {
		case to:
			return t, nil
		case TopupConfirmed, TopupCanceled:
			return Topup{}, Errorf(Conflict, "topup_"+string(t.Status), "top-up %s was already %s", id, t.Status)
		}
		t.Status, t.ResolvedAt = to, now
		if err := fn(b, &t, now); err != nil {
			return Topup{}, err
		}
		b.cur.Topups[slices.IndexFunc(b.cur.Topups, func(o Topup) bool { return o.ID == id })] = t
		action := AuditTopupConfirm
		if to == TopupCanceled {
			action = AuditTopupCancel
		}
		detail := struct {
			Topup   string  `json:"topup"`
			Credits Credits `json:"credits"`
			Grant   string  `json:"grant,omitempty"`
		}{t.ID, t.Credits, t.Grant}
		if err := audit(ctx, b, now, action, t.Account, detail); err != nil {
			return Topup{}, err
		}
		return t, nil
	})
}
