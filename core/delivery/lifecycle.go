package delivery

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/validate"
)

// This file holds the transitions other than claim and complete: release,
// reap, hold and resume of an endpoint's work, skip, and deleting an
// endpoint's work. Each takes the caller's executor, so it can run inside
// the caller's transaction.

// Leased names one claim of a delivery (see Job.Leased): what Release
// hands back.
type Leased struct {
	DeliveryID int64
	Attempt    int  // the claim's attempt: a later claim of the delivery is not this one
	Probe      bool // the claim was an open breaker's probe
}

// Leased names the claim that made j.
func (j Job) Leased() Leased {
	return Leased{DeliveryID: j.DeliveryID, Attempt: j.Attempt, Probe: j.Probe}
}

// Release hands claimed deliveries back without an attempt: they become due
// at once (held when their endpoint is disabled), the claim's attempt is
// uncounted, and a probe's booking is undone, so that the breaker probes
// again at once. Used on shutdown, and for a job whose lease ran too short
// to send it in. Only deliveries still in the claims named, leased by
// worker, are touched: one whose lease expired meanwhile may have been
// reaped and claimed again. It returns how many it released.
func Release(ctx context.Context, b beginner, worker string, claims []Leased) (int, error) {
	if len(claims) == 0 {
		return 0, nil
	}
	ids := make([]int64, len(claims))
	attempts := make([]int32, len(claims))
	probes := make([]bool, len(claims))
	for i, c := range claims {
		ids[i], attempts[i], probes[i] = c.DeliveryID, int32(c.Attempt), c.Probe
	}
	var n int
	err := pgx.BeginFunc(ctx, b, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `
			WITH claim AS (
				SELECT * FROM unnest($1::bigint[], $2::int[], $3::bool[]) AS c(id, attempt, probe)
			), locked AS (
				SELECT id FROM hookd.queue WHERE id = ANY($1) ORDER BY id FOR UPDATE
			), released AS (
				UPDATE hookd.queue q
				SET state = CASE WHEN ep.enabled THEN 'pending' ELSE 'held' END,
					attempts = greatest(q.attempts - 1, 0), lease_expires_at = NULL, leased_by = NULL,
					next_attempt_at = now(), updated_at = now()
				FROM hookd.endpoints ep, claim c
				WHERE q.id IN (SELECT id FROM locked) AND c.id = q.id AND q.attempts = c.attempt
				  AND q.state = 'in_flight' AND q.leased_by = $4 AND ep.id = q.endpoint_id
				RETURNING q.endpoint_id, c.probe
			), unprobed AS (
				UPDATE hookd.endpoint_health h
				SET breaker_probes = greatest(h.breaker_probes - 1, 0),
					breaker_probe_at = CASE WHEN h.breaker_opened_at IS NOT NULL THEN now() END
				WHERE h.endpoint_id IN (SELECT endpoint_id FROM released WHERE probe)
			), due AS (
				SELECT endpoint_id FROM released
			), `+wakeCTE("due")+`
			SELECT (SELECT count(*) FROM released)::int + 0 * `+wakeSelect,
			ids, attempts, probes, worker).Scan(&n); err != nil {
			return err
		}
		return wakeWaiting(ctx, tx, `SELECT endpoint_id FROM hookd.queue WHERE id = ANY($1)`, ids)
	})
	return n, err
}

// wakeWaiting makes the lanes of the endpoints a query returns due now,
// for transitions that free a slot: lanes waiting at their cap look again.
// They are locked in key order, so concurrent callers cannot deadlock.
func wakeWaiting(ctx context.Context, ex db.Executor, endpointsQuery string, args ...any) error {
	_, err := ex.Exec(ctx, `
		WITH w AS (
			SELECT endpoint_id FROM hookd.lanes
			WHERE endpoint_id IN (`+endpointsQuery+`) AND ready_at > now()
			ORDER BY endpoint_id FOR UPDATE
		)
		UPDATE hookd.lanes l SET ready_at = now() FROM w WHERE l.endpoint_id = w.endpoint_id`, args...)
	return err
}

