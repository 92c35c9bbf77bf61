package filter

import (
	"strings"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/hookd/hookd/tui/common"
)

// Prompt edits a view's filter text. The applied text stays while the
// operator switches views; editing starts from it and esc restores it.
type Prompt struct {
	input       textinput.Model
	editing     bool
	applied     string
	width       int    // of the line the prompt shares with its info
	placeholder string // whole; the input shows what fits of it
}

// NewPrompt returns a prompt with a placeholder showing the syntax.
func NewPrompt(placeholder string) Prompt {
	in := textinput.New()
	in.Prompt = "/"
	in.Placeholder = placeholder
	in.CharLimit = 200
	// A steady cursor: no blink timer running while the prompt is open.
	st := in.Styles()
	st.Cursor.Blink = false
	in.SetStyles(st)
	return Prompt{input: in, placeholder: placeholder}
}

// Editing reports whether the prompt has the keyboard.
func (p *Prompt) Editing() bool { return p.editing }

// Value returns the text being edited.
func (p *Prompt) Value() string { return p.input.Value() }

// Applied returns the filter in force.
func (p *Prompt) Applied() string { return p.applied }

// SetApplied sets the filter in force (after the view parsed it).
func (p *Prompt) SetApplied(s string) { p.applied = s }

// SetWidth sets the width of the line the prompt shares with its info
// (see Line).
func (p *Prompt) SetWidth(w int) {
	p.width = w
	p.input.SetWidth(max(w-2-inputChrome, 1))
}

// inputChrome is what the input draws beside its text: the "/" prompt and
// the cursor cell past the end.
const inputChrome = 2

// Line renders the prompt while editing (else the applied filter, or hint
// when none) followed by info, within the width given to SetWidth. An
// applied filter comes first, since it says what the rows are: info is
// cut short before it, down to minInfo cells. Otherwise the input, or the
// hint cut between words, gets the room info leaves, at least minHead
// cells (then info is cut short instead).
func (p *Prompt) Line(hint, info string) string {
	head := p.View()
	infoRoom := ansi.StringWidth(info)
	if !p.editing && head != "" {
		infoRoom = min(infoRoom, minInfo)
	}
	room := max(p.width-infoRoom-2, minHead)
	if p.editing {
		p.input.SetWidth(max(room-inputChrome, 1))
		p.input.Placeholder = common.Hint(room-inputChrome, p.placeholder)
		head = p.input.View()
	} else if head == "" {
		head = common.CutWords(hint, room)
	}
	if p.width <= 0 {
		return head + "  " + info
	}
	return ansi.Truncate(ansi.Truncate(head, room, "…")+"  "+info, p.width, "…")
}

// minHead is the least room Line leaves the prompt; minInfo the least it
// leaves info, when info is that long.
const (
	minHead = 16
	minInfo = 24
)

// Start opens the prompt on the applied filter followed by a space, so
// what the operator types is a new term, not the end of the last value.
func (p *Prompt) Start() tea.Cmd {
	text := strings.TrimSpace(p.applied)
	if text != "" {
		text += " "
	}
	return p.Reopen(text)
}

// Reopen opens the prompt on text: after a filter was refused, the
// operator corrects what they typed instead of typing it again.
func (p *Prompt) Reopen(text string) tea.Cmd {
	p.editing = true
	p.input.SetValue(text)
	p.input.CursorEnd()
	return p.input.Focus()
}

// Update feeds a key to the prompt. It returns done with the text when the
// operator pressed enter, and closes the prompt on enter or esc.
func (p *Prompt) Update(msg tea.Msg) (text string, done bool, cmd tea.Cmd) {
	if k, ok := msg.(tea.KeyPressMsg); ok {
		switch k.String() {
		case "enter":
			p.editing = false
			p.input.Blur()
			return p.input.Value(), true, nil
		case "esc":
			p.editing = false
			p.input.Blur()
			return "", false, nil
		}
	}
	p.input, cmd = p.input.Update(msg)
	return "", false, cmd
}

// Keys are the keys of an open prompt, for a view's footer.
func Keys() []key.Binding {
	return []key.Binding{
		key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "apply")),
		key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "cancel")),
	}
}

// View renders the prompt while editing, else the applied filter.
func (p *Prompt) View() string {
	if p.editing {
		return p.input.View()
	}
	if p.applied == "" {
		return ""
	}
	return "filter: " + p.applied
}

// Handle feeds msg to the prompt while it is open and reports whether it
// did. When the operator presses enter it applies the text with apply;
// if apply refuses it, the prompt opens again on what was typed, with the
// reason on the message line, else the last error goes.
func (p *Prompt) Handle(msg tea.Msg, apply func(text string) (tea.Cmd, error)) (bool, tea.Cmd) {
	if !p.Editing() {
		return false, nil
	}
	text, done, cmd := p.Update(msg)
	if !done {
		return true, cmd
	}
	reload, err := apply(text)
	if err != nil {
		return true, tea.Batch(p.Reopen(text), common.Errorf("filter: %s", common.Describe(err)))
	}
	return true, tea.Batch(reload, common.ClearStatus())
}
