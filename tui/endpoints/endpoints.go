// Package endpoints is the console's endpoint view: one row per endpoint,
// named, with its tenant, its state (on, OFF, breaker open, fifo line
// blocked), success rate and p95 latency over five minutes, consecutive
// failures, pending (due and retrying), held and dead counts, the last
// status and what is wrong with it; the endpoints in trouble first
// (those of the loaded pages, and those the overview finds in trouble,
// whatever page they are on), sortable by any column; / filters by name,
// URL or id and by tenant:. enter opens the endpoint's page
// (tui/endpointpage); d and D open its deliveries and dead letters; x
// disables, e enables, R replays its dead letters after a preview, t
// sends a test event; b retries a fifo line's blocked head now and B
// skips it.
//
// The view pages through endpoints by id (200 a page, more as the cursor
// nears the end) and reads health for the loaded pages only, so it costs
// the same with 100,000 endpoints as with ten. A filter is resolved to
// endpoint ids once, when applied.
package endpoints

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
	"github.com/hookd/hookd/core/validate"
	"github.com/hookd/hookd/tui/common"
	"github.com/hookd/hookd/tui/confirm"
	"github.com/hookd/hookd/tui/data"
	"github.com/hookd/hookd/tui/endpointpage"
	"github.com/hookd/hookd/tui/filter"
	"github.com/hookd/hookd/tui/keys"
	"github.com/hookd/hookd/tui/list"
	"github.com/hookd/hookd/tui/pages"
	"github.com/hookd/hookd/tui/replay"
)

// PageSize is how many endpoints one load reads.
const PageSize = 200

// MaxMatches bounds the endpoints a filter resolves to.
const MaxMatches = 1000

// FilterKeys are the filter terms the view accepts: a tenant and text.
var FilterKeys = []string{"tenant", filter.TextKey}

// Model is the endpoints view.
type Model struct {
	c      *common.Common
	table  list.Model
	pages  pages.State[data.EndpointRow] // the loaded pages and the endpoints in trouble
	shown  []data.EndpointRow            // what the table shows: both, trouble first
	prompt filter.Prompt
	text   string // the applied filter's text
	tenant string // and its tenant
	dialog confirm.Model
	replay replay.Model
	page   *endpointpage.Model // the open endpoint page
	w, h   int
}

type acted struct {
	text string
	err  error
}

// DisableReason is recorded when the operator disables from the console.
const DisableReason = "disabled from the console"

// New returns the view.
func New(c *common.Common) *Model {
	m := &Model{c: c, replay: replay.New(c), prompt: filter.NewPrompt("part of a name, URL or id; tenant:cus_42"), table: list.New(
		// What is wrong is never dropped; on a narrow terminal the
		// columns it repeats or that matter less go first: the last
		// status, p95, failures in a row (what is wrong counts them
		// too), then the held, then the tenant, which 80 columns keep
		// (as the deliveries and dead letters do): what is wrong gives
		// it room.
		list.Column{Title: "ENDPOINT", Min: 20, Max: 48, Grow: true},
		list.Column{Title: "TENANT", Min: 8, Max: 24, Drop: 1, HideEmpty: true},
		list.Column{Title: "STATE", Min: 7}, // blocked
		list.Column{Title: "OK 5m", Right: true},
		list.Column{Title: "P95", Min: 5, Right: true, Drop: 4},
		list.Column{Title: "FAIL", Right: true, Drop: 3},
		list.Column{Title: "PEND", Right: true},
		list.Column{Title: "HELD", Right: true, Drop: 2},
		list.Column{Title: "DEAD", Right: true},
		list.Column{Title: "LAST", Right: true, Drop: 5},
		list.Column{Title: "URL / WHAT IS WRONG", Min: 21, Flex: true},
	)}
	m.table.Ranked = true
	return m
}

func (m *Model) Title() string { return "endpoints" }
func (m *Model) Init() tea.Cmd { return m.reload() }

// Capturing reports a prompt or a dialog, here or on the endpoint page.
func (m *Model) Capturing() bool {
	if m.page != nil {
		return m.page.Capturing()
	}
	return m.dialog.Active() || m.replay.Dialog.Active() || m.prompt.Editing()
}

// AppliedFilter is the filter applied now.
func (m *Model) AppliedFilter() string { return m.prompt.Applied() }

// Nested reports an open endpoint page.
func (m *Model) Nested() bool { return m.page != nil }

// Depth is 1 for the endpoint page alone, and one more while a screen is
// open over it.
func (m *Model) Depth() int {
	switch {
	case m.page == nil:
		return 0
	case m.page.Nested():
		return 2
	}
	return 1
}

// Top closes the endpoint page.
func (m *Model) Top() { m.page = nil }

// Rows returns the rows in load order, for tests.
func (m *Model) Rows() []data.EndpointRow { return m.pages.Rows }

