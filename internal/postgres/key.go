package postgres

import (
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/tally-credits/tally/internal/credit"
)

const keyColumns = `id, hash, scope, account, name, created_at, expires_at, revoked_at, member`

func scanKey(s scanner) (credit.Key, error) {
	var k credit.Key
	err := s.Scan(&k.ID, &k.Hash, &k.Scope, textColumn{&k.Account}, &k.Name,
		timeColumn{&k.CreatedAt}, timeColumn{&k.ExpiresAt}, timeColumn{&k.RevokedAt}, &k.Member)
	return k, err
}

func unknownKey(id string) *credit.Error {
	return credit.Errorf(credit.NotFound, "unknown_key", "unknown API key %q", id)
}

// InsertKey stores an API key. Conflict key_exists if the id is taken;
// NotFound unknown_account if an account key names an unknown account.
func (t *tx) InsertKey(k credit.Key) error {
	_, err := t.exec(`INSERT INTO api_keys (`+keyColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		k.ID, k.Hash, k.Scope, nullable(k.Account), k.Name, tstz(k.CreatedAt), tstz(k.ExpiresAt), tstz(k.RevokedAt), k.Member)
	switch {
	case violates(err, uniqueViolation, "api_keys_pkey"):
		return t.expected(credit.Errorf(credit.Conflict, "key_exists", "an API key with id %q already exists", k.ID))
	case violates(err, foreignKeyViolation, "api_keys_account_fkey"):
		return t.expected(unknownAccount(k.Account))
	case err != nil:
		return t.fail("insert key", err)
	}
	return nil
}

// Key returns a key by id. NotFound unknown_key.
func (t *tx) Key(id string) (credit.Key, error) {
	k, err := scanKey(t.queryRow(`SELECT `+keyColumns+` FROM api_keys WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return credit.Key{}, unknownKey(id)
	} else if err != nil {
		return credit.Key{}, t.fail("read key", err)
	}
	return k, nil
}

// Keys returns every key, oldest first.
func (t *tx) Keys() ([]credit.Key, error) {
	var out []credit.Key
	err := t.each("read keys", func(s scanner) error {
		k, err := scanKey(s)
		out = append(out, k)
		return err
	}, `SELECT `+keyColumns+` FROM api_keys ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// RevokeKey marks a key revoked at `at`. A key revoked before keeps its first
// revocation time. NotFound unknown_key.
func (t *tx) RevokeKey(id string, at time.Time) error {
	tag, err := t.exec(`UPDATE api_keys SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2`, tstz(at), id)
	return t.affected("revoke key", tag, err, unknownKey(id))
}

// keysLock is the key of the advisory lock LockKeys takes: a one-key lock,
// like migrateLock, with a value of its own.
const keysLock int64 = 0x7a11_0002

// LockKeys takes a transaction-scoped advisory lock on the API keys. Two
// READ COMMITTED transactions that both look for a live admin key would
// each see none and each insert one (no row exists yet to lock, and a
// unique index cannot say "one live admin key"); with the lock, the second
// waits until the first commits, and its next statement sees the key the
// first made. The lock goes with the transaction; in a View it is not taken.
func (t *tx) LockKeys() error {
	if t.readOnly {
		return nil
	}
	if _, err := t.exec(`SELECT pg_advisory_xact_lock($1)`, keysLock); err != nil {
		return t.fail("lock API keys", err)
	}
	return nil
}
