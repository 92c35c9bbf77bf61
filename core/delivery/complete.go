package delivery

import (
	"context"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/jsonw"
)

// LatencyBuckets are the upper bounds of hookd.endpoint_minutes'
// latency_buckets; the last bucket counts everything slower.
var LatencyBuckets = []time.Duration{
	5 * time.Millisecond, 10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
	100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond, time.Second,
	2500 * time.Millisecond, 5 * time.Second, 10 * time.Second, 30 * time.Second,
}

func bucketOf(d time.Duration) int {
	for i, b := range LatencyBuckets {
		if d <= b {
			return i
		}
	}
	return len(LatencyBuckets)
}

// Complete records a batch of attempt results in a transaction of its own;
// see CompleteTx.
func Complete(ctx context.Context, b beginner, policy Policy, results []Result) ([]Result, error) {
	var applied []Result
	err := pgx.BeginFunc(ctx, b, func(tx pgx.Tx) error {
		var err error
		applied, _, err = CompleteTx(ctx, tx, policy, results)
		return err
	})
	if err != nil {
		return nil, err
	}
	return applied, nil
}

// CompleteTx records a batch of attempt results in the caller's
// transaction, so that work which must not be lost with them (noting dead
// letters for alerting, the next claim) commits with them: the attempts
// (insert-only), each delivery's move to hookd.finished or its next state
// in the queue, its lane's freed slot, and the endpoint's health, minute
// rollup and breaker.
//
// A result whose delivery is no longer leased to its worker for that
// attempt (the lease expired and someone else took it) still has its
// attempt logged but changes nothing else. A result whose delivery no
// longer exists (its endpoint or event was deleted while the attempt was
// in flight) is dropped: there is nothing left to record it into. It
// returns the results applied and those dropped.
func CompleteTx(ctx context.Context, tx pgx.Tx, policy Policy, results []Result) (applied, dropped []Result, err error) {
	if len(results) == 0 {
		return nil, nil, nil
	}
	batch := &pgx.Batch{}
	c := QueueCompletion(batch, policy, results)
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return nil, nil, db.Interpret(err)
	}
	batch = &pgx.Batch{}
	if err := c.Queue(ctx, tx, batch); err != nil {
		return nil, nil, err
	}
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return nil, nil, db.Interpret(err)
	}
	return c.Applied, c.Dropped, nil
}

// queueOutcomes moves finished deliveries from the queue to
// hookd.finished and gives the others their next state. A retry for an
// endpoint disabled meanwhile is held instead.
func queueOutcomes(batch *pgx.Batch, applied []Result) {
	if len(applied) == 0 {
		return
	}
	n := len(applied)
	ids := make([]int64, n)
	states := make([]string, n)
	nextAt := make([]time.Time, n)
	statuses := make([]*int32, n)
	classes := make([]string, n)
	errs := make([]string, n)
	for i, r := range applied {
		ids[i], states[i], classes[i], errs[i] = r.DeliveryID, string(r.Next), r.ErrorClass, sanitize(r.Error)
		nextAt[i] = r.NextAttemptAt
		if nextAt[i].IsZero() {
			nextAt[i] = r.StartedAt
		}
		if r.ResponseStatus != 0 {
			s := int32(r.ResponseStatus)
			statuses[i] = &s
		}
	}
	batch.Queue(`
		WITH input AS (
			SELECT * FROM unnest($1::bigint[], $2::text[], $3::timestamptz[], $4::int[], $5::text[], $6::text[])
			AS i(id, next_state, next_at, status, class, error)
		), done AS (
			DELETE FROM hookd.queue q USING input i
			WHERE q.id = i.id AND i.next_state IN ('succeeded', 'dead')
			RETURNING q.id, q.event_id, q.event_stored_at, q.endpoint_id, q.tenant_id, q.event_type, i.next_state,
				q.attempts, i.status, i.class, i.error, q.replays, q.created_at
		), moved AS (
			INSERT INTO hookd.finished (id, event_id, event_stored_at, endpoint_id, tenant_id, event_type, state,
				attempts, last_status, last_error_class, last_error, replays, created_at, completed_at)
			SELECT id, event_id, event_stored_at, endpoint_id, tenant_id, event_type, next_state,
				attempts, status, class, error, replays, created_at, now()
			FROM done
		)
		UPDATE hookd.queue q SET
			state = CASE WHEN ep.enabled THEN i.next_state ELSE 'held' END,
			next_attempt_at = i.next_at, lease_expires_at = NULL, leased_by = NULL,
			last_status = i.status, last_error_class = i.class, last_error = i.error, updated_at = now()
		FROM input i, hookd.endpoints ep
		WHERE q.id = i.id AND i.next_state NOT IN ('succeeded', 'dead') AND ep.id = q.endpoint_id`,
		ids, states, nextAt, statuses, classes, errs)
}

