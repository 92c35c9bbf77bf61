// Package deadletters is the console's dead-letter view: deliveries whose
// retry budget is spent, newest death first, with their endpoint's name,
// tenant, reason and last error, filterable (tenant: included); v groups them by endpoint and reason
// ("Legacy ERP: 94 × connect: connection refused"). r replays the current
// one after a question; R replays the marked ones, or everything the
// filter (or the group under the cursor) matches after a preview, each
// confirmed by typing the count.
package deadletters

import (
	"strconv"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/tui/common"
	"github.com/hookd/hookd/tui/confirm"
	"github.com/hookd/hookd/tui/data"
	"github.com/hookd/hookd/tui/dlist"
	"github.com/hookd/hookd/tui/filter"
	"github.com/hookd/hookd/tui/inspect"
	"github.com/hookd/hookd/tui/keys"
	"github.com/hookd/hookd/tui/list"
	"github.com/hookd/hookd/tui/replay"
)

// FilterKeys are the filter terms the view accepts (the state is dead).
var FilterKeys = []string{"endpoint", "tenant", "type", "id", "status", "reason", "since", "until", filter.TextKey}

// diedCol is the column the list sorts by at first: newest death first.
const diedCol = 1

// Model is the dead-letter view.
type Model struct {
	c       *common.Common
	list    dlist.Model
	replay  replay.Model
	stack   inspect.Stack
	grouped bool
	// groupFilter, while a group's dead letters show (enter on a group),
	// is the filter the groups had, to return to.
	groupFilter *string
	groups      groupList
	w, h        int
}

// New returns the view.
func New(c *common.Common) *Model {
	m := &Model{c: c, stack: inspect.NewStack(c), replay: replay.New(c), groups: newGroupList(c)}
	m.list = dlist.New(c, delivery.StateDead, FilterKeys, []list.Column{
		{Title: "ID", Right: true, Drop: 3, Whole: true},
		{Title: "DIED", Min: 4, Right: true},
		{Title: "ENDPOINT", Min: 12, Max: 40, Grow: true},
		{Title: "TENANT", Min: 8, Max: 24, Drop: 5, HideEmpty: true},
		{Title: "TYPE", Min: 10, Max: 32, Drop: 2, Grow: true},
		{Title: "N", Right: true, Drop: 4},
		{Title: "HTTP", Right: true, Drop: 6},
		{Title: "REASON", Min: 16, Max: 48, Grow: true},
		{Title: "LAST ERROR", Min: 30, Flex: true, Drop: 7},
	}, func(d delivery.Delivery, l data.Label, now time.Time) list.Row {
		died := d.UpdatedAt
		if d.CompletedAt != nil {
			died = *d.CompletedAt
		}
		status := 0
		if d.LastStatus != nil {
			status = *d.LastStatus
		}
		return list.Row{Cells: []string{
			strconv.FormatInt(d.ID, 10), common.Age(now, died), name(l, d.EndpointID), d.TenantID, d.EventType,
			strconv.Itoa(d.Attempts), common.StatusCode(d.LastStatus), data.Reason(d), d.LastError,
		}, Keys: []any{d.ID, died, nil, nil, nil, d.Attempts, status}}
	})
	m.list.Noun = "dead letters"
	m.list.Table.Markable = !c.ReadOnly
	m.list.Table.SetSort(diedCol, true)
	m.list.Prompt = filter.NewPrompt("endpoint:legacy tenant:cus_42 reason:connect status:5xx since:1h refused")
	return m
}

func name(l data.Label, id string) string {
	if l.ID == "" {
		return id
	}
	return l.Name()
}

func (m *Model) Title() string { return "dead letters" }
func (m *Model) Init() tea.Cmd { return m.list.Reload() }

// Capturing reports a prompt or a dialog.
func (m *Model) Capturing() bool { return m.replay.Dialog.Active() || m.list.Prompt.Editing() }

// AppliedFilter is the filter applied now.
func (m *Model) AppliedFilter() string { return m.list.FilterText() }

// Nested reports a drill-down.
func (m *Model) Nested() bool { return m.stack.Active() || m.groupFilter != nil }

// Depth counts the drill-down's screens, and one for a group's dead
// letters opened from the groups.
func (m *Model) Depth() int {
	n := m.stack.Depth()
	if m.groupFilter != nil {
		n++
	}
	return n
}

