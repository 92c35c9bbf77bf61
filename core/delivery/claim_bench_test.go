package delivery_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/core/dbtest"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/partition"
)

// BenchmarkCycleSmallClaims runs dispatcher cycles as light load makes
// them: each records the last cycle's results and claims 3 deliveries
// from each of 4 endpoints, in one transaction planned as the dispatcher
// plans it (delivery.CycleTx), committed without waiting for the WAL
// flush so that the time is the statements' own. "fresh" is a new install's history
// partitions; "month" adds the 30 days of daily partitions that the
// default retention.period (720h) keeps, which must cost a claim nothing:
// a claim reads only the partitions its deliveries' events are in. Run it
// with
//
//	go test ./core/delivery -run '^$' -bench CycleSmallClaims -benchtime 2000x
func BenchmarkCycleSmallClaims(b *testing.B) {
	for _, days := range []int{0, 30} {
		name := "fresh"
		if days > 0 {
			name = "month"
		}
		b.Run(name, func(b *testing.B) {
			ctx := context.Background()
			pool := dbtest.NewPool(b)
			addHistory(b, pool, days)
			const endpoints, each = 4, 3
			for i := range endpoints {
				if _, err := endpoint.Create(ctx, pool, endpoint.CreateParams{URL: fmt.Sprintf("https://receiver.example/%d", i)}); err != nil {
					b.Fatal(err)
				}
			}
			pub := outbox.NewPublisher(pool, outbox.Options{})
			for left := b.N * each; left > 0; left -= outbox.MaxBatch {
				evs := make([]outbox.Event, min(left, outbox.MaxBatch))
				for i := range evs {
					evs[i] = outbox.Event{Type: "order.created", Data: []byte(`{"amount":4200,"currency":"eur"}`)}
				}
				if _, err := pub.PublishBatch(ctx, nil, evs); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := delivery.AdmitWakes(ctx, pool); err != nil {
				b.Fatal(err)
			}
			var results []delivery.Result
			claimed := 0
			b.ResetTimer()
			for range b.N {
				err := pgx.BeginTxFunc(ctx, pool, delivery.CycleTx, func(tx pgx.Tx) error {
					if _, err := tx.Exec(ctx, `SET LOCAL synchronous_commit = off`); err != nil {
						return err
					}
					if _, _, err := delivery.CompleteTx(ctx, tx, delivery.Policy{}, results); err != nil {
						return err
					}
					c, err := delivery.ClaimTx(ctx, tx, delivery.ClaimParams{Limit: endpoints * each, Lease: time.Minute,
						Timeout: 10 * time.Second, Worker: "bench"})
					results = results[:0]
					for _, j := range c.Jobs {
						r := delivery.ResultOf(j, "bench")
						r.StartedAt, r.Duration, r.ResponseStatus, r.Next = time.Now(), time.Millisecond, 204, delivery.StateSucceeded
						results = append(results, r)
					}
					claimed += len(c.Jobs)
					return err
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			if claimed < b.N*each {
				b.Fatalf("claimed %d deliveries in %d cycles, want %d", claimed, b.N, b.N*each)
			}
			b.ReportMetric(float64(claimed)/float64(b.N), "deliveries/cycle")
		})
	}
}

// addHistory gives every history table a daily partition for each of the
// days before its first one, as an install that has kept that many days.
func addHistory(b *testing.B, pool *pgxpool.Pool, days int) {
	if days == 0 {
		return
	}
	var first time.Time
	if err := pool.QueryRow(context.Background(), `SELECT min(lower_bound) FROM hookd.partitions
		WHERE parent = 'events' AND lower_bound > '1970-01-02'`).Scan(&first); err != nil {
		b.Fatal(err)
	}
	if _, err := partition.Backfill(context.Background(), pool, 24*time.Hour, first.AddDate(0, 0, -days)); err != nil {
		b.Fatal(err)
	}
}
