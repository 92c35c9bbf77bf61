package partition_test

import (
	"context"
	"testing"
	"time"

	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/partition"
)

func TestMain(m *testing.M) { dbtest.Main(m) }

// Making partitions waits for a busy parent a bounded time and gives up
// (to be tried again), rather than queueing every writer behind its
// exclusive lock for as long as a transaction stays open.
func TestEnsureGivesUpOnABusyParent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	later := time.Now().Add(30 * 24 * time.Hour) // partitions not made yet
	producer, err := pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer producer.Rollback(ctx)
	if _, err := producer.Exec(ctx, `LOCK TABLE hookd.events IN ROW EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	// The deadline only turns a wait without end into a failure.
	wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := partition.Ensure(wctx, pool, 24*time.Hour, later); !partition.IsBusy(err) {
		t.Fatalf("Ensure beside an open transaction on events: %v, want it to give up as busy", err)
	}
	if err := producer.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	created, err := partition.Ensure(ctx, pool, 24*time.Hour, later)
	if err != nil || len(created) == 0 {
		t.Fatalf("Ensure once the transaction ended: %v, %v", created, err)
	}
}
