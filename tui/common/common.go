// Package common holds what every console view shares: the context struct
// passed to each view's New, the component interface each view implements,
// and the helper that runs database work in a tea.Cmd.
package common

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/validate"
	"github.com/hookd/hookd/tui/data"
	"github.com/hookd/hookd/tui/keys"
	"github.com/hookd/hookd/tui/styles"
)

// DefaultTimeout bounds one database call made by a view.
const DefaultTimeout = 5 * time.Second

// Common is the context every view receives. It is shared by pointer:
// the root updates Styles when the terminal reports its background.
type Common struct {
	Styles *styles.Styles
	Keys   *keys.KeyMap
	Logger *slog.Logger
	Source data.Source
	// Now is the clock; tests fix it.
	Now func() time.Time
	// ReadOnly hides and refuses every action that changes state.
	ReadOnly bool
	// Timeout bounds each database call. Defaults to DefaultTimeout.
	Timeout time.Duration
}

// Component is one piece of the console: a view or a sub-view.
type Component interface {
	Init() tea.Cmd
	Update(msg tea.Msg) (Component, tea.Cmd)
	View() string
	SetSize(width, height int)
	ShortHelp() []key.Binding
	FullHelp() [][]key.Binding
}

// View is a top-level view the root switches between.
type View interface {
	Component
	// Title names the view in the tab bar.
	Title() string
	// Refresh returns the command that reloads the view's data, or nil when
	// the view must not refresh now (a load is under way, rows are marked).
	Refresh() tea.Cmd
	// RefreshNow returns the command that reloads at the operator's request
	// (ctrl+r): it must reload even where live refresh is paused (a list
	// past its refresh cap), and returns nil only when a load is under way.
	RefreshNow() tea.Cmd
	// Nested reports whether the view is in a sub-view, a dialog or a
	// prompt: keys such as q, tab and digits then belong to the view.
	Nested() bool
}

// RefreshPausedText is the info-line note of a list whose live refresh is
// paused because it holds too many rows.
func RefreshPausedText(limit int) string {
	return fmt.Sprintf("live refresh paused (more than %d rows loaded; ctrl+r reloads)", limit)
}

// StatusMsg asks the root to show a line of feedback.
type StatusMsg struct {
	Text string
	Err  bool
}

// View numbers, in tab order.
const (
	ViewOverview = iota
	ViewEndpoints
	ViewDeliveries
	ViewDeadLetters
	ViewInbox
	ViewHelp
)

// OpenMsg asks the root to switch to a view with a filter applied (enter
// on an endpoint opens its deliveries).
type OpenMsg struct {
	View   int
	Filter string
}

// Open returns a command that switches to view with filter applied.
func Open(view int, filter string) tea.Cmd {
	return func() tea.Msg { return OpenMsg{View: view, Filter: filter} }
}

// Status returns a command that shows text on the message line.
func Status(text string) tea.Cmd { return func() tea.Msg { return StatusMsg{Text: text} } }

// Errorf returns a command that shows an error on the message line.
func Errorf(format string, args ...any) tea.Cmd {
	return func() tea.Msg { return StatusMsg{Text: fmt.Sprintf(format, args...), Err: true} }
}

// RefusedReadOnly is the message for an action pressed in read-only mode.
func RefusedReadOnly(what string) tea.Cmd {
	return Errorf("read-only: %s is disabled (the console was started with --read-only)", what)
}

// Run returns a command that calls fn with a bounded context. A panic in
// fn becomes fail(err) instead of a crash, so the view clears its loading
// state and shows the error.
func Run[M tea.Msg](c *Common, fn func(ctx context.Context) M, fail func(error) M) tea.Cmd {
	timeout := c.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	return func() (msg tea.Msg) {
		defer func() {
			if r := recover(); r != nil {
				err := fmt.Errorf("internal error: %v", r)
				if c.Logger != nil {
					c.Logger.Error("console: command panicked", slog.String("error", err.Error()))
				}
				msg = fail(err)
			}
		}()
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		return fn(ctx)
	}
}

// Describe turns an error from a data source into one readable line.
func Describe(err error) string {
	var ve *validate.Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &ve):
		return ve.Error()
	case errors.Is(err, db.ErrNotFound):
		return "not found (it may have been deleted)"
	case errors.Is(err, context.DeadlineExceeded):
		return "the database did not answer in time"
	}
	s := err.Error()
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
