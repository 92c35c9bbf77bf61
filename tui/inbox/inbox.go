// Package inbox is the console's intake view: inbound webhooks by source,
// with how each was verified, its processing state and, for a forwarded
// event, the state of its forward delivery ("fwd dead" when the forward
// died); the requests refused over the last hour, per source; enter shows
// the headers and body as received, and enter again opens the forward
// delivery; r replays an event whose processing died (after a
// confirmation). / filters by source, state and id (the sender's event id
// or the inbox id).
package inbox

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/hookd/hookd/core/audit"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/tui/common"
	"github.com/hookd/hookd/tui/confirm"
	"github.com/hookd/hookd/tui/data"
	"github.com/hookd/hookd/tui/filter"
	"github.com/hookd/hookd/tui/inspect"
	"github.com/hookd/hookd/tui/keys"
	"github.com/hookd/hookd/tui/list"
	"github.com/hookd/hookd/tui/pager"
)

// FilterKeys are the filter terms the view accepts.
var FilterKeys = []string{"source", "state", "id"}

// PageSize is how many events one load reads.
const PageSize = 100

// MaxRefresh caps the rows a refresh re-reads; beyond it, live refresh
// stops until ctrl+r (which starts again from the newest).
const MaxRefresh = 1000

// Model is the inbox view.
type Model struct {
	c        *common.Common
	prompt   filter.Prompt
	query    data.InboxQuery
	table    list.Model
	items    []data.InboxEvent
	next     int64
	gen      int64 // bumped by SetFilter and reload; answers of older loads are dropped
	loading  bool
	more     bool
	loaded   bool
	slid     bool // a refresh came back without the cursor's event (see held)
	err      error
	confirm  confirm.Model
	detail   *data.InboxEvent // open drill-down
	pager    pager.Model
	rejected map[string]int64
	at       time.Time
	w, h     int

	// trial keeps the rows shown, and the filter they match, while a new
	// filter's first load is under way.
	trial filter.Trial
}

type loaded struct {
	gen    int64
	append bool
	page   data.InboxPage
	err    error
	at     time.Time
	limit  int  // the rows asked for
	live   bool // a live refresh
}

type detailLoaded struct {
	ev  *data.InboxEvent
	err error
}

type replayed struct {
	id  int64
	err error
}

// New returns the view.
func New(c *common.Common) *Model {
	return &Model{c: c, prompt: filter.NewPrompt("source:stripe state:dead id:evt_…"), table: list.New(
		list.Column{Title: "ID", Right: true, Drop: 2, Whole: true},
		list.Column{Title: "AGE", Min: 4, Right: true},
		list.Column{Title: "SOURCE", Min: 8, Max: 24},
		list.Column{Title: "STATE", Min: 13, Grow: true},
		list.Column{Title: "N", Right: true, Drop: 3},
		list.Column{Title: "TYPE", Min: 10, Max: 32},
		list.Column{Title: "EVENT", Min: 26, Max: 40, Drop: 4},
		list.Column{Title: "VERIFIED / LAST ERROR", Min: 12, Flex: true},
	)}
}

func (m *Model) Title() string { return "inbox" }
func (m *Model) Init() tea.Cmd { return m.load(false, false) }

// Capturing reports a prompt or a dialog.
func (m *Model) Capturing() bool { return m.prompt.Editing() || m.confirm.Active() }

// AppliedFilter is the filter applied now.
func (m *Model) AppliedFilter() string { return m.prompt.Applied() }

// Nested reports an open event.
func (m *Model) Nested() bool { return m.detail != nil }

// Depth is 1 while an event is open.
func (m *Model) Depth() int {
	if m.detail != nil {
		return 1
	}
	return 0
}

// Top closes the open event.
func (m *Model) Top() { m.detail = nil }

// Items returns the loaded events, for tests.
func (m *Model) Items() []data.InboxEvent { return m.items }

// Selected returns the event under the cursor.
func (m *Model) Selected() (data.InboxEvent, bool) {
	row, ok := m.table.Selected()
	if !ok || row.Ref >= len(m.items) {
		return data.InboxEvent{}, false
	}
	return m.items[row.Ref], true
}

// Query returns the filter in force, for tests.
func (m *Model) Query() data.InboxQuery { return m.query }

