package storetest

import (
	"context"
	"testing"

	"github.com/tally-credits/tally/internal/credit"
)

// Apply writes change through store.Write as one batch of account, as the
// ledger does once it has decided a write, and returns Write's error. Tests
// use it for rows the ledger would not make (a half-consistent ledger for
// Verify to find, a row of every column's extreme).
func Apply(s credit.Store, account string, change *credit.Change) error {
	return s.Write(context.Background(), []*credit.Batch{{Account: account, Writes: 1, Decide: func(*credit.State) (*credit.Change, error) {
		return change, nil
	}}})
}

// MustApply is Apply, failing the test on an error.
func MustApply(t testing.TB, s credit.Store, account string, change *credit.Change) {
	t.Helper()
	if err := Apply(s, account, change); err != nil {
		t.Fatalf("Write(%s): %v", account, err)
	}
}

// Load returns the State store.Write loads for account and refs, writing
// nothing.
func Load(t testing.TB, s credit.Store, account string, refs credit.Refs) *credit.State {
	t.Helper()
	var got *credit.State
	err := s.Write(context.Background(), []*credit.Batch{{Account: account, Writes: 1, Refs: refs, Decide: func(st *credit.State) (*credit.Change, error) {
		got = st.Clone() // a store may keep st and go on changing it
		return &credit.Change{}, nil
	}}})
	if err != nil {
		t.Fatalf("Write(%s) to load: %v", account, err)
	}
	return got
}
