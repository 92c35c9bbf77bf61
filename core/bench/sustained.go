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
	at      []float64 // seconds since the start
	n       []int64
	dropped int // offered events the publishers could not take
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

// held reports whether rate held: the publishers kept up and the backlog
// stayed flat.
func held(rate float64, dropped int, tr *backlogTrace) bool {
	offered := rate * tr.at[len(tr.at)-1]
	return float64(dropped) <= holdDropped*max(offered, 1) &&
		tr.slope() <= holdSlope*rate && float64(tr.last()) <= holdEnd*rate
}

// holdTries is how many holds are tried, each at holdStep of the last,
// when the rate the probes found does not hold for the whole
// SustainedHold. A step of a tenth keeps the rate reported within a tenth
// of the highest that holds (a fifth left up to a fifth unreported).
const (
	holdTries = 4
	holdStep  = 0.9
)

// sustained searches for the highest rate the machine holds while
// publishing and delivering at once, starting from guess, with short
// probes; then it holds that rate for opts.SustainedHold and measures it,
// stepping down when the backlog grows after all.
func (b *bench) sustained(ctx context.Context, guess float64) (Sustained, error) {
	s := Sustained{ProbeLength: Duration(b.opts.SustainedProbe)}
	if err := b.reset(ctx); err != nil {
		return s, err
	}
	if _, err := b.addLive(ctx, b.opts.Live, b.rcv.URL, b.opts.Workers); err != nil {
		return s, err
	}
	rate, err := b.search(ctx, guess, &s)
	if err != nil {
		return s, err
	}
	for try := 1; ; try++ {
		h, tr, err := b.hold(ctx, rate)
		if err != nil {
			return s, err
		}
		s.Hold, s.Held = h, held(rate, tr.dropped, tr)
		s.BacklogStart, s.BacklogEnd, s.BacklogMax, s.Slope = tr.n[0], tr.last(), tr.max(), tr.slope()
		if s.Held || try == holdTries {
			return s, nil
		}
		s.FailedHolds = append(s.FailedHolds, Probe{Offered: rate, Slope: s.Slope, Dropped: h.Dropped, End: s.BacklogEnd})
		rate *= holdStep
	}
}

// search probes rates, each for opts.SustainedProbe with the backlog
// drained in between, and returns the highest that held.
func (b *bench) search(ctx context.Context, guess float64, s *Sustained) (float64, error) {
	o := b.opts
	pool, err := b.phasePool(ctx)
	if err != nil {
		return 0, err
	}
	defer pool.Close()
	d := b.dispatcher(pool)
	if err := startDispatcher(ctx, d); err != nil {
		return 0, err
	}
	defer stopDispatcher(d)
	rate, lo, hi := max(guess, 100), 0.0, 0.0
	for range o.SustainedProbes {
		l, tr := b.runWatched(ctx, pool, rate, o.SustainedProbe)
		if l.err != nil {
			return 0, fmt.Errorf("sustained: publish: %w", l.err)
		}
		p := Probe{Offered: rate, Slope: tr.slope(), Dropped: l.dropped, End: tr.last(), Held: held(rate, l.dropped, tr)}
		s.Probes = append(s.Probes, p)
		if err := b.drain(ctx, l); err != nil {
			return 0, err
		}
		b.forget()
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
	return lo, nil
}

// drain waits until every committed event of l has been received.
func (b *bench) drain(ctx context.Context, l *load) error {
	if err := b.await(ctx, func() bool { return b.rcv.unique.Load() >= l.committed.Load() }); err != nil {
		return fmt.Errorf("sustained: draining: %w", err)
	}
	return nil
}

// hold offers rate for opts.SustainedHold with a dispatcher and pool of
// its own, measured, and waits until the backlog has drained.
func (b *bench) hold(ctx context.Context, rate float64) (Steady, *backlogTrace, error) {
	h := Steady{OfferedPerSec: rate, Duration: Duration(b.opts.SustainedHold)}
	b.forget()
	pool, err := b.phasePool(ctx)
	if err != nil {
		return h, nil, err
	}
	d := b.dispatcher(pool)
	if err := startDispatcher(ctx, d); err != nil {
		pool.Close()
		return h, nil, err
	}
	sleepCtx(ctx, 200*time.Millisecond) // LISTEN is up
	m := b.startMeter(ctx)
	start := time.Now()
	l, tr := b.runWatched(ctx, pool, rate, b.opts.SustainedHold)
	elapsed := time.Since(start)
	received := b.rcv.unique.Load()
	werr := b.drain(ctx, l)
	stopDispatcher(d)
	h.Cost, _ = m.stop(ctx, pool, b.rcv.unique.Load(), "delivery")
	if l.err != nil {
		return h, nil, fmt.Errorf("sustained: publish: %w", l.err)
	}
	h.Published, h.Dropped, h.Received = len(l.sent), l.dropped, received
	h.PerSec = float64(received) / elapsed.Seconds()
	b.measure(&h, l.sent)
	tr.dropped = l.dropped
	return h, tr, werr
}
