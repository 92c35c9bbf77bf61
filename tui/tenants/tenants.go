// Package tenants is the console's tenants view: one row per tenant (the
// producer's customers), with its endpoints, how many are disabled or
// failing, its breakers open, its backlog (deliveries still to do) and its
// dead letters; the tenants in trouble first, worst first, whatever page
// they are on; sortable by any column; / filters by id or name.
//
// enter opens the tenant's endpoints, d its deliveries and D its dead
// letters (each view filtered by tenant:), R replays its dead letters
// after a preview, y copies its id.
//
// With 10,000 tenants it reads what it shows: pages of tenants by id (100
// a page, more as the cursor nears the end), the tenants in trouble found
// by bounded reads, and each tenant's counts by index ranges of that
// tenant only (see tui/data); nothing is aggregated over all tenants.
package tenants

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/tui/common"
	"github.com/hookd/hookd/tui/confirm"
	"github.com/hookd/hookd/tui/data"
	"github.com/hookd/hookd/tui/filter"
	"github.com/hookd/hookd/tui/keys"
	"github.com/hookd/hookd/tui/list"
	"github.com/hookd/hookd/tui/pages"
	"github.com/hookd/hookd/tui/replay"
)

// PageSize is how many tenants one load reads: about two screens.
const PageSize = 100

// MaxMatches bounds the tenants a filter resolves to.
const MaxMatches = 1000

// FilterKeys are the filter terms the view accepts: text (id or name).
var FilterKeys = []string{filter.TextKey}

// Model is the tenants view.
type Model struct {
	c      *common.Common
	table  list.Model
	pages  pages.State[data.TenantRow]
	prompt filter.Prompt
	text   string // the applied filter
	replay replay.Model
	w, h   int
}

// New returns the view.
func New(c *common.Common) *Model {
	m := &Model{c: c, replay: replay.New(c), prompt: filter.NewPrompt("part of a tenant's id or name"), table: list.New(
		list.Column{Title: "TENANT", Min: 8, Max: 40, Grow: true},
		list.Column{Title: "NAME", Min: 10, Max: 40, Grow: true, Drop: 1},
		list.Column{Title: "ENDPOINTS", Right: true},
		list.Column{Title: "OFF", Right: true},
		list.Column{Title: "FAILING", Right: true},
		list.Column{Title: "BREAKERS", Right: true, Drop: 2},
		list.Column{Title: "BACKLOG", Right: true},
		list.Column{Title: "DEAD", Right: true},
	)}
	m.table.Ranked = true
	return m
}

func (m *Model) Title() string { return "tenants" }
func (m *Model) Init() tea.Cmd { return m.reload() }

// Capturing reports the prompt or a dialog.
func (m *Model) Capturing() bool { return m.replay.Dialog.Active() || m.prompt.Editing() }

// AppliedFilter is the filter applied now.
func (m *Model) AppliedFilter() string { return m.prompt.Applied() }

// Nested is false: the view has no drill-down of its own.
func (m *Model) Nested() bool { return false }

// Rows returns the loaded pages' tenants, in id order, for tests.
func (m *Model) Rows() []data.TenantRow { return m.pages.Rows }

// Trouble returns the tenants in trouble, for tests.
func (m *Model) Trouble() []data.TenantRow { return m.pages.Trouble }

// Confirm exposes the replay's dialog, for tests.
func (m *Model) Confirm() *confirm.Model { return &m.replay.Dialog }

// Table exposes the table, for tests.
func (m *Model) Table() *list.Model { return &m.table }

// Refresh redraws and, paced, reloads.
func (m *Model) Refresh() tea.Cmd {
	m.render()
	if m.pages.Busy() || m.replay.Dialog.Active() || m.pages.Paced() {
		return nil
	}
	return m.load(false)
}

// RefreshNow reloads at once.
func (m *Model) RefreshNow() tea.Cmd { return m.reload() }

func (m *Model) reload() tea.Cmd {
	m.pages.Restart()
	return m.load(false)
}

