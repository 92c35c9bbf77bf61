// Package app is the console's root model: it holds the views and the
// active one, switches between them (remembering where the operator came
// from, so esc goes back), cascades the terminal size, shows a header
// naming the hookd, the database and the operator, the active view's key
// help in the footer and a banner while the database is unreachable, asks
// before quitting, runs the : palette (jump to a view or to any id) and
// drives the live refresh.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/hookd/hookd/core/audit"
	"github.com/hookd/hookd/tui/auditview"
	"github.com/hookd/hookd/tui/common"
	"github.com/hookd/hookd/tui/confirm"
	"github.com/hookd/hookd/tui/data"
	"github.com/hookd/hookd/tui/deadletters"
	"github.com/hookd/hookd/tui/deliveries"
	"github.com/hookd/hookd/tui/endpoints"
	helpview "github.com/hookd/hookd/tui/help"
	"github.com/hookd/hookd/tui/inbox"
	"github.com/hookd/hookd/tui/keys"
	"github.com/hookd/hookd/tui/overview"
	"github.com/hookd/hookd/tui/styles"
	"github.com/hookd/hookd/tui/tenants"
)

// DefaultRefresh is the live refresh interval.
const DefaultRefresh = time.Second

// statusTTL is how long a message stays on the message line.
const statusTTL = 6 * time.Second

// Options configure the console.
type Options struct {
	// Source is where the console reads and acts. Required.
	Source data.Source
	// Logger receives errors the console recovers from. Defaults to a
	// logger that discards: the terminal belongs to the console.
	Logger *slog.Logger
	// ReadOnly hides and refuses every action.
	ReadOnly bool
	// Refresh is the live refresh interval. Defaults to DefaultRefresh.
	Refresh time.Duration
	// Now is the clock. Defaults to time.Now.
	Now func() time.Time
	// NoColor renders without colour. Defaults to whether NO_COLOR is set.
	NoColor *bool
	// Timeout bounds each database call. Defaults to common.DefaultTimeout.
	Timeout time.Duration
	// Actor is who the console acts as, in the audit trail and the
	// header. Defaults to the local OS user.
	Actor audit.Actor
	// Remote is the address the operator connects from (over SSH), for
	// the header.
	Remote string
	// QuitNote is added to the quit question: what else quitting stops
	// ("This also stops hookd serve and its PostgreSQL.").
	QuitNote string
	// SecretOverlap is how long a rotated-out secret keeps signing.
	// Defaults to endpoint.DefaultSecretOverlap.
	SecretOverlap time.Duration
	// Host and Version name this hookd in the header. Default to the
	// host name and the build's version.
	Host, Version string
}

// Model is the root model.
type Model struct {
	c        *common.Common
	opts     Options
	noColor  bool
	refresh  time.Duration
	views    []common.View
	help     *helpview.Model
	active   int
	prev     int     // the view help returns to
	history  []visit // views the operator came from by enter or a jump; esc returns
	footer   help.Model
	quit     confirm.Model
	palette  palette
	w, h     int
	header   string
	info     data.Info
	quitting bool

	status    string
	statusErr bool
	statusAt  time.Time

	pinging   bool
	dbDown    bool
	downSince time.Time
	downErr   string
}

type tickMsg struct{}

type pingMsg struct{ err error }

type quitNow struct{}

