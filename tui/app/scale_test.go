package app_test

// Tests of what the console shows of tenants, breakers, fifo lines and
// retention, at 80x24 and 200x50.

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/core/audit"
	"github.com/hookd/hookd/core/delivery"
	"github.com/hookd/hookd/core/endpoint"
	"github.com/hookd/hookd/tui/app"
	"github.com/hookd/hookd/tui/common"
	"github.com/hookd/hookd/tui/common/commontest"
	"github.com/hookd/hookd/tui/data"
	"github.com/hookd/hookd/tui/data/datafake"
	"github.com/hookd/hookd/tui/deadletters"
	"github.com/hookd/hookd/tui/endpoints"
	"github.com/hookd/hookd/tui/tenants"
)

// filterBy types a filter into the active view's prompt.
func filterBy(t *testing.T, up commontest.Updater, text string) {
	t.Helper()
	commontest.Press(t, up, "/")
	for range 80 { // the prompt opens on the filter applied
		commontest.Press(t, up, "backspace")
	}
	commontest.Type(t, up, text)
	commontest.Press(t, up, "enter")
}

// A TENANT column shows where rows have one; tenant: filters dead
// letters, deliveries and endpoints.
func TestTenantColumnAndFilter(t *testing.T) {
	t.Parallel()
	eachSize(t, func(t *testing.T, w, h int) {
		src := fixture()
		m, up := newApp(t, src, w, h, false)
		commontest.Press(t, up, "4")
		if rows := tableRows(screen(m), "ID"); len(rows) == 0 || !strings.Contains(screen(m), "TENANT") ||
			!strings.Contains(rows[0], "globex") {
			t.Fatalf("the dead letters show their tenant:\n%s", screen(m))
		}
		filterBy(t, up, "tenant:acme")
		calls := src.Calls("Deliveries")
		if q := calls[len(calls)-1].Args[0].(data.DeliveryQuery); q.Tenant != "acme" || q.State != delivery.StateDead {
			t.Fatalf("the filter asks for acme's dead letters: %+v", q)
		}
		rows := tableRows(screen(m), "ID")
		if len(rows) != 4 {
			t.Fatalf("acme's 4 dead letters:\n%s", screen(m))
		}
		for _, r := range rows {
			if !strings.Contains(r, "Billing service") || !strings.Contains(r, "acme") {
				t.Fatalf("only acme's: %q", r)
			}
		}
		// In the deliveries view too, and the endpoints view resolves the
		// tenant's endpoints once.
		commontest.Press(t, up, "3")
		filterBy(t, up, "tenant:globex state:dead")
		if rows := tableRows(screen(m), "ID"); len(rows) != 4 || !strings.Contains(rows[0], "globex") {
			t.Fatalf("globex's dead deliveries:\n%s", screen(m))
		}
		commontest.Press(t, up, "2")
		filterBy(t, up, "tenant:acme")
		ep := m.ViewAt(common.ViewEndpoints).(*endpoints.Model)
		if got := ids(ep); got != "ep_01jdbilling0000000000000000" {
			t.Fatalf("acme's endpoints: %s\n%s", got, screen(m))
		}
		if f := src.Calls("FindEndpoints"); len(f) != 1 || f[0].Args[1] != "acme" {
			t.Fatalf("resolved once, by tenant: %v", f)
		}
		refresh(t, m, up)
		if f := src.Calls("FindEndpoints"); len(f) != 1 {
			t.Fatal("a refresh does not resolve the filter again")
		}
		filterBy(t, up, "tenant:cus/1")
		if !strings.Contains(m.StatusLine(), `tenant: "cus/1" is not a tenant id`) {
			t.Fatalf("a bad tenant id is refused: %q", m.StatusLine())
		}
	})
}

func ids(m *endpoints.Model) string {
	var s []string
	for _, r := range m.Table().Rows() {
		s = append(s, r.ID)
	}
	return strings.Join(s, ",")
}

