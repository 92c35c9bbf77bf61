package dispatch

import (
	"cmp"
	"context"
	"log/slog"
	"time"

	"github.com/hookd/hookd/core/delivery"
)

// A claimed job's request starts when its turn comes: at the slot its
// endpoint's rate_limit gave it, an interval after the request before it
// to that endpoint (its pace), and while its lease still leaves the
// request its time. A job whose turn would come too late is handed back,
// unsent and uncounted, for a fresh claim with a whole lease: sent, the
// lease would cut the request short and count it a failed attempt that
// was never given its time, or never sent at all. A claim slow to commit
// (a database stall) and a worker that woke late are how a turn comes too
// late.

// turn is what waiting for a job's turn came to.
type turn int

const (
	turnSend    turn = iota // send it now
	turnStopped             // Stop came first: release it
	turnTooLate             // too little lease left: hand it back
)

// waitTurn waits for job's turn; paced, when not nil, is held for job and
// let go here.
func (d *Dispatcher) waitTurn(ctx context.Context, job delivery.Job, paced *pace, leased, returned time.Time) turn {
	if paced != nil {
		defer paced.letGo()
	}
	if wait := time.Until(returned.Add(job.StartIn)); wait > 0 && !sleepCtx(ctx, wait) {
		return turnStopped
	}
	latest := d.latestStart(job, leased)
	if paced != nil {
		// Only a request that will be sent takes a turn: one that took a
		// turn and was handed back would push every later one back, and
		// behind a late claim the pace would never catch up again.
		at, ok := paced.take(time.Now(), time.Second/time.Duration(job.RateLimit), latest)
		if !ok {
			return turnTooLate
		}
		if wait := time.Until(at); wait > 0 && !sleepCtx(ctx, wait) {
			return turnStopped
		}
	}
	if time.Now().After(latest) {
		return turnTooLate
	}
	return turnSend
}

// latestStart is the last moment job's request may start: its lease must
// still leave it its timeout, or half the lease's budget for a timeout
// longer than that (which the lease then cuts short).
func (d *Dispatcher) latestStart(job delivery.Job, leased time.Time) time.Time {
	budget := d.leaseBudget(job)
	need := min(cmp.Or(job.Timeout, d.opts.Delivery.Timeout), budget/2)
	return leased.Add(budget - need)
}

// leaseBudget is how long after the claim the job's request must be done:
// nine tenths of its lease, so that no other worker retries it meanwhile.
func (d *Dispatcher) leaseBudget(job delivery.Job) time.Duration {
	return cmp.Or(job.Lease, d.opts.Delivery.Lease) * 9 / 10
}

// handBack releases a job whose turn came too late, so that a fresh claim
// takes it at once with a whole lease. Should that fail, the lease expires
// and the reaper returns the delivery instead.
func (d *Dispatcher) handBack(job delivery.Job) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	n, err := delivery.Release(ctx, d.pool, d.opts.Worker, []delivery.Leased{job.Leased()})
	switch {
	case err != nil:
		d.logger.Warn("handing back a delivery whose lease ran short failed; the reaper returns it when the lease expires",
			slog.Int64("delivery", job.DeliveryID), slog.String("error", err.Error()))
	case n == 0:
		d.logger.Warn("a delivery whose lease ran short was not sent, and was no longer leased to this worker when handed back",
			slog.Int64("delivery", job.DeliveryID), slog.String("endpoint", job.EndpointID))
	default:
		d.opts.Metrics.HandedBack.Inc()
		d.logger.Warn("handed back a delivery unsent and uncounted: too little of its lease was left to give the request its timeout (a claim slow to commit, or a worker that woke late)",
			slog.Int64("delivery", job.DeliveryID), slog.String("endpoint", job.EndpointID))
	}
	d.outcomes <- outcome{handedBack: true}
}