// Top closes the drill-down, and returns from a group's dead letters to
// the groups.
func (m *Model) Top() {
	m.stack.Close()
	if m.groupFilter != nil {
		_ = m.backToGroups()
	}
}

// backToGroups shows the groups again, under the filter they had when
// enter opened one of them.
func (m *Model) backToGroups() tea.Cmd {
	prev := *m.groupFilter
	m.groupFilter = nil
	cmd, err := m.list.SetFilter(prev)
	if err != nil {
		return common.Errorf("%s", err)
	}
	m.grouped = true
	m.groups.loaded, m.groups.took = false, 0
	return tea.Batch(cmd, m.groups.reload(m.query()))
}

// Refresh reloads the open screen, the groups or the list.
func (m *Model) Refresh() tea.Cmd {
	switch {
	case m.stack.Active():
		return m.stack.Refresh()
	case m.grouped:
		return m.groups.refresh(m.query())
	}
	if m.replay.Dialog.Active() {
		// The rows stay put while the operator decides about one of them.
		m.list.Redraw()
		return nil
	}
	return m.list.Refresh()
}

// RefreshNow reloads the open screen, the groups or the list, even a
// frozen or long one.
func (m *Model) RefreshNow() tea.Cmd {
	switch {
	case m.stack.Active():
		return m.stack.Refresh()
	case m.grouped:
		return m.groups.reload(m.query())
	}
	return m.list.RefreshNow()
}

func (m *Model) query() (data.DeliveryQuery, bool) { return m.list.Query() }

// List exposes the list, for tests.
func (m *Model) List() *dlist.Model { return &m.list }

// Confirm exposes the dialog, for tests.
func (m *Model) Confirm() *confirm.Model { return &m.replay.Dialog }

// Grouped reports whether the view shows groups.
func (m *Model) Grouped() bool { return m.grouped }

// Groups returns the groups shown, for tests.
func (m *Model) Groups() []data.Group { return m.groups.items }

// SetFilter applies a filter as if typed at the prompt, closing any
// drill-down and showing the list.
func (m *Model) SetFilter(text string) (tea.Cmd, error) {
	cmd, err := m.list.SetFilter(text)
	if err != nil {
		return nil, err
	}
	m.stack = inspect.NewStack(m.c)
	m.stack.SetSize(m.w, m.h-1)
	m.grouped, m.groupFilter = false, nil
	return cmd, nil
}

func (m *Model) SetSize(w, h int) {
	m.w, m.h = w, h
	m.list.Prompt.SetWidth(w)
	m.list.Table.SetSize(w, h-1)
	m.groups.table.SetSize(w, h-1)
	m.stack.SetSize(w, h-1)
}

