package sqlite_test

import (
	"crypto/sha256"
	"reflect"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

func TestKey_RoundTrip(t *testing.T) {
	db := MustOpenDB(t)
	newAccount(t, db, "acme", 0, 0)
	sum := sha256.Sum256([]byte("tally_k1_secret"))
	admin := credit.Key{ID: "k1", Hash: sum[:], Scope: credit.ScopeAdmin, Name: "ops", CreatedAt: t0}
	reader := credit.Key{ID: "k0", Hash: []byte{1, 2, 3}, Scope: credit.ScopeAccount, Account: "acme", Name: "dashboard",
		CreatedAt: t0.Add(time.Second), ExpiresAt: t0.Add(24 * time.Hour)}
	mustUpdate(t, db, func(tx credit.Tx) error {
		if err := tx.InsertKey(admin); err != nil {
			return err
		}
		return tx.InsertKey(reader)
	})
	mustUpdate(t, db, func(tx credit.Tx) error {
		got, err := tx.Key("k1")
		if err == nil && !reflect.DeepEqual(got, admin) {
			t.Errorf("Key(k1) = %+v; want %+v", got, admin)
		}
		keys, err := tx.Keys()
		if err == nil && !reflect.DeepEqual(keys, []credit.Key{admin, reader}) {
			t.Errorf("Keys() = %+v; want k1 then k0 (oldest first)", keys)
		}
		if err := tx.RevokeKey("k0", t0.Add(time.Hour)); err != nil {
			return err
		}
		if err := tx.RevokeKey("k0", t0.Add(2*time.Hour)); err != nil { // the first revocation stands
			return err
		}
		_, err = tx.Key("nope")
		wantError(t, "Key(nope)", err, credit.NotFound, "unknown_key")
		wantError(t, "RevokeKey(nope)", tx.RevokeKey("nope", t0), credit.NotFound, "unknown_key")
		wantError(t, "InsertKey(k1 again)", tx.InsertKey(admin), credit.Conflict, "key_exists")
		stray := reader
		stray.ID, stray.Account = "k2", "nobody"
		wantError(t, "InsertKey(unknown account)", tx.InsertKey(stray), credit.NotFound, "unknown_account")
		return nil
	})
	mustView(t, db, func(tx credit.Tx) error {
		got, err := tx.Key("k0")
		want := reader
		want.RevokedAt = t0.Add(time.Hour)
		if err == nil && !reflect.DeepEqual(got, want) {
			t.Errorf("Key(k0) after RevokeKey = %+v; want %+v", got, want)
		}
		return err
	})
}
