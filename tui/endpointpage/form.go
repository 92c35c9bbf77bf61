package endpointpage

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"charm.land/bubbles/v2/key"
	"charm.land/bubbles/v2/textinput"
	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/core/validate"
	"github.com/hookd/hookd/tui/common"
	"github.com/hookd/hookd/tui/styles"
)

// form edits an endpoint's URL, description, event types and limits.
// Only the fields changed are sent, so a concurrent change to another
// field is not undone.
type form struct {
	c      *common.Common
	fields []field
	focus  int
	err    string
}

type field struct {
	label string
	api   string // the field's name in the API, as a refusal names it
	input textinput.Model
	was   string
	hint  string // what the field takes, shown while it has the cursor
}

const (
	fURL = iota
	fDescription
	fTypes
	fRate
	fInFlight
	fTimeout
)

func newForm(c *common.Common, e *endpoint.Endpoint) *form {
	values := []struct{ label, api, value, placeholder string }{
		{"URL", "url", e.URL, "https://example.com/hooks"},
		{"description", "description", e.Description, "what people call it"},
		{"event types", "event_types", strings.Join(e.EventTypes, ", "), "empty or * for all; invoice.paid, payment.*"},
		{"rate limit /s", "rate_limit", strconv.Itoa(e.RateLimit), "0 = unlimited"},
		{"max in flight", "max_in_flight", strconv.Itoa(e.MaxInFlight), "0 = delivery.max_in_flight_per_endpoint"},
		{"timeout", "timeout", durationText(time.Duration(e.Timeout)), "0 = delivery.timeout; e.g. 10s"},
	}
	f := &form{c: c}
	for _, v := range values {
		in := textinput.New()
		in.Prompt = ""
		in.Placeholder = v.placeholder
		in.CharLimit = 2000
		in.SetValue(v.value)
		st := in.Styles()
		st.Cursor.Blink = false
		in.SetStyles(st)
		f.fields = append(f.fields, field{label: v.label, api: v.api, input: in, was: v.value, hint: v.placeholder})
	}
	f.fields[0].input.Focus()
	return f
}

func durationText(d time.Duration) string {
	if d == 0 {
		return "0"
	}
	return d.String()
}

// update handles a key: it returns done with the changes on enter (or an
// error shown in the form), cancel on esc.
func (f *form) update(msg tea.KeyPressMsg) (p *endpoint.UpdateParams, changes []string, cancel bool, cmd tea.Cmd) {
	k := f.c.Keys
	switch {
	case msg.String() == "esc":
		return nil, nil, true, nil
	case msg.String() == "enter":
		p, changes, err := f.params()
		if err != nil {
			f.err = err.Error()
			return nil, nil, false, nil
		}
		if len(changes) == 0 {
			f.err = "nothing changed (esc closes)"
			return nil, nil, false, nil
		}
		return p, changes, false, nil
	case key.Matches(msg, k.NextField):
		f.move(1)
		return nil, nil, false, nil
	case key.Matches(msg, k.PrevField):
		f.move(-1)
		return nil, nil, false, nil
	}
	f.err = ""
	f.fields[f.focus].input, cmd = f.fields[f.focus].input.Update(msg)
	return nil, nil, false, cmd
}

func (f *form) move(d int) { f.focusOn((f.focus + d + len(f.fields)) % len(f.fields)) }

func (f *form) focusOn(i int) {
	f.fields[f.focus].input.Blur()
	f.focus = i
	f.fields[f.focus].input.Focus()
}

// refused shows why the store refused the form's changes: the cursor on
// the field refused, which the error names by the form's label rather
// than the API's field name (url, event_types).
func (f *form) refused(err error) {
	f.err = common.Describe(err)
	var ve *validate.Error
	if !errors.As(err, &ve) {
		return
	}
	for i, fl := range f.fields {
		if fl.api == ve.Field {
			f.focusOn(i)
			f.err = fl.label + ": " + ve.Message
			return
		}
	}
}

// params reads the changed fields, checking numbers and durations here
// (the store checks the rest and names the field).
func (f *form) params() (*endpoint.UpdateParams, []string, error) {
	var p endpoint.UpdateParams
	var changes []string
	changed := func(i int) (string, bool) {
		v := strings.TrimSpace(f.fields[i].input.Value())
		if v != strings.TrimSpace(f.fields[i].was) {
			changes = append(changes, fmt.Sprintf("%s: %s → %s", f.fields[i].label, orNone(f.fields[i].was), orNone(v)))
			return v, true
		}
		return v, false
	}
	if v, ok := changed(fURL); ok {
		p.URL = &v
	}
	if v, ok := changed(fDescription); ok {
		p.Description = &v
	}
	if v, ok := changed(fTypes); ok {
		types := []string{} // empty: all types
		if strings.TrimSpace(v) != "" {
			types = strings.Split(v, ",")
		}
		p.EventTypes = &types
	}
	number := func(i int, name string) (*int, error) {
		v, ok := changed(i)
		if !ok {
			return nil, nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 1_000_000 {
			return nil, fmt.Errorf("%s: %q is not a whole number from 0 to 1000000", name, v)
		}
		return &n, nil
	}
	var err error
	if p.RateLimit, err = number(fRate, "rate limit"); err != nil {
		return nil, nil, err
	}
	if p.MaxInFlight, err = number(fInFlight, "max in flight"); err != nil {
		return nil, nil, err
	}
	if v, ok := changed(fTimeout); ok {
		d := time.Duration(0)
		if v != "0" && v != "" {
			if d, err = time.ParseDuration(v); err != nil {
				return nil, nil, fmt.Errorf("timeout: %q is not a duration (examples: 500ms, 10s)", v)
			}
		}
		t := endpoint.Duration(d)
		p.Timeout = &t
	}
	return &p, changes, nil
}

func orNone(s string) string {
	if strings.TrimSpace(s) == "" {
		return "(none)"
	}
	return s
}

func (f *form) view(st *styles.Styles, width int) string {
	var b strings.Builder
	b.WriteString(st.Title.Render("Edit endpoint") + st.Muted.Render("  tab/↓ next · shift+tab/↑ previous · enter saves · esc cancels") + "\n\n")
	for i, fl := range f.fields {
		in := fl.input
		in.SetWidth(max(width-18, 10))
		label := fmt.Sprintf("%-15s", fl.label)
		if i == f.focus {
			label = st.Key.Render(label)
		} else {
			label = st.Muted.Render(label)
		}
		b.WriteString(label + " " + in.View() + "\n")
	}
	// The example shows in an empty field only; a limit reads 0, and what
	// 0 means is said here.
	b.WriteString("\n" + st.Muted.Render(fmt.Sprintf("%-15s %s", "", f.fields[f.focus].hint)) + "\n")
	if f.err != "" {
		// Whole, however long: it says what the field takes.
		b.WriteString("\n" + st.Error.Render(ansi.Wrap(common.Sanitize(f.err), max(width, 20), "")) + "\n")
	}
	return b.String()
}
