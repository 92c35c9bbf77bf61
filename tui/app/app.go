// Package app is the console's root model: it holds the views and the
// active one, switches between them, cascades the terminal size, shows
// the active view's key help in the footer and a banner while the
// database is unreachable, and drives the live refresh.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"charm.land/bubbles/v2/help"
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/hookd/hookd/tui/common"
	"github.com/hookd/hookd/tui/data"
	"github.com/hookd/hookd/tui/deadletters"
	"github.com/hookd/hookd/tui/deliveries"
	"github.com/hookd/hookd/tui/endpoints"
	helpview "github.com/hookd/hookd/tui/help"
	"github.com/hookd/hookd/tui/inbox"
	"github.com/hookd/hookd/tui/keys"
	"github.com/hookd/hookd/tui/overview"
	"github.com/hookd/hookd/tui/styles"
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
}

// Model is the root model.
type Model struct {
	c       *common.Common
	noColor bool
	refresh time.Duration
	views   []common.View
	help    *helpview.Model
	active  int
	prev    int // the view help returns to
	footer  help.Model
	w, h    int

	status    string
	statusErr bool
	statusAt  time.Time

	pinging   bool
	dbDown    bool
	downSince time.Time
	downErr   string
	quitting  bool
}

type tickMsg struct{}

type pingMsg struct{ err error }

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
	st := styles.New(true, noColor)
	km := keys.New(opts.ReadOnly)
	c := &common.Common{Styles: &st, Keys: &km, Logger: opts.Logger, Source: opts.Source, Now: opts.Now,
		ReadOnly: opts.ReadOnly, Timeout: opts.Timeout}
	m := &Model{c: c, noColor: noColor, refresh: opts.Refresh, footer: help.New()}
	m.help = helpview.New(c)
	m.views = []common.View{overview.New(c), endpoints.New(c), deliveries.New(c), deadletters.New(c), inbox.New(c), m.help}
	m.help.SetTarget(m.views[0])
	m.styleFooter()
	return m
}

// Common returns the shared context, for tests.
func (m *Model) Common() *common.Common { return m.c }

// Active returns the index of the active view (common.ViewOverview...).
func (m *Model) Active() int { return m.active }

// View returns view i.
func (m *Model) ViewAt(i int) common.View { return m.views[i] }

// StatusLine returns the message line's text.
func (m *Model) StatusLine() string { return m.status }

// DatabaseDown reports whether the banner is showing.
func (m *Model) DatabaseDown() bool { return m.dbDown }

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

func (m *Model) key(msg tea.KeyPressMsg) tea.Cmd {
	k := m.c.Keys
	v := m.views[m.active]
	if key.Matches(msg, k.ForceQuit) {
		m.quitting = true
		return tea.Quit
	}
	if v.Nested() {
		_, cmd := v.Update(msg)
		return cmd
	}
	switch {
	case key.Matches(msg, k.Quit):
		m.quitting = true
		return tea.Quit
	case key.Matches(msg, k.NextView):
		return m.switchTo((m.active + 1) % len(m.views))
	case key.Matches(msg, k.PrevView):
		return m.switchTo((m.active + len(m.views) - 1) % len(m.views))
	case key.Matches(msg, k.Help):
		if m.active == common.ViewHelp {
			return m.switchTo(m.prev)
		}
		return m.switchTo(common.ViewHelp)
	case key.Matches(msg, k.Back) && m.active == common.ViewHelp:
		return m.switchTo(m.prev)
	case key.Matches(msg, k.Refresh):
		return tea.Batch(m.ping(), v.RefreshNow())
	}
	for i, b := range k.View {
		if key.Matches(msg, b) {
			return m.switchTo(i)
		}
	}
	_, cmd := v.Update(msg)
	return cmd
}

func (m *Model) switchTo(i int) tea.Cmd {
	if i == m.active {
		return nil
	}
	if i == common.ViewHelp {
		m.prev = m.active
		m.help.SetTarget(m.views[m.active])
	}
	m.active = i
	return m.views[i].Refresh()
}

func (m *Model) open(msg common.OpenMsg) tea.Cmd {
	switchCmd := m.switchTo(msg.View)
	type filterable interface {
		SetFilter(string) (tea.Cmd, error)
	}
	if f, ok := m.views[msg.View].(filterable); ok && msg.Filter != "" {
		cmd, err := f.SetFilter(msg.Filter)
		if err != nil {
			m.setStatus(err.Error(), true)
			return switchCmd
		}
		return cmd
	}
	return switchCmd
}

// chrome is the number of lines around the active view: tabs, message
// line and footer.
const chrome = 3

func (m *Model) resize() {
	h := m.h - chrome
	if m.dbDown {
		h--
	}
	for _, v := range m.views {
		v.SetSize(m.w, max(h, 1))
	}
	m.footer.SetWidth(m.w)
}

// View renders the tab bar, the banner, the active view, the message line
// and the footer.
func (m *Model) View() tea.View {
	v := tea.NewView(m.Render())
	v.AltScreen = true
	v.WindowTitle = "hookd console"
	return v
}

// Render returns the screen as a string.
func (m *Model) Render() (out string) {
	defer func() {
		if r := recover(); r != nil {
			out = fmt.Sprintf("internal error while drawing: %v (press q to quit)", r)
		}
	}()
	if m.quitting {
		return ""
	}
	st := m.c.Styles
	lines := []string{m.tabs()}
	if m.dbDown {
		now := m.c.Now()
		text := fmt.Sprintf(" DATABASE UNREACHABLE since %s (%s) · showing the last data · retrying: %s",
			m.downSince.Format("15:04:05"), common.Dur(now.Sub(m.downSince)), m.downErr)
		lines = append(lines, st.Banner.Width(max(m.w, 1)).Render(truncate(text, m.w)))
	}
	// On a tiny terminal the body shrinks to one line so the message line
	// and the footer stay.
	bodyH := max(m.h-len(lines)-2, 1)
	body := m.views[m.active].View()
	bodyLines := strings.Split(body, "\n")
	if len(bodyLines) > bodyH {
		bodyLines = bodyLines[:bodyH]
	}
	for i, l := range bodyLines {
		bodyLines[i] = truncate(l, m.w)
	}
	for len(bodyLines) < bodyH {
		bodyLines = append(bodyLines, "")
	}
	lines = append(lines, bodyLines...)
	status := ""
	if m.status != "" {
		style := st.Status
		if m.statusErr {
			style = st.Error
		}
		status = style.Render(truncate(m.status, m.w))
	}
	lines = append(lines, status, truncate(m.footer.ShortHelpView(m.footerKeys()), m.w))
	return strings.Join(lines, "\n")
}

func (m *Model) footerKeys() []key.Binding {
	k := m.c.Keys
	v := m.views[m.active]
	bs := v.ShortHelp()
	if v.Nested() {
		return append(bs, k.ForceQuit)
	}
	return append(bs, k.NextView, k.Help, k.Quit)
}

func (m *Model) tabs() string {
	st := m.c.Styles
	var parts []string
	for i, v := range m.views {
		label := fmt.Sprintf("%d %s", i+1, v.Title())
		if i == m.active {
			parts = append(parts, st.ActiveTab.Render(label))
		} else {
			parts = append(parts, st.Tab.Render(label))
		}
	}
	bar := lipgloss.JoinHorizontal(lipgloss.Top, parts...)
	if m.c.ReadOnly {
		// First, so a narrow terminal never truncates it away.
		bar = st.ReadOnly.Render("READ-ONLY") + " " + bar
	}
	return truncate(bar, m.w)
}
