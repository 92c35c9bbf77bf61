package deliveries_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	tea "charm.land/bubbletea/v2"

	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/outbox"
	"github.com/hookd/hookd/tui/common/commontest"
	"github.com/hookd/hookd/tui/data"
	"github.com/hookd/hookd/tui/data/datafake"
	"github.com/hookd/hookd/tui/deliveries"
	"github.com/hookd/hookd/tui/dlist"
)

func setup(t *testing.T, n int) (*datafake.Source, *deliveries.Model, commontest.Updater) {
	t.Helper()
	src := datafake.New()
	for i := 1; i <= n; i++ {
		state := delivery.StateSucceeded
		if i%4 == 0 {
			state = delivery.StateDead
		}
		typ := "invoice.paid"
		if i%2 == 0 {
			typ = "payment.failed"
		}
		id := fmt.Sprintf("evt_%d", i)
		src.Dels = append(src.Dels, delivery.Delivery{ID: int64(i), EventID: id, EndpointID: "ep_a", EventType: typ, State: state})
		src.Events[id] = &outbox.Event{ID: id, Type: typ, Data: json.RawMessage(`{"amount":42,"currency":"eur"}`), Created: commontest.Now}
	}
	m := deliveries.New(commontest.NewCommon(src, false))
	m.SetSize(80, 20)
	up := func(msg tea.Msg) tea.Cmd { _, cmd := m.Update(msg); return cmd }
	commontest.Drain(t, up, m.Init())
	return src, m, up
}

func TestPagesThroughTheDatabase(t *testing.T) {
	t.Parallel()
	src, m, up := setup(t, 250)
	if got := len(m.List().Items()); got != dlist.PageSize {
		t.Fatalf("the first load must read one page (%d), got %d", dlist.PageSize, got)
	}
	commontest.Press(t, up, "G")
	calls := src.Calls("Deliveries")
	last := calls[len(calls)-1].Args[0].(data.DeliveryQuery)
	if last.Before != 151 || last.Limit != dlist.PageSize {
		t.Fatalf("near the end the view must load the next page before id 151, got %+v", last)
	}
	if got := len(m.List().Items()); got != 200 {
		t.Fatalf("after one more page: %d rows", got)
	}
	commontest.Press(t, up, "G", "G")
	if got := len(m.List().Items()); got != 250 || m.List().HasMore() {
		t.Fatalf("all 250 loaded: %d, more=%v", got, m.List().HasMore())
	}
}

func TestFilterSyntax(t *testing.T) {
	t.Parallel()
	src, m, up := setup(t, 20)
	commontest.Press(t, up, "/")
	commontest.Type(t, up, "state:dead type:payment.* since:1h")
	commontest.Press(t, up, "enter")
	calls := src.Calls("Deliveries")
	p := calls[len(calls)-1].Args[0].(data.DeliveryQuery)
	if p.State != delivery.StateDead || p.EventType != "payment.*" || p.Since != commontest.Now.Add(-3600e9) {
		t.Fatalf("filter sent %+v", p)
	}
	for _, d := range m.List().Items() {
		if d.State != delivery.StateDead || !strings.HasPrefix(d.EventType, "payment.") {
			t.Fatalf("row %+v does not match", d)
		}
	}
	if len(m.List().Items()) != 5 {
		t.Fatalf("want 5 matches, got %d", len(m.List().Items()))
	}
	// The filter is kept: reopening the prompt starts from it, esc keeps it.
	commontest.Press(t, up, "/", "esc")
	if m.List().Prompt.Applied() != "state:dead type:payment.* since:1h" {
		t.Fatalf("applied filter %q", m.List().Prompt.Applied())
	}
}

