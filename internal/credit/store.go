package credit

import (
	"cmp"
	"context"
	"slices"
	"time"
)

// Store keeps the ledger. It runs functions in transactions; the ledger's logic
// (Ledger) is written once against Tx, and every store (SQLite, PostgreSQL)
// implements Tx with its own SQL.
type Store interface {
	// Update runs fn in one read-write transaction: everything fn writes
	// commits together, durably, before Update returns nil, or nothing does.
	// Transactions on one account are serialized. If fn returns an error, the
	// transaction rolls back and Update returns that error.
	Update(ctx context.Context, fn func(Tx) error) error
	// UpdateBatch runs ops in one read-write transaction, in order, each in a
	// savepoint of its own, and commits once: group commit. An op that fails
	// (its Fn returns an error, or a Tx method fails) has its writes rolled
	// back to its savepoint and its error in Err, and the others go on, as
	// if each had been its own Update. An op whose Ctx is done before it
	// starts is not run. UpdateBatch returns an error only when the whole
	// batch failed (begin, commit, or a store failure that may have undone
	// earlier ops): then nothing committed and every op is failed with it.
	// Once UpdateBatch returns nil, every op whose Err is nil is durable.
	UpdateBatch(ctx context.Context, ops []*Op) error
	// Writers is how many write transactions the store can usefully run at
	// once: 1 for a single-writer store, more for a server database.
	Writers() int
	// MaxBatch is how many writes one of those transactions should take by
	// default: many where a commit costs an fsync of its own (SQLite), 1
	// where the server already shares fsyncs among concurrent commits and a
	// batch's row locks would only make batches wait on each other
	// (PostgreSQL). LedgerConfig.MaxBatch overrides it.
	MaxBatch() int
	// View runs fn against a consistent read-only snapshot.
	View(ctx context.Context, fn func(Tx) error) error
	// Ping reports whether the store can serve (for /readyz).
	Ping(ctx context.Context) error
	Close() error
}

// Op is one write of a batch (Store.UpdateBatch).
type Op struct {
	// Ctx is the request's context: the op is skipped if it is done before
	// the op starts. Once started, an op runs to its end (with the store's
	// own timeouts), since interrupting one statement may abort the whole
	// transaction and with it the batch.
	Ctx context.Context
	// Fn does the op's work, as the fn of Store.Update.
	Fn func(Tx) error
	// Err is the op's outcome, set by UpdateBatch.
	Err error
	// Panic holds what Fn panicked with, if it did; the op's writes were
	// rolled back and the caller should panic again with it.
	Panic any
}

