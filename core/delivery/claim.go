package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/secrets"
)

// Policy is how the state machine treats endpoints; the dispatcher passes
// its configuration to Claim and Complete.
type Policy struct {
	// DefaultMaxInFlight caps endpoints whose max_in_flight is 0
	// (delivery.max_in_flight_per_endpoint).
	DefaultMaxInFlight int
	// BreakerFailures consecutive failures open an endpoint's breaker
	// (delivery.breaker_failures); 0 never opens it.
	BreakerFailures int
	// BreakerProbeInterval is the wait before the first probe of an open
	// breaker (delivery.breaker_probe_interval); each failed probe doubles
	// it, up to BreakerProbeMax.
	BreakerProbeInterval time.Duration
	BreakerProbeMax      time.Duration
}

// probeInterval is the wait after the n-th (0-based) probe of an open breaker.
func (p Policy) probeInterval(n int) time.Duration {
	d := p.BreakerProbeInterval
	for range min(n, 32) {
		if d >= p.BreakerProbeMax/2 {
			return p.BreakerProbeMax
		}
		d *= 2
	}
	return min(d, max(p.BreakerProbeMax, p.BreakerProbeInterval))
}

// ClaimParams bound one claim.
type ClaimParams struct {
	Policy
	// Limit is the most deliveries to claim.
	Limit int
	// Lease is how long the claim holds before another worker may take
	// it. It must exceed the request timeout. It counts from the start of
	// the claiming statement, not the transaction's: a caller that notes
	// its clock before calling ClaimTx holds a lower bound on the lease's
	// start, whatever ran earlier in the transaction and whatever the
	// database's clock says. A delivery whose endpoint has a timeout
	// longer than Timeout gets a longer lease (see LeaseFor).
	Lease time.Duration
	// Timeout is the default request timeout (delivery.timeout), which
	// Lease is sized for.
	Timeout time.Duration
	// Worker names the claimer (host:pid:random); recorded on the delivery
	// and its attempts.
	Worker string
	// RateHorizon is how far ahead a claim books an endpoint's rate-limited
	// request slots. Defaults to one second.
	RateHorizon time.Duration
}

// Claimed is what a claim took, and what it leaves for after its commit.
type Claimed struct {
	Jobs []Job
	// Idle lanes had nothing left to do; pass them to DropIdleLanes after
	// the claim committed.
	Idle []string
	// Missing are deliveries whose event no longer exists; the caller
	// records them dead (see MissingEventResult).
	Missing []Job
}

// Claim admits wakes, takes due deliveries in a transaction of its own,
// planned as a dispatcher's cycle is (see cycleSettings), and then drops
// the lanes it found idle; see AdmitWakes and ClaimTx.
func Claim(ctx context.Context, ex db.Executor, p ClaimParams) (Claimed, error) {
	err := pgx.BeginFunc(ctx, ex, func(tx pgx.Tx) error {
		_, err := AdmitWakes(ctx, tx)
		return err
	})
	if err != nil {
		return Claimed{}, err
	}
	var c Claimed
	err = pgx.BeginFunc(ctx, ex, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, cycleSettings); err != nil {
			return err
		}
		var err error
		c, err = ClaimTx(ctx, tx, p)
		return err
	})
	if err != nil {
		return Claimed{}, err
	}
	_, err = DropIdleLanes(ctx, ex, c.Idle)
	return c, err
}

// ClaimTx takes up to p.Limit due deliveries in tx, marks them in_flight
// under a lease and counts their attempt. Capacity is shared round-robin
// across the endpoints with due work (see the package doc); per-endpoint
// caps, rate limits, breakers and fifo ordering hold across every process
// claiming from the same database.
func ClaimTx(ctx context.Context, tx pgx.Tx, p ClaimParams) (Claimed, error) {
	last := &pgx.Batch{}
	c, err := ClaimQueued(ctx, tx, p, &pgx.Batch{}, last)
	if err != nil {
		return Claimed{}, err
	}
	if last.Len() > 0 {
		if err := tx.SendBatch(ctx, last).Close(); err != nil {
			return Claimed{}, err
		}
	}
	return c.Claimed(), nil
}

