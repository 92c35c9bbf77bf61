package delivery

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/validate"
)

// This file holds the reads of deliveries, all through the hookd.deliveries
// view (the queue and hookd.finished together).

// deliveryColumns are the columns scanDelivery reads, of the deliveries
// view as d.
const deliveryColumns = `d.id, d.event_id, d.endpoint_id, coalesce(d.tenant_id, ''), d.event_type, d.state, d.attempts,
	d.next_attempt_at, d.lease_expires_at, coalesce(d.leased_by, ''), d.last_status, d.last_error_class, d.last_error,
	d.replays, d.created_at, d.updated_at, d.completed_at, d.event_stored_at`

func scanDelivery(row pgx.Row) (Delivery, error) {
	var d Delivery
	var state string
	err := row.Scan(&d.ID, &d.EventID, &d.EndpointID, &d.TenantID, &d.EventType, &state, &d.Attempts, &d.NextAttemptAt,
		&d.LeaseExpiresAt, &d.LeasedBy, &d.LastStatus, &d.LastErrorClass, &d.LastError, &d.Replays,
		&d.CreatedAt, &d.UpdatedAt, &d.CompletedAt, &d.EventStoredAt)
	d.State = State(state)
	return d, err
}

func collect(rows pgx.Rows) ([]Delivery, error) {
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// Filter selects deliveries. Zero fields match everything.
type Filter struct {
	State      State  `json:"state,omitempty"`
	EndpointID string `json:"endpoint_id,omitempty"`
	// Tenant keeps one tenant's deliveries (a tenant token's scope).
	Tenant    string    `json:"tenant,omitempty"`
	EventType string    `json:"event_type,omitempty"` // exact, or a prefix filter such as "payment.*"
	EventID   string    `json:"event_id,omitempty"`
	Since     time.Time `json:"since,omitzero"` // created at or after
	Until     time.Time `json:"until,omitzero"` // created before
	// CompletedBefore keeps deliveries that succeeded or died before this
	// time: a confirmation that counted "all matching" at that time then
	// replays exactly what it counted, not what died since.
	CompletedBefore time.Time `json:"completed_before,omitzero"`
}

// Validate checks the filter's values.
func (f Filter) Validate() error {
	if f.State != "" && !f.State.Valid() {
		return validate.Errorf("state", "%q is not a delivery state (allowed: %s)", f.State, joinStates())
	}
	if f.EventType != "" && !validate.TypeFilter(f.EventType) {
		return validate.Errorf("event_type", "%q is not an event type or filter (an exact type like invoice.paid, or a prefix like payment.*)", f.EventType)
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Until.After(f.Since) {
		return validate.Errorf("until", "must be after since")
	}
	return nil
}

func joinStates() string {
	s := make([]string, len(States))
	for i, v := range States {
		s[i] = string(v)
	}
	return strings.Join(s, ", ")
}

// where renders the filter as SQL conditions on alias d, appending args;
// completed says whether d has a completed_at (hookd.queue has not: what is
// still to do completed before nothing).
func (f Filter) where(args []any, completed bool) (string, []any) {
	var conds []string
	add := func(cond string, v any) {
		args = append(args, v)
		conds = append(conds, fmt.Sprintf(cond, len(args)))
	}
	if f.State != "" && f.State.Valid() {
		conds = append(conds, "("+strings.Join(f.stateArms(), " OR ")+")")
	}
	if f.EndpointID != "" {
		add("d.endpoint_id = $%d", f.EndpointID)
	}
	if f.Tenant != "" {
		add("d.tenant_id = $%d", f.Tenant)
	}
	if f.EventType != "" {
		if prefix, ok := strings.CutSuffix(f.EventType, "*"); ok {
			add("d.event_type LIKE $%d", likeEscape(prefix)+"%")
		} else {
			add("d.event_type = $%d", f.EventType)
		}
	}
	if f.EventID != "" {
		add("d.event_id = $%d", f.EventID)
	}
	if !f.Since.IsZero() {
		add("d.created_at >= $%d", f.Since)
	}
	if !f.Until.IsZero() {
		add("d.created_at < $%d", f.Until)
	}
	if !f.CompletedBefore.IsZero() {
		if completed {
			add("d.completed_at <= $%d", f.CompletedBefore)
		} else {
			conds = append(conds, "false")
		}
	}

	if len(conds) == 0 {
		return "true", args
	}
	return strings.Join(conds, " AND "), args
}

// stateArms is the filter's state as conditions each of which one table's
// index of one state answers. They are literals, not parameters: the
// states are a known few, and only a literal lets the planner skip the
// table that cannot hold the state and use the partial indexes on states.
// No state is every state: each queue state, then what finished.
func (f Filter) stateArms() []string {
	switch f.State {
	case "":
		return []string{"d.state = 'pending'", "d.state = 'retrying'", "d.state = 'in_flight'", "d.state = 'held'",
			"d.state IN ('succeeded', 'dead', 'skipped')"}
	}
	return []string{"d.state = '" + string(f.State) + "'"}
}

func likeEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

// ListParams page through deliveries newest first.
type ListParams struct {
	Filter
	// Before is the id to continue below (the previous page's Next); 0 starts at the newest.
	Before int64
	// Limit defaults to defaultLimit (50), at most 1000.
	Limit int
	// Scan bounds what a page reads when its filter has conditions no
	// index answers; 0 means ScanLimit.
	Scan int
}

// defaultLimit is a page's size when ListParams.Limit is 0.
const defaultLimit = 50

// ScanLimit bounds the deliveries one page examines when its filter has
// conditions no index answers (an event type, a created or completed
// time, a state no index holds in the filter's scope: see stateIndexed):
// such a page looks at most at the ScanLimit newest deliveries the
// rest of the filter selects, and may come back short, even empty, with
// Next set to go on below them. Unbounded, a rare event type read every
// endpoint's whole history for one page.
const ScanLimit = 10_000

// Page is one page of deliveries; Next is 0 when there are no more.
type Page struct {
	Deliveries []Delivery `json:"deliveries"`
	Next       int64      `json:"next,omitempty"`
}

// List returns deliveries matching p, newest first, by keyset pagination so
// that any page costs the same however many deliveries exist.
func List(ctx context.Context, ex db.Executor, p ListParams) (Page, error) {
	if err := p.Filter.Validate(); err != nil {
		return Page{}, err
	}
	if p.Limit == 0 {
		p.Limit = defaultLimit
	}
	if p.Limit < 0 || p.Limit > 1000 {
		return Page{}, validate.Errorf("limit", "must be between 1 and 1000")
	}
	// With conditions no index answers, first find the lowest id of the
	// scan newest deliveries the indexed rest selects: the page reads no
	// further down, and goes on below it when it had to stop there.
	var floor int64
	if indexed, ok := p.Filter.indexed(); !ok {
		scan := cmp.Or(max(p.Scan, 0), ScanLimit)
		q, args := indexed.newest("d.id", p.Before, 0, scan)
		var n int
		var low int64
		if err := ex.QueryRow(ctx, `SELECT count(*)::int, coalesce(min(id), 0) FROM (`+q+`) w`, args...).Scan(&n, &low); err != nil {
			return Page{}, err
		}
		if n >= scan {
			floor = low
		}
	}
	q, args := p.Filter.newest(deliveryColumns, p.Before, floor, p.Limit+1)
	rows, err := ex.Query(ctx, q, args...)
	if err != nil {
		return Page{}, err
	}
	ds, err := collect(rows)
	if err != nil {
		return Page{}, err
	}
	page := Page{Deliveries: ds}
	switch {
	case len(ds) > p.Limit:
		page.Deliveries = ds[:p.Limit]
		page.Next = ds[p.Limit-1].ID
	case floor > 0:
		page.Next = floor // read down to it: the next page starts below
	}
	if page.Deliveries == nil {
		page.Deliveries = []Delivery{}
	}
	return page, nil
}

// Fill is List for the operator's command line, whose one command may read
// as far as it takes: it follows the short pages of a filter no index
// answers until it has p.Limit deliveries or there are no more. The API
// answers page by page.
func Fill(ctx context.Context, ex db.Executor, p ListParams) (Page, error) {
	limit := cmp.Or(p.Limit, defaultLimit)
	out := Page{Deliveries: []Delivery{}}
	for {
		page, err := List(ctx, ex, p)
		if err != nil {
			return Page{}, err
		}
		out.Deliveries = append(out.Deliveries, page.Deliveries...)
		out.Next = page.Next
		if page.Next == 0 || len(out.Deliveries) >= limit {
			return out, nil
		}
		p.Before, p.Limit = page.Next, limit-len(out.Deliveries)
	}
}

// indexed returns the filter without the conditions no index answers,
// and whether there were none. A filter on one event is answered by its
// index whatever else it holds: an event has a delivery per endpoint.
func (f Filter) indexed() (Filter, bool) {
	if f.EventID != "" {
		return f, true
	}
	g := f
	g.EventType, g.Since, g.Until, g.CompletedBefore = "", time.Time{}, time.Time{}, time.Time{}
	if !g.stateIndexed() {
		g.State = ""
	}
	return g, g == f
}

// stateIndexed says whether indexes hold the deliveries of the filter's
// state in its scope in the order a page reads them: an endpoint's in each
// state but succeeded (most of its history: read in id order through it,
// a page would pass every newer dead letter); a tenant's or everyone's,
// all of them or the dead; and what was skipped, which is few. The
// queue's states have indexes per endpoint only.
func (f Filter) stateIndexed() bool {
	switch {
	case f.EndpointID != "":
		return f.State != StateSucceeded
	case f.State == "" || f.State == StateDead || f.State == StateSkipped:
		return true
	}
	return false
}

// newest returns the statement that selects cols of the newest limit
// deliveries matching f with ids below before and at or above floor (each
// 0 for no bound).
//
// An endpoint's or a tenant's deliveries are read in the order of that
// scope's indexes, (endpoint_id, id) or (tenant_id, id), with the scope
// bounded as a range (see PendingOf): given an equality, the planner drops
// the scope from the order and may walk the primary key instead, through
// every newer delivery of everyone else. One endpoint's deliveries in
// more than one state are read as each state's newest, merged: no index
// holds every state of one endpoint in the queue.
func (f Filter) newest(cols string, before, floor int64, limit int) (string, []any) {
	var args []any
	var key, scope string
	switch {
	case f.EventID != "":
		// The event's index answers: it has a delivery per endpoint.
	case f.EndpointID != "":
		key, args, f.EndpointID = "d.endpoint_id", append(args, f.EndpointID), ""
	case f.Tenant != "":
		key, args, f.Tenant = "d.tenant_id", append(args, f.Tenant), ""
	}
	if key != "" {
		scope = key + " >= $1 AND " + key + " <= $1 AND "
	}
	arms := f.stateArms()
	perState := key == "d.endpoint_id" && len(arms) > 1
	if perState {
		f.State = "" // each arm holds it
	}
	where, args := f.where(args, true)
	// A window of ids is bounded at both ends paired with the scope: after
	// a range on the scope, a lower bound on the id alone ends no
	// backward scan of the scope's index, which would read on through
	// the scope's older rows; and given the window on the id alone, the
	// planner may read it by the primary key instead, through every
	// other scope's rows in it.
	id, bound := "d.id", "$%d"
	if key != "" && floor > 0 {
		id, bound = "("+key+", d.id)", "($1, $%d)"
	}
	if before > 0 {
		args = append(args, before)
		where += fmt.Sprintf(" AND "+id+" < "+bound, len(args))
	}
	if floor > 0 {
		args = append(args, floor)
		where += fmt.Sprintf(" AND "+id+" >= "+bound, len(args))
	}
	args = append(args, limit)
	order := fmt.Sprintf(` ORDER BY d.id DESC LIMIT $%d`, len(args))
	if key != "" {
		order = fmt.Sprintf(` ORDER BY %s DESC, d.id DESC LIMIT $%d`, key, len(args))
	}
	from := `hookd.deliveries d WHERE ` + scope + where
	if perState {
		selects := make([]string, len(arms))
		for i, arm := range arms {
			selects[i] = `(SELECT * FROM hookd.deliveries d WHERE ` + scope + `(` + arm + `) AND ` + where + order + `)`
		}
		from = `(` + strings.Join(selects, ` UNION ALL `) + `) d`
	}
	return `SELECT ` + cols + ` FROM ` + from + order, args
}

// Get returns one delivery or db.ErrNotFound.
func Get(ctx context.Context, ex db.Executor, id int64) (*Delivery, error) {
	d, err := scanDelivery(ex.QueryRow(ctx, `SELECT `+deliveryColumns+` FROM hookd.deliveries d WHERE d.id = $1`, id))
	if err != nil {
		return nil, db.Interpret(err)
	}
	return &d, nil
}

// GetMany returns those of the deliveries ids that exist, by id.
func GetMany(ctx context.Context, ex db.Executor, ids []int64) ([]Delivery, error) {
	rows, err := ex.Query(ctx, `SELECT `+deliveryColumns+` FROM hookd.deliveries d WHERE d.id = ANY($1) ORDER BY d.id`, ids)
	if err != nil {
		return nil, err
	}
	return collect(rows)
}

// ForEvent returns an event's deliveries, one per endpoint.
func ForEvent(ctx context.Context, ex db.Executor, eventID string) ([]Delivery, error) {
	rows, err := ex.Query(ctx, `SELECT `+deliveryColumns+` FROM hookd.deliveries d WHERE d.event_id = $1 ORDER BY d.id`, eventID)
	if err != nil {
		return nil, err
	}
	ds, err := collect(rows)
	if ds == nil {
		ds = []Delivery{}
	}
	return ds, err
}

// Attempts returns a delivery's attempts, oldest first (every one, across replays).
func Attempts(ctx context.Context, ex db.Executor, deliveryID int64) ([]Attempt, error) {
	rows, err := ex.Query(ctx, `SELECT a.id, a.delivery_id, a.endpoint_id, a.attempt, a.started_at, a.duration_us, a.request_url,
			a.request_headers, a.response_status, a.response_headers, coalesce(b.body, ''), a.error_class, a.error, a.worker
		FROM hookd.attempts a
		LEFT JOIN hookd.attempt_bodies b ON b.attempt_id = a.id AND b.event_stored_at = a.event_stored_at
		WHERE a.delivery_id = $1 ORDER BY a.id`, deliveryID)
	// (Attempts of a delivery sit in its event's partition; without the
	// partition key the lookup probes each partition's index once.)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Attempt{}
	for rows.Next() {
		var a Attempt
		var us int64
		var reqH, respH []byte
		if err := rows.Scan(&a.ID, &a.DeliveryID, &a.EndpointID, &a.Attempt, &a.StartedAt, &us, &a.RequestURL,
			&reqH, &a.ResponseStatus, &respH, &a.ResponseBody, &a.ErrorClass, &a.Error, &a.Worker); err != nil {
			return nil, err
		}
		a.Duration = time.Duration(us) * time.Microsecond
		a.DurationMS = float64(us) / 1000
		if err := json.Unmarshal(reqH, &a.RequestHeaders); err != nil {
			return nil, err
		}
		if respH != nil {
			if err := json.Unmarshal(respH, &a.ResponseHeaders); err != nil {
				return nil, err
			}
		}
		out = append(out, a)
	}
	return out, rows.Err()
}
