package dispatch

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/delivery"
)

// complete records results in batches: a batch is flushed when it is full
// or completeDelay after its first result. It runs until d.results is
// closed and drained. A failing flush is retried with backoff, holding the
// batch (and, as the channel fills, the workers) until the database is
// back; only when giveUp ends during Stop are results abandoned, to the
// lease reaper.
func (d *Dispatcher) complete(giveUp context.Context) {
	defer d.completerWG.Done()
	batch := make([]delivery.Result, 0, completeBatch)
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		var (
			res delivery.Result
			ok  bool
		)
		if len(batch) == 0 {
			res, ok = <-d.results
		} else {
			select {
			case res, ok = <-d.results:
			case <-timer.C:
				d.flush(giveUp, batch)
				batch = batch[:0]
				continue
			}
		}
		if !ok {
			d.flush(giveUp, batch)
			return
		}
		if len(batch) == 0 {
			timer.Reset(completeDelay)
		}
		batch = append(batch, res)
		if len(batch) >= completeBatch {
			timer.Stop()
			d.flush(giveUp, batch)
			batch = batch[:0]
		}
	}
}

// flush records batch, retrying until it succeeds or giveUp ends.
func (d *Dispatcher) flush(giveUp context.Context, batch []delivery.Result) {
	if len(batch) == 0 {
		return
	}
	backoff := newBackoff(50*time.Millisecond, 5*time.Second)
	for {
		ctx, cancel := context.WithTimeout(giveUp, 30*time.Second)
		var applied, dropped []delivery.Result
		err := pgx.BeginFunc(ctx, d.pool, func(tx pgx.Tx) error {
			var err error
			if applied, dropped, err = delivery.CompleteTx(ctx, tx, batch); err != nil || d.opts.OnOutcomeTx == nil || len(applied) == 0 {
				return err
			}
			return d.opts.OnOutcomeTx(ctx, tx, applied)
		})
		cancel()
		if err == nil {
			if len(dropped) > 0 {
				d.logDropped(dropped)
			}
			d.applied(giveUp, len(batch)-len(dropped), applied)
			return
		}
		wait := backoff.next()
		if giveUp.Err() == nil {
			d.logger.Warn("recording attempt results failed; retrying", slog.Int("results", len(batch)),
				slog.String("error", err.Error()), slog.Duration("retry_in", wait))
		}
		if !sleepCtx(giveUp, wait) {
			d.logger.Error("gave up recording attempt results at shutdown; their leases will expire and the deliveries will be retried",
				slog.Int("results", len(batch)))
			return
		}
	}
}

// logDropped logs, once per batch, the results that had no delivery left to
// record into (its endpoint or event was deleted during the attempt).
func (d *Dispatcher) logDropped(dropped []delivery.Result) {
	ids := make([]int64, len(dropped))
	for i, r := range dropped {
		ids[i] = r.DeliveryID
	}
	d.logger.Info("attempt results dropped: their deliveries no longer exist (endpoint or event deleted during the attempt)",
		slog.Int("count", len(dropped)), slog.Any("deliveries", ids))
}

// applied reports recorded results: dead letters are logged and counted,
// and OnOutcome hears of every state change.
func (d *Dispatcher) applied(ctx context.Context, recorded int, applied []delivery.Result) {
	if n := recorded - len(applied); n > 0 {
		d.logger.Debug("results logged for deliveries no longer leased to this worker", slog.Int("count", n))
	}
	for i := range applied {
		r := &applied[i]
		if r.Next == delivery.StateDead {
			d.opts.Metrics.DeadLetters.Inc()
			d.logger.Warn("delivery dead: retry schedule spent", slog.Int64("delivery", r.DeliveryID),
				slog.String("endpoint", r.EndpointID), slog.String("event", r.EventID),
				slog.Int("attempts", r.Attempt), slog.String("class", r.ErrorClass), slog.String("error", r.Error))
		}
	}
	if d.opts.OnOutcome != nil && len(applied) > 0 {
		d.opts.OnOutcome(context.WithoutCancel(ctx), applied)
	}
}

// reap returns deliveries with expired leases to the queue, in every
// process; SKIP LOCKED keeps concurrent reapers apart.
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
				if n, dead, err = delivery.ReapExpired(ctx, tx, len(d.opts.Delivery.RetrySchedule), reapLimit); err != nil ||
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
			DeliveryID: dl.ID, EndpointID: dl.EndpointID, EventID: dl.EventID, Attempt: dl.Attempts,
			Worker: d.opts.Worker, StartedAt: dl.UpdatedAt, ErrorClass: delivery.ClassInterrupted,
			Error: dl.LastError, Next: delivery.StateDead, NextAttemptAt: dl.NextAttemptAt,
		}
	}
	return results
}