func (m *Model) Update(msg tea.Msg) (common.Component, tea.Cmd) {
	if used, cmd := m.replay.Update(msg); used {
		if m.replay.IsDone(msg) {
			m.list.Table.ClearMarks()
			return m, tea.Batch(cmd, m.list.RefreshNow(), m.groups.reload(m.query()), m.stack.Refresh())
		}
		return m, cmd
	}
	if used, cmd := m.groups.update(msg); used {
		return m, cmd
	}
	if k, ok := msg.(tea.KeyPressMsg); ok {
		if m.stack.Active() {
			return m, m.stackKey(k)
		}
		if m.grouped && !m.list.Prompt.Editing() && !m.replay.Dialog.Active() {
			return m, m.groupKey(k)
		}
		before := m.list.FilterText()
		if used, cmd := m.list.Update(k, !m.c.ReadOnly); used {
			if m.grouped && m.list.FilterText() != before {
				// A new filter: the groups wait for the list to resolve
				// an endpoint name, then refresh.
				m.groups.loaded, m.groups.took = false, 0
				m.groups.gen++
				cmd = tea.Batch(cmd, m.groups.reload(m.query()))
			}
			return m, cmd
		}
		return m, m.key(k)
	}
	_, cmd := m.list.Update(msg, false)
	return m, tea.Batch(cmd, m.stack.Update(msg))
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

func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	k := m.c.Keys
	switch {
	case key.Matches(msg, k.Group):
		m.grouped = true
		return tea.Batch(m.groups.reload(m.query()), common.Status("grouped by endpoint and reason (v lists them again)"))
	case key.Matches(msg, k.Enter):
		if d, ok := m.list.Selected(); ok {
			return m.stack.Open(inspect.NewAttempts(m.c, d.ID))
		}
	case key.Matches(msg, k.Payload):
		if d, ok := m.list.Selected(); ok {
			return m.stack.Open(inspect.NewEvent(m.c, d.EventID, d.ID))
		}
	case key.Matches(msg, k.Copy):
		if d, ok := m.list.Selected(); ok {
			return tea.Batch(tea.SetClipboard(d.EventID), common.Status("copied event id "+d.EventID))
		}
	case keys.Pressed(msg.String(), k.Replay):
		d, ok := m.list.Selected()
		if !ok {
			return common.Status("no dead letter selected")
		}
		return m.replay.One(d, m.list.Label(d.EndpointID))
	case keys.Pressed(msg.String(), k.ReplayAll):
		if ids := m.list.MarkedIDs(); len(ids) > 0 {
			return m.replay.IDs(ids)
		}
		return m.replayMatching()
	case keys.Pressed(msg.String(), k.Mark) && m.c.ReadOnly:
		return common.Errorf("read-only: marking serves only a replay, which this console cannot do")
	case key.Matches(msg, k.Back) && m.list.Table.MarkCount() > 0:
		m.list.Table.ClearMarks()
		return common.Status("marks cleared")
	case key.Matches(msg, k.Back, k.Quit) && m.groupFilter != nil:
		return m.backToGroups()
	}
	return nil
}

func (m *Model) replayMatching() tea.Cmd {
	q, ok := m.query()
	if !ok {
		return common.Status("the endpoint name is still being looked up; try again in a moment")
	}
	return m.replay.Matching(q, describe(m.list.FilterText()))
}

func describe(filterText string) string {
	if filterText == "" {
		return "(no filter: every endpoint)"
	}
	return "/" + filterText
}

func (m *Model) View() string {
	st := m.c.Styles
	var out string
	switch {
	case m.stack.Active():
		out = st.Muted.Render("dead letters › "+m.stack.Breadcrumb()) + "\n" + m.stack.View()
	case m.grouped:
		out = m.groups.view(m.list.Prompt.Line(st.Muted.Render("grouped by endpoint and reason · v lists them"), ""))
	default:
		hint := st.Muted.Render("/ filter: endpoint: tenant: reason: status: type: since: text")
		out = m.list.Prompt.Line(hint, st.Muted.Render(m.list.Info(st))) + "\n" + m.list.Body(st)
	}
	// The dialog holds the keyboard wherever it was opened (a preview may
	// answer after the operator drilled in): draw it over whatever shows.
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
	case m.grouped:
		return []key.Binding{k.Enter, groupReplayBinding(k), k.Group, k.Filter}
	}
	return []key.Binding{k.Replay, k.ReplayAll, k.Mark, k.Enter, k.Payload, k.Group, k.Filter, k.Pause}
}

func (m *Model) FullHelp() [][]key.Binding { return common.KeysOf(m.HelpSections()) }

// groupReplayBinding is R on a group.
func groupReplayBinding(k *keys.KeyMap) key.Binding {
	b := k.ReplayAll
	b.SetHelp("R", "replay the group (preview)")
	return b
}

// HelpSections lists every key of the view and its drill-downs.
func (m *Model) HelpSections() []common.HelpSection {
	k := m.c.Keys
	return append([]common.HelpSection{
		{Title: "dead letters", Keys: append(k.Movement(), k.Enter, k.Payload, k.Replay, k.ReplayAll, k.Mark, k.Back,
			k.Filter, k.Sort, k.SortReverse, k.Pause, k.Group, k.Copy)},
		{Title: "dead letters grouped (v)", Keys: []key.Binding{k.Enter, groupReplayBinding(k), k.Group, k.Filter}},
	}, inspect.HelpSections(k)...)
}

// ClearMarks unmarks every row (esc), reporting whether any was marked.
func (m *Model) ClearMarks() bool {
	n := m.list.Table.MarkCount()
	m.list.Table.ClearMarks()
	return n > 0
}
