// Package dlist is the paged, filtered, live list of deliveries that the
// deliveries and dead-letter views are built on.
//
// It pages through the database with keyset pagination (Before/Limit), so
// opening it costs one page whatever the table's size, and loads the next
// page as the cursor nears the end. A refresh re-reads the rows already
// loaded (up to MaxRefresh); with the cursor on the top row the list
// follows the newest rows, elsewhere it keeps the cursor on its delivery
// and counts the rows that arrived above (list.NewAbove): the window grows
// by what arrives, and should more arrive in one refresh than it reads,
// the list freezes rather than move the cursor to another delivery. f
// freezes it.
// Relative times in the filter (since:1h) are read back from the clock at
// each load, so a live list keeps sliding, and ages are redrawn on every
// refresh tick, frozen or not.
//
// An endpoint: term that is not an endpoint id is a name: it is resolved
// to the endpoints whose name, URL or id contains it once, when the filter
// is applied (and on ctrl+r), never on every refresh.
package dlist

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/tui/common"
	"github.com/hookd/hookd/tui/data"
	"github.com/hookd/hookd/tui/filter"
	"github.com/hookd/hookd/tui/list"
	"github.com/hookd/hookd/tui/styles"
)

// PageSize is how many deliveries one load reads.
const PageSize = 100

// MaxRefresh caps the rows a refresh re-reads; beyond it, live refresh
// stops until ctrl+r (which starts again from the newest).
const MaxRefresh = 1000

// MaxNameMatches bounds the endpoints a name in endpoint: may match.
const MaxNameMatches = 10

var seq atomic.Int64

// RowFunc renders one delivery, its endpoint named by l, at now.
type RowFunc func(d delivery.Delivery, l data.Label, now time.Time) list.Row

// Model is a live list of deliveries.
type Model struct {
	c       *common.Common
	id      int64
	gen     int64 // bumped by SetFilter and Reload; answers of older loads are dropped
	state   delivery.State
	allowed []string
	text    string          // the applied filter, parsed again at each load
	parsed  filter.Delivery // text parsed at the last load (or SetFilter)
	// endpoints are the ids an endpoint name resolved to (nil: none
	// needed or not yet resolved); resolvedFor is the name.
	endpoints   []string
	resolvedFor string
	Prompt      filter.Prompt
	Table       list.Model
	items       []delivery.Delivery
	labels      map[string]data.Label
	next        int64
	loading     bool
	more        bool // a next-page load is under way
	loaded      bool
	frozen      bool
	frozenWhy   string // why the list froze itself ("" when the operator froze it)
	partial     bool
	err         error
	loadedAt    time.Time
	row         RowFunc
	// trial keeps the rows shown, and the filter they match, while a new
	// filter's first load is under way: should it fail, the list goes back
	// to them instead of showing nothing.
	trial filter.Trial
	// Noun names the rows in messages ("deliveries", "dead letters").
	Noun string
}

// Loaded answers a load.
type Loaded struct {
	to        int64 // the list (one per view)
	gen       int64 // the load's generation: a stale answer is dropped
	append    bool
	page      data.DeliveryPage
	endpoints []string // resolved from a name, when the load resolved one
	name      string
	err       error
	at        time.Time
	limit     int  // the rows asked for
	live      bool // a live refresh (not a reload, a filter or a page)
}

// New returns a list; state is forced (dead for the dead-letter view, ""
// for none), allowed are the filter keys the prompt accepts, row renders
// one delivery.
func New(c *common.Common, state delivery.State, allowed []string, cols []list.Column, row RowFunc) Model {
	return Model{c: c, id: seq.Add(1), state: state, allowed: allowed, labels: map[string]data.Label{},
		Prompt: filter.NewPrompt("endpoint:legacy status:5xx reason:connect refused since:1h"),
		Table:  list.New(cols...), row: row, Noun: "deliveries"}
}

// Items returns the loaded deliveries, in load order (newest first).
func (m *Model) Items() []delivery.Delivery { return m.items }

// Label names the endpoint of a loaded delivery.
func (m *Model) Label(endpointID string) data.Label {
	if l, ok := m.labels[endpointID]; ok {
		return l
	}
	return data.Label{ID: endpointID}
}

// Err returns the last load's error, nil once a load succeeds.
func (m *Model) Err() error { return m.err }

// LoadedAt returns when the rows shown were read.
func (m *Model) LoadedAt() time.Time { return m.loadedAt }

// HasMore reports whether older deliveries remain to be loaded.
func (m *Model) HasMore() bool { return m.next != 0 }

// Frozen reports whether live refresh is off at the operator's request.
func (m *Model) Frozen() bool { return m.frozen }

