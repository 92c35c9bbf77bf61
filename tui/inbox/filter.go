package inbox

import (
	"fmt"
	"slices"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/hookd/hookd/tui/data"
	"github.com/hookd/hookd/tui/filter"
)

// SetFilter applies text as the filter.
func (m *Model) SetFilter(text string) (tea.Cmd, error) {
	t, err := filter.Parse(text, FilterKeys...)
	if err != nil {
		return nil, err
	}
	if s := t.Get("state"); s != "" && !slices.Contains([]string{"pending", "processed", "forwarded", "dead"}, s) {
		return nil, fmt.Errorf("state %q is not an inbox state (allowed: pending, processed, forwarded, dead)", s)
	}
	was, wasApplied := m.query, m.prompt.Applied()
	if !m.trial.Begin(m.loaded, func() { m.query = was; m.prompt.SetApplied(wasApplied) }) {
		m.items, m.next = nil, 0
		m.table.SetRows(nil)
	}
	m.query = data.InboxQuery{Source: t.Get("source"), State: t.Get("state"), EventID: t.Get("id")}
	m.prompt.SetApplied(strings.TrimSpace(text))
	return m.reload(), nil
}

// settle takes a new filter's first answer: its rows start from the top,
// or on an error the previous filter is back with its rows.
func (m *Model) settle(err error) tea.Cmd {
	return m.trial.Settle(m.prompt.Applied(), err, func() {
		m.table.SetRows(nil)
		m.table.SetCursor(0)
	})
}
