// Package list is the console's table: rows with stable ids, a cursor and
// marks that survive reloads, columns sized to the terminal, sorting by
// any column, and a live list's two behaviours on new rows: with the
// cursor on the top row the list follows the newest rows; anywhere else
// the cursor stays on its row and the rows that arrived above it are
// counted (NewAbove) until the cursor goes up past them, so nothing
// arrives unannounced.
//
// It binds no keys of its own: the caller passes the console keymap, so
// there is no hidden paging on d, u, f, b or space.
package list

import (
	"cmp"
	"slices"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/hookd/hookd/tui/keys"
)

// Column describes one column.
//
// Widths follow the terminal: every column gets Min, columns with Drop set
// are hidden (highest Drop first) when even that does not fit, then each
// column grows towards the width of its widest cell (at most Max), and the
// Flex column takes what is left.
type Column struct {
	Title string
	// Min is the least width; 0 means the title's width.
	Min int
	// Max caps the width; 0 means no cap.
	Max int
	// Flex takes the space left over (the last error, a URL).
	Flex bool
	// Grow marks the columns that grow first towards their widest cell
	// (a name, a reason), before the others get any room.
	Grow bool
	// Right aligns right (numbers).
	Right bool
	// Drop > 0 lets the column be hidden on a narrow terminal; the highest
	// goes first.
	Drop int
	// NoSort excludes the column from sorting.
	NoSort bool
	// HideEmpty hides the column while no row has anything in it (a
	// tenant column where no endpoint has one).
	HideEmpty bool
	// Whole columns are never cut (an id: cut, "110…" reads as another
	// one): as wide as their widest cell, or hidden.
	Whole bool
}

// Row is one line of the table.
type Row struct {
	ID    string
	Cells []string
	// Keys are the sort keys of the cells (int, int64, float64, string,
	// time.Time or time.Duration); a missing key sorts by the cell's text.
	Keys []any
	// Ref is the caller's index of the row's item, kept through sorting.
	Ref int
	// Style colours the row (a dead delivery, a disabled endpoint).
	Style *lipgloss.Style
}

// Model is a table with a cursor and marks.
type Model struct {
	cols    []Column
	natural []Row // as given to SetRows
	rows    []Row // as shown: natural, sorted
	pos     map[string]int
	cursor  int
	offset  int
	width   int
	height  int // rows shown, header excluded
	widths  []int
	marks   map[string]bool
	unseen  map[string]bool // rows that arrived above the cursor, not yet passed
	sortCol int             // -1: as given
	desc    bool
	// Markable shows the mark column.
	Markable bool
	// Ranked lists (endpoints and tenants, trouble first) have no newest
	// row to follow: the cursor stays on its row on the top row too.
	Ranked bool
}

// New returns a table with the given columns, in the order rows are given.
func New(cols ...Column) Model {
	return Model{cols: cols, marks: map[string]bool{}, unseen: map[string]bool{}, pos: map[string]int{}, sortCol: -1}
}

// SetSize sets the space the table may use, header included.
func (m *Model) SetSize(width, height int) {
	m.width = width
	m.height = max(height-1, 1)
	m.layout()
	m.clamp()
}

// SetRows replaces the rows. With the cursor on the top row, it stays on
// the top row (the list follows the newest); otherwise it stays on the row
// with the same id, on the same screen line, and rows new since the last
// call that land above it are counted by NewAbove. Marks on rows
// that are gone are kept (a row may come back on the next page); use
// ClearMarks to drop them.
func (m *Model) SetRows(rows []Row) {
	prevID, screenLine := "", m.cursor-m.offset
	if m.cursor < len(m.rows) {
		prevID = m.rows[m.cursor].ID
	}
	follow := !m.Ranked && m.cursor == 0 && m.offset == 0
	prev := m.pos
	m.natural = rows
	m.arrange()
	if follow {
		m.cursor, m.offset = 0, 0
	} else if i, ok := m.pos[prevID]; ok && prevID != "" {
		m.cursor, m.offset = i, i-screenLine
	}
	m.clamp()
	if len(prev) > 0 && !follow {
		for i := 0; i < m.cursor && i < len(m.rows); i++ {
			if _, seen := prev[m.rows[i].ID]; !seen {
				m.unseen[m.rows[i].ID] = true
			}
		}
	}
	m.pruneUnseen()
	m.layout()
}

