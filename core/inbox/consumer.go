package inbox

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/core/config"
	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/metrics"
	"github.com/hookd/hookd/core/notify"
	"github.com/hookd/hookd/core/service"
)

// Consumer defaults.
const (
	DefaultPollInterval = time.Second
	DefaultConcurrency  = 1
)

// DefaultRetrySchedule returns the delays before retrying an event whose
// Handle failed: the n-th failure waits the n-th delay, the last one
// repeating. A new slice is returned on every call.
func DefaultRetrySchedule() []time.Duration {
	return []time.Duration{time.Second, 5 * time.Second, 30 * time.Second, 2 * time.Minute, 10 * time.Minute,
		30 * time.Minute, time.Hour, 2 * time.Hour, 4 * time.Hour, 8 * time.Hour}
}

// HandleFunc processes one inbox event inside tx. Everything it writes
// through tx commits together with the event being marked processed, or
// not at all. It must not commit or roll back tx.
type HandleFunc func(ctx context.Context, tx pgx.Tx, ev *Event) error

// ConsumerOptions configure a Consumer. Handle is required.
type ConsumerOptions struct {
	// Source limits the consumer to one source; "" consumes every source
	// whose events are not forwarded.
	Source string
	// Handle is the application's function.
	Handle HandleFunc
	// MaxAttempts is how many times Handle may fail on one event before it
	// is dead. Defaults to config.DefaultMaxProcessAttempts (intake.max_process_attempts).
	MaxAttempts int
	// RetrySchedule is the delay after each failure, the last repeating.
	// Defaults to DefaultRetrySchedule().
	RetrySchedule []time.Duration
	// PollInterval is how often to look for due events when no
	// notification arrives. Defaults to 1s.
	PollInterval time.Duration
	// Concurrency is how many events are handled at once. Defaults to 1.
	Concurrency int
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// Metrics receives InboxProcessed counts; nil counts nothing.
	Metrics *metrics.Metrics
	// Notifier delivers the wake-ups of NotifyChannel; pass the process's
	// shared one. Defaults to a Notifier of the consumer's own, started
	// and stopped with it.
	Notifier *notify.Notifier
}

// Consumer hands pending inbox events to an application exactly once.
//
// Each event is claimed in a transaction with FOR UPDATE SKIP LOCKED, so
// several consumers (in one process or many) never handle it at the same
// time; Handle runs in that transaction (under a savepoint) and the event
// is marked processed in it before it commits. A crash before the commit
// leaves the event pending and the application's writes undone, so it is
// handled again from scratch. When Handle fails, its writes are rolled
// back to the savepoint and the event is retried on RetrySchedule, then
// marked dead after MaxAttempts failures; Replay re-queues it.
//
// A Handle that has effects outside the database (sending mail, calling
// an API) gets at-least-once for those effects; make them idempotent with
// Event.Source and Event.EventID.
type Consumer struct {
	pool *pgxpool.Pool
	opts ConsumerOptions
	log  *slog.Logger

	runner service.Runner
	wake   []chan struct{} // one per worker, made by NewConsumer
}

