package storetest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tally-credits/tally/internal/credit"
)

// runWrite checks the credit.Store contract below the Ledger: what Write
// loads (credit.State) and applies (credit.Change), that a Write commits all
// of its batches or nothing, and the reads and account-less writes that
// remain on Tx (writerows.go). The rows written here need not make a
// consistent ledger, so no Verify runs after them.
func runWrite(t *testing.T, open func(t *testing.T) credit.Store) {
	for _, tc := range []struct {
		name string
		fn   func(t *testing.T, s credit.Store)
	}{
		{"RoundTrip", wrRoundTrip},
		{"EntryOrder", wrEntryOrder},
		{"Updates", wrUpdates},
		{"Load", wrLoad},
		{"LoadGrantOrder", wrLoadGrantOrder},
		{"LoadFollowsWrites", wrLoadFollowsWrites},
		{"LoadAfterChangeOfUnloadedRow", wrLoadAfterChangeOfUnloadedRow},
		{"DecideModifiesState", wrDecideModifiesState},
		{"LaterBatchSeesEarlier", wrLaterBatchSeesEarlier},
		{"AllOrNothing", wrAllOrNothing},
		{"DecideError", wrDecideError},
		{"DecidePanic", wrDecidePanic},
		{"EmptyChange", wrEmptyChange},
		{"TryLockSingleWriter", wrTryLockSingleWriter},
		// The Tx that remains (writerows.go).
		{"TxErrors", wrTxErrors},
		{"TxUpdateRollback", wrTxUpdateRollback},
		{"TxViewIsReadOnly", wrTxViewIsReadOnly},
		{"TxCanceled", wrTxCanceled},
		{"TxPing", wrTxPing},
		{"TxKeys", wrTxKeys},
		{"TxAudit", wrTxAudit},
		{"TxPruneIdempotency", wrTxPruneIdempotency},
		{"TxGrantOrder", wrTxGrantOrder},
		{"TxDueGrants", wrTxDueGrants},
		{"TxOpenHoldsDueHolds", wrTxOpenHoldsDueHolds},
		{"TxSubscriptions", wrTxSubscriptions},
		{"TxEntries", wrTxEntries},
		{"TxUsage", wrTxUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, open(t))
		})
	}
}

// wt0 is a time with microseconds, the stores' precision: a row must give
// back every digit of it.
var wt0 = time.Date(2025, 3, 14, 9, 26, 53, 589793000, time.UTC)

// Zones a time may come in, which must come back UTC.
var (
	wTokyo = time.FixedZone("JST", 9*3600)
	wParis = time.FixedZone("CET", 3600)
)

// zoned returns at in loc, the zero time as it is.
func zoned(at time.Time, loc *time.Location) time.Time {
	if at.IsZero() {
		return at
	}
	return at.In(loc)
}

// wView runs fn in a View and fails the test on an error.
func wView(t testing.TB, s credit.Store, fn func(credit.Tx) error) {
	t.Helper()
	if err := s.View(context.Background(), fn); err != nil {
		t.Fatalf("View: %v", err)
	}
}

// wUpdate runs fn in an Update and fails the test on an error.
func wUpdate(t testing.TB, s credit.Store, fn func(credit.Tx) error) {
	t.Helper()
	if err := s.Update(context.Background(), fn); err != nil {
		t.Fatalf("Update: %v", err)
	}
}

// wSnapshot reads the whole store.
func wSnapshot(t testing.TB, s credit.Store) *credit.Snapshot {
	t.Helper()
	snap, err := credit.ReadSnapshot(context.Background(), s)
	if err != nil {
		t.Fatalf("ReadSnapshot: %v", err)
	}
	return snap
}

// wBatch is a batch of account that applies c, whatever it loads.
func wBatch(account string, c *credit.Change) *credit.Batch {
	return &credit.Batch{Account: account, Writes: 1, Decide: func(*credit.State) (*credit.Change, error) { return c, nil }}
}

// wNewAccount is the Change that creates an account with its overdraft grant
// ovd_ID and, if available is not zero, a never-expiring topup grant grt_ID
// of available.
func wNewAccount(id string, overdraft, available credit.Credits) *credit.Change {
	c := &credit.Change{
		NewAccount: &credit.Account{ID: id, Overdraft: overdraft, Available: available, CreatedAt: wt0},
		NewGrants:  []credit.Grant{{ID: "ovd_" + id, Account: id, Source: credit.SourceOverdraft, Priority: math.MaxInt32, CreatedAt: wt0}},
	}
	if available != 0 {
		c.NewGrants = append(c.NewGrants, credit.Grant{ID: "grt_" + id, Account: id, Source: credit.SourceTopup,
			Granted: available, Remaining: available, CreatedAt: wt0})
	}
	return c
}

// wAccount creates an account as wNewAccount describes.
func wAccount(t testing.TB, s credit.Store, id string, overdraft, available credit.Credits) {
	t.Helper()
	MustApply(t, s, id, wNewAccount(id, overdraft, available))
}

// wNoAccount checks that an account does not exist.
func wNoAccount(t testing.TB, s credit.Store, id string) {
	t.Helper()
	err := s.View(context.Background(), func(tx credit.Tx) error {
		_, err := tx.Account(id)
		return err
	})
	wantErr(t, "Account("+id+")", err, credit.NotFound, "unknown_account")
}

// wEntriesOldestFirst returns an account's whole journal, oldest first.
func wEntriesOldestFirst(t testing.TB, s credit.Store, account string) []credit.Entry {
	t.Helper()
	var got []credit.Entry
	wView(t, s, func(tx credit.Tx) error {
		var err error
		got, err = tx.Entries(account, "", 0, 1000)
		return err
	})
	slices.Reverse(got)
	return got
}

// wIdempotency returns the records Write loads for keys (scope, key pairs),
// sorted by scope and key.
func wIdempotency(t testing.TB, s credit.Store, keys ...[2]string) []credit.IdempotencyRecord {
	t.Helper()
	refs := credit.Refs{Now: wt0}
	for _, k := range keys {
		refs.Idempotency = append(refs.Idempotency, credit.Idempotency{Scope: k[0], Key: k[1]})
	}
	st := wLoad(t, s, "nobody", refs)
	return sortedIdem(st.Idempotency)
}

func sortedIdem(rs []credit.IdempotencyRecord) []credit.IdempotencyRecord {
	if len(rs) == 0 {
		return nil
	}
	rs = slices.Clone(rs)
	slices.SortFunc(rs, func(a, b credit.IdempotencyRecord) int {
		return cmp.Or(cmp.Compare(a.Scope, b.Scope), cmp.Compare(a.Key, b.Key))
	})
	return rs
}

