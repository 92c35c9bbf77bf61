package delivery

import (
	"context"
	"math"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/db"
)

// Window is an endpoint's activity over a recent span of time.
type Window struct {
	Span        time.Duration `json:"-"`
	Attempts    int           `json:"attempts"`
	Successes   int           `json:"successes"`
	SuccessRate float64       `json:"success_rate"` // 0..1; 1 when there were no attempts
	// P50 and P95 are interpolated from the latency buckets.
	P50   time.Duration `json:"-"`
	P95   time.Duration `json:"-"`
	P50MS float64       `json:"p50_ms"`
	P95MS float64       `json:"p95_ms"`
}

// Health is an endpoint's delivery health.
type Health struct {
	EndpointID          string     `json:"endpoint_id"`
	ConsecutiveFailures int        `json:"consecutive_failures"`
	LastStatus          *int       `json:"last_status,omitempty"`
	LastSuccessAt       *time.Time `json:"last_success_at,omitempty"`
	LastFailureAt       *time.Time `json:"last_failure_at,omitempty"`
	FailingSince        *time.Time `json:"failing_since,omitempty"`
	Last5m              Window     `json:"last_5m"`
	Last1h              Window     `json:"last_1h"`
	// Queue counts of this endpoint's deliveries: due (pending), waiting
	// out a backoff (retrying), in flight, held while it is disabled, and
	// dead letters.
	Pending  int     `json:"pending"`
	Retrying int     `json:"retrying"`
	InFlight int     `json:"in_flight"`
	Held     int     `json:"held"`
	Dead     int     `json:"dead"`
	Breaker  Breaker `json:"breaker"`
	// Blocked is set for a fifo endpoint whose line waits behind a head
	// that failed: replay or skip it to unblock the line.
	Blocked *BlockedHead `json:"blocked,omitempty"`
}

// BlockedHead is the delivery at the head of a fifo line that failed and
// holds the line while it waits for its next attempt.
type BlockedHead struct {
	DeliveryID    int64     `json:"delivery_id"`
	EventID       string    `json:"event_id"`
	Attempts      int       `json:"attempts"`
	Since         time.Time `json:"since"` // its first failed attempt
	NextAttemptAt time.Time `json:"next_attempt_at"`
	LastError     string    `json:"last_error,omitempty"`
}

