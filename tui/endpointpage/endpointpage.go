// Package endpointpage is the console's page of one endpoint: its full
// name, URL, tenant, subscribed types, limits, ordering and state; its
// circuit breaker (open since when, next probe) and, for a fifo endpoint,
// the head that blocks its line (which delivery, since when, why); its
// queue (due, retrying, in flight, held, dead); success rate, attempts
// and p95 latency over the last hour as sparklines; its errors grouped by
// reason; and its recent deliveries, which enter opens.
//
// Its keys act on the endpoint: R replays its dead letters (preview,
// then the count typed), r the recent delivery under the cursor, b
// retries the blocked head now and B skips it, x disables, e enables, t
// sends a test event, K rotates the signing secret (the new one is shown
// once, y copies it), E edits URL, types and limits; d and D open its
// deliveries and dead letters in their views.
package endpointpage

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/hookd/hookd/core/audit"
	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/tui/common"
	"github.com/hookd/hookd/tui/confirm"
	"github.com/hookd/hookd/tui/data"
	"github.com/hookd/hookd/tui/inspect"
	"github.com/hookd/hookd/tui/keys"
	"github.com/hookd/hookd/tui/list"
	"github.com/hookd/hookd/tui/replay"
)

// DisableReason is recorded when the operator disables from the console.
const DisableReason = "disabled from the console"

// Model is one endpoint's page.
type Model struct {
	c       *common.Common
	id      string
	page    int64 // tells this page's loads from another's
	gen     int64 // bumped by each load: only the latest load's answer is shown
	d       *data.EndpointDetail
	err     error
	loading bool
	// gone is set once a load finds the endpoint deleted (from the CLI,
	// the API or another console): the page then says so and acts no more.
	gone   bool
	at     time.Time
	table  list.Model
	stack  inspect.Stack
	dialog confirm.Model
	replay replay.Model
	form   *form
	// sent is the form whose changes are being asked for or saved: a
	// refusal opens it again, as it was typed.
	sent *form
	// secret is the text of the new secret's notice while it may be open.
	secret string
	w, h   int
	// took and doneAt pace the refresh (the page reads several ranges).
	took, doneAt time.Duration
}

// pageSeq tells pages apart: several consoles (SSH sessions) run at once.
var pageSeq atomic.Int64

type loaded struct {
	page, gen int64
	d         *data.EndpointDetail
	err       error
	took, end time.Duration
	at        time.Time
}

type acted struct {
	page   int64
	text   string
	secret string // a rotation's new secret, shown once
	edit   bool   // the edit form's save
	err    error
}

var epoch = time.Now()

// New returns the page of endpoint id.
func New(c *common.Common, id string) *Model {
	return &Model{c: c, id: id, page: pageSeq.Add(1), stack: inspect.NewStack(c), replay: replay.New(c), table: list.New(
		list.Column{Title: "ID", Right: true, Drop: 2, Whole: true},
		list.Column{Title: "AGE", Min: 4, Right: true},
		list.Column{Title: "STATE", Min: 9},
		list.Column{Title: "N", Right: true},
		list.Column{Title: "HTTP", Right: true},
		list.Column{Title: "TYPE", Min: 10, Max: 32},
		list.Column{Title: "NEXT / LAST ERROR", Min: 12, Flex: true},
	)}
}

// ID returns the endpoint shown.
func (m *Model) ID() string { return m.id }

// Detail returns what the page shows, nil before the first load.
func (m *Model) Detail() *data.EndpointDetail { return m.d }

// Confirm exposes the open dialog, for tests.
func (m *Model) Confirm() *confirm.Model {
	if m.replay.Dialog.Active() {
		return &m.replay.Dialog
	}
	return &m.dialog
}

// Capturing reports a dialog or the edit form.
func (m *Model) Capturing() bool {
	return m.dialog.Active() || m.replay.Dialog.Active() || m.form != nil
}

// Nested reports a delivery opened from the page.
func (m *Model) Nested() bool { return m.stack.Active() }

func (m *Model) Init() tea.Cmd { return m.load() }

