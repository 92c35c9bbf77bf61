package inspect

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/tui/common"
	"github.com/hookd/hookd/tui/data"
	"github.com/hookd/hookd/tui/list"
)

// AttemptsScreen shows a delivery and its attempts as a timeline, oldest
// first (every attempt, across replays); enter opens one attempt.
type AttemptsScreen struct {
	c          *common.Common
	id         int64
	deliveryID int64
	d          *delivery.Delivery
	ev         *outbox.Event // loaded once: events do not change
	label      data.Label
	attempts   []delivery.Attempt
	err        error
	loading    bool
	table      list.Model
	next       Screen
	w, h       int
}

type attemptsLoaded struct {
	to       int64
	d        *delivery.Delivery
	ev       *outbox.Event
	label    data.Label
	attempts []delivery.Attempt
	err      error
}

// NewAttempts returns the screen of delivery deliveryID.
func NewAttempts(c *common.Common, deliveryID int64) *AttemptsScreen {
	return &AttemptsScreen{c: c, id: newID(), deliveryID: deliveryID, table: list.New(
		list.Column{Title: "#", Min: 3, Right: true},
		list.Column{Title: "STARTED", Min: 20},
		list.Column{Title: "LATENCY", Min: 7, Right: true},
		list.Column{Title: "STATUS", Right: true},
		list.Column{Title: "CLASS", Min: 7, Drop: 1},
		list.Column{Title: "ERROR", Min: 12, Flex: true},
	)}
}

// DeliveryID returns the delivery shown (r replays it).
func (s *AttemptsScreen) DeliveryID() int64 { return s.deliveryID }

// EventID returns the delivery's event (p opens its payload); "" before
// the first load.
func (s *AttemptsScreen) EventID() string {
	if s.d == nil {
		return ""
	}
	return s.d.EventID
}

func (s *AttemptsScreen) Title() string { return "delivery " + strconv.FormatInt(s.deliveryID, 10) }
func (s *AttemptsScreen) Init() tea.Cmd { return s.Refresh() }

func (s *AttemptsScreen) Next() Screen {
	n := s.next
	s.next = nil
	return n
}

func (s *AttemptsScreen) Refresh() tea.Cmd {
	if s.loading {
		return nil
	}
	s.loading = true
	to, id, ev, label := s.id, s.deliveryID, s.ev, s.label
	return common.Run(s.c, func(ctx context.Context) attemptsLoaded {
		d, err := s.c.Source.Delivery(ctx, id)
		if err != nil {
			return attemptsLoaded{to: to, err: err}
		}
		if ev == nil {
			// The event may be gone (retention); the attempts still show.
			ev, _, _ = s.c.Source.Event(ctx, d.EventID)
			if ls, err := s.c.Source.Labels(ctx, []string{d.EndpointID}); err == nil {
				label = ls[d.EndpointID]
			}
		}
		as, err := s.c.Source.Attempts(ctx, id)
		return attemptsLoaded{to: to, d: d, ev: ev, label: label, attempts: as, err: err}
	}, func(err error) attemptsLoaded { return attemptsLoaded{to: to, err: err} })
}

func (s *AttemptsScreen) SetSize(w, h int) {
	s.w, s.h = w, h
	s.table.SetSize(w, max(h-4, 2))
}

func (s *AttemptsScreen) Update(msg tea.Msg) (common.Component, tea.Cmd) {
	switch msg := msg.(type) {
	case attemptsLoaded:
		if msg.to != s.id {
			return s, nil
		}
		s.loading = false
		s.err = msg.err
		if msg.err == nil {
			s.d, s.attempts, s.ev, s.label = msg.d, msg.attempts, msg.ev, msg.label
			rows := make([]list.Row, len(msg.attempts))
			replay := 0 // each replay starts the count again
			for i, a := range msg.attempts {
				if i > 0 && a.Attempt <= msg.attempts[i-1].Attempt {
					replay++
				}
				rows[i] = attemptRow(s.c, a, i, replay)
				rows[i].Ref = i
			}
			s.table.SetRows(rows)
		}
	case tea.KeyPressMsg:
		k := s.c.Keys
		switch {
		case s.table.Move(msg, k):
		case key.Matches(msg, k.Sort):
			s.table.SortNext()
		case key.Matches(msg, k.SortReverse):
			s.table.SortReverse()
		case key.Matches(msg, k.Enter):
			if r, ok := s.table.Selected(); ok && r.Ref < len(s.attempts) {
				s.next = NewAttempt(s.c, s.attempts[r.Ref], s.ev, s.label)
			}
		case key.Matches(msg, k.Copy):
			id := strconv.FormatInt(s.deliveryID, 10)
			return s, tea.Batch(tea.SetClipboard(id), common.Status("copied delivery id "+id))
		}
	}
	return s, nil
}

