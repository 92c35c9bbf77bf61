package inspect

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/tui/common"
	"github.com/hookd/hookd/tui/list"
)

// AttemptsScreen shows a delivery and its attempts as a timeline, oldest
// first (every attempt, across replays); enter opens one attempt.
type AttemptsScreen struct {
	c          *common.Common
	id         int64
	deliveryID int64
	d          *delivery.Delivery
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
	attempts []delivery.Attempt
	err      error
}

// NewAttempts returns the screen of delivery deliveryID.
func NewAttempts(c *common.Common, deliveryID int64) *AttemptsScreen {
	return &AttemptsScreen{c: c, id: newID(), deliveryID: deliveryID, table: list.New(
		list.Column{Title: "#", Width: 3, Right: true},
		list.Column{Title: "STARTED", Width: 20},
		list.Column{Title: "LATENCY", Width: 9, Right: true},
		list.Column{Title: "STATUS", Width: 6, Right: true},
		list.Column{Title: "CLASS", Width: 11},
		list.Column{Title: "ERROR"},
	)}
}

// DeliveryID returns the delivery shown.
func (s *AttemptsScreen) DeliveryID() int64 { return s.deliveryID }

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
	to, id := s.id, s.deliveryID
	return common.Run(s.c, func(ctx context.Context) attemptsLoaded {
		d, err := s.c.Source.Delivery(ctx, id)
		if err != nil {
			return attemptsLoaded{to: to, err: err}
		}
		as, err := s.c.Source.Attempts(ctx, id)
		return attemptsLoaded{to: to, d: d, attempts: as, err: err}
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
			s.d, s.attempts = msg.d, msg.attempts
			rows := make([]list.Row, len(msg.attempts))
			for i, a := range msg.attempts {
				rows[i] = attemptRow(s.c, a)
			}
			s.table.SetRows(rows)
		}
	case tea.KeyPressMsg:
		k := s.c.Keys
		switch {
		case s.table.Move(msg, k):
		case key.Matches(msg, k.Enter):
			if i := s.table.Cursor(); i < len(s.attempts) {
				s.next = NewAttempt(s.c, s.attempts[i])
			}
		case key.Matches(msg, k.Copy):
			id := strconv.FormatInt(s.deliveryID, 10)
			return s, tea.Batch(tea.SetClipboard(id), common.Status("copied delivery id "+id))
		}
	}
	return s, nil
}

func attemptRow(c *common.Common, a delivery.Attempt) list.Row {
	r := list.Row{ID: strconv.FormatInt(a.ID, 10), Cells: []string{
		strconv.Itoa(a.Attempt), a.StartedAt.UTC().Format("2006-01-02 15:04:05Z"), fmt.Sprintf("%.1fms", a.DurationMS),
		common.StatusCode(a.ResponseStatus), a.ErrorClass, firstLine(a.Error),
	}}
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
	fmt.Fprintf(&b, "%s %d  %s %s  %s %s  %s %s\n", st.Key.Render("delivery"), d.ID, st.Key.Render("event"), d.EventID,
		st.Key.Render("endpoint"), d.EndpointID, st.Key.Render("type"), d.EventType)
	state := StateLabel(*d)
	if sty := StateStyle(s.c, *d); sty != nil {
		state = sty.Render(state)
	}
	next := "-"
	if d.State == delivery.StatePending {
		next = "in " + common.Dur(d.NextAttemptAt.Sub(now))
	}
	fmt.Fprintf(&b, "%s %s  %s %d  %s %d  %s %s  %s %s\n", st.Key.Render("state"), state, st.Key.Render("attempts"), d.Attempts,
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
	return []key.Binding{k.Up, k.Down, k.Enter, k.Copy, k.Back}
}

func (s *AttemptsScreen) FullHelp() [][]key.Binding {
	k := s.c.Keys
	return [][]key.Binding{k.Movement(), {k.Enter, k.Copy, k.Back}}
}
