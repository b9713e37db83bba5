-- 0002: the published catalogs (credit.CatalogStore), so that every node on
-- the database prices with the same version.
--
-- A catalog is stored as the YAML it was published as; each node validates it
-- again when it loads it (catalog.Parse), so a build that no longer accepts an
-- old file skips it rather than pricing with half of it. seq orders the
-- versions by publication ("the newest published"), independently of their
-- version strings and of clocks. Rows are never updated or deleted: the table
-- is the catalog history.

CREATE TABLE catalogs (
	version      TEXT COLLATE "C" NOT NULL,
	seq          BIGINT GENERATED ALWAYS AS IDENTITY,
	effective_at TIMESTAMPTZ NOT NULL,
	published_at TIMESTAMPTZ NOT NULL,
	yaml         BYTEA NOT NULL,
	CONSTRAINT catalogs_pkey PRIMARY KEY (version),
	CONSTRAINT catalogs_seq_key UNIQUE (seq)
);
