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

// This file holds the console's lists, searches and groupings of
// deliveries. Each reads one or more streams: the rows of one table that
// one index gives in id order, read newest first with a LIMIT, so that a
// page costs the same however much history is kept. The table follows
// the state (the queue holds what is still to do, hookd.finished what
// succeeded, died or was skipped):
//
//	state      table     one endpoint's                 any endpoint's
//	pending    queue     queue_ready (endpoint_id, id)  primary key
//	retrying   queue     queue_retrying_endpoint        primary key
//	in_flight  queue     queue_in_flight (endpoint_id)  primary key
//	held       queue     queue_held (endpoint_id, id)   primary key
//	dead       finished  finished_dead (endpoint_id, id) finished_dead_id (id)
//	other      finished  finished_endpoint              primary key
//
// A tenant's deliveries are its endpoints' (the ranges above, when it has
// few) or queue_tenant and finished_tenant; an event's are queue_event and
// finished_event. Terms no range answers (type, status, reason, text,
// times) are applied to the rows a range read: such a search reads at
// most ScanLimit rows in all and says so when it stopped there.

// queueColumns and finishedColumns read a row of either table as a
// delivery (the columns of the hookd.deliveries view, in scanDelivery's
// order), named so that the terms applied after the range read either.
const (
	queueColumns = `d.id, d.event_id, d.endpoint_id, coalesce(d.tenant_id, '') AS tenant_id, d.event_type, d.state,
	d.attempts, d.next_attempt_at, d.lease_expires_at, coalesce(d.leased_by, '') AS leased_by, d.last_status,
	d.last_error_class, d.last_error, d.replays, d.created_at, d.updated_at, NULL::timestamptz AS completed_at`
	finishedColumns = `d.id, d.event_id, d.endpoint_id, coalesce(d.tenant_id, '') AS tenant_id, d.event_type, d.state,
	d.attempts, d.completed_at AS next_attempt_at, NULL::timestamptz AS lease_expires_at, '' AS leased_by, d.last_status,
	d.last_error_class, d.last_error, d.replays, d.created_at, d.completed_at AS updated_at, d.completed_at`
	// deliveryColumns are the same columns once read (from a range).
	deliveryColumns = `d.id, d.event_id, d.endpoint_id, d.tenant_id, d.event_type, d.state, d.attempts, d.next_attempt_at,
	d.lease_expires_at, d.leased_by, d.last_status, d.last_error_class, d.last_error, d.replays,
	d.created_at, d.updated_at, d.completed_at`
)

func scanDelivery(row pgx.Row) (delivery.Delivery, error) {
	var d delivery.Delivery
	var state string
	err := row.Scan(&d.ID, &d.EventID, &d.EndpointID, &d.TenantID, &d.EventType, &state, &d.Attempts, &d.NextAttemptAt,
		&d.LeaseExpiresAt, &d.LeasedBy, &d.LastStatus, &d.LastErrorClass, &d.LastError, &d.Replays,
		&d.CreatedAt, &d.UpdatedAt, &d.CompletedAt)
	d.State = delivery.State(state)
	return d, err
}

const (
	tableQueue    = "queue"
	tableFinished = "finished"
)

// stream is one index range: one table's rows of one endpoint, tenant or
// event (or of any), in one state (or any), newest first. filter is a
// condition on the state the range does not hold (literals only).
type stream struct {
	table    string
	state    delivery.State
	endpoint string
	tenant   string
	eventID  string
	filter   string
}

// part is what a query reads of one table: a state its partial index
// holds, or a condition on the state.
type part struct {
	table  string
	state  delivery.State
	filter string
}

var queueStates = []delivery.State{delivery.StatePending, delivery.StateRetrying, delivery.StateInFlight, delivery.StateHeld}

// parts splits a state (as the console filters it) into what each table
// holds of it.
func parts(state delivery.State) []part {
	switch state {
	case "":
		return []part{{table: tableQueue}, {table: tableFinished}}
	case delivery.StatePending, delivery.StateRetrying, delivery.StateInFlight, delivery.StateHeld:
		return []part{{table: tableQueue, state: state}}
	case delivery.StateDead:
		return []part{{table: tableFinished, state: state}}
	}
	return []part{{table: tableFinished, filter: "d.state = '" + string(state) + "'"}}
}

// condition is p's state as a condition on the rows read, for ranges that
// do not hold it.
func (p part) condition() string {
	var c []string
	if p.state != "" {
		c = append(c, "d.state = '"+string(p.state)+"'")
	}
	if p.filter != "" {
		c = append(c, p.filter)
	}
	return strings.Join(c, " AND ")
}

