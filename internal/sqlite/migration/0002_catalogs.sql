-- 0002: the published catalogs (credit.CatalogStore), so that every process on
-- the file prices with the same version.
--
-- A catalog is stored as the YAML it was published as; each process validates
-- it again when it loads it (catalog.Parse), so a build that no longer accepts
-- an old file skips it rather than pricing with half of it. seq orders the
-- versions by publication ("the newest published"), independently of their
-- version strings and of clocks; AUTOINCREMENT never reuses a seq, and the
-- pollers of WatchCatalogs compare max(seq). Rows are never updated or
-- deleted: the table is the catalog history.

CREATE TABLE catalogs (
	seq          INTEGER PRIMARY KEY AUTOINCREMENT,
	version      TEXT NOT NULL UNIQUE,
	effective_at INTEGER NOT NULL, -- Unix microseconds UTC
	published_at INTEGER NOT NULL,
	yaml         BLOB NOT NULL
) STRICT;
