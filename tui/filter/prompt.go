package filter

import (
	"strings"

	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
)

// Prompt edits a view's filter text. The applied text stays while the
// operator switches views; editing starts from it and esc restores it.
type Prompt struct {
	input   textinput.Model
	editing bool
	applied string
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
	return Prompt{input: in}
}

// Editing reports whether the prompt has the keyboard.
func (p *Prompt) Editing() bool { return p.editing }

// Applied returns the filter in force.
func (p *Prompt) Applied() string { return p.applied }

// SetApplied sets the filter in force (after the view parsed it).
func (p *Prompt) SetApplied(s string) { p.applied = s }

// SetWidth sets the input's width.
func (p *Prompt) SetWidth(w int) { p.input.SetWidth(max(w-2, 10)) }

// Start opens the prompt on the applied filter followed by a space, so
// what the operator types is a new term, not the end of the last value.
func (p *Prompt) Start() tea.Cmd {
	p.editing = true
	text := strings.TrimSpace(p.applied)
	if text != "" {
		text += " "
	}
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