// perEndpoint is how many streams one endpoint takes for state.
func perEndpoint(state delivery.State) int {
	n := 0
	for _, p := range parts(state) {
		if p.table == tableQueue && p.state == "" {
			n += len(queueStates)
		} else {
			n++
		}
	}
	return n
}

// maxStreams bounds the ranges one search merges (endpoints matched by a
// name times the ranges of each).
const maxStreams = 50

// streams splits q into ranges whose id order an index gives. tenantEndpoints
// are q.Tenant's endpoints when q names a tenant and no endpoint, and the
// tenant has few enough to be read one by one (nil otherwise).
func streams(q DeliveryQuery, tenantEndpoints []string) []stream {
	var out []stream
	ps := parts(q.State)
	eps := q.endpoints()
	if eps == nil {
		eps = tenantEndpoints
	}
	switch {
	case q.EventID != "":
		for _, p := range ps {
			out = append(out, stream{table: p.table, eventID: q.EventID, filter: p.condition()})
		}
	case eps != nil:
		for _, e := range eps {
			for _, p := range ps {
				if p.table == tableQueue && p.state == "" {
					for _, s := range queueStates {
						out = append(out, stream{table: tableQueue, state: s, endpoint: e})
					}
					continue
				}
				out = append(out, stream{table: p.table, state: p.state, endpoint: e, filter: p.filter})
			}
		}
	case q.Tenant != "":
		for _, p := range ps {
			out = append(out, stream{table: p.table, tenant: q.Tenant, filter: p.condition()})
		}
	default:
		for _, p := range ps {
			out = append(out, stream{table: p.table, state: p.state, filter: p.filter})
		}
	}
	return out
}

// residual renders the terms the stream's range does not answer, on alias
// d of the rows read, appending args; "" when there are none.
func residual(q DeliveryQuery, s stream, args []any) (string, []any) {
	var conds []string
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, fmt.Sprintf(cond, len(args)))
	}
	if s.filter != "" {
		conds = append(conds, s.filter)
	}
	if q.Tenant != "" && s.tenant == "" {
		add("d.tenant_id = $%d", q.Tenant)
	}
	if t := q.EventType; t != "" {
		if prefix, ok := strings.CutSuffix(t, "*"); ok {
			add(`d.event_type LIKE $%d`, likeEscape(prefix)+"%")
		} else {
			add("d.event_type = $%d", t)
		}
	}
	if q.EventID != "" && s.eventID == "" {
		add("d.event_id = $%d", q.EventID)
	}
	if !q.Since.IsZero() {
		add("d.created_at >= $%d", q.Since)
	}
	if !q.Until.IsZero() {
		add("d.created_at < $%d", q.Until)
	}
	if !q.CompletedBefore.IsZero() {
		// Nothing in the queue has completed (completed_at is NULL there).
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

// rangeSQL renders a stream's range: at most $scan rows below before,
// newest first, as deliveries.
func rangeSQL(s stream, before int64, scan int, args []any) (string, []any) {
	var conds []string
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, fmt.Sprintf(cond, len(args)))
	}
	switch {
	case s.endpoint != "":
		add("d.endpoint_id = $%d", s.endpoint)
	case s.tenant != "":
		add("d.tenant_id = $%d", s.tenant)
	case s.eventID != "":
		add("d.event_id = $%d", s.eventID)
	}
	if s.state != "" && s.state.Valid() {
		// A literal: a partial index on a state is only chosen for one.
		conds = append(conds, "d.state = '"+string(s.state)+"'")
	}
	if before > 0 {
		add("d.id < $%d", before)
	}
	if len(conds) == 0 {
		conds = append(conds, "true")
	}
	cols := queueColumns
	if s.table == tableFinished {
		cols = finishedColumns
	}
	args = append(args, scan)
	return fmt.Sprintf(`SELECT %s FROM hookd.%s d WHERE %s ORDER BY d.id DESC LIMIT $%d`,
		cols, s.table, strings.Join(conds, " AND "), len(args)), args
}

// plan returns q's streams, reading the tenant's endpoints when q names a
// tenant and no endpoint or event (one index range, a few rows).
func (p *Postgres) plan(ctx context.Context, q DeliveryQuery) ([]stream, error) {
	var tenantEndpoints []string
	if q.Tenant != "" && q.endpoints() == nil && q.EventID == "" {
		most := maxStreams / perEndpoint(q.State)
		rows, err := p.pool.Query(ctx, `SELECT id FROM hookd.endpoints WHERE tenant_id = $1 ORDER BY tenant_id, created_at, id LIMIT $2`,
			q.Tenant, most+1)
		if err != nil {
			return nil, err
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return nil, err
		}
		if len(ids) > 0 && len(ids) <= most {
			tenantEndpoints = ids
		}
	}
	ss := streams(q, tenantEndpoints)
	if len(ss) > maxStreams {
		return nil, fmt.Errorf("the filter names too many endpoints (%d ranges; at most %d)", len(ss), maxStreams)
	}
	return ss, nil
}