// ClaimQueued is ClaimTx in the transaction tx is in, for a caller that
// sends other statements with the claim's: ahead's go first, in the round
// trip of the claim's first statement, and the claim's last statements
// (reading the events, settling the lanes) are queued into last, for the
// caller to send, with its COMMIT say. What the claim took is Claimed
// once last has been sent and read. With p.Limit 0 it only sends ahead.
func ClaimQueued(ctx context.Context, tx db.Executor, p ClaimParams, ahead, last *pgx.Batch) (*Claiming, error) {
	out := &Claiming{}
	if p.Limit <= 0 {
		if ahead.Len() > 0 {
			return out, tx.SendBatch(ctx, ahead).Close()
		}
		return out, nil
	}
	p.RateHorizon = max(p.RateHorizon, 0)
	if p.RateHorizon == 0 {
		p.RateHorizon = time.Second
	}
	lanes, now, clock, err := lockLanes(ctx, tx, p.Limit, ahead)
	if err != nil || len(lanes) == 0 {
		return out, err
	}
	if err := findHeads(ctx, tx, lanes, now); err != nil {
		return out, err
	}
	plan(lanes, p, now, clock)
	c, err := claimRows(ctx, tx, lanes, p, now)
	if err != nil {
		return out, err
	}
	// The events, the lanes' new times and the longer leases in one round
	// trip.
	out.read = queueEvents(last, c.Jobs)
	queueSettleLanes(last, lanes, p, now)
	queueHoldDisabled(last, lanes)
	queueExtendLeases(last, c.Jobs, p)
	byID := map[string]*lane{}
	for _, l := range lanes {
		byID[l.endpointID] = l
	}
	for i := range c.Jobs {
		if l := byID[c.Jobs[i].EndpointID]; l != nil {
			c.Jobs[i].Awaited = l.awaitsResult()
		}
	}
	for _, l := range lanes {
		if l.idle {
			c.Idle = append(c.Idle, l.endpointID)
		}
	}
	out.claimed = c
	return out, nil
}

// Claiming is a claim whose last statements are queued and not yet sent
// (see ClaimQueued).
type Claiming struct {
	claimed Claimed
	read    *eventsRead
}

// Claimed is what the claim took, once its last statements have been sent
// and read: the jobs whose events were read, and those whose events are
// gone.
func (c *Claiming) Claimed() Claimed {
	out := c.claimed
	if c.read != nil {
		out.Jobs, out.Missing = c.read.split(out.Jobs)
	}
	return out
}

// lockLanes locks up to limit lanes whose time has come, the longest
// waiting first, skipping those another claimer holds, and counts each
// one's deliveries in flight, in any process. It returns the
// transaction's now() and the clock when the lanes were locked: rate slots
// are booked from the clock, since the transaction may have begun well
// before (completions run ahead of the claim in the same transaction).
//
// The count is a statement of its own, so that it sees every claim that
// committed before a lane's lock was granted; it is sent with the lock,
// in one round trip, and finds the lanes locked in a setting local to the
// transaction (claimedLanes). Both go at the end of batch, which is sent.
func lockLanes(ctx context.Context, tx db.Executor, limit int, batch *pgx.Batch) ([]*lane, time.Time, time.Time, error) {
	var out []*lane
	var now, clock time.Time
	batch.Queue(`
		WITH locked AS (
			SELECT l.endpoint_id, l.rate_next_at, l.ready_at FROM hookd.lanes l
			WHERE l.ready_at <= now()
			ORDER BY l.ready_at
			LIMIT $1
			FOR UPDATE SKIP LOCKED
		), noted AS (
			SELECT set_config('`+claimedLanes+`', coalesce(array_agg(endpoint_id)::text, '{}'), true) FROM locked
		)
		SELECT l.endpoint_id, l.rate_next_at, now(), clock_timestamp(),
			e.id IS NOT NULL, coalesce(e.enabled, false), coalesce(e.max_in_flight, 0), coalesce(e.rate_limit, 0),
			coalesce(e.ordering = 'fifo', false), h.breaker_opened_at IS NOT NULL, h.breaker_probe_at, coalesce(h.breaker_probes, 0)
		FROM locked l
		CROSS JOIN noted
		LEFT JOIN hookd.endpoints e ON e.id = l.endpoint_id
		LEFT JOIN hookd.endpoint_health h ON h.endpoint_id = l.endpoint_id
		ORDER BY l.ready_at`, limit).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			l := &lane{}
			if err := rows.Scan(&l.endpointID, &l.rateNext, &now, &clock, &l.exists, &l.enabled, &l.maxInFl,
				&l.rate, &l.fifo, &l.open, &l.probeAt, &l.probes); err != nil {
				return err
			}
			out = append(out, l)
		}
		return rows.Err()
	})
	inFlight := map[string]int{}
	batch.Queue(`SELECT endpoint_id, count(*)::int FROM hookd.queue
		WHERE state = 'in_flight' AND endpoint_id = ANY(nullif(current_setting('` + claimedLanes + `', true), '')::text[])
		GROUP BY endpoint_id`).Query(func(rows pgx.Rows) error {
		for rows.Next() {
			var ep string
			var n int
			if err := rows.Scan(&ep, &n); err != nil {
				return err
			}
			inFlight[ep] = n
		}
		return rows.Err()
	})
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		return nil, time.Time{}, time.Time{}, err
	}
	for _, l := range out {
		l.inFlight = inFlight[l.endpointID]
	}
	return out, now, clock, nil
}

