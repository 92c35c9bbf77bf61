// Package dlist is the paged, filtered, live list of deliveries that the
// deliveries and dead-letter views are built on.
//
// It pages through the database with delivery.List's keyset pagination
// (Before/Limit), so opening it costs one page whatever the table's size,
// and loads the next page as the cursor nears the end. A refresh re-reads
// the rows already loaded (up to MaxRefresh) and keeps the cursor on the
// same delivery. Relative times in the filter (since:1h) are read back
// from the clock at each load, so a live list keeps sliding.
package dlist

import (
	"context"
	"strconv"
	"sync/atomic"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/tui/common"
	"github.com/hookd/hookd/tui/filter"
	"github.com/hookd/hookd/tui/list"
)

// PageSize is how many deliveries one load reads.
const PageSize = 100

// MaxRefresh caps the rows a refresh re-reads; beyond it, live refresh
// stops until ctrl+r (which starts again from the newest).
const MaxRefresh = 1000

var seq atomic.Int64

// Model is a live list of deliveries.
type Model struct {
	c        *common.Common
	id       int64
	gen      int64           // bumped by SetFilter and Reload; answers of older loads are dropped
	base     delivery.Filter // forced terms (state:dead for dead letters)
	allowed  []string
	text     string          // the applied filter, parsed again at each load
	filter   delivery.Filter // text parsed at the last load (or SetFilter)
	Prompt   filter.Prompt
	Table    list.Model
	items    []delivery.Delivery
	next     int64
	loading  bool
	more     bool // a next-page load is under way
	loaded   bool
	err      error
	loadedAt time.Time
	row      func(d delivery.Delivery) list.Row
}

// Loaded answers a load.
type Loaded struct {
	to     int64 // the list (one per view)
	gen    int64 // the load's generation: a stale answer is dropped
	append bool
	page   delivery.Page
	err    error
	at     time.Time
}

// New returns a list; base holds terms the operator cannot change, allowed
// the filter keys the prompt accepts, row renders one delivery.
func New(c *common.Common, base delivery.Filter, allowed []string, cols []list.Column, row func(delivery.Delivery) list.Row) Model {
	return Model{c: c, id: seq.Add(1), base: base, allowed: allowed, filter: base,
		Prompt: filter.NewPrompt("state:dead endpoint:ep_… type:payment.* id:evt_… since:1h"),
		Table:  list.New(cols...), row: row}
}

// Filter returns the filter in force now, base terms included: relative
// times (since:1h) are read back from the clock at each call.
func (m *Model) Filter() delivery.Filter {
	if f, err := m.parse(m.text); err == nil {
		m.filter = f
	}
	// On an error (since:1h until:<a time> once the hour passed that
	// time) the last good filter stays.
	return m.filter
}

func (m *Model) parse(text string) (delivery.Filter, error) {
	f, err := filter.Deliveries(text, m.c.Now(), m.allowed...)
	if err != nil {
		return delivery.Filter{}, err
	}
	if m.base.State != "" {
		f.State = m.base.State
	}
	return f, nil
}

// Items returns the loaded deliveries, in row order.
func (m *Model) Items() []delivery.Delivery { return m.items }

// Err returns the last load's error, nil once a load succeeds.
func (m *Model) Err() error { return m.err }

// LoadedAt returns when the rows shown were read.
func (m *Model) LoadedAt() time.Time { return m.loadedAt }

// HasMore reports whether older deliveries remain to be loaded.
func (m *Model) HasMore() bool { return m.next != 0 }

// Selected returns the delivery under the cursor.
func (m *Model) Selected() (delivery.Delivery, bool) {
	i := m.Table.Cursor()
	if i < 0 || i >= len(m.items) {
		return delivery.Delivery{}, false
	}
	return m.items[i], true
}

// MarkedIDs returns the marked delivery ids.
func (m *Model) MarkedIDs() []int64 {
	var out []int64
	for _, s := range m.Table.Marked() {
		if id, err := strconv.ParseInt(s, 10, 64); err == nil {
			out = append(out, id)
		}
	}
	return out
}

