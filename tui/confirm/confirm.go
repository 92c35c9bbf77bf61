// Package confirm is the console's confirmation dialog. It defaults to
// cancel: only y, or enter after moving the focus to "yes", confirms.
package confirm

import (
	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"

	"github.com/hookd/hookd/tui/keys"
	"github.com/hookd/hookd/tui/styles"
)

// Model is an open or closed dialog holding the action it guards.
type Model struct {
	open   bool
	yes    bool // focus on "yes"
	prompt string
	action tea.Cmd
}

// Open shows prompt; action runs if the operator confirms.
func (m *Model) Open(prompt string, action tea.Cmd) {
	*m = Model{open: true, prompt: prompt, action: action}
}

// Active reports whether the dialog is showing.
func (m *Model) Active() bool { return m.open }

// Prompt returns the question shown.
func (m *Model) Prompt() string { return m.prompt }

// Update handles a key while the dialog is open. It returns the guarded
// action when confirmed, nil otherwise; the dialog closes on a decision.
func (m *Model) Update(msg tea.KeyPressMsg, k *keys.KeyMap) tea.Cmd {
	switch {
	case key.Matches(msg, k.Confirm):
		return m.decide(true)
	case key.Matches(msg, k.Cancel):
		return m.decide(false)
	case msg.String() == "enter":
		return m.decide(m.yes)
	case msg.String() == "left", msg.String() == "right", msg.String() == "tab", msg.String() == "h", msg.String() == "l":
		m.yes = !m.yes
	}
	return nil
}

func (m *Model) decide(yes bool) tea.Cmd {
	action := m.action
	*m = Model{}
	if yes {
		return action
	}
	return nil
}

// Over draws the dialog centred over base, a screen of w by h cells.
// Views call it whenever Active reports true, whatever else they show, so
// a dialog that holds the keyboard is always on screen.
func (m *Model) Over(st *styles.Styles, base string, w, h int) string {
	box := m.View(st, max(w-4, 10))
	x := max((w-lipgloss.Width(box))/2, 0)
	y := max((h-lipgloss.Height(box))/2, 0)
	return lipgloss.NewCompositor(lipgloss.NewLayer(base), lipgloss.NewLayer(box).X(x).Y(y).Z(1)).Render()
}

// Help returns the dialog's keys, for the footer while it is open.
func Help(k *keys.KeyMap) []key.Binding { return []key.Binding{k.Confirm, k.Cancel} }

// View renders the dialog box at most width wide.
func (m *Model) View(st *styles.Styles, width int) string {
	no, yes := "[ No ]", "[ Yes ]"
	if m.yes {
		yes = st.Cursor.Render(yes)
	} else {
		no = st.Cursor.Render(no)
	}
	body := m.prompt + "\n\n" + no + "  " + yes + "\n" + st.Muted.Render("y confirm · n/esc cancel · enter chooses the highlighted")
	return st.Dialog.Width(min(width, 76)).Render(lipgloss.NewStyle().Render(body))
}
