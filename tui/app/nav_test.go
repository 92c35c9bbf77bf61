package app_test

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/tui/common"
	"github.com/hookd/hookd/tui/common/commontest"
	"github.com/hookd/hookd/tui/deadletters"
	"github.com/hookd/hookd/tui/deliveries"
)

// TestBackReturnsWhereAJumpCameFrom: esc from what a jump opened in
// another view returns to the view it came from, drill-down and all, not
// to a list the operator never saw; a jump within a view opens over what
// is open there, so esc returns to it; and a view's own key on one of its
// drill-downs shows its list. Before, esc after a jump from an endpoint's
// page showed the deliveries list, a jump from one event to another lost
// the first, and 2 on the endpoint page did nothing.
func TestBackReturnsWhereAJumpCameFrom(t *testing.T) {
	eachSize(t, func(t *testing.T, w, h int) {
		m, up := newApp(t, fixture(), w, h, false)
		eps := m.ViewAt(common.ViewEndpoints)
		dv := m.ViewAt(common.ViewDeliveries).(*deliveries.Model)
		jump := func(id string) {
			commontest.Press(t, up, ":")
			commontest.Type(t, up, id)
			commontest.Press(t, up, "enter")
		}

		commontest.Press(t, up, "2", "enter")
		if !eps.Nested() {
			t.Fatal("enter opens an endpoint's page")
		}
		jump("104")
		if m.Active() != common.ViewDeliveries || dv.Stack().Depth() != 1 {
			t.Fatalf("the jump opens delivery 104 in deliveries: view %d, %d screens", m.Active(), dv.Stack().Depth())
		}
		commontest.Press(t, up, "esc")
		if m.Active() != common.ViewEndpoints || !eps.Nested() {
			t.Fatalf("esc returns to the endpoint's page: view %d, page open %v", m.Active(), eps.Nested())
		}
		commontest.Press(t, up, "2")
		if eps.Nested() {
			t.Fatal("2 on the endpoint page shows the endpoints list")
		}

		commontest.Press(t, up, "3", "enter")
		first := dv.Stack().EventID()
		if first == "" {
			t.Fatal("enter on a delivery opens its event")
		}
		jump("104")
		if dv.Stack().Depth() != 2 {
			t.Fatalf("a jump within the view opens over the event: %d screens", dv.Stack().Depth())
		}
		commontest.Press(t, up, "esc")
		if dv.Stack().Depth() != 1 || dv.Stack().EventID() != first {
			t.Fatalf("esc returns to event %s: %d screens, event %q", first, dv.Stack().Depth(), dv.Stack().EventID())
		}
		commontest.Press(t, up, "3")
		if dv.Nested() {
			t.Fatal("3 on a drill-down of deliveries shows the deliveries list")
		}
	})
}

// TestFooterSaysWhatKeysDo: the footer of an open filter prompt shows the
// prompt's keys (it showed the list's), help's says esc goes back (it said
// q quits, and q goes back there), and a drill-down's lists esc once.
func TestFooterSaysWhatKeysDo(t *testing.T) {
	eachSize(t, func(t *testing.T, w, h int) {
		m, up := newApp(t, fixture(), w, h, false)
		footer := func() string {
			lines := strings.Split(screen(m), "\n")
			return lines[len(lines)-1]
		}
		for _, view := range []string{"3", "4", "5", "6", "7"} {
			commontest.Press(t, up, view, "/")
			if f := footer(); !strings.Contains(f, "enter apply") || !strings.Contains(f, "esc cancel") || strings.Contains(f, "mark") {
				t.Errorf("view %s, filter open: footer %q", view, f)
			}
			commontest.Press(t, up, "esc")
		}
		commontest.Press(t, up, "?")
		if f := footer(); !strings.Contains(f, "esc back") || strings.Contains(f, "quit") {
			t.Errorf("help's footer %q", f)
		}
		commontest.Press(t, up, "esc", "3", "enter")
		if f := footer(); strings.Count(f, "esc back") != 1 {
			t.Errorf("the event's footer %q", f)
		}
	})
}