// queueAttempts logs one attempt per result.
func queueAttempts(batch *pgx.Batch, results []Result) {
	if len(results) == 0 {
		return
	}
	n := len(results)
	var (
		deliveryIDs = make([]int64, n)
		stored      = make([]time.Time, n)
		endpointIDs = make([]string, n)
		attemptNos  = make([]int32, n)
		started     = make([]time.Time, n)
		durations   = make([]int64, n)
		urls        = make([]string, n)
		reqHeaders  = make([]string, n)
		statuses    = make([]*int32, n)
		respHeaders = make([]*string, n)
		bodies      = make([]string, n)
		classes     = make([]string, n)
		errs        = make([]string, n)
		workers     = make([]string, n)
	)
	for i, r := range results {
		deliveryIDs[i], stored[i], endpointIDs[i], attemptNos[i] = r.DeliveryID, r.EventStoredAt, r.EndpointID, int32(r.Attempt)
		started[i], durations[i], urls[i] = r.StartedAt, r.Duration.Microseconds(), r.RequestURL
		reqHeaders[i] = headerJSON(r.RequestHeaders)
		if r.ResponseStatus != 0 {
			s := int32(r.ResponseStatus)
			statuses[i] = &s
			h := headerJSON(r.ResponseHeaders)
			respHeaders[i] = &h
		}
		bodies[i], classes[i], errs[i], workers[i] = sanitize(r.ResponseBody), r.ErrorClass, sanitize(r.Error), r.Worker
	}
	// Bodies go to their own table (retention.attempt_bodies may drop them
	// first), and only those there are.
	batch.Queue(`
		WITH input AS MATERIALIZED (
			SELECT nextval('hookd.attempt_ids') AS id, *
			FROM unnest($1::bigint[], $2::timestamptz[], $3::text[], $4::int[], $5::timestamptz[], $6::bigint[],
				$7::text[], $8::jsonb[], $9::int[], $10::jsonb[], $11::text[], $12::text[], $13::text[], $14::text[])
			AS t(delivery_id, stored_at, endpoint_id, attempt, started_at, duration_us, url, req_headers, status,
				resp_headers, body, class, error, worker)
		), logged AS (
			INSERT INTO hookd.attempts (id, delivery_id, event_stored_at, endpoint_id, attempt, started_at, duration_us,
				request_url, request_headers, response_status, response_headers, error_class, error, worker)
			SELECT id, delivery_id, stored_at, endpoint_id, attempt, started_at, duration_us, url, req_headers, status,
				resp_headers, class, error, worker
			FROM input
		)
		INSERT INTO hookd.attempt_bodies (attempt_id, event_stored_at, body)
		SELECT id, stored_at, body FROM input WHERE body <> ''`,
		deliveryIDs, stored, endpointIDs, attemptNos, started, durations, urls, reqHeaders, statuses,
		respHeaders, bodies, classes, errs, workers)
}

// queueFreedLanes wakes the lanes that waited for a slot to free (at their
// cap, a probe or a fifo head in flight), and those whose endpoint just
// succeeded (its breaker closes).
func queueFreedLanes(batch *pgx.Batch, freed map[string]int, results []Result) {
	if len(freed) == 0 {
		return
	}
	succeeded := map[string]bool{}
	for _, r := range results {
		if r.Success() {
			succeeded[r.EndpointID] = true
		}
	}
	eps := make([]string, 0, len(freed))
	for ep := range freed {
		eps = append(eps, ep)
	}
	slices.Sort(eps)
	var wake []string
	for _, ep := range eps {
		if succeeded[ep] {
			wake = append(wake, ep)
		}
	}
	// Locked in key order first, so concurrent batches cannot deadlock.
	batch.Queue(`
		WITH w AS (
			SELECT endpoint_id FROM hookd.lanes
			WHERE endpoint_id = ANY($1) AND (ready_at = 'infinity' OR (endpoint_id = ANY($2) AND ready_at > now()))
			ORDER BY endpoint_id FOR UPDATE
		)
		UPDATE hookd.lanes l SET ready_at = now() FROM w WHERE l.endpoint_id = w.endpoint_id`, eps, wake)
}

// endpointsOwn leaves out the results that say nothing of the endpoint:
// attempts cut short by hookd's own shutdown (ClassInterrupted), which
// would otherwise count as failures, lengthen the streak and open the
// breaker of a healthy endpoint at every rolling restart (the reaper's
// interrupted attempts are not counted either).
func endpointsOwn(results []Result) []Result {
	out := results[:0:0]
	for _, r := range results {
		if r.ErrorClass != ClassInterrupted {
			out = append(out, r)
		}
	}
	return out
}

