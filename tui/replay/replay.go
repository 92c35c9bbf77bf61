// Package replay holds the console's replay flows, shared by the
// deliveries view, the dead-letter view, the endpoints view, the endpoint
// page and the tenants view:
//
//   - one delivery: a question naming the delivery, its event and its
//     endpoint, confirmed with y;
//   - marked deliveries: a preview as below, then a typed confirmation
//     of their count;
//   - everything a filter matches: a preview first (how many, grouped by
//     endpoint and reason, with each endpoint's health now), then a typed
//     confirmation of the count. The replay touches what the preview
//     counted: dead letters that died later are left for the next one;
//   - a fifo endpoint's blocked head: retried now, or skipped so that the
//     line moves on (head.go), confirmed with y.
//
// In read-only mode every flow is refused and the refusal is recorded in
// the audit trail.
package replay

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync/atomic"

	tea "charm.land/bubbletea/v2"

	"github.com/hookd/hookd/core/audit"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/tui/common"
	"github.com/hookd/hookd/tui/confirm"
	"github.com/hookd/hookd/tui/data"
)

var seq atomic.Int64

// Model runs replays for one view and holds their dialog.
type Model struct {
	c      *common.Common
	id     int64
	Dialog confirm.Model
}

// New returns the replays of one view.
func New(c *common.Common) Model { return Model{c: c, id: seq.Add(1)} }

// Done answers a replay (or a skip); the view reloads.
type Done struct {
	to  int64
	N   int64
	One int64 // the delivery, for a single replay
	// Skipped says One was skipped, not replayed.
	Skipped bool
	Err     error
}

// loaded answers the load of a delivery ByID asks about.
type loaded struct {
	to    int64
	d     delivery.Delivery
	label data.Label
	err   error
}

// ByID asks to replay delivery id (a drill-down's): at once when it is
// among known, else once it is loaded, with its endpoint's name.
func (m *Model) ByID(id int64, known []delivery.Delivery, label func(endpointID string) data.Label) tea.Cmd {
	if id == 0 {
		return common.Status("no delivery here to replay")
	}
	for _, d := range known {
		if d.ID == id {
			return m.One(d, label(d.EndpointID))
		}
	}
	to := m.id
	return common.Run(m.c, func(ctx context.Context) loaded {
		d, err := m.c.Source.Delivery(ctx, id)
		if err != nil {
			return loaded{to: to, err: err}
		}
		ls, err := m.c.Source.Labels(ctx, []string{d.EndpointID})
		return loaded{to: to, d: *d, label: ls[d.EndpointID], err: err}
	}, func(err error) loaded { return loaded{to: to, err: err} })
}

// previewed answers a preview.
type previewed struct {
	to     int64
	pv     *data.Preview
	target string
	err    error
}

// One asks to replay delivery d, whose endpoint l names.
func (m *Model) One(d delivery.Delivery, l data.Label) tea.Cmd {
	target := fmt.Sprintf("delivery %d", d.ID)
	if m.c.ReadOnly {
		return common.RefusedReadOnly(m.c, "replay", audit.ActionReplay, target)
	}
	if d.State == delivery.StateInFlight {
		return common.Status(fmt.Sprintf("delivery %d is in flight; replay it once its attempt has finished", d.ID))
	}
	name := l.Name()
	if l.ID == "" {
		name = d.EndpointID
	}
	why := ""
	if d.State == delivery.StateDead {
		why = fmt.Sprintf("\nIt died after %s: %s", common.Plural(d.Attempts, "attempt"),
			data.Group{Class: d.LastErrorClass, Status: status(d), Sample: d.LastError}.Reason())
	}
	id := d.ID
	m.Dialog.Open(common.Sanitize(fmt.Sprintf("Replay delivery %d (%s, %s) to %s?%s", id, d.EventID, d.EventType, name, why)),
		m.run(func(ctx context.Context) Done {
			return Done{N: 1, One: id, Err: m.c.Source.Replay(ctx, id)}
		}))
	return nil
}

func status(d delivery.Delivery) int {
	if d.LastStatus == nil {
		return 0
	}
	return *d.LastStatus
}

// IDs previews the replay of the marked deliveries, grouped by endpoint
// and reason with each endpoint's health now; the answer opens the typed
// confirmation of their count.
func (m *Model) IDs(ids []int64) tea.Cmd {
	target := "deliveries " + joinIDs(ids)
	if m.c.ReadOnly {
		return common.RefusedReadOnly(m.c, "replaying marked deliveries", audit.ActionReplay, target)
	}
	if len(ids) == 0 {
		return common.Status("nothing marked: space marks a row")
	}
	to, now := m.id, m.c.Now()
	return common.Run(m.c, func(ctx context.Context) previewed {
		pv, err := m.c.Source.PreviewMarked(ctx, ids, now)
		return previewed{to: to, pv: pv, target: target, err: err}
	}, func(err error) previewed { return previewed{to: to, err: err} })
}

func joinIDs(ids []int64) string {
	parts := make([]string, len(ids))
	for i, id := range ids {
		parts[i] = strconv.FormatInt(id, 10)
	}
	return strings.Join(parts, ", ")
}

// Matching previews the replay of every dead letter q matches; target
// names the filter (the dialog and the audit trail show it). The answer
// opens the typed confirmation.
func (m *Model) Matching(q data.DeliveryQuery, target string) tea.Cmd {
	if m.c.ReadOnly {
		return common.RefusedReadOnly(m.c, "replaying dead letters", audit.ActionReplay, target)
	}
	to, now := m.id, m.c.Now()
	return common.Run(m.c, func(ctx context.Context) previewed {
		pv, err := m.c.Source.Preview(ctx, q, now)
		return previewed{to: to, pv: pv, target: target, err: err}
	}, func(err error) previewed { return previewed{to: to, err: err} })
}