// wrRoundTrip: every column of every kind of row a Change inserts comes back
// as it went in, through the Tx reads and through Snapshot: times in UTC to
// the microsecond whatever their zone was, memos and quotes byte for byte,
// allocations and postings in their order, zero times and empty lists as
// such.
func wrRoundTrip(t *testing.T, s credit.Store) {
	const day = 24 * time.Hour
	memo := "spring promo ✿ — \"quoted\" \\ back\nslash\ttab 日本語"
	acct := credit.Account{ID: "acme", Overdraft: 2500, Available: 61500, Held: 49000, CreatedAt: wt0, Plan: "free", TimeZone: "America/New_York", Daily: "free/2026-03-08"}
	// In consumption order: priority, expiry (never last), creation, id.
	grants := []credit.Grant{
		{ID: "g-free", Account: "acme", Source: credit.SourceFree, Granted: 0, Remaining: 0, ExpiresAt: wt0.Add(day), CreatedAt: wt0.Add(2 * time.Second),
			Period: "free/2025-03-14"}, // voided
		{ID: "g-sub", Account: "acme", Source: credit.SourceSubscription, Granted: 100000, Remaining: 50000, Held: 49000,
			ExpiresAt: wt0.Add(30 * day), CreatedAt: wt0, Memo: memo, Subscription: "sub_1", Period: "sub_1/0/0",
			AppliesTo: credit.Eligibility{Models: []string{"nano-banana-pro", "topaz ✿"}, Tags: []string{"image"},
				ExcludeModels: []string{`say "q" \ `}, ExcludeTags: []string{"pro", "video"}}},
		{ID: "g-refund", Account: "acme", Source: credit.SourceRefund, Granted: 5000, Remaining: 5000, CreatedAt: wt0.Add(time.Second), Memo: "refund of gen_0",
			AppliesTo: credit.Eligibility{ExcludeTags: []string{"pro"}}},
		{ID: "g-topup", Account: "acme", Source: credit.SourceTopup, Granted: 10000, Remaining: 10000, Priority: 1,
			ExpiresAt: wt0.Add(31 * day), CreatedAt: wt0},
		{ID: "g-adj", Account: "acme", Source: credit.SourceAdjustment, Granted: 3000, Remaining: 1500, Priority: 1, CreatedAt: wt0, PaidBack: 1500},
		{ID: "g-promo", Account: "acme", Source: credit.SourcePromo, Granted: 7000, Priority: credit.MaxPriority,
			ExpiresAt: wt0.Add(time.Hour), ExpiredAt: wt0.Add(time.Hour), CreatedAt: wt0, PaidBack: 2000},
		{ID: "g-roll", Account: "acme", Source: credit.SourceRollover, Granted: 1000, Remaining: 1000, Priority: credit.MaxPriority,
			CreatedAt: wt0, Subscription: "sub_1", Period: "sub_1/0/0/rollover", AppliesTo: credit.Eligibility{Tags: []string{"pro"}}},
		{ID: "ovd_acme", Account: "acme", Source: credit.SourceOverdraft, Remaining: -4000, Priority: math.MaxInt32, CreatedAt: wt0},
	}
	// Snapshot order: creation, then id.
	holds := []credit.Hold{
		{ID: "h2", Account: "acme", Generation: "gen2", Amount: 20000, Captured: 15000, Released: 5000, Status: credit.HoldCaptured,
			ExpiresAt: wt0.Add(15 * time.Minute), CreatedAt: wt0, ResolvedAt: wt0.Add(5 * time.Minute),
			Allocations: []credit.Allocation{{Grant: "g-sub", Amount: 12000, Captured: 12000, Refunded: 2000}, {Grant: "ovd_acme", Amount: 8000, Captured: 3000}}},
		{ID: "h1", Account: "acme", Generation: "gen1", Amount: 49000, Status: credit.HoldOpen,
			ExpiresAt: wt0.Add(15 * time.Minute), CreatedAt: wt0.Add(time.Second),
			Allocations: []credit.Allocation{{Grant: "g-topup", Amount: 30000}, {Grant: "g-sub", Amount: 19000}}},
		{ID: "h3", Account: "acme", Generation: "gen3", Status: credit.HoldReleased, ExpiresAt: wt0.Add(15 * time.Minute), CreatedAt: wt0.Add(time.Second),
			ResolvedAt: wt0.Add(3 * time.Minute)}, // an unlimited window's, of 0: no allocations
	}
	gens := []credit.Generation{
		{ID: "gen2", Account: "acme", Status: credit.GenerationCompleted, Hold: "h2", Model: "topaz", Kind: credit.KindUpscale,
			CatalogVersion: "v2", Images: 2, ImagesDelivered: 1, HoldCredits: 20000, UnitCredits: 10000, Charged: 15000, Refunded: 5000,
			ListCredits: 20000, ExpiresAt: wt0.Add(15 * time.Minute), CreatedAt: wt0, ResolvedAt: wt0.Add(5 * time.Minute)},
		{ID: "gen1", Account: "acme", Status: credit.GenerationHeld, Hold: "h1", Model: "nano-banana-pro", Kind: credit.KindImage,
			CatalogVersion: "2025-03-01", Images: 3, HoldCredits: 49000, UnitCredits: 15000, Surcharge: 4000,
			Quote:  []byte(`{"total_credits":"49","note":"✿ \"q\" \\ \n"}`),
			Window: "sub_1/0", Lane: credit.LaneFast, ListCredits: 49000,
			ExpiresAt: wt0.Add(15 * time.Minute), CreatedAt: wt0.Add(time.Second)},
		{ID: "gen3", Account: "acme", Status: credit.GenerationCompleted, Hold: "h3", Model: "nano-banana-pro", Kind: credit.KindImage,
			CatalogVersion: "v2", Images: 1, ImagesDelivered: 1, Window: "sub_1/0", Lane: credit.LaneRelaxed, ListCredits: 24500,
			ExpiresAt: wt0.Add(15 * time.Minute), CreatedAt: wt0.Add(time.Second), ResolvedAt: wt0.Add(3 * time.Minute)},
	}
	entries := []credit.Entry{
		{Kind: credit.EntryGrant, Account: "acme", Time: wt0, Ref: "g-sub", Memo: memo, AvailableDelta: 100000, AvailableAfter: 100000,
			Postings: []credit.Posting{
				{Account: credit.PlatformAccount, Book: credit.BookIssued, Amount: -100000},
				{Account: "acme", Book: credit.BookAvailable, Grant: "g-sub", Amount: 100000},
			}},
		{Kind: credit.EntryHold, Account: "acme", Time: wt0.Add(time.Second), Ref: "h1", Generation: "gen1",
			AvailableDelta: -49000, HeldDelta: 49000, AvailableAfter: 51000, HeldAfter: 49000, Postings: []credit.Posting{
				{Account: "acme", Book: credit.BookAvailable, Grant: "g-topup", Amount: -30000},
				{Account: "acme", Book: credit.BookAvailable, Grant: "g-sub", Amount: -19000},
				{Account: "acme", Book: credit.BookHeld, Grant: "g-topup", Amount: 30000},
				{Account: "acme", Book: credit.BookHeld, Grant: "g-sub", Amount: 19000},
			}},
		{Kind: credit.EntryCapture, Account: "acme", Time: wt0.Add(5 * time.Minute), Ref: "h2", Generation: "gen2",
			Model: "topaz", ModelKind: credit.KindUpscale, CatalogVersion: "v2",
			AvailableDelta: 5000, HeldDelta: -20000, AvailableAfter: 56000, HeldAfter: 29000, ChargedDelta: 15000, ListCredits: 20000, Memo: "ü",
			Postings: []credit.Posting{
				{Account: "acme", Book: credit.BookHeld, Grant: "g-sub", Amount: -12000},
				{Account: "acme", Book: credit.BookHeld, Grant: "ovd_acme", Amount: -8000},
				{Account: credit.PlatformAccount, Book: credit.BookRevenue, Amount: 15000},
				{Account: "acme", Book: credit.BookAvailable, Grant: "ovd_acme", Amount: 5000},
			}},
		// An unlimited window's capture: nothing charged, nothing moved, at a list price.
		{Kind: credit.EntryCapture, Account: "acme", Time: wt0.Add(3 * time.Minute), Ref: "h3", Generation: "gen3",
			Model: "nano-banana-pro", ModelKind: credit.KindImage, CatalogVersion: "v2", AvailableAfter: 56000, HeldAfter: 29000, ListCredits: 24500},
		{Kind: credit.EntryExpire, Account: "acme", Time: wt0.Add(time.Hour), Ref: "g-promo"}, // moved nothing: no postings
		{Kind: credit.EntryVoid, Account: "acme", Time: wt0.Add(2 * time.Hour), Ref: "g-free"},
	}
	// By creation, then id.
	subs := []credit.Subscription{
		{ID: "sub_0", Account: "acme", Plan: "basic", Billing: credit.BillMonth, StartsAt: wt0.Add(-60 * day), Period: 2,
			CreatedAt: wt0.Add(-60 * day)}, // every optional field zero
		{ID: "sub_1", Account: "acme", Plan: "pro ✿", Billing: credit.BillQuarter, TimeZone: "Asia/Tokyo", StartsAt: wt0,
			EndsAt: wt0.Add(90 * day), NextPlan: "basic", NextAt: wt0.Add(30 * day), Period: 1, RenewsAt: wt0.Add(30 * day),
			Usage:     []credit.WindowUsage{{Open: 2, Day: "2025-03-14", Fast: 7}, {}, {Open: 1, Fast: 0}},
			CreatedAt: wt0, CanceledAt: wt0.Add(time.Hour)},
		{ID: "sub_2", Account: "acme", Plan: "pro", Billing: credit.BillYear, StartsAt: wt0.Add(90 * day), RenewsAt: wt0.Add(90 * day),
			CreatedAt: wt0},
	}
	idems := []credit.IdempotencyRecord{
		{Idempotency: credit.Idempotency{Scope: "key_1", Key: "k-42", Hash: "sha256:ab12"}, Response: []byte(`{"id":"gen_1","memo":"✿"}`), CreatedAt: wt0},
		{Idempotency: credit.Idempotency{Scope: "key_2", Key: "k-42", Hash: "sha256:cd34"}, CreatedAt: wt0.Add(time.Second)}, // no response
	}
	audit := []credit.AuditEntry{
		{At: wt0, Actor: "key_ops", Action: credit.AuditAccountCreate, Target: "acme", Detail: []byte(`{"overdraft":"2.5"}`)},
		{At: wt0.Add(time.Second), Actor: "cli:ops", Action: credit.AuditGrantCreate, Target: "acme", Detail: []byte(`{"memo":"✿ \"q\""}`)},
	}

	// The change, every time in another zone and the rows out of order.
	in := &credit.Change{}
	a := acct
	a.CreatedAt = zoned(a.CreatedAt, wTokyo)
	in.NewAccount = &a
	for _, g := range slices.Backward(grants) {
		g.ExpiresAt, g.ExpiredAt, g.CreatedAt = zoned(g.ExpiresAt, wParis), zoned(g.ExpiredAt, wTokyo), zoned(g.CreatedAt, wParis)
		in.NewGrants = append(in.NewGrants, g)
	}
	for _, h := range slices.Backward(holds) {
		h.ExpiresAt, h.CreatedAt, h.ResolvedAt = zoned(h.ExpiresAt, wTokyo), zoned(h.CreatedAt, wParis), zoned(h.ResolvedAt, wTokyo)
		h.Allocations = slices.Clone(h.Allocations)
		in.NewHolds = append(in.NewHolds, h)
	}
	for _, g := range slices.Backward(gens) {
		g.ExpiresAt, g.CreatedAt, g.ResolvedAt = zoned(g.ExpiresAt, wParis), zoned(g.CreatedAt, wTokyo), zoned(g.ResolvedAt, wParis)
		in.NewGenerations = append(in.NewGenerations, g)
	}
	for _, e := range entries {
		e.Time = zoned(e.Time, wTokyo)
		in.Entries = append(in.Entries, e)
	}
	for _, r := range idems {
		r.CreatedAt = zoned(r.CreatedAt, wParis)
		in.Idempotency = append(in.Idempotency, r)
	}
	for _, u := range slices.Backward(subs) {
		u.StartsAt, u.EndsAt, u.NextAt = zoned(u.StartsAt, wTokyo), zoned(u.EndsAt, wParis), zoned(u.NextAt, wTokyo)
		u.RenewsAt, u.CreatedAt, u.CanceledAt = zoned(u.RenewsAt, wParis), zoned(u.CreatedAt, wTokyo), zoned(u.CanceledAt, wParis)
		u.Usage = slices.Clone(u.Usage)
		in.NewSubscriptions = append(in.NewSubscriptions, u)
	}
	for _, e := range audit {
		e.At = zoned(e.At, wTokyo)
		in.Audit = append(in.Audit, e)
	}
	MustApply(t, s, "acme", in)

	// The journal and the audit log: ids assigned in the Change's order.
	got := wEntriesOldestFirst(t, s, "acme")
	if len(got) != len(entries) {
		t.Fatalf("Entries(acme) = %d entries; want %d", len(got), len(entries))
	}
	for i := range got {
		if got[i].ID <= 0 || i > 0 && got[i].ID <= got[i-1].ID {
			t.Errorf("entry %d (%s) has id %d after %d; want ids > 0, increasing in the Change's order", i, got[i].Kind, got[i].ID, got[max(i-1, 0)].ID)
		}
		entries[i].ID = got[i].ID
	}
	var log []credit.AuditEntry
	wView(t, s, func(tx credit.Tx) error {
		var err error
		log, err = tx.AuditLog(0, 10)
		return err
	})
	slices.Reverse(log)
	if len(log) != len(audit) {
		t.Fatalf("AuditLog = %d entries; want %d", len(log), len(audit))
	}
	for i := range log {
		if log[i].ID <= 0 || i > 0 && log[i].ID <= log[i-1].ID {
			t.Errorf("audit entry %d has id %d after %d; want ids > 0, increasing in the Change's order", i, log[i].ID, log[max(i-1, 0)].ID)
		}
		audit[i].ID = log[i].ID
	}
	if !reflect.DeepEqual(log, audit) {
		t.Errorf("AuditLog (oldest first) =\n%+v\nwant\n%+v", log, audit)
	}

	wView(t, s, func(tx credit.Tx) error {
		gotA, err := tx.Account("acme")
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(gotA, acct) {
			t.Errorf("Account(acme) = %+v; want %+v", gotA, acct)
		}
		if gotA.CreatedAt.Location() != time.UTC {
			t.Errorf("Account(acme).CreatedAt location = %v; want UTC", gotA.CreatedAt.Location())
		}
		gotG, err := tx.Grants("acme")
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(gotG, grants) {
			t.Errorf("Grants(acme) =\n%+v\nwant (in consumption order)\n%+v", gotG, grants)
		}
		for _, w := range grants {
			g, err := tx.Grant(w.ID)
			if err != nil {
				return err
			}
			if !reflect.DeepEqual(g, w) {
				t.Errorf("Grant(%s) = %+v; want %+v", w.ID, g, w)
			}
		}
		for _, w := range holds {
			h, err := tx.Hold(w.ID)
			if err != nil {
				return err
			}
			if !reflect.DeepEqual(h, w) {
				t.Errorf("Hold(%s) = %+v; want %+v", w.ID, h, w)
			}
		}
		open, err := tx.OpenHolds("acme")
		if err != nil {
			return err
		}
		if want := holds[1:2]; !reflect.DeepEqual(open, want) {
			t.Errorf("OpenHolds(acme) = %+v; want %+v", open, want)
		}
		for _, w := range gens {
			g, err := tx.Generation(w.ID)
			if err != nil {
				return err
			}
			if !reflect.DeepEqual(g, w) {
				t.Errorf("Generation(%s) = %+v; want %+v", w.ID, g, w)
			}
		}
		for _, w := range subs {
			u, err := tx.Subscription(w.ID)
			if err != nil {
				return err
			}
			if !reflect.DeepEqual(u, w) {
				t.Errorf("Subscription(%s) =\n%+v\nwant\n%+v", w.ID, u, w)
			}
		}
		us, err := tx.Subscriptions("acme")
		if err != nil {
			return err
		}
		if !reflect.DeepEqual(us, subs) {
			t.Errorf("Subscriptions(acme) =\n%+v\nwant (by creation, then id)\n%+v", us, subs)
		}
		return nil
	})
	// Write's load: the account and every subscription, as they went in,
	// read afresh (a store that keeps states between Writes has the
	// Change's own values, in their zones, until a failed Write).
	wFailedWrite(t, s)
	st := wLoad(t, s, "acme", credit.Refs{Now: wt0})
	if st.Account == nil || !reflect.DeepEqual(*st.Account, acct) {
		t.Errorf("Load(acme): Account = %+v; want %+v", st.Account, acct)
	}
	if got := sortedSubs(st.Subscriptions); !reflect.DeepEqual(got, subs) {
		t.Errorf("Load(acme): Subscriptions =\n%+v\nwant\n%+v", got, subs)
	}
	if !reflect.DeepEqual(got, entries) {
		t.Errorf("Entries(acme) (oldest first) =\n%+v\nwant\n%+v", got, entries)
	}
	if gotI := wIdempotency(t, s, [2]string{"key_1", "k-42"}, [2]string{"key_2", "k-42"}); !reflect.DeepEqual(gotI, idems) {
		t.Errorf("idempotency records loaded = %+v; want %+v", gotI, idems)
	}

	snap := wSnapshot(t, s)
	if want := []credit.Account{acct}; !reflect.DeepEqual(snap.Accounts, want) {
		t.Errorf("Snapshot accounts = %+v; want %+v", snap.Accounts, want)
	}
	if !reflect.DeepEqual(snap.Grants, grants) {
		t.Errorf("Snapshot grants =\n%+v\nwant\n%+v", snap.Grants, grants)
	}
	if !reflect.DeepEqual(snap.Holds, holds) {
		t.Errorf("Snapshot holds =\n%+v\nwant (by creation, then id)\n%+v", snap.Holds, holds)
	}
	if !reflect.DeepEqual(snap.Generations, gens) {
		t.Errorf("Snapshot generations =\n%+v\nwant (by creation, then id)\n%+v", snap.Generations, gens)
	}
	if !reflect.DeepEqual(snap.Entries, entries) {
		t.Errorf("Snapshot entries =\n%+v\nwant\n%+v", snap.Entries, entries)
	}
	if !reflect.DeepEqual(snap.Subscriptions, subs) {
		t.Errorf("Snapshot subscriptions =\n%+v\nwant (by creation, then id)\n%+v", snap.Subscriptions, subs)
	}
	// The capture charged 15 credits of topaz on 2025-03-14, at a list of
	// 20; the unlimited window's charged 0 of nano-banana-pro at a list of
	// 24.5: the rollup has both.
	wantUsage := []credit.DailyUsage{
		{Account: "acme", UsageRow: credit.UsageRow{Day: "2025-03-14", Model: "nano-banana-pro", Kind: "image", Charged: 0, List: 24500, Count: 0}},
		{Account: "acme", UsageRow: credit.UsageRow{Day: "2025-03-14", Model: "topaz", Kind: "upscale", Charged: 15000, List: 20000, Count: 1}},
	}
	if got := sortedUsage(snap.Usage); !reflect.DeepEqual(got, wantUsage) {
		t.Errorf("Snapshot usage = %+v; want %+v", got, wantUsage)
	}
	var ss *credit.Snapshot
	wView(t, s, func(tx credit.Tx) error {
		sc, err := credit.Scan(tx)
		if err != nil {
			return err
		}
		ss, err = sc.SnapshotState()
		return err
	})
	if !reflect.DeepEqual(ss.Accounts, snap.Accounts) || !reflect.DeepEqual(ss.Grants, snap.Grants) ||
		!reflect.DeepEqual(ss.Subscriptions, subs) || !reflect.DeepEqual(sortedUsage(ss.Usage), wantUsage) {
		t.Errorf("SnapshotState = %+v; want the accounts, grants, subscriptions and usage of Snapshot", ss)
	}
}