// queueHealth folds the results into hookd.endpoint_health and
// hookd.endpoint_minutes: one statement for each table, whatever the
// number of endpoints, writing rows in key order so concurrent batches do
// not deadlock.
func queueHealth(batch *pgx.Batch, policy Policy, results []Result) {
	if len(results) == 0 {
		return
	}
	byEndpoint := map[string][]Result{}
	for _, r := range results {
		byEndpoint[r.EndpointID] = append(byEndpoint[r.EndpointID], r)
	}
	endpoints := make([]string, 0, len(byEndpoint))
	for id := range byEndpoint {
		endpoints = append(endpoints, id)
	}
	slices.Sort(endpoints)

	var h healthRows
	var m minuteRows
	for _, id := range endpoints {
		rs := byEndpoint[id]
		slices.SortStableFunc(rs, func(a, b Result) int { return a.StartedAt.Compare(b.StartedAt) })
		h.add(id, rs)
		m.add(id, rs)
	}
	// With a success in the batch the streak restarts from it; without one
	// the batch's failures extend the current streak. A healthy endpoint
	// that succeeds again within a second of its last recorded success is
	// left alone: read without a lock, so that concurrent batches to a busy
	// endpoint do not queue on its row (last_success_at is then up to a
	// second old).
	batch.Queue(`
		INSERT INTO hookd.endpoint_health AS h (endpoint_id, consecutive_failures, last_status,
			last_success_at, last_failure_at, failing_since, updated_at)
		SELECT u.endpoint_id, u.failures, u.status, u.success_at, u.failure_at, u.failing_since, now()
		FROM unnest($1::text[], $2::int[], $3::int[], $4::timestamptz[], $5::timestamptz[], $6::timestamptz[])
			AS u(endpoint_id, failures, status, success_at, failure_at, failing_since)
		WHERE EXISTS (SELECT 1 FROM hookd.endpoints WHERE id = u.endpoint_id)
		  AND NOT EXISTS (SELECT 1 FROM hookd.endpoint_health c WHERE c.endpoint_id = u.endpoint_id
			AND u.failures = 0 AND u.failure_at IS NULL AND c.consecutive_failures = 0 AND c.breaker_opened_at IS NULL
			AND c.last_status IS NOT DISTINCT FROM u.status AND c.last_success_at >= u.success_at - interval '1 second')
		ORDER BY u.endpoint_id
		ON CONFLICT (endpoint_id) DO UPDATE SET
			consecutive_failures = CASE WHEN excluded.last_success_at IS NULL
				THEN h.consecutive_failures + excluded.consecutive_failures ELSE excluded.consecutive_failures END,
			failing_since = CASE WHEN excluded.last_success_at IS NULL
				THEN coalesce(h.failing_since, excluded.failing_since) ELSE excluded.failing_since END,
			last_status = excluded.last_status,
			last_success_at = coalesce(excluded.last_success_at, h.last_success_at),
			last_failure_at = coalesce(excluded.last_failure_at, h.last_failure_at),
			updated_at = now()`,
		h.endpoints, h.failures, h.status, h.success, h.failure, h.failingSince)
	batch.Queue(`
		INSERT INTO hookd.endpoint_minutes AS em (endpoint_id, minute, shard, attempts, successes, latency_buckets)
		SELECT u.endpoint_id, u.minute, $6::smallint, u.attempts, u.successes, u.buckets::int[]
		FROM unnest($1::text[], $2::timestamptz[], $3::int[], $4::int[], $5::text[])
			AS u(endpoint_id, minute, attempts, successes, buckets)
		WHERE EXISTS (SELECT 1 FROM hookd.endpoints WHERE id = u.endpoint_id)
		ORDER BY u.endpoint_id, u.minute
		ON CONFLICT (endpoint_id, minute, shard) DO UPDATE SET
			attempts = em.attempts + excluded.attempts,
			successes = em.successes + excluded.successes,
			latency_buckets = (SELECT array_agg(coalesce(a, 0) + coalesce(b, 0) ORDER BY n)
				FROM unnest(em.latency_buckets, excluded.latency_buckets) WITH ORDINALITY AS s(a, b, n))`,
		m.endpoints, m.minutes, m.attempts, m.successes, m.buckets, rollupShard())
	// The breaker opens at policy.BreakerFailures consecutive failures and
	// closes on a success; opening schedules the first probe.
	if policy.BreakerFailures > 0 {
		batch.Queue(`
			UPDATE hookd.endpoint_health SET
				breaker_opened_at = CASE WHEN consecutive_failures >= $2 THEN coalesce(breaker_opened_at, now()) END,
				breaker_probe_at = CASE WHEN consecutive_failures >= $2
					THEN coalesce(breaker_probe_at, now() + $3 * interval '1 millisecond') END,
				breaker_probes = CASE WHEN consecutive_failures >= $2 THEN breaker_probes ELSE 0 END
			WHERE endpoint_id = ANY($1) AND (breaker_opened_at IS NOT NULL OR consecutive_failures >= $2)`,
			endpoints, policy.BreakerFailures, policy.BreakerProbeInterval.Milliseconds())
	}
}

