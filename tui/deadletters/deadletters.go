// Package deadletters is the console's dead-letter view: deliveries whose
// retry budget is spent, with their reason and last error, filterable;
// space marks, r replays the current one, R replays the marked ones or,
// with none marked, every dead letter matching the filter. Every replay
// asks first, stating the count, and defaults to cancel.
package deadletters

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/tui/common"
	"github.com/hookd/hookd/tui/confirm"
	"github.com/hookd/hookd/tui/dlist"
	"github.com/hookd/hookd/tui/filter"
	"github.com/hookd/hookd/tui/inspect"
	"github.com/hookd/hookd/tui/keys"
	"github.com/hookd/hookd/tui/list"
)

// FilterKeys are the filter terms the view accepts (the state is dead).
var FilterKeys = []string{"endpoint", "type", "id", "since", "until"}

// Model is the dead-letter view.
type Model struct {
	c       *common.Common
	list    dlist.Model
	confirm confirm.Model
	stack   inspect.Stack
	w, h    int
}

// replayed answers a replay.
type replayed struct {
	n   int64
	one int64 // the id, for a single replay
	err error
}

// counted answers the count of dead letters matching the filter, for R;
// f is bounded by CompletedBefore and is what the replay uses.
type counted struct {
	f   delivery.Filter
	n   int64
	err error
}

// New returns the view.
func New(c *common.Common) *Model {
	m := &Model{c: c, stack: inspect.NewStack(c)}
	m.list = dlist.New(c, delivery.Filter{State: delivery.StateDead}, FilterKeys, []list.Column{
		{Title: "ID", Width: 8, Right: true},
		{Title: "AGE", Width: 4, Right: true},
		{Title: "ENDPOINT", Width: 16},
		{Title: "TYPE", Width: 14},
		{Title: "N", Width: 2, Right: true},
		{Title: "HTTP", Width: 4, Right: true},
		{Title: "REASON", Width: 11},
		{Title: "LAST ERROR"},
	}, func(d delivery.Delivery) list.Row {
		at := d.UpdatedAt
		if d.CompletedAt != nil {
			at = *d.CompletedAt
		}
		return list.Row{ID: strconv.FormatInt(d.ID, 10), Cells: []string{
			strconv.FormatInt(d.ID, 10), common.Age(c.Now(), at), d.EndpointID, d.EventType, strconv.Itoa(d.Attempts),
			common.StatusCode(d.LastStatus), d.LastErrorClass, d.LastError,
		}}
	})
	m.list.Table.Markable = true
	m.list.Prompt = filter.NewPrompt("endpoint:ep_… type:payment.* id:evt_… since:1h")
	return m
}

func (m *Model) Title() string { return "dead letters" }
func (m *Model) Init() tea.Cmd { return m.list.Reload() }

// Nested reports a dialog, prompt or drill-down.
func (m *Model) Nested() bool {
	return m.confirm.Active() || m.list.Prompt.Editing() || m.stack.Active()
}

// Refresh reloads unless rows are marked (the operator is choosing) or a
// dialog is open.
func (m *Model) Refresh() tea.Cmd {
	if m.stack.Active() {
		return m.stack.Refresh()
	}
	if m.list.Table.MarkCount() > 0 || m.confirm.Active() {
		return nil
	}
	return m.list.Refresh()
}

// RefreshNow reloads the open screen or the list, even a long one or one
// with marks (marks survive a reload).
func (m *Model) RefreshNow() tea.Cmd {
	if m.stack.Active() {
		return m.stack.Refresh()
	}
	if m.confirm.Active() {
		return nil
	}
	return m.list.RefreshNow()
}

// List exposes the list, for tests.
func (m *Model) List() *dlist.Model { return &m.list }

// Confirm exposes the dialog, for tests.
func (m *Model) Confirm() *confirm.Model { return &m.confirm }

// SetFilter applies a filter as if typed at the prompt.
func (m *Model) SetFilter(text string) (tea.Cmd, error) { return m.list.SetFilter(text) }

func (m *Model) SetSize(w, h int) {
	m.w, m.h = w, h
	m.list.Prompt.SetWidth(w)
	m.list.Table.SetSize(w, h-1)
	m.stack.SetSize(w, h-1)
}

func (m *Model) Update(msg tea.Msg) (common.Component, tea.Cmd) {
	switch msg := msg.(type) {
	case replayed:
		return m, m.afterReplay(msg)
	case counted:
		if msg.err != nil {
			return m, common.Errorf("count dead letters: %s", common.Describe(msg.err))
		}
		if msg.n == 0 {
			return m, common.Status("no dead letters match the filter")
		}
		f := msg.f
		m.confirm.Open(fmt.Sprintf("Replay ALL %s dead letters matching %s?", common.Count(msg.n), describe(m.list.Prompt.Applied())),
			m.run(func(ctx context.Context) replayed {
				n, err := m.c.Source.ReplayMatching(ctx, f)
				return replayed{n: n, err: err}
			}))
		return m, nil
	case tea.KeyPressMsg:
		if m.confirm.Active() {
			return m, m.confirm.Update(msg, m.c.Keys)
		}
		if m.stack.Active() {
			return m, m.stack.Update(msg)
		}
		if used, cmd := m.list.Update(msg, true); used {
			return m, cmd
		}
		return m, m.key(msg)
	}
	_, cmd := m.list.Update(msg, true)
	return m, tea.Batch(cmd, m.stack.Update(msg))
}