func (m *Model) run(fn func(context.Context) Done) tea.Cmd {
	to := m.id
	return common.Run(m.c, func(ctx context.Context) Done {
		d := fn(ctx)
		d.to = to
		return d
	}, func(err error) Done { return Done{to: to, Err: err} })
}

// Update handles this model's answers and, while its dialog is open,
// keys. It reports whether msg was its own; a Done it returns as is for
// the view to reload.
func (m *Model) Update(msg tea.Msg) (bool, tea.Cmd) {
	switch msg := msg.(type) {
	case loaded:
		if msg.to != m.id {
			return false, nil
		}
		if msg.err != nil {
			return true, common.Errorf("replay: %s", common.Describe(msg.err))
		}
		return true, m.One(msg.d, msg.label)
	case previewed:
		if msg.to != m.id {
			return false, nil
		}
		return true, m.previewed(msg)
	case Done:
		if msg.to != m.id {
			return false, nil
		}
		if msg.Err != nil && msg.Skipped {
			return true, common.Errorf("skip failed: %s", common.Describe(msg.Err))
		}
		if msg.Err != nil {
			return true, common.Errorf("replay failed: %s", common.Describe(msg.Err))
		}
		if msg.Skipped {
			return true, common.Status(fmt.Sprintf("skipped delivery %d: the line behind it moves on", msg.One))
		}
		if msg.One != 0 {
			return true, common.Status(fmt.Sprintf("re-queued delivery %d", msg.One))
		}
		return true, common.Status(fmt.Sprintf("re-queued %s", common.Plural(msg.N, "delivery")))
	case confirm.Copied:
		return m.Dialog.Active(), nil
	case tea.KeyPressMsg:
		if m.Dialog.Active() {
			return true, m.Dialog.Update(msg, m.c.Keys)
		}
	}
	return false, nil
}

// IsDone reports whether msg answers one of this model's replays.
func (m *Model) IsDone(msg tea.Msg) bool {
	d, ok := msg.(Done)
	return ok && d.to == m.id && d.Err == nil
}

func (m *Model) previewed(msg previewed) tea.Cmd {
	if msg.err != nil {
		return common.Errorf("preview the replay: %s", common.Describe(msg.err))
	}
	pv := msg.pv
	switch {
	case pv.Count == 0 && pv.Marked && pv.InFlight > 0:
		return common.Status("the marked deliveries are in flight; replay them once their attempts have finished")
	case pv.Count == 0 && pv.Marked:
		return common.Status("the marked deliveries are gone")
	case pv.Count == 0:
		return common.Status("no dead letters match " + msg.target)
	}
	n := strconv.FormatInt(pv.Count, 10)
	target := msg.target
	m.Dialog.OpenTyped(PreviewText(pv, target), n, m.run(func(ctx context.Context) Done {
		k, err := m.c.Source.ReplayQuery(ctx, pv, target)
		return Done{N: k, Err: err}
	}))
	return nil
}

// maxGroups is how many groups a preview lists.
const maxGroups = 6

// PreviewText renders a preview for the dialog: the count, the groups
// with their endpoints' health now, and what the count covers.
func PreviewText(pv *data.Preview, target string) string {
	var b strings.Builder
	if pv.Marked {
		fmt.Fprintf(&b, "Replay %s?\n", common.Plural(pv.Count, "marked delivery"))
		if pv.InFlight > 0 {
			fmt.Fprintf(&b, "(%s in flight left alone: their attempt is under way)\n", common.Plural(pv.InFlight, "marked delivery"))
		}
	} else {
		fmt.Fprintf(&b, "Replay %s matching %s?\n", common.Plural(pv.Count, "dead letter"), target)
	}
	for i, g := range pv.Groups.Groups {
		if i == maxGroups {
			fmt.Fprintf(&b, "  … and %s more\n", common.Plural(len(pv.Groups.Groups)-i, "group"))
			break
		}
		name := g.Endpoint.Name()
		fmt.Fprintf(&b, "\n%6s × %s: %s\n", common.Count(g.Count), name, g.Reason())
		fmt.Fprintf(&b, "         endpoint now: %s\n", Health(g))
	}
	if pv.Groups.Capped {
		fmt.Fprintf(&b, "\n(groups of the newest %s dead letters)\n", common.Count(pv.Groups.Scanned))
	}
	if pv.IDs != nil && int64(len(pv.IDs)) >= data.ScanLimit {
		fmt.Fprintf(&b, "\nOnly the newest %s are replayed; replay again for older ones.\n", common.Count(data.ScanLimit))
	}
	return common.Sanitize(b.String())
}

// Health says in words whether a group's endpoint will take a replay.
func Health(g data.Group) string {
	h := g.Health
	switch {
	case g.Endpoint.ID != "" && !g.Endpoint.Enabled && g.Endpoint.URL != "":
		return "DISABLED: replayed deliveries are held until it is enabled"
	case h == nil:
		return "unknown"
	case h.ConsecutiveFailures > 0 && h.LastStatus == nil:
		return fmt.Sprintf("STILL FAILING (%d in a row, no HTTP answer): a replay will likely fail again", h.ConsecutiveFailures)
	case h.ConsecutiveFailures > 0:
		return fmt.Sprintf("STILL FAILING (%d in a row, last HTTP %d): a replay will likely fail again",
			h.ConsecutiveFailures, *h.LastStatus)
	case h.Last5m.Attempts > 0:
		return fmt.Sprintf("healthy, %s ok over 5m", common.Percent(h.Last5m.SuccessRate))
	}
	return "no attempts in the last 5 minutes"
}
