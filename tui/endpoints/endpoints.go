// Package endpoints is the console's endpoint view: one row per endpoint,
// named, with enabled/disabled (and why), success rate and p95 latency
// over five minutes, consecutive failures, pending, held and dead counts
// and the last status; trouble first, sortable by any column; / filters
// by name, URL or id. enter opens the endpoint's page (tui/endpointpage);
// d and D open its deliveries and dead letters; x disables, e enables, R
// replays its dead letters after a preview, t sends a test event.
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
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/tui/common"
	"github.com/hookd/hookd/tui/confirm"
	"github.com/hookd/hookd/tui/data"
	"github.com/hookd/hookd/tui/endpointpage"
	"github.com/hookd/hookd/tui/filter"
	"github.com/hookd/hookd/tui/keys"
	"github.com/hookd/hookd/tui/list"
	"github.com/hookd/hookd/tui/replay"
)

// PageSize is how many endpoints one load reads.
const PageSize = 200

// MaxMatches bounds the endpoints a filter resolves to.
const MaxMatches = 1000

// FilterKeys are the filter terms the view accepts: text only.
var FilterKeys = []string{filter.TextKey}

// Model is the endpoints view.
type Model struct {
	c       *common.Common
	table   list.Model
	rows    []data.EndpointRow
	next    string
	total   int
	prompt  filter.Prompt
	text    string   // the applied filter
	ids     []string // what it resolved to; nil without a filter
	gen     int64
	loading bool
	more    bool
	loaded  bool
	err     error
	at      time.Time
	dialog  confirm.Model
	replay  replay.Model
	page    *endpointpage.Model // the open endpoint page
	w, h    int
	// took and doneAt pace the refresh: health is the costliest query of
	// the console, so a slow one is repeated less often than every tick.
	took, doneAt time.Duration
}

type loaded struct {
	gen       int64
	append    bool
	page      data.EndpointPage
	ids       []string
	resolved  bool
	err       error
	took, end time.Duration
	at        time.Time
}

// epoch anchors the monotonic clock used to pace refreshes.
var epoch = time.Now()

type acted struct {
	text string
	err  error
}

// DisableReason is recorded when the operator disables from the console.
const DisableReason = "disabled from the console"

// New returns the view.
func New(c *common.Common) *Model {
	m := &Model{c: c, replay: replay.New(c), prompt: filter.NewPrompt("part of a name, URL or id"), table: list.New(
		list.Column{Title: "ENDPOINT", Min: 24, Max: 48, Grow: true},
		list.Column{Title: "ON", Min: 3},
		list.Column{Title: "OK 5m", Right: true},
		list.Column{Title: "P95", Min: 5, Right: true, Drop: 2},
		list.Column{Title: "FAIL", Right: true},
		list.Column{Title: "PEND", Right: true},
		list.Column{Title: "HELD", Right: true},
		list.Column{Title: "DEAD", Right: true},
		list.Column{Title: "LAST", Right: true, Drop: 1},
		list.Column{Title: "URL / WHY DISABLED", Min: 24, Flex: true, Drop: 4},
	)}
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

// Nested reports an open endpoint page.
func (m *Model) Nested() bool { return m.page != nil }

// Rows returns the rows in load order, for tests.
func (m *Model) Rows() []data.EndpointRow { return m.rows }

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
	if m.loading || m.more || m.dialog.Active() {
		return nil
	}
	// Spend at most a fifth of the time querying health.
	if m.took > 0 && time.Since(epoch)-m.doneAt < 4*m.took {
		return nil
	}
	return m.load(false)
}

// RefreshNow reloads at once, without the pacing of live refresh.
func (m *Model) RefreshNow() tea.Cmd {
	if m.page != nil {
		return m.page.RefreshNow()
	}
	m.took = 0
	return m.reload()
}

func (m *Model) reload() tea.Cmd {
	m.gen++
	m.loading, m.more = false, false
	return m.load(false)
}

func (m *Model) load(appendPage bool) tea.Cmd {
	q := data.EndpointQuery{IDs: m.ids, Now: m.c.Now(), Limit: max(len(m.rows), PageSize)}
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
			ls, err := m.c.Source.FindEndpoints(ctx, text, MaxMatches)
			if err != nil {
				return loaded{gen: gen, err: err}
			}
			ids = []string{}
			for _, l := range ls {
				ids = append(ids, l.ID)
			}
			q.IDs = ids
		}
		page, err := m.c.Source.Endpoints(ctx, q)
		end := time.Since(epoch)
		return loaded{gen: gen, append: appendPage, page: page, ids: ids, resolved: resolve, err: err,
			took: end - start, end: end, at: q.Now}
	}, func(err error) loaded { return loaded{gen: gen, append: appendPage, err: err} })
}