// arrange sorts the rows for display and indexes them by id.
func (m *Model) arrange() {
	m.rows = slices.Clone(m.natural)
	if c := m.sortCol; c >= 0 {
		slices.SortStableFunc(m.rows, func(a, b Row) int {
			r := compareKeys(sortKey(a, c), sortKey(b, c))
			if m.desc {
				return -r
			}
			return r
		})
	}
	m.pos = make(map[string]int, len(m.rows))
	for i, r := range m.rows {
		m.pos[r.ID] = i
	}
}

func sortKey(r Row, c int) any {
	if c < len(r.Keys) && r.Keys[c] != nil {
		return r.Keys[c]
	}
	if c < len(r.Cells) {
		return strings.ToLower(r.Cells[c])
	}
	return ""
}

func compareKeys(a, b any) int {
	switch x := a.(type) {
	case int:
		if y, ok := b.(int); ok {
			return cmp.Compare(x, y)
		}
	case int64:
		if y, ok := b.(int64); ok {
			return cmp.Compare(x, y)
		}
	case float64:
		if y, ok := b.(float64); ok {
			return cmp.Compare(x, y)
		}
	case time.Duration:
		if y, ok := b.(time.Duration); ok {
			return cmp.Compare(x, y)
		}
	case time.Time:
		if y, ok := b.(time.Time); ok {
			return x.Compare(y)
		}
	case string:
		if y, ok := b.(string); ok {
			return cmp.Compare(x, y)
		}
	}
	return 0
}

// numeric reports whether a column's keys are numbers or times: those sort
// largest first when chosen, text sorts A to Z.
func (m *Model) numeric(c int) bool {
	for _, r := range m.natural {
		switch sortKey(r, c).(type) {
		case string:
			return false
		default:
			return true
		}
	}
	return false
}

// SortNext sorts by the next sortable column, after the last one going
// back to the rows' own order. The cursor stays on its row.
func (m *Model) SortNext() {
	n := len(m.cols)
	c := m.sortCol
	for range n + 1 {
		c++
		if c >= n {
			c = -1
			break
		}
		if !m.cols[c].NoSort && m.widths != nil && m.widths[c] >= 0 {
			break
		}
	}
	m.SetSort(c, c >= 0 && m.numeric(c))
}

// SortReverse reverses the order; on the rows' own order it sorts by the
// first column instead.
func (m *Model) SortReverse() {
	if m.sortCol < 0 {
		m.SetSort(0, !m.numeric(0))
		return
	}
	m.SetSort(m.sortCol, !m.desc)
}

// SetSort sorts by column c (-1: the rows' own order), descending when
// desc is set, keeping the cursor on its row.
func (m *Model) SetSort(c int, desc bool) {
	id := ""
	if r, ok := m.Selected(); ok {
		id = r.ID
	}
	m.sortCol, m.desc = c, desc
	m.arrange()
	m.layout() // the sorted column's title carries an arrow
	if i, ok := m.pos[id]; ok {
		m.cursor = i
	}
	m.unseen = map[string]bool{}
	m.clamp()
}

// Sort returns the sort column (-1 for the rows' own order) and whether
// it is descending.
func (m *Model) Sort() (col int, desc bool) { return m.sortCol, m.desc }

// SortTitle names the sort for an info line: "AGE ↓", or "" for the rows'
// own order.
func (m *Model) SortTitle() string {
	if m.sortCol < 0 {
		return ""
	}
	return m.cols[m.sortCol].Title + " " + arrow(m.desc)
}

func arrow(desc bool) string {
	if desc {
		return "↓"
	}
	return "↑"
}

// Rows returns the rows in display order.
func (m *Model) Rows() []Row { return m.rows }

// Len returns the number of rows.
func (m *Model) Len() int { return len(m.rows) }

// Cursor returns the cursor's index.
func (m *Model) Cursor() int { return m.cursor }

// Offset returns the first visible row's index.
func (m *Model) Offset() int { return m.offset }

// NewAbove counts rows that arrived above the cursor since it left the
// top row and that it has not gone up past: the "▲ N new" of a live list.
func (m *Model) NewAbove() int { return len(m.unseen) }

// SetCursor moves the cursor to index i.
func (m *Model) SetCursor(i int) {
	m.cursor = i
	m.clamp()
	m.pruneUnseen()
}

// SetCursorID moves the cursor to the row with id, reporting whether it
// is there.
func (m *Model) SetCursorID(id string) bool {
	i, ok := m.pos[id]
	if ok {
		m.SetCursor(i)
	}
	return ok
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

// pruneUnseen forgets new rows once the cursor is on or above them.
func (m *Model) pruneUnseen() {
	for id := range m.unseen {
		if i, ok := m.pos[id]; !ok || i >= m.cursor {
			delete(m.unseen, id)
		}
	}
}