// sortedSubs returns subscriptions by creation, then id (a State holds them
// in any order).
func sortedSubs(us []credit.Subscription) []credit.Subscription {
	if len(us) == 0 {
		return nil
	}
	us = slices.Clone(us)
	slices.SortFunc(us, func(a, b credit.Subscription) int {
		return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	return us
}

// sortedUsage returns rollup rows by account, day, model and kind (a store
// gives them in any order).
func sortedUsage(us []credit.DailyUsage) []credit.DailyUsage {
	if len(us) == 0 {
		return nil
	}
	us = slices.Clone(us)
	slices.SortFunc(us, func(a, b credit.DailyUsage) int {
		return cmp.Or(cmp.Compare(a.Account, b.Account), cmp.Compare(a.Day, b.Day), cmp.Compare(a.Model, b.Model), cmp.Compare(a.Kind, b.Kind))
	})
	return us
}

// wrEntryOrder: the journal's and the audit log's ids follow the order of
// the entries in a Change and of the batches in a Write, across accounts and
// across Writes.
func wrEntryOrder(t *testing.T, s credit.Store) {
	wAccount(t, s, "acme", 0, credit.Whole(100))
	wAccount(t, s, "bob", 0, credit.Whole(100))
	mk := func(account string, n int) []credit.Entry {
		var out []credit.Entry
		for i := range n {
			out = append(out, *wCharge(account, "m", credit.KindImage, wt0.Add(time.Duration(i)*time.Second), credit.Credits(i+1)))
		}
		return out
	}
	au := func(target string) []credit.AuditEntry {
		return []credit.AuditEntry{{At: wt0, Actor: "t", Action: credit.AuditGrantCreate, Target: target, Detail: []byte(`{}`)}}
	}
	round := func() {
		err := s.Write(context.Background(), []*credit.Batch{
			wBatch("bob", &credit.Change{Entries: mk("bob", 3), Audit: au("bob")}),
			wBatch("acme", &credit.Change{Entries: mk("acme", 2), Audit: au("acme")}),
		})
		if err != nil {
			t.Fatalf("Write(bob, acme): %v", err)
		}
	}
	round()
	round()
	snap := wSnapshot(t, s)
	var order []string
	for i, e := range snap.Entries {
		order = append(order, fmt.Sprintf("%s:%d", e.Account, e.ChargedDelta))
		if i > 0 && e.ID <= snap.Entries[i-1].ID {
			t.Errorf("Snapshot entries: id %d after %d; want increasing", e.ID, snap.Entries[i-1].ID)
		}
	}
	want := []string{"bob:1", "bob:2", "bob:3", "acme:1", "acme:2", "bob:1", "bob:2", "bob:3", "acme:1", "acme:2"}
	if !reflect.DeepEqual(order, want) {
		t.Errorf("journal by id = %v; want %v (the batches' order, then each Change's)", order, want)
	}
	var log []credit.AuditEntry
	wView(t, s, func(tx credit.Tx) error {
		var err error
		log, err = tx.AuditLog(0, 10)
		return err
	})
	var targets []string
	for _, e := range log {
		targets = append(targets, e.Target)
	}
	if want := []string{"acme", "bob", "acme", "bob"}; !reflect.DeepEqual(targets, want) {
		t.Errorf("AuditLog (newest first) targets = %v; want %v", targets, want)
	}
}

// wrUpdates: Change.Account, Grants, Holds, Allocations, TrimAllocations,
// Generations and Subscriptions update exactly the columns credit.Change
// says, and nothing else of the row.
func wrUpdates(t *testing.T, s credit.Store) {
	quote := []byte(`{"q":1}`)
	acct := credit.Account{ID: "acme", Overdraft: 2500, Available: 10000, Held: 6000, CreatedAt: wt0, Plan: "free", TimeZone: "Europe/Paris", Daily: "free/2026-03-07"}
	g1 := credit.Grant{ID: "g1", Account: "acme", Source: credit.SourcePromo, Granted: 10000, Remaining: 7000, Held: 3000,
		ExpiresAt: wt0.Add(time.Hour), CreatedAt: wt0, Memo: "m1", AppliesTo: credit.Eligibility{Models: []string{"m"}}, Subscription: "sub1", Period: "sub1/0/0"}
	g2 := credit.Grant{ID: "g2", Account: "acme", Source: credit.SourceTopup, Granted: 5000, Remaining: 3000, Held: 2000, CreatedAt: wt0, Memo: "m2"}
	g3 := credit.Grant{ID: "g3", Account: "acme", Source: credit.SourceSubscription, Granted: 1000,
		ExpiresAt: wt0.Add(time.Minute), ExpiredAt: wt0.Add(time.Minute), CreatedAt: wt0, PaidBack: 300}
	ovd := credit.Grant{ID: "ovd_acme", Account: "acme", Source: credit.SourceOverdraft, Held: 1000, Priority: math.MaxInt32, CreatedAt: wt0}
	h1 := credit.Hold{ID: "h1", Account: "acme", Generation: "gen1", Amount: 6000, Status: credit.HoldOpen,
		ExpiresAt: wt0.Add(15 * time.Minute), CreatedAt: wt0,
		Allocations: []credit.Allocation{{Grant: "g1", Amount: 3000}, {Grant: "g2", Amount: 2000}, {Grant: "ovd_acme", Amount: 1000}}}
	h2 := credit.Hold{ID: "h2", Account: "acme", Amount: 3000, Status: credit.HoldOpen, ExpiresAt: wt0.Add(15 * time.Minute), CreatedAt: wt0.Add(time.Second),
		Allocations: []credit.Allocation{{Grant: "g2", Amount: 1000}, {Grant: "g1", Amount: 1000}, {Grant: "ovd_acme", Amount: 1000}}}
	gen1 := credit.Generation{ID: "gen1", Account: "acme", Status: credit.GenerationHeld, Hold: "h1", Model: "m", Kind: credit.KindImage,
		CatalogVersion: "v1", Images: 3, HoldCredits: 6000, UnitCredits: 2000, Quote: quote, Window: "sub1/0", Lane: credit.LaneFast, ListCredits: 6000,
		ExpiresAt: wt0.Add(15 * time.Minute), CreatedAt: wt0}
	sub1 := credit.Subscription{ID: "sub1", Account: "acme", Plan: "pro", Billing: credit.BillMonth, TimeZone: "Europe/Paris", StartsAt: wt0,
		Period: 1, RenewsAt: wt0.Add(30 * 24 * time.Hour), Usage: []credit.WindowUsage{{Open: 1, Day: "2025-03-14", Fast: 1}}, CreatedAt: wt0}
	sub2 := credit.Subscription{ID: "sub2", Account: "acme", Plan: "basic", Billing: credit.BillYear, StartsAt: wt0.Add(-time.Hour),
		EndsAt: wt0, NextPlan: "pro", NextAt: wt0, Period: 12, CreatedAt: wt0.Add(-time.Hour), CanceledAt: wt0.Add(-time.Minute)}
	a := acct
	MustApply(t, s, "acme", &credit.Change{NewAccount: &a, NewGrants: []credit.Grant{g1, g2, g3, ovd},
		NewHolds: []credit.Hold{h1, h2}, NewGenerations: []credit.Generation{gen1}, NewSubscriptions: []credit.Subscription{sub1, sub2}})

	// What the change updates; every other field differs too, and must not
	// be written.
	resolved := wt0.Add(2 * time.Minute)
	acctU := credit.Account{ID: "acme", Overdraft: 999999, Available: -1234, Held: 0, CreatedAt: wt0.Add(time.Hour), TimeZone: "Asia/Tokyo", Daily: "sub1/day/2026-03-09"} // off the plan
	g1U := credit.Grant{ID: "g1", Account: "acme", Source: credit.SourceRefund, Granted: 1, Remaining: 0, Held: 0, Priority: 7,
		ExpiresAt: zoned(wt0.Add(9*time.Hour), wTokyo), ExpiredAt: zoned(wt0.Add(time.Hour), wParis), CreatedAt: wt0.Add(time.Hour), Memo: "changed", PaidBack: 500,
		AppliesTo: credit.Eligibility{Tags: []string{"changed"}}, Subscription: "changed", Period: "changed"} // its expiry amended
	g2U := g2
	g2U.Remaining, g2U.Held, g2U.Memo = 4000, 1000, "changed"
	g2U.AppliesTo, g2U.Period = credit.Eligibility{ExcludeTags: []string{"pro"}}, "changed"
	g3U := g3
	g3U.ExpiredAt, g3U.PaidBack = time.Time{}, 0 // back to live: NULL, and 0
	g3U.ExpiresAt = time.Time{}                  // and amended to never expire
	ovdU := ovd
	ovdU.Remaining, ovdU.Held = -2000, 0 // the overdraft grant goes below zero
	h1U := credit.Hold{ID: "h1", Account: "acme", Amount: 999, Status: credit.HoldCaptured, Captured: 4000, Released: 2000,
		ExpiresAt: wt0.Add(9 * time.Hour), CreatedAt: wt0.Add(9 * time.Hour), ResolvedAt: zoned(resolved, wTokyo)}
	h2U := h2
	h2U.Status, h2U.Released, h2U.ResolvedAt = credit.HoldReleased, 3000, resolved
	gen1U := credit.Generation{ID: "gen1", Account: "acme", Status: credit.GenerationCompleted, Hold: "hX", Model: "x", Kind: credit.KindUpscale,
		CatalogVersion: "vX", Images: 99, ImagesDelivered: 2, HoldCredits: 1, UnitCredits: 1, Surcharge: 1, Charged: 4000, Refunded: 1000,
		Quote: []byte(`{"changed":true}`), Window: "changed", Lane: credit.LaneRelaxed, ListCredits: 1,
		ExpiresAt: wt0.Add(9 * time.Hour), CreatedAt: wt0.Add(9 * time.Hour), ResolvedAt: zoned(resolved, wParis)}
	// Every field of a subscription but its id, account and creation.
	sub1U := credit.Subscription{ID: "sub1", Account: "bob", Plan: "max ✿", Billing: credit.BillQuarter, TimeZone: "Asia/Tokyo",
		StartsAt: zoned(wt0.Add(time.Minute), wTokyo), EndsAt: zoned(wt0.Add(90*24*time.Hour), wParis), NextPlan: "basic",
		NextAt: zoned(wt0.Add(60*24*time.Hour), wTokyo), Period: 3, RenewsAt: zoned(wt0.Add(31*24*time.Hour), wParis),
		Usage: []credit.WindowUsage{{Open: 0, Day: "2025-03-15", Fast: 4}, {Open: 3}}, CreatedAt: wt0.Add(time.Hour), CanceledAt: zoned(resolved, wTokyo)}
	// Every optional field back to zero: NULL, and none.
	sub2U := credit.Subscription{ID: "sub2", Account: "acme", Plan: "basic", Billing: credit.BillMonth, StartsAt: wt0.Add(-time.Hour), Period: 0,
		CreatedAt: wt0.Add(-time.Hour)}
	MustApply(t, s, "acme", &credit.Change{
		Account:       &acctU,
		Subscriptions: []credit.Subscription{sub1U, sub2U},
		Grants:        []credit.Grant{g1U, g2U, g3U, ovdU},
		Holds:         []credit.Hold{h1U, h2U},
		Allocations: []credit.AllocationRow{
			{Hold: "h1", Seq: 0, Allocation: credit.Allocation{Grant: "g1", Amount: 3000, Captured: 3000, Refunded: 1000}}, // overwrite
			{Hold: "h1", Seq: 1, Allocation: credit.Allocation{Grant: "g3", Amount: 2000, Captured: 1000}},                 // another grant
			{Hold: "h1", Seq: 3, Allocation: credit.Allocation{Grant: "g2", Amount: 500}},                                  // a new one
			{Hold: "h2", Seq: 0, Allocation: credit.Allocation{Grant: "g2", Amount: 1500}},
		},
		TrimAllocations: []credit.AllocationRow{{Hold: "h2", Seq: 1}}, // h2 keeps one
		Generations:     []credit.Generation{gen1U},
	})

	wantA := acct
	wantA.Available, wantA.Held, wantA.Plan, wantA.TimeZone, wantA.Daily = -1234, 0, "", "Asia/Tokyo", "sub1/day/2026-03-09"
	wantG1 := g1
	wantG1.Remaining, wantG1.Held, wantG1.PaidBack, wantG1.ExpiresAt, wantG1.ExpiredAt = 0, 0, 500, wt0.Add(9*time.Hour), wt0.Add(time.Hour)
	wantG2 := g2
	wantG2.Remaining, wantG2.Held = 4000, 1000
	wantG3 := g3
	wantG3.ExpiresAt, wantG3.ExpiredAt, wantG3.PaidBack = time.Time{}, time.Time{}, 0
	wantSub1 := sub1
	wantSub1.Plan, wantSub1.Billing, wantSub1.TimeZone, wantSub1.StartsAt, wantSub1.EndsAt = "max ✿", credit.BillQuarter, "Asia/Tokyo", wt0.Add(time.Minute), wt0.Add(90*24*time.Hour)
	wantSub1.NextPlan, wantSub1.NextAt, wantSub1.Period, wantSub1.RenewsAt = "basic", wt0.Add(60*24*time.Hour), 3, wt0.Add(31*24*time.Hour)
	wantSub1.Usage, wantSub1.CanceledAt = []credit.WindowUsage{{Open: 0, Day: "2025-03-15", Fast: 4}, {Open: 3}}, resolved
	wantSub2 := sub2U
	wantOvd := ovd
	wantOvd.Remaining, wantOvd.Held = -2000, 0
	wantH1 := h1
	wantH1.Status, wantH1.Captured, wantH1.Released, wantH1.ResolvedAt = credit.HoldCaptured, 4000, 2000, resolved
	wantH1.Allocations = []credit.Allocation{{Grant: "g1", Amount: 3000, Captured: 3000, Refunded: 1000}, {Grant: "g3", Amount: 2000, Captured: 1000},
		{Grant: "ovd_acme", Amount: 1000}, {Grant: "g2", Amount: 500}}
	wantH2 := h2
	wantH2.Status, wantH2.Released, wantH2.ResolvedAt = credit.HoldReleased, 3000, resolved
	wantH2.Allocations = []credit.Allocation{{Grant: "g2", Amount: 1500}}
	wantGen := gen1
	wantGen.Status, wantGen.ImagesDelivered, wantGen.Charged, wantGen.Refunded, wantGen.ResolvedAt = credit.GenerationCompleted, 2, 4000, 1000, resolved
	wantGen.ListCredits = 1 // 0.001 credits, as the update wrote

	check := func(when string, grants []credit.Grant, holds []credit.Hold) {
		t.Helper()
		wView(t, s, func(tx credit.Tx) error {
			a, err := tx.Account("acme")
			if err != nil {
				return err
			}
			if !reflect.DeepEqual(a, wantA) {
				t.Errorf("%s: Account(acme) = %+v; want %+v (only Available, Held, Plan, TimeZone and Daily updated)", when, a, wantA)
			}
			gs, err := tx.Grants("acme")
			if err != nil {
				return err
			}
			if !reflect.DeepEqual(gs, grants) {
				t.Errorf("%s: Grants(acme) =\n%+v\nwant (only Remaining, Held, PaidBack, ExpiresAt, ExpiredAt updated)\n%+v", when, gs, grants)
			}
			for _, w := range holds {
				h, err := tx.Hold(w.ID)
				if err != nil {
					return err
				}
				if !reflect.DeepEqual(h, w) {
					t.Errorf("%s: Hold(%s) =\n%+v\nwant\n%+v", when, w.ID, h, w)
				}
			}
			g, err := tx.Generation("gen1")
			if err != nil {
				return err
			}
			if !reflect.DeepEqual(g, wantGen) {
				t.Errorf("%s: Generation(gen1) =\n%+v\nwant (only Status, ImagesDelivered, Charged, Refunded, ResolvedAt and ListCredits updated)\n%+v", when, g, wantGen)
			}
			for _, w := range []credit.Subscription{wantSub1, wantSub2} {
				u, err := tx.Subscription(w.ID)
				if err != nil {
					return err
				}
				if !reflect.DeepEqual(u, w) {
					t.Errorf("%s: Subscription(%s) =\n%+v\nwant (all but ID, Account, CreatedAt updated)\n%+v", when, w.ID, u, w)
				}
			}
			return nil
		})
		snap := wSnapshot(t, s)
		if !reflect.DeepEqual(snap.Grants, grants) {
			t.Errorf("%s: Snapshot grants =\n%+v\nwant\n%+v", when, snap.Grants, grants)
		}
		if !reflect.DeepEqual(snap.Holds, holds) {
			t.Errorf("%s: Snapshot holds =\n%+v\nwant\n%+v", when, snap.Holds, holds)
		}
		if want := []credit.Subscription{wantSub2, wantSub1}; !reflect.DeepEqual(snap.Subscriptions, want) {
			t.Errorf("%s: Snapshot subscriptions =\n%+v\nwant\n%+v", when, snap.Subscriptions, want)
		}
	}
	// Consumption order: g1 expires (amended to 9h); g2 and g3 never, by id;
	// the overdraft last.
	check("after the update", []credit.Grant{wantG1, wantG2, wantG3, wantOvd}, []credit.Hold{wantH1, wantH2})

	// Allocations grow again after a trim, and a trim from 0 leaves none.
	MustApply(t, s, "acme", &credit.Change{
		Allocations: []credit.AllocationRow{
			{Hold: "h2", Seq: 1, Allocation: credit.Allocation{Grant: "g1", Amount: 700}},
			{Hold: "h2", Seq: 2, Allocation: credit.Allocation{Grant: "ovd_acme", Amount: 300, Captured: 300}},
		},
		TrimAllocations: []credit.AllocationRow{{Hold: "h1", Seq: 0}},
	})
	wantH1.Allocations = nil
	wantH2.Allocations = []credit.Allocation{{Grant: "g2", Amount: 1500}, {Grant: "g1", Amount: 700}, {Grant: "ovd_acme", Amount: 300, Captured: 300}}
	check("after the regrowth", []credit.Grant{wantG1, wantG2, wantG3, wantOvd}, []credit.Hold{wantH1, wantH2})

	// Load gives the same rows (g3, spent, never expiring and in no
	// allocation, is not in the working set), as the store has them
	// afresh after a failed Write.
	for _, when := range []string{"after the updates", "after the updates and a failed Write"} {
		st := wLoad(t, s, "acme", credit.Refs{Now: wt0, Holds: []string{"h1", "h2"}, Generations: []string{"gen1"}})
		wantState(t, s, "acme", "Load(acme) "+when, st, &wantA, []credit.Grant{wantG1, wantG2, wantOvd},
			[]credit.Hold{wantH1, wantH2}, []credit.Generation{wantGen}, nil)
		if want := []credit.Subscription{wantSub2, wantSub1}; !reflect.DeepEqual(sortedSubs(st.Subscriptions), want) {
			t.Errorf("Load(acme) %s: Subscriptions =\n%+v\nwant\n%+v", when, st.Subscriptions, want)
		}
		wFailedWrite(t, s)
	}
}

func grantIDs(gs []credit.Grant) []string {
	var out []string
	for _, g := range gs {
		out = append(out, g.ID)
	}
	return out
}

func holdIDs(hs []credit.Hold) []string {
	var out []string
	for _, h := range hs {
		out = append(out, h.ID)
	}
	return out
}

// wLoad returns a copy of the State store.Write loads for account and refs,
// writing nothing. (A store may go on using the State it gave Decide once
// Decide has returned, as SQLite's cache does: the copy is taken in Decide.)
func wLoad(t testing.TB, s credit.Store, account string, refs credit.Refs) *credit.State {
	t.Helper()
	var got *credit.State
	err := s.Write(context.Background(), []*credit.Batch{{Account: account, Writes: 1, Refs: refs, Decide: func(st *credit.State) (*credit.Change, error) {
		got = st.Clone()
		return &credit.Change{}, nil
	}}})
	if err != nil {
		t.Fatalf("Write(%s) to load: %v", account, err)
	}
	return got
}

// wantState checks a State loaded for account id against the credit.State
// doc: the account as it is; at least the grants, holds, generations and
// idempotency records given, each whole; every subscription of the account,
// as the store has it; whatever else it holds (a store may load more) the
// account's own, as the store has it (read afresh in a View), each once.
// What it loads beyond the doc's minimum is logged. (The order of the
// grants is wrLoadGrantOrder's.)
func wantState(t testing.TB, s credit.Store, id, what string, got *credit.State, account *credit.Account, grants []credit.Grant, holds []credit.Hold,
	gens []credit.Generation, idem []credit.IdempotencyRecord) {
	t.Helper()
	switch {
	case account == nil && got.Account != nil:
		t.Errorf("%s: Account = %+v; want nil", what, *got.Account)
	case account != nil && got.Account == nil:
		t.Errorf("%s: Account = nil; want %+v", what, *account)
	case account != nil && !reflect.DeepEqual(*got.Account, *account):
		t.Errorf("%s: Account = %+v; want %+v", what, *got.Account, *account)
	}
	// The store's rows, read afresh.
	truthG := map[string]credit.Grant{}
	truthH := map[string]credit.Hold{}
	truthGen := map[string]credit.Generation{}
	wView(t, s, func(tx credit.Tx) error {
		gs, err := tx.Grants(id)
		if err != nil {
			return err
		}
		subs, err := tx.Subscriptions(id)
		if err != nil {
			return err
		}
		if got := sortedSubs(got.Subscriptions); !reflect.DeepEqual(got, sortedSubs(subs)) {
			t.Errorf("%s: Subscriptions =\n%+v\nwant every one of the account's, as the store has them\n%+v", what, got, subs)
		}
		for _, g := range gs {
			truthG[g.ID] = g
		}
		for _, h := range got.Holds {
			if x, err := tx.Hold(h.ID); err == nil {
				truthH[h.ID] = x
			} else if credit.ErrorCode(err) != credit.NotFound {
				return err
			}
		}
		for _, g := range got.Generations {
			if x, err := tx.Generation(g.ID); err == nil {
				truthGen[g.ID] = x
			} else if credit.ErrorCode(err) != credit.NotFound {
				return err
			}
		}
		return nil
	})
	var extra []string
	extra = append(extra, wLoaded(t, what, id, "grant", got.Grants, grants, truthG, func(g credit.Grant) (string, string) { return g.ID, g.Account })...)
	extra = append(extra, wLoaded(t, what, id, "hold", got.Holds, holds, truthH, func(h credit.Hold) (string, string) { return h.ID, h.Account })...)
	extra = append(extra, wLoaded(t, what, id, "generation", got.Generations, gens, truthGen, func(g credit.Generation) (string, string) { return g.ID, g.Account })...)
	for _, w := range idem {
		i := slices.IndexFunc(got.Idempotency, func(r credit.IdempotencyRecord) bool { return r.Scope == w.Scope && r.Key == w.Key })
		if i < 0 {
			t.Errorf("%s: idempotency record (%s, %s) not loaded; want %+v", what, w.Scope, w.Key, w)
		} else if !reflect.DeepEqual(got.Idempotency[i], w) {
			t.Errorf("%s: idempotency record (%s, %s) loaded as %+v; want %+v", what, w.Scope, w.Key, got.Idempotency[i], w)
		}
	}
	for _, r := range got.Idempotency {
		if !slices.ContainsFunc(idem, func(w credit.IdempotencyRecord) bool { return r.Scope == w.Scope && r.Key == w.Key }) {
			extra = append(extra, "idempotency("+r.Scope+", "+r.Key+")")
		}
	}
	if len(extra) > 0 {
		t.Logf("%s: also loaded (a superset is allowed): %v", what, extra)
	}
}

// wrLoad: Write loads at least the State the credit.State doc describes,
// every row of it as the store has it, and nothing of another account.
func wrLoad(t *testing.T, s credit.Store) {
	now := wt0.Add(time.Hour)
	m := time.Minute
	acct := credit.Account{ID: "acme", Overdraft: 5000, Available: 7000, Held: 4500, CreatedAt: wt0}
	g := func(id string, priority int, remaining, held credit.Credits, expires, expired time.Time, created time.Time, paidBack credit.Credits) credit.Grant {
		return credit.Grant{ID: id, Account: "acme", Source: credit.SourcePromo, Granted: 10000, Remaining: remaining, Held: held,
			Priority: priority, ExpiresAt: expires, ExpiredAt: expired, CreatedAt: created, Memo: id, PaidBack: paidBack}
	}
	var never time.Time
	gr := map[string]credit.Grant{}
	for _, x := range []credit.Grant{
		{ID: "ovd_acme", Account: "acme", Source: credit.SourceOverdraft, Remaining: -500, Priority: math.MaxInt32, CreatedAt: wt0}, // always
		g("g-live", 0, 10000, 0, never, never, wt0.Add(-time.Second), 0),                                                            // something left
		g("g-held", 0, 0, 3000, never, never, wt0, 0),                                                                               // something held
		g("g-spent", 0, 0, 0, never, never, wt0, 0),                                                                                 // spent, never expires: not loaded
		g("g-future", 0, 0, 0, now.Add(24*time.Hour), never, wt0, 0),                                                                // spent, expiry still to reach
		g("g-paidback", 0, 0, 0, wt0.Add(30*m), wt0.Add(30*m), wt0, 2000),                                                           // expired, paid back an overdraft
		g("g-expired", 0, 0, 0, wt0.Add(10*m), wt0.Add(10*m), wt0, 0),                                                               // expired: only by h-gen's allocation
		g("g-due", 0, 500, 0, wt0.Add(20*m), never, wt0, 0),                                                                         // past its expiry, not yet marked
		g("g-ref", 2, 0, 0, never, never, wt0.Add(-2*time.Second), 0),                                                               // spent: only by h-named's allocation
		g("g-gen", 2, 0, 0, never, never, wt0, 0),                                                                                   // spent: only by h-gen's allocation
	} {
		gr[x.ID] = x
	}
	al := func(grant string, amount, captured credit.Credits) credit.Allocation {
		return credit.Allocation{Grant: grant, Amount: amount, Captured: captured}
	}
	hold := func(id, gen string, status credit.HoldStatus, expires, created time.Time, allocs ...credit.Allocation) credit.Hold {
		h := credit.Hold{ID: id, Account: "acme", Generation: gen, Status: status, ExpiresAt: expires, CreatedAt: created, Allocations: allocs}
		for _, a := range allocs {
			h.Amount += a.Amount
			h.Captured += a.Captured
		}
		if status != credit.HoldOpen {
			h.Released = h.Amount - h.Captured
			h.ResolvedAt = created.Add(m)
		}
		return h
	}
	ho := map[string]credit.Hold{}
	for _, x := range []credit.Hold{
		// Due at now: loaded, with its generation. Allocations out of id order.
		hold("h-due", "gen-due", credit.HoldOpen, wt0.Add(30*m), wt0.Add(1*m), al("g-live", 1000, 0), al("g-held", 3000, 0)),
		hold("h-due-now", "", credit.HoldOpen, now, wt0.Add(2*m), al("g-live", 500, 0)), // due at its expiry
		hold("h-later", "", credit.HoldOpen, now.Add(time.Microsecond), wt0.Add(3*m), al("g-spent", 100, 0)),
		hold("h-ovd", "", credit.HoldOpen, now.Add(time.Hour), wt0.Add(4*m), al("g-live", 1000, 0), al("ovd_acme", 500, 0)),
		hold("h-named", "", credit.HoldCaptured, wt0.Add(30*m), wt0.Add(5*m), al("g-ref", 700, 700)),
		hold("h-resolved", "gen-other", credit.HoldReleased, wt0.Add(30*m), wt0.Add(6*m), al("g-spent", 100, 0)),
		hold("h-gen", "gen-named", credit.HoldCaptured, wt0.Add(30*m), wt0.Add(7*m), al("g-gen", 800, 800), al("g-expired", 200, 200)),
	} {
		ho[x.ID] = x
	}
	gen := func(id, hold string, status credit.GenerationStatus, account string) credit.Generation {
		return credit.Generation{ID: id, Account: account, Status: status, Hold: hold, Model: "flux-dev", Kind: credit.KindImage,
			CatalogVersion: "v1", Images: 1, HoldCredits: 5000, UnitCredits: 5000, Quote: []byte(`{"id":"` + id + `"}`),
			ExpiresAt: wt0.Add(30 * m), CreatedAt: wt0}
	}
	ge := map[string]credit.Generation{}
	for _, x := range []credit.Generation{
		gen("gen-due", "h-due", credit.GenerationHeld, "acme"),
		gen("gen-named", "h-gen", credit.GenerationCompleted, "acme"),
		gen("gen-other", "h-resolved", credit.GenerationFailed, "acme"),
	} {
		ge[x.ID] = x
	}
	rec := func(scope, key string) credit.IdempotencyRecord {
		return credit.IdempotencyRecord{Idempotency: credit.Idempotency{Scope: scope, Key: key, Hash: "h-" + scope + key},
			Response: []byte(`{"k":"` + key + `"}`), CreatedAt: wt0}
	}
	ch := &credit.Change{NewAccount: &acct,
		Idempotency: []credit.IdempotencyRecord{rec("s1", "k1"), rec("s1", "k2"), rec("s2", "k1")}}
	for _, x := range gr {
		ch.NewGrants = append(ch.NewGrants, x)
	}
	for _, x := range ho {
		ch.NewHolds = append(ch.NewHolds, x)
	}
	for _, x := range ge {
		ch.NewGenerations = append(ch.NewGenerations, x)
	}
	MustApply(t, s, "acme", ch)
	// bob: a due open hold with its generation, named by acme's refs.
	bob := wNewAccount("bob", 0, credit.Whole(10))
	hBob := credit.Hold{ID: "h-bob", Account: "bob", Generation: "gen-bob", Amount: 100, Status: credit.HoldOpen,
		ExpiresAt: wt0.Add(30 * m), CreatedAt: wt0, Allocations: []credit.Allocation{{Grant: "grt_bob", Amount: 100}}}
	genBob := gen("gen-bob", "h-bob", credit.GenerationHeld, "bob")
	bob.NewHolds, bob.NewGenerations = []credit.Hold{hBob}, []credit.Generation{genBob}
	MustApply(t, s, "bob", bob)

	grants := func(ids ...string) []credit.Grant {
		var out []credit.Grant
		for _, id := range ids {
			out = append(out, gr[id])
		}
		return out
	}
	holds := func(ids ...string) []credit.Hold {
		var out []credit.Hold
		for _, id := range ids {
			out = append(out, ho[id])
		}
		return out
	}
	gens := func(ids ...string) []credit.Generation {
		var out []credit.Generation
		for _, id := range ids {
			out = append(out, ge[id])
		}
		return out
	}

	// In the order of their Now, as the ledger's clock goes.
	t.Run("NamedGenerationOnly", func(t *testing.T) {
		// A generation named brings its hold, and the hold its grants.
		st := wLoad(t, s, "acme", credit.Refs{Now: wt0, Generations: []string{"gen-other"}})
		wantState(t, s, "acme", "Load(acme, gen-other named, wt0)", st, &acct,
			grants("g-due", "g-paidback", "g-future", "g-live", "g-held", "g-spent", "ovd_acme"),
			holds("h-ovd", "h-resolved"), gens("gen-other"), nil)
	})
	t.Run("NothingNamed", func(t *testing.T) {
		// A microsecond before h-due's expiry: only h-ovd, which draws on the
		// overdraft; no generation; no grant only a hold names.
		st := wLoad(t, s, "acme", credit.Refs{Now: wt0.Add(30*m - time.Microsecond)})
		wantState(t, s, "acme", "Load(acme, nothing named, h-due's expiry − 1µs)", st, &acct,
			grants("g-due", "g-paidback", "g-future", "g-live", "g-held", "ovd_acme"),
			holds("h-ovd"), nil, nil)
	})
	t.Run("NamedAndDue", func(t *testing.T) {
		st := wLoad(t, s, "acme", credit.Refs{Now: now,
			Holds:       []string{"h-named", "h-bob", "h-nope"},
			Generations: []string{"gen-named", "gen-bob", "gen-nope"},
			Idempotency: []credit.Idempotency{{Scope: "s1", Key: "k1"}, {Scope: "s2", Key: "k1"}, {Scope: "s1", Key: "k-nope"}, {Scope: "s3", Key: "k2"}}})
		wantState(t, s, "acme", "Load(acme, named, now)", st, &acct,
			// Consumption order: priority 0 expiring by expiry, then
			// never-expiring by creation; priority 2; the overdraft.
			grants("g-expired", "g-due", "g-paidback", "g-future", "g-live", "g-held", "g-ref", "g-gen", "ovd_acme"),
			holds("h-due", "h-due-now", "h-ovd", "h-named", "h-gen"),
			gens("gen-due", "gen-named"),
			[]credit.IdempotencyRecord{rec("s1", "k1"), rec("s2", "k1")})
	})
	t.Run("DueOnly", func(t *testing.T) {
		// At the same Now, nothing named: what the load before was given
		// for its names is not loaded again.
		st := wLoad(t, s, "acme", credit.Refs{Now: now})
		wantState(t, s, "acme", "Load(acme, nothing named, now)", st, &acct,
			grants("g-due", "g-paidback", "g-future", "g-live", "g-held", "ovd_acme"),
			holds("h-due", "h-due-now", "h-ovd"), gens("gen-due"), nil)
	})
	t.Run("OtherAccount", func(t *testing.T) {
		// acme's rows, even named, are not bob's.
		st := wLoad(t, s, "bob", credit.Refs{Now: now, Holds: []string{"h-named", "h-due"}, Generations: []string{"gen-named", "gen-due"}})
		b := *bob.NewAccount
		wantState(t, s, "bob", "Load(bob, acme's rows named)", st, &b,
			[]credit.Grant{bob.NewGrants[1], bob.NewGrants[0]}, []credit.Hold{hBob}, []credit.Generation{genBob}, nil)
	})
	t.Run("UnknownAccount", func(t *testing.T) {
		st := wLoad(t, s, "nobody", credit.Refs{Now: now, Holds: []string{"h-due"}, Generations: []string{"gen-due"},
			Idempotency: []credit.Idempotency{{Scope: "s1", Key: "k2"}}})
		// The idempotency records are the scope's, not an account's.
		wantState(t, s, "nobody", "Load(nobody)", st, nil, nil, nil, nil, []credit.IdempotencyRecord{rec("s1", "k2")})
	})
}

// wrLoadGrantOrder: Load gives the working set in consumption order:
// priority (lower first), then expiry (earliest first, never-expiring last),
// then creation, then id; and so does Tx.Grants.
func wrLoadGrantOrder(t *testing.T, s credit.Store) {
	wAccount(t, s, "acme", 0, 0) // ovd_acme, priority MaxInt32: last of all
	var gs []credit.Grant
	for _, g := range wOrderGrants {
		var exp time.Time
		if g.expiresIn != 0 {
			exp = wt0.Add(time.Duration(g.expiresIn) * 24 * time.Hour)
		}
		gs = append(gs, credit.Grant{ID: g.id, Account: "acme", Source: credit.SourceTopup, Granted: 1, Remaining: 1,
			Priority: g.priority, ExpiresAt: exp, CreatedAt: wt0.Add(time.Duration(g.createdIn) * time.Second)})
	}
	MustApply(t, s, "acme", &credit.Change{NewGrants: gs})
	st := wLoad(t, s, "acme", credit.Refs{Now: wt0})
	if got := grantIDs(st.Grants); !reflect.DeepEqual(got, wOrderWant) {
		t.Errorf("Load(acme) grants = %v; want %v", got, wOrderWant)
	}
	// Read afresh: after a failed Write, a store that keeps states between
	// Writes (SQLite) loads them again.
	wFailedWrite(t, s)
	st = wLoad(t, s, "acme", credit.Refs{Now: wt0})
	if got := grantIDs(st.Grants); !reflect.DeepEqual(got, wOrderWant) {
		t.Errorf("Load(acme) after a failed Write: grants = %v; want %v", got, wOrderWant)
	}
}

// wFailedWrite runs a Write that fails (its Decide does).
func wFailedWrite(t testing.TB, s credit.Store) {
	t.Helper()
	err := s.Write(context.Background(), []*credit.Batch{{Account: "nobody", Writes: 1, Refs: credit.Refs{Now: wt0},
		Decide: func(*credit.State) (*credit.Change, error) { return nil, errors.New("failed on purpose") }}})
	if err == nil {
		t.Fatalf("Write(Decide fails) = nil; want an error")
	}
}

// wrLoadFollowsWrites: what Write loads follows what the Writes before it
// applied, row for row, as a fresh read of the store gives it: rows enter
// the working set and leave it as their columns change.
func wrLoadFollowsWrites(t *testing.T, s credit.Store) {
	m := time.Minute
	acct := credit.Account{ID: "acme", Overdraft: 1000, Available: 3000, Held: 1000, CreatedAt: wt0}
	ovd := credit.Grant{ID: "ovd_acme", Account: "acme", Source: credit.SourceOverdraft, Priority: math.MaxInt32, CreatedAt: wt0}
	g1 := credit.Grant{ID: "g1", Account: "acme", Source: credit.SourceTopup, Granted: 4000, Remaining: 3000, Held: 1000, CreatedAt: wt0}
	h1 := credit.Hold{ID: "h1", Account: "acme", Amount: 1000, Status: credit.HoldOpen, ExpiresAt: wt0.Add(10 * m), CreatedAt: wt0,
		Allocations: []credit.Allocation{{Grant: "g1", Amount: 1000}}}
	a := acct
	MustApply(t, s, "acme", &credit.Change{NewAccount: &a, NewGrants: []credit.Grant{ovd, g1}, NewHolds: []credit.Hold{h1}})
	at := wt0.Add(20 * m)
	st := wLoad(t, s, "acme", credit.Refs{Now: at})
	wantState(t, s, "acme", "1: h1 due", st, &acct, []credit.Grant{g1, ovd}, []credit.Hold{h1}, nil, nil)

	// h1 captured whole, g1 spent: neither is loaded any more.
	acct.Available, acct.Held = 0, 0
	g1.Remaining, g1.Held = 0, 0
	h1.Status, h1.Captured, h1.ResolvedAt = credit.HoldCaptured, 1000, at
	h1.Allocations[0].Captured = 1000
	MustApply(t, s, "acme", &credit.Change{
		Account:     &credit.Account{ID: "acme", Available: 0, Held: 0},
		Grants:      []credit.Grant{g1},
		Holds:       []credit.Hold{h1},
		Allocations: []credit.AllocationRow{{Hold: "h1", Seq: 0, Allocation: h1.Allocations[0]}},
	})
	st = wLoad(t, s, "acme", credit.Refs{Now: at})
	wantState(t, s, "acme", "2: h1 captured, g1 spent", st, &acct, []credit.Grant{ovd}, nil, nil, nil)
	st = wLoad(t, s, "acme", credit.Refs{Now: at, Holds: []string{"h1"}})
	wantState(t, s, "acme", "2: h1 named", st, &acct, []credit.Grant{g1, ovd}, []credit.Hold{h1}, nil, nil)

	// A hold on the overdraft (not due) and a spent, never-expiring grant
	// in the same Write: the hold is loaded, the grant is not.
	acct.Available, acct.Held = -500, 500
	ovd.Remaining, ovd.Held = -500, 500
	g2 := credit.Grant{ID: "g2", Account: "acme", Source: credit.SourcePromo, Granted: 1, CreatedAt: wt0.Add(m)}
	h2 := credit.Hold{ID: "h2", Account: "acme", Amount: 500, Status: credit.HoldOpen, ExpiresAt: at.Add(time.Hour), CreatedAt: at,
		Allocations: []credit.Allocation{{Grant: "ovd_acme", Amount: 500}}}
	MustApply(t, s, "acme", &credit.Change{
		Account:   &credit.Account{ID: "acme", Available: -500, Held: 500},
		NewGrants: []credit.Grant{g2},
		Grants:    []credit.Grant{ovd},
		NewHolds:  []credit.Hold{h2},
	})
	st = wLoad(t, s, "acme", credit.Refs{Now: at})
	wantState(t, s, "acme", "3: h2 on the overdraft", st, &acct, []credit.Grant{ovd}, []credit.Hold{h2}, nil, nil)

	// A grant that pays the overdraft back, with an expiry: loaded; h2's
	// allocation moves to it (overwritten at its seq, the overdraft's
	// appended): h2 is still loaded, it has an allocation on the overdraft.
	g3 := credit.Grant{ID: "g3", Account: "acme", Source: credit.SourceSubscription, Granted: 2000, Remaining: 1500,
		ExpiresAt: at.Add(24 * time.Hour), CreatedAt: at, PaidBack: 500}
	ovd.Remaining, ovd.Held = 0, 300
	h2.Allocations = []credit.Allocation{{Grant: "g3", Amount: 200}, {Grant: "ovd_acme", Amount: 300}}
	acct.Available, acct.Held = 1500, 500
	MustApply(t, s, "acme", &credit.Change{
		Account:   &credit.Account{ID: "acme", Available: 1500, Held: 500},
		NewGrants: []credit.Grant{g3},
		Grants:    []credit.Grant{ovd},
		Allocations: []credit.AllocationRow{
			{Hold: "h2", Seq: 0, Allocation: h2.Allocations[0]},
			{Hold: "h2", Seq: 1, Allocation: h2.Allocations[1]},
		},
	})
	st = wLoad(t, s, "acme", credit.Refs{Now: at})
	wantState(t, s, "acme", "4: g3 paid the overdraft back", st, &acct, []credit.Grant{g3, ovd}, []credit.Hold{h2}, nil, nil)

	// The overdraft's allocation trimmed: h2 leaves the working set.
	h2.Allocations = h2.Allocations[:1]
	MustApply(t, s, "acme", &credit.Change{TrimAllocations: []credit.AllocationRow{{Hold: "h2", Seq: 1}}})
	st = wLoad(t, s, "acme", credit.Refs{Now: at})
	wantState(t, s, "acme", "5: h2's overdraft allocation trimmed", st, &acct, []credit.Grant{g3, ovd}, nil, nil, nil)

	// g3 expires (marked, nothing left): still loaded, it paid back.
	g3.Remaining, g3.ExpiredAt = 0, at.Add(24*time.Hour)
	MustApply(t, s, "acme", &credit.Change{Grants: []credit.Grant{g3}})
	st = wLoad(t, s, "acme", credit.Refs{Now: at.Add(25 * time.Hour)})
	wantState(t, s, "acme", "6: g3 expired", st, &acct, []credit.Grant{g3, ovd}, []credit.Hold{h2}, nil, nil)

	// Every Load agrees with the store's own reads.
	wView(t, s, func(tx credit.Tx) error {
		a, err := tx.Account("acme")
		if err == nil && !reflect.DeepEqual(a, acct) {
			t.Errorf("Account(acme) = %+v; want %+v", a, acct)
		}
		return err
	})
}

// wrLoadAfterChangeOfUnloadedRow: a Change may update a row the State
// Decide was given did not hold (Store.Write applies whatever Change says;
// the ledger itself only changes rows it loaded): a spent, never-expiring
// grant given credits again is in the working set, and the next load has
// it as the store does.
func wrLoadAfterChangeOfUnloadedRow(t *testing.T, s credit.Store) {
	wAccount(t, s, "acme", 0, credit.Whole(100))
	spent := credit.Grant{ID: "g-spent", Account: "acme", Source: credit.SourceTopup, Granted: 500, CreatedAt: wt0.Add(time.Second)}
	MustApply(t, s, "acme", &credit.Change{NewGrants: []credit.Grant{spent}})
	st := wLoad(t, s, "acme", credit.Refs{Now: wt0})
	acct := credit.Account{ID: "acme", Available: credit.Whole(100), CreatedAt: wt0}
	grt, ovd := wNewAccount("acme", 0, credit.Whole(100)).NewGrants[1], wNewAccount("acme", 0, credit.Whole(100)).NewGrants[0]
	wantState(t, s, "acme", "before", st, &acct, []credit.Grant{grt, ovd}, nil, nil, nil)

	spent.Remaining = 500
	acct.Available += 500
	MustApply(t, s, "acme", &credit.Change{Account: &credit.Account{ID: "acme", Available: acct.Available}, Grants: []credit.Grant{spent}})
	st = wLoad(t, s, "acme", credit.Refs{Now: wt0})
	wantState(t, s, "acme", "after g-spent was given 0.5 credits", st, &acct, []credit.Grant{grt, spent, ovd}, nil, nil, nil)
}

// wrDecideModifiesState: what a Decide does to the State it is given (the
// ledger's copies it; nothing forbids changing it) is not what the next
// Write loads: that is the store's.
func wrDecideModifiesState(t *testing.T, s credit.Store) {
	wAccount(t, s, "acme", 0, credit.Whole(100))
	acct := credit.Account{ID: "acme", Available: credit.Whole(100), CreatedAt: wt0}
	grt, ovd := wNewAccount("acme", 0, credit.Whole(100)).NewGrants[1], wNewAccount("acme", 0, credit.Whole(100)).NewGrants[0]
	wantState(t, s, "acme", "before", wLoad(t, s, "acme", credit.Refs{Now: wt0}), &acct, []credit.Grant{grt, ovd}, nil, nil, nil)
	c := &credit.Change{Audit: []credit.AuditEntry{{At: wt0, Actor: "t", Action: credit.AuditGrantCreate, Target: "acme", Detail: []byte(`{}`)}}}
	{
		err := s.Write(context.Background(), []*credit.Batch{{Account: "acme", Writes: 1, Refs: credit.Refs{Now: wt0},
			Decide: func(st *credit.State) (*credit.Change, error) {
				if st.Account != nil {
					st.Account.Available = 1
				}
				for i := range st.Grants {
					st.Grants[i].Remaining = 7
				}
				st.Grants = append(st.Grants, credit.Grant{ID: "g-scratch", Account: "acme", Source: credit.SourcePromo, Remaining: 9, CreatedAt: wt0})
				st.Holds = append(st.Holds, credit.Hold{ID: "h-scratch", Account: "acme", Status: credit.HoldOpen, ExpiresAt: wt0, CreatedAt: wt0})
				return c, nil
			}}})
		if err != nil {
			t.Fatalf("Write(Decide modifies its State): %v", err)
		}
		wantState(t, s, "acme", "after a Decide modified its State", wLoad(t, s, "acme", credit.Refs{Now: wt0}), &acct, []credit.Grant{grt, ovd}, nil, nil, nil)
	}
}

// wOrderGrants are inserted in this order; the ids are chosen so that
// neither insertion nor id order is consumption order (wOrderWant).
var wOrderGrants = []struct {
	id        string
	priority  int
	expiresIn int // days after wt0; 0: never
	createdIn int // seconds after wt0
}{
	{"m", 1, 0, 0},
	{"k", 0, 0, 0},
	{"z", 0, 2, 1},
	{"q", 0, 1, 0},
	{"c", 0, 2, 0},
	{"b", 0, 2, 0},
	{"a", 0, 0, 1},
	{"y", 0, 30, 0},
	{"x", 0, 31, 0},
	{"d", 1, 100, 0},
}

var wOrderWant = []string{
	"q",           // priority 0, expires first
	"b", "c", "z", // priority 0, expire second: created first, then by id; z was created later
	"y", "x", // priority 0, expire later
	"k", "a", // priority 0, never expire: k was created first
	"d", "m", // priority 1: the expiring one first
	"ovd_acme",
}

// wrLaterBatchSeesEarlier: Write loads, decides and applies each batch in
// turn (credit.Store.Write), so a batch's load sees what the batches before
// it in the same Write applied. Idempotency records are not an account's:
// an Idempotency-Key written by one account's batch is loaded by the next
// batch's, which would otherwise decide the key is unused.
func wrLaterBatchSeesEarlier(t *testing.T, s credit.Store) {
	wAccount(t, s, "acme", 0, 0)
	wAccount(t, s, "bob", 0, 0)
	// One account's two batches in one Write (which the ledger does not
	// make; nothing forbids it): the second loads what the first applied.
	g := credit.Grant{ID: "g-first", Account: "acme", Source: credit.SourceTopup, Granted: 700, Remaining: 700, CreatedAt: wt0}
	var second *credit.State
	err := s.Write(context.Background(), []*credit.Batch{
		wBatch("acme", &credit.Change{Account: &credit.Account{ID: "acme", Available: 700}, NewGrants: []credit.Grant{g}}),
		{Account: "acme", Writes: 1, Refs: credit.Refs{Now: wt0}, Decide: func(st *credit.State) (*credit.Change, error) {
			second = st.Clone()
			return &credit.Change{}, nil
		}},
	})
	if err != nil {
		t.Fatalf("Write(acme, acme): %v", err)
	}
	if second.Account == nil || second.Account.Available != 700 || !slices.ContainsFunc(second.Grants, func(x credit.Grant) bool { return reflect.DeepEqual(x, g) }) {
		t.Errorf("acme's second batch loaded %+v; want the account at 0.7 available and g-first, which the first batch applied", second)
	}

	r := credit.IdempotencyRecord{Idempotency: credit.Idempotency{Scope: "s", Key: "k", Hash: "h"}, Response: []byte(`{}`), CreatedAt: wt0}
	var seen []credit.IdempotencyRecord
	err = s.Write(context.Background(), []*credit.Batch{
		wBatch("acme", &credit.Change{Idempotency: []credit.IdempotencyRecord{r}}),
		{Account: "bob", Writes: 1, Refs: credit.Refs{Now: wt0, Idempotency: []credit.Idempotency{r.Idempotency}},
			Decide: func(st *credit.State) (*credit.Change, error) {
				seen = st.Idempotency
				return &credit.Change{}, nil
			}},
	})
	if err != nil {
		t.Fatalf("Write(acme writes key k, bob loads it): %v", err)
	}
	if want := []credit.IdempotencyRecord{r}; !reflect.DeepEqual(seen, want) {
		t.Errorf("bob's batch loaded idempotency records %+v; want %+v, which acme's batch before it in the same Write applied", seen, want)
	}
}

// wrAllOrNothing: a Write whose batch cannot be applied (a constraint the
// store keeps) returns an error, and nothing of any of its batches commits,
// whether the failing batch comes first or last, and whether the store finds
// the violation at once or at commit. The good batch then commits alone.
func wrAllOrNothing(t *testing.T, s credit.Store) {
	ctx := context.Background()
	wAccount(t, s, "acme", 0, credit.Whole(100))
	carol := wNewAccount("carol", 0, credit.Whole(10))
	carol.NewHolds = []credit.Hold{{ID: "h-exists", Account: "carol", Amount: 100, Status: credit.HoldOpen, ExpiresAt: wt0.Add(time.Hour), CreatedAt: wt0,
		Allocations: []credit.Allocation{{Grant: "grt_carol", Amount: 100}}}}
	carol.Idempotency = []credit.IdempotencyRecord{{Idempotency: credit.Idempotency{Scope: "s", Key: "dup", Hash: "h"}, CreatedAt: wt0}}
	carol.NewSubscriptions = []credit.Subscription{{ID: "sub-exists", Account: "carol", Plan: "pro", Billing: credit.BillMonth, StartsAt: wt0, CreatedAt: wt0}}
	MustApply(t, s, "carol", carol)

	// The good batch touches every kind of row.
	good := func() *credit.Batch {
		return wBatch("acme", &credit.Change{
			Account:   &credit.Account{ID: "acme", Available: credit.Whole(105), Held: 1000},
			NewGrants: []credit.Grant{{ID: "g-new", Account: "acme", Source: credit.SourcePromo, Granted: 5000, Remaining: 4000, Held: 1000, CreatedAt: wt0}},
			Grants:    []credit.Grant{{ID: "grt_acme", Account: "acme", Remaining: credit.Whole(99)}},
			NewHolds: []credit.Hold{{ID: "h-new", Account: "acme", Generation: "gen-new", Amount: 1000, Status: credit.HoldOpen, ExpiresAt: wt0.Add(time.Hour), CreatedAt: wt0,
				Allocations: []credit.Allocation{{Grant: "g-new", Amount: 1000}}}},
			NewGenerations: []credit.Generation{{ID: "gen-new", Account: "acme", Status: credit.GenerationHeld, Hold: "h-new", Model: "m", Kind: credit.KindImage,
				Images: 1, HoldCredits: 1000, UnitCredits: 1000, ExpiresAt: wt0.Add(time.Hour), CreatedAt: wt0}},
			NewSubscriptions: []credit.Subscription{{ID: "sub-new", Account: "acme", Plan: "pro", Billing: credit.BillMonth, StartsAt: wt0,
				RenewsAt: wt0, CreatedAt: wt0}},
			Entries:     []credit.Entry{*wCharge("acme", "m", credit.KindImage, wt0, 1000)},
			Idempotency: []credit.IdempotencyRecord{{Idempotency: credit.Idempotency{Scope: "s", Key: "fresh", Hash: "h"}, CreatedAt: wt0}},
			Audit:       []credit.AuditEntry{{At: wt0, Actor: "t", Action: credit.AuditGrantCreate, Target: "acme", Detail: []byte(`{}`)}},
		})
	}
	bobWith := func(c *credit.Change) *credit.Change {
		n := wNewAccount("bob", 0, 0)
		n.NewGrants = append(n.NewGrants, c.NewGrants...)
		c.NewAccount, c.NewGrants = n.NewAccount, n.NewGrants
		return c
	}
	for _, tc := range []struct {
		name    string
		account string
		bad     func() *credit.Change
	}{
		{"GrantIDExists", "bob", func() *credit.Change {
			return bobWith(&credit.Change{NewGrants: []credit.Grant{{ID: "grt_acme", Account: "bob", Source: credit.SourceTopup, CreatedAt: wt0}}})
		}},
		{"AccountExists", "carol", func() *credit.Change { return wNewAccount("carol", 0, 0) }},
		{"HoldIDExists", "carol", func() *credit.Change {
			return &credit.Change{NewHolds: []credit.Hold{{ID: "h-exists", Account: "carol", Status: credit.HoldOpen, ExpiresAt: wt0, CreatedAt: wt0}}}
		}},
		{"SubscriptionIDExists", "carol", func() *credit.Change {
			return &credit.Change{NewSubscriptions: []credit.Subscription{{ID: "sub-exists", Account: "carol", Plan: "basic", Billing: credit.BillYear,
				StartsAt: wt0, CreatedAt: wt0}}}
		}},
		{"IdempotencyKeyExists", "carol", func() *credit.Change {
			return &credit.Change{Idempotency: []credit.IdempotencyRecord{{Idempotency: credit.Idempotency{Scope: "s", Key: "dup", Hash: "h2"}, CreatedAt: wt0}}}
		}},
		{"AllocationUnknownGrant", "carol", func() *credit.Change {
			return &credit.Change{NewHolds: []credit.Hold{{ID: "h-x", Account: "carol", Amount: 1, Status: credit.HoldOpen, ExpiresAt: wt0, CreatedAt: wt0,
				Allocations: []credit.Allocation{{Grant: "g-nope", Amount: 1}}}}}
		}},
		{"PostingUnknownGrant", "carol", func() *credit.Change {
			x := wCharge("carol", "m", credit.KindImage, wt0, 1)
			x.Postings[0].Grant = "g-nope"
			return &credit.Change{Entries: []credit.Entry{*x}}
		}},
		// The hold a generation names is checked at commit.
		{"GenerationWithoutHold", "carol", func() *credit.Change {
			return &credit.Change{NewGenerations: []credit.Generation{{ID: "gen-x", Account: "carol", Status: credit.GenerationHeld, Hold: "h-never",
				Model: "m", Kind: credit.KindImage, ExpiresAt: wt0, CreatedAt: wt0}}}
		}},
		// A held balance below zero breaks a CHECK constraint.
		{"CheckViolation", "carol", func() *credit.Change {
			return &credit.Change{Grants: []credit.Grant{{ID: "grt_carol", Account: "carol", Remaining: 0, Held: -1}}}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := wSnapshot(t, s)
			for _, order := range []string{"good first", "bad first"} {
				bs := []*credit.Batch{good(), wBatch(tc.account, tc.bad())}
				if order == "bad first" {
					slices.Reverse(bs)
				}
				err := s.Write(ctx, bs)
				if err == nil {
					t.Errorf("Write(%s) = nil; want an error", order)
				} else {
					t.Logf("Write(%s) = %v", order, err)
				}
				if after := wSnapshot(t, s); !reflect.DeepEqual(after, before) {
					t.Errorf("Write(%s) failed but wrote: %s", order, diffSnapshots(before, after))
				}
				wNotWritten(t, s)
			}
		})
	}
	// The good batch alone commits, every row of it.
	if err := s.Write(ctx, []*credit.Batch{good()}); err != nil {
		t.Fatalf("Write(good batch alone) = %v", err)
	}
	wView(t, s, func(tx credit.Tx) error {
		a, err := tx.Account("acme")
		if err != nil || a.Available != credit.Whole(105) || a.Held != 1000 {
			t.Errorf("Account(acme) = %+v, %v; want 105 available, 1 held", a, err)
		}
		if h, err := tx.Hold("h-new"); err != nil || len(h.Allocations) != 1 {
			t.Errorf("Hold(h-new) = %+v, %v; want it with its allocation", h, err)
		}
		if _, err := tx.Generation("gen-new"); err != nil {
			t.Errorf("Generation(gen-new): %v", err)
		}
		if _, err := tx.Subscription("sub-new"); err != nil {
			t.Errorf("Subscription(sub-new): %v", err)
		}
		if es, err := tx.Entries("acme", "", 0, 10); err != nil || len(es) != 1 {
			t.Errorf("Entries(acme) = %+v, %v; want one", es, err)
		}
		if log, err := tx.AuditLog(0, 10); err != nil || len(log) != 1 {
			t.Errorf("AuditLog = %+v, %v; want one entry", log, err)
		}
		return nil
	})
	if got := wIdempotency(t, s, [2]string{"s", "fresh"}); len(got) != 1 {
		t.Errorf("idempotency record (s, fresh) after the good Write = %+v; want it", got)
	}
}

// wNotWritten checks, through the Tx reads, that nothing of wrAllOrNothing's
// good batch (nor bob) is in the store.
func wNotWritten(t testing.TB, s credit.Store) {
	t.Helper()
	wNoAccount(t, s, "bob")
	wView(t, s, func(tx credit.Tx) error {
		a, err := tx.Account("acme")
		if err != nil || a.Available != credit.Whole(100) || a.Held != 0 {
			t.Errorf("Account(acme) = %+v, %v; want 100 available, as before", a, err)
		}
		gs, err := tx.Grants("acme")
		if err != nil || len(gs) != 2 || gs[0].Remaining != credit.Whole(100) {
			t.Errorf("Grants(acme) = %+v, %v; want grt_acme of 100 and ovd_acme, as before", gs, err)
		}
		_, err = tx.Hold("h-new")
		wantErr(t, "Hold(h-new)", err, credit.NotFound, "unknown_hold")
		_, err = tx.Generation("gen-new")
		wantErr(t, "Generation(gen-new)", err, credit.NotFound, "unknown_generation")
		_, err = tx.Subscription("sub-new")
		wantErr(t, "Subscription(sub-new)", err, credit.NotFound, "unknown_subscription")
		if us, err := tx.Subscriptions("acme"); err != nil || len(us) != 0 {
			t.Errorf("Subscriptions(acme) = %+v, %v; want none", us, err)
		}
		if us, err := tx.DueSubscriptions(wt0, 10); err != nil || len(us) != 0 {
			t.Errorf("DueSubscriptions(wt0) = %+v, %v; want none", us, err)
		}
		if es, err := tx.Entries("acme", "", 0, 10); err != nil || len(es) != 0 {
			t.Errorf("Entries(acme) = %+v, %v; want none", es, err)
		}
		if log, err := tx.AuditLog(0, 10); err != nil || len(log) != 0 {
			t.Errorf("AuditLog = %+v, %v; want none", log, err)
		}
		return nil
	})
	if got := wIdempotency(t, s, [2]string{"s", "fresh"}); len(got) != 0 {
		t.Errorf("idempotency record (s, fresh) = %+v; want none", got)
	}
	// And through Write's load, which may keep what it loaded.
	st := wLoad(t, s, "acme", credit.Refs{Now: wt0, Holds: []string{"h-new"}, Generations: []string{"gen-new"},
		Idempotency: []credit.Idempotency{{Scope: "s", Key: "fresh"}}})
	wantState(t, s, "acme", "Load(acme) after a failed Write", st,
		&credit.Account{ID: "acme", Available: credit.Whole(100), CreatedAt: wt0},
		[]credit.Grant{wNewAccount("acme", 0, credit.Whole(100)).NewGrants[1], wNewAccount("acme", 0, credit.Whole(100)).NewGrants[0]},
		nil, nil, nil)
	if st := wLoad(t, s, "bob", credit.Refs{Now: wt0}); st.Account != nil || len(st.Grants) != 0 {
		t.Errorf("Load(bob) after a failed Write = %+v; want no account, no grants", st)
	}
}

// wrDecideError: a Decide that fails fails the Write with its error, and
// nothing of any batch commits.
func wrDecideError(t *testing.T, s credit.Store) {
	ctx := context.Background()
	wAccount(t, s, "acme", 0, credit.Whole(100))
	wAccount(t, s, "bob", 0, 0)
	good := func() *credit.Batch {
		return wBatch("acme", &credit.Change{Account: &credit.Account{ID: "acme", Available: 1},
			Audit: []credit.AuditEntry{{At: wt0, Actor: "t", Action: credit.AuditGrantCreate, Target: "acme", Detail: []byte(`{}`)}}})
	}
	failing := func(err error) *credit.Batch {
		return &credit.Batch{Account: "bob", Writes: 1, Refs: credit.Refs{Now: wt0}, Decide: func(*credit.State) (*credit.Change, error) { return nil, err }}
	}
	before := wSnapshot(t, s)
	refusal := credit.Errorf(credit.Conflict, "test_refusal", "decided against")
	boom := errors.New("boom")
	for _, order := range []string{"good first", "failing first"} {
		for _, want := range []error{refusal, boom} {
			bs := []*credit.Batch{good(), failing(want)}
			if order == "failing first" {
				slices.Reverse(bs)
			}
			err := s.Write(ctx, bs)
			if want == refusal {
				wantErr(t, "Write("+order+", Decide refuses)", err, credit.Conflict, "test_refusal")
			} else if !errors.Is(err, boom) {
				t.Errorf("Write(%s, Decide fails with boom) = %v; want boom", order, err)
			}
			if after := wSnapshot(t, s); !reflect.DeepEqual(after, before) {
				t.Errorf("Write(%s, Decide fails with %v) wrote: %s", order, want, diffSnapshots(before, after))
			}
		}
	}
	if st := wLoad(t, s, "acme", credit.Refs{Now: wt0}); st.Account == nil || st.Account.Available != credit.Whole(100) {
		t.Errorf("Load(acme) after the failed Writes: Account = %+v; want 100 available, as the store has it", st.Account)
	}
	if err := s.Write(ctx, []*credit.Batch{good()}); err != nil {
		t.Fatalf("Write(good alone) = %v", err)
	}
	wView(t, s, func(tx credit.Tx) error {
		if a, err := tx.Account("acme"); err != nil || a.Available != 1 {
			t.Errorf("Account(acme) = %+v, %v; want 0.001 available after the good Write", a, err)
		}
		return nil
	})
}

// wrDecidePanic: a Decide that panics panics out of Write, commits nothing,
// and leaves the store able to write.
func wrDecidePanic(t *testing.T, s credit.Store) {
	wAccount(t, s, "acme", 0, credit.Whole(100))
	before := wSnapshot(t, s)
	func() {
		defer func() {
			if p := recover(); p != "boom" {
				t.Errorf("recovered %v; want Decide's panic (boom) to go on up", p)
			}
		}()
		_ = s.Write(context.Background(), []*credit.Batch{
			wBatch("acme", &credit.Change{Account: &credit.Account{ID: "acme", Available: 1}}),
			{Account: "bob", Writes: 1, Decide: func(*credit.State) (*credit.Change, error) { panic("boom") }},
		})
	}()
	if after := wSnapshot(t, s); !reflect.DeepEqual(after, before) {
		t.Errorf("a Write whose Decide panicked wrote: %s", diffSnapshots(before, after))
	}
	if st := wLoad(t, s, "acme", credit.Refs{Now: wt0}); st.Account == nil || st.Account.Available != credit.Whole(100) {
		t.Errorf("Load(acme) after a Write whose Decide panicked: Account = %+v; want 100 available, as the store has it", st.Account)
	}
	// The connection, or the writer, was given back.
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := Apply(s, "bob", wNewAccount("bob", 0, 0)); err != nil {
			t.Errorf("Write after a panic: %v", err)
		}
	}()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("Write after a Decide panicked did not return in 30s: the writer was not given back")
	}
}