// New returns the root model.
func New(opts Options) *Model {
	noColor := os.Getenv("NO_COLOR") != ""
	if opts.NoColor != nil {
		noColor = *opts.NoColor
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Refresh <= 0 {
		opts.Refresh = DefaultRefresh
	}
	if opts.Actor.IsZero() {
		opts.Actor = audit.LocalUser(audit.KindOS)
	}
	if opts.Host == "" {
		opts.Host, _ = os.Hostname()
	}
	if opts.Version == "" {
		opts.Version = version()
	}
	st := styles.New(true, noColor)
	km := keys.New(opts.ReadOnly)
	c := &common.Common{Styles: &st, Keys: &km, Logger: opts.Logger, Source: opts.Source, Now: opts.Now,
		ReadOnly: opts.ReadOnly, Timeout: opts.Timeout, Actor: opts.Actor, SecretOverlap: opts.SecretOverlap}
	m := &Model{c: c, opts: opts, noColor: noColor, refresh: opts.Refresh, footer: help.New(), palette: newPalette()}
	m.help = helpview.New(c)
	m.views = []common.View{overview.New(c), endpoints.New(c), deliveries.New(c), deadletters.New(c), inbox.New(c),
		auditview.New(c), tenants.New(c), m.help}
	m.help.SetTarget(m.views[0])
	m.info = opts.Source.Info()
	m.styleFooter()
	return m
}

// Common returns the shared context, for tests.
func (m *Model) Common() *common.Common { return m.c }

// Active returns the index of the active view (common.ViewOverview...).
func (m *Model) Active() int { return m.active }

// ViewAt returns view i.
func (m *Model) ViewAt(i int) common.View { return m.views[i] }

// Views returns every view, in tab order.
func (m *Model) Views() []common.View { return m.views }

// StatusLine returns the message line's text.
func (m *Model) StatusLine() string { return m.status }

// DatabaseDown reports whether the banner is showing.
func (m *Model) DatabaseDown() bool { return m.dbDown }

// QuitDialog exposes the quit question, for tests.
func (m *Model) QuitDialog() *confirm.Model { return &m.quit }

func (m *Model) styleFooter() {
	st := m.c.Styles
	m.footer.Styles.ShortKey = st.Key
	m.footer.Styles.ShortDesc = st.Muted
	m.footer.Styles.ShortSeparator = st.Muted
}

// Init loads every view once and starts the refresh clock.
func (m *Model) Init() tea.Cmd {
	cmds := []tea.Cmd{tea.RequestBackgroundColor, m.tick(), m.ping()}
	for _, v := range m.views {
		cmds = append(cmds, v.Init())
	}
	return tea.Batch(cmds...)
}

func (m *Model) tick() tea.Cmd {
	return tea.Tick(m.refresh, func(time.Time) tea.Msg { return tickMsg{} })
}

func (m *Model) ping() tea.Cmd {
	if m.pinging {
		return nil
	}
	m.pinging = true
	return common.Run(m.c, func(ctx context.Context) pingMsg {
		return pingMsg{err: m.c.Source.Ping(ctx)}
	}, func(err error) pingMsg { return pingMsg{err: err} })
}

// Update routes messages: keys to the root's own bindings or the active
// view, data to every view (each ignores what is not its own). A panic is
// recovered into the message line; the console never crashes.
func (m *Model) Update(msg tea.Msg) (_ tea.Model, cmd tea.Cmd) {
	defer func() {
		if r := recover(); r != nil {
			m.c.Logger.Error("console: update panicked", slog.String("error", fmt.Sprint(r)))
			m.setStatus(fmt.Sprintf("internal error: %v", r), true)
			cmd = nil
		}
	}()
	switch msg := msg.(type) {
	case tea.WindowSizeMsg:
		m.w, m.h = msg.Width, msg.Height
		m.resize()
		return m, nil
	case tea.BackgroundColorMsg:
		*m.c.Styles = styles.New(msg.IsDark(), m.noColor)
		m.styleFooter()
		return m, nil
	case tickMsg:
		if m.status != "" && m.c.Now().Sub(m.statusAt) > statusTTL {
			m.status = ""
		}
		return m, tea.Batch(m.tick(), m.ping(), m.views[m.active].Refresh())
	case pingMsg:
		return m, m.pinged(msg.err)
	case common.StatusMsg:
		m.setStatus(msg.Text, msg.Err)
		return m, nil
	case common.OpenMsg:
		return m, m.open(msg)
	case paletteDone:
		return m, m.paletteDone(msg)
	case quitNow:
		m.quitting = true
		return m, tea.Quit
	case tea.KeyPressMsg:
		return m, m.key(msg)
	}
	var cmds []tea.Cmd
	for _, v := range m.views {
		_, c := v.Update(msg)
		cmds = append(cmds, c)
	}
	return m, tea.Batch(cmds...)
}

func (m *Model) pinged(err error) tea.Cmd {
	m.pinging = false
	if err != nil {
		if !m.dbDown {
			m.dbDown, m.downSince = true, m.c.Now()
			m.resize() // the banner takes a line
		}
		m.downErr = common.Describe(err)
		return nil
	}
	if m.dbDown {
		m.dbDown = false
		m.resize()
		m.setStatus("database connection restored", false)
		return m.views[m.active].Refresh()
	}
	return nil
}

func (m *Model) setStatus(text string, isErr bool) {
	// Messages quote ids and errors that may come from outside hookd.
	m.status, m.statusErr, m.statusAt = common.Sanitize(text), isErr, m.c.Now()
}

// key routes a key press: ctrl+c always quits; a dialog, the palette or
// a view's prompt has the keyboard while open; then the keys that work
// everywhere, drill-downs included; then back and quit; then the view.
func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	k := m.c.Keys
	v := m.views[m.active]
	switch {
	case key.Matches(msg, k.ForceQuit):
		m.quitting = true
		return tea.Quit
	case m.quit.Active():
		return m.quit.Update(msg, k)
	case m.palette.active():
		return m.paletteKey(msg)
	case v.Capturing():
		_, cmd := v.Update(msg)
		return cmd
	}
	switch {
	case key.Matches(msg, k.NextView):
		return m.choose((m.active + 1) % len(m.views))
	case key.Matches(msg, k.PrevView):
		return m.choose((m.active + len(m.views) - 1) % len(m.views))
	case key.Matches(msg, k.Help):
		if m.active == common.ViewHelp {
			return m.switchTo(m.prev)
		}
		return m.switchTo(common.ViewHelp)
	case key.Matches(msg, k.Palette):
		return m.palette.start()
	case key.Matches(msg, k.Refresh):
		return tea.Batch(m.ping(), v.RefreshNow())
	}
	for i, b := range k.View {
		if key.Matches(msg, b) {
			return m.choose(i)
		}
	}
	if v.Nested() {
		if key.Matches(msg, k.Back, k.Quit) && m.backOutOfJump(v) {
			return m.back()
		}
		return m.updateNested(v, msg)
	}
	switch {
	case key.Matches(msg, k.Back):
		if c, ok := v.(interface{ ClearMarks() bool }); ok && c.ClearMarks() {
			return common.Status("marks cleared")
		}
		return m.back()
	case key.Matches(msg, k.Quit):
		if len(m.history) > 0 || m.active == common.ViewHelp {
			return m.back()
		}
		m.askQuit()
		return nil
	}
	_, cmd := v.Update(msg)
	return cmd
}