// Detail returns the open event, nil when none.
func (m *Model) Detail() *data.InboxEvent { return m.detail }

// Confirm exposes the dialog, for tests.
func (m *Model) Confirm() *confirm.Model { return &m.confirm }

func (m *Model) Refresh() tea.Cmd {
	m.render()
	if m.loading || m.more || m.confirm.Active() || m.detail != nil || m.RefreshPaused() || m.held() {
		return nil
	}
	return m.load(false, true)
}

// held reports whether live refresh waits because more events arrived
// above the cursor in one refresh than it reads: refreshed, the cursor
// would have stayed at its place on the screen, on another event. It
// ends at the top row (g) or with ctrl+r.
func (m *Model) held() bool { return m.slid && m.table.Cursor() > 0 }

// RefreshNow is ctrl+r: past MaxRefresh rows it reloads from the newest
// (live refresh then runs again), otherwise it refreshes.
func (m *Model) RefreshNow() tea.Cmd {
	if m.RefreshPaused() && !m.confirm.Active() && m.detail == nil {
		return m.reload()
	}
	return m.Refresh()
}

// RefreshPaused reports whether live refresh is off because more than
// MaxRefresh rows are loaded.
func (m *Model) RefreshPaused() bool { return len(m.items) > MaxRefresh }

// load reads a next page (appendPage) or the loaded rows again; live is
// a refresh, which away from the top row reads a page more, so that the
// rows below the cursor (and the cursor's own) stay as events arrive.
func (m *Model) load(appendPage, live bool) tea.Cmd {
	q := m.query
	if appendPage {
		m.more = true
		q.Before, q.Limit = m.next, PageSize
	} else {
		m.loading = true
		q.Limit = list.RefreshLimit(len(m.items), PageSize, MaxRefresh, live && m.table.Cursor() > 0)
	}
	gen, now, limit := m.gen, m.c.Now(), q.Limit
	return common.Run(m.c, func(ctx context.Context) loaded {
		page, err := m.c.Source.Inbox(ctx, q)
		return loaded{gen: gen, append: appendPage, page: page, err: err, at: now, limit: limit, live: live}
	}, func(err error) loaded { return loaded{gen: gen, append: appendPage, err: err} })
}

// reload reads from the top again; answers of earlier loads are dropped.
func (m *Model) reload() tea.Cmd {
	m.gen++
	m.loading, m.more, m.slid = false, false, false
	return m.load(false, false)
}

func (m *Model) SetSize(w, h int) {
	m.w, m.h = w, h
	m.prompt.SetWidth(w)
	m.table.SetSize(w, h-2)
	m.pager.SetSize(w, h-1)
}

func (m *Model) Update(msg tea.Msg) (common.Component, tea.Cmd) {
	switch msg := msg.(type) {
	case loaded:
		if msg.gen != m.gen { // an answer for an earlier filter
			return m, nil
		}
		var cmd tea.Cmd
		if !msg.append {
			cmd = m.settle(msg.err)
		}
		m.apply(msg)
		return m, cmd
	case detailLoaded:
		if msg.err != nil {
			return m, common.Errorf("cannot open inbox event: %s", common.Describe(msg.err))
		}
		m.detail = msg.ev
		m.pager = pager.Model{}
		m.pager.SetSize(m.w, m.h-1)
		m.pager.SetContent(format(msg.ev))
		return m, nil
	case replayed:
		if msg.err != nil {
			return m, common.Errorf("replay failed: %s", common.Describe(msg.err))
		}
		return m, tea.Batch(common.Status(fmt.Sprintf("re-queued inbox event %d for processing", msg.id)), m.reload())
	}
	if used, cmd := m.prompt.Handle(msg, m.SetFilter); used {
		return m, cmd
	}
	if k, ok := msg.(tea.KeyPressMsg); ok {
		return m, m.key(k)
	}
	return m, nil
}

func (m *Model) apply(msg loaded) {
	if msg.append {
		m.more = false
	} else {
		m.loading = false
	}
	m.err = msg.err
	if msg.err != nil {
		return
	}
	rows, next := msg.page.Events, msg.page.Next
	m.slid = false
	if sel, ok := m.Selected(); ok && msg.live && m.table.Cursor() > 0 {
		if rows, next, m.slid = list.Refreshed(m.items, rows, next, inboxID, sel.ID, msg.limit); m.slid {
			return // keep the rows, and the cursor on its event
		}
	}
	if msg.append {
		m.items = append(m.items, rows...)
	} else {
		m.items = rows
		m.rejected, m.at = msg.page.Rejected, msg.at
	}
	m.next = next
	m.loaded = true
	m.render()
}

