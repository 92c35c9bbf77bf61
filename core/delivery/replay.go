package delivery

import (
	"context"
	"fmt"

	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/validate"
)

// Replay re-queues deliveries for an immediate attempt with a fresh retry
// budget, keeping every earlier attempt: a finished delivery (dead,
// succeeded, skipped) goes back from hookd.finished into the queue, one
// still in the queue (pending, retrying, held) is made due now. Deliveries
// of a disabled endpoint are held until it is enabled. In-flight
// deliveries are left alone: their attempt is under way. The statement
// that re-queues also wakes the lanes, so a committed replay is never
// without its notification; the lanes of the endpoints it made work due
// for are then hurried (see hurry), since an operator asked for it now.

// requeueSQL re-queues the finished rows selected by the CTE chosen
// (columns of hookd.finished) and the queue rows selected by queued (ids),
// and counts them, waking lanes.
func requeueSQL(chosenFinished, chosenQueued string) string {
	return `
		back AS (
			DELETE FROM hookd.finished f WHERE (f.id, f.event_stored_at) IN (SELECT id, event_stored_at FROM ` + chosenFinished + `)
			RETURNING f.*
		), inserted AS (
			INSERT INTO hookd.queue (id, event_id, event_stored_at, endpoint_id, tenant_id, event_type, state, attempts,
				next_attempt_at, last_status, last_error_class, last_error, replays, created_at, updated_at)
			SELECT b.id, b.event_id, b.event_stored_at, b.endpoint_id, b.tenant_id, b.event_type,
				CASE WHEN ep.enabled THEN 'pending' ELSE 'held' END, 0, now(),
				b.last_status, b.last_error_class, b.last_error, b.replays + 1, b.created_at, now()
			FROM back b JOIN hookd.endpoints ep ON ep.id = b.endpoint_id
			RETURNING id, endpoint_id, state
		), reset AS (
			UPDATE hookd.queue q SET state = CASE WHEN ep.enabled THEN 'pending' ELSE 'held' END,
				attempts = 0, next_attempt_at = now(), replays = q.replays + 1, updated_at = now()
			FROM hookd.endpoints ep
			WHERE q.id IN (SELECT id FROM ` + chosenQueued + `) AND q.state <> 'in_flight' AND ep.id = q.endpoint_id
			RETURNING q.id, q.endpoint_id, q.state
		), due AS (
			SELECT endpoint_id FROM inserted WHERE state = 'pending'
			UNION ALL SELECT endpoint_id FROM reset WHERE state = 'pending'
		), ` + wakeCTE("due")
}

// requeuedCount is the tail of a statement using requeueSQL: how many it
// re-queued, and the endpoints it made work due for.
const requeuedCount = `SELECT (SELECT count(*) FROM inserted) + (SELECT count(*) FROM reset) + 0 * ` + wakeSelect +
	`, ARRAY(SELECT DISTINCT endpoint_id FROM due ORDER BY endpoint_id)`

// requeue runs a statement using requeueSQL and hurries the endpoints it
// made work due for.
func requeue(ctx context.Context, ex db.Executor, sql string, args ...any) (int64, error) {
	var n int64
	var due []string
	if err := ex.QueryRow(ctx, sql, args...).Scan(&n, &due); err != nil {
		return 0, err
	}
	return n, hurry(ctx, ex, due)
}