// Table exposes the table, for tests.
func (m *Model) Table() *list.Model { return &m.table }

// Page returns the open endpoint page, nil when none.
func (m *Model) Page() *endpointpage.Model { return m.page }

// Confirm exposes the dialog, for tests.
func (m *Model) Confirm() *confirm.Model {
	if m.replay.Dialog.Active() {
		return &m.replay.Dialog
	}
	return &m.dialog
}

// Refresh redraws and, paced, reloads the loaded pages (or the page).
func (m *Model) Refresh() tea.Cmd {
	if m.page != nil {
		return m.page.Refresh()
	}
	m.render()
	// Health is the costliest read of the console: paced.
	if m.pages.Busy() || m.dialog.Active() || m.replay.Dialog.Active() || m.pages.Paced() {
		return nil
	}
	return m.load(false)
}

// RefreshNow reloads at once, without the pacing of live refresh.
func (m *Model) RefreshNow() tea.Cmd {
	if m.page != nil {
		return m.page.RefreshNow()
	}
	return m.reload()
}

func (m *Model) reload() tea.Cmd {
	m.pages.Restart()
	return m.load(false)
}

func (m *Model) load(appendPage bool) tea.Cmd {
	q := data.EndpointQuery{IDs: m.pages.IDs, Now: m.c.Now(), Limit: max(len(m.pages.Rows), PageSize)}
	if appendPage {
		q.After, q.Limit = m.pages.Next, PageSize
	}
	text, tn := m.text, m.tenant
	resolve := (text != "" || tn != "") && m.pages.IDs == nil
	return m.pages.Load(m.c, appendPage, q.Now, func(ctx context.Context) (pages.Page[data.EndpointRow], []string, error) {
		var ids []string
		if resolve {
			ls, err := m.c.Source.FindEndpoints(ctx, text, tn, MaxMatches)
			if err != nil {
				return pages.Page[data.EndpointRow]{}, nil, err
			}
			ids = []string{}
			for _, l := range ls {
				ids = append(ids, l.ID)
			}
			q.IDs = ids
		}
		p, err := m.c.Source.Endpoints(ctx, q)
		return pages.Page[data.EndpointRow]{Rows: p.Rows, Trouble: p.Trouble, Next: p.Next, Total: p.Total}, ids, err
	})
}

// SetFilter applies text (part of a name, URL or id, and tenant:) as the
// filter.
func (m *Model) SetFilter(text string) (tea.Cmd, error) {
	t, err := filter.Parse(text, FilterKeys...)
	if err != nil {
		return nil, err
	}
	if v := t.Get("tenant"); v != "" {
		if err := validate.TenantID("tenant", v); err != nil {
			return nil, err
		}
	}
	wasText, wasTenant, wasApplied := m.text, m.tenant, m.prompt.Applied()
	m.pages.Refilter(func() {
		m.text, m.tenant = wasText, wasTenant
		m.prompt.SetApplied(wasApplied)
	})
	if !m.pages.Refiltering() {
		m.shown = nil
		m.table.SetRows(nil)
	}
	m.text, m.tenant = t.Text, t.Get("tenant")
	m.prompt.SetApplied(strings.TrimSpace(text))
	m.table.SetCursor(0)
	m.page = nil
	return m.reload(), nil
}

// OpenTarget opens an endpoint's page (a jump to its id).
func (m *Model) OpenTarget(t common.Target) tea.Cmd {
	if t.Kind != common.KindEndpoint {
		return nil
	}
	return m.open(t.ID)
}

func (m *Model) open(id string) tea.Cmd {
	m.page = endpointpage.New(m.c, id)
	m.page.SetSize(m.w, m.h)
	return m.page.Init()
}

func (m *Model) SetSize(w, h int) {
	m.w, m.h = w, h
	m.prompt.SetWidth(w)
	m.table.SetSize(w, h-1)
	if m.page != nil {
		m.page.SetSize(w, h)
	}
}

func (m *Model) Update(msg tea.Msg) (common.Component, tea.Cmd) {
	if m.page != nil {
		if k, ok := msg.(tea.KeyPressMsg); ok && !m.page.Capturing() && !m.page.Nested() &&
			key.Matches(k, m.c.Keys.Back, m.c.Keys.Quit) {
			m.page = nil
			m.pages.ForgetPacing()
			return m, m.Refresh()
		}
		_, cmd := m.page.Update(msg)
		if _, ok := msg.(tea.KeyPressMsg); ok {
			return m, cmd
		}
		// Loads answer here too (a list page still loading).
		return m, tea.Batch(cmd, m.update(msg))
	}
	return m, m.update(msg)
}

