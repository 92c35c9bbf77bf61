package delivery

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/db"
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

// Complete records a batch of attempt results in one transaction: the
// attempts (insert-only), each delivery's new state, and the per-endpoint
// health and minute rollups. A result whose delivery is no longer leased to
// its worker (the lease expired and someone else took it) still has its
// attempt logged but does not change the delivery. A result whose delivery
// no longer exists (its endpoint or event was deleted while the attempt was
// in flight) is dropped: there is nothing left to record it into.
//
// It returns the results that were applied, so callers raise alerts only
// for state changes that happened.
func Complete(ctx context.Context, pool interface {
	Begin(context.Context) (pgx.Tx, error)
}, results []Result) ([]Result, error) {
	var applied []Result
	err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
		var err error
		applied, _, err = CompleteTx(ctx, tx, results)
		return err
	})
	if err != nil {
		return nil, err
	}
	return applied, nil
}

// CompleteTx is Complete in the caller's transaction, so that work which
// must not be lost with the results (recording dead letters for alerting)
// commits with them. It also returns the results it dropped because their
// delivery no longer exists.
func CompleteTx(ctx context.Context, tx pgx.Tx, results []Result) (applied, dropped []Result, err error) {
	if len(results) == 0 {
		return nil, nil, nil
	}
	// A stable order keeps concurrent batches from deadlocking on rows.
	results = slices.Clone(results)
	slices.SortFunc(results, func(a, b Result) int { return compareInt64(a.DeliveryID, b.DeliveryID) })

	n := len(results)
	var (
		deliveryIDs = make([]int64, n)
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
		nextStates  = make([]string, n)
		nextAt      = make([]time.Time, n)
	)
	for i, r := range results {
		deliveryIDs[i] = r.DeliveryID
		endpointIDs[i] = r.EndpointID
		attemptNos[i] = int32(r.Attempt)
		started[i] = r.StartedAt
		durations[i] = r.Duration.Microseconds()
		urls[i] = r.RequestURL
		reqHeaders[i] = headerJSON(r.RequestHeaders)
		if r.ResponseStatus != 0 {
			s := int32(r.ResponseStatus)
			statuses[i] = &s
			h := headerJSON(r.ResponseHeaders)
			respHeaders[i] = &h
		}
		bodies[i] = sanitize(r.ResponseBody)
		classes[i] = r.ErrorClass
		errs[i] = sanitize(r.Error)
		workers[i] = r.Worker
		nextStates[i] = string(r.Next)
		nextAt[i] = r.NextAttemptAt
		if nextAt[i].IsZero() {
			nextAt[i] = r.StartedAt
		}
	}

	err = func() error {
		// The deliveries that still exist, locked so that a concurrent
		// delete of their endpoint or event waits for this batch.
		rows, err := tx.Query(ctx, `SELECT id FROM hookd.deliveries WHERE id = ANY($1) FOR KEY SHARE`, deliveryIDs)
		if err != nil {
			return err
		}
		present, err := pgx.CollectRows(rows, pgx.RowTo[int64])
		if err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `
			WITH input AS (
				SELECT * FROM unnest($1::bigint[], $2::text[], $3::int[], $4::timestamptz[], $5::bigint[],
					$6::text[], $7::jsonb[], $8::int[], $9::jsonb[], $10::text[], $11::text[], $12::text[],
					$13::text[], $14::text[], $15::timestamptz[])
				AS t(delivery_id, endpoint_id, attempt, started_at, duration_us, url, req_headers, status,
					resp_headers, body, class, error, worker, next_state, next_at)
			), logged AS (
				INSERT INTO hookd.attempts (delivery_id, endpoint_id, attempt, started_at, duration_us, request_url,
					request_headers, response_status, response_headers, response_body, error_class, error, worker)
				SELECT delivery_id, endpoint_id, attempt, started_at, duration_us, url, req_headers, status,
					resp_headers, body, class, error, worker FROM input
				WHERE delivery_id = ANY($16)
			), updated AS (
			UPDATE hookd.deliveries d SET
				state = i.next_state,
				next_attempt_at = i.next_at,
				lease_expires_at = NULL, leased_by = NULL,
				last_status = i.status, last_error_class = i.class, last_error = i.error,
				completed_at = CASE WHEN i.next_state IN ('succeeded', 'dead') THEN now() END,
				updated_at = now()
			FROM input i
			WHERE d.id = i.delivery_id AND d.state = 'in_flight' AND d.leased_by = i.worker AND d.attempts = i.attempt
			RETURNING d.id
			)
			SELECT p, p IN (SELECT id FROM updated) FROM unnest($16::bigint[]) p`,
			deliveryIDs, endpointIDs, attemptNos, started, durations, urls, reqHeaders, statuses,
			respHeaders, bodies, classes, errs, workers, nextStates, nextAt, present)
		if err != nil {
			return err
		}
		done := map[int64]bool{} // present deliveries -> whether the result changed them
		for rows.Next() {
			var id int64
			var changed bool
			if err := rows.Scan(&id, &changed); err != nil {
				rows.Close()
				return err
			}
			done[id] = changed
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		kept := results[:0:0]
		for _, r := range results {
			changed, present := done[r.DeliveryID]
			switch {
			case !present:
				dropped = append(dropped, r)
				continue
			case changed:
				applied = append(applied, r)
			}
			kept = append(kept, r)
		}
		return updateHealth(ctx, tx, kept)
	}()
	if err != nil {
		return nil, nil, db.Interpret(err)
	}
	return applied, dropped, nil
}

