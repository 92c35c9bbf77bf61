package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/secrets"
)

// ClaimParams bound one claim.
type ClaimParams struct {
	// Limit is the most deliveries to claim.
	Limit int
	// Lease is how long the claim holds before another worker may take it.
	// It must exceed the request timeout.
	Lease time.Duration
	// Worker names the claimer (host:pid:random); recorded on the delivery
	// and its attempts.
	Worker string
	// ExcludeEndpoints are skipped (the claimer's saturated endpoints).
	ExcludeEndpoints []string
	// EndpointRemaining caps how many deliveries of an endpoint this claim
	// may take (the claimer's free slots for endpoints it is already
	// sending to). Endpoints not listed are capped at their max_in_flight,
	// or DefaultEndpointLimit when that is 0. Claiming no more than can
	// start saves releasing the rest, which matters when one endpoint has a
	// backlog.
	EndpointRemaining map[string]int
	// DefaultEndpointLimit caps endpoints without a max_in_flight of their
	// own; 0 means no per-endpoint cap in the claim.
	DefaultEndpointLimit int
}

// Claim takes up to p.Limit due deliveries, oldest due first, marks them
// in_flight under a lease and counts the attempt. Deliveries locked by
// another claimer are skipped, so concurrent claimers never take the same
// delivery.
func Claim(ctx context.Context, ex db.Executor, p ClaimParams) ([]Job, error) {
	exclude := p.ExcludeEndpoints
	if exclude == nil {
		exclude = []string{}
	}
	limitIDs := make([]string, 0, len(p.EndpointRemaining))
	limitN := make([]int32, 0, len(p.EndpointRemaining))
	for id, n := range p.EndpointRemaining {
		limitIDs = append(limitIDs, id)
		limitN = append(limitN, int32(max(n, 0)))
	}
	defaultLimit := p.DefaultEndpointLimit
	if defaultLimit <= 0 {
		defaultLimit = p.Limit
	}
	// For every endpoint not excluded, cand takes its oldest due deliveries
	// up to the room it has (the claimer's free slots, else its cap) from
	// deliveries_endpoint_due; the oldest of those across endpoints are
	// locked. One endpoint's backlog thus costs one short index range, and
	// never hides the due work of the others.
	rows, err := ex.Query(ctx, `
		WITH eps AS (
			SELECT e.id, coalesce(lim.remaining, CASE WHEN e.max_in_flight > 0 THEN e.max_in_flight ELSE $7 END) AS room
			FROM hookd.endpoints e
			LEFT JOIN unnest($5::text[], $6::int[]) AS lim(endpoint_id, remaining) ON lim.endpoint_id = e.id
			WHERE e.enabled AND e.id <> ALL($3::text[])
		), cand AS (
			SELECT c.id, c.next_attempt_at
			FROM eps, LATERAL (
				SELECT d.id, d.next_attempt_at FROM hookd.deliveries d
				WHERE d.endpoint_id = eps.id AND d.state = 'pending' AND d.next_attempt_at <= now()
				ORDER BY d.next_attempt_at
				LIMIT eps.room
			) c
			ORDER BY c.next_attempt_at
			LIMIT $1
		), due AS (
			-- Lock the candidates by primary key; rows another claimer took
			-- meanwhile are skipped, or no longer pending and due (a retry
			-- recorded in between must wait for its time).
			SELECT id FROM hookd.deliveries
			WHERE id = ANY(ARRAY(SELECT id FROM cand)) AND state = 'pending' AND next_attempt_at <= now()
			FOR UPDATE SKIP LOCKED
		), claimed AS (
			UPDATE hookd.deliveries d
			SET state = 'in_flight', attempts = d.attempts + 1,
				lease_expires_at = now() + $2 * interval '1 millisecond', leased_by = $4, updated_at = now()
			-- = ANY(ARRAY(...)) makes the planner look the claimed ids up
			-- by primary key; a join with due made it scan the table.
			WHERE d.id = ANY(ARRAY(SELECT id FROM due))
			RETURNING d.id, d.attempts, d.lease_expires_at, d.event_id, d.endpoint_id
		)
		SELECT c.id, c.attempts, c.lease_expires_at,
			ev.id, ev.type, ev.data::text, ev.created_at,
			ep.id, ep.url, ep.secret, coalesce(ep.previous_secret, ''), ep.previous_secret_expires_at,
			ep.headers, ep.timeout_ms, ep.max_in_flight, ep.rate_limit, ep.enabled,
			-- Trusted: the operator's own targets from the configuration
			-- (alerts.url, forward_to of intake.sources), stored as data.
			ep.trusted,
			ep.body_format = 'data', ep.signatures, coalesce(ep.signing_key, '')
		FROM claimed c
		JOIN hookd.events ev ON ev.id = c.event_id
		JOIN hookd.endpoints ep ON ep.id = c.endpoint_id`,
		p.Limit, p.Lease.Milliseconds(), exclude, p.Worker, limitIDs, limitN, defaultLimit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var jobs []Job
	for rows.Next() {
		var j Job
		var data string
		var headers []byte
		var timeoutMS int64
		if err := rows.Scan(&j.DeliveryID, &j.Attempt, &j.LeaseExpiresAt,
			&j.EventID, &j.EventType, &data, &j.EventCreated,
			&j.EndpointID, &j.URL, &j.Secret, &j.PreviousSecret, &j.PreviousExpires,
			&headers, &timeoutMS, &j.MaxInFlight, &j.RateLimit, &j.EndpointEnabled, &j.Trusted, &j.BodyData,
			&j.Signatures, &j.SigningKey); err != nil {
			return nil, err
		}
		j.EventData = json.RawMessage(data)
		j.EventCreated = j.EventCreated.UTC()
		j.Timeout = time.Duration(timeoutMS) * time.Millisecond
		if err := json.Unmarshal(headers, &j.Headers); err != nil {
			return nil, err
		}
		// Secrets and header values are stored sealed (core/secrets).
		if err := secrets.OpenAll(&j.Secret, &j.PreviousSecret, &j.SigningKey); err != nil {
			return nil, fmt.Errorf("endpoint %s: %w", j.EndpointID, err)
		}
		if err := secrets.OpenMap(j.Headers); err != nil {
			return nil, fmt.Errorf("endpoint %s: header %w", j.EndpointID, err)
		}
		jobs = append(jobs, j)
	}
	return jobs, rows.Err()
}

// Release hands claimed deliveries back without an attempt: they become due
// at once (or held, when their endpoint is disabled) and the claim's attempt
// is uncounted. Used on shutdown and for work over an endpoint's cap. Only
// deliveries still leased by worker are touched.
func Release(ctx context.Context, ex db.Executor, worker string, ids []int64) error {
	return ReleaseUntil(ctx, ex, worker, ids, time.Time{})
}

// ReleaseUntil is Release with the deliveries due again only at notBefore
// (now when zero): for work that cannot start yet, such as a request an
// endpoint's rate limit pushes past the lease.
func ReleaseUntil(ctx context.Context, ex db.Executor, worker string, ids []int64, notBefore time.Time) error {
	if len(ids) == 0 {
		return nil
	}
	var at *time.Time
	if !notBefore.IsZero() {
		at = &notBefore
	}
	_, err := ex.Exec(ctx, `
		UPDATE hookd.deliveries d
		SET state = CASE WHEN ep.enabled THEN 'pending' ELSE 'held' END,
			attempts = greatest(d.attempts - 1, 0), lease_expires_at = NULL, leased_by = NULL,
			next_attempt_at = coalesce($3::timestamptz, now()), updated_at = now()
		FROM hookd.endpoints ep
		WHERE d.id = ANY($1) AND d.state = 'in_flight' AND d.leased_by = $2 AND ep.id = d.endpoint_id`,
		ids, worker, at)
	return err
}

// ReapExpired returns deliveries whose lease expired (their worker died or
// hung) to the queue, recording an "interrupted" attempt so the log shows
// what happened. A delivery whose budget of maxAttempts is spent dies.
// It returns the deliveries it reaped and, among them, those that died.
func ReapExpired(ctx context.Context, ex db.Executor, maxAttempts, limit int) (reaped int, dead []Delivery, err error) {
	rows, err := ex.Query(ctx, `
		WITH expired AS (
			SELECT id FROM hookd.deliveries
			WHERE state = 'in_flight' AND lease_expires_at < now()
			ORDER BY lease_expires_at LIMIT $2
			FOR UPDATE SKIP LOCKED
		), logged AS (
			INSERT INTO hookd.attempts (delivery_id, endpoint_id, attempt, started_at, duration_us,
				error_class, error, worker)
			SELECT d.id, d.endpoint_id, d.attempts, d.updated_at, 0, 'interrupted',
				'lease expired at ' || to_char(d.lease_expires_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') ||
				': worker ' || coalesce(d.leased_by, '?') || ' stopped before recording a result; the request may or may not have reached the endpoint',
				coalesce(d.leased_by, '')
			FROM hookd.deliveries d JOIN expired USING (id)
		)
		UPDATE hookd.deliveries d
		SET state = CASE WHEN d.attempts >= $1 THEN 'dead' WHEN ep.enabled THEN 'pending' ELSE 'held' END,
			completed_at = CASE WHEN d.attempts >= $1 THEN now() END,
			next_attempt_at = now(), lease_expires_at = NULL, leased_by = NULL,
			last_status = NULL, last_error_class = 'interrupted', last_error = 'lease expired before a result was recorded',
			updated_at = now()
		FROM expired, hookd.endpoints ep
		WHERE d.id = expired.id AND ep.id = d.endpoint_id
		RETURNING `+prefixed("d"), maxAttempts, limit)
	if err != nil {
		return 0, nil, err
	}
	all, err := collect(rows)
	if err != nil {
		return 0, nil, err
	}
	for _, d := range all {
		if d.State == StateDead {
			dead = append(dead, d)
		}
	}
	return len(all), dead, nil
}

// ResumeHeld turns held deliveries of enabled endpoints back into due
// ones and returns how many. endpoint.Enable does this itself; this sweep
// catches a delivery that a Release or the reaper put on hold from an
// endpoint state read just before Enable committed.
func ResumeHeld(ctx context.Context, ex db.Executor) (int64, error) {
	tag, err := ex.Exec(ctx, `
		UPDATE hookd.deliveries d SET state = 'pending', next_attempt_at = now(), updated_at = now()
		FROM hookd.endpoints ep
		WHERE d.state = 'held' AND ep.id = d.endpoint_id AND ep.enabled`)
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}
