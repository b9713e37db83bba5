package credit

import (
	"cmp"
	"context"
	"slices"
	"time"
)

// Store keeps the ledger. The ledger decides; the store loads and applies:
// every write on an account is a Batch — the store locks the account, loads
// its State in one step, calls the batch's Decide, and applies the Change it
// returns in one step, before it commits. That lock, taken by the load, is the
// only lock a store takes for the ledger: stores have no locking protocol of
// their own to keep, and the order in which the ledger reads things does not
// matter to them.
//
// Reads (View) and the few writes that concern no account (API keys, the
// pruning of idempotency records) go through Tx.
type Store interface {
	// Write runs the batches in one transaction: for each, in order, lock
	// its account, load its State for its Refs, call Decide and apply the
	// Change; then commit once, durably, before Write returns nil. If Write
	// returns an error, nothing of any batch committed. Accounts are
	// locked in the order of the batches; the ledger never gives a store
	// more than MaxAccounts batches at once.
	Write(ctx context.Context, batches []*Batch) error
	// Writers is how many write transactions the store can usefully run at
	// once: 1 for a single-writer store, more for a server database.
	Writers() int
	// MaxAccounts is how many accounts' batches one Write should take: many
	// where a commit costs an fsync of its own (SQLite); 1 where the server
	// already shares fsyncs among concurrent commits and batches of several
	// accounts would only wait on each other's locks (PostgreSQL).
	MaxAccounts() int
	// Update runs fn in one read-write transaction, for writes that concern
	// no account (Tx.InsertKey, Tx.RevokeKey, Tx.PruneIdempotency): everything
	// fn writes commits together, durably, before Update returns nil, or
	// nothing does.
	Update(ctx context.Context, fn func(Tx) error) error
	// View runs fn against a consistent read-only snapshot.
	View(ctx context.Context, fn func(Tx) error) error
	// Ping reports whether the store can serve (for /readyz).
	Ping(ctx context.Context) error
	Close() error
}

// Tx is one store transaction: the ledger's reads, and its writes that
// concern no account. Methods return *Error values: NotFound (reason
// unknown_account, unknown_grant, unknown_hold, unknown_generation,
// unknown_key), Conflict, or Internal for anything the store could not do.
// A Tx is used by one goroutine.
type Tx interface {
	// Account returns an account. NotFound unknown_account.
	Account(id string) (Account, error)
	// Grant returns a grant. NotFound unknown_grant.
	Grant(id string) (Grant, error)
	// Grants returns all grants of an account, the overdraft grant included, in
	// consumption order: priority, then expiry (never-expiring last), then
	// creation, then id.
	Grants(account string) ([]Grant, error)
	// DueGrants returns up to limit grants not yet marked expired whose expiry
	// is ≤ now (spent ones too, so that every expired grant gets its ExpiredAt);
	// with account "", across all accounts.
	DueGrants(account string, now time.Time, limit int) ([]Grant, error)
	// Hold returns a hold with its allocations. NotFound unknown_hold.
	Hold(id string) (Hold, error)
	// OpenHolds returns an account's open holds, oldest first.
	OpenHolds(account string) ([]Hold, error)
	// DueHolds returns up to limit open holds whose TTL is ≤ now; with account
	// "", across all accounts.
	DueHolds(account string, now time.Time, limit int) ([]Hold, error)
	// Generation returns a generation. NotFound unknown_generation.
	Generation(id string) (Generation, error)
	// Subscription returns a subscription. NotFound unknown_subscription.
	Subscription(id string) (Subscription, error)
	// Subscriptions returns an account's subscriptions, oldest first.
	Subscriptions(account string) ([]Subscription, error)
	// DueSubscriptions returns up to limit subscriptions whose RenewsAt is
	// set and ≤ now, across all accounts.
	DueSubscriptions(now time.Time, limit int) ([]Subscription, error)
	// Members returns a team's members, removed ones too, by id.
	Members(account string) ([]Member, error)
	// MemberPeriods returns a team's member periods that have not ended at
	// `at` (End > at), by member, then start.
	MemberPeriods(account string, at time.Time) ([]MemberPeriod, error)
	// Topup returns a top-up. NotFound unknown_topup.
	Topup(id string) (Topup, error)
	// Topups returns an account's top-ups with ID < before ("": from the
	// newest), newest first, at most limit.
	Topups(account, before string, limit int) ([]Topup, error)
	// WarnGrants returns up to limit grants, across all accounts, that
	// grant.expiring has not yet told of (WarnedAt zero), not expired,
	// with something left (Remaining > 0), expiring at or before `before`,
	// and not a day's free credits (Source free): the sweeper's work.
	WarnGrants(before time.Time, limit int) ([]Grant, error)

	// Entries returns an account's transactions with ID < before (0: from the
	// newest), newest first, at most limit, each with its postings. With a
	// member, only the member's entries and the pool's own (Entry.Member
	// "") are returned: a team member's view of the team's journal.
	Entries(account, member string, before int64, limit int) ([]Entry, error)
	// Usage sums ChargedDelta of an account's transactions in [from, to) by
	// day, model and kind, and counts the charges among them (ChargedDelta >
	// 0). A store may answer the whole days of the window (see WholeDays)
	// from a daily rollup.
	Usage(account string, from, to time.Time) ([]UsageRow, error)

	// Accounts returns up to limit accounts with ID > after whose ID
	// starts with prefix (bytes, case-sensitive; "" any), by ID.
	Accounts(prefix, after string, limit int) ([]Account, error)
	// Generations returns an account's generations that match f (its
	// Status, Model and Member when set, ID < f.Before when set), by ID
	// descending, at most f.Limit.
	Generations(account string, f GenerationFilter) ([]Generation, error)
	// AccountAudit returns up to limit audit entries whose Target is
	// account, with ID < before (0: from the newest), newest first.
	AccountAudit(account string, before int64, limit int) ([]AuditEntry, error)
	// Liability sums the liability rollup over the UTC days before
	// `before` (YYYY-MM-DD; "" every day) by Source and Expires; Day is ""
	// in the rows returned. Rows that sum to zero may be left out.
	Liability(before string) ([]LiabilityRow, error)
	// Consumption returns the consumption rollup's rows with from ≤ Day <
	// to (YYYY-MM-DD), in any order.
	Consumption(from, to string) ([]ConsumptionRow, error)
	// EachCharged calls fn for every generation completed with a charge
	// (Status completed, Charged > 0) whose ResolvedAt is in [from, to),
	// in any order, reading as it goes: a window of any length is never
	// held in memory. An error from fn ends it and is returned.
	EachCharged(from, to time.Time, fn func(*Generation) error) error

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
	// accounts, grants, subscriptions, members, member periods, top-ups,
	// the usage rollup and the report rollups (Holds, Generations, Entries and Events are
	// nil). EachHold (with allocations), EachGeneration and
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
	// Subscriptions by creation, then ID.
	Subscriptions []Subscription
	// Members by account, then ID; MemberPeriods by account, member,
	// then start.
	Members       []Member
	MemberPeriods []MemberPeriod
	// Topups by account, then creation, then ID; Events in feed order.
	Topups []Topup
	Events []Event
	// Liability and Consumption are the report rollups as stored, one row
	// per key, in any order.
	Liability   []LiabilityRow
	Consumption []ConsumptionRow
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