func inboxID(e data.InboxEvent) int64 { return e.ID }

// render draws the rows at the clock's now.
func (m *Model) render() {
	st := m.c.Styles
	now := m.c.Now()
	rows := make([]list.Row, len(m.items))
	for i, e := range m.items {
		info := e.Verification
		state, tries := e.State, e.Attempts
		var style *lipgloss.Style
		switch {
		case e.State == "dead":
			info, style = e.LastError, &st.Bad
		case e.State == "pending" && e.Attempts > 0:
			info, style = e.LastError, &st.Warn
		case e.Forward != nil:
			// Forwarded means handed to the delivery engine; what counts
			// is whether the forward arrived.
			// Its tries are the forward's too, as the error beside them.
			state, tries = "fwd "+string(e.Forward.State), e.Forward.Attempts
			style = inspect.StateStyle(m.c, *e.Forward)
			if e.Forward.State != delivery.StateSucceeded && e.Forward.LastError != "" {
				info = e.Forward.LastError
			}
		}
		rows[i] = list.Row{ID: strconv.FormatInt(e.ID, 10), Ref: i, Style: style, Cells: []string{strconv.FormatInt(e.ID, 10),
			common.Age(now, e.ReceivedAt), e.Source, state, strconv.Itoa(tries), e.Type, e.EventID, info},
			Keys: []any{e.ID, now.Sub(e.ReceivedAt), nil, nil, tries}}
	}
	m.table.SetRows(rows)
}

func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	k := m.c.Keys
	if m.confirm.Active() {
		return m.confirm.Update(msg, k)
	}
	if m.detail != nil {
		switch {
		case key.Matches(msg, k.Back, k.Quit):
			m.detail = nil
		case m.pager.Move(msg, k):
		case key.Matches(msg, k.Copy):
			return tea.Batch(tea.SetClipboard(string(m.detail.Body)), common.Status("copied the body"))
		case key.Matches(msg, k.Enter):
			if f := m.detail.Forward; f != nil {
				return common.OpenObject(common.ViewDeliveries, common.Target{Kind: common.KindDelivery, ID: strconv.FormatInt(f.ID, 10)})
			}
			return common.Status("this event has no forward delivery")
		case keys.Pressed(msg.String(), k.Replay):
			return m.replay(*m.detail)
		}
		return nil
	}
	if m.table.Move(msg, k) {
		if m.next != 0 && !m.more && !m.loading && m.table.NearEnd() {
			return m.load(true, false)
		}
		return nil
	}
	cur, ok := m.Selected()
	switch {
	case key.Matches(msg, k.Filter):
		return m.prompt.Start()
	case key.Matches(msg, k.Sort):
		m.table.SortNext()
		return nil
	case key.Matches(msg, k.SortReverse):
		m.table.SortReverse()
		return nil
	case !ok:
	case key.Matches(msg, k.Enter):
		id := cur.ID
		return common.Run(m.c, func(ctx context.Context) detailLoaded {
			ev, err := m.c.Source.InboxEvent(ctx, id)
			return detailLoaded{ev: ev, err: err}
		}, func(err error) detailLoaded { return detailLoaded{err: err} })
	case key.Matches(msg, k.Copy):
		return tea.Batch(tea.SetClipboard(cur.EventID), common.Status("copied "+cur.EventID))
	case keys.Pressed(msg.String(), k.Replay):
		return m.replay(cur)
	}
	return nil
}

func (m *Model) replay(e data.InboxEvent) tea.Cmd {
	if m.c.ReadOnly {
		return common.RefusedReadOnly(m.c, "replay", audit.ActionReplay, fmt.Sprintf("inbox event %d", e.ID))
	}
	if e.State != "dead" {
		return common.Status(fmt.Sprintf("inbox event %d is %s; only dead (failed processing) events can be replayed", e.ID, e.State))
	}
	id := e.ID
	m.confirm.Open(fmt.Sprintf("Replay inbox event %d (%s from %s) for processing?", id, e.EventID, e.Source),
		common.Run(m.c, func(ctx context.Context) replayed {
			return replayed{id: id, err: m.c.Source.ReplayInbox(ctx, id)}
		}, func(err error) replayed { return replayed{id: id, err: err} }))
	return nil
}

