package delivery

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hookd/hookd/core/db"
)

// This file holds the SQL on hookd.lanes and hookd.lane_wakes that other
// files share: leaving wakes for endpoints that got due work, turning wakes
// into lanes, and dropping idle lanes. See the package doc for why this
// never leaves due work without a lane.

// WorkChannel is the NOTIFY channel that wakes dispatchers when an
// endpoint that had no lane gets due work. Notifications are sent by the
// statement that creates the work, so they arrive on commit and never for
// work rolled back. An endpoint that already has a lane is being served:
// its new work needs no notification, which keeps LISTEN/NOTIFY's global
// commit lock out of the busy path.
const WorkChannel = "hookd_work"

// laneLockClass is the first key of the two-key advisory locks on lane
// buckets; the second is the endpoint id's hash in [0, 1024). The SQL
// function hookd.needing_wakes uses the same keys.
const laneLockClass = 0x686c // "hl"

// laneBucket is the SQL for an endpoint id's lock bucket.
func laneBucket(col string) string { return "(hashtext(" + col + ") & 1023)" }

// wakeCTE returns a CTE (without its leading comma) named woken that
// leaves a wake row for each endpoint in column endpoint_id of source (a
// relation name or a parenthesised query) that has neither a lane nor a
// wake row already, and notifies WorkChannel when it left any: one wake
// brings the lane that serves all the endpoint's work, and every
// notifying transaction commits in turn with the others (PostgreSQL's
// notification queue lock), so one-event transactions to an endpoint
// whose wake was not admitted yet would commit one at a time. The
// statement it is part of must select wakeSelect, e.g.
// "SELECT count(*) FROM woken, " + wakeSelect.
//
// A wake row is a plain insert: unlike inserting the lane, it never waits
// for another transaction that is creating the same lane, so writers in
// long transactions that publish to many endpoints in any order neither
// queue up behind each other nor deadlock. hookd.needing_wakes holds the
// endpoints' bucket locks to commit (see the package doc); it looks at
// all of the statement's endpoints in one call.
func wakeCTE(source string) string {
	return fmt.Sprintf(`woken AS (
		INSERT INTO hookd.lane_wakes (endpoint_id)
		SELECT w FROM hookd.needing_wakes(ARRAY(SELECT DISTINCT endpoint_id FROM %s)) AS w
		RETURNING 1
	), notified AS (
		SELECT pg_notify('%s', '') FROM (SELECT 1 FROM woken LIMIT 1) w
	)`, source, WorkChannel)
}

// wakeSelect is the tail that makes a statement using wakeCTE run both.
const wakeSelect = `(SELECT count(*) FROM notified)`

// AdmitWakes turns every committed wake row into a lane and returns how
// many lanes it made. It runs as a statement of its own (pass a pool), so
// the lane inserts wait for nothing longer than another AdmitWakes (in a
// cycle's transaction they waited for whole cycles, up to 140 ms); a
// dispatcher calls it when WorkChannel fires and on its fallback poll.
func AdmitWakes(ctx context.Context, ex db.Executor) (int, error) {
	// One round trip: both statements in one implicit transaction, and the
	// admission a prepared statement (pgx would send a statement without
	// arguments in the simple protocol, parsed and planned every call).
	batch := &pgx.Batch{}
	batch.Queue(asyncCommit)
	var n int
	batch.Queue(admitSQL).Exec(func(tag pgconn.CommandTag) error {
		n = int(tag.RowsAffected())
		return nil
	})
	return n, ex.SendBatch(ctx, batch).Close()
}

// asyncCommit lets the transaction commit without waiting for its WAL to
// reach the disk. Only lanes and wake rows are written so: they are the
// dispatchers' schedule, derived from the queue. Should a crash lose such
// a commit, the wakes are back (and admitted again) or the lane is back
// (and dropped again when it is found idle); any durable commit after it
// flushes it anyway, WAL being written in order.
const asyncCommit = `SELECT set_config('synchronous_commit', 'off', true)`

const admitSQL = `
	WITH w AS (DELETE FROM hookd.lane_wakes RETURNING endpoint_id)
	INSERT INTO hookd.lanes (endpoint_id)
	SELECT DISTINCT endpoint_id FROM w ORDER BY endpoint_id
	ON CONFLICT (endpoint_id) DO NOTHING`

// Dropped tells what DropIdleLanes did with the lanes it was given.
type Dropped struct {
	// Dropped lanes had nothing due.
	Dropped int
	// Woken lanes had due work after all and are ready now: claim again.
	Woken int
	// Contended lanes could not be looked at: a writer is making work due
	// for their endpoints right now. They are ready now too; look again
	// shortly, once that writer committed.
	Contended int
}

// DropIdleLanes drops the lanes a claim found idle (Claimed.Idle), in a
// transaction of its own that does not wait for the disk (see
// asyncCommit), so pass a pool or a connection; call it after the claim
// committed, and claim again at once when some were woken, shortly when
// some were contended.
func DropIdleLanes(ctx context.Context, ex db.Executor, endpointIDs []string) (Dropped, error) {
	slices.Sort(endpointIDs)
	return dropIdleLanes(ctx, ex, slices.Compact(endpointIDs))
}

