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
	"time"

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
	c       *common.Common
	table   list.Model
	rows    []data.TenantRow // pages, in id order
	trouble []data.TenantRow // the tenants in trouble
	next    string
	total   int
	prompt  filter.Prompt
	text    string
	ids     []string // what the filter resolved to; nil without one
	gen     int64
	loading bool
	more    bool
	loaded  bool
	err     error
	at      time.Time
	replay  replay.Model
	w, h    int
	// took and doneAt pace the refresh like the endpoints view's.
	took, doneAt time.Duration
}

type loaded struct {
	gen       int64
	append    bool
	page      data.TenantPage
	ids       []string
	resolved  bool
	err       error
	took, end time.Duration
	at        time.Time
}

var epoch = time.Now()

// New returns the view.
func New(c *common.Common) *Model {
	return &Model{c: c, replay: replay.New(c), prompt: filter.NewPrompt("part of a tenant's id or name"), table: list.New(
		list.Column{Title: "TENANT", Min: 12, Max: 40, Grow: true},
		list.Column{Title: "NAME", Min: 10, Max: 40, Grow: true, Drop: 1},
		list.Column{Title: "ENDPOINTS", Right: true},
		list.Column{Title: "OFF", Right: true},
		list.Column{Title: "FAILING", Right: true},
		list.Column{Title: "BREAKERS", Right: true, Drop: 2},
		list.Column{Title: "BACKLOG", Right: true},
		list.Column{Title: "DEAD", Right: true},
	)}
}

func (m *Model) Title() string { return "tenants" }
func (m *Model) Init() tea.Cmd { return m.reload() }

// Capturing reports the prompt or a dialog.
func (m *Model) Capturing() bool { return m.replay.Dialog.Active() || m.prompt.Editing() }

// Nested is false: the view has no drill-down of its own.
func (m *Model) Nested() bool { return false }

// Rows returns the loaded pages' tenants, in id order, for tests.
func (m *Model) Rows() []data.TenantRow { return m.rows }

// Trouble returns the tenants in trouble, for tests.
func (m *Model) Trouble() []data.TenantRow { return m.trouble }

// Confirm exposes the replay's dialog, for tests.
func (m *Model) Confirm() *confirm.Model { return &m.replay.Dialog }

// Table exposes the table, for tests.
func (m *Model) Table() *list.Model { return &m.table }

// Refresh redraws and, paced, reloads.
func (m *Model) Refresh() tea.Cmd {
	m.render()
	if m.loading || m.more || m.replay.Dialog.Active() {
		return nil
	}
	if m.took > 0 && time.Since(epoch)-m.doneAt < 4*m.took {
		return nil
	}
	return m.load(false)
}

// RefreshNow reloads at once.
func (m *Model) RefreshNow() tea.Cmd {
	m.took = 0
	return m.reload()
}

func (m *Model) reload() tea.Cmd {
	m.gen++
	m.loading, m.more = false, false
	return m.load(false)
}

func (m *Model) load(appendPage bool) tea.Cmd {
	q := data.TenantQuery{IDs: m.ids, Now: m.c.Now(), Limit: max(len(m.rows), PageSize)}
	if appendPage {
		m.more = true
		q.After, q.Limit = m.next, PageSize
	} else {
		m.loading = true
	}
	gen, text, resolve := m.gen, m.text, m.text != "" && m.ids == nil
	return common.Run(m.c, func(ctx context.Context) loaded {
		start := time.Since(epoch)
		var ids []string
		if resolve {
			found, err := m.c.Source.FindTenants(ctx, text, MaxMatches)
			if err != nil {
				return loaded{gen: gen, err: err}
			}
			ids = append([]string{}, found...)
			q.IDs = ids
		}
		page, err := m.c.Source.Tenants(ctx, q)
		end := time.Since(epoch)
		return loaded{gen: gen, append: appendPage, page: page, ids: ids, resolved: resolve, err: err,
			took: end - start, end: end, at: q.Now}
	}, func(err error) loaded { return loaded{gen: gen, append: appendPage, err: err} })
}

