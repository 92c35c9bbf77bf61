package delivery

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/db"
)

// Worker liveness (hookd.workers): a dispatcher holds a session-level
// advisory lock for as long as its process is connected, and the lease
// reaper treats the leases of a registered worker whose lock nobody has
// held for a while as expired (see ReapExpired).

// WorkerLockClass is the first key of a worker's liveness lock.
const WorkerLockClass = 0x6877 // "hw"

// RegisterWorker takes worker's liveness lock on conn, a connection that
// lasts as long as the process does (its listening connection), and
// records the worker with the lock's key. Call it again on every new
// connection. A key another live worker holds (two random keys alike) is
// never shared: another is drawn.
func RegisterWorker(ctx context.Context, conn *pgx.Conn, worker string) error {
	for range 8 {
		key := rand.Int32()
		var got bool
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock($1, $2)`, WorkerLockClass, key).Scan(&got); err != nil {
			return err
		}
		if !got {
			continue
		}
		_, err := conn.Exec(ctx, `INSERT INTO hookd.workers (worker, lock_key) VALUES ($1, $2)
			ON CONFLICT (worker) DO UPDATE SET lock_key = excluded.lock_key, gone_since = NULL`, worker, key)
		if err != nil {
			_, _ = conn.Exec(ctx, `SELECT pg_advisory_unlock($1, $2)`, WorkerLockClass, key)
			return db.Interpret(err)
		}
		return nil
	}
	return errors.New("no free worker lock key after 8 tries")
}

// UnregisterWorker forgets worker, once it has released or recorded all
// it claimed (a stopped dispatcher).
func UnregisterWorker(ctx context.Context, ex db.Executor, worker string) error {
	_, err := ex.Exec(ctx, `DELETE FROM hookd.workers WHERE worker = $1`, worker)
	return db.Interpret(err)
}

// goneWorkers returns the registered workers whose liveness lock nobody
// has held for goneAfter: the first reaper to find a lock free notes the
// time, and the worker's registration on a new connection clears it, so
// that a listening connection that drops and comes back (a network blip,
// a PostgreSQL restart, the listener's reconnection backoff) does not
// count as a dead process. It holds each free key itself until tx ends,
// so that a worker registering the same key meanwhile waits.
func goneWorkers(ctx context.Context, tx pgx.Tx, goneAfter time.Duration) ([]string, error) {
	rows, err := tx.Query(ctx, `
		WITH free AS (
			SELECT worker, gone_since FROM hookd.workers
			WHERE pg_try_advisory_xact_lock($1, lock_key) FOR UPDATE SKIP LOCKED
		), noted AS (
			UPDATE hookd.workers w SET gone_since = now()
			FROM free WHERE w.worker = free.worker AND free.gone_since IS NULL
		)
		SELECT worker FROM free WHERE gone_since <= now() - $2 * interval '1 millisecond'`,
		WorkerLockClass, goneAfter.Milliseconds())
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// forgetGone removes the gone workers that have nothing in flight left.
func forgetGone(ctx context.Context, tx pgx.Tx, gone []string) error {
	if len(gone) == 0 {
		return nil
	}
	_, err := tx.Exec(ctx, `DELETE FROM hookd.workers w WHERE w.worker = ANY($1)
		AND NOT EXISTS (SELECT 1 FROM hookd.queue q WHERE q.state = 'in_flight' AND q.leased_by = w.worker)`, gone)
	return err
}
