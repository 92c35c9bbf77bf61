// Package commontest helps test console views at model level: a Common
// with a fixed clock, key presses by name, and Drain, which runs a
// command (batches included) and feeds what it returns back to the model,
// the way the Bubble Tea runtime would.
package commontest

import (
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/hookd/hookd/tui/common"
	"github.com/hookd/hookd/tui/data"
	"github.com/hookd/hookd/tui/keys"
	"github.com/hookd/hookd/tui/styles"
)

// Now is the fixed clock of NewCommon.
var Now = time.Date(2026, 3, 14, 15, 9, 26, 0, time.UTC)

// NewCommon returns a context on src with a fixed clock and no colour.
func NewCommon(src data.Source, readOnly bool) *common.Common {
	st := styles.New(true, true)
	k := keys.New(readOnly)
	return &common.Common{Styles: &st, Keys: &k, Source: src, ReadOnly: readOnly, Now: func() time.Time { return Now }}
}

// Key returns the press of a key named as key bindings name it: "j",
// "enter", "esc", "space", "tab", "shift+tab", "ctrl+r", "pgdown", "up".
func Key(name string) tea.KeyPressMsg {
	special := map[string]tea.KeyPressMsg{
		"enter":     {Code: tea.KeyEnter},
		"esc":       {Code: tea.KeyEscape},
		"space":     {Code: tea.KeySpace, Text: " "},
		"tab":       {Code: tea.KeyTab},
		"shift+tab": {Code: tea.KeyTab, Mod: tea.ModShift},
		"ctrl+r":    {Code: 'r', Mod: tea.ModCtrl},
		"ctrl+c":    {Code: 'c', Mod: tea.ModCtrl},
		"pgdown":    {Code: tea.KeyPgDown},
		"pgup":      {Code: tea.KeyPgUp},
		"up":        {Code: tea.KeyUp},
		"down":      {Code: tea.KeyDown},
		"backspace": {Code: tea.KeyBackspace},
	}
	if k, ok := special[name]; ok {
		return k
	}
	r := []rune(name)
	return tea.KeyPressMsg{Code: r[0], Text: name}
}

// Updater is what Drain feeds: a view's or the root's Update.
type Updater func(tea.Msg) tea.Cmd

// Drain runs cmd and every command that follows from it, feeding each
// message to update, and returns the messages seen. A command that does
// not return within a generous deadline fails the test.
func Drain(t testing.TB, update Updater, cmd tea.Cmd) []tea.Msg {
	t.Helper()
	var seen []tea.Msg
	queue := []tea.Cmd{cmd}
	for steps := 0; len(queue) > 0; steps++ {
		if steps > 1000 {
			t.Fatal("commontest.Drain: more than 1000 commands; a loop?")
		}
		c := queue[0]
		queue = queue[1:]
		if c == nil {
			continue
		}
		msg := run(t, c)
		if batch, ok := msg.(tea.BatchMsg); ok {
			queue = append(queue, batch...)
			continue
		}
		if msg == nil {
			continue
		}
		seen = append(seen, msg)
		queue = append(queue, update(msg))
	}
	return seen
}

func run(t testing.TB, c tea.Cmd) tea.Msg {
	t.Helper()
	done := make(chan tea.Msg, 1)
	go func() { done <- c() }()
	select {
	case msg := <-done:
		return msg
	case <-time.After(30 * time.Second):
		t.Fatal("commontest.Drain: a command did not return in 30s")
		return nil
	}
}

// Press sends the named keys one by one, draining after each.
func Press(t testing.TB, update Updater, names ...string) []tea.Msg {
	t.Helper()
	var seen []tea.Msg
	for _, n := range names {
		seen = append(seen, Drain(t, update, update(Key(n)))...)
	}
	return seen
}

// Type types text into a prompt, one key per rune.
func Type(t testing.TB, update Updater, text string) {
	t.Helper()
	for _, r := range text {
		Drain(t, update, update(tea.KeyPressMsg{Code: r, Text: string(r)}))
	}
}

// Statuses returns the texts of the status messages among msgs.
func Statuses(msgs []tea.Msg) []string {
	var out []string
	for _, m := range msgs {
		if s, ok := m.(common.StatusMsg); ok {
			out = append(out, s.Text)
		}
	}
	return out
}
