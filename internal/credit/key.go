package credit

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"strings"
	"time"
)

// API keys look like "tally_<id>_<secret>". The id finds the stored key; the
// secret (160 random bits) is stored only as its SHA-256 and compared in
// constant time. A fast hash is right here: the secret is random, not a
// password, so there is nothing to brute-force.
const keyPrefix = "tally_"

// KeySpec describes a key to create.
type KeySpec struct {
	Scope   Scope
	Account string // required for ScopeAccount
	// Member makes an account key a team member's (see Key.Member): only
	// for ScopeAccount on a team.
	Member    string
	Name      string
	ExpiresAt time.Time // zero: never
}

// CreateKey makes a new key and returns it with its secret token, which is
// shown once and never stored.
func (l *Ledger) CreateKey(ctx context.Context, s KeySpec) (Key, string, error) {
	switch s.Scope {
	case ScopeAdmin, ScopeService, ScopeSupport:
		if s.Account != "" {
			return Key{}, "", Errorf(Invalid, "invalid_key", "only account keys name an account")
		}
		if s.Member != "" {
			return Key{}, "", Errorf(Invalid, "invalid_key", "only account keys name a member")
		}
	case ScopeAccount:
		if s.Account == "" {
			return Key{}, "", Errorf(Invalid, "invalid_key", "an account key needs the account it may read")
		}
		if err := named(s.Account, "account"); err != nil {
			return Key{}, "", err
		}
		if s.Member != "" {
			if err := checkMemberID(s.Member); err != nil {
				return Key{}, "", err
			}
		}
	default:
		return Key{}, "", &Error{Code: Invalid, Reason: "invalid_scope", Message: "unknown key scope " + string(s.Scope), Allowed: []string{"admin", "service", "support", "account"}}
	}
	secret, err := newSecret()
	if err != nil {
		return Key{}, "", err
	}
	kt, err := adminUpdate(ctx, l, func(tx Tx, now time.Time) (keyAndToken, error) {
		if s.Scope == ScopeAccount {
			a, err := tx.Account(s.Account)
			if err != nil {
				return keyAndToken{}, err
			}
			// A member need not be set yet (an admin may make the key
			// first); the key sees nothing of the team's members but
			// its own either way.
			if s.Member != "" && a.Kind != AccountTeam {
				return keyAndToken{}, notTeam(a.ID)
			}
		}
		return insertKey(ctx, tx, now, s, secret)
	})
	return kt.Key, kt.Token, err
}

// BootstrapAdminKey makes the first admin key of a ledger that has no live
// one (none, or only revoked or expired ones), for tally serve started
// without TALLY_ADMIN_KEY. The check and the insert are one write
// transaction, under Tx.LockKeys: nodes that start together on one fresh
// database make one admin key between them, not one each, and exactly one
// of them gets its token. It returns the new key and its token, shown once
// and never stored, or a zero Key and "" when a live admin key exists.
func (l *Ledger) BootstrapAdminKey(ctx context.Context) (Key, string, error) {
	secret, err := newSecret()
	if err != nil {
		return Key{}, "", err
	}
	kt, err := adminUpdate(ctx, l, func(tx Tx, now time.Time) (keyAndToken, error) {
		if err := tx.LockKeys(); err != nil {
			return keyAndToken{}, err
		}
		keys, err := tx.Keys()
		if err != nil {
			return keyAndToken{}, err
		}
		for _, k := range keys {
			if k.Scope == ScopeAdmin && k.Live(now) {
				return keyAndToken{}, nil
			}
		}
		return insertKey(ctx, tx, now, KeySpec{Scope: ScopeAdmin, Name: "bootstrap"}, secret)
	})
	return kt.Key, kt.Token, err
}

// newSecret returns a key's random secret (160 bits).
func newSecret() ([]byte, error) {
	secret := make([]byte, 20)
	if _, err := rand.Read(secret); err != nil {
		return nil, Errorf(Internal, "rand", "key: %v", err)
	}
	return secret, nil
}