// back returns to the view the operator came from.
func (m *Model) back() tea.Cmd {
	if m.active == common.ViewHelp {
		return m.switchTo(m.prev)
	}
	if len(m.history) == 0 {
		return nil
	}
	last := m.history[len(m.history)-1]
	m.history = m.history[:len(m.history)-1]
	var restored tea.Cmd
	if f, ok := m.views[m.active].(common.Filtered); ok && last.restore != nil && f.AppliedFilter() == last.set {
		// The view opened with a filter is as it was before the open.
		restored, _ = f.SetFilter(*last.restore)
	}
	return tea.Batch(restored, m.switchTo(last.from))
}

// updateNested gives a key to a view's drill-down. A message speaks of
// the screen it came from: one opened or closed starts without it, as a
// view switched to does.
func (m *Model) updateNested(v common.View, msg tea.KeyPressMsg) tea.Cmd {
	s, stacked := v.(common.Stacked)
	depth := 0
	if stacked {
		depth = s.Depth()
	}
	_, cmd := v.Update(msg)
	if stacked && s.Depth() != depth {
		m.status = ""
	}
	return cmd
}

// visit is a view the operator left for another by enter or a jump, and
// what the open changed there, to undo on the way back.
type visit struct {
	from, into int
	// jumped: the open was a jump to an object, the one drill-down of
	// into, from which back returns to from, not to into's own list,
	// which the operator never saw.
	jumped bool
	// restore, when the open set a filter, is the filter into had, and
	// set the one it applied.
	restore *string
	set     string
}

// backOutOfJump closes the view's drill-down, and reports true, when the
// last jump opened it and back would now leave it.
func (m *Model) backOutOfJump(v common.View) bool {
	if len(m.history) == 0 {
		return false
	}
	last := m.history[len(m.history)-1]
	s, ok := v.(common.Stacked)
	if !ok || !last.jumped || last.into != m.active || s.Depth() != 1 {
		return false
	}
	s.Top()
	return true
}

func (m *Model) askQuit() {
	q := "Quit the console?"
	if m.opts.QuitNote != "" {
		q += " " + m.opts.QuitNote
	}
	m.quit.Open(q, func() tea.Msg { return quitNow{} })
}

// choose switches to a view the operator chose by its key (or tab): the
// top, from which q quits (asks) instead of walking back through the
// views that jumps left behind. Help keeps them, to return to. Another
// view shows the drill-down it was left with; the view's own key on a
// drill-down of it closes that, showing the view's list.
func (m *Model) choose(i int) tea.Cmd {
	if i == common.ViewHelp {
		return m.switchTo(i)
	}
	m.history = nil
	if i != m.active {
		return m.switchTo(i)
	}
	if s, ok := m.views[i].(common.Stacked); ok {
		s.Top()
	}
	return m.views[i].Refresh()
}

func (m *Model) switchTo(i int) tea.Cmd {
	if i == m.active {
		return nil
	}
	if i == common.ViewHelp {
		m.prev = m.active
		m.help.SetTarget(m.views[m.active])
	}
	// A message speaks of the view it came from: the next view starts
	// without it.
	m.status = ""
	m.active = i
	return m.views[i].Refresh()
}

// open switches to a view with a filter or an object, remembering where
// the operator came from.
func (m *Model) open(msg common.OpenMsg) tea.Cmd {
	from := m.active
	v := m.views[msg.View]
	if s, ok := v.(common.Stacked); ok && from != msg.View {
		// What another view opens here starts from the list; a jump
		// within a view opens over what is open, to return to.
		s.Top()
	}
	switchCmd := m.switchTo(msg.View)
	var visited *visit
	if from != msg.View && from != common.ViewHelp {
		m.history = append(m.history, visit{from: from, into: msg.View, jumped: msg.Target != nil})
		if len(m.history) > 20 {
			m.history = m.history[1:]
		}
		visited = &m.history[len(m.history)-1]
	}
	if f, ok := v.(common.Filtered); ok && msg.Target == nil && (msg.Filter != "" || msg.View != from) {
		if msg.Filter == "" {
			return switchCmd
		}
		before := f.AppliedFilter()
		cmd, err := f.SetFilter(msg.Filter)
		if err != nil {
			m.setStatus(err.Error(), true)
			return switchCmd
		}
		if visited != nil {
			visited.restore, visited.set = &before, f.AppliedFilter()
		}
		return cmd
	}
	if o, ok := v.(common.Opener); ok && msg.Target != nil {
		return tea.Batch(switchCmd, o.OpenTarget(*msg.Target))
	}
	return switchCmd
}