// SetFilter applies text as the filter and returns the reload, or an error
// naming the bad term.
func (m *Model) SetFilter(text string) (tea.Cmd, error) {
	f, err := m.parse(text)
	if err != nil {
		return nil, err
	}
	m.text, m.filter = text, f
	m.Prompt.SetApplied(text)
	m.items, m.next = nil, 0
	m.Table.SetRows(nil)
	m.Table.SetCursor(0)
	m.Table.ClearMarks()
	return m.Reload(), nil
}

// Reload reads the newest page again from the top, whatever is loaded.
// Answers of loads started before it are dropped.
func (m *Model) Reload() tea.Cmd {
	m.gen++
	m.loading, m.more = false, false
	return m.load(false, 0, max(min(len(m.items), MaxRefresh), PageSize))
}

// RefreshNow is ctrl+r: past MaxRefresh rows it reloads from the newest
// (live refresh then runs again), otherwise it refreshes.
func (m *Model) RefreshNow() tea.Cmd {
	if m.RefreshPaused() {
		return m.Reload()
	}
	return m.Refresh()
}

// RefreshPaused reports whether live refresh is off because more than
// MaxRefresh rows are loaded.
func (m *Model) RefreshPaused() bool { return len(m.items) > MaxRefresh }

// Refresh re-reads the loaded rows; nil while a load (or a next page) is
// under way or when more than MaxRefresh rows are loaded.
func (m *Model) Refresh() tea.Cmd {
	if m.loading || m.more || m.RefreshPaused() {
		return nil
	}
	return m.load(false, 0, max(len(m.items), PageSize))
}

func (m *Model) load(appendPage bool, before int64, limit int) tea.Cmd {
	if appendPage {
		m.more = true
	} else {
		m.loading = true
	}
	to, gen, f, now := m.id, m.gen, m.Filter(), m.c.Now()
	return common.Run(m.c, func(ctx context.Context) Loaded {
		page, err := m.c.Source.Deliveries(ctx, delivery.ListParams{Filter: f, Before: before, Limit: limit})
		return Loaded{to: to, gen: gen, append: appendPage, page: page, err: err, at: now}
	}, func(err error) Loaded { return Loaded{to: to, gen: gen, append: appendPage, err: err} })
}

// Update handles this list's loads and its keys: movement, the filter
// prompt and, when mark is set, marking. It reports whether it used msg.
func (m *Model) Update(msg tea.Msg, mark bool) (bool, tea.Cmd) {
	if l, ok := msg.(Loaded); ok {
		if l.to != m.id {
			return false, nil
		}
		if l.gen != m.gen {
			return true, nil // an answer for an earlier filter or reload
		}
		return true, m.apply(l)
	}
	if m.Prompt.Editing() {
		text, done, cmd := m.Prompt.Update(msg)
		if !done {
			return true, cmd
		}
		reload, err := m.SetFilter(text)
		if err != nil {
			return true, common.Errorf("filter: %s", common.Describe(err))
		}
		return true, reload
	}
	if msg, ok := msg.(tea.KeyPressMsg); ok {
		k := m.c.Keys
		switch {
		case m.Table.Move(msg, k):
			return true, m.maybeMore()
		case key.Matches(msg, k.Filter):
			return true, m.Prompt.Start()
		case mark && key.Matches(msg, k.Mark):
			m.Table.ToggleMark()
			return true, nil
		}
	}
	return false, nil
}

func (m *Model) apply(msg Loaded) tea.Cmd {
	if msg.append {
		m.more = false
	} else {
		m.loading = false
	}
	m.err = msg.err
	if msg.err != nil {
		return nil // keep the rows we have; the error is shown
	}
	if msg.append {
		m.items = append(m.items, msg.page.Deliveries...)
	} else {
		m.items = msg.page.Deliveries
		m.loadedAt = msg.at
	}
	m.next = msg.page.Next
	m.loaded = true
	rows := make([]list.Row, len(m.items))
	for i, d := range m.items {
		rows[i] = m.row(d)
	}
	m.Table.SetRows(rows)
	return nil
}

// Ready reports whether a first load has answered.
func (m *Model) Ready() bool { return m.loaded }

func (m *Model) maybeMore() tea.Cmd {
	if m.next == 0 || m.more || m.loading || !m.Table.NearEnd() {
		return nil
	}
	return m.load(true, m.next, PageSize)
}