// SetFilter applies text (part of a name, URL or id) as the filter.
func (m *Model) SetFilter(text string) (tea.Cmd, error) {
	t, err := filter.Parse(text, FilterKeys...)
	if err != nil {
		return nil, err
	}
	m.text, m.ids = t.Text, nil
	m.prompt.SetApplied(strings.TrimSpace(text))
	m.rows, m.next, m.loaded = nil, "", false
	m.table.SetRows(nil)
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
			m.took = 0
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
			m.took = 0
			return tea.Batch(cmd, m.Refresh())
		}
		return cmd
	}
	switch msg := msg.(type) {
	case loaded:
		if msg.gen != m.gen {
			return nil
		}
		m.apply(msg)
	case acted:
		if msg.err != nil {
			return common.Errorf("%s", common.Describe(msg.err))
		}
		m.took = 0 // show the action's effect at once
		return tea.Batch(common.Status(msg.text), m.Refresh())
	case tea.KeyPressMsg:
		if m.dialog.Active() {
			return m.dialog.Update(msg, m.c.Keys)
		}
		if m.prompt.Editing() {
			text, done, cmd := m.prompt.Update(msg)
			if !done {
				return cmd
			}
			reload, err := m.SetFilter(text)
			if err != nil {
				return tea.Batch(m.prompt.Reopen(text), common.Errorf("filter: %s", err))
			}
			return tea.Batch(reload, common.ClearStatus())
		}
		return m.key(msg)
	}
	if m.prompt.Editing() {
		_, _, cmd := m.prompt.Update(msg)
		return cmd
	}
	return nil
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
		m.rows = msg.page.Rows
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
	}
	return nil
}

func (m *Model) selected() (data.EndpointRow, bool) {
	r, ok := m.table.Selected()
	if !ok || r.Ref < 0 || r.Ref >= len(m.rows) {
		return data.EndpointRow{}, false
	}
	return m.rows[r.Ref], true
}

// SortName names the current order.
func (m *Model) SortName() string {
	if t := m.table.SortTitle(); t != "" {
		return t
	}
	return "trouble"
}

// render orders the rows trouble first (the table's own order; s sorts
// by a column) and draws them.
func (m *Model) render() {
	order := slices.Clone(m.rows)
	idx := make(map[string]int, len(m.rows))
	for i, r := range m.rows {
		idx[r.Endpoint.ID] = i
	}
	slices.SortStableFunc(order, func(a, b data.EndpointRow) int {
		return cmp.Or(cmp.Compare(b.Trouble(), a.Trouble()), cmp.Compare(a.Name(), b.Name()))
	})
	st := m.c.Styles
	rows := make([]list.Row, len(order))
	for i, r := range order {
		e, h := r.Endpoint, r.Health
		on, info := "on", e.URL
		var style *lipgloss.Style
		if !e.Enabled {
			on, info, style = "OFF", "disabled: "+e.DisabledReason, &st.Bad
		} else if h.ConsecutiveFailures > 0 || h.Dead > 0 {
			style = &st.Warn
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
		rows[i] = list.Row{ID: e.ID, Ref: idx[e.ID], Style: style, Cells: []string{r.Name(), on, ok, p95,
			strconv.Itoa(h.ConsecutiveFailures), strconv.Itoa(h.Pending), strconv.Itoa(h.Held), strconv.Itoa(h.Dead),
			common.StatusCode(h.LastStatus), info},
			Keys: []any{nil, nil, rate, r.P95, h.ConsecutiveFailures, h.Pending, h.Held, h.Dead, last}}
	}
	m.table.SetRows(rows)
}

func (m *Model) View() string {
	if m.page != nil {
		return m.page.View()
	}
	st := m.c.Styles
	count := fmt.Sprintf("%d endpoints", len(m.rows))
	switch {
	case m.text != "":
		count = fmt.Sprintf("%d of the endpoints matching %q", len(m.rows), m.text)
	case m.next != "" && m.total > data.TotalCap:
		count = fmt.Sprintf("%d of %s+ endpoints", len(m.rows), common.Count(data.TotalCap))
	case m.next != "":
		count = fmt.Sprintf("%d of %s endpoints", len(m.rows), common.Count(m.total))
	}
	info := count + " · by " + m.SortName()
	if !m.at.IsZero() {
		info += " · updated " + common.Age(m.c.Now(), m.at) + " ago"
	}
	if m.err != nil {
		info += " · " + st.Error.Render(common.Describe(m.err))
	}
	head := m.prompt.Line(st.Muted.Render("/ filter by name, URL or id"), st.Muted.Render(info))
	empty := "no endpoints yet: create one with the API or `hookd endpoints add`"
	if m.text != "" {
		empty = "no endpoint's name, URL or id contains " + strconv.Quote(m.text) + " · / edits the filter"
	}
	body := m.table.View(st, empty)
	if !m.loaded && m.err == nil {
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
	}
	return []key.Binding{k.Enter, k.Filter, k.Deliveries, k.DeadLetters, k.Disable, k.Enable, replayDead(k), k.Sort}
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

// HelpSections lists every key of the view and of the endpoint page.
func (m *Model) HelpSections() []common.HelpSection {
	k := m.c.Keys
	return append([]common.HelpSection{
		{Title: "endpoints", Keys: append(k.Movement(), k.Enter, k.Deliveries, k.DeadLetters, k.Disable, k.Enable,
			replayDead(k), k.TestEvent, k.Filter, k.Sort, k.SortReverse, k.Copy)},
	}, endpointpage.HelpSections(k)...)
}
