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
	"github.com/hookd/hookd/tui/pager"
)

// FilterSyntax documents the / prompt, a paragraph each: the help view
// wraps them to its column, each one's next lines indented under it.
var FilterSyntax = []string{
	"/ in a list: enter applies, esc cancels; each view keeps its own filter",
	"terms are space-separated and all must match: state:retrying endpoint:legacy status:5xx tenant:cus_42 reason:connect since:1h refused",
	`a word without a key is text to find; quotes keep spaces and colons: "connection refused"`,
	"endpoint: an id, or part of a name or URL",
	"tenant: a tenant id (deliveries, dead letters, endpoints)",
	"since: and until: 90s, 15m, 2h, 3d, or a date: 2026-01-02",
	"states: " + strings.Join(filter.DeliveryStates, ", "),
	"reasons: " + strings.Join(filter.Reasons, ", "),
	"inbox: source: state: id:",
	"audit: actor: action: outcome: target:",
	"endpoints: text, tenant:",
	"tenants: text (id or name)",
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

// New returns the view. Its prompt's examples are words every view's
// help has (its keys for everywhere): "replay" matched nothing from the
// audit view.
func New(c *common.Common) *Model {
	return &Model{c: c, prompt: filter.NewPrompt("a key or a word: view, back, ctrl")}
}

// SetTarget sets the view whose bindings are shown (help is opening).
func (m *Model) SetTarget(v common.View) {
	m.target = v
	m.relayout()
	m.pager.Home() // help opens at its top, not where it was last left
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
	if m.prompt.Editing() {
		return filter.Keys()
	}
	return []key.Binding{k.Filter, k.PageDown, k.Back}
}

func (m *Model) FullHelp() [][]key.Binding { return [][]key.Binding{m.ShortHelp()} }

// HelpSections lists the view's own keys.
func (m *Model) HelpSections() []common.HelpSection {
	k := m.c.Keys
	return []common.HelpSection{{Title: "help", Keys: []key.Binding{k.Filter, k.Up, k.Down, k.PageUp, k.PageDown, k.Back}}}
}

// Sections returns what the help shows, in order: the keys that work
// everywhere, the view's (without the moves), moving, dialogs.
func (m *Model) Sections() []common.HelpSection {
	k := m.c.Keys
	out := []common.HelpSection{{Title: "Everywhere", Keys: k.Global()}}
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
	return append(out, common.HelpSection{Title: "Moving in lists and text", Keys: moves},
		common.HelpSection{Title: "Dialogs and forms", Keys: k.Dialog()})
}

func sameHelp(a, b key.Binding) bool { return a.Help() == b.Help() }

// Text returns the help as plain text, for tests.
func (m *Model) Text() string { return m.pager.Content() }

// relayout lays the sections out in bands of columns as tall as the
// screen: as many columns of up to maxCol cells as the width takes,
// filled a section at a time in reading order, so the first screen holds
// the keys that work everywhere and the view's own. Each column is as
// wide as its widest line, or its share of the width when they do not
// all fit.
func (m *Model) relayout() {
	const gap, maxCol, minCol = 2, 60, 34
	width := max(m.w, 20)
	perCol := max(m.h-1, 1)
	widest, lines := 0, 0
	for _, b := range m.blocks(0) {
		lines += len(b) + 1
		for _, l := range b {
			widest = max(widest, ansi.StringWidth(l))
		}
	}
	// As many columns as the width takes, and as the text needs; lines
	// longer than a column wrap within it instead of being cut.
	cols := max(min((width+gap)/(min(widest, minCol)+gap), (lines+perCol-1)/perCol), 1)
	blocks := m.blocks(min((width-gap*(cols-1))/cols, maxCol))
	var out strings.Builder
	var band [][]string
	var cur []string
	flush := func() {
		if len(cur) > 0 {
			band = append(band, cur)
			cur = nil
		}
		if len(band) == 0 {
			return
		}
		writeBand(&out, band, columnWidths(band, width-gap*(len(band)-1), maxCol), gap)
		band = nil
	}
	for _, b := range blocks {
		if len(cur) > 0 && len(cur)+1+len(b) > perCol {
			band = append(band, cur)
			cur = nil
			if len(band) == cols {
				flush()
			}
		}
		if len(cur) > 0 {
			cur = append(cur, "")
		}
		cur = append(cur, b...)
	}
	flush()
	m.pager.SetSize(width, perCol)
	m.pager.SetContent(strings.TrimRight(out.String(), "\n") + "\n")
}

// writeBand writes columns side by side, padded to a screen's height so
// the next band starts on the next screen.
func writeBand(out *strings.Builder, columns [][]string, widths []int, gap int) {
	rows := 0
	for _, c := range columns {
		rows = max(rows, len(c))
	}
	for r := range rows {
		var line strings.Builder
		for ci, c := range columns {
			cell := ""
			if r < len(c) {
				cell = ansi.Truncate(c[r], widths[ci], "…")
			}
			if ci < len(columns)-1 {
				cell += strings.Repeat(" ", max(widths[ci]-ansi.StringWidth(cell), 0)+gap)
			}
			line.WriteString(cell)
		}
		out.WriteString(strings.TrimRight(line.String(), " ") + "\n")
	}
	out.WriteString("\n")
}

// columnWidths gives each column its widest line (at most maxCol), or,
// when that does not fit in avail, an equal share with what a narrow
// column leaves going to the others.
func columnWidths(columns [][]string, avail, maxCol int) []int {
	want := make([]int, len(columns))
	for i, c := range columns {
		for _, l := range c {
			want[i] = max(want[i], min(ansi.StringWidth(l), maxCol))
		}
	}
	out := make([]int, len(columns))
	left, open := avail, len(columns)
	for open > 0 {
		share := max(left/open, 1)
		progressed := false
		for i := range columns {
			if out[i] == 0 && want[i] <= share {
				out[i], left, open, progressed = want[i], left-want[i], open-1, true
			}
		}
		if !progressed {
			for i := range columns {
				if out[i] == 0 {
					out[i] = share
				}
			}
			break
		}
	}
	return out
}

// blocks renders each section as lines, keeping only keys that match the
// filter, a description that does not fit in width (0: any) wrapped under
// itself.
func (m *Model) blocks(width int) [][]string {
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
			lines = append(lines, hanging(fmt.Sprintf("  %-*s ", keyW, h.Key), h.Desc, width)...)
		}
		blocks = append(blocks, lines)
	}
	if m.c.ReadOnly && q == "" {
		blocks = append(blocks, []string{"Read-only", "  actions are hidden; pressing", "  one is refused and recorded"})
	}
	var syntax []string
	for _, l := range FilterSyntax {
		if q == "" || strings.Contains(strings.ToLower(l), q) {
			syntax = append(syntax, hangingUnder("  ", "    ", l, width)...)
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

// hangingUnder renders head followed by text wrapped at width (0: not
// wrapped) between words only (a date or a key:value stays whole), its
// next lines after indent.
func hangingUnder(head, indent, text string, width int) []string {
	if width <= 0 || ansi.StringWidth(head+text) <= width {
		return []string{head + text}
	}
	var lines []string
	line := head
	for _, w := range strings.Fields(text) {
		switch {
		case line == head || line == indent:
			line += w
		case ansi.StringWidth(line+" "+w) <= width:
			line += " " + w
		default:
			lines = append(lines, line)
			line = indent + w
		}
	}
	return append(lines, line)
}

// hanging renders head followed by text, text wrapped at width (0: not
// wrapped) with its next lines under its first.
func hanging(head, text string, width int) []string {
	room := width - ansi.StringWidth(head)
	if width <= 0 || room < 10 || ansi.StringWidth(text) <= room {
		return []string{head + text}
	}
	lines := strings.Split(ansi.Wrap(text, room, ""), "\n")
	pad := strings.Repeat(" ", ansi.StringWidth(head))
	for i, l := range lines {
		if i == 0 {
			lines[i] = head + l
		} else {
			lines[i] = pad + strings.TrimLeft(l, " ")
		}
	}
	return lines
}
