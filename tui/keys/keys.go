// Package keys is the console's one keymap. Every binding carries its help
// text, so the footer, the help view and the README's key table are all
// generated from, or checked against, it.
//
// There is no global keymap: New builds one, and the console passes it to
// every view through tui/common.
package keys

import "charm.land/bubbles/v2/key"

// ViewNames are the views in tab order; View[i] switches to ViewNames[i].
var ViewNames = []string{"overview", "endpoints", "deliveries", "dead letters", "inbox", "audit", "tenants", "help"}

// KeyMap holds every binding of the console. Views pick the ones they use
// for their help; actions that change state are listed by Actions so
// read-only mode can disable them in one place.
type KeyMap struct {
	// Movement.
	Up, Down, Top, Bottom, PageUp, PageDown key.Binding
	// Navigation.
	Enter, Back, Filter, Help, Refresh, Quit, ForceQuit key.Binding
	NextView, PrevView, Palette                         key.Binding
	// Views by number.
	View [8]key.Binding
	// Lists.
	Mark, Sort, SortReverse, Pause, Group key.Binding
	// Opening and copying.
	Payload, Deliveries, DeadLetters, Copy, CopyResponse, Curl key.Binding
	// Actions (changing state).
	Replay, ReplayAll, Disable, Enable, TestEvent, Rotate, Edit key.Binding
	// A fifo endpoint's blocked head: retry it now, or skip it.
	RetryHead, SkipHead key.Binding
	// Dialogs and forms.
	Confirm, Cancel, Choose, NextField, PrevField key.Binding
}

// New returns the console's keymap. With readOnly, the action bindings are
// disabled: hidden from help and not matched by key.Matches.
func New(readOnly bool) KeyMap {
	b := func(help, desc string, keys ...string) key.Binding {
		return key.NewBinding(key.WithKeys(keys...), key.WithHelp(help, desc))
	}
	k := KeyMap{
		Up:       b("↑/k", "up", "k", "up"),
		Down:     b("↓/j", "down", "j", "down"),
		Top:      b("g/home", "top", "g", "home"),
		Bottom:   b("G/end", "bottom", "G", "end"),
		PageUp:   b("pgup/ctrl+u", "page up", "pgup", "ctrl+u"),
		PageDown: b("pgdn/ctrl+d", "page down", "pgdown", "ctrl+d"),

		Enter:     b("enter", "open", "enter"),
		Back:      b("esc", "back", "esc"),
		Filter:    b("/", "filter", "/"),
		Help:      b("?", "help", "?"),
		Refresh:   b("ctrl+r", "refresh now", "ctrl+r"),
		Quit:      b("q", "back; at the top, quit (asks)", "q"),
		ForceQuit: b("ctrl+c", "quit at once", "ctrl+c"),
		NextView:  b("tab/]", "next view", "tab", "]"),
		PrevView:  b("shift+tab/[", "previous view", "shift+tab", "["),
		Palette:   b(":", "jump to a view or an id", ":"),

		Mark:        b("space", "mark", "space"),
		Sort:        b("s", "sort by the next column", "s"),
		SortReverse: b("S", "reverse the sort", "S"),
		Pause:       b("f", "freeze / follow the list", "f"),
		Group:       b("v", "group by endpoint, reason", "v"),

		Payload:      b("p", "open the event payload", "p"),
		Deliveries:   b("d", "its deliveries", "d"),
		DeadLetters:  b("D", "its dead letters", "D"),
		Copy:         b("y", "copy id, payload, request", "y"),
		CopyResponse: b("Y", "copy the response", "Y"),
		Curl:         b("c", "copy as curl", "c"),

		Replay:    b("r", "replay", "r"),
		ReplayAll: b("R", "replay marked, or all (preview)", "R"),
		Disable:   b("x", "disable the endpoint", "x"),
		Enable:    b("e", "enable the endpoint", "e"),
		TestEvent: b("t", "send a test event", "t"),
		Rotate:    b("K", "rotate the signing secret", "K"),
		Edit:      b("E", "edit URL, types, limits", "E"),
		RetryHead: b("b", "retry the blocked head now", "b"),
		SkipHead:  b("B", "skip the blocked head", "B"),

		Confirm:   b("y", "confirm (one row)", "y"),
		Cancel:    b("n/esc", "cancel", "n", "N", "esc", "q"),
		Choose:    b("←/→", "choose No or Yes", "left", "right", "h", "l"),
		NextField: b("tab/↓", "next field", "tab", "down"),
		PrevField: b("shift+tab/↑", "previous field", "shift+tab", "up"),
	}
	for i, n := range ViewNames {
		d := string(rune('1' + i))
		k.View[i] = b(d, n, d)
	}
	if readOnly {
		for _, a := range k.Actions() {
			a.SetEnabled(false)
		}
	}
	return k
}

// Actions returns the bindings that change state, for read-only mode.
// Marking is among them: it only serves a bulk replay.
func (k *KeyMap) Actions() []*key.Binding {
	return []*key.Binding{&k.Replay, &k.ReplayAll, &k.Disable, &k.Enable, &k.TestEvent, &k.Rotate, &k.Edit, &k.Mark,
		&k.RetryHead, &k.SkipHead}
}

// Movement returns the list movement bindings, for help.
func (k *KeyMap) Movement() []key.Binding {
	return []key.Binding{k.Up, k.Down, k.Top, k.Bottom, k.PageUp, k.PageDown}
}

// Global returns the bindings that work in every view, drill-downs
// included (not while a prompt or dialog has the keyboard).
func (k *KeyMap) Global() []key.Binding {
	out := []key.Binding{k.NextView, k.PrevView}
	out = append(out, k.View[:]...)
	return append(out, k.Palette, k.Help, k.Refresh, k.Back, k.Quit, k.ForceQuit)
}

// Dialog returns the bindings of confirmation dialogs and forms.
func (k *KeyMap) Dialog() []key.Binding {
	typed := key.NewBinding(key.WithKeys("enter"), key.WithHelp("N enter", "confirm N rows (type N)"))
	return []key.Binding{k.Confirm, typed, k.Choose, k.Cancel, k.NextField, k.PrevField}
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
