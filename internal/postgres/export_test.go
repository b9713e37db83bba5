package postgres

import "github.com/jackc/pgx/v5/pgxpool"

// Pool gives the black-box tests the pool, to read settings and to try
// writes the Tx never makes (the journal's triggers).
func (db *DB) Pool() *pgxpool.Pool { return db.pool }

// StoreError is storeError, to test the translation of SQLSTATEs.
var StoreError = storeError