func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	k := m.c.Keys
	switch {
	case key.Matches(msg, k.Enter):
		if d, ok := m.list.Selected(); ok {
			return m.stack.Open(inspect.NewAttempts(m.c, d.ID))
		}
	case key.Matches(msg, k.Copy):
		if d, ok := m.list.Selected(); ok {
			return tea.Batch(tea.SetClipboard(d.EventID), common.Status("copied event id "+d.EventID))
		}
	case keys.Pressed(msg.String(), k.Replay), keys.Pressed(msg.String(), k.ReplayAll):
		one := keys.Pressed(msg.String(), k.Replay)
		switch {
		case m.c.ReadOnly && one:
			return common.RefusedReadOnly("replay")
		case m.c.ReadOnly:
			return common.RefusedReadOnly("replaying marked or matching dead letters")
		case one:
			return m.replayOne()
		}
		return m.replayMany()
	case key.Matches(msg, k.Back):
		if m.list.Table.MarkCount() > 0 {
			m.list.Table.ClearMarks()
			return common.Status("marks cleared")
		}
	}
	return nil
}

func (m *Model) replayOne() tea.Cmd {
	d, ok := m.list.Selected()
	if !ok {
		return common.Status("no dead letter selected")
	}
	id := d.ID
	m.confirm.Open(fmt.Sprintf("Replay 1 dead letter: delivery %d of %s to %s?", id, d.EventID, d.EndpointID),
		m.run(func(ctx context.Context) replayed {
			return replayed{n: 1, one: id, err: m.c.Source.Replay(ctx, id)}
		}))
	return nil
}

func (m *Model) replayMany() tea.Cmd {
	if ids := m.list.MarkedIDs(); len(ids) > 0 {
		m.confirm.Open(fmt.Sprintf("Replay %d marked dead letters?", len(ids)),
			m.run(func(ctx context.Context) replayed {
				n, err := m.c.Source.ReplayIDs(ctx, ids)
				return replayed{n: n, err: err}
			}))
		return nil
	}
	// Bound the set at the time of the count: the replay then touches
	// exactly what the dialog states, and dead letters that die while it
	// is open are left for the next replay.
	f := m.list.Filter()
	f.CompletedBefore = m.c.Now()
	return common.Run(m.c, func(ctx context.Context) counted {
		n, err := m.c.Source.CountMatching(ctx, f)
		return counted{f: f, n: n, err: err}
	}, func(err error) counted { return counted{err: err} })
}

func (m *Model) run(fn func(context.Context) replayed) tea.Cmd {
	return common.Run(m.c, fn, func(err error) replayed { return replayed{err: err} })
}

func (m *Model) afterReplay(r replayed) tea.Cmd {
	if r.err != nil {
		return common.Errorf("replay failed: %s", common.Describe(r.err))
	}
	m.list.Table.ClearMarks()
	text := fmt.Sprintf("re-queued %s dead letters", common.Count(r.n))
	if r.one != 0 {
		text = fmt.Sprintf("re-queued delivery %d", r.one)
	}
	return tea.Batch(common.Status(text), m.list.Reload())
}

func describe(filterText string) string {
	if strings.TrimSpace(filterText) == "" {
		return "(no filter: every endpoint)"
	}
	return "/" + filterText
}

func (m *Model) View() string {
	st := m.c.Styles
	out := m.listView()
	if m.stack.Active() {
		out = st.Muted.Render("dead letters › "+m.stack.Breadcrumb()) + "\n" + m.stack.View()
	}
	// The dialog holds the keyboard wherever it was opened (a count may
	// answer after the operator drilled in): draw it over whatever shows.
	if m.confirm.Active() {
		return m.confirm.Over(st, out, m.w, max(m.h, 3))
	}
	return out
}

func (m *Model) listView() string {
	st := m.c.Styles
	info := fmt.Sprintf("%d loaded", len(m.list.Items()))
	if m.list.HasMore() {
		info += "+"
	}
	if n := m.list.Table.MarkCount(); n > 0 {
		info += fmt.Sprintf(" · %d marked (refresh paused)", n)
	} else if m.list.RefreshPaused() {
		info += " · " + common.RefreshPausedText(dlist.MaxRefresh)
	}
	if err := m.list.Err(); err != nil {
		info += " · " + st.Error.Render(common.Describe(err))
	}
	head := m.list.Prompt.Line(st.Muted.Render("/ to filter by endpoint, type, id, since"), st.Muted.Render(info))
	body := m.list.Table.View(st, "no dead letters")
	if !m.list.Ready() && m.list.Err() == nil {
		body = st.Muted.Render("loading…")
	}
	return head + "\n" + body
}

func (m *Model) ShortHelp() []key.Binding {
	if m.confirm.Active() {
		return confirm.Help(m.c.Keys)
	}
	if m.stack.Active() {
		return m.stack.Top().ShortHelp()
	}
	k := m.c.Keys
	return []key.Binding{k.Up, k.Down, k.Filter, k.Mark, k.Replay, k.ReplayAll, k.Enter}
}

func (m *Model) FullHelp() [][]key.Binding {
	if m.stack.Active() {
		return m.stack.Top().FullHelp()
	}
	k := m.c.Keys
	return [][]key.Binding{k.Movement(), {k.Filter, k.Mark, k.Enter, k.Copy, k.Back}, {k.Replay, k.ReplayAll}}
}
