// Package inspect is the drill-down shared by the deliveries and
// dead-letter views: an event with its payload and deliveries, a
// delivery's attempts as a timeline, and one attempt's request and
// response. Screens sit on a Stack; enter pushes, esc (or q) pops.
package inspect

import (
	"sync/atomic"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/hookd/hookd/tui/common"
)

// Screen is one level of the drill-down.
type Screen interface {
	common.Component
	// Title names the screen in the breadcrumb.
	Title() string
	// Refresh reloads the screen's data; nil when a load is under way.
	Refresh() tea.Cmd
	// Next returns (and forgets) the screen the operator opened from this
	// one, if any.
	Next() Screen
}

// screenSeq gives every screen an id, so a load's answer reaches the
// screen that asked even when several views have screens open.
var screenSeq atomic.Int64

func newID() int64 { return screenSeq.Add(1) }

// Stack holds the open screens; the last one has the keyboard.
type Stack struct {
	c       *common.Common
	screens []Screen
	w, h    int
}

// NewStack returns an empty stack.
func NewStack(c *common.Common) Stack { return Stack{c: c} }

// Open replaces the stack with s and starts loading it.
func (st *Stack) Open(s Screen) tea.Cmd {
	st.screens = nil
	return st.push(s)
}

func (st *Stack) push(s Screen) tea.Cmd {
	s.SetSize(st.w, st.h)
	st.screens = append(st.screens, s)
	return s.Init()
}

// Push opens s on top of the open screens and starts loading it.
func (st *Stack) Push(s Screen) tea.Cmd { return st.push(s) }

// DeliveryID returns the delivery the top screen is about (the one under
// its cursor on an event screen), 0 when none: r replays it.
func (st *Stack) DeliveryID() int64 {
	if d, ok := st.Top().(interface{ DeliveryID() int64 }); ok {
		return d.DeliveryID()
	}
	return 0
}

// EventID returns the event the top screen is about, "" when none: p
// opens its payload.
func (st *Stack) EventID() string {
	if e, ok := st.Top().(interface{ EventID() string }); ok {
		return e.EventID()
	}
	return ""
}

// OpenPayload opens the event of the top screen (p), with the cursor on
// its delivery; nil when the top screen is the event already or names
// none.
func (st *Stack) OpenPayload() tea.Cmd {
	id := st.EventID()
	if _, onEvent := st.Top().(*EventScreen); id == "" || onEvent {
		return nil
	}
	return st.Push(NewEvent(st.c, id, st.DeliveryID()))
}

// Active reports whether any screen is open.
func (st *Stack) Active() bool { return len(st.screens) > 0 }

// Depth returns the number of open screens.
func (st *Stack) Depth() int { return len(st.screens) }

// Top returns the screen with the keyboard, or nil.
func (st *Stack) Top() Screen {
	if len(st.screens) == 0 {
		return nil
	}
	return st.screens[len(st.screens)-1]
}

// Close closes every screen.
func (st *Stack) Close() { st.screens = nil }

// Pop closes the top screen.
func (st *Stack) Pop() { st.screens = st.screens[:max(len(st.screens)-1, 0)] }

// SetSize sizes every screen.
func (st *Stack) SetSize(w, h int) {
	st.w, st.h = w, h
	for _, s := range st.screens {
		s.SetSize(w, h)
	}
}

// Update gives keys to the top screen (esc and q pop it) and every other
// message to all screens, so a lower screen's load still lands.
func (st *Stack) Update(msg tea.Msg) tea.Cmd {
	top := st.Top()
	if top == nil {
		return nil
	}
	if k, ok := msg.(tea.KeyPressMsg); ok {
		if key.Matches(k, st.c.Keys.Back, st.c.Keys.Quit) {
			st.Pop()
			if t := st.Top(); t != nil {
				return t.Refresh()
			}
			return nil
		}
		_, cmd := top.Update(msg)
		if next := top.Next(); next != nil {
			return tea.Batch(cmd, st.push(next))
		}
		return cmd
	}
	var cmds []tea.Cmd
	for _, s := range st.screens {
		_, cmd := s.Update(msg)
		cmds = append(cmds, cmd)
	}
	return tea.Batch(cmds...)
}

// Refresh reloads the top screen.
func (st *Stack) Refresh() tea.Cmd {
	if t := st.Top(); t != nil {
		return t.Refresh()
	}
	return nil
}

// Breadcrumb names the open screens, outermost first.
func (st *Stack) Breadcrumb() string {
	s := ""
	for i, sc := range st.screens {
		if i > 0 {
			s += " › "
		}
		s += sc.Title()
	}
	return s
}

// View renders the top screen.
func (st *Stack) View() string {
	if t := st.Top(); t != nil {
		return t.View()
	}
	return ""
}
