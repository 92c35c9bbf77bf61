package data

import (
	"context"
	"slices"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/delivery"
)

// This file holds the overview's reads. None reads every endpoint or the
// whole of history; each is an index range of the work still to do, of
// the window shown, or a bounded number of rows:
//
//   - the queue by state and the dead letters, each counted up to
//     TotalCap: delivery.QueueCountsUpTo (one partial index each), what
//     is due and what open breakers hold, and the oldest due (due.go),
//     delivery.OpenBreakers;
//   - endpoints counted up to TotalCap (endpointCounts);
//   - events and attempts per minute: hookd.events by stored_at (its BRIN
//     index, the current partitions) and the minute rollups by minute
//     (endpoint_minutes_minute), each minute read until it can no longer
//     change and then kept (series), so a refresh reads the last minutes;
//   - intake counters: hookd.intake_minutes per source by primary key;
//   - the endpoints in trouble: candidates from bounded reads (trouble),
//     then the health of those candidates only.

// Overview gathers the dashboard at now.
func (p *Postgres) Overview(ctx context.Context, now time.Time) (*Overview, error) {
	o := &Overview{At: now, SuccessRate: 1}
	c, err := delivery.QueueCountsUpTo(ctx, p.pool, TotalCap)
	if err != nil {
		return nil, err
	}
	o.Retrying, o.InFlight, o.Held, o.Dead = int(c.Retrying), int(c.InFlight), int(c.Held), int(c.Dead)
	if err := due(ctx, p.pool, now, o); err != nil {
		return nil, err
	}
	breakers, err := delivery.OpenBreakers(ctx, p.pool)
	if err != nil {
		return nil, err
	}
	o.BreakersOpen = int(breakers)
	disabled, err := p.endpointCounts(ctx, o)
	if err != nil {
		return nil, err
	}
	if err := p.series.fill(ctx, p.pool, now, o); err != nil {
		return nil, err
	}
	intake, err := p.intake(ctx, now.Add(-time.Hour))
	if err != nil {
		return nil, err
	}
	for _, s := range intake {
		o.Accepted += s[0]
		o.Duplicates += s[1]
		o.Rejected += s[2]
	}
	o.Trouble, err = p.troubled(ctx, now, disabled, span5m)
	return o, err
}

// endpointCounts counts webhook and forward endpoints, and the disabled
// ones, reading at most TotalCap+1 of them; it returns up to
// troubleCandidates disabled ones when they were all counted.
func (p *Postgres) endpointCounts(ctx context.Context, o *Overview) ([]string, error) {
	var disabled []string
	err := p.pool.QueryRow(ctx, `SELECT count(*), count(*) FILTER (WHERE NOT enabled),
			coalesce((array_agg(id ORDER BY id) FILTER (WHERE NOT enabled))[1:$3], '{}')
		FROM (SELECT id, enabled FROM hookd.endpoints WHERE kind = ANY($1) LIMIT $2) s`,
		listedKinds, TotalCap+1, troubleCandidates).Scan(&o.EndpointsTotal, &o.EndpointsDisabled, &disabled)
	if o.EndpointsTotal > TotalCap {
		o.EndpointsCapped, o.EndpointsDisabled, disabled = true, 0, nil
	}
	return disabled, err
}

// intake sums the intake counters of every source since since: per source
// by primary key (source, minute), so the cost follows the sources and
// the window. It returns accepted, duplicates and rejected per source.
func (p *Postgres) intake(ctx context.Context, since time.Time) (map[string][3]int64, error) {
	rows, err := p.pool.Query(ctx, `SELECT s.name, coalesce(sum(m.accepted), 0)::bigint, coalesce(sum(m.duplicates), 0)::bigint,
			coalesce(sum(m.rejected), 0)::bigint
		FROM hookd.sources s LEFT JOIN hookd.intake_minutes m ON m.source = s.name AND m.minute >= $1
		GROUP BY s.name`, since.Truncate(time.Minute))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][3]int64{}
	for rows.Next() {
		var name string
		var v [3]int64
		if err := rows.Scan(&name, &v[0], &v[1], &v[2]); err != nil {
			return nil, err
		}
		out[name] = v
	}
	return out, rows.Err()
}

// troubleCandidates bounds each read that finds endpoints in trouble.
const troubleCandidates = 30

