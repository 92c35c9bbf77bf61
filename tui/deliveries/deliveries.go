// Package deliveries is the console's events-and-deliveries view: every
// delivery newest first, with its endpoint's name and its tenant,
// filterable by state (retrying included), endpoint (by name), tenant,
// event type, event id, status, reason, error text and time; enter opens the event (pretty-printed payload and its
// deliveries, the cursor on the one opened), then a delivery's attempts
// as a timeline, then one attempt's request and response. r replays the
// delivery under the cursor, space marks, R replays the marked ones.
package deliveries

import (
	"strconv"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/tui/common"
	"github.com/hookd/hookd/tui/data"
	"github.com/hookd/hookd/tui/dlist"
	"github.com/hookd/hookd/tui/filter"
	"github.com/hookd/hookd/tui/inspect"
	"github.com/hookd/hookd/tui/keys"
	"github.com/hookd/hookd/tui/list"
	"github.com/hookd/hookd/tui/replay"
)

// Model is the deliveries view.
type Model struct {
	c      *common.Common
	list   dlist.Model
	replay replay.Model
	stack  inspect.Stack
	w, h   int
}

// New returns the view.
func New(c *common.Common) *Model {
	m := &Model{c: c, stack: inspect.NewStack(c), replay: replay.New(c)}
	m.list = dlist.New(c, "", filter.DeliveryKeys, []list.Column{
		{Title: "ID", Right: true, Drop: 3, Whole: true},
		{Title: "AGE", Min: 4, Right: true},
		{Title: "STATE", Min: 9},
		{Title: "N", Right: true, Drop: 4},
		{Title: "HTTP", Right: true, Drop: 6},
		{Title: "ENDPOINT", Min: 12, Max: 40, Grow: true},
		{Title: "TENANT", Min: 8, Max: 24, Drop: 5, HideEmpty: true},
		{Title: "TYPE", Min: 10, Max: 32, Drop: 2, Grow: true},
		{Title: "REASON", Min: 12, Max: 40, Grow: true},
		{Title: "EVENT", Min: 30, Max: 40, Drop: 7},
		{Title: "LAST ERROR", Min: 30, Flex: true, Drop: 8},
	}, func(d delivery.Delivery, l data.Label, now time.Time) list.Row {
		status := 0
		if d.LastStatus != nil {
			status = *d.LastStatus
		}
		name := d.EndpointID
		if l.ID != "" {
			name = l.Name()
		}
		reason := ""
		if d.LastErrorClass != "" {
			reason = data.Reason(d)
		}
		return list.Row{Style: inspect.StateStyle(c, d), Cells: []string{
			strconv.FormatInt(d.ID, 10), common.Age(now, d.CreatedAt), string(d.State), strconv.Itoa(d.Attempts),
			common.StatusCode(d.LastStatus), name, d.TenantID, d.EventType, reason, d.EventID, d.LastError,
		}, Keys: []any{d.ID, now.Sub(d.CreatedAt), nil, d.Attempts, status}}
	})
	m.list.Table.Markable = !c.ReadOnly
	return m
}

func (m *Model) Title() string { return "deliveries" }
func (m *Model) Init() tea.Cmd { return m.list.Reload() }

// Capturing reports a prompt or a dialog.
func (m *Model) Capturing() bool { return m.list.Prompt.Editing() || m.replay.Dialog.Active() }

// AppliedFilter is the filter applied now.
func (m *Model) AppliedFilter() string { return m.list.FilterText() }

// Nested reports a drill-down.
func (m *Model) Nested() bool { return m.stack.Active() }

// Depth counts the drill-down's screens.
func (m *Model) Depth() int { return m.stack.Depth() }

// Top closes the drill-down.
func (m *Model) Top() { m.stack.Close() }

// Refresh reloads the open screen or the list.
func (m *Model) Refresh() tea.Cmd {
	if m.stack.Active() {
		return m.stack.Refresh()
	}
	if m.replay.Dialog.Active() {
		// The rows stay put while the operator decides about one of them.
		m.list.Redraw()
		return nil
	}
	return m.list.Refresh()
}

// RefreshNow reloads the open screen or the list, even a frozen or long
// one.
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
	cmd, err := m.list.SetFilter(text)
	if err != nil {
		return nil, err
	}
	m.stack = inspect.NewStack(m.c)
	m.stack.SetSize(m.w, m.h-1)
	return cmd, nil
}

// OpenTarget opens a delivery's attempts or an event (a jump to its id),
// over the drill-down open here, so that back returns to it.
func (m *Model) OpenTarget(t common.Target) tea.Cmd {
	switch t.Kind {
	case common.KindDelivery:
		id, err := strconv.ParseInt(t.ID, 10, 64)
		if err != nil {
			return common.Errorf("%q is not a delivery id", t.ID)
		}
		return m.stack.Push(inspect.NewAttempts(m.c, id))
	case common.KindEvent:
		return m.stack.Push(inspect.NewEvent(m.c, t.ID, 0))
	}
	return nil
}