func (m *Model) update(msg tea.Msg) tea.Cmd {
	if used, cmd := m.replay.Update(msg); used {
		if m.replay.IsDone(msg) {
			m.pages.ForgetPacing()
			return tea.Batch(cmd, m.Refresh())
		}
		return cmd
	}
	switch msg := msg.(type) {
	case pages.Loaded[data.EndpointRow]:
		tried, refiltering := m.prompt.Applied(), m.pages.Refiltering()
		if m.pages.Apply(msg) {
			m.render()
		}
		if refiltering && !m.pages.Refiltering() && m.pages.Err != nil {
			return common.NotApplied(tried, m.pages.Err)
		}
	case acted:
		if msg.err != nil {
			return common.Errorf("%s", common.Describe(msg.err))
		}
		m.pages.ForgetPacing() // show the action's effect at once
		return tea.Batch(common.Status(msg.text), m.Refresh())
	case tea.KeyPressMsg:
		if m.dialog.Active() {
			return m.dialog.Update(msg, m.c.Keys)
		}
		if used, cmd := m.prompt.Handle(msg, m.SetFilter); used {
			return cmd
		}
		return m.key(msg)
	}
	_, cmd := m.prompt.Handle(msg, m.SetFilter) // the cursor's blink
	return cmd
}

func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	k := m.c.Keys
	if cmd, used := m.pages.Keys(msg, k, &m.table, m.prompt.Start, m.load); used {
		return cmd
	}
	row, ok := m.selected()
	if !ok {
		return nil
	}
	id := row.Endpoint.ID
	switch {
	case key.Matches(msg, k.Enter):
		return m.open(id)
	case key.Matches(msg, k.Deliveries):
		return common.Open(common.ViewDeliveries, "endpoint:"+id)
	case key.Matches(msg, k.DeadLetters):
		return common.Open(common.ViewDeadLetters, "endpoint:"+id)
	case key.Matches(msg, k.Copy):
		return tea.Batch(tea.SetClipboard(id), common.Status("copied "+id))
	case keys.Pressed(msg.String(), k.ReplayAll):
		q := data.DeliveryQuery{Filter: delivery.Filter{State: delivery.StateDead, EndpointID: id}}
		return m.replay.Matching(q, "endpoint:"+id+" ("+row.Name()+")")
	case keys.Pressed(msg.String(), k.Disable), keys.Pressed(msg.String(), k.Enable), keys.Pressed(msg.String(), k.TestEvent):
		return m.action(msg, row)
	case keys.Pressed(msg.String(), k.RetryHead):
		return m.replay.Head(endpointpage.HeadRow(row), false)
	case keys.Pressed(msg.String(), k.SkipHead):
		return m.replay.Head(endpointpage.HeadRow(row), true)
	}
	return nil
}

func (m *Model) selected() (data.EndpointRow, bool) {
	r, ok := m.table.Selected()
	if !ok || r.Ref < 0 || r.Ref >= len(m.shown) {
		return data.EndpointRow{}, false
	}
	return m.shown[r.Ref], true
}

// SortName names the current order.
func (m *Model) SortName() string { return pages.SortName(&m.table) }

// render orders the endpoints in trouble and the loaded pages' trouble
// first (the table's own order; s sorts by a column) and draws them.
func (m *Model) render() {
	order := slices.Clone(m.pages.Trouble)
	seen := map[string]bool{}
	for _, r := range order {
		seen[r.Endpoint.ID] = true
	}
	for _, r := range m.pages.Rows {
		if !seen[r.Endpoint.ID] {
			order = append(order, r)
		}
	}
	slices.SortStableFunc(order, func(a, b data.EndpointRow) int {
		return cmp.Or(cmp.Compare(b.Trouble(), a.Trouble()), cmp.Compare(a.Name(), b.Name()))
	})
	m.shown = order
	st := m.c.Styles
	now := m.c.Now()
	rows := make([]list.Row, len(order))
	for i, r := range order {
		e, h := r.Endpoint, r.Health
		state, info := "on", e.URL
		var style *lipgloss.Style
		switch {
		case !e.Enabled:
			state, style = "OFF", &st.Bad
		case h.Blocked != nil:
			state, style = "blocked", &st.Bad
		case h.Breaker.State == delivery.BreakerOpen:
			state, style = "open", &st.Bad
		case h.ConsecutiveFailures > 0 || h.Dead > 0:
			style = &st.Warn
		}
		if p := common.Problem(r, now); p != "" && (style == &st.Bad || h.ConsecutiveFailures > 0) {
			info = p
		}
		ok, p95 := "-", "-"
		rate := 2.0 // no attempts sort after any rate
		if h.Last5m.Attempts > 0 {
			ok, rate = fmt.Sprintf("%.1f", h.Last5m.SuccessRate*100), h.Last5m.SuccessRate
			p95 = common.LatencyBound(r.P95, r.P95Over)
		}
		last := 0
		if h.LastStatus != nil {
			last = *h.LastStatus
		}
		// Each count is read up to data.TotalCap (see the data source).
		waiting := h.Pending + h.Retrying
		upTo := func(v int) string {
			if v > data.TotalCap {
				return strconv.Itoa(data.TotalCap) + "+"
			}
			return strconv.Itoa(v)
		}
		waitingText := upTo(waiting)
		if h.Pending > data.TotalCap || h.Retrying > data.TotalCap {
			waitingText = upTo(data.TotalCap + 1)
		}
		rows[i] = list.Row{ID: e.ID, Ref: i, Style: style, Cells: []string{r.Name(), e.Tenant, state, ok, p95,
			strconv.Itoa(h.ConsecutiveFailures), waitingText, upTo(h.Held), upTo(h.Dead),
			common.StatusCode(h.LastStatus), info},
			Keys: []any{nil, nil, nil, rate, r.P95, h.ConsecutiveFailures, waiting, h.Held, h.Dead, last}}
	}
	m.table.SetRows(rows)
}

