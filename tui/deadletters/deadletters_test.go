package deadletters_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/hookd/hookd/core/audit"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/tui/common/commontest"
	"github.com/hookd/hookd/tui/data"
	"github.com/hookd/hookd/tui/data/datafake"
	"github.com/hookd/hookd/tui/deadletters"
)

type bundle struct {
	src *datafake.Source
	m   *deadletters.Model
	up  commontest.Updater
}

func setup(t *testing.T, readOnly bool) *bundle {
	t.Helper()
	src := datafake.New()
	status := 500
	died := commontest.Now.Add(-time.Minute)
	for i := 1; i <= 30; i++ {
		ep := "ep_a"
		if i%3 == 0 {
			ep = "ep_b"
		}
		src.Dels = append(src.Dels, delivery.Delivery{ID: int64(i), EventID: fmt.Sprintf("evt_%d", i), EndpointID: ep,
			EventType: "invoice.paid", State: delivery.StateDead, Attempts: 3, LastStatus: &status,
			LastErrorClass: "http_status", LastError: "HTTP 500", CreatedAt: commontest.Now.Add(-time.Hour), UpdatedAt: died, CompletedAt: &died})
	}
	b := &bundle{src: src, m: deadletters.New(commontest.NewCommon(src, readOnly))}
	b.m.SetSize(100, 20)
	b.up = func(msg tea.Msg) tea.Cmd { _, cmd := b.m.Update(msg); return cmd }
	commontest.Drain(t, b.up, b.m.Init())
	return b
}

func TestLoadsNewestFirstAndMoves(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	items := b.m.List().Items()
	if len(items) != 30 || items[0].ID != 30 {
		t.Fatalf("want 30 dead letters newest first, got %d (first %v)", len(items), items[0].ID)
	}
	commontest.Press(t, b.up, "j", "j", "down")
	if d, _ := b.m.List().Selected(); d.ID != 27 {
		t.Fatalf("after 3 downs the cursor is on %d, want 27", d.ID)
	}
	commontest.Press(t, b.up, "k", "G")
	if d, _ := b.m.List().Selected(); d.ID != 1 {
		t.Fatalf("G: cursor on %d, want 1", d.ID)
	}
	commontest.Press(t, b.up, "g")
	if d, _ := b.m.List().Selected(); d.ID != 30 {
		t.Fatalf("g: cursor on %d, want 30", d.ID)
	}
	if calls := b.src.Calls("Deliveries"); calls[0].Args[0].(data.DeliveryQuery).State != delivery.StateDead {
		t.Fatalf("the view must list dead deliveries only: %v", calls[0].Args)
	}
}

func TestFilterByEndpoint(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	commontest.Press(t, b.up, "/")
	if !b.m.Capturing() {
		t.Fatal("/ must open the prompt")
	}
	commontest.Type(t, b.up, "endpoint:ep_b")
	commontest.Press(t, b.up, "enter")
	for _, d := range b.m.List().Items() {
		if d.EndpointID != "ep_b" {
			t.Fatalf("filtered list holds %s", d.EndpointID)
		}
	}
	if n := len(b.m.List().Items()); n != 10 {
		t.Fatalf("want the 10 dead letters of ep_b, got %d", n)
	}
	f, ok := b.m.List().Query()
	if !ok || f.State != delivery.StateDead || f.EndpointID != "ep_b" {
		t.Fatalf("filter = %+v", f)
	}
}

func TestBadFilterIsExplained(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	commontest.Press(t, b.up, "/")
	commontest.Type(t, b.up, "state:pending")
	msgs := commontest.Press(t, b.up, "enter")
	st := strings.Join(commontest.Statuses(msgs), "\n")
	if !strings.Contains(st, `"state"`) || !strings.Contains(st, "endpoint") {
		t.Fatalf("want an error naming the key and the allowed ones, got %q", st)
	}
}

func TestReplayOneAsksFirstAndDefaultsToCancel(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	commontest.Press(t, b.up, "j", "r")
	if !b.m.Confirm().Active() || !strings.Contains(b.m.Confirm().Prompt(), "delivery 29") {
		t.Fatalf("r must ask first about delivery 29: %q", b.m.Confirm().Prompt())
	}
	commontest.Press(t, b.up, "enter") // the default is cancel
	if len(b.src.Actions()) != 0 || b.m.Confirm().Active() {
		t.Fatalf("enter on the default must cancel: %v", b.src.Actions())
	}
	commontest.Press(t, b.up, "r", "y")
	acts := b.src.Actions()
	if len(acts) != 1 || acts[0].Method != "Replay" || acts[0].Args[0] != int64(29) {
		t.Fatalf("want Replay(29), got %v", acts)
	}
}

