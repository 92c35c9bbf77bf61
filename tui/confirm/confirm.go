// Package confirm is the console's dialog. It comes in three kinds:
//
//   - a question (Open) that defaults to cancel: only y, or enter after
//     moving the focus to "Yes", confirms. For actions on one row, where
//     the dialog opens in answer to the key just pressed.
//   - a typed confirmation (OpenTyped) for bulk actions: the operator
//     types the number of rows and presses enter. No single key confirms
//     it, so a habitual y (copy) pressed as the dialog appears after its
//     count query does nothing.
//   - a notice (OpenNotice) that shows text once, such as a new secret:
//     y copies it, enter or esc closes.
package confirm

import (
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"charm.land/lipgloss/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/hookd/hookd/tui/common"
	"github.com/hookd/hookd/tui/keys"
	"github.com/hookd/hookd/tui/styles"
)

type kind int

const (
	question kind = iota + 1
	typed
	notice
)

// Model is an open or closed dialog holding the action it guards.
type Model struct {
	kind   kind
	yes    bool // focus on "yes"
	prompt string
	word   string // what a typed confirmation wants
	input  textinput.Model
	action tea.Cmd
	copy   string // a notice's text to copy
	wrong  bool   // the last enter of a typed confirmation did not match
}

// Open shows a question; action runs if the operator confirms.
func (m *Model) Open(prompt string, action tea.Cmd) {
	*m = Model{kind: question, prompt: prompt, action: action}
}

// OpenTyped shows a question that the operator confirms by typing word
// (a count) and enter.
func (m *Model) OpenTyped(prompt, word string, action tea.Cmd) {
	in := textinput.New()
	in.Prompt = "> "
	in.CharLimit = 20
	in.SetWidth(20)
	st := in.Styles()
	st.Cursor.Blink = false
	in.SetStyles(st)
	in.Focus()
	*m = Model{kind: typed, prompt: prompt, word: word, input: in, action: action}
}

// OpenNotice shows text until closed; y copies copyText.
func (m *Model) OpenNotice(text, copyText string) {
	*m = Model{kind: notice, prompt: text, copy: copyText}
}

// Active reports whether the dialog is showing.
func (m *Model) Active() bool { return m.kind != 0 }

// Typed reports whether the open dialog wants a typed confirmation.
func (m *Model) Typed() bool { return m.kind == typed }

// Prompt returns the text shown.
func (m *Model) Prompt() string { return m.prompt }

// Word returns what a typed confirmation wants typed.
func (m *Model) Word() string { return m.word }

// Update handles a key while the dialog is open. It returns the guarded
// action when confirmed, nil otherwise; the dialog closes on a decision.
func (m *Model) Update(msg tea.KeyPressMsg, k *keys.KeyMap) tea.Cmd {
	switch m.kind {
	case notice:
		switch {
		case key.Matches(msg, k.Copy):
			text := m.copy
			return tea.Batch(tea.SetClipboard(text), func() tea.Msg { return Copied{} })
		case msg.String() == "enter", msg.String() == "esc", msg.String() == "q":
			*m = Model{}
		}
		return nil
	case typed:
		switch msg.String() {
		case "esc":
			return m.decide(false)
		case "enter":
			if strings.TrimSpace(m.input.Value()) == m.word {
				return m.decide(true)
			}
			m.wrong = true
			return nil
		}
		m.wrong = false
		var cmd tea.Cmd
		m.input, cmd = m.input.Update(msg)
		return cmd
	}
	switch {
	case key.Matches(msg, k.Confirm):
		return m.decide(true)
	case key.Matches(msg, k.Cancel):
		return m.decide(false)
	case msg.String() == "enter":
		return m.decide(m.yes)
	case key.Matches(msg, k.Choose), msg.String() == "tab":
		m.yes = !m.yes
	}
	return nil
}

// Copied tells the view a notice's text was copied.
type Copied struct{}

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
	box := m.View(st, w)
	x := max((w-lipgloss.Width(box))/2, 0)
	y := max((h-lipgloss.Height(box))/2, 0)
	out := lipgloss.NewCompositor(lipgloss.NewLayer(base), lipgloss.NewLayer(box).X(x).Y(y).Z(1)).Render()
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		lines[i] = ansi.Truncate(l, w, "…") // as the views cut a line too long
	}
	return strings.Join(lines, "\n")
}

// Help returns the dialog's keys, for the footer while it is open.
func (m *Model) Help(k *keys.KeyMap) []key.Binding {
	switch m.kind {
	case typed:
		return []key.Binding{key.NewBinding(key.WithKeys("enter"), key.WithHelp("type "+m.word+", enter", "confirm")),
			key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel"))}
	case notice:
		return []key.Binding{k.Copy, key.NewBinding(key.WithKeys("enter", "esc"), key.WithHelp("enter/esc", "close"))}
	}
	// The help screen calls y "confirm (one row)", against typing the
	// count for many; a yes/no dialog's own footer says only what y does.
	yes := key.NewBinding(key.WithKeys(k.Confirm.Keys()...), key.WithHelp(k.Confirm.Help().Key, "confirm"))
	return []key.Binding{yes, k.Cancel}
}

// View renders the dialog box, at most screen cells wide.
func (m *Model) View(st *styles.Styles, screen int) string {
	// The border and padding take four cells.
	inner := max(min(screen-4, 76), 10)
	var foot string
	switch m.kind {
	case typed:
		hint := "Type " + m.word + " and press enter to confirm · esc cancels"
		if m.wrong {
			hint = st.Error.Render("that is not " + m.word + "; type " + m.word + " and press enter, or esc")
		}
		foot = m.input.View() + "\n" + st.Muted.Render(hint)
	case notice:
		foot = st.Muted.Render("y copies · enter or esc closes")
	default:
		no, yes := "[ No ]", "[ Yes ]"
		if m.yes {
			yes = st.Cursor.Render(yes)
		} else {
			no = st.Cursor.Render(no)
		}
		foot = no + "  " + yes + "\n" + st.Muted.Render("y confirm · n/esc cancel · enter chooses the highlighted")
	}
	// The question wraps line by line, each line's next ones indented
	// under it: a preview's indented groups kept their shape.
	var prompt []string
	for _, l := range strings.Split(m.prompt, "\n") {
		prompt = append(prompt, common.WrapLine(l, inner)...)
	}
	body := lipgloss.NewStyle().Width(inner).Render(strings.Join(prompt, "\n") + "\n\n" + foot)
	return st.Dialog.Render(body)
}
