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
	ev      *outbox.Event
	ds      []delivery.Delivery
	err     error
	loading bool
	table   list.Model
	payload pager.Model
	next    Screen
	w, h    int
}

type eventLoaded struct {
	to  int64
	ev  *outbox.Event
	ds  []delivery.Delivery
	err error
}

// NewEvent returns the screen of event eventID.
func NewEvent(c *common.Common, eventID string) *EventScreen {
	return &EventScreen{c: c, id: newID(), eventID: eventID, table: list.New(
		list.Column{Title: "DELIVERY", Width: 9, Right: true},
		list.Column{Title: "ENDPOINT", Width: 22},
		list.Column{Title: "STATE", Width: 10},
		list.Column{Title: "TRIES", Width: 5, Right: true},
		list.Column{Title: "STATUS", Width: 6, Right: true},
		list.Column{Title: "LAST ERROR"},
	)}
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
		return eventLoaded{to: to, ev: ev, ds: ds, err: err}
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
			s.ev, s.ds = msg.ev, msg.ds
			s.payload.SetContent(data.PrettyJSON(msg.ev.Data))
			rows := make([]list.Row, len(msg.ds))
			for i, d := range msg.ds {
				rows[i] = DeliveryRow(s.c, d)
			}
			s.table.SetRows(rows)
			s.layout()
		}
	case tea.KeyPressMsg:
		k := s.c.Keys
		switch {
		case key.Matches(msg, k.PageUp, k.PageDown):
			s.payload.Move(msg, k)
		case s.table.Move(msg, k):
		case key.Matches(msg, k.Enter):
			if r, ok := s.table.Selected(); ok {
				id, _ := strconv.ParseInt(r.ID, 10, 64)
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
			return st.Error.Render("cannot load event " + s.eventID + ": " + common.Describe(s.err))
		}
		return st.Muted.Render("loading event " + s.eventID + "…")
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s  %s %s  %s %s (%s ago)\n", st.Key.Render("event"), common.Sanitize(s.ev.ID), st.Key.Render("type"), common.Sanitize(s.ev.Type),
		st.Key.Render("created"), s.ev.Created.UTC().Format("2006-01-02 15:04:05Z"), common.Age(s.c.Now(), s.ev.Created))
	b.WriteString(s.table.View(st, "no deliveries (no endpoint matched)") + "\n")
	b.WriteString(st.Header.Render("payload") + st.Muted.Render("  (pgup/pgdn scroll · y copy)") + "\n")
	b.WriteString(s.payload.View())
	if s.err != nil {
		b.WriteString("\n" + st.Error.Render(common.Describe(s.err)))
	}
	return b.String()
}

func (s *EventScreen) ShortHelp() []key.Binding {
	k := s.c.Keys
	return []key.Binding{k.Up, k.Down, k.Enter, k.PageDown, k.Copy, k.Back}
}

func (s *EventScreen) FullHelp() [][]key.Binding {
	k := s.c.Keys
	return [][]key.Binding{{k.Up, k.Down, k.Top, k.Bottom}, {k.PageUp, k.PageDown}, {k.Enter, k.Copy, k.Back}}
}

// DeliveryRow renders a delivery as a row of the event screen's table;
// the row's id is the delivery id.
func DeliveryRow(c *common.Common, d delivery.Delivery) list.Row {
	r := list.Row{ID: strconv.FormatInt(d.ID, 10), Cells: []string{
		strconv.FormatInt(d.ID, 10), d.EndpointID, StateLabel(d), strconv.Itoa(d.Attempts), common.StatusCode(d.LastStatus), d.LastError,
	}}
	r.Style = StateStyle(c, d)
	return r
}
