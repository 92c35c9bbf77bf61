package dispatch

import (
	"context"
	"log/slog"
	"time"

	"github.com/hookd/hookd/core/delivery"
	"github.com/jackc/pgx/v5"
)

// The lease reaper: deliveries whose worker died or hung go back to the
// queue, and those out of attempts are recorded dead.

// reap returns deliveries with expired leases to the queue, in every
// process; SKIP LOCKED keeps concurrent reapers apart. It also resumes
// held deliveries of endpoints that are enabled (see delivery.ResumeHeld).
func (d *Dispatcher) reap(ctx context.Context) {
	defer d.loops.Done()
	t := time.NewTicker(d.opts.ReapInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		for {
			var n int
			var dead []delivery.Delivery
			err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
				var err error
				if n, dead, err = delivery.ReapExpired(ctx, tx, len(d.opts.Delivery.RetrySchedule), reapLimit, workerGoneAfter); err != nil ||
					d.opts.OnOutcomeTx == nil || len(dead) == 0 {
					return err
				}
				return d.opts.OnOutcomeTx(ctx, tx, d.deadResults(dead))
			})
			if err != nil {
				if ctx.Err() == nil && !isCanceled(err) {
					d.logger.Warn("reaping expired leases failed", slog.String("error", err.Error()))
				}
				break
			}
			if n > 0 {
				d.logger.Info("reaped deliveries whose lease expired", slog.Int("count", n), slog.Int("dead", len(dead)))
				signal(d.wake)
			}
			d.reapedDead(ctx, dead)
			if n < reapLimit {
				break
			}
		}
		if n, err := delivery.ResumeHeld(ctx, d.pool); err != nil {
			if ctx.Err() == nil && !isCanceled(err) {
				d.logger.Warn("resuming held deliveries of enabled endpoints failed", slog.String("error", err.Error()))
			}
		} else if n > 0 {
			d.logger.Info("resumed held deliveries of enabled endpoints", slog.Int64("count", n))
			signal(d.wake)
		}
	}
}

// reapedDead reports deliveries the reaper killed as Results, so that
// OnOutcome sees every dead letter in one shape.
func (d *Dispatcher) reapedDead(ctx context.Context, dead []delivery.Delivery) {
	if len(dead) == 0 {
		return
	}
	results := d.deadResults(dead)
	d.applied(ctx, len(results), results)
}

// deadResults describes deliveries the reaper killed as Results with Next
// dead, ErrorClass interrupted and no response.
func (d *Dispatcher) deadResults(dead []delivery.Delivery) []delivery.Result {
	results := make([]delivery.Result, len(dead))
	for i, dl := range dead {
		results[i] = delivery.Result{
			DeliveryID: dl.ID, EndpointID: dl.EndpointID, EventID: dl.EventID, EventStoredAt: dl.EventStoredAt,
			Attempt: dl.Attempts, Worker: d.opts.Worker, StartedAt: dl.UpdatedAt, ErrorClass: delivery.ClassInterrupted,
			Error: dl.LastError, Next: delivery.StateDead, NextAttemptAt: dl.NextAttemptAt,
		}
	}
	return results
}