// dropIdleLanes drops the lanes of endpoints that have nothing due, and
// wakes the ones that turned out to have work after all. A lane whose
// bucket a writer holds is left, ready, for the next claim to look at
// again.
//
// It takes one round trip: its statements are sent together and run as
// one implicit transaction, each statement handing what it locked to the
// next in a setting local to that transaction (dropHeld, dropLocked).
// They must stay separate statements: at READ COMMITTED each one sees
// what committed before it began, and the last one must see every writer
// that held a bucket the one before it locked.
func dropIdleLanes(ctx context.Context, ex db.Executor, endpointIDs []string) (Dropped, error) {
	var out Dropped
	if len(endpointIDs) == 0 {
		return out, nil
	}
	batch := &pgx.Batch{}
	batch.Queue(asyncCommit)
	// The lanes' rows first, in endpoint order as every other writer that
	// locks several lanes takes them: the delete and the update below
	// would take them in two runs, and deadlock with a completion waking
	// the same lanes. This may wait for another cycle's commit, so it
	// comes before the buckets: held while waiting, their exclusive locks
	// would stall every writer to those endpoints (hookd.needing_wakes)
	// for as long.
	batch.Queue(`SELECT set_config('`+dropHeld+`', coalesce(array_agg(endpoint_id ORDER BY endpoint_id)::text, '{}'), true)
		FROM (SELECT endpoint_id FROM hookd.lanes WHERE endpoint_id = ANY($1) ORDER BY endpoint_id FOR UPDATE) held`, endpointIDs)
	// Then the buckets of those lanes alone, without waiting: the next
	// statement then sees every writer that held one.
	batch.Queue(fmt.Sprintf(`SELECT set_config('`+dropLocked+`', coalesce(array_agg(endpoint_id)::text, '{}'), true)
		FROM unnest(current_setting('`+dropHeld+`')::text[]) AS e(endpoint_id)
		WHERE pg_try_advisory_xact_lock(%d, %s)`, laneLockClass, laneBucket("endpoint_id")))
	// The last statement touches only the rows the first one locked: a
	// lane made since (a wake admitted while the drop waited, as writers
	// do not wait for it) is new and ready, and taking its row then, out
	// of key order and while holding the buckets, deadlocked with a
	// completion waking the same lanes.
	batch.Queue(`
		WITH dropped AS (
			DELETE FROM hookd.lanes l
			WHERE l.endpoint_id = ANY(current_setting('` + dropLocked + `')::text[])
			  AND NOT EXISTS (SELECT 1 FROM hookd.queue q WHERE q.endpoint_id = l.endpoint_id AND q.state = 'pending')
			RETURNING l.endpoint_id
		), ready AS (
			UPDATE hookd.lanes l SET ready_at = now()
			WHERE l.endpoint_id = ANY(current_setting('` + dropHeld + `')::text[]) AND l.endpoint_id NOT IN (SELECT endpoint_id FROM dropped)
			  AND l.ready_at > now()
		)
		-- Woken: every lane looked at and kept has pending work, whether
		-- this made it ready or it was ready already (woken by another
		-- cycle's drop, say, while a claim that skipped it, locked, found
		-- nothing): either way the dispatcher must claim again.
		SELECT (SELECT count(*) FROM dropped)::int,
			(SELECT count(*) FROM hookd.lanes l
			 WHERE l.endpoint_id = ANY(current_setting('` + dropHeld + `')::text[])
			   AND l.endpoint_id NOT IN (SELECT endpoint_id FROM dropped))::int,
			cardinality(current_setting('` + dropHeld + `')::text[]) - cardinality(current_setting('` + dropLocked + `')::text[])`).
		QueryRow(func(row pgx.Row) error {
			return row.Scan(&out.Dropped, &out.Woken, &out.Contended)
		})
	if err := ex.SendBatch(ctx, batch).Close(); err != nil {
		return Dropped{}, err
	}
	return out, nil
}

// The settings in which dropIdleLanes' statements hand on the lanes they
// hold and the buckets they locked.
const (
	dropHeld   = "hookd.drop_held"
	dropLocked = "hookd.drop_locked"
)

// beginner starts a transaction: a pool, a connection or a pgx.Tx.
type beginner interface {
	Begin(ctx context.Context) (pgx.Tx, error)
}

// Sweep gives a lane to every endpoint that has due work but none (and
// admits the wakes no dispatcher took yet), and wakes lanes waiting at
// their cap with nothing in flight: the safety net behind the lane
// protocol. It returns how many lanes it made or woke. It
// walks the endpoints with pending deliveries, one index probe each, so
// its cost follows the work; the maintenance leader runs it now and then.
func Sweep(ctx context.Context, ex db.Executor) (int, error) {
	tag, err := ex.Exec(ctx, `
		WITH w AS (
			SELECT endpoint_id FROM hookd.lanes l WHERE ready_at = 'infinity'
			  AND NOT EXISTS (SELECT 1 FROM hookd.queue q WHERE q.endpoint_id = l.endpoint_id AND q.state = 'in_flight')
			ORDER BY endpoint_id FOR UPDATE SKIP LOCKED
		)
		UPDATE hookd.lanes l SET ready_at = now() FROM w WHERE l.endpoint_id = w.endpoint_id`)
	if err != nil {
		return 0, err
	}
	var n int
	err = ex.QueryRow(ctx, `
		WITH RECURSIVE `+PendingEndpoints+`, missing AS (
			SELECT endpoint_id FROM eps WHERE endpoint_id IS NOT NULL
			  AND NOT EXISTS (SELECT 1 FROM hookd.lanes l WHERE l.endpoint_id = eps.endpoint_id)
		), `+wakeCTE("missing")+`
		SELECT (SELECT count(*) FROM woken)::int + 0 * `+wakeSelect).Scan(&n)
	if err != nil {
		return 0, err
	}
	made, err := AdmitWakes(ctx, ex)
	return max(n, made) + int(tag.RowsAffected()), err
}
