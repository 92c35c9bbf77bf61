package db_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/dbtest"
)

// hookd's pool reads committed data statement by statement even on a
// database whose default isolation is stricter.
func TestOpenReadsCommittedWhateverTheDatabaseDefault(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	url := dbtest.NewDB(t)
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET default_transaction_isolation = %L',
		current_database(), 'serializable'); END $$`); err != nil {
		t.Fatal(err)
	}
	var plain string
	other, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close(ctx)
	if err := other.QueryRow(ctx, `SHOW transaction_isolation`).Scan(&plain); err != nil || plain != "serializable" {
		t.Fatalf("a plain connection's isolation = %q, %v; the database default did not apply", plain, err)
	}
	pool, err := db.Open(ctx, url, db.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var got string
	if err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `SHOW transaction_isolation`).Scan(&got)
	}); err != nil {
		t.Fatal(err)
	}
	if got != "read committed" {
		t.Errorf("hookd's transaction isolation = %q, want read committed", got)
	}
}
