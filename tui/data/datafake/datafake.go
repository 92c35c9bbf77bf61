// Package datafake is an in-memory data.Source that records every call,
// for model-level tests of the console's views. The PostgreSQL Source is
// tested against a real database; this fake only stands in for it where
// a test checks what a view asks for and draws.
package datafake

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hookd/hookd/core/audit"
	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/core/retention"
	"github.com/hookd/hookd/tui/data"
)

// Call is one recorded call: the method, its arguments and the actor its
// context carried.
type Call struct {
	Method string
	Args   []any
	Actor  audit.Actor
}

// Source is the fake. Set its fields before use; it is safe for
// concurrent use.
type Source struct {
	mu         sync.Mutex
	calls      []Call
	Down       error  // returned by every method while set
	PanicOn    string // a method that panics when called
	Over       *data.Overview
	Eps        []data.EndpointRow
	Dels       []delivery.Delivery // newest last; lists return newest first
	Events     map[string]*outbox.Event
	Atts       map[int64][]delivery.Attempt
	InboxItems []data.InboxEvent
	Rejected   map[string]int64
	Trail      []audit.Entry // newest last
	// TenantRows are the tenants; TroubleTenants those Tenants returns as
	// in trouble.
	TenantRows     []data.TenantRow
	TroubleTenants []data.TenantRow
	// Stats is what Storage returns (nil: an error).
	Stats *retention.Stats
	// AgedOut are event ids Event and Lookup answer with an
	// *outbox.AgedOutError.
	AgedOut map[string]time.Time
	// Secret is what RotateSecret returns.
	Secret string
}

// New returns an empty fake.
func New() *Source {
	return &Source{Events: map[string]*outbox.Event{}, Atts: map[int64][]delivery.Attempt{}, Secret: "whsec_dGVzdHNlY3JldHRlc3RzZWNyZXQ="}
}

func (s *Source) record(ctx context.Context, method string, args ...any) error {
	s.mu.Lock()
	defer s.mu.Unlock() // also on the deliberate panic
	a, _ := audit.FromContext(ctx)
	s.calls = append(s.calls, Call{Method: method, Args: args, Actor: a})
	if method == s.PanicOn {
		panic("datafake: " + method + " panics on purpose")
	}
	return s.Down
}

// SetDown makes every call fail with err (nil restores).
func (s *Source) SetDown(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Down = err
}

// Calls returns the recorded calls of method ("" for all).
func (s *Source) Calls(method string) []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Call
	for _, c := range s.calls {
		if method == "" || c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

// Actions returns the recorded calls that change state.
func (s *Source) Actions() []Call {
	var out []Call
	for _, c := range s.Calls("") {
		switch c.Method {
		case "Replay", "ReplayQuery", "EnableEndpoint", "DisableEndpoint", "ReplayInbox",
			"SendTestEvent", "RotateSecret", "UpdateEndpoint", "Skip":
			out = append(out, c)
		}
	}
	return out
}

// AddDelivery appends d (the newest) under lock.
func (s *Source) AddDelivery(d delivery.Delivery) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Dels = append(s.Dels, d)
}

func (s *Source) Ping(ctx context.Context) error { return s.record(ctx, "Ping") }

func (s *Source) Info() data.Info { return data.Info{Database: "hookd@127.0.0.1:5432/hookd"} }

func (s *Source) Overview(ctx context.Context, now time.Time) (*data.Overview, error) {
	if err := s.record(ctx, "Overview", now); err != nil {
		return nil, err
	}
	if s.Over == nil {
		return &data.Overview{At: now}, nil
	}
	return s.Over, nil
}