// NewConsumer returns a Consumer on pool; Start runs it.
func NewConsumer(pool *pgxpool.Pool, opts ConsumerOptions) (*Consumer, error) {
	if opts.Handle == nil {
		return nil, errors.New("inbox: ConsumerOptions.Handle is required")
	}
	if opts.MaxAttempts < 0 || opts.Concurrency < 0 || opts.PollInterval < 0 {
		return nil, errors.New("inbox: MaxAttempts, Concurrency and PollInterval must not be negative")
	}
	for _, d := range opts.RetrySchedule {
		if d < 0 {
			return nil, fmt.Errorf("inbox: retry schedule delay %s is negative", d)
		}
	}
	opts.MaxAttempts = cmp.Or(opts.MaxAttempts, config.DefaultMaxProcessAttempts)
	opts.PollInterval = cmp.Or(opts.PollInterval, DefaultPollInterval)
	opts.Concurrency = cmp.Or(opts.Concurrency, DefaultConcurrency)
	if len(opts.RetrySchedule) == 0 {
		opts.RetrySchedule = DefaultRetrySchedule()
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	c := &Consumer{pool: pool, opts: opts, log: opts.Logger.With(slog.String("service", "inbox_consumer"))}
	c.wake = make([]chan struct{}, opts.Concurrency)
	for i := range c.wake {
		c.wake[i] = make(chan struct{}, 1)
	}
	return c, nil
}

// Start runs the workers and the NOTIFY listener until Stop or ctx ends.
// Calling Start on a started Consumer is an error; a stopped one can be
// started again.
func (c *Consumer) Start(ctx context.Context) error {
	return c.runner.Start(ctx, "inbox: consumer", c.run)
}

// Stop ends the workers, letting each finish (or abandon, rolled back) the
// event in hand, and waits for them, up to ctx. It is safe to call twice.
func (c *Consumer) Stop(ctx context.Context) error { return c.runner.StopContext(ctx) }

// run runs the workers and the listener until ctx ends.
func (c *Consumer) run(ctx context.Context) {
	n := c.opts.Notifier
	if n == nil {
		n = notify.New(c.pool, c.log)
		if err := n.Start(ctx); err != nil {
			c.log.Error("inbox: listen for notifications; polling only", slog.String("error", err.Error()))
		}
		defer n.Stop(context.WithoutCancel(ctx)) //nolint:errcheck // it stops with ctx
	}
	notified, unsubscribe := n.Subscribe(NotifyChannel)
	defer unsubscribe()
	var wg sync.WaitGroup
	for _, wake := range c.wake {
		wg.Go(func() { c.work(ctx, wake) })
	}
	wg.Go(func() {
		// A wake-up comes on every notification and after every
		// (re)connection, for events stored while none listened.
		for {
			select {
			case <-ctx.Done():
				return
			case <-notified:
				c.wakeAll()
			}
		}
	})
	wg.Wait()
}

func (c *Consumer) wakeAll() {
	for _, ch := range c.wake {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

func (c *Consumer) work(ctx context.Context, wake <-chan struct{}) {
	timer := time.NewTimer(c.opts.PollInterval)
	defer timer.Stop()
	for {
		handled, err := c.processOne(ctx)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			c.log.Error("inbox: process event", slog.String("error", err.Error()))
		}
		if handled && err == nil {
			continue
		}
		timer.Reset(c.opts.PollInterval)
		select {
		case <-ctx.Done():
			return
		case <-wake:
		case <-timer.C:
		}
	}
}

// claimSQL locks one due event that no other consumer holds.
const claimSQL = `SELECT ` + summaryColumns + `, headers, body FROM hookd.inbox
	WHERE state = 'pending' AND next_attempt_at <= now() AND ($1 = '' OR source = $1)
	ORDER BY next_attempt_at, id LIMIT 1 FOR UPDATE SKIP LOCKED`

// processOne handles at most one due event; handled is false when none was due.
func (c *Consumer) processOne(ctx context.Context) (handled bool, err error) {
	tx, err := c.pool.Begin(ctx)
	if err != nil {
		return false, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // a no-op after Commit
	ev, err := scanFull(tx.QueryRow(ctx, claimSQL, c.opts.Source))
	if errors.Is(err, db.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	herr := c.call(ctx, tx, ev)
	if ctx.Err() != nil {
		return true, nil // stopping: roll back, the event stays pending
	}
	if herr == nil {
		_, err = tx.Exec(ctx, `UPDATE hookd.inbox SET state = 'processed', attempts = attempts + 1,
			processed_at = now() WHERE id = $1`, ev.ID)
	} else {
		err = c.recordFailure(ctx, tx, ev, herr)
	}
	if err != nil {
		return true, err
	}
	if err := tx.Commit(ctx); err != nil {
		return true, err
	}
	c.counted(ev, herr)
	return true, nil
}

// call runs Handle under a savepoint, so that a failure undoes only the
// application's writes while the event stays locked for recording it.
func (c *Consumer) call(ctx context.Context, tx pgx.Tx, ev *Event) (err error) {
	sp, err := tx.Begin(ctx)
	if err != nil {
		return err
	}
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("handler panicked: %v", p)
		}
		if err != nil {
			if rerr := sp.Rollback(ctx); rerr != nil {
				err = fmt.Errorf("%w (and rolling back: %v)", err, rerr)
			}
			return
		}
		err = sp.Commit(ctx)
	}()
	return c.opts.Handle(ctx, sp, ev)
}

// maxErrorLen bounds the stored last_error.
const maxErrorLen = 2000

func (c *Consumer) recordFailure(ctx context.Context, tx pgx.Tx, ev *Event, herr error) error {
	attempts := ev.Attempts + 1
	sched := c.opts.RetrySchedule
	delay := sched[min(attempts, len(sched))-1]
	msg := clean(herr.Error(), maxErrorLen)
	_, err := tx.Exec(ctx, `UPDATE hookd.inbox SET attempts = $2::int, last_error = $3,
		next_attempt_at = now() + $4::bigint * interval '1 microsecond',
		state = CASE WHEN $2::int >= $5::int THEN 'dead' ELSE 'pending' END WHERE id = $1`,
		ev.ID, attempts, msg, delay.Microseconds(), c.opts.MaxAttempts)
	if err != nil {
		return err
	}
	lvl := slog.LevelWarn
	if attempts >= c.opts.MaxAttempts {
		lvl = slog.LevelError
	}
	c.log.Log(ctx, lvl, "inbox: handler failed", slog.Int64("id", ev.ID), slog.String("source", ev.Source),
		slog.String("event_id", ev.EventID), slog.Int("attempt", attempts),
		slog.Bool("dead", attempts >= c.opts.MaxAttempts), slog.String("error", msg))
	return nil
}

func (c *Consumer) counted(ev *Event, herr error) {
	if c.opts.Metrics == nil {
		return
	}
	outcome := "processed"
	if herr != nil {
		outcome = "failed"
		if ev.Attempts+1 >= c.opts.MaxAttempts {
			outcome = "dead"
		}
	}
	c.opts.Metrics.InboxProcessed.WithLabelValues(outcome).Inc()
}
