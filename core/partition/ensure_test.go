package partition_test

import (
	"context"
	"strconv"
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

// Backfill gives every history table the partitions of the days before
// its first one, end to end with it, and makes nothing a second time.
func TestBackfillCoversTheDaysBefore(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	pool := dbtest.NewPool(t)
	before, err := partition.List(ctx, pool)
	if err != nil {
		t.Fatal(err)
	}
	first := map[string]time.Time{}
	for _, p := range before {
		if p.Lower.Year() > 1970 && (first[p.Parent].IsZero() || p.Lower.Before(first[p.Parent])) {
			first[p.Parent] = p.Lower
		}
	}
	since := first["events"].Add(-30*24*time.Hour + time.Hour) // within the 30th day before
	created, err := partition.Backfill(ctx, pool, 24*time.Hour, since)
	if err != nil {
		t.Fatal(err)
	}
	if want := 30 * len(partition.History); len(created) != want {
		t.Fatalf("Backfill made %d partitions, want %d: %v", len(created), want, created)
	}
	// Each event time of those days has its partition.
	for d := range 30 {
		at := first["events"].Add(-time.Duration(d)*24*time.Hour - time.Minute)
		if _, err := pool.Exec(ctx, `INSERT INTO hookd.event_ids (id, stored_at) VALUES ($1, $2)`, "evt_day"+strconv.Itoa(d), at); err != nil {
			t.Fatal(err)
		}
		if _, err := pool.Exec(ctx, `INSERT INTO hookd.events (id, type, data, stored_at, fanned_out) VALUES ($1, 'a.b', '{}', $2, true)`,
			"evt_day"+strconv.Itoa(d), at); err != nil {
			t.Fatalf("an event %d days before the first partition: %v", d, err)
		}
	}
	again, err := partition.Backfill(ctx, pool, 24*time.Hour, since)
	if err != nil || len(again) != 0 {
		t.Fatalf("a second Backfill made %v, %v", again, err)
	}
}
