package inbox_test

import (
	"net/http"
	"strings"
	"testing"

	tea "charm.land/bubbletea/v2"
	"github.com/charmbracelet/x/ansi"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/tui/common/commontest"
	"github.com/hookd/hookd/tui/data"
	"github.com/hookd/hookd/tui/data/datafake"
	"github.com/hookd/hookd/tui/inbox"
)

func setup(t *testing.T, readOnly bool) (*datafake.Source, *inbox.Model, commontest.Updater) {
	t.Helper()
	src := datafake.New()
	src.InboxItems = []data.InboxEvent{
		{ID: 1, Source: "stripe", EventID: "evt_s1", Type: "charge.succeeded", State: "processed", Verification: "stripe: signature matched"},
		{ID: 2, Source: "github", EventID: "gh_1", Type: "push", State: "dead", Attempts: 5, LastError: "handler: boom",
			Headers: http.Header{"X-Github-Event": {"push"}}, Body: []byte(`{"ref":"main"}`)},
		{ID: 3, Source: "stripe", EventID: "evt_s2", Type: "charge.failed", State: "pending"},
	}
	m := inbox.New(commontest.NewCommon(src, readOnly))
	m.SetSize(100, 20)
	up := func(msg tea.Msg) tea.Cmd { _, cmd := m.Update(msg); return cmd }
	commontest.Drain(t, up, m.Init())
	return src, m, up
}

// A forwarded event's row shows its forward's fate: state, error and tries
// alike (the inbox's own attempts are those of its processing, done).
func TestForwardedRowShowsTheForwardsTries(t *testing.T) {
	t.Parallel()
	src := datafake.New()
	src.InboxItems = []data.InboxEvent{{ID: 1, Source: "payments", EventID: "evt_p1", Type: "dispute.created", State: "forwarded",
		Forward: &delivery.Delivery{ID: 9, State: delivery.StateRetrying, Attempts: 2, LastError: "HTTP 500 Internal Server Error"}}}
	m := inbox.New(commontest.NewCommon(src, false))
	m.SetSize(100, 20)
	up := func(msg tea.Msg) tea.Cmd { _, cmd := m.Update(msg); return cmd }
	commontest.Drain(t, up, m.Init())
	var row string
	for _, l := range strings.Split(ansi.Strip(m.View()), "\n") {
		if strings.Contains(l, "evt_p1") || strings.Contains(l, "dispute.created") {
			row = l
		}
	}
	if f := strings.Fields(row); len(f) < 6 || f[3] != "fwd" || f[4] != "retrying" || f[5] != "2" || !strings.Contains(row, "HTTP 500") {
		t.Fatalf("forwarded row = %q; want fwd retrying, 2 tries and the forward's error", row)
	}
}

func TestFilterBySourceAndState(t *testing.T) {
	t.Parallel()
	src, m, up := setup(t, false)
	if len(m.Items()) != 3 || m.Items()[0].ID != 3 {
		t.Fatalf("newest first: %+v", m.Items())
	}
	commontest.Press(t, up, "/")
	commontest.Type(t, up, "source:stripe")
	commontest.Press(t, up, "enter")
	if q := m.Query(); q.Source != "stripe" || len(m.Items()) != 2 {
		t.Fatalf("query %+v items %d", q, len(m.Items()))
	}
	calls := src.Calls("Inbox")
	if q := calls[len(calls)-1].Args[0].(data.InboxQuery); q.Source != "stripe" {
		t.Fatalf("source sent %+v", q)
	}
	commontest.Press(t, up, "/", "backspace")
	commontest.Type(t, up, "x state:bogus")
	msgs := commontest.Press(t, up, "enter")
	if st := strings.Join(commontest.Statuses(msgs), ""); !strings.Contains(st, "not an inbox state") {
		t.Fatalf("bad state explained: %q", st)
	}
}