// updateHealth folds the batch into hookd.endpoint_health and
// hookd.endpoint_minutes, one row per endpoint (and minute), in a fixed
// order so concurrent batches do not deadlock.
func updateHealth(ctx context.Context, tx pgx.Tx, results []Result) error {
	byEndpoint := map[string][]Result{}
	for _, r := range results {
		byEndpoint[r.EndpointID] = append(byEndpoint[r.EndpointID], r)
	}
	endpoints := make([]string, 0, len(byEndpoint))
	for id := range byEndpoint {
		endpoints = append(endpoints, id)
	}
	slices.Sort(endpoints)

	batch := &pgx.Batch{}
	for _, id := range endpoints {
		rs := byEndpoint[id]
		slices.SortStableFunc(rs, func(a, b Result) int { return a.StartedAt.Compare(b.StartedAt) })
		var lastSuccess, lastFailure, firstFailureAfterSuccess *time.Time
		failuresAfterSuccess := 0
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
		// With a success in the batch the streak restarts from it; without
		// one the batch's failures extend the current streak.
		batch.Queue(`
			INSERT INTO hookd.endpoint_health AS h (endpoint_id, consecutive_failures, last_status,
				last_success_at, last_failure_at, failing_since, updated_at)
			SELECT $1, $2, $3, $4, $5, $6, now() WHERE EXISTS (SELECT 1 FROM hookd.endpoints WHERE id = $1)
			ON CONFLICT (endpoint_id) DO UPDATE SET
				consecutive_failures = CASE WHEN $4::timestamptz IS NULL THEN h.consecutive_failures + $2 ELSE $2 END,
				failing_since = CASE WHEN $4::timestamptz IS NULL THEN coalesce(h.failing_since, $6) ELSE $6 END,
				last_status = $3,
				last_success_at = coalesce($4, h.last_success_at),
				last_failure_at = coalesce($5, h.last_failure_at),
				updated_at = now()`,
			id, failuresAfterSuccess, lastStatus, lastSuccess, lastFailure, firstFailureAfterSuccess)

		type minute struct {
			attempts, successes int32
			buckets             []int32
		}
		minutes := map[time.Time]*minute{}
		for _, r := range rs {
			m := r.StartedAt.UTC().Truncate(time.Minute)
			agg := minutes[m]
			if agg == nil {
				agg = &minute{buckets: make([]int32, len(LatencyBuckets)+1)}
				minutes[m] = agg
			}
			agg.attempts++
			if r.Success() {
				agg.successes++
			}
			agg.buckets[bucketOf(r.Duration)]++
		}
		keys := make([]time.Time, 0, len(minutes))
		for m := range minutes {
			keys = append(keys, m)
		}
		slices.SortFunc(keys, time.Time.Compare)
		for _, m := range keys {
			agg := minutes[m]
			batch.Queue(`
				INSERT INTO hookd.endpoint_minutes AS em (endpoint_id, minute, attempts, successes, latency_buckets)
				SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM hookd.endpoints WHERE id = $1)
				ON CONFLICT (endpoint_id, minute) DO UPDATE SET
					attempts = em.attempts + $3,
					successes = em.successes + $4,
					latency_buckets = (SELECT array_agg(coalesce(a, 0) + coalesce(b, 0) ORDER BY n)
						FROM unnest(em.latency_buckets, $5::int[]) WITH ORDINALITY AS u(a, b, n))`,
				id, m, agg.attempts, agg.successes, agg.buckets)
		}
	}
	return tx.SendBatch(ctx, batch).Close()
}

func headerJSON(h map[string][]string) string {
	if h == nil {
		return "{}"
	}
	b, err := json.Marshal(h)
	if err != nil {
		return "{}"
	}
	// jsonb refuses the NUL escape, which Marshal emits for NUL bytes.
	return strings.ReplaceAll(sanitize(string(b)), `\u0000`, `\ufffd`)
}

// sanitize makes text storable in PostgreSQL: valid UTF-8 without NUL.
func sanitize(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.ReplaceAll(s, "\x00", "\uFFFD")
}

func compareInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
