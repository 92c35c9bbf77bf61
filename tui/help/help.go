// Package help is the console's help view: every binding of the view the
// operator came from, generated from the keymap, then the global keys and
// the filter syntax.
package help

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/hookd/hookd/tui/common"
	"github.com/hookd/hookd/tui/pager"
)

// FilterSyntax documents the / prompt.
const FilterSyntax = `Filters (/ in a list, enter applies, esc cancels; kept per view):
  space-separated key:value terms, all must match
  deliveries    state:dead endpoint:ep_x type:payment.* id:evt_1 since:1h until:10m
  dead letters  endpoint:ep_x type:invoice.paid id:evt_1 since:2d
  inbox         source:stripe state:dead
  since/until take a duration back from now (90s, 15m, 2h, 3d) or a time
  (2026-01-02, RFC 3339); type takes an exact type or a prefix like payment.*
  states: pending, in_flight, succeeded, dead, held`

// Model is the help view.
type Model struct {
	c      *common.Common
	target common.View
	pager  pager.Model
}

// New returns the view.
func New(c *common.Common) *Model { return &Model{c: c} }

// SetTarget sets the view whose bindings are shown.
func (m *Model) SetTarget(v common.View) {
	m.target = v
	m.pager.SetContent(m.text())
}

// Target returns the view whose bindings are shown.
func (m *Model) Target() common.View { return m.target }

func (m *Model) Title() string       { return "help" }
func (m *Model) Init() tea.Cmd       { return nil }
func (m *Model) Refresh() tea.Cmd    { return nil }
func (m *Model) RefreshNow() tea.Cmd { return nil }
func (m *Model) Nested() bool        { return false }
func (m *Model) SetSize(w, h int)    { m.pager.SetSize(w, h) }
func (m *Model) View() string        { return m.pager.View() }

func (m *Model) Update(msg tea.Msg) (common.Component, tea.Cmd) {
	if k, ok := msg.(tea.KeyPressMsg); ok {
		m.pager.Move(k, m.c.Keys)
	}
	return m, nil
}

func (m *Model) ShortHelp() []key.Binding {
	k := m.c.Keys
	return []key.Binding{k.Up, k.Down, k.Back}
}

func (m *Model) FullHelp() [][]key.Binding { return [][]key.Binding{m.ShortHelp()} }

// Text returns the help text, for tests.
func (m *Model) Text() string { return m.text() }

func (m *Model) text() string {
	var b strings.Builder
	if m.target != nil {
		fmt.Fprintf(&b, "Keys of %s\n", m.target.Title())
		writeGroups(&b, m.target.FullHelp())
		b.WriteString("\n")
	}
	k := m.c.Keys
	b.WriteString("Everywhere\n")
	views := make([]key.Binding, len(k.View))
	copy(views, k.View[:])
	writeGroups(&b, [][]key.Binding{{k.NextView, k.PrevView}, views, {k.Help, k.Back, k.Refresh, k.Quit, k.ForceQuit}})
	b.WriteString("\nDialogs\n")
	writeGroups(&b, [][]key.Binding{{k.Confirm, k.Cancel}})
	if m.c.ReadOnly {
		b.WriteString("\nRead-only: replay, enable and disable are hidden and refused.\n")
	}
	b.WriteString("\n" + FilterSyntax + "\n")
	return b.String()
}

func writeGroups(b *strings.Builder, groups [][]key.Binding) {
	seen := map[string]bool{}
	for _, g := range groups {
		for _, kb := range g {
			h := kb.Help()
			if !kb.Enabled() || seen[h.Key+h.Desc] {
				continue
			}
			seen[h.Key+h.Desc] = true
			fmt.Fprintf(b, "  %-12s %s\n", h.Key, h.Desc)
		}
	}
}
