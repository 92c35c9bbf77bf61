package app

import (
	"fmt"
	"strings"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/hookd/hookd/tui/common"
)

// chrome is the number of lines around the active view: header, tabs,
// message line and footer.
func (m *Model) chrome() int {
	if m.showHeader() {
		return 4
	}
	return 3
}

// showHeader reports whether the terminal is tall enough for the header
// line; a tiny one keeps its rows for the view.
func (m *Model) showHeader() bool { return m.h >= 10 }

func (m *Model) resize() {
	h := m.h - m.chrome()
	if m.dbDown {
		h--
	}
	for _, v := range m.views {
		v.SetSize(m.w, max(h, 1))
	}
	m.footer.SetWidth(m.w)
	m.palette.setWidth(m.w)
}

// View renders the header, the tab bar, the banner, the active view, the
// message line and the footer.
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
			out = fmt.Sprintf("internal error while drawing: %v (ctrl+c quits)", r)
		}
	}()
	if m.quitting {
		return ""
	}
	st := m.c.Styles
	lines := []string{m.tabs()}
	if m.showHeader() {
		lines = []string{m.headerLine(), m.tabs()}
	}
	if m.dbDown {
		now := m.c.Now()
		// The cause before the rest, so that 80 columns show some of it.
		text := fmt.Sprintf(" DATABASE UNREACHABLE %s: %s · since %s, showing the last data, retrying",
			common.Dur(now.Sub(m.downSince)), m.downErr, m.downSince.Format("15:04:05"))
		lines = append(lines, st.Banner.Width(max(m.w, 1)).Render(truncate(text, m.w)))
	}
	// On a tiny terminal the body shrinks to one line so the message line
	// and the footer stay.
	bodyH := max(m.h-len(lines)-2, 1)
	body := m.views[m.active].View()
	if m.quit.Active() {
		body = m.quit.Over(st, body, m.w, bodyH)
	}
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
	switch {
	case m.palette.active():
		status = m.palette.view(st)
	case m.status != "":
		style := st.Status
		if m.statusErr {
			style = st.Error
		}
		status = style.Render(truncate(m.status, m.w))
	}
	lines = append(lines, truncate(status, m.w), truncate(m.footer.ShortHelpView(m.footerKeys()), m.w))
	return strings.Join(lines, "\n")
}

func (m *Model) footerKeys() []key.Binding {
	k := m.c.Keys
	v := m.views[m.active]
	switch {
	case m.quit.Active():
		return m.quit.Help(k)
	case m.palette.active():
		return []key.Binding{key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "go")), k.Back}
	}
	bs := v.ShortHelp()
	if v.Capturing() {
		return append(bs, k.ForceQuit)
	}
	back := k.Quit
	back.SetHelp("q", "quit")
	if v.Nested() || len(m.history) > 0 || m.active == common.ViewHelp {
		back = k.Back
	}
	help := k.Help
	help.SetHelp("?", "all keys")
	// Help and the way out first: a narrow footer cuts the end. A view
	// that lists them too does not get them twice.
	out := []key.Binding{help, back}
	for _, b := range bs {
		if b.Help().Key != help.Help().Key && b.Help().Key != back.Help().Key {
			out = append(out, b)
		}
	}
	return out
}

// headerLine names this hookd, its database, who the operator is and
// whether the console may act.
func (m *Model) headerLine() string {
	st := m.c.Styles
	mode := st.Good.Render("read-write")
	if m.c.ReadOnly {
		mode = st.ReadOnly.Render("READ-ONLY")
	}
	who := m.opts.Actor.String()
	if m.opts.Remote != "" {
		who += " from " + m.opts.Remote
	}
	parts := []string{mode, "you: " + who, st.Title.Render("hookd "+m.opts.Version) + " on " + m.opts.Host}
	if m.info.Database != "" {
		parts = append(parts, "db "+m.info.Database)
	}
	// The mode and the operator come first so a narrow terminal never
	// cuts them.
	return truncate(common.Sanitize(strings.Join(parts, st.Muted.Render(" · "))), m.w)
}

func (m *Model) tabs() string {
	st := m.c.Styles
	render := func(short bool) string {
		var parts []string
		for i, v := range m.views {
			title := v.Title()
			if short {
				title = shortTitles[i]
			}
			label := fmt.Sprintf("%d %s", i+1, title)
			if i == m.active {
				parts = append(parts, st.ActiveTab.Render(label))
			} else {
				parts = append(parts, st.Tab.Render(label))
			}
		}
		return lipgloss.JoinHorizontal(lipgloss.Top, parts...)
	}
	bar := render(false)
	if m.w > 0 && lipgloss.Width(bar) > m.w {
		bar = render(true)
	}
	return truncate(bar, m.w)
}

// shortTitles name the views in a narrow tab bar.
var shortTitles = []string{"over", "endp", "deliv", "dead", "inbox", "audit", "tenants", "help"}