// wrEmptyChange: a Write that changes nothing succeeds and writes nothing;
// an empty Change beside another batch lets that one commit.
func wrEmptyChange(t *testing.T, s credit.Store) {
	ctx := context.Background()
	wAccount(t, s, "acme", 0, credit.Whole(100))
	before := wSnapshot(t, s)
	if err := s.Write(ctx, nil); err != nil {
		t.Errorf("Write(no batches) = %v", err)
	}
	if err := Apply(s, "acme", &credit.Change{}); err != nil {
		t.Errorf("Write(empty Change) = %v", err)
	}
	if err := Apply(s, "nobody", &credit.Change{}); err != nil {
		t.Errorf("Write(empty Change of an unknown account) = %v", err)
	}
	if after := wSnapshot(t, s); !reflect.DeepEqual(after, before) {
		t.Errorf("empty Writes wrote: %s", diffSnapshots(before, after))
	}
	err := s.Write(ctx, []*credit.Batch{wBatch("acme", &credit.Change{}), wBatch("bob", wNewAccount("bob", 0, 0)), wBatch("zed", &credit.Change{})})
	if err != nil {
		t.Fatalf("Write(empty, bob, empty) = %v", err)
	}
	wView(t, s, func(tx credit.Tx) error {
		_, err := tx.Account("bob")
		return err
	})
}