func TestDrillDownAndReplayDead(t *testing.T) {
	t.Parallel()
	src, m, up := setup(t, false)
	commontest.Press(t, up, "j", "enter")
	if m.Detail() == nil || !strings.Contains(m.View(), `"ref": "main"`) || !strings.Contains(m.View(), "X-Github-Event: push") {
		t.Fatalf("enter shows headers and body:\n%s", m.View())
	}
	// Its state says its own tries, and no "0 duplicates".
	if v := ansi.Strip(m.View()); !strings.Contains(v, "state         dead (5 processing tries)\n") {
		t.Fatalf("the state line:\n%s", v)
	}
	commontest.Press(t, up, "r")
	if !m.Confirm().Active() {
		t.Fatal("r asks first")
	}
	commontest.Press(t, up, "y")
	acts := src.Actions()
	if len(acts) != 1 || acts[0].Method != "ReplayInbox" || acts[0].Args[0] != int64(2) {
		t.Fatalf("want ReplayInbox(2), got %v", acts)
	}
	commontest.Press(t, up, "esc")
	if m.Detail() != nil {
		t.Fatal("esc closes the event")
	}
	// Only dead events replay.
	msgs := commontest.Press(t, up, "k", "r")
	if len(src.Actions()) != 1 || !strings.Contains(strings.Join(commontest.Statuses(msgs), ""), "only dead") {
		t.Fatal("a pending event must not replay")
	}
}

func TestReadOnly(t *testing.T) {
	t.Parallel()
	src, m, up := setup(t, true)
	msgs := commontest.Press(t, up, "j", "r", "y")
	if len(src.Actions()) != 0 || m.Confirm().Active() {
		t.Fatal("read-only acted")
	}
	if !strings.Contains(strings.Join(commontest.Statuses(msgs), ""), "read-only") {
		t.Fatal("read-only must say so")
	}
}

// The replay dialog opened from the event page must be drawn there, and
// its footer must offer confirm/cancel rather than copy.
func TestReplayFromDetailShowsTheDialog(t *testing.T) {
	t.Parallel()
	src, m, up := setup(t, false)
	commontest.Press(t, up, "j", "enter", "r")
	if !m.Confirm().Active() {
		t.Fatal("r on the event page asks first")
	}
	if v := m.View(); !strings.Contains(v, "Replay inbox event 2") {
		t.Fatalf("the dialog must be drawn over the event page:\n%s", v)
	}
	for _, b := range m.ShortHelp() {
		if strings.Contains(b.Help().Desc, "copy") {
			t.Fatalf("while the dialog is open, the footer must not offer copy: %v", b.Help())
		}
	}
	commontest.Press(t, up, "n")
	if len(src.Actions()) != 0 || m.Confirm().Active() || m.Detail() == nil {
		t.Fatalf("n cancels and leaves the event open: %v", src.Actions())
	}
	if strings.Contains(m.View(), "Replay inbox event") {
		t.Fatal("a cancelled dialog is no longer drawn")
	}
}

// A refresh or next-page answer that lands after a new filter was applied
// belongs to the old filter: it must not replace or extend the new rows.
func TestStaleLoadsAfterANewFilterAreDropped(t *testing.T) {
	t.Parallel()
	for _, stale := range []string{"refresh", "next page"} {
		t.Run(stale, func(t *testing.T) {
			t.Parallel()
			src, m, up := setup(t, false)
			for i := 4; i <= 250; i++ {
				src.InboxItems = append(src.InboxItems, data.InboxEvent{ID: int64(i), Source: "github", EventID: "gh", State: "processed"})
			}
			commontest.Drain(t, up, m.Refresh())
			var cmd tea.Cmd
			if stale == "refresh" {
				cmd = m.Refresh()
			} else {
				cmd = up(commontest.Key("G")) // near the end: the next page is under way
			}
			if cmd == nil {
				t.Fatal("a load must be under way")
			}
			reload, err := m.SetFilter("source:stripe")
			if err != nil {
				t.Fatal(err)
			}
			commontest.Drain(t, up, reload)
			commontest.Drain(t, up, cmd) // the old filter's answer lands last
			for _, e := range m.Items() {
				if e.Source != "stripe" {
					t.Fatalf("a %s answer for the old filter reached the filtered rows: event %d from %s", stale, e.ID, e.Source)
				}
			}
			if len(m.Items()) != 2 {
				t.Fatalf("want the 2 stripe events, got %d", len(m.Items()))
			}
		})
	}
}