// attemptRow is the i-th attempt logged, the n-th of its retry budget:
// after a replay it is numbered "r2:3" (the third try after the second
// replay), so that two attempts never read as the same one.
func attemptRow(c *common.Common, a delivery.Attempt, i, replay int) list.Row {
	status := 0
	if a.ResponseStatus != nil {
		status = *a.ResponseStatus
	}
	n := strconv.Itoa(a.Attempt)
	if replay > 0 {
		n = "r" + strconv.Itoa(replay) + ":" + n
	}
	r := list.Row{ID: strconv.FormatInt(a.ID, 10), Cells: []string{
		n, a.StartedAt.UTC().Format("2006-01-02 15:04:05Z"), common.Latency(a.Duration),
		common.StatusCode(a.ResponseStatus), a.ErrorClass, firstLine(a.Error),
	}, Keys: []any{i, a.StartedAt, a.Duration, status}}
	if a.Succeeded() {
		r.Style = &c.Styles.Good
	} else {
		r.Style = &c.Styles.Bad
	}
	return r
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

func (s *AttemptsScreen) View() string {
	st := s.c.Styles
	if s.d == nil {
		if s.err != nil {
			return st.Error.Render(fmt.Sprintf("cannot load delivery %d: %s", s.deliveryID, common.Describe(s.err)))
		}
		return st.Muted.Render(fmt.Sprintf("loading delivery %d…", s.deliveryID))
	}
	d := s.d
	now := s.c.Now()
	var b strings.Builder
	to := d.EndpointID
	if name := s.label.Name(); s.label.ID != "" && name != d.EndpointID {
		to = name + " (" + d.EndpointID + ")"
	}
	fmt.Fprintf(&b, "%s %d  %s %s  %s %s  %s %s\n", st.Key.Render("delivery"), d.ID, st.Key.Render("event"), common.Sanitize(d.EventID),
		st.Key.Render("to"), common.Sanitize(to), st.Key.Render("type"), common.Sanitize(d.EventType))
	state := string(d.State)
	if sty := StateStyle(s.c, *d); sty != nil {
		state = sty.Render(state)
	}
	next := "-"
	switch {
	case d.State == delivery.StatePending && s.label.BreakerOpen:
		next = "waits on the breaker" // not due while it is open
	case d.AwaitsAttempt():
		next = common.Until(now, d.NextAttemptAt)
	}
	attempts := strconv.Itoa(d.Attempts)
	if d.Replays > 0 {
		attempts += " since the last replay"
	}
	fmt.Fprintf(&b, "%s %s  %s %s  %s %d  %s %s  %s %s\n", st.Key.Render("state"), state, st.Key.Render("attempts"), attempts,
		st.Key.Render("replays"), d.Replays, st.Key.Render("next"), next, st.Key.Render("last"), common.StatusCode(d.LastStatus))
	if d.LastError != "" {
		b.WriteString(st.Key.Render("last error ") + common.Sanitize(firstLine(d.LastError)) + "\n")
	} else {
		b.WriteString("\n")
	}
	b.WriteString(s.table.View(st, "no attempts yet"))
	if s.err != nil {
		b.WriteString("\n" + st.Error.Render(common.Describe(s.err)))
	}
	return b.String()
}

func (s *AttemptsScreen) ShortHelp() []key.Binding {
	k := s.c.Keys
	return []key.Binding{k.Enter, k.Replay, k.Payload, k.Copy, k.Back}
}

func (s *AttemptsScreen) FullHelp() [][]key.Binding {
	k := s.c.Keys
	return [][]key.Binding{k.Movement(), {k.Enter, k.Replay, k.Payload, k.Copy, k.Sort, k.SortReverse, k.Back}}
}
