// Package auditview is the console's audit trail: every action that
// changed state (or was refused), from the console, the CLI and the API,
// newest first, with who took it, from where, on what, and how many rows
// it changed; / filters by actor, action and outcome; enter shows one
// entry in full.
package auditview

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
	"github.com/hookd/hookd/tui/common"
	"github.com/hookd/hookd/tui/filter"
	"github.com/hookd/hookd/tui/list"
	"github.com/hookd/hookd/tui/pager"
)

// FilterKeys are the filter terms the view accepts.
var FilterKeys = []string{"actor", "action", "outcome", "target"}

// PageSize is how many entries one load reads.
const PageSize = 200

// Model is the audit view.
type Model struct {
	c       *common.Common
	prompt  filter.Prompt
	params  audit.ListParams
	table   list.Model
	items   []audit.Entry
	next    int64
	gen     int64
	loading bool
	more    bool
	loaded  bool
	slid    bool // a refresh came back without the cursor's entry (see held)
	err     error
	at      time.Time
	detail  *audit.Entry
	pager   pager.Model
	w, h    int

	// trial keeps the rows shown, and the filter they match, while a new
	// filter's first load is under way.
	trial filter.Trial
}

type loaded struct {
	gen    int64
	append bool
	page   audit.Page
	err    error
	at     time.Time
	limit  int  // the rows asked for
	live   bool // a live refresh
}

// New returns the view.
func New(c *common.Common) *Model {
	return &Model{c: c, prompt: filter.NewPrompt("action:replay actor:SHA256:… outcome:refused"), table: list.New(
		list.Column{Title: "ID", Right: true, Drop: 2, Whole: true},
		list.Column{Title: "AGE", Min: 4, Right: true},
		list.Column{Title: "WHO", Min: 12, Max: 48, Grow: true},
		list.Column{Title: "VIA", Drop: 3},
		list.Column{Title: "ACTION", Min: 7, Max: 16, Grow: true},
		list.Column{Title: "TARGET", Min: 10, Max: 40, Grow: true},
		list.Column{Title: "ROWS", Right: true},
		list.Column{Title: "OUTCOME", Min: 7, Drop: 1},
		list.Column{Title: "DETAIL", Min: 8, Flex: true, Drop: 4},
	)}
}

// AppliedFilter is the filter applied now.
func (m *Model) AppliedFilter() string { return m.prompt.Applied() }

func (m *Model) Title() string   { return "audit" }
func (m *Model) Init() tea.Cmd   { return m.load(false, false) }
func (m *Model) Capturing() bool { return m.prompt.Editing() }
func (m *Model) Nested() bool    { return m.detail != nil }

// Depth is 1 while an entry is open.
func (m *Model) Depth() int {
	if m.detail != nil {
		return 1
	}
	return 0
}

// Top closes the open entry.
func (m *Model) Top() { m.detail = nil }

// Items returns the loaded entries, for tests.
func (m *Model) Items() []audit.Entry { return m.items }

// Refresh redraws the ages and re-reads the loaded entries (see
// list.RefreshLimit); it waits while held.
func (m *Model) Refresh() tea.Cmd {
	m.render()
	if m.loading || m.more || m.detail != nil || m.held() {
		return nil
	}
	return m.load(false, true)
}

// held reports whether live refresh waits because more entries arrived
// above the cursor in one refresh than it reads; it ends at the top row
// (g) or with ctrl+r.
func (m *Model) held() bool { return m.slid && m.table.Cursor() > 0 }

// RefreshNow reloads from the newest.
func (m *Model) RefreshNow() tea.Cmd {
	m.gen++
	m.loading, m.more, m.slid = false, false, false
	return m.load(false, false)
}

// load reads a next page (appendPage) or the loaded entries again; live
// is a refresh.
func (m *Model) load(appendPage, live bool) tea.Cmd {
	p := m.params
	if appendPage {
		m.more = true
		p.Before, p.Limit = m.next, PageSize
	} else {
		m.loading = true
		p.Limit = list.RefreshLimit(len(m.items), PageSize, 1000, live && m.table.Cursor() > 0)
	}
	gen, now, limit := m.gen, m.c.Now(), p.Limit
	return common.Run(m.c, func(ctx context.Context) loaded {
		page, err := m.c.Source.Audit(ctx, p)
		return loaded{gen: gen, append: appendPage, page: page, err: err, at: now, limit: limit, live: live}
	}, func(err error) loaded { return loaded{gen: gen, append: appendPage, err: err} })
}

