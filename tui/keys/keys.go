// Package keys is the console's one keymap. Every binding carries its help
// text, so the footer and the help view are generated from it.
//
// There is no global keymap: New builds one, and the console passes it to
// every view through tui/common.
package keys

import "charm.land/bubbles/v2/key"

// KeyMap holds every binding of the console. Views pick the ones they use
// for their help; actions that change state are grouped in Actions so
// read-only mode can disable them in one place.
type KeyMap struct {
	// Movement.
	Up, Down, Top, Bottom, PageUp, PageDown key.Binding
	// Navigation.
	Enter, Back, Filter, Help, Refresh, Quit, ForceQuit key.Binding
	NextView, PrevView                                  key.Binding
	// Views 1..6 by number.
	View [6]key.Binding
	// Lists.
	Mark, Sort, Copy key.Binding
	// Actions (changing state).
	Replay, ReplayAll, Disable, Enable key.Binding
	// Dialogs.
	Confirm, Cancel key.Binding
}

// New returns the console's keymap. With readOnly, the action bindings are
// disabled: hidden from help and not matched by key.Matches.
func New(readOnly bool) KeyMap {
	k := KeyMap{
		Up:        key.NewBinding(key.WithKeys("k", "up"), key.WithHelp("↑/k", "up")),
		Down:      key.NewBinding(key.WithKeys("j", "down"), key.WithHelp("↓/j", "down")),
		Top:       key.NewBinding(key.WithKeys("g", "home"), key.WithHelp("g", "top")),
		Bottom:    key.NewBinding(key.WithKeys("G", "end"), key.WithHelp("G", "bottom")),
		PageUp:    key.NewBinding(key.WithKeys("pgup", "ctrl+u"), key.WithHelp("pgup", "page up")),
		PageDown:  key.NewBinding(key.WithKeys("pgdown", "ctrl+d"), key.WithHelp("pgdn", "page down")),
		Enter:     key.NewBinding(key.WithKeys("enter"), key.WithHelp("enter", "open")),
		Back:      key.NewBinding(key.WithKeys("esc"), key.WithHelp("esc", "back")),
		Filter:    key.NewBinding(key.WithKeys("/"), key.WithHelp("/", "filter")),
		Help:      key.NewBinding(key.WithKeys("?"), key.WithHelp("?", "help")),
		Refresh:   key.NewBinding(key.WithKeys("ctrl+r"), key.WithHelp("ctrl+r", "refresh now")),
		Quit:      key.NewBinding(key.WithKeys("q"), key.WithHelp("q", "quit (back in sub-views)")),
		ForceQuit: key.NewBinding(key.WithKeys("ctrl+c"), key.WithHelp("ctrl+c", "quit")),
		NextView:  key.NewBinding(key.WithKeys("tab", "]"), key.WithHelp("tab", "next view")),
		PrevView:  key.NewBinding(key.WithKeys("shift+tab", "["), key.WithHelp("shift+tab", "previous view")),
		Mark:      key.NewBinding(key.WithKeys("space"), key.WithHelp("space", "mark")),
		Sort:      key.NewBinding(key.WithKeys("s"), key.WithHelp("s", "sort")),
		Copy:      key.NewBinding(key.WithKeys("y"), key.WithHelp("y", "copy id/payload")),
		Replay:    key.NewBinding(key.WithKeys("r"), key.WithHelp("r", "replay")),
		ReplayAll: key.NewBinding(key.WithKeys("R"), key.WithHelp("R", "replay marked/all")),
		Disable:   key.NewBinding(key.WithKeys("x"), key.WithHelp("x", "disable")),
		Enable:    key.NewBinding(key.WithKeys("e"), key.WithHelp("e", "enable")),
		Confirm:   key.NewBinding(key.WithKeys("y", "Y"), key.WithHelp("y", "confirm")),
		Cancel:    key.NewBinding(key.WithKeys("n", "N", "esc", "q"), key.WithHelp("n/esc", "cancel")),
	}
	names := []string{"overview", "endpoints", "deliveries", "dead letters", "inbox", "help"}
	for i, n := range names {
		d := string(rune('1' + i))
		k.View[i] = key.NewBinding(key.WithKeys(d), key.WithHelp(d, n))
	}
	if readOnly {
		for _, b := range k.Actions() {
			b.SetEnabled(false)
		}
	}
	return k
}

// Actions returns the bindings that change state, for read-only mode.
func (k *KeyMap) Actions() []*key.Binding {
	return []*key.Binding{&k.Replay, &k.ReplayAll, &k.Disable, &k.Enable}
}

// Movement returns the list movement bindings, for help.
func (k KeyMap) Movement() []key.Binding {
	return []key.Binding{k.Up, k.Down, k.Top, k.Bottom, k.PageUp, k.PageDown}
}

// Global returns the bindings every view shares, for help.
func (k KeyMap) Global() []key.Binding {
	return []key.Binding{k.NextView, k.PrevView, k.View[0], k.Help, k.Refresh, k.Quit, k.ForceQuit}
}

// Pressed reports whether msg (a key press's String()) is one of b's keys,
// enabled or not: read-only mode uses it to refuse a disabled action with
// a message instead of ignoring the key silently.
func Pressed(msg string, b key.Binding) bool {
	for _, k := range b.Keys() {
		if k == msg {
			return true
		}
	}
	return false
}
