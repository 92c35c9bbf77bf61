// Package datafake is an in-memory data.Source that records every call,
// for model-level tests of the console's views. The PostgreSQL Source is
// tested against a real database; this fake only stands in for it where
// a test checks what a view asks for.
package datafake

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/tui/data"
)

// Call is one recorded call: the method and its arguments.
type Call struct {
	Method string
	Args   []any
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
	Dels       []delivery.Delivery // newest last; List returns newest first
	Events     map[string]*outbox.Event
	Atts       map[int64][]delivery.Attempt
	InboxItems []data.InboxEvent
}

// New returns an empty fake.
func New() *Source {
	return &Source{Events: map[string]*outbox.Event{}, Atts: map[int64][]delivery.Attempt{}}
}

func (s *Source) record(method string, args ...any) error {
	s.mu.Lock()
	defer s.mu.Unlock() // also on the deliberate panic
	s.calls = append(s.calls, Call{Method: method, Args: args})
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
		case "Replay", "ReplayIDs", "ReplayMatching", "EnableEndpoint", "DisableEndpoint", "ReplayInbox":
			out = append(out, c)
		}
	}
	return out
}

func (s *Source) Ping(ctx context.Context) error { return s.record("Ping") }

func (s *Source) Overview(ctx context.Context, now time.Time) (*data.Overview, error) {
	if err := s.record("Overview", now); err != nil {
		return nil, err
	}
	if s.Over == nil {
		return &data.Overview{At: now}, nil
	}
	return s.Over, nil
}

func (s *Source) Endpoints(ctx context.Context, now time.Time) ([]data.EndpointRow, error) {
	if err := s.record("Endpoints", now); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.Eps), nil
}

func matches(f delivery.Filter, d delivery.Delivery) bool {
	if f.State != "" && d.State != f.State || f.EndpointID != "" && d.EndpointID != f.EndpointID || f.EventID != "" && d.EventID != f.EventID {
		return false
	}
	if !f.CompletedBefore.IsZero() && (d.CompletedAt == nil || d.CompletedAt.After(f.CompletedBefore)) {
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

func (s *Source) Deliveries(ctx context.Context, p delivery.ListParams) (delivery.Page, error) {
	if err := s.record("Deliveries", p); err != nil {
		return delivery.Page{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	limit := p.Limit
	if limit == 0 {
		limit = 50
	}
	page := delivery.Page{Deliveries: []delivery.Delivery{}}
	for i := len(s.Dels) - 1; i >= 0; i-- {
		d := s.Dels[i]
		if p.Before > 0 && d.ID >= p.Before || !matches(p.Filter, d) {
			continue
		}
		if len(page.Deliveries) == limit {
			page.Next = page.Deliveries[limit-1].ID
			break
		}
		page.Deliveries = append(page.Deliveries, d)
	}
	return page, nil
}

func (s *Source) Delivery(ctx context.Context, id int64) (*delivery.Delivery, error) {
	if err := s.record("Delivery", id); err != nil {
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
	if err := s.record("Event", id); err != nil {
		return nil, nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
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
	if err := s.record("Attempts", id); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.Atts[id]), nil
}

func (s *Source) CountMatching(ctx context.Context, f delivery.Filter) (int64, error) {
	if err := s.record("CountMatching", f); err != nil {
		return 0, err
	}
	if f.State == "" {
		f.State = delivery.StateDead
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var n int64
	for _, d := range s.Dels {
		if matches(f, d) {
			n++
		}
	}
	return n, nil
}

func (s *Source) Replay(ctx context.Context, id int64) error { return s.record("Replay", id) }

func (s *Source) ReplayIDs(ctx context.Context, ids []int64) (int64, error) {
	return int64(len(ids)), s.record("ReplayIDs", ids)
}

func (s *Source) ReplayMatching(ctx context.Context, f delivery.Filter) (int64, error) {
	n, _ := s.CountMatching(ctx, f)
	return n, s.record("ReplayMatching", f)
}

func (s *Source) EnableEndpoint(ctx context.Context, id string) error {
	return s.record("EnableEndpoint", id)
}

func (s *Source) DisableEndpoint(ctx context.Context, id, reason string) error {
	return s.record("DisableEndpoint", id, reason)
}

func (s *Source) Inbox(ctx context.Context, q data.InboxQuery) (data.InboxPage, error) {
	if err := s.record("Inbox", q); err != nil {
		return data.InboxPage{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out data.InboxPage
	for i := len(s.InboxItems) - 1; i >= 0; i-- {
		e := s.InboxItems[i]
		if q.Source != "" && e.Source != q.Source || q.State != "" && e.State != q.State || q.Before > 0 && e.ID >= q.Before {
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
	if err := s.record("InboxEvent", id); err != nil {
		return nil, err
	}
	for _, e := range s.InboxItems {
		if e.ID == id {
			return &e, nil
		}
	}
	return nil, db.ErrNotFound
}

func (s *Source) ReplayInbox(ctx context.Context, id int64) error {
	return s.record("ReplayInbox", id)
}

// ErrDown is a convenient error for SetDown.
var ErrDown = errors.New("dial tcp 127.0.0.1:5432: connect: connection refused")

var _ data.Source = (*Source)(nil)

// String summarises the calls, for test failures.
func (s *Source) String() string { return fmt.Sprint(s.Calls("")) }
