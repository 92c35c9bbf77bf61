// Package deliveries is the console's events-and-deliveries view: every
// delivery newest first, filterable by state, endpoint, event type, event
// id and time; enter opens the event (pretty-printed payload and its
// deliveries), then a delivery's attempts as a timeline, then one
// attempt's request and response.
package deliveries

import (
	"fmt"
	"strconv"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/tui/common"
	"github.com/hookd/hookd/tui/dlist"
	"github.com/hookd/hookd/tui/filter"
	"github.com/hookd/hookd/tui/inspect"
	"github.com/hookd/hookd/tui/list"
)

// Model is the deliveries view.
type Model struct {
	c     *common.Common
	list  dlist.Model
	stack inspect.Stack
	w, h  int
}

// New returns the view.
func New(c *common.Common) *Model {
	m := &Model{c: c, stack: inspect.NewStack(c)}
	m.list = dlist.New(c, delivery.Filter{}, filter.DeliveryKeys, []list.Column{
		{Title: "ID", Width: 8, Right: true},
		{Title: "AGE", Width: 4, Right: true},
		{Title: "STATE", Width: 9},
		{Title: "N", Width: 2, Right: true},
		{Title: "HTTP", Width: 4, Right: true},
		{Title: "ENDPOINT", Width: 16},
		{Title: "TYPE", Width: 14},
		{Title: "EVENT"},
	}, func(d delivery.Delivery) list.Row {
		return list.Row{ID: strconv.FormatInt(d.ID, 10), Style: inspect.StateStyle(c, d), Cells: []string{
			strconv.FormatInt(d.ID, 10), common.Age(c.Now(), d.CreatedAt), inspect.StateLabel(d), strconv.Itoa(d.Attempts),
			common.StatusCode(d.LastStatus), d.EndpointID, d.EventType, d.EventID,
		}}
	})
	return m
}

func (m *Model) Title() string { return "deliveries" }
func (m *Model) Init() tea.Cmd { return m.list.Reload() }

// Nested reports a prompt or drill-down.
func (m *Model) Nested() bool { return m.list.Prompt.Editing() || m.stack.Active() }

// Refresh reloads the open screen or the list.
func (m *Model) Refresh() tea.Cmd {
	if m.stack.Active() {
		return m.stack.Refresh()
	}
	return m.list.Refresh()
}

// RefreshNow reloads the open screen or the list, even a long one.
func (m *Model) RefreshNow() tea.Cmd {
	if m.stack.Active() {
		return m.stack.Refresh()
	}
	return m.list.RefreshNow()
}

// List exposes the list, for tests.
func (m *Model) List() *dlist.Model { return &m.list }

// Stack exposes the drill-down, for tests.
func (m *Model) Stack() *inspect.Stack { return &m.stack }

// SetFilter applies a filter as if typed at the prompt, closing any
// drill-down.
func (m *Model) SetFilter(text string) (tea.Cmd, error) {
	m.stack = inspect.NewStack(m.c)
	m.stack.SetSize(m.w, m.h-1)
	return m.list.SetFilter(text)
}

func (m *Model) SetSize(w, h int) {
	m.w, m.h = w, h
	m.list.Prompt.SetWidth(w)
	m.list.Table.SetSize(w, h-1)
	m.stack.SetSize(w, h-1)
}

func (m *Model) Update(msg tea.Msg) (common.Component, tea.Cmd) {
	if k, ok := msg.(tea.KeyPressMsg); ok {
		if m.stack.Active() {
			return m, m.stack.Update(k)
		}
		if used, cmd := m.list.Update(k, false); used {
			return m, cmd
		}
		keys := m.c.Keys
		switch {
		case key.Matches(k, keys.Enter):
			if d, ok := m.list.Selected(); ok {
				return m, m.stack.Open(inspect.NewEvent(m.c, d.EventID))
			}
		case key.Matches(k, keys.Copy):
			if d, ok := m.list.Selected(); ok {
				return m, tea.Batch(tea.SetClipboard(d.EventID), common.Status("copied event id "+d.EventID))
			}
		}
		return m, nil
	}
	_, cmd := m.list.Update(msg, false)
	return m, tea.Batch(cmd, m.stack.Update(msg))
}

func (m *Model) View() string {
	st := m.c.Styles
	if m.stack.Active() {
		return st.Muted.Render("deliveries › "+m.stack.Breadcrumb()) + "\n" + m.stack.View()
	}
	info := fmt.Sprintf("%d loaded", len(m.list.Items()))
	if m.list.HasMore() {
		info += "+"
	}
	if m.list.RefreshPaused() {
		info += " · " + common.RefreshPausedText(dlist.MaxRefresh)
	}
	if err := m.list.Err(); err != nil {
		info += " · " + st.Error.Render(common.Describe(err))
	}
	body := m.list.Table.View(st, "no deliveries match")
	if !m.list.Ready() && m.list.Err() == nil {
		body = st.Muted.Render("loading…")
	}
	hint := st.Muted.Render("/ to filter: state: endpoint: type: id: since:")
	return m.list.Prompt.Line(hint, st.Muted.Render(info)) + "\n" + body
}

func (m *Model) ShortHelp() []key.Binding {
	if m.stack.Active() {
		return m.stack.Top().ShortHelp()
	}
	k := m.c.Keys
	return []key.Binding{k.Up, k.Down, k.Filter, k.Enter, k.Copy}
}

func (m *Model) FullHelp() [][]key.Binding {
	if m.stack.Active() {
		return m.stack.Top().FullHelp()
	}
	k := m.c.Keys
	return [][]key.Binding{k.Movement(), {k.Filter, k.Enter, k.Copy}}
}
