-- 0005: idempotency records are pruned after a retention (credit.Ledger.
-- PruneIdempotency, `tally serve --idempotency-retention`); the sweeper finds
-- the old ones by this index instead of scanning every answer ever stored.
CREATE INDEX idempotency_created ON idempotency (created_at);
