// Package endpoints is the console's endpoint view: one row per endpoint
// with enabled/disabled (and why), success rate and p95 latency over five
// minutes, consecutive failures, pending and dead counts and last status;
// sortable; enter opens its deliveries; x disables, e enables, R replays
// its dead letters (x and R ask first).
package endpoints

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/tui/common"
	"github.com/hookd/hookd/tui/confirm"
	"github.com/hookd/hookd/tui/data"
	"github.com/hookd/hookd/tui/keys"
	"github.com/hookd/hookd/tui/list"
)

// DisableReason is recorded when the operator disables from the console.
const DisableReason = "disabled from the console"

// Sort orders, cycled with s.
var sorts = []struct {
	name string
	cmp  func(a, b data.EndpointRow) int
}{
	{"trouble", func(a, b data.EndpointRow) int { return cmp.Compare(b.Trouble(), a.Trouble()) }},
	{"id", func(a, b data.EndpointRow) int { return cmp.Compare(a.Endpoint.ID, b.Endpoint.ID) }},
	{"success", func(a, b data.EndpointRow) int {
		return cmp.Compare(a.Health.Last5m.SuccessRate, b.Health.Last5m.SuccessRate)
	}},
	{"p95", func(a, b data.EndpointRow) int { return cmp.Compare(b.Health.Last5m.P95, a.Health.Last5m.P95) }},
	{"pending", func(a, b data.EndpointRow) int { return cmp.Compare(b.Health.Pending, a.Health.Pending) }},
	{"dead", func(a, b data.EndpointRow) int { return cmp.Compare(b.Health.Dead, a.Health.Dead) }},
}

// Model is the endpoints view.
type Model struct {
	c       *common.Common
	table   list.Model
	rows    []data.EndpointRow
	sortBy  int
	loading bool
	loaded  bool
	err     error
	confirm confirm.Model
	w, h    int
	// took and doneAt pace the refresh: health is the costliest query of
	// the console, so a slow one is repeated less often than every tick.
	took, doneAt time.Duration
}

type loaded struct {
	rows      []data.EndpointRow
	err       error
	took, end time.Duration
}

// epoch anchors the monotonic clock used to pace refreshes.
var epoch = time.Now()

type acted struct {
	text string
	err  error
}

// counted answers R's count; f, bounded at the count's time by
// CompletedBefore, is what the replay uses, so it replays what it stated.
type counted struct {
	id  string
	f   delivery.Filter
	n   int64
	err error
}

// New returns the view.
func New(c *common.Common) *Model {
	return &Model{c: c, table: list.New(
		list.Column{Title: "ENDPOINT", Width: 18},
		list.Column{Title: "ON", Width: 3},
		list.Column{Title: "OK 5m", Width: 6, Right: true},
		list.Column{Title: "P95", Width: 6, Right: true},
		list.Column{Title: "FAIL", Width: 4, Right: true},
		list.Column{Title: "PEND", Width: 5, Right: true},
		list.Column{Title: "DEAD", Width: 5, Right: true},
		list.Column{Title: "LAST", Width: 4, Right: true},
		list.Column{Title: "URL / WHY DISABLED"},
	)}
}

func (m *Model) Title() string { return "endpoints" }
func (m *Model) Init() tea.Cmd { return m.Refresh() }
func (m *Model) Nested() bool  { return m.confirm.Active() }

// Rows returns the rows in display order, for tests.
func (m *Model) Rows() []data.EndpointRow { return m.rows }

// Table exposes the table, for tests.
func (m *Model) Table() *list.Model { return &m.table }

// SortName names the current order.
func (m *Model) SortName() string { return sorts[m.sortBy].name }

// Confirm exposes the dialog, for tests.
func (m *Model) Confirm() *confirm.Model { return &m.confirm }

func (m *Model) Refresh() tea.Cmd {
	if m.loading || m.confirm.Active() {
		return nil
	}
	// Spend at most a fifth of the time querying health.
	if m.took > 0 && time.Since(epoch)-m.doneAt < 4*m.took {
		return nil
	}
	m.loading = true
	return common.Run(m.c, func(ctx context.Context) loaded {
		start := time.Since(epoch)
		rows, err := m.c.Source.Endpoints(ctx, m.c.Now())
		end := time.Since(epoch)
		return loaded{rows: rows, err: err, took: end - start, end: end}
	}, func(err error) loaded { return loaded{err: err} })
}

// RefreshNow reloads at once, without the pacing of live refresh.
func (m *Model) RefreshNow() tea.Cmd {
	m.took = 0
	return m.Refresh()
}

func (m *Model) SetSize(w, h int) {
	m.w, m.h = w, h
	m.table.SetSize(w, h-1)
}

func (m *Model) Update(msg tea.Msg) (common.Component, tea.Cmd) {
	switch msg := msg.(type) {
	case loaded:
		m.loading = false
		m.took, m.doneAt = msg.took, msg.end
		m.err = msg.err
		if msg.err == nil {
			m.rows = msg.rows
			m.loaded = true
			m.render()
		}
	case acted:
		if msg.err != nil {
			return m, common.Errorf("%s", common.Describe(msg.err))
		}
		m.took = 0 // show the action's effect at once
		return m, tea.Batch(common.Status(msg.text), m.Refresh())
	case counted:
		if msg.err != nil {
			return m, common.Errorf("count dead letters: %s", common.Describe(msg.err))
		}
		if msg.n == 0 {
			return m, common.Status("no dead letters for " + msg.id)
		}
		id, f := msg.id, msg.f
		m.confirm.Open(fmt.Sprintf("Replay ALL %s dead letters of %s?", common.Count(msg.n), id), m.act(func(ctx context.Context) acted {
			n, err := m.c.Source.ReplayMatching(ctx, f)
			return acted{text: fmt.Sprintf("re-queued %s dead letters of %s", common.Count(n), id), err: err}
		}))
	case tea.KeyPressMsg:
		if m.confirm.Active() {
			return m, m.confirm.Update(msg, m.c.Keys)
		}
		return m, m.key(msg)
	}
	return m, nil
}