// wrTryLockSingleWriter: a store with one writer never skips a batch that
// asks Refs.TryLock: its writes already run one at a time, so nothing else
// can hold the account's lock. (Contention on a store with several writers
// is tested with that store.)
func wrTryLockSingleWriter(t *testing.T, s credit.Store) {
	if s.Writers() != 1 {
		t.Skipf("Writers() = %d: not a single-writer store", s.Writers())
	}
	ctx := context.Background()
	wAccount(t, s, "acme", 0, 0)
	wAccount(t, s, "bob", 0, 0)
	var mu sync.Mutex
	decided := 0
	tryBatch := func(account string) *credit.Batch {
		return &credit.Batch{Account: account, Writes: 1, Refs: credit.Refs{Now: wt0, TryLock: true},
			Decide: func(st *credit.State) (*credit.Change, error) {
				if st.Account == nil {
					t.Errorf("TryLock batch of %s loaded no account", account)
				}
				mu.Lock()
				decided++
				mu.Unlock()
				return &credit.Change{Audit: []credit.AuditEntry{{At: wt0, Actor: "t", Action: credit.AuditGrantCreate, Target: account, Detail: []byte(`{}`)}}}, nil
			}}
	}
	// While a reader holds a snapshot open, and from 8 writers at once.
	var wg sync.WaitGroup
	var skipped, failed sync.Map
	hold := make(chan struct{})
	reading, read := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(read)
		_ = s.View(ctx, func(tx credit.Tx) error {
			_, err := tx.Account("acme")
			close(reading)
			<-hold
			return err
		})
	}()
	<-reading
	for i := range 8 {
		wg.Go(func() {
			bs := []*credit.Batch{tryBatch("acme"), tryBatch("bob")}
			if err := s.Write(ctx, bs); err != nil {
				failed.Store(i, err)
			}
			for _, b := range bs {
				if b.Skipped {
					skipped.Store(i, b.Account)
				}
			}
		})
	}
	wg.Wait()
	close(hold)
	<-read
	failed.Range(func(k, v any) bool { t.Errorf("Write %v with TryLock = %v", k, v); return true })
	skipped.Range(func(k, v any) bool {
		t.Errorf("Write %v skipped %v's TryLock batch on a single-writer store", k, v)
		return true
	})
	if decided != 16 {
		t.Errorf("Decide ran %d times; want 16 (8 Writes of 2 batches)", decided)
	}
	var log []credit.AuditEntry
	wView(t, s, func(tx credit.Tx) error {
		var err error
		log, err = tx.AuditLog(0, 100)
		return err
	})
	if len(log) != 16 {
		t.Errorf("AuditLog has %d entries; want 16, one per TryLock batch", len(log))
	}
}

