package dispatch

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/partition"
)

// outcome is what a worker hands the engine: the result of its attempt;
// or the delivery to release, for work cut short by Stop or a job whose
// turn came too late (handedBack, see handBacks).
type outcome struct {
	res        delivery.Result
	released   bool
	claim      delivery.Leased // what to release
	handedBack bool
	awaited    bool // its lane waits for it (delivery.Job.Awaited)
}

// A cycle that only results call for waits up to linger for lingerBatch
// of them: under light load every response would otherwise start a
// transaction of its own. Work made due (a notification, a timer, a full
// claim while workers are free) and results a lane waits for start one at
// once.
const (
	linger      = 2 * time.Millisecond
	lingerBatch = 16
)

// maxCycles is how many cycles run at once: while one waits for the
// database, the next is already recording the results that came in and
// claiming, so neither the database nor the workers sit idle.
const maxCycles = 2

// cycleRun is a cycle in flight, and then its outcome. The cycle's
// goroutine hands it to the engine twice, in order on one channel: once
// its transaction committed, so that the jobs it claimed start at once,
// and when it is done (after dropping the lanes it found idle, or
// failing).
type cycleRun struct {
	results  []delivery.Result // what it records (kept, to record again after a failure)
	limit    int               // the workers it reserved for its claim
	admit    bool              // turn wake rows into lanes before claiming
	claimed  time.Time         // when the cycle began: the due timer asks from here
	leased   time.Time         // the clock just before its claim: leases count from here
	returned time.Time         // when its claim committed: rate slots count from here
	out      cycleOut
	started  bool             // the engine took its jobs
	dropped  delivery.Dropped // what became of the idle lanes (written after committed)
	err      error
}

// cycleEvent is a cycle handed to the engine: committed (done false) or
// done.
type cycleEvent struct {
	c    *cycleRun
	done bool
}