// SetFilter applies text (part of a tenant's id or name) as the filter.
func (m *Model) SetFilter(text string) (tea.Cmd, error) {
	t, err := filter.Parse(text, FilterKeys...)
	if err != nil {
		return nil, err
	}
	m.text, m.ids = t.Text, nil
	m.prompt.SetApplied(strings.TrimSpace(text))
	m.rows, m.trouble, m.next, m.loaded = nil, nil, "", false
	m.table.SetRows(nil)
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
			m.took = 0
			return m, tea.Batch(cmd, m.Refresh())
		}
		return m, cmd
	}
	switch msg := msg.(type) {
	case loaded:
		if msg.gen != m.gen {
			return m, nil
		}
		m.apply(msg)
	case tea.KeyPressMsg:
		if m.prompt.Editing() {
			text, done, cmd := m.prompt.Update(msg)
			if !done {
				return m, cmd
			}
			reload, err := m.SetFilter(text)
			if err != nil {
				return m, tea.Batch(m.prompt.Reopen(text), common.Errorf("filter: %s", err))
			}
			return m, tea.Batch(reload, common.ClearStatus())
		}
		return m, m.key(msg)
	}
	if m.prompt.Editing() {
		_, _, cmd := m.prompt.Update(msg)
		return m, cmd
	}
	return m, nil
}

func (m *Model) apply(msg loaded) {
	if msg.append {
		m.more = false
	} else {
		m.loading = false
		m.took, m.doneAt = msg.took, msg.end
	}
	m.err = msg.err
	if msg.err != nil {
		return
	}
	if msg.resolved {
		m.ids = msg.ids
	}
	if msg.append {
		m.rows = append(m.rows, msg.page.Rows...)
	} else {
		m.rows, m.trouble = msg.page.Rows, msg.page.Trouble
		m.at = msg.at
	}
	m.next, m.total, m.loaded = msg.page.Next, msg.page.Total, true
	m.render()
}

func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	k := m.c.Keys
	if m.table.Move(msg, k) {
		if m.next != "" && !m.more && !m.loading && m.table.NearEnd() {
			return m.load(true)
		}
		return nil
	}
	switch {
	case key.Matches(msg, k.Filter):
		return m.prompt.Start()
	case key.Matches(msg, k.Sort):
		m.table.SortNext()
		return common.Status("sorted by " + m.SortName())
	case key.Matches(msg, k.SortReverse):
		m.table.SortReverse()
		return common.Status("sorted by " + m.SortName())
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
	out := slices.Clone(m.trouble)
	seen := map[string]bool{}
	for _, t := range out {
		seen[t.ID] = true
	}
	for _, t := range m.rows {
		if !seen[t.ID] {
			out = append(out, t)
		}
	}
	return out
}

// SortName names the current order.
func (m *Model) SortName() string {
	if t := m.table.SortTitle(); t != "" {
		return t
	}
	return "trouble"
}

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
	count := fmt.Sprintf("%d tenants", len(m.rows))
	switch {
	case m.text != "":
		count = fmt.Sprintf("%d of the tenants matching %q", len(m.rows), m.text)
	case m.next != "" && m.total > data.TotalCap:
		count = fmt.Sprintf("%d of %s+ tenants", len(m.rows), common.Count(data.TotalCap))
	case m.next != "":
		count = fmt.Sprintf("%d of %s tenants", len(m.rows), common.Count(m.total))
	}
	parts := []string{}
	if n := len(m.trouble); n > 0 {
		parts = append(parts, st.Bad.Render(fmt.Sprintf("%d in trouble", n)))
	}
	parts = append(parts, count, "by "+m.SortName())
	if !m.at.IsZero() {
		parts = append(parts, "updated "+common.Age(m.c.Now(), m.at)+" ago")
	}
	if m.err != nil {
		parts = append([]string{st.Error.Render(common.Describe(m.err))}, parts...)
	}
	head := m.prompt.Line(st.Muted.Render("/ filter by id or name"), st.Muted.Render(strings.Join(parts, " · ")))
	empty := "no tenants: hookd serves one organisation (create tenants with `hookd tenants add` or PUT /v1/tenants/{id})"
	if m.text != "" {
		empty = "no tenant's id or name contains " + strconv.Quote(m.text) + " · / edits the filter"
	}
	body := m.table.View(st, empty)
	if !m.loaded && m.err == nil {
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

func (m *Model) FullHelp() [][]key.Binding {
	var out [][]key.Binding
	for _, s := range m.HelpSections() {
		out = append(out, s.Keys)
	}
	return out
}

// HelpSections lists every key of the view.
func (m *Model) HelpSections() []common.HelpSection {
	k := m.c.Keys
	return []common.HelpSection{{Title: "tenants", Keys: append(k.Movement(), endpointsKey(k), k.Deliveries, k.DeadLetters,
		replayDead(k), k.Filter, k.Sort, k.SortReverse, k.Copy)}}
}