func TestDrillDownEventDeliveryAttempt(t *testing.T) {
	t.Parallel()
	src, m, up := setup(t, 3)
	code := 503
	src.Atts[3] = []delivery.Attempt{{ID: 7, DeliveryID: 3, Attempt: 1, ResponseStatus: &code, ResponseBody: `{"error":"busy"}`,
		ErrorClass: "http_status", Error: "HTTP 503"}}
	commontest.Press(t, up, "enter")
	v := m.View()
	if !strings.Contains(v, "event evt_3") || !strings.Contains(v, `"amount": 42`) {
		t.Fatalf("enter must show the event with its pretty-printed payload:\n%s", v)
	}
	commontest.Press(t, up, "enter")
	if !strings.Contains(m.View(), "delivery 3") || !strings.Contains(m.View(), "HTTP 503") {
		t.Fatalf("enter on a delivery must show its attempts:\n%s", m.View())
	}
	commontest.Press(t, up, "enter")
	if v := m.View(); !strings.Contains(v, "response  503") || !strings.Contains(v, `"error": "busy"`) {
		t.Fatalf("enter on an attempt must show the response:\n%s", v)
	}
	if m.Stack().Depth() != 3 {
		t.Fatalf("depth %d", m.Stack().Depth())
	}
	commontest.Press(t, up, "esc", "q")
	if m.Stack().Depth() != 1 {
		t.Fatalf("esc and q go back one level each: depth %d", m.Stack().Depth())
	}
	commontest.Press(t, up, "esc")
	if m.Nested() {
		t.Fatal("back at the list")
	}
}

func TestCopySelectedID(t *testing.T) {
	t.Parallel()
	_, _, up := setup(t, 3)
	msgs := commontest.Press(t, up, "y")
	if st := commontest.Statuses(msgs); len(st) != 1 || !strings.Contains(st[0], "evt_3") {
		t.Fatalf("y must copy the event id: %v", st)
	}
}

// A refresh or next-page answer that lands after a new filter was applied
// belongs to the old filter: it must not replace or extend the new rows.
func TestStaleLoadsAfterANewFilterAreDropped(t *testing.T) {
	t.Parallel()
	for _, stale := range []string{"refresh", "next page"} {
		t.Run(stale, func(t *testing.T) {
			t.Parallel()
			_, m, up := setup(t, 250)
			var cmd tea.Cmd
			if stale == "refresh" {
				cmd = m.Refresh()
			} else {
				cmd = up(commontest.Key("G")) // near the end: the next page is under way
			}
			if cmd == nil {
				t.Fatal("a load must be under way")
			}
			reload, err := m.SetFilter("state:dead")
			if err != nil {
				t.Fatal(err)
			}
			commontest.Drain(t, up, reload)
			commontest.Drain(t, up, cmd) // the old filter's answer lands last
			items := m.List().Items()
			for _, d := range items {
				if d.State != delivery.StateDead {
					t.Fatalf("a %s answer for the old filter replaced the filtered rows: delivery %d is %s", stale, d.ID, d.State)
				}
			}
			if len(items) != 62 {
				t.Fatalf("want the 62 dead deliveries, got %d", len(items))
			}
		})
	}
}

// since:1h is an hour back from each load, not from when it was typed: a
// live list keeps sliding.
func TestRelativeTimesSlideWithTheClock(t *testing.T) {
	t.Parallel()
	src := datafake.New()
	var clock atomic.Int64
	clock.Store(commontest.Now.UnixNano())
	c := commontest.NewCommon(src, false)
	c.Now = func() time.Time { return time.Unix(0, clock.Load()).UTC() }
	m := deliveries.New(c)
	m.SetSize(80, 20)
	up := func(msg tea.Msg) tea.Cmd { _, cmd := m.Update(msg); return cmd }
	commontest.Drain(t, up, m.Init())
	reload, err := m.SetFilter("since:1h until:10m")
	if err != nil {
		t.Fatal(err)
	}
	commontest.Drain(t, up, reload)
	clock.Add(int64(15 * time.Minute))
	commontest.Drain(t, up, m.Refresh())
	calls := src.Calls("Deliveries")
	p := calls[len(calls)-1].Args[0].(data.DeliveryQuery)
	now := c.Now()
	if !p.Since.Equal(now.Add(-time.Hour)) || !p.Until.Equal(now.Add(-10*time.Minute)) {
		t.Fatalf("the refresh must read since/until back from its own time %v: since %v until %v", now, p.Since, p.Until)
	}
	if f, _ := m.List().Query(); !f.Since.Equal(now.Add(-time.Hour)) {
		t.Fatalf("the filter in force slides too: since %v", f.Since)
	}
}