// troubleSQL are the reads that find candidates for the endpoints in
// trouble, each an index range with a LIMIT:
var troubleSQL = []string{
	// failing now: the minute rollups of the last 5 minutes (by minute).
	`SELECT endpoint_id FROM hookd.endpoint_minutes WHERE minute >= $1 GROUP BY endpoint_id
		HAVING sum(attempts) > sum(successes) ORDER BY sum(attempts) - sum(successes) DESC LIMIT $2`,
	// breakers open, the longest first (a partial index).
	`SELECT endpoint_id FROM hookd.endpoint_health WHERE breaker_opened_at IS NOT NULL
		ORDER BY breaker_opened_at LIMIT $1`,
	// the newest dead letters' endpoints (finished_dead_id).
	`SELECT endpoint_id FROM (SELECT endpoint_id FROM hookd.finished WHERE state = 'dead' ORDER BY id DESC LIMIT $1) d
		GROUP BY endpoint_id ORDER BY count(*) DESC LIMIT $2`,
	// held work (a disabled endpoint's) and work waiting out a backoff:
	// one index probe per endpoint (queue_held, queue_retrying_endpoint).
	skipScan("held"),
	skipScan("retrying"),
	// lanes waiting for a probe, a fifo head's backoff or a rate slot.
	`SELECT endpoint_id FROM hookd.lanes WHERE ready_at > now() AND ready_at < 'infinity' ORDER BY ready_at DESC LIMIT $1`,
}

// skipScan lists up to $1 endpoints with queued deliveries in state, one
// index probe per endpoint on the state's (endpoint_id, id) index.
func skipScan(state string) string {
	return `WITH RECURSIVE e AS (
			(SELECT endpoint_id FROM hookd.queue WHERE state = '` + state + `' ORDER BY endpoint_id LIMIT 1)
			UNION ALL
			SELECT (SELECT q.endpoint_id FROM hookd.queue q
				WHERE q.state = '` + state + `' AND q.endpoint_id > e.endpoint_id ORDER BY q.endpoint_id LIMIT 1)
			FROM e WHERE e.endpoint_id IS NOT NULL
		)
		SELECT endpoint_id FROM e WHERE endpoint_id IS NOT NULL LIMIT $1`
}

// troubleIDs returns the candidates for the endpoints in trouble (with
// extra, the disabled ones counted), at most a few hundred.
func (p *Postgres) troubleIDs(ctx context.Context, now time.Time, extra []string) ([]string, error) {
	batch := &pgx.Batch{}
	n := troubleCandidates
	batch.Queue(troubleSQL[0], now.Add(-5*time.Minute).Truncate(time.Minute), n)
	batch.Queue(troubleSQL[1], n)
	batch.Queue(troubleSQL[2], 20*n, n)
	batch.Queue(troubleSQL[3], n)
	batch.Queue(troubleSQL[4], n)
	batch.Queue(troubleSQL[5], n)
	results := p.pool.SendBatch(ctx, batch)
	defer results.Close()
	ids := slices.Clone(extra)
	for range batch.Len() {
		rows, err := results.Query()
		if err != nil {
			return nil, err
		}
		got, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, err
		}
		ids = append(ids, got...)
	}
	slices.Sort(ids)
	return slices.Compact(ids), nil
}

// troubled returns the endpoints in trouble, worst first: the candidates
// (with extra) with their health over span.
func (p *Postgres) troubled(ctx context.Context, now time.Time, extra []string, span healthSpan) ([]EndpointRow, error) {
	ids, err := p.troubleIDs(ctx, now, extra)
	if err != nil || len(ids) == 0 {
		return nil, err
	}
	rows, err := p.rowsOf(ctx, ids, now, span)
	if err != nil {
		return nil, err
	}
	out := rows[:0]
	for _, r := range rows {
		if r.Trouble() > 0 {
			out = append(out, r)
		}
	}
	slices.SortStableFunc(out, func(a, b EndpointRow) int { return b.Trouble() - a.Trouble() })
	if len(out) > MaxTrouble {
		out = out[:MaxTrouble]
	}
	return out, nil
}

// rowsOf reads the given endpoints with their health over span.
func (p *Postgres) rowsOf(ctx context.Context, ids []string, now time.Time, span healthSpan) ([]EndpointRow, error) {
	eps, err := p.endpointsByID(ctx, ids)
	if err != nil {
		return nil, err
	}
	return p.withHealth(ctx, eps, now, span)
}

// Minute rollups and events can still change for a while after their
// minute ended: an attempt's result is written when it finishes (up to
// its timeout later, in a batch), an event when its transaction commits.
// A minute older than its grace is read once more and then kept.
const (
	eventsGrace   = 15 * time.Second
	attemptsGrace = 5 * time.Minute
)

// series keeps the per-minute counts of events and attempts of the
// minutes that can no longer change, so that each refresh reads only the
// last ones. One Postgres (one process, every console session) shares it.
type series struct {
	mu       sync.Mutex
	events   map[time.Time]int
	attempts map[time.Time][2]int // attempts, successes
	// old is set once hookd is known to have events from before the last
	// minute (rates are then averaged over whole windows).
	old bool
}