// Refresh reloads, paced, or the open drill-down.
func (m *Model) Refresh() tea.Cmd {
	if m.stack.Active() {
		return m.stack.Refresh()
	}
	if m.gone || m.loading || m.form != nil || m.dialog.Active() || m.replay.Dialog.Active() ||
		m.took > 0 && time.Since(epoch)-m.doneAt < 4*m.took {
		return nil
	}
	return m.load()
}

// RefreshNow reloads at once.
func (m *Model) RefreshNow() tea.Cmd {
	if m.stack.Active() {
		return m.stack.Refresh()
	}
	if m.loading {
		return nil
	}
	return m.load()
}

// load reads the endpoint again. An action's load starts while a
// refresh's may be under way: the older answer, read before the action,
// is dropped.
func (m *Model) load() tea.Cmd {
	m.loading = true
	m.gen++
	page, gen, id, now := m.page, m.gen, m.id, m.c.Now()
	return common.Run(m.c, func(ctx context.Context) loaded {
		start := time.Since(epoch)
		d, err := m.c.Source.Endpoint(ctx, id, now)
		end := time.Since(epoch)
		return loaded{page: page, gen: gen, d: d, err: err, took: end - start, end: end, at: now}
	}, func(err error) loaded { return loaded{page: page, gen: gen, err: err} })
}

func (m *Model) SetSize(w, h int) {
	m.w, m.h = w, h
	m.stack.SetSize(w, h-1)
	m.layout()
}

func (m *Model) Update(msg tea.Msg) (common.Component, tea.Cmd) {
	if used, cmd := m.replay.Update(msg); used {
		if m.replay.IsDone(msg) {
			m.took = 0
			return m, tea.Batch(cmd, m.load())
		}
		return m, cmd
	}
	switch msg := msg.(type) {
	case loaded:
		if msg.page != m.page || msg.gen != m.gen {
			return m, nil
		}
		m.loading = false
		m.took, m.doneAt = msg.took, msg.end
		m.err = msg.err
		if errors.Is(msg.err, db.ErrNotFound) && m.d != nil {
			// It was here: deleted since (an id never found keeps the error).
			m.gone, m.err = true, nil
		}
		if msg.err == nil {
			m.d, m.at = msg.d, msg.at
			m.render()
			m.layout()
		}
		return m, nil
	case acted:
		if msg.page != m.page {
			return m, nil
		}
		sent := m.sent
		if msg.edit {
			m.sent = nil
		}
		if msg.err != nil && msg.edit && sent != nil && !m.gone {
			// Refused: the form again, with what was typed and why.
			sent.refused(msg.err)
			m.form = sent
			return m, nil
		}
		if msg.err != nil {
			return m, common.Errorf("%s", common.Describe(msg.err))
		}
		m.took = 0
		if msg.secret != "" {
			m.secret = "New signing secret of " + m.name() + " (shown only this once; the previous one keeps signing during the overlap):\n\n" +
				msg.secret
			m.dialog.OpenNotice(m.secret, msg.secret)
		}
		return m, tea.Batch(common.Status(msg.text), m.load())
	case confirm.Copied:
		if m.dialog.Active() {
			return m, common.Status("copied the new secret")
		}
	case tea.KeyPressMsg:
		return m, m.key(msg)
	}
	return m, m.stack.Update(msg)
}

