package sqlite_test

import (
	"reflect"
	"testing"

	"github.com/tally-credits/tally/internal/credit"
)

func TestIdempotency(t *testing.T) {
	db := MustOpenDB(t)
	rec := credit.IdempotencyRecord{Idempotency: credit.Idempotency{Scope: "key_1", Key: "k-42", Hash: "sha256:ab12"},
		Response: []byte(`{"id":"gen_1"}`), CreatedAt: t0}
	mustUpdate(t, db, func(tx credit.Tx) error {
		got, err := tx.Idempotency("key_1", "k-42")
		if got != nil || err != nil {
			t.Errorf("Idempotency(unused key) = %+v, %v; want nil, nil", got, err)
		}
		return tx.PutIdempotency(rec)
	})
	mustUpdate(t, db, func(tx credit.Tx) error {
		got, err := tx.Idempotency("key_1", "k-42")
		if err == nil && !reflect.DeepEqual(got, &rec) {
			t.Errorf("Idempotency(key_1, k-42) = %+v; want %+v", got, rec)
		}
		// Scopes never collide.
		if other, err := tx.Idempotency("key_2", "k-42"); other != nil || err != nil {
			t.Errorf("Idempotency(key_2, k-42) = %+v, %v; want nil, nil", other, err)
		}
		again := rec
		again.Hash = "sha256:cd34"
		wantError(t, "PutIdempotency(same scope and key)", tx.PutIdempotency(again), credit.Conflict, "idempotency_conflict")
		return err
	})
}