func (m *Model) load(appendPage bool) tea.Cmd {
	q := data.TenantQuery{IDs: m.pages.IDs, Now: m.c.Now(), Limit: max(len(m.pages.Rows), PageSize)}
	if appendPage {
		q.After, q.Limit = m.pages.Next, PageSize
	}
	text, resolve := m.text, m.text != "" && m.pages.IDs == nil
	return m.pages.Load(m.c, appendPage, q.Now, func(ctx context.Context) (pages.Page[data.TenantRow], []string, error) {
		var ids []string
		if resolve {
			found, err := m.c.Source.FindTenants(ctx, text, MaxMatches)
			if err != nil {
				return pages.Page[data.TenantRow]{}, nil, err
			}
			ids = append([]string{}, found...)
			q.IDs = ids
		}
		p, err := m.c.Source.Tenants(ctx, q)
		return pages.Page[data.TenantRow]{Rows: p.Rows, Trouble: p.Trouble, Next: p.Next, Total: p.Total}, ids, err
	})
}

// SetFilter applies text (part of a tenant's id or name) as the filter.
func (m *Model) SetFilter(text string) (tea.Cmd, error) {
	t, err := filter.Parse(text, FilterKeys...)
	if err != nil {
		return nil, err
	}
	wasText, wasApplied := m.text, m.prompt.Applied()
	m.pages.Refilter(func() {
		m.text = wasText
		m.prompt.SetApplied(wasApplied)
	})
	if !m.pages.Refiltering() {
		m.table.SetRows(nil)
	}
	m.text = t.Text
	m.prompt.SetApplied(strings.TrimSpace(text))
	m.table.SetCursor(0)
	return m.reload(), nil
}

func (m *Model) SetSize(w, h int) {
	m.w, m.h = w, h
	m.prompt.SetWidth(w)
	m.table.SetSize(w, h-1)
}

func (m *Model) Update(msg tea.Msg) (common.Component, tea.Cmd) {
	if used, cmd := m.replay.Update(msg); used {
		if m.replay.IsDone(msg) {
			m.pages.ForgetPacing()
			return m, tea.Batch(cmd, m.Refresh())
		}
		return m, cmd
	}
	switch msg := msg.(type) {
	case pages.Loaded[data.TenantRow]:
		tried, refiltering := m.prompt.Applied(), m.pages.Refiltering()
		if m.pages.Apply(msg) {
			m.render()
		}
		if refiltering && !m.pages.Refiltering() && m.pages.Err != nil {
			return m, common.NotApplied(tried, m.pages.Err)
		}
	case tea.KeyPressMsg:
		if used, cmd := m.prompt.Handle(msg, m.SetFilter); used {
			return m, cmd
		}
		return m, m.key(msg)
	}
	_, cmd := m.prompt.Handle(msg, m.SetFilter) // the cursor's blink
	return m, cmd
}

func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	k := m.c.Keys
	if cmd, used := m.pages.Keys(msg, k, &m.table, m.prompt.Start, m.load); used {
		return cmd
	}
	t, ok := m.selected()
	if !ok {
		return nil
	}
	term := "tenant:" + t.ID
	switch {
	case key.Matches(msg, k.Enter):
		return common.Open(common.ViewEndpoints, term)
	case key.Matches(msg, k.Deliveries):
		return common.Open(common.ViewDeliveries, term)
	case key.Matches(msg, k.DeadLetters):
		return common.Open(common.ViewDeadLetters, term)
	case key.Matches(msg, k.Copy):
		return tea.Batch(tea.SetClipboard(t.ID), common.Status("copied "+t.ID))
	case keys.Pressed(msg.String(), k.ReplayAll):
		q := data.DeliveryQuery{Filter: delivery.Filter{State: delivery.StateDead, Tenant: t.ID}}
		return m.replay.Matching(q, term)
	}
	return nil
}

// Selected returns the tenant under the cursor.
func (m *Model) selected() (data.TenantRow, bool) {
	r, ok := m.table.Selected()
	if !ok {
		return data.TenantRow{}, false
	}
	for _, t := range m.all() {
		if t.ID == r.ID {
			return t, true
		}
	}
	return data.TenantRow{}, false
}

// all returns the tenants shown: those in trouble, then the pages' others.
func (m *Model) all() []data.TenantRow {
	out := slices.Clone(m.pages.Trouble)
	seen := map[string]bool{}
	for _, t := range out {
		seen[t.ID] = true
	}
	for _, t := range m.pages.Rows {
		if !seen[t.ID] {
			out = append(out, t)
		}
	}
	return out
}

// SortName names the current order.
func (m *Model) SortName() string { return pages.SortName(&m.table) }