func (s *Source) Endpoints(ctx context.Context, q data.EndpointQuery) (data.EndpointPage, error) {
	if err := s.record(ctx, "Endpoints", q); err != nil {
		return data.EndpointPage{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	eps := slices.Clone(s.Eps)
	slices.SortFunc(eps, func(a, b data.EndpointRow) int { return strings.Compare(a.Endpoint.ID, b.Endpoint.ID) })
	limit := q.Limit
	if limit <= 0 {
		limit = 200
	}
	page := data.EndpointPage{Rows: []data.EndpointRow{}, Total: len(eps)}
	for _, r := range eps {
		if r.Endpoint.ID <= q.After || q.IDs != nil && !slices.Contains(q.IDs, r.Endpoint.ID) {
			continue
		}
		if len(page.Rows) == limit {
			page.Next = page.Rows[limit-1].Endpoint.ID
			break
		}
		page.Rows = append(page.Rows, r)
	}
	if q.IDs != nil {
		page.Total = len(q.IDs)
	}
	if q.IDs == nil && q.After == "" {
		for _, r := range eps {
			if r.Trouble() > 0 {
				page.Trouble = append(page.Trouble, r)
			}
		}
	}
	return page, nil
}

func label(r data.EndpointRow) data.Label {
	e := r.Endpoint
	return data.Label{ID: e.ID, Description: e.Description, URL: e.URL, Tenant: e.Tenant, Enabled: e.Enabled,
		DataOnly: e.BodyFormat == endpoint.BodyData, BreakerOpen: r.Health != nil && r.Health.Breaker.State == delivery.BreakerOpen}
}

func (s *Source) FindEndpoints(ctx context.Context, text, tenant string, limit int) ([]data.Label, error) {
	if err := s.record(ctx, "FindEndpoints", text, tenant, limit); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	t := strings.ToLower(text)
	var out []data.Label
	for _, r := range s.Eps {
		e := r.Endpoint
		if tenant != "" && e.Tenant != tenant {
			continue
		}
		if strings.Contains(strings.ToLower(e.ID+" "+e.Description+" "+e.URL), t) && len(out) < limit {
			out = append(out, label(r))
		}
	}
	return out, nil
}

func (s *Source) Labels(ctx context.Context, ids []string) (map[string]data.Label, error) {
	if err := s.record(ctx, "Labels", ids); err != nil {
		return nil, err
	}
	return s.labels(ids), nil
}

func (s *Source) labels(ids []string) map[string]data.Label {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]data.Label{}
	for _, r := range s.Eps {
		if slices.Contains(ids, r.Endpoint.ID) {
			out[r.Endpoint.ID] = label(r)
		}
	}
	return out
}

func (s *Source) Endpoint(ctx context.Context, id string, now time.Time) (*data.EndpointDetail, error) {
	if err := s.record(ctx, "Endpoint", id); err != nil {
		return nil, err
	}
	s.mu.Lock()
	var row *data.EndpointRow
	for i := range s.Eps {
		if s.Eps[i].Endpoint.ID == id {
			row = &s.Eps[i]
		}
	}
	s.mu.Unlock()
	if row == nil {
		return nil, db.ErrNotFound
	}
	d := &data.EndpointDetail{Row: *row}
	for i := range 60 {
		d.Minutes = append(d.Minutes, data.Minute{At: now.Truncate(time.Minute).Add(time.Duration(i-59) * time.Minute)})
	}
	page, _ := s.deliveries(data.DeliveryQuery{EndpointIDs: []string{id}, Limit: 15})
	d.Recent = page.Deliveries
	g := s.groups(data.DeliveryQuery{EndpointIDs: []string{id}, Filter: delivery.Filter{State: delivery.StateDead}})
	r := s.groups(data.DeliveryQuery{EndpointIDs: []string{id}, Filter: delivery.Filter{State: delivery.StateRetrying}})
	d.Errors = data.Groups{Groups: append(g.Groups, r.Groups...), Scanned: g.Scanned + r.Scanned}
	d.OldestDue = s.oldestDue(row, now)
	return d, nil
}

// oldestDue reckons an endpoint's oldest due as the database does: its
// oldest pending delivery's wait, none behind an open breaker.
func (s *Source) oldestDue(row *data.EndpointRow, now time.Time) time.Duration {
	if row.Health != nil && row.Health.Breaker.State == delivery.BreakerOpen {
		return 0
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.Dels { // oldest first
		if d.EndpointID == row.Endpoint.ID && d.State == delivery.StatePending {
			return max(now.Sub(d.NextAttemptAt), 0)
		}
	}
	return 0
}

// Matches reports whether the fake counts d as matching q.
func Matches(q data.DeliveryQuery, d delivery.Delivery) bool {
	f := q.Filter
	eps := q.EndpointIDs
	if eps == nil && f.EndpointID != "" {
		eps = []string{f.EndpointID}
	}
	switch {
	case f.State != "" && d.State != f.State,
		eps != nil && !slices.Contains(eps, d.EndpointID),
		f.Tenant != "" && d.TenantID != f.Tenant,
		f.EventID != "" && d.EventID != f.EventID,
		!f.CompletedBefore.IsZero() && (d.CompletedAt == nil || d.CompletedAt.After(f.CompletedBefore)),
		q.StatusMin > 0 && (d.LastStatus == nil || *d.LastStatus < q.StatusMin),
		q.StatusMax > 0 && (d.LastStatus == nil || *d.LastStatus > q.StatusMax),
		q.Reason != "" && d.LastErrorClass != q.Reason,
		q.Text != "" && !strings.Contains(strings.ToLower(d.LastError), strings.ToLower(q.Text)):
		return false
	}
	if f.EventType != "" {
		if p, ok := strings.CutSuffix(f.EventType, "*"); ok {
			return strings.HasPrefix(d.EventType, p)
		}
		return d.EventType == f.EventType
	}
	return true
}

func (s *Source) Deliveries(ctx context.Context, q data.DeliveryQuery) (data.DeliveryPage, error) {
	if err := s.record(ctx, "Deliveries", q); err != nil {
		return data.DeliveryPage{}, err
	}
	return s.deliveries(q)
}

func (s *Source) deliveries(q data.DeliveryQuery) (data.DeliveryPage, error) {
	limit := q.Limit
	if limit == 0 {
		limit = 100
	}
	page := data.DeliveryPage{Deliveries: []delivery.Delivery{}}
	s.mu.Lock()
	for i := len(s.Dels) - 1; i >= 0; i-- {
		d := s.Dels[i]
		if q.Before > 0 && d.ID >= q.Before || !Matches(q, d) {
			continue
		}
		if len(page.Deliveries) == limit {
			page.Next = page.Deliveries[limit-1].ID
			break
		}
		page.Deliveries = append(page.Deliveries, d)
	}
	s.mu.Unlock()
	var ids []string
	for _, d := range page.Deliveries {
		ids = append(ids, d.EndpointID)
	}
	page.Labels = s.labels(ids)
	return page, nil
}

func (s *Source) Delivery(ctx context.Context, id int64) (*delivery.Delivery, error) {
	if err := s.record(ctx, "Delivery", id); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.Dels {
		if d.ID == id {
			return &d, nil
		}
	}
	return nil, db.ErrNotFound
}

func (s *Source) Event(ctx context.Context, id string) (*outbox.Event, []delivery.Delivery, error) {
	if err := s.record(ctx, "Event", id); err != nil {
		return nil, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if at, ok := s.AgedOut[id]; ok {
		return nil, nil, &outbox.AgedOutError{ID: id, StoredAt: at}
	}
	ev := s.Events[id]
	if ev == nil {
		return nil, nil, db.ErrNotFound
	}
	var ds []delivery.Delivery
	for _, d := range s.Dels {
		if d.EventID == id {
			ds = append(ds, d)
		}
	}
	return ev, ds, nil
}

func (s *Source) Attempts(ctx context.Context, id int64) ([]delivery.Attempt, error) {
	if err := s.record(ctx, "Attempts", id); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.Atts[id]), nil
}

func (s *Source) groups(q data.DeliveryQuery) data.Groups {
	s.mu.Lock()
	var ds []delivery.Delivery
	for i := len(s.Dels) - 1; i >= 0; i-- {
		if Matches(q, s.Dels[i]) {
			ds = append(ds, s.Dels[i])
		}
	}
	s.mu.Unlock()
	out := data.GroupDeliveries(ds)
	s.name(&out, false)
	return out
}

// name fills the groups' endpoints, and their health with health.
func (s *Source) name(g *data.Groups, health bool) {
	var ids []string
	for _, gr := range g.Groups {
		ids = append(ids, gr.EndpointID)
	}
	labels := s.labels(ids)
	for i := range g.Groups {
		gr := &g.Groups[i]
		gr.Endpoint = labels[gr.EndpointID]
		if gr.Endpoint.ID == "" {
			gr.Endpoint.ID = gr.EndpointID
		}
		if !health {
			continue
		}
		for _, r := range s.Eps {
			if r.Endpoint.ID == gr.EndpointID {
				gr.Health = r.Health
			}
		}
	}
}

func (s *Source) DeadGroups(ctx context.Context, q data.DeliveryQuery) (data.Groups, error) {
	if err := s.record(ctx, "DeadGroups", q); err != nil {
		return data.Groups{}, err
	}
	q.State = delivery.StateDead
	return s.groups(q), nil
}

func (s *Source) Preview(ctx context.Context, q data.DeliveryQuery, now time.Time) (*data.Preview, error) {
	if err := s.record(ctx, "Preview", q); err != nil {
		return nil, err
	}
	q.State, q.CompletedBefore = delivery.StateDead, now
	pv := &data.Preview{Query: q, IDs: []int64{}, Groups: s.groups(q)}
	s.mu.Lock()
	for i := len(s.Dels) - 1; i >= 0; i-- {
		if Matches(q, s.Dels[i]) {
			pv.IDs = append(pv.IDs, s.Dels[i].ID)
		}
	}
	s.mu.Unlock()
	pv.Count = int64(len(pv.IDs))
	s.name(&pv.Groups, true)
	return pv, nil
}

func (s *Source) PreviewMarked(ctx context.Context, ids []int64, now time.Time) (*data.Preview, error) {
	if err := s.record(ctx, "PreviewMarked", ids); err != nil {
		return nil, err
	}
	s.mu.Lock()
	var ds []delivery.Delivery
	for i := len(s.Dels) - 1; i >= 0; i-- {
		if slices.Contains(ids, s.Dels[i].ID) {
			ds = append(ds, s.Dels[i])
		}
	}
	s.mu.Unlock()
	pv := data.Marked(ds)
	s.name(&pv.Groups, true)
	return pv, nil
}

func (s *Source) Lookup(ctx context.Context, id string) (data.Found, error) {
	if err := s.record(ctx, "Lookup", id); err != nil {
		return data.Found{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if n, err := strconv.ParseInt(id, 10, 64); err == nil {
		for _, d := range s.Dels {
			if d.ID == n {
				return data.Found{Kind: "delivery", ID: id}, nil
			}
		}
		return data.Found{}, db.ErrNotFound
	}
	for _, r := range s.Eps {
		if r.Endpoint.ID == id {
			return data.Found{Kind: "endpoint", ID: id}, nil
		}
	}
	if s.Events[id] != nil {
		return data.Found{Kind: "event", ID: id}, nil
	}
	if at, ok := s.AgedOut[id]; ok {
		return data.Found{}, &outbox.AgedOutError{ID: id, StoredAt: at}
	}
	for _, t := range s.TenantRows {
		if t.ID == id {
			return data.Found{Kind: "tenant", ID: id}, nil
		}
	}
	return data.Found{}, db.ErrNotFound
}

func (s *Source) Tenants(ctx context.Context, q data.TenantQuery) (data.TenantPage, error) {
	if err := s.record(ctx, "Tenants", q); err != nil {
		return data.TenantPage{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	ts := slices.Clone(s.TenantRows)
	slices.SortFunc(ts, func(a, b data.TenantRow) int { return strings.Compare(a.ID, b.ID) })
	limit := q.Limit
	if limit <= 0 {
		limit = 200
	}
	page := data.TenantPage{Rows: []data.TenantRow{}, Total: len(ts)}
	for _, t := range ts {
		if t.ID <= q.After || q.IDs != nil && !slices.Contains(q.IDs, t.ID) {
			continue
		}
		if len(page.Rows) == limit {
			page.Next = page.Rows[limit-1].ID
			break
		}
		page.Rows = append(page.Rows, t)
	}
	if q.IDs == nil {
		page.Trouble = slices.Clone(s.TroubleTenants)
	} else {
		page.Total = len(q.IDs)
	}
	return page, nil
}

func (s *Source) FindTenants(ctx context.Context, text string, limit int) ([]string, error) {
	if err := s.record(ctx, "FindTenants", text, limit); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for _, t := range s.TenantRows {
		if strings.Contains(strings.ToLower(t.ID+" "+t.Name), strings.ToLower(text)) && len(out) < limit {
			out = append(out, t.ID)
		}
	}
	return out, nil
}

func (s *Source) Storage(ctx context.Context, now time.Time) (*retention.Stats, error) {
	if err := s.record(ctx, "Storage", now); err != nil {
		return nil, err
	}
	if s.Stats == nil {
		return nil, errors.New("datafake: no storage stats")
	}
	return s.Stats, nil
}

// act records an action's call and, when it succeeds, its audit entry.
func (s *Source) act(ctx context.Context, method, action, target string, rows int64, args ...any) error {
	if err := s.record(ctx, method, args...); err != nil {
		return err
	}
	a, ok := audit.FromContext(ctx)
	if !ok {
		a = audit.Actor{Kind: audit.KindOS, ID: "tester"}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Trail = append(s.Trail, audit.Entry{ID: int64(len(s.Trail) + 1), Actor: a, Via: audit.ViaConsole, Action: action,
		Target: target, Rows: rows, Outcome: audit.OutcomeOK, At: time.Now()})
	return nil
}

func (s *Source) Replay(ctx context.Context, id int64) error {
	return s.act(ctx, "Replay", audit.ActionReplay, fmt.Sprintf("delivery %d", id), 1, id)
}

func (s *Source) Skip(ctx context.Context, id int64) error {
	return s.act(ctx, "Skip", audit.ActionSkip, fmt.Sprintf("delivery %d", id), 1, id)
}

func (s *Source) ReplayQuery(ctx context.Context, pv *data.Preview, target string) (int64, error) {
	return pv.Count, s.act(ctx, "ReplayQuery", audit.ActionReplay, target, pv.Count, pv, target)
}

func (s *Source) EnableEndpoint(ctx context.Context, id string) error {
	if err := s.act(ctx, "EnableEndpoint", audit.ActionEnable, id, 1, id); err != nil {
		return err
	}
	s.setEnabled(id, true, "")
	return nil
}

// setEnabled enables or disables endpoint id, as the database would: the
// rows read before keep what they read.
func (s *Source) setEnabled(id string, on bool, reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, r := range s.Eps {
		if r.Endpoint.ID == id {
			e := *r.Endpoint
			e.Enabled, e.DisabledReason = on, reason
			s.Eps[i].Endpoint = &e
		}
	}
}

func (s *Source) DisableEndpoint(ctx context.Context, id, reason string) error {
	if err := s.act(ctx, "DisableEndpoint", audit.ActionDisable, id, 1, id, reason); err != nil {
		return err
	}
	s.setEnabled(id, false, reason)
	return nil
}

func (s *Source) SendTestEvent(ctx context.Context, id string) (string, error) {
	return "evt_test1", s.act(ctx, "SendTestEvent", audit.ActionTest, id, 1, id)
}

func (s *Source) RotateSecret(ctx context.Context, id string, overlap time.Duration) (string, error) {
	return s.Secret, s.act(ctx, "RotateSecret", audit.ActionRotate, id, 1, id, overlap)
}

func (s *Source) UpdateEndpoint(ctx context.Context, id string, p endpoint.UpdateParams) error {
	return s.act(ctx, "UpdateEndpoint", audit.ActionEdit, id, 1, id, p)
}

func (s *Source) Refused(ctx context.Context, action, target string) error {
	if err := s.record(ctx, "Refused", action, target); err != nil {
		return err
	}
	a, _ := audit.FromContext(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Trail = append(s.Trail, audit.Entry{ID: int64(len(s.Trail) + 1), Actor: a, Via: audit.ViaConsole, Action: action,
		Target: target, Outcome: audit.OutcomeRefused, At: time.Now()})
	return nil
}

func (s *Source) Inbox(ctx context.Context, q data.InboxQuery) (data.InboxPage, error) {
	if err := s.record(ctx, "Inbox", q); err != nil {
		return data.InboxPage{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	out := data.InboxPage{Rejected: s.Rejected}
	for i := len(s.InboxItems) - 1; i >= 0; i-- {
		e := s.InboxItems[i]
		if q.Source != "" && e.Source != q.Source || q.State != "" && e.State != q.State || q.Before > 0 && e.ID >= q.Before ||
			q.EventID != "" && e.EventID != q.EventID && strconv.FormatInt(e.ID, 10) != q.EventID {
			continue
		}
		if q.Limit > 0 && len(out.Events) == q.Limit {
			out.Next = out.Events[q.Limit-1].ID
			break
		}
		out.Events = append(out.Events, e)
	}
	return out, nil
}

func (s *Source) InboxEvent(ctx context.Context, id int64) (*data.InboxEvent, error) {
	if err := s.record(ctx, "InboxEvent", id); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.InboxItems {
		if e.ID == id {
			return &e, nil
		}
	}
	return nil, db.ErrNotFound
}

func (s *Source) ReplayInbox(ctx context.Context, id int64) error {
	return s.act(ctx, "ReplayInbox", audit.ActionReplay, fmt.Sprintf("inbox event %d", id), 1, id)
}

func (s *Source) Audit(ctx context.Context, p audit.ListParams) (audit.Page, error) {
	if err := s.record(ctx, "Audit", p); err != nil {
		return audit.Page{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	page := audit.Page{Entries: []audit.Entry{}}
	for i := len(s.Trail) - 1; i >= 0; i-- {
		e := s.Trail[i]
		if p.Action != "" && e.Action != p.Action || p.Actor != "" && e.Actor.ID != p.Actor && e.Actor.Name != p.Actor ||
			p.Outcome != "" && e.Outcome != p.Outcome || p.Before > 0 && e.ID >= p.Before {
			continue
		}
		if p.Limit > 0 && len(page.Entries) == p.Limit {
			page.Next = page.Entries[len(page.Entries)-1].ID
			break
		}
		page.Entries = append(page.Entries, e)
	}
	return page, nil
}

// ErrDown is a convenient error for SetDown.
var ErrDown = errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")

var _ data.Source = (*Source)(nil)

// String summarises the calls, for test failures.
func (s *Source) String() string { return fmt.Sprint(s.Calls("")) }
