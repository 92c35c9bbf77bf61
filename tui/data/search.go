package data

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/delivery"
)

// This file holds the console's searches and groupings of deliveries
// (see engine.go: reads the engine does not offer yet, each bounded).

// deliveryColumns mirrors delivery's own column list (same order as
// scanDelivery).
const deliveryColumns = `d.id, d.event_id, d.endpoint_id, d.event_type, d.state, d.attempts, d.next_attempt_at,
	d.lease_expires_at, coalesce(d.leased_by, ''), d.last_status, d.last_error_class, d.last_error, d.replays,
	d.created_at, d.updated_at, d.completed_at`

func scanDelivery(row pgx.Row, extra ...any) (delivery.Delivery, error) {
	var d delivery.Delivery
	var state string
	dest := append([]any{&d.ID, &d.EventID, &d.EndpointID, &d.EventType, &state, &d.Attempts, &d.NextAttemptAt,
		&d.LeaseExpiresAt, &d.LeasedBy, &d.LastStatus, &d.LastErrorClass, &d.LastError, &d.Replays,
		&d.CreatedAt, &d.UpdatedAt, &d.CompletedAt}, extra...)
	err := row.Scan(dest...)
	d.State = delivery.State(state)
	return d, err
}

// stream is one id-ordered index range: deliveries of one endpoint (or
// any) in one state (or any). Each is read newest first with a LIMIT, on
// the per-state partial indexes of the queue and of the dead letters, or
// the primary keys.
type stream struct {
	endpoint string
	state    delivery.State
}

// maxStreams bounds the ranges one search merges (endpoints matched by a
// name times states).
const maxStreams = 50

// streams splits q into ranges whose id order an index gives.
func streams(q DeliveryQuery) []stream {
	state := q.State
	if q.Retrying {
		state = delivery.StateRetrying
	}
	eps := q.EndpointIDs
	if eps == nil && q.EndpointID != "" {
		eps = []string{q.EndpointID}
	}
	if len(eps) == 0 {
		return []stream{{state: state}}
	}
	states := []delivery.State{state}
	if state == "" {
		// (endpoint_id, state, id) orders by id within one state only.
		states = delivery.States
	}
	var out []stream
	for _, e := range eps {
		for _, s := range states {
			out = append(out, stream{endpoint: e, state: s})
		}
	}
	return out
}

// residual renders the terms applied to the rows a range read, on alias
// d, appending args.
func residual(q DeliveryQuery, args []any) (string, []any) {
	conds := []string{"true"}
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, fmt.Sprintf(cond, len(args)))
	}
	if t := q.EventType; t != "" {
		if prefix, ok := strings.CutSuffix(t, "*"); ok {
			add(`d.event_type LIKE $%d`, likeEscape(prefix)+"%")
		} else {
			add("d.event_type = $%d", t)
		}
	}
	if q.EventID != "" {
		add("d.event_id = $%d", q.EventID)
	}
	if !q.Since.IsZero() {
		add("d.created_at >= $%d", q.Since)
	}
	if !q.Until.IsZero() {
		add("d.created_at < $%d", q.Until)
	}
	if !q.CompletedBefore.IsZero() {
		add("d.completed_at <= $%d", q.CompletedBefore)
	}
	if q.StatusMin > 0 {
		add("d.last_status >= $%d", q.StatusMin)
	}
	if q.StatusMax > 0 {
		add("d.last_status <= $%d", q.StatusMax)
	}
	if q.Reason != "" {
		add("d.last_error_class = $%d", q.Reason)
	}
	if q.Text != "" {
		add(`d.last_error ILIKE $%d`, "%"+likeEscape(q.Text)+"%")
	}
	return strings.Join(conds, " AND "), args
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// rangeSQL renders a stream's range: the rows it reads, newest first, at
// most $scan of them.
func rangeSQL(s stream, before int64, scan int, cols string, args []any) (string, []any) {
	conds := []string{"true"}
	if s.endpoint != "" {
		args = append(args, s.endpoint)
		conds = append(conds, fmt.Sprintf("d.endpoint_id = $%d", len(args)))
	}
	if s.state != "" && s.state.Valid() {
		// A literal: the partial index on states other than succeeded is
		// only chosen for a literal.
		conds = append(conds, "d.state = '"+string(s.state)+"'")
	}
	if before > 0 {
		args = append(args, before)
		conds = append(conds, fmt.Sprintf("d.id < $%d", len(args)))
	}
	args = append(args, scan)
	return fmt.Sprintf(`SELECT %s FROM hookd.deliveries d WHERE %s ORDER BY d.id DESC LIMIT $%d`,
		cols, strings.Join(conds, " AND "), len(args)), args
}

