package credit

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
	"unicode"
	"unicode/utf8"
)

// DefaultHoldTTL is how long a hold waits for its capture or release before the
// service releases it itself.
const DefaultHoldTTL = 15 * time.Minute

// MaxHoldTTL bounds a requested TTL (a day): a hold is for one piece of work.
const MaxHoldTTL = 24 * time.Hour

// Ledger is tally's credit ledger: accounts, grants, holds, generations and the
// journal, on any Store. Every write is decided here, in memory, on the
// account's state as the store loaded it under the account's lock (Book), and
// the store applies the outcome in the same transaction: Book.reserve is the
// only balance check, and nothing else holds the lock between it and the
// commit.
type Ledger struct {
	store   Store
	group   *group
	owners  owners
	now     func() time.Time
	catalog func() *Catalog
	holdTTL time.Duration
	// idemRetention is how long idempotency records are kept (0: forever).
	idemRetention time.Duration
	feed          *feed
	webhookGuard  func(ctx context.Context, url string) error
}

// LedgerConfig configures a Ledger. Zero fields take defaults.
type LedgerConfig struct {
	// Now is the clock (default time.Now); tests move it.
	Now func() time.Time
	// Catalog returns the catalog generations are priced with.
	Catalog func() *Catalog
	// HoldTTL is the default hold TTL (DefaultHoldTTL).
	HoldTTL time.Duration
	// MaxBatch bounds the writes one transaction takes (default
	// DefaultMaxBatch); 1 gives every write a transaction of its own.
	MaxBatch int
	// IdempotencyRetention is how long an Idempotency-Key's record, and so
	// its exactly-once guarantee, is kept before PruneIdempotency deletes it
	// (0: forever). A key sent again after that is a new request.
	IdempotencyRetention time.Duration
	// Observer, if set, is told the outcome of every write (metrics).
	Observer Observer
	// ExpiringNotice is how long before a grant's expiry grant.expiring
	// tells of it (default DefaultExpiringNotice).
	ExpiringNotice time.Duration
	// WebhookGuard, if set, checks a webhook's URL before it is stored
	// (the private-address guard of internal/webhook); nil: only the
	// URL's form is checked.
	WebhookGuard func(ctx context.Context, url string) error
}

// NewLedger returns a ledger on store.
func NewLedger(store Store, cfg LedgerConfig) *Ledger {
	l := &Ledger{store: store, now: cfg.Now, catalog: cfg.Catalog, holdTTL: cfg.HoldTTL, idemRetention: cfg.IdempotencyRetention}
	if l.now == nil {
		l.now = time.Now
	}
	l.group = newGroup(store, l.now, cfg.MaxBatch)
	l.group.observer = cfg.Observer
	l.group.notice = cfg.ExpiringNotice
	if l.group.notice <= 0 {
		l.group.notice = DefaultExpiringNotice
	}
	l.feed = newFeed()
	l.group.committed = l.feed.wake
	l.webhookGuard = cfg.WebhookGuard
	if l.holdTTL == 0 {
		l.holdTTL = DefaultHoldTTL
	}
	return l
}

// QueuedWrites is how many writes wait for a transaction to take them: the
// depth of the group commit's queue.
func (l *Ledger) QueuedWrites() int { return l.group.queued() }

// Store returns the ledger's store.
func (l *Ledger) Store() Store { return l.store }

// Now returns the ledger's clock reading, UTC, at the store's precision (µs).
func (l *Ledger) Now() time.Time { return l.now().UTC().Truncate(time.Microsecond) }

// update runs fn as one write on account (see group): fn decides on the
// account's Book at now, in memory, and what it changed is applied with the
// rest of its batch. It runs at most once per idempotency key: a retry with
// the same key and request returns the first answer (decoded from the stored
// JSON) and changes nothing; the same key with another request is a Conflict
// (idempotency_conflict). Refusals are not recorded, so a refused request
// writes nothing and may be retried. refs names what fn needs loaded besides
// the account's working state (see State).
func update[T any](ctx context.Context, l *Ledger, idem *Idempotency, account string, refs Refs, fn func(b *Book, now time.Time) (T, error)) (T, error) {
	var out T
	keyed := idem != nil && idem.Key != ""
	if keyed {
		// Checked before the store sees it: a key of bytes a store cannot
		// hold must be refused alike by both, not fail inside one.
		if err := CheckIdempotencyKey(idem.Key); err != nil {
			return out, err
		}
		refs.Idempotency = append(refs.Idempotency, Idempotency{Scope: idem.Scope, Key: idem.Key})
	}
	err := l.group.update(ctx, account, refs, func(b *Book, now time.Time) error {
		out = *new(T)
		if l.catalog != nil {
			b.cat = l.catalog()
		}
		if keyed {
			if rec := b.idempotency(idem.Scope, idem.Key); rec != nil {
				if rec.Hash != idem.Hash {
					return Errorf(Conflict, "idempotency_conflict", "Idempotency-Key %q was already used for a different request", idem.Key)
				}
				return json.Unmarshal(rec.Response, &out)
			}
		}
		var err error
		if out, err = fn(b, now); err != nil {
			return err
		}
		if keyed {
			resp, err := json.Marshal(out)
			if err != nil {
				return Errorf(Internal, "encode", "ledger: encode idempotent answer: %v", err)
			}
			b.putIdempotency(IdempotencyRecord{Idempotency: *idem, Response: resp, CreatedAt: now})
		}
		return nil
	})
	return out, err
}