func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	k := m.c.Keys
	switch {
	case m.dialog.Active():
		cmd := m.dialog.Update(msg, k)
		if !m.dialog.Active() {
			m.secret = "" // shown once: not kept past its notice
			if cmd == nil && m.sent != nil {
				// The change was not confirmed: the form again, as typed.
				m.form, m.sent = m.sent, nil
			}
		}
		return cmd
	case m.form != nil:
		p, changes, cancel, cmd := m.form.update(msg)
		switch {
		case cancel:
			m.form = nil
		case p != nil:
			m.form, m.sent = nil, m.form
			return m.confirmEdit(*p, changes)
		}
		return cmd
	case m.stack.Active():
		if keys.Pressed(msg.String(), k.Replay) {
			return m.replayOne(m.stack.DeliveryID())
		}
		if key.Matches(msg, k.Payload) {
			return m.stack.OpenPayload()
		}
		return m.stack.Update(msg)
	}
	if m.gone {
		return common.Status(m.who() + " was deleted: esc goes back to the endpoints")
	}
	if m.table.Move(msg, k) {
		return nil
	}
	id := m.id
	switch {
	case key.Matches(msg, k.Enter):
		if d, ok := m.selected(); ok {
			return m.stack.Open(inspect.NewAttempts(m.c, d.ID))
		}
	case key.Matches(msg, k.Payload):
		if d, ok := m.selected(); ok {
			return m.stack.Open(inspect.NewEvent(m.c, d.EventID, d.ID))
		}
	case key.Matches(msg, k.Deliveries):
		return common.Open(common.ViewDeliveries, "endpoint:"+id)
	case key.Matches(msg, k.DeadLetters):
		return common.Open(common.ViewDeadLetters, "endpoint:"+id)
	case key.Matches(msg, k.Copy):
		return tea.Batch(tea.SetClipboard(id), common.Status("copied "+id))
	case keys.Pressed(msg.String(), k.Replay):
		if d, ok := m.selected(); ok {
			return m.replayOne(d.ID)
		}
	case keys.Pressed(msg.String(), k.ReplayAll):
		q := data.DeliveryQuery{Filter: delivery.Filter{State: delivery.StateDead, EndpointID: id}}
		return m.replay.Matching(q, "endpoint:"+id+" ("+m.name()+")")
	case keys.Pressed(msg.String(), k.Disable), keys.Pressed(msg.String(), k.Enable), keys.Pressed(msg.String(), k.TestEvent),
		keys.Pressed(msg.String(), k.Rotate), keys.Pressed(msg.String(), k.Edit):
		return m.action(msg)
	case keys.Pressed(msg.String(), k.RetryHead), keys.Pressed(msg.String(), k.SkipHead):
		if m.d == nil {
			return common.Status("still loading the endpoint")
		}
		return m.replay.Head(HeadRow(m.d.Row), keys.Pressed(msg.String(), k.SkipHead))
	}
	return nil
}

func (m *Model) replayOne(id int64) tea.Cmd {
	var recent []delivery.Delivery
	if m.d != nil {
		recent = m.d.Recent
	}
	return m.replay.ByID(id, recent, func(string) data.Label { return m.label() })
}

func (m *Model) label() data.Label {
	if m.d == nil {
		return data.Label{ID: m.id}
	}
	e := m.d.Row.Endpoint
	return data.Label{ID: e.ID, Description: e.Description, URL: e.URL, Enabled: e.Enabled}
}

func (m *Model) name() string {
	if m.d == nil {
		return m.id
	}
	return m.d.Row.Name()
}

