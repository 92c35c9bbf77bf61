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
	if paced == nil {
		if time.Now().After(latest) {
			return turnTooLate
		}
		return turnSend
	}
	// Only a request that will be sent takes a turn: one that took a turn
	// and was handed back would push every later one back, and behind a
	// late claim the pace would never catch up again. So a turn not used
	// (Stop came, or the job overslept its latest start) is given back.
	at, prev, ok := paced.take(time.Now(), time.Second/time.Duration(job.RateLimit), latest)
	if !ok {
		return turnTooLate
	}
	t := turnSend
	if wait := time.Until(at); wait > 0 && !sleepCtx(ctx, wait) {
		t = turnStopped
	} else if time.Now().After(latest) {
		t = turnTooLate
	}
	if t != turnSend {
		paced.giveBack(at, prev)
	}
	return t
}

// latestStart is the last moment job's request may start: its lease must
// still leave it its whole timeout. Only a lease with less than
// minStartSlack over the timeout (delivery.lease set just above
// delivery.timeout) leaves the request half the budget instead, cut
// short by the lease: else a claim the least bit late, or a rate slot
// booked ahead, would be handed back every time.
func (d *Dispatcher) latestStart(job delivery.Job, leased time.Time) time.Time {
	budget := d.leaseBudget(job)
	need := cmp.Or(job.Timeout, d.opts.Delivery.Timeout)
	if budget-need < minStartSlack {
		need = min(need, budget/2)
	}
	return leased.Add(budget - need)
}

// minStartSlack is the least time a lease must leave a job to start in
// for latestStart to keep its whole timeout: rate slots are booked up to
// a second ahead (ClaimParams.RateHorizon), and a worker may wake late.
const minStartSlack = 2 * time.Second

// leaseBudget is how long after the claim the job's request must be done:
// nine tenths of its lease, so that no other worker retries it meanwhile.
func (d *Dispatcher) leaseBudget(job delivery.Job) time.Duration {
	return cmp.Or(job.Lease, d.opts.Delivery.Lease) * 9 / 10
}

// handBacks are the jobs workers handed back because their turn came too
// late, and their release. The engine owns it: it hands jobs over as
// workers report them, starts a release when none runs, and waits for the
// last one before it stops. One release takes every job that came in
// meanwhile, in one transaction: a stalled claim of hundreds of jobs is
// not handed back in as many transactions, against a database already
// slow.
type handBacks struct {
	waiting []delivery.Leased
	running bool
	done    chan int // a release finished: how many deliveries it released
}

func newHandBacks() *handBacks { return &handBacks{done: make(chan int, 1)} }

func (h *handBacks) add(c delivery.Leased) { h.waiting = append(h.waiting, c) }

// busy reports whether a release runs or jobs wait for one.
func (h *handBacks) busy() bool { return h.running || len(h.waiting) > 0 }

// releaseHandBacks releases the jobs h holds, unless a release runs
// already, so that a fresh claim takes them at once with a whole lease.
// It may take as long as a lease, and 5 s at least: the database that
// made the jobs late may be slow to release them too, and a release cut
// short leaves them to the reaper, which counts the attempt they never
// made (and on a last attempt, dead-letters them). Past their leases,
// releasing them changes nothing: Release names each claim by its
// attempt, and a reaped delivery's next claim has another. Should it
// fail, their leases expire and the reaper returns them. ctx ends when
// Stop gives up, and so does a release still running then.
func (d *Dispatcher) releaseHandBacks(ctx context.Context, h *handBacks) {
	if h.running || len(h.waiting) == 0 {
		return
	}
	claims := h.waiting
	h.waiting, h.running = nil, true
	go func() {
		ctx, cancel := context.WithTimeout(ctx, max(d.opts.Delivery.Lease, 5*time.Second))
		defer cancel()
		n, err := delivery.Release(ctx, d.pool, d.opts.Worker, claims)
		ids := make([]int64, 0, min(len(claims), 10))
		for _, c := range claims[:cap(ids)] {
			ids = append(ids, c.DeliveryID)
		}
		switch {
		case err != nil:
			d.logger.Warn("handing back deliveries whose lease ran short failed; the reaper returns them when their leases expire",
				slog.Int("count", len(claims)), slog.Any("deliveries", ids), slog.String("error", err.Error()))
		case n > 0:
			d.opts.Metrics.HandedBack.Add(float64(n))
			d.logger.Warn("handed back deliveries unsent and uncounted: too little of their lease was left to give the request its timeout (a claim slow to commit, or a worker that woke late)",
				slog.Int("count", n), slog.Any("deliveries", ids))
		}
		if lost := len(claims) - n; err == nil && lost > 0 {
			d.logger.Warn("deliveries whose lease ran short were not sent, and were no longer leased to this worker when handed back",
				slog.Int("count", lost))
		}
		h.done <- n
	}()
}