// adminUpdate runs fn in a transaction of its own, for the writes that
// concern no account (keys, the pruning of idempotency records).
func adminUpdate[T any](ctx context.Context, l *Ledger, fn func(tx Tx, now time.Time) (T, error)) (T, error) {
	var out T
	err := l.store.Update(ctx, func(tx Tx) error {
		var err error
		out, err = fn(tx, l.Now())
		return err
	})
	return out, err
}

// view runs fn on a read-only snapshot.
func view[T any](ctx context.Context, l *Ledger, fn func(tx Tx, now time.Time) (T, error)) (T, error) {
	var out T
	err := l.store.View(ctx, func(tx Tx) error {
		var err error
		out, err = fn(tx, l.Now())
		return err
	})
	return out, err
}

// checkAmount refuses amounts that are not positive or are absurd.
func checkAmount(c Credits, what string) error {
	if c <= 0 {
		return Errorf(Invalid, "invalid_amount", "%s must be more than 0 credits, not %s", what, c)
	}
	if c > MaxCredits {
		return Errorf(Invalid, "invalid_amount", "%s of %s credits is more than the limit of %s", what, c, MaxCredits)
	}
	return nil
}

// checkAccountID is CheckAccountID, for the ledger's operations.
func checkAccountID(id string) error { return CheckAccountID(id) }

// MaxIdempotencyKey is the longest Idempotency-Key accepted.
const MaxIdempotencyKey = 255

// CheckIdempotencyKey refuses an idempotency key that is not 1 to
// MaxIdempotencyKey visible ASCII characters (! to ~): keys are made by
// programs (UUIDs, request ids), and a key of other bytes (NUL, invalid
// UTF-8, look-alike letters) is a client bug that no store should see.
// Invalid invalid_idempotency_key.
func CheckIdempotencyKey(key string) error {
	bad := func(why string) error {
		return Errorf(Invalid, "invalid_idempotency_key", "an Idempotency-Key is 1 to %d visible ASCII characters (! to ~, no spaces): %s", MaxIdempotencyKey, why)
	}
	if key == "" {
		return bad("this one is empty")
	}
	if len(key) > MaxIdempotencyKey {
		return bad(fmt.Sprintf("this one has %d", len(key)))
	}
	for i := 0; i < len(key); i++ {
		if key[i] < '!' || key[i] > '~' {
			return bad(fmt.Sprintf("this one has the byte 0x%02x at %d", key[i], i))
		}
	}
	return nil
}

// MaxMemo is the most bytes a grant's memo may have.
const MaxMemo = 1000

// checkMemo refuses a memo that no store can hold alike or no person can
// read: more than MaxMemo bytes, invalid UTF-8, or control characters other
// than tab and line breaks (PostgreSQL refuses NUL in text; SQLite would
// keep it, so the two stores would disagree). Invalid invalid_memo.
func checkMemo(memo string) error {
	if len(memo) > MaxMemo {
		return Errorf(Invalid, "invalid_memo", "a memo is at most %d bytes, not %d", MaxMemo, len(memo))
	}
	if why := badText(memo); why != "" {
		return Errorf(Invalid, "invalid_memo", "a memo is text: %s", why)
	}
	return nil
}

// badText says why s is not printable text (valid UTF-8 without control
// characters other than tab, CR and LF), or "" when it is.
func badText(s string) string {
	if !utf8.ValidString(s) {
		return "it is not valid UTF-8"
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' {
			return fmt.Sprintf("it has the control character %U", r)
		}
	}
	return ""
}

// shown is a caller's value as an error message quotes it (with %q, which
// escapes what is not printable): cut to 64 bytes, so that a long value
// does not make a long message.
func shown(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
