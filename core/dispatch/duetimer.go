package dispatch

import (
	"context"
	"time"

	"github.com/hookd/hookd/core/delivery"
)

// dueTimer is the engine's timer for work that becomes due without a
// notification (a retry, a rate slot, a probe, a fifo head's backoff), and
// for looking again after a failed cycle or at a contended lane. The
// database is asked when the next such work is due on a goroutine of its
// own: on the engine's, the round trip (and the wait for a pooled
// connection while cycles hold theirs) held up every outcome and signal
// behind it, after almost every cycle under light load.
type dueTimer struct {
	ctx     context.Context // ends when the engine gives up at shutdown
	timer   *time.Timer
	at      time.Time      // when timer fires; zero when it is stopped
	answers chan time.Time // the next due time, zero for none
	asking  bool           // a question is out
	again   bool           // and another is owed: things changed since it left
	claimed time.Time      // the start of the claim the owed question follows
}

func newDueTimer(ctx context.Context) *dueTimer {
	t := time.NewTimer(time.Hour)
	t.Stop()
	return &dueTimer{ctx: ctx, timer: t, answers: make(chan time.Time, 1)}
}

// set makes the timer fire after wait, whatever it was set to.
func (t *dueTimer) set(wait time.Duration) {
	resetTimer(t.timer, wait)
	t.at = time.Now().Add(wait)
}

// fired records that the timer's channel was read.
func (t *dueTimer) fired() { t.at = time.Time{} }

// ask starts asking d's database when work is next due that a claim begun
// at claimed did not find; its answer arrives on t.answers, for answer.
// claimed is the engine's clock, taken before the claim's transaction
// began; the question carries only the time since, so the database's
// clock need not agree with ours.
func (t *dueTimer) ask(d *Dispatcher, claimed time.Time) {
	if t.asking {
		t.again, t.claimed = true, claimed
		return
	}
	t.asking = true
	go func() {
		ctx, cancel := context.WithTimeout(t.ctx, 5*time.Second)
		defer cancel()
		var next time.Time // zero: nothing waits, or the poll looks again
		// The time since the claim is taken once a connection is had: the
		// wait for one (cycles holding theirs) would otherwise move the
		// question past lanes whose waits ended meanwhile.
		if conn, err := d.pool.Acquire(ctx); err == nil {
			wait, ok, err := delivery.NextWake(ctx, conn, time.Since(claimed))
			conn.Release()
			if err == nil && ok {
				next = time.Now().Add(wait)
			}
		}
		t.answers <- next
	}()
}

// answer takes an answer of ask: the timer fires then if that is sooner
// than it would and than the next poll. A stale answer only brings a claim
// forward, never puts one off (the engine sets the timer again for the end
// of a pause that it fires into).
func (t *dueTimer) answer(d *Dispatcher, next time.Time) {
	t.asking = false
	if t.again {
		t.again = false
		t.ask(d, t.claimed)
	}
	if next.IsZero() || !t.at.IsZero() && !next.Before(t.at) {
		return
	}
	if wait := max(time.Until(next), time.Millisecond); wait < d.opts.Delivery.PollInterval {
		t.set(wait)
	}
}

// stop waits for a question still out, so that nothing of the engine
// outlives it.
func (t *dueTimer) stop() {
	t.timer.Stop()
	if t.asking {
		<-t.answers
		t.asking = false
	}
}