// TestBackFromAGroupReturnsToTheGroups: enter on a dead-letter group
// lists its dead letters; esc (or q) returns to the groups under the
// filter they had. Before, esc did nothing and q asked to quit.
func TestBackFromAGroupReturnsToTheGroups(t *testing.T) {
	eachSize(t, func(t *testing.T, w, h int) {
		m, up := newApp(t, fixture(), w, h, false)
		dl := m.ViewAt(common.ViewDeadLetters).(*deadletters.Model)
		for _, back := range []string{"esc", "q"} {
			commontest.Press(t, up, "4", "v", "enter")
			if dl.Grouped() || dl.List().FilterText() == "" {
				t.Fatalf("enter on a group lists its dead letters: grouped %v, filter %q", dl.Grouped(), dl.List().FilterText())
			}
			commontest.Press(t, up, back)
			if !dl.Grouped() || dl.List().FilterText() != "" {
				t.Fatalf("%s returns to the groups: grouped %v, filter %q", back, dl.Grouped(), dl.List().FilterText())
			}
			if strings.Contains(screen(m), "Quit the console?") {
				t.Fatalf("%s asked to quit", back)
			}
			commontest.Press(t, up, "v")
		}
	})
}

// TestAttemptsAcrossAReplayReadApart: a delivery's attempts before and
// after a replay are numbered apart ("r1:1"), and its header says its
// count is since the replay. Before, two attempts read "#1" and the
// header said 3 above 7 rows.
func TestAttemptsAcrossAReplayReadApart(t *testing.T) {
	src := fixture()
	d := &src.Dels[0]
	d.Replays, d.Attempts = 1, 3
	start := commontest.Now.Add(-time.Hour)
	for i, n := range []int{1, 2, 3, 4, 1, 2, 3} {
		src.Atts[d.ID] = append(src.Atts[d.ID], delivery.Attempt{ID: int64(900 + i), DeliveryID: d.ID, Attempt: n,
			StartedAt: start.Add(time.Duration(i) * time.Minute), ErrorClass: delivery.ClassHTTPStatus, Error: "HTTP 503"})
	}
	m, up := newApp(t, src, 100, 30, false)
	commontest.Press(t, up, "3", ":")
	commontest.Type(t, up, strconv.FormatInt(d.ID, 10))
	commontest.Press(t, up, "enter")
	out := screen(m)
	for _, want := range []string{"attempts 3 since the last replay", "  4 ", "r1:1", "r1:3"} {
		if !strings.Contains(out, want) {
			t.Fatalf("no %q on the delivery's screen:\n%s", want, out)
		}
	}
}

// TestAMessageStaysWithItsScreen: a message from one drill-down screen
// (copied as curl) is gone from the next one opened over it, as from a
// view switched to. It stayed on the event's screen.
func TestAMessageStaysWithItsScreen(t *testing.T) {
	src := fixture()
	src.Atts[103] = []delivery.Attempt{{ID: 1, DeliveryID: 103, Attempt: 1, StartedAt: commontest.Now, RequestURL: "https://search.example/wh"}}
	m, up := newApp(t, src, 100, 30, false)
	commontest.Press(t, up, "3", ":")
	commontest.Type(t, up, "103")
	commontest.Press(t, up, "enter", "enter", "c")
	if !strings.Contains(screen(m), "copied") {
		t.Fatalf("c on an attempt copies it as curl:\n%s", screen(m))
	}
	commontest.Press(t, up, "p")
	if out := screen(m); strings.Contains(out, "copied") || !strings.Contains(out, "event") {
		t.Fatalf("the event's screen still shows the attempt's message:\n%s", out)
	}
}

