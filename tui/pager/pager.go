// Package pager shows a block of text that scrolls with the console's
// movement keys: the event payload, an attempt's request and response.
package pager

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/hookd/hookd/tui/common"
	"github.com/hookd/hookd/tui/keys"
)

// Model is a scrollable block of text, wrapped at its width.
type Model struct {
	raw    string
	lines  []string
	offset int
	width  int
	height int
}

// SetSize sets the visible area and rewraps the text.
func (m *Model) SetSize(width, height int) {
	m.width, m.height = max(width, 1), max(height, 1)
	m.wrap()
}

// SetContent replaces the text; the scroll position is kept when possible.
// The text is shown sanitized (common.Sanitize): it is plain text, often
// from outside hookd.
func (m *Model) SetContent(s string) {
	m.raw = common.Sanitize(s)
	m.wrap()
}

// Home scrolls to the first line.
func (m *Model) Home() { m.offset = 0 }

// Content returns the unwrapped text.
func (m *Model) Content() string { return m.raw }

// Offset returns the first visible line.
func (m *Model) Offset() int { return m.offset }

// wrap breaks the text at spaces to the width, and a word longer than the
// width (a signature, a URL) across lines: a hard wrap cut names and ids
// in two mid-word. A line's next lines are indented two cells past its
// own indentation, so that wrapped JSON keeps its shape.
func (m *Model) wrap() {
	m.lines = m.lines[:0]
	for _, line := range strings.Split(m.raw, "\n") {
		m.lines = append(m.lines, common.WrapLine(line, max(m.width, 1))...)
	}
	m.scroll(0)
}

func (m *Model) scroll(n int) {
	m.offset = min(max(m.offset+n, 0), max(len(m.lines)-m.height, 0))
}

// Move handles a movement key and reports whether it was one.
func (m *Model) Move(msg tea.KeyPressMsg, k *keys.KeyMap) bool {
	switch {
	case key.Matches(msg, k.Up):
		m.scroll(-1)
	case key.Matches(msg, k.Down):
		m.scroll(1)
	case key.Matches(msg, k.Top):
		m.offset = 0
	case key.Matches(msg, k.Bottom):
		m.scroll(len(m.lines))
	case key.Matches(msg, k.PageUp):
		m.scroll(-m.height)
	case key.Matches(msg, k.PageDown):
		m.scroll(m.height)
	default:
		return false
	}
	return true
}

// View renders the visible lines.
func (m *Model) View() string {
	end := min(m.offset+m.height, len(m.lines))
	return strings.Join(m.lines[m.offset:end], "\n")
}
