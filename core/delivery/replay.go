package delivery

import (
	"context"
	"fmt"

	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/validate"
)

// replaySet re-queues deliveries for an immediate attempt with a fresh
// retry budget, keeping every earlier attempt. Deliveries of a disabled
// endpoint are held until it is enabled. In-flight deliveries are left alone:
// their attempt is under way.
const replaySet = `
	state = CASE WHEN ep.enabled THEN 'pending' ELSE 'held' END,
	attempts = 0, next_attempt_at = now(), completed_at = NULL,
	replays = d.replays + 1, updated_at = now()`

// Replay re-queues one delivery. It fails with db.ErrNotFound for an
// unknown id and a *validate.Error for a delivery in flight.
func Replay(ctx context.Context, ex db.Executor, id int64) (*Delivery, error) {
	d, err := scanDelivery(ex.QueryRow(ctx, `
		WITH r AS (
			UPDATE hookd.deliveries d SET `+replaySet+`
			FROM hookd.endpoints ep
			WHERE d.id = $1 AND ep.id = d.endpoint_id AND d.state <> 'in_flight'
			RETURNING d.*
		)
		SELECT `+prefixed("r")+` FROM r, LATERAL (SELECT pg_notify('`+workChannel+`', '')) n`, id))
	if err == nil {
		return &d, nil
	}
	if err = db.Interpret(err); err != db.ErrNotFound {
		return nil, err
	}
	cur, err := Get(ctx, ex, id)
	if err != nil {
		return nil, err
	}
	return nil, validate.Errorf("id", "delivery %d is in flight; replay it once its attempt has finished", cur.ID)
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
	where, args := p.Filter.where(nil)
	var n int64
	if p.DryRun {
		err := ex.QueryRow(ctx, `SELECT count(*) FROM hookd.deliveries d WHERE `+where, args...).Scan(&n)
		return n, err
	}
	err := ex.QueryRow(ctx, fmt.Sprintf(`
		WITH r AS (
			UPDATE hookd.deliveries d SET %s
			FROM hookd.endpoints ep
			WHERE %s AND ep.id = d.endpoint_id
			RETURNING 1
		)
		SELECT count(*), CASE WHEN count(*) > 0 THEN pg_notify('%s', '') END FROM r`, replaySet, where, workChannel), args...).Scan(&n, nil)
	return n, err
}

// ReplayIDs re-queues the given deliveries (the console's marked rows) and
// returns how many were re-queued; unknown and in-flight ids are skipped.
func ReplayIDs(ctx context.Context, ex db.Executor, ids []int64) (int64, error) {
	var n int64
	err := ex.QueryRow(ctx, `
		WITH r AS (
			UPDATE hookd.deliveries d SET `+replaySet+`
			FROM hookd.endpoints ep
			WHERE d.id = ANY($1) AND ep.id = d.endpoint_id AND d.state <> 'in_flight'
			RETURNING 1
		)
		SELECT count(*), CASE WHEN count(*) > 0 THEN pg_notify('`+workChannel+`', '') END FROM r`, ids).Scan(&n, nil)
	return n, err
}

// workChannel is outbox.WorkChannel (which imports this package). The
// notification is sent by the statement that re-queues, so it is atomic
// with it: a replay never commits without waking the dispatchers, and a
// committed replay is never answered as a failure.
const workChannel = "hookd_work"