// TestBackUndoesTheFilterAnOpenSet: d on an endpoint's page opens its
// deliveries filtered; back returns to the page and the deliveries view
// has its own filter again, unless the operator changed the one the open
// set. Before, view 3 kept the endpoint's filter, and a later R there
// replayed that endpoint's only.
func TestBackUndoesTheFilterAnOpenSet(t *testing.T) {
	eachSize(t, func(t *testing.T, w, h int) {
		m, up := newApp(t, fixture(), w, h, false)
		dv := m.ViewAt(common.ViewDeliveries).(*deliveries.Model)
		commontest.Press(t, up, "2", "enter", "d")
		if m.Active() != common.ViewDeliveries || !strings.Contains(dv.AppliedFilter(), "endpoint:") {
			t.Fatalf("d opens the endpoint's deliveries: view %d, filter %q", m.Active(), dv.AppliedFilter())
		}
		commontest.Press(t, up, "esc")
		if m.Active() != common.ViewEndpoints || dv.AppliedFilter() != "" {
			t.Fatalf("back: view %d, deliveries filter %q", m.Active(), dv.AppliedFilter())
		}
		// A filter the operator changed is theirs: back keeps it.
		commontest.Press(t, up, "d", "/")
		commontest.Type(t, up, " state:dead")
		commontest.Press(t, up, "enter")
		changed := dv.AppliedFilter()
		commontest.Press(t, up, "esc")
		if m.Active() != common.ViewEndpoints || dv.AppliedFilter() != changed {
			t.Fatalf("back after a change: view %d, filter %q, want %q", m.Active(), dv.AppliedFilter(), changed)
		}
	})
}

// TestEndReachesTheEndOfALongPayload: on an event's screen, G (end) with
// the deliveries' cursor already on their last row takes the payload to
// its end, and g back to its start; they only moved the deliveries.
func TestEndReachesTheEndOfALongPayload(t *testing.T) {
	src := fixture()
	d := src.Dels[2] // delivery 103, one delivery for its event
	items := make([]string, 200)
	for i := range items {
		items[i] = strconv.Itoa(1000 + i)
	}
	src.Events[d.EventID].Data = json.RawMessage(`{"items":[` + strings.Join(items, ",") + `]}`)
	m, up := newApp(t, src, 100, 30, false)
	commontest.Press(t, up, "3", ":")
	commontest.Type(t, up, d.EventID)
	commontest.Press(t, up, "enter")
	if out := screen(m); !strings.Contains(out, "1000") || strings.Contains(out, "1199") {
		t.Fatalf("the payload opens at its start:\n%s", out)
	}
	commontest.Press(t, up, "G")
	if out := screen(m); !strings.Contains(out, "1199") {
		t.Fatalf("G takes the payload to its end:\n%s", out)
	}
	commontest.Press(t, up, "g")
	if out := screen(m); !strings.Contains(out, "1000") {
		t.Fatalf("g takes it back to its start:\n%s", out)
	}
}

// TestHelpOpensAtItsTop: help opened again starts at its top, not where
// it was scrolled to last time.
func TestHelpOpensAtItsTop(t *testing.T) {
	m, up := newApp(t, fixture(), 80, 24, false)
	commontest.Press(t, up, "8")
	top := screen(m)
	commontest.Press(t, up, "pgdown", "pgdown", "1", "8")
	if out := screen(m); out != top {
		t.Fatalf("help opened again:\n%s\nwant it at its top:\n%s", out, top)
	}
}

// TestHelpExamplesMatchInEveryView: each word help's filter offers as an
// example finds keys whatever view help was opened from ("replay" found
// none from the audit view).
func TestHelpExamplesMatchInEveryView(t *testing.T) {
	m, up := newApp(t, fixture(), 100, 30, false)
	for _, view := range []string{"1", "2", "3", "4", "5", "6", "7"} {
		commontest.Press(t, up, view, "?", "/")
		out := screen(m)
		i := strings.Index(out, "a key or a word: ")
		if i < 0 {
			t.Fatalf("no example in help's filter:\n%s", out)
		}
		line, _, _ := strings.Cut(out[i+len("a key or a word: "):], "\n")
		line, _, _ = strings.Cut(line, "  ") // the info beside it
		commontest.Press(t, up, "esc")
		for _, w := range strings.Split(strings.TrimSpace(line), ", ") {
			commontest.Press(t, up, "/")
			commontest.Type(t, up, w)
			commontest.Press(t, up, "enter")
			if out := screen(m); strings.Contains(out, "no key matches") {
				t.Errorf("from view %s, help's example %q matches nothing:\n%s", view, w, out)
			}
			commontest.Press(t, up, "/", "ctrl+u", "enter")
		}
		commontest.Press(t, up, "esc")
	}
}
