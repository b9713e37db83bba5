package credit

import (
	"context"
	"time"
	"unicode/utf8"
)

// The support desk's directory: finding an account by the start of its id,
// and an account's generations and audit trail.

// MaxAccountPage bounds one page of the account list.
const MaxAccountPage = 500

// AccountPage is one page of the account list.
type AccountPage struct {
	Accounts []Account
	// Next is the cursor of the next page ("" on the last).
	Next string
}

// Accounts lists the accounts whose id starts with prefix (bytes,
// case-sensitive; "" lists every account), by id, from after cursor (an
// id this list gave as Next; "" from the start), at most limit (1 to
// MaxAccountPage). Invalid invalid_limit; a prefix or cursor no id could
// start with (control characters, invalid UTF-8) lists nothing.
func (l *Ledger) Accounts(ctx context.Context, prefix, cursor string, limit int) (AccountPage, error) {
	if limit < 1 || limit > MaxAccountPage {
		return AccountPage{}, Errorf(Invalid, "invalid_limit", "limit must be 1 to %d, not %d", MaxAccountPage, limit)
	}
	if (prefix != "" && !idText(prefix)) || (cursor != "" && !idText(cursor)) {
		return AccountPage{}, nil
	}
	as, err := view(ctx, l, func(tx Tx, _ time.Time) ([]Account, error) { return tx.Accounts(prefix, cursor, limit+1) })
	if err != nil {
		return AccountPage{}, err
	}
	p := AccountPage{Accounts: as}
	if len(as) > limit {
		p.Accounts = as[:limit]
		p.Next = as[limit-1].ID
	}
	return p, nil
}

// idText reports whether s could be (the start of) an id: text of the
// characters CheckAccountID allows ("." is the start of ".x"). The stores
// are not asked about other bytes: PostgreSQL's text cannot even hold a
// NUL.
func idText(s string) bool {
	if len(s) > 4*MaxAccountIDLength || !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !visible(r) {
			return false
		}
	}
	return true
}

// GenerationFilter narrows an account's generations.
type GenerationFilter struct {
	Status GenerationStatus // "" any
	Model  string           // "" any
	Member string           // "" any
	// Before, a generation id, lists only older ones (ids sort by
	// creation); "" lists from the newest.
	Before string
	Limit  int // 1 to MaxPageSize
}

// GenerationPage is one page of an account's generations.
type GenerationPage struct {
	Generations []Generation
	Next        string // the cursor of the next page ("" on the last)
}

// Generations lists an account's generations newest first, as f narrows
// them. NotFound unknown_account; Invalid invalid_status (Allowed lists
// the statuses), invalid_limit, invalid_cursor.
func (l *Ledger) Generations(ctx context.Context, account string, f GenerationFilter) (GenerationPage, error) {
	if err := named(account, "account"); err != nil {
		return GenerationPage{}, err
	}
	switch f.Status {
	case "", GenerationHeld, GenerationCompleted, GenerationFailed, GenerationExpired:
	default:
		return GenerationPage{}, &Error{Code: Invalid, Reason: "invalid_status", Message: "status must be held, completed, failed or expired",
			Allowed: []string{string(GenerationHeld), string(GenerationCompleted), string(GenerationFailed), string(GenerationExpired)}}
	}
	if f.Limit < 1 || f.Limit > MaxPageSize {
		return GenerationPage{}, Errorf(Invalid, "invalid_limit", "limit must be 1 to %d, not %d", MaxPageSize, f.Limit)
	}
	if f.Before != "" && named(f.Before, "generation") != nil {
		return GenerationPage{}, Errorf(Invalid, "invalid_cursor", "the cursor is not one this API gave out")
	}
	if f.Model != "" && !idText(f.Model) || f.Member != "" && !idText(f.Member) {
		return GenerationPage{}, nil
	}
	limit := f.Limit
	f.Limit++
	gs, err := view(ctx, l, func(tx Tx, _ time.Time) ([]Generation, error) {
		if _, err := tx.Account(account); err != nil {
			return nil, err
		}
		return tx.Generations(account, f)
	})
	if err != nil {
		return GenerationPage{}, err
	}
	p := GenerationPage{Generations: gs}
	if len(gs) > limit {
		p.Generations = gs[:limit]
		p.Next = gs[limit-1].ID
	}
	return p, nil
}

// AccountAudit returns the audit entries of actions on an account (grants,
// voids, debits, plans, a person's refunds and releases…), newest first:
// up to limit with ID < before (0: from the newest). NotFound
// unknown_account; Invalid invalid_limit, invalid_cursor.
func (l *Ledger) AccountAudit(ctx context.Context, account string, before int64, limit int) ([]AuditEntry, error) {
	if err := named(account, "account"); err != nil {
		return nil, err
	}
	if limit < 1 || limit > MaxAuditPage {
		return nil, Errorf(Invalid, "invalid_limit", "limit must be 1 to %d, not %d", MaxAuditPage, limit)
	}
	if before < 0 {
		return nil, Errorf(Invalid, "invalid_cursor", "the cursor must not be negative")
	}
	return view(ctx, l, func(tx Tx, _ time.Time) ([]AuditEntry, error) {
		if _, err := tx.Account(account); err != nil {
			return nil, err
		}
		return tx.AccountAudit(account, before, limit)
	})
}
