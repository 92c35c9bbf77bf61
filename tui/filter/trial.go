package filter

import (
	tea "charm.land/bubbletea/v2"

	"github.com/hookd/hookd/tui/common"
)

// Trial is a new filter on trial: the rows shown, and the filter they
// match, stay until the new filter's first load answers. Should that load
// fail (the database unreachable), the old filter comes back with them
// instead of an empty list.
type Trial struct {
	undo func() // puts back the filter the rows shown match; nil off trial
}

// Begin puts a new filter on trial over the rows shown under the filter
// in force, which undo puts back. It reports whether the rows stay: with
// nothing shown there is nothing to keep, and the caller clears. A filter
// tried while another is still on trial keeps the first undo, since the
// rows are still the first filter's.
func (t *Trial) Begin(shown bool, undo func()) bool {
	if t.undo == nil {
		if !shown {
			return false
		}
		t.undo = undo
	}
	return true
}

// On reports a filter on trial.
func (t *Trial) On() bool { return t.undo != nil }

// End takes the first answer under the filter on trial: on an error the
// old filter comes back. It reports whether a trial ended.
func (t *Trial) End(err error) bool {
	undo := t.undo
	t.undo = nil
	if undo == nil {
		return false
	}
	if err != nil {
		undo()
	}
	return true
}

// Settle ends the trial with the first answer under the new filter, for
// a view that shows its rows: when the filter took, fresh starts the rows
// again from the top; on an error the old filter is back, and the command
// says why tried was not applied. Off trial it does nothing.
func (t *Trial) Settle(tried string, err error, fresh func()) tea.Cmd {
	if !t.End(err) {
		return nil
	}
	if err != nil {
		return common.NotApplied(tried, err)
	}
	fresh()
	return nil
}
