package delivery_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/outbox"
)

// A claim reads each claimed delivery's event by key. Partitions have no
// statistics until autovacuum analyzes them (a new one never has), and a
// plan that took the partition for small read it whole on every claim:
// the cost of a claim grew with the day's history.
func TestClaimReadsEventsByKeyInAPartitionWithoutStatistics(t *testing.T) {
	t.Parallel()
	b := setup(t, 0)
	evs := make([]outbox.Event, 3000)
	for i := range evs {
		evs[i] = outbox.Event{ID: fmt.Sprintf("evt_%04d", i), Type: "order.created", Data: []byte(`{"n":1}`)}
	}
	for lo := 0; lo < len(evs); lo += outbox.MaxBatch {
		if _, err := b.pub.PublishBatch(b.ctx, nil, evs[lo:min(lo+outbox.MaxBatch, len(evs))]); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := delivery.AdmitWakes(b.ctx, b.pool); err != nil {
		t.Fatal(err)
	}
	// As a dispatcher's cycle runs: generic plans, the first claims
	// prepared on the connection.
	for round := range 8 {
		var scans int
		err := pgx.BeginFunc(b.ctx, b.pool, func(tx pgx.Tx) error {
			if err := delivery.GenericPlans(b.ctx, tx); err != nil {
				return err
			}
			c, err := delivery.ClaimTx(b.ctx, tx, delivery.ClaimParams{Limit: 10, Lease: time.Minute, Worker: "w"})
			if err != nil {
				return err
			}
			if len(c.Jobs) != 10 {
				return fmt.Errorf("claimed %d deliveries, want 10", len(c.Jobs))
			}
			return tx.QueryRow(b.ctx, `SELECT coalesce(sum(seq_scan), 0)::int FROM pg_stat_xact_user_tables
				WHERE schemaname = 'hookd' AND relname LIKE 'events%'`).Scan(&scans)
		})
		if err != nil {
			t.Fatal(err)
		}
		if scans != 0 {
			t.Fatalf("claim %d scanned hookd.events partitions %d times; want key lookups only", round+1, scans)
		}
	}
}