// Tx is one store transaction. Methods return *Error values: NotFound (reason
// unknown_account, unknown_grant, unknown_hold, unknown_generation,
// unknown_key), Conflict (account_exists, …), InsufficientCredits, or Internal
// for anything the store could not do. A Tx is used by one goroutine.
type Tx interface {
	// InsertAccount creates an account with zero balances and its overdraft
	// grant. Conflict account_exists if the id is taken.
	InsertAccount(a Account, overdraftGrant Grant) error
	// Account returns an account. NotFound unknown_account.
	Account(id string) (Account, error)
	// Reserve moves amount from Available to Held in one atomic step, only if
	// Available − amount ≥ −Overdraft afterwards. It returns the updated account,
	// or InsufficientCredits (with the account as it is) and changes nothing.
	// This is the one balance check in tally: never check-then-act in Go.
	Reserve(account string, amount Credits) (Account, error)
	// AddBalances adds to an account's balances without a check (returns,
	// grants, expiry) and returns the updated account.
	AddBalances(account string, dAvailable, dHeld Credits) (Account, error)

	// InsertGrant stores a new grant.
	InsertGrant(g Grant) error
	// Grant returns a grant. NotFound unknown_grant.
	Grant(id string) (Grant, error)
	// Grants returns all grants of an account, the overdraft grant included, in
	// consumption order: priority, then expiry (never-expiring last), then
	// creation, then id.
	Grants(account string) ([]Grant, error)
	// UpdateGrant adds to a grant's Remaining and Held.
	UpdateGrant(id string, dRemaining, dHeld Credits) error
	// AddPaidBack adds to a grant's PaidBack.
	AddPaidBack(id string, d Credits) error
	// ExpireGrant marks a grant expired at `at` and zeroes its Remaining.
	ExpireGrant(id string, at time.Time) error
	// DueGrants returns up to limit grants not yet marked expired whose expiry
	// is ≤ now (spent ones too, so that every expired grant gets its ExpiredAt);
	// with account "", across all accounts.
	DueGrants(account string, now time.Time, limit int) ([]Grant, error)

	// InsertHold stores a new hold with its allocations.
	InsertHold(h Hold) error
	// Hold returns a hold with its allocations. NotFound unknown_hold.
	Hold(id string) (Hold, error)
	// UpdateHold stores a hold's status, amounts, resolution time and allocations.
	UpdateHold(h Hold) error
	// OpenHolds returns an account's open holds, oldest first.
	OpenHolds(account string) ([]Hold, error)
	// DueHolds returns up to limit open holds whose TTL is ≤ now; with account
	// "", across all accounts.
	DueHolds(account string, now time.Time, limit int) ([]Hold, error)

	// InsertGeneration stores a new generation.
	InsertGeneration(g Generation) error
	// Generation returns a generation. NotFound unknown_generation.
	Generation(id string) (Generation, error)
	// UpdateGeneration stores a generation's status, counts, amounts and times.
	UpdateGeneration(g Generation) error

	// AppendEntry appends t and its postings to the journal and sets t.ID.
	AppendEntry(t *Entry) error
	// Entries returns an account's transactions with ID < before (0: from the
	// newest), newest first, at most limit, each with its postings.
	Entries(account string, before int64, limit int) ([]Entry, error)
	// Usage sums ChargedDelta of an account's transactions in [from, to) by
	// day, model and kind, and counts the charges among them (ChargedDelta >
	// 0). A store may answer the whole days of the window (see WholeDays)
	// from a daily rollup.
	Usage(account string, from, to time.Time) ([]UsageRow, error)

	// Idempotency returns the record for (scope, key), or nil if there is none.
	Idempotency(scope, key string) (*IdempotencyRecord, error)
	// PutIdempotency stores a record. Conflict idempotency_conflict if one exists.
	PutIdempotency(r IdempotencyRecord) error
	// PruneIdempotency deletes at most limit records created before before,
	// oldest or any (not necessarily in order), and returns how many it
	// deleted. On a store shared by nodes, records another node is deleting
	// are skipped, not waited for.
	PruneIdempotency(before time.Time, limit int) (int, error)

	// InsertKey stores an API key.
	InsertKey(k Key) error
	// Key returns a key by id. NotFound unknown_key.
	Key(id string) (Key, error)
	// Keys returns every key, oldest first.
	Keys() ([]Key, error)
	// RevokeKey marks a key revoked at `at`. NotFound unknown_key.
	RevokeKey(id string, at time.Time) error
	// LockKeys makes this write transaction the only one deciding from the
	// API keys until it ends: a second one waits here for it to commit, and
	// then reads the key it made. Ledger.BootstrapAdminKey takes it before
	// it looks for a live admin key, so that the look and the insert are one
	// step even where write transactions run side by side and each would
	// see none (PostgreSQL's READ COMMITTED). A store with a single writer
	// has nothing to do.
	LockKeys() error

	// AppendAudit appends e to the audit log and sets e.ID.
	AppendAudit(e *AuditEntry) error
	// AuditLog returns up to limit audit entries with ID < before (0: from
	// the newest), newest first.
	AuditLog(before int64, limit int) ([]AuditEntry, error)

	// TryLockAccount claims an account for this transaction without waiting:
	// false if another transaction (on any node) holds it. The expiry sweeper
	// uses it so that nodes settling in parallel never do the same work; a
	// store with a single writer always returns true.
	TryLockAccount(account string) (bool, error)
}