// insertKey stores a new key of spec s with secret in tx, and its audit
// entry, and returns it with its token.
func insertKey(ctx context.Context, tx Tx, now time.Time, s KeySpec, secret []byte) (keyAndToken, error) {
	s.ExpiresAt = s.ExpiresAt.UTC().Truncate(time.Microsecond) // the store's precision
	if !s.ExpiresAt.IsZero() && !s.ExpiresAt.After(now) {
		return keyAndToken{}, Errorf(Invalid, "invalid_expiry", "the key's expiry is not in the future")
	}
	id := strings.TrimPrefix(NewID("key", now), "key_")
	token := keyPrefix + id + "_" + idEncoding.EncodeToString(secret)
	sum := sha256.Sum256([]byte(token))
	k := Key{ID: id, Hash: sum[:], Scope: s.Scope, Account: s.Account, Member: s.Member, Name: s.Name, CreatedAt: now, ExpiresAt: s.ExpiresAt}
	if err := tx.InsertKey(k); err != nil {
		return keyAndToken{}, err
	}
	detail := struct {
		Scope     Scope     `json:"scope"`
		Account   string    `json:"account,omitempty"`
		Member    string    `json:"member,omitempty"`
		Name      string    `json:"name,omitempty"`
		ExpiresAt time.Time `json:"expires_at,omitzero"`
	}{k.Scope, k.Account, k.Member, k.Name, k.ExpiresAt}
	if err := auditTx(ctx, tx, now, AuditKeyCreate, k.ID, detail); err != nil {
		return keyAndToken{}, err
	}
	return keyAndToken{k, token}, nil
}

// Live reports whether k is accepted at `at`: neither revoked nor expired.
func (k Key) Live(at time.Time) bool {
	return k.RevokedAt.IsZero() && (k.ExpiresAt.IsZero() || at.Before(k.ExpiresAt))
}

type keyAndToken struct {
	Key   Key
	Token string
}

// Authenticate returns the key a bearer token belongs to. Unauthorized for a
// malformed, unknown, revoked or expired token; the message never says which.
func (l *Ledger) Authenticate(ctx context.Context, token string) (Key, error) {
	denied := Errorf(Unauthorized, "unauthorized", "the API key is not valid")
	rest, ok := strings.CutPrefix(token, keyPrefix)
	if !ok {
		return Key{}, denied
	}
	id, _, ok := strings.Cut(rest, "_")
	if !ok || id == "" {
		return Key{}, denied
	}
	k, err := view(ctx, l, func(tx Tx, _ time.Time) (Key, error) { return tx.Key(id) })
	if ErrorCode(err) == NotFound {
		return Key{}, denied
	} else if err != nil {
		return Key{}, err
	}
	sum := sha256.Sum256([]byte(token))
	now := l.Now()
	if subtle.ConstantTimeCompare(sum[:], k.Hash) != 1 || !k.Live(now) {
		return Key{}, denied
	}
	return k, nil
}

// MatchSecret reports whether token is secret, in constant time (for the
// admin key given in the environment).
func MatchSecret(token, secret string) bool {
	a, b := sha256.Sum256([]byte(token)), sha256.Sum256([]byte(secret))
	return secret != "" && subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// Keys lists every key (without secrets).
func (l *Ledger) Keys(ctx context.Context) ([]Key, error) {
	return view(ctx, l, func(tx Tx, _ time.Time) ([]Key, error) { return tx.Keys() })
}

// RevokeKey revokes a key at once. NotFound unknown_key.
func (l *Ledger) RevokeKey(ctx context.Context, id string) error {
	if err := named(id, "key"); err != nil {
		return err
	}
	_, err := adminUpdate(ctx, l, func(tx Tx, now time.Time) (struct{}, error) {
		if err := tx.RevokeKey(id, now); err != nil {
			return struct{}{}, err
		}
		return struct{}{}, auditTx(ctx, tx, now, AuditKeyRevoke, id, struct{}{})
	})
	return err
}
