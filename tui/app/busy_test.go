package app_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/hookd/hookd/core/audit"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/tui/auditview"
	"github.com/hookd/hookd/tui/common"
	"github.com/hookd/hookd/tui/common/commontest"
	"github.com/hookd/hookd/tui/data"
	"github.com/hookd/hookd/tui/deliveries"
	"github.com/hookd/hookd/tui/endpoints"
	"github.com/hookd/hookd/tui/inbox"
)

// In a busy list the cursor stays on the delivery it was put on: a
// refresh read the newest 100 rows whatever had arrived, so once more
// than the rows above the window's end had arrived, the chosen delivery
// left the page and the cursor stayed at its place on the screen, on a
// delivery the operator never chose (and r asked to replay that one).
// Now the window grows by what arrives; should more arrive in one refresh
// than it reads, the list freezes with the cursor where it was.
func TestBusyListKeepsTheCursorOnItsDelivery(t *testing.T) {
	eachSize(t, func(t *testing.T, w, h int) {
		src := fixture()
		m, up := newApp(t, src, w, h, false)
		commontest.Press(t, up, "3", "j", "j")
		dv := m.ViewAt(common.ViewDeliveries).(*deliveries.Model)
		chosen, ok := dv.List().Selected()
		if !ok {
			t.Fatal("no delivery under the cursor")
		}
		next := int64(10_000)
		arrive := func(n int) {
			for range n {
				src.AddDelivery(delivery.Delivery{ID: next, EventID: fmt.Sprintf("evt_busy_%d", next), EndpointID: "ep_01jdsearch0000000000000000",
					EventType: "payment.succeeded", State: delivery.StatePending, CreatedAt: commontest.Now})
				next++
			}
		}
		arrived := 0
		for _, n := range []int{90, 90, 90} {
			arrive(n)
			arrived += n
			refresh(t, m, up)
			if d, _ := dv.List().Selected(); d.ID != chosen.ID {
				t.Fatalf("after %d arrivals the cursor is on delivery %d, not %d", arrived, d.ID, chosen.ID)
			}
			if out := screen(m); !strings.Contains(out, fmt.Sprintf("▲ %d new", arrived)) {
				t.Fatalf("after %d arrivals they are not announced:\n%s", arrived, out)
			}
		}
		if dv.List().Frozen() {
			t.Fatal("frozen while every arrival fitted the refresh")
		}
		arrive(500) // more than one refresh reads
		refresh(t, m, up)
		if d, _ := dv.List().Selected(); d.ID != chosen.ID {
			t.Fatalf("after a burst the cursor is on delivery %d, not %d", d.ID, chosen.ID)
		}
		if !dv.List().Frozen() || !strings.Contains(screen(m), "FROZEN: more new above than a refresh reads (f follows)") {
			t.Fatalf("after a burst larger than a refresh the list is not frozen:\n%s", screen(m))
		}
		if !strings.Contains(screen(m), "frozen: more new above than a refresh reads (f follows)") {
			t.Fatalf("the message line says why, whole:\n%s", screen(m))
		}
		commontest.Press(t, up, "g", "f") // to the top, following again: the newest show
		if d, _ := dv.List().Selected(); d.ID != next-1 {
			t.Fatalf("following again, the cursor is on %d, not the newest %d", d.ID, next-1)
		}
	})
}

// The inbox keeps its cursor the same way; should a burst outrun a
// refresh, live refresh waits (and says so) until the cursor goes to the
// top.
func TestBusyInboxKeepsTheCursorOnItsEvent(t *testing.T) {
	eachSize(t, func(t *testing.T, w, h int) {
		src := withInbox(fixture())
		for i := int64(3); i <= 10; i++ {
			src.InboxItems = append(src.InboxItems, data.InboxEvent{ID: i, Source: "payments", EventID: fmt.Sprintf("evt_in_%d", i),
				ReceivedAt: commontest.Now, State: "processed"})
		}
		m, up := newApp(t, src, w, h, false)
		commontest.Press(t, up, "5", "j", "j")
		iv := m.ViewAt(common.ViewInbox).(*inbox.Model)
		chosen, ok := iv.Selected()
		if !ok {
			t.Fatal("no event under the cursor")
		}
		next := int64(10_000)
		arrive := func(n int) {
			for range n {
				src.InboxItems = append(src.InboxItems, data.InboxEvent{ID: next, Source: "payments", EventID: fmt.Sprintf("evt_in_%d", next),
					ReceivedAt: commontest.Now, State: "pending"})
				next++
			}
		}
		for _, n := range []int{90, 90, 500} {
			arrive(n)
			refresh(t, m, up)
			if e, _ := iv.Selected(); e.ID != chosen.ID {
				t.Fatalf("after %d more arrivals the cursor is on event %d, not %d", n, e.ID, chosen.ID)
			}
		}
		if out := screen(m); !strings.Contains(out, common.RefreshWaitsText) {
			t.Fatalf("after a burst larger than a refresh the inbox does not say its refresh waits:\n%s", out)
		}
		commontest.Press(t, up, "g")
		refresh(t, m, up)
		if e, _ := iv.Selected(); e.ID != next-1 {
			t.Fatalf("at the top again, the cursor is on %d, not the newest %d", e.ID, next-1)
		}
	})
}