func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	k := m.c.Keys
	if m.table.Move(msg, k) {
		return nil
	}
	row, ok := m.selected()
	switch {
	case key.Matches(msg, k.Sort):
		m.sortBy = (m.sortBy + 1) % len(sorts)
		m.render()
		return common.Status("sorted by " + m.SortName())
	case !ok:
		return nil
	case key.Matches(msg, k.Enter):
		return common.Open(common.ViewDeliveries, "endpoint:"+row.Endpoint.ID)
	case key.Matches(msg, k.Copy):
		return tea.Batch(tea.SetClipboard(row.Endpoint.ID), common.Status("copied "+row.Endpoint.ID))
	case keys.Pressed(msg.String(), k.Disable), keys.Pressed(msg.String(), k.Enable), keys.Pressed(msg.String(), k.ReplayAll):
		if m.c.ReadOnly {
			return common.RefusedReadOnly("changing endpoints")
		}
		return m.action(msg, row)
	}
	return nil
}

func (m *Model) action(msg tea.KeyPressMsg, row data.EndpointRow) tea.Cmd {
	k, id := m.c.Keys, row.Endpoint.ID
	switch {
	case key.Matches(msg, k.Disable):
		if !row.Endpoint.Enabled {
			return common.Status(id + " is already disabled")
		}
		m.confirm.Open(fmt.Sprintf("Disable %s? Its pending deliveries are held until it is enabled.", id),
			m.act(func(ctx context.Context) acted {
				return acted{text: "disabled " + id, err: m.c.Source.DisableEndpoint(ctx, id, DisableReason)}
			}))
	case key.Matches(msg, k.Enable):
		return m.act(func(ctx context.Context) acted {
			return acted{text: "enabled " + id, err: m.c.Source.EnableEndpoint(ctx, id)}
		})
	case key.Matches(msg, k.ReplayAll):
		f := delivery.Filter{State: delivery.StateDead, EndpointID: id, CompletedBefore: m.c.Now()}
		return common.Run(m.c, func(ctx context.Context) counted {
			n, err := m.c.Source.CountMatching(ctx, f)
			return counted{id: id, f: f, n: n, err: err}
		}, func(err error) counted { return counted{id: id, err: err} })
	}
	return nil
}

func (m *Model) act(fn func(context.Context) acted) tea.Cmd {
	return common.Run(m.c, fn, func(err error) acted { return acted{err: err} })
}

func (m *Model) selected() (data.EndpointRow, bool) {
	i := m.table.Cursor()
	if i < 0 || i >= len(m.rows) {
		return data.EndpointRow{}, false
	}
	return m.rows[i], true
}

func (m *Model) render() {
	slices.SortStableFunc(m.rows, func(a, b data.EndpointRow) int {
		return cmp.Or(sorts[m.sortBy].cmp(a, b), cmp.Compare(a.Endpoint.ID, b.Endpoint.ID))
	})
	st := m.c.Styles
	rows := make([]list.Row, len(m.rows))
	for i, r := range m.rows {
		e, h := r.Endpoint, r.Health
		on, info := "on", e.URL
		var style *lipgloss.Style
		if !e.Enabled {
			on, info, style = "OFF", "disabled: "+e.DisabledReason, &st.Bad
		} else if h.ConsecutiveFailures > 0 || h.Dead > 0 {
			style = &st.Warn
		}
		ok, p95 := "-", "-"
		if h.Last5m.Attempts > 0 {
			ok = fmt.Sprintf("%.1f", h.Last5m.SuccessRate*100)
			p95 = common.Dur(h.Last5m.P95)
		}
		rows[i] = list.Row{ID: e.ID, Style: style, Cells: []string{e.Label(), on, ok, p95, strconv.Itoa(h.ConsecutiveFailures),
			strconv.Itoa(h.Pending), strconv.Itoa(h.Dead), common.StatusCode(h.LastStatus), info}}
	}
	m.table.SetRows(rows)
}

func (m *Model) View() string {
	st := m.c.Styles
	head := st.Muted.Render(fmt.Sprintf("%d endpoints · sorted by %s (s to change)", len(m.rows), m.SortName()))
	if m.err != nil {
		head += "  " + st.Error.Render(common.Describe(m.err))
	}
	body := m.table.View(st, "no endpoints yet: create one with the API or `hookd endpoints add`")
	if !m.loaded && m.err == nil {
		body = st.Muted.Render("loading…")
	}
	if m.confirm.Active() {
		return m.confirm.Over(st, head+"\n"+body, m.w, max(m.h, 3))
	}
	return head + "\n" + body
}

func (m *Model) ShortHelp() []key.Binding {
	k := m.c.Keys
	if m.confirm.Active() {
		return confirm.Help(k)
	}
	return []key.Binding{k.Up, k.Down, k.Enter, k.Sort, k.Disable, k.Enable, replayDead(k)}
}

// replayDead is R with this view's meaning.
func replayDead(k *keys.KeyMap) key.Binding {
	b := k.ReplayAll
	b.SetHelp("R", "replay its dead letters")
	return b
}

func (m *Model) FullHelp() [][]key.Binding {
	k := m.c.Keys
	return [][]key.Binding{k.Movement(), {k.Enter, k.Sort, k.Copy}, {k.Disable, k.Enable, replayDead(k)}}
}
