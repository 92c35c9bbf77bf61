package bench

import (
	"context"
	"fmt"

	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/tenant"
)

// slowType is the event type of the slow endpoint's backlog.
const slowType = "bench.slow"

// fairness gives one endpoint on the receiver's slow path a backlog of
// opts.SlowBacklog deliveries, then offers opts.OthersRate events per
// second to opts.Others other endpoints for opts.Duration while the
// dispatcher drains both: the others' latency says whether the backlog
// delays them, and what is left of it that the test was not just a drain.
func (b *bench) fairness(ctx context.Context) (Fairness, error) {
	o := b.opts
	f := Fairness{SlowDelay: Duration(o.SlowDelay), SlowBacklog: o.SlowBacklog, SlowCap: max(o.Workers/2, 1),
		Others: o.Others, OthersOffered: o.OthersRate, Duration: Duration(o.Duration)}
	if err := b.reset(ctx); err != nil {
		return f, err
	}
	if _, err := b.addLive(ctx, o.Others, b.rcv.URL, o.Workers); err != nil {
		return f, err
	}
	slow := endpoint.CreateParams{URL: b.rcv.slowURL(), Secret: b.secret, EventTypes: []string{slowType}, MaxInFlight: f.SlowCap}
	if b.tenanted {
		slow.Tenant = "slow"
		if _, _, err := tenant.Put(ctx, b.admin, slow.Tenant, tenant.PutParams{}); err != nil {
			return f, err
		}
	}
	if _, err := endpoint.Create(ctx, b.admin, slow); err != nil {
		return f, err
	}
	pool, err := b.phasePool(ctx)
	if err != nil {
		return f, err
	}
	defer pool.Close()
	if err := b.publishAll(ctx, pool, o.SlowBacklog, outbox.MaxBatch, burnPublishers, func(int) outbox.Event {
		return outbox.Event{Type: slowType, Tenant: slow.Tenant, Data: b.payload}
	}); err != nil {
		return f, fmt.Errorf("fairness: publish the backlog: %w", err)
	}
	d := b.dispatcher(pool)
	if err := startDispatcher(ctx, d); err != nil {
		return f, err
	}
	defer stopDispatcher(d)
	// The slow endpoint takes its share first, as a backlog met by new
	// traffic would have.
	sleepCtx(ctx, 2*o.SlowDelay)
	l := &load{}
	b.offer(ctx, pool, l, o.OthersRate, o.Duration, func(i int) outbox.Event { return b.liveEvent(i, o.Others) })
	if l.err != nil {
		return f, fmt.Errorf("fairness: publish: %w", l.err)
	}
	others := func() int64 { return b.rcv.unique.Load() - b.rcv.slow.Load() }
	werr := b.await(ctx, func() bool { return others() >= int64(len(l.sent)) })
	f.SlowDelivered = b.rcv.slow.Load()
	f.SlowLeft = int64(o.SlowBacklog) - f.SlowDelivered
	f.OthersSent = len(l.sent)
	lat, _, _, missing := b.latencies(l.sent)
	f.OthersMissing, f.OthersLatency = missing, distOf(lat)
	if werr != nil {
		return f, fmt.Errorf("fairness: %d of %d received by the others: %w", others(), len(l.sent), werr)
	}
	return f, nil
}
