package bench

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/core/outbox"
)

// burnPublishers publish the burn-down's events concurrently.
const burnPublishers = 4

// publishAll publishes n events, event(i) making the i-th, with
// PublishBatch, perCall events a call, from conc goroutines.
func (b *bench) publishAll(ctx context.Context, pool *pgxpool.Pool, n, perCall, conc int, event func(i int) outbox.Event) error {
	pub := outbox.NewPublisher(pool, outbox.Options{})
	starts := make(chan int)
	errs := make(chan error, conc)
	var wg sync.WaitGroup
	withPart(ctx, partLoad, func(ctx context.Context) {
		for range conc {
			wg.Go(func() {
				batch := make([]outbox.Event, 0, perCall)
				for from := range starts {
					batch = batch[:0]
					for i := from; i < min(from+perCall, n); i++ {
						batch = append(batch, event(i))
					}
					if _, err := pub.PublishBatch(ctx, nil, batch); err != nil {
						errs <- err
						return
					}
				}
			})
		}
	feed:
		for from := 0; from < n; from += perCall {
			select {
			case starts <- from:
			case err := <-errs:
				errs <- err
				break feed
			}
		}
		close(starts)
		wg.Wait()
	})
	select {
	case err := <-errs:
		return err
	default:
		return nil
	}
}

// burndown publishes opts.Events events first, then starts the dispatcher
// and times it delivering them all; each step is measured on its own.
func (b *bench) burndown(ctx context.Context, live int) (Burndown, error) {
	o := b.opts
	r := Burndown{Workers: o.Workers, Events: o.Events}
	r.Publish = Publish{Events: o.Events, PerCall: outbox.MaxBatch, Concurrency: burnPublishers}
	pool, err := b.phasePool(ctx)
	if err != nil {
		return r, err
	}
	m := b.startMeter(ctx)
	start := time.Now()
	err = b.publishAll(ctx, pool, o.Events, outbox.MaxBatch, burnPublishers,
		func(i int) outbox.Event { return b.liveEvent(i, live) })
	r.Publish.PerSec = float64(o.Events) / time.Since(start).Seconds()
	pubCost, _ := m.stop(ctx, pool, int64(o.Events), "event")
	r.Publish.Cost = &pubCost
	if err != nil {
		return r, fmt.Errorf("burn-down: publish: %w", err)
	}

	if pool, err = b.phasePool(ctx); err != nil {
		return r, err
	}
	d := b.dispatcher(pool)
	m = b.startMeter(ctx)
	start = time.Now()
	if err := startDispatcher(ctx, d); err != nil {
		pool.Close()
		return r, err
	}
	werr := b.await(ctx, func() bool { return b.rcv.unique.Load() >= int64(o.Events) })
	if werr == nil {
		r.PerSec = float64(o.Events) / time.Unix(0, b.rcv.last.Load()).Sub(start).Seconds()
		werr = b.await(ctx, func() bool { return b.succeeded(ctx) >= o.Events })
		r.RecordedPerSec = float64(o.Events) / time.Since(start).Seconds()
	}
	stopDispatcher(d)
	var raw []byte
	r.Cost, raw = m.stop(ctx, pool, int64(o.Events), "delivery")
	r.Total = r.Cost.add(pubCost)
	if c := r.Cost.CPU; c.PostgreSQL >= 0 && c.Bench+c.PostgreSQL > 0 {
		r.CPUBound = float64(runtime.NumCPU()) * float64(o.Events) / (c.Bench + c.PostgreSQL)
	}
	r.Received, r.Duplicates, r.Rejected = b.rcv.unique.Load(), b.rcv.duplicates.Load(), b.rcv.rejected.Load()
	if o.CPUProfile != nil && b.profileOut == nil {
		b.profileOut = raw // the first burn-down's
	}
	if werr != nil {
		return r, fmt.Errorf("burn-down: %d of %d received: %w", r.Received, o.Events, werr)
	}
	return r, nil
}

// single publishes opts.SingleEvents events one per transaction
// (Publisher.Publish) from 16 goroutines.
func (b *bench) single(ctx context.Context, live int) (Publish, error) {
	const conc = 16
	n := b.opts.SingleEvents
	r := Publish{Events: n, PerCall: 1, Concurrency: conc}
	pool, err := b.phasePool(ctx)
	if err != nil {
		return r, err
	}
	pub := outbox.NewPublisher(pool, outbox.Options{})
	m := b.startMeter(ctx)
	start := time.Now()
	err = inParallel(ctx, conc, func(ctx context.Context, w int) error {
		for i := w; i < n; i += conc {
			if _, err := pub.Publish(ctx, b.liveEvent(i, live)); err != nil {
				return err
			}
		}
		return nil
	})
	r.PerSec = float64(n) / time.Since(start).Seconds()
	cost, _ := m.stop(ctx, pool, int64(n), "event")
	r.Cost = &cost
	return r, err
}