func (m *Model) View() string {
	st := m.c.Styles
	var out string
	if m.detail != nil {
		out = st.Muted.Render(fmt.Sprintf("inbox › event %d", m.detail.ID)) + "\n" + m.pager.View()
	} else {
		out = m.listView()
	}
	// The dialog holds the keyboard wherever it was opened: draw it first
	// of all, over whatever is shown.
	if m.confirm.Active() {
		return m.confirm.Over(st, out, m.w, max(m.h, 3))
	}
	return out
}

func (m *Model) listView() string {
	st := m.c.Styles
	// The error, then why refresh stopped, first: a narrow terminal cuts
	// the end of the line.
	var parts []string
	if m.err != nil {
		parts = append(parts, st.Error.Render(common.Describe(m.err)))
	}
	switch {
	case m.RefreshPaused():
		parts = append(parts, common.RefreshPausedText(MaxRefresh))
	case m.held():
		parts = append(parts, st.Warn.Render(common.RefreshWaitsText))
	}
	loaded := fmt.Sprintf("%d loaded", len(m.items))
	if m.next != 0 {
		loaded += "+"
	}
	parts = append(parts, loaded)
	if n := m.table.NewAbove(); n > 0 {
		parts = append(parts, st.Warn.Render(fmt.Sprintf("▲ %d new (g: top)", n)))
	}
	if !m.at.IsZero() {
		parts = append(parts, "updated "+common.Age(m.c.Now(), m.at)+" ago")
	}
	info := strings.Join(parts, " · ")
	empty := "no intake events yet"
	if m.prompt.Applied() != "" {
		empty = "no intake events match /" + m.prompt.Applied() + " · / edits the filter"
	}
	body := m.table.View(st, empty)
	if !m.loaded && m.err == nil {
		body = st.Muted.Render("loading…")
	}
	return m.prompt.Line(st.Muted.Render("/ filter: source: state: id:"), st.Muted.Render(info)) + "\n" +
		m.rejectedLine() + "\n" + body
}

// rejectedLine shows the requests refused over the last hour: they store
// nothing in the inbox, so this line is where they are seen.
func (m *Model) rejectedLine() string {
	st := m.c.Styles
	if len(m.rejected) == 0 {
		return st.Muted.Render("rejected (1h): none")
	}
	names := make([]string, 0, len(m.rejected))
	for n := range m.rejected {
		names = append(names, n)
	}
	slices.Sort(names)
	parts := make([]string, len(names))
	for i, n := range names {
		parts[i] = fmt.Sprintf("%s %s", n, common.Count(m.rejected[n]))
	}
	return st.Warn.Render("rejected (1h, failed verification; nothing stored): ") + strings.Join(parts, " · ")
}

func (m *Model) ShortHelp() []key.Binding {
	k := m.c.Keys
	if m.confirm.Active() {
		return m.confirm.Help(k)
	}
	if m.detail != nil {
		return []key.Binding{openForward(k), k.Copy, k.Replay, k.PageDown, k.Back}
	}
	if m.prompt.Editing() {
		return filter.Keys()
	}
	return []key.Binding{k.Enter, k.Filter, k.Replay, k.Sort, k.Copy}
}

func openForward(k *keys.KeyMap) key.Binding {
	b := k.Enter
	b.SetHelp("enter", "open its forward delivery")
	return b
}

func (m *Model) FullHelp() [][]key.Binding { return common.KeysOf(m.HelpSections()) }

// HelpSections lists the keys of the view and of an open event.
func (m *Model) HelpSections() []common.HelpSection {
	k := m.c.Keys
	return []common.HelpSection{
		{Title: "inbox", Keys: append(k.Movement(), k.Enter, k.Replay, k.Filter, k.Sort, k.SortReverse, k.Copy)},
		{Title: "inbox event", Keys: []key.Binding{openForward(k), k.Replay, k.Copy, k.PageUp, k.PageDown, k.Back}},
	}
}
