package dispatch

import (
	"context"
	"log/slog"
	"time"

	"github.com/hookd/hookd/core/delivery"
)

// vacuum vacuums the queue when the results recorded since it last looked
// left enough dead rows (see delivery.VacuumQueue), looking once a second
// and only after this dispatcher recorded results: its cost follows the
// deliveries made. It counts as busy (fewer dead rows call for a vacuum)
// in a second in which it recorded delivery.VacuumBusyRate results. When
// a vacuum leaves the queue as due as before (a long transaction keeps
// the dead rows visible), the next waits twice as long, up to a minute,
// so that nothing vacuums in vain every second.
func (d *Dispatcher) vacuum(ctx context.Context) {
	defer d.loops.Done()
	t := time.NewTicker(time.Second)
	defer t.Stop()
	seen := d.recorded.Load()
	var next time.Time
	backoff := newBackoff(2*time.Second, time.Minute)
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		n := d.recorded.Load()
		if n == seen || time.Now().Before(next) {
			seen = n
			continue
		}
		busy := n-seen >= delivery.VacuumBusyRate
		seen = n
		vacuumed, err := d.vacuumOnce(ctx, busy)
		if err != nil {
			if ctx.Err() == nil && !isCanceled(err) {
				d.logger.Warn("vacuuming the queue failed; autovacuum still will", slog.String("error", err.Error()))
			}
			next = time.Now().Add(backoff.next())
			continue
		}
		// Only a vacuum that ran can have been in vain.
		if vacuumed {
			if due, err := delivery.QueueVacuumDue(ctx, d.pool, busy); err == nil && due {
				next = time.Now().Add(backoff.next())
				continue
			}
		}
		backoff.reset()
	}
}

// vacuumOnce vacuums the queue if it is due, and reports whether it did.
func (d *Dispatcher) vacuumOnce(ctx context.Context, busy bool) (bool, error) {
	due, err := delivery.QueueVacuumDue(ctx, d.pool, busy)
	if err != nil || !due {
		return false, err
	}
	start := time.Now()
	if err := delivery.VacuumQueue(ctx, d.pool); err != nil {
		return false, err
	}
	d.logger.Debug("vacuumed the queue", slog.Duration("took", time.Since(start)))
	return true, nil
}