func TestReplayMarked(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	commontest.Press(t, b.up, "space", "j", "space")
	if got := b.m.List().MarkedIDs(); !slices.Equal(got, []int64{30, 28}) {
		t.Fatalf("marked %v, want [30 28]", got)
	}
	// Marks survive a refresh (live refresh is paused by f, not by marks).
	commontest.Drain(t, b.up, b.m.Refresh())
	if got := b.m.List().MarkedIDs(); !slices.Equal(got, []int64{30, 28}) {
		t.Fatalf("after a refresh marked %v, want [30 28]", got)
	}
	commontest.Press(t, b.up, "R")
	// A preview first, as for a filter: grouped by endpoint and reason,
	// with each endpoint's health now.
	if p := b.m.Confirm().Prompt(); !strings.Contains(p, "Replay 2 marked deliveries?") || !strings.Contains(p, "endpoint now:") ||
		!b.m.Confirm().Typed() {
		t.Fatalf("a bulk replay of marked rows previews them and wants its count typed: %q", p)
	}
	commontest.Press(t, b.up, "y", "enter")
	if len(b.src.Actions()) != 0 || !b.m.Confirm().Active() {
		t.Fatalf("y is not the count: nothing may be replayed: %v", b.src.Actions())
	}
	commontest.Press(t, b.up, "backspace")
	commontest.Type(t, b.up, "2")
	commontest.Press(t, b.up, "enter")
	acts := b.src.Actions()
	if len(acts) != 1 || acts[0].Method != "ReplayQuery" || !slices.Equal(acts[0].Args[0].(*data.Preview).IDs, []int64{30, 28}) {
		t.Fatalf("want the replay of [30 28], got %v", acts)
	}
	if b.m.List().Table.MarkCount() != 0 {
		t.Fatal("marks must clear after the replay")
	}
}

func TestReplayAllMatchingStatesTheCount(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	commontest.Drain(t, b.up, mustFilter(t, b.m, "endpoint:ep_b"))
	commontest.Press(t, b.up, "R")
	if p := b.m.Confirm().Prompt(); !strings.Contains(p, "Replay 10 dead letters") || !strings.Contains(p, "endpoint:ep_b") {
		t.Fatalf("prompt must state the count and the filter: %q", p)
	}
	commontest.Press(t, b.up, "esc")
	if len(b.src.Actions()) != 0 || b.m.Confirm().Active() {
		t.Fatal("esc must cancel")
	}
	commontest.Press(t, b.up, "R")
	commontest.Type(t, b.up, "10")
	commontest.Press(t, b.up, "enter")
	acts := b.src.Actions()
	if len(acts) != 1 || acts[0].Method != "ReplayQuery" {
		t.Fatalf("want ReplayQuery, got %v", acts)
	}
	if q := acts[0].Args[0].(*data.Preview).Query; q.State != delivery.StateDead || q.EndpointID != "ep_b" {
		t.Fatalf("replayed query %+v", q)
	}
}

func TestReadOnlyRefusesEveryAction(t *testing.T) {
	t.Parallel()
	b := setup(t, true)
	msgs := commontest.Press(t, b.up, "space", "r", "y", "R", "y")
	if len(b.src.Actions()) != 0 || b.m.Confirm().Active() || b.m.List().Table.MarkCount() != 0 {
		t.Fatalf("read-only must not act nor mark: %v", b.src.Actions())
	}
	if st := strings.Join(commontest.Statuses(msgs), "\n"); !strings.Contains(st, "read-only") {
		t.Fatalf("want a read-only message, got %q", st)
	}
	if len(b.src.Trail) != 2 || b.src.Trail[0].Outcome != audit.OutcomeRefused || b.src.Trail[0].Target != "delivery 30" {
		t.Fatalf("both refused replays are audited: %+v", b.src.Trail)
	}
	for _, h := range b.m.ShortHelp() {
		if h.Enabled() && (h.Help().Key == "r" || h.Help().Key == "R") {
			t.Fatal("read-only help must hide replay")
		}
	}
}

