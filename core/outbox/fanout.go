package outbox

import (
	"context"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

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

// Stop ends the service and waits for it; safe to call twice. A stopped
// service can be started again.
func (f *Fanout) Stop() { f.runner.Stop() }

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
// and returns how many it handled. An event goes to every enabled webhook
// endpoint (or its directed endpoint) that existed when it was published;
// deliveries that already exist are kept as they are.
func RunFanout(ctx context.Context, pool *pgxpool.Pool, limit int) (int, error) {
	var n, created int
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `
			WITH ev AS (
				SELECT id, type, created_at, endpoint_id FROM hookd.events
				WHERE NOT fanned_out ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED
			), fan AS (
				INSERT INTO hookd.deliveries (event_id, endpoint_id, event_type, state)
				SELECT ev.id, e.id, ev.type, CASE WHEN e.enabled THEN 'pending' ELSE 'held' END
				FROM ev JOIN hookd.endpoints e ON CASE
					WHEN ev.endpoint_id IS NULL THEN e.kind = 'webhook' AND e.enabled
						AND e.created_at <= ev.created_at AND hookd.type_matches(e.event_types, ev.type)
					ELSE e.id = ev.endpoint_id END
				ON CONFLICT (event_id, endpoint_id) DO NOTHING
				RETURNING 1
			), marked AS (
				UPDATE hookd.events SET fanned_out = true WHERE id IN (SELECT id FROM ev) RETURNING 1
			)
			SELECT (SELECT count(*) FROM marked)::int, (SELECT count(*) FROM fan)::int`, limit).Scan(&n, &created)
		if err != nil || created == 0 {
			return err
		}
		_, err = tx.Exec(ctx, `SELECT pg_notify('`+WorkChannel+`', '')`)
		return err
	})
	return n, err
}