// wLoaded checks the rows of one kind a Load of account returned: each
// loaded once, the account's own, and as the store has it (truth, read by
// View); and each of want among them, as want has it. It returns the ids
// loaded beyond want, which a store may load (credit.State: "at least").
func wLoaded[T any](t testing.TB, what, account, noun string, got, want []T, truth map[string]T, key func(T) (id, account string)) (extra []string) {
	t.Helper()
	stale := map[string]bool{} // reported: not as the store has it
	seen := map[string]bool{}
	for _, row := range got {
		rowID, acct := key(row)
		tr, ok := truth[rowID]
		if !reflect.DeepEqual(row, tr) {
			stale[rowID] = true
		}
		switch {
		case seen[rowID]:
			t.Errorf("%s: %s %s loaded twice", what, noun, rowID)
		case acct != account:
			t.Errorf("%s: loaded %s %s of account %q; want the account's own only", what, noun, rowID, acct)
		case !ok:
			t.Errorf("%s: loaded %s %s, which the store does not have", what, noun, rowID)
		case !reflect.DeepEqual(row, tr):
			t.Errorf("%s: loaded %s %s =\n%+v\nthe store has\n%+v", what, noun, rowID, row, tr)
		}
		seen[rowID] = true
		if !slices.ContainsFunc(want, func(w T) bool { wid, _ := key(w); return wid == rowID }) {
			extra = append(extra, rowID)
		}
	}
	for _, w := range want {
		wid, _ := key(w)
		i := slices.IndexFunc(got, func(g T) bool { gid, _ := key(g); return gid == wid })
		if i < 0 {
			t.Errorf("%s: %s %s not loaded; want %+v", what, noun, wid, w)
		} else if !stale[wid] && !reflect.DeepEqual(got[i], w) {
			t.Errorf("%s: %s %s loaded as\n%+v\nwant\n%+v", what, noun, wid, got[i], w)
		}
	}
	return extra
}