func TestDrillIntoAttemptsAndBack(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	code := 500
	b.src.Atts[30] = []delivery.Attempt{{ID: 1, DeliveryID: 30, Attempt: 1, ResponseStatus: &code, ErrorClass: "http_status", Error: "HTTP 500"}}
	commontest.Press(t, b.up, "enter")
	if !b.m.Nested() || !strings.Contains(b.m.View(), "delivery 30") {
		t.Fatalf("enter must open the attempts of delivery 30:\n%s", b.m.View())
	}
	commontest.Press(t, b.up, "enter")
	if !strings.Contains(b.m.View(), "response  500") {
		t.Fatalf("enter on an attempt must show it:\n%s", b.m.View())
	}
	commontest.Press(t, b.up, "esc", "esc")
	if b.m.Nested() {
		t.Fatal("esc twice must come back to the list")
	}
}

func TestKeepsCursorAcrossRefresh(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	commontest.Press(t, b.up, "j", "j")
	status := 500
	b.src.Dels = append(b.src.Dels, delivery.Delivery{ID: 31, EventID: "evt_31", EndpointID: "ep_a", State: delivery.StateDead, LastStatus: &status})
	commontest.Drain(t, b.up, b.m.Refresh())
	if d, _ := b.m.List().Selected(); d.ID != 28 {
		t.Fatalf("after a refresh with a new row on top the cursor must stay on 28, is on %d", d.ID)
	}
}

func TestKeepsDataWhenTheDatabaseFails(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	b.src.SetDown(datafake.ErrDown)
	commontest.Drain(t, b.up, b.m.Refresh())
	if len(b.m.List().Items()) != 30 || b.m.List().Err() == nil {
		t.Fatal("a failed refresh must keep the rows and remember the error")
	}
	if !strings.Contains(b.m.View(), "connection refused") {
		t.Fatalf("the error must show:\n%s", b.m.View())
	}
}

func mustFilter(t *testing.T, m *deadletters.Model, text string) tea.Cmd {
	t.Helper()
	cmd, err := m.SetFilter(text)
	if err != nil {
		t.Fatal(err)
	}
	return cmd
}

// A count that answers after the operator drilled in still opens its
// dialog on top: a dialog that takes the keys is always drawn.
func TestDialogOpenedUnderADrillDownIsDrawn(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	count := b.up(commontest.Key("R")) // the count is under way
	commontest.Press(t, b.up, "enter")
	commontest.Drain(t, b.up, count)
	if !b.m.Confirm().Active() {
		t.Fatal("the count opens the dialog")
	}
	if v := b.m.View(); !strings.Contains(v, "Replay 30 dead letters") {
		t.Fatalf("the dialog must be drawn over the drill-down:\n%s", v)
	}
	for _, h := range b.m.ShortHelp() {
		if h.Help().Key == "y" {
			t.Fatalf("footer offers y as %q while a typed confirmation is open", h.Help().Desc)
		}
	}
}

// "Replay ALL n" replays the n it counted: a dead letter that dies between
// the count and the confirmation is left for the next replay.
func TestReplayAllReplaysExactlyTheCountedSet(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	commontest.Press(t, b.up, "R")
	if p := b.m.Confirm().Prompt(); !strings.Contains(p, "Replay 30 dead letters") {
		t.Fatalf("prompt %q", p)
	}
	later := commontest.Now.Add(time.Second)
	b.src.AddDelivery(delivery.Delivery{ID: 31, EventID: "evt_31", EndpointID: "ep_a", State: delivery.StateDead,
		UpdatedAt: later, CompletedAt: &later})
	commontest.Type(t, b.up, "30")
	msgs := commontest.Press(t, b.up, "enter")
	acts := b.src.Actions()
	if len(acts) != 1 || acts[0].Method != "ReplayQuery" {
		t.Fatalf("want ReplayQuery, got %v", acts)
	}
	pv := acts[0].Args[0].(*data.Preview)
	if !pv.Query.CompletedBefore.Equal(commontest.Now) || pv.Count != 30 || slices.Contains(pv.IDs, 31) {
		t.Fatalf("the replay must be the preview's, bounded at its time %v: %+v", commontest.Now, pv.Query)
	}
	if st := strings.Join(commontest.Statuses(msgs), "\n"); !strings.Contains(st, "re-queued 30 deliveries") {
		t.Fatalf("the replay must touch the 30 counted, not the one that died since: %q", st)
	}
}

