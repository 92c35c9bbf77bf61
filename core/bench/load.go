package bench

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/core/ids"
	"github.com/hookd/hookd/core/outbox"
)

// Offered load: every tick one PublishBatch carries that tick's share of
// events (as the baseline's one InsertMany per tick), handed to one of
// loadPublishers so that a slow commit does not hold back the next tick.
const (
	tick           = 10 * time.Millisecond
	loadPublishers = 16
)

// sent is one published event: its id, when its PublishBatch began and
// when it returned.
type sent struct {
	id       string
	at, done time.Time
}

// load is offered load in progress; committed counts the events whose
// batch has committed, for watching the backlog.
type load struct {
	committed atomic.Int64
	mu        sync.Mutex
	sent      []sent
	dropped   int
	err       error
}

// offer publishes rate events per second for dur, event(i) making the
// i-th, and returns when every batch has returned. Ticks the publishers
// cannot take in time are dropped and counted.
func (b *bench) offer(ctx context.Context, pool *pgxpool.Pool, l *load, rate float64, dur time.Duration, event func(i int) outbox.Event) {
	pub := outbox.NewPublisher(pool, outbox.Options{})
	type batch struct{ from, to int }
	slots := make(chan batch, loadPublishers)
	var wg sync.WaitGroup
	withPart(ctx, partLoad, func(ctx context.Context) {
		for range loadPublishers {
			wg.Go(func() {
				for bt := range slots {
					b.publishTick(ctx, pub, l, bt.from, bt.to, event)
				}
			})
		}
		start, owed, n := time.Now(), 0.0, 0
		for k := 0; time.Since(start) < dur && ctx.Err() == nil; k++ {
			owed += rate * tick.Seconds()
			if c := int(owed); c > 0 {
				owed -= float64(c)
				select {
				case slots <- batch{n, n + c}:
					n += c
				default: // the publishers are saturated: said so, not hidden
					l.mu.Lock()
					l.dropped += c
					l.mu.Unlock()
				}
			}
			sleepCtx(ctx, time.Until(start.Add(time.Duration(k+1)*tick)))
		}
		close(slots)
		wg.Wait()
	})
}

func (b *bench) publishTick(ctx context.Context, pub *outbox.Publisher, l *load, from, to int, event func(int) outbox.Event) {
	for lo := from; lo < to; lo += outbox.MaxBatch {
		hi := min(lo+outbox.MaxBatch, to)
		evs := make([]outbox.Event, 0, hi-lo)
		for i := lo; i < hi; i++ {
			ev := event(i)
			ev.ID = ids.New("evt")
			evs = append(evs, ev)
		}
		at := time.Now()
		_, err := pub.PublishBatch(ctx, nil, evs)
		done := time.Now()
		l.mu.Lock()
		if err != nil {
			l.err = cmpErr(l.err, err)
		} else {
			for _, ev := range evs {
				l.sent = append(l.sent, sent{ev.ID, at, done})
			}
		}
		l.mu.Unlock()
		if err == nil {
			l.committed.Add(int64(len(evs)))
		}
	}
}

// latencies returns the events' publish-to-receipt, publish-call and
// commit-to-receipt durations, and how many were never received.
func (b *bench) latencies(all []sent) (lat, call, after []time.Duration, missing int) {
	for _, s := range all {
		at := b.rcv.receivedAt(s.id)
		if at.IsZero() {
			missing++
			continue
		}
		lat = append(lat, at.Sub(s.at))
		call = append(call, s.done.Sub(s.at))
		after = append(after, at.Sub(s.done))
	}
	return lat, call, after, missing
}

// measure fills st's latencies, missing count and longest stall from the
// events sent.
func (b *bench) measure(st *Steady, all []sent) {
	lat, call, after, missing := b.latencies(all)
	st.Missing, st.Latency, st.Commit, st.AfterCommit = missing, distOf(lat), distOf(call), distOf(after)
	st.LongestStall = longestStall(all, b.rcv.receivedAt)
	var toClaim, toRequest, request []time.Duration
	for _, s := range all {
		at := b.rcv.receivedAt(s.id)
		t, ok := b.sends.of(s.id)
		if at.IsZero() || !ok {
			continue
		}
		// A claim may return before the publish call does: no wait.
		toClaim = append(toClaim, max(t.claimed.Sub(s.done), time.Nanosecond))
		toRequest = append(toRequest, max(t.started.Sub(t.claimed), time.Nanosecond))
		request = append(request, max(at.Sub(t.started), time.Nanosecond))
	}
	st.ToClaim, st.ClaimToRequest, st.Request = distOf(toClaim), distOf(toRequest), distOf(request)
}

