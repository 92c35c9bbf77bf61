package dispatch

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/delivery"
)

// listen wakes the claimer on every notification on outbox.WorkChannel,
// on a connection of its own, reconnecting after failures.
func (d *Dispatcher) listen(ctx context.Context) {
	defer d.loops.Done()
	backoff := newBackoff(100*time.Millisecond, 10*time.Second)
	for ctx.Err() == nil {
		err := d.listenOnce(ctx, backoff)
		if ctx.Err() != nil {
			return
		}
		wait := backoff.next()
		d.logger.Warn("listening for work failed; polling until reconnected",
			slog.String("error", errString(err)), slog.Duration("retry_in", wait))
		if !sleepCtx(ctx, wait) {
			return
		}
	}
}

func (d *Dispatcher) listenOnce(ctx context.Context, backoff *backoff) error {
	conn, err := pgx.ConnectConfig(ctx, d.pool.Config().ConnConfig.Copy())
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, "LISTEN "+pgx.Identifier{delivery.WorkChannel}.Sanitize()); err != nil {
		return err
	}
	backoff.reset()
	signal(d.wake) // work may have arrived while we were not listening
	for {
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return err
		}
		signal(d.wake)
	}
}

func errString(err error) string {
	if err == nil {
		return "connection closed"
	}
	return err.Error()
}

// sleepCtx sleeps for d or until ctx ends; it reports whether it slept.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// backoff doubles from min to max.
type backoff struct{ min, max, cur time.Duration }

func newBackoff(min, max time.Duration) *backoff { return &backoff{min: min, max: max} }

func (b *backoff) next() time.Duration {
	if b.cur == 0 {
		b.cur = b.min
	} else {
		b.cur = min(2*b.cur, b.max)
	}
	return b.cur
}

func (b *backoff) reset() { b.cur = 0 }

// isCanceled reports a cancellation, which is not worth an error log.
func isCanceled(err error) bool { return errors.Is(err, context.Canceled) }
