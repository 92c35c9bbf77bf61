package inspect

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/tui/common"
	"github.com/hookd/hookd/tui/data"
	"github.com/hookd/hookd/tui/list"
	"github.com/hookd/hookd/tui/pager"
)

// EventScreen shows an event's pretty-printed payload and its deliveries;
// enter on a delivery opens its attempts.
type EventScreen struct {
	c       *common.Common
	id      int64
	eventID string
	from    int64 // the delivery the operator came from: the cursor starts there
	placed  bool
	ev      *outbox.Event
	ds      []delivery.Delivery
	labels  map[string]data.Label
	err     error
	loading bool
	table   list.Model
	payload pager.Model
	next    Screen
	w, h    int
}

type eventLoaded struct {
	to     int64
	ev     *outbox.Event
	ds     []delivery.Delivery
	labels map[string]data.Label
	err    error
}

// NewEvent returns the screen of event eventID with the cursor on
// delivery from (0: the first).
func NewEvent(c *common.Common, eventID string, from int64) *EventScreen {
	return &EventScreen{c: c, id: newID(), eventID: eventID, from: from, table: list.New(
		list.Column{Title: "DELIVERY", Right: true, Whole: true},
		list.Column{Title: "ENDPOINT", Min: 12, Max: 40},
		list.Column{Title: "STATE", Min: 9},
		list.Column{Title: "TRIES", Right: true, Drop: 2},
		list.Column{Title: "HTTP", Right: true},
		list.Column{Title: "LAST ERROR", Min: 12, Flex: true},
	)}
}

// DeliveryID returns the delivery under the cursor (r replays it), 0
// when none.
func (s *EventScreen) DeliveryID() int64 {
	if r, ok := s.table.Selected(); ok && r.Ref < len(s.ds) {
		return s.ds[r.Ref].ID
	}
	return 0
}

// EventID returns the event shown.
func (s *EventScreen) EventID() string { return s.eventID }

func (s *EventScreen) Title() string { return "event " + s.eventID }
func (s *EventScreen) Init() tea.Cmd { return s.Refresh() }

func (s *EventScreen) Next() Screen {
	n := s.next
	s.next = nil
	return n
}

func (s *EventScreen) Refresh() tea.Cmd {
	if s.loading {
		return nil
	}
	s.loading = true
	to, id := s.id, s.eventID
	return common.Run(s.c, func(ctx context.Context) eventLoaded {
		ev, ds, err := s.c.Source.Event(ctx, id)
		if err != nil {
			return eventLoaded{to: to, err: err}
		}
		var ids []string
		for _, d := range ds {
			ids = append(ids, d.EndpointID)
		}
		labels, err := s.c.Source.Labels(ctx, ids)
		return eventLoaded{to: to, ev: ev, ds: ds, labels: labels, err: err}
	}, func(err error) eventLoaded { return eventLoaded{to: to, err: err} })
}

func (s *EventScreen) SetSize(w, h int) {
	s.w, s.h = w, h
	s.layout()
}

func (s *EventScreen) layout() {
	tableH := min(len(s.ds)+1, max(s.h/3, 3))
	s.table.SetSize(s.w, tableH)
	s.payload.SetSize(s.w, max(s.h-tableH-3, 1))
}

func (s *EventScreen) Update(msg tea.Msg) (common.Component, tea.Cmd) {
	switch msg := msg.(type) {
	case eventLoaded:
		if msg.to != s.id {
			return s, nil
		}
		s.loading = false
		s.err = msg.err
		if msg.err == nil {
			s.ev, s.ds, s.labels = msg.ev, msg.ds, msg.labels
			s.payload.SetContent(data.PrettyJSON(msg.ev.Data))
			rows := make([]list.Row, len(msg.ds))
			for i, d := range msg.ds {
				rows[i] = DeliveryRow(s.c, d, s.labels[d.EndpointID])
				rows[i].Ref = i
			}
			s.table.SetRows(rows)
			if !s.placed && s.from != 0 {
				s.table.SetCursorID(strconv.FormatInt(s.from, 10))
			}
			s.placed = true
			s.layout()
		}
	case tea.KeyPressMsg:
		k := s.c.Keys
		switch {
		case key.Matches(msg, k.PageUp, k.PageDown):
			s.payload.Move(msg, k)
		case key.Matches(msg, k.Bottom) && s.table.Cursor() >= s.table.Len()-1,
			key.Matches(msg, k.Top) && s.table.Cursor() <= 0:
			// The deliveries' cursor is there already: the payload goes
			// to its end (or its start), which pgdn took dozens of
			// presses to reach in a long one.
			s.payload.Move(msg, k)
		case s.table.Move(msg, k):
		case key.Matches(msg, k.Enter):
			if id := s.DeliveryID(); id != 0 {
				s.next = NewAttempts(s.c, id)
			}
		case key.Matches(msg, k.Copy):
			if s.ev != nil {
				return s, tea.Batch(tea.SetClipboard(string(s.ev.Data)), common.Status("copied the payload of "+s.eventID))
			}
		}
	}
	return s, nil
}

func (s *EventScreen) View() string {
	st := s.c.Styles
	if s.ev == nil {
		if s.err != nil {
			// Wrapped: an aged-out event's reason is a sentence.
			return st.Error.Width(max(s.w, 20)).Render(common.Sanitize("cannot load event " + s.eventID + ": " + common.Describe(s.err)))
		}
		return st.Muted.Render("loading event " + s.eventID + "…")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s  %s %s  %s %s (%s ago)\n", st.Key.Render("event"), common.Sanitize(s.ev.ID), st.Key.Render("type"), common.Sanitize(s.ev.Type),
		st.Key.Render("created"), s.ev.Created.UTC().Format("2006-01-02 15:04:05Z"), common.Age(s.c.Now(), s.ev.Created))
	b.WriteString(s.table.View(st, "no deliveries (no endpoint matched)") + "\n")
	b.WriteString(st.Header.Render("payload") + st.Muted.Render("  (pgup/pgdn scroll · y copies it)") + "\n")
	b.WriteString(s.payload.View())
	if s.err != nil {
		b.WriteString("\n" + st.Error.Render(common.Describe(s.err)))
	}
	return b.String()
}

func (s *EventScreen) ShortHelp() []key.Binding {
	k := s.c.Keys
	return []key.Binding{k.Enter, k.PageDown, k.Replay, k.Copy, k.Back}
}

func (s *EventScreen) FullHelp() [][]key.Binding {
	k := s.c.Keys
	return [][]key.Binding{{k.Up, k.Down, k.Top, k.Bottom}, {k.PageUp, k.PageDown}, {k.Enter, k.Replay, k.Copy, k.Back}}
}

// DeliveryRow renders a delivery as a row of the event screen's table;
// the row's id is the delivery id.
func DeliveryRow(c *common.Common, d delivery.Delivery, l data.Label) list.Row {
	name := d.EndpointID
	if l.ID != "" {
		name = l.Name()
	}
	r := list.Row{ID: strconv.FormatInt(d.ID, 10), Cells: []string{
		strconv.FormatInt(d.ID, 10), name, string(d.State), strconv.Itoa(d.Attempts), common.StatusCode(d.LastStatus), d.LastError,
	}, Keys: []any{d.ID, nil, nil, d.Attempts}}
	r.Style = StateStyle(c, d)
	return r
}
