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

	"github.com/hookd/hookd/core/audit"
	"github.com/hookd/hookd/core/db"
	"github.com/hookd/hookd/core/outbox"
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
	// Actor is who this console acts as: the audit trail names it for
	// every action, and the Source finds it in the context of every call
	// (audit.FromContext).
	Actor audit.Actor
	// SecretOverlap is how long a rotated-out secret keeps signing; 0
	// means endpoint.DefaultSecretOverlap.
	SecretOverlap time.Duration
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
	// the view must not refresh now (a load is under way, the list is
	// frozen). It is called once per refresh tick while the view shows, so
	// it is also where relative times are redrawn.
	Refresh() tea.Cmd
	// RefreshNow returns the command that reloads at the operator's request
	// (ctrl+r): it must reload even where live refresh is paused (a frozen
	// list, one past its refresh cap), and returns nil only when a load is
	// under way.
	RefreshNow() tea.Cmd
	// Capturing reports whether a prompt, dialog or form has the keyboard:
	// every key but ctrl+c then belongs to the view.
	Capturing() bool
	// Nested reports whether the view shows a sub-view (a drill-down): esc
	// and q then go back inside the view, while the keys that work
	// everywhere (tab, digits, ?, :, ctrl+r) still work.
	Nested() bool
	// HelpSections lists every key of the view, drill-downs included.
	HelpSections() []HelpSection
}

// HelpSection is a titled group of keys in the help view.
type HelpSection struct {
	Title string
	Keys  []key.Binding
}

// KeysOf returns the sections' keys, a group each: a view's FullHelp.
func KeysOf(sections []HelpSection) [][]key.Binding {
	out := make([][]key.Binding, 0, len(sections))
	for _, s := range sections {
		out = append(out, s.Keys)
	}
	return out
}

// Stacked is a view whose drill-downs (see View.Nested) the root can see
// into and close: a view chosen by its key is its own list again, and
// back from a drill-down that a jump opened returns to where the jump
// came from.
type Stacked interface {
	// Depth is how many screens are open over the view's own list.
	Depth() int
	// Top closes them all.
	Top()
}

// Filtered is a view with a filter an open (OpenMsg) can set: back from
// it restores the filter the view had before, unless the operator changed
// it since.
type Filtered interface {
	SetFilter(text string) (tea.Cmd, error)
	// AppliedFilter is the filter applied now, as typed.
	AppliedFilter() string
}

// Opener is a view that can open one object of its own: the endpoints view
// an endpoint's page, the deliveries view an event or a delivery.
type Opener interface {
	OpenTarget(t Target) tea.Cmd
}

// Kinds of object the console can jump to.
const (
	KindDelivery = "delivery"
	KindEvent    = "event"
	KindEndpoint = "endpoint"
	KindTenant   = "tenant"
)

// Target is one object to open.
type Target struct {
	Kind string
	ID   string
}

// RefreshPausedText is the info-line note of a list whose live refresh is
// paused because it holds too many rows.
func RefreshPausedText(limit int) string {
	return fmt.Sprintf("live refresh paused: over %d rows loaded (ctrl+r reloads)", limit)
}

// RefreshWaitsText is the info-line note of a list whose live refresh
// waits because more arrived above the cursor than a refresh reads.
const RefreshWaitsText = "refresh waits: more new above than it reads (g: top)"

// NotApplied says that filter was not applied because its first load
// failed, and that the rows shown are the previous filter's.
func NotApplied(filter string, err error) tea.Cmd {
	return Errorf("filter /%s not applied: %s (the rows shown are the previous filter's)", filter, Describe(err))
}

// StatusMsg asks the root to show a line of feedback.
type StatusMsg struct {
	Text string
	Err  bool
}

// View numbers, in tab order (keys.ViewNames).
const (
	ViewOverview = iota
	ViewEndpoints
	ViewDeliveries
	ViewDeadLetters
	ViewInbox
	ViewAudit
	ViewTenants
	ViewHelp
)

// OpenMsg asks the root to switch to a view, with a filter applied or an
// object opened (enter on an endpoint's deliveries key, a jump to an id).
// The root remembers where the operator came from: esc goes back.
type OpenMsg struct {
	View   int
	Filter string
	Target *Target
}

// Open returns a command that switches to view with filter applied.
func Open(view int, filter string) tea.Cmd {
	return func() tea.Msg { return OpenMsg{View: view, Filter: filter} }
}

// OpenObject returns a command that switches to view and opens t there.
func OpenObject(view int, t Target) tea.Cmd {
	return func() tea.Msg { return OpenMsg{View: view, Target: &t} }
}

// Status returns a command that shows text on the message line.
func Status(text string) tea.Cmd { return func() tea.Msg { return StatusMsg{Text: text} } }

// ClearStatus returns a command that empties the message line (a filter
// that now applies clears the error the last one left).
func ClearStatus() tea.Cmd { return func() tea.Msg { return StatusMsg{} } }

// Errorf returns a command that shows an error on the message line.
func Errorf(format string, args ...any) tea.Cmd {
	return func() tea.Msg { return StatusMsg{Text: fmt.Sprintf(format, args...), Err: true} }
}

// RefusedReadOnly is the answer to an action pressed in read-only mode:
// the refusal is recorded in the audit trail as action on target, and
// the operator is told.
func RefusedReadOnly(c *Common, what, action, target string) tea.Cmd {
	text := fmt.Sprintf("read-only: %s is disabled (this console is read-only)", what)
	return Run(c, func(ctx context.Context) StatusMsg {
		if err := c.Source.Refused(ctx, action, target); err != nil {
			return StatusMsg{Text: text + "; recording the refusal failed: " + Describe(err), Err: true}
		}
		return StatusMsg{Text: text, Err: true}
	}, func(err error) StatusMsg { return StatusMsg{Text: text, Err: true} })
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
		if !c.Actor.IsZero() {
			ctx = audit.NewContext(ctx, c.Actor)
		}
		return fn(ctx)
	}
}

// Describe turns an error from a data source into one readable line.
func Describe(err error) string {
	var ve *validate.Error
	var aged *outbox.AgedOutError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &ve):
		return ve.Error()
	case errors.As(err, &aged):
		// Not a bare "not found": say why, naming the setting.
		return "it has aged out: stored " + aged.StoredAt.UTC().Format("2006-01-02 15:04 UTC") +
			", longer ago than retention.period, how long hookd keeps events and their deliveries"
	case errors.Is(err, db.ErrNotFound):
		return "not found (it may have been deleted)"
	case errors.Is(err, context.DeadlineExceeded):
		return "the database did not answer in time"
	}
	// One line: pgx puts a failed connection's cause (a refused
	// password, a stopped server, TLS) on the lines after "failed to
	// connect to ...:", so the cause comes first and the rest after it.
	var lines []string
	for l := range strings.SplitSeq(err.Error(), "\n") {
		if l = strings.Join(strings.Fields(l), " "); l != "" {
			lines = append(lines, l)
		}
	}
	switch len(lines) {
	case 0:
		return ""
	case 1:
		return lines[0]
	}
	last := lines[len(lines)-1]
	return last + " (" + strings.TrimSuffix(strings.Join(lines[:len(lines)-1], " "), ":") + ")"
}