// claimedLanes is the setting in which lockLanes hands the lanes it
// locked to the statement that counts their deliveries in flight. With no
// lane locked the setting may not be made at all (the join that makes it
// has nothing to join), and the count finds nothing.
const claimedLanes = "hookd.claimed_lanes"

// findHeads reads the head of the line of every fifo lane that could take
// one (see LineHeadOf), which alone may be sent once it is pending and due.
// A head still retrying is promoted when its backoff ends (Promote, at the
// start of a cycle); until then the lane waits for it.
func findHeads(ctx context.Context, tx db.Executor, lanes []*lane, now time.Time) error {
	var ids []string
	for _, l := range lanes {
		if l.fifo && l.exists && l.enabled && l.inFlight == 0 {
			ids = append(ids, l.endpointID)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	rows, err := tx.Query(ctx, `
		SELECT e.endpoint_id, h.id, h.state, h.next_attempt_at
		FROM unnest($1::text[]) AS e(endpoint_id), LATERAL (
			`+LineHeadOf("e.endpoint_id", "q.id, q.state, q.next_attempt_at")+`
		) h`, ids)
	if err != nil {
		return err
	}
	defer rows.Close()
	byID := map[string]*lane{}
	for _, l := range lanes {
		byID[l.endpointID] = l
	}
	for rows.Next() {
		var ep string
		var id int64
		var state State
		var next time.Time
		if err := rows.Scan(&ep, &id, &state, &next); err != nil {
			return err
		}
		l := byID[ep]
		if state == StateRetrying || next.After(now) {
			l.readyAt = &next // the head waits out its backoff; so does the line
			l.head = -1
			continue
		}
		l.head = id
	}
	return rows.Err()
}

// claimRows leases each lane's share of due deliveries and reads their
// endpoints; their events are read after (queueEvents).
func claimRows(ctx context.Context, tx db.Executor, lanes []*lane, p ClaimParams, now time.Time) (Claimed, error) {
	var eps []string
	var want []int32
	var heads []int64
	for _, l := range lanes {
		if l.want > 0 {
			eps = append(eps, l.endpointID)
			want = append(want, int32(l.want))
			heads = append(heads, max(l.head, 0))
		}
	}
	if len(eps) == 0 {
		return Claimed{}, nil
	}
	rows, err := tx.Query(ctx, `
		WITH want AS (
			SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[]) AS w(endpoint_id, n, head)
		), picked AS (
			SELECT c.id FROM want, LATERAL (
				SELECT q.id FROM hookd.queue q
				WHERE `+PendingOf("want.endpoint_id")+` AND q.next_attempt_at <= now()
				  AND (want.head = 0 OR q.id = want.head)
				`+OldestFirst+`
				LIMIT want.n
				FOR UPDATE SKIP LOCKED
			) c
		), claimed AS (
			UPDATE hookd.queue q
			SET state = 'in_flight', attempts = q.attempts + 1,
				lease_expires_at = statement_timestamp() + $4 * interval '1 millisecond', leased_by = $5, updated_at = now()
			-- = ANY(ARRAY(...)) makes the planner look the ids up by key.
			WHERE q.id = ANY(ARRAY(SELECT id FROM picked))
			RETURNING q.id, q.attempts, q.lease_expires_at, q.event_id, q.event_stored_at, q.endpoint_id, q.tenant_id
		)
		SELECT c.id, c.attempts, c.lease_expires_at, c.event_id, c.event_stored_at, coalesce(c.tenant_id, ''), c.endpoint_id,
			ep.url, ep.secret, coalesce(ep.previous_secret, ''), ep.previous_secret_expires_at,
			ep.headers, ep.timeout_ms, ep.max_in_flight, ep.rate_limit, ep.enabled,
			-- Trusted: the operator's own targets from the configuration
			-- (alerts.url, forward_to of intake.sources), stored as data.
			ep.trusted,
			ep.body_format = 'data', ep.signatures, coalesce(ep.signing_key, ''),
			clock_timestamp()
		FROM claimed c
		JOIN hookd.endpoints ep ON ep.id = c.endpoint_id
		ORDER BY c.id`,
		eps, want, heads, p.Lease.Milliseconds(), p.Worker)
	if err != nil {
		return Claimed{}, err
	}
	defer rows.Close()
	byID := map[string]*lane{}
	for _, l := range lanes {
		byID[l.endpointID] = l
	}
	var c Claimed
	for rows.Next() {
		var j Job
		var headers []byte
		var timeoutMS int64
		var clock time.Time
		if err := rows.Scan(&j.DeliveryID, &j.Attempt, &j.LeaseExpiresAt, &j.EventID, &j.EventStoredAt, &j.TenantID,
			&j.EndpointID, &j.URL, &j.Secret, &j.PreviousSecret, &j.PreviousExpires,
			&headers, &timeoutMS, &j.MaxInFlight, &j.RateLimit, &j.EndpointEnabled, &j.Trusted, &j.BodyData,
			&j.Signatures, &j.SigningKey, &clock); err != nil {
			return Claimed{}, err
		}
		j.Timeout = time.Duration(timeoutMS) * time.Millisecond
		if err := json.Unmarshal(headers, &j.Headers); err != nil {
			return Claimed{}, err
		}
		// Secrets and header values are stored sealed (core/secrets).
		if err := secrets.OpenAll(&j.Secret, &j.PreviousSecret, &j.SigningKey); err != nil {
			return Claimed{}, fmt.Errorf("endpoint %s: %w", j.EndpointID, err)
		}
		if err := secrets.OpenMap(j.Headers); err != nil {
			return Claimed{}, fmt.Errorf("endpoint %s: header %w", j.EndpointID, err)
		}
		l := byID[j.EndpointID]
		if l != nil {
			if l.rate > 0 {
				slot := l.slot0.Add(time.Duration(l.taken) * (time.Second / time.Duration(l.rate)))
				j.StartIn = max(slot.Sub(clock), 0)
			}
			j.Probe = l.probe
			l.taken++
		}
		c.Jobs = append(c.Jobs, j)
	}
	if err := rows.Err(); err != nil {
		return Claimed{}, err
	}
	return c, nil
}

// queueHoldDisabled holds the work that is still due on the claim's
// disabled endpoints. Disabling holds what it sees, but a publish or a
// lease's return that read the endpoint enabled and committed after it
// leaves deliveries pending: their lane would be found idle by every
// claim and busy by every drop, and the dispatcher would claim again at
// once, forever. The endpoint is read again here, so one enabled since
// keeps its work (one enabled while this runs has it back by the
// maintenance sweep, ResumeHeld).
func queueHoldDisabled(batch *pgx.Batch, lanes []*lane) {
	var disabled []string
	for _, l := range lanes {
		if l.exists && !l.enabled {
			disabled = append(disabled, l.endpointID)
		}
	}
	if len(disabled) == 0 {
		return
	}
	// Rows another transaction holds are left for a later claim: waiting
	// for them while holding the lanes deadlocked with an endpoint's
	// delete or a tenant's erasure, which lock queue rows, then lanes.
	for _, state := range []State{StatePending, StateRetrying} {
		batch.Queue(`
			UPDATE hookd.queue q SET state = 'held', updated_at = now()
			WHERE q.id = ANY(ARRAY(`+lockFree(state)+`))
			  AND EXISTS (SELECT 1 FROM hookd.endpoints e WHERE e.id = q.endpoint_id AND NOT e.enabled)`, disabled)
	}
}

// lockFree selects, for the endpoints in $1, the ids of their deliveries
// in state that no other transaction holds, locking them: by key, through
// the state's partial index.
func lockFree(state State) string {
	return `SELECT c.id FROM unnest($1::text[]) AS e(endpoint_id), LATERAL (
		SELECT q.id FROM hookd.queue q WHERE ` + inStateOf("e.endpoint_id", state) + ` FOR UPDATE SKIP LOCKED) c`
}

// queueSettleLanes queues into batch what the claim did to its lanes:
// slots taken, the next rate slot, and when each lane is to be looked at
// again.
func queueSettleLanes(batch *pgx.Batch, lanes []*lane, p ClaimParams, now time.Time) {
	var (
		eps      []string
		readyAt  []*time.Time
		rateNext []*time.Time
		gone     []string
		probed   []string
		waits    []int64
	)
	idleRecheck := now.Add(time.Second)
	for _, l := range lanes {
		if l.deadLane {
			gone = append(gone, l.endpointID)
			continue
		}
		ready := l.readyAt
		switch {
		case l.want == 0 && ready != nil:
			// waits for a probe time, a head's backoff or a rate slot
		case l.want == 0 && l.idle:
			ready = &idleRecheck
		case l.want == 0:
			ready = nil // at its cap: a finishing attempt wakes it
		case l.taken < l.want:
			// It had less due than it might have taken: nothing is left.
			l.idle = true
			ready = &idleRecheck
		case l.awaitsResult():
			ready = nil // at its cap, or one at a time: a result wakes the lane
		case l.rate > 0:
			next := l.slot0.Add(time.Duration(l.taken) * (time.Second / time.Duration(l.rate)))
			t := next.Add(-p.RateHorizon)
			if t.Before(now) {
				t = now
			}
			ready = &t
		default:
			n := now // served: to the back of the line
			ready = &n
		}
		var rn *time.Time
		if l.rate > 0 && l.taken > 0 {
			t := l.slot0.Add(time.Duration(l.taken) * (time.Second / time.Duration(l.rate)))
			rn = &t
		} else {
			rn = l.rateNext
		}
		eps = append(eps, l.endpointID)
		readyAt = append(readyAt, ready)
		rateNext = append(rateNext, rn)
		if l.probe && l.taken > 0 {
			// Should this probe fail, the next waits twice as long as the
			// last wait (the first came BreakerProbeInterval after opening).
			probed = append(probed, l.endpointID)
			waits = append(waits, p.probeInterval(l.probes+1).Milliseconds())
		}
	}
	if len(eps) > 0 {
		batch.Queue(`
			UPDATE hookd.lanes l
			SET ready_at = coalesce(u.ready_at, 'infinity'), rate_next_at = u.rate_next_at
			FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[]) AS u(endpoint_id, ready_at, rate_next_at)
			WHERE l.endpoint_id = u.endpoint_id`, eps, readyAt, rateNext)
	}
	if len(gone) > 0 {
		// The endpoint was deleted. A publish that read it before and
		// committed after the delete left it deliveries no one can make
		// (pending, or held if it was disabled); they go with it, or the
		// sweep would make their lane again and again. Rows another
		// transaction holds are left for a later claim, as in
		// queueHoldDisabled. Each statement looks again at the endpoint,
		// so one made anew with that id since keeps its lane and its work.
		for _, state := range []State{StatePending, StateHeld} {
			batch.Queue(`DELETE FROM hookd.queue q WHERE q.id = ANY(ARRAY(`+lockFree(state)+`))
				AND NOT EXISTS (SELECT 1 FROM hookd.endpoints e WHERE e.id = q.endpoint_id)`, gone)
		}
		batch.Queue(`DELETE FROM hookd.lanes l WHERE l.endpoint_id = ANY($1)
			AND NOT EXISTS (SELECT 1 FROM hookd.endpoints e WHERE e.id = l.endpoint_id)`, gone)
	}
	if len(probed) > 0 {
		batch.Queue(`
			UPDATE hookd.endpoint_health h
			SET breaker_probe_at = now() + u.wait * interval '1 millisecond', breaker_probes = h.breaker_probes + 1
			FROM unnest($1::text[], $2::bigint[]) AS u(endpoint_id, wait)
			WHERE h.endpoint_id = u.endpoint_id`, probed, waits)
	}
}