func (m *Model) SetSize(w, h int) {
	m.w, m.h = w, h
	m.list.Prompt.SetWidth(w)
	m.list.Table.SetSize(w, h-1)
	m.stack.SetSize(w, h-1)
}

func (m *Model) Update(msg tea.Msg) (common.Component, tea.Cmd) {
	if used, cmd := m.replay.Update(msg); used {
		if m.replay.IsDone(msg) {
			m.list.Table.ClearMarks()
			return m, tea.Batch(cmd, m.list.RefreshNow(), m.stack.Refresh())
		}
		return m, cmd
	}
	if k, ok := msg.(tea.KeyPressMsg); ok {
		if m.stack.Active() {
			return m, m.stackKey(k)
		}
		if used, cmd := m.list.Update(k, !m.c.ReadOnly); used {
			return m, cmd
		}
		return m, m.key(k)
	}
	_, cmd := m.list.Update(msg, false)
	return m, tea.Batch(cmd, m.stack.Update(msg))
}

func (m *Model) key(k tea.KeyPressMsg) tea.Cmd {
	km := m.c.Keys
	switch {
	case key.Matches(k, km.Enter), key.Matches(k, km.Payload):
		if d, ok := m.list.Selected(); ok {
			return m.stack.Open(inspect.NewEvent(m.c, d.EventID, d.ID))
		}
	case key.Matches(k, km.Copy):
		if d, ok := m.list.Selected(); ok {
			return tea.Batch(tea.SetClipboard(d.EventID), common.Status("copied event id "+d.EventID))
		}
	case keys.Pressed(k.String(), km.Replay):
		if d, ok := m.list.Selected(); ok {
			return m.replay.One(d, m.list.Label(d.EndpointID))
		}
		return common.Status("no delivery selected")
	case keys.Pressed(k.String(), km.ReplayAll):
		if ids := m.list.MarkedIDs(); len(ids) > 0 || m.c.ReadOnly {
			return m.replay.IDs(ids)
		}
		return common.Status("mark deliveries with space first; to replay everything a filter matches, use the dead letters view (4)")
	case keys.Pressed(k.String(), km.Mark) && m.c.ReadOnly:
		return common.Errorf("read-only: marking serves only a replay, which this console cannot do")
	case key.Matches(k, km.Back):
		if m.list.Table.MarkCount() > 0 {
			m.list.Table.ClearMarks()
			return common.Status("marks cleared")
		}
	}
	return nil
}

// stackKey handles r and p on the drill-down screens; the rest is theirs.
func (m *Model) stackKey(k tea.KeyPressMsg) tea.Cmd {
	km := m.c.Keys
	switch {
	case keys.Pressed(k.String(), km.Replay):
		return m.replay.ByID(m.stack.DeliveryID(), m.list.Items(), m.list.Label)
	case key.Matches(k, km.Payload):
		return m.stack.OpenPayload()
	}
	return m.stack.Update(k)
}

func (m *Model) View() string {
	st := m.c.Styles
	var out string
	if m.stack.Active() {
		out = st.Muted.Render("deliveries › "+m.stack.Breadcrumb()) + "\n" + m.stack.View()
	} else {
		hint := st.Muted.Render("/ filter: state: endpoint: tenant: type: status: reason: id: since: text")
		out = m.list.Prompt.Line(hint, st.Muted.Render(m.list.Info(st))) + "\n" + m.list.Body(st)
	}
	if m.replay.Dialog.Active() {
		return m.replay.Dialog.Over(st, out, m.w, max(m.h, 3))
	}
	return out
}

func (m *Model) ShortHelp() []key.Binding {
	k := m.c.Keys
	switch {
	case m.replay.Dialog.Active():
		return m.replay.Dialog.Help(k)
	case m.stack.Active():
		return m.stack.Top().ShortHelp()
	case m.list.Prompt.Editing():
		return filter.Keys()
	}
	return []key.Binding{k.Enter, k.Filter, k.Replay, k.Mark, k.Pause, k.Sort, k.Copy}
}

func (m *Model) FullHelp() [][]key.Binding { return common.KeysOf(m.HelpSections()) }

// HelpSections lists every key of the view and its drill-downs.
func (m *Model) HelpSections() []common.HelpSection {
	k := m.c.Keys
	markedReplay := k.ReplayAll
	markedReplay.SetHelp("R", "replay the marked")
	return append([]common.HelpSection{
		{Title: "deliveries", Keys: append(k.Movement(), k.Enter, k.Payload, k.Replay, k.Mark, markedReplay, k.Back,
			k.Filter, k.Sort, k.SortReverse, k.Pause, k.Copy)},
	}, inspect.HelpSections(k)...)
}

// ClearMarks unmarks every row (esc), reporting whether any was marked.
func (m *Model) ClearMarks() bool {
	n := m.list.Table.MarkCount()
	m.list.Table.ClearMarks()
	return n > 0
}
