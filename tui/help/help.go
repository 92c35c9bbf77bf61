// Package help is the console's help view: the keys that work everywhere
// first, then every key of the view the operator came from, drill-downs
// included, then the dialogs' keys and the filter syntax; laid out in as
// many columns as the terminal is wide, so that at 80x24 the keys that
// work everywhere are on the first screen. / filters the keys as you
// type.
package help

import (
	"fmt"
	"slices"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/hookd/hookd/tui/common"
	"github.com/hookd/hookd/tui/filter"
	"github.com/hookd/hookd/tui/keys"
	"github.com/hookd/hookd/tui/pager"
)

// FilterSyntax documents the / prompt.
var FilterSyntax = []string{
	"/ in a list: enter applies, esc cancels; each view keeps its own",
	"terms are space-separated, all must match:",
	"  state:retrying endpoint:legacy status:5xx",
	"  reason:connect type:payment.* since:1h refused",
	"a word without a key is text to find; quotes",
	`  keep spaces and colons: "connection refused"`,
	"endpoint: an id, or part of a name or URL",
	"since/until: 90s, 15m, 2h, 3d, 2026-01-02",
	"states: " + strings.Join(filter.DeliveryStates, ", "),
	"reasons: " + strings.Join(filter.Reasons, ", "),
	"inbox: source: state: id:   audit: actor: action:",
	"  outcome: target:   endpoints: text only",
}

// Model is the help view.
type Model struct {
	c      *common.Common
	target common.View
	pager  pager.Model
	prompt filter.Prompt
	query  string
	w, h   int
}

// New returns the view.
func New(c *common.Common) *Model {
	return &Model{c: c, prompt: filter.NewPrompt("a key or a word: replay, copy, ctrl")}
}

// SetTarget sets the view whose bindings are shown.
func (m *Model) SetTarget(v common.View) {
	m.target = v
	m.relayout()
}

// Target returns the view whose bindings are shown.
func (m *Model) Target() common.View { return m.target }

func (m *Model) Title() string       { return "help" }
func (m *Model) Init() tea.Cmd       { return nil }
func (m *Model) Refresh() tea.Cmd    { return nil }
func (m *Model) RefreshNow() tea.Cmd { return nil }
func (m *Model) Capturing() bool     { return m.prompt.Editing() }
func (m *Model) Nested() bool        { return false }

func (m *Model) SetSize(w, h int) {
	m.w, m.h = w, h
	m.prompt.SetWidth(w)
	m.pager.SetSize(w, h-1)
	m.relayout()
}

func (m *Model) View() string {
	st := m.c.Styles
	info := "? or esc goes back"
	if m.query != "" {
		info = fmt.Sprintf("keys matching %q · ? or esc goes back", m.query)
	}
	return m.prompt.Line(st.Muted.Render("/ filters the keys"), st.Muted.Render(info)) + "\n" + m.pager.View()
}

func (m *Model) Update(msg tea.Msg) (common.Component, tea.Cmd) {
	if m.prompt.Editing() {
		k, isKey := msg.(tea.KeyPressMsg)
		text, done, cmd := m.prompt.Update(msg)
		if isKey && k.String() == "esc" {
			m.query = ""
		} else if done {
			m.query = strings.TrimSpace(text)
			m.prompt.SetApplied(m.query)
		} else {
			// Filter as the operator types.
			m.query = strings.TrimSpace(m.prompt.Value())
		}
		m.relayout()
		return m, cmd
	}
	if k, ok := msg.(tea.KeyPressMsg); ok {
		if key.Matches(k, m.c.Keys.Filter) {
			return m, m.prompt.Start()
		}
		m.pager.Move(k, m.c.Keys)
	}
	return m, nil
}

func (m *Model) ShortHelp() []key.Binding {
	k := m.c.Keys
	return []key.Binding{k.Filter, k.PageDown, k.Back}
}

func (m *Model) FullHelp() [][]key.Binding { return [][]key.Binding{m.ShortHelp()} }

// HelpSections lists the view's own keys.
func (m *Model) HelpSections() []common.HelpSection {
	k := m.c.Keys
	return []common.HelpSection{{Title: "help", Keys: []key.Binding{k.Filter, k.Up, k.Down, k.PageUp, k.PageDown, k.Back}}}
}