func (m *Model) View() string {
	if m.page != nil {
		return m.page.View()
	}
	st := m.c.Styles
	pg := &m.pages
	count := fmt.Sprintf("%d endpoints", len(pg.Rows))
	switch {
	case m.text != "" || m.tenant != "":
		count = common.Count(len(pg.Rows)) + " endpoints match" // the filter is beside it
		if len(pg.Rows) == 1 {
			count = "1 endpoint matches"
		}
	case pg.Next != "" && pg.Total > data.TotalCap:
		count = fmt.Sprintf("%d of %s+ endpoints", len(pg.Rows), common.Count(data.TotalCap))
	case pg.Next != "":
		count = fmt.Sprintf("%d of %s endpoints", len(pg.Rows), common.Count(pg.Total))
	}
	info := count + " · by " + m.SortName()
	if n := len(pg.Trouble); n > 0 {
		info = st.Bad.Render(fmt.Sprintf("%d in trouble", n)) + " · " + info
	}
	if !pg.At.IsZero() {
		info += " · updated " + common.Age(m.c.Now(), pg.At) + " ago"
	}
	if pg.Err != nil { // first: a narrow terminal cuts the end of the line
		info = st.Error.Render(common.Describe(pg.Err)) + " · " + info
	}
	head := m.prompt.Line(st.Muted.Render("/ filter by name, URL or id, tenant:"), st.Muted.Render(info))
	empty := "no endpoints yet: create one with the API or `hookd endpoints add`"
	switch {
	case m.tenant != "" && m.text == "":
		empty = "tenant " + strconv.Quote(m.tenant) + " has no endpoints · / edits the filter"
	case m.tenant != "":
		empty = "no endpoint of tenant " + strconv.Quote(m.tenant) + " has " + strconv.Quote(m.text) + " in its name, URL or id · / edits the filter"
	case m.text != "":
		empty = "no endpoint's name, URL or id contains " + strconv.Quote(m.text) + " · / edits the filter"
	}
	body := m.table.View(st, empty)
	if !pg.Loaded && pg.Err == nil {
		body = st.Muted.Render("loading…")
	}
	out := head + "\n" + body
	for _, d := range []*confirm.Model{&m.dialog, &m.replay.Dialog} {
		if d.Active() {
			return d.Over(st, out, m.w, max(m.h, 3))
		}
	}
	return out
}

func (m *Model) ShortHelp() []key.Binding {
	k := m.c.Keys
	switch {
	case m.page != nil:
		return m.page.ShortHelp()
	case m.dialog.Active():
		return m.dialog.Help(k)
	case m.replay.Dialog.Active():
		return m.replay.Dialog.Help(k)
	case m.prompt.Editing():
		return filter.Keys()
	}
	return []key.Binding{k.Enter, k.Filter, k.Deliveries, k.DeadLetters, k.Disable, k.Enable, replayDead(k), k.Sort}
}

// replayDead is R with this view's meaning.
func replayDead(k *keys.KeyMap) key.Binding {
	b := k.ReplayAll
	b.SetHelp("R", "replay its dead (preview)")
	return b
}

func (m *Model) FullHelp() [][]key.Binding { return common.KeysOf(m.HelpSections()) }

// HelpSections lists every key of the view and of the endpoint page.
func (m *Model) HelpSections() []common.HelpSection {
	k := m.c.Keys
	return append([]common.HelpSection{
		{Title: "endpoints", Keys: append(k.Movement(), k.Enter, k.Deliveries, k.DeadLetters, k.Disable, k.Enable,
			replayDead(k), k.TestEvent, k.RetryHead, k.SkipHead, k.Filter, k.Sort, k.SortReverse, k.Copy)},
	}, endpointpage.HelpSections(k)...)
}
