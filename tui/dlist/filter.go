package dlist

import (
	"strings"

	tea "charm.land/bubbletea/v2"

	"github.com/hookd/hookd/tui/data"
	"github.com/hookd/hookd/tui/filter"
)

// Query returns the query in force now: relative times (since:1h) are
// read back from the clock at each call. ok is false while an endpoint
// name is not resolved yet: the query would then match every endpoint,
// so nothing may act on it.
func (m *Model) Query() (q data.DeliveryQuery, ok bool) {
	if p, err := m.parse(m.text); err == nil {
		m.parsed = p
	}
	// On an error (since:1h until:<a time> once the hour passed that
	// time) the last good filter stays.
	q = m.parsed.Query
	if m.state != "" {
		q.State = m.state
	}
	if m.parsed.Endpoint != "" && !m.parsed.EndpointIsID {
		if m.resolvedFor != m.parsed.Endpoint {
			return q, false
		}
		q.EndpointIDs = m.endpoints
	}
	return q, true
}

func (m *Model) parse(text string) (filter.Delivery, error) {
	return filter.Deliveries(text, m.c.Now(), m.allowed...)
}

// FilterText returns the applied filter as typed.
func (m *Model) FilterText() string { return m.text }

// filterState is what a filter sets.
type filterState struct {
	text        string
	parsed      filter.Delivery
	endpoints   []string
	resolvedFor string
}

func (m *Model) filterState() *filterState {
	return &filterState{text: m.text, parsed: m.parsed, endpoints: m.endpoints, resolvedFor: m.resolvedFor}
}

func (m *Model) setFilterState(f *filterState) {
	m.text, m.parsed, m.endpoints, m.resolvedFor = f.text, f.parsed, f.endpoints, f.resolvedFor
	m.Prompt.SetApplied(m.text)
}

// SetFilter applies text as the filter and returns the reload, or an error
// naming the bad term. The rows shown stay until the reload answers:
// should it fail (the database unreachable), the list keeps them and the
// filter they match, and says why the new one was not applied.
func (m *Model) SetFilter(text string) (tea.Cmd, error) {
	p, err := m.parse(text)
	if err != nil {
		return nil, err
	}
	was := m.filterState()
	m.trial.Begin(m.loaded, func() { m.setFilterState(was) })
	m.setFilterState(&filterState{text: strings.TrimSpace(text), parsed: p})
	return m.Reload(), nil
}

// filterApplied takes the first answer under a new filter on trial: the
// rows start again from the top, unmarked; or, on an error, the previous
// filter and its rows come back.
func (m *Model) filterApplied(err error) tea.Cmd {
	return m.trial.Settle(m.text, err, func() {
		m.items, m.next = nil, 0
		m.Table.SetRows(nil)
		m.Table.SetCursor(0)
		m.Table.ClearMarks()
	})
}