// engine runs cycles until claiming has stopped and every worker has
// handed back its outcome; then it releases what was cut short.
func (d *Dispatcher) engine(claimCtx, lastCtx context.Context) {
	defer close(d.engineDone)
	var (
		running   int // workers sending
		reserved  int // workers reserved by the claims of cycles in flight
		cycles    int // cycles in flight
		pending   []delivery.Result
		released  []delivery.Leased
		claim     = true    // look for work
		urgent    = true    // at once, not only because results came in
		admit     = true    // and for wakes left while no dispatcher ran
		since     time.Time // when the oldest pending result came in
		backoff   = newBackoff(50*time.Millisecond, 5*time.Second)
		pauseTill time.Time     // no new cycle before this, after one failed
		contended time.Duration // the wait before looking again at lanes a writer held
	)
	paced := paces{}
	handedBack := newHandBacks()
	events := make(chan cycleEvent, 2*maxCycles)
	poll := time.NewTicker(d.opts.Delivery.PollInterval)
	defer poll.Stop()
	due := newDueTimer(lastCtx)
	defer due.stop()
	lingering := time.NewTimer(time.Hour)
	lingering.Stop()
	take := func(o outcome) {
		running--
		if o.released {
			released = append(released, o.claim)
			return
		}
		if o.handedBack {
			handedBack.add(o.claim) // due again once released
			return
		}
		if len(pending) == 0 {
			since = time.Now()
		}
		pending = append(pending, o.res)
		urgent = urgent || o.awaited
	}
	// start sends what a committed cycle claimed.
	start := func(c *cycleRun) {
		c.started = true
		reserved -= c.limit
		backoff.reset()
		for _, job := range c.out.claimed.Jobs {
			running++
			var p *pace
			if job.RateLimit > 0 {
				p = paced.hold(job.EndpointID)
			}
			go d.run(job, p, c.leased, c.returned)
		}
		now := d.opts.Now()
		for _, job := range c.out.claimed.Missing {
			pending = append(pending, delivery.MissingEventResult(job, d.opts.Worker, now))
		}
	}
	finish := func(c *cycleRun) {
		cycles--
		if !c.started {
			reserved -= c.limit
		}
		if c.err != nil {
			if lastCtx.Err() == nil {
				wait := backoff.next()
				d.logger.Warn("a delivery cycle failed; retrying with every result kept", slog.Int("results", len(c.results)),
					slog.String("error", c.err.Error()), slog.Duration("retry_in", wait))
				pauseTill = time.Now().Add(wait)
				due.set(wait)
			}
			pending = append(pending, c.results...)
			claim, urgent = true, true
			admit = admit || c.admit
			return
		}
		if c.out.admitNext {
			claim, urgent, admit = true, true, true // the promoted retries' lanes
		}
		if c.limit > 0 {
			// A full claim may have left due work behind: claim again, at
			// once while workers are free, else with the results that free
			// them. A short one took all there was, so wait for a signal or
			// the next due time. A woken lane has its work due now.
			if len(c.out.claimed.Jobs)+len(c.out.claimed.Missing) >= c.limit {
				claim = true
				urgent = urgent || d.opts.Delivery.Workers-running-reserved > 0
			}
			if c.dropped.Woken > 0 {
				claim, urgent = true, true
			}
			switch {
			case claim:
			case c.dropped.Contended > 0:
				// A writer is making work due on a lane that stays: that
				// work brings no notification, so look again once the
				// writer has likely committed. The wait grows while looking
				// finds nothing (a long transaction), and starts again from
				// a millisecond once it found work (the next writer).
				if len(c.out.claimed.Jobs) > 0 {
					contended = 0
				}
				contended = min(max(2*contended, time.Millisecond), 64*time.Millisecond)
				due.set(contended)
			default:
				contended = 0
				due.ask(d, c.claimed)
			}
		}
	}
	for {
		stopping := claimCtx.Err() != nil
		if stopping && running == 0 && cycles == 0 && len(pending) == 0 && !handedBack.busy() {
			d.release(released)
			return
		}
		if stopping && cycles == 0 && lastCtx.Err() != nil {
			d.logger.Error("gave up recording attempt results at shutdown; their leases will expire and the deliveries will be retried",
				slog.Int("results", len(pending)))
			return
		}
		// Take every outcome that is ready, without waiting.
	gather:
		for len(pending) < completeBatch {
			select {
			case o := <-d.outcomes:
				take(o)
			default:
				break gather
			}
		}
		d.releaseHandBacks(lastCtx, handedBack)
		if len(pending) > 0 {
			claim = true // finished attempts free slots: their lanes may have due work
		}
		free := d.opts.Delivery.Workers - running - reserved
		wantClaim := !stopping && claim && free > 0
		ready := wantClaim && urgent || len(pending) >= lingerBatch ||
			len(pending) > 0 && (stopping || time.Since(since) >= linger)
		if cycles < maxCycles && ready && !time.Now().Before(pauseTill) {
			c := &cycleRun{}
			if wantClaim {
				c.limit = min(free, d.opts.Delivery.ClaimBatch)
				claim, urgent = false, false // the cycle's claim tells whether more is due
				c.admit, admit = admit, false
			}
			n := min(len(pending), completeBatch)
			c.results = append([]delivery.Result(nil), pending[:n]...)
			pending = append(pending[:0], pending[n:]...)
			reserved += c.limit
			cycles++
			// Stop does not cut a cycle short, only keeps new ones from
			// claiming: a COMMIT interrupted on the client's side may
			// still commit on the server, and the claim it made would be
			// lost to the engine, its deliveries left in flight until
			// their leases expire. lastCtx ends only when Stop gives up.
			// Leases count from the claiming statement (c.leased), rate
			// slots from the claim's return (see delivery.Job.StartIn).
			c.claimed = time.Now()
			go func() {
				c.err = d.cycle(lastCtx, c, events)
				events <- cycleEvent{c, true}
			}()
			continue
		}
		if len(pending) > 0 && !ready {
			resetTimer(lingering, linger-time.Since(since))
		}
		stop := claimCtx.Done()
		if stopping {
			stop = nil // only outcomes and cycles matter now
		}
		select {
		case o := <-d.outcomes:
			take(o)
		case e := <-events:
			if e.done {
				finish(e.c)
			} else {
				start(e.c)
			}
		case n := <-handedBack.done:
			handedBack.running = false
			if n > 0 {
				claim, urgent = true, true // released: due again
			}
		case <-d.wake:
			claim, urgent = true, true
		case <-d.notified:
			claim, urgent, admit = true, true, true
		case <-poll.C:
			// The fallback for a notification missed while the listener
			// reconnected.
			claim, urgent, admit = true, true, true
			paced.prune(time.Now().Add(-2 * time.Second))
		case <-due.timer.C:
			due.fired()
			claim, urgent = true, true
			if wait := time.Until(pauseTill); wait > 0 {
				due.set(wait) // brought forward into a pause: look again at its end
			}
		case next := <-due.answers:
			due.answer(d, next)
		case <-lingering.C:
		case <-stop:
		}
	}
}

