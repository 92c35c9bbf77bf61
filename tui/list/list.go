// Package list is the console's table: rows with stable ids, a cursor and
// marks that survive reloads, and a scroll offset that keeps the cursor's
// row where it was on screen when new rows arrive above it.
//
// It binds no keys of its own: the caller passes the console keymap, so
// there is no hidden paging on d, u, f, b or space.
package list

import (
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/hookd/hookd/tui/common"
	"github.com/hookd/hookd/tui/keys"
	"github.com/hookd/hookd/tui/styles"
)

// Column describes one column. Width 0 makes the column take the space
// left over (at most one such column).
type Column struct {
	Title string
	Width int
	Right bool // align right (numbers)
}

// Row is one line of the table.
type Row struct {
	ID    string
	Cells []string
	// Style colours the row (a dead delivery, a disabled endpoint).
	Style *lipgloss.Style
}

// Model is a table with a cursor and marks.
type Model struct {
	cols   []Column
	rows   []Row
	cursor int
	offset int
	width  int
	height int // rows shown, header excluded
	marks  map[string]bool
	// Markable shows the mark column.
	Markable bool
}

// New returns a table with the given columns.
func New(cols ...Column) Model {
	return Model{cols: cols, marks: map[string]bool{}}
}

// SetSize sets the space the table may use, header included.
func (m *Model) SetSize(width, height int) {
	m.width = width
	m.height = max(height-1, 1)
	m.clamp()
}

// SetRows replaces the rows. The cursor stays on the row with the same id
// when it is still there, and on the same screen line; marks on rows that
// are gone are kept (a row may come back on the next page), use
// PruneMarks to drop them.
func (m *Model) SetRows(rows []Row) {
	prevID, screenLine := "", m.cursor-m.offset
	if m.cursor < len(m.rows) {
		prevID = m.rows[m.cursor].ID
	}
	m.rows = rows
	if prevID != "" {
		for i, r := range rows {
			if r.ID == prevID {
				m.cursor = i
				m.offset = i - screenLine
				break
			}
		}
	}
	m.clamp()
}

// Rows returns the rows.
func (m *Model) Rows() []Row { return m.rows }

// Len returns the number of rows.
func (m *Model) Len() int { return len(m.rows) }

// Cursor returns the cursor's index.
func (m *Model) Cursor() int { return m.cursor }

// Offset returns the first visible row's index.
func (m *Model) Offset() int { return m.offset }

// SetCursor moves the cursor to index i.
func (m *Model) SetCursor(i int) {
	m.cursor = i
	m.clamp()
}

// Selected returns the row under the cursor.
func (m *Model) Selected() (Row, bool) {
	if m.cursor < 0 || m.cursor >= len(m.rows) {
		return Row{}, false
	}
	return m.rows[m.cursor], true
}

// ToggleMark marks or unmarks the row under the cursor and moves down.
func (m *Model) ToggleMark() {
	r, ok := m.Selected()
	if !ok {
		return
	}
	if m.marks[r.ID] {
		delete(m.marks, r.ID)
	} else {
		m.marks[r.ID] = true
	}
	m.SetCursor(m.cursor + 1)
}

// Marked returns the ids of the marked rows, in row order for those loaded.
func (m *Model) Marked() []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range m.rows {
		if m.marks[r.ID] {
			out = append(out, r.ID)
			seen[r.ID] = true
		}
	}
	for id := range m.marks {
		if !seen[id] {
			out = append(out, id)
		}
	}
	return out
}

// MarkCount returns how many rows are marked.
func (m *Model) MarkCount() int { return len(m.marks) }

// ClearMarks unmarks every row.
func (m *Model) ClearMarks() { m.marks = map[string]bool{} }

// Move handles a movement key and reports whether it was one.
func (m *Model) Move(msg tea.KeyPressMsg, k *keys.KeyMap) bool {
	switch {
	case key.Matches(msg, k.Up):
		m.SetCursor(m.cursor - 1)
	case key.Matches(msg, k.Down):
		m.SetCursor(m.cursor + 1)
	case key.Matches(msg, k.Top):
		m.SetCursor(0)
	case key.Matches(msg, k.Bottom):
		m.SetCursor(len(m.rows) - 1)
	case key.Matches(msg, k.PageUp):
		m.SetCursor(m.cursor - m.height)
	case key.Matches(msg, k.PageDown):
		m.SetCursor(m.cursor + m.height)
	default:
		return false
	}
	return true
}

// NearEnd reports whether the cursor is within a screen of the last row:
// time to load the next page.
func (m *Model) NearEnd() bool { return len(m.rows)-m.cursor <= m.height }

func (m *Model) clamp() {
	m.cursor = min(max(m.cursor, 0), max(len(m.rows)-1, 0))
	if m.cursor < m.offset {
		m.offset = m.cursor
	}
	if m.cursor >= m.offset+m.height {
		m.offset = m.cursor - m.height + 1
	}
	m.offset = min(max(m.offset, 0), max(len(m.rows)-m.height, 0))
}

// View renders the header and the visible rows; empty is shown when there
// are no rows.
func (m *Model) View(st *styles.Styles, empty string) string {
	widths := m.widths()
	var b strings.Builder
	b.WriteString(st.Header.Render(m.line(widths, nil, true)))
	if len(m.rows) == 0 {
		b.WriteString("\n" + st.Muted.Render(ansi.Truncate(empty, m.width, "…")))
		return b.String()
	}
	end := min(m.offset+m.height, len(m.rows))
	for i := m.offset; i < end; i++ {
		r := m.rows[i]
		line := m.line(widths, &r, false)
		style := st.Row
		switch {
		case i == m.cursor:
			style = st.Cursor
		case m.marks[r.ID]:
			style = st.Marked
		case r.Style != nil:
			style = *r.Style
		}
		b.WriteString("\n" + style.Render(line))
	}
	return b.String()
}

func (m *Model) widths() []int {
	w := make([]int, len(m.cols))
	used, flex := 0, -1
	if m.Markable {
		used += 2
	}
	for i, c := range m.cols {
		w[i] = c.Width
		if c.Width == 0 {
			flex = i
		}
		used += c.Width + 1
	}
	if flex >= 0 {
		w[flex] = max(m.width-used, 4)
	}
	return w
}

func (m *Model) line(widths []int, r *Row, header bool) string {
	var b strings.Builder
	if m.Markable {
		switch {
		case header:
			b.WriteString("  ")
		case m.marks[r.ID]:
			b.WriteString("* ")
		default:
			b.WriteString("  ")
		}
	}
	for i, c := range m.cols {
		text := c.Title
		if !header {
			text = ""
			if i < len(r.Cells) {
				// Cells carry receivers' and senders' text (errors, types).
				text = common.Sanitize(r.Cells[i])
			}
		}
		text = ansi.Truncate(text, widths[i], "…")
		pad := widths[i] - ansi.StringWidth(text)
		if c.Right {
			b.WriteString(strings.Repeat(" ", pad) + text)
		} else {
			b.WriteString(text + strings.Repeat(" ", pad))
		}
		if i < len(m.cols)-1 {
			b.WriteByte(' ')
		}
	}
	return ansi.Truncate(b.String(), m.width, "")
}
