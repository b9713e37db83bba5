package sqlite

import "database/sql"

// Writer and Reader give the black-box tests and benchmarks the two pools, to
// read pragmas and to measure the raw commit rate of the same file.
func (db *DB) Writer() *sql.DB { return db.cur.Load().writer }
func (db *DB) Reader() *sql.DB { return db.cur.Load().reader }

// StoreError is storeError, to test the translation of real driver errors.
var StoreError = storeError

// LoadQuery and PreambleQuery are a write's reads, DueSubscriptionsQuery and
// WarnGrantsQuery the sweeper's, the others the feed's, the webhooks', the
// directory's and the reports', for their query plans.
const (
	LoadQuery, PreambleQuery, DueSubscriptionsQuery = loadQuery, preambleQuery, dueSubscriptionsQuery
	WarnGrantsQuery                                 = warnGrantsQuery
	EventsQuery, AccountEventsQuery                 = eventsQuery, accountEventsQuery
	ClaimQuery, OutboxLagQuery                      = claimQuery, outboxLagQuery
	AccountAuditQuery, ChargedQuery                 = accountAuditQuery, chargedQuery
	LiabilityBeforeQuery, ConsumptionQuery          = liabilityBeforeQuery, consumptionQuery
)

// AccountsQuery and GenerationsQuery build the directory's queries, for
// their plans; Successor is the end of a prefix's range.
var (
	AccountsQuery    = accountsQuery
	GenerationsQuery = generationsQuery
	Successor        = successor
)