// The endpoints list is ranked, trouble first: its top row is an
// endpoint, not "the newest". The cursor on it stays on that endpoint when
// it moves down the ranking (it stayed on the top row, on another
// endpoint, which the next key then acted on).
func TestRankedListKeepsTheCursorOnItsEndpoint(t *testing.T) {
	eachSize(t, func(t *testing.T, w, h int) {
		src := fixture()
		m, up := newApp(t, src, w, h, false)
		commontest.Press(t, up, "2")
		ev := m.ViewAt(common.ViewEndpoints).(*endpoints.Model)
		top, ok := ev.Table().Selected()
		if !ok || ev.Table().Cursor() != 0 {
			t.Fatal("no endpoint on the top row")
		}
		// The top endpoint recovers: it ranks below the others now.
		for i := range src.Eps {
			if src.Eps[i].Endpoint.ID == top.ID {
				e := *src.Eps[i].Endpoint
				e.Enabled, e.DisabledReason = true, ""
				src.Eps[i].Endpoint, src.Eps[i].Health = &e, &delivery.Health{}
			}
		}
		commontest.Drain(t, up, ev.RefreshNow()) // live refresh of health is paced
		if got, _ := ev.Table().Selected(); got.ID != top.ID {
			t.Fatalf("the cursor moved from %s to %s as %s recovered", top.ID, got.ID, top.ID)
		}
		if ev.Table().Cursor() == 0 {
			t.Fatalf("the recovered endpoint still ranks first; the test shows nothing")
		}
	})
}

// Away from the top a refresh reads a page more to hold what arrives, and
// keeps only that: with nothing new the window stays as it was (it grew
// by a page on every refresh, to a thousand rows read each second).
func TestQuietRefreshKeepsTheWindow(t *testing.T) {
	t.Parallel()
	src := fixture()
	src.Dels = nil
	for i := int64(1); i <= 350; i++ {
		src.AddDelivery(delivery.Delivery{ID: i, EventID: fmt.Sprintf("evt_%d", i), EndpointID: "ep_01jdsearch0000000000000000",
			EventType: "payment.succeeded", State: delivery.StateSucceeded, CreatedAt: commontest.Now})
	}
	m, up := newApp(t, src, 80, 24, false)
	commontest.Press(t, up, "3", "j", "j")
	dv := m.ViewAt(common.ViewDeliveries).(*deliveries.Model)
	loaded := len(dv.List().Items())
	for range 3 {
		refresh(t, m, up)
	}
	if n := len(dv.List().Items()); n != loaded {
		t.Fatalf("three quiet refreshes took the window from %d rows to %d", loaded, n)
	}
	src.AddDelivery(delivery.Delivery{ID: 351, EventID: "evt_351", EndpointID: "ep_01jdsearch0000000000000000",
		EventType: "payment.succeeded", State: delivery.StatePending, CreatedAt: commontest.Now})
	refresh(t, m, up)
	if n := len(dv.List().Items()); n != loaded+1 {
		t.Fatalf("one arrival took the window from %d rows to %d, want %d", loaded, n, loaded+1)
	}
	// Paging on below the window still reaches the oldest.
	for range 40 {
		commontest.Press(t, up, "G")
	}
	if items := dv.List().Items(); items[len(items)-1].ID != 1 {
		t.Fatalf("paging down ends at delivery %d, not 1", items[len(items)-1].ID)
	}
}

// The audit view keeps its cursor on its entry the same way, and waits
// when a burst outruns a refresh.
func TestBusyAuditKeepsTheCursorOnItsEntry(t *testing.T) {
	t.Parallel()
	src := fixture()
	add := func(n int) {
		for range n {
			src.Trail = append(src.Trail, audit.Entry{ID: int64(len(src.Trail) + 1), At: commontest.Now, Action: audit.ActionReplay,
				Target: "delivery 1", Outcome: audit.OutcomeOK, Actor: audit.Actor{Kind: audit.KindOS, ID: "alice"}})
		}
	}
	src.Trail = nil
	add(250)
	m, up := newApp(t, src, 80, 24, false)
	commontest.Press(t, up, "6", "j", "j")
	av := m.ViewAt(common.ViewAudit).(*auditview.Model)
	chosen, ok := av.Selected()
	if !ok {
		t.Fatal("no entry under the cursor")
	}
	for _, n := range []int{150, 150, 1500} {
		add(n)
		refresh(t, m, up)
		if e, _ := av.Selected(); e.ID != chosen.ID {
			t.Fatalf("after %d more entries the cursor is on entry %d, not %d", n, e.ID, chosen.ID)
		}
	}
	if out := screen(m); !strings.Contains(out, common.RefreshWaitsText) {
		t.Fatalf("after a burst larger than a refresh the audit view does not say it waits:\n%s", out)
	}
}
