package deadletters

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/hookd/hookd/tui/common"
	"github.com/hookd/hookd/tui/data"
	"github.com/hookd/hookd/tui/keys"
	"github.com/hookd/hookd/tui/list"
)

// groupList is the grouped view: dead letters by endpoint and reason,
// largest group first. Grouping reads up to data.ScanLimit dead letters,
// so a refresh runs at most once every five times as long as the last
// one took.
type groupList struct {
	c       *common.Common
	table   list.Model
	items   []data.Group
	scanned int64
	capped  bool
	gen     int64
	loading bool
	loaded  bool
	err     error
	at      time.Time
	// took and doneAt pace the refresh.
	took, doneAt time.Duration
}

// epoch anchors the monotonic clock used to pace refreshes.
var epoch = time.Now()

type groupsLoaded struct {
	gen       int64
	g         data.Groups
	err       error
	took, end time.Duration
	at        time.Time
}

func newGroupList(c *common.Common) groupList {
	return groupList{c: c, table: list.New(
		list.Column{Title: "COUNT", Right: true},
		list.Column{Title: "ENDPOINT", Min: 12, Max: 40},
		list.Column{Title: "REASON", Min: 14, Max: 48},
		list.Column{Title: "NEWEST", Right: true},
		list.Column{Title: "LAST ERROR", Min: 10, Flex: true, Drop: 1},
	)}
}

func (g *groupList) refresh(q data.DeliveryQuery, ok bool) tea.Cmd {
	g.render()
	if g.loading || !ok {
		return nil
	}
	if g.took > 0 && time.Since(epoch)-g.doneAt < 4*g.took {
		return nil
	}
	return g.load(q)
}

func (g *groupList) reload(q data.DeliveryQuery, ok bool) tea.Cmd {
	if !ok {
		return nil
	}
	g.gen++
	g.loading = false
	return g.load(q)
}

func (g *groupList) load(q data.DeliveryQuery) tea.Cmd {
	g.loading = true
	gen, now := g.gen, g.c.Now()
	return common.Run(g.c, func(ctx context.Context) groupsLoaded {
		start := time.Since(epoch)
		res, err := g.c.Source.DeadGroups(ctx, q)
		end := time.Since(epoch)
		return groupsLoaded{gen: gen, g: res, err: err, took: end - start, end: end, at: now}
	}, func(err error) groupsLoaded { return groupsLoaded{gen: gen, err: err} })
}

func (g *groupList) update(msg tea.Msg) (bool, tea.Cmd) {
	l, ok := msg.(groupsLoaded)
	if !ok {
		return false, nil
	}
	if l.gen != g.gen {
		return true, nil
	}
	g.loading = false
	g.took, g.doneAt = l.took, l.end
	g.err = l.err
	if l.err == nil {
		g.items, g.scanned, g.capped, g.loaded, g.at = l.g.Groups, l.g.Scanned, l.g.Capped, true, l.at
		g.render()
	}
	return true, nil
}

func (g *groupList) render() {
	now := g.c.Now()
	rows := make([]list.Row, len(g.items))
	for i, gr := range g.items {
		last := gr.Sample
		if strings.TrimSpace(last) == gr.Reason() {
			last = "" // the reason says it all: not twice on one row
		}
		rows[i] = list.Row{ID: fmt.Sprint(gr.EndpointID, "/", gr.Class, "/", gr.Status), Ref: i, Cells: []string{
			common.Count(gr.Count), gr.Endpoint.Name(), gr.Reason(), common.Age(now, gr.Newest), last,
		}, Keys: []any{gr.Count, nil, nil, gr.Newest}}
	}
	g.table.SetRows(rows)
}

func (g *groupList) selected() (data.Group, bool) {
	r, ok := g.table.Selected()
	if !ok || r.Ref >= len(g.items) {
		return data.Group{}, false
	}
	return g.items[r.Ref], true
}

// filterOf is the dead-letter filter that lists exactly group gr.
func filterOf(gr data.Group) string {
	f := "endpoint:" + gr.EndpointID
	if gr.Class != "" {
		f += " reason:" + gr.Class
	}
	if gr.Status > 0 {
		f += " status:" + strconv.Itoa(gr.Status)
	}
	return f
}

func (g *groupList) view(head string) string {
	st := g.c.Styles
	info := fmt.Sprintf("%s in %s", common.Plural(sum(g.items), "dead letter"), common.Plural(len(g.items), "group"))
	if g.capped {
		info += fmt.Sprintf(" (of the newest %s)", common.Count(g.scanned))
	}
	if !g.at.IsZero() {
		info += " · updated " + common.Age(g.c.Now(), g.at) + " ago"
	}
	if g.err != nil {
		info += " · " + st.Error.Render(common.Describe(g.err))
	}
	body := g.table.View(st, "no dead letters match the filter")
	if !g.loaded && g.err == nil {
		body = st.Muted.Render("loading…")
	}
	return head + "  " + st.Muted.Render(info) + "\n" + body
}

func sum(gs []data.Group) int64 {
	var n int64
	for _, g := range gs {
		n += g.Count
	}
	return n
}

// groupKey handles keys in the grouped view.
func (m *Model) groupKey(msg tea.KeyPressMsg) tea.Cmd {
	k := m.c.Keys
	if m.groups.table.Move(msg, k) {
		return nil
	}
	switch {
	case key.Matches(msg, k.Group):
		m.grouped = false
		return tea.Batch(m.list.Refresh(), common.Status("listing dead letters (v groups them)"))
	case key.Matches(msg, k.Filter):
		return m.list.Prompt.Start()
	case key.Matches(msg, k.Sort):
		m.groups.table.SortNext()
	case key.Matches(msg, k.SortReverse):
		m.groups.table.SortReverse()
	case key.Matches(msg, k.Enter):
		gr, ok := m.groups.selected()
		if !ok {
			return nil
		}
		prev := m.list.FilterText()
		cmd, err := m.SetFilter(filterOf(gr))
		if err != nil {
			return common.Errorf("%s", err)
		}
		m.groupFilter = &prev // esc returns to the groups
		return cmd
	case keys.Pressed(msg.String(), k.ReplayAll):
		gr, ok := m.groups.selected()
		if !ok {
			return common.Status("no group selected")
		}
		q, ok := m.query()
		if !ok {
			return nil
		}
		q.EndpointIDs, q.EndpointID = []string{gr.EndpointID}, ""
		q.Reason, q.StatusMin, q.StatusMax = gr.Class, gr.Status, gr.Status
		return m.replay.Matching(q, fmt.Sprintf("%s: %s", gr.Endpoint.Name(), gr.Reason()))
	}
	return nil
}