// longestStall is the longest time in which nothing was received while an
// event whose PublishBatch had returned waited for its receipt. A
// dispatcher that is slow, or saturated, still delivers all along: its
// latency grows, its stalls stay short. One that missed a wake-up delivers
// nothing until its next poll, however high the latency.
func longestStall(all []sent, receivedAt func(string) time.Time) time.Duration {
	type ev struct{ done, at time.Time }
	evs := make([]ev, 0, len(all))
	for _, s := range all {
		if at := receivedAt(s.id); !at.IsZero() {
			evs = append(evs, ev{s.done, at})
		}
	}
	slices.SortFunc(evs, func(a, b ev) int { return a.at.Compare(b.at) })
	// Between receipts i-1 and i, the events still waiting are those
	// received from i on: the gap is a stall from the earliest of their
	// commits (or from receipt i-1, if later).
	var longest time.Duration
	var waiting time.Time // the earliest commit among events i.. (walking down)
	for i := len(evs) - 1; i >= 0; i-- {
		if waiting.IsZero() || evs[i].done.Before(waiting) {
			waiting = evs[i].done
		}
		from := waiting
		if i > 0 && evs[i-1].at.After(from) {
			from = evs[i-1].at
		}
		longest = max(longest, evs[i].at.Sub(from))
	}
	return longest
}

// steady offers rate events per second to the live endpoints for
// opts.Duration while the dispatcher runs, and measures latency and cost.
func (b *bench) steady(ctx context.Context, rate float64) (Steady, error) {
	o := b.opts
	st := Steady{OfferedPerSec: rate, Duration: Duration(o.Duration)}
	if err := b.reset(ctx); err != nil {
		return st, err
	}
	if _, err := b.addLive(ctx, o.Live, b.rcv.URL, o.Workers); err != nil {
		return st, err
	}
	pool, err := b.phasePool(ctx)
	if err != nil {
		return st, err
	}
	d := b.dispatcher(pool)
	if err := startDispatcher(ctx, d); err != nil {
		pool.Close()
		return st, err
	}
	sleepCtx(ctx, 200*time.Millisecond) // LISTEN is up
	event := func(i int) outbox.Event { return b.liveEvent(i, o.Live) }
	if o.Warmup > 0 {
		w := &load{}
		b.offer(ctx, pool, w, rate, o.Warmup, event)
		if err := b.await(ctx, func() bool { return b.rcv.unique.Load() >= int64(len(w.sent)) }); err != nil || w.err != nil {
			stopDispatcher(d)
			return st, fmt.Errorf("steady at %.0f/s: warm-up: %w", rate, cmp.Or(w.err, err))
		}
		lat, _, _, _ := b.latencies(w.sent)
		wl := distOf(lat)
		st.Warmup, st.WarmupLatency = Duration(o.Warmup), &wl
		if err := b.settle(ctx, pool); err != nil {
			stopDispatcher(d)
			return st, fmt.Errorf("steady at %.0f/s: after the warm-up: %w", rate, err)
		}
		b.forget()
	}
	m := b.startMeter(ctx)
	l := &load{}
	start := time.Now()
	b.offer(ctx, pool, l, rate, o.Duration, event)
	werr := b.await(ctx, func() bool { return b.rcv.unique.Load() >= int64(len(l.sent)) })
	elapsed := time.Unix(0, b.rcv.last.Load()).Sub(start)
	stopDispatcher(d)
	st.Cost, _ = m.stop(ctx, pool, b.rcv.unique.Load(), "delivery")
	if l.err != nil {
		return st, fmt.Errorf("steady at %.0f/s: publish: %w", rate, l.err)
	}
	st.Published, st.Dropped, st.Received = len(l.sent), l.dropped, b.rcv.unique.Load()
	if elapsed > 0 {
		st.PerSec = float64(st.Received) / elapsed.Seconds()
	}
	b.measure(&st, l.sent)
	if werr != nil {
		return st, fmt.Errorf("steady at %.0f/s: %d of %d received: %w", rate, st.Received, st.Published, werr)
	}
	return st, nil
}

// settle waits until the warm-up's deliveries are recorded and has every
// idle connection of pool flush its statistics, which a backend otherwise
// holds for up to a second (or until it has been idle for ten): the
// measurement that follows must not count the warm-up's rows.
func (b *bench) settle(ctx context.Context, pool *pgxpool.Pool) error {
	err := b.await(ctx, func() bool {
		var n int
		return pool.QueryRow(ctx, `SELECT count(*) FROM hookd.queue`).Scan(&n) == nil && n == 0
	})
	if err != nil {
		return err
	}
	for _, c := range pool.AcquireAllIdle(ctx) {
		// Flushed when the backend goes idle after this statement.
		_, err = c.Exec(ctx, `SELECT pg_stat_force_next_flush()`)
		c.Release()
		if err != nil {
			return err
		}
	}
	return nil
}