// Sections returns what the help shows, in order: the keys that work
// everywhere, moving in lists, the view's (without the moves), dialogs.
func (m *Model) Sections() []common.HelpSection {
	k := m.c.Keys
	out := []common.HelpSection{
		{Title: "Everywhere", Keys: k.Global()},
		{Title: "Moving in lists and text", Keys: k.Movement()},
	}
	moves := k.Movement()
	if m.target != nil {
		for _, s := range m.target.HelpSections() {
			s.Keys = slices.DeleteFunc(slices.Clone(s.Keys), func(b key.Binding) bool {
				return slices.ContainsFunc(moves, func(mv key.Binding) bool { return sameHelp(mv, b) })
			})
			s.Title = "Keys of " + s.Title
			out = append(out, s)
		}
	}
	return append(out, common.HelpSection{Title: "Dialogs and forms", Keys: k.Dialog()})
}

func sameHelp(a, b key.Binding) bool { return a.Help() == b.Help() }

// Text returns the help as plain text, for tests.
func (m *Model) Text() string { return m.pager.Content() }

// relayout lays the sections out in columns of the terminal's width.
func (m *Model) relayout() {
	blocks := m.blocks()
	width := max(m.w, 20)
	colW := 0
	for _, b := range blocks {
		for _, l := range b {
			colW = max(colW, ansi.StringWidth(l))
		}
	}
	// Two columns at 80 cells: a description longer than its half is cut.
	const gap = 2
	cols := max((width+gap)/(min(colW, 38)+gap), 1)
	colW = min(colW, (width+gap)/cols-gap)
	// Fill columns top to bottom, a block at a time, balancing heights.
	total := 0
	for _, b := range blocks {
		total += len(b) + 1
	}
	// A column holds a screen's height, or more when everything does not
	// fit on one screen (the pager scrolls).
	perCol := max(m.h-1, (total+cols-1)/cols, 1)
	var columns [][]string
	var cur []string
	for _, b := range blocks {
		if len(cur) > 0 && len(cur)+len(b) > perCol && len(columns) < cols-1 {
			columns = append(columns, cur)
			cur = nil
		}
		if len(cur) > 0 {
			cur = append(cur, "")
		}
		cur = append(cur, b...)
	}
	columns = append(columns, cur)
	rows := 0
	for _, c := range columns {
		rows = max(rows, len(c))
	}
	var out strings.Builder
	for r := range rows {
		var line strings.Builder
		for ci, c := range columns {
			cell := ""
			if r < len(c) {
				cell = ansi.Truncate(c[r], colW, "…")
			}
			if ci < len(columns)-1 {
				cell += strings.Repeat(" ", colW-ansi.StringWidth(cell)+gap)
			}
			line.WriteString(cell)
		}
		out.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
	m.pager.SetSize(width, max(m.h-1, 1))
	m.pager.SetContent(out.String())
}

// blocks renders each section as lines, keeping only keys that match the
// filter.
func (m *Model) blocks() [][]string {
	q := strings.ToLower(m.query)
	var blocks [][]string
	for _, s := range m.Sections() {
		var lines []string
		seen := map[string]bool{}
		keyW := 0
		var shown []key.Binding
		for _, b := range s.Keys {
			h := b.Help()
			if !b.Enabled() || h.Key == "" || seen[h.Key+h.Desc] {
				continue
			}
			if q != "" && !strings.Contains(strings.ToLower(h.Key+" "+h.Desc+" "+s.Title), q) {
				continue
			}
			seen[h.Key+h.Desc] = true
			shown = append(shown, b)
			keyW = max(keyW, ansi.StringWidth(h.Key))
		}
		if len(shown) == 0 {
			continue
		}
		lines = append(lines, s.Title)
		for _, b := range shown {
			h := b.Help()
			lines = append(lines, fmt.Sprintf("  %-*s %s", keyW, h.Key, h.Desc))
		}
		blocks = append(blocks, lines)
	}
	if m.c.ReadOnly && q == "" {
		blocks = append(blocks, []string{"Read-only", "  actions are hidden; pressing", "  one is refused and recorded"})
	}
	var syntax []string
	for _, l := range FilterSyntax {
		if q == "" || strings.Contains(strings.ToLower(l), q) {
			syntax = append(syntax, "  "+l)
		}
	}
	if len(syntax) > 0 {
		blocks = append(blocks, append([]string{"Filters"}, syntax...))
	}
	if len(blocks) == 0 {
		blocks = append(blocks, []string{fmt.Sprintf("no key matches %q (esc clears the filter)", m.query)})
	}
	return blocks
}

// Bindings returns every binding the help can show for views, for the
// README check: the keymap's, with the view-specific help texts.
func Bindings(k *keys.KeyMap, views []common.View) []key.Binding {
	var out []key.Binding
	out = append(out, k.Global()...)
	out = append(out, k.Movement()...)
	for _, v := range views {
		for _, s := range v.HelpSections() {
			out = append(out, s.Keys...)
		}
	}
	return append(out, k.Dialog()...)
}
