package outbox

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/service"
)

// Fanout completes the fan-out of events whose deliveries were not written
// with them: rows inserted into hookd.events by plain SQL producers
// (fanned_out defaults to false), or a fan-out interrupted by a crash.
// Several processes may run it at once: events are claimed with
// SKIP LOCKED and deliveries are unique per (event, endpoint).
type Fanout struct {
	pool     *pgxpool.Pool
	logger   *slog.Logger
	interval time.Duration

	runner service.Runner
}

// NewFanout returns the service; interval is its polling period (1s when 0).
func NewFanout(pool *pgxpool.Pool, logger *slog.Logger, interval time.Duration) *Fanout {
	if interval <= 0 {
		interval = time.Second
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Fanout{pool: pool, logger: logger.With("service", "fanout"), interval: interval}
}

// Start runs the service until Stop or ctx ends.
func (f *Fanout) Start(ctx context.Context) error {
	return f.runner.Start(ctx, "fanout", f.run)
}

// Stop ends the service and waits for it, up to ctx; safe to call twice.
// A stopped service can be started again.
func (f *Fanout) Stop(ctx context.Context) error { return f.runner.StopContext(ctx) }

func (f *Fanout) run(ctx context.Context) {
	t := time.NewTicker(f.interval)
	defer t.Stop()
	for {
		for {
			n, err := RunFanout(ctx, f.pool, 500)
			if err != nil {
				if ctx.Err() == nil {
					f.logger.Error("fan-out failed", slog.String("error", err.Error()))
				}
				break
			}
			if n > 0 {
				f.logger.Debug("completed fan-out", slog.Int("events", n))
			}
			if n < 500 {
				break
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// RunFanout completes the fan-out of up to limit events in one transaction
// and returns how many it handled. An event goes where a published one
// would (see delivery.FanOutCTE), to endpoints that existed when it was
// stored.
func RunFanout(ctx context.Context, pool *pgxpool.Pool, limit int) (int, error) {
	var n int
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `
			WITH ev AS (
				SELECT seq, id, type, stored_at, endpoint_id, tenant_id, broadcast FROM hookd.events
				WHERE NOT fanned_out ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED
			), marked AS (
				UPDATE hookd.events e SET fanned_out = true FROM ev
				WHERE e.id = ev.id AND e.stored_at = ev.stored_at RETURNING 1
			), `+delivery.FanOutCTE(true)+`
			SELECT (SELECT count(*) FROM marked)::int + 0 * (SELECT count(*) FROM fan) + 0 * `+delivery.FanOutTail, limit).Scan(&n)
	})
	return n, err
}