// HealthOf returns the health of the given endpoints (all endpoints when
// ids is empty), keyed by endpoint id. now anchors the windows.
func HealthOf(ctx context.Context, ex db.Executor, ids []string, now time.Time) (map[string]*Health, error) {
	out := map[string]*Health{}
	get := func(id string) *Health {
		h := out[id]
		if h == nil {
			h = &Health{EndpointID: id, Last5m: Window{Span: 5 * time.Minute, SuccessRate: 1}, Last1h: Window{Span: time.Hour, SuccessRate: 1}}
			out[id] = h
		}
		return h
	}
	all := len(ids) == 0
	rows, err := ex.Query(ctx, `SELECT e.id, coalesce(h.consecutive_failures, 0), h.last_status, h.last_success_at,
			h.last_failure_at, h.failing_since
		FROM hookd.endpoints e LEFT JOIN hookd.endpoint_health h ON h.endpoint_id = e.id
		WHERE $1 OR e.id = ANY($2)`, all, ids)
	if err != nil {
		return nil, err
	}
	for rows.Next() {
		var id string
		var h Health
		if err := rows.Scan(&id, &h.ConsecutiveFailures, &h.LastStatus, &h.LastSuccessAt, &h.LastFailureAt, &h.FailingSince); err != nil {
			rows.Close()
			return nil, err
		}
		g := get(id)
		g.ConsecutiveFailures, g.LastStatus, g.LastSuccessAt, g.LastFailureAt, g.FailingSince =
			h.ConsecutiveFailures, h.LastStatus, h.LastSuccessAt, h.LastFailureAt, h.FailingSince
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}

	rows, err = ex.Query(ctx, `SELECT endpoint_id, minute, attempts, successes, latency_buckets
		FROM hookd.endpoint_minutes
		WHERE minute >= $1 AND ($2 OR endpoint_id = ANY($3))`, now.Add(-time.Hour).Truncate(time.Minute), all, ids)
	if err != nil {
		return nil, err
	}
	type acc struct {
		attempts, successes int
		buckets             []int
	}
	hour, five := map[string]*acc{}, map[string]*acc{}
	add := func(m map[string]*acc, id string, a, s int, b []int32) {
		x := m[id]
		if x == nil {
			x = &acc{buckets: make([]int, len(LatencyBuckets)+1)}
			m[id] = x
		}
		x.attempts += a
		x.successes += s
		for i, v := range b {
			if i < len(x.buckets) {
				x.buckets[i] += int(v)
			}
		}
	}
	for rows.Next() {
		var id string
		var minute time.Time
		var a, s int
		var b []int32
		if err := rows.Scan(&id, &minute, &a, &s, &b); err != nil {
			rows.Close()
			return nil, err
		}
		add(hour, id, a, s, b)
		// A minute counts towards 5m when it overlaps the last five minutes.
		if minute.Add(time.Minute).After(now.Add(-5 * time.Minute)) {
			add(five, id, a, s, b)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, err
	}
	fill := func(w *Window, x *acc) {
		if x == nil || x.attempts == 0 {
			return
		}
		w.Attempts, w.Successes = x.attempts, x.successes
		w.SuccessRate = float64(x.successes) / float64(x.attempts)
		w.P50 = quantile(x.buckets, 0.50)
		w.P95 = quantile(x.buckets, 0.95)
		w.P50MS = float64(w.P50.Microseconds()) / 1000
		w.P95MS = float64(w.P95.Microseconds()) / 1000
	}
	for id, x := range hour {
		fill(&get(id).Last1h, x)
	}
	for id, x := range five {
		fill(&get(id).Last5m, x)
	}

	// One index range per endpoint and state, so the counts cost the same
	// however much history is kept.
	rows, err = ex.Query(ctx, `SELECT e.id,
			(SELECT count(*) FROM hookd.queue q WHERE q.endpoint_id = e.id AND q.state = 'pending'),
			(SELECT count(*) FROM hookd.queue q WHERE q.endpoint_id = e.id AND q.state = 'retrying'),
			(SELECT count(*) FROM hookd.queue q WHERE q.endpoint_id = e.id AND q.state = 'in_flight'),
			(SELECT count(*) FROM hookd.queue q WHERE q.endpoint_id = e.id AND q.state = 'held'),
			(SELECT count(*) FROM hookd.finished f WHERE f.endpoint_id = e.id AND f.state = 'dead'),
			h.breaker_opened_at, h.breaker_probe_at, e.ordering = 'fifo'
		FROM hookd.endpoints e LEFT JOIN hookd.endpoint_health h ON h.endpoint_id = e.id
		WHERE $1 OR e.id = ANY($2)`, all, ids)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var fifo []string
	for rows.Next() {
		var id string
		var q Health
		var opened, probe *time.Time
		var isFIFO bool
		if err := rows.Scan(&id, &q.Pending, &q.Retrying, &q.InFlight, &q.Held, &q.Dead, &opened, &probe, &isFIFO); err != nil {
			return nil, err
		}
		if isFIFO {
			fifo = append(fifo, id)
		}
		h := get(id)
		h.Pending, h.Retrying, h.InFlight, h.Held, h.Dead = q.Pending, q.Retrying, q.InFlight, q.Held, q.Dead
		h.Breaker = Breaker{State: BreakerClosed}
		if opened != nil {
			h.Breaker = Breaker{State: BreakerOpen, OpenedAt: opened, NextProbeAt: probe}
		}
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	blocked, err := BlockedHeads(ctx, ex, fifo)
	if err != nil {
		return nil, err
	}
	for id, b := range blocked {
		get(id).Blocked = b
	}
	return out, nil
}

// BlockedHeads returns, for those of the given fifo endpoints whose head
// (see LineHeadOf) has failed, that head, since its first attempt in its
// current retry budget (a replay starts a new one, as it starts the count
// of attempts again). Two index probes per endpoint, and its attempts.
func BlockedHeads(ctx context.Context, ex db.Executor, fifo []string) (map[string]*BlockedHead, error) {
	out := map[string]*BlockedHead{}
	if len(fifo) == 0 {
		return out, nil
	}
	rows, err := ex.Query(ctx, `
		SELECT e.id, h.id, h.event_id, h.attempts, h.next_attempt_at, h.last_error,
			-- The budget's attempts are the last ones logged, less the one
			-- in flight, counted but not logged yet.
			coalesce((SELECT min(b.started_at) FROM (
				SELECT a.started_at FROM hookd.attempts a
				WHERE a.delivery_id = h.id AND a.event_stored_at = h.event_stored_at
				ORDER BY a.id DESC LIMIT greatest(h.attempts - (h.state = 'in_flight')::int, 0)) b), h.updated_at)
		FROM unnest($1::text[]) AS e(id), LATERAL (
			`+LineHeadOf("e.id", "q.id, q.event_id, q.event_stored_at, q.attempts, q.next_attempt_at, q.last_error, q.updated_at, q.state")+`
		) h
		WHERE h.attempts > 0`, fifo)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var b BlockedHead
		if err := rows.Scan(&id, &b.DeliveryID, &b.EventID, &b.Attempts, &b.NextAttemptAt, &b.LastError, &b.Since); err != nil {
			return nil, err
		}
		out[id] = &b
	}
	return out, rows.Err()
}

// Breaker states.
const (
	BreakerClosed = "closed"
	BreakerOpen   = "open"
)

// Breaker is an endpoint's circuit breaker: open after
// delivery.breaker_failures consecutive failures, when its due deliveries
// wait while one probe goes out per interval; closed again by a success.
type Breaker struct {
	State       string     `json:"state"`
	OpenedAt    *time.Time `json:"opened_at,omitempty"`
	NextProbeAt *time.Time `json:"next_probe_at,omitempty"`
}

// quantile interpolates the q-quantile from bucket counts.
func quantile(buckets []int, q float64) time.Duration {
	total := 0
	for _, n := range buckets {
		total += n
	}
	if total == 0 {
		return 0
	}
	rank := q * float64(total)
	seen := 0.0
	for i, n := range buckets {
		if n == 0 {
			continue
		}
		if seen+float64(n) >= rank {
			lo := time.Duration(0)
			if i > 0 {
				lo = LatencyBuckets[i-1]
			}
			if i >= len(LatencyBuckets) {
				return lo // slower than the last bound: report the bound
			}
			hi := LatencyBuckets[i]
			frac := (rank - seen) / float64(n)
			return lo + time.Duration(frac*float64(hi-lo))
		}
		seen += float64(n)
	}
	return LatencyBuckets[len(LatencyBuckets)-1]
}

// Unhealthy returns enabled webhook endpoints that have been failing with
// no success for at least after: candidates for automatic disabling.
func Unhealthy(ctx context.Context, ex db.Executor, after time.Duration) ([]string, error) {
	rows, err := ex.Query(ctx, `SELECT e.id FROM hookd.endpoints e JOIN hookd.endpoint_health h ON h.endpoint_id = e.id
		WHERE e.enabled AND e.kind = 'webhook' AND h.failing_since IS NOT NULL
		  AND h.failing_since <= now() - $1 * interval '1 millisecond'
		  AND (h.last_success_at IS NULL OR h.last_success_at <= now() - $1 * interval '1 millisecond')
		ORDER BY e.id`, after.Milliseconds())
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// Counts are how many deliveries are in each state that is not history's
// bulk (succeeded and skipped are not counted: they only grow).
type Counts struct {
	Pending, Retrying, InFlight, Held, Dead int64
}

// QueueCounts counts deliveries per state, each from its own partial
// index, so the cost follows the work still to do (and the dead letters).
func QueueCounts(ctx context.Context, ex db.Executor) (Counts, error) {
	return queueCounts(ctx, ex, math.MaxInt64)
}

// QueueCountsUpTo is QueueCounts reading at most limit+1 rows of each
// state, for what runs on every refresh: a count above limit means "more
// than limit", and its cost does not grow with the backlog.
func QueueCountsUpTo(ctx context.Context, ex db.Executor, limit int64) (Counts, error) {
	return queueCounts(ctx, ex, min(limit, math.MaxInt64-1)+1)
}

// queueCounts counts up to most rows of each state.
func queueCounts(ctx context.Context, ex db.Executor, most int64) (Counts, error) {
	var c Counts
	err := ex.QueryRow(ctx, `SELECT
			(SELECT count(*) FROM (SELECT 1 FROM hookd.queue WHERE state = 'pending' LIMIT $1) s),
			(SELECT count(*) FROM (SELECT 1 FROM hookd.queue WHERE state = 'retrying' LIMIT $1) s),
			(SELECT count(*) FROM (SELECT 1 FROM hookd.queue WHERE state = 'in_flight' LIMIT $1) s),
			(SELECT count(*) FROM (SELECT 1 FROM hookd.queue WHERE state = 'held' LIMIT $1) s),
			(SELECT count(*) FROM (SELECT 1 FROM hookd.finished WHERE state = 'dead' LIMIT $1) s)`, most).
		Scan(&c.Pending, &c.Retrying, &c.InFlight, &c.Held, &c.Dead)
	return c, err
}

// OldestDue returns when the longest-waiting due delivery became due, or
// the zero time when none is due. It looks at each endpoint's oldest due
// delivery (one index probe per endpoint with due work).
func OldestDue(ctx context.Context, ex db.Executor) (time.Time, error) {
	var t *time.Time
	err := ex.QueryRow(ctx, `
		WITH RECURSIVE `+PendingEndpoints+`
		SELECT min(h.next_attempt_at) FROM eps, LATERAL (
			SELECT q.next_attempt_at FROM hookd.queue q
			WHERE `+PendingOf("eps.endpoint_id")+` `+OldestFirst+` LIMIT 1
		) h
		WHERE eps.endpoint_id IS NOT NULL AND h.next_attempt_at <= now()`).Scan(&t)
	if err != nil || t == nil {
		return time.Time{}, err
	}
	return *t, nil
}

// OpenBreakers counts endpoints whose breaker is open (a partial index).
func OpenBreakers(ctx context.Context, ex db.Executor) (int64, error) {
	var n int64
	err := ex.QueryRow(ctx, `SELECT count(*) FROM hookd.endpoint_health WHERE breaker_opened_at IS NOT NULL`).Scan(&n)
	return n, err
}
