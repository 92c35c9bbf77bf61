package list

import (
	"slices"
	"strings"

	"github.com/charmbracelet/x/ansi"

	"github.com/hookd/hookd/tui/common"
	"github.com/hookd/hookd/tui/styles"
)

// layoutRows bounds the rows measured for column widths: enough to be
// representative, few enough to cost nothing.
const layoutRows = 2000

// layout computes the column widths (-1: hidden) for the current width and
// rows.
func (m *Model) layout() {
	n := len(m.cols)
	avail := m.width
	if m.Markable {
		avail -= 2
	}
	minW, want := make([]int, n), make([]int, n)
	shown := make([]bool, n)
	for i, c := range m.cols {
		minW[i] = max(c.Min, ansi.StringWidth(c.Title), 1)
		if i == m.sortCol {
			minW[i] = max(minW[i], ansi.StringWidth(c.Title)+2)
		}
		want[i] = minW[i]
		shown[i] = true
	}
	filled := make([]bool, n)
	for ri, r := range m.natural {
		if ri == layoutRows {
			break
		}
		for i := range min(n, len(r.Cells)) {
			want[i] = max(want[i], ansi.StringWidth(r.Cells[i]))
			filled[i] = filled[i] || r.Cells[i] != ""
		}
	}
	for i, c := range m.cols {
		if c.HideEmpty && !filled[i] {
			shown[i] = false
		}
		if c.Whole {
			minW[i] = want[i]
		}
	}
	for i, c := range m.cols {
		if c.Max > 0 {
			want[i] = max(min(want[i], c.Max), minW[i])
		}
	}
	used := func() int {
		total, count := 0, 0
		for i := range n {
			if shown[i] {
				total += minW[i]
				count++
			}
		}
		return total + max(count-1, 0)
	}
	for used() > avail {
		drop := -1
		for i, c := range m.cols {
			if shown[i] && c.Drop > 0 && (drop < 0 || c.Drop >= m.cols[drop].Drop) {
				drop = i
			}
		}
		if drop < 0 {
			break
		}
		shown[drop] = false
	}
	w := make([]int, n)
	for i := range n {
		w[i] = -1
		if shown[i] {
			w[i] = minW[i]
		}
	}
	extra := avail - used()
	// Grow the fixed columns towards their widest cell, a cell at a time
	// each so that no one column takes all the room: first the short ones
	// (ids, counts, statuses: cut, they mean nothing), then those marked
	// Grow, then the others.
	const short = 8
	phases := []func(i int, c Column) bool{
		func(i int, c Column) bool { return want[i] <= short },
		func(i int, c Column) bool { return c.Grow },
		func(i int, c Column) bool { return true },
	}
	for _, in := range phases {
		for extra > 0 {
			grew := false
			for i, c := range m.cols {
				if extra > 0 && shown[i] && !c.Flex && in(i, c) && w[i] < want[i] {
					w[i]++
					extra--
					grew = true
				}
			}
			if !grew {
				break
			}
		}
	}
	var flex []int
	for i, c := range m.cols {
		if shown[i] && c.Flex {
			flex = append(flex, i)
		}
	}
	for k, i := range flex {
		share := extra / (len(flex) - k)
		if c := m.cols[i]; c.Max > 0 {
			share = min(share, c.Max-w[i])
		}
		w[i] += max(share, 0)
		extra -= max(share, 0)
	}
	m.widths = w
}

// Widths returns the column widths in use, -1 for a hidden column.
func (m *Model) Widths() []int { return slices.Clone(m.widths) }

// View renders the header and the visible rows; empty is shown when there
// are no rows.
func (m *Model) View(st *styles.Styles, empty string) string {
	if m.widths == nil {
		m.layout()
	}
	var b strings.Builder
	b.WriteString(st.Header.Render(m.line(nil, true)))
	if len(m.rows) == 0 {
		b.WriteString("\n" + st.Muted.Render(ansi.Truncate(empty, max(m.width, 1), "…")))
		return b.String()
	}
	end := min(m.offset+m.height, len(m.rows))
	for i := m.offset; i < end; i++ {
		r := m.rows[i]
		line := m.line(&r, false)
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

func (m *Model) line(r *Row, header bool) string {
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
	first := true
	for i, c := range m.cols {
		w := m.widths[i]
		if w < 0 {
			continue
		}
		if !first {
			b.WriteByte(' ')
		}
		first = false
		text := c.Title
		if header && i == m.sortCol {
			text += " " + arrow(m.desc)
		}
		if !header {
			text = ""
			if i < len(r.Cells) {
				// Cells carry receivers' and senders' text (errors, types).
				text = common.Sanitize(r.Cells[i])
				text = strings.ReplaceAll(text, "\n", " ")
			}
		}
		text = ansi.Truncate(text, w, "…")
		pad := strings.Repeat(" ", max(w-ansi.StringWidth(text), 0))
		if c.Right {
			b.WriteString(pad + text)
		} else {
			b.WriteString(text + pad)
		}
	}
	return ansi.Truncate(b.String(), max(m.width, 1), "")
}