// fill sets o's rates, success rate and sparklines at now.
func (s *series) fill(ctx context.Context, ex db.Executor, now time.Time, o *Overview) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.events == nil {
		s.events, s.attempts = map[time.Time]int{}, map[time.Time][2]int{}
	}
	end := now.UTC().Truncate(time.Minute)
	start := end.Add(-(SparkMinutes - 1) * time.Minute)
	for m := range s.events {
		if m.Before(start) {
			delete(s.events, m)
		}
	}
	for m := range s.attempts {
		if m.Before(start) {
			delete(s.attempts, m)
		}
	}
	// The first minute not kept: every later one is read again.
	from := func(kept func(time.Time) bool) time.Time {
		m := start
		for !m.After(end) && kept(m) {
			m = m.Add(time.Minute)
		}
		return m
	}
	evFrom := from(func(m time.Time) bool { _, ok := s.events[m]; return ok })
	atFrom := from(func(m time.Time) bool { _, ok := s.attempts[m]; return ok })

	events := map[time.Time]int{}
	rows, err := ex.Query(ctx, `SELECT date_trunc('minute', stored_at), count(*) FROM hookd.events
		WHERE stored_at >= $1 GROUP BY 1`, evFrom)
	if err != nil {
		return err
	}
	for rows.Next() {
		var m time.Time
		var n int
		if err := rows.Scan(&m, &n); err != nil {
			rows.Close()
			return err
		}
		events[m.UTC()] = n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	attempts := map[time.Time][2]int{}
	rows, err = ex.Query(ctx, `SELECT minute, sum(attempts)::int, sum(successes)::int FROM hookd.endpoint_minutes
		WHERE minute >= $1 GROUP BY minute`, atFrom)
	if err != nil {
		return err
	}
	for rows.Next() {
		var m time.Time
		var v [2]int
		if err := rows.Scan(&m, &v[0], &v[1]); err != nil {
			rows.Close()
			return err
		}
		attempts[m.UTC()] = v
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for m := evFrom; !m.After(end); m = m.Add(time.Minute) {
		if !m.Add(time.Minute + eventsGrace).After(now) {
			s.events[m] = events[m]
		}
	}
	for m := atFrom; !m.After(end); m = m.Add(time.Minute) {
		if !m.Add(time.Minute + attemptsGrace).After(now) {
			s.attempts[m] = attempts[m]
		}
	}
	get := func(m time.Time) (int, [2]int) {
		e, ok := s.events[m]
		if !ok {
			e = events[m]
		}
		a, ok := s.attempts[m]
		if !ok {
			a = attempts[m]
		}
		return e, a
	}

	o.EventsPerMinute = make([]int, SparkMinutes)
	o.AttemptsPerMinute = make([]int, SparkMinutes)
	o.FailuresPerMinute = make([]int, SparkMinutes)
	var successes5m int
	for i := range SparkMinutes {
		m := start.Add(time.Duration(i) * time.Minute)
		e, a := get(m)
		o.EventsPerMinute[i], o.AttemptsPerMinute[i], o.FailuresPerMinute[i] = e, a[0], a[0]-a[1]
		// A minute counts towards 5m when it overlaps the last five minutes.
		if m.Add(time.Minute).After(now.Add(-5 * time.Minute)) {
			o.Attempts5m += a[0]
			successes5m += a[1]
		}
	}
	if o.Attempts5m > 0 {
		o.SuccessRate = float64(successes5m) / float64(o.Attempts5m)
	}
	// The rates average the previous minute and the current one so far.
	prev := end.Add(-time.Minute)
	ePrev, aPrev := get(prev)
	eNow, aNow := get(end)
	first, err := s.first(ctx, ex, now)
	if err != nil {
		return err
	}
	o.RateWindow = rateWindow(prev, first, now)
	o.EventsPerSec = perSecond(int64(ePrev+eNow), prev, first, now)
	o.AttemptsPerSec = perSecond(int64(aPrev[0]+aNow[0]), prev, first, now)
	return nil
}

// first returns when the oldest event whose id hookd keeps was stored
// (event_ids_stored: the first entry of an index), or nil once that is
// older than a minute (or there is none): rates are then averaged over
// whole windows. Once old, it is not read again.
func (s *series) first(ctx context.Context, ex db.Executor, now time.Time) (*time.Time, error) {
	if s.old {
		return nil, nil
	}
	var first *time.Time
	if err := ex.QueryRow(ctx, `SELECT min(stored_at) FROM hookd.event_ids`).Scan(&first); err != nil {
		return nil, err
	}
	if first != nil && first.Before(now.Add(-time.Minute)) {
		s.old = true
		return nil, nil
	}
	return first, nil
}

// perSecond averages n over rateWindow(start, first, now).
func perSecond(n int64, start time.Time, first *time.Time, now time.Time) float64 {
	return float64(n) / rateWindow(start, first, now).Seconds()
}

// rateWindow is the part of the window from start to now that hookd's
// history covers: from start, or from first (the first event ever, nil
// when older than the window) when that is later, so a system in its
// first minute is not averaged over time it has not lived. It is at least
// a second.
func rateWindow(start time.Time, first *time.Time, now time.Time) time.Duration {
	if first != nil && first.After(start) {
		start = *first
	}
	return max(now.Sub(start), time.Second)
}