func (m *Model) action(msg tea.KeyPressMsg) tea.Cmd {
	k, id := m.c.Keys, m.id
	type act struct {
		b      key.Binding
		what   string
		action string
	}
	for _, a := range []act{{k.Disable, "disabling endpoints", audit.ActionDisable}, {k.Enable, "enabling endpoints", audit.ActionEnable},
		{k.TestEvent, "sending test events", audit.ActionTest}, {k.Rotate, "rotating secrets", audit.ActionRotate},
		{k.Edit, "editing endpoints", audit.ActionEdit}} {
		if keys.Pressed(msg.String(), a.b) && m.c.ReadOnly {
			return common.RefusedReadOnly(m.c, a.what, a.action, id)
		}
	}
	if m.d == nil {
		return common.Status("still loading the endpoint")
	}
	e, who := m.d.Row.Endpoint, m.who()
	switch {
	case keys.Pressed(msg.String(), k.Disable):
		if !e.Enabled {
			return common.Status(who + " is already disabled")
		}
		m.dialog.Open(common.Sanitize("Disable "+who+"? Its pending deliveries are held until it is enabled."),
			m.act(func(ctx context.Context) acted {
				return acted{text: "disabled " + who, err: m.c.Source.DisableEndpoint(ctx, id, DisableReason)}
			}))
	case keys.Pressed(msg.String(), k.Enable):
		if e.Enabled {
			return common.Status(who + " is already enabled")
		}
		done := EnabledText(m.name(), m.d.Row.Health.Held, m.w)
		m.dialog.Open(EnablePrompt(who, m.d.Row.Health.Held), m.act(func(ctx context.Context) acted {
			return acted{text: done, err: m.c.Source.EnableEndpoint(ctx, id)}
		}))
	case keys.Pressed(msg.String(), k.TestEvent):
		m.dialog.Open(common.Sanitize(fmt.Sprintf("Send a test event (%s) to %s?", data.TestEventType, who)),
			m.act(func(ctx context.Context) acted {
				ev, err := m.c.Source.SendTestEvent(ctx, id)
				return acted{text: fmt.Sprintf("sent test event %s to %s: its delivery shows below", ev, who), err: err}
			}))
	case keys.Pressed(msg.String(), k.Rotate):
		overlap := m.c.SecretOverlap
		if overlap <= 0 {
			overlap = endpoint.DefaultSecretOverlap
		}
		m.dialog.Open(common.Sanitize(fmt.Sprintf("Rotate the signing secret of %s? The current secret keeps signing for %s, "+
			"so the receiver has that long to switch; the new one is shown once.", who, span(overlap))),
			m.act(func(ctx context.Context) acted {
				secret, err := m.c.Source.RotateSecret(ctx, id, overlap)
				return acted{text: "rotated the signing secret of " + who, secret: secret, err: err}
			}))
	case keys.Pressed(msg.String(), k.Edit):
		m.form = newForm(m.c, e)
	}
	return nil
}

// EnablePrompt asks whether to enable who, saying what it releases: its
// held deliveries, due at once (read up to data.TotalCap).
func EnablePrompt(who string, held int) string {
	if held == 0 {
		return common.Sanitize("Enable " + who + "? It has no held deliveries.")
	}
	return common.Sanitize("Enable " + who + "? Its " + heldText(held) + " become due at once.")
}

// EnabledText says an endpoint named name was enabled and what came due,
// in width cells: the name is cut, with …, rather than the news.
func EnabledText(name string, held, width int) string {
	news := ": no held deliveries"
	if held > 0 {
		news = ": " + heldText(held) + " due now"
	}
	if width <= 0 {
		width = 80
	}
	room := max(width-ansi.StringWidth("enabled "+news), 8)
	return "enabled " + ansi.Truncate(common.Sanitize(name), room, "…") + news
}

func heldText(n int) string {
	if n > data.TotalCap {
		return common.Count(data.TotalCap) + "+ held deliveries"
	}
	return common.Plural(n, "held delivery")
}

// span renders a configured duration exactly, without the zero units Go
// writes: 24h, 1h30m, 90s.
func span(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

func (m *Model) who() string {
	if n := m.name(); n != m.id {
		return n + " (" + m.id + ")"
	}
	return m.id
}

func (m *Model) confirmEdit(p endpoint.UpdateParams, changes []string) tea.Cmd {
	id, who := m.id, m.who()
	m.dialog.Open(common.Sanitize("Change "+who+"?\n\n  "+strings.Join(changes, "\n  ")),
		m.act(func(ctx context.Context) acted {
			return acted{text: "updated " + who, edit: true, err: m.c.Source.UpdateEndpoint(ctx, id, p)}
		}))
	return nil
}

func (m *Model) act(fn func(context.Context) acted) tea.Cmd {
	page := m.page
	return common.Run(m.c, func(ctx context.Context) acted {
		a := fn(ctx)
		a.page = page
		return a
	}, func(err error) acted { return acted{page: page, err: err} })
}

func (m *Model) selected() (delivery.Delivery, bool) {
	r, ok := m.table.Selected()
	if !ok || m.d == nil || r.Ref >= len(m.d.Recent) {
		return delivery.Delivery{}, false
	}
	return m.d.Recent[r.Ref], true
}