// Replay re-queues one delivery. It fails with db.ErrNotFound for an
// unknown id and a *validate.Error for a delivery in flight.
func Replay(ctx context.Context, ex db.Executor, id int64) (*Delivery, error) {
	cur, err := Get(ctx, ex, id)
	if err != nil {
		return nil, err
	}
	if cur.State == StateInFlight {
		return nil, validate.Errorf("id", "delivery %d is in flight; replay it once its attempt has finished", cur.ID)
	}
	n, err := requeue(ctx, ex, `
		WITH fin AS (SELECT id, event_stored_at FROM hookd.finished WHERE id = $1 AND event_stored_at = $2),
		que AS (SELECT id FROM hookd.queue WHERE id = $1), `+requeueSQL("fin", "que")+requeuedCount,
		id, cur.EventStoredAt)
	if err != nil {
		return nil, err
	}
	d, err := Get(ctx, ex, id)
	if err != nil {
		return nil, err
	}
	if n == 0 && d.State == StateInFlight {
		return nil, validate.Errorf("id", "delivery %d is in flight; replay it once its attempt has finished", id)
	}
	return d, nil
}

// hurry makes the lanes of endpoints an operator re-queued work for ready
// now when they wait for a later time (a fifo head's backoff, a breaker's
// probe, a rate slot; at its cap the next claim parks a lane again), and
// an open breaker's next probe due now: the replay is that probe. The
// lanes first (wakeWaiting), waiting for a claim that holds one, which
// would otherwise write its old time back after this; the breakers' rows
// then only those nobody holds, as a claim takes a lane and then that
// row, and a completion that row and then the lane.
func hurry(ctx context.Context, ex db.Executor, endpointIDs []string) error {
	if len(endpointIDs) == 0 {
		return nil
	}
	if err := wakeWaiting(ctx, ex, `SELECT unnest($1::text[])`, endpointIDs); err != nil {
		return err
	}
	_, err := ex.Exec(ctx, `UPDATE hookd.endpoint_health SET breaker_probe_at = now()
		WHERE endpoint_id IN (SELECT endpoint_id FROM hookd.endpoint_health
			WHERE endpoint_id = ANY($1) AND breaker_opened_at IS NOT NULL AND breaker_probe_at > now()
			ORDER BY endpoint_id FOR UPDATE SKIP LOCKED)`,
		endpointIDs)
	return err
}

// ReplayParams select deliveries to re-queue.
type ReplayParams struct {
	Filter
	// DryRun counts what would be replayed and changes nothing.
	DryRun bool `json:"dry_run"`
}

// ReplayMatching re-queues every delivery matching p (state defaults to
// dead) and returns how many matched; with DryRun nothing changes.
func ReplayMatching(ctx context.Context, ex db.Executor, p ReplayParams) (int64, error) {
	if p.State == "" {
		p.State = StateDead
	}
	if p.State == StateInFlight {
		return 0, validate.Errorf("state", "in_flight deliveries cannot be replayed; their attempt is under way")
	}
	if err := p.Filter.Validate(); err != nil {
		return 0, err
	}
	var n int64
	if p.DryRun {
		where, args := p.Filter.where(nil, true)
		err := ex.QueryRow(ctx, `SELECT count(*) FROM hookd.deliveries d WHERE d.state <> 'in_flight' AND `+where, args...).Scan(&n)
		return n, err
	}
	finWhere, args := p.Filter.where(nil, true)
	queWhere, args := p.Filter.where(args, false)
	return requeue(ctx, ex, fmt.Sprintf(`
		WITH fin AS (SELECT d.id, d.event_stored_at FROM hookd.deliveries d WHERE d.completed_at IS NOT NULL AND %s),
		que AS (SELECT d.id FROM hookd.queue d WHERE d.state <> 'in_flight' AND %s), %s %s`,
		finWhere, queWhere, requeueSQL("fin", "que"), requeuedCount), args...)
}

// ReplayIDs re-queues the given deliveries (the console's marked rows) and
// returns how many were re-queued; unknown and in-flight ids are skipped.
func ReplayIDs(ctx context.Context, ex db.Executor, ids []int64) (int64, error) {
	return requeue(ctx, ex, `
		WITH fin AS (SELECT id, event_stored_at FROM hookd.finished WHERE id = ANY($1)),
		que AS (SELECT id FROM hookd.queue WHERE id = ANY($1)), `+requeueSQL("fin", "que")+requeuedCount, ids)
}
