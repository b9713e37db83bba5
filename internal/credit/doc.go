// Package credit is tally's domain: prices and the credit ledger. It imports
// nothing else from the project; stores and interfaces are built around it.
//
// Pricing: a Catalog of Models, each priced by a Rule; Catalog.Quote is a pure
// function from a QuoteRequest to a Quote, in integer thousandths of a credit.
//
// The write path is prefetch → execute → commit: a store loads an account's
// State in one step under its lock; the ledger decides the writes queued for
// that account in memory, one after the other, on a Book; the store applies
// the Change in one step and commits (Store.Write, Batch). The domain
// decides; the stores load and apply.
//
// The ledger (Ledger, on any Store) keeps these invariants, which
// VerifySnapshot checks and `tally verify` reports:
//
//  1. The journal is append-only and double-entry: every change to any
//     balance is one Entry whose Postings sum to zero, across a user's
//     available and held books (per grant) and the platform's issued, revenue
//     and expired books. A transaction touches one user account and has one
//     posting per grant and book it touches.
//  2. Balances are folds: a grant's Remaining and Held, and an account's
//     Available and Held, always equal the sums of their postings. They are
//     kept as columns for speed and changed only from the postings.
//  3. No overdraw: Available ≥ −Overdraft under any concurrency. Every write
//     on an account is decided on the account's state as the store loaded it
//     under the account's lock, held until the write commits (Store.Write):
//     Book.reserve checks and moves the balance with nothing else able to
//     change it in between — one atomic step, never check-then-act.
//  4. Holds resolve once: an open hold is captured (all or part; the rest
//     returns), released, or expired by the service after its TTL, exactly once.
//  5. Exactly once: a mutating call with an Idempotency key is done at most
//     once; its answer is stored in the same transaction as its effect.
//  6. Consumption order: priority (lower first), then earliest expiry
//     (never-expiring last), then oldest, then id; the overdraft last.
//  7. Expiry: a grant's remainder leaves by a journal entry to the platform's
//     expired book at its expiry time; credits of a hold that return to an
//     expired grant go to that book too.
//  8. Usage is the journal's: a store's daily usage rollup (DailyUsage), which
//     answers usage queries, equals the journal's charges summed by account,
//     UTC day, model, kind and team member; it is written in the transaction
//     of each charge.
//  9. Team members' limits hold like the pool's balance: a member's hold is
//     counted against their limit (Book.reserveMember) in the same step as
//     Book.reserve, and each member period's Used is captured + held −
//     returned of the holds made in it, never above the limit its
//     reservations were checked against.
package credit
