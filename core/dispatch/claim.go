package dispatch

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/outbox"
)

// claimLoop claims work whenever it is woken, polled or given capacity.
func (d *Dispatcher) claimLoop(ctx context.Context) {
	defer d.loops.Done()
	poll := time.NewTicker(d.opts.Delivery.PollInterval)
	defer poll.Stop()
	backoff := newBackoff(50*time.Millisecond, 5*time.Second)
	for {
		if err := d.claimAll(ctx); err != nil && ctx.Err() == nil {
			wait := backoff.next()
			d.logger.Warn("claiming deliveries failed; retrying", slog.String("error", err.Error()),
				slog.Duration("retry_in", wait))
			if !sleepCtx(ctx, wait) {
				return
			}
			continue
		}
		backoff.reset()
		select {
		case <-ctx.Done():
			return
		case <-d.wake:
		case <-d.freed:
		case <-poll.C:
		}
	}
}

// claimAll claims and starts due deliveries until none is due, the
// dispatcher is full or every due delivery belongs to a full endpoint.
func (d *Dispatcher) claimAll(ctx context.Context) error {
	for ctx.Err() == nil {
		free, full, remaining := d.caps.free()
		if free <= 0 {
			d.caps.markShort()
			return nil
		}
		if len(full) > 0 {
			d.caps.markShort()
		}
		limit := min(free, d.opts.Delivery.ClaimBatch)
		jobs, err := delivery.Claim(ctx, d.pool, delivery.ClaimParams{
			Limit: limit, Lease: d.opts.Delivery.Lease, Worker: d.opts.Worker, ExcludeEndpoints: full,
			EndpointRemaining: remaining, DefaultEndpointLimit: d.opts.Delivery.MaxInFlightPerEndpoint,
		})
		if err != nil {
			return err
		}
		claimed := time.Now()
		var release []int64
		for _, job := range jobs {
			if !job.EndpointEnabled {
				release = append(release, job.DeliveryID) // held by Release
				continue
			}
			if !d.caps.take(job.EndpointID, job.MaxInFlight) {
				release = append(release, job.DeliveryID)
				continue
			}
			d.workers.Add(1)
			go d.run(job, claimed)
		}
		if len(release) > 0 {
			// Not ctx: a stopping claimer must still hand these back.
			rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			err := delivery.Release(rctx, d.pool, d.opts.Worker, release)
			cancel()
			if err != nil {
				d.logger.Warn("releasing deliveries over capacity failed; their leases will expire",
					slog.Int("count", len(release)), slog.String("error", err.Error()))
			}
		}
		if len(jobs) < limit {
			return nil
		}
	}
	return nil
}

// listen wakes the claimer on every notification on outbox.WorkChannel,
// on a connection of its own, reconnecting after failures.
func (d *Dispatcher) listen(ctx context.Context) {
	defer d.loops.Done()
	backoff := newBackoff(100*time.Millisecond, 10*time.Second)
	for ctx.Err() == nil {
		err := d.listenOnce(ctx, backoff)
		if ctx.Err() != nil {
			return
		}
		wait := backoff.next()
		d.logger.Warn("listening for work failed; polling until reconnected",
			slog.String("error", errString(err)), slog.Duration("retry_in", wait))
		if !sleepCtx(ctx, wait) {
			return
		}
	}
}

func (d *Dispatcher) listenOnce(ctx context.Context, backoff *backoff) error {
	conn, err := pgx.ConnectConfig(ctx, d.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{outbox.WorkChannel}.Sanitize()); err != nil {
		return err
	}
	backoff.reset()
	signal(d.wake) // work may have arrived while we were not listening
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		signal(d.wake)
	}
}

func errString(err error) string {
	if err == nil {
		return "connection closed"
	}
	return err.Error()
}

// sleepCtx sleeps for d or until ctx ends; it reports whether it slept.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// backoff doubles from min to max.
type backoff struct{ min, max, cur time.Duration }

func newBackoff(min, max time.Duration) *backoff { return &backoff{min: min, max: max} }

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(2*b.cur, b.max)
	}
	return b.cur
}

func (b *backoff) reset() { b.cur = 0 }

// isCanceled reports a cancellation, which is not worth an error log.
func isCanceled(err error) bool { return errors.Is(err, context.Canceled) }
