package delivery

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/db"
)

// When work comes due: retries promoted when their backoff ends, the next
// wake a dispatcher waits for, and the end of a delivery whose event is
// gone.

// Promote turns up to limit retrying deliveries whose time has come into
// pending ones, waking their lanes, and returns how many.
func Promote(ctx context.Context, ex db.Executor, limit int) (int, error) {
	var n int
	err := ex.QueryRow(ctx, promoteSQL, limit).Scan(&n)
	return n, err
}

// QueuePromote queues Promote into batch; n receives its count when the
// batch is read.
func QueuePromote(batch *pgx.Batch, limit int, n *int) {
	batch.Queue(promoteSQL, limit).QueryRow(func(row pgx.Row) error { return row.Scan(n) })
}

var promoteSQL = `
		WITH due AS (
			SELECT id FROM hookd.queue
			WHERE state = 'retrying' AND next_attempt_at <= now()
			ORDER BY next_attempt_at LIMIT $1
			FOR UPDATE SKIP LOCKED
		), promoted AS (
			UPDATE hookd.queue q SET state = 'pending', updated_at = now()
			WHERE q.id = ANY(ARRAY(SELECT id FROM due))
			RETURNING q.endpoint_id
		), ` + wakeCTE("promoted") + `
		SELECT (SELECT count(*) FROM promoted)::int + 0 * ` + wakeSelect

// NextWake returns how long from now the next claim could find work that
// a claim begun since ago did not find due: the earliest retry, or the
// earliest lane that was waiting then for a probe, a rate slot or a fifo
// head's backoff. It may be negative: a lane whose wait ended between that
// claim and this question is due now (with now() in place of the claim's
// start it was missed, and waited for the next poll). ok is false when
// nothing waits. Both times are durations from the database's now(), so
// that a database clock apart from the caller's neither spins the caller
// (a clock behind: every wait looks over) nor delays it.
func NextWake(ctx context.Context, ex db.Executor, since time.Duration) (wait time.Duration, ok bool, err error) {
	var secs *float64
	err = ex.QueryRow(ctx, `SELECT extract(epoch FROM least(
			(SELECT min(next_attempt_at) FROM hookd.queue WHERE state = 'retrying'),
			(SELECT min(ready_at) FROM hookd.lanes
			 WHERE ready_at > now() - $1 * interval '1 microsecond' AND ready_at < 'infinity')) - now())::float8`,
		since.Microseconds()).Scan(&secs)
	if err != nil || secs == nil {
		return 0, false, err
	}
	// Clamped: a retry centuries away (a hand-edited row) would overflow
	// a Duration into a wait in the past, and the caller polls long before.
	const far = 24 * time.Hour
	return time.Duration(max(min(*secs, far.Seconds()), -far.Seconds()) * float64(time.Second)), true, nil
}

// ErrEventMissing is the error of a delivery whose event no longer exists
// (deleted, or aged out of retention while the delivery waited).
var ErrEventMissing = errors.New("the event of this delivery no longer exists")

// MissingEventResult is the result that ends a claimed delivery whose
// event no longer exists: dead, with no request sent.
func MissingEventResult(j Job, worker string, now time.Time) Result {
	r := ResultOf(j, worker)
	r.StartedAt, r.NextAttemptAt = now, now
	r.ErrorClass, r.Error, r.Next = ClassMissing, ErrEventMissing.Error()+"; nothing was sent", StateDead
	return r
}