// Scanner is the read side that reads a store whole: Verify streams it,
// audits and tests take a Snapshot. It is not part of Tx, which is the
// ledger's operations on accounts: a store offers it on its transactions as
// an optional capability, found by type assertion (see Scan), as
// database/sql/driver finds a Pinger on a Conn.
type Scanner interface {
	// Snapshot returns everything. It is meant for audits and tests, not for
	// the request path.
	Snapshot() (*Snapshot, error)
	// SnapshotState is the part of Snapshot that Verify keeps in memory:
	// accounts, grants and the usage rollup (Holds, Generations and
	// Entries are nil). EachHold (with allocations), EachGeneration and
	// EachEntry (in ID order, with postings) stream the rest, reading
	// as they go and keeping none: Verify reads a ledger of any history in
	// memory that grows with its accounts and grants, not with its entries.
	// Holds and generations come in no particular order. An error from fn
	// ends a stream and is returned.
	SnapshotState() (*Snapshot, error)
	EachHold(fn func(*Hold) error) error
	EachGeneration(fn func(*Generation) error) error
	EachEntry(fn func(*Entry) error) error
}

// Scan returns tx's Scanner. Internal if the store cannot be read whole.
func Scan(tx Tx) (Scanner, error) {
	sc, ok := tx.(Scanner)
	if !ok {
		return nil, Errorf(Internal, "no_scanner", "store: %T cannot be read whole", tx)
	}
	return sc, nil
}

// Snapshot is the whole ledger: accounts by ID, grants by account in
// consumption order, holds and generations by creation then ID, the journal
// in ID order. Verify reads the same, streamed (see Scanner.SnapshotState).
type Snapshot struct {
	Accounts    []Account
	Grants      []Grant
	Holds       []Hold
	Generations []Generation
	Entries     []Entry      // in ID order, with postings
	Usage       []DailyUsage // the usage rollup, in any order
}

// CatalogRecord is one published catalog version, as stored.
type CatalogRecord struct {
	Version     string
	EffectiveAt time.Time
	PublishedAt time.Time
	YAML        []byte // the file as published; it is validated again on load
	// PublishedBy is the actor (see WithActor) that published it; the store
	// records the publish in the audit log in the same transaction.
	PublishedBy string
}

// CatalogStore keeps the published catalogs in the database, so that every
// node prices alike. Both stores implement it.
type CatalogStore interface {
	// PublishCatalog stores a new version and wakes every node's watcher.
	// Conflict catalog_exists if the version was published before.
	PublishCatalog(ctx context.Context, r CatalogRecord) error
	// Catalogs returns every published version, oldest first.
	Catalogs(ctx context.Context) ([]CatalogRecord, error)
	// WatchCatalogs calls fn after each publish (on any node) until ctx ends;
	// within a second of the publish. PostgreSQL uses LISTEN/NOTIFY; SQLite
	// polls. fn runs on one goroutine.
	WatchCatalogs(ctx context.Context, fn func()) error
}

// ReadSnapshot reads s whole, in one read-only snapshot (Scanner.Snapshot).
func ReadSnapshot(ctx context.Context, s Store) (*Snapshot, error) {
	var snap *Snapshot
	err := s.View(ctx, func(tx Tx) error {
		sc, err := Scan(tx)
		if err != nil {
			return err
		}
		snap, err = sc.Snapshot()
		return err
	})
	return snap, err
}

// CollectHoldsAndGenerations reads every hold and generation through tx's
// streams, each sorted as Snapshot documents (by creation, then ID): the
// stores build Snapshot from the same streams Verify reads.
func CollectHoldsAndGenerations(tx Scanner) ([]Hold, []Generation, error) {
	var holds []Hold
	if err := tx.EachHold(func(h *Hold) error { holds = append(holds, *h); return nil }); err != nil {
		return nil, nil, err
	}
	var gens []Generation
	if err := tx.EachGeneration(func(g *Generation) error { gens = append(gens, *g); return nil }); err != nil {
		return nil, nil, err
	}
	slices.SortFunc(holds, func(a, b Hold) int { return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID)) })
	slices.SortFunc(gens, func(a, b Generation) int { return cmp.Or(a.CreatedAt.Compare(b.CreatedAt), cmp.Compare(a.ID, b.ID)) })
	return holds, gens, nil
}
