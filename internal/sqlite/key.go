package sqlite

import (
	"database/sql"
	"errors"
	"time"

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
	_, err := t.exec(`INSERT INTO api_keys (`+keyColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, k.Hash, k.Scope, nullable(k.Account), k.Name, micros(k.CreatedAt), micros(k.ExpiresAt), micros(k.RevokedAt), k.Member)
	switch {
	case isDuplicate(err):
		return credit.Errorf(credit.Conflict, "key_exists", "an API key with id %q already exists", k.ID)
	case isMissingParent(err):
		return unknownAccount(k.Account)
	case err != nil:
		return t.fail("insert key", err)
	}
	return nil
}

// Key returns a key by id. NotFound unknown_key.
func (t *tx) Key(id string) (credit.Key, error) {
	k, err := scanKey(t.queryRow(`SELECT `+keyColumns+` FROM api_keys WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
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
	res, err := t.exec(`UPDATE api_keys SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?`, micros(at), id)
	return t.affected("revoke key", res, err, unknownKey(id))
}

// LockKeys does nothing: SQLite's one writer (BEGIN IMMEDIATE) already runs
// every write transaction alone, from its first statement to its commit.
func (t *tx) LockKeys() error { return nil }
