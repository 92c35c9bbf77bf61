package list_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"

	"github.com/charmbracelet/x/ansi"

	"github.com/hookd/hookd/tui/list"
	"github.com/hookd/hookd/tui/styles"
)

func cols() []list.Column {
	return []list.Column{
		{Title: "ID", Right: true, Drop: 2},
		{Title: "NAME", Min: 8, Max: 30},
		{Title: "TYPE", Min: 6, Max: 20, Drop: 1},
		{Title: "ERROR", Min: 10, Flex: true},
	}
}

func rows(ids ...int) []list.Row {
	var out []list.Row
	for _, id := range ids {
		out = append(out, list.Row{ID: strconv.Itoa(id), Ref: id, Cells: []string{strconv.Itoa(id), fmt.Sprintf("endpoint number %d", id),
			"payment.succeeded", "connection refused"}, Keys: []any{id}})
	}
	return out
}

// Columns grow to their content as the width allows, the flex column
// takes the rest, and droppable columns go first when even minimums do
// not fit.
func TestWidthsFollowTheTerminal(t *testing.T) {
	t.Parallel()
	st := styles.New(true, true)
	m := list.New(cols()...)
	m.SetRows(rows(3, 2, 1))
	m.SetSize(200, 10)
	w := m.Widths()
	if w[1] != len("endpoint number 3") || w[2] != len("payment.succeeded") || w[3] < 100 {
		t.Fatalf("at 200 columns names and types show in full, the error takes the rest: %v", w)
	}
	m.SetSize(27, 10)
	w = m.Widths()
	if w[0] != -1 || w[2] == -1 || w[3] < 10 {
		t.Fatalf("at 27 columns the id (highest Drop) goes first, the error stays: %v", w)
	}
	m.SetSize(20, 10)
	if w = m.Widths(); w[0] != -1 || w[2] != -1 || w[1] < 8 || w[3] < 10 {
		t.Fatalf("at 20 the type goes too: %v", w)
	}
	for _, size := range []int{20, 27, 80, 200} {
		m.SetSize(size, 10)
		for _, l := range strings.Split(m.View(&st, ""), "\n") {
			if ansi.StringWidth(l) > size {
				t.Fatalf("at %d a line is %d wide: %q", size, ansi.StringWidth(l), l)
			}
		}
	}
}

func TestFollowsTheNewestOnTopAndCountsNewRowsElsewhere(t *testing.T) {
	t.Parallel()
	m := list.New(cols()...)
	m.SetSize(80, 5)
	m.SetRows(rows(3, 2, 1))
	m.SetRows(rows(4, 3, 2, 1))
	if r, _ := m.Selected(); r.ID != "4" || m.NewAbove() != 0 {
		t.Fatalf("on top, the cursor follows the newest: %s, %d new", r.ID, m.NewAbove())
	}
	m.SetCursor(2) // row 2
	m.SetRows(rows(6, 5, 4, 3, 2, 1))
	if r, _ := m.Selected(); r.ID != "2" || m.NewAbove() != 2 {
		t.Fatalf("elsewhere the cursor stays and the new rows are counted: %s, %d new", r.ID, m.NewAbove())
	}
	m.SetCursor(m.Cursor() - 3) // up past row 5, not 6
	if m.NewAbove() != 1 {
		t.Fatalf("going up past a new row clears it: %d", m.NewAbove())
	}
	m.SetCursor(0)
	if m.NewAbove() != 0 {
		t.Fatal("at the top nothing is new")
	}
}

func TestSortsByAnyColumnMarkedAndReversible(t *testing.T) {
	t.Parallel()
	st := styles.New(true, true)
	m := list.New(cols()...)
	m.SetSize(100, 10)
	m.SetRows(rows(2, 3, 1))
	m.SetCursor(1) // row 3
	m.SortNext()
	if col, desc := m.Sort(); col != 0 || !desc || m.Rows()[0].ID != "3" || m.SortTitle() != "ID ↓" {
		t.Fatalf("s sorts by the first column, numbers largest first: %d %v %s", col, desc, m.SortTitle())
	}
	if r, _ := m.Selected(); r.ID != "3" {
		t.Fatal("the cursor stays on its row")
	}
	if !strings.Contains(m.View(&st, ""), "ID ↓") {
		t.Fatal("the header marks the sort")
	}
	m.SortReverse()
	if m.Rows()[0].ID != "1" || m.SortTitle() != "ID ↑" {
		t.Fatalf("S reverses: %s", m.SortTitle())
	}
	for range 4 {
		m.SortNext()
	}
	if col, _ := m.Sort(); col != -1 || m.Rows()[0].ID != "2" {
		t.Fatalf("after the last column, back to the rows' own order: %d", col)
	}
}

// A column marked HideEmpty shows once a row has something in it, and
// takes no room before.
func TestHideEmptyColumns(t *testing.T) {
	t.Parallel()
	st := styles.New(true, true)
	m := list.New(list.Column{Title: "NAME", Min: 8}, list.Column{Title: "TENANT", Min: 8, HideEmpty: true},
		list.Column{Title: "ERROR", Min: 10, Flex: true})
	m.SetSize(60, 5)
	m.SetRows([]list.Row{{ID: "1", Cells: []string{"billing", "", "refused"}}})
	if w := m.Widths(); w[1] != -1 || strings.Contains(m.View(&st, ""), "TENANT") {
		t.Fatalf("no tenant anywhere: hidden, %v", w)
	}
	m.SetRows([]list.Row{{ID: "1", Cells: []string{"billing", "", "refused"}}, {ID: "2", Cells: []string{"crm", "acme", "503"}}})
	if w := m.Widths(); w[1] < 8 || !strings.Contains(m.View(&st, ""), "TENANT") {
		t.Fatalf("a row with a tenant: shown, %v", w)
	}
}

// A Whole column (an id) is shown whole or not at all: cut, "110…" reads
// as another id.
func TestWholeColumnsAreNeverCut(t *testing.T) {
	t.Parallel()
	c := cols()
	c[0].Whole = true
	m := list.New(c...)
	m.SetRows(rows(1100001, 950002))
	for width := 12; width <= 80; width++ {
		m.SetSize(width, 10)
		w := m.Widths()[0]
		if w != -1 && w < len("1100001") {
			t.Errorf("at width %d the id column is %d wide, cutting 1100001", width, w)
		}
	}
	m.SetSize(80, 10)
	if w := m.Widths()[0]; w != len("1100001") {
		t.Errorf("at 80 columns the id column is %d wide, want it shown whole", w)
	}
}