// The tenants view lists tenants in trouble first; its keys open the
// tenant's endpoints, deliveries and dead letters, and R replays its dead
// letters after a preview by tenant.
func TestTenantsView(t *testing.T) {
	t.Parallel()
	eachSize(t, func(t *testing.T, w, h int) {
		src := fixture()
		m, up := newApp(t, src, w, h, false)
		commontest.Press(t, up, "7")
		if m.Active() != common.ViewTenants {
			t.Fatal("7 opens the tenants view")
		}
		rows := tableRows(screen(m), "TENANT")
		if len(rows) != 3 || !strings.HasPrefix(rows[0], "acme") || !strings.HasPrefix(rows[1], "globex") ||
			!strings.Contains(screen(m), "2 in trouble") {
			t.Fatalf("trouble first:\n%s", screen(m))
		}
		if !strings.Contains(rows[0], "37") || !strings.Contains(rows[0], "Acme Corp") && w >= 120 {
			t.Fatalf("acme's dead letters and name: %q", rows[0])
		}
		commontest.Press(t, up, "D")
		dl := m.ViewAt(common.ViewDeadLetters).(*deadletters.Model)
		if m.Active() != common.ViewDeadLetters || dl.List().FilterText() != "tenant:acme" {
			t.Fatalf("D opens acme's dead letters: %d %q", m.Active(), dl.List().FilterText())
		}
		commontest.Press(t, up, "esc", "j", "enter")
		ep := m.ViewAt(common.ViewEndpoints).(*endpoints.Model)
		if m.Active() != common.ViewEndpoints || ids(ep) != "ep_01jdcrm000000000000000000" {
			t.Fatalf("enter opens globex's endpoints: %d %s", m.Active(), ids(ep))
		}
		commontest.Press(t, up, "esc", "g", "R")
		p := dialogPrompt(m)
		if !strings.Contains(p, "Replay 4 dead letters matching tenant:acme") {
			t.Fatalf("R previews acme's dead letters: %q\n%s", p, screen(m))
		}
		commontest.Type(t, up, "4")
		commontest.Press(t, up, "enter")
		acts := src.Actions()
		if len(acts) != 1 || acts[0].Method != "ReplayQuery" || acts[0].Args[0].(*data.Preview).Query.Tenant != "acme" {
			t.Fatalf("the replay is acme's: %v", acts)
		}
		// With 10,000 tenants the view reads pages, not all of them.
		for _, c := range src.Calls("Tenants") {
			if q := c.Args[0].(data.TenantQuery); q.Limit > tenants.PageSize {
				t.Fatalf("a page of at most %d tenants: %+v", tenants.PageSize, q)
			}
		}
	})
}

// dialogPrompt returns the prompt of the dialog open in the active view.
func dialogPrompt(m *app.Model) string {
	switch v := m.ViewAt(m.Active()).(type) {
	case *endpoints.Model:
		return v.Confirm().Prompt()
	case *deadletters.Model:
		return v.Confirm().Prompt()
	case *tenants.Model:
		return v.Confirm().Prompt()
	}
	return ""
}

// blockedFixture adds a fifo endpoint whose head has failed three times
// and blocks its line.
func blockedFixture() *datafake.Source {
	src := fixture()
	since, next := commontest.Now.Add(-4*time.Minute), commontest.Now.Add(50*time.Second)
	status := 500
	src.Eps = append(src.Eps, data.EndpointRow{
		Endpoint: &endpoint.Endpoint{ID: "ep_01jdledger000000000000000", Description: "Ledger", URL: "https://ledger.example/in",
			Enabled: true, Kind: endpoint.KindWebhook, BodyFormat: endpoint.BodyEnvelope, Ordering: endpoint.OrderingFIFO, Tenant: "acme"},
		Health: &delivery.Health{ConsecutiveFailures: 3, Pending: 57, LastStatus: &status,
			Blocked: &delivery.BlockedHead{DeliveryID: 4242, EventID: "evt_01jdhead", Attempts: 3, Since: since, NextAttemptAt: next,
				LastError: "HTTP 500 Internal Server Error"}},
	})
	return src
}