// Selected returns the delivery under the cursor.
func (m *Model) Selected() (delivery.Delivery, bool) {
	r, ok := m.Table.Selected()
	if !ok || r.Ref < 0 || r.Ref >= len(m.items) {
		return delivery.Delivery{}, false
	}
	return m.items[r.Ref], true
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

// Reload reads the newest page again from the top, whatever is loaded,
// resolving an endpoint name again. Answers of loads started before it
// are dropped.
func (m *Model) Reload() tea.Cmd {
	m.gen++
	m.loading, m.more = false, false
	m.resolvedFor = ""
	return m.load(false, false, 0, max(min(len(m.items), MaxRefresh), PageSize))
}

// RefreshNow is ctrl+r: it reloads from the newest, frozen or not.
func (m *Model) RefreshNow() tea.Cmd {
	if m.RefreshPaused() || m.frozen {
		return m.Reload()
	}
	return m.refresh()
}

// RefreshPaused reports whether live refresh is off because more than
// MaxRefresh rows are loaded.
func (m *Model) RefreshPaused() bool { return len(m.items) > MaxRefresh }

// Redraw redraws the ages without reading anything (while a dialog
// holds the rows the operator is deciding about).
func (m *Model) Redraw() { m.render() }

// Refresh redraws the ages and re-reads the loaded rows; it reads nothing
// while a load (or a next page) is under way, while frozen, or when more
// than MaxRefresh rows are loaded.
func (m *Model) Refresh() tea.Cmd {
	m.render()
	if m.frozen || m.RefreshPaused() {
		return nil
	}
	return m.refresh()
}

func (m *Model) refresh() tea.Cmd {
	if m.loading || m.more {
		return nil
	}
	return m.load(false, true, 0, list.RefreshLimit(len(m.items), PageSize, MaxRefresh, m.Table.Cursor() > 0))
}

// load reads a next page below before (appendPage) or the loaded rows
// again; live is a refresh.
func (m *Model) load(appendPage, live bool, before int64, limit int) tea.Cmd {
	if appendPage {
		m.more = true
	} else {
		m.loading = true
	}
	q, _ := m.Query()
	to, gen, now := m.id, m.gen, m.c.Now()
	name := ""
	if m.parsed.Endpoint != "" && !m.parsed.EndpointIsID && m.resolvedFor != m.parsed.Endpoint {
		name = m.parsed.Endpoint
	}
	limit = min(limit, 1000)
	q.Before, q.Limit = before, limit
	return common.Run(m.c, func(ctx context.Context) Loaded {
		var resolved []string
		if name != "" {
			ls, err := m.c.Source.FindEndpoints(ctx, name, "", MaxNameMatches+1)
			if err != nil {
				return Loaded{to: to, gen: gen, append: appendPage, err: err}
			}
			if len(ls) > MaxNameMatches {
				return Loaded{to: to, gen: gen, append: appendPage,
					err: fmt.Errorf("endpoint:%s matches more than %d endpoints; give more of the name, or an id", name, MaxNameMatches)}
			}
			resolved = []string{}
			for _, l := range ls {
				resolved = append(resolved, l.ID)
			}
			q.EndpointIDs = resolved
		}
		page, err := m.c.Source.Deliveries(ctx, q)
		return Loaded{to: to, gen: gen, append: appendPage, page: page, endpoints: resolved, name: name, err: err, at: now, limit: limit, live: live}
	}, func(err error) Loaded { return Loaded{to: to, gen: gen, append: appendPage, err: err} })
}

// Update handles this list's loads and its keys: movement, sorting, the
// filter prompt, freezing and, when mark is set, marking. It reports
// whether it used msg.
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
	if used, cmd := m.Prompt.Handle(msg, m.SetFilter); used {
		return true, cmd
	}
	k, ok := msg.(tea.KeyPressMsg)
	if !ok {
		return false, nil
	}
	keys := m.c.Keys
	switch {
	case m.Table.Move(k, keys):
		return true, m.maybeMore()
	case key.Matches(k, keys.Filter):
		return true, m.Prompt.Start()
	case key.Matches(k, keys.Sort):
		m.Table.SortNext()
		return true, common.Status(m.sortText())
	case key.Matches(k, keys.SortReverse):
		m.Table.SortReverse()
		return true, common.Status(m.sortText())
	case key.Matches(k, keys.Pause):
		m.frozen, m.frozenWhy = !m.frozen, ""
		if m.frozen {
			return true, common.Status("frozen: live refresh is off (f follows again, ctrl+r reloads once)")
		}
		return true, tea.Batch(common.Status("following: live refresh is on"), m.refresh())
	case mark && key.Matches(k, keys.Mark):
		m.Table.ToggleMark()
		return true, nil
	}
	return false, nil
}

func (m *Model) sortText() string {
	if t := m.Table.SortTitle(); t != "" {
		return "sorted by " + t + " (s next column, S reverses)"
	}
	return "sorted newest first (s sorts by a column)"
}