// render orders the tenants trouble first, then by id, and draws them.
func (m *Model) render() {
	all := m.all()
	slices.SortStableFunc(all, func(a, b data.TenantRow) int {
		return cmp.Or(cmp.Compare(b.Trouble(), a.Trouble()), cmp.Compare(a.ID, b.ID))
	})
	st := m.c.Styles
	rows := make([]list.Row, len(all))
	for i, t := range all {
		var style *lipgloss.Style
		switch {
		case t.Failing > 0 || t.Disabled > 0:
			style = &st.Bad
		case t.Dead > 0:
			style = &st.Warn
		}
		rows[i] = list.Row{ID: t.ID, Ref: i, Style: style, Cells: []string{t.ID, t.Name, capped(int64(t.Endpoints)),
			strconv.Itoa(t.Disabled), strconv.Itoa(t.Failing), strconv.Itoa(t.BreakersOpen), capped(t.Backlog), common.Count(t.Dead)},
			Keys: []any{nil, nil, t.Endpoints, t.Disabled, t.Failing, t.BreakersOpen, t.Backlog, t.Dead}}
	}
	m.table.SetRows(rows)
}

// capped renders a count read up to data.TenantCountCap.
func capped(n int64) string {
	if n > data.TenantCountCap {
		return common.Count(data.TenantCountCap) + "+"
	}
	return common.Count(n)
}

func (m *Model) View() string {
	st := m.c.Styles
	pg := &m.pages
	count := fmt.Sprintf("%d tenants", len(pg.Rows))
	switch {
	case m.text != "":
		count = fmt.Sprintf("%d of the tenants matching %q", len(pg.Rows), m.text)
	case pg.Next != "" && pg.Total > data.TotalCap:
		count = fmt.Sprintf("%d of %s+ tenants", len(pg.Rows), common.Count(data.TotalCap))
	case pg.Next != "":
		count = fmt.Sprintf("%d of %s tenants", len(pg.Rows), common.Count(pg.Total))
	}
	parts := []string{}
	if n := len(pg.Trouble); n > 0 {
		parts = append(parts, st.Bad.Render(fmt.Sprintf("%d in trouble", n)))
	}
	parts = append(parts, count, "by "+m.SortName())
	if !pg.At.IsZero() {
		parts = append(parts, "updated "+common.Age(m.c.Now(), pg.At)+" ago")
	}
	if pg.Err != nil {
		parts = append([]string{st.Error.Render(common.Describe(pg.Err))}, parts...)
	}
	head := m.prompt.Line(st.Muted.Render("/ filter by id or name"), st.Muted.Render(strings.Join(parts, " · ")))
	empty := "no tenants: hookd serves one organisation (create tenants with `hookd tenants add` or PUT /v1/tenants/{id})"
	if m.text != "" {
		empty = "no tenant's id or name contains " + strconv.Quote(m.text) + " · / edits the filter"
	}
	body := m.table.View(st, empty)
	if !pg.Loaded && pg.Err == nil {
		body = st.Muted.Render("loading…")
	}
	out := head + "\n" + body
	if m.replay.Dialog.Active() {
		return m.replay.Dialog.Over(st, out, m.w, max(m.h, 3))
	}
	return out
}

func (m *Model) ShortHelp() []key.Binding {
	k := m.c.Keys
	if m.replay.Dialog.Active() {
		return m.replay.Dialog.Help(k)
	}
	if m.prompt.Editing() {
		return filter.Keys()
	}
	return []key.Binding{endpointsKey(k), k.Deliveries, k.DeadLetters, replayDead(k), k.Filter, k.Sort}
}

// endpointsKey is enter with this view's meaning.
func endpointsKey(k *keys.KeyMap) key.Binding {
	b := k.Enter
	b.SetHelp("enter", "its endpoints")
	return b
}

// replayDead is R with this view's meaning.
func replayDead(k *keys.KeyMap) key.Binding {
	b := k.ReplayAll
	b.SetHelp("R", "replay its dead (preview)")
	return b
}

func (m *Model) FullHelp() [][]key.Binding { return common.KeysOf(m.HelpSections()) }

// HelpSections lists every key of the view.
func (m *Model) HelpSections() []common.HelpSection {
	k := m.c.Keys
	return []common.HelpSection{{Title: "tenants", Keys: append(k.Movement(), endpointsKey(k), k.Deliveries, k.DeadLetters,
		replayDead(k), k.Filter, k.Sort, k.SortReverse, k.Copy)}}
}