// A blocked fifo line shows on the endpoints view and the endpoint page
// (which delivery, since when); b retries the head and B skips it, each
// after a question; an open breaker shows with its next probe.
func TestBlockedHeadAndBreaker(t *testing.T) {
	t.Parallel()
	eachSize(t, func(t *testing.T, w, h int) {
		src := blockedFixture()
		m, up := newApp(t, src, w, h, false)
		commontest.Press(t, up, "2")
		rows := tableRows(screen(m), "ENDPOINT")
		var ledger, billing string
		for _, r := range rows {
			switch {
			case strings.HasPrefix(r, "Ledger"):
				ledger = r
			case strings.HasPrefix(r, "Billing service"):
				billing = r
			}
		}
		if !strings.Contains(ledger, "blocked") || !strings.Contains(billing, "open") {
			t.Fatalf("the states blocked and open:\n%s", screen(m))
		}
		if w >= 200 && (!strings.Contains(ledger, "fifo blocked for 4m by delivery 4242, next try in 50s") ||
			!strings.Contains(billing, "breaker open for 3m, probe in 20s")) {
			t.Fatalf("what is wrong, in full at 200 columns:\n%s", screen(m))
		}
		// B on the list: a question, then the skip.
		ep := m.ViewAt(common.ViewEndpoints).(*endpoints.Model)
		if !ep.Table().SetCursorID("ep_01jdledger000000000000000") {
			t.Fatal("no Ledger row")
		}
		commontest.Press(t, up, "B")
		if p := ep.Confirm().Prompt(); !strings.Contains(p, "Skip the head blocking Ledger") || !strings.Contains(p, "Delivery 4242 (evt_01jdhead) has failed 3 times") {
			t.Fatalf("B asks first: %q", p)
		}
		if len(src.Actions()) != 0 {
			t.Fatal("nothing happens before the answer")
		}
		msgs := commontest.Press(t, up, "y")
		if acts := src.Actions(); len(acts) != 1 || acts[0].Method != "Skip" || acts[0].Args[0] != int64(4242) {
			t.Fatalf("y skips the head: %v", acts)
		}
		if st := strings.Join(commontest.Statuses(msgs), " "); !strings.Contains(st, "skipped delivery 4242: the line behind it moves on") {
			t.Fatalf("the status says so: %q", st)
		}
		// On the endpoint page: the line, then b retries the head now.
		commontest.Press(t, up, "enter")
		page := ep.Page()
		if page == nil || !strings.Contains(screen(m), "BLOCKED for 4m by delivery 4242, 3 attempts, next try in 50s") ||
			!strings.Contains(screen(m), "event evt_01jdhead: HTTP 500") {
			t.Fatalf("the page says what blocks the line:\n%s", screen(m))
		}
		commontest.Press(t, up, "b")
		if p := page.Confirm().Prompt(); !strings.Contains(p, "Retry the head blocking Ledger") {
			t.Fatalf("b asks first: %q", p)
		}
		commontest.Press(t, up, "n")
		if len(src.Actions()) != 1 {
			t.Fatal("n replays nothing")
		}
		commontest.Press(t, up, "b", "y")
		if acts := src.Actions(); len(acts) != 2 || acts[1].Method != "Replay" || acts[1].Args[0] != int64(4242) {
			t.Fatalf("b, y replays the head: %v", acts)
		}
		// The breaker on Billing service's page.
		commontest.Press(t, up, "esc")
		ep.Table().SetCursorID("ep_01jdbilling0000000000000000")
		commontest.Press(t, up, "enter")
		if !strings.Contains(screen(m), "OPEN for 3m · next probe in 20s") || !strings.Contains(screen(m), "next probe in 20s") {
			t.Fatalf("the breaker and its next probe:\n%s", screen(m))
		}
		commontest.Press(t, up, "B")
		if !strings.Contains(m.StatusLine(), "is not a fifo endpoint") {
			t.Fatalf("B on an endpoint without a line says so: %q", m.StatusLine())
		}
	})
}