// healthRows are the inputs of the endpoint_health statement, one per
// endpoint.
type healthRows struct {
	endpoints                      []string
	failures                       []int32
	status                         []*int32
	success, failure, failingSince []*time.Time
}

// add folds one endpoint's results, oldest first.
func (h *healthRows) add(endpointID string, rs []Result) {
	var lastSuccess, lastFailure, firstFailureAfterSuccess *time.Time
	failuresAfterSuccess := int32(0)
	for _, r := range rs {
		t := r.StartedAt
		if r.Success() {
			lastSuccess = &t
			failuresAfterSuccess = 0
			firstFailureAfterSuccess = nil
		} else {
			lastFailure = &t
			failuresAfterSuccess++
			if firstFailureAfterSuccess == nil {
				firstFailureAfterSuccess = &t
			}
		}
	}
	var lastStatus *int32
	if s := rs[len(rs)-1].ResponseStatus; s != 0 {
		v := int32(s)
		lastStatus = &v
	}
	h.endpoints = append(h.endpoints, endpointID)
	h.failures = append(h.failures, failuresAfterSuccess)
	h.status = append(h.status, lastStatus)
	h.success = append(h.success, lastSuccess)
	h.failure = append(h.failure, lastFailure)
	h.failingSince = append(h.failingSince, firstFailureAfterSuccess)
}

// minuteRows are the inputs of the endpoint_minutes statement, one per
// endpoint and minute; buckets are array literals (PostgreSQL's unnest
// cannot take an array of arrays apart row by row).
type minuteRows struct {
	endpoints           []string
	minutes             []time.Time
	attempts, successes []int32
	buckets             []string
}

// add folds one endpoint's results into its minutes, in time order.
func (m *minuteRows) add(endpointID string, rs []Result) {
	type minute struct {
		attempts, successes int32
		buckets             []int32
	}
	minutes := map[time.Time]*minute{}
	for _, r := range rs {
		at := r.StartedAt.UTC().Truncate(time.Minute)
		agg := minutes[at]
		if agg == nil {
			agg = &minute{buckets: make([]int32, len(LatencyBuckets)+1)}
			minutes[at] = agg
		}
		agg.attempts++
		if r.Success() {
			agg.successes++
		}
		agg.buckets[bucketOf(r.Duration)]++
	}
	keys := make([]time.Time, 0, len(minutes))
	for at := range minutes {
		keys = append(keys, at)
	}
	slices.SortFunc(keys, time.Time.Compare)
	for _, at := range keys {
		agg := minutes[at]
		m.endpoints = append(m.endpoints, endpointID)
		m.minutes = append(m.minutes, at)
		m.attempts = append(m.attempts, agg.attempts)
		m.successes = append(m.successes, agg.successes)
		m.buckets = append(m.buckets, arrayLiteral(agg.buckets))
	}
}

// arrayLiteral writes counts as a PostgreSQL array literal, {1,0,2}.
func arrayLiteral(counts []int32) string {
	b := make([]byte, 0, 2+3*len(counts))
	b = append(b, '{')
	for i, n := range counts {
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendInt(b, int64(n), 10)
	}
	return string(append(b, '}'))
}

// rollupShards is how many rows an endpoint's minute may have: batches
// recorded at the same time add to different rows (readers sum them), so
// they do not wait for each other's commit on one row.
const rollupShards = 4

// rollupCalls counts queueHealth calls, from a random start so that
// processes spread over the shards too.
var rollupCalls atomic.Uint32

func init() { rollupCalls.Store(rand.Uint32()) }

// rollupShard returns the shard for this batch's minute rows: consecutive
// batches of a process, such as the dispatcher's overlapping cycles, take
// different ones.
func rollupShard() int16 { return int16(rollupCalls.Add(1) % rollupShards) }

// headerJSON writes headers as stored: storable text (see jsonw).
func headerJSON(h map[string][]string) string { return string(jsonw.Header(nil, h)) }

// sanitize makes text storable in PostgreSQL: valid UTF-8 without NUL.
func sanitize(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}