// SetFilter applies text as the filter.
func (m *Model) SetFilter(text string) (tea.Cmd, error) {
	t, err := filter.Parse(text, FilterKeys...)
	if err != nil {
		return nil, err
	}
	p := audit.ListParams{Actor: t.Get("actor"), Action: t.Get("action"), Outcome: t.Get("outcome"), Target: t.Get("target")}
	if p.Action != "" && !slices.Contains(audit.Actions, p.Action) {
		return nil, fmt.Errorf("action: %q is not an action (allowed: %s)", p.Action, strings.Join(audit.Actions, ", "))
	}
	if o := p.Outcome; o != "" && o != audit.OutcomeOK && o != audit.OutcomeRefused && o != audit.OutcomeFailed {
		return nil, fmt.Errorf("outcome: %q is not an outcome (allowed: ok, refused, failed)", o)
	}
	was, wasApplied := m.params, m.prompt.Applied()
	if !m.trial.Begin(m.loaded, func() { m.params = was; m.prompt.SetApplied(wasApplied) }) {
		m.items, m.next, m.loaded = nil, 0, false
		m.table.SetRows(nil)
	}
	m.params = p
	m.prompt.SetApplied(strings.TrimSpace(text))
	return m.RefreshNow(), nil
}

// settle takes a new filter's first answer: its rows start from the top,
// or on an error the previous filter is back with its rows.
func (m *Model) settle(err error) tea.Cmd {
	return m.trial.Settle(m.prompt.Applied(), err, func() {
		m.table.SetRows(nil)
		m.table.SetCursor(0)
	})
}

func (m *Model) SetSize(w, h int) {
	m.w, m.h = w, h
	m.prompt.SetWidth(w)
	m.table.SetSize(w, h-1)
	m.pager.SetSize(w, h-1)
}

func (m *Model) Update(msg tea.Msg) (common.Component, tea.Cmd) {
	if l, ok := msg.(loaded); ok {
		if l.gen != m.gen {
			return m, nil
		}
		var cmd tea.Cmd
		if !l.append {
			cmd = m.settle(l.err)
		}
		m.apply(l)
		return m, cmd
	}
	if used, cmd := m.prompt.Handle(msg, m.SetFilter); used {
		return m, cmd
	}
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return m, nil
	}
	keys := m.c.Keys
	if m.detail != nil {
		switch {
		case key.Matches(k, keys.Back, keys.Quit):
			m.detail = nil
		case m.pager.Move(k, keys):
		case key.Matches(k, keys.Copy):
			return m, tea.Batch(tea.SetClipboard(m.pager.Content()), common.Status("copied the entry"))
		}
		return m, nil
	}
	if m.table.Move(k, keys) {
		if m.next != 0 && !m.more && !m.loading && m.table.NearEnd() {
			return m, m.load(true, false)
		}
		return m, nil
	}
	switch {
	case key.Matches(k, keys.Filter):
		return m, m.prompt.Start()
	case key.Matches(k, keys.Sort):
		m.table.SortNext()
	case key.Matches(k, keys.SortReverse):
		m.table.SortReverse()
	case key.Matches(k, keys.Enter):
		if r, ok := m.table.Selected(); ok && r.Ref < len(m.items) {
			e := m.items[r.Ref]
			m.detail = &e
			m.pager = pager.Model{}
			m.pager.SetSize(m.w, m.h-1)
			m.pager.SetContent(format(e))
		}
	case key.Matches(k, keys.Copy):
		if r, ok := m.table.Selected(); ok && r.Ref < len(m.items) {
			return m, tea.Batch(tea.SetClipboard(format(m.items[r.Ref])), common.Status("copied the entry"))
		}
	}
	return m, nil
}

func (m *Model) apply(l loaded) {
	if l.append {
		m.more = false
	} else {
		m.loading = false
	}
	m.err = l.err
	if l.err != nil {
		return
	}
	rows, next := l.page.Entries, l.page.Next
	m.slid = false
	if sel, ok := m.Selected(); ok && l.live && m.table.Cursor() > 0 {
		if rows, next, m.slid = list.Refreshed(m.items, rows, next, entryID, sel.ID, l.limit); m.slid {
			return // keep the rows, and the cursor on its entry
		}
	}
	if l.append {
		m.items = append(m.items, rows...)
	} else {
		m.items, m.at = rows, l.at
	}
	m.next, m.loaded = next, true
	m.render()
}