// Read-only: b and B are refused, and the refusal is audited.
func TestBlockedHeadReadOnly(t *testing.T) {
	t.Parallel()
	src := blockedFixture()
	m, up := newApp(t, src, 120, 40, true)
	commontest.Press(t, up, "2")
	ep := m.ViewAt(common.ViewEndpoints).(*endpoints.Model)
	ep.Table().SetCursorID("ep_01jdledger000000000000000")
	commontest.Press(t, up, "B", "b")
	if len(src.Actions()) != 0 {
		t.Fatalf("read-only changes nothing: %v", src.Actions())
	}
	refused := src.Calls("Refused")
	if len(refused) != 2 || refused[0].Args[0] != audit.ActionSkip || refused[1].Args[0] != audit.ActionReplay ||
		refused[0].Args[1] != "delivery 4242" {
		t.Fatalf("both refusals are audited: %v", refused)
	}
}

// The overview shows what history takes on disk and when it is dropped
// next, read once a minute, not on every refresh.
func TestStorageOnTheOverview(t *testing.T) {
	t.Parallel()
	eachSize(t, func(t *testing.T, w, h int) {
		src := fixture()
		var mu sync.Mutex
		now := commontest.Now
		clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
		m, up := newAppWith(t, src, w, h, app.Options{Now: clock})
		out := screen(m)
		if !strings.Contains(out, "Storage  1.2 GB kept · oldest 02-13 00:00 UTC · next drop in 3h · retention 30d") {
			t.Fatalf("the storage line:\n%s", out)
		}
		if w >= 120 && !strings.Contains(out, "9 partitions · 2.3 kB per delivery") {
			t.Fatalf("wide, partitions and bytes per delivery too:\n%s", out)
		}
		for range 5 {
			mu.Lock()
			now = now.Add(5 * time.Second)
			mu.Unlock()
			refresh(t, m, up)
		}
		if n := len(src.Calls("Storage")); n != 1 || len(src.Calls("Overview")) < 6 {
			t.Fatalf("storage read once in 25s of refreshes, the overview each time: %d, %d", n, len(src.Calls("Overview")))
		}
		mu.Lock()
		now = now.Add(time.Minute)
		mu.Unlock()
		refresh(t, m, up)
		if n := len(src.Calls("Storage")); n != 2 {
			t.Fatalf("read again after a minute: %d", n)
		}
		commontest.Press(t, up, "ctrl+r")
		if n := len(src.Calls("Storage")); n != 3 {
			t.Fatalf("ctrl+r reads it at once: %d", n)
		}
	})
}

// An event retention dropped says so, naming retention.period, in the
// palette and on the event's screen.
func TestAgedOutEventSaysSo(t *testing.T) {
	t.Parallel()
	eachSize(t, func(t *testing.T, w, h int) {
		src := fixture()
		src.AgedOut = map[string]time.Time{"evt_01old": commontest.Now.Add(-40 * 24 * time.Hour)}
		m, up := newApp(t, src, w, h, false)
		commontest.Press(t, up, ":")
		commontest.Type(t, up, "evt_01old")
		commontest.Press(t, up, "enter")
		if st := m.StatusLine(); !strings.Contains(st, "has aged out") || !strings.Contains(st, "retention.period") ||
			strings.Contains(st, "is no view") {
			t.Fatalf("the palette says the event aged out: %q", st)
		}
		commontest.Drain(t, up, common.OpenObject(common.ViewDeliveries, common.Target{Kind: common.KindEvent, ID: "evt_01old"}))
		if out := screen(m); !strings.Contains(out, "has aged out") || strings.Contains(out, "not found (it may have been deleted)") {
			t.Fatalf("the event's screen says it aged out:\n%s", out)
		}
	})
}