// cycle records c's results and claims up to c.limit deliveries in one
// transaction, hands c to the engine once that transaction committed, and
// then drops the lanes the claim found idle. With c.admit set it first
// turns wake rows into lanes, in a statement of its own (see
// delivery.AdmitWakes); before claiming it promotes due retries, whose
// lanes the next cycle admits.
func (d *Dispatcher) cycle(ctx context.Context, c *cycleRun, events chan<- cycleEvent) error {
	results, limit := c.results, c.limit
	if limit > 0 && c.admit {
		if _, err := delivery.AdmitWakes(ctx, d.pool); err != nil {
			return err
		}
	}
	out, applied, lost, err := d.cycleTx(ctx, c)
	if partition.IsMissing(err) {
		if _, perr := partition.Ensure(ctx, d.pool, d.opts.PartitionSpan, time.Now()); perr == nil {
			out, applied, lost, err = d.cycleTx(ctx, c)
		}
	}
	if err != nil {
		return err
	}
	// The engine reads what the claim took from here on; this goroutine
	// writes only c.dropped, which it hands over with done.
	c.out, c.returned = out, time.Now()
	events <- cycleEvent{c, false}
	if len(lost) > 0 {
		d.logDropped(lost)
	}
	d.applied(ctx, len(results)-len(lost), applied)
	if idle := out.claimed.Idle; len(idle) > 0 {
		dropped, err := delivery.DropIdleLanes(context.WithoutCancel(ctx), d.pool, idle)
		if err != nil {
			// The lanes stay; look at them again shortly.
			d.logger.Debug("dropping idle lanes failed", slog.String("error", err.Error()))
			dropped.Contended = len(idle)
		}
		c.dropped = dropped
	}
	return nil
}

// cycleTx is a cycle's transaction: it records c's results and claims
// up to c.limit deliveries, and returns what it claimed, the results it
// applied and those it dropped (their deliveries are gone). Due retries
// are promoted, and the results' deliveries locked, in the round trip of
// the BEGIN; the results are written in the claim's first round trip,
// and the COMMIT goes with the claim's last one (delivery.InCycle).
func (d *Dispatcher) cycleTx(ctx context.Context, c *cycleRun) (out cycleOut, applied, lost []delivery.Result, err error) {
	results, limit := c.results, c.limit
	promoted := 0
	var done *delivery.Completion
	first := func(b *pgx.Batch) {
		if limit > 0 {
			delivery.QueuePromote(b, promoteLimit, &promoted)
		}
		if len(results) > 0 {
			done = delivery.QueueCompletion(b, d.policy, results)
		}
	}
	var claiming *delivery.Claiming
	err = delivery.InCycle(ctx, d.pool, first, func(tx db.Executor) (*pgx.Batch, error) {
		out.admitNext = promoted > 0
		ahead, last := &pgx.Batch{}, &pgx.Batch{}
		if done != nil {
			if err := done.Queue(ctx, tx, ahead); err != nil {
				return nil, err
			}
			applied, lost = done.Applied, done.Dropped
			if d.opts.OnOutcomeTx != nil && len(applied) > 0 {
				if err := d.opts.OnOutcomeTx(ctx, tx, applied); err != nil {
					return nil, err
				}
			}
		}
		if limit == 0 {
			return ahead, nil // the results' writes go with the COMMIT
		}
		c.leased = time.Now() // before the statement the lease counts from
		var err error
		claiming, err = delivery.ClaimQueued(ctx, tx, delivery.ClaimParams{
			Policy: d.policy, Limit: limit, Lease: d.opts.Delivery.Lease, Timeout: d.opts.Delivery.Timeout,
			Worker: d.opts.Worker,
			// A rate slot must leave the attempt its time inside the lease.
			RateHorizon: min(time.Second, (d.opts.Delivery.Lease-d.opts.Delivery.Timeout)/2),
		}, ahead, last)
		return last, err
	})
	if err == nil && claiming != nil {
		out.claimed = claiming.Claimed()
	}
	return out, applied, lost, err
}

// cycleOut is what a cycle's transaction did: what it claimed, and
// whether it made retries due whose lanes the next cycle must admit.
type cycleOut struct {
	claimed   delivery.Claimed
	admitNext bool
}

// resetTimer sets timer to fire after wait, whatever it was set to.
func resetTimer(timer *time.Timer, wait time.Duration) {
	timer.Stop()
	select {
	case <-timer.C:
	default:
	}
	timer.Reset(wait)
}

// release hands back the deliveries whose attempts Stop cut short, so
// another process takes them at once (their attempt uncounted).
func (d *Dispatcher) release(claims []delivery.Leased) {
	if len(claims) == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), d.opts.Delivery.ShutdownTimeout+5*time.Second)
	defer cancel()
	n, err := delivery.Release(ctx, d.pool, d.opts.Worker, claims)
	if err != nil {
		d.logger.Error("releasing unfinished deliveries failed; their leases will expire instead",
			slog.Int("count", len(claims)), slog.String("error", err.Error()))
		return
	}
	d.logger.Info("released unfinished deliveries", slog.Int("count", n))
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
	d.recorded.Add(int64(recorded))
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