// Selected returns the entry under the cursor.
func (m *Model) Selected() (audit.Entry, bool) {
	r, ok := m.table.Selected()
	if !ok || r.Ref >= len(m.items) {
		return audit.Entry{}, false
	}
	return m.items[r.Ref], true
}

func entryID(e audit.Entry) int64 { return e.ID }

func (m *Model) render() {
	st := m.c.Styles
	now := m.c.Now()
	rows := make([]list.Row, len(m.items))
	for i, e := range m.items {
		var style *lipgloss.Style
		switch e.Outcome {
		case audit.OutcomeRefused:
			style = &st.Warn
		case audit.OutcomeFailed:
			style = &st.Bad
		}
		outcome := e.Outcome
		if e.Error != "" {
			outcome += ": " + e.Error
		}
		rows[i] = list.Row{ID: strconv.FormatInt(e.ID, 10), Ref: i, Style: style, Cells: []string{
			strconv.FormatInt(e.ID, 10), common.Age(now, e.At), e.Actor.String(), e.Via, e.Action, e.Target,
			common.Count(e.Rows), outcome, e.Detail,
		}, Keys: []any{e.ID, now.Sub(e.At), nil, nil, nil, nil, e.Rows}}
	}
	m.table.SetRows(rows)
}

func format(e audit.Entry) string {
	var b strings.Builder
	fmt.Fprintf(&b, "audit entry %d\n", e.ID)
	fmt.Fprintf(&b, "at       %s\n", e.At.UTC().Format("2006-01-02 15:04:05.000Z"))
	fmt.Fprintf(&b, "who      %s\n", e.Actor)
	fmt.Fprintf(&b, "via      %s\n", e.Via)
	fmt.Fprintf(&b, "action   %s\n", e.Action)
	fmt.Fprintf(&b, "target   %s\n", e.Target)
	fmt.Fprintf(&b, "rows     %d\n", e.Rows)
	fmt.Fprintf(&b, "outcome  %s\n", e.Outcome)
	if e.Error != "" {
		fmt.Fprintf(&b, "error    %s\n", e.Error)
	}
	if e.Detail != "" {
		fmt.Fprintf(&b, "detail   %s\n", e.Detail)
	}
	return common.Sanitize(b.String())
}

func (m *Model) View() string {
	st := m.c.Styles
	if m.detail != nil {
		return st.Muted.Render(fmt.Sprintf("audit › entry %d", m.detail.ID)) + "\n" + m.pager.View()
	}
	// The error, then why refresh waits, first: a narrow terminal cuts
	// the end of the line.
	var parts []string
	if m.err != nil {
		parts = append(parts, st.Error.Render(common.Describe(m.err)))
	}
	if m.held() {
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
	empty := "no actions recorded yet: replays, disables, enables, rotations and edits appear here"
	if m.prompt.Applied() != "" {
		empty = "no entries match /" + m.prompt.Applied() + " · / edits the filter"
	}
	body := m.table.View(st, empty)
	if !m.loaded && m.err == nil {
		body = st.Muted.Render("loading…")
	}
	return m.prompt.Line(st.Muted.Render("/ filter: actor: action: outcome: target:"), st.Muted.Render(info)) + "\n" + body
}

func (m *Model) ShortHelp() []key.Binding {
	k := m.c.Keys
	if m.detail != nil {
		return []key.Binding{k.Copy, k.PageDown, k.Back}
	}
	if m.prompt.Editing() {
		return filter.Keys()
	}
	return []key.Binding{k.Enter, k.Filter, k.Sort, k.Copy}
}

func (m *Model) FullHelp() [][]key.Binding { return common.KeysOf(m.HelpSections()) }

// HelpSections lists the view's keys.
func (m *Model) HelpSections() []common.HelpSection {
	k := m.c.Keys
	return []common.HelpSection{
		{Title: "audit", Keys: append(k.Movement(), k.Enter, k.Filter, k.Sort, k.SortReverse, k.Copy)},
		{Title: "audit entry", Keys: []key.Binding{k.Copy, k.PageUp, k.PageDown, k.Back}},
	}
}
