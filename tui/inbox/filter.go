package inbox

import (
	"fmt"
	"slices"
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/hookd/hookd/tui/common"
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
	if m.was == nil && m.loaded {
		m.was = &inboxFilter{query: m.query, applied: m.prompt.Applied()}
	}
	m.query = data.InboxQuery{Source: t.Get("source"), State: t.Get("state"), EventID: t.Get("id")}
	m.prompt.SetApplied(strings.TrimSpace(text))
	if m.was == nil {
		m.items, m.next = nil, 0
		m.table.SetRows(nil)
	}
	return m.reload(), nil
}

// inboxFilter is what a filter sets.
type inboxFilter struct {
	query   data.InboxQuery
	applied string
}

// settle takes a new filter's first answer: on an error the previous
// filter comes back, with the rows it shows, and the error says so.
func (m *Model) settle(err error) tea.Cmd {
	was, tried := m.was, m.prompt.Applied()
	m.was = nil
	if was == nil || err == nil {
		if was != nil { // the new filter's rows start from the top
			m.table.SetRows(nil)
			m.table.SetCursor(0)
		}
		return nil
	}
	m.query = was.query
	m.prompt.SetApplied(was.applied)
	return common.NotApplied(tried, err)
}