// Past inbox.MaxRefresh rows live refresh pauses and says so; RefreshNow
// (ctrl+r) reloads from the newest.
func TestRefreshNowReloadsALongList(t *testing.T) {
	t.Parallel()
	src, m, up := setup(t, false)
	for i := 4; i <= 1150; i++ {
		src.InboxItems = append(src.InboxItems, data.InboxEvent{ID: int64(i), Source: "github", EventID: "gh", State: "processed"})
	}
	commontest.Drain(t, up, m.Refresh())
	for range 20 {
		commontest.Press(t, up, "G")
	}
	if len(m.Items()) <= inbox.MaxRefresh || m.Refresh() != nil {
		t.Fatalf("want more than %d rows and live refresh paused, have %d", inbox.MaxRefresh, len(m.Items()))
	}
	if !strings.Contains(m.View(), "live refresh paused: over 1000 rows loaded (ctrl+r reloads)") {
		t.Fatalf("the pause must say so:\n%s", m.View())
	}
	src.InboxItems = append(src.InboxItems, data.InboxEvent{ID: 1151, Source: "stripe", EventID: "evt_new", State: "pending"})
	commontest.Drain(t, up, m.RefreshNow())
	if m.Items()[0].ID != 1151 || strings.Contains(m.View(), "live refresh paused") {
		t.Fatalf("RefreshNow must reload from the newest: first %d, %d rows", m.Items()[0].ID, len(m.Items()))
	}
}

// Escape sequences and control characters a sender put in a body, a
// header or an error never reach the terminal.
func TestSenderTextIsSanitized(t *testing.T) {
	t.Parallel()
	src, m, up := setup(t, false)
	src.InboxItems = append(src.InboxItems, data.InboxEvent{ID: 4, Source: "evil", EventID: "e\x1b[2J1", Type: "x\x1b[31mred", State: "dead",
		LastError: "boom\x1b]8;;https://evil.example\x1b\\click\x1b]8;;\x1b\\\r",
		Headers:   http.Header{"X-Evil": {"\x1b]0;pwned\x07v"}}, Body: []byte("not json \x1b[5mblink\x1b[0m\a")})
	commontest.Drain(t, up, m.Refresh())
	check := func(where, v string) {
		t.Helper()
		for _, bad := range []string{"\x1b[2J", "\x1b[31m", "\x1b]", "\x1b[5m", "\a", "\r"} {
			if strings.Contains(v, bad) {
				t.Fatalf("%s shows %q from the sender:\n%q", where, bad, v)
			}
		}
	}
	check("the list", m.View())
	commontest.Press(t, up, "g", "enter")
	if m.Detail() == nil || !strings.Contains(m.View(), "not json blink") || !strings.Contains(m.View(), "X-Evil: v") {
		t.Fatalf("the event page shows the text without its escapes:\n%q", m.View())
	}
	check("the event page", m.View())
}

// A filter applied while the database is unreachable keeps the rows and
// the filter they match, and says the new one was not applied.
func TestFilterWhileTheDatabaseIsDownKeepsTheLastData(t *testing.T) {
	t.Parallel()
	src, m, up := setup(t, false)
	src.SetDown(datafake.ErrDown)
	commontest.Press(t, up, "/")
	commontest.Type(t, up, "source:stripe")
	msgs := commontest.Press(t, up, "enter")
	if len(m.Items()) != 3 || !strings.Contains(m.View(), "connection refused") {
		t.Fatalf("the 3 events must stay, with the error:\n%s", m.View())
	}
	if st := strings.Join(commontest.Statuses(msgs), " "); !strings.Contains(st, "filter /source:stripe not applied") {
		t.Fatalf("the status must say the filter was not applied: %q", st)
	}
	src.SetDown(nil)
	commontest.Press(t, up, "/")
	commontest.Type(t, up, "source:stripe")
	commontest.Press(t, up, "enter")
	if len(m.Items()) != 2 {
		t.Fatalf("back up, the filter applies: %d events", len(m.Items()))
	}
}