// The prompt opens on the applied filter followed by a space, so a typed
// term is a new term; a value with a ':' in it (two terms run together) is
// refused with a message that says so.
func TestFilterPromptAddsATerm(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	commontest.Drain(t, b.up, mustFilter(t, b.m, "endpoint:ep_b"))
	commontest.Press(t, b.up, "/")
	commontest.Type(t, b.up, "id:evt_3")
	msgs := commontest.Press(t, b.up, "enter")
	if f, _ := b.m.List().Query(); f.EndpointID != "ep_b" || f.EventID != "evt_3" {
		t.Fatalf("typing after / must add a term: filter %+v, status %q", f, commontest.Statuses(msgs))
	}
	if n := len(b.m.List().Items()); n != 1 {
		t.Fatalf("want dead letter 3, got %d rows", n)
	}
	_, err := b.m.SetFilter("endpoint:ep_bid:evt_3")
	if err == nil || !strings.Contains(err.Error(), `"ep_bid:evt_3"`) || !strings.Contains(err.Error(), "space") {
		t.Fatalf("a value with ':' must be refused, naming it and the fix: %v", err)
	}
	if _, err := b.m.SetFilter("since:2026-03-14T10:00:00Z until:2026-03-14T12:00:00Z"); err != nil {
		t.Fatalf("times keep their ':': %v", err)
	}
}

// Escape sequences and control characters a receiver put in its response
// body, headers or error never reach the terminal.
func TestReceiverTextIsSanitized(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	code := 500
	b.src.Atts[30] = []delivery.Attempt{{ID: 1, DeliveryID: 30, Attempt: 1, ResponseStatus: &code, ErrorClass: "http_status",
		Error:           "HTTP 500 \x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\",
		ResponseHeaders: http.Header{"X-Evil": {"\x1b]0;pwned\x07v"}},
		ResponseBody:    "<html>\x1b[31mred\x1b[0m\r\x07</html>"}}
	commontest.Press(t, b.up, "enter")
	check := func(where, v string) {
		t.Helper()
		for _, bad := range []string{"\x1b[31m", "\x1b]", "\a", "\r"} {
			if strings.Contains(v, bad) {
				t.Fatalf("%s shows %q from the receiver:\n%q", where, bad, v)
			}
		}
	}
	check("the attempts", b.m.View())
	commontest.Press(t, b.up, "enter")
	v := b.m.View()
	if !strings.Contains(v, "<html>red</html>") || !strings.Contains(v, "X-Evil: v") || !strings.Contains(v, "HTTP 500 click") {
		t.Fatalf("the attempt shows the text without its escapes:\n%q", v)
	}
	check("the attempt", v)
}

// A group's LAST ERROR is left empty when its reason says the same, and
// shown when it says more (the address refused).
func TestGroupSaysItsReasonOnce(t *testing.T) {
	t.Parallel()
	b := setup(t, false)
	died := commontest.Now.Add(-time.Minute)
	b.src.AddDelivery(delivery.Delivery{ID: 31, EventID: "evt_31", EndpointID: "ep_c", EventType: "invoice.paid", State: delivery.StateDead,
		LastErrorClass: delivery.ClassConnect, LastError: "connection failed: dial tcp 10.0.0.7:443: connect: connection refused",
		CreatedAt: died, UpdatedAt: died, CompletedAt: &died})
	for i := range b.src.Dels {
		if b.src.Dels[i].LastErrorClass == delivery.ClassHTTPStatus {
			b.src.Dels[i].LastError = "HTTP 500 Internal Server Error"
		}
	}
	commontest.Press(t, b.up, "v")
	out := ansi.Strip(b.m.View())
	if n := strings.Count(out, "HTTP 500 Internal Server Error"); n != 2 {
		t.Errorf("the two HTTP 500 groups read their reason %d times, want once each:\n%s", n, out)
	}
	if !strings.Contains(out, "10.0.0.7:443") {
		t.Errorf("the connect group's last error, which says more, is gone:\n%s", out)
	}
}
