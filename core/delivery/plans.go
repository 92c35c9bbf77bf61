package delivery

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/core/db"
)

// cycleSettings plan the statements of a dispatcher's cycle as it needs
// them planned, in settings local to its transaction:
//
//   - Generic plans of the prepared statements: left to choose, PostgreSQL
//     planned the claim afresh on every call (the unnest inputs make each
//     call look different), and planning cost as much as running it.
//   - No sequential scans: the queue is small and churns, so a plan made
//     while it looked small read it whole, dead rows and all, and the cost
//     of every cycle grew with the rows finished since the last vacuum
//     (at 1,000 deliveries/s, recording a batch took 0.78 ms against 0.21
//     ms by key). Every statement of a cycle finds its rows by key.
//   - No bitmap scans: a cycle takes the oldest few of an endpoint's
//     pending deliveries, which an index scan of queue_ready reads in
//     order and stops at. Once the queue had been analyzed with several
//     endpoints' backlogs in it, the generic plan read each endpoint's
//     whole backlog by bitmap instead and sorted it, so every claim cost
//     as much as the backlog was long (TestClaimReadsNotTheBacklogOnceAnalyzed).
//
// One statement, so that a batch can carry it (a batch's statements are
// prepared, and each holds one command).
const cycleSettings = `SELECT set_config('plan_cache_mode', 'force_generic_plan', true), set_config('enable_seqscan', 'off', true),
	set_config('enable_bitmapscan', 'off', true)`

// CycleTx begins a transaction planned as a dispatcher's cycle is (see
// cycleSettings), in the round trip of its BEGIN, for a caller that runs
// the cycle's statements one by one (InCycle is the dispatcher's own).
var CycleTx = pgx.TxOptions{BeginQuery: `BEGIN; ` + cycleSettings}

// InCycle runs a dispatcher cycle's transaction on a connection of pool,
// planned as cycleSettings say, in as few round trips as its statements
// allow: what first queues is sent with the BEGIN, and read before fn
// runs; fn runs on the connection what needs those results, and returns
// its last statements queued in a batch, which is sent with the COMMIT.
// The transaction commits when all of that succeeds, and is rolled back
// otherwise. As the COMMIT goes with the last statements, a failure the
// client finds in reading their results (not one the server reports)
// leaves the commit's outcome unknown, as a connection lost during a
// COMMIT does: the caller's recovery from that (leases that expire, results
// recorded again, which are only logged when their lease is gone) covers
// it.
func InCycle(ctx context.Context, pool *pgxpool.Pool, first func(*pgx.Batch), fn func(ex db.Executor) (*pgx.Batch, error)) (err error) {
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return err
	}
	defer conn.Release()
	defer func() {
		// Still in the transaction, or in one that failed: end it, or the
		// connection goes back to the pool inside it.
		if conn.Conn().PgConn().TxStatus() != 'I' {
			if _, rerr := conn.Exec(ctx, "ROLLBACK"); rerr != nil {
				conn.Conn().Close(ctx)
			}
		}
	}()
	batch := &pgx.Batch{}
	batch.Queue("BEGIN")
	batch.Queue(cycleSettings)
	first(batch)
	if err := conn.SendBatch(ctx, batch).Close(); err != nil {
		return err
	}
	last, err := fn(conn)
	if err != nil {
		return err
	}
	if last == nil {
		last = &pgx.Batch{}
	}
	last.Queue("COMMIT").Exec(func(tag pgconn.CommandTag) error {
		if tag.String() == "ROLLBACK" {
			return pgx.ErrTxCommitRollback
		}
		return nil
	})
	return conn.SendBatch(ctx, last).Close()
}

// PendingOf is the condition, on the queue as q, that selects endpoint's
// pending deliveries, and OldestFirst the order that goes with it: with a
// LIMIT they read the endpoint's oldest pending deliveries from
// queue_ready, whatever else is queued. The endpoint is bounded as a
// range on purpose. Given an equality, the planner drops endpoint_id from
// the order and may walk the primary key in id order instead, filtering,
// which reads every older row of every other endpoint: 3,000 rows to
// claim 10 behind another endpoint's backlog
// (TestClaimReadsOnlyItsEndpointsRows). The range leaves queue_ready the
// one index that gives the order.
func PendingOf(endpoint string) string { return inStateOf(endpoint, StatePending) }

// inStateOf is PendingOf for another state of the queue.
func inStateOf(endpoint string, state State) string {
	return "q.endpoint_id >= " + endpoint + " AND q.endpoint_id <= " + endpoint + " AND q.state = '" + string(state) + "'"
}

// OldestFirst orders what PendingOf selects, oldest first.
const OldestFirst = "ORDER BY q.endpoint_id, q.id"

// PendingEndpoints is a recursive CTE, named eps, of the endpoints that
// have pending deliveries, for a statement that begins WITH RECURSIVE: a
// walk of queue_ready that costs one index probe per endpoint with work,
// however many deliveries each has. Its last row's endpoint_id is NULL,
// so a reader filters eps.endpoint_id IS NOT NULL.
const PendingEndpoints = `eps AS (
			(SELECT endpoint_id FROM hookd.queue WHERE state = 'pending' ORDER BY endpoint_id LIMIT 1)
			UNION ALL
			SELECT (SELECT q.endpoint_id FROM hookd.queue q
				WHERE q.state = 'pending' AND q.endpoint_id > eps.endpoint_id ORDER BY q.endpoint_id LIMIT 1)
			FROM eps WHERE eps.endpoint_id IS NOT NULL
		)`

// LineHeadOf is a subquery, to be read as a LATERAL join, that selects the
// columns cols (of the queue as q) of the head of endpoint's line: its
// oldest delivery that is pending or retrying. A fifo endpoint sends that
// one alone; while it waits out a backoff (retrying), so does its line.
// It costs two index probes, one in queue_ready and one in
// queue_retrying_endpoint, each bounded as PendingOf explains.
func LineHeadOf(endpoint, cols string) string {
	return `SELECT ` + cols + ` FROM (
			(SELECT * FROM hookd.queue q WHERE ` + PendingOf(endpoint) + ` ` + OldestFirst + ` LIMIT 1)
			UNION ALL
			(SELECT * FROM hookd.queue q WHERE ` + inStateOf(endpoint, StateRetrying) + ` ` + OldestFirst + ` LIMIT 1)
		) q ORDER BY q.id LIMIT 1`
}
