// Package pages holds the state of a console list read from the database
// in pages by id (the endpoints and tenants views): the pages loaded, the
// rows in trouble that come with the first page whatever page they are
// on, what a filter resolved to, the loads under way, and the pacing that
// keeps a costly refresh to a fifth of the time.
//
// A view keeps a State, asks it for a load (Load), hands it the answers
// (Apply) and asks it whether a refresh is due (Paced) and whether the
// cursor wants the next page (WantMore); Keys handles the keys every paged
// list shares.
package pages

import (
	"context"
	"time"

	"charm.land/bubbles/v2/key"
	tea "charm.land/bubbletea/v2"

	"github.com/hookd/hookd/tui/common"
	"github.com/hookd/hookd/tui/filter"
	"github.com/hookd/hookd/tui/keys"
	"github.com/hookd/hookd/tui/list"
)

// Page is one page read, with the rows in trouble (for the first page).
type Page[R any] struct {
	Rows, Trouble []R
	// Next is where the next page starts ("" at the end); Total counts
	// the rows there are (up to the source's cap).
	Next  string
	Total int
}

// Fetch reads a page; ids are what a filter resolved to when the fetch
// resolved it (nil otherwise).
type Fetch[R any] func(ctx context.Context) (page Page[R], ids []string, err error)

// Loaded answers a load.
type Loaded[R any] struct {
	to        *State[R]
	gen       int64
	append    bool
	page      Page[R]
	ids       []string
	err       error
	took, end time.Duration
	at        time.Time
}

// State is a paged list's state.
type State[R any] struct {
	Rows    []R // the loaded pages, in id order
	Trouble []R // the rows in trouble, whatever their page
	Next    string
	Total   int
	// IDs are what the filter resolved to; nil without a filter, or
	// before it is resolved.
	IDs []string
	// Loaded says a first answer came; At is when the rows were read.
	Loaded bool
	At     time.Time
	Err    error

	gen           int64
	loading, more bool
	took, doneAt  time.Duration
	// trial is a new filter's first load under way (see Refilter).
	trial filter.Trial
}

// epoch anchors the monotonic clock used to pace refreshes.
var epoch = time.Now()

// Load returns the command that runs fetch (the next page with
// appendPage) and answers with a Loaded; at is the time the rows are read
// at.
func (s *State[R]) Load(c *common.Common, appendPage bool, at time.Time, fetch Fetch[R]) tea.Cmd {
	if appendPage {
		s.more = true
	} else {
		s.loading = true
	}
	gen := s.gen
	return common.Run(c, func(ctx context.Context) Loaded[R] {
		start := time.Since(epoch)
		page, ids, err := fetch(ctx)
		end := time.Since(epoch)
		return Loaded[R]{to: s, gen: gen, append: appendPage, page: page, ids: ids, err: err, took: end - start, end: end, at: at}
	}, func(err error) Loaded[R] { return Loaded[R]{to: s, gen: gen, append: appendPage, err: err} })
}

// Restart drops the answers of the loads under way (a new filter, a
// reload) and forgets the pacing.
func (s *State[R]) Restart() {
	s.gen++
	s.loading, s.more, s.took = false, false, 0
}

// Clear forgets the rows and the filter's resolution, for a new filter.
func (s *State[R]) Clear() {
	s.Rows, s.Trouble, s.Next, s.IDs, s.Loaded = nil, nil, "", nil, false
}

// Refilter is Clear for a new filter, keeping the rows shown until its
// first load answers: should that load fail (the database unreachable),
// the rows stay and undo puts back the view's filter they match. A list
// that shows nothing yet is cleared.
func (s *State[R]) Refilter(undo func()) {
	ids := s.IDs // what the rows shown resolved to
	if !s.trial.Begin(s.Loaded, func() { s.IDs = ids; undo() }) {
		s.Clear()
		return
	}
	s.IDs = nil
}

// Refiltering reports a new filter's first load under way.
func (s *State[R]) Refiltering() bool { return s.trial.On() }

// Apply takes msg when it answers this state's current load, reporting
// whether it did (the view then redraws).
func (s *State[R]) Apply(msg Loaded[R]) bool {
	if msg.to != s || msg.gen != s.gen {
		return false
	}
	if msg.append {
		s.more = false
	} else {
		s.loading = false
		s.took, s.doneAt = msg.took, msg.end
		s.trial.End(msg.err)
	}
	s.Err = msg.err
	if msg.err != nil {
		return true
	}
	if msg.ids != nil {
		s.IDs = msg.ids
	}
	if msg.append {
		s.Rows = append(s.Rows, msg.page.Rows...)
	} else {
		s.Rows, s.Trouble, s.At = msg.page.Rows, msg.page.Trouble, msg.at
	}
	s.Next, s.Total, s.Loaded = msg.page.Next, msg.page.Total, true
	return true
}

// Busy reports a load under way.
func (s *State[R]) Busy() bool { return s.loading || s.more }

// Paced reports whether a live refresh should wait: the last reload took
// more than a fifth of the time since it finished.
func (s *State[R]) Paced() bool { return s.took > 0 && time.Since(epoch)-s.doneAt < 4*s.took }

// ForgetPacing makes the next refresh read at once (an action's effect
// should show).
func (s *State[R]) ForgetPacing() { s.took = 0 }

// WantMore reports whether the cursor nears the end of the table with
// more pages to read and no load under way.
func (s *State[R]) WantMore(t *list.Model) bool {
	return s.Next != "" && !s.Busy() && t.NearEnd()
}

// Keys handles the keys every paged list shares: moving the cursor (and
// loading the next page with load(true) when it nears the end), the
// filter prompt (startFilter) and sorting. It reports whether msg was one
// of them.
func (s *State[R]) Keys(msg tea.KeyPressMsg, k *keys.KeyMap, t *list.Model,
	startFilter func() tea.Cmd, load func(more bool) tea.Cmd) (tea.Cmd, bool) {
	if t.Move(msg, k) {
		if s.WantMore(t) {
			return load(true), true
		}
		return nil, true
	}
	switch {
	case key.Matches(msg, k.Filter):
		return startFilter(), true
	case key.Matches(msg, k.Sort):
		t.SortNext()
		return common.Status("sorted by " + SortName(t)), true
	case key.Matches(msg, k.SortReverse):
		t.SortReverse()
		return common.Status("sorted by " + SortName(t)), true
	}
	return nil, false
}

// SortName names a paged list's order: the sorted column, or "trouble"
// (the rows in trouble first), the order the list starts in.
func SortName(t *list.Model) string {
	if title := t.SortTitle(); title != "" {
		return title
	}
	return "trouble"
}
