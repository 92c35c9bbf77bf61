package bench

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/core/outbox"
)

// A rate holds when the publishers kept up (at most holdDropped of the
// offered events dropped), the backlog (published less received) grew by
// at most holdSlope of the rate per second, and at the end at most
// holdEnd seconds' worth of events were waiting.
const (
	holdDropped   = 0.005
	holdSlope     = 0.02
	holdEnd       = 0.5
	backlogSample = 250 * time.Millisecond
)

// backlogTrace is the backlog sampled while load is offered.
type backlogTrace struct {
	at []float64 // seconds since the start
	n  []int64
}

// watchBacklog samples committed-less-received every backlogSample until
// stop is closed.
func (b *bench) watchBacklog(l *load, stop <-chan struct{}) *backlogTrace {
	tr := &backlogTrace{}
	start := time.Now()
	t := time.NewTicker(backlogSample)
	defer t.Stop()
	for {
		tr.at = append(tr.at, time.Since(start).Seconds())
		tr.n = append(tr.n, l.committed.Load()-b.rcv.unique.Load())
		select {
		case <-stop:
			return tr
		case <-t.C:
		}
	}
}

// slope is the least-squares growth of the backlog per second.
func (tr *backlogTrace) slope() float64 {
	n := float64(len(tr.n))
	if n < 2 {
		return 0
	}
	var sx, sy, sxx, sxy float64
	for i, x := range tr.at {
		y := float64(tr.n[i])
		sx, sy, sxx, sxy = sx+x, sy+y, sxx+x*x, sxy+x*y
	}
	den := n*sxx - sx*sx
	if den == 0 {
		return 0
	}
	return (n*sxy - sx*sy) / den
}

func (tr *backlogTrace) max() int64 {
	var m int64
	for _, v := range tr.n {
		m = max(m, v)
	}
	return m
}

func (tr *backlogTrace) last() int64 {
	if len(tr.n) == 0 {
		return 0
	}
	return tr.n[len(tr.n)-1]
}

// run offers rate for dur while watching the backlog.
func (b *bench) runWatched(ctx context.Context, pool *pgxpool.Pool, rate float64, dur time.Duration) (*load, *backlogTrace) {
	l := &load{}
	stop := make(chan struct{})
	var tr *backlogTrace
	var wg sync.WaitGroup
	wg.Go(func() { tr = b.watchBacklog(l, stop) })
	live := b.opts.Live
	b.offer(ctx, pool, l, rate, dur, func(i int) outbox.Event { return b.liveEvent(i, live) })
	close(stop)
	wg.Wait()
	return l, tr
}

func held(rate float64, l *load, tr *backlogTrace) bool {
	offered := float64(len(l.sent) + l.dropped)
	return l.err == nil && float64(l.dropped) <= holdDropped*offered &&
		tr.slope() <= holdSlope*rate && float64(tr.last()) <= holdEnd*rate
}

// sustained searches for the highest rate the machine holds while
// publishing and delivering at once, starting from guess, with short
// probes; then it holds that rate for opts.SustainedHold and measures it.
func (b *bench) sustained(ctx context.Context, guess float64) (Sustained, error) {
	o := b.opts
	var s Sustained
	if err := b.reset(ctx); err != nil {
		return s, err
	}
	if _, err := b.addLive(ctx, o.Live, b.rcv.URL, o.Workers); err != nil {
		return s, err
	}
	pool, err := b.phasePool(ctx)
	if err != nil {
		return s, err
	}
	d := b.dispatcher(pool)
	if err := startDispatcher(ctx, d); err != nil {
		pool.Close()
		return s, err
	}
	stopped := false
	defer func() {
		if !stopped {
			d.Stop()
			pool.Close()
		}
	}()
	drain := func(l *load) error {
		if err := b.await(ctx, func() bool { return b.rcv.unique.Load() >= l.committed.Load() }); err != nil {
			return fmt.Errorf("sustained: draining: %w", err)
		}
		return nil
	}

	rate, lo, hi := max(guess, 100), 0.0, 0.0
	for range o.SustainedProbes {
		l, tr := b.runWatched(ctx, pool, rate, o.SustainedProbe)
		if l.err != nil {
			return s, fmt.Errorf("sustained: publish: %w", l.err)
		}
		p := Probe{Offered: rate, Slope: tr.slope(), Dropped: l.dropped, End: tr.last(), Held: held(rate, l, tr)}
		s.Probes = append(s.Probes, p)
		if err := drain(l); err != nil {
			return s, err
		}
		b.rcv.reset()
		if p.Held {
			lo = rate
		} else {
			hi = rate
		}
		switch {
		case hi == 0:
			rate *= 1.25
		case lo == 0:
			rate *= 0.7
		default:
			rate = (lo + hi) / 2
		}
		if lo > 0 && hi > 0 && hi/lo < 1.08 {
			break
		}
	}
	if lo == 0 {
		lo = rate // nothing held: hold the last, lowest step
	}

	m := b.startMeter(ctx)
	start := time.Now()
	l, tr := b.runWatched(ctx, pool, lo, o.SustainedHold)
	elapsed := time.Since(start)
	received := b.rcv.unique.Load()
	werr := drain(l)
	d.Stop()
	stopped = true
	s.Hold.Cost, _ = m.stop(ctx, pool, received, "delivery")
	if l.err != nil {
		return s, fmt.Errorf("sustained: publish: %w", l.err)
	}
	h := &s.Hold
	h.OfferedPerSec, h.Duration = lo, Duration(o.SustainedHold)
	h.Published, h.Dropped, h.Received = len(l.sent), l.dropped, received
	h.PerSec = float64(received) / elapsed.Seconds()
	lat, call, missing := b.latencies(l.sent)
	h.Missing, h.Latency, h.Commit = missing, distOf(lat), distOf(call)
	s.BacklogStart, s.BacklogEnd, s.BacklogMax, s.Slope = tr.n[0], tr.last(), tr.max(), tr.slope()
	s.Held = held(lo, l, tr)
	return s, werr
}