func (m *Model) apply(msg Loaded) tea.Cmd {
	if msg.append {
		m.more = false
	} else {
		m.loading = false
	}
	m.err = msg.err
	var applied tea.Cmd
	if m.trial.On() && !msg.append {
		applied = m.filterApplied(msg.err)
	}
	if msg.err != nil {
		return applied // keep the rows we have; the error is shown
	}
	rows, next := msg.page.Deliveries, msg.page.Next
	if sel, ok := m.Selected(); ok && msg.live && m.Table.Cursor() > 0 {
		var slid bool
		if rows, next, slid = list.Refreshed(m.items, rows, next, deliveryID, sel.ID, msg.limit); slid {
			m.frozen, m.frozenWhy = true, "more new above than a refresh reads"
			// The cursor stays on its delivery; 80 columns show the reason.
			return common.Status("frozen: " + m.frozenWhy + " (f follows)")
		}
	}
	if msg.name != "" {
		m.endpoints, m.resolvedFor = msg.endpoints, msg.name
	}
	if msg.append {
		m.items = append(m.items, rows...)
	} else {
		m.items = rows
		m.loadedAt = msg.at
		m.labels = map[string]data.Label{}
	}
	for id, l := range msg.page.Labels {
		m.labels[id] = l
	}
	m.next = next
	m.partial = msg.page.Scanned
	m.loaded = true
	m.render()
	return nil
}

func deliveryID(d delivery.Delivery) int64 { return d.ID }

// render rebuilds the rows from the loaded deliveries at the clock's now.
func (m *Model) render() {
	if !m.loaded {
		return
	}
	now := m.c.Now()
	rows := make([]list.Row, len(m.items))
	for i, d := range m.items {
		rows[i] = m.row(d, m.Label(d.EndpointID), now)
		rows[i].ID, rows[i].Ref = strconv.FormatInt(d.ID, 10), i
	}
	m.Table.SetRows(rows)
}

// Ready reports whether a first load has answered.
func (m *Model) Ready() bool { return m.loaded }

func (m *Model) maybeMore() tea.Cmd {
	if m.next == 0 || m.more || m.loading || !m.Table.NearEnd() {
		return nil
	}
	return m.load(true, false, m.next, PageSize)
}

// Info renders the list's status for the line above it: how many rows,
// marks, the sort, new rows above, frozen, how fresh.
func (m *Model) Info(st *styles.Styles) string {
	var parts []string
	// An error first, then why refresh stopped: a narrow terminal cuts
	// the end of the line.
	if err := m.Err(); err != nil {
		parts = append(parts, st.Error.Render(common.Describe(err)))
	}
	switch {
	case m.frozen && m.frozenWhy != "":
		parts = append(parts, st.Warn.Render("FROZEN: "+m.frozenWhy+" (f follows)"))
	case m.frozen:
		parts = append(parts, st.Warn.Render("FROZEN (f follows)"))
	case m.RefreshPaused():
		parts = append(parts, common.RefreshPausedText(MaxRefresh))
	}
	loaded := fmt.Sprintf("%d loaded", len(m.items))
	if m.HasMore() {
		loaded += "+"
	}
	parts = append(parts, loaded)
	if n := m.Table.NewAbove(); n > 0 {
		parts = append(parts, st.Warn.Render(fmt.Sprintf("▲ %d new (g: top)", n)))
	}
	if n := m.Table.MarkCount(); n > 0 {
		parts = append(parts, fmt.Sprintf("%d marked", n))
	}
	if t := m.Table.SortTitle(); t != "" {
		parts = append(parts, "by "+t)
	}
	if m.partial {
		parts = append(parts, fmt.Sprintf("searched the newest %s", common.Count(data.ScanLimit)))
	}
	if !m.loadedAt.IsZero() {
		parts = append(parts, "updated "+common.Age(m.c.Now(), m.loadedAt)+" ago")
	}
	return strings.Join(parts, " · ")
}

// Body renders the table, or what stands in for it: loading, or an empty
// state that names the filter.
func (m *Model) Body(st *styles.Styles) string {
	if !m.loaded && m.err == nil {
		return st.Muted.Render("loading…")
	}
	empty := "no " + m.Noun + " yet"
	if m.text != "" {
		empty = "no " + m.Noun + " match /" + m.text
		if m.parsed.Endpoint != "" && !m.parsed.EndpointIsID && m.endpoints != nil && len(m.endpoints) == 0 {
			empty = "no endpoint's name, URL or id contains " + strconvQuote(m.parsed.Endpoint) + " (filter /" + m.text + ")"
		}
		empty += " · / edits the filter"
	}
	return m.Table.View(st, empty)
}

func strconvQuote(s string) string { return strconv.Quote(s) }