// search returns up to limit deliveries matching q below before, newest
// first, reading at most ScanLimit deliveries in all. next is where the
// next page starts (0: nothing more); partial says a range stopped at its
// share of ScanLimit before the page was full.
func (p *Postgres) search(ctx context.Context, q DeliveryQuery, before int64, limit int) (out []delivery.Delivery, next int64, partial bool, err error) {
	ss := streams(q)
	if len(ss) > maxStreams {
		return nil, 0, false, fmt.Errorf("the filter names too many endpoints (%d ranges; at most %d)", len(ss), maxStreams)
	}
	scan := max(ScanLimit/len(ss), limit+1)
	batch := &pgx.Batch{}
	for _, s := range ss {
		sql, args := rangeSQL(s, before, scan, "d.*", nil)
		where, args := residual(q, args)
		args = append(args, limit+1)
		batch.Queue(fmt.Sprintf(`WITH r AS MATERIALIZED (%s),
				st AS (SELECT count(*) AS n, min(id) AS lo FROM r)
			SELECT st.n, coalesce(st.lo, 0), h.* FROM st LEFT JOIN LATERAL (
				SELECT %s FROM r d WHERE %s ORDER BY d.id DESC LIMIT $%d) h ON true
			ORDER BY h.id DESC NULLS LAST`, sql, deliveryColumns, where, len(args)), args...)
	}
	results := p.pool.SendBatch(ctx, batch)
	defer results.Close()
	var hits []delivery.Delivery
	var bound int64 // every match at or above bound is in hits
	for range ss {
		rows, err := results.Query()
		if err != nil {
			return nil, 0, false, err
		}
		var n, lo int64
		var got []delivery.Delivery
		for rows.Next() {
			var d nullableDelivery
			if err := rows.Scan(d.dest(&n, &lo)...); err != nil {
				rows.Close()
				return nil, 0, false, err
			}
			if d.id != nil {
				got = append(got, d.delivery())
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, 0, false, err
		}
		switch {
		case len(got) > limit:
			bound = max(bound, got[len(got)-1].ID)
		case n >= int64(scan):
			bound = max(bound, lo)
			partial = true
		}
		hits = append(hits, got...)
	}
	slices.SortFunc(hits, func(a, b delivery.Delivery) int { return compareIDsDesc(a.ID, b.ID) })
	kept := hits[:0]
	for _, d := range hits {
		if d.ID >= bound {
			kept = append(kept, d)
		}
	}
	if len(kept) > limit {
		return kept[:limit], kept[limit-1].ID, false, nil
	}
	return kept, bound, partial && len(kept) < limit, nil
}

func compareIDsDesc(a, b int64) int {
	switch {
	case a > b:
		return -1
	case a < b:
		return 1
	}
	return 0
}

// nullableDelivery scans a delivery from a LEFT JOIN that may be empty.
type nullableDelivery struct {
	id                                    *int64
	eventID, endpointID, eventType, state *string
	attempts, replays                     *int
	nextAttempt, created, updated         *time.Time
	leaseExpires, completed               *time.Time
	leasedBy, lastClass, lastError        *string
	lastStatus                            *int
}

func (d *nullableDelivery) dest(head ...any) []any {
	return append(head, &d.id, &d.eventID, &d.endpointID, &d.eventType, &d.state, &d.attempts, &d.nextAttempt,
		&d.leaseExpires, &d.leasedBy, &d.lastStatus, &d.lastClass, &d.lastError, &d.replays,
		&d.created, &d.updated, &d.completed)
}

func (d *nullableDelivery) delivery() delivery.Delivery {
	s := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	i := func(p *int) int {
		if p == nil {
			return 0
		}
		return *p
	}
	t := func(p *time.Time) time.Time {
		if p == nil {
			return time.Time{}
		}
		return *p
	}
	return delivery.Delivery{ID: *d.id, EventID: s(d.eventID), EndpointID: s(d.endpointID), EventType: s(d.eventType),
		State: delivery.State(s(d.state)), Attempts: i(d.attempts), NextAttemptAt: t(d.nextAttempt),
		LeaseExpiresAt: d.leaseExpires, LeasedBy: s(d.leasedBy), LastStatus: d.lastStatus, LastErrorClass: s(d.lastClass),
		LastError: s(d.lastError), Replays: i(d.replays), CreatedAt: t(d.created), UpdatedAt: t(d.updated),
		CompletedAt: d.completed}
}

// searchIDs returns the ids of every delivery matching q that a bounded
// search finds (at most ScanLimit read), for a bulk replay of a filter
// the engine's ReplayMatching does not take.
func (p *Postgres) searchIDs(ctx context.Context, q DeliveryQuery) (ids []int64, capped bool, err error) {
	before := int64(0)
	for len(ids) < ScanLimit {
		page, next, partial, err := p.search(ctx, q, before, 1000)
		if err != nil {
			return nil, false, err
		}
		for _, d := range page {
			ids = append(ids, d.ID)
		}
		if partial || next == 0 {
			return ids, partial, nil
		}
		before = next
	}
	return ids, true, nil
}

// groupDead groups what q matches by endpoint, error class and status,
// over the newest deliveries of q's ranges (ScanLimit in all).
func (p *Postgres) groupDead(ctx context.Context, q DeliveryQuery) (Groups, error) {
	ss := streams(q)
	if len(ss) > maxStreams {
		return Groups{}, fmt.Errorf("the filter names too many endpoints (%d ranges; at most %d)", len(ss), maxStreams)
	}
	scan := max(ScanLimit/len(ss), 1)
	batch := &pgx.Batch{}
	for _, s := range ss {
		sql, args := rangeSQL(s, q.Before, scan, "d.*", nil)
		where, args := residual(q, args)
		batch.Queue(fmt.Sprintf(`WITH r AS MATERIALIZED (%s)
			SELECT (SELECT count(*) FROM r), g.* FROM (SELECT 1) one LEFT JOIN LATERAL (
				SELECT d.endpoint_id, d.state, d.last_error_class, coalesce(d.last_status, 0), count(*),
					max(coalesce(d.completed_at, d.updated_at)), (array_agg(d.last_error ORDER BY d.id DESC))[1]
				FROM r d WHERE %s GROUP BY 1, 2, 3, 4) g ON true`, sql, where), args...)
	}
	results := p.pool.SendBatch(ctx, batch)
	defer results.Close()
	var out Groups
	byKey := map[[4]string]*Group{}
	for range ss {
		rows, err := results.Query()
		if err != nil {
			return Groups{}, err
		}
		var n int64
		for rows.Next() {
			var ep, state, class, sample *string
			var status *int
			var count *int64
			var newest *time.Time
			if err := rows.Scan(&n, &ep, &state, &class, &status, &count, &newest, &sample); err != nil {
				rows.Close()
				return Groups{}, err
			}
			if ep == nil {
				continue
			}
			st := *state
			if delivery.State(st) == delivery.StatePending {
				st = "retrying"
			}
			k := [4]string{*ep, st, *class, fmt.Sprint(*status)}
			g := byKey[k]
			if g == nil {
				g = &Group{EndpointID: *ep, State: st, Class: *class, Status: *status}
				byKey[k] = g
			}
			g.Count += *count
			if newest != nil && newest.After(g.Newest) {
				g.Newest, g.Sample = *newest, deref(sample)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return Groups{}, err
		}
		out.Scanned += n
		if n >= int64(scan) {
			out.Capped = true
		}
	}
	for _, g := range byKey {
		out.Groups = append(out.Groups, *g)
	}
	slices.SortFunc(out.Groups, func(a, b Group) int {
		if a.Count != b.Count {
			return compareIDsDesc(a.Count, b.Count)
		}
		return b.Newest.Compare(a.Newest)
	})
	return out, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// recent returns an endpoint's newest deliveries: one range per state,
// merged, so an endpoint with a million deliveries costs the same.
func (p *Postgres) recent(ctx context.Context, endpointID string, limit int) ([]delivery.Delivery, error) {
	ds, _, _, err := p.search(ctx, DeliveryQuery{EndpointIDs: []string{endpointID}}, 0, limit)
	return ds, err
}