// ReapExpired returns deliveries whose lease expired (their worker died or
// hung) to the queue, recording an "interrupted" attempt so the log shows
// what happened. A delivery whose budget of maxAttempts is spent dies. It
// returns how many it reaped and, among them, those that died. It reads
// what is in flight whole (no more than the workers' leases).
//
// The leases of a worker that is gone (registered, its liveness lock held
// by no session for goneAfter: see RegisterWorker) count as expired
// already, so that a process killed outright holds no endpoint at its
// cap for the rest of its leases.
func ReapExpired(ctx context.Context, tx pgx.Tx, maxAttempts, limit int, goneAfter time.Duration) (reaped int, dead []Delivery, err error) {
	gone, err := goneWorkers(ctx, tx, goneAfter)
	if err != nil {
		return 0, nil, err
	}
	reaped, dead, err = reap(ctx, tx, maxAttempts, limit, gone)
	if err != nil {
		return 0, nil, err
	}
	return reaped, dead, forgetGone(ctx, tx, gone)
}

func reap(ctx context.Context, tx pgx.Tx, maxAttempts, limit int, gone []string) (reaped int, dead []Delivery, err error) {
	rows, err := tx.Query(ctx, `
		WITH expired AS (
			SELECT id FROM hookd.queue
			WHERE state = 'in_flight' AND (lease_expires_at < now() OR leased_by = ANY($3))
			ORDER BY id LIMIT $2
			FOR UPDATE SKIP LOCKED
		), logged AS (
			INSERT INTO hookd.attempts (delivery_id, event_stored_at, endpoint_id, attempt, started_at, duration_us,
				error_class, error, worker)
			SELECT q.id, q.event_stored_at, q.endpoint_id, q.attempts, q.updated_at, 0, 'interrupted',
				CASE WHEN q.lease_expires_at < now()
					THEN 'lease expired at ' || to_char(q.lease_expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || ': worker '
					ELSE 'its worker''s database session ended: worker ' END ||
				coalesce(q.leased_by, '?') || ' stopped before recording a result; the request may or may not have reached the endpoint',
				coalesce(q.leased_by, '')
			FROM hookd.queue q JOIN expired USING (id)
		), returned AS (
			UPDATE hookd.queue q
			SET state = CASE WHEN ep.enabled THEN 'pending' ELSE 'held' END,
				next_attempt_at = now(), lease_expires_at = NULL, leased_by = NULL,
				last_status = NULL, last_error_class = 'interrupted', last_error = 'lease expired before a result was recorded',
				updated_at = now()
			FROM expired, hookd.endpoints ep
			WHERE q.id = expired.id AND ep.id = q.endpoint_id AND q.attempts < $1
			RETURNING q.endpoint_id, q.state
		), died AS (
			DELETE FROM hookd.queue q USING expired
			WHERE q.id = expired.id AND q.attempts >= $1
			RETURNING q.*
		), moved AS (
			INSERT INTO hookd.finished (id, event_id, event_stored_at, endpoint_id, tenant_id, event_type, state,
				attempts, last_status, last_error_class, last_error, replays, created_at, completed_at)
			SELECT id, event_id, event_stored_at, endpoint_id, tenant_id, event_type, 'dead', attempts, NULL,
				'interrupted', 'lease expired before a result was recorded', replays, created_at, now()
			FROM died
		), due AS (
			SELECT endpoint_id FROM returned WHERE state = 'pending'
		), `+wakeCTE("due")+`
		SELECT d.id, d.event_id, d.endpoint_id, d.updated_at, d.attempts, d.event_stored_at, `+wakeSelect+`, (SELECT count(*) FROM returned)
		FROM died d
		UNION ALL
		SELECT NULL, NULL, r.endpoint_id, NULL, NULL, NULL, `+wakeSelect+`, (SELECT count(*) FROM returned)
		FROM (SELECT DISTINCT endpoint_id FROM returned) r`, maxAttempts, limit, gone)
	if err != nil {
		return 0, nil, err
	}
	back := int64(0)
	var endpoints []string
	for rows.Next() {
		var id *int64
		var eventID, endpointID *string
		var updated, stored *time.Time
		var attempts *int
		var woken int64
		if err := rows.Scan(&id, &eventID, &endpointID, &updated, &attempts, &stored, &woken, &back); err != nil {
			rows.Close()
			return 0, nil, err
		}
		if id != nil {
			dead = append(dead, Delivery{ID: *id, EventID: *eventID, EndpointID: *endpointID, UpdatedAt: *updated,
				Attempts: *attempts, EventStoredAt: *stored, State: StateDead, LastErrorClass: ClassInterrupted,
				LastError: "lease expired before a result was recorded", NextAttemptAt: *updated})
		}
		if endpointID != nil {
			endpoints = append(endpoints, *endpointID)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, nil, err
	}
	if len(endpoints) > 0 {
		// Slots came free: lanes at their cap (or a fifo line behind a
		// head that died) look again.
		if err := wakeWaiting(ctx, tx, `SELECT unnest($1::text[])`, endpoints); err != nil {
			return 0, nil, err
		}
	}
	return int(back) + len(dead), dead, nil
}

// HoldEndpoint holds an endpoint's pending and retrying deliveries (its
// endpoint was disabled): they are neither attempted nor aged out until
// ResumeEndpoint. What is in flight finishes, and a retry it asks for is
// held too. It returns how many it held.
func HoldEndpoint(ctx context.Context, ex db.Executor, endpointID string) (int64, error) {
	tag, err := ex.Exec(ctx, `UPDATE hookd.queue SET state = 'held', updated_at = now()
		WHERE endpoint_id = $1 AND state IN ('pending', 'retrying')`, endpointID)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// ResumeEndpoint makes an endpoint's held deliveries due at once (it was
// enabled again), clears its failure streak and closes its breaker, and
// returns how many it resumed.
func ResumeEndpoint(ctx context.Context, ex db.Executor, endpointID string) (int64, error) {
	var n int64
	err := ex.QueryRow(ctx, `
		WITH resumed AS (
			UPDATE hookd.queue SET state = 'pending', next_attempt_at = now(), updated_at = now()
			WHERE endpoint_id = $1 AND state = 'held'
			RETURNING endpoint_id
		), health AS (
			UPDATE hookd.endpoint_health SET consecutive_failures = 0, failing_since = NULL,
				breaker_opened_at = NULL, breaker_probe_at = NULL, breaker_probes = 0
			WHERE endpoint_id = $1
		), due AS (
			SELECT endpoint_id FROM resumed
		), `+wakeCTE("due")+`
		SELECT (SELECT count(*) FROM resumed) + 0 * `+wakeSelect, endpointID).Scan(&n)
	if err != nil {
		return 0, err
	}
	// The breaker is closed: a lane waiting for its probe is ready now.
	// Only if no claim holds it: this transaction holds the health row,
	// which a claim holding the lane may be waiting for (a probe's
	// booking), and that claim sets the lane's time itself.
	_, err = ex.Exec(ctx, `UPDATE hookd.lanes SET ready_at = now()
		WHERE endpoint_id IN (SELECT endpoint_id FROM hookd.lanes
			WHERE endpoint_id = $1 AND ready_at > now() AND ready_at < 'infinity' FOR UPDATE SKIP LOCKED)`, endpointID)
	return n, err
}

// ResumeHeld resumes the held deliveries of endpoints that are enabled and
// returns how many: a sweep that catches a delivery held from an endpoint
// state read just before the endpoint was enabled. It walks only held
// deliveries.
func ResumeHeld(ctx context.Context, ex db.Executor) (int64, error) {
	var n int64
	err := ex.QueryRow(ctx, `
		WITH resumed AS (
			UPDATE hookd.queue q SET state = 'pending', next_attempt_at = now(), updated_at = now()
			FROM hookd.endpoints ep
			WHERE q.state = 'held' AND ep.id = q.endpoint_id AND ep.enabled
			RETURNING q.endpoint_id
		), due AS (
			SELECT endpoint_id FROM resumed
		), `+wakeCTE("due")+`
		SELECT (SELECT count(*) FROM resumed) + 0 * `+wakeSelect).Scan(&n)
	return n, err
}

// DeleteEndpointWork deletes everything of an endpoint: its queued and
// finished deliveries, their attempts, its lane and its health. Call it in
// the transaction that deletes the endpoint. A result of an attempt in
// flight at that moment is dropped when it arrives.
func DeleteEndpointWork(ctx context.Context, tx pgx.Tx, endpointID string) error {
	batch := &pgx.Batch{}
	// Rows in id order, as Complete locks them, so the two never deadlock.
	batch.Queue(`SELECT 1 FROM hookd.queue WHERE endpoint_id = $1 ORDER BY id FOR UPDATE`, endpointID)
	batch.Queue(`WITH gone AS (
			DELETE FROM hookd.attempts WHERE delivery_id IN (
				SELECT id FROM hookd.queue WHERE endpoint_id = $1 UNION ALL SELECT id FROM hookd.finished WHERE endpoint_id = $1)
			RETURNING id, event_stored_at
		)
		DELETE FROM hookd.attempt_bodies b USING gone WHERE b.attempt_id = gone.id AND b.event_stored_at = gone.event_stored_at`, endpointID)
	batch.Queue(`DELETE FROM hookd.queue WHERE endpoint_id = $1`, endpointID)
	batch.Queue(`DELETE FROM hookd.finished WHERE endpoint_id = $1`, endpointID)
	batch.Queue(`DELETE FROM hookd.lanes WHERE endpoint_id = $1`, endpointID)
	batch.Queue(`DELETE FROM hookd.lane_wakes WHERE endpoint_id = $1`, endpointID)
	batch.Queue(`DELETE FROM hookd.endpoint_minutes WHERE endpoint_id = $1`, endpointID)
	batch.Queue(`DELETE FROM hookd.endpoint_health WHERE endpoint_id = $1`, endpointID)
	return tx.SendBatch(ctx, batch).Close()
}

// Skip gives up on a delivery that is not in flight: it leaves the queue as
// skipped, keeping its attempts. For a fifo endpoint this unblocks the line
// behind a head that keeps failing. It fails with db.ErrNotFound for an
// unknown delivery and a *validate.Error for one in flight or finished.
//
// The delivery's row is locked first, so that a claim cannot take it
// between the look at its state and its end (a skip answered for a
// delivery that was then sent); then the lane's bucket (the wake) and
// last the lane's row. Dropping idle lanes takes the lanes' rows first but
// only tries the buckets, and then touches no row it does not hold, so it
// never waits while holding a bucket the skip waits for.
func Skip(ctx context.Context, tx pgx.Tx, id int64) (*Delivery, error) {
	var state string
	err := tx.QueryRow(ctx, `SELECT state FROM hookd.queue WHERE id = $1 FOR UPDATE`, id).Scan(&state)
	if err = db.Interpret(err); err == db.ErrNotFound {
		if _, gerr := Get(ctx, tx, id); gerr == nil {
			return nil, validate.Errorf("id", "delivery %d has finished; only a delivery still to do can be skipped", id)
		}
	}
	if err != nil {
		return nil, err
	}
	if State(state) == StateInFlight {
		return nil, validate.Errorf("id", "delivery %d is in flight; skip it once its attempt has finished", id)
	}
	var endpointID string
	err = tx.QueryRow(ctx, `
		WITH skipped AS (
			DELETE FROM hookd.queue WHERE id = $1 RETURNING *
		), moved AS (
			INSERT INTO hookd.finished (id, event_id, event_stored_at, endpoint_id, tenant_id, event_type, state,
				attempts, last_status, last_error_class, last_error, replays, created_at, completed_at)
			SELECT id, event_id, event_stored_at, endpoint_id, tenant_id, event_type, 'skipped', attempts, last_status,
				last_error_class, last_error, replays, created_at, now()
			FROM skipped
			RETURNING endpoint_id
		), `+wakeCTE("moved")+`
		SELECT endpoint_id FROM moved WHERE `+wakeSelect+` >= 0`, id).Scan(&endpointID)
	if err != nil {
		return nil, err
	}
	// The line behind a fifo head moves on.
	if err := wakeWaiting(ctx, tx, `SELECT $1::text`, endpointID); err != nil {
		return nil, err
	}
	return Get(ctx, tx, id)
}

// Erased counts what an erasure deleted.
type Erased struct {
	Deliveries int64 `json:"deliveries"`
	Attempts   int64 `json:"attempts"`
}

// EraseTenant deletes every delivery of a tenant (queued or finished),
// their attempts, and the lanes and health of its endpoints. Call it in
// the transaction that erases the tenant, after locking it.
func EraseTenant(ctx context.Context, tx pgx.Tx, tenantID string, endpointIDs []string) (Erased, error) {
	var e Erased
	err := tx.QueryRow(ctx, `
		WITH locked AS (
			SELECT id FROM hookd.queue WHERE tenant_id = $1 ORDER BY id FOR UPDATE
		), gone_attempts AS (
			DELETE FROM hookd.attempts WHERE delivery_id IN (
				SELECT id FROM hookd.queue WHERE tenant_id = $1 UNION ALL SELECT id FROM hookd.finished WHERE tenant_id = $1)
			RETURNING id, event_stored_at
		), gone_bodies AS (
			DELETE FROM hookd.attempt_bodies b USING gone_attempts g
			WHERE b.attempt_id = g.id AND b.event_stored_at = g.event_stored_at
			RETURNING 1
		), gone_queue AS (
			DELETE FROM hookd.queue WHERE id IN (SELECT id FROM locked) RETURNING 1
		), gone_finished AS (
			DELETE FROM hookd.finished WHERE tenant_id = $1 RETURNING 1
		), gone_lanes AS (
			DELETE FROM hookd.lanes WHERE endpoint_id = ANY($2) RETURNING 1
		), gone_wakes AS (
			DELETE FROM hookd.lane_wakes WHERE endpoint_id = ANY($2) RETURNING 1
		), gone_minutes AS (
			DELETE FROM hookd.endpoint_minutes WHERE endpoint_id = ANY($2) RETURNING 1
		), gone_health AS (
			DELETE FROM hookd.endpoint_health WHERE endpoint_id = ANY($2) RETURNING 1
		)
		SELECT (SELECT count(*) FROM gone_queue) + (SELECT count(*) FROM gone_finished), (SELECT count(*) FROM gone_attempts)
			+ 0 * ((SELECT count(*) FROM gone_lanes) + (SELECT count(*) FROM gone_wakes) + (SELECT count(*) FROM gone_minutes) + (SELECT count(*) FROM gone_health)
				+ (SELECT count(*) FROM gone_bodies))`,
		tenantID, endpointIDs).Scan(&e.Deliveries, &e.Attempts)
	return e, err
}

// UnfinishedEvents returns up to limit ids of events stored in [lower,
// upper) that still have a delivery in the queue: the work retention must
// carry forward before that range is dropped.
func UnfinishedEvents(ctx context.Context, ex db.Executor, lower, upper time.Time, limit int) ([]string, error) {
	rows, err := ex.Query(ctx, `SELECT DISTINCT event_id FROM hookd.queue
		WHERE event_stored_at >= $1 AND event_stored_at < $2 LIMIT $3`, lower, upper, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// CarryForward moves everything about the given events that is stored in
// [lower, upper) (queued and finished deliveries, attempts, bodies) to the
// partition key to, alongside their events (which core/outbox moves in the
// same transaction). A delivery in flight meanwhile records its result
// where its delivery is then.
func CarryForward(ctx context.Context, tx pgx.Tx, eventIDs []string, lower, upper, to time.Time) error {
	_, err := tx.Exec(ctx, `
		WITH dels AS (
			SELECT id FROM hookd.queue WHERE event_id = ANY($1) AND event_stored_at >= $2 AND event_stored_at < $3
			UNION ALL
			SELECT id FROM hookd.finished WHERE event_id = ANY($1) AND event_stored_at >= $2 AND event_stored_at < $3
		), moved_attempts AS (
			UPDATE hookd.attempts SET event_stored_at = $4
			WHERE delivery_id IN (SELECT id FROM dels) AND event_stored_at >= $2 AND event_stored_at < $3
			RETURNING id
		), moved_bodies AS (
			UPDATE hookd.attempt_bodies SET event_stored_at = $4
			WHERE attempt_id IN (SELECT id FROM moved_attempts) AND event_stored_at >= $2 AND event_stored_at < $3
			RETURNING 1
		), moved_finished AS (
			UPDATE hookd.finished SET event_stored_at = $4
			WHERE event_id = ANY($1) AND event_stored_at >= $2 AND event_stored_at < $3
			RETURNING 1
		)
		UPDATE hookd.queue SET event_stored_at = $4
		WHERE event_id = ANY($1) AND event_stored_at >= $2 AND event_stored_at < $3
		  AND 0 = 0 * ((SELECT count(*) FROM moved_bodies) + (SELECT count(*) FROM moved_finished))`,
		eventIDs, lower, upper, to)
	return err
}