// search returns up to limit deliveries matching q below before, newest
// first. A range with terms to apply reads at most its share of ScanLimit;
// one without reads the page. next is where the next page starts (0:
// nothing more); partial says a range stopped at its share of ScanLimit
// before the page was full.
func (p *Postgres) search(ctx context.Context, q DeliveryQuery, before int64, limit int) (out []delivery.Delivery, next int64, partial bool, err error) {
	ss, err := p.plan(ctx, q)
	if err != nil {
		return nil, 0, false, err
	}
	batch := &pgx.Batch{}
	scans := make([]int64, len(ss))
	for i, s := range ss {
		where, args := residual(q, s, nil)
		scan := limit + 1
		if where != "" {
			scan = max(ScanLimit/len(ss), limit+1)
		} else {
			where = "true"
		}
		scans[i] = int64(scan)
		sql, args := rangeSQL(s, before, scan, args)
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
	for i := range ss {
		got, n, lo, err := readRange(results)
		if err != nil {
			return nil, 0, false, err
		}
		switch {
		case len(got) > limit:
			bound = max(bound, got[len(got)-1].ID)
		case n >= scans[i]:
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

// readRange reads one range's answer: the matches, how many rows the
// range read and the lowest id it read.
func readRange(results pgx.BatchResults) (got []delivery.Delivery, n, lo int64, err error) {
	rows, err := results.Query()
	if err != nil {
		return nil, 0, 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var d nullableDelivery
		if err := rows.Scan(d.dest(&n, &lo)...); err != nil {
			return nil, 0, 0, err
		}
		if d.id != nil {
			got = append(got, d.delivery())
		}
	}
	return got, n, lo, rows.Err()
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
	id                                              *int64
	eventID, endpointID, tenantID, eventType, state *string
	attempts, replays                               *int
	nextAttempt, created, updated                   *time.Time
	leaseExpires, completed                         *time.Time
	leasedBy, lastClass, lastError                  *string
	lastStatus                                      *int
}

func (d *nullableDelivery) dest(head ...any) []any {
	return append(head, &d.id, &d.eventID, &d.endpointID, &d.tenantID, &d.eventType, &d.state, &d.attempts, &d.nextAttempt,
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
	return delivery.Delivery{ID: *d.id, EventID: s(d.eventID), EndpointID: s(d.endpointID), TenantID: s(d.tenantID),
		EventType: s(d.eventType), State: delivery.State(s(d.state)), Attempts: i(d.attempts), NextAttemptAt: t(d.nextAttempt),
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

// groupDead groups what q matches by endpoint, state, error class and
// status, over the newest deliveries of q's ranges (ScanLimit in all).
func (p *Postgres) groupDead(ctx context.Context, q DeliveryQuery) (Groups, error) {
	ss, err := p.plan(ctx, q)
	if err != nil {
		return Groups{}, err
	}
	scan := max(ScanLimit/len(ss), 1)
	batch := &pgx.Batch{}
	for _, s := range ss {
		where, args := residual(q, s, nil)
		if where == "" {
			where = "true"
		}
		sql, args := rangeSQL(s, q.Before, scan, args)
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
		n, err := readGroups(results, byKey)
		if err != nil {
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

// readGroups folds one range's groups into byKey and returns how many rows
// the range read.
func readGroups(results pgx.BatchResults, byKey map[[4]string]*Group) (int64, error) {
	rows, err := results.Query()
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var n int64
	for rows.Next() {
		var ep, state, class, sample *string
		var status *int
		var count *int64
		var newest *time.Time
		if err := rows.Scan(&n, &ep, &state, &class, &status, &count, &newest, &sample); err != nil {
			return 0, err
		}
		if ep == nil {
			continue
		}
		st := *state
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
	return n, rows.Err()
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// recent returns an endpoint's newest deliveries: one range per state of
// the queue and one of hookd.finished, merged, so an endpoint with a
// million deliveries costs the same.
func (p *Postgres) recent(ctx context.Context, endpointID string, limit int) ([]delivery.Delivery, error) {
	ds, _, _, err := p.search(ctx, DeliveryQuery{EndpointIDs: []string{endpointID}}, 0, limit)
	return ds, err
}
